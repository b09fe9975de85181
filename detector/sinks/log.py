"""Log sink: every event as one structured ``detection`` log line."""

from __future__ import annotations

import structlog

from detector.events import Event

log = structlog.get_logger("detector")


class LogSink:
    """Logs each event at info level: ``detection`` with target and state first, then the other fields."""

    def publish(self, event: Event) -> None:
        """Log one event."""
        fields = event.to_dict()
        target, state = fields.pop("target"), fields.pop("state")
        log.info("detection", target=target, state=state, **fields)

    def close(self) -> None:
        """Nothing to release."""
