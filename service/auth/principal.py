"""Who is calling: the domain's view of a caller, apart from how the HTTP layer authenticated it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """A logged-in user (with a session) or an API key."""

    name: str
    role: str
    user_id: str | None = None
    session_id: str | None = None
    api_key_id: str | None = None

    @property
    def actor(self) -> str:
        return f"user:{self.name}" if self.user_id else f"api_key:{self.name}"
