"""Shared experiment plumbing: the 2 s log-mel spec, fixed-length clips, feature and clip-set caches,
training batches that measure train/test accuracy after every epoch (for learning curves)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detector.features import FeatureSpec, extract
from trainer.data.clips import Clip, ClipSet, _allocate, concat_clips
from trainer.data.debian import default_cache_dir
from trainer.data.patches import patch_samples
from trainer.errors import DataError

# the mel-spectrogram-cnn paper's input: 128 log-mel bands x 128 frames over ~2 s at 16 kHz
# (n_fft 1024 = 64 ms, hop 250 = 15.6 ms: 127 * 250 + 1024 = 32768 samples = 2.048 s)
TAGGING_SPEC = FeatureSpec.profile(
    "general",
    n_fft=1024,
    win_length=1024,
    hop_length=250,
    n_bands=128,
    fmin=50.0,
    fmax=8000.0,
    patch_frames=128,
    patch_hop_frames=32,  # the daemon scores a 2 s window every 0.5 s
)
CACHE_FORMAT = 1


def experiments_cache(cache_dir: str | Path | None = None) -> Path:
    """``<cache root>/experiments`` (``$SIGDETECT_CACHE`` or ``~/.cache/sigdetect`` by default)."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = root / "experiments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def key_of(params: Any) -> str:
    """A short stable hash of JSON-serialisable parameters (cache file names)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha1(f"{CACHE_FORMAT}:{text}".encode()).hexdigest()[:12]


def data_key(config: Any, fields: Sequence[str], **extra: Any) -> str:
    """Cache key of the features: only the config fields that change the data (not epochs, rates, ...)."""
    values = {name: getattr(config, name) for name in fields}
    return key_of({**values, **extra})


def fixed_length(x: np.ndarray, n: int, offset: int | None = None) -> np.ndarray:
    """``x`` cut or zero-padded to ``n`` samples.

    Args:
        x: samples.
        n: wanted length.
        offset: where a short clip starts in the output / where a long one is cut from; default: a
            short clip is centred, a long one keeps its start (trimmed clips begin with the sound).
    """
    x = np.asarray(x, dtype=np.float32)
    if len(x) >= n:
        start = 0 if offset is None else int(np.clip(offset, 0, len(x) - n))
        return np.ascontiguousarray(x[start : start + n])
    out = np.zeros(n, dtype=np.float32)
    start = (n - len(x)) // 2 if offset is None else int(np.clip(offset, 0, n - len(x)))
    out[start : start + len(x)] = x
    return out


def clip_features(signals: Sequence[np.ndarray], spec: FeatureSpec) -> np.ndarray:
    """One patch per signal, with the daemon's front end: each cut/padded to exactly one patch.

    Returns:
        float32 ``(n, spec.patch_frames, spec.n_bands)``.
    """
    n = patch_samples(spec)
    out = np.zeros((len(signals), spec.patch_frames, spec.n_bands), dtype=np.float32)
    for i, x in enumerate(signals):
        out[i] = extract(spec, fixed_length(x, n))[: spec.patch_frames]
    return out


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, **arrays)
    partial.replace(path)


def cached_arrays(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays from ``path`` (.npz) when it exists, else ``build()`` them and save them there atomically."""
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    arrays = build()
    _atomic_savez(path, **arrays)
    return arrays


def save_clipset(path: Path, clipset: ClipSet) -> None:
    """Write a ClipSet (one sample rate) to one .npz; :func:`load_clipset` reads it back."""
    samples, offsets = concat_clips(clipset.clips)
    rates = {clip.sample_rate for clip in clipset.clips}
    if len(rates) > 1:
        raise DataError(f"save_clipset: clips at several rates {sorted(rates)}; expected one")
    _atomic_savez(
        path,
        samples=samples,
        offsets=offsets,
        rate=np.array(rates.pop() if rates else 16000),
        labels=np.array([c.label for c in clipset.clips] or [""]),
        groups=np.array([c.group for c in clipset.clips] or [""]),
        sources=np.array([c.source for c in clipset.clips] or [""]),
        skipped=np.array([json.dumps(list(item)) for item in clipset.skipped] or [""]),
        meta=np.array(json.dumps(clipset.meta, default=str)),
    )


def load_clipset(path: Path) -> ClipSet:
    """Read a ClipSet written by :func:`save_clipset`."""
    with np.load(path, allow_pickle=False) as data:
        samples, offsets, rate = data["samples"], data["offsets"], int(data["rate"])
        labels, groups, sources = data["labels"], data["groups"], data["sources"]
        skipped = [tuple(json.loads(s)) for s in data["skipped"] if s]
        meta = json.loads(str(data["meta"]))
    clips = [
        Clip(samples[offsets[i] : offsets[i + 1]], rate, str(labels[i]), str(groups[i]), str(sources[i]))
        for i in range(len(offsets) - 1)
    ]
    return ClipSet(clips=clips, skipped=skipped, meta=meta)


def cached_clipset(path: Path, build: Callable[[], ClipSet]) -> ClipSet:
    """A ClipSet from ``path`` when it exists, else ``build()`` it and save it there."""
    if path.exists():
        try:
            return load_clipset(path)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    clipset = build()
    save_clipset(path, clipset)
    return clipset


