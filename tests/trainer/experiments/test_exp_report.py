"""The report's tables and markdown from results dicts (no training), and the evaluate command's refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainer.experiments import report


def _results() -> dict:
    per_class = [
        {"class": f"c{i}", "precision": 0.5, "recall": 0.5, "f1": i / 10, "support": 1} for i in range(7)
    ]
    model = {
        "lwlrap": 0.7,
        "top1": 0.6,
        "top5": 0.9,
        "macro_f1": 0.5,
        "params": 10,
        "trainable_params": 5,
        "epochs_run": 3,
        "best_epoch": 2,
        "train_seconds": 1.0,
        "per_class": per_class,
        "best": per_class[-5:][::-1],
        "worst": per_class[:5],
    }
    tagging = {
        "experiment": "tagging",
        "config": {"mix_fraction": 0.2},
        "wall_seconds": 5.0,
        "notes": ["a caveat"],
        "data": {
            "classes": 7,
            "clips": 70,
            "split_clips": {"train": 50, "val": 10, "test": 10},
            "multi_label_test_items": 2,
        },
        "models": {"own_cnn": model, "general_finetune": dict(model, lwlrap=0.8)},
        "paper": {
            "own_cnn": {"lwlrap": 0.813, "top5": 0.889},
            "vgg19_transfer": {"lwlrap": 0.797, "top5": 0.885},
        },
    }
    digit = {
        "test_accuracy": 0.97,
        "train_accuracy": 0.99,
        "macro_f1": 0.97,
        "params": 10,
        "epochs_run": 4,
        "train_seconds": 1.0,
        "confusion": np.eye(10, dtype=int).tolist(),
        "curves": {"train": [0.1, 0.9], "test": [0.1, 0.8]},
    }
    digits = {
        "experiment": "digits",
        "wall_seconds": 3.0,
        "data": {
            "clips": 300,
            "voices": 10,
            "classes": [str(d) for d in range(10)],
            "split_voices": {"train": 6, "val": 2, "test": 2},
            "split_clips": {"train": 180, "val": 60, "test": 60},
        },
        "models": {"cnn": digit, "rnn": dict(digit, test_accuracy=0.7)},
        "paper": {"cnn_test": 0.884, "cnn_train": 0.986, "rnn_test": 0.69},
    }
    classes = ["a", "b"]
    pipeline = {
        "experiment": "pipeline7",
        "wall_seconds": 9.0,
        "skipped_count": 1,
        "skipped": [{"path": "/x/broken.wav", "reason": "cannot read audio"}],
        "data": {
            "classes": classes,
            "files_per_class": {"a": 3, "b": 3},
            "split_segments": {"train": 4, "val": 1, "test": 2},
        },
        "test": {
            "accuracy": 0.5,
            "top2": 1.0,
            "accuracy_not_denoised": 0.5,
            "macro_f1": 0.3,
            "confusion": [[1, 0], [1, 0]],
        },
        "model": {"params": 10, "epochs_run": 2},
        "curves": {"train": [0.5, 0.6], "test": [0.5, 0.5]},
        "exported": {"path": "/m/pipeline7.tflite", "sha256": "0" * 64},
        "deploy": {
            "peak_rss_mb": 210.5,
            "rss_source": "/usr/bin/time -v",
            "command": "detector run ...",
            "scene_seconds": 60.0,
            "truth_segments": 4,
            "wall_seconds": 3.0,
            "real_time_factor": 0.05,
            "event_check": {
                "events": 3,
                "correct": 2,
                "precision": 2 / 3,
                "segments": 4,
                "detected": 2,
                "recall": 0.5,
            },
        },
    }
    return {"tagging": tagging, "digits": digits, "pipeline": pipeline}


def test_tables_put_ours_beside_the_papers() -> None:
    t = report.tables(_results())
    assert t["tagging"][0]["lwlrap"] == 0.813 and t["tagging"][1]["top5"] == 0.885
    assert [row["lwlrap"] for row in t["tagging"][2:]] == [0.7, 0.8]
    assert t["digits"][0]["test_accuracy"] == 0.884 and t["digits"][2]["test_accuracy"] == 0.97
    assert t["pipeline"][1]["rss_mb"] == 210.5 and t["pipeline"][1]["test_accuracy"] == 0.5


def test_markdown_and_figures(tmp_path: Path) -> None:
    results = _results()
    figures = {name: report.write_figures(r, tmp_path) for name, r in results.items()}
    for files in figures.values():
        for name in files.values():
            assert (tmp_path / name).stat().st_size > 1000
    text = report.markdown(results, figures, "trainer evaluate --quick")
    assert "`trainer evaluate --quick`" in text
    assert "| paper: own CNN (80 classes, 4,970 clips) | 0.813 |" in text
    assert "**210.5 MB**" in text and "broken.wav" in text and "a caveat" in text
    assert "![confusion cnn](digits-confusion-cnn.png)" in text
    assert "best five: c6 0.60" in text


def test_evaluate_command_refuses_unknown_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.cli import main

    assert main(["evaluate", "nonsense"]) != 0
    assert "experiment(s) nonsense: expected some of tagging, digits, pipeline" in capsys.readouterr().err
