"""Log-mel sound tagging (the mel-spectrogram-cnn paper): own CNN vs the shipped `general` model, fine-tuned.

Data: every sound of the allowed Debian packages (``trainer.data.debian``), as many classes as have
enough clips: General MIDI instruments (one class per program, its notes/velocities/lengths as clips;
one per percussion key) rendered from ``fluid-soundfont-gm``, and the recorded families of the other
packages. Clips are trimmed of silence, cut or zero-padded to 2 s, and turned into 128 log-mel bands x
128 frames by the daemon's front end. A share of two-sound mixtures (both labels) makes the task
multi-label, as the paper's. Models, all with sigmoid outputs and binary cross-entropy (Adam):

- ``own_cnn``: conv + pooling blocks (``embedding_cnn`` layout, fresh weights) on 128 x 128 log-mel;
- ``general_finetune``: the shipped ``general`` network rebuilt from its .tflite weights
  (``trainer.experiments.transfer``), its first three conv blocks frozen (as the paper retrains VGG19's
  last block), the last block + a new sigmoid head trained, on its own 64-band log-mel over the same 2 s;
- ``general_frozen``: the same with every pretrained layer frozen (a head on the embedding features).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from detector.features import FeatureSpec
from trainer.data.clips import Clip, ClipSet
from trainer.errors import DataError
from trainer.experiments import common, metrics

log = structlog.get_logger(__name__)

OWN_SPEC = common.TAGGING_SPEC
GENERAL_SPEC = FeatureSpec.profile("general", patch_frames=200, patch_hop_frames=50)  # 2.02 s, 64 bands
GENERAL_MODEL = Path(__file__).resolve().parents[2] / "models" / "general.tflite"
PAPER = {
    "own_cnn": {"lwlrap": 0.813, "top5": 0.889},
    "vgg19_transfer": {"lwlrap": 0.797, "top5": 0.885},
    "classes": 80,
    "clips": 4970,
}
MODELS = ("own_cnn", "general_finetune", "general_frozen")
# speech prompts of one speaker, grouped by topic: not acoustic classes; they become one "speech" class
MERGE_PACKAGES = {"asterisk-core-sounds-en-wav": "asterisk-speech"}


@dataclasses.dataclass(frozen=True)
class TaggingConfig:
    """Every choice of the experiment (it goes into the results)."""

    seed: int = 0
    min_clips: int = 5  # a class needs train, validation and test clips
    max_clips_per_class: int = 40  # large families (speech prompts, music) are capped
    mix_fraction: float = 0.2  # two-sound mixtures added to each split, as a share of its clips
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    augment: int = 1  # augmented copies of each training clip
    epochs: int = 24
    patience: int = 4
    batch_size: int = 32
    learning_rate: float = 1e-3
    finetune_learning_rate: float = 3e-4
    transfer_epochs: int = 60  # the transfer models train only the top of the network: cheap epochs
    transfer_patience: int = 6
    own_filters: tuple[int, ...] = (12, 24, 48, 96)
    models: tuple[str, ...] = MODELS
    max_classes: int | None = None  # keep only the largest classes (quick runs)

    @classmethod
    def quick(cls) -> TaggingConfig:
        """A few-minute version: the 30 largest classes, 8 epochs, no augmentation."""
        return cls(max_classes=30, epochs=8, patience=0, augment=0, transfer_epochs=8, transfer_patience=0)


def tagging_label(clip: Clip) -> str:
    """The tag of a collected Debian clip: GM instrument (``gm-012``) or drum key, or the family label."""
    if clip.group in MERGE_PACKAGES:
        return MERGE_PACKAGES[clip.group]
    if clip.label.startswith("gm") and not clip.label.startswith("gmdrum"):
        return "gm-" + clip.label[2:5]  # gm000_c4 -> gm-000 (program 0, every note)
    return clip.label


def source_group(clip: Clip) -> str:
    """Clips from one recording (pieces ``path#8s``) share a group, so they never straddle splits."""
    return clip.source.split("#", 1)[0]


def tagging_clipset(config: TaggingConfig, cache_dir: str | Path | None = None) -> ClipSet:
    """The tagging data set: collected Debian sounds, relabelled, small classes dropped, large ones capped."""
    from trainer.data import debian

    path = common.experiments_cache(cache_dir) / "recorded" / "all-16k.npz"
    debian_cache = None if cache_dir is None else Path(cache_dir) / "debian"
    recorded = common.cached_clipset(path, lambda: debian.collect_clips(debian_cache, 16000))
    rng = np.random.default_rng(config.seed)
    by_label: dict[str, list[Clip]] = {}
    for clip in recorded:
        by_label.setdefault(tagging_label(clip), []).append(clip)
    clips: list[Clip] = []
    dropped = []
    for label in sorted(by_label):
        members = by_label[label]
        if len(members) < config.min_clips:
            dropped.append(label)
            continue
        if len(members) > config.max_clips_per_class:
            keep = np.sort(rng.choice(len(members), config.max_clips_per_class, replace=False))
            members = [members[i] for i in keep]
        clips += [Clip(c.samples, c.sample_rate, label, source_group(c), c.source) for c in members]
    out = ClipSet(clips=clips, skipped=list(recorded.skipped), meta={"dropped_small_classes": len(dropped)})
    if config.max_classes is not None:
        counts = out.counts()
        largest = set(sorted(counts, key=lambda k: (-counts[k], k))[: config.max_classes])
        out.clips = [c for c in out.clips if c.label in largest]
    if len(out.classes) < 2:
        raise DataError("tagging: fewer than 2 classes with enough clips; run `trainer fetch-sounds` first")
    return out


def with_mixtures(
    signals: list[np.ndarray], labels: list[list[int]], fraction: float, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[list[int]]]:
    """Add ``fraction * n`` mixtures of two clips of different classes (-5..5 dB apart), both labels."""
    from trainer.data.augment import mix_at_snr

    n = len(signals)
    out_s, out_l = list(signals), [list(lab) for lab in labels]
    for _ in range(int(round(fraction * n))):
        for _attempt in range(20):
            i, j = rng.choice(n, 2, replace=False)
            if not set(labels[i]) & set(labels[j]):
                break
        a = common.fixed_length(signals[i], common.patch_samples(OWN_SPEC))
        b = common.fixed_length(signals[j], len(a), offset=int(rng.integers(0, len(a) // 2)))
        out_s.append(mix_at_snr(a, b, float(rng.uniform(-5, 5)), rng))
        out_l.append(sorted(set(labels[i]) | set(labels[j])))
    return out_s, out_l


def multi_hot(labels: Sequence[Sequence[int]], n_classes: int) -> np.ndarray:
    """``(n, n_classes)`` float32 0/1."""
    out = np.zeros((len(labels), n_classes), dtype=np.float32)
    for row, lab in enumerate(labels):
        out[row, list(lab)] = 1.0
    return out


def _data(
    config: TaggingConfig, cache_dir: str | Path | None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    clipset = tagging_clipset(config, cache_dir)
    classes = clipset.classes
    index = {name: i for i, name in enumerate(classes)}
    train, val, test = common.grouped_split(
        clipset, config.val_fraction, config.test_fraction, config.seed, "tagging"
    )
    fields = (
        "seed",
        "min_clips",
        "max_clips_per_class",
        "mix_fraction",
        "val_fraction",
        "test_fraction",
        "augment",
    )
    key = common.data_key(config, fields, exp="tagging", n=len(clipset), c=classes)
    path = common.experiments_cache(cache_dir) / "tagging" / f"features-{key}.npz"

    def build() -> dict[str, np.ndarray]:
        from trainer.data.backgrounds import make_background
        from trainer.experiments.transfer import general_backbone

        rng = np.random.default_rng(config.seed)
        beds = [make_background(kind, 10.0, 16000, rng) for kind in ("pink", "brown", "rain", "wind")]
        aug, owners = common.augmented_signals(train, config.augment, config.seed, beds)
        sets = {
            "train": (
                [c.samples for c in train] + aug,
                [[index[c.label]] for c in train] + [[index[train[i].label]] for i in owners],
            ),
            "val": ([c.samples for c in val], [[index[c.label]] for c in val]),
            "test": ([c.samples for c in test], [[index[c.label]] for c in test]),
        }
        backbone = general_backbone(GENERAL_MODEL, GENERAL_SPEC.patch_frames)
        import keras

        to_pool3 = keras.Model(backbone.inputs, backbone.get_layer("pool3").output)
        arrays: dict[str, np.ndarray] = {}
        for name, (signals, labels) in sets.items():
            signals, labels = with_mixtures(signals, labels, config.mix_fraction, rng)
            arrays[f"x_{name}"] = common.clip_features(signals, OWN_SPEC)
            general = common.clip_features(signals, GENERAL_SPEC)
            arrays[f"g_{name}"] = to_pool3.predict(general, batch_size=128, verbose=0).astype(np.float16)
            arrays[f"y_{name}"] = multi_hot(labels, len(classes))
        return arrays

    arrays = common.cached_arrays(path, build)
    info = {
        "classes": len(classes),
        "class_names": classes,
        "clips": len(clipset),
        "split_clips": {"train": len(train), "val": len(val), "test": len(test)},
        "split_items_with_mixtures": {k: int(len(arrays[f"y_{k}"])) for k in ("train", "val", "test")},
        "multi_label_test_items": int(np.sum(arrays["y_test"].sum(axis=1) > 1)),
        "skipped_files": len(clipset.skipped),
        "dropped_small_classes": clipset.meta.get("dropped_small_classes", 0),
        "packages": sorted(
            {c.source.split("/debian/")[-1].split("/")[0] for c in clipset if "/debian/" in c.source}
        ),
    }
    info["features_key"] = key
    return arrays, info


def model_key(config: TaggingConfig, name: str, features_key: str) -> str:
    """Cache key of one model's results: its data and its own training settings."""
    own = name == "own_cnn"
    return common.key_of(
        {
            "features": features_key,
            "model": name,
            "epochs": config.epochs if own else config.transfer_epochs,
            "patience": config.patience if own else config.transfer_patience,
            "batch": config.batch_size,
            "lr": config.finetune_learning_rate if name == "general_finetune" else config.learning_rate,
            "filters": config.own_filters if own else None,
            "seed": config.seed,
        }
    )


def general_top(n_classes: int, pool3_shape: tuple[int, ...], trainable: bool) -> Any:
    """The shipped model's last conv block + ``features`` (pretrained) + a new sigmoid head, on pool3 maps."""
    import keras
    from keras import layers

    from trainer.experiments.transfer import general_weights

    w = general_weights(GENERAL_MODEL)
    kernel, bias = w["conv"][-1]
    inp = keras.Input(pool3_shape, name="pool3")
    conv = layers.Conv2D(
        kernel.shape[-1], (3, 3), padding="same", activation="relu", name="conv4", trainable=trainable
    )
    x = conv(inp)
    x = layers.Concatenate(name="global_pool")(
        [layers.GlobalAveragePooling2D(name="avg_pool")(x), layers.GlobalMaxPooling2D(name="max_pool")(x)]
    )
    dense = layers.Dense(w["features"][0].shape[1], activation="relu", name="features", trainable=trainable)
    x = layers.Dropout(0.3, name="head_dropout")(dense(x))
    out = layers.Dense(n_classes, activation="sigmoid", name="scores")(x)
    model = keras.Model(inp, out, name="general_finetune" if trainable else "general_frozen")
    conv.set_weights([kernel, bias])
    dense.set_weights(list(w["features"]))
    return model


def run(
    config: TaggingConfig = TaggingConfig(),
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Build the data (cached), train each model, and measure LWLRAP, top-1, top-5, per-class P/R/F1.

    Returns:
        JSON-serialisable results with the paper's figures beside them.
    """
    import keras

    from trainer.models.architectures import band_stats, embedding_cnn

    for name in config.models:
        if name not in MODELS:
            raise DataError(f"tagging: unknown model {name!r}; expected some of {', '.join(MODELS)}")
    started = time.monotonic()
    arrays, info = _data(config, cache_dir)
    n_classes = info["classes"]
    classes = info["class_names"]
    results: dict[str, Any] = {"experiment": "tagging", "config": dataclasses.asdict(config), "data": info}
    results["data"]["prepare_seconds"] = round(time.monotonic() - started, 1)
    results["models"] = {}
    for name in config.models:
        done = (
            common.experiments_cache(cache_dir)
            / "tagging"
            / f"model-{name}-{model_key(config, name, info['features_key'])}.json"
        )
        if done.exists():  # this model trained before on the same data with the same settings
            results["models"][name] = json.loads(done.read_text())
            continue
        t0 = time.monotonic()
        keras.utils.set_random_seed(config.seed)
        own = name == "own_cnn"
        if own:
            mean, std = band_stats(arrays["x_train"][:2000])
            model = embedding_cnn(
                (OWN_SPEC.patch_frames, OWN_SPEC.n_bands),
                role="binary",
                n_classes=n_classes,
                mean=mean,
                std=std,
                filters=config.own_filters,
                dropout=0.3,
                name="own_cnn",
            )
            x_key, lr = "x", config.learning_rate
        else:
            model = general_top(
                n_classes, tuple(arrays["g_train"].shape[1:]), trainable=name == "general_finetune"
            )
            x_key, lr = (
                "g",
                config.finetune_learning_rate if name == "general_finetune" else config.learning_rate,
            )
        x_train = arrays[f"{x_key}_train"].astype(np.float32)
        x_val = arrays[f"{x_key}_val"].astype(np.float32)
        x_test = arrays[f"{x_key}_test"].astype(np.float32)
        from trainer.train import fit

        summary = fit(
            model,
            (x_train, arrays["y_train"]),
            (x_val, arrays["y_val"]),
            loss=keras.losses.BinaryCrossentropy(),
            epochs=config.epochs if own else config.transfer_epochs,
            patience=config.patience if own else config.transfer_patience,
            batch_size=config.batch_size,
            learning_rate=lr,
            seed=config.seed,
            metrics=[],
            progress="none",
        )
        scores = model.predict(x_test, batch_size=256, verbose=0)
        entry = metrics.classification_summary(arrays["y_test"], scores, classes)
        single = arrays["y_test"].sum(axis=1) == 1
        entry["top1_single_label"] = metrics.top_k_accuracy(arrays["y_test"][single], scores[single], 1)
        entry.update(
            params=int(model.count_params()),
            trainable_params=int(sum(np.prod(v.shape) for v in model.trainable_weights)),
            epochs_run=summary.epochs_run,
            best_epoch=summary.best_epoch,
            train_seconds=round(time.monotonic() - t0, 1),
        )
        results["models"][name] = entry
        done.write_text(json.dumps(entry, default=float) + "\n")
        log.info(
            "tagging model done", model=name, lwlrap=round(entry["lwlrap"], 4), top5=round(entry["top5"], 4)
        )
    results["paper"] = PAPER
    results["notes"] = [
        "The shipped general model was trained (triplet loss) on these same Debian packages, held-out "
        "classes aside; its transfer scores are therefore optimistic next to a model that never heard them.",
        "General MIDI classes are one soundfont's samples: test clips are other notes/velocities/lengths of "
        "the same instrument, an easier test than the paper's real-world recordings.",
    ]
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    return results
