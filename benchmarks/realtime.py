"""The daemon end to end on one scene: real-time factor, MQTT latency, peak RSS, start-up, vs openWakeWord."""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # as a script (not when a test imports it): one thread, before numpy loads
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"

import numpy as np  # noqa: E402

USAGE = """\
usage: python benchmarks/realtime.py [--json OUT] [--quick] [--seconds S] [--rounds R] [--seed N]
                                     [--oww-venv DIR] [--keep DIR]

On one deterministic scene (noise and ambience beds with sound events; 300 s, --quick 40 s) it measures:
  fast      `detector run` on the WAV as fast as possible with 1, 10 and 100 signatures (mixed prototype,
            OC-SVM, GMM and isolation-forest scorers): the pipeline's real-time factor (its RunSummary),
            the process's peak RSS (VmHWM from its /proc/self/status at exit; not wait4's ru_maxrss,
            which on Linux starts a forked child at its parent's peak) and the time from spawning it to
            its first scored window;
  latency   `detector run --realtime` with 100 signatures (and 1, unless --quick) publishing to a private
            mosquitto on a free port, with a paho subscriber: per event message, the time from the last
            sample of the window that decided it entering the sample ring to (a) the event handed to the
            sinks (the pipeline's own latency), (b) the MQTT sink having spooled it, (c) its arrival at the
            subscriber; p50 / p95 / p99;
  oww       openWakeWord 0.6.0 (models from the 0.5.1 wheel) on the same WAV in 1280-sample (80 ms) frames
            with 1 and 100 wake-word models (the same model loaded 100 times under different names);
  costs     in this process, for context: the model on one patch, each scorer kind on one embedding, and
            Detector.push of one 0.1 s block (the realtime case) with 1 and 100 signatures.
Fast and oww runs are interleaved round by round (the machine may be shared); best and median are reported.

The detector runs are the real CLI (`detector.cli.main`) in a child process that only wraps a few methods
with monotonic timestamps (SampleRing.write, EventTracker.update, Pipeline._dispatch, MqttSink.publish,
Detector._score, Pipeline.run, Source.start); no detector code is changed.

The openWakeWord venv is created when missing (default ~/.cache/sigdetect/oww, or $SIGDETECT_OWW_VENV):
    python -m venv VENV && VENV/bin/pip install openwakeword==0.6.0 'numpy<2'
    VENV/bin/pip download --no-deps -d TMP openwakeword==0.5.1
    (and its resources/models/*.tflite unzipped into VENV/models-0.5.1)
(numpy<2: the tflite-runtime 2.14 wheels openWakeWord 0.6.0 uses are built against numpy 1.x.)
"""

THIS = Path(__file__).resolve()
REPO = THIS.parents[1]
MODEL = REPO / "models" / "general.tflite"
OWW_RUNNER = THIS.parent / "oww_runner.py"
OWW_VERSION = "0.6.0"
OWW_MODELS_VERSION = "0.5.1"  # the last wheel that carries the models
OWW_WAKEWORD = "hey_jarvis_v0.1"
OWW_MODEL_FILES = ("melspectrogram.tflite", "embedding_model.tflite", f"{OWW_WAKEWORD}.tflite")
DEFAULT_OWW_VENV = "~/.cache/sigdetect/oww"
CHILD_FLAG = "--child"
SAMPLE_RATE = 16000  # Hz: the general model's rate and openWakeWord's
FILE_BLOCK_FRAMES = 1600  # the file source's block: 0.1 s at 16 kHz (FileSource block_seconds default)
SIGNATURE_COUNTS = (1, 10, 100)
OWW_COUNTS = (1, 100)
TARGET_KINDS = ("two-tone", "beeps", "chirp", "whistle", "bell", "tone", "clicks", "noise-burst")
BED_KINDS = ("rain", "wind", "traffic", "machinery", "pink", "brown")
SCORER_CYCLE = ("prototype", "ocsvm", "gmm", "iforest")
SCENE_TARGETS = 10  # targets 0..9 occur in the scene; the others are enrolled but (mostly) absent
TARGET_0_WEIGHT = 5.0  # target 0 (the 1-signature runs' target) occurs 5x as often as each other one
TARGET_SHARE = 0.65  # share of scene events that are an enrolled target (the rest: other sounds)
SYSTEM_BROKER_PORT = 1883  # a broker may run there; never used
BROKER_START_SECONDS = 10.0
CHILD_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
GOAL_SPEEDUP_1 = 5.0  # x openWakeWord's throughput, one target
GOAL_SPEEDUP_100 = 3.0  # x openWakeWord's throughput, 100 targets
GOAL_P95_INSIDE_MS = 20.0  # window complete -> event handed to the sinks
GOAL_RSS_100_MB = 120.0  # peak RSS with 100 signatures, MiB


class BenchError(RuntimeError):
    """A run failed; the message says which and why."""


# ---------------------------------------------------------------------------------------------- pure helpers
def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, interpolating linearly between ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q: got {q}; expected 0..1")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def percentiles(values: Sequence[float], qs: Sequence[int] = (50, 95, 99)) -> dict[str, float | int | None]:
    """``{"n", "p50", "p95", "p99", "max"}`` of the values (``None`` where there are none)."""
    xs = sorted(float(v) for v in values)
    out: dict[str, float | int | None] = {"n": len(xs)}
    for q in qs:
        out[f"p{q}"] = quantile(xs, q / 100.0) if xs else None
    out["max"] = xs[-1] if xs else None
    return out


def window_last_sample(end_seconds: float, rate: int) -> int:
    """Stream index of a window's last sample from its end time (the detector's ``(start + span) / rate``)."""
    return round(end_seconds * rate) - 1


def entry_times(write_log: Sequence[Sequence[float]], samples: Sequence[int]) -> list[float | None]:
    """When each stream sample was in the ring: the time of the first write after which the ring's stream
    clock (``RingStats.offered``) had passed it; ``None`` if it never was.

    Args:
        write_log: ``(monotonic seconds, offered after the write)`` per ``SampleRing.write``, in order.
        samples: Stream sample indices.
    """
    offered = [int(o) for _, o in write_log]
    if any(b < a for a, b in zip(offered, offered[1:], strict=False)):
        raise ValueError("write_log: the stream clock goes backwards; expected writes in order")
    out: list[float | None] = []
    for s in samples:
        i = bisect.bisect_right(offered, int(s))
        out.append(float(write_log[i][0]) if i < len(offered) else None)
    return out


