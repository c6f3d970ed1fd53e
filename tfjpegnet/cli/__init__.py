"""The ``tfjpegnet`` command: one subcommand per job, each in its own module.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; library
modules never import command modules. Only the chosen command's module is imported
(``tfjpegnet --help`` imports none), so a command loads only the optional packages it
uses. TensorFlow's native start-up logs are quiet unless ``tfjpegnet --verbose`` (see
:mod:`tfjpegnet.cli.tflogs`). ``tools/<command>.py`` scripts are thin wrappers over
:func:`main`.
"""

import argparse
import sys

from tfjpegnet.cli import tflogs
from tfjpegnet.errors import UserError

DESCRIPTION = ("Make JPEG files smaller at the same quality: a CNN edits each image before a standard JPEG "
               "encoder, and any JPEG decoder shows the result. One subcommand per job; "
               "'tfjpegnet COMMAND --help' gives its options.")

# End a help text whose default it describes in words with this: a "%(default)" in the text stops
# ArgumentDefaultsHelpFormatter from adding "(default: None)", and ".0s" prints nothing.
DESCRIBED_DEFAULT = "%(default).0s"

COMMANDS = {
    "train": ("tfjpegnet.cli.train", "train Modify-Net (and JPEG-Net) in stages"),
    "fidelity": ("tfjpegnet.cli.fidelity", "fidelity of the JPEG proxy (and JPEG-Net) to real OpenCV JPEG"),
    "export": ("tfjpegnet.cli.export", "export a Modify-Net as SavedModel (TF Serving) and TFLite"),
    "encode": ("tfjpegnet.cli.encode", "encode images as standard JPEG after the Modify-Net edit"),
    "serve-client": ("tfjpegnet.cli.serve_client", "send images to TF Serving running an exported model"),
    "evaluate": ("tfjpegnet.cli.evaluate", "measure pre-edited vs plain JPEG: tables, RD curves, BD-rate, figures"),
    "operating-point": ("tfjpegnet.cli.operating_point", "where models sit against plain JPEG at one quality"),
    "edit-optimum": ("tfjpegnet.cli.edit_optimum", "the best edit a training objective asks for, without a network"),
    "fit-encoder-model": ("tfjpegnet.cli.fit_encoder_model", "fit the proxy's model of mozjpeg to real mozjpeg files"),
    "colour-compensation": ("tfjpegnet.cli.colour_compensation",
                            "end a net for every quality with the fixed 4:2:0 colour pre-compensation"),
    "model-info": ("tfjpegnet.cli.model_info", "parameters and FLOPs per megapixel of a Modify-Net"),
}


def command_in(argv):
    """``(verbose, command)`` from the top-level tokens of ``argv``, before any parsing.

    ``command`` is the first token that is not an option (None if there is none);
    ``verbose`` is True if ``--verbose`` comes before it.
    """
    verbose = False
    for token in argv:
        if token == "--verbose":
            verbose = True
        elif not token.startswith("-"):
            return verbose, token
    return verbose, None


def build_parser(command=None, log_level=None):
    """Return the top-level argparse parser.

    Every subcommand is listed; only ``command``'s module is imported and its options
    registered (None: no module is imported, enough for ``tfjpegnet --help``).
    ``log_level``: as for :func:`tflogs.import_quietly` (None keeps TensorFlow's logs).
    """
    parser = argparse.ArgumentParser(prog="tfjpegnet", description=DESCRIPTION, allow_abbrev=False)
    parser.add_argument("--verbose", action="store_true",
                        help="keep TensorFlow's native log messages (quiet by default unless "
                             f"{tflogs.LEVEL_VARIABLE} is set)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        if name != command:
            subparsers.add_parser(name, help=help_text)
            continue
        module = tflogs.import_quietly(module_name, log_level)
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        sub.set_defaults(module=module)
        tflogs.call_quietly(lambda: module.add_arguments(sub), log_level)  # its defaults may load TensorFlow
    return parser


def main(argv=None):
    """Parse ``argv`` and run the chosen command; returns the process exit code.

    Usage errors exit with code 2 (argparse convention); a :class:`UserError` or
    ``OSError`` raised by a command prints one line and also exits with 2.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose, command = command_in(argv)
    log_level = None if verbose else tflogs.quiet()
    args = build_parser(command, log_level).parse_args(argv)
    tflogs.import_quietly("tensorflow", log_level)  # commands may import it lazily, in run()
    try:
        return int(args.module.run(args) or 0)
    except (UserError, OSError) as err:
        print(f"tfjpegnet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
