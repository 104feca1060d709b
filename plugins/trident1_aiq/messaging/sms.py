"""AIQ messaging gateway v1 client (the interface: docs/external-apis.md), on the same retrying core
as the Trident1 client: 429/5xx/timeouts retried, 400/401/403 permanent."""

from __future__ import annotations

from typing import Any

from trident1_aiq.http_client import HttpError, HttpJsonClient
from trident1_aiq.settings.config import GatewayCredential


class InvalidNumber(HttpError):
    """400 invalid_number: permanent for that number; mark the request failed and go on."""


class GatewayClient:
    def __init__(self, credential: GatewayCredential, **kwargs: Any):
        self.http = HttpJsonClient(credential.conn_id, credential.base_url,
                                   {"Authorization": f"Bearer {credential.token.get_secret_value()}"}, **kwargs)

    def send(self, *, to: str, body: str, idempotency_key: str, persona_id: str, store_id: str | None,
             kind: str = "double_opt_in") -> str:
        """Send (or, for a key already used, look up) a message; return its id."""
        try:
            _, reply = self.http.request(
                "POST", "/messages", check=lambda b: isinstance(b, dict) and bool(b.get("id")),
                json={"to": to, "body": body, "kind": kind, "persona_id": persona_id, "store_id": store_id},
                headers={"Idempotency-Key": idempotency_key})
        except HttpError as exc:
            if exc.status == 400 and exc.code == "invalid_number":
                raise InvalidNumber(str(exc), exc.status, exc.code) from None
            raise
        return str(reply["id"])

    def replies(self, since: str | None) -> list[dict[str, Any]]:
        """Every reply received at or after ``since`` (RFC 3339), following the cursor."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {k: v for k, v in (("since", since), ("cursor", cursor)) if v}
            _, page = self.http.request("GET", "/replies", params=params,
                                        check=lambda b: isinstance(b, dict) and isinstance(b.get("data"), list))
            out.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out
