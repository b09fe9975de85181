"""`trainer build-model general|lowband`: rebuild a shipped model from scratch into a directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "build-model", help="build a shipped model from scratch (data, training, export, measurement)"
    )
    p.add_argument("name", choices=["general", "lowband"], help="which shipped model")
    p.add_argument(
        "--out", type=Path, default=Path("models"), help="directory for <name>.tflite/.json (models/)"
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="data cache root (default $SIGDETECT_CACHE or ~/.cache/sigdetect)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="most training epochs (default: the recipe's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    args.out.mkdir(parents=True, exist_ok=True)
    if args.name == "general":
        from trainer.recipes import general as recipe_module

        recipe = recipe_module.GeneralRecipe(seed=args.seed)
    else:
        from trainer.recipes import lowband as recipe_module

        recipe = recipe_module.LowbandRecipe(seed=args.seed)
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    summary = recipe_module.build(args.out, recipe, args.cache)
    print(
        json.dumps(
            {
                "model": str(args.out / f"{args.name}.tflite"),
                "held_out": summary["held_out"],
                "build_seconds": summary["build_seconds"],
            },
            indent=2,
        )
    )
    return 0
