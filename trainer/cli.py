"""The `trainer` command line: data sets (synth, fetch-sounds, ...), train, export, build-model, enroll."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from detector import logs
from detector.errors import DetectorError


def build_parser() -> argparse.ArgumentParser:
    from trainer import commands
    from trainer.data import commands as data_commands
    from trainer.experiments import commands as experiment_commands
    from trainer.recipes import commands as recipe_commands

    parser = argparse.ArgumentParser(prog="trainer", description="Build data sets and models for sigdetect.")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)
    data_commands.add_parsers(sub)
    commands.add_parsers(sub)
    recipe_commands.add_parsers(sub)
    experiment_commands.add_parsers(sub)
    add_enroll_parser(sub)
    return parser


def add_enroll_parser(sub: Any) -> None:
    p = sub.add_parser("enroll", help="make a signature <NAME>.sig from a few clips of a target sound")
    p.add_argument("name", help="target name: letters, digits, - _ . (no path separators)")
    p.add_argument("clips", nargs="+", type=Path, help="audio files of the target (3-5 is common; 1 works)")
    p.add_argument("--model", type=Path, required=True, help="the embedding model (.tflite with its .json)")
    p.add_argument("--out", type=Path, required=True, help="directory for the .sig")
    p.add_argument(
        "--scorer",
        default="prototype",
        choices=["prototype", "ocsvm", "gmm", "iforest", "binary"],
        help="prototype (cosine to the shots), ocsvm / gmm / iforest (one-class on the shared embedding), "
        "or binary (trains a small Spec-CNN head on the model's feature patches, written beside the .sig "
        "as NAME.binary.tflite + .json; --model then only sets the FeatureSpec) (default: %(default)s)",
    )
    p.add_argument(
        "--background",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="background recordings of the site (default: a built-in hour of generic beds)",
    )
    p.add_argument(
        "--fa-per-hour", type=float, default=1.0, help="false alarms per hour allowed on background"
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_enroll)


def run_enroll(args: argparse.Namespace) -> int:
    import json

    from trainer.enroll import EnrollOptions, enroll

    options = EnrollOptions(scorer=args.scorer, fa_per_hour=args.fa_per_hour, seed=args.seed)
    summary = enroll(args.name, args.clips, args.model, args.out, options, args.background)
    print(
        json.dumps(
            {"signature": str(args.out / f"{args.name}.sig")}
            | {k: v for k, v in summary.items() if k != "clip_sha256"},
            indent=2,
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_level, "auto")
    try:
        return int(args.func(args) or 0)
    except DetectorError as exc:
        print(f"trainer {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
