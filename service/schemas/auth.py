"""Login, users and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medvlm.service.auth.passwords import password_problem

RoleName = Literal["radiologist", "researcher", "admin", "integration"]
# People log in; integrations (machines) use API keys. A person with the integration role would see no
# studies (it has no key that sent any), and a key with a person's role could sign or administer.
PersonRole = Literal["radiologist", "researcher", "admin"]
KeyRole = Literal["integration"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"


class LoginRequest(Strict):
    # The pattern every account's name has: anything else cannot log in and would only reach the audit
    # trail as an odd actor (a blank name made the audit write fail: a 503 found by the schema fuzzing).
    username: str = Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    username: str
    role: RoleName


class LoginResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds of inactivity after which the session ends.")
    user: UserPublic


class MeResponse(UserPublic):
    auth: Literal["session", "api_key"]


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=12, max_length=1024)
    role: PersonRole

    @model_validator(mode="after")
    def _policy(self) -> UserCreate:
        problem = password_problem(self.password, username=self.username)
        if problem:
            raise ValueError(problem)
        return self


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)


class SessionsEnded(BaseModel):
    ended: int = Field(description="How many login sessions were ended.")


class UserStatus(BaseModel):
    id: str
    username: str
    active: bool
    sessions_ended: int


class ApiKeyRevoked(BaseModel):
    id: str
    name: str
    revoked_at: datetime


class UserCreated(UserPublic):
    id: str
    created_at: datetime


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=128)
    role: KeyRole = "integration"


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    role: RoleName
    key: str = Field(description="Shown once; only its digest is stored.")
    created_at: datetime
