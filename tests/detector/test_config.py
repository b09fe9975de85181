"""Config loading: defaults documented, and every kind of bad value named by file, key and expectation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from detector.config import Config, load_config
from detector.errors import ConfigError

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "config" / "default.yaml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_default_yaml_equals_builtin_defaults() -> None:
    assert load_config(DEFAULT_YAML) == Config()
    assert load_config(None) == Config()


def test_default_yaml_documents_every_key() -> None:
    doc = yaml.safe_load(DEFAULT_YAML.read_text())

    def walk(cls, node, path):
        fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
        assert set(node) == {f.name for f in fields}, f"{path or 'top level'} keys differ from {cls.__name__}"
        for f in fields:
            if dataclasses.is_dataclass(
                f.default_factory if f.default_factory is not dataclasses.MISSING else None
            ):
                walk(f.default_factory, node[f.name], f"{path}.{f.name}".strip("."))

    walk(Config, doc, "")
    text = DEFAULT_YAML.read_text().splitlines()
    for i, line in enumerate(text):  # every key line has a comment line directly above it (or a section)
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.endswith(":") and ":" in stripped:
            above = text[i - 1].strip()
            assert above.startswith("#"), f"default.yaml line {i + 1} ({stripped}) has no comment above it"


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, "audio:\n  capture:\n    device: USB\n    channels: 4\n    channel: 2\n")
    )
    assert cfg.audio.capture.device == "USB"
    assert cfg.audio.capture.channel == 2
    assert cfg.audio.ring_seconds == Config().audio.ring_seconds
    assert load_config(write(tmp_path, "audio:\n  capture:\n    device: 3\n")).audio.capture.device == 3


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("audio:\n  ring_secs: 3\n", "audio.ring_secs", "valid keys here: source, realtime, ring_seconds"),
        ("bogus: 1\n", "bogus", "valid keys here: device_id, log"),
        ("audio:\n  ring_seconds: lots\n", "audio.ring_seconds", "a number in [0.1, 600]"),
        ("audio:\n  ring_seconds: 0\n", "audio.ring_seconds", "a number in [0.1, 600]"),
        ("audio:\n  realtime: 'yes'\n", "audio.realtime", "true or false"),
        ("audio:\n  capture:\n    channels: 2.5\n", "audio.capture.channels", "an integer in [1, 64]"),
        ("audio:\n  capture:\n    channels: true\n", "audio.capture.channels", "an integer"),
        (
            "audio:\n  capture:\n    format: int24\n",
            "audio.capture.format",
            "one of 'int16', 'int32', 'float32'",
        ),
        ("audio:\n  capture:\n    rate: 100\n", "audio.capture.rate", "an integer in [1000, 768000] or null"),
        ("audio:\n  capture:\n    channel: 1\n", "audio.capture.channel", "below audio.capture.channels (1)"),
        (
            "audio:\n  capture:\n    reopen_min_seconds: 5\n    reopen_max_seconds: 1\n",
            "audio.capture.reopen_max_seconds",
            ">= audio.capture.reopen_min_seconds",
        ),
        ("audio: 5\n", "audio", "a mapping of AudioConfig settings"),
        ("log:\n  level: loud\n", "log.level", "one of 'debug', 'info', 'warning', 'error'"),
        ("features:\n  profile: birds\n", "features.profile", "one of 'general', 'lowband'"),
        ("features:\n  overrides: {n_mels: 40}\n", "features.overrides", "FeatureSpec fields only"),
        ("features:\n  overrides: {fmax: 9000.0}\n", "features.overrides", "fmax"),
        ("- a\n- b\n", "", "a mapping of Config settings"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.file == str(path)
    assert err.key == key
    assert expected in str(err)
    assert str(path) in str(err)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "audio:\n  source: [unclosed\n  realtime: true\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+"):
        load_config(path)


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="an existing YAML file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="this is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(bad)


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


def test_overrides_apply_and_are_validated(tmp_path: Path) -> None:
    cfg = load_config(None, {"audio.source": "x.wav", "audio.realtime": True})
    assert (cfg.audio.source, cfg.audio.realtime) == ("x.wav", True)
    with pytest.raises(ConfigError, match="audio.realtime"):
        load_config(None, {"audio.realtime": "sometimes"})


def test_feature_overrides_build_the_spec(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, "features:\n  profile: general\n  overrides: {n_bands: 40, fmax: 4000.0}\n")
    )
    spec = cfg.feature_spec()
    assert (spec.n_bands, spec.fmax, spec.sample_rate) == (40, 4000.0, 16000)
