"""First-party fakes for every seam, and shared contract tests. Used by our tests and by anyone extending deflect."""

from deflect.testing.fakes import HashEmbedder, InMemoryIndex, ScriptedGenerator
from deflect.testing.store import InMemoryStore

__all__ = ["HashEmbedder", "InMemoryIndex", "InMemoryStore", "ScriptedGenerator"]
