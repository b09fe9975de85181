"""The paper-tables benchmark in its tiniest configuration: JSON structure, metric ranges, above chance."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "paper_tables.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sigdetect_bench_paper_tables", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load()


def _unit(value: float) -> bool:
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


def test_protocol_presets_and_validation(bench: ModuleType) -> None:
    default = bench.Protocol.preset("default")
    assert default.binary_epochs == 20 and default.binary_batch == 20  # the paper's
    assert default.oc_epochs == 30 and default.oc_batch == 30
    assert default.siamese_epochs == 30
    assert bench.Protocol.preset("quick", seed=3).seed == 3
    with pytest.raises(ValueError):
        bench.Protocol.preset("huge")
    with pytest.raises(ValueError):
        bench.Protocol(renditions=4, fit_renditions=3, val_renditions=1)


def test_verification_pairs_are_balanced_and_skip_same_clip(bench: ModuleType) -> None:
    import numpy as np

    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    owners = np.array([10, 10, 11, 11, 20, 20, 21, 21])
    i, j, same = bench.verification_pairs(labels, owners, np.random.default_rng(0))
    assert same.sum() == (~same).sum() == 8  # 4 cross-clip same pairs per label
    assert np.all(owners[i[same]] != owners[j[same]])
    assert np.all((labels[i] == labels[j]) == same)
    threshold = bench.best_threshold(np.array([0.8, 0.9]), np.array([0.1, 0.2]))
    assert threshold == pytest.approx(0.5)


@pytest.mark.slow
def test_tiny_run_structure_and_better_than_chance(bench: ModuleType, tmp_path: Path) -> None:
    protocol = bench.Protocol.preset("tiny", seed=1)
    result = bench.run(protocol, tmp_path)
    json.dumps(bench._rounded(result))  # JSON-serialisable

    assert result["protocol"]["seed"] == 1
    assert set(result["tables"]) == {"table1", "table2", "table3"}
    assert set(result["timings"]) >= {"data", "table1", "table2", "table3", "total"}
    assert len(result["plots"]) == 3 and all(Path(p).stat().st_size > 1000 for p in result["plots"])
    held_out = set(result["data"]["test_signatures"]) | set(result["data"]["val_signatures"])
    assert not held_out & set(result["data"]["train_signatures"])

    t1 = result["tables"]["table1"]
    assert [r["arch"] for r in t1["rows"]] == ["spec_cnn", "lenet", "basic_cnn"]
    for row in t1["rows"]:
        assert all(_unit(row[k]) for k in ("accuracy", "auc", "plain_accuracy", "tpr", "tnr"))
        assert row["paper_accuracy"] is not None and len(row["per_target"]) == protocol.binary_targets

    t2 = result["tables"]["table2"]
    assert [r["arch"] for r in t2["rows"]] == ["oc_spec_cnn", "lenet", "basic_cnn"]
    for row in t2["rows"]:
        assert set(row["scorers"]) == set(bench.SCORERS)
        assert _unit(row["avg_auc"])
        for scorer in row["scorers"].values():
            assert _unit(scorer["accuracy"]) and _unit(scorer["auc"])
            assert len(scorer["per_target"]) == protocol.test_signatures

    t3 = result["tables"]["table3"]
    assert {(r["arch"], r["loss"]) for r in t3["rows"]} == {
        (a, loss) for a in ("si_spec_cnn", "lenet", "basic_cnn") for loss in ("contrastive", "triplet")
    }
    for row in t3["rows"]:
        assert _unit(row["accuracy"]) and _unit(row["auc"]) and row["threshold"] > 0

    # the easy tiny setting (high SNR): the proposed models beat chance
    spec_cnn = next(r for r in t1["rows"] if r["arch"] == "spec_cnn")
    assert spec_cnn["auc"] > 0.6
    oc = next(r for r in t2["rows"] if r["arch"] == "oc_spec_cnn")
    assert oc["scorers"]["ocsvm"]["auc"] > 0.6
    si = [r for r in t3["rows"] if r["arch"] == "si_spec_cnn"]
    assert max(r["auc"] for r in si) > 0.6

    goals = result["goals"]
    assert goals and all(isinstance(g["at_or_above_paper"], bool) for g in goals)
    assert "Table 1" in bench.render_text(result)
