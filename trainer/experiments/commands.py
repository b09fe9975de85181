"""`trainer evaluate`: run the classifier experiments and write the markdown report with its PNGs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command to the ``trainer`` parser."""
    from trainer.experiments.report import EXPERIMENTS

    p = sub.add_parser(
        "evaluate",
        help="run the classifier experiments (tagging, digits, pipeline) and write a markdown report",
        description=(
            "Runs each experiment (results are cached per configuration, so a rerun after an interruption "
            "only redoes what is missing), writes OUT/classifiers.md and its PNGs, and prints the tables "
            "as JSON."
        ),
    )
    p.add_argument(
        "experiments", nargs="*", metavar="EXPERIMENT", help=f"some of {', '.join(EXPERIMENTS)} [all]"
    )
    p.add_argument("--out", type=Path, default=Path("docs/reports"), help="report directory [docs/reports]")
    p.add_argument("--quick", action="store_true", help="small, few-minute versions of every experiment")
    p.add_argument("--cache", type=Path, help="cache root [$SIGDETECT_CACHE or ~/.cache/sigdetect]")
    p.add_argument("--export-dir", type=Path, help="export the trained classifiers here [a cache directory]")
    p.add_argument(
        "--no-deploy", action="store_true", help="skip running the exported model through the daemon"
    )
    p.add_argument("--force", action="store_true", help="rerun even when cached results exist")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """``trainer evaluate``."""
    from trainer.errors import DataError
    from trainer.experiments.report import EXPERIMENTS, evaluate, tables

    unknown = [name for name in args.experiments if name not in EXPERIMENTS]
    if unknown:
        raise DataError(f"experiment(s) {', '.join(unknown)}: expected some of {', '.join(EXPERIMENTS)}")
    results, path = evaluate(
        args.experiments or EXPERIMENTS,
        out_dir=args.out,
        quick=args.quick,
        cache_dir=args.cache,
        export_dir=args.export_dir,
        deploy=not args.no_deploy,
        force=args.force,
        command="trainer evaluate " + " ".join(sys.argv[sys.argv.index("evaluate") + 1 :])
        if "evaluate" in sys.argv
        else "trainer evaluate",
    )
    print(json.dumps({"report": str(path), "tables": tables(results)}, indent=1, default=str))
    for name, r in results.items():
        skipped = r.get("skipped") or []
        if skipped:
            print(f"{name}: {len(skipped)} audio file(s) skipped (unreadable or silent):", file=sys.stderr)
            for item in skipped:
                print(f"  {item['path']}: {item['reason']}", file=sys.stderr)
    return 0
