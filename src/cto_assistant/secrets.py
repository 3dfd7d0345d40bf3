"""Secrets stored in the database, encrypted at rest with a key that lives only in the environment.

    CTO_SECRETS_KEY  (a Fernet key: `cto secrets key` prints a new one)
          │
          ▼
    SecretBox.encrypt(value) ──► secret_entry.ciphertext      (AES-128-CBC + HMAC-SHA256)
    secret_entry.ciphertext ──► SecretBox.decrypt ──► value    (wrong key / tampering → ConfigError)

A source section names a stored secret with `<field>_secret = "NAME"` (e.g. `token_secret =
"JIRA_TOKEN"`); `connectors.registry` resolves it through `secret_lookup(settings)`. Values read
here are registered with the log redactor, and no function returns a value except `get_secret`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from cto_assistant.errors import ConfigError
from cto_assistant.logging import register_secret
from cto_assistant.store.db import utcnow
from cto_assistant.store.models import SecretEntry

KEY_ENV = "CTO_SECRETS_KEY"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")


def new_key() -> str:
    """A fresh random key for CTO_SECRETS_KEY."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts and decrypts secret values with one Fernet key."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.strip().encode())
        except (ValueError, TypeError):
            raise ConfigError(
                KEY_ENV, "is not a valid key (32 url-safe base64 bytes; `cto secrets key`)"
            ) from None
        register_secret(key.strip())

    def encrypt(self, value: str) -> str:
        """The ciphertext of `value` (different on every call: random IV)."""
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """The value behind `ciphertext`; a wrong key or altered text is a ConfigError."""
        try:
            value = self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                KEY_ENV, "cannot decrypt a stored secret (wrong key, or the entry was altered)"
            ) from None
        register_secret(value)
        return value


def box_from_environment(environ: Mapping[str, str] | None = None) -> SecretBox:
    """The SecretBox of $CTO_SECRETS_KEY; a missing key is a ConfigError naming it."""
    env = os.environ if environ is None else environ
    key = env.get(KEY_ENV, "").strip()
    if not key:
        raise ConfigError(
            KEY_ENV, "is not set: secrets in the database need it (`cto secrets key`)"
        )
    return SecretBox(key)


def check_name(name: str) -> str:
    """The secret name if well-formed (letter first; letters, digits, `_ . -`; ≤ 128)."""
    if not NAME_PATTERN.match(name):
        raise ConfigError("secret name", f"{name[:40]!r} is not a valid name (e.g. JIRA_TOKEN)")
    return name


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a stored secret: its name and when it changed, never its value."""

    name: str
    updated_at: datetime


def set_secret(*, session: Session, box: SecretBox, name: str, value: str) -> None:
    """Store (or replace) the secret `name`, encrypted."""
    check_name(name)
    if not value:
        raise ConfigError("secret value", "is empty")
    register_secret(value)
    ciphertext = box.encrypt(value)
    row = session.scalar(sa.select(SecretEntry).where(SecretEntry.name == name))
    if row is None:
        session.add(SecretEntry(name=name, ciphertext=ciphertext, updated_at=utcnow()))
    else:
        row.ciphertext = ciphertext
        row.updated_at = utcnow()


def get_secret(*, session: Session, box: SecretBox, name: str) -> str | None:
    """The decrypted value of `name`, or None when no such secret is stored."""
    ciphertext = session.scalar(sa.select(SecretEntry.ciphertext).where(SecretEntry.name == name))
    return None if ciphertext is None else box.decrypt(ciphertext)


def list_secrets(*, session: Session) -> list[SecretInfo]:
    """Names and change times of the stored secrets, by name."""
    rows = session.execute(
        sa.select(SecretEntry.name, SecretEntry.updated_at).order_by(SecretEntry.name)
    )
    return [SecretInfo(name, updated_at) for name, updated_at in rows]


def delete_secret(*, session: Session, name: str) -> bool:
    """Forget the secret `name`; whether it existed."""
    result = session.execute(sa.delete(SecretEntry).where(SecretEntry.name == name))
    return bool(getattr(result, "rowcount", 0))


SecretLookup = Callable[[str], str | None]


def secret_lookup(database_url: str, environ: Mapping[str, str] | None = None) -> SecretLookup:
    """A function name → decrypted value over the store at `database_url` (opened per call)."""

    def lookup(name: str) -> str | None:
        from cto_assistant.store import open_store

        box = box_from_environment(environ)
        store = open_store(database_url)
        try:
            with store.session() as session:
                return get_secret(session=session, box=box, name=name)
        finally:
            store.dispose()

    return lookup


__all__ = [
    "KEY_ENV",
    "SecretBox",
    "SecretInfo",
    "SecretLookup",
    "box_from_environment",
    "check_name",
    "delete_secret",
    "get_secret",
    "list_secrets",
    "new_key",
    "secret_lookup",
    "set_secret",
]
