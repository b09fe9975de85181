"""MqttSink against a real broker process: order, retained status/state, Last Will, outages, the spool,
MQTT 5, authentication, remote enrollment and Home Assistant discovery."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as paho_publish
import pytest
import structlog.testing

from detector.config import HomeAssistantConfig, MqttConfig, RemoteEnrollmentConfig, SpoolConfig, load_config
from detector.errors import ConfigError
from detector.events import Event
from detector.sinks import MqttSink, Spool
from detector.sinks.mqtt import check_broker

DEVICE = "box1"
PREFIX = f"sigdetect/{DEVICE}"
REPO = Path(__file__).resolve().parents[3]


def make_cfg(url: str, **changes: Any) -> MqttConfig:
    """The default mqtt config pointed at ``url``, with fast reconnects for tests."""
    base = load_config(None).mqtt
    fast = {
        "url": url,
        "reconnect_min_seconds": 0.05,
        "reconnect_max_seconds": 0.2,
        "keepalive_seconds": 5,
        "drain_timeout_seconds": 5.0,
        "password_env": None,
    }
    return dataclasses.replace(base, **{**fast, **changes})


def make_events(n: int, target: str = "dog", first_seq: int = 1) -> list[Event]:
    """``n`` messages: start/end pairs of consecutive events, seq ``first_seq`` onwards."""
    events = []
    for i in range(n):
        seq = first_seq + i
        start = i % 2 == 0
        events.append(
            Event(
                id=f"{first_seq:08x}{i // 2:024x}",
                seq=seq,
                device=DEVICE,
                target=target,
                state="start" if start else "end",
                start=float(seq),
                end=None if start else float(seq) + 0.5,
                score=0.9,
                peak_score=0.95,
                model="general",
                signature="abc123",
                level_dbfs=-20.5,
                wallclock=f"2026-01-01T00:00:{seq % 60:02d}.000Z",
            )
        )
    return events


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def event_payloads(events: list[Event]) -> list[bytes]:
    return [e.to_json().encode() for e in events]


@pytest.fixture
def make_sink(tmp_path: Path) -> Iterator[Callable[..., MqttSink]]:
    """``make_sink(cfg, device=..., spool_path=..., start=True, **handlers)``; closed (no drain) after."""
    sinks: list[MqttSink] = []

    def make(cfg: MqttConfig, *, device: str = DEVICE, start: bool = True, **kw: Any) -> MqttSink:
        kw.setdefault("spool_path", tmp_path / f"spool-{len(sinks)}.sqlite")
        sink = MqttSink(cfg, device, **kw)
        sinks.append(sink)
        if start:
            sink.start()
        return sink

    try:
        yield make
    finally:
        for sink in sinks:
            sink.close(drain_timeout=0)


# -- basic delivery --------------------------------------------------------------------------------------


def test_events_arrive_in_order_with_exact_json(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/#")
    sink = make_sink(make_cfg(mqtt_broker.url))
    events = make_events(40)
    for event in events:
        sink.publish(event)
    topic = f"{PREFIX}/events/dog"
    collector.wait_for(lambda m: sum(x.topic == topic for x in m) >= 40)
    assert collector.payloads(topic) == event_payloads(events)
    assert all(not m.retain for m in collector.on(topic))
    assert [json.loads(p) for p in collector.payloads(topic)] == [e.to_dict() for e in events]
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty")
    stats = sink.stats()
    assert stats["connected"] is True
    assert stats["sent"] == 80  # 40 events + 40 states, all acknowledged
    assert stats["spool_depth"] == 0
    assert stats["reconnects"] == 0
    assert collector.payloads(f"{PREFIX}/status")[0] == b"online"


def test_status_online_retained_and_offline_on_close(mqtt_broker, mqtt_collector, make_sink) -> None:
    sink = make_sink(make_cfg(mqtt_broker.url))
    wait_until(lambda: sink.connected, what="connection")
    late = mqtt_collector(mqtt_broker.url, f"{PREFIX}/status")
    late.wait_for(lambda m: len(m) >= 1)
    assert late.messages[0] == (f"{PREFIX}/status", b"online", True)  # retained
    sink.publish(make_events(1)[0])
    assert sink.close() is True
    late.wait_for(lambda m: m[-1].payload == b"offline")
    after = mqtt_collector(mqtt_broker.url, f"{PREFIX}/status")
    after.wait_for(lambda m: len(m) >= 1)
    assert after.messages[0] == (f"{PREFIX}/status", b"offline", True)


def test_state_retained_on_and_off(mqtt_broker, mqtt_collector, make_sink) -> None:
    sink = make_sink(make_cfg(mqtt_broker.url))
    start, end = make_events(2)
    state_topic = f"{PREFIX}/state/dog"
    sink.publish(start)
    wait_until(lambda: sink.spool.depth == 0 and sink.stats()["sent"] == 2, what="ack")
    first = mqtt_collector(mqtt_broker.url, state_topic)
    first.wait_for(lambda m: len(m) == 1)
    assert first.messages == [(state_topic, b"ON", True)]
    sink.publish(end)
    first.wait_for(lambda m: len(m) == 2)
    assert first.messages[1] == (state_topic, b"OFF", False)  # live delivery of a retained message
    wait_until(lambda: sink.spool.depth == 0, what="ack")
    second = mqtt_collector(mqtt_broker.url, state_topic)
    second.wait_for(lambda m: len(m) == 1)
    assert second.messages == [(state_topic, b"OFF", True)]


def test_qos2_and_custom_prefix(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, "site/a/#")
    sink = make_sink(make_cfg(mqtt_broker.url, qos=2, prefix="site/a/", client_id="custom-client"))
    events = make_events(6)
    for event in events:
        sink.publish(event)
    collector.wait_for(lambda m: len([x for x in m if x.topic == "site/a/events/dog"]) == 6)
    assert collector.payloads("site/a/events/dog") == event_payloads(events)
    wait_until(lambda: sink.spool.depth == 0, what="PUBCOMP of every message")


def test_mqtt5_protocol(mqtt_broker, mqtt_collector, make_sink) -> None:
    if not mqtt_broker.mqtt5:
        pytest.skip(f"the {mqtt_broker.kind} test broker does not speak MQTT 5")
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/#")
    sink = make_sink(make_cfg(mqtt_broker.url, protocol="5"))
    events = make_events(10)
    for event in events:
        sink.publish(event)
    collector.wait_for(lambda m: len([x for x in m if x.topic == f"{PREFIX}/events/dog"]) == 10)
    assert collector.payloads(f"{PREFIX}/events/dog") == event_payloads(events)
    assert collector.payloads(f"{PREFIX}/status") == [b"online"]
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty")
    assert sink.close() is True
    collector.wait_for(lambda m: m[-1].payload == b"offline")


def test_stats_published_only_when_connected(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/stats")
    sink = make_sink(make_cfg(mqtt_broker.url))
    wait_until(lambda: sink.connected, what="connection")
    assert sink.publish_stats({"rtf": 0.12, "level_dbfs": float("-inf"), "dropped_samples": 0}) is True
    collector.wait_for(lambda m: len(m) == 1)
    body = json.loads(collector.messages[0].payload)
    assert body == {
        "rtf": 0.12,
        "level_dbfs": None,
        "dropped_samples": 0,
        "spool_depth": 0,
        "spool_dropped": 0,
    }
    assert collector.messages[0].retain is False
    mqtt_broker.stop()
    wait_until(lambda: not sink.connected, what="disconnect")
    assert sink.publish_stats({"rtf": 0.1}) is False
    assert sink.spool.depth == 0  # stats are never spooled


# -- broker down, outages, the spool -------------------------------------------------------------------


def _unused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"mqtt://127.0.0.1:{sock.getsockname()[1]}"


def test_start_with_broker_down_never_raises(tmp_path: Path, make_sink) -> None:
    url = _unused_url()
    sink = make_sink(make_cfg(url))
    events = make_events(4)
    for event in events:
        sink.publish(event)
    time.sleep(0.3)
    assert sink.stats()["connected"] is False
    assert sink.spool.depth == 8
    t0 = time.monotonic()
    assert sink.close(drain_timeout=0.2) is False  # not drained: the messages stay on disk
    assert time.monotonic() - t0 < 3.0
    with Spool(tmp_path / "spool-0.sqlite") as spool:
        assert [m.topic for m in spool.peek(8)] == [f"{PREFIX}/events/dog", f"{PREFIX}/state/dog"] * 4


def test_broker_restart_backlog_delivered_in_order_exactly_once(
    mqtt_broker, mqtt_collector, make_sink
) -> None:
    # A persistent-session subscriber (mosquitto keeps it across the restart) sees every message.
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/#", client_id="outage-sub", clean=False)
    if mqtt_broker.persistent:
        cfg = make_cfg(mqtt_broker.url)
    else:  # amqtt forgets sessions: let the subscriber reconnect well before the sink
        cfg = make_cfg(mqtt_broker.url, reconnect_min_seconds=3.0, reconnect_max_seconds=3.0)
    sink = make_sink(cfg)
    events = make_events(60)
    before, during, after = events[:6], events[6:56], events[56:]
    topic = f"{PREFIX}/events/dog"
    for event in before:
        sink.publish(event)
    collector.wait_for(lambda m: len([x for x in m if x.topic == topic]) == len(before))
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty before the outage")
    time.sleep(0.3)  # let the broker take the subscriber's PUBACKs (else *it* re-delivers after restart)

    mqtt_broker.stop()
    wait_until(lambda: not sink.connected, what="the sink to notice the outage")
    for event in during:
        sink.publish(event)
    assert sink.spool.depth == 2 * len(during)  # all on disk, none lost
    time.sleep(0.3)  # reconnect attempts fail meanwhile
    mqtt_broker.start()
    if not mqtt_broker.persistent:
        collector.wait_subscribed(2)
    wait_until(lambda: sink.connected, timeout=8.0, what="reconnect")
    for event in after:
        sink.publish(event)

    collector.wait_for(lambda m: len([x for x in m if x.topic == topic]) >= len(events), timeout=8.0)
    time.sleep(0.2)  # a duplicate would arrive now
    assert collector.payloads(topic) == event_payloads(events)  # in order, no loss, no duplicate
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty")
    stats = sink.stats()
    assert stats["reconnects"] >= 1
    assert stats["sent"] == 2 * len(events)
    assert stats["spool_dropped"] == 0


def test_outage_while_sending_never_reorders(mqtt_broker, mqtt_collector, make_sink) -> None:
    """Messages in flight when the broker dies are re-sent first: duplicates possible, never reordering."""
    if not mqtt_broker.persistent:
        pytest.skip("needs a broker that keeps the subscriber's session across a restart (mosquitto)")
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/events/#", client_id="inflight-sub", clean=False)
    sink = make_sink(make_cfg(mqtt_broker.url))
    wait_until(lambda: sink.connected, what="connection")
    events = make_events(400)
    for event in events:
        sink.publish(event)
    wait_until(lambda: sink.stats()["sent"] >= 40, what="some acknowledged")
    mqtt_broker.stop()  # with messages in flight
    time.sleep(0.2)
    mqtt_broker.start()
    collector.wait_for(lambda m: {x.payload for x in m} >= set(event_payloads(events)), timeout=8.0)
    seqs = [json.loads(x.payload)["seq"] for x in collector.messages]
    firsts = list(dict.fromkeys(seqs))
    assert firsts == [e.seq for e in events]  # first deliveries strictly in order, none missing
    for i, seq in enumerate(seqs):  # a duplicate comes before anything newer than all seen so far
        if seq in seqs[:i]:
            assert max(seqs[: i + 1]) == max(seqs[:i])
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty")


def test_messages_leave_the_spool_only_when_acknowledged(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/events/#")
    sink = make_sink(make_cfg(mqtt_broker.url, keepalive_seconds=60))
    wait_until(lambda: sink.connected, what="connection")
    time.sleep(0.1)  # `online` acknowledged
    mqtt_broker.pause()  # connection open, no PUBACKs
    try:
        events = make_events(4)
        t0 = time.monotonic()
        for event in events:
            sink.publish(event)
        assert time.monotonic() - t0 < 3.0  # publish() never waits for the (frozen) broker
        time.sleep(0.5)  # sent into the socket, not acknowledged
        assert sink.spool.depth == 8
        assert sink.stats()["sent"] == 0
    finally:
        mqtt_broker.resume()
    wait_until(lambda: sink.spool.depth == 0, what="PUBACKs")
    assert sink.stats()["sent"] == 8
    collector.wait_for(lambda m: len(m) == 4)
    assert collector.payloads(f"{PREFIX}/events/dog") == event_payloads(events)


def test_in_flight_resent_in_order_after_broker_crash(mqtt_broker, mqtt_collector, make_sink) -> None:
    """The broker dies holding unacknowledged messages: they are sent again, first, in order."""
    if mqtt_broker.persistent:
        # a persistent session, saved by a clean restart: the crashed broker comes back with it
        collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/events/#", client_id="crash-sub", clean=False)
        mqtt_broker.stop()
        mqtt_broker.start()
        collector.wait_subscribed(2)
        cfg = make_cfg(mqtt_broker.url)
    else:  # no persistence: the subscriber must be back before the sink reconnects
        collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/events/#")
        cfg = make_cfg(mqtt_broker.url, reconnect_min_seconds=3.0, reconnect_max_seconds=3.0)
    sink = make_sink(cfg)
    wait_until(lambda: sink.connected, what="connection")
    time.sleep(0.1)
    mqtt_broker.pause()
    events = make_events(30)  # 60 messages: 20 go in flight, 40 wait in the spool
    for event in events:
        sink.publish(event)
    time.sleep(0.3)
    assert sink.spool.depth == 60
    mqtt_broker.kill()  # what it had not read is lost with it
    wait_until(lambda: not sink.connected, what="the sink to notice")
    subscriptions = collector.subscriptions
    mqtt_broker.start()
    collector.wait_subscribed(subscriptions + 1)
    collector.wait_for(lambda m: len(m) >= 30, timeout=8.0)
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty")
    time.sleep(0.2)
    assert collector.payloads(f"{PREFIX}/events/dog") == event_payloads(events)  # in order, exactly once
    assert sink.stats()["reconnects"] == 1


def test_spool_survives_close_and_new_sink_delivers(
    mqtt_broker, mqtt_collector, make_sink, tmp_path: Path
) -> None:
    spool_path = tmp_path / "shared.sqlite"
    mqtt_broker.stop()
    first = make_sink(make_cfg(mqtt_broker.url), spool_path=spool_path)
    events = make_events(10)
    for event in events:
        first.publish(event)
    assert first.close(drain_timeout=0) is False
    assert Spool(spool_path).depth == 20

    mqtt_broker.start()
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/events/#")
    second = make_sink(make_cfg(mqtt_broker.url), spool_path=spool_path)
    collector.wait_for(lambda m: len(m) == 10)
    assert collector.payloads(f"{PREFIX}/events/dog") == event_payloads(events)
    wait_until(lambda: second.spool.depth == 0, what="spool to empty")
    assert second.close() is True


_CRASH_CLIENT = textwrap.dedent(
    """
    import dataclasses, json, sys, time
    from pathlib import Path
    from detector.config import load_config
    from detector.events import Event
    from detector.sinks import MqttSink

    url, spool, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    cfg = dataclasses.replace(load_config(None).mqtt, url=url, keepalive_seconds=5, password_env=None,
                              reconnect_min_seconds=0.05, reconnect_max_seconds=0.2)
    sink = MqttSink(cfg, "willbox", spool_path=spool)
    sink.start()
    if mode == "connect":
        while not sink.connected:
            time.sleep(0.02)
    else:
        for i in range(1, 6):
            sink.publish(Event.from_dict(json.loads(sys.argv[4].replace("SEQ", str(i)))))
    print("ready", flush=True)
    time.sleep(60)
    """
)


def _run_client(args: list[str]) -> subprocess.Popen[str]:
    """Run ``_CRASH_CLIENT`` and wait until it prints ``ready`` (its log lines go to stdout too)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH_CLIENT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.strip() == "ready":
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    # Importing detector takes ~1 s, much longer on a loaded machine: a generous limit (the test takes ~2 s).
    if not ready.wait(30.0):
        proc.kill()
        proc.wait()
        raise AssertionError("client subprocess did not get ready")
    return proc


