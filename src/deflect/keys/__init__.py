"""API keys and widget ids kept in the database, hashed: created, listed, rotated and revoked by an admin
(`deflect keys ...`, /v1/admin/keys). The settings-file keys and widgets keep working beside them."""

from deflect.keys.ring import Issued, KeyRing, hash_secret

__all__ = ["Issued", "KeyRing", "hash_secret"]
