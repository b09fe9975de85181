"""Run the classifier experiments (results cached: a rerun resumes) and write the markdown report + PNGs."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from trainer.errors import DataError
from trainer.experiments import common, plots

log = structlog.get_logger(__name__)

EXPERIMENTS = ("tagging", "digits", "pipeline")
REPORT_NAME = "classifiers.md"


def _config(name: str, quick: bool) -> Any:
    from trainer.experiments import digits, pipeline, tagging

    cls = {
        "tagging": tagging.TaggingConfig,
        "digits": digits.DigitsConfig,
        "pipeline": pipeline.PipelineConfig,
    }[name]
    return cls.quick() if quick else cls()


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    cache_dir: str | Path | None = None,
    export_dir: str | Path | None = None,
    deploy: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """One experiment's results: from the results cache when this configuration ran before, else run it.

    The pipeline experiment exports its classifier (``<export_dir>/pipeline7.tflite`` + ``.json``, or a
    cache directory) and, with ``deploy``, runs it through the daemon on a scene of its test sounds.
    """
    from trainer.experiments import digits, pipeline, tagging

    if name not in EXPERIMENTS:
        raise DataError(f"experiment: got {name!r}; expected some of {', '.join(EXPERIMENTS)}")
    config = _config(name, quick)
    key = common.key_of({"name": name, "config": dataclasses.asdict(config), "export": str(export_dir)})
    cached = common.experiments_cache(cache_dir) / "results" / f"{name}-{'quick-' if quick else ''}{key}.json"
    if cached.exists() and not force:
        log.info("results from cache", experiment=name, path=str(cached))
        results = json.loads(cached.read_text())
    else:
        started = time.monotonic()
        if name == "tagging":
            results = tagging.run(config, cache_dir)
        elif name == "digits":
            results = digits.run(config, cache_dir, export_dir=export_dir)
        else:
            model_name = "pipeline7" if not quick else "pipeline7_quick"
            target = (
                Path(export_dir) if export_dir is not None else common.experiments_cache(cache_dir) / "models"
            )
            results = pipeline.run(
                config, cache_dir, export_path=target / f"{model_name}.tflite", name="pipeline7"
            )
        results["quick"] = quick
        results["command_seconds"] = round(time.monotonic() - started, 1)
        _write_json(cached, results)
    if name == "pipeline" and deploy and "exported" in results:
        results["deploy"] = _deploy(results, cached.with_suffix(".deploy"), force)
    return results


def _deploy(results: dict[str, Any], work: Path, force: bool) -> dict[str, Any]:
    """The daemon run of the exported pipeline model (cached beside the results, per model sha256)."""
    from trainer.errors import TrainerError
    from trainer.experiments.deploy import deploy

    done = work / f"deploy-{results['exported']['sha256'][:12]}.json"
    if done.exists() and not force:
        return json.loads(done.read_text())
    listen = [c for c in results["data"]["classes"] if c != "silence"]
    try:
        general = Path(__file__).resolve().parents[2] / "models" / "general.tflite"
        outcome = deploy(
            results["exported"]["path"], results["test_signals"], work, listen=listen, baseline_model=general
        )
    except TrainerError as exc:
        log.error("deploy failed", error=str(exc))
        return {"error": str(exc)}
    _write_json(done, outcome)
    return outcome


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json) + "\n")
    tmp.replace(path)


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------------------------- figures
def write_figures(results: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """The PNGs of one experiment's results into ``out_dir``; returns figure name -> file name."""
    out = Path(out_dir)
    kind = results["experiment"]
    figures: dict[str, str] = {}
    if kind == "digits":
        classes = results["data"]["classes"]
        curves = {name.upper(): entry["curves"] for name, entry in results["models"].items()}
        figures["curves"] = plots.curves_png(
            curves, out / "digits-curves.png", "Spoken digits: accuracy vs epoch"
        ).name
        for name, entry in results["models"].items():
            figures[f"confusion_{name}"] = plots.confusion_png(
                np.asarray(entry["confusion"]),
                classes,
                out / f"digits-confusion-{name}.png",
                f"Spoken digits, {name.upper()}: test voices (acc {entry['test_accuracy']:.3f})",
            ).name
    elif kind == "pipeline7":
        classes = results["data"]["classes"]
        acc = results["test"]["accuracy"]
        figures["confusion"] = plots.confusion_png(
            np.asarray(results["test"]["confusion"]),
            classes,
            out / "pipeline7-confusion.png",
            f"7-class pipeline: separate test set (acc {acc:.3f})",
        ).name
        figures["curves"] = plots.curves_png(
            {"CNN": results["curves"]}, out / "pipeline7-curves.png", "7-class pipeline: accuracy vs epoch"
        ).name
    elif kind == "tagging":
        figures["f1"] = _f1_png(results, out / "tagging-f1.png").name
    return figures


