"""Enroll a target sound from a few clips: embed, augment in noise, fit a scorer, calibrate on background.

The shots are embedded with the daemon's own front end and model runner, keeping the patches where the
sound is. They are also rendered into background beds at several SNRs and shifted inside the patch, so
the signature knows the target in noise. The scorer's raw output is calibrated against background
audio (the ``--background`` files, else a built-in hour of generic beds, quiet to loud) and against
other sound events (built-in distractors: tones, alarms, chirps, whistles, bells, clicks, bursts, speech,
and soundfont notes the model trained on), and the threshold is the lowest one that keeps the false
alarms within ``--fa-per-hour``: events on the background, counted as the daemon makes them, plus the
distractors that fire at an assumed ``OTHER_SOUNDS_PER_HOUR`` other sounds an hour.

``--scorer binary`` trains a small per-target Spec-CNN head on the feature patches instead (the same
augmented shots against background patches, plus other-class clips when given), exports it beside the
signature as ``<name>.binary.tflite`` (+ sidecar) and calibrates the *exported* head on background and
renditions it was not trained on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from detector.features import FeatureSpec, extract
from detector.models import Model, load_model
from detector.signatures import SignatureData, validate_name, write_signature
from trainer.data.backgrounds import EVENT_KINDS, events_in_beds, make_background, make_event
from trainer.data.clips import load_audio
from trainer.data.debian import default_cache_dir
from trainer.data.patches import active_patches, prepare
from trainer.errors import DataError, TrainerError
from trainer.recipes.scenes import Rendering, background_patch, render_patch, window_samples

log = structlog.get_logger(__name__)

EMBEDDING_SCORERS = ("prototype", "ocsvm", "gmm", "iforest")  # score the daemon's shared embedding
SCORERS = (*EMBEDDING_SCORERS, "binary")  # binary: a per-target TFLite head on the feature patches
SILENT_PEAK_DBFS = -60.0  # a clip whose loudest sample is below this is refused as silent
MIN_SOUND_SECONDS = 0.05  # shortest clip accepted (shorter than a patch is padded, shorter than this refused)
GENERIC_BACKGROUND_KINDS = ("rain", "wind", "traffic", "crowd", "machinery", "music", "pink", "brown")
GENERIC_BACKGROUND_SEGMENT_SECONDS = 30.0  # short: many draws of each kind (rates, levels, voices)
GENERIC_BACKGROUND_HOURS = 1.0
GENERIC_BACKGROUND_SEED = 12345  # the built-in calibration hour
GENERIC_BACKGROUND_GAIN_DB = (-30.0, 6.0)  # bed levels re -26 dBFS RMS: quiet sites (-56 dBFS) to loud
GENERIC_BACKGROUND_VERSION = 3  # part of the cache keys: bump when the built-in beds change
MIN_THRESHOLD = 0.5  # calibrated score: never below "as likely target as background"
# distractors: other sound events (not the target), calibration negatives besides the background beds
DISTRACTOR_SET_VERSION = 2  # part of the cache key: bump when the set's recipe changes
DISTRACTOR_SEED = (GENERIC_BACKGROUND_SEED, 2)
DISTRACTOR_SYNTHETIC_EVENTS = 600  # tones, beeps, alarms, chirps, whistles, bells, clicks, bursts, speech
DISTRACTOR_GM_VELOCITIES = (90,)  # soundfont notes of classes the model trained on, one rendition per
DISTRACTOR_GM_DURATIONS_SECONDS = (0.3, 1.0)  # velocity x duration
DISTRACTOR_MAX_SECONDS = 3.0  # longer events are cut
DISTRACTOR_CONTEXT_SECONDS = 1.0  # bed before and after each event
OTHER_SOUNDS_PER_HOUR = 120.0  # other sound events a box is assumed to hear per hour (two a minute)
LIKE_TARGET_QUANTILE = 0.5  # a distractor scoring above this quantile of the renditions counts as the target
CALIBRATION_TILT = 0.02  # share of the calibrated score given by the balanced rank (strictly increasing)
PAPER_OCSVM = {"nu": 0.08, "gamma": 0.001}  # the low-feature paper's OC-SVM
PAPER_IFOREST = {"n_estimators": 70, "contamination": 0.08}
PAPER_GMM_COMPONENTS = 18  # spherical, capped at the number of samples
ENROLL_SNRS_DB = (20.0, 12.0, 6.0, 0.0)  # the shots are rendered in background at each of these
RENDER_BED_SECONDS = 20.0  # per generic kind: the beds the shots are rendered into
WINDOW_CHUNK = 512  # patches per model call when scoring long recordings

# binary heads (--scorer binary)
BINARY_TRAIN_BACKGROUND_FRACTION = 0.25  # of each --background file (its start) trains; the rest calibrates
BINARY_TRAIN_BED_SEED = (
    GENERIC_BACKGROUND_SEED,
    1,
)  # built-in background: fresh beds of the same kinds train
BINARY_TRAIN_BED_SECONDS = 60.0  # per generic kind, with the built-in background
BINARY_MAX_BACKGROUND_NEGATIVES = 3000  # background windows sampled as training negatives
BINARY_BED_NEGATIVES_PER_BED = 8  # background-only patches of each rendering bed (negatives)
BINARY_TRAIN_RENDITIONS_PER_SNR = 12  # noisy training renditions of each shot at each SNR
BINARY_FILTERS = (16, 32)  # Spec-CNN conv channels
BINARY_FEATURE_DIM = 32
BINARY_BATCH = 32
BINARY_MAX_STEPS_PER_EPOCH = 60  # batches per epoch at most (the balanced set is mostly negatives)
BINARY_LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class EnrollOptions:
    """How a signature is made (defaults as the paper gives them where it gives them)."""

    scorer: str = "prototype"
    fa_per_hour: float = 1.0
    renditions_per_snr: int = 4  # noisy renditions of each shot at each SNR
    seed: int = 0
    binary_epochs: int = 12  # --scorer binary: training epochs of the head
    binary_train_renditions_per_snr: int = BINARY_TRAIN_RENDITIONS_PER_SNR


@dataclass(frozen=True)
class Background:
    """Model outputs of background windows, in time order per segment, and how many hours they span.

    ``embeddings`` holds the embedding model's outputs ``(n, d)`` (embedding scorers) or a binary head's
    sigmoid outputs ``(n, 1)``.
    """

    embeddings: np.ndarray  # (n, d)
    segment_ids: np.ndarray  # (n,) consecutive windows of one segment share an id
    hours: float
    source: str


@dataclass(frozen=True)
class BackgroundFeatures:
    """Front-end features of background audio, one ``(frames, n_bands)`` array per segment."""

    segments: list[np.ndarray]
    hours: float
    source: str


@dataclass(frozen=True)
class Calibrated:
    """A scorer's calibration and threshold, and the calibrated scores they were chosen on."""

    calibration: dict[str, Any]
    threshold: float
    positive_conf: np.ndarray
    background_conf: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)  # false alarms, distractors, event rules


