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
class EventsConfig:
    threshold: float | None = _field(None, min=0.0, max=1.0)  # None: each signature's own threshold
    thresholds: dict[str, Any] = _field({})  # per-target thresholds, {target: 0..1}, over `threshold`
    hysteresis: float = _field(0.05, min=0.0, max=0.99)
    min_windows: int = _field(2, min=1, max=1000)
    hold_seconds: float = _field(0.3, min=0.0, max=3600)
    refractory_seconds: float = _field(1.0, min=0.0, max=86400)


@dataclasses.dataclass(frozen=True)
class AdaptiveConfig:
    enabled: bool = True
    threshold: float = _field(0.999, min=0.5, max=0.999999)  # adapted-score threshold (1 - tail prob.)
    window: int = _field(3000, min=100, max=1_000_000)  # ambient windows remembered
    warmup: int = _field(600, min=400, max=1_000_000)  # ambient windows before adapting


@dataclasses.dataclass(frozen=True)
class DetectionConfig:
    model: str = "models/general.tflite"  # relative paths: the working directory, then the install
    signatures: str = "signatures"  # directory of <target>.sig files, watched for changes
    threads: int = _field(1, min=1, max=64)  # TFLite interpreter threads
    gate_dbfs: float | None = _field(None, min=-120.0, max=0.0)  # skip inference below this level
    max_batch: int = _field(16, min=1, max=1024)  # patches per model call when catching up
    listen: list[str] = _field([])  # classifier models: the labels to report ([]: all)
    events: EventsConfig = _field(EventsConfig())
    adaptive: AdaptiveConfig = _field(AdaptiveConfig())


@dataclasses.dataclass(frozen=True)
class MqttTlsConfig:
    enabled: bool = False  # also implied by an mqtts:// url
    ca_file: str | None = None  # None: the system's CA store
    cert_file: str | None = None  # client certificate (mutual TLS)
    key_file: str | None = None
    insecure: bool = False  # skip the host name check (self-signed test brokers only)


@dataclasses.dataclass(frozen=True)
class SpoolConfig:
    path: str | None = None  # None: $STATE_DIRECTORY or ~/.local/state/sigdetect, spool-<device>.sqlite
    max_messages: int = _field(100_000, min=10, max=100_000_000)  # oldest dropped (and counted) beyond


@dataclasses.dataclass(frozen=True)
class RemoteEnrollmentConfig:
    enabled: bool = False
    max_bytes: int = _field(1_048_576, min=1024, max=268_435_456)  # largest accepted .sig payload


@dataclasses.dataclass(frozen=True)
class HomeAssistantConfig:
    enabled: bool = False
    prefix: str = "homeassistant"  # discovery prefix


@dataclasses.dataclass(frozen=True)
class MqttConfig:
    enabled: bool = True
    url: str = "mqtt://localhost:1883"  # mqtt://[user@]host[:port] or mqtts://...
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    client_id: str | None = None  # None: sigdetect-<device_id>
    prefix: str | None = None  # None: sigdetect/<device_id>
    username: str | None = None  # overrides a user in the url
    password_file: str | None = None  # read at start; never logged
    password_env: str | None = "SIGDETECT_MQTT_PASSWORD"  # used when set and no password_file
    qos: int = _field(1, min=1, max=2)
    keepalive_seconds: int = _field(30, min=5, max=3600)
    reconnect_min_seconds: float = _field(1.0, min=0.1, max=3600)
    reconnect_max_seconds: float = _field(60.0, min=0.1, max=3600)
    drain_timeout_seconds: float = _field(10.0, min=0.0, max=3600)  # at exit: wait for the spool to empty
    tls: MqttTlsConfig = _field(MqttTlsConfig())
    spool: SpoolConfig = _field(SpoolConfig())
    remote_enrollment: RemoteEnrollmentConfig = _field(RemoteEnrollmentConfig())
    homeassistant: HomeAssistantConfig = _field(HomeAssistantConfig())


@dataclasses.dataclass(frozen=True)
class OutputsConfig:
    events_jsonl: str | None = None  # append every event as one JSON line to this file
    log_events: bool = True  # log every event


@dataclasses.dataclass(frozen=True)
class Config:
    device_id: str | None = None  # None: the host name
    log: LogConfig = _field(LogConfig())
    audio: AudioConfig = _field(AudioConfig())
    features: FeaturesConfig = _field(FeaturesConfig())
    detection: DetectionConfig = _field(DetectionConfig())
    mqtt: MqttConfig = _field(MqttConfig())
    outputs: OutputsConfig = _field(OutputsConfig())
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
    mq = cfg.mqtt
    if mq.reconnect_max_seconds < mq.reconnect_min_seconds:
        raise ConfigError(
            cfg.source_file,
            "mqtt.reconnect_max_seconds",
            mq.reconnect_max_seconds,
            f">= mqtt.reconnect_min_seconds ({mq.reconnect_min_seconds})",
        )
    if not mq.url.startswith(("mqtt://", "mqtts://")):
        raise ConfigError(cfg.source_file, "mqtt.url", mq.url, "mqtt://[user@]host[:port] or mqtts://...")
    for target, value in cfg.detection.events.thresholds.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ConfigError(
                cfg.source_file, f"detection.events.thresholds.{target}", value, "a number in [0, 1]"
            )
    ad = cfg.detection.adaptive
    if ad.warmup > ad.window:
        raise ConfigError(
            cfg.source_file,
            "detection.adaptive.warmup",
            ad.warmup,
            f"<= detection.adaptive.window ({ad.window})",
        )


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
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(file, key, value, "a list")
        return [_coerce(item, v, f"{key}[{i}]", file, meta) for i, v in enumerate(value)]
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
