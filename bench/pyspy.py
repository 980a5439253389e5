"""``python -m bench.pyspy PROFILE.txt`` — where a controller's CPU went, by layer, from a py-spy profile.

py-spy is not a dependency: install it anywhere (``pip install py-spy``) and record the controller while
a benchmark runs, in raw (collapsed-stack) format, e.g. during ``python -m bench.ab``::

    py-spy record -p <controller pid> -r 200 --nonblocking -f raw -o profile.txt

Each line of such a file is ``frame;frame;...;leaf count``. A sample is *idle* when its leaf is the
event loop's ``select`` (py-spy without ``--idle`` still keeps those in ``--nonblocking`` mode); every
other sample is charged to the innermost frame that belongs to a known layer (``LAYERS``), or to
"own shell" when none does. Prints the share of busy samples per layer and the top functions by self
samples; ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# (layer, substrings of a frame's "function (file:line)" text); the first layer that matches wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging", ("logging/",)),
    ("prometheus_client", ("prometheus_client/",)),
    ("decision (director/core)", ("zen_lead/director/core/", "zen_lead/eligibility/")),
    ("watch decoding and dispatch", ("zen_lead/kube/informer.py",)),
    ("Events", ("zen_lead/runtime/events.py", "zen_lead/director/events.py")),
    (
        "HTTP client (aiohttp, yarl, TLS, transports)",
        ("aiohttp/", "yarl/", "ssl.py", "sslproto.py", "selector_events.py", "multidict/"),
    ),
    ("imports at start-up", ("importlib",)),
)
OWN_SHELL = "own shell (reconcile, queue, client glue, loop)"
IDLE_LEAF = "EpollSelector.select"
_LINE_NUMBER = re.compile(r":\d+\)$")


@dataclass(frozen=True, slots=True)
class Summary:
    samples: int
    idle: int
    layers: dict[str, int]  # busy samples per layer
    top_self: list[tuple[str, int]]  # (function, self samples), busy samples only

    @property
    def busy(self) -> int:
        return self.samples - self.idle

    def as_dict(self) -> dict[str, object]:
        busy = max(self.busy, 1)
        return {
            "samples": self.samples,
            "idle_samples": self.idle,
            "busy_samples": self.busy,
            "layers": {name: round(count / busy, 4) for name, count in self.layers.items()},
            "top_self": [
                {"function": name, "share": round(count / busy, 4)} for name, count in self.top_self
            ],
        }


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, patterns in LAYERS:
            if any(pattern in frame for pattern in patterns):
                return name
    return OWN_SHELL


def summarize(lines: Iterable[str], *, top: int = 10) -> Summary:
    """The layer shares and top self functions of py-spy raw output (see the module docstring)."""
    samples = idle = 0
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        if frames[-1].startswith(IDLE_LEAF):
            idle += count
            continue
        layers[layer_of(frames)] += count
        leaves[_LINE_NUMBER.sub(")", frames[-1])] += count
    return Summary(
        samples=samples, idle=idle, layers=dict(layers.most_common()), top_self=leaves.most_common(top)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path, help="py-spy raw output (-f raw)")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    summary = summarize(args.profile.read_text().splitlines(), top=args.top)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
        return
    print(f"{summary.samples} samples, {summary.idle} idle, {summary.busy} busy")
    for name, count in summary.layers.items():
        print(f"{100 * count / max(summary.busy, 1):5.1f} %  {name}")
    print("top functions by self samples:")
    for name, count in summary.top_self:
        print(f"{100 * count / max(summary.busy, 1):5.1f} %  {name}")


if __name__ == "__main__":
    main()
