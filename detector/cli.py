"""The `detector` command line: `run` streams audio through the pipeline, `check` validates a setup."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from detector import __version__, logs
from detector.config import Config, load_config
from detector.errors import DetectorError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="detector", description="Streaming sound-signature detector.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-c",
            "--config",
            type=Path,
            help="YAML config (default: built-in defaults, documented in config/default.yaml)",
        )
        p.add_argument(
            "--source",
            help="'capture', an audio file, '-' for raw PCM on stdin, or a FIFO/.raw path "
            "(overrides audio.source)",
        )
        p.add_argument(
            "--model", help="model .tflite, or 'none' for features only (overrides detection.model)"
        )
        p.add_argument("--signatures", help="signatures directory (overrides detection.signatures)")
        p.add_argument("--mqtt", metavar="URL", help="broker, mqtt://host:port or mqtts://user@host:port")
        p.add_argument("--no-mqtt", action="store_true", help="do not publish to MQTT (mqtt.enabled: false)")

    run = sub.add_parser("run", help="stream audio through the pipeline until the source ends or SIGTERM")
    common(run)
    run.add_argument("--realtime", action="store_true", help="pace a file source at real time")
    run.add_argument(
        "--events-out", type=Path, metavar="FILE.jsonl", help="append every event as a JSON line to this file"
    )
    run.add_argument(
        "--features-out",
        type=Path,
        metavar="FILE.npy",
        help="also save every feature frame (float32, frames x bands) to this .npy file",
    )
    check = sub.add_parser(
        "check", help="validate the config and the audio source; exit non-zero with reasons"
    )
    common(check)
    return parser


def _load(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {}
    if args.source is not None:
        overrides["audio.source"] = args.source
    if getattr(args, "realtime", False):
        overrides["audio.realtime"] = True
    if args.model is not None:
        overrides["detection.model"] = None if args.model.lower() == "none" else args.model
    if args.signatures is not None:
        overrides["detection.signatures"] = args.signatures
    if args.mqtt is not None:
        overrides["mqtt.url"] = args.mqtt
        overrides["mqtt.enabled"] = True
    if args.no_mqtt:
        overrides["mqtt.enabled"] = False
    if getattr(args, "events_out", None) is not None:
        overrides["outputs.events_jsonl"] = str(args.events_out)
    return load_config(args.config, overrides)


def _sinks(cfg: Config) -> list[Any]:
    from detector.sinks import JsonlSink, LogSink

    sinks: list[Any] = []
    if cfg.outputs.log_events:
        sinks.append(LogSink())
    if cfg.outputs.events_jsonl:
        sinks.append(JsonlSink(Path(cfg.outputs.events_jsonl)))
    return sinks


def cmd_run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload request while starting up must not kill us
    from detector.daemon import Pipeline, install_signal_handlers

    cfg = _load(args)
    logs.configure(cfg.log.level, cfg.log.format)
    log = structlog.get_logger("detector")
    if args.features_out is not None and args.features_out.suffix != ".npy":
        raise DetectorError(f"--features-out {args.features_out}: expected a file name ending in .npy")
    sinks = _sinks(cfg)
    pipeline = Pipeline(cfg, sinks=sinks)
    mqtt = None
    if cfg.mqtt.enabled:
        from detector.sinks import MqttSink

        mqtt = MqttSink(
            cfg.mqtt,
            cfg.device_name,
            on_signature_set=pipeline.install_signature,
            on_signature_delete=pipeline.remove_signature,
        )
        pipeline.sinks.append(mqtt)
        mqtt.start()
    install_signal_handlers(pipeline)
    try:
        summary = pipeline.run(keep_features=args.features_out is not None)
    finally:
        for sink in pipeline.sinks:
            try:
                drained = sink.close()
            except Exception as exc:  # noqa: BLE001 - closing one sink must not skip the others
                log.error("sink_close_failed", sink=type(sink).__name__, error=f"{type(exc).__name__}: {exc}")
                continue
            if sink is mqtt and drained is False:
                log.warning(
                    "spool_not_empty",
                    waited_seconds=cfg.mqtt.drain_timeout_seconds,
                    left=mqtt.stats().get("spool_depth"),
                    note="kept on disk; sent on the next start",
                )
    if args.features_out is not None:
        args.features_out.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.features_out, summary.features)
        log.info("features_saved", path=str(args.features_out), shape=list(summary.features.shape))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate config, audio source, model, signatures and broker; print each, exit 1 on a problem."""
    from detector.audio.sources import open_source
    from detector.daemon import resolve_path
    from detector.models import load_model
    from detector.signatures.directory import SignatureDirectory

    cfg = _load(args)
    problems: list[str] = []
    print(f"config: {cfg.source_file or 'built-in defaults'}: ok")
    model = None
    if cfg.detection.model is not None:
        model = load_model(resolve_path(cfg.detection.model), num_threads=cfg.detection.threads)
        print(f"model: {model.name} ({model.kind}, sha256 {model.sha256[:12]}): ok")
    spec = model.spec if model is not None else cfg.feature_spec()
    print(
        f"features: {spec.sample_rate} Hz, {spec.n_bands} {spec.scale} bands, "
        f"hop {1000 * spec.hop_length / spec.sample_rate:g} ms: ok"
    )
    source = open_source(cfg.audio, spec.sample_rate)  # raises with the reason if unusable
    print(f"audio: {source.describe()}: ok")
    if model is not None and model.kind == "embedding":
        directory = SignatureDirectory(resolve_path(cfg.detection.signatures), model)
        if not directory.path.is_dir():
            problems.append(f"signatures: {directory.path}: no such directory")
        else:
            loaded = directory.load()
            for name, sig in sorted(loaded.items()):
                print(f"signature {name}: {sig.scorer_kind}, threshold {sig.threshold:g}: ok")
            for file, reason in sorted(directory.rejected.items()):
                problems.append(f"signature {file}: {reason}")
            if not loaded:
                problems.append(f"signatures: {directory.path}: no usable .sig files (nothing to detect)")
    if cfg.mqtt.enabled:
        from detector.sinks.mqtt import check_broker

        ok, message = check_broker(cfg.mqtt, cfg.device_name)
        if ok:
            print(f"mqtt: {message}: ok")
        else:
            problems.append(f"mqtt: {message}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "check": cmd_check}[args.command](args)
    except DetectorError as exc:
        print(f"detector {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