def require_test_clips(classes: Sequence[str], test_labels: Sequence[str], what: str) -> None:
    """Refuse a split that leaves a class without test clips, naming the classes.

    Raises:
        DataError: one or more classes have no clip in the test split.
    """
    missing = sorted(set(classes) - set(test_labels))
    if missing:
        raise DataError(
            f"{what}: class(es) with no test clips: {', '.join(missing)}; add clips (or groups) to them, "
            "lower --min-clips, or drop them from the data set"
        )


def accuracy_of(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of ``predict(x)`` (scores ``(n, C)``) against integer labels ``y``."""
    if len(x) == 0:
        return float("nan")
    return float(np.mean(np.argmax(predict(x), axis=1) == np.asarray(y)))


def make_curve_batches(
    x: np.ndarray,
    y: np.ndarray,
    measure: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    batch_size: int = 32,
    seed: int = 0,
) -> Any:
    """Training batches (``trainer.train.ArrayBatches``) that also measure accuracy after every epoch.

    ``trainer.train.fit`` takes a ``keras.utils.PyDataset`` as training data; Keras calls its
    ``on_epoch_end`` once after each epoch's training steps. There the model (set as ``.model`` before
    ``fit``) predicts every set of ``measure`` (e.g. ``{"train": ..., "test": ...}``), in inference mode,
    and the accuracies are appended to ``.curves[name]`` — the accuracy-vs-epoch curves the cnn-rnn paper
    plots, without touching early stopping (which watches the validation split only).
    """
    from trainer.train import ArrayBatches

    class CurveBatches(ArrayBatches):
        def __init__(self) -> None:
            super().__init__(x, y, batch_size=batch_size, seed=seed, shuffle=True)
            self.model: Any = None
            self.curves: dict[str, list[float]] = {name: [] for name in measure}

        def on_epoch_end(self) -> None:
            if self.model is not None:
                for name, (mx, my) in measure.items():
                    predict = lambda v: self.model.predict(v, batch_size=256, verbose=0)  # noqa: E731
                    self.curves[name].append(accuracy_of(predict, mx, my))
            super().on_epoch_end()

    return CurveBatches()


def train_with_curves(
    model: Any,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    measure: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    loss: Any,
    epochs: int,
    patience: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> tuple[Any, dict[str, list[float]]]:
    """``trainer.train.fit`` (early stopping on the validation loss, best weights kept) plus curves.

    Returns:
        ``(TrainingSummary, curves)``; ``curves[name]`` has ``epochs_run + 1`` accuracies (index 0:
        before training) for every set of ``measure``.
    """
    from trainer.train import fit

    batches = make_curve_batches(train[0], train[1], measure, batch_size=batch_size, seed=seed)
    batches.model = model
    summary = fit(
        model,
        batches,
        val,
        loss=loss,
        epochs=epochs,
        patience=patience,
        seed=seed,
        learning_rate=learning_rate,
        progress="none",
    )
    return summary, batches.curves


def augmented_signals(
    clips: Sequence[Clip],
    copies: int,
    seed: int,
    backgrounds: Sequence[np.ndarray] = (),
    max_shift_seconds: float = 0.1,
) -> tuple[list[np.ndarray], list[int]]:
    """``copies`` random augmentations (``trainer.data.augment.Augmenter``) of each clip.

    ``max_shift_seconds`` bounds the circular time shift (a large one moves a short sound around its
    window, as the daemon's sliding windows see it).

    Returns:
        ``(signals, index of the clip each came from)``.
    """
    from trainer.data.augment import Augmenter

    if not clips or copies < 1:
        return [], []
    augmenter = Augmenter(
        clips[0].sample_rate,
        backgrounds=list(backgrounds),
        seed=seed,
        p_pitch_tempo=0.3,
        p_eq=0.4,
        p_gain=0.6,
        p_shift=0.5,
        max_shift_seconds=max_shift_seconds,
        p_background=0.6 if len(backgrounds) else 0.0,
        snr_db_range=(5.0, 30.0),
    )
    signals, owners = [], []
    for index, clip in enumerate(clips):
        for _ in range(copies):
            signals.append(augmenter(clip.samples))
            owners.append(index)
    return signals, owners


def grouped_split(
    clipset: ClipSet, val_fraction: float, test_fraction: float, seed: int, what: str
) -> list[list[Clip]]:
    """Per class: whole groups (recordings, voices) to train / val / test when the class has 3+ groups,
    else single clips — so pieces of one recording never straddle splits when that can be avoided.

    Returns:
        ``[train, val, test]`` clip lists.

    Raises:
        DataError: a class ends with no test clip (the message names it).
    """
    rng = np.random.default_rng(seed)
    parts: list[list[Clip]] = [[], [], []]
    for _, members in clipset.by_label().items():
        groups: dict[str, list[Clip]] = {}
        for clip in members:
            groups.setdefault(clip.group, []).append(clip)
        units = list(groups.values()) if len(groups) >= 3 else [[c] for c in members]
        order = rng.permutation(len(units))
        n_val, n_test = _allocate(len(units), val_fraction, test_fraction)
        for rank, index in enumerate(order):
            part = 2 if rank < n_test else 1 if rank < n_test + n_val else 0
            parts[part] += units[index]
    require_test_clips(clipset.classes, [c.label for c in parts[2]], what)
    return parts


def safe_group(text: str) -> str:
    """A group name for a file-name prefix: ``_`` and unsafe characters become ``-``."""
    from trainer.data.clips import safe_name

    return safe_name(text).replace("_", "-")
