"""Shared test fixtures: a private MQTT broker process (mosquitto, else amqtt) and a recording subscriber."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

SYSTEM_BROKER_PORT = 1883  # a broker may already run there; tests never use it
BROKER_START_TIMEOUT_SECONDS = 10.0

# The embedded fallback broker: amqtt in its own process so that stop() can kill it.
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (never 1883)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != SYSTEM_BROKER_PORT:
            return int(port)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def broker_kind() -> str | None:
    """Which broker the tests can run: ``mosquitto``, ``amqtt`` or None.

    ``SIGDETECT_TEST_BROKER=amqtt`` forces the embedded fallback (to test it on a machine with mosquitto).
    """
    forced = os.environ.get("SIGDETECT_TEST_BROKER")
    if forced in ("mosquitto", "amqtt"):
        return forced
    if shutil.which("mosquitto"):
        return "mosquitto"
    try:
        import amqtt  # noqa: F401
    except ImportError:
        return None
    return "amqtt"


class Broker:
    """A private MQTT broker process on 127.0.0.1 and a free port; ``stop()``/``start()`` keep the port.

    Attributes:
        host: ``127.0.0.1``.
        port: The listener's port.
        url: ``mqtt://127.0.0.1:<port>``.
        kind: ``mosquitto`` or ``amqtt``.
        persistent: Sessions and retained messages survive ``stop()``/``start()`` (mosquitto only).
        mqtt5: Speaks MQTT 5 (mosquitto; amqtt is 3.1.1 only).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        kind: str,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        self.workdir = workdir
        self.kind = kind
        self.port = free_port()
        self.url = f"{'mqtts' if tls else 'mqtt'}://{self.host}:{self.port}"
        self.persistent = kind == "mosquitto"
        self.mqtt5 = kind == "mosquitto"
        self.log_file = workdir / f"{kind}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        if kind == "mosquitto":
            conf = self._mosquitto_conf(users, tls)
            self._cmd = [shutil.which("mosquitto") or "mosquitto", "-c", str(conf)]
        else:
            if users or tls:
                raise ValueError("the amqtt fallback broker is anonymous and plain TCP only")
            self._cmd = [sys.executable, "-c", _AMQTT_SCRIPT, str(self.port)]

    def _mosquitto_conf(self, users: dict[str, str] | None, tls: tuple[Path, Path, Path] | None) -> Path:
        lines = [f"listener {self.port} {self.host}"]
        if tls:
            lines += [f"cafile {tls[0]}", f"certfile {tls[1]}", f"keyfile {tls[2]}"]
        lines += [
            f"allow_anonymous {'false' if users else 'true'}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "persistence_file mosquitto.db",
            "autosave_interval 0",
            f"log_dest file {self.log_file}",
            "log_type all",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise mosquitto drops to `mosquitto`, which cannot write here
        if users:
            passwd = shutil.which("mosquitto_passwd")
            if passwd is None:
                raise RuntimeError("mosquitto_passwd not on PATH")
            pw_file = self.workdir / "passwd"
            for i, (user, password) in enumerate(users.items()):
                flags = ["-b", "-c"] if i == 0 else ["-b"]
                subprocess.run(
                    [passwd, *flags, str(pw_file), user, password], check=True, capture_output=True
                )
            pw_file.chmod(0o600)
            lines.append(f"password_file {pw_file}")
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start (or restart) the broker on the same port and wait until it accepts connections."""
        if self.running:
            return
        out = (self.workdir / f"{self.kind}.out").open("ab")
        self._proc = subprocess.Popen(self._cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        out.close()
        deadline = time.monotonic() + BROKER_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if _accepts(self.port):
                return
            time.sleep(0.02)
        log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        out_text = (self.workdir / f"{self.kind}.out").read_text(errors="replace")
        self.stop()
        raise RuntimeError(
            f"{self.kind} did not start on port {self.port}:\n{log[-2000:]}\n{out_text[-2000:]}"
        )

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is read or acknowledged."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Continue a paused broker (SIGCONT)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Crash the broker (SIGKILL): nothing is saved; unread data in its sockets is lost."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5.0)

    def stop(self) -> None:
        """Stop the broker (SIGTERM: mosquitto saves its persistence; SIGKILL after 5 s)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)


