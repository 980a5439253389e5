"""``Credentials``: the ``Authorization`` header for a kubeconfig user, for any HTTP client.

lightkube's loader already knows every way a kubeconfig authenticates (a token, a token file such as
the in-cluster ServiceAccount token, an exec plugin, basic auth; client certificates live in the TLS
context instead). Its answers come as httpx ``Auth`` flows; this module drives such a flow once to
obtain the header and caches it, so the data path's client pays a dictionary lookup per request.

Renewal, as client-go does it: after a ``401`` (the token was rotated or expired) the flow is driven
again with that answer, which makes a token-file auth re-read its file and an exec plugin run again;
a token file is also re-read every ``TOKEN_FILE_MAX_AGE`` seconds, because the kubelet rotates
projected ServiceAccount tokens long before they are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx2
from lightkube.config.client_adapter import BearerTokenFileAuth

TOKEN_FILE_MAX_AGE = 60.0
_PROBE_URL = "https://kubernetes.invalid/"


class Credentials:
    def __init__(self, auth: httpx2.Auth | None) -> None:
        self._auth = auth
        self._header: str | None = None
        self._obtained = 0.0
        self._max_age = TOKEN_FILE_MAX_AGE if isinstance(auth, BearerTokenFileAuth) else None
        self._lock = asyncio.Lock()

    async def header(self) -> str | None:
        """The current ``Authorization`` value (``None``: the user authenticates by certificate)."""
        if self._auth is None:
            return None
        stale = self._max_age is not None and time.monotonic() - self._obtained > self._max_age
        if self._header is None or stale:
            await self.renew(self._header)
        return self._header

    async def renew(self, rejected: str | None) -> None:
        """Obtain a new header after ``rejected`` was refused (401) or aged; a no-op when another
        caller already renewed it meanwhile."""
        if self._auth is None:
            return
        async with self._lock:
            if self._header is not None and self._header != rejected:
                return
            flow = self._auth.async_auth_flow(httpx2.Request("GET", _PROBE_URL))
            try:
                request = await flow.__anext__()
                if rejected is not None and request.headers.get("Authorization") == rejected:
                    # Tell the flow its header was refused: token files are re-read, exec plugins rerun.
                    # A static token's flow ends here, keeping the header it has.
                    with contextlib.suppress(StopAsyncIteration):
                        request = await flow.asend(httpx2.Response(401, request=request))
            finally:
                await flow.aclose()
            self._header = request.headers.get("Authorization")
            self._obtained = time.monotonic()
