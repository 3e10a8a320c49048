"""The ``credo`` command line: ``credo demo | score | fit | eval | report | bench``.

Built on click (the ``cli`` extra). Each subcommand lives in its own module here and exposes a
click command named ``command``; exit codes: 0 success, 1 a credo error (bad input or data),
2 usage errors (click's own).
"""

from __future__ import annotations

import importlib
import sys

# Subcommand modules, in the order `credo --help` lists them.
_SUBCOMMANDS: list[str] = ["score"]


def _build_group():  # type: ignore[no-untyped-def]
    import click

    from credo import __version__

    @click.group(
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        epilog="Run `credo COMMAND --help` for a command's options and examples.",
    )
    @click.version_option(__version__, prog_name="credo")
    def group() -> None:
        """credo: calibrated confidence and guaranteed decisions for LLM outputs."""

    for name in _SUBCOMMANDS:
        module = importlib.import_module(f"credo.cli.{name}")
        group.add_command(module.command)
    return group


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``credo`` console script."""
    try:
        import click
    except ImportError:
        print("credo's command line needs click: pip install 'credo[cli]'", file=sys.stderr)
        return 2
    from credo.exceptions import CredoError

    group = _build_group()
    try:
        group.main(args=argv, prog_name="credo", standalone_mode=False)
    except CredoError as exc:
        print(f"credo: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"credo: error: {exc}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # click's --help / --version
        return int(exc.code or 0)
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.Abort):
            print("Aborted.", file=sys.stderr)
            return 1
        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
