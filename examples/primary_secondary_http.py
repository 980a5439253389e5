"""Primary/secondary HTTP: every replica serves reads, only the leader (primary) accepts writes.

    python examples/primary_secondary_http.py --kubeconfig ~/.kube/config --port 8080

``GET /role`` says primary or secondary; ``POST /write`` answers 503 on a secondary (clients retry on
the primary, e.g. through zen-lead's ``<svc>-leader`` Service); ``GET /healthz/primary`` is 200 only on
the primary, for probes and load balancers. The fencing token goes into every write.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

from zen_lead.election import LeaderElector, Leadership, LeaseRef


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    async def lead(leadership: Leadership) -> None:
        print(f"primary now, token {leadership.token}", flush=True)

    elector = LeaderElector(
        LeaseRef("example-primary", args.namespace, kubeconfig=args.kubeconfig), on_started_leading=lead
    )

    async def role(_: web.Request) -> web.Response:
        return web.json_response(
            {"identity": elector.identity, "primary": elector.is_leader, "leader": elector.leader}
        )

    async def write(request: web.Request) -> web.Response:
        token = elector.fencing_token
        if token is None:
            return web.json_response({"error": "secondary", "primary": elector.leader}, status=503)
        body = await request.text()
        return web.json_response({"stored": len(body), "token": token.transitions})  # pass the token on

    async def primary_health(_: web.Request) -> web.Response:
        return web.Response(status=200 if elector.is_leader else 503)

    app = web.Application()
    app.add_routes(
        [web.get("/role", role), web.post("/write", write), web.get("/healthz/primary", primary_health)]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, elector.stop)
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, elector.stop)
    try:
        await elector.run()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
