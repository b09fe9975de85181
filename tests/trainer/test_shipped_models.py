"""The shipped models: they load, match their sidecars, and separate held-out classes as measured at build.

Each separation figure is recomputed here on a smaller version of the build's held-out set, through the
recipe's own code, from the model file the daemon loads (not read from the build report).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from detector.features import FeatureSpec
from detector.models import load_model
from detector.models.sidecar import load_sidecar, sha256_file
from trainer.embedding_eval import separation

MODELS = Path(__file__).resolve().parents[2] / "models"
MAX_MODEL_BYTES = 2 * 1024 * 1024


def recipe_from_sidecar(recipe_cls, recorded: dict):
    fields = {f.name: f for f in dataclasses.fields(recipe_cls)}
    values = {}
    for key, value in recorded.items():
        if key not in fields:
            continue
        default = getattr(recipe_cls(), key)
        if dataclasses.is_dataclass(default):
            value = type(default)(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
        elif isinstance(default, tuple):
            value = tuple(value)
        values[key] = value
    return recipe_cls(**values)


@pytest.mark.parametrize("name", ["general", "lowband"])
def test_shipped_model_loads_and_matches_its_sidecar(name: str) -> None:
    path = MODELS / f"{name}.tflite"
    info = load_sidecar(MODELS / f"{name}.json")
    assert info.sha256 == sha256_file(path)
    assert path.stat().st_size <= MAX_MODEL_BYTES
    model = load_model(path)
    assert model.kind == "embedding"
    assert model.spec == FeatureSpec.profile(name)
    patches = np.random.default_rng(0).normal(-5, 1, (3, model.spec.patch_frames, model.spec.n_bands))
    out = model.run(patches.astype(np.float32))
    assert out.shape == (3, info.embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-3)


def test_lowband_model_separates_held_out_signatures() -> None:
    from trainer.recipes.lowband import LowbandRecipe, held_out_windows

    info = load_sidecar(MODELS / "lowband.json")
    recipe = recipe_from_sidecar(LowbandRecipe, info.training["recipe"])
    held = info.training["data"]["held_out_signatures"]
    windows, noise = held_out_windows(recipe, FeatureSpec.profile("lowband"), held, renditions=5)
    report = separation(load_model(MODELS / "lowband.tflite").run, windows, noise)
    assert report.classes == len(held)
    assert report.target_vs_background_auc >= 0.95, report
    assert report.same_vs_different_auc >= 0.95, report


def test_general_model_separates_held_out_classes_in_noise() -> None:
    from trainer.recipes.general import GeneralRecipe, background_beds, held_out_windows, recorded_classes

    info = load_sidecar(MODELS / "general.json")
    recipe = recipe_from_sidecar(GeneralRecipe, info.training["recipe"])
    spec = FeatureSpec.profile("general")
    held = info.training["data"]["held_out_classes"]
    by_class = recorded_classes(spec)
    chosen = [name for name in held if name in by_class][:24]
    assert len(chosen) >= 10, "the held-out classes are missing from the fetched data"
    _, eval_beds = background_beds(recipe, spec)
    windows, background = held_out_windows(
        recipe, spec, {n: by_class[n] for n in chosen}, eval_beds, renditions=2, background_per_kind=15
    )
    report = separation(load_model(MODELS / "general.tflite").run, windows, background)
    assert report.target_vs_background_auc >= 0.95, report
    assert report.same_vs_different_auc >= 0.95, report
