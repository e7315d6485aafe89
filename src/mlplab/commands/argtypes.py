"""argparse ``type=`` functions shared by the commands: a bad value is refused by argparse itself
(one line on stderr, exit 2) before any work starts."""

from __future__ import annotations

import argparse

__all__ = ["nonnegative_int"]


def nonnegative_int(text: str) -> int:
    """An integer ≥ 0 (a seed, a count); refuses ``-1`` and anything that is not an integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 0; got {value}")
    return value