def _f1_png(results: dict[str, Any], path: Path) -> Path:
    """Sorted per-class F1 of each tagging model (one line per model)."""
    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, entry in results["models"].items():
        values = sorted((r["f1"] for r in entry["per_class"] if r["support"] > 0), reverse=True)
        ax.plot(values, label=f"{name} (LWLRAP {entry['lwlrap']:.3f})")
    ax.set_xlabel("classes, best to worst")
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Tagging, {results['data']['classes']} classes: per-class F1 on the test split")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------- markdown
def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def tables(all_results: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every table of the report as rows (ours beside the paper's figures); what ``--json`` prints."""
    out: dict[str, list[dict[str, Any]]] = {}
    if "tagging" in all_results:
        r = all_results["tagging"]
        own, vgg = r["paper"]["own_cnn"], r["paper"]["vgg19_transfer"]
        size = f"{r['data']['classes']} classes, {r['data']['clips']} clips"
        rows = [
            dict(model="paper: own CNN (80 classes, 4,970 clips)", lwlrap=own["lwlrap"], top5=own["top5"]),
            dict(
                model="paper: VGG19 transfer (last block retrained)", lwlrap=vgg["lwlrap"], top5=vgg["top5"]
            ),
        ]
        for name, e in r["models"].items():
            rows.append(
                dict(
                    model=f"ours: {name} ({size})",
                    lwlrap=e["lwlrap"],
                    top1=e["top1"],
                    top5=e["top5"],
                    macro_f1=e["macro_f1"],
                    params=e["params"],
                    trainable_params=e["trainable_params"],
                    epochs=e["epochs_run"],
                    best_epoch=e["best_epoch"],
                    train_seconds=e["train_seconds"],
                )
            )
        out["tagging"] = rows
    if "digits" in all_results:
        r = all_results["digits"]
        p = r["paper"]
        rows = [
            dict(
                model="paper: CNN (AudioMNIST, 80/20)",
                test_accuracy=p["cnn_test"],
                train_accuracy=p["cnn_train"],
            ),
            dict(model="paper: RNN", test_accuracy=p["rnn_test"]),
        ]
        for name, e in r["models"].items():
            rows.append(
                dict(
                    model=f"ours: {name.upper()} ({r['data']['voices']} synthetic voices, new test voices)",
                    test_accuracy=e["test_accuracy"],
                    train_accuracy=e["train_accuracy"],
                    macro_f1=e["macro_f1"],
                    params=e["params"],
                    epochs=e["epochs_run"],
                    train_seconds=e["train_seconds"],
                )
            )
        out["digits"] = rows
    if "pipeline" in all_results:
        r = all_results["pipeline"]
        t = r["test"]
        files = sum(r["data"]["files_per_class"].values())
        rows = [
            dict(model="paper: 7 classes, 870 clips (no accuracy figure given)", rss_mb="Pi app 150-200"),
            dict(
                model=f"ours: CNN, 7 classes, {files} files",
                test_accuracy=t["accuracy"],
                top2=t["top2"],
                test_accuracy_not_denoised=t["accuracy_not_denoised"],
                macro_f1=t["macro_f1"],
                params=r["model"]["params"],
                epochs=r["model"]["epochs_run"],
                rss_mb=r.get("deploy", {}).get("peak_rss_mb"),
            ),
        ]
        out["pipeline"] = rows
    return out


def _digits(column: str) -> int:
    return 1 if column.endswith("_mb") else 0 if column.endswith("_seconds") else 3


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_f(row.get(c), _digits(c)) for c in columns) + " |")
    return lines


