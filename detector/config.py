"""Settings: YAML -> typed, validated dataclasses; errors name the file, key path, value and expectation."""

from __future__ import annotations

import dataclasses
import socket
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from detector.errors import ConfigError
from detector.features.spec import FeatureSpec


def _field(default: Any, *, min: float | None = None, max: float | None = None, **kw: Any) -> Any:  # noqa: A002
    """A dataclass field with an optional inclusive numeric range."""
    if isinstance(default, dict | list):
        return dataclasses.field(
            default_factory=lambda: type(default)(default), metadata={"min": min, "max": max}
        )
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=type(default), metadata={"min": min, "max": max})
    return dataclasses.field(default=default, metadata={"min": min, "max": max}, **kw)


@dataclasses.dataclass(frozen=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"  # auto: console on a TTY, JSON otherwise


@dataclasses.dataclass(frozen=True)
class CaptureConfig:
    device: int | str | None = None  # index, or case-insensitive name substring; None: default input
    rate: int | None = _field(None, min=1000, max=768000)  # Hz; None: the features' rate if supported
    channels: int = _field(1, min=1, max=64)
    channel: int | None = _field(None, min=0, max=63)  # None: average all channels
    format: Literal["int16", "int32", "float32"] = "int16"
    frames_per_buffer: int = _field(1024, min=32, max=65536)
    reopen_min_seconds: float = _field(0.5, min=0.01, max=3600)
    reopen_max_seconds: float = _field(30.0, min=0.01, max=3600)


@dataclasses.dataclass(frozen=True)
class PcmConfig:
    rate: int = _field(16000, min=1000, max=768000)  # Hz of the incoming stream
    channels: int = _field(1, min=1, max=64)
    channel: int | None = _field(None, min=0, max=63)
    format: Literal["s16le", "s32le", "f32le"] = "s16le"


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    source: str = (
        "capture"  # "capture", a WAV/FLAC/OGG path, "-" (raw PCM on stdin), a FIFO or .raw/.pcm path
    )
    realtime: bool = False  # pace file sources at real time instead of as fast as possible
    ring_seconds: float = _field(10.0, min=0.1, max=600)
    channel: int | None = _field(None, min=0, max=63)  # for files: None averages all channels
    capture: CaptureConfig = _field(CaptureConfig())
    pcm: PcmConfig = _field(PcmConfig())


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    profile: Literal["general", "lowband"] = "general"
    overrides: dict[str, Any] = _field({})  # FeatureSpec fields replacing the profile's


@dataclasses.dataclass(frozen=True)
class StatsConfig:
    interval_seconds: float = _field(10.0, min=0.1, max=86400)


@dataclasses.dataclass(frozen=True)
class Config:
    device_id: str | None = None  # None: the host name
    log: LogConfig = _field(LogConfig())
    audio: AudioConfig = _field(AudioConfig())
    features: FeaturesConfig = _field(FeaturesConfig())
    stats: StatsConfig = _field(StatsConfig())
    source_file: str | None = dataclasses.field(default=None, compare=False, metadata={"internal": True})

    @property
    def device_name(self) -> str:
        return self.device_id or socket.gethostname()

    def feature_spec(self) -> FeatureSpec:
        """The FeatureSpec the config asks for (profile + overrides), validated."""
        try:
            return FeatureSpec.profile(self.features.profile, **self.features.overrides)
        except TypeError as exc:
            known = ", ".join(f.name for f in dataclasses.fields(FeatureSpec))
            raise ConfigError(
                self.source_file,
                "features.overrides",
                self.features.overrides,
                f"FeatureSpec fields only ({known}): {exc}",
            ) from None
        except ValueError as exc:
            raise ConfigError(
                self.source_file, "features.overrides", self.features.overrides, str(exc)
            ) from None


# ---------------------------------------------------------------------------------------------- loading
def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate a YAML config (``None``: built-in defaults), then apply dotted-key overrides."""
    data: Any = {}
    file = str(path) if path is not None else None
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                file, "", str(p), "an existing YAML file" + (" (this is a directory)" if p.is_dir() else "")
            )
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(file, "", f"malformed YAML at {where}", f"valid YAML ({problem})") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(file, "", "undecodable bytes", f"UTF-8 text ({exc.reason})") from None
        if data is None:
            data = {}
    for dotted, value in (overrides or {}).items():
        node = data
        if not isinstance(node, dict):
            break
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(file, dotted, node, "a mapping to place the override in")
        node[leaf] = value
    cfg = _build(Config, data, "", file)
    cfg = dataclasses.replace(cfg, source_file=file)
    _check_cross_fields(cfg)
    return cfg


def _check_cross_fields(cfg: Config) -> None:
    cap = cfg.audio.capture
    if cap.reopen_max_seconds < cap.reopen_min_seconds:
        raise ConfigError(
            cfg.source_file,
            "audio.capture.reopen_max_seconds",
            cap.reopen_max_seconds,
            f">= audio.capture.reopen_min_seconds ({cap.reopen_min_seconds})",
        )
    for key, section in (("audio.capture", cap), ("audio.pcm", cfg.audio.pcm)):
        if section.channel is not None and section.channel >= section.channels:
            raise ConfigError(
                cfg.source_file,
                f"{key}.channel",
                section.channel,
                f"a channel index below {key}.channels ({section.channels})",
            )
    cfg.feature_spec()  # raises ConfigError on bad overrides


def _build(cls: type, data: Any, path: str, file: str | None) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(file, path, data, f"a mapping of {cls.__name__} settings")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(file, where, data[key], f"a known key; valid keys here: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        if name in data:
            key = f"{path}.{name}" if path else name
            values[name] = _coerce(hints[name], data[name], key, file, f.metadata)
    return cls(**values)


def _coerce(tp: Any, value: Any, key: str, file: str | None, meta: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, key, file, meta)
            except ConfigError as exc:
                errors.append(exc.expected)
        raise ConfigError(file, key, value, " or ".join(errors + (["null"] if type(None) in options else [])))
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(file, key, value, "one of " + ", ".join(repr(c) for c in choices))
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, file)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(file, key, value, "a mapping")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, value, "true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, value, "an integer" + _range_text(meta))
        _check_range(value, key, file, meta, "an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(file, key, value, "a number" + _range_text(meta))
        _check_range(value, key, file, meta, "a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, value, "a string")
        return value
    raise TypeError(f"config type {tp!r} of {key} has no validator")  # programming error, not user input


def _range_text(meta: Any) -> str:
    lo, hi = (meta or {}).get("min"), (meta or {}).get("max")
    if lo is not None and hi is not None:
        return f" in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f" >= {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""


def _check_range(value: float, key: str, file: str | None, meta: Any, kind: str) -> None:
    lo, hi = (meta or {}).get("min"), (meta or {}).get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(file, key, value, kind + _range_text(meta))
