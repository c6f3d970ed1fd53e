"""The ``tfjpegnet`` command: one subcommand per job, each in its own module.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
``tools/<command>.py`` scripts are thin wrappers over :func:`main`.
"""

import argparse
import importlib
import os
import sys

from tfjpegnet.errors import UserError

# Quiet TensorFlow's C++ start-up logging before any command module imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMANDS = {
    "train": ("tfjpegnet.cli.train", "train Modify-Net (and JPEG-Net) in stages"),
    "fidelity": ("tfjpegnet.evaluation.fidelity", "fidelity of the JPEG proxy (and JPEG-Net) to real OpenCV JPEG"),
    "export": ("tfjpegnet.deploy.savedmodel", "export a Modify-Net as SavedModel (TF Serving) and TFLite"),
    "encode": ("tfjpegnet.deploy.encode", "encode images as standard JPEG after the Modify-Net edit"),
    "evaluate": ("tfjpegnet.evaluation.evaluate", "measure pre-edited vs plain JPEG: tables, RD curves, BD-rate, figures"),
    "operating-point": ("tfjpegnet.evaluation.operating_point", "where models sit against plain JPEG at one quality"),
    "edit-optimum": ("tfjpegnet.evaluation.edit_optimum", "the best edit a training objective asks for, without a network"),
}


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
