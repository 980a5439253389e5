"""Go-style durations (``time.ParseDuration``), the format Kubernetes users already know.

Accepted: an optional sign, then one or more ``<number><unit>`` pairs with no spaces: ``500ms``, ``30s``,
``1m30s``, ``1.5h``, ``-2s``. A number is digits with an optional fraction (``1.``, ``.5`` and ``1.5`` are
all fine, a lone ``.`` is not). Units: ``ns``, ``us`` (also ``µs``/``μs``), ``ms``, ``s``, ``m``, ``h``.
The bare string ``0`` (optionally signed) is the only unitless value. Surrounding whitespace is ignored.
"""

from __future__ import annotations

import math
import re

UNIT_SECONDS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # MICRO SIGN
    "\u03bcs": 1e-6,  # GREEK SMALL LETTER MU
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

# Longest units first so that "ms" is not read as "m" followed by garbage.
_UNIT = "|".join(sorted((re.escape(unit) for unit in UNIT_SECONDS), key=len, reverse=True))
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PAIR = re.compile(rf"(?P<number>{_NUMBER})(?P<unit>{_UNIT})")
_DURATION = re.compile(rf"(?P<sign>[+-]?)(?P<pairs>(?:{_NUMBER}(?:{_UNIT}))+|0)")


def parse_duration(text: str) -> float | None:
    """Seconds denoted by ``text`` (may be negative), or ``None`` if it is not a Go-style duration."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    pairs = match["pairs"]
    total = (
        0.0
        if pairs == "0"
        else math.fsum(float(pair["number"]) * UNIT_SECONDS[pair["unit"]] for pair in _PAIR.finditer(pairs))
    )
    if not math.isfinite(total):
        return None
    return -total if match["sign"] == "-" and total else total
