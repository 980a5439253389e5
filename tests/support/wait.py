"""Waiting in tests: ``eventually`` re-checks a condition until it holds or a deadline passes.

The product never polls; tests may, because they observe the system from outside and must bound
their own waiting. Failures report the last value seen, so a timeout says what was wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Return the first truthy result of ``check()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
        except AssertionError as error:
            result, last = None, error
        else:
            last = result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def settled(read: Callable[[], T], *, quiet: float = 1.0, timeout: float = 30.0, what: str = "value") -> T:
    """Return ``read()`` once it has stayed the same for ``quiet`` seconds (a "nothing more happens" check).

    Used to take a baseline of something the product changes asynchronously (write counters), and to
    give a wrong write the time to show before a test asserts that none happened.
    """
    deadline = time.monotonic() + timeout
    value = read()
    since = time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} still changing after {timeout}s; last: {value!r}")
        time.sleep(0.1)
        current = read()
        if current != value:
            value, since = current, time.monotonic()
    return value