def test_last_will_offline_when_process_killed(mqtt_broker, mqtt_collector, tmp_path: Path) -> None:
    status = "sigdetect/willbox/status"
    collector = mqtt_collector(mqtt_broker.url, status)
    proc = _run_client([mqtt_broker.url, str(tmp_path / "will.sqlite"), "connect"])
    try:
        collector.wait_for(lambda m: [x.payload for x in m] == [b"online"])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5.0)
        collector.wait_for(lambda m: [x.payload for x in m] == [b"online", b"offline"])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    retained = mqtt_collector(mqtt_broker.url, status)
    retained.wait_for(lambda m: len(m) >= 1)
    assert set(retained.messages) == {(status, b"offline", True)}  # (amqtt may deliver it twice)


def test_spool_survives_crash(mqtt_broker, mqtt_collector, make_sink, tmp_path: Path) -> None:
    spool_path = tmp_path / "crash.sqlite"
    mqtt_broker.stop()
    template = make_events(1)[0].to_dict() | {"device": "willbox", "seq": "SEQ"}
    proc = _run_client(
        [mqtt_broker.url, str(spool_path), "spool", json.dumps(template).replace('"SEQ"', "SEQ")]
    )
    os.kill(proc.pid, signal.SIGKILL)  # no close(): the spool file is all that is left
    proc.wait(5.0)
    mqtt_broker.start()
    collector = mqtt_collector(mqtt_broker.url, "sigdetect/willbox/events/#")
    sink = make_sink(make_cfg(mqtt_broker.url), device="willbox", spool_path=spool_path)
    collector.wait_for(lambda m: len(m) == 5)
    assert [json.loads(x.payload)["seq"] for x in collector.messages] == [1, 2, 3, 4, 5]
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty")


