"""The ``credo`` command line: ``credo demo | score | fit | eval | report | gate | bench``.

Built on click (the ``cli`` extra). Each subcommand lives in its own module here and exposes a
click command named ``command``. Exit status (stated in ``credo --help`` and the README):

* 0 — success;
* 1 — the data or a file is at fault: missing, unreadable or malformed, a value in a row, an
  artefact of the wrong kind, an infeasible target (the message names the file, column and row);
* 2 — the command line is at fault: unknown command or option, a bad option value;
* 3 — ``credo gate`` found a statistically significant regression.

No input ends in a Python traceback: an unexpected exception is reported on one line as an
internal error (a bug to report), still with exit status 1.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

# Subcommand modules, in the order `credo --help` lists them.
_SUBCOMMANDS: list[str] = ["demo", "score", "fit", "eval", "report", "gate", "bench"]

EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_REGRESSION = 0, 1, 2, 3

EPILOG = """\b
Exit status:
  0  success
  1  data or file error: missing, unreadable or malformed file, bad value in a row
     (rows count from 1, the header not counted), wrong artefact, infeasible target
  2  usage error: unknown command or option, bad option value
  3  credo gate: a statistically significant regression

Run `credo COMMAND --help` for a command's options and examples."""


def _build_group() -> click.Group:
    import click

    from credo import __version__

    @click.group(
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        epilog=EPILOG,
    )
    @click.version_option(__version__, prog_name="credo")
    def group() -> None:
        """credo: calibrated confidence and guaranteed decisions for LLM outputs."""

    for name in _SUBCOMMANDS:
        module = importlib.import_module(f"credo.cli.{name}")
        group.add_command(module.command)
    return group


def _error(message: str, code: int = EXIT_DATA) -> int:
    print(f"credo: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``credo`` console script; returns the exit status."""
    try:
        import click
    except ImportError:
        print("credo's command line needs click: pip install 'credo[cli]'", file=sys.stderr)
        return EXIT_USAGE
    from credo.exceptions import CredoError

    group = _build_group()
    try:
        # Without standalone mode click returns an exit status from ctx.exit(n) (gate, --help).
        status = group.main(args=argv, prog_name="credo", standalone_mode=False)
    except CredoError as exc:
        return _error(str(exc), getattr(exc, "exit_code", EXIT_DATA))
    except click.exceptions.Abort:  # Ctrl-C
        print("credo: interrupted", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:  # click's --help / --version
        return int(exc.code or 0)
    except MemoryError:
        return _error("out of memory (the input is too large for this machine)")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(f"{where}{exc.strerror or exc}")
    except Exception as exc:  # a bug, but never a traceback in front of a user
        return _error(f"internal error, please report it: {type(exc).__name__}: {exc}")
    return status if isinstance(status, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
