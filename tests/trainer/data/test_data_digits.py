"""Spoken digits with the real espeak-ng (and flite when installed): labels, voices, cache, splits."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from trainer.data import digits
from trainer.errors import DataError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

VOICES = ["en-us", "en-gb+f3"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("digits-cache")


def test_digits_from_two_voices(cache: Path) -> None:
    clipset = digits.make_digits(cache, voices=VOICES, renditions=2, seed=1)
    assert clipset.classes == [str(d) for d in range(10)]
    assert clipset.groups == sorted(VOICES)
    assert all(n == 4 for n in clipset.counts().values())
    for clip in clipset:
        assert clip.sample_rate == 16000 and clip.samples.dtype == np.float32
        assert 0.1 < clip.seconds < 2.0
        assert np.abs(clip.samples).max() > 0.05
        assert clip.source.startswith("espeak-ng -v ")
        assert f"'{digits.DIGIT_WORDS[int(clip.label)]}'" in clip.source
    # the two renditions of one digit and voice have their own rate/pitch
    seven = [clip.source for clip in clipset if clip.label == "7" and clip.group == "en-us"]
    assert len(set(seven)) == 2


def test_split_disjoint_by_voice(cache: Path) -> None:
    clipset = digits.make_digits(cache, voices=VOICES, renditions=2, seed=1)
    train, val, test = clipset.split(val_fraction=0.0, test_fraction=0.5, seed=0, by="group")
    assert len(val) == 0
    assert len(train.groups) == len(test.groups) == 1
    assert set(train.groups).isdisjoint(test.groups)
    assert train.classes == test.classes == clipset.classes


def test_deterministic_and_cached(cache: Path) -> None:
    first = digits.make_digits(cache, voices=VOICES, renditions=2, seed=1)
    started = time.monotonic()
    again = digits.make_digits(cache, voices=VOICES, renditions=2, seed=1)
    assert time.monotonic() - started < 1.0
    assert [c.source for c in again] == [c.source for c in first]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(first, again, strict=True))
    other = digits.make_digits(cache, voices=VOICES[:1], renditions=2, seed=2)
    assert [c.source for c in other] != [c.source for c in first if c.group == "en-us"]


def test_voice_enumeration() -> None:
    voices = digits.available_voices()
    names = [v.name for v in voices if v.engine == "espeak-ng"]
    assert "en-us" in names and "en-gb" in names
    assert any("+" in name for name in names)  # variants joined to accents
    assert len({v.id for v in voices}) == len(voices)
    assert all("_" not in v.id for v in voices)  # the id is the file-name prefix of the folder layout
    assert digits.parse_voice("flite:slt") == digits.Voice("flite", "slt")


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_flite_voice(cache: Path) -> None:
    clipset = digits.make_digits(cache, voices=["flite:slt"], renditions=1, seed=0)
    assert len(clipset) == 10 and clipset.groups == ["flite-slt"]


def test_bad_arguments(cache: Path) -> None:
    with pytest.raises(DataError, match="renditions"):
        digits.make_digits(cache, voices=VOICES, renditions=0)
    with pytest.raises(DataError, match="no digit"):
        digits.make_digits(cache, voices=["xx-nonexistent-voice"], renditions=1)