def test_spool_cap_drops_oldest_and_counts(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/events/#")
    cfg = make_cfg(mqtt_broker.url, spool=SpoolConfig(max_messages=10))
    sink = make_sink(cfg, start=False)  # not connected yet: everything stays in the spool
    events = make_events(10)  # 20 messages into a spool of 10
    for event in events:
        sink.publish(event)
    assert sink.stats()["spool_depth"] == 10
    assert sink.stats()["spool_dropped"] == 10
    sink.start()
    wait_until(lambda: sink.spool.depth == 0, what="spool to empty")
    collector.wait_for(lambda m: len(m) >= 5)
    time.sleep(0.2)
    assert collector.payloads(f"{PREFIX}/events/dog") == event_payloads(events[5:])  # the newest half
    assert sink.stats()["spool_dropped"] == 10
    assert sink.stats()["sent"] == 10


def test_corrupt_spool_file_set_aside(mqtt_broker, mqtt_collector, make_sink, tmp_path: Path) -> None:
    spool_path = tmp_path / "bad.sqlite"
    spool_path.write_bytes(b"this is not an sqlite database" * 100)
    with structlog.testing.capture_logs() as logs:
        sink = make_sink(make_cfg(mqtt_broker.url), spool_path=spool_path)
    aside = list(tmp_path.glob("bad.sqlite.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes().startswith(b"this is not an sqlite database")
    assert any("set aside" in entry["event"] for entry in logs)
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/events/#")
    events = make_events(2)
    for event in events:
        sink.publish(event)
    collector.wait_for(lambda m: len(m) == 2)
    assert collector.payloads(f"{PREFIX}/events/dog") == event_payloads(events)
    assert sink.spool.persistent


# -- configuration and authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://broker:1883", "mqtt://"),
        ("mqtt://", "mqtt://"),
        ("mqtt://broker:99999", "mqtt://"),
        ("mqtt://broker/some/path", "mqtt://"),
    ],
)
def test_bad_url_is_a_config_error(url: str, fragment: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        MqttSink(make_cfg(url), DEVICE, spool_path=tmp_path / "s.sqlite")
    assert err.value.key == "mqtt.url"
    assert fragment in err.value.expected


def test_password_in_url_rejected_and_redacted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        MqttSink(make_cfg("mqtt://user:hunter2@broker"), DEVICE, spool_path=tmp_path / "s.sqlite")
    assert err.value.key == "mqtt.url"
    assert "hunter2" not in str(err.value)
    assert "password_file" in str(err.value)


def test_unreadable_password_file_and_missing_ca_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        MqttSink(
            make_cfg("mqtt://u@broker", password_file=str(tmp_path / "nope")),
            DEVICE,
            spool_path=tmp_path / "s.sqlite",
        )
    assert err.value.key == "mqtt.password_file"
    tls = dataclasses.replace(load_config(None).mqtt.tls, ca_file=str(tmp_path / "missing-ca.pem"))
    with pytest.raises(ConfigError) as err:
        MqttSink(make_cfg("mqtts://broker", tls=tls), DEVICE, spool_path=tmp_path / "s.sqlite")
    assert err.value.key == "mqtt.tls.ca_file"
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate\n")
    tls = dataclasses.replace(tls, ca_file=str(bad_ca))
    with pytest.raises(ConfigError) as err:
        MqttSink(make_cfg("mqtts://broker", tls=tls), DEVICE, spool_path=tmp_path / "s.sqlite")
    assert err.value.key == "mqtt.tls"


def test_url_defaults_and_tls_port(tmp_path: Path) -> None:
    sink = MqttSink(make_cfg("mqtts://alice@broker.example"), DEVICE, spool_path=tmp_path / "s.sqlite")
    assert (sink.host, sink.port, sink.tls, sink.username) == ("broker.example", 8883, True, "alice")
    assert sink.client_id == f"sigdetect-{DEVICE}"
    sink.close(0)
    sink = MqttSink(make_cfg("mqtt://broker"), DEVICE, spool_path=tmp_path / "t.sqlite")
    assert (sink.port, sink.tls, sink.username) == (1883, False, None)
    sink.close(0)


def _rendered(logs: list[dict[str, Any]], captured: Any) -> str:
    return json.dumps(logs, default=str) + captured.out + captured.err


def test_username_password_auth_and_password_never_logged(
    make_mqtt_broker, mqtt_collector, make_sink, tmp_path: Path, capfd, caplog, monkeypatch
) -> None:
    password = "s3cret-PW-7f2c"
    broker = make_mqtt_broker(users={"sensor": password, "viewer": "viewer-pw"})
    collector = mqtt_collector(broker.url, f"{PREFIX}/events/#", username="viewer", password="viewer-pw")
    pw_file = tmp_path / "pw"
    pw_file.write_text(password + "\nignored second line\n")
    url = f"mqtt://sensor@127.0.0.1:{broker.port}"
    with structlog.testing.capture_logs() as logs:
        sink = make_sink(make_cfg(url, password_file=str(pw_file)))
        sink.publish(make_events(1)[0])
        collector.wait_for(lambda m: len(m) == 1)
        assert sink.close() is True
        # the environment variable is used when there is no password file
        monkeypatch.setenv("SIGDETECT_TEST_PW", password)
        env_sink = make_sink(make_cfg(url, password_env="SIGDETECT_TEST_PW", client_id="env-client"))
        env_sink.publish(make_events(2, first_seq=3)[1])
        collector.wait_for(lambda m: len(m) == 2)
        # a wrong password: refused, logged, still no password in the logs
        monkeypatch.setenv("SIGDETECT_TEST_WRONG", "wrong-" + password)
        wrong = make_sink(make_cfg(url, password_env="SIGDETECT_TEST_WRONG", client_id="wrong"))
        time.sleep(0.5)
        assert wrong.connected is False
    refused = [e for e in logs if e["event"] == "mqtt credentials refused"]
    assert refused and "mqtt.password_file" in refused[0]["fix"]
    assert any(entry.get("user") == "sensor" for entry in logs)
    text = _rendered(logs, capfd.readouterr()) + caplog.text
    assert password not in text


def test_anonymous_refused_by_password_broker(make_mqtt_broker, make_sink) -> None:
    broker = make_mqtt_broker(users={"sensor": "pw-123456"})
    sink = make_sink(make_cfg(broker.url))
    sink.publish(make_events(1)[0])
    time.sleep(0.5)
    assert sink.stats()["connected"] is False
    assert sink.spool.depth == 2  # kept for when the credentials are fixed


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tls_certs(tmp_path: Path) -> dict[str, Path]:
    """A throw-away CA and two server certificates it signed: for 127.0.0.1, and for another host name."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not on PATH: cannot make test certificates")
    d = tmp_path / "pki"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=t-ca", cwd=d
    )
    for name, san in (("good", "IP:127.0.0.1"), ("wrong", "DNS:elsewhere.example")):
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d,
        )  # fmt: skip
    return {p.stem + p.suffix: p for p in d.iterdir()}


def test_tls_with_ca_file(make_mqtt_broker, make_sink, tls_certs: dict[str, Path]) -> None:
    broker = make_mqtt_broker(tls=(tls_certs["ca.pem"], tls_certs["good.pem"], tls_certs["good.key"]))
    assert broker.url.startswith("mqtts://")
    tls = dataclasses.replace(load_config(None).mqtt.tls, ca_file=str(tls_certs["ca.pem"]))
    sink = make_sink(make_cfg(broker.url, tls=tls))
    assert sink.port == broker.port and sink.tls
    sink.publish(make_events(1)[0])
    wait_until(lambda: sink.spool.depth == 0, what="delivery over TLS")
    assert sink.stats()["sent"] == 2
    untrusted = make_sink(make_cfg(broker.url, client_id="untrusted"))  # system CAs: do not know ours
    untrusted.publish(make_events(1)[0])
    time.sleep(0.5)
    assert untrusted.connected is False and untrusted.spool.depth == 2


def test_tls_host_name_check_and_insecure(make_mqtt_broker, make_sink, tls_certs: dict[str, Path]) -> None:
    broker = make_mqtt_broker(tls=(tls_certs["ca.pem"], tls_certs["wrong.pem"], tls_certs["wrong.key"]))
    tls = dataclasses.replace(load_config(None).mqtt.tls, ca_file=str(tls_certs["ca.pem"]))
    strict = make_sink(make_cfg(broker.url, tls=tls, client_id="strict"))
    time.sleep(0.5)
    assert strict.connected is False  # the certificate is for elsewhere.example
    relaxed = make_sink(
        make_cfg(broker.url, tls=dataclasses.replace(tls, insecure=True), client_id="relaxed")
    )
    wait_until(lambda: relaxed.connected, what="connection without the host name check")


def test_check_broker(make_mqtt_broker, tmp_path: Path, tls_certs: dict[str, Path]) -> None:
    password = "chk-pw-9931"
    broker = make_mqtt_broker(users={"sensor": password})
    pw_file = tmp_path / "pw"
    pw_file.write_text(password + "\n")
    url = f"mqtt://sensor@127.0.0.1:{broker.port}"
    ok, message = check_broker(make_cfg(url, password_file=str(pw_file)), DEVICE)
    assert ok, message
    assert f"127.0.0.1:{broker.port}" in message and "user sensor" in message and password not in message
    ok, message = check_broker(make_cfg(url, password_env=None), DEVICE)  # no password
    assert not ok and "refused" in message
    ok, message = check_broker(make_cfg(url, password_file=str(tmp_path / "missing")), DEVICE)
    assert not ok and "mqtt.password_file" in message
    ok, message = check_broker(make_cfg(_unused_url()), DEVICE)
    assert not ok and "cannot connect" in message
    ok, message = check_broker(make_cfg("http://x"), DEVICE)
    assert not ok and "mqtt.url" in message
    tls_broker = make_mqtt_broker(tls=(tls_certs["ca.pem"], tls_certs["good.pem"], tls_certs["good.key"]))
    tls = dataclasses.replace(load_config(None).mqtt.tls, ca_file=str(tls_certs["ca.pem"]))
    ok, message = check_broker(make_cfg(tls_broker.url, tls=tls, protocol="5"), DEVICE)
    assert ok and "TLS, MQTT 5" in message
    ok, message = check_broker(make_cfg(tls_broker.url), DEVICE)  # the system CAs do not know ours
    assert not ok and "cannot connect" in message


# -- remote enrollment ------------------------------------------------------------------------------------


class Handlers:
    """Records handler calls (with the calling thread's name); ``fail`` makes the next call raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes | None, str]] = []
        self.fail = False

    def set(self, name: str, payload: bytes) -> tuple[bool, str]:
        self.calls.append(("set", name, payload, threading.current_thread().name))
        if self.fail:
            raise RuntimeError("disk on fire")
        return True, f"stored {name} ({len(payload)} bytes)"

    def delete(self, name: str) -> tuple[bool, str]:
        self.calls.append(("delete", name, None, threading.current_thread().name))
        return (name == "dog"), ("deleted" if name == "dog" else f"no signature {name}")


@pytest.fixture
def enrolling(mqtt_broker, mqtt_collector, make_sink) -> tuple[Any, MqttSink, Handlers, Callable[..., None]]:
    handlers = Handlers()
    cfg = make_cfg(mqtt_broker.url, remote_enrollment=RemoteEnrollmentConfig(enabled=True, max_bytes=1024))
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/signatures/+/result")
    sink = make_sink(cfg, on_signature_set=handlers.set, on_signature_delete=handlers.delete)
    wait_until(lambda: sink.connected, what="connection")
    time.sleep(0.1)  # SUBACK

    def send(topic: str, payload: bytes = b"", retain: bool = False) -> None:
        paho_publish.single(topic, payload, qos=1, retain=retain, hostname="127.0.0.1", port=mqtt_broker.port)

    return collector, sink, handlers, send


def _results(collector: Any) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in collector.messages]


def test_remote_set_and_delete_call_handlers_in_a_worker(enrolling) -> None:
    collector, sink, handlers, send = enrolling
    send(f"{PREFIX}/signatures/dog/set", b"SIGDATA\x00\x01")
    collector.wait_for(lambda m: len(m) == 1)
    assert handlers.calls == [("set", "dog", b"SIGDATA\x00\x01", "mqtt-enroll")]
    assert _results(collector) == [
        {"target": "dog", "action": "set", "ok": True, "message": "stored dog (9 bytes)"}
    ]
    assert collector.messages[0].topic == f"{PREFIX}/signatures/dog/result"
    assert collector.messages[0].retain is False
    send(f"{PREFIX}/signatures/cat/delete")
    collector.wait_for(lambda m: len(m) == 2)
    assert handlers.calls[-1][:2] == ("delete", "cat")
    assert _results(collector)[1] == {
        "target": "cat",
        "action": "delete",
        "ok": False,
        "message": "no signature cat",
    }


def test_remote_oversized_payload_rejected_without_handler(enrolling) -> None:
    collector, sink, handlers, send = enrolling
    send(f"{PREFIX}/signatures/dog/set", b"x" * 2000)
    collector.wait_for(lambda m: len(m) == 1)
    result = _results(collector)[0]
    assert result["ok"] is False and result["action"] == "set" and result["target"] == "dog"
    assert "2000" in result["message"] and "1024" in result["message"]
    assert handlers.calls == []


@pytest.mark.parametrize("name", ["..", ".hidden", "a" * 65, "sp ace"])
def test_remote_bad_target_name_rejected(enrolling, name: str) -> None:
    collector, sink, handlers, send = enrolling
    send(f"{PREFIX}/signatures/{name}/set", b"data")
    collector.wait_for(lambda m: len(m) == 1)
    result = _results(collector)[0]
    assert result["ok"] is False and result["target"] == name
    assert "not allowed" in result["message"]
    assert handlers.calls == []


def test_remote_handler_exception_becomes_ok_false(enrolling) -> None:
    collector, sink, handlers, send = enrolling
    handlers.fail = True
    send(f"{PREFIX}/signatures/dog/set", b"data")
    collector.wait_for(lambda m: len(m) == 1)
    assert _results(collector)[0] == {
        "target": "dog",
        "action": "set",
        "ok": False,
        "message": "RuntimeError: disk on fire",
    }
    handlers.fail = False  # the worker survived and serves the next request
    send(f"{PREFIX}/signatures/dog/set", b"data2")
    collector.wait_for(lambda m: len(m) == 2)
    assert _results(collector)[1]["ok"] is True


def test_remote_retained_command_ignored(enrolling, mqtt_broker) -> None:
    collector, sink, handlers, send = enrolling
    send(f"{PREFIX}/signatures/dog/delete", b"", retain=True)  # live: processed once
    collector.wait_for(lambda m: len(m) == 1)
    assert len(handlers.calls) == 1
    mqtt_broker.stop()  # on reconnect the broker replays the retained command: ignored
    mqtt_broker.start()
    wait_until(lambda: sink.connected and sink.stats()["reconnects"] >= 1, timeout=8.0, what="reconnect")
    time.sleep(0.3)
    assert len(handlers.calls) == 1


def test_remote_enrollment_off_by_default(mqtt_broker, mqtt_collector, make_sink) -> None:
    handlers = Handlers()
    collector = mqtt_collector(mqtt_broker.url, f"{PREFIX}/signatures/#")
    sink = make_sink(make_cfg(mqtt_broker.url), on_signature_set=handlers.set)
    wait_until(lambda: sink.connected, what="connection")
    paho_publish.single(
        f"{PREFIX}/signatures/dog/set", b"x", qos=1, hostname="127.0.0.1", port=mqtt_broker.port
    )
    collector.wait_for(lambda m: len(m) == 1)  # our own publish
    time.sleep(0.3)
    assert handlers.calls == []
    assert [m.topic for m in collector.messages] == [f"{PREFIX}/signatures/dog/set"]


# -- Home Assistant discovery -----------------------------------------------------------------------------


def _configs(collector: Any) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for m in collector.messages:
        if m.topic.endswith("/config"):
            out.setdefault(m.topic, []).append(m.payload)
    return out


def test_home_assistant_discovery(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, ["homeassistant/+/+/+/config", f"{PREFIX}/state/#"])
    cfg = make_cfg(mqtt_broker.url, homeassistant=HomeAssistantConfig(enabled=True))
    sink = make_sink(cfg)
    wait_until(lambda: sink.connected, what="connection")
    sink.set_targets(["dog", "glass"])
    node = f"sigdetect_{DEVICE}"
    topics = {
        f"homeassistant/event/{node}/dog/config",
        f"homeassistant/binary_sensor/{node}/dog/config",
        f"homeassistant/event/{node}/glass/config",
        f"homeassistant/binary_sensor/{node}/glass/config",
        f"homeassistant/sensor/{node}/input_level/config",
    }
    collector.wait_for(lambda m: set(_configs(collector)) >= topics)
    configs = {t: json.loads(p[-1]) for t, p in _configs(collector).items()}
    event = configs[f"homeassistant/event/{node}/dog/config"]
    assert event["state_topic"] == f"{PREFIX}/events/dog"
    assert event["event_types"] == ["start", "end"]
    assert "value_json.state" in event["value_template"] and "event_type" in event["value_template"]
    assert event["availability_topic"] == f"{PREFIX}/status"
    assert event["device"]["identifiers"] == [node]
    assert event["device"]["model"] == "sigdetect"
    assert event["device"]["sw_version"]
    binary = configs[f"homeassistant/binary_sensor/{node}/dog/config"]
    assert (binary["state_topic"], binary["payload_on"], binary["payload_off"], binary["device_class"]) == (
        f"{PREFIX}/state/dog",
        "ON",
        "OFF",
        "sound",
    )
    level = configs[f"homeassistant/sensor/{node}/input_level/config"]
    assert level["state_topic"] == f"{PREFIX}/stats"
    assert "level_dbfs" in level["value_template"] and level["unit_of_measurement"] == "dBFS"
    assert len({c["unique_id"] for c in configs.values()}) == 5
    # new targets start OFF (retained)
    offs = {(f"{PREFIX}/state/dog", b"OFF"), (f"{PREFIX}/state/glass", b"OFF")}
    collector.wait_for(lambda m: {(x.topic, x.payload) for x in m} >= offs)
    assert collector.payloads(f"{PREFIX}/state/glass") == [b"OFF"]

    # a removed target: empty retained configs (Home Assistant deletes the entities), state cleared
    sink.set_targets(["dog"])
    glass = [f"homeassistant/event/{node}/glass/config", f"homeassistant/binary_sensor/{node}/glass/config"]
    collector.wait_for(lambda m: all(_configs(collector)[t][-1] == b"" for t in glass))
    collector.wait_for(lambda m: collector.payloads(f"{PREFIX}/state/glass")[-1:] == [b""])
    late = mqtt_collector(mqtt_broker.url, "homeassistant/+/+/+/config")
    late.wait_for(lambda m: len(m) >= 3)
    time.sleep(0.2)
    configs_left = [m for m in late.messages if m.topic.startswith("homeassistant/") and m.payload]
    assert {m.topic for m in configs_left} == topics - set(glass)  # only the current ones are left
    assert all(m.retain for m in configs_left)

    # Home Assistant restarts: everything is re-sent
    dog_before = len(_configs(collector)[f"homeassistant/event/{node}/dog/config"])
    paho_publish.single("homeassistant/status", b"online", qos=1, hostname="127.0.0.1", port=mqtt_broker.port)
    collector.wait_for(
        lambda m: len(_configs(collector)[f"homeassistant/event/{node}/dog/config"]) == dog_before + 1
    )


def test_home_assistant_stale_config_of_a_previous_run_removed(
    mqtt_broker, mqtt_collector, make_sink
) -> None:
    node = f"sigdetect_{DEVICE}"
    stale = f"homeassistant/event/{node}/oldtarget/config"
    paho_publish.single(
        stale, b'{"name": "old"}', qos=1, retain=True, hostname="127.0.0.1", port=mqtt_broker.port
    )
    collector = mqtt_collector(mqtt_broker.url, "homeassistant/+/+/+/config")
    collector.wait_for(lambda m: [(x.topic, x.retain) for x in m] == [(stale, True)])
    cfg = make_cfg(mqtt_broker.url, homeassistant=HomeAssistantConfig(enabled=True))
    sink = make_sink(cfg)
    wait_until(lambda: sink.connected, what="connection")
    time.sleep(0.2)  # the retained stale config reaches the sink
    sink.set_targets(["dog"])
    collector.wait_for(lambda m: [x.payload for x in m if x.topic == stale][-1] == b"")  # emptied
    time.sleep(0.2)
    late = mqtt_collector(mqtt_broker.url, "homeassistant/+/+/+/config")
    late.wait_for(lambda m: len(m) >= 3)
    time.sleep(0.2)
    assert stale not in {m.topic for m in late.messages if m.payload}


def test_home_assistant_targets_set_before_connecting(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, ["ha/+/+/+/config", f"{PREFIX}/state/#"])
    cfg = make_cfg(mqtt_broker.url, homeassistant=HomeAssistantConfig(enabled=True, prefix="ha"))
    sink = make_sink(cfg, start=False)
    sink.set_targets(["dog"])
    time.sleep(0.2)
    assert collector.messages == []  # not connected yet
    sink.start()  # the connection publishes them
    topics = {f"ha/event/sigdetect_{DEVICE}/dog/config", f"ha/binary_sensor/sigdetect_{DEVICE}/dog/config"}
    collector.wait_for(
        lambda m: topics <= {x.topic for x in m} and f"{PREFIX}/state/dog" in {x.topic for x in m}
    )


def test_home_assistant_off_publishes_no_configs(mqtt_broker, mqtt_collector, make_sink) -> None:
    collector = mqtt_collector(mqtt_broker.url, ["homeassistant/#", f"{PREFIX}/state/#"])
    sink = make_sink(make_cfg(mqtt_broker.url))
    sink.set_targets(["dog"])
    collector.wait_for(lambda m: any(x.topic == f"{PREFIX}/state/dog" for x in m))
    time.sleep(0.2)
    assert [m.topic for m in collector.messages] == [f"{PREFIX}/state/dog"]
