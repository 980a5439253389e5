"""The supervisor: the one parent of every control-plane process of a local cluster.

Run as ``python -m zen_lead.localcluster.supervisor STATE_DIR [--owner-pid PID]``, detached from the
terminal. It starts the components in order (etcd, then kube-apiserver, then the rest once the
apiserver answers), writes their pids to ``status.json`` and then sleeps in ``select`` on pidfds and a
signal pipe — no polling. Guarantees:

- every component gets ``PR_SET_PDEATHSIG=SIGKILL``: if the supervisor dies, even by SIGKILL, the kernel
  kills the components, so no orphan keeps a port;
- SIGTERM/SIGINT stop the components in reverse order (SIGTERM, then SIGKILL after a grace period);
- a component that exits on its own takes the cluster down and is named in ``status.json`` so that
  ``zen-lead cluster up`` can show the tail of its log;
- with ``--owner-pid`` the cluster lives only as long as that process (a test session that crashes
  leaves nothing behind).
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from zen_lead.localcluster.components import Component, Layout, components
from zen_lead.localcluster.state import load_layout, write_status

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 10.0


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait_apiserver(layout: Layout, procs: dict[str, subprocess.Popen[bytes]], timeout: float = 90.0) -> None:
    """Wait until /readyz answers 200 (anonymous access to it is allowed by the default RBAC)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only a readiness probe: the kubeconfig pins the real CA
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"{layout.server}/readyz", context=context, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # start-up only: the apiserver offers no readiness notification
    raise RuntimeError(f"kube-apiserver not ready after {timeout:.0f}s")


class Supervisor:
    def __init__(self, layout: Layout, owner_pid: int | None) -> None:
        self.layout = layout
        self.owner_pid = owner_pid
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.failed: str | None = None

    def start(self, component: Component) -> None:
        log = open(self.layout.logs / f"{component.name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.procs[component.name] = subprocess.Popen(
            component.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            cwd=self.layout.state,
        )
        log.close()
        self._write("starting")

    def _write(self, phase: str, **extra: object) -> None:
        write_status(
            self.layout.state,
            {
                "phase": phase,
                "supervisor_pid": os.getpid(),
                "pids": {name: proc.pid for name, proc in self.procs.items()},
                "failed_component": self.failed,
                **extra,
            },
        )

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: None)
        try:
            all_components = components(self.layout)
            for component in all_components[:2]:
                self.start(component)
            _wait_apiserver(self.layout, self.procs)
            for component in all_components[2:]:
                self.start(component)
        except Exception as error:  # start-up failed: report, stop what runs, exit
            self.failed = next((n for n, p in self.procs.items() if p.poll() is not None), None)
            self.stop_all()
            self._write("failed", error=str(error))
            return 1
        self._write("running")
        return self._watch(wake_read)

    def _watch(self, wake_read: int) -> int:
        watched: dict[int, str] = {os.pidfd_open(proc.pid): name for name, proc in self.procs.items()}
        if self.owner_pid is not None:
            try:
                watched[os.pidfd_open(self.owner_pid)] = "<owner>"
            except ProcessLookupError:
                self.stop_all()
                self._write("stopped", reason="owner process already gone")
                return 0
        readable, _, _ = select.select([wake_read, *watched], [], [])
        gone = [watched[fd] for fd in readable if fd in watched]
        component_died = [name for name in gone if name != "<owner>"]
        if component_died:
            self.failed = component_died[0]
        self.stop_all()
        if self.failed:
            code = self.procs[self.failed].returncode
            self._write("failed", error=f"{self.failed} exited with code {code}")
            return 1
        self._write("stopped", reason="owner exited" if gone else "signal")
        return 0

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def main(argv: list[str]) -> int:
    state = Path(argv[0])
    owner = int(argv[2]) if len(argv) > 2 and argv[1] == "--owner-pid" else None
    layout = load_layout(state)
    supervisor = Supervisor(layout, owner)
    code = supervisor.run()
    print(json.dumps({"exit": code, "failed": supervisor.failed}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