# ---------------------------------------------------------------------------------------------- audio
def load_clips(paths: Sequence[str | Path], spec: FeatureSpec) -> list[np.ndarray]:
    """Read the shots at the model's rate; refuse silent or too-short clips with a clear message."""
    if not paths:
        raise DataError("no clips given; expected at least one audio file of the target sound")
    clips = []
    for path in paths:
        x = load_audio(path, spec.sample_rate)
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak == 0.0 or 20 * np.log10(peak) < SILENT_PEAK_DBFS:
            raise DataError(
                f"{path}: the clip is silent (peak below {SILENT_PEAK_DBFS:g} dBFS); expected the target"
            )
        if len(x) < MIN_SOUND_SECONDS * spec.sample_rate:
            raise DataError(
                f"{path}: {len(x) / spec.sample_rate:.3f} s is too short; "
                f"expected at least {MIN_SOUND_SECONDS:g} s"
            )
        clips.append(x)
    return clips


def shot_patches(
    clips: Sequence[np.ndarray],
    spec: FeatureSpec,
    beds: Sequence[np.ndarray],
    rng: np.random.Generator,
    renditions_per_snr: int,
    *,
    clean: bool = True,
) -> tuple[list[np.ndarray], int]:
    """Feature patches of each shot: where the sound is, and its renditions in the beds at each SNR.

    Args:
        clips: The shots at ``spec.sample_rate``.
        spec: The model's FeatureSpec.
        beds: Background beds the shots are mixed into.
        rng: Random source (bed, shift and SNR draws).
        renditions_per_snr: Noisy renditions of each shot at each of ``ENROLL_SNRS_DB``.
        clean: Include the shot's own active patches (not for held-out renditions).

    Returns:
        ``(per_clip, n_clean)``: one float32 ``(n, patch_frames, n_bands)`` array per clip, and how many
        of all the patches are the clean ones.
    """
    per_clip, n_clean = [], 0
    for x in clips:
        own = active_patches(x, spec) if clean else np.zeros((0, spec.patch_frames, spec.n_bands), np.float32)
        n_clean += len(own)
        noisy = [
            render_patch(
                x, beds, spec, rng, Rendering(snr_db=(snr, snr), clean_fraction=0.0, pitch_probability=0.0)
            )
            for snr in ENROLL_SNRS_DB
            for _ in range(renditions_per_snr)
        ]
        parts = [own, np.stack(noisy).astype(np.float32)] if noisy else [own]
        per_clip.append(np.concatenate(parts).astype(np.float32, copy=False))
    return per_clip, n_clean


def _render_beds(spec: FeatureSpec, rng: np.random.Generator, seconds: float = RENDER_BED_SECONDS) -> list:
    return [make_background(k, seconds, spec.sample_rate, rng) for k in GENERIC_BACKGROUND_KINDS]


# ---------------------------------------------------------------------------------------------- windows
def window_starts(n_frames: int, spec: FeatureSpec) -> np.ndarray:
    """First frame of every daemon window (one per patch hop) over ``n_frames`` feature frames."""
    return np.arange(0, n_frames - spec.patch_frames + 1, spec.patch_hop_frames)


