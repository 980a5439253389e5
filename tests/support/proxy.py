"""A TCP relay in front of the apiserver, to make a client's connections misbehave on purpose.

The relay passes bytes through untouched (TLS ends at the apiserver, whose certificate names
127.0.0.1, so a kubeconfig pointing at the relay verifies as before). It can

- ``reset()`` every open connection (a broken stream: the client sees the connection end), and
- ``freeze()`` the connections open at that moment — they stay open, nothing more is relayed on them,
  so a stream goes silent — while new connections pass; ``thaw()`` resumes them.

It runs on the test's event loop; it is a network fault, not a stand-in for any API.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed


class Relay:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        self.thaw()
        self.reset()
        if self._handlers:  # let each handler end by itself (a cancelled one is logged as an error)
            await asyncio.wait(self._handlers, timeout=10)
        await self._server.wait_closed()

    def kubeconfig(self, admin: Path, target: Path) -> Path:
        """A copy of ``admin`` whose cluster URL is the relay."""
        config = yaml.safe_load(admin.read_text())
        for cluster in config["clusters"]:
            url = urlsplit(cluster["cluster"]["server"])
            cluster["cluster"]["server"] = f"{url.scheme}://127.0.0.1:{self.port}"
        target.write_text(yaml.safe_dump(config))
        return target

    @property
    def accepted(self) -> int:
        """Connections open now."""
        return len(self._connections)

    def reset(self) -> None:
        for connection in list(self._connections):
            connection.close()

    def freeze(self) -> None:
        for connection in self._connections:
            connection.flowing.clear()

    def thaw(self) -> None:
        for connection in self._connections:
            connection.flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        connection = _Connection((writer, up_writer))
        self._connections.add(connection)
        try:
            await asyncio.gather(
                connection.pump(reader, up_writer), connection.pump(up_reader, writer), return_exceptions=True
            )
        finally:
            connection.close()
            self._connections.discard(connection)


class _Connection:
    def __init__(self, writers: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
        self.writers = writers
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while True:
            await self.flowing.wait()
            data = await source.read(65536)
            if not data:
                break
            await self.flowing.wait()  # frozen while reading: hold the bytes back
            sink.write(data)
            await sink.drain()
        self.close()

    def close(self) -> None:
        for writer in self.writers:
            with contextlib.suppress(Exception):
                writer.close()
