"""The web application: app factory, settings, authentication and the CLI."""

from .app import create_app

__all__ = ["create_app"]
