"""MQTT sink: events via an on-disk spool, status and Last Will, stats, HA discovery, remote enrollment.

Topics (``prefix`` defaults to ``sigdetect/<device>``):

- ``<prefix>/status``: ``online`` (retained, on every connect) / ``offline`` (retained; the Last Will, and
  published on a clean ``close``);
- ``<prefix>/events/<target>``: the Event JSON, QoS ``mqtt.qos``, not retained;
- ``<prefix>/state/<target>``: ``ON`` / ``OFF``, retained, QoS ``mqtt.qos``;
- ``<prefix>/stats``: JSON, QoS 0, only while connected (never spooled);
- ``<prefix>/signatures/<target>/set|delete`` (inbound, with ``remote_enrollment.enabled``) and
  ``<prefix>/signatures/<target>/result`` (outbound JSON ``{"target", "action", "ok", "message"}``);
- Home Assistant discovery under ``<homeassistant.prefix>/...`` (with ``homeassistant.enabled``).

Delivery guarantee: every event and state message is written to the spool first and deleted from it only
when the broker acknowledged it (PUBACK for QoS 1, PUBCOMP for QoS 2). One sender thread hands spooled
messages to paho strictly in spool order, at most ``MAX_INFLIGHT`` unacknowledged at a time. When the
connection drops, paho re-sends the unacknowledged ones first on reconnect (same order, DUP flag set) and
the sender hands over nothing new until all of those are acknowledged, so the order on the wire is always
the spool order. This is *at least once*: a message whose PUBACK was lost in the outage (or that was in
flight when the process stopped; it is still in the spool at the next start) is delivered again. A
subscriber de-duplicates events by ``(id, state)`` (unique per event message) or by ``seq`` within a run;
state messages are idempotent. A duplicate never overtakes: it is re-sent before anything newer.

Remote enrollment: the target name must pass ``validate_name`` and a ``set`` payload must be at most
``remote_enrollment.max_bytes``, else the result is ``ok: false`` without calling the handler. Handlers run
one at a time in the ``mqtt-enroll`` thread. Commands delivered as *retained* (a replay on reconnect of a
command someone published with the retain flag) are ignored and logged, so that a retained ``delete`` is
not applied again on every reconnect.

Home Assistant: ``set_targets`` publishes retained configs (an ``event`` and a ``binary_sensor`` per target,
one ``sensor`` for the input level read from ``<prefix>/stats``); removed targets get empty configs, and so
do retained configs of this device left on the broker by an earlier run for targets that no longer exist.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import math
import os
import queue
import re
import sqlite3
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from detector.config import MqttConfig
from detector.errors import ConfigError
from detector.events import Event
from detector.signatures.format import SignatureError, validate_name
from detector.sinks.spool import Spool, default_spool_path

log = structlog.get_logger("detector")

MAX_INFLIGHT = 20  # spooled messages handed to paho and not yet acknowledged
SENDER_IDLE_SECONDS = 0.5  # the sender re-checks at least this often
ENROLL_QUEUE_SIZE = 8  # remote enrollment requests waiting for the handler; more are refused
OFFLINE_WAIT_SECONDS = 2.0  # close(): how long to wait for the broker to acknowledge `offline`
AUTH_REFUSED = (134, 135)  # CONNACK: bad user name or password, not authorized (3.1.1 codes 4, 5)
URL_EXPECTED = "mqtt://[user@]host[:port] or mqtts://[user@]host[:port]"

SetHandler = Callable[[str, bytes], tuple[bool, str]]
DeleteHandler = Callable[[str], tuple[bool, str]]


# -- configuration helpers ---------------------------------------------------------------------------------


def _redact_url(url: str) -> str:
    """The url with any password in it replaced by ``***`` (for error messages)."""
    return re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:***@", url)


def parse_url(url: str) -> tuple[str, int | None, bool, str | None]:
    """Split a broker url into ``(host, port, tls, user)``; ``port`` is None when the url has none.

    Args:
        url: ``mqtt://[user@]host[:port]`` or ``mqtts://[user@]host[:port]`` (TLS).

    Raises:
        ConfigError: key ``mqtt.url``: another scheme, no host, a path, a bad port, or a password in the
            url (passwords belong in ``mqtt.password_file`` or the ``mqtt.password_env`` variable).
    """
    shown = _redact_url(str(url))
    try:
        parts = urlsplit(str(url))
        port = parts.port
    except ValueError as exc:
        raise ConfigError(None, "mqtt.url", shown, f"{URL_EXPECTED} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(None, "mqtt.url", shown, URL_EXPECTED)
    if parts.query or parts.fragment:
        raise ConfigError(None, "mqtt.url", shown, URL_EXPECTED)
    if parts.password is not None:
        raise ConfigError(
            None,
            "mqtt.url",
            shown,
            f"{URL_EXPECTED} without a password (use mqtt.password_file or the mqtt.password_env variable)",
        )
    tls = scheme == "mqtts"
    user = unquote(parts.username) if parts.username else None
    return parts.hostname, port, tls, user


def read_password(cfg: MqttConfig) -> str | None:
    """The broker password: first line of ``password_file``, else ``$<password_env>`` when set, else None.

    Raises:
        ConfigError: key ``mqtt.password_file``: the file cannot be read (the message names the file,
            never its content).
    """
    if cfg.password_file:
        path = Path(cfg.password_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ConfigError(
                None,
                "mqtt.password_file",
                str(path),
                f"a readable UTF-8 file holding the password ({reason})",
            ) from None
        return lines[0] if lines else ""
    if cfg.password_env:
        return os.environ.get(cfg.password_env)
    return None


def topic_level(name: str) -> str:
    """``name`` made safe as one MQTT topic level (``/``, ``+``, ``#`` and control characters -> ``_``)."""
    return re.sub(r"[/+#\x00-\x1f\x7f]", "_", name) or "_"


def _ha_id(name: str) -> str:
    """A Home Assistant node/object id for ``name`` ([A-Za-z0-9_-]; a hash keeps altered names unique)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe != name:
        safe += "_" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
    return safe


def apply_tls(client: paho.Client, cfg: MqttConfig) -> None:
    """Configure TLS on ``client`` from ``cfg.tls`` (CA, client certificate and key, host name check).

    Raises:
        ConfigError: key ``mqtt.tls.<file>``: a missing or unreadable file; ``mqtt.tls``: unusable files.
    """
    tls = cfg.tls
    files: dict[str, str | None] = {
        "ca_file": tls.ca_file,
        "cert_file": tls.cert_file,
        "key_file": tls.key_file,
    }
    for key, value in files.items():
        if value is None:
            continue
        path = Path(value).expanduser()
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ConfigError(None, f"mqtt.tls.{key}", value, "a readable PEM file")
        files[key] = str(path)
    if files["key_file"] and not files["cert_file"]:
        raise ConfigError(
            None, "mqtt.tls.cert_file", None, "a client certificate to go with mqtt.tls.key_file"
        )
    try:
        client.tls_set(
            ca_certs=files["ca_file"],
            certfile=files["cert_file"],
            keyfile=files["key_file"],
            cert_reqs=ssl.CERT_REQUIRED,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(None, "mqtt.tls", cfg.url, f"usable TLS certificate files ({exc})") from None
    client.tls_insecure_set(tls.insecure)


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats (anywhere inside) replaced by None: strict JSON for subscribers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _sw_version() -> str:
    try:
        return importlib.metadata.version("sigdetect")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


CHECK_TIMEOUT_SECONDS = 5.0  # check_broker(): TCP connect, then CONNACK, each at most this long


def check_broker(cfg: MqttConfig, device: str, timeout: float = CHECK_TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Try the configured broker once (for ``detector check``): settings, reachability, credentials.

    Connects with the configured url, protocol, credentials and TLS under a separate client id (so a
    running daemon is not disconnected), without a Last Will and without touching the spool; then
    disconnects. Never raises.

    Args:
        cfg: The ``mqtt`` config section.
        device: Device id (for the client id).
        timeout: Seconds to wait for the TCP connection and then for the broker's answer.

    Returns:
        ``(True, "host:port (details)")`` when the broker accepted the connection, else ``(False, reason)``;
        a configuration problem's reason names the key (e.g. ``mqtt.password_file``). Never contains the
        password.
    """
    try:
        host, port, url_tls, url_user = parse_url(cfg.url)
        tls = url_tls or cfg.tls.enabled
        port = port or (8883 if tls else 1883)
        username = cfg.username or url_user
        password = read_password(cfg)
        v5 = cfg.protocol == "5"
        client_id = f"{cfg.client_id or 'sigdetect-' + device}-check-{os.getpid()}"
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else True,
        )
        client.connect_timeout = timeout
        if username:
            client.username_pw_set(username, password)
        if tls:
            apply_tls(client, cfg)
    except ConfigError as exc:
        return False, str(exc)
    where = f"{host}:{port}"
    answer: list[ReasonCode] = []
    answered = threading.Event()

    def on_connect(client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        answer.append(reason)
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=max(5, int(timeout) + 5))
    except (OSError, ValueError) as exc:
        return False, f"{where}: cannot connect ({type(exc).__name__}: {exc})"
    client.loop_start()
    try:
        if not answered.wait(timeout):
            return False, f"{where}: no answer from the broker within {timeout:g} s"
        if answer[0].is_failure:
            return False, f"{where}: connection refused ({answer[0]})"
        details = ["TLS" if tls else "plain TCP", f"MQTT {cfg.protocol}"]
        if username:
            details.append(f"user {username}")
        return True, f"{where} ({', '.join(details)})"
    finally:
        client.disconnect()
        client.loop_stop()


