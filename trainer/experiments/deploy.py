"""Deployment check: a scene cut from test clips, run through `detector run`, peak RSS measured."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from trainer.data.clips import load_audio, trim_silence
from trainer.errors import TrainerError

SCENE_RATE = 16000  # Hz
GAP_SECONDS = 1.5  # quiet room tone between the sounds of the scene
GAP_DBFS = -60.0
SOUND_SECONDS = 4.0  # each sound is cut (or looped) to this length
TIME_BIN = "/usr/bin/time"


def make_scene(
    files_per_class: dict[str, Sequence[str]], out: str | Path, seed: int = 0, per_class: int = 2
) -> tuple[Path, list[dict[str, Any]]]:
    """A 16 kHz scene: ``per_class`` test sounds of every class, in random order, between quiet gaps.

    Returns:
        ``(scene wav, truth)``: truth is ``[{"label", "start", "end", "source"}]`` in seconds.
    """
    rng = np.random.default_rng(seed)
    picks = []
    for label, files in sorted(files_per_class.items()):
        files = list(files)
        for i in rng.permutation(len(files))[:per_class]:
            picks.append((label, files[i]))
    picks = [picks[i] for i in rng.permutation(len(picks))]
    n_gap = int(GAP_SECONDS * SCENE_RATE)
    n_sound = int(SOUND_SECONDS * SCENE_RATE)
    parts = []
    truth = []
    cursor = 0

    def gap() -> np.ndarray:
        return (rng.standard_normal(n_gap) * 10 ** (GAP_DBFS / 20)).astype(np.float32)

    parts.append(gap())
    cursor += n_gap
    for label, path in picks:
        x = trim_silence(load_audio(path, SCENE_RATE, max_seconds=SOUND_SECONDS + 5), SCENE_RATE)
        if len(x) == 0:
            continue
        if label != "silence":
            x = np.resize(x, n_sound) if len(x) < n_sound else x[:n_sound]
        else:
            x = x[:n_sound]
        truth.append(
            {
                "label": label,
                "start": cursor / SCENE_RATE,
                "end": (cursor + len(x)) / SCENE_RATE,
                "source": path,
            }
        )
        parts += [x.astype(np.float32), gap()]
        cursor += len(x) + n_gap
    scene = np.clip(np.concatenate(parts), -1, 1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, scene, SCENE_RATE, subtype="PCM_16")
    out.with_suffix(".truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return out, truth


def _config(path: Path, listen: Sequence[str], threshold: float) -> Path:
    lines = [
        "detection:",
        f"  listen: [{', '.join(listen)}]",
        "  adaptive:",
        "    enabled: false",
        "  events:",
        f"    threshold: {threshold}",
        "    min_windows: 2",
        "mqtt:",
        "  enabled: false",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_daemon(
    model: str | Path,
    scene: str | Path,
    work_dir: str | Path,
    listen: Sequence[str] = (),
    threshold: float = 0.5,
) -> dict[str, Any]:
    """``detector run --model MODEL --source SCENE --no-mqtt --events-out EVENTS`` in a child process.

    Peak RSS comes from ``/usr/bin/time -v`` ("Maximum resident set size") when installed, else from
    ``getrusage(RUSAGE_CHILDREN)`` (the largest child so far: only exact when no bigger child ran before).

    Returns:
        ``{"exit_code", "peak_rss_mb", "rss_source", "wall_seconds", "events", "command"}``.

    Raises:
        TrainerError: the daemon exits non-zero (its stderr tail is in the message).
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    events_path = work / "events.jsonl"
    events_path.unlink(missing_ok=True)
    config = _config(work / "daemon.yaml", listen, threshold)
    command = [
        sys.executable,
        "-m",
        "detector",
        "run",
        "-c",
        str(config),
        "--model",
        str(model),
        "--source",
        str(scene),
        "--no-mqtt",
        "--events-out",
        str(events_path),
    ]
    use_time = os.path.exists(TIME_BIN)
    full = [TIME_BIN, "-v", *command] if use_time else command
    started = time.monotonic()
    result = subprocess.run(full, capture_output=True, text=True, timeout=900, cwd=str(work))
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise TrainerError(f"detector run failed (exit {result.returncode}): {result.stderr[-1500:]}")
    if use_time:
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
        rss_kb, source = (int(match.group(1)), "/usr/bin/time -v") if match else (0, "unknown")
    else:
        rss_kb, source = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "getrusage(RUSAGE_CHILDREN)"
    events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    return {
        "exit_code": result.returncode,
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "rss_source": source,
        "wall_seconds": round(wall, 2),
        "events": events,
        "command": " ".join(["python", *command[1:]]),
    }


