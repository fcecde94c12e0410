"""The background HL7 sender: claims due outbox rows and delivers them over MLLP, with retries.

Run as a thread beside the drafting workers (``medvlm serve``, ``python -m medvlm.service.jobs.worker``)
when ``MEDVLM_HL7_HOST`` is set. A failed message of a report holds that report's later messages back
(see ``outbox.claim``) until an administrator requeues it with ``outbox.retry_failed``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy.engine import Engine

from medvlm.service.hl7 import mllp, outbox
from medvlm.service.hl7.errors import Hl7DeliveryError
from medvlm.settings import Settings

log = logging.getLogger("medvlm.hl7")


class Hl7Sender:
    def __init__(self, engine: Engine, settings: Settings, *, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.settings = settings
        self.poll_seconds = poll_seconds
        # A claim outlives one connect + send + ACK wait, so a live sender never loses its message.
        self.lease = timedelta(seconds=3 * settings.hl7_timeout_seconds + 5)

    def run_once(self) -> bool:
        """Deliver one due message if there is one; True when one was attempted."""
        row = outbox.claim(self.engine, self.lease)
        if row is None or row.id is None:
            return False
        try:
            code = mllp.send(self.settings.hl7_host, self.settings.hl7_port, row.message, row.control_id,
                             timeout=self.settings.hl7_timeout_seconds)
        except Hl7DeliveryError as exc:
            log.warning("HL7 message %s (report %s) attempt %d: %s", row.control_id, row.report_id,
                        row.attempts, exc)
            outbox.mark_failed_attempt(self.engine, row.id, str(exc), retry=exc.retry, ack_code=exc.ack_code,
                                       settings=self.settings)
            return True
        outbox.mark_sent(self.engine, row.id, code)
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup must not end the sender; the lease protects the row
                log.exception("HL7 sender: claiming failed")
                busy = False
            if not busy:
                stop.wait(self.poll_seconds)


def start_sender(engine: Engine, settings: Settings, stop: threading.Event) -> threading.Thread | None:
    """A daemon sender thread when an HL7 endpoint is configured; None otherwise."""
    if not settings.hl7_host:
        return None
    thread = threading.Thread(target=Hl7Sender(engine, settings).run, args=(stop,), daemon=True,
                              name="hl7-sender")
    thread.start()
    return thread
