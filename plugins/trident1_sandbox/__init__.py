"""The local sandbox (development and demo only): the Trident1 API and the AIQ messaging gateway.

Not part of the product: the `trident1-aiq` wheel and the production image leave it out.
It serves `make run`, `make sandbox`, `make bench` and the tests (see app.py)."""

from .app import SandboxState, ServerThread, create_app

__all__ = ["SandboxState", "ServerThread", "create_app"]