def window_outputs(
    run: Callable[[np.ndarray], np.ndarray], features: np.ndarray, spec: FeatureSpec, dim: int
) -> np.ndarray:
    """``run`` over every window of a feature stream, in chunks: ``(n_windows, dim)``."""
    starts = window_starts(len(features), spec)
    out = []
    for chunk in np.array_split(starts, max(1, len(starts) // WINDOW_CHUNK)):
        if len(chunk):
            out.append(np.asarray(run(np.stack([features[s : s + spec.patch_frames] for s in chunk]))))
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


def window_embeddings(model: Model, samples: np.ndarray) -> np.ndarray:
    """Embeddings of every patch of a long recording, one per patch hop (the daemon's windows)."""
    spec = model.spec
    return window_outputs(model.run, extract(spec, prepare(samples, spec)), spec, model.output_dim)


def _features(samples: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    return extract(spec, prepare(samples, spec))


# ---------------------------------------------------------------------------------------------- background
def _generic_beds(spec: FeatureSpec, seed: Any, count: int, seconds: float) -> Iterator[np.ndarray]:
    """The built-in generic beds: kinds in turn, each at a random level (one generator for the lot)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        kind = GENERIC_BACKGROUND_KINDS[i % len(GENERIC_BACKGROUND_KINDS)]
        bed = make_background(kind, seconds, spec.sample_rate, rng)
        bed = bed * np.float32(10 ** (rng.uniform(*GENERIC_BACKGROUND_GAIN_DB) / 20))
        yield np.clip(bed, -1, 1)


def _generic_segments() -> int:
    return round(GENERIC_BACKGROUND_HOURS * 3600 / GENERIC_BACKGROUND_SEGMENT_SECONDS)


def _cache_dir() -> Path:
    return default_cache_dir() / "enroll"


def generic_background_features(spec: FeatureSpec, *, write_cache: bool = True) -> BackgroundFeatures:
    """Features of the built-in generic hour (the beds ``background_embeddings`` embeds), cached per spec.

    Args:
        spec: The front end.
        write_cache: Keep the features in the cache (~60-100 MB for the shipped profiles) for next time.
    """
    key = hashlib.sha256(spec.to_json().encode()).hexdigest()[:16]
    cache = _cache_dir() / f"generic-background-features-v{GENERIC_BACKGROUND_VERSION}-{key}.npz"
    source = "built-in generic beds"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            bounds = np.cumsum(z["lengths"])[:-1]
            return BackgroundFeatures(np.split(z["features"], bounds), float(z["hours"]), source)
    log.info(
        "computing the built-in background features (once per front end)", hours=GENERIC_BACKGROUND_HOURS
    )
    segments = [
        _features(bed, spec)
        for bed in _generic_beds(
            spec, GENERIC_BACKGROUND_SEED, _generic_segments(), GENERIC_BACKGROUND_SEGMENT_SECONDS
        )
    ]
    features = BackgroundFeatures(segments, GENERIC_BACKGROUND_HOURS, source)
    if write_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(
            tmp,
            features=np.concatenate(segments),
            lengths=np.array([len(s) for s in segments]),
            hours=GENERIC_BACKGROUND_HOURS,
        )
        tmp.replace(cache)
    return features


def file_background_features(
    files: Sequence[str | Path], spec: FeatureSpec, *, start_fraction: float = 0.0, end_fraction: float = 1.0
) -> BackgroundFeatures:
    """Features of the ``--background`` files, one segment per file (or the given share of each)."""
    segments, seconds = [], 0.0
    for path in files:
        x = load_audio(path, spec.sample_rate)
        x = x[math.floor(start_fraction * len(x)) : math.floor(end_fraction * len(x))]
        seconds += len(x) / spec.sample_rate
        segments.append(_features(x, spec))
    if not segments or all(len(s) < spec.patch_frames for s in segments):
        raise DataError("the --background files hold no complete patch; expected longer recordings")
    share = "" if (start_fraction, end_fraction) == (0.0, 1.0) else f" ({end_fraction - start_fraction:.0%})"
    return BackgroundFeatures(segments, seconds / 3600, f"{len(files)} file(s){share}")


def score_background(
    features: BackgroundFeatures, run: Callable[[np.ndarray], np.ndarray], spec: FeatureSpec, dim: int
) -> Background:
    """``run`` over every window of every background segment."""
    parts, ids = [], []
    for i, segment in enumerate(features.segments):
        out = window_outputs(run, segment, spec, dim)
        parts.append(out)
        ids.append(np.full(len(out), i))
    return Background(np.concatenate(parts), np.concatenate(ids), features.hours, features.source)


def background_embeddings(model: Model, files: Sequence[str | Path] = ()) -> Background:
    """Background windows: the given files, else the built-in generic hour (cached per model)."""
    spec = model.spec
    if files:
        return score_background(file_background_features(files, spec), model.run, spec, model.output_dim)
    cache = _cache_dir() / f"generic-background-v{GENERIC_BACKGROUND_VERSION}-{model.sha256[:16]}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return Background(z["embeddings"], z["segment_ids"], float(z["hours"]), "built-in generic beds")
    log.info("embedding the built-in background (once per model)", hours=GENERIC_BACKGROUND_HOURS)
    features = generic_background_features(spec, write_cache=False)
    background = score_background(features, model.run, spec, model.output_dim)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache, embeddings=background.embeddings, segment_ids=background.segment_ids, hours=background.hours
    )
    return background


@dataclass(frozen=True)
class Distractors:
    """Model outputs of the built-in distractor events: each event in its own stretch of bed."""

    embeddings: np.ndarray  # (n, d) windows, in time order per event
    segment_ids: np.ndarray  # (n,) the event each window belongs to
    labels: tuple[str, ...]  # per event: "synthetic:<kind>" or the soundfont class
    source: str


def _held_out_classes(model: Any) -> set[str]:
    """Recorded classes the model was *not* trained on (its sidecar's training summary), if it says."""
    training = getattr(getattr(model, "info", None), "training", None) or {}
    data = training.get("data", {}) if isinstance(training, dict) else {}
    return set(data.get("held_out_classes", []) if isinstance(data, dict) else [])


def distractor_clips(sample_rate: int, exclude: set[str] = frozenset()) -> list[tuple[str, np.ndarray]]:
    """The built-in distractor events: ``(label, samples)``, each at most ``DISTRACTOR_MAX_SECONDS``.

    Synthetic events of every kind of ``trainer.data.backgrounds.EVENT_KINDS`` in turn (espeak-ng words
    among them), and, when fluidsynth and a General MIDI soundfont are installed, one or two renditions
    of every soundfont class (``fluid-soundfont-gm:gm000_c4``, ``...:gmdrum_42``) not in ``exclude``
    (the classes a model was *not* trained on: a benchmark's unseen targets must stay unseen).
    """
    from trainer.data import midi
    from trainer.data.debian import render_soundfont

    rng = np.random.default_rng(DISTRACTOR_SEED)
    cut = int(DISTRACTOR_MAX_SECONDS * sample_rate)
    out = []
    for i in range(DISTRACTOR_SYNTHETIC_EVENTS):
        kind = EVENT_KINDS[i % len(EVENT_KINDS)]
        out.append((f"synthetic:{kind}", make_event(kind, sample_rate, rng)[:cut]))
    if midi.fluidsynth_available() and midi.find_soundfont() is not None:
        notes, _ = render_soundfont(
            None,
            sample_rate,
            velocities=DISTRACTOR_GM_VELOCITIES,
            durations_seconds=DISTRACTOR_GM_DURATIONS_SECONDS,
            workers=2,
        )
        out += [
            (f"{c.group}:{c.label}", c.samples[:cut]) for c in notes if f"{c.group}:{c.label}" not in exclude
        ]
    return out


def distractor_embeddings(model: Model) -> Distractors:
    """Embeddings of the built-in distractor events in generic beds (cached per model).

    Each event sits in its own stretch of a generic bed (``DISTRACTOR_CONTEXT_SECONDS`` around it) at a
    random SNR of 0-20 dB; the windows are the daemon's (one per patch hop).
    """
    import json

    from trainer.data import midi

    exclude = _held_out_classes(model)
    tools = [
        midi.fluidsynth_available() and midi.find_soundfont() is not None,
        bool(shutil.which("espeak-ng")),
    ]
    key_text = json.dumps([DISTRACTOR_SET_VERSION, model.sha256, sorted(exclude), tools])
    cache = _cache_dir() / f"distractors-{hashlib.sha256(key_text.encode()).hexdigest()[:16]}.npz"
    source = "built-in distractor events" + ("" if tools[0] else " (synthetic only: no fluidsynth)")
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return Distractors(z["embeddings"], z["segment_ids"], tuple(z["labels"].tolist()), source)
    log.info("embedding the built-in distractor events (once per model)")
    clips = distractor_clips(model.spec.sample_rate, exclude)
    rng = np.random.default_rng((*DISTRACTOR_SEED, 1))
    segments = events_in_beds(
        [x for _, x in clips],
        model.spec.sample_rate,
        rng,
        kinds=GENERIC_BACKGROUND_KINDS,
        context_seconds=DISTRACTOR_CONTEXT_SECONDS,
        gain_db=GENERIC_BACKGROUND_GAIN_DB,
    )
    parts = [window_embeddings(model, segment) for segment in segments]
    distractors = Distractors(
        np.concatenate(parts),
        np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]),
        tuple(label for label, _ in clips),
        source,
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(
        tmp,
        embeddings=distractors.embeddings,
        segment_ids=distractors.segment_ids,
        labels=np.array(distractors.labels),
    )
    tmp.replace(cache)
    return distractors


def _check_hours(hours: float, source: str, fa_per_hour: float) -> None:
    if hours * fa_per_hour < 1.0:
        raise DataError(
            f"--fa-per-hour {fa_per_hour:g} needs at least {1 / fa_per_hour:.2f} h "
            f"of background to measure; the {source} span {hours:.2f} h. "
            "Give more --background audio or a higher --fa-per-hour"
        )


# ---------------------------------------------------------------------------------------------- calibration
def detector_event_rules(spec: FeatureSpec) -> tuple[int, int]:
    """``(min_windows, merge_windows)`` of the daemon's default event rules (``detection.events``).

    An event needs ``min_windows`` consecutive windows at or above the threshold; windows that come
    back within the hold and refractory time after one (``merge_windows`` patch hops) belong to it.
    """
    from detector.config import EventsConfig

    rules = EventsConfig()
    hop_seconds = spec.patch_hop_frames * spec.hop_length / spec.sample_rate
    return int(rules.min_windows), math.ceil((rules.hold_seconds + rules.refractory_seconds) / hop_seconds)


def run_levels(scores: np.ndarray, segment_ids: np.ndarray, min_windows: int = 1) -> np.ndarray:
    """Per window: the lowest score of the ``min_windows`` windows of its segment ending there.

    A run of ``min_windows`` windows at or above ``t`` ends at window ``i`` exactly when
    ``run_levels(...)[i] >= t`` (``-inf`` where the segment has fewer windows so far).
    """
    scores = np.asarray(scores, dtype=np.float64)
    m, n = max(1, int(min_windows)), len(scores)
    if m == 1:
        return scores.copy()
    out = np.full(n, -np.inf)
    if n >= m:
        lowest = np.lib.stride_tricks.sliding_window_view(scores, m).min(axis=1)
        out[m - 1 :] = np.where(segment_ids[m - 1 :] == segment_ids[: n - m + 1], lowest, -np.inf)
    return out


def count_events(
    levels: np.ndarray, segment_ids: np.ndarray, threshold: float, merge_windows: int = 0
) -> int:
    """Events in a stream of ``run_levels``: windows at or above ``threshold``, a new event wherever the
    previous such window is more than ``merge_windows`` windows back or in another segment."""
    idx = np.flatnonzero(levels >= threshold)
    if len(idx) == 0:
        return 0
    new = (np.diff(idx) > merge_windows + 1) | (segment_ids[idx[1:]] != segment_ids[idx[:-1]])
    return 1 + int(np.count_nonzero(new))


def events_per_hour(
    scores: np.ndarray,
    segment_ids: np.ndarray,
    threshold: float,
    hours: float,
    min_windows: int = 1,
    merge_windows: int = 0,
) -> float:
    """False alarms per hour on background: events as the daemon makes them (see ``count_events``;
    the defaults count every run of consecutive windows at or above ``threshold``)."""
    levels = run_levels(scores, segment_ids, min_windows)
    return count_events(levels, segment_ids, threshold, merge_windows) / hours


def event_levels(scores: np.ndarray, segment_ids: np.ndarray, min_windows: int = 1) -> np.ndarray:
    """Per segment (one distractor event each): the highest threshold at which it makes an event."""
    if len(scores) == 0:
        return np.zeros(0)
    levels = run_levels(scores, segment_ids, min_windows)
    starts = np.flatnonzero(np.r_[True, segment_ids[1:] != segment_ids[:-1]])
    return np.maximum.reduceat(levels, starts)


def _calibration_table(
    iso: Any, pos_raw: np.ndarray, neg_raw: np.ndarray, extra: Sequence[float] = ()
) -> dict[str, Any]:
    """The isotonic map, tilted by ``CALIBRATION_TILT`` towards the balanced rank of the raw score
    (mean of the positive and negative empirical CDFs): as calibrated as the isotonic fit within the
    tilt, and strictly increasing over the data, so any raw threshold is exactly representable and the
    ambient adaptation sees graded scores instead of plateaus."""
    levels = np.linspace(0.0, 1.0, 129)
    grid = np.unique(
        np.concatenate(
            [iso.X_thresholds_, np.quantile(pos_raw, levels), np.quantile(neg_raw, levels), np.asarray(extra)]
        )
    )
    grid = grid[np.isfinite(grid)]
    pos_sorted, neg_sorted = np.sort(pos_raw), np.sort(neg_raw)
    rank = 0.5 * (
        np.searchsorted(pos_sorted, grid, side="right") / len(pos_sorted)
        + np.searchsorted(neg_sorted, grid, side="right") / len(neg_sorted)
    )
    y = (1.0 - CALIBRATION_TILT) * iso.predict(grid) + CALIBRATION_TILT * rank
    return {
        "kind": "isotonic",
        "x": grid.astype(np.float64),
        "y": np.clip(np.maximum.accumulate(y), 0.0, 1.0),
    }


def _crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """The lowest ``r`` where the piecewise-linear ``(x, y)`` (non-decreasing) reaches ``level``."""
    k = int(np.searchsorted(y, level))
    if k >= len(y):
        return math.inf
    if k == 0 or y[k] == y[k - 1]:
        return float(x[k])
    return float(x[k - 1] + (level - y[k - 1]) * (x[k] - x[k - 1]) / (y[k] - y[k - 1]))


def _at_operating_point(balanced: dict[str, Any], raw_threshold: float) -> dict[str, Any]:
    """The balanced calibration with its odds rescaled so that ``raw_threshold`` maps to 0.5.

    The result is the posterior P(target | raw) under the prior at which the operating point is even
    odds: windows far below it map near 0 (the balanced map gives background windows that resemble a
    faint rendition of the target 0.1-0.5, which the ambient adaptation would read as a heavy tail),
    and the signature's threshold is 0.5. ``raw_threshold`` must be one of ``balanced["x"]``.
    """
    x, q = balanced["x"], np.clip(balanced["y"], 1e-9, 1.0 - 1e-9)
    q_t = float(q[int(np.searchsorted(x, raw_threshold))])
    odds = q / (1.0 - q) * ((1.0 - q_t) / q_t)
    y = odds / (1.0 + odds)
    below = np.nextafter(MIN_THRESHOLD, 0.0)
    y = np.where(x >= raw_threshold, np.maximum(y, MIN_THRESHOLD), np.minimum(y, below))
    return {"kind": "isotonic", "x": x, "y": np.clip(np.maximum.accumulate(y), 0.0, 1.0)}


@dataclass(frozen=True)
class ThresholdChoice:
    """A raw threshold and what it was chosen on."""

    raw_threshold: float  # inf: nothing meets the budget
    like_target: np.ndarray  # per distractor event: scores like the target itself (left out)
    like_windows: np.ndarray  # per distractor window: of such an event
    distractor_levels: np.ndarray  # per distractor event kept: the highest threshold it fires at


def choose_threshold(
    pos_raw: np.ndarray,
    bg_raw: np.ndarray,
    background: Background,
    fa_per_hour: float,
    *,
    dist_raw: np.ndarray | None = None,
    distractors: Distractors | None = None,
    min_windows: int = 1,
    merge_windows: int = 0,
) -> ThresholdChoice:
    """The lowest raw threshold within the false-alarm budget, not below even odds on the background.

    See ``calibrate`` (same arguments) for how false alarms are counted.
    """
    from sklearn.isotonic import IsotonicRegression

    pos_raw, bg_raw = np.asarray(pos_raw, np.float64), np.asarray(bg_raw, np.float64)
    bg_levels = run_levels(bg_raw, background.segment_ids, min_windows)
    if dist_raw is not None and distractors is not None and len(distractors.labels):
        levels = event_levels(np.asarray(dist_raw, np.float64), distractors.segment_ids, min_windows)
        like = levels >= np.quantile(pos_raw, LIKE_TARGET_QUANTILE)
        like_windows, dist_levels = like[distractors.segment_ids], levels[~like]
    else:
        like, like_windows, dist_levels = np.zeros(0, bool), np.zeros(0, bool), np.zeros(0)

    def expected_fa(t: float) -> float:
        on_bg = count_events(bg_levels, background.segment_ids, t, merge_windows) / background.hours
        other = float(np.mean(dist_levels >= t)) * OTHER_SOUNDS_PER_HOUR if len(dist_levels) else 0.0
        return on_bg + other

    # binary search over the scores seen (the counts fall as the threshold rises)
    candidates = np.unique(np.concatenate([bg_levels[np.isfinite(bg_levels)], dist_levels, pos_raw]))
    lo, hi = 0, len(candidates)  # the answer is in candidates[lo:hi]; len(candidates): above everything
    while lo < hi:
        mid = (lo + hi) // 2
        if expected_fa(candidates[mid]) <= fa_per_hour:
            hi = mid
        else:
            lo = mid + 1
    raw_threshold = float(candidates[lo]) if lo < len(candidates) else math.inf
    # never where the target is less likely than background (balanced, against the background alone)
    on_bg = np.concatenate([np.ones(len(pos_raw)), np.zeros(len(bg_raw))])
    iso_bg = IsotonicRegression(y_min=0.0, y_max=1.0)
    weight = np.where(on_bg == 1, len(bg_raw) / len(pos_raw), 1.0)
    iso_bg.fit(np.r_[pos_raw, bg_raw], on_bg, sample_weight=weight)
    raw_threshold = max(raw_threshold, _crossing(iso_bg.X_thresholds_, iso_bg.y_thresholds_, MIN_THRESHOLD))
    return ThresholdChoice(raw_threshold, like, like_windows, dist_levels)


def calibrate(
    pos_raw: np.ndarray,
    bg_raw: np.ndarray,
    background: Background,
    fa_per_hour: float,
    *,
    dist_raw: np.ndarray | None = None,
    distractors: Distractors | None = None,
    min_windows: int = 1,
    merge_windows: int = 0,
) -> Calibrated:
    """Calibration raw -> 0..1 and the threshold: the lowest raw score within the false-alarm budget.

    False alarms are counted as the daemon makes events (``min_windows``, ``merge_windows``): on the
    background per hour, plus, with distractors, the share of the distractor events that fire times
    ``OTHER_SOUNDS_PER_HOUR`` (the other sounds a box hears). Distractor events that score like the
    target itself (at or above the ``LIKE_TARGET_QUANTILE`` of its renditions) are left out: they are
    the target, or sounds no threshold can tell from it. The calibration is a balanced isotonic fit of
    target renditions against every negative window, made strictly increasing (``_calibration_table``),
    then rescaled so that the threshold is 0.5 (``_at_operating_point``); 1.0 when nothing meets the
    budget. The threshold is never where a balanced fit against the background alone says the target is
    less likely than background (``MIN_THRESHOLD``).

    Args:
        pos_raw: Raw scores of target patches.
        bg_raw: Raw scores of the background windows (``background``'s, in order).
        background: Where ``bg_raw`` came from (segments and hours, for the false-alarm count).
        fa_per_hour: False alarms per hour allowed, background and other sounds together.
        dist_raw: Raw scores of the distractor windows (``distractors``'s, in order), or ``None``.
        distractors: The distractor events.
        min_windows, merge_windows: The daemon's event rules (``detector_event_rules``).
    """
    from sklearn.isotonic import IsotonicRegression

    pos_raw, bg_raw = np.asarray(pos_raw, np.float64), np.asarray(bg_raw, np.float64)
    choice = choose_threshold(
        pos_raw,
        bg_raw,
        background,
        fa_per_hour,
        dist_raw=dist_raw,
        distractors=distractors,
        min_windows=min_windows,
        merge_windows=merge_windows,
    )
    raw_threshold, like, dist_levels = choice.raw_threshold, choice.like_target, choice.distractor_levels
    kept = ~choice.like_windows
    neg_dist = np.asarray(dist_raw, np.float64)[kept] if len(kept) else np.zeros(0)
    negatives = np.concatenate([bg_raw, neg_dist])
    x = np.concatenate([pos_raw, negatives])
    y = np.concatenate([np.ones(len(pos_raw)), np.zeros(len(negatives))])
    weight = np.where(y == 1, len(negatives) / len(pos_raw), 1.0)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y, sample_weight=weight)
    extra = [raw_threshold] if math.isfinite(raw_threshold) else []
    balanced = _calibration_table(iso, pos_raw, negatives, extra)
    if math.isfinite(raw_threshold):
        calibration, threshold = _at_operating_point(balanced, raw_threshold), MIN_THRESHOLD
    else:  # no threshold meets the budget: only scores above all the data fire
        calibration, threshold = balanced, 1.0
    cal = lambda r: np.interp(r, calibration["x"], calibration["y"])  # noqa: E731 - as the daemon does
    pos_conf, bg_conf = cal(pos_raw), cal(bg_raw)
    # what the daemon will see at that threshold, counted on the calibrated scores it compares
    fa_bg = events_per_hour(
        bg_conf, background.segment_ids, threshold, background.hours, min_windows, merge_windows
    )
    dist_conf_levels = cal(dist_levels)
    fa_other = (
        float(np.mean(dist_conf_levels >= threshold)) * OTHER_SOUNDS_PER_HOUR if len(dist_levels) else 0.0
    )
    report = {
        "fa_per_hour_on_background": round(fa_bg, 3),
        "event_rules": {"min_windows": min_windows, "merge_windows": merge_windows},
    }
    if distractors is not None:
        report |= {
            "distractors": distractors.source,
            "distractor_events": len(distractors.labels),
            "distractors_like_target": int(np.count_nonzero(like)),
            "distractors_firing": int(np.count_nonzero(dist_conf_levels >= threshold)),
            "other_sounds_per_hour_assumed": OTHER_SOUNDS_PER_HOUR,
            "fa_per_hour_from_other_sounds": round(fa_other, 3),
            "fa_per_hour_expected": round(fa_bg + fa_other, 3),
        }
    return Calibrated(calibration, threshold, pos_conf, bg_conf, report)


def recall_unseen_shot(
    kind: str,
    per_clip: list[np.ndarray],
    renditions_per_snr: int,
    seed: int,
    background: Background,
    distractors: Distractors | None,
    fa_per_hour: float,
    min_windows: int,
    merge_windows: int,
) -> dict[str, Any]:
    """Leave one shot out: fit on the others, choose the threshold as enrollment does, and count the
    left-out shot's noisy renditions (windows) at or above it, per SNR. A fairer guess of the recall
    on new instances of the sound than the renditions the scorer was fitted on. Empty for one shot."""
    if len(per_clip) < 2:
        return {}
    n_noisy = len(ENROLL_SNRS_DB) * renditions_per_snr
    snrs = np.repeat(ENROLL_SNRS_DB, renditions_per_snr)
    hits: dict[float, list[bool]] = {snr: [] for snr in ENROLL_SNRS_DB}
    for i in range(len(per_clip)):
        rest = [c.astype(np.float64) for j, c in enumerate(per_clip) if j != i]
        positives = np.concatenate(rest)
        _, raw = _fit_scorer(kind, positives, rest, seed)
        choice = choose_threshold(
            raw(positives),
            raw(background.embeddings.astype(np.float64)),
            background,
            fa_per_hour,
            dist_raw=None if distractors is None else raw(distractors.embeddings.astype(np.float64)),
            distractors=distractors,
            min_windows=min_windows,
            merge_windows=merge_windows,
        )
        held = raw(per_clip[i][len(per_clip[i]) - n_noisy :].astype(np.float64))
        for snr in ENROLL_SNRS_DB:
            hits[snr] += (held[snrs == snr] >= choice.raw_threshold).tolist()
    return {
        "recall_unseen_shot_in_noise": round(float(np.mean(sum(hits.values(), []))), 4),
        "recall_unseen_shot_by_snr_db": {f"{snr:g}": round(float(np.mean(h)), 4) for snr, h in hits.items()},
    }


# ---------------------------------------------------------------------------------------------- scorers
def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _fit_scorer(kind: str, positives: np.ndarray, per_clip: list[np.ndarray], seed: int) -> tuple[dict, Any]:
    """Scorer parameters for the signature, and raw(embeddings) as the daemon will compute it.

    The fitted scikit-learn model scores here; the daemon's numpy scorers equal it to 1e-6 (parity tests).
    """
    from trainer import scorer_params

    if kind == "prototype":
        prototypes = _unit(np.stack([_unit(c).mean(axis=0) for c in per_clip]))
        return {"prototypes": prototypes}, lambda e: (_unit(e) @ prototypes.T).max(axis=1)
    if kind == "ocsvm":
        from sklearn.svm import OneClassSVM

        svm = OneClassSVM(kernel="rbf", **PAPER_OCSVM).fit(positives)
        return scorer_params.ocsvm_params(svm), svm.decision_function
    if kind == "gmm":
        from sklearn.mixture import GaussianMixture

        gmm = GaussianMixture(
            n_components=min(PAPER_GMM_COMPONENTS, len(positives)),
            covariance_type="spherical",
            max_iter=10_000,
            random_state=seed,
        ).fit(positives)
        return scorer_params.gmm_params(gmm), gmm.score_samples
    if kind == "iforest":
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(random_state=seed, **PAPER_IFOREST).fit(positives)
        return scorer_params.iforest_params(forest), forest.decision_function
    raise TrainerError(f"--scorer: got {kind!r}; expected one of {', '.join(SCORERS)}")


@dataclass(frozen=True)
class _Scored:
    """What a scorer path hands back to ``enroll``: everything the signature and its summary need."""

    params: dict[str, Any]
    model_sha256: str
    pos_raw: np.ndarray
    background: Background
    bg_raw: np.ndarray
    n_positives: int
    extra: dict[str, Any]


def _sample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= n else x[np.sort(rng.choice(len(x), size=n, replace=False))]


def _background_training_patches(
    features: Sequence[np.ndarray], spec: FeatureSpec, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Up to ``n`` daemon windows drawn evenly at random from the training background segments."""
    index = [(i, s) for i, f in enumerate(features) for s in window_starts(len(f), spec)]
    if not index:
        return np.zeros((0, spec.patch_frames, spec.n_bands), np.float32)
    pick = np.sort(rng.choice(len(index), size=min(n, len(index)), replace=False))
    return np.stack([features[index[k][0]][index[k][1] : index[k][1] + spec.patch_frames] for k in pick])


def train_binary_head(
    positives: np.ndarray,
    negatives: np.ndarray,
    spec: FeatureSpec,
    *,
    epochs: int,
    seed: int,
    name: str,
) -> tuple[Any, dict[str, Any]]:
    """A small Spec-CNN (sigmoid) on target vs non-target feature patches, classes balanced.

    Args:
        positives: ``(n, patch_frames, n_bands)`` target patches.
        negatives: ``(m, patch_frames, n_bands)`` background / other-class patches.
        spec: Their FeatureSpec.
        epochs: Training epochs.
        seed: Seeds the weights and the batches.
        name: Keras model name.

    Returns:
        ``(keras_model, training summary dict)``.
    """
    import keras

    from trainer.models.architectures import band_stats, spec_cnn_binary
    from trainer.models.losses import binary_crossentropy
    from trainer.train import fit

    reps = max(1, round(len(negatives) / max(len(positives), 1)))
    x = np.concatenate([np.repeat(positives, reps, axis=0), negatives]).astype(np.float32)
    y = np.r_[np.ones(len(positives) * reps), np.zeros(len(negatives))].astype(np.float32)
    mean, std = band_stats(x)
    keras.utils.set_random_seed(seed)
    model = spec_cnn_binary(
        (spec.patch_frames, spec.n_bands),
        mean=mean,
        std=std,
        filters=BINARY_FILTERS,
        feature_dim=BINARY_FEATURE_DIM,
        name=name,
    )
    steps = min(BINARY_MAX_STEPS_PER_EPOCH, math.ceil(len(x) / BINARY_BATCH))
    summary = fit(
        model,
        (x, y),
        None,
        loss=binary_crossentropy(),
        epochs=epochs,
        batch_size=BINARY_BATCH,
        steps_per_epoch=steps,
        patience=None,
        seed=seed,
        learning_rate=BINARY_LEARNING_RATE,
        progress="none",
    ).to_dict()
    brief = {k: summary[k] for k in ("params", "epochs_run", "batch_size", "steps_per_epoch", "wall_seconds")}
    brief["final_loss"] = round(float(summary["history"]["loss"][-1]), 5)
    brief["positives"], brief["negatives"], brief["positive_repeats"] = len(positives), len(negatives), reps
    return model, brief


def _binary_path(
    name: str,
    model: Model,
    clips: list[np.ndarray],
    per_clip_patches: list[np.ndarray],
    beds: list[np.ndarray],
    rng: np.random.Generator,
    options: EnrollOptions,
    background_files: Sequence[str | Path],
    negative_clips: list[np.ndarray],
    out: Path,
) -> _Scored:
    """Binary head: train on shots vs background (+ other classes), export, calibrate on held-out data."""
    from trainer.export import export_tflite

    spec = model.spec
    # held-out background (calibration, threshold) and the background the head trains on: never the same
    if background_files:
        held_out = file_background_features(
            background_files, spec, start_fraction=BINARY_TRAIN_BACKGROUND_FRACTION
        )
        _check_hours(held_out.hours, held_out.source, options.fa_per_hour)
        train_bg = file_background_features(
            background_files, spec, end_fraction=BINARY_TRAIN_BACKGROUND_FRACTION
        )
        train_source = f"first {BINARY_TRAIN_BACKGROUND_FRACTION:.0%} of the --background files"
    else:
        held_out = generic_background_features(spec)
        _check_hours(held_out.hours, held_out.source, options.fa_per_hour)
        n_beds = len(GENERIC_BACKGROUND_KINDS)
        train_bg = BackgroundFeatures(
            [
                _features(b, spec)
                for b in _generic_beds(spec, BINARY_TRAIN_BED_SEED, n_beds, BINARY_TRAIN_BED_SECONDS)
            ],
            n_beds * BINARY_TRAIN_BED_SECONDS / 3600,
            "fresh built-in generic beds",
        )
        train_source = f"{n_beds} fresh generic beds of {BINARY_TRAIN_BED_SECONDS:g} s"

    # positives: the shots and more renditions of them; held-out renditions in other beds calibrate
    extra, _ = shot_patches(clips, spec, beds, rng, options.binary_train_renditions_per_snr, clean=False)
    positives = np.concatenate([*per_clip_patches, *extra])
    calib_beds = _render_beds(spec, rng)
    calib_pos, _ = shot_patches(clips, spec, calib_beds, rng, options.renditions_per_snr, clean=False)
    calib_positives = np.concatenate(calib_pos)

    # negatives: background windows, the rendering beds alone, other classes (alone and in the beds)
    neg_parts = [_background_training_patches(train_bg.segments, spec, BINARY_MAX_BACKGROUND_NEGATIVES, rng)]
    neg_parts += [
        np.stack([background_patch(bed, spec, rng) for _ in range(BINARY_BED_NEGATIVES_PER_BED)])
        for bed in beds
    ]
    n_other = 0
    if negative_clips:
        others, _ = shot_patches(negative_clips, spec, beds, rng, options.renditions_per_snr)
        n_other = sum(len(o) for o in others)
        neg_parts += others
    negatives = np.concatenate(neg_parts).astype(np.float32)

    keras_model, training = train_binary_head(
        positives, negatives, spec, epochs=options.binary_epochs, seed=options.seed, name=f"{name}_binary"
    )
    head_path = out / f"{name}.binary.tflite"
    training |= {"target": name, "background_for_training": train_source, "other_class_patches": n_other}
    export_tflite(keras_model, head_path, kind="binary", spec=spec, name=f"{name}.binary", training=training)
    head = load_model(head_path)  # calibrate what the daemon will run: the exported TFLite head
    background = score_background(held_out, head.run, spec, 1)
    return _Scored(
        params={"model_file": head_path.name, "model_file_sha256": head.sha256},
        model_sha256=head.sha256,
        pos_raw=head.run(calib_positives)[:, 0].astype(np.float64),
        background=background,
        bg_raw=background.embeddings[:, 0].astype(np.float64),
        n_positives=len(positives),
        extra={
            "head": {
                "model_file": head_path.name,
                "sha256": head.sha256,
                **training,
                "background_for_training_hours": round(train_bg.hours, 3),
                "calibration_positives": len(calib_positives),
            },
        },
    )


# ---------------------------------------------------------------------------------------------- enroll
def enroll(
    name: str,
    clip_paths: Sequence[str | Path],
    model_path: str | Path,
    out_dir: str | Path,
    options: EnrollOptions = EnrollOptions(),
    background_files: Sequence[str | Path] = (),
    negative_files: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Make ``<out_dir>/<name>.sig``; return the enrollment summary it records.

    Args:
        name: Target name (``validate_name``).
        clip_paths: Shots of the target.
        model_path: The daemon's model (``.tflite`` + sidecar): an embedding model for the embedding
            scorers; for ``binary`` any model whose FeatureSpec the daemon runs (the head takes its patches).
        out_dir: Where the ``.sig`` (and a binary head ``<name>.binary.tflite`` + ``.json``) go.
        options: Scorer, false-alarm budget, augmentation, seed.
        background_files: Recordings of the site (default: the built-in generic hour).
        negative_files: ``binary`` only: clips of other sounds that must not trigger (extra negatives).
    """
    validate_name(name)
    if options.scorer not in SCORERS:
        raise TrainerError(f"--scorer: got {options.scorer!r}; expected one of {', '.join(SCORERS)}")
    if options.fa_per_hour <= 0:
        raise TrainerError(f"--fa-per-hour: got {options.fa_per_hour}; expected a rate > 0")
    binary = options.scorer == "binary"
    if negative_files and not binary:
        raise TrainerError("negative clips are used by --scorer binary only; the other scorers see positives")
    if binary and options.binary_epochs < 1:
        raise TrainerError(f"binary_epochs: got {options.binary_epochs}; expected >= 1")
    model = load_model(model_path)
    if not binary and model.kind != "embedding":
        raise TrainerError(f"{model_path}: model kind {model.kind!r}; enrollment needs an 'embedding' model")
    spec = model.spec
    rng = np.random.default_rng(options.seed)
    clips = load_clips(clip_paths, spec)
    negative_clips = load_clips(negative_files, spec) if negative_files else []
    out = Path(out_dir)

    distractors, dist_raw = None, None  # other sound events (embedding scorers: the built-in set)
    unseen: dict[str, Any] = {}  # recall on a left-out shot (embedding scorers)
    # the shots where the sound is, and their renditions in noise (beds held apart from calibration)
    if binary:
        out.mkdir(parents=True, exist_ok=True)
        beds = _render_beds(spec, rng)
        per_clip_patches, n_clean = shot_patches(clips, spec, beds, rng, options.renditions_per_snr)
        scored = _binary_path(
            name, model, clips, per_clip_patches, beds, rng, options, background_files, negative_clips, out
        )
        per_clip = [model.run(p) for p in per_clip_patches] if model.kind == "embedding" else None
    else:
        background = background_embeddings(model, background_files)
        _check_hours(background.hours, background.source, options.fa_per_hour)
        beds = _render_beds(spec, rng)
        per_clip_patches, n_clean = shot_patches(clips, spec, beds, rng, options.renditions_per_snr)
        per_clip = [model.run(p) for p in per_clip_patches]
        positives = np.concatenate(per_clip).astype(np.float64)  # float64: score as the daemon does (1e-6)
        params, raw = _fit_scorer(options.scorer, positives, per_clip, options.seed)
        distractors = distractor_embeddings(model)
        dist_raw = raw(distractors.embeddings.astype(np.float64))
        unseen = recall_unseen_shot(
            options.scorer,
            per_clip,
            options.renditions_per_snr,
            options.seed,
            background,
            distractors,
            options.fa_per_hour,
            *detector_event_rules(spec),
        )
        scored = _Scored(
            params=params,
            model_sha256=model.sha256,
            pos_raw=raw(positives),
            background=background,
            bg_raw=raw(background.embeddings),
            n_positives=len(positives),
            extra={},
        )

    # calibration: balanced isotonic map raw -> P(target); threshold: the false-alarm budget on the
    # background and on other sound events, counted with the daemon's event rules
    min_windows, merge_windows = detector_event_rules(spec)
    cal = calibrate(
        scored.pos_raw,
        scored.bg_raw,
        scored.background,
        options.fa_per_hour,
        dist_raw=dist_raw,
        distractors=distractors,
        min_windows=min_windows,
        merge_windows=merge_windows,
    )
    background = scored.background
    similarity, basis = _self_similarity(per_clip, per_clip_patches)
    summary = {
        "model": model.name,
        "clips": len(clips),
        "clip_seconds": [round(len(c) / spec.sample_rate, 3) for c in clips],
        "clip_sha256": [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in clip_paths],
        "patches_clean": n_clean,
        "patches_in_noise": scored.n_positives - n_clean,
        "enroll_snrs_db": list(ENROLL_SNRS_DB),
        "self_similarity": similarity,
        "scorer": options.scorer,
        "threshold": round(cal.threshold, 4),
        "fa_per_hour_target": options.fa_per_hour,
        "fa_per_hour_on_background": cal.report["fa_per_hour_on_background"],
        **{k: v for k, v in cal.report.items() if k != "fa_per_hour_on_background"},
        "recall_in_noise_at_threshold": round(float(np.mean(cal.positive_conf >= cal.threshold)), 4),
        **unseen,
        "background": background.source,
        "background_hours": round(background.hours, 3),
        "window_seconds": round(window_samples(spec) / spec.sample_rate, 3),
        "seed": options.seed,
    }
    if binary:
        summary |= {"self_similarity_basis": basis, "negative_clips": len(negative_clips), **scored.extra}
    data = SignatureData(
        name=name,
        scorer=options.scorer,
        model_sha256=scored.model_sha256,
        feature_spec=spec.to_dict(),
        params=scored.params,
        threshold=cal.threshold,
        calibration=cal.calibration,
        enrollment=summary,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    out.mkdir(parents=True, exist_ok=True)
    write_signature(out / f"{name}.sig", data)
    log.info(
        "enrolled",
        name=name,
        path=str(out / f"{name}.sig"),
        **{k: v for k, v in summary.items() if k not in ("clip_sha256", "head")},
    )
    return summary


def _self_similarity(
    per_clip: list[np.ndarray] | None, per_clip_patches: list[np.ndarray]
) -> tuple[float, str]:
    """Mean cosine similarity between the shots: of their mean embeddings, or (no embedding model) of
    their mean spectra with each one's own mean level removed. 1.0 for a single shot."""
    if per_clip is not None:
        means, basis = np.stack([c.mean(axis=0) for c in per_clip]), "embedding"
    else:
        spectra = np.stack([p.mean(axis=(0, 1)) for p in per_clip_patches]).astype(np.float64)
        means, basis = spectra - spectra.mean(axis=1, keepdims=True), "spectrum"
    if len(means) < 2:
        return 1.0, basis
    unit = _unit(means)
    similarity = unit @ unit.T
    return round(float(similarity[np.triu_indices(len(means), 1)].mean()), 4), basis