def markdown(all_results: dict[str, dict[str, Any]], figures: dict[str, dict[str, str]], command: str) -> str:
    """The report: one section per experiment, tables beside the papers' figures, the PNGs, the caveats."""
    t = tables(all_results)
    lines = [
        "# Classifier experiments",
        "",
        f"Generated by `{command}`. Every figure below comes from that run (results are cached per "
        "configuration under `$SIGDETECT_CACHE/experiments/results`; `--force` reruns). Features are "
        "computed with `detector.features` — the daemon's own front end.",
        "",
    ]
    if "tagging" in all_results:
        r = all_results["tagging"]
        d = r["data"]
        lines += [
            "## 1. Log-mel tagging (mel-spectrogram-cnn paper)",
            "",
            f"{d['classes']} classes, {d['clips']} clips from the allowed Debian packages (split by "
            f"recording: {d['split_clips']['train']} train / {d['split_clips']['val']} val / "
            f"{d['split_clips']['test']} test clips, plus {int(r['config']['mix_fraction'] * 100)} % "
            f"two-sound mixtures with both labels: {d['multi_label_test_items']} multi-label test items); "
            f"2 s, 128 log-mel x 128 frames; sigmoid outputs, binary cross-entropy, Adam. "
            f"Wall time {r['wall_seconds']:.0f} s.",
            "",
            *_table(
                t["tagging"],
                [
                    "model",
                    "lwlrap",
                    "top1",
                    "top5",
                    "macro_f1",
                    "trainable_params",
                    "epochs",
                    "best_epoch",
                    "train_seconds",
                ],
            ),
            "",
            "`general_finetune` is the shipped `general` model rebuilt in Keras from the weights in "
            "`models/general.tflite` (the rebuilt network reproduces the .tflite embedding to 1e-6), its "
            "first three conv blocks frozen and the last block + `features` layer fine-tuned with a new "
            "sigmoid head — the paper's 'retrain the last VGG19 block'. `general_frozen` trains the head "
            "only (a head on the frozen embedding features). The epoch budgets differ: an epoch of the "
            "transfer models runs only the last block on cached conv-3 maps (seconds), one of the own CNN "
            "the whole network (over a minute on this shared 2-core machine), so the own CNN had 24 epochs "
            "and was still improving (best epoch near the end), the transfer models 60 with early stopping.",
            "",
        ]
        for name, e in r["models"].items():
            best = ", ".join(f"{x['class']} {x['f1']:.2f}" for x in e["best"])
            worst = ", ".join(f"{x['class']} {x['f1']:.2f}" for x in e["worst"])
            lines += [f"- **{name}** per-class F1 — best five: {best}; worst five: {worst}."]
        lines += ["", *[f"> {note}" for note in r.get("notes", [])], ""]
        if "f1" in figures.get("tagging", {}):
            lines += [f"![per-class F1]({figures['tagging']['f1']})", ""]
    if "digits" in all_results:
        r = all_results["digits"]
        d = r["data"]
        lines += [
            "## 2. Spoken digits, CNN vs RNN (cnn-rnn paper)",
            "",
            f"{d['clips']} clips of the digits 0-9 from {d['voices']} synthetic voices (espeak-ng voices and "
            f"variants, flite), split by voice: {d['split_voices']['train']} / {d['split_voices']['val']} / "
            f"{d['split_voices']['test']} voices ({d['split_clips']['train']} / {d['split_clips']['val']} / "
            f"{d['split_clips']['test']} clips) for train / validation / test — no test voice is heard in "
            f"training. 96 frames x 64 log-mel bands (~1 s). Wall time {r['wall_seconds']:.0f} s.",
            "",
            *_table(
                t["digits"], ["model", "test_accuracy", "train_accuracy", "macro_f1", "params", "epochs"]
            ),
            "",
            "**The data differ:** the paper used AudioMNIST (recorded human speakers, 3,000 clips, 6 "
            "speakers, an 80/20 split); ours are synthesised voices, cleaner and more alike than people, so "
            "these accuracies are not comparable one to one. The CNN is the LeNet-5 layout in the classifier "
            "role; the RNN one LSTM (64 units) over 40 ms steps (4 frames averaged). Voice-disjoint here "
            "means no voice/variant of the test split is trained on; most test voices still share "
            "the espeak-ng formant synthesiser and an accent with training voices (a variant changes "
            "pitch, formants and breathiness), so this is an easier test than new human speakers.",
            "",
        ]
        figs = figures.get("digits", {})
        lines += [f"![accuracy vs epoch]({figs.get('curves', '')})", ""]
        for name in r["models"]:
            if f"confusion_{name}" in figs:
                lines += [f"![confusion {name}]({figs[f'confusion_{name}']})", ""]
    if "pipeline" in all_results:
        r = all_results["pipeline"]
        d = r["data"]
        lines += [
            "## 3. General pipeline, 7 classes (general-purpose paper)",
            "",
            "Any input format -> 16 kHz mono PCM16 (`trainer.data.convert`) -> silence trimming -> "
            "spectral-gating noise reduction (`trainer.data.denoise`) -> 2 s segments -> augmentation "
            "(pitch/tempo, EQ, gain, shift, noise beds) -> 128 x 128 log-mel CNN; train / validation / a "
            "separate test set, split by recording.",
            "",
            "Files per class: "
            + ", ".join(f"{k} {v}" for k, v in d["files_per_class"].items())
            + f". Segments train / val / test: {d['split_segments']['train']} / "
            f"{d['split_segments']['val']} / {d['split_segments']['test']} (train includes augmented "
            f"copies). Files skipped (unreadable or silent): {r['skipped_count']}. "
            f"Wall time {r['wall_seconds']:.0f} s.",
            "",
            *_table(
                t["pipeline"],
                [
                    "model",
                    "test_accuracy",
                    "top2",
                    "test_accuracy_not_denoised",
                    "macro_f1",
                    "params",
                    "rss_mb",
                ],
            ),
            "",
        ]
        if r.get("skipped"):
            lines += [
                "Skipped files: "
                + "; ".join(f"`{Path(s['path']).name}` ({s['reason'][:80]})" for s in r["skipped"][:10]),
                "",
            ]
        dep = r.get("deploy")
        if dep and "error" in dep:
            lines += [f"**Deployment failed**: {dep['error']}", ""]
        elif dep:
            ev = dep["event_check"]
            lines += [
                f"**Deployment**: exported to `{Path(r['exported']['path']).name}` (kind `classifier`, "
                f"labels in the sidecar; sha256 {r['exported']['sha256'][:12]}, shipped as "
                f"`models/pipeline7.tflite`) and run by the daemon: `{_short(dep['command'])}` (paths "
                "shortened). "
                f"Scene: {dep['scene_seconds']} s "
                f"cut from test-set files only ({dep['truth_segments']} sounds between quiet gaps). Peak RSS "
                f"of the daemon process: **{dep['peak_rss_mb']} MB** ({dep['rss_source']}); the paper's Pi "
                f"app used 150-200 MB. {_baseline(dep)}Wall time {dep['wall_seconds']} s (real-time factor "
                f"{dep['real_time_factor']}). Events: {ev['events']} ({ev['correct']} overlap a sound of "
                f"their label: precision {_f(ev['precision'])}); sounds detected by their own label: "
                f"{ev['detected']} of {ev['segments']} (recall {_f(ev['recall'])}).",
                "",
            ]
        figs = figures.get("pipeline", {})
        lines += [
            f"![confusion]({figs.get('confusion', '')})",
            "",
            f"![accuracy vs epoch]({figs.get('curves', '')})",
            "",
        ]
    return "\n".join(lines) + "\n"


