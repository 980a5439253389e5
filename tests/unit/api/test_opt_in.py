"""The API is opt-in in memory too: the manager and the command line load no gRPC until it is enabled."""

from __future__ import annotations

import subprocess
import sys


def test_the_manager_does_not_load_grpc_unless_the_api_is_enabled() -> None:
    code = (
        "import sys, zen_lead.cli, zen_lead.manager.run, zen_lead.manager.controllers; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google') "
        "or m.startswith('zen_lead.api.server') or m.startswith('zen_lead.api.pb')); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
