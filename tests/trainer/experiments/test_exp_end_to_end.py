"""A tiny end-to-end pipeline run (any formats, a corrupt file), its export, and the bad-input refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("tensorflow")

from detector.models import load_model  # noqa: E402
from detector.models.sidecar import ModelError  # noqa: E402
from trainer.errors import DataError, ExportError  # noqa: E402
from trainer.experiments import pipeline  # noqa: E402
from trainer.experiments.deploy import score_events  # noqa: E402

TINY = pipeline.PipelineConfig(
    augment=0,
    epochs=2,
    patience=0,
    filters=(4, 8),
    max_segments_per_clip=1,
    val_fraction=0.25,
    test_fraction=0.25,
)


def _sound(kind: str, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    if kind == "tone":
        return 0.3 * np.sin(2 * np.pi * rng.uniform(400, 600) * t)
    if kind == "chirp":
        return 0.3 * np.sin(2 * np.pi * (300 + 1500 * t / seconds) * t)
    return 0.1 * rng.standard_normal(len(t))


def make_folder(root: Path, files_per_class: int = 4, corrupt: bool = True) -> Path:
    """3 classes in three formats: FLAC 44.1 kHz stereo 24-bit, OGG 22.05 kHz, WAV float 8 kHz."""
    rng = np.random.default_rng(0)
    for kind in ("tone", "noise", "chirp"):
        (root / kind).mkdir(parents=True)
        for i in range(files_per_class):
            fmt = i % 3
            if fmt == 0:
                x = _sound(kind, 1.2, 44100, rng)
                sf.write(root / kind / f"src{i}_a.flac", np.stack([x, x], 1), 44100, subtype="PCM_24")
            elif fmt == 1:
                sf.write(root / kind / f"src{i}_a.ogg", _sound(kind, 1.0, 22050, rng), 22050, format="OGG")
            else:
                sf.write(root / kind / f"src{i}_a.wav", _sound(kind, 0.8, 8000, rng), 8000, subtype="FLOAT")
    if corrupt:
        (root / "noise" / "broken_a.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(40))
    return root


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("tiny")
    data = make_folder(tmp / "data")
    results = pipeline.run(
        TINY, cache_dir=tmp / "cache", data_dir=data, export_path=tmp / "tiny.tflite", name="tiny"
    )
    return {"results": results, "model": tmp / "tiny.tflite"}


def test_tiny_pipeline_runs_end_to_end(tiny_run: dict) -> None:
    r = tiny_run["results"]
    assert r["data"]["classes"] == ["chirp", "noise", "tone"]
    assert r["data"]["conversion"]["converted"] == 12
    # the corrupt file is skipped, counted and named, not fatal
    assert r["skipped_count"] == 1
    assert (
        r["skipped"][0]["path"].endswith("broken_a.wav") and "cannot read audio" in r["skipped"][0]["reason"]
    )
    assert np.asarray(r["test"]["confusion"]).shape == (3, 3)
    assert np.asarray(r["test"]["confusion"]).sum() == r["data"]["split_segments"]["test"] == 3
    assert 0.0 <= r["test"]["accuracy"] <= 1.0
    assert len(r["curves"]["train"]) == r["model"]["epochs_run"] + 1  # epoch 0 = before training
    assert set(r["test_signals"]) == {"chirp", "noise", "tone"}


def test_exported_classifier_has_labels_and_runs(tiny_run: dict) -> None:
    model = load_model(tiny_run["model"])
    assert model.kind == "classifier" and list(model.labels) == ["chirp", "noise", "tone"]
    out = model.run(np.full((2, model.spec.patch_frames, model.spec.n_bands), -5.0, np.float32))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_labels_out_of_step_with_outputs_are_refused(tiny_run: dict, tmp_path: Path) -> None:
    import shutil

    from trainer.export import export_tflite
    from trainer.models.architectures import basic_cnn

    spec = pipeline.SPEC
    model = basic_cnn((spec.patch_frames, spec.n_bands), role="classifier", n_classes=3, filters=(2,))
    with pytest.raises(ExportError, match=r"labels: got 2 \(a, b\); expected 3, one per output"):
        export_tflite(model, tmp_path / "bad.tflite", kind="classifier", spec=spec, labels=["a", "b"])
    # a sidecar edited by hand to a label list that no longer matches the model's outputs
    copy = tmp_path / "edited.tflite"
    shutil.copy(tiny_run["model"], copy)
    sidecar = json.loads(tiny_run["model"].with_suffix(".json").read_text())
    sidecar["labels"] = ["chirp", "noise"]
    copy.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(
        ModelError, match=r"labels: got \['chirp', 'noise'\]; expected 3 labels, one per model output"
    ):
        load_model(copy)


def test_class_without_test_clips_is_refused(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", corrupt=False)
    for path in sorted((data / "chirp").iterdir())[1:]:
        path.unlink()  # one chirp recording left: it can only go to training
    with pytest.raises(DataError, match="class\\(es\\) with no test clips: chirp"):
        pipeline.run(TINY, cache_dir=tmp_path / "cache", data_dir=data, name="tiny")


def test_score_events_counts_overlaps() -> None:
    truth = [{"label": "a", "start": 1.0, "end": 3.0}, {"label": "b", "start": 5.0, "end": 7.0}]
    events = [
        {"target": "a", "state": "start", "start": 1.2, "end": None},
        {"target": "a", "state": "end", "start": 1.2, "end": 2.5},
        {"target": "a", "state": "end", "start": 5.5, "end": 6.0},  # wrong label
    ]
    check = score_events(events, truth)
    assert (check["events"], check["correct"], check["detected"], check["segments"]) == (2, 1, 1, 2)


@pytest.mark.slow
def test_daemon_runs_the_exported_classifier(tiny_run: dict, tmp_path: Path) -> None:
    from trainer.experiments.deploy import deploy

    out = deploy(tiny_run["model"], tiny_run["results"]["test_signals"], tmp_path, listen=["tone", "chirp"])
    assert out["exit_code"] == 0 and out["peak_rss_mb"] > 10
    assert out["scene_seconds"] > 10
