"""A process's own cost, read from /proc: resident memory and CPU seconds."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_bytes(pid: int) -> int:
    """VmRSS: resident set size now."""
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the highest resident set size since the process started."""
    return _status_kib(pid, "VmHWM") * 1024


def open_sockets(pid: int) -> int:
    """Sockets the process holds (its keep-alive connections to the apiserver, mostly)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (its own threads; not children)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text.rsplit(")", 1)[1].split()  # the command name may contain spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5), 1-based
    return (utime + stime) / CLOCK_TICKS
