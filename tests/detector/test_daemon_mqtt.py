"""The daemon with a real broker: events at the subscriber, a broker outage, remote enrollment."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from detector.signatures import read_signature, write_signature

ROOT = Path(__file__).resolve().parents[2]
DEMO_SIGS = ROOT / "demo" / "signatures"
DETECTOR = [sys.executable, "-m", "detector"]
SR = 16000


def alarm(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    freq = np.where((t // 0.25) % 2 == 0, 1000.0, 1500.0)
    return 0.25 * np.sin(2 * np.pi * np.cumsum(freq) / SR)


def write_scene(path: Path, seconds: float, alarms: list[float], seed: int = 8) -> None:
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal(int(seconds * SR))
    for a in alarms:
        x[int(a * SR) : int(a * SR) + int(1.5 * SR)] += alarm(1.5)
    sf.write(path, np.clip(x, -1, 1).astype(np.float32), SR, subtype="PCM_16")


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        "device_id: testbox\n"
        "mqtt:\n  reconnect_min_seconds: 0.1\n  reconnect_max_seconds: 0.5\n  drain_timeout_seconds: 20\n"
        f"  spool:\n    path: {tmp_path / 'spool.sqlite'}\n" + extra
    )
    return path


def signatures(tmp_path: Path) -> Path:
    sigs = tmp_path / "sigs"
    shutil.copytree(DEMO_SIGS, sigs)
    return sigs


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_subscriber_gets_exactly_the_jsonl_events_and_status(tmp_path, mqtt_broker, mqtt_collector) -> None:
    write_scene(tmp_path / "s.wav", 10.0, [2.0, 6.0])
    sub = mqtt_collector(mqtt_broker.url, "sigdetect/testbox/#")
    out = tmp_path / "events.jsonl"
    proc = subprocess.run(
        [*DETECTOR, "run", "-c", str(config(tmp_path)), "--source", str(tmp_path / "s.wav")]
        + ["--signatures", str(signatures(tmp_path)), "--mqtt", mqtt_broker.url, "--events-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    written = read_jsonl(out)
    assert [e["state"] for e in written] == ["start", "end", "start", "end"]
    sub.wait_for(lambda m: sum(x.topic == "sigdetect/testbox/events/alarm" for x in m) == len(written))
    received = [json.loads(p) for p in sub.payloads("sigdetect/testbox/events/alarm")]
    assert received == written
    assert sub.payloads("sigdetect/testbox/state/alarm")[-4:] == [b"ON", b"OFF", b"ON", b"OFF"]
    sub.wait_for(lambda m: any(x.topic == "sigdetect/testbox/status" and x.payload == b"offline" for x in m))
    status = sub.payloads("sigdetect/testbox/status")
    assert status[0] == b"online" and status[-1] == b"offline"


def test_broker_outage_mid_run_loses_nothing_and_keeps_order(tmp_path, mqtt_broker, mqtt_collector) -> None:
    if not mqtt_broker.persistent:
        pytest.skip("needs a broker that keeps the subscriber's session across a restart (mosquitto)")
    write_scene(tmp_path / "s.wav", 16.0, [1.0, 4.5, 8.0, 11.5])
    topic = "sigdetect/testbox/events/alarm"
    sub = mqtt_collector(mqtt_broker.url, topic, client_id="outage-sub", clean=False)
    out = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [*DETECTOR, "run", "-c", str(config(tmp_path)), "--realtime", "--source", str(tmp_path / "s.wav")]
        + ["--signatures", str(signatures(tmp_path)), "--mqtt", mqtt_broker.url, "--events-out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    sub.wait_for(lambda m: len(m) >= 2, timeout=30)  # the first alarm went through
    mqtt_broker.stop()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(read_jsonl(out)) < 6:  # two more events while it is down
        time.sleep(0.1)
    assert len(read_jsonl(out)) >= 6
    mqtt_broker.start()
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, stderr[-3000:]
    written = read_jsonl(out)
    assert len(written) == 8
    sub.wait_for(lambda m: len({(json.loads(x.payload)["seq"]) for x in m}) == len(written), timeout=30)
    received = [json.loads(p) for p in sub.payloads(topic)]
    first_seen = list(dict.fromkeys(e["seq"] for e in received))  # at least once: drop re-deliveries
    assert first_seen == [e["seq"] for e in written]  # every event, in order
    assert {e["seq"]: e for e in received} == {e["seq"]: e for e in written}


def test_remote_enrollment_installs_rejects_and_deletes(tmp_path, mqtt_broker, mqtt_collector) -> None:
    valid = dataclasses.replace(read_signature(DEMO_SIGS / "alarm.sig"), name="door")
    write_signature(tmp_path / "door.sig", valid)
    payload = (tmp_path / "door.sig").read_bytes()
    sigs = signatures(tmp_path)
    cfg = config(tmp_path, f"  remote_enrollment:\n    enabled: true\n    max_bytes: {len(payload) + 100}\n")
    prefix = "sigdetect/testbox/signatures"
    topics = [f"{prefix}/+/result", "sigdetect/testbox/status", "sigdetect/testbox/state/+"]
    sub = mqtt_collector(mqtt_broker.url, topics)
    door_state = "sigdetect/testbox/state/door"
    proc = subprocess.Popen(  # raw PCM on stdin that never ends: the daemon runs until stdin closes
        [*DETECTOR, "run", "-c", str(cfg), "--source", "-", "--signatures", str(sigs)]
        + ["--mqtt", mqtt_broker.url],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=False,
    )
    try:
        sub.wait_for(lambda m: any(x.payload == b"online" for x in m), timeout=30)
        pub = mqtt_collector(mqtt_broker.url, "unused/topic")

        def answers(messages: list) -> list[dict]:
            return [json.loads(x.payload) for x in messages if x.topic.endswith("/result")]

        # the daemon subscribes to commands just after saying `online`: probe until it answers
        for _ in range(15):
            pub.client.publish(f"{prefix}/probe/delete", b"", qos=1).wait_for_publish(5)
            try:
                sub.wait_for(lambda m: len(answers(m)) > 0, timeout=2)
                break
            except AssertionError:
                continue
        time.sleep(1.0)  # answers to earlier probes still on their way
        seen = len(answers(sub.messages))
        assert seen and all(a["target"] == "probe" and a["ok"] is False for a in answers(sub.messages))

        def send(topic: str, body: bytes) -> dict:
            nonlocal seen
            pub.client.publish(f"{prefix}/{topic}", body, qos=1).wait_for_publish(5)
            sub.wait_for(lambda m: len(answers(m)) > seen, timeout=20)
            seen += 1
            return answers(sub.messages)[seen - 1]

        ok = send("door/set", payload)
        assert ok["ok"] is True and ok["target"] == "door" and ok["action"] == "set", ok
        assert read_signature(sigs / "door.sig") == valid
        sub.wait_for(lambda m: any(x.topic == door_state and x.payload == b"OFF" for x in m), timeout=20)
        big = send("door/set", payload + b" " * 200)
        assert big["ok"] is False and "bytes" in big["message"], big
        garbage = send("bad/set", b"not a signature at all")
        assert garbage["ok"] is False and not (sigs / "bad.sig").exists(), garbage
        wrong = send("alarm2/set", payload)  # a valid file for another target name
        assert wrong["ok"] is False and "door" in wrong["message"] and not (sigs / "alarm2.sig").exists()
        gone = send("door/delete", b"")
        assert gone["ok"] is True and not (sigs / "door.sig").exists(), gone
        sub.wait_for(lambda m: any(x.topic == door_state and x.payload == b"" for x in m), timeout=20)
        missing = send("nothing/delete", b"")
        assert missing["ok"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=60)[1].decode()  # also closes stdin
    assert proc.returncode == 0, stderr[-3000:]
    loads = [json.loads(line) for line in stderr.splitlines() if '"signatures_loaded"' in line]
    assert any("door" in e["targets"] for e in loads), stderr[-3000:]  # hot-loaded (its state went OFF)
    assert loads[-1]["targets"] == ["alarm"]  # and unloaded after the delete
    assert "Traceback" not in stderr
    assert os.path.exists(sigs / "alarm.sig")


def test_unreachable_broker_at_start_spools_and_the_next_run_delivers(
    tmp_path, mqtt_broker, mqtt_collector
) -> None:
    write_scene(tmp_path / "s.wav", 6.0, [2.0])
    mqtt_broker.stop()  # the broker is down when the daemon starts
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        config(tmp_path).read_text().replace("drain_timeout_seconds: 20", "drain_timeout_seconds: 1")
    )
    out = tmp_path / "events.jsonl"
    argv = [*DETECTOR, "run", "-c", str(cfg), "--signatures", str(signatures(tmp_path))]
    argv += ["--mqtt", mqtt_broker.url]
    proc = subprocess.run(
        [*argv, "--source", str(tmp_path / "s.wav"), "--events-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr  # detection went on without the broker
    written = read_jsonl(out)
    assert [e["state"] for e in written] == ["start", "end"]
    assert '"spool_not_empty"' in proc.stderr
    mqtt_broker.start()
    sub = mqtt_collector(mqtt_broker.url, "sigdetect/testbox/events/#")
    sf.write(tmp_path / "quiet.wav", np.zeros(SR, np.float32), SR, subtype="PCM_16")
    proc = subprocess.run([*argv, "--source", str(tmp_path / "quiet.wav")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sub.wait_for(lambda m: len(m) >= 2, timeout=20)
    assert [json.loads(p) for p in sub.payloads("sigdetect/testbox/events/alarm")] == written
