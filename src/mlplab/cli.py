"""The ``mlplab`` command.

Each sub-command lives in its own module under :mod:`mlplab.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function that runs it.
User mistakes (an :class:`~mlplab.errors.MlplabError`, a bad flag) and files that cannot be
read or written (an :class:`OSError`) print one line on stderr and exit with status 2; Ctrl-C
exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mlplab import __version__
from mlplab.errors import MlplabError

# Sub-command modules, in the order `mlplab --help` lists them.
COMMANDS = [
    "gradcheck",
    "datasets",
    "train",
    "evaluate",
    "predict",
    "doctor",
    "explain",
    "export",
    "playground",
    "reproduce",
    "sweep",
    "claims",
    "perceptron",
    "xor",
    "bench",
]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``mlplab`` parser with every sub-command of :data:`COMMANDS` registered."""
    parser = _Parser(
        prog="mlplab",
        description="A laboratory for neural networks, from the perceptron to the MLP.",
    )
    parser.add_argument("--version", action="version", version=f"mlplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"mlplab.commands.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except MlplabError as exc:
        print(f"mlplab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mlplab {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file the command reads or writes outside mlplab.io
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mlplab {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