def schedule_entry_time(t0: float, sample: int, block_frames: int, rate: int, total_frames: int) -> float:
    """When the realtime file source releases stream sample ``sample`` (file at the stream's rate).

    It reads blocks of ``block_frames`` and writes block k once ``t0 + frames_read / rate`` has passed
    (``detector/audio/file_source.py``); the last block may be short.
    """
    if not 0 <= sample < total_frames:
        raise ValueError(f"sample {sample} outside the file's 0..{total_frames - 1}")
    frames_read = min(total_frames, (sample // block_frames + 1) * block_frames)
    return t0 + frames_read / rate


def pacing_jitter(write_log: Sequence[Sequence[float]], rate: int) -> list[float]:
    """Per ring write of a paced source: seconds it came later than its schedule ``t0 + offered / rate``,
    with ``t0`` from the most punctual write (so the values are >= 0 and the best one is 0)."""
    if not write_log:
        return []
    behind = [float(t) - int(o) / rate for t, o in write_log]
    t0 = min(behind)
    return [b - t0 for b in behind]


def message_latencies(record: dict[str, Any], arrivals: dict[int, float], rate: int) -> dict[str, Any]:
    """Latencies (ms) of every event message a window decided, from a child's record.

    Each is measured from the moment the last sample of the deciding window was in the ring (``entry``) to:
    ``inside`` the event handed to the sinks, ``spooled`` the MQTT sink done with ``publish``, ``e2e`` its
    arrival at the subscriber (``arrivals``: seq -> monotonic seconds).
    """
    decided = {int(seq): float(end_s) for seq, end_s in record.get("decided", [])}
    handed = {int(seq): float(t) for seq, t in record.get("handed", [])}
    spooled = {int(seq): float(t) for seq, t in record.get("spooled", [])}
    seqs = sorted(decided)
    entries = entry_times(record.get("ring_writes", []), [window_last_sample(decided[s], rate) for s in seqs])
    out: dict[str, Any] = {"inside": [], "spooled": [], "e2e": [], "not_arrived": [], "not_in_ring": 0}
    for seq, entry in zip(seqs, entries, strict=True):
        if entry is None:
            out["not_in_ring"] += 1
            continue
        for key, times in (("inside", handed), ("spooled", spooled), ("e2e", arrivals)):
            if seq in times:
                out[key].append(1000.0 * (times[seq] - entry))
        if seq not in arrivals:
            out["not_arrived"].append(seq)
    out["flushed"] = len(set(handed) - set(decided))  # ended by the stream's end, not by a window
    return out


def parse_status_kb(text: str, key: str = "VmHWM") -> int | None:
    """A ``kB`` value of ``/proc/<pid>/status`` (``VmHWM``: peak RSS); ``None`` if absent."""
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == key:
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                return int(parts[0])
            raise ValueError(f"{key}: got {rest.strip()!r}; expected '<number> kB'")
    return None


@dataclass(frozen=True)
class Goal:
    """One goal of the issue, with the measured value."""

    name: str
    value: float | None
    threshold: float
    op: str  # ">=" or "<="
    unit: str

    @property
    def met(self) -> bool | None:
        if self.value is None or not math.isfinite(self.value):
            return None
        return self.value >= self.threshold if self.op == ">=" else self.value <= self.threshold

    def line(self) -> str:
        mark = {True: "PASS", False: "FAIL", None: "n/a "}[self.met]
        shown = "not measured" if self.value is None else f"{self.value:.2f}{self.unit}"
        return f"[{mark}] {self.name}: {shown} (goal {self.op} {self.threshold:g}{self.unit})"


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or None when either is missing or ``b`` is not positive."""
    if a is None or b is None or b <= 0:
        return None
    return a / b


def evaluate_goals(
    rtf_1: float | None,
    rtf_100: float | None,
    oww_rtf_1: float | None,
    oww_rtf_100: float | None,
    inside_p95_ms: float | None,
    rss_100_mb: float | None,
) -> list[Goal]:
    """The issue's four goals from best-of throughputs, the pipeline's p95 latency and the peak RSS."""
    return [
        Goal("throughput vs openWakeWord, 1 target", ratio(rtf_1, oww_rtf_1), GOAL_SPEEDUP_1, ">=", "x"),
        Goal(
            "throughput vs openWakeWord, 100 targets",
            ratio(rtf_100, oww_rtf_100),
            GOAL_SPEEDUP_100,
            ">=",
            "x",
        ),
        Goal(
            "p95 latency inside the pipeline, 100 signatures", inside_p95_ms, GOAL_P95_INSIDE_MS, "<=", " ms"
        ),
        Goal("peak RSS with 100 signatures", rss_100_mb, GOAL_RSS_100_MB, "<=", " MiB"),
    ]


def summarise(
    values: Sequence[float | None], best: Callable[..., float] = max, label: str = "best"
) -> dict[str, Any]:
    """``{label: best(values), "median", "all"}`` over rounds (missing values ignored)."""
    xs = [float(v) for v in values if v is not None]
    return {
        label: best(xs) if xs else None,
        "median": statistics.median(xs) if xs else None,
        "all": [None if v is None else round(float(v), 4) for v in values],
    }


def status_kb(key: str) -> int | None:
    """This process's ``VmHWM`` (peak RSS) or ``VmRSS`` in kB; None where /proc is not there."""
    try:
        return parse_status_kb(Path("/proc/self/status").read_text(), key)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- child mode
def child_main(argv: list[str]) -> int:
    """``--child RECORD.json basic|latency -- run ...``: the real ``detector`` CLI, with timestamps.

    Wraps (at class level, in this process only) the methods whose timing the benchmark needs and writes
    what they saw to RECORD.json when the CLI returns.
    """
    record_path, mode, sep, *cli_args = argv
    if sep != "--" or mode not in ("basic", "latency"):
        raise SystemExit(f"usage: realtime.py {CHILD_FLAG} RECORD.json basic|latency -- run ...")
    mono = time.monotonic
    rec: dict[str, Any] = {"child_started": mono(), "mode": mode, "ring_writes": []}
    rec |= {"decided": [], "handed": [], "spooled": [], "messages": [], "pushes": []}

    from detector import cli
    from detector.audio.ring import SampleRing
    from detector.audio.source import Source
    from detector.daemon import Pipeline
    from detector.detection import Detector

    rec["imported"] = mono()
    ring_writes, handed, messages = rec["ring_writes"], rec["handed"], rec["messages"]

    ring_write = SampleRing.write

    def write(self: SampleRing, samples: np.ndarray) -> int:
        n = ring_write(self, samples)
        ring_writes.append((mono(), self.stats().offered))
        return n

    source_start = Source.start

    def start(self: Source, ring: SampleRing) -> None:
        rec["source_started"] = mono()
        rec["vmrss_kb_at_start"] = status_kb("VmRSS")
        source_start(self, ring)

    score = Detector._score

    def score_windows(self: Detector, starts: np.ndarray, patches: np.ndarray, levels: np.ndarray) -> list:
        out = score(self, starts, patches, levels)
        if "first_window" not in rec:
            rec["first_window"] = mono()
            rec["vmrss_kb_at_first_window"] = status_kb("VmRSS")
        return out

    dispatch = Pipeline._dispatch

    def dispatch_events(self: Pipeline, events: list) -> None:
        if events:
            t = mono()
            for e in events:
                handed.append((e.seq, t))
                messages.append((e.seq, e.target, e.state, e.start, e.end))
        dispatch(self, events)

    run = Pipeline.run

    def run_pipeline(self: Pipeline, keep_features: bool = False) -> Any:
        rec["run_entered"] = mono()
        summary = run(self, keep_features)
        rec["summary"] = {
            "seconds_audio": summary.seconds_audio,
            "seconds_wall": summary.seconds_wall,
            "frames": summary.frames,
            "dropped_samples": summary.dropped_samples,
            "gaps": summary.gaps,
            "events": summary.events,
        }
        if self.detector is not None:
            d = self.detector.stats
            rec["detector"] = {
                "targets": len(self.detector.targets),
                "windows": d.windows,
                "model_calls": d.model_calls,
                "model_errors": d.model_errors,
                "inference_seconds": d.inference_seconds,
            }
        return summary

    SampleRing.write = write  # type: ignore[method-assign]
    Source.start = start  # type: ignore[method-assign]
    Detector._score = score_windows  # type: ignore[method-assign]
    Pipeline._dispatch = dispatch_events  # type: ignore[method-assign]
    Pipeline.run = run_pipeline  # type: ignore[method-assign]
    if mode == "latency":
        from detector.events import EventTracker

        decided = rec["decided"]
        update = EventTracker.update

        def tracker_update(self: EventTracker, start_s: float, end_s: float, *a: Any, **kw: Any) -> list:
            out = update(self, start_s, end_s, *a, **kw)
            for e in out:
                decided.append((e.seq, end_s))
            return out

        EventTracker.update = tracker_update  # type: ignore[method-assign]
        pushes = rec["pushes"]
        push = Detector.push

        def timed_push(self: Detector, samples: np.ndarray) -> list:
            wall, cpu = mono(), time.thread_time()
            out = push(self, samples)
            pushes.append((mono() - wall, time.thread_time() - cpu))
            return out

        Detector.push = timed_push  # type: ignore[method-assign]
        try:
            from detector.sinks.mqtt import MqttSink
        except ImportError:
            MqttSink = None  # noqa: N806
        if MqttSink is not None:
            spooled = rec["spooled"]
            publish = MqttSink.publish

            def publish_event(self: Any, event: Any) -> None:
                publish(self, event)
                spooled.append((event.seq, mono()))

            MqttSink.publish = publish_event  # type: ignore[method-assign]
    code = 1
    try:
        code = cli.main(cli_args)
    finally:
        rec["returned"] = mono()
        rec["returncode"] = code
        rec["vmhwm_kb"] = status_kb("VmHWM")
        Path(record_path).write_text(json.dumps(rec))
    return code


# ---------------------------------------------------------------------------------------------- processes
@dataclass(frozen=True)
class Spawned:
    """A finished child process."""

    returncode: int
    started: float  # monotonic seconds just before the spawn
    wall_seconds: float
    timed_out: bool


def spawn(cmd: list[str], *, env: dict[str, str], cwd: Path, log_path: Path, timeout: float) -> Spawned:
    """Run ``cmd`` to its end (killed after ``timeout`` seconds), its output to ``log_path``."""
    with open(log_path, "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
    timed_out = False
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    return Spawned(proc.returncode, started, time.monotonic() - started, timed_out)


def tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def child_env(extra_path: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    for var in CHILD_THREAD_VARS:
        env[var] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(extra_path), env.get("PYTHONPATH", "")) if p)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (never 1883)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != SYSTEM_BROKER_PORT:
            return port


_AMQTT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from amqtt.broker import Broker

    async def main(port):
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        broker = Broker(config)
        await broker.start()
        await asyncio.Event().wait()

    asyncio.run(main(int(sys.argv[1])))
    """
)


class Broker:
    """A private MQTT broker on 127.0.0.1 and a free port: mosquitto, else the embedded amqtt."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.kind = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        mosquitto = shutil.which("mosquitto")
        if mosquitto:
            self.kind = "mosquitto"
            conf = self.workdir / "mosquitto.conf"
            lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false"]
            lines += [f"log_dest file {self.workdir / 'mosquitto.log'}"]
            if os.geteuid() == 0:
                lines.append("user root")
            conf.write_text("\n".join(lines) + "\n")
            cmd = [mosquitto, "-c", str(conf)]
        else:
            try:
                import amqtt  # noqa: F401
            except ImportError:
                raise BenchError("no MQTT broker: install mosquitto (apt) or amqtt (pip)") from None
            self.kind = "amqtt"
            cmd = [sys.executable, "-c", _AMQTT_SCRIPT, str(self.port)]
        with open(self.workdir / "broker.out", "wb") as out:
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + BROKER_START_SECONDS
        while time.monotonic() < deadline and self._proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BenchError(
            f"{self.kind} did not start on port {self.port}: {tail(self.workdir / 'broker.out')}"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5.0)


class Subscriber:
    """Records the arrival time (monotonic) of every event message, keyed by (device, seq)."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self._lock = threading.Lock()
        self.arrivals: dict[tuple[str, int], float] = {}
        self.duplicates = 0
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:8]}")

        def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            client.subscribe("sigdetect/+/events/#", qos=1)

        def on_message(client: Any, userdata: Any, msg: Any) -> None:
            t = time.monotonic()
            try:
                event = json.loads(msg.payload)
                key = (str(event["device"]), int(event["seq"]))
            except (ValueError, KeyError, TypeError):
                return
            with self._lock:
                if key in self.arrivals:
                    self.duplicates += 1
                else:
                    self.arrivals[key] = t

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not subscribed.wait(10.0):
            self.close()
            raise BenchError(f"the subscriber could not subscribe at 127.0.0.1:{port}")

    def for_device(self, device: str) -> dict[int, float]:
        with self._lock:
            return {seq: t for (dev, seq), t in self.arrivals.items() if dev == device}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# ---------------------------------------------------------------------------------------------- scene
def target_name(i: int) -> str:
    return f"t{i:03d}-{TARGET_KINDS[i % len(TARGET_KINDS)]}"


def target_clip(i: int, seed: int) -> np.ndarray:
    """Target i's sound (the same every time it occurs: a doorbell, an alarm)."""
    from trainer.data.backgrounds import make_event

    return make_event(TARGET_KINDS[i % len(TARGET_KINDS)], SAMPLE_RATE, np.random.default_rng([seed, 1, i]))


def make_scene(seconds: float, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Beds of rain, wind, traffic, machinery and coloured noise (15-45 s each, cross-faded, -38..-26 dBFS)
    with a sound event every 2-5 s at 3-20 dB SNR: 65 % one of the first 10 targets (target 0, the
    1-signature runs' target, 5x as often as each other one), the rest other sounds.

    Returns:
        float32 samples at 16 kHz and the events placed: ``{"label", "start", "end", "snr_db"}``.
    """
    from trainer.data.backgrounds import add_event, make_background, make_event

    rng = np.random.default_rng([seed, 0])
    n = round(seconds * SAMPLE_RATE)
    fade = SAMPLE_RATE // 2  # 0.5 s cross-fades
    x = np.zeros(n, dtype=np.float64)
    pos = 0
    while pos < n:
        length = min(round(rng.uniform(15.0, 45.0) * SAMPLE_RATE), n - pos) + fade
        kind = str(rng.choice(BED_KINDS))
        bed = make_background(kind, length / SAMPLE_RATE, SAMPLE_RATE, rng).astype(np.float64)
        bed *= 10 ** (rng.uniform(-12.0, 0.0) / 20)
        ramp = np.linspace(0.0, 1.0, fade)
        if pos:
            bed[:fade] *= ramp
        bed[-fade:] *= ramp[::-1]
        end = min(n, pos + len(bed))
        x[pos:end] += bed[: end - pos]
        pos += length - fade
    truth: list[dict[str, Any]] = []
    t = rng.uniform(1.0, 3.0)
    j = 0
    while True:
        if rng.random() < TARGET_SHARE:
            weights = np.array([TARGET_0_WEIGHT] + [1.0] * (SCENE_TARGETS - 1))
            i = int(rng.choice(SCENE_TARGETS, p=weights / weights.sum()))
            clip, label = target_clip(i, seed), target_name(i)
        else:
            kind = str(rng.choice(TARGET_KINDS))
            clip, label = make_event(kind, SAMPLE_RATE, np.random.default_rng([seed, 2, j])), f"other-{kind}"
        start = round(t * SAMPLE_RATE)
        if start + len(clip) > n - SAMPLE_RATE:
            break
        snr = float(rng.uniform(3.0, 20.0))
        add_event(x, clip, start, snr)
        truth.append({"label": label, "start": start / SAMPLE_RATE, "end": (start + len(clip)) / SAMPLE_RATE})
        truth[-1]["snr_db"] = round(snr, 2)
        t = (start + len(clip)) / SAMPLE_RATE + rng.uniform(2.0, 5.0)
        j += 1
    peak = float(np.max(np.abs(x)))
    if peak > 0.98:
        x *= 0.98 / peak
    return x.astype(np.float32), truth


def _fit_scorer(kind: str, positives: np.ndarray, i: int) -> tuple[str, dict[str, Any]]:
    """A scorer's parameters fitted on the positives (scikit-learn, exported as the trainer does)."""
    from trainer import scorer_params

    if kind != "prototype":
        try:
            from sklearn.ensemble import IsolationForest
            from sklearn.mixture import GaussianMixture
            from sklearn.svm import OneClassSVM
        except ImportError:
            kind = "prototype"  # without the train extra: prototypes only (reported in the results)
    x64 = positives.astype(np.float64)
    if kind == "ocsvm":
        return kind, scorer_params.ocsvm_params(OneClassSVM(kernel="rbf", nu=0.2, gamma="scale").fit(x64))
    if kind == "gmm":
        cov = ("diag", "spherical")[(i // len(SCORER_CYCLE)) % 2]
        gmm = GaussianMixture(n_components=2, covariance_type=cov, reg_covar=1e-4, random_state=i).fit(x64)
        return kind, scorer_params.gmm_params(gmm)
    if kind == "iforest":
        forest = IsolationForest(n_estimators=100, random_state=i).fit(positives)
        return kind, scorer_params.iforest_params(forest)
    k = 1 + i % 3
    protos = np.stack([c.mean(axis=0) for c in np.array_split(positives, k)])
    return "prototype", scorer_params.prototype_params(protos)


def make_signatures(model: Any, out_dir: Path, count: int, seed: int, renditions: int) -> dict[str, int]:
    """``count`` real ``.sig`` files for targets 0..count-1: each target's sound rendered ``renditions``
    times into beds (random offset in the patch, 5-25 dB SNR), embedded with the model, a scorer fitted
    (prototype / OC-SVM / GMM / isolation forest in turn) and calibrated (logistic) against bed windows.

    Returns:
        How many signatures of each scorer kind were written.
    """
    from detector.features import extract
    from detector.signatures import SignatureData, write_signature
    from detector.signatures.scorers import make_scorer
    from trainer.data.backgrounds import make_background

    spec = model.spec
    win = (spec.patch_frames - 1) * spec.hop_length + spec.n_fft  # samples one patch spans
    rng = np.random.default_rng([seed, 3])
    beds = [make_background(k, 20.0, SAMPLE_RATE, rng).astype(np.float64) for k in BED_KINDS]

    def bed_window() -> np.ndarray:
        bed = beds[int(rng.integers(len(beds)))]
        s = int(rng.integers(0, len(bed) - win))
        return bed[s : s + win] * 10 ** (rng.uniform(-12.0, 0.0) / 20)

    def embed(windows: list[np.ndarray]) -> np.ndarray:
        return model.run(np.stack([extract(spec, w.astype(np.float32)) for w in windows]))

    negatives = embed([bed_window() for _ in range(256)])
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, int] = {}
    for i in range(count):
        clip = target_clip(i, seed).astype(np.float64)
        power = float(np.mean(clip**2))
        windows = []
        for _ in range(renditions):
            w = np.zeros(win)
            if len(clip) >= win:
                s = int(rng.integers(0, len(clip) - win + 1))
                w[:] = clip[s : s + win]
            else:
                s = int(rng.integers(0, win - len(clip) + 1))
                w[s : s + len(clip)] = clip
            noise = bed_window()
            noise *= math.sqrt(
                power / (max(float(np.mean(noise**2)), 1e-12) * 10 ** (rng.uniform(5, 25) / 10))
            )
            windows.append(w + noise)
        positives = embed(windows)
        kind, params = _fit_scorer(SCORER_CYCLE[i % len(SCORER_CYCLE)], positives, i)
        scorer = make_scorer(kind, params)
        lo = float(np.percentile(scorer.raw(negatives), 99.5))
        hi = float(np.median(scorer.raw(positives)))
        if hi <= lo:
            hi = lo + max(abs(lo) * 0.1, 1e-3)
        a = 8.0 / (hi - lo)  # lo -> 0.02, hi -> 0.98
        data = SignatureData(
            name=target_name(i),
            scorer=kind,
            model_sha256=model.sha256,
            feature_spec=spec.to_dict(),
            params=params,
            threshold=0.5,
            calibration={"kind": "logistic", "a": a, "b": -a * 0.5 * (lo + hi)},
            enrollment={
                "model": model.name,
                "clips": 1,
                "renditions": renditions,
                "by": "benchmarks/realtime",
            },
        )
        write_signature(out_dir / f"{target_name(i)}.sig", data)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def write_wav(path: Path, x: np.ndarray) -> None:
    """16-bit PCM mono WAV: the daemon and openWakeWord then read the very same samples."""
    import soundfile as sf

    sf.write(path, x, SAMPLE_RATE, subtype="PCM_16")


def _best_ms(fn: Callable[[], object], calls: int, rounds: int = 5) -> float:
    """Best over rounds of the mean time of one call, ms."""
    best = math.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return 1000.0 * best


def window_costs(model: Any, sig_dir: Path, x: np.ndarray, seconds: float = 30.0) -> dict[str, Any]:
    """In-process costs behind the realtime latency: the model on one patch, each scorer kind on one
    embedding (summed over the signatures of that kind), and ``Detector.push`` of one 0.1 s block of the
    scene (the realtime file source's block) with 1 and 100 signatures."""
    from detector.config import load_config
    from detector.detection import Detector
    from detector.features import extract
    from detector.signatures import load_signatures

    signatures, rejected = load_signatures(sig_dir, model)
    if rejected:
        raise BenchError(f"signatures rejected: {rejected}")
    spec = model.spec
    win = (spec.patch_frames - 1) * spec.hop_length + spec.n_fft
    patch = extract(spec, x[:win])[None]
    emb = model.run(patch)
    out: dict[str, Any] = {"model_ms_per_patch": _best_ms(lambda: model.run(patch), 200)}
    per_kind: dict[str, dict[str, float]] = {}
    for sig in signatures.values():
        kind = per_kind.setdefault(sig.scorer_kind, {"signatures": 0, "ms": 0.0})
        kind["signatures"] += 1
        kind["ms"] += _best_ms(lambda s=sig: s.score(emb), 50, 3)
    out["scorer_ms_per_window"] = per_kind
    out["scorers_total_ms_per_window"] = sum(k["ms"] for k in per_kind.values())
    settings = load_config(None).detection
    names = sorted(signatures)
    warm = 10 * SAMPLE_RATE  # the first 10 s in one push (not timed)
    end = min(len(x), warm + round(seconds * SAMPLE_RATE))
    for n in (1, 100):
        det = Detector(model, settings, device="bench", signatures={k: signatures[k] for k in names[:n]})
        det.push(x[:warm])
        times = []
        for i in range(warm, end - FILE_BLOCK_FRAMES + 1, FILE_BLOCK_FRAMES):
            t0 = time.perf_counter()
            det.push(x[i : i + FILE_BLOCK_FRAMES])
            times.append(1000.0 * (time.perf_counter() - t0))
        out[f"push_0.1s_block_ms_{n}_signatures"] = percentiles(times)
    return out


# ---------------------------------------------------------------------------------------------- openWakeWord
def _pip(python: Path, *args: str, timeout: float = 900.0) -> None:
    proc = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"pip {' '.join(args)}: exit {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}"
        )


def _oww_ready(python: Path) -> bool:
    if not python.exists():
        return False
    check = (
        "import importlib.metadata as m, numpy, tflite_runtime.interpreter, openwakeword.model; "
        f"assert m.version('openwakeword') == '{OWW_VERSION}', m.version('openwakeword')"
    )
    return subprocess.run([str(python), "-c", check], capture_output=True, timeout=120).returncode == 0


def ensure_oww(venv: Path, say: Callable[[str], None]) -> tuple[Path, Path]:
    """The openWakeWord venv's python and the 0.5.1 models directory, created when missing.

    Raises:
        BenchError: It cannot be set up (no network, no wheel for this platform, ...): the reason.
    """
    python = venv / "bin" / "python"
    models = venv / f"models-{OWW_MODELS_VERSION}"
    try:
        if not _oww_ready(python):
            say(
                f"creating the openWakeWord venv in {venv}: pip install openwakeword=={OWW_VERSION} 'numpy<2'"
            )
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            _pip(python, "install", "--quiet", f"openwakeword=={OWW_VERSION}", "numpy<2")
            if not _oww_ready(python):
                raise BenchError(f"{python}: openwakeword {OWW_VERSION} with tflite-runtime does not import")
        if not all((models / f).exists() for f in OWW_MODEL_FILES):
            say(f"fetching the openWakeWord {OWW_MODELS_VERSION} wheel for its models")
            with tempfile.TemporaryDirectory(prefix="oww-wheel-") as tmp:
                _pip(
                    python,
                    "download",
                    "--no-deps",
                    "--quiet",
                    "-d",
                    tmp,
                    f"openwakeword=={OWW_MODELS_VERSION}",
                )
                wheels = list(Path(tmp).glob("openwakeword-*.whl"))
                if not wheels:
                    raise BenchError(f"pip download openwakeword=={OWW_MODELS_VERSION}: no wheel")
                models.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(wheels[0]) as whl:
                    for name in whl.namelist():
                        if name.startswith("openwakeword/resources/models/") and name.endswith(".tflite"):
                            (models / Path(name).name).write_bytes(whl.read(name))
            missing = [f for f in OWW_MODEL_FILES if not (models / f).exists()]
            if missing:
                raise BenchError(f"the openwakeword {OWW_MODELS_VERSION} wheel lacks {', '.join(missing)}")
    except (OSError, subprocess.SubprocessError) as exc:
        raise BenchError(f"cannot set up openWakeWord in {venv}: {type(exc).__name__}: {exc}") from exc
    return python, models


# ---------------------------------------------------------------------------------------------- runs
@dataclass
class Context:
    """What every run needs."""

    work: Path
    wav: Path
    seconds: float
    sig_dirs: dict[int, Path]
    broker: Broker
    subscriber: Subscriber
    oww_python: Path | None = None
    oww_models: Path | None = None


def detector_run(ctx: Context, name: str, n_sigs: int, realtime: bool) -> dict[str, Any]:
    """One ``detector run`` (fast or ``--realtime``) with ``n_sigs`` signatures, measured from outside."""
    run_dir = ctx.work / name
    run_dir.mkdir(parents=True, exist_ok=True)
    device = f"bench-{name}"
    config = {  # YAML is a superset of JSON
        "device_id": device,
        "log": {"level": "info", "format": "json"},
        "detection": {"model": str(MODEL), "threads": 1},
        "mqtt": {"client_id": device, "spool": {"path": str(run_dir / "spool.sqlite")}},
    }
    (run_dir / "config.yaml").write_text(json.dumps(config, indent=1))
    record_path = run_dir / "record.json"
    cmd = [sys.executable, THIS, CHILD_FLAG, record_path, "latency" if realtime else "basic", "--", "run"]
    cmd += ["-c", run_dir / "config.yaml", "--source", ctx.wav, "--signatures", ctx.sig_dirs[n_sigs]]
    cmd += ["--events-out", run_dir / "events.jsonl", "--mqtt", ctx.broker.url]
    if realtime:
        cmd.append("--realtime")
    timeout = ctx.seconds + 180.0 if realtime else 600.0
    load_before = os.getloadavg()[0]
    sp = spawn(cmd, env=child_env(REPO), cwd=run_dir, log_path=run_dir / "detector.log", timeout=timeout)
    if sp.returncode != 0 or not record_path.exists():
        why = "timed out" if sp.timed_out else f"exit {sp.returncode}"
        raise BenchError(f"{name}: {why}: {tail(run_dir / 'detector.log')}")
    rec = json.loads(record_path.read_text())
    summary = rec.get("summary")
    if summary is None or "first_window" not in rec:
        raise BenchError(f"{name}: the pipeline did not run: {tail(run_dir / 'detector.log')}")
    det = rec.get("detector", {})
    out: dict[str, Any] = {
        "load_avg_1min": [load_before, os.getloadavg()[0]],  # before and after: how shared the machine was
        "signatures": det.get("targets"),
        "realtime_factor": summary["seconds_audio"] / summary["seconds_wall"],
        "seconds_audio": summary["seconds_audio"],
        "pipeline_seconds": summary["seconds_wall"],
        "process_seconds": sp.wall_seconds,
        "rss_mb": rec["vmhwm_kb"] / 1024.0 if rec.get("vmhwm_kb") else None,
        "rss_mb_at_start": rec["vmrss_kb_at_start"] / 1024.0 if rec.get("vmrss_kb_at_start") else None,
        "rss_mb_at_first_window": rec["vmrss_kb_at_first_window"] / 1024.0
        if rec.get("vmrss_kb_at_first_window")
        else None,
        "startup_s": rec["first_window"] - sp.started,
        "startup_parts_s": {
            "interpreter_and_imports": rec["imported"] - sp.started,
            "config_model_load": rec["run_entered"] - rec["imported"],
            "signatures_and_first_window": rec["first_window"] - rec["run_entered"],
        },
        "events": summary["events"],
        "dropped_samples": summary["dropped_samples"],
        "windows": det.get("windows"),
        "inference_ms_per_call": 1000.0 * det["inference_seconds"] / det["model_calls"]
        if det.get("model_calls")
        else None,
    }
    if realtime:
        arrivals = ctx.subscriber.for_device(device)
        deadline = time.monotonic() + 5.0  # QoS 1 deliveries still in flight when the child exited
        while len(arrivals) < len(rec["handed"]) and time.monotonic() < deadline:
            time.sleep(0.1)
            arrivals = ctx.subscriber.for_device(device)
        lat = message_latencies(rec, arrivals, SAMPLE_RATE)
        jitter = pacing_jitter(rec["ring_writes"], SAMPLE_RATE)
        out["latency_ms"] = {
            "messages": len(rec["handed"]),
            "decided_by_a_window": len(rec["decided"]),
            "inside_pipeline": percentiles(lat["inside"]),
            "spooled_by_mqtt_sink": percentiles(lat["spooled"]),
            "at_subscriber": percentiles(lat["e2e"]),
            "file_source_pacing_jitter": percentiles([1000.0 * j for j in jitter]),
            "detector_push_wall": percentiles([1000.0 * w for w, _ in rec["pushes"]]),
            "detector_push_cpu": percentiles([1000.0 * c for _, c in rec["pushes"]]),
            "not_arrived": len(lat["not_arrived"]),
            "ended_at_stream_end": lat["flushed"],
        }
    return out


def oww_run(ctx: Context, name: str, count: int) -> dict[str, Any]:
    """openWakeWord on the same WAV with ``count`` wake-word models, measured like the detector."""
    assert ctx.oww_python is not None and ctx.oww_models is not None
    run_dir = ctx.work / name
    run_dir.mkdir(parents=True, exist_ok=True)
    out_json = run_dir / "oww.json"
    cmd = [ctx.oww_python, OWW_RUNNER, "--audio", ctx.wav, "--models", ctx.oww_models]
    cmd += ["--wakeword", OWW_WAKEWORD, "--count", str(count), "--json", out_json]
    sp = spawn(cmd, env=child_env(), cwd=run_dir, log_path=run_dir / "oww.log", timeout=3600.0)
    if sp.returncode != 0 or not out_json.exists():
        why = "timed out" if sp.timed_out else f"exit {sp.returncode}"
        raise BenchError(f"{name}: {why}: {tail(run_dir / 'oww.log')}")
    r = json.loads(out_json.read_text())
    return {
        "n_models": r["n_models"],
        "realtime_factor": r["realtime_factor"],
        "ms_per_frame": r["ms_per_frame"],
        "seconds_audio": r["seconds_audio"],
        "loop_seconds": r["loop_seconds"],
        "load_seconds": r["load_seconds"],
        "process_seconds": sp.wall_seconds,
        "rss_mb": r["vmhwm_kb"] / 1024.0 if r.get("vmhwm_kb") else None,
        "startup_s": r["first_prediction"] - sp.started if r.get("first_prediction") else None,
        "peak_score": r["peak_score"],
        "versions": r["versions"],
    }


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    out: dict[str, Any] = {
        "rounds": len(runs),
        "errors": [r["error"] for r in runs if "error" in r],
        "realtime_factor": summarise([r["realtime_factor"] for r in ok], max),
        "rss_mb": summarise([r["rss_mb"] for r in ok], max, "max"),
        "startup_s": summarise([r["startup_s"] for r in ok], min),
        "process_seconds": summarise([r["process_seconds"] for r in ok], min),
    }
    if ok:
        out["last_round"] = ok[-1]
    return out


def _fmt(v: float | None, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def print_report(results: dict[str, Any], goals: list[Goal]) -> None:
    m = results["machine"]
    a = results["audio"]
    print(
        f"\nsigdetect realtime benchmark: {a['seconds']:.0f} s scene (seed {a['seed']}, "
        f"{a['events']} events), {results['rounds']} interleaved round(s); {m['cpus']} CPUs, "
        "SHARED with other work "
        f"(load avg {m['load_avg_start'][0]:.1f} at start, {m['load_avg_end'][0]:.1f} at end)"
    )
    head = f"{'':38}{'RTF best':>9}{'RTF med':>9}{'RSS MiB':>9}{'start-up s':>11}{'events':>8}"
    print(head)
    rows: list[tuple[str, dict[str, Any] | None]] = []
    for n in SIGNATURE_COUNTS:
        rows.append((f"sigdetect, {n} signature(s)", results["sigdetect"]["fast"].get(str(n))))
    oww = results["openwakeword"]
    for n in OWW_COUNTS:
        label = f"openWakeWord, {n} model(s)" + (" (same x100)" if n > 1 else "")
        rows.append((label, oww.get("runs", {}).get(str(n)) if oww.get("available") else None))
    for label, agg in rows:
        if agg is None or agg["realtime_factor"]["best"] is None:
            print(f"{label:38}{'not measured':>20}")
            continue
        events = agg.get("last_round", {}).get("events")
        print(
            f"{label:38}{_fmt(agg['realtime_factor']['best']):>9}{_fmt(agg['realtime_factor']['median']):>9}"
            f"{_fmt(agg['rss_mb']['max']):>9}{_fmt(agg['startup_s']['best'], '.2f'):>11}"
            f"{'-' if events is None else events:>8}"
        )
    if not oww.get("available"):
        print(f"openWakeWord: NOT MEASURED: {oww.get('error')}")
    for n, lat in results["sigdetect"]["latency"].items():
        if "error" in lat:
            print(f"\nlatency, {n} signature(s): FAILED: {lat['error']}")
            continue
        ms = lat["latency_ms"]
        print(
            f"\nlatency, realtime, {n} signature(s): {ms['messages']} event messages, "
            f"{ms['not_arrived']} not arrived; load avg {lat['load_avg_1min'][0]:.1f} before, "
            f"{lat['load_avg_1min'][1]:.1f} after\n  ms{'p50':>62}{'p95':>9}{'p99':>9}{'max':>9}"
        )
        for label, key in (
            ("window complete -> handed to sinks", "inside_pipeline"),
            ("  -> spooled by the MQTT sink", "spooled_by_mqtt_sink"),
            ("  -> arrived at the MQTT subscriber", "at_subscriber"),
            ("(file source pacing jitter)", "file_source_pacing_jitter"),
            ("(Detector.push of a block: wall time)", "detector_push_wall"),
            ("(Detector.push of a block: its thread's CPU time)", "detector_push_cpu"),
        ):
            p = ms[key]
            print(
                f"  {label:55}{_fmt(p['p50'], '.2f'):>9}{_fmt(p['p95'], '.2f'):>9}"
                f"{_fmt(p['p99'], '.2f'):>9}{_fmt(p['max'], '.2f'):>9}"
            )
    c = results.get("costs_in_process")
    if c:
        kinds = ", ".join(
            f"{k} x{v['signatures']} {v['ms']:.2f}" for k, v in c["scorer_ms_per_window"].items()
        )
        p1, p100 = c["push_0.1s_block_ms_1_signatures"], c["push_0.1s_block_ms_100_signatures"]
        print(
            f"\nin-process costs (ms): model {c['model_ms_per_patch']:.2f} per patch; scorers on one "
            f"embedding {c['scorers_total_ms_per_window']:.2f} ({kinds});\n  Detector.push of a 0.1 s block: "
            f"1 signature p50 {p1['p50']:.2f} / p95 {p1['p95']:.2f}, "
            f"100 signatures p50 {p100['p50']:.2f} / p95 {p100['p95']:.2f}"
        )
    print("\ngoals:")
    for g in goals:
        print(f"  {g.line()}")
    print(f"\nwall time {results['wall_seconds']:.0f} s; command: {results['command']}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [CHILD_FLAG]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON here")
    parser.add_argument("--quick", action="store_true", help="40 s scene, one round, latency with 100 only")
    parser.add_argument("--seconds", type=float, help="scene length (default 300, --quick 40)")
    parser.add_argument(
        "--rounds", type=int, help="interleaved rounds of the fast runs (default 3, --quick 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="scene and signature seed")
    parser.add_argument(
        "--oww-venv", type=Path, help=f"openWakeWord venv (default $SIGDETECT_OWW_VENV or {DEFAULT_OWW_VENV})"
    )
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it (logs, records)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (40.0 if args.quick else 300.0)
    rounds = args.rounds or (1 if args.quick else 3)
    if seconds < 10 or rounds < 1:
        parser.error("--seconds must be >= 10 and --rounds >= 1")
    venv = (args.oww_venv or Path(os.environ.get("SIGDETECT_OWW_VENV", DEFAULT_OWW_VENV))).expanduser()
    wall0 = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - wall0:7.1f} s] {text}", file=sys.stderr, flush=True)

    work = args.keep or Path(tempfile.mkdtemp(prefix="sigdetect-realtime-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "benchmark": "realtime",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/realtime.py", *argv]),
        "quick": args.quick,
        "rounds": rounds,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "shared": True,
            "note": "the machine was shared with other work while measuring: best-of rounds is the figure",
            "load_avg_start": os.getloadavg(),
        },
    }
    failed = False
    broker: Broker | None = None
    subscriber: Subscriber | None = None
    try:
        say(f"scene: {seconds:.0f} s, seed {args.seed}")
        x, truth = make_scene(seconds, args.seed)
        wav = work / "scene.wav"
        write_wav(wav, x)
        results["audio"] = {
            "seconds": len(x) / SAMPLE_RATE,
            "seed": args.seed,
            "events": len(truth),
            "target_events": sum(1 for t in truth if t["label"].startswith("t")),
            "file": "16-bit PCM mono WAV, 16 kHz (the same samples for both systems)",
        }
        from detector.models import load_model

        model = load_model(MODEL)
        say("signatures: 100 (prototype / OC-SVM / GMM / isolation forest, fitted on rendered embeddings)")
        sig_dirs = {n: work / f"signatures-{n}" for n in SIGNATURE_COUNTS}
        kinds = make_signatures(model, sig_dirs[100], 100, args.seed, 24 if args.quick else 48)
        for n in SIGNATURE_COUNTS[:-1]:
            sig_dirs[n].mkdir(exist_ok=True)
            for i in range(n):
                shutil.copy2(sig_dirs[100] / f"{target_name(i)}.sig", sig_dirs[n])
        results["signatures"] = {
            "100": kinds,
            "scorer_cycle": list(SCORER_CYCLE),
            "note": f"signature i uses {SCORER_CYCLE}[i % 4] (prototype-only without scikit-learn); the "
            "1- and 10-signature sets are the first 1 and 10",
        }
        oww: dict[str, Any] = {
            "version": OWW_VERSION,
            "models_from": f"openwakeword=={OWW_MODELS_VERSION} wheel",
            "wakeword_model": f"{OWW_WAKEWORD}.tflite",
            "inference_framework": "tflite, 1 thread",
            "venv": str(venv),
            "note": "100 models = the same wake-word model loaded 100 times under different names "
            "(symlinks; openWakeWord keys models by file name); throughput = audio seconds / seconds in the "
            "Model.predict loop over 1280-sample frames",
        }
        results["openwakeword"] = oww
        try:
            oww_python, oww_models = ensure_oww(venv, say)
            oww["available"] = True
        except BenchError as exc:
            oww_python = oww_models = None
            oww["available"] = False
            oww["error"] = str(exc)
            say(f"openWakeWord NOT available: {exc}")
        say("in-process costs (model, scorers, Detector.push of 0.1 s blocks)")
        results["costs_in_process"] = window_costs(model, sig_dirs[100], x, 10.0 if args.quick else 30.0)
        broker = Broker(work)
        broker.start()
        subscriber = Subscriber(broker.port)
        results["broker"] = broker.kind
        ctx = Context(work, wav, len(x) / SAMPLE_RATE, sig_dirs, broker, subscriber, oww_python, oww_models)

        say("warm-up runs (not counted)")
        detector_run(ctx, "warmup-fast-1", 1, realtime=False)
        if oww_python is not None:
            try:
                oww_run(ctx, "warmup-oww-1", 1)
            except BenchError as exc:
                oww["available"] = False
                oww["error"] = str(exc)
        plan: list[tuple[str, int]] = [("fast", n) for n in SIGNATURE_COUNTS]
        if oww["available"]:
            plan += [("oww", n) for n in OWW_COUNTS]
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {key: [] for key in plan}
        for r in range(rounds):
            order = plan[r % len(plan) :] + plan[: r % len(plan)]  # rotate: no config always runs first
            for kind, n in order:
                name = f"{kind}-{n}-r{r}"
                say(f"round {r + 1}/{rounds}: {name}")
                try:
                    res = (
                        detector_run(ctx, name, n, realtime=False)
                        if kind == "fast"
                        else oww_run(ctx, name, n)
                    )
                except BenchError as exc:
                    failed = True
                    res = {"error": str(exc)}
                    say(f"FAILED {exc}")
                runs[(kind, n)].append(res)
        results["sigdetect"] = {
            "fast": {str(n): _aggregate(runs[("fast", n)]) for n in SIGNATURE_COUNTS},
            "latency": {},
        }
        if oww["available"]:
            oww["runs"] = {str(n): _aggregate(runs[("oww", n)]) for n in OWW_COUNTS}
        for n in (100,) if args.quick else (100, 1):
            say(f"latency: realtime, {n} signature(s), {ctx.seconds:.0f} s")
            try:
                results["sigdetect"]["latency"][str(n)] = detector_run(ctx, f"realtime-{n}", n, realtime=True)
            except BenchError as exc:
                failed = True
                results["sigdetect"]["latency"][str(n)] = {"error": str(exc)}
                say(f"FAILED {exc}")
        results["mqtt_duplicates_seen"] = subscriber.duplicates
    except BenchError as exc:
        say(f"benchmark FAILED: {exc}")
        return 1
    finally:
        if subscriber is not None:
            subscriber.close()
        if broker is not None:
            broker.stop()
    fast = results["sigdetect"]["fast"]
    owr = results["openwakeword"].get("runs", {})
    lat100 = results["sigdetect"]["latency"].get("100", {})
    goals = evaluate_goals(
        fast["1"]["realtime_factor"]["best"],
        fast["100"]["realtime_factor"]["best"],
        owr.get("1", {}).get("realtime_factor", {}).get("best"),
        owr.get("100", {}).get("realtime_factor", {}).get("best"),
        lat100.get("latency_ms", {}).get("inside_pipeline", {}).get("p95"),
        fast["100"]["rss_mb"]["max"],
    )
    results["goals"] = [
        {"name": g.name, "value": g.value, "goal": f"{g.op} {g.threshold:g}", "met": g.met} for g in goals
    ]
    results["machine"]["load_avg_end"] = os.getloadavg()
    results["wall_seconds"] = time.monotonic() - wall0
    results["work_dir"] = str(work) if args.keep else None
    print_report(results, goals)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