def _short(command: str) -> str:
    """A command line with every absolute path cut to its file name."""
    return " ".join(Path(part).name if part.startswith("/") else part for part in command.split())


def _baseline(dep: dict[str, Any]) -> str:
    base = dep.get("baseline")
    if not base:
        return ""
    return (
        f"The same daemon with the shipped `{base['model']}` embedding model and no signatures peaks at "
        f"{base['peak_rss_mb']} MB on the same scene: most of the footprint is the Python runtime, numpy, "
        "numba and the TFLite interpreter, not the classifier. "
    )


def evaluate(
    experiments: Sequence[str] = EXPERIMENTS,
    *,
    out_dir: str | Path = "docs/reports",
    quick: bool = False,
    cache_dir: str | Path | None = None,
    export_dir: str | Path | None = None,
    deploy: bool = True,
    force: bool = False,
    command: str = "trainer evaluate",
) -> tuple[dict[str, dict[str, Any]], Path]:
    """Run (or reuse) each experiment, write its PNGs and ``<out_dir>/classifiers.md``.

    Returns:
        ``(results by experiment, report path)``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_results: dict[str, dict[str, Any]] = {}
    figures: dict[str, dict[str, str]] = {}
    for name in experiments:
        all_results[name] = run_experiment(
            name, quick=quick, cache_dir=cache_dir, export_dir=export_dir, deploy=deploy, force=force
        )
        figures[name] = write_figures(all_results[name], out)
    path = out / REPORT_NAME
    path.write_text(markdown(all_results, figures, command))
    return all_results, path