# -- the sink ----------------------------------------------------------------------------------------------


class MqttSink:
    """Publishes events to an MQTT broker through an on-disk spool (at least once, in order).

    Threads: ``start()`` runs paho's network thread, a sender thread (spool -> broker) and, with remote
    enrollment, a worker thread that calls the signature handlers. ``publish`` and every other public
    method are thread-safe and never wait for the network (``publish`` waits for one sqlite commit).
    """

    def __init__(
        self,
        cfg: MqttConfig,
        device: str,
        *,
        spool_path: Path | None = None,
        on_signature_set: SetHandler | None = None,
        on_signature_delete: DeleteHandler | None = None,
    ) -> None:
        """Check the settings, open the spool and build the client (nothing is connected yet).

        Args:
            cfg: The ``mqtt`` config section.
            device: Device id (default prefix, client id, HA device).
            spool_path: Spool file; None: ``cfg.spool.path``, else ``default_spool_path(device)``.
            on_signature_set: Remote enrollment: ``(target, payload) -> (ok, message)``; stores a signature.
            on_signature_delete: Remote enrollment: ``(target) -> (ok, message)``; deletes one.

        Raises:
            ConfigError: Bad url, unreadable password file, missing/unreadable TLS files (the key is named).
        """
        self.cfg = cfg
        self.device = device
        self.prefix = (cfg.prefix or f"sigdetect/{topic_level(device)}").rstrip("/")
        self.client_id = cfg.client_id or f"sigdetect-{device}"
        self.host, port, url_tls, url_user = parse_url(cfg.url)
        self.tls = url_tls or cfg.tls.enabled
        self.port = port or (8883 if self.tls else 1883)
        self.username = cfg.username or url_user
        password = read_password(cfg)
        self.status_topic = f"{self.prefix}/status"
        self.stats_topic = f"{self.prefix}/stats"
        self._on_set = on_signature_set
        self._on_delete = on_signature_delete

        if spool_path is None:
            spool_path = Path(cfg.spool.path).expanduser() if cfg.spool.path else default_spool_path(device)
        self._client = self._make_client(password)
        del password
        self.spool = Spool(spool_path, cfg.spool.max_messages)

        self._lock = threading.Lock()  # targets / HA bookkeeping, counters
        self._ha_publish_lock = threading.Lock()
        self._wake = threading.Event()  # something for the sender to do
        self._stop = threading.Event()
        self._acked: deque[tuple[int, str | None]] = deque()  # (mid, failure reason) from on_publish
        self._connected = False
        self._hold_new = False  # after a disconnect: send nothing new until the re-sent ones are acked
        self._outage_logged = False
        self._connects = 0
        self._sent = 0
        self._rejected = 0
        self._lost = 0
        self._targets: list[str] | None = None
        self._ha_clear: set[str] = set()  # discovery topics to empty (removed targets, stale configs)
        self._ha_seen: set[str] = set()  # retained discovery configs of this device seen on the broker
        self._requests: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue(ENROLL_QUEUE_SIZE)
        self._threads: list[threading.Thread] = []
        self._started = False
        self._closed = False
        self._drained: bool | None = None

        ha = cfg.homeassistant
        self._ha_prefix = ha.prefix.rstrip("/")
        self._ha_node = "sigdetect_" + _ha_id(device)
        self._ha_status = f"{self._ha_prefix}/status"
        self._sw_version = _sw_version()

    # -- set-up ---------------------------------------------------------------------------------------------

    def _make_client(self, password: str | None) -> paho.Client:
        cfg = self.cfg
        v5 = cfg.protocol == "5"
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else True,
        )
        client.suppress_exceptions = True  # a bug in a callback must not kill the network thread
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        # paho's type hints say int; it only compares, doubles and sleeps, so fractions of a second work
        client.reconnect_delay_set(cfg.reconnect_min_seconds, cfg.reconnect_max_seconds)  # type: ignore[arg-type]
        client.max_inflight_messages_set(MAX_INFLIGHT)
        if self.username:
            client.username_pw_set(self.username, password)
        elif password:
            log.warning("mqtt password given but no user name; not used", url=_redact_url(cfg.url))
        if self.tls:
            apply_tls(client, cfg)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Start connecting (in the background) and sending; returns at once, whether the broker is up or not.

        Reconnects for ever with exponential back-off between ``reconnect_min_seconds`` and
        ``reconnect_max_seconds``. Calling it twice does nothing.
        """
        if self._started or self._closed:
            return
        self._started = True
        sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self._threads.append(sender)
        if self.cfg.remote_enrollment.enabled:
            self._threads.append(threading.Thread(target=self._enroll_loop, name="mqtt-enroll", daemon=True))
        for thread in self._threads:
            thread.start()
        log.info(
            "mqtt starting",
            host=self.host,
            port=self.port,
            tls=self.tls,
            protocol=self.cfg.protocol,
            client_id=self.client_id,
            user=self.username,
            prefix=self.prefix,
            spool=str(self.spool.path),
            spool_depth=self.spool.depth,
        )
        v5 = self.cfg.protocol == "5"
        self._client.connect_async(
            self.host,
            self.port,
            keepalive=self.cfg.keepalive_seconds,
            clean_start=True if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
        )
        self._client.loop_start()

    # -- public API -----------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a broker connection is up (CONNACK accepted, not yet lost)."""
        return self._connected

    def publish(self, event: Event) -> None:
        """Spool an event (``events/<target>``) and its state (``state/<target>``); the sender does the rest.

        Never raises for a broker or spool problem (logged and counted in ``stats()["lost"]``).
        """
        level = topic_level(event.target)
        state = b"ON" if event.state == "start" else b"OFF"
        qos = self.cfg.qos
        messages = [
            (f"{self.prefix}/events/{level}", event.to_json().encode("utf-8"), qos, False),
            (f"{self.prefix}/state/{level}", state, qos, True),
        ]
        self._spool(messages, target=event.target, seq=event.seq)

    def _spool(self, messages: list[tuple[str, bytes, int, bool]], **context: Any) -> None:
        if self._closed:
            log.warning("mqtt sink closed; message not sent", **context)
            with self._lock:
                self._lost += len(messages)
            return
        try:
            self.spool.put_many(messages)
        except (sqlite3.Error, OSError, ValueError) as exc:
            with self._lock:
                self._lost += len(messages)
            log.error("mqtt spool write failed; message lost", error=str(exc), **context)
            return
        self._wake.set()

    def publish_stats(self, stats: dict[str, Any]) -> bool:
        """Publish ``stats`` (plus this sink's ``spool_depth``, ``spool_dropped``) to ``<prefix>/stats``.

        QoS 0, not retained, not spooled: skipped (returns False) while disconnected. Non-finite numbers
        become ``null``. Home Assistant's level sensor reads the ``level_dbfs`` key.
        """
        if not self._connected:
            return False
        body = dict(stats)
        body.setdefault("spool_depth", self.spool.depth)
        body.setdefault("spool_dropped", self.spool.dropped)
        try:
            payload = json.dumps(_finite(body), separators=(",", ":"), allow_nan=False, default=str)
            info = self._client.publish(self.stats_topic, payload, qos=0, retain=False)
        except (TypeError, ValueError) as exc:
            log.warning("mqtt stats not published", error=str(exc))
            return False
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def set_targets(self, names: Iterable[str]) -> None:
        """Tell the sink which targets exist now (call at start and after every signature reload).

        New targets get a retained ``OFF`` state (spooled). Removed ones get their retained state cleared.
        With Home Assistant discovery on: configs for all current targets are (re)published, and the
        configs of removed targets (and stale ones of this device found on the broker) are emptied.
        """
        current = list(dict.fromkeys(str(n) for n in names))
        with self._lock:
            old = self._targets or []
            self._targets = current
            added = [n for n in current if n not in old]
            removed = [n for n in old if n not in current]
            if self.cfg.homeassistant.enabled:
                for name in removed:
                    self._ha_clear.update(self._ha_target_topics(name))
                self._ha_clear.update(self._ha_seen - set(self._ha_configs()))
        qos = self.cfg.qos
        messages = [(f"{self.prefix}/state/{topic_level(n)}", b"OFF", qos, True) for n in added]
        messages += [(f"{self.prefix}/state/{topic_level(n)}", b"", qos, True) for n in removed]
        if messages:
            self._spool(messages, added=added, removed=removed)
        self._publish_discovery()

    def stats(self) -> dict[str, Any]:
        """Counters: ``connected``, ``spool_depth``, ``spool_dropped``, ``sent`` (acknowledged spooled
        messages), ``reconnects`` (connections after the first), ``rejected`` (refused by the broker or
        unpublishable, removed from the spool), ``lost`` (could not be spooled)."""
        with self._lock:
            return {
                "connected": self._connected,
                "spool_depth": self.spool.depth,
                "spool_dropped": self.spool.dropped,
                "sent": self._sent,
                "reconnects": max(0, self._connects - 1),
                "rejected": self._rejected,
                "lost": self._lost,
            }

    def close(self, drain_timeout: float | None = None) -> bool:
        """Drain the spool (up to ``drain_timeout``), publish ``offline``, disconnect, stop the threads.

        Args:
            drain_timeout: Seconds to wait for the spool to empty; None: ``cfg.drain_timeout_seconds``.
                Blocks the caller up to this long (plus about 2 s for ``offline`` and thread shutdown).

        Returns:
            True when the spool was empty at the end; what is left stays on disk for the next run.
        """
        if self._closed:
            return bool(self._drained)
        timeout = self.cfg.drain_timeout_seconds if drain_timeout is None else max(0.0, drain_timeout)
        deadline = time.monotonic() + timeout
        while self._started and self.spool.depth > 0 and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        self._closed = True
        if self._started and self._connected:
            try:
                info = self._client.publish(self.status_topic, b"offline", qos=1, retain=True)
                info.wait_for_publish(OFFLINE_WAIT_SECONDS)
            except (RuntimeError, ValueError) as exc:
                log.warning("mqtt offline status not published", error=str(exc))
        self._stop.set()
        self._wake.set()
        if self._started:
            with contextlib.suppress(queue.Full):
                self._requests.put_nowait(None)
            for thread in self._threads:
                thread.join(5.0)
            self._client.disconnect()
            self._client.loop_stop()
        self._connected = False
        depth = self.spool.depth
        self._drained = depth == 0
        log.info("mqtt closed", spool_depth=depth, drained=self._drained, sent=self._sent)
        self.spool.close()
        return self._drained

    # -- sender ---------------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        inflight: OrderedDict[int, int] = OrderedDict()  # spool id -> mid, in send order
        by_mid: dict[int, int] = {}
        last_id = 0  # highest spool id handed to paho
        while True:
            self._wake.wait(SENDER_IDLE_SECONDS)
            self._wake.clear()
            try:
                last_id = self._send_step(inflight, by_mid, last_id)
            except Exception as exc:  # never let the sender die: log and retry after a pause
                log.error("mqtt sender error", error=f"{type(exc).__name__}: {exc}")
                time.sleep(SENDER_IDLE_SECONDS)
            if self._stop.is_set():
                return

    def _send_step(self, inflight: OrderedDict[int, int], by_mid: dict[int, int], last_id: int) -> int:
        done: list[int] = []
        rejected = 0
        while self._acked:
            mid, failure = self._acked.popleft()
            spool_id = by_mid.pop(mid, None)
            if spool_id is None:
                continue  # status, stats, discovery, results: not spooled
            inflight.pop(spool_id, None)
            done.append(spool_id)
            if failure is not None:
                rejected += 1
                log.warning("mqtt broker refused a message; dropped from the spool", reason=failure)
        if done:
            self.spool.ack_many(done)
            with self._lock:
                self._sent += len(done) - rejected
                self._rejected += rejected
        if not inflight:
            self._hold_new = False
        if self._stop.is_set() or not self._connected or self._hold_new:
            return last_id
        room = MAX_INFLIGHT - len(inflight)
        if room <= 0:
            return last_id
        for msg in self.spool.peek(room, after=last_id):
            try:
                info = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            except (ValueError, TypeError) as exc:  # unpublishable (bad topic, too large): drop it
                log.error("mqtt message cannot be published; dropped", topic=msg.topic, error=str(exc))
                self.spool.ack(msg.id)
                with self._lock:
                    self._rejected += 1
                last_id = msg.id
                continue
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                break  # not queued by paho (queue full): try again later, same order
            inflight[msg.id] = info.mid
            by_mid[info.mid] = msg.id
            last_id = msg.id
        return last_id

    # -- paho callbacks (network thread) --------------------------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            if getattr(reason, "value", None) in AUTH_REFUSED:
                log.error(
                    "mqtt credentials refused",
                    host=self.host,
                    port=self.port,
                    reason=str(reason),
                    user=self.username,
                    fix="check mqtt.username and mqtt.password_file (or the mqtt.password_env variable); "
                    "events wait in the spool meanwhile",
                )
            else:
                log.warning("mqtt connection refused", host=self.host, port=self.port, reason=str(reason))
            return
        with self._lock:
            self._connects += 1
            reconnects = self._connects - 1
        self._outage_logged = False
        log.info("mqtt connected", host=self.host, port=self.port, reconnects=reconnects)
        try:
            client.publish(self.status_topic, b"online", qos=1, retain=True)
            topics = []
            if self.cfg.remote_enrollment.enabled:
                topics += [f"{self.prefix}/signatures/+/set", f"{self.prefix}/signatures/+/delete"]
            if self.cfg.homeassistant.enabled:
                topics += [self._ha_status, f"{self._ha_prefix}/+/{self._ha_node}/+/config"]
            if topics:
                client.subscribe([(t, 1) for t in topics])
        except Exception as exc:
            log.error("mqtt on-connect setup failed", error=f"{type(exc).__name__}: {exc}")
        self._connected = True  # after `online`: the sender's first message follows it
        try:
            self._publish_discovery()
        except Exception as exc:
            log.error("home assistant discovery failed", error=f"{type(exc).__name__}: {exc}")
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            log.warning("mqtt broker unreachable; retrying", host=self.host, port=self.port)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        was = self._connected
        self._connected = False
        self._hold_new = True
        if was and not self._closed:
            self._outage_logged = True
            log.warning(
                "mqtt connection lost; reconnecting", host=self.host, port=self.port, reason=str(reason)
            )
        self._wake.set()

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        failure = str(reason) if isinstance(reason, ReasonCode) and reason.is_failure else None
        self._acked.append((mid, failure))
        self._wake.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
            if self.cfg.homeassistant.enabled and topic == self._ha_status:
                if msg.payload.strip() == b"online":
                    log.info("home assistant online; re-sending discovery")
                    self._publish_discovery()
            elif self.cfg.homeassistant.enabled and topic.startswith(self._ha_prefix + "/"):
                self._on_ha_config(topic, msg.payload)
            elif self.cfg.remote_enrollment.enabled and topic.startswith(self.prefix + "/signatures/"):
                self._on_enroll(topic, msg.payload, msg.retain)
        except Exception as exc:
            log.error("mqtt message handling failed", topic=msg.topic, error=f"{type(exc).__name__}: {exc}")

    # -- remote enrollment ------------------------------------------------------------------------------

    def _on_enroll(self, topic: str, payload: bytes, retained: bool) -> None:
        rest = topic[len(self.prefix) + len("/signatures/") :]
        name, _, action = rest.rpartition("/")
        if action not in ("set", "delete") or not name:
            return
        if retained:  # a retained command would be replayed on every reconnect
            log.warning("remote enrollment: retained command ignored; publish without retain", target=name)
            return
        try:
            validate_name(name)
        except SignatureError as exc:
            self._result(name, action, False, str(exc))
            return
        limit = self.cfg.remote_enrollment.max_bytes
        if action == "set" and len(payload) > limit:
            self._result(name, action, False, f"payload of {len(payload)} bytes exceeds max_bytes {limit}")
            return
        try:
            self._requests.put_nowait((action, name, bytes(payload)))
        except queue.Full:
            self._result(name, action, False, "busy: too many enrollment requests waiting; retry later")

    def _enroll_loop(self) -> None:
        while True:
            item = self._requests.get()
            if item is None or self._stop.is_set():
                return
            action, name, payload = item
            handler: Callable[..., tuple[bool, str]] | None = (
                self._on_set if action == "set" else self._on_delete
            )
            args: tuple[Any, ...] = (name, payload) if action == "set" else (name,)
            if handler is None:
                ok, message = False, f"remote {action} is not supported by this daemon"
            else:
                try:
                    ok, message = handler(*args)
                    ok, message = bool(ok), str(message)
                except Exception as exc:
                    ok, message = False, f"{type(exc).__name__}: {exc}"
            log.info("remote enrollment", target=name, action=action, ok=ok, message=message)
            self._result(name, action, ok, message)

    def _result(self, name: str, action: str, ok: bool, message: str) -> None:
        if not ok:
            log.warning("remote enrollment refused", target=name, action=action, message=message)
        body = json.dumps({"target": name, "action": action, "ok": ok, "message": message})
        try:
            self._client.publish(f"{self.prefix}/signatures/{topic_level(name)}/result", body, qos=1)
        except (ValueError, TypeError) as exc:
            log.error("remote enrollment result not published", target=name, error=str(exc))

    # -- Home Assistant discovery -------------------------------------------------------------------------

    def _ha_target_topics(self, name: str) -> list[str]:
        obj = _ha_id(name)
        return [
            f"{self._ha_prefix}/event/{self._ha_node}/{obj}/config",
            f"{self._ha_prefix}/binary_sensor/{self._ha_node}/{obj}/config",
        ]

    def _ha_configs(self) -> dict[str, dict[str, Any]]:
        """Discovery topic -> config: the current targets and the level sensor (call with the lock held)."""
        device = {
            "identifiers": [self._ha_node],
            "name": self.device,
            "model": "sigdetect",
            "manufacturer": "sigdetect",
            "sw_version": self._sw_version,
        }
        common = {
            "availability_topic": self.status_topic,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
        }
        configs: dict[str, dict[str, Any]] = {
            f"{self._ha_prefix}/sensor/{self._ha_node}/input_level/config": {
                "name": "Input level",
                "unique_id": f"{self._ha_node}_input_level",
                "state_topic": self.stats_topic,
                "value_template": "{{ value_json.level_dbfs }}",
                "unit_of_measurement": "dBFS",
                "state_class": "measurement",
                **common,
            }
        }
        for name in self._targets or []:
            level, obj = topic_level(name), _ha_id(name)
            event_topic, binary_topic = self._ha_target_topics(name)
            configs[event_topic] = {
                "name": name,
                "unique_id": f"{self._ha_node}_{obj}_event",
                "state_topic": f"{self.prefix}/events/{level}",
                "event_types": ["start", "end"],
                "value_template": (
                    "{{ {'event_type': value_json.state, 'score': value_json.score,"
                    " 'peak_score': value_json.peak_score, 'seq': value_json.seq} | to_json }}"
                ),
                "qos": self.cfg.qos,
                **common,
            }
            configs[binary_topic] = {
                "name": name,
                "unique_id": f"{self._ha_node}_{obj}_sound",
                "state_topic": f"{self.prefix}/state/{level}",
                "payload_on": "ON",
                "payload_off": "OFF",
                "device_class": "sound",
                "qos": self.cfg.qos,
                **common,
            }
        return configs

    def _on_ha_config(self, topic: str, payload: bytes) -> None:
        """A retained discovery config of this device on the broker: empty it when no target has it."""
        parts = topic.split("/")
        if len(parts) < 4 or parts[-1] != "config" or parts[-3] != self._ha_node:
            return
        with self._lock:
            if not payload:
                self._ha_seen.discard(topic)
                return
            self._ha_seen.add(topic)
            if self._targets is None or topic in self._ha_configs():
                return
            self._ha_clear.add(topic)
        self._publish_discovery()

    def _publish_discovery(self) -> None:
        """(Re)publish every discovery config and empty the pending removed ones (when connected)."""
        if not self.cfg.homeassistant.enabled or not self._connected:
            return
        # One publisher at a time, so that configs computed before a set_targets() cannot be sent after
        # the empty payloads that removed them. (paho's publish() only takes its own short-lived locks.)
        with self._ha_publish_lock:
            with self._lock:
                if self._targets is None:
                    return
                configs = self._ha_configs()
                clear = sorted(self._ha_clear - set(configs))
                self._ha_clear.clear()
            for topic in clear:
                self._client.publish(topic, b"", qos=1, retain=True)
            for topic, config in configs.items():
                self._client.publish(topic, json.dumps(config, separators=(",", ":")), qos=1, retain=True)
        log.info("home assistant discovery published", configs=len(configs), removed=len(clear))
