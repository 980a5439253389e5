"""The on-disk state of one local cluster: its layout (ports, paths) and the supervisor's status."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from zen_lead.localcluster.components import Layout


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2, default=str))
    os.replace(partial, path)


def save_layout(layout: Layout) -> None:
    _write_json(layout.state / "layout.json", asdict(layout))


def load_layout(state: Path) -> Layout:
    raw = json.loads((state / "layout.json").read_text())
    path_fields = {f.name for f in fields(Layout) if f.type in ("Path", Path)}
    values: dict[str, Any] = {key: Path(value) if key in path_fields else value for key, value in raw.items()}
    return Layout(**values)


def write_status(state: Path, status: dict[str, Any]) -> None:
    _write_json(state / "status.json", status)


def read_status(state: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state / "status.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
