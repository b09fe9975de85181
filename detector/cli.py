"""The `detector` command line: `run` streams audio through the pipeline, `check` validates a setup."""

from __future__ import annotations

import argparse
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

    run = sub.add_parser("run", help="stream audio through the pipeline until the source ends or SIGTERM")
    common(run)
    run.add_argument("--realtime", action="store_true", help="pace a file source at real time")
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
    return load_config(args.config, overrides)


def cmd_run(args: argparse.Namespace) -> int:
    from detector.daemon import Pipeline, install_signal_handlers

    cfg = _load(args)
    logs.configure(cfg.log.level, cfg.log.format)
    if args.features_out is not None and args.features_out.suffix != ".npy":
        raise DetectorError(f"--features-out {args.features_out}: expected a file name ending in .npy")
    pipeline = Pipeline(cfg)
    install_signal_handlers(pipeline)
    summary = pipeline.run(keep_features=args.features_out is not None)
    if args.features_out is not None:
        args.features_out.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.features_out, summary.features)
        structlog.get_logger("detector").info(
            "features_saved", path=str(args.features_out), shape=list(summary.features.shape)
        )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from detector.audio.sources import open_source

    cfg = _load(args)
    spec = cfg.feature_spec()
    source = open_source(cfg.audio, spec.sample_rate)  # raises with the reason if unusable
    print(f"config: {cfg.source_file or 'built-in defaults'}: ok")
    print(
        f"features: profile {cfg.features.profile}, {spec.sample_rate} Hz, "
        f"{spec.n_bands} {spec.scale} bands, "
        f"hop {1000 * spec.hop_length / spec.sample_rate:g} ms: ok"
    )
    print(f"audio: {source.describe()}: ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "check": cmd_check}[args.command](args)
    except DetectorError as exc:
        print(f"detector {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
