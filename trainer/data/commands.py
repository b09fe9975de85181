"""`trainer synth ...`, `trainer fetch-sounds`, `trainer collect-sounds`: data sets on disk."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from trainer.data import backgrounds, debian, digits, lowfeature
from trainer.data.clips import Clip, ClipSet, write_clipset
from trainer.errors import DataError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the data-set subcommands to the ``trainer`` command's subparsers."""
    synth = sub.add_parser("synth", help="write a synthetic data set (folder per class + manifest.json)")
    kinds = synth.add_subparsers(dest="dataset", required=True, metavar="{lowband,digits,backgrounds}")

    p = kinds.add_parser("lowband", help="the low-feature paper's tones-in-noise signatures at 44.1 kHz")
    _out_arguments(p)
    p.add_argument("--signatures", type=int, default=10, help="number of signatures (classes) [10]")
    p.add_argument("--renditions", type=int, default=20, help="clips per signature [20]")
    p.add_argument("--seconds", type=float, default=4.0, help="clip duration [4.0]")
    p.add_argument(
        "--snr-db",
        type=float,
        nargs=2,
        default=(-20.0, 0.0),
        metavar=("LO", "HI"),
        help="SNR range, dB (tones over noise, full band) [-20 0]",
    )
    p.add_argument(
        "--noise", nargs="+", choices=lowfeature.NOISE_KINDS, default=["white", "pink"], help="noise colours"
    )
    p.add_argument("--no-noise-class", action="store_true", help="leave out the noise-only class")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_synth_lowband)

    p = kinds.add_parser("digits", help="spoken digits 0-9 with every espeak-ng voice/variant (and flite)")
    _out_arguments(p)
    p.add_argument("--renditions", type=int, default=3, help="clips per voice and digit [3]")
    p.add_argument("--voices", nargs="+", help="voices to use, e.g. en-us en-gb+f3 flite:slt [all usable]")
    p.add_argument("--all-variants", action="store_true", help="every variant with every accent (~10x more)")
    p.add_argument("--no-flite", action="store_true", help="espeak-ng voices only")
    p.add_argument("--sample-rate", type=int, default=digits.SAMPLE_RATE, help="Hz [16000]")
    p.add_argument("--cache", type=Path, help="cache root [$SIGDETECT_CACHE or ~/.cache/sigdetect]")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_synth_digits)

    p = kinds.add_parser(
        "backgrounds", help="background textures: rain, wind, traffic, crowd, machinery, music"
    )
    _out_arguments(p)
    p.add_argument("--kinds", nargs="+", choices=backgrounds.KINDS, default=list(backgrounds.KINDS[:6]))
    p.add_argument("--count", type=int, default=5, help="clips per kind [5]")
    p.add_argument("--seconds", type=float, default=10.0, help="clip duration [10]")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz [16000]")
    p.add_argument("--real", action="store_true", help="add recorded beds from fetched Debian packages")
    p.add_argument("--cache", type=Path, help="cache root, for --real")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_synth_backgrounds)

    p = sub.add_parser(
        "fetch-sounds", help="download and unpack the Debian sound packages (apt-get download)"
    )
    p.add_argument("--cache", type=Path, help="cache root [$SIGDETECT_CACHE or ~/.cache/sigdetect]")
    p.add_argument("--packages", nargs="+", choices=debian.PACKAGES, default=list(debian.PACKAGES))
    p.set_defaults(func=run_fetch_sounds)

    p = sub.add_parser("collect-sounds", help="organise the fetched sounds into classes of 16 kHz clips")
    _out_arguments(p)
    p.add_argument("--cache", type=Path, help="cache root [$SIGDETECT_CACHE or ~/.cache/sigdetect]")
    p.add_argument("--packages", nargs="+", choices=debian.PACKAGES, help="packages to use [all fetched]")
    p.add_argument("--sample-rate", type=int, default=debian.DEFAULT_SAMPLE_RATE, help="Hz [16000]")
    p.add_argument("--min-seconds", type=float, default=debian.DEFAULT_MIN_SECONDS)
    p.add_argument("--max-seconds", type=float, default=debian.DEFAULT_MAX_SECONDS)
    p.add_argument("--min-clips", type=int, default=debian.DEFAULT_MIN_CLIPS, help="smallest class kept [2]")
    p.set_defaults(func=run_collect_sounds)


def _out_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, required=True, help="output directory (DIR/<class>/<group>_<n>.wav)"
    )
    parser.add_argument("--force", action="store_true", help="replace a data set this command wrote before")


def _check(name: str, value: float, minimum: float, exclusive: bool = False) -> None:
    if value < minimum or (exclusive and value == minimum):
        relation = ">" if exclusive else ">="
        raise DataError(f"{name}: got {value}; expected {relation} {minimum}")


def _debian_dir(cache: Path | None) -> Path | None:
    return None if cache is None else cache.expanduser() / "debian"


