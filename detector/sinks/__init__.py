"""Where events go: MQTT (through an on-disk spool), a JSONL file, the log."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from detector.events import Event
from detector.sinks.jsonl import JsonlSink
from detector.sinks.log import LogSink
from detector.sinks.mqtt import MqttSink
from detector.sinks.spool import Message, Spool, default_spool_path


@runtime_checkable
class Sink(Protocol):
    """Anything that takes events: ``publish`` must not block on the network and must not raise."""

    def publish(self, event: Event) -> None:
        """Deliver (or queue) one event."""
        ...

    def close(self) -> object:
        """Flush and release; the return value (e.g. ``MqttSink``'s drained flag) is sink-specific."""
        ...


__all__ = ["JsonlSink", "LogSink", "Message", "MqttSink", "Sink", "Spool", "default_spool_path"]
