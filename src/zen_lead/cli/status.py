"""``zen-lead status``: pools, Services and Leases (locks among them) with their leaders, from the
status API (``zen-lead run --api-bind-address``); ``--watch`` redraws on every change it is told of."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import click

from zen_lead.cli.params import _Command

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
COLUMNS = ("KIND", "NAME", "LEADER", "TERM", "SINCE", "STATE")


def render(states: Iterable[dict[str, Any]]) -> str:
    """The table ``zen-lead status`` prints (pure: states in, text out)."""
    rows = [COLUMNS]
    for state in sorted(states, key=lambda s: (s["kind"], s["name"])):
        leader = state.get("leader") or {}
        who = (
            leader.get("pod")
            or leader.get("identity")
            or f"<none: {state.get('noLeaderReason') or 'no leader'}>"
        )
        flag = "stale" if state.get("stale") else ("ok" if state.get("hasLeader") else "no leader")
        rows.append(
            (state["kind"], state["name"], who, str(state.get("term", 0)), state.get("since") or "-", flag)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _token(token: str | None, token_file: str | None) -> str:
    if token:
        return token
    path = Path(token_file) if token_file else SERVICE_ACCOUNT_TOKEN
    try:
        return path.read_text().strip()
    except OSError as error:
        raise click.ClickException(
            f"no token: pass --token or --token-file (cannot read {path}: {error.strerror})"
        ) from error


class _Api:
    def __init__(self, server: str, token: str, ca_file: str | None) -> None:
        self.server = server.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ssl: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        if self.server.startswith("http://"):
            self.ssl = False

    async def get(self, session: aiohttp.ClientSession, path: str, **params: str) -> Any:
        async with session.get(
            self.server + path, params=params, headers=self.headers, ssl=self.ssl
        ) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise click.ClickException(f"{path}: HTTP {response.status}: {body.get('message', body)}")
            return body


async def _status(api: _Api, namespace: str | None, watch: bool, leases: bool) -> None:
    params = {"namespace": namespace} if namespace else {}
    timeout = aiohttp.ClientTimeout(total=None if watch else 30, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        listed = (await api.get(session, "/v1/leaders", **params))["leaders"]
        if leases:
            listed += (await api.get(session, "/v1/leaders", kind="lease", **params))["leaders"]
        if not watch:
            click.echo(render(listed))
            return
        states = {(s["kind"], s["namespace"], s["name"]): s for s in listed}
        click.echo(render(states.values()))
        changed = asyncio.Queue[dict[str, Any]]()
        async with asyncio.TaskGroup() as group:
            for kind, ns, name in states:
                group.create_task(_follow(session, api, kind, ns, name, changed))
            while True:
                state = await changed.get()
                states[(state["kind"], state["namespace"], state["name"])] = state
                click.echo("\x1b[2J\x1b[H" if sys.stdout.isatty() else "", nl=False)
                click.echo(render(states.values()) + ("\n" if not sys.stdout.isatty() else ""))


async def _follow(
    session: aiohttp.ClientSession, api: _Api, kind: str, namespace: str, name: str, out: asyncio.Queue[Any]
) -> None:
    path = f"/v1/leader/service/{namespace}/{name}" if kind == "service" else f"/v1/leader/{kind}/{name}"
    params = {} if kind == "service" else {"namespace": namespace}
    headers = {**api.headers, "Accept": "text/event-stream"}
    last = "0"
    while True:
        try:
            async with session.get(
                api.server + path, params=params, headers={**headers, "Last-Event-ID": last}, ssl=api.ssl
            ) as response:
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("id: "):
                        last = line[4:]
                    elif line.startswith("data: "):
                        await out.put(json.loads(line[6:]))
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(1)  # the server went away: resume from the last term on the next answer


@click.command("status", cls=_Command)
@click.option(
    "--server",
    envvar="ZEN_LEAD_API_SERVER",
    required=True,
    metavar="URL",
    help="The status API: https://HOST:PORT (http:// on loopback only). Env: ZEN_LEAD_API_SERVER.",
)
@click.option("--namespace", "-n", default=None, show_default="the token's ServiceAccount namespace")
@click.option(
    "--token", envvar="ZEN_LEAD_API_TOKEN", default=None, help="Bearer token. Env: ZEN_LEAD_API_TOKEN."
)
@click.option(
    "--token-file", default=None, show_default="the pod's service account token", help="File with the token."
)
@click.option("--ca-file", default=None, help="CA bundle to verify the server's certificate.")
@click.option("--leases", is_flag=True, help="Also every Lease of the namespace (locks among them).")
@click.option("--watch", "-w", is_flag=True, help="Keep watching and redraw on every change.")
def status_command(
    server: str,
    namespace: str | None,
    token: str | None,
    token_file: str | None,
    ca_file: str | None,
    leases: bool,
    watch: bool,
) -> None:
    """Pools and Services (and with --leases every Lease) with who leads them, the term and since when."""
    api = _Api(server, _token(token, token_file or os.environ.get("ZEN_LEAD_API_TOKEN_FILE")), ca_file)
    try:
        asyncio.run(_status(api, namespace, watch, leases))
    except (aiohttp.ClientError, OSError) as error:
        raise click.ClickException(f"cannot reach the status API at {server}: {error}") from error
    except KeyboardInterrupt:
        pass
