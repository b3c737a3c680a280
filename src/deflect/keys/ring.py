"""KeyRing: the use cases of keys, over a KeyStore.

Secrets are 256 random bits (API keys) or 128 (widget ids), made here with `secrets` and stored only as their
SHA-256. A fast hash is right for such tokens, unlike passwords: bcrypt, scrypt and argon2 are slow on purpose so
that guessing a *low-entropy* password from its hash costs a lot per guess, but nobody can enumerate 2^256 tokens
however fast the hash is. A slow hash would instead cost every request ~50-300 ms of CPU (and make the API an easy
target for load), and its per-hash salt would rule out finding a key by an indexed lookup of its hash.

Every request looks its key up in the database, no cache, so a revoked key is refused at once by every worker
process (the lookup is one indexed read; see tests/keys/test_ring.py and the README for its cost).
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from deflect.domain.escalation import AuditEvent
from deflect.domain.keys import KeyKind, KeyRecord, Role
from deflect.domain.ports import KeyStore
from deflect.domain.text import clean_text
from deflect.domain.time import utc_now
from deflect.errors import Conflict, ValidationFailed

API_KEY_PREFIX = "dfk_"
WIDGET_PREFIX = "wid_"
HINT_CHARS = 8  # the prefix and 4 random characters: enough to tell keys apart in a list, nothing to guess with
MAX_LABEL = 100
MAX_ORIGINS = 50
# A site origin as a browser sends it in `Origin`: scheme, host, optional port; no path, query or credentials.
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$")


def hash_secret(secret: str) -> str:
    """The stored form of a secret: hex SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A key and its secret, returned once by create and rotate; the secret is not stored anywhere."""

    record: KeyRecord
    secret: str


def check_origins(origins: Sequence[str]) -> list[str]:
    """Origins as browsers send them (no trailing slash), each checked; ValidationFailed names the bad ones."""
    cleaned = list(dict.fromkeys(o.strip().rstrip("/") for o in origins))
    bad = [o for o in cleaned if not _ORIGIN.match(o)]
    if bad:
        raise ValidationFailed(
            "origins must look like https://help.example.com (scheme, host and optional port only)",
            [{"field": "origins", "problem": "not_an_origin", "origins": bad}],
        )
    if len(cleaned) > MAX_ORIGINS:
        raise ValidationFailed(f"at most {MAX_ORIGINS} origins", [{"field": "origins", "problem": "too_many"}])
    return cleaned


def _label(label: str) -> str:
    text = clean_text(label, "label")
    if not text or len(text) > MAX_LABEL:
        raise ValidationFailed(
            f"label must be 1 to {MAX_LABEL} characters", [{"field": "label", "problem": "bad_length"}]
        )
    return text


class KeyRing:
    """Create, list, rotate and revoke API keys and widget ids; identify a presented secret."""

    def __init__(self, store: KeyStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def create(self, role: Role, label: str, actor: str) -> Issued:
        """A new API key with this role."""
        return self._add(KeyKind.API_KEY, Role(role), _label(label), [], actor)

    def create_widget(self, label: str, origins: Sequence[str], actor: str) -> Issued:
        """A new widget id for these site origins (an empty list allows no site until origins are set)."""
        return self._add(KeyKind.WIDGET, None, _label(label), check_origins(origins), actor)

    def list(self, include_revoked: bool = False) -> builtins.list[KeyRecord]:
        """Keys, oldest first; no secrets (they are not stored)."""
        return self._store.list_keys(include_revoked=include_revoked)

    def get(self, key_id: str) -> KeyRecord:
        return self._store.get_key(key_id)

    def rotate(self, key_id: str, actor: str) -> Issued:
        """A new secret for the key: the old secret stops working at once; id, role, label and origins stay."""
        record = self._active(key_id)
        secret = self._secret(record.kind)
        rotated = record.model_copy(
            update={"secret_hash": hash_secret(secret), "hint": secret[:HINT_CHARS], "rotated_at": self._clock()}
        )
        self._store.update_key(rotated, [self._event("key_rotated", rotated, actor)])
        return Issued(rotated, secret)

    def revoke(self, key_id: str, actor: str) -> KeyRecord:
        """Refuse the key from now on, in every process; revoking a revoked key changes nothing."""
        record = self._store.get_key(key_id)
        if not record.active:
            return record
        revoked = record.model_copy(update={"revoked_at": self._clock(), "revoked_by": actor})
        self._store.update_key(revoked, [self._event("key_revoked", revoked, actor)])
        return revoked

    def set_origins(self, key_id: str, origins: Sequence[str], actor: str) -> KeyRecord:
        """Replace a widget's allowed origins."""
        record = self._active(key_id)
        if record.kind is not KeyKind.WIDGET:
            raise ValidationFailed("only a widget id has origins", [{"field": "origins", "problem": "not_a_widget"}])
        changed = record.model_copy(update={"origins": check_origins(origins)})
        self._store.update_key(changed, [self._event("key_origins_set", changed, actor)])
        return changed

    def identify(self, secret: str) -> KeyRecord | None:
        """The stored key this secret belongs to (revoked ones too, so callers can say so), or None."""
        if not secret.startswith((API_KEY_PREFIX, WIDGET_PREFIX)):
            return None  # not one of ours: spare the database the lookup
        return self._store.key_by_hash(hash_secret(secret))

    def _active(self, key_id: str) -> KeyRecord:
        record = self._store.get_key(key_id)
        if not record.active:
            raise Conflict(f"key {key_id} is revoked", [{"key_id": key_id, "revoked_at": str(record.revoked_at)}])
        return record

    def _add(self, kind: KeyKind, role: Role | None, label: str, origins: builtins.list[str], actor: str) -> Issued:
        secret = self._secret(kind)
        record = KeyRecord(
            id="key_" + uuid.uuid4().hex[:16],
            kind=kind,
            role=role,
            label=label,
            origins=origins,
            secret_hash=hash_secret(secret),
            hint=secret[:HINT_CHARS],
            created_at=self._clock(),
            created_by=actor,
        )
        self._store.add_key(record, [self._event("key_created", record, actor)])
        return Issued(record, secret)

    @staticmethod
    def _secret(kind: KeyKind) -> str:
        if kind is KeyKind.WIDGET:
            return WIDGET_PREFIX + secrets.token_urlsafe(16)
        return API_KEY_PREFIX + secrets.token_urlsafe(32)

    def _event(self, action: str, record: KeyRecord, actor: str) -> AuditEvent:
        # What changed and by whom; never the secret, its hash or its first characters (agents read the audit log).
        data = record.model_dump(mode="json", include={"id", "kind", "role", "label", "origins"})
        return AuditEvent(at=self._clock(), kind="action", actor=actor, action=action, data=data)
