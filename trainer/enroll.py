"""Enroll a target sound from a few clips: embed, augment in noise, fit a scorer, calibrate on background.

The shots are embedded with the daemon's own front end and model runner, keeping the patches where the
sound is. They are also rendered into background beds at several SNRs and shifted inside the patch, so
the signature knows the target in noise. The scorer's raw output is calibrated against background
audio (the ``--background`` files, else a built-in hour of generic beds), and the threshold is the
lowest one that keeps false alarms on that background within ``--fa-per-hour``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from detector.features import FeatureSpec
from detector.models import Model, load_model
from detector.signatures import SignatureData, validate_name, write_signature
from trainer.data.backgrounds import make_background
from trainer.data.clips import load_audio
from trainer.data.debian import default_cache_dir
from trainer.data.patches import active_patches, prepare
from trainer.errors import DataError, TrainerError
from trainer.recipes.scenes import Rendering, render_patch, window_samples

log = structlog.get_logger(__name__)

SCORERS = ("prototype", "ocsvm", "gmm", "iforest")
SILENT_PEAK_DBFS = -60.0  # a clip whose loudest sample is below this is refused as silent
MIN_SOUND_SECONDS = 0.05  # shortest clip accepted (shorter than a patch is padded, shorter than this refused)
GENERIC_BACKGROUND_KINDS = ("rain", "wind", "traffic", "crowd", "machinery", "music", "pink", "brown")
GENERIC_BACKGROUND_SEGMENT_SECONDS = 120.0
GENERIC_BACKGROUND_HOURS = 1.0
MIN_THRESHOLD = 0.5  # calibrated score: never below "as likely target as background"
PAPER_OCSVM = {"nu": 0.08, "gamma": 0.001}  # the low-feature paper's OC-SVM
PAPER_IFOREST = {"n_estimators": 70, "contamination": 0.08}
PAPER_GMM_COMPONENTS = 18  # spherical, capped at the number of samples
ENROLL_SNRS_DB = (20.0, 12.0, 6.0, 0.0)  # the shots are rendered in background at each of these


@dataclass(frozen=True)
class EnrollOptions:
    """How a signature is made (defaults as the paper gives them where it gives them)."""

    scorer: str = "prototype"
    fa_per_hour: float = 1.0
    renditions_per_snr: int = 4  # noisy renditions of each shot at each SNR
    seed: int = 0


@dataclass(frozen=True)
class Background:
    """Embeddings of background windows, in time order per segment, and how many hours they span."""

    embeddings: np.ndarray  # (n, d)
    segment_ids: np.ndarray  # (n,) consecutive windows of one segment share an id
    hours: float
    source: str


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


def window_embeddings(model: Model, samples: np.ndarray) -> np.ndarray:
    """Embeddings of every patch of a long recording, one per patch hop (the daemon's windows)."""
    from detector.features import extract

    spec = model.spec
    features = extract(spec, prepare(samples, spec))
    starts = np.arange(0, len(features) - spec.patch_frames + 1, spec.patch_hop_frames)
    out = []
    for chunk in np.array_split(starts, max(1, len(starts) // 512)):
        if len(chunk):
            out.append(model.run(np.stack([features[s : s + spec.patch_frames] for s in chunk])))
    return np.concatenate(out) if out else np.zeros((0, model.output_dim), np.float32)


def background_embeddings(model: Model, files: Sequence[str | Path] = ()) -> Background:
    """Background windows: the given files, else the built-in generic hour (cached per model)."""
    spec = model.spec
    if files:
        parts, ids, seconds = [], [], 0.0
        for i, path in enumerate(files):
            x = load_audio(path, spec.sample_rate)
            seconds += len(x) / spec.sample_rate
            emb = window_embeddings(model, x)
            parts.append(emb)
            ids.append(np.full(len(emb), i))
        if not parts or sum(len(p) for p in parts) == 0:
            raise DataError("the --background files hold no complete patch; expected longer recordings")
        return Background(np.concatenate(parts), np.concatenate(ids), seconds / 3600, f"{len(files)} file(s)")
    cache = default_cache_dir() / "enroll" / f"generic-background-{model.sha256[:16]}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return Background(z["embeddings"], z["segment_ids"], float(z["hours"]), "built-in generic beds")
    log.info("embedding the built-in background (once per model)", hours=GENERIC_BACKGROUND_HOURS)
    rng = np.random.default_rng(12345)
    n_segments = round(GENERIC_BACKGROUND_HOURS * 3600 / GENERIC_BACKGROUND_SEGMENT_SECONDS)
    parts, ids = [], []
    for i in range(n_segments):
        kind = GENERIC_BACKGROUND_KINDS[i % len(GENERIC_BACKGROUND_KINDS)]
        bed = make_background(kind, GENERIC_BACKGROUND_SEGMENT_SECONDS, spec.sample_rate, rng)
        bed = bed * np.float32(10 ** (rng.uniform(-12, 6) / 20))
        emb = window_embeddings(model, np.clip(bed, -1, 1))
        parts.append(emb)
        ids.append(np.full(len(emb), i))
    background = Background(
        np.concatenate(parts), np.concatenate(ids), GENERIC_BACKGROUND_HOURS, "built-in generic beds"
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache, embeddings=background.embeddings, segment_ids=background.segment_ids, hours=background.hours
    )
    return background


def events_per_hour(scores: np.ndarray, segment_ids: np.ndarray, threshold: float, hours: float) -> float:
    """False alarms per hour: runs of consecutive windows at or above ``threshold`` in the background."""
    above = scores >= threshold
    starts = above & ~np.r_[False, above[:-1] & (segment_ids[1:] == segment_ids[:-1])]
    return float(np.count_nonzero(starts)) / hours


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


def enroll(
    name: str,
    clip_paths: Sequence[str | Path],
    model_path: str | Path,
    out_dir: str | Path,
    options: EnrollOptions = EnrollOptions(),
    background_files: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Make ``<out_dir>/<name>.sig``; return the enrollment summary it records."""
    from sklearn.isotonic import IsotonicRegression

    validate_name(name)
    if options.fa_per_hour <= 0:
        raise TrainerError(f"--fa-per-hour: got {options.fa_per_hour}; expected a rate > 0")
    model = load_model(model_path)
    if model.kind != "embedding":
        raise TrainerError(f"{model_path}: model kind {model.kind!r}; enrollment needs an 'embedding' model")
    spec = model.spec
    rng = np.random.default_rng(options.seed)
    clips = load_clips(clip_paths, spec)
    background = background_embeddings(model, background_files)
    if background.hours * options.fa_per_hour < 1.0:
        raise DataError(
            f"--fa-per-hour {options.fa_per_hour:g} needs at least {1 / options.fa_per_hour:.2f} h "
            f"of background to measure; the {background.source} span {background.hours:.2f} h. "
            "Give more --background audio or a higher --fa-per-hour"
        )

    # the shots where the sound is, and their renditions in noise (beds held apart from calibration)
    beds = [make_background(k, 20.0, spec.sample_rate, rng) for k in GENERIC_BACKGROUND_KINDS]
    per_clip, n_clean = [], 0
    for x in clips:
        clean = active_patches(x, spec)
        n_clean += len(clean)
        noisy = [
            render_patch(
                x, beds, spec, rng, Rendering(snr_db=(snr, snr), clean_fraction=0.0, pitch_probability=0.0)
            )
            for snr in ENROLL_SNRS_DB
            for _ in range(options.renditions_per_snr)
        ]
        per_clip.append(model.run(np.concatenate([clean, np.stack(noisy)])))
    positives = np.concatenate(per_clip).astype(np.float64)  # float64 fits score as the daemon does (1e-6)
    params, raw = _fit_scorer(options.scorer, positives, per_clip, options.seed)

    # calibration: balanced isotonic map raw -> P(target); threshold from the false-alarm budget
    pos_raw, bg_raw = raw(positives), raw(background.embeddings)
    x = np.concatenate([pos_raw, bg_raw])
    y = np.concatenate([np.ones(len(pos_raw)), np.zeros(len(bg_raw))])
    weight = np.where(y == 1, len(bg_raw) / len(pos_raw), 1.0)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y, sample_weight=weight)
    calibration = {
        "kind": "isotonic",
        "x": iso.X_thresholds_.astype(np.float64),
        "y": iso.y_thresholds_.astype(np.float64),
    }
    bg_conf, pos_conf = iso.predict(bg_raw), iso.predict(pos_raw)
    candidates = np.unique(np.concatenate([bg_conf, pos_conf, [MIN_THRESHOLD, 1.0]]))
    candidates = candidates[candidates >= MIN_THRESHOLD]
    threshold = next(
        (
            float(t)
            for t in candidates
            if events_per_hour(bg_conf, background.segment_ids, t, background.hours) <= options.fa_per_hour
        ),
        1.0,
    )
    unit_means = _unit(np.stack([c.mean(axis=0) for c in per_clip]))
    similarity = unit_means @ unit_means.T
    summary = {
        "model": model.name,
        "clips": len(clips),
        "clip_seconds": [round(len(c) / spec.sample_rate, 3) for c in clips],
        "clip_sha256": [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in clip_paths],
        "patches_clean": n_clean,
        "patches_in_noise": len(positives) - n_clean,
        "enroll_snrs_db": list(ENROLL_SNRS_DB),
        "self_similarity": round(float(similarity[np.triu_indices(len(clips), 1)].mean()), 4)
        if len(clips) > 1
        else 1.0,
        "scorer": options.scorer,
        "threshold": round(threshold, 4),
        "fa_per_hour_target": options.fa_per_hour,
        "fa_per_hour_on_background": round(
            events_per_hour(bg_conf, background.segment_ids, threshold, background.hours), 3
        ),
        "recall_in_noise_at_threshold": round(float(np.mean(pos_conf >= threshold)), 4),
        "background": background.source,
        "background_hours": round(background.hours, 3),
        "window_seconds": round(window_samples(spec) / spec.sample_rate, 3),
        "seed": options.seed,
    }
    data = SignatureData(
        name=name,
        scorer=options.scorer,
        model_sha256=model.sha256,
        feature_spec=spec.to_dict(),
        params=params,
        threshold=threshold,
        calibration=calibration,
        enrollment=summary,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_signature(out / f"{name}.sig", data)
    log.info(
        "enrolled",
        name=name,
        path=str(out / f"{name}.sig"),
        **{k: v for k, v in summary.items() if k != "clip_sha256"},
    )
    return summary
