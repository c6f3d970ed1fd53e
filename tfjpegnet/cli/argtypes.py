"""argparse ``type=`` callables: a JPEG quality, positive and non-negative numbers, with clear messages."""

import argparse
import math
import os

from tfjpegnet.errors import UserError
from tfjpegnet.jpeg.quality_range import check_quality


def quality_arg(text):
    """argparse ``type=`` for a JPEG quality: int in 1..100, with a clear message otherwise."""
    try:
        return check_quality(text)
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def qualities_arg(text):
    """argparse ``type=``: one JPEG quality or a comma-separated list; a list of ints."""
    return [quality_arg(part) for part in str(text).split(",") if part.strip()] or [quality_arg(text)]


def _typed(cast, check, what):
    """argparse ``type=``: ``cast`` the text, then require ``check(value)``; ``what`` names it in errors."""
    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


positive_int = _typed(int, lambda v: v > 0, "a positive integer")
nonneg_int = _typed(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _typed(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
nonneg_float = _typed(float, lambda v: v >= 0 and math.isfinite(v), "a number >= 0")


def existing_file(text):
    """argparse ``type=`` for the path of a file that must exist (str), with a clear message otherwise."""
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return text


def existing_dir(text):
    """argparse ``type=`` for the path of a directory that must exist (str), with a clear message otherwise."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    return text
