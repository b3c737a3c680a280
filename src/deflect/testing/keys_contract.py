"""Contract tests every `KeyStore` must pass: the in-memory fake, SQLite and PostgreSQL.

Subclass `KeyStoreContract` as a `Test...` class and override `make_store` (a factory of fresh, empty, isolated
stores that also keep the audit log) and, for a database, `reopen` (another handle on the same data, as another
worker process would hold):

    class TestMyKeys(KeyStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyStore(tmp_path / f"{uuid.uuid4().hex}.db")
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

import pytest

from deflect.domain.escalation import AuditEvent
from deflect.domain.keys import KeyKind, KeyRecord, Role
from deflect.domain.ports import KeyStore
from deflect.errors import Conflict, NotFound
from deflect.keys import KeyRing, hash_secret

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class AuditedKeyStore(KeyStore, Protocol):
    def audit(self, *, kind: str | None = None) -> list[AuditEvent]: ...


def make_key(key_id: str, secret: str = "", created_at: datetime = T0, **fields: Any) -> KeyRecord:
    """A valid agent key record; `secret` defaults to one derived from the id."""
    secret = secret or f"dfk_secret_of_{key_id}"
    base: dict[str, Any] = {
        "id": key_id,
        "kind": KeyKind.API_KEY,
        "role": Role.AGENT,
        "label": f"label of {key_id}",
        "secret_hash": hash_secret(secret),
        "hint": secret[:8],
        "created_at": created_at,
        "created_by": "admin-1",
    }
    return KeyRecord.model_validate(base | fields)


def event(action: str) -> AuditEvent:
    return AuditEvent(at=T0, kind="action", actor="admin-1", action=action, data={})


class KeyStoreContract:
    @pytest.fixture
    def make_store(self) -> Callable[[], AuditedKeyStore]:
        raise NotImplementedError("override make_store in the test class")

    @pytest.fixture
    def reopen(self) -> Callable[[AuditedKeyStore], AuditedKeyStore]:
        """Another handle on the same data; the same object for a store that lives in memory."""
        return lambda store: store

    def test_a_key_comes_back_by_id_and_by_hash_of_its_secret(self, make_store: Callable[[], AuditedKeyStore]) -> None:
        store = make_store()
        key = make_key("key_a")
        store.add_key(key)

        assert store.get_key("key_a") == key
        assert store.key_by_hash(hash_secret("dfk_secret_of_key_a")) == key
        assert store.key_by_hash(hash_secret("dfk_secret_of_key_b")) is None
        with pytest.raises(NotFound):
            store.get_key("key_b")

    def test_a_widget_keeps_its_origins_and_no_role(self, make_store: Callable[[], AuditedKeyStore]) -> None:
        store = make_store()
        widget = make_key("key_w", kind=KeyKind.WIDGET, role=None, origins=["https://a.example", "http://b:8080"])
        store.add_key(widget)

        found = store.key_by_hash(widget.secret_hash)
        assert found is not None and found.origins == ["https://a.example", "http://b:8080"] and found.role is None

    def test_times_come_back_as_the_same_instants_in_utc(self, make_store: Callable[[], AuditedKeyStore]) -> None:
        store = make_store()
        plus_two = timezone(timedelta(hours=2))
        store.add_key(make_key("key_a", created_at=datetime(2026, 3, 2, 11, 0, tzinfo=plus_two)))

        created = store.get_key("key_a").created_at
        assert created == T0 and created.utcoffset() == timedelta(0)

    def test_a_duplicate_id_or_secret_is_a_conflict_and_writes_nothing(
        self, make_store: Callable[[], AuditedKeyStore]
    ) -> None:
        store = make_store()
        store.add_key(make_key("key_a"), [event("key_created")])

        with pytest.raises(Conflict):
            store.add_key(make_key("key_a", secret="dfk_other"), [event("key_created")])
        with pytest.raises(Conflict):
            store.add_key(make_key("key_b", secret="dfk_secret_of_key_a"), [event("key_created")])

        assert [k.id for k in store.list_keys(include_revoked=True)] == ["key_a"]
        assert len(store.audit(kind="action")) == 1

    def test_list_is_oldest_first_and_leaves_out_revoked_keys_unless_asked(
        self, make_store: Callable[[], AuditedKeyStore]
    ) -> None:
        store = make_store()
        for n, key_id in enumerate(["key_c", "key_a", "key_b"]):
            store.add_key(make_key(key_id, created_at=T0 + timedelta(minutes=n)))
        revoked = store.get_key("key_a").model_copy(update={"revoked_at": T0 + timedelta(hours=1), "revoked_by": "x"})
        store.update_key(revoked)

        assert [k.id for k in store.list_keys()] == ["key_c", "key_b"]
        assert [k.id for k in store.list_keys(include_revoked=True)] == ["key_c", "key_a", "key_b"]

    def test_an_update_replaces_the_secret_and_writes_its_events(
        self, make_store: Callable[[], AuditedKeyStore]
    ) -> None:
        store = make_store()
        store.add_key(make_key("key_a"))
        rotated = store.get_key("key_a").model_copy(
            update={"secret_hash": hash_secret("dfk_new"), "hint": "dfk_new", "rotated_at": T0}
        )

        store.update_key(rotated, [event("key_rotated")])

        assert store.key_by_hash(hash_secret("dfk_secret_of_key_a")) is None
        assert store.key_by_hash(hash_secret("dfk_new")) == rotated
        assert [e.action for e in store.audit(kind="action")] == ["key_rotated"]

    def test_a_revoked_key_is_never_updated_again(self, make_store: Callable[[], AuditedKeyStore]) -> None:
        store = make_store()
        store.add_key(make_key("key_a"))
        revoked = store.get_key("key_a").model_copy(update={"revoked_at": T0, "revoked_by": "admin-1"})
        store.update_key(revoked)

        unrevoked = revoked.model_copy(update={"revoked_at": None, "secret_hash": hash_secret("dfk_new")})
        with pytest.raises(Conflict):
            store.update_key(unrevoked, [event("key_rotated")])

        assert store.get_key("key_a") == revoked
        assert store.audit(kind="action") == []
        with pytest.raises(NotFound):
            store.update_key(make_key("key_missing"))

    def test_a_revocation_holds_at_once_for_another_handle(
        self,
        make_store: Callable[[], AuditedKeyStore],
        reopen: Callable[[AuditedKeyStore], AuditedKeyStore],
    ) -> None:
        store = make_store()
        other = reopen(store)  # as another worker process would see the same database
        issued = KeyRing(store).create(Role.ADMIN, "ops", "admin-1")
        assert KeyRing(other).identify(issued.secret) == issued.record

        KeyRing(store).revoke(issued.record.id, "admin-1")

        seen = KeyRing(other).identify(issued.secret)
        assert seen is not None and not seen.active

    def test_rotations_racing_a_revocation_never_bring_the_key_back(
        self, make_store: Callable[[], AuditedKeyStore]
    ) -> None:
        store = make_store()
        ring = KeyRing(store)
        key_id = ring.create(Role.AGENT, "racing", "admin-1").record.id
        secrets: list[str] = []
        start = threading.Barrier(5)

        def rotate() -> None:
            start.wait()
            for _ in range(5):
                try:
                    secrets.append(ring.rotate(key_id, "admin-1").secret)
                except Conflict:  # revoked meanwhile: refused, as it must be
                    return

        def revoke() -> None:
            start.wait()
            ring.revoke(key_id, "admin-2")

        threads = [threading.Thread(target=rotate) for _ in range(4)] + [threading.Thread(target=revoke)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert not store.get_key(key_id).active
        for secret in secrets:  # whichever secret a rotation handed out, it is refused now
            found = ring.identify(secret)
            assert found is None or not found.active
