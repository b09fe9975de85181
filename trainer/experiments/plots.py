"""PNG figures of the experiments: confusion matrices and accuracy-vs-epoch curves (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(
    matrix: np.ndarray, classes: Sequence[str], path: str | Path, title: str, normalise: bool = True
) -> Path:
    """A confusion-matrix heat map (rows: true class, columns: predicted), counts written in the cells."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    n = len(classes)
    size = min(16.0, max(4.5, 0.45 * n + 2))
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalise else matrix
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    ax.set_xticks(range(n), labels=list(classes), rotation=60, ha="right", fontsize=8 if n > 12 else 10)
    ax.set_yticks(range(n), labels=list(classes), fontsize=8 if n > 12 else 10)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    color = "white" if shown[i, j] > 0.5 else "black"
                    ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(
        image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class" if normalise else "clips"
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def curves_png(curves: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path, title: str) -> Path:
    """Accuracy vs epoch: one colour per model, solid = train, dashed = test (epoch 0 = before training)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (model, sets) in enumerate(curves.items()):
        for name, values in sets.items():
            style = "-" if name == "train" else "--" if name == "test" else ":"
            ax.plot(
                range(len(values)), values, style, color=colours[k % len(colours)], label=f"{model} {name}"
            )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
