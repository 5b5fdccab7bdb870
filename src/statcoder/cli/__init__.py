"""The ``statcoder`` command: one Typer app; each area registers its commands in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="statcoder",
    help="Automated coding to statistical classifications, with evaluation, monitoring and estimation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module below adds its commands to ``app`` (or a sub-app) on import.
from statcoder.cli import core as _core  # noqa: E402,F401

for _optional in ("estimate", "quality", "monitor", "service", "evaluate"):
    try:
        __import__(f"statcoder.cli.{_optional}")
    except ModuleNotFoundError as exc:  # module not written yet, or its extra not installed
        if exc.name not in (f"statcoder.cli.{_optional}",):
            raise