def score_events(events: list[dict[str, Any]], truth: list[dict[str, Any]]) -> dict[str, Any]:
    """Event-level check: an event is correct when it overlaps a truth segment of its label.

    Returns:
        ``{"events", "correct", "precision", "segments", "detected", "recall"}`` (segments of listened
        labels only; ``detected``: segments overlapped by an event of their label).
    """
    starts = [e for e in events if e.get("state") == "start" or "end" in e]
    seen: dict[tuple[str, float], dict[str, Any]] = {}
    for e in starts:
        seen[(e["target"], round(float(e["start"]), 3))] = e
    spans = []
    for e in seen.values():
        end = e.get("end")
        spans.append(
            (e["target"], float(e["start"]), float(end) if end is not None else float(e["start"]) + 2.0)
        )
    labels = {t for t, _, _ in spans} | {seg["label"] for seg in truth}

    def overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
        return a0 < b1 and b0 < a1

    correct = sum(
        1
        for t, s, e in spans
        if any(seg["label"] == t and overlaps(s, e, seg["start"], seg["end"]) for seg in truth)
    )
    listened = [seg for seg in truth if seg["label"] in labels]
    detected = sum(
        1
        for seg in listened
        if any(t == seg["label"] and overlaps(s, e, seg["start"], seg["end"]) for t, s, e in spans)
    )
    return {
        "events": len(spans),
        "correct": correct,
        "precision": correct / len(spans) if spans else float("nan"),
        "segments": len(listened),
        "detected": detected,
        "recall": detected / len(listened) if listened else float("nan"),
    }


def deploy(
    model: str | Path,
    files_per_class: dict[str, Sequence[str]],
    work_dir: str | Path,
    listen: Sequence[str] = (),
    seed: int = 0,
    baseline_model: str | Path | None = None,
) -> dict[str, Any]:
    """Make a scene from test files, run the daemon on it, and return RSS, timing and event accuracy.

    With ``baseline_model`` (e.g. the shipped ``general`` embedding model, no signatures) the daemon is
    run once more on the same scene, so the classifier's own share of the RSS can be told apart.
    """
    if not shutil.which(sys.executable):  # pragma: no cover - always there
        raise TrainerError("no Python interpreter to run the daemon with")
    work = Path(work_dir)
    scene, truth = make_scene(files_per_class, work / "scene.wav", seed=seed)
    run = run_daemon(model, scene, work, listen=listen)
    listened = set(listen) if listen else None
    scored_truth = [seg for seg in truth if listened is None or seg["label"] in listened]
    run["scene_seconds"] = round(sf.info(str(scene)).duration, 2)
    run["real_time_factor"] = round(run["wall_seconds"] / run["scene_seconds"], 4)
    run["scene"] = str(scene)
    run["truth_segments"] = len(truth)
    run["event_check"] = score_events(run["events"], scored_truth)
    run["events_by_target"] = _count(run["events"])
    run.pop("events")
    if baseline_model is not None:
        base = run_daemon(baseline_model, scene, work / "baseline")
        run["baseline"] = {"model": Path(baseline_model).name, "peak_rss_mb": base["peak_rss_mb"]}
    return run


def _count(events: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        if e.get("state") == "start":
            out[e["target"]] = out.get(e["target"], 0) + 1
    return out
