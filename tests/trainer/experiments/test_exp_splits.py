"""Voice-disjoint digit splits, recording-disjoint class splits, the no-test-clips refusal."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data.clips import Clip, ClipSet
from trainer.errors import DataError
from trainer.experiments import common
from trainer.experiments.digits import voice_split


def _digits(voices: int, renditions: int = 2) -> ClipSet:
    clips = [
        Clip(np.zeros(10, np.float32), 16000, str(d), f"voice{v}", f"v{v} d{d} r{r}")
        for v in range(voices)
        for d in range(10)
        for r in range(renditions)
    ]
    return ClipSet(clips=clips)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_voice_split_is_disjoint_and_complete(seed: int) -> None:
    clipset = _digits(12)
    split = voice_split(clipset, 0.15, 0.2, seed)
    voices = [set(part.groups) for part in split]
    assert not (voices[0] & voices[1]) and not (voices[0] & voices[2]) and not (voices[1] & voices[2])
    assert voices[0] | voices[1] | voices[2] == set(clipset.groups)
    assert sum(len(part) for part in split) == len(clipset)
    assert all(len(part.groups) >= 1 for part in split)
    # every digit of a voice stays with that voice
    for part in split:
        for group, clips in part.by_group().items():
            assert len(clips) == 20, group


def test_voice_split_needs_three_voices() -> None:
    with pytest.raises(DataError, match="at least 3"):
        voice_split(_digits(2), 0.15, 0.2, 0)


def test_voice_split_names_a_digit_without_test_clips() -> None:
    clipset = _digits(6)
    # digit 7 only spoken by voice0: wherever voice0 lands, one split lacks it; seed puts it in train
    clipset.clips = [c for c in clipset.clips if c.label != "7" or c.group == "voice0"]
    for seed in range(20):
        split = clipset.split(0.15, 0.2, seed=seed, by="group")
        if "voice0" not in split.test.groups:
            break
    with pytest.raises(DataError, match=r"class\(es\) with no test clips: 7"):
        voice_split(clipset, 0.15, 0.2, seed)


def test_grouped_split_keeps_recordings_together() -> None:
    clips = [
        Clip(np.zeros(4, np.float32), 16000, label, f"{label}-file{f}", f"{label}/file{f}#{k}")
        for label in ("a", "b")
        for f in range(5)
        for k in range(3)
    ]
    train, val, test = common.grouped_split(ClipSet(clips=clips), 0.2, 0.2, 0, "t")
    where = {}
    for name, part in (("train", train), ("val", val), ("test", test)):
        for clip in part:
            assert where.setdefault(clip.group, name) == name  # one split per recording
    assert {c.label for c in test} == {"a", "b"}


def test_grouped_split_refuses_class_without_test_clips() -> None:
    clips = [Clip(np.zeros(4, np.float32), 16000, "a", f"g{i}", "") for i in range(6)]
    clips.append(Clip(np.zeros(4, np.float32), 16000, "lonely", "x", ""))
    with pytest.raises(DataError, match="with no test clips: lonely"):
        common.grouped_split(ClipSet(clips=clips), 0.2, 0.2, 0, "tiny")
