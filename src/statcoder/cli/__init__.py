"""The ``statcoder`` command: one Typer app; each area registers its commands in its own module.

Start-up must stay fast (``statcoder --help`` well under a second), so two rules hold:

* Modules in ``_MODULES`` are imported when the app starts and add their commands to ``app``
  with ``@app.command()``. At module level they import only the standard library, typer, rich
  and ``statcoder.cli._common`` / ``statcoder.errors``; pandas, numpy, scikit-learn, matplotlib
  and the domain packages are imported inside the command functions.
* Sub-apps listed in ``LAZY_GROUPS`` (name -> module, attribute, one-line help) are not imported
  at all until their command is run or asked for ``--help``; ``statcoder --help`` lists them from
  the help text given here. Such a module may import what it likes at module level, and may (or
  may not) also call ``app.add_typer``: the lazy entry is used either way.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any

import typer
from typer import core as _typer_core
from typer.core import TyperGroup


def _hide_flag_types() -> None:
    """Show on/off flags (``--flat``, ``--resume``) without a ``<bool>`` type in ``--help``.

    Recent Typer versions print a type for every option, flags included, which reads as if
    the flag took a value (a new user typed ``--flat true``). Only the display is changed.
    """
    original = getattr(_typer_core.TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_statcoder", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and getattr(self, "metavar", None) is None:
            return None
        return original(self, ctx)

    display_type_rich._statcoder = True  # type: ignore[attr-defined]
    _typer_core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_hide_flag_types()

#: sub-apps loaded on first use: name -> (module, attribute holding the typer.Typer, help)
LAZY_GROUPS: dict[str, tuple[str, str, str]] = {
    "estimate": (
        "statcoder.cli.estimate",
        "estimate_app",
        (
            "Estimates with confidence intervals: survey designs, model-assisted, small areas, "
            "code shares corrected for coding error."
        ),
    ),
}


def _load_group(name: str) -> Any:
    import typer.main

    module, attribute, _help = LAZY_GROUPS[name]
    sub_app = getattr(import_module(module), attribute)
    sub_app._add_completion = False  # completion belongs to the root command only
    command = typer.main.get_command(sub_app)
    command.name = name
    return command


class _LazyCommand(typer.core.TyperCommand):
    """Stands in for a sub-app in the command list; loads the real group when it is invoked."""

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name=name, help=help_text, short_help=help_text, callback=None)

    def make_context(self, info_name: Any, args: list[str], parent: Any = None, **extra: Any) -> Any:
        return _load_group(self.name).make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """The root group: the eager commands plus the lazy sub-apps of ``LAZY_GROUPS``."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return names + [n for n in LAZY_GROUPS if n not in names]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_GROUPS:
            return _LazyCommand(cmd_name, LAZY_GROUPS[cmd_name][2])
        return super().get_command(ctx, cmd_name)


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None) -> str:
    """Warnings on the command line read like the CLI's errors: no source file, no code line."""
    return f"warning: {message}\n"


warnings.formatwarning = _format_warning

app = typer.Typer(
    name="statcoder",
    help="Automated coding to statistical classifications, with evaluation, monitoring and estimation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)

# Each module below adds its commands to ``app`` (or a sub-app) on import; keep them light.
_MODULES = ("core", "evaluate", "quality", "monitor", "service", "retrain", "calibrate")

for _name in _MODULES:
    try:
        import_module(f"statcoder.cli.{_name}")
    except ModuleNotFoundError as exc:  # module not written yet, or its extra not installed
        if exc.name != f"statcoder.cli.{_name}":
            raise
