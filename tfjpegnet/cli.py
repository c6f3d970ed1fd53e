"""The ``tfjpegnet`` command: one subcommand per job, each in its own module.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
``tools/<command>.py`` scripts are thin wrappers over :func:`main`.
"""

import argparse
import importlib
import math
import os
import sys

from tfjpegnet.errors import UserError

# Quiet TensorFlow's C++ start-up logging before any command module imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMANDS = {
    "train": ("tfjpegnet.train", "train Modify-Net (and JPEG-Net) in stages"),
    "fidelity": ("tfjpegnet.fidelity", "fidelity of the JPEG proxy (and JPEG-Net) to real OpenCV JPEG"),
    "export": ("tfjpegnet.export", "export a Modify-Net as SavedModel (TF Serving) and TFLite"),
    "encode": ("tfjpegnet.encode", "encode images as standard JPEG after the Modify-Net edit"),
    "evaluate": ("tfjpegnet.evaluate", "measure pre-edited vs plain JPEG: tables, RD curves, BD-rate, figures"),
    "operating-point": ("tfjpegnet.operating_point", "where models sit against plain JPEG at one quality"),
    "edit-optimum": ("tfjpegnet.edit_optimum", "the best edit a training objective asks for, without a network"),
}


def quality_arg(text):
    """argparse ``type=`` for a JPEG quality: int in 1..100, with a clear message otherwise."""
    from tfjpegnet.codec import check_quality

    try:
        return check_quality(text)
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


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


def build_parser():
    """Return the top-level argparse parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="tfjpegnet", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        sub.set_defaults(module=module)
        module.add_arguments(sub)
    return parser


def main(argv=None):
    """Parse ``argv`` and run the chosen command; returns the process exit code.

    Usage errors exit with code 2 (argparse convention); a :class:`UserError` or
    ``OSError`` raised by a command prints one line and also exits with 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.module.run(args) or 0)
    except (UserError, OSError) as err:
        print(f"tfjpegnet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
