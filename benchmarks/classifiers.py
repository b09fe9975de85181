"""Every classifier-experiment table (tagging, spoken digits, 7-class pipeline) beside the papers' figures."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_tables(tables: dict[str, list[dict[str, Any]]]) -> None:
    """Plain-text tables, one per experiment, the paper's rows first."""
    for name, rows in tables.items():
        columns = list(dict.fromkeys(key for row in rows for key in row))
        widths = {c: max(len(c), *(len(_cell(row.get(c))) for row in rows)) for c in columns}
        print(f"\n== {name}")
        print("  ".join(c.ljust(widths[c]) for c in columns))
        for row in rows:
            print("  ".join(_cell(row.get(c)).ljust(widths[c]) for c in columns))


def main(argv: list[str] | None = None) -> int:
    from detector import logs
    from trainer.experiments.report import EXPERIMENTS, evaluate, tables

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "experiments", nargs="*", default=list(EXPERIMENTS), help=f"some of {', '.join(EXPERIMENTS)}"
    )
    parser.add_argument("--json", action="store_true", help="print the tables as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="few-minute versions (smaller data, fewer epochs)"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/reports"), help="report + PNG directory")
    parser.add_argument("--cache", type=Path, help="cache root [$SIGDETECT_CACHE or ~/.cache/sigdetect]")
    parser.add_argument("--no-deploy", action="store_true", help="skip the daemon run of the pipeline model")
    parser.add_argument("--force", action="store_true", help="rerun even when cached results exist")
    args = parser.parse_args(argv)
    unknown = [e for e in args.experiments if e not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(unknown)}; expected some of {', '.join(EXPERIMENTS)}")
    logs.configure("warning", "auto")
    started = time.monotonic()
    results, report = evaluate(
        args.experiments,
        out_dir=args.out,
        quick=args.quick,
        cache_dir=args.cache,
        deploy=not args.no_deploy,
        force=args.force,
        command="python benchmarks/classifiers.py " + " ".join(sys.argv[1:] if argv is None else argv),
    )
    table = tables(results)
    wall = {name: r.get("command_seconds") for name, r in results.items()}
    if args.json:
        total = round(time.monotonic() - started, 1)
        summary = {"report": str(report), "tables": table, "experiment_seconds": wall, "wall_seconds": total}
        print(json.dumps(summary, indent=1, default=str))
    else:
        print_tables(table)
        print(f"\nreport: {report}; experiment seconds (when run, not cached): {wall}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
