"""KeyRing: secrets are made here, shown once and stored only hashed; rotation and revocation take effect at once."""

from __future__ import annotations

import pytest

from deflect.domain.keys import KeyKind, Role
from deflect.errors import Conflict, ValidationFailed
from deflect.keys import KeyRing, hash_secret
from deflect.testing.store import InMemoryStore


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def ring(store: InMemoryStore) -> KeyRing:
    return KeyRing(store)


def stored_text(store: InMemoryStore) -> str:
    """Everything the fake holds, as the JSON it keeps (what a database dump would show)."""
    return "".join(store._keys.values()) + "".join(store._events)


def test_the_secret_is_stored_only_as_its_hash(store: InMemoryStore, ring: KeyRing) -> None:
    issued = ring.create(Role.AGENT, "Tier 1 team", "admin-1")

    assert issued.secret.startswith("dfk_") and len(issued.secret) > 40
    assert issued.secret not in stored_text(store)
    assert issued.record.secret_hash == hash_secret(issued.secret)
    assert issued.record.hint == issued.secret[:8]
    assert ring.identify(issued.secret) == issued.record


def test_each_key_gets_its_own_random_secret(ring: KeyRing) -> None:
    made = [ring.create(Role.CUSTOMER, f"site {n}", "admin-1") for n in range(20)]

    assert len({m.secret for m in made}) == len({m.record.id for m in made}) == 20


def test_rotation_refuses_the_old_secret_and_keeps_id_role_and_label(store: InMemoryStore, ring: KeyRing) -> None:
    old = ring.create(Role.ADMIN, "ops", "admin-1")

    new = ring.rotate(old.record.id, "admin-2")

    assert ring.identify(old.secret) is None
    found = ring.identify(new.secret)
    assert found is not None and found.id == old.record.id and found.role is Role.ADMIN and found.label == "ops"
    assert found.rotated_at is not None
    assert new.secret not in stored_text(store)


def test_revocation_is_kept_idempotent_and_audited(store: InMemoryStore, ring: KeyRing) -> None:
    issued = ring.create(Role.CUSTOMER, "help center", "admin-1")

    first = ring.revoke(issued.record.id, "admin-2")
    again = ring.revoke(issued.record.id, "admin-3")

    assert again == first and first.revoked_by == "admin-2"
    seen = ring.identify(issued.secret)
    assert seen is not None and not seen.active
    assert ring.list() == [] and [k.id for k in ring.list(include_revoked=True)] == [issued.record.id]
    with pytest.raises(Conflict):
        ring.rotate(issued.record.id, "admin-1")
    actions = [(e.action, e.actor) for e in store.audit(kind="action")]
    assert actions == [("key_created", "admin-1"), ("key_revoked", "admin-2")]
    logged = "".join(e.model_dump_json() for e in store.audit())
    assert issued.record.secret_hash not in logged and issued.record.hint not in logged


def test_a_widget_id_has_origins_and_no_role(ring: KeyRing) -> None:
    issued = ring.create_widget("docs site", ["https://help.example.com/", "http://localhost:3000"], "admin-1")

    assert issued.secret.startswith("wid_")
    assert issued.record.kind is KeyKind.WIDGET and issued.record.role is None
    assert issued.record.origins == ["https://help.example.com", "http://localhost:3000"]
    changed = ring.set_origins(issued.record.id, [], "admin-1")
    assert changed.origins == []


@pytest.mark.parametrize(
    "origin", ["help.example.com", "https://help.example.com/path", "javascript:alert(1)", "https://u:p@host", "*"]
)
def test_origins_must_be_origins(ring: KeyRing, origin: str) -> None:
    with pytest.raises(ValidationFailed):
        ring.create_widget("docs", [origin], "admin-1")


def test_only_a_widget_has_origins(ring: KeyRing) -> None:
    issued = ring.create(Role.AGENT, "team", "admin-1")
    with pytest.raises(ValidationFailed):
        ring.set_origins(issued.record.id, ["https://a.example"], "admin-1")


@pytest.mark.parametrize("label", ["", "   ", "x" * 101])
def test_a_label_is_required_and_short(ring: KeyRing, label: str) -> None:
    with pytest.raises(ValidationFailed):
        ring.create(Role.AGENT, label, "admin-1")


def test_secrets_that_are_not_ours_are_not_looked_up(ring: KeyRing) -> None:
    class Refusing(InMemoryStore):
        def key_by_hash(self, secret_hash: str) -> None:
            raise AssertionError("looked up")

    assert KeyRing(Refusing()).identify("dev-agent-key") is None
    assert ring.identify("dfk_never_issued") is None