def _report(clipset: ClipSet, manifest: Path, started: float) -> None:
    print(
        f"wrote {len(clipset)} clips in {len(clipset.classes)} classes to {manifest.parent} "
        f"({manifest.name}; {len(clipset.skipped)} skipped; {time.monotonic() - started:.1f} s)"
    )


def run_synth_lowband(args: argparse.Namespace) -> int:
    """``trainer synth lowband``."""
    started = time.monotonic()
    _check("--signatures", args.signatures, 1)
    _check("--renditions", args.renditions, 1)
    _check("--seconds", args.seconds, 0, exclusive=True)
    clipset = lowfeature.make_dataset(
        n_signatures=args.signatures,
        renditions_per_signature=args.renditions,
        seconds=args.seconds,
        snr_db_range=tuple(args.snr_db),
        seed=args.seed,
        include_noise_only=not args.no_noise_class,
        noise_kinds=args.noise,
    )
    params = {
        "signatures": args.signatures,
        "renditions": args.renditions,
        "seconds": args.seconds,
        "snr_db": list(args.snr_db),
        "noise": args.noise,
        "noise_class": not args.no_noise_class,
        "seed": args.seed,
    }
    manifest = write_clipset(clipset, args.out, "lowfeature", params, force=args.force)
    _report(clipset, manifest, started)
    return 0


def run_synth_digits(args: argparse.Namespace) -> int:
    """``trainer synth digits``."""
    started = time.monotonic()
    _check("--renditions", args.renditions, 1)
    voices = args.voices or digits.available_voices(args.all_variants, include_flite=not args.no_flite)
    clipset = digits.make_digits(
        cache_dir=args.cache,
        voices=voices,
        renditions=args.renditions,
        seed=args.seed,
        sample_rate=args.sample_rate,
    )
    params = {"renditions": args.renditions, "voices": sorted(clipset.groups), "seed": args.seed}
    manifest = write_clipset(clipset, args.out, "digits", params, force=args.force)
    _report(clipset, manifest, started)
    return 0


def run_synth_backgrounds(args: argparse.Namespace) -> int:
    """``trainer synth backgrounds``."""
    started = time.monotonic()
    _check("--count", args.count, 1)
    _check("--seconds", args.seconds, 0, exclusive=True)
    clipset = ClipSet()
    for kind in args.kinds:
        for i in range(args.count):
            rng = np.random.default_rng([args.seed, backgrounds.KINDS.index(kind), i])
            samples = backgrounds.make_background(kind, args.seconds, args.sample_rate, rng)
            source = f"synthetic {kind} {args.seconds:g} s seed {args.seed} index {i}"
            clipset.clips.append(Clip(samples, args.sample_rate, kind, "synth", source))
    if args.real:
        real = backgrounds.real_backgrounds(_debian_dir(args.cache), args.sample_rate)
        if not real:
            raise DataError("--real: no recorded beds found; run `trainer fetch-sounds` first")
        clipset.clips += real
    params = {
        "kinds": args.kinds,
        "count": args.count,
        "seconds": args.seconds,
        "sample_rate": args.sample_rate,
        "real": args.real,
        "seed": args.seed,
    }
    manifest = write_clipset(clipset, args.out, "backgrounds", params, force=args.force)
    _report(clipset, manifest, started)
    return 0


def run_fetch_sounds(args: argparse.Namespace) -> int:
    """``trainer fetch-sounds``."""
    started = time.monotonic()
    unpacked = debian.fetch(_debian_dir(args.cache), args.packages)
    for package, directory in unpacked.items():
        print(f"{package}: {directory}")
    print(f"{len(unpacked)} package(s) ready ({time.monotonic() - started:.1f} s)")
    return 0


def run_collect_sounds(args: argparse.Namespace) -> int:
    """``trainer collect-sounds``."""
    started = time.monotonic()
    _check("--min-clips", args.min_clips, 1)
    _check("--max-seconds", args.max_seconds, 0, exclusive=True)
    if args.min_seconds > args.max_seconds:
        raise DataError(f"--min-seconds {args.min_seconds} is above --max-seconds {args.max_seconds}")
    clipset = debian.collect_clips(
        _debian_dir(args.cache),
        sample_rate=args.sample_rate,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
        min_clips=args.min_clips,
        packages=args.packages,
    )
    params = {
        "packages": list(clipset.meta["packages"]),
        "sample_rate": args.sample_rate,
        "min_seconds": args.min_seconds,
        "max_seconds": args.max_seconds,
        "min_clips": args.min_clips,
    }
    manifest = write_clipset(clipset, args.out, "debian", params, force=args.force)
    for package, counts in clipset.meta["packages"].items():
        print(
            f"{package}: {counts['classes']} classes, {counts['clips']} clips, "
            f"{counts['skipped']} skipped ({counts['seconds']} s)"
        )
    _report(clipset, manifest, started)
    return 0
