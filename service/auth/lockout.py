"""Login throttling: a per-account lockout read from the audit trail, and a per-address limit in memory.

An account is locked after ``MAX_FAILURES`` failed logins within ``WINDOW`` since its last success; the
attempts are the ``login.failure`` rows the login route writes anyway, so every API process (and a
restart) sees the same count without a table of its own. Attempts while locked are audited as
``login.locked`` and do not extend the lock. An address that fails ``MAX_PER_ADDRESS`` times within the
window (password spraying over many accounts) is refused before any password is checked.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from medvlm.compliance.audit import AuditEvent
from medvlm.service.errors import TooManyRequestsError

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
MAX_PER_ADDRESS = 30

_events = AuditEvent.__table__  # type: ignore[attr-defined]


def check_account(session: Session, username: str) -> None:
    """``TooManyRequestsError`` while ``username`` is locked out."""
    now = datetime.now(UTC).replace(tzinfo=None)  # audit times are naive UTC
    actor = f"user:{username}"
    last_success = session.connection().execute(
        sa.select(sa.func.max(_events.c.created_at)).where(
            _events.c.actor == actor, _events.c.action == "login.success")).scalar()
    since = max(now - WINDOW, last_success) if last_success is not None else now - WINDOW
    failures = session.connection().execute(
        sa.select(_events.c.created_at).where(
            _events.c.actor == actor, _events.c.action == "login.failure", _events.c.created_at > since)
        .order_by(_events.c.created_at.desc()).limit(MAX_FAILURES)).scalars().all()
    if len(failures) >= MAX_FAILURES:
        unlock = failures[-1] + WINDOW  # the oldest of the last MAX_FAILURES ages out of the window
        minutes = max(1, int((unlock - now).total_seconds() // 60) + 1)
        raise TooManyRequestsError(f"account locked after {MAX_FAILURES} failed logins; try again in "
                                   f"{minutes} minute(s) or ask an admin", retry_after=minutes * 60)


class AddressLimiter:
    """Failed logins per client address in a sliding window (per process)."""

    def __init__(self, limit: int = MAX_PER_ADDRESS, window: timedelta = WINDOW) -> None:
        self.limit = limit
        self.window = window.total_seconds()
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, address: str) -> None:
        with self._lock:
            times = self._recent(address, time.monotonic())
            if len(times) >= self.limit:
                wait = int(times[0] + self.window - time.monotonic()) + 1
                raise TooManyRequestsError(f"too many failed logins from this address; try again in {wait} s",
                                           retry_after=wait)

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address, time.monotonic()).append(time.monotonic())
            if len(self._failures) > 100_000:  # bounded memory under a flood of addresses
                self._failures.clear()
