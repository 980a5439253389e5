"""What every ``zen-lead`` command shares: one-line usage errors and the duration type."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

from zen_lead.director.core.durations import parse_duration

F = TypeVar("F", bound=Callable[..., Any])


class OneLineUsageError(click.ClickException):
    """A usage error said in one line, as every other error of the command line is."""

    exit_code = 2


class _Command(click.Command):
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as error:
            path = error.ctx.command_path if error.ctx is not None else self.name
            raise OneLineUsageError(f"{error.format_message()} (see: {path} --help)") from error


class _Group(click.Group):
    command_class = _Command
    group_class = type  # subgroups are of this class too


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.2 or so
    """A Go duration (``15s``, ``1m30s``, ``500ms``), as the annotations and Kubernetes' own components
    take them; a bare number is seconds, the flags' older form. Converted to seconds (a float)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float | int) and not isinstance(value, bool):
            return float(value)
        text = str(value).strip()
        try:
            seconds: float | None = float(text)
        except ValueError:
            seconds = parse_duration(text)
        if seconds is None or not math.isfinite(seconds):
            self.fail(f"{value!r} is not a duration: write it as 15s, 1m30s or 500ms", param, ctx)
        return seconds


def seconds_text(seconds: float) -> str:
    """``15.0`` -> ``15s``: how the help shows a duration's default."""
    return f"{seconds:g}s"
