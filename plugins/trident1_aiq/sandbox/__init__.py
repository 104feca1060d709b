"""Local sandbox of the Trident1 API and the AIQ messaging gateway (see app.py)."""

from .app import SandboxState, ServerThread, create_app

__all__ = ["SandboxState", "ServerThread", "create_app"]