def _new_broker(
    tmp_path_factory: pytest.TempPathFactory,
    users: dict[str, str] | None = None,
    tls: tuple[Path, Path, Path] | None = None,
) -> Broker:
    kind = broker_kind()
    if kind is None:
        pytest.skip("no MQTT broker for the tests: install mosquitto (apt) or amqtt (pip, the dev extra)")
    if (users or tls) and kind != "mosquitto":
        pytest.skip("password and TLS tests need mosquitto (the amqtt fallback is anonymous, plain TCP)")
    if users and shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd not on PATH: cannot make a password file")
    broker = Broker(tmp_path_factory.mktemp("broker"), kind, users, tls)
    broker.start()
    return broker


@pytest.fixture
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A private, anonymous broker (mosquitto, else amqtt) on a free port; stopped after the test."""
    broker = _new_broker(tmp_path_factory)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def make_mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Broker]]:
    """``make_mqtt_broker(users={"name": "pw"}, tls=(ca, cert, key))``: a private broker with options.

    With ``tls`` the listener speaks TLS only (``url`` is ``mqtts://...``). Stopped after the test.
    """
    brokers: list[Broker] = []

    def make(users: dict[str, str] | None = None, tls: tuple[Path, Path, Path] | None = None) -> Broker:
        broker = _new_broker(tmp_path_factory, users, tls)
        brokers.append(broker)
        return broker

    try:
        yield make
    finally:
        for broker in brokers:
            broker.stop()


class Received(NamedTuple):
    """One message a collector received."""

    topic: str
    payload: bytes
    retain: bool


class MqttCollector:
    """A subscriber that records every message, in arrival order, with its retain flag.

    Re-subscribes on every (re)connect and reconnects quickly (20-50 ms). With ``clean=False`` (MQTT
    3.1.1 persistent session, fixed client id) a broker with persistence keeps queueing QoS 1 messages
    for it across the broker's restart.
    """

    def __init__(
        self,
        url: str,
        topics: list[str] | str,
        *,
        client_id: str | None = None,
        clean: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.messages: list[Received] = []
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.subscriptions = 0  # SUBACKs received: one per (re)connect
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"collector-{uuid.uuid4().hex[:8]}",
            clean_session=clean,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.02, 0.05)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(5.0):
            self.close()
            raise RuntimeError(f"collector could not subscribe to {self.topics} at {url}")

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_subscribe(self, *args: Any) -> None:
        with self._cond:
            self.subscriptions += 1
            self._cond.notify_all()
        self._subscribed.set()

    def wait_subscribed(self, count: int, timeout: float = 5.0) -> None:
        """Wait until the collector has (re)subscribed ``count`` times in all (e.g. 2: after a reconnect)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.subscriptions < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"collector subscribed {self.subscriptions} times; expected {count}")
                self._cond.wait(min(remaining, 0.1))

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        """The messages received on ``topic`` so far."""
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def payloads(self, topic: str) -> list[bytes]:
        """The payloads received on ``topic`` so far, in order."""
        return [m.payload for m in self.on(topic)]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 5.0) -> list[Received]:
        """Wait until ``predicate(messages)`` holds; returns the messages, or fails showing them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self.messages)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    shown = "\n".join(
                        f"  {m.topic} {m.payload[:120]!r} retain={m.retain}" for m in self.messages
                    )
                    raise AssertionError(f"timed out after {timeout} s; received:\n{shown}")
                self._cond.wait(min(remaining, 0.1))
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_collector() -> Iterator[Callable[..., MqttCollector]]:
    """``mqtt_collector(url, topics, **options)``: a started ``MqttCollector``; closed after the test."""
    collectors: list[MqttCollector] = []

    def make(url: str, topics: list[str] | str, **options: Any) -> MqttCollector:
        collector = MqttCollector(url, topics, **options)
        collectors.append(collector)
        return collector

    try:
        yield make
    finally:
        for collector in collectors:
            collector.close()
