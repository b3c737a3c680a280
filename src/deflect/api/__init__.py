"""HTTP entry point. The only package that imports FastAPI."""

from deflect.api.app import create_app

__all__ = ["create_app"]
