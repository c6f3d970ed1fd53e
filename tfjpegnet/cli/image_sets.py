"""Which images a judging command works on: ``--data-dir`` (Kodak's test split) or ``--images DIR``.

Shared by ``tfjpegnet operating-point`` and ``tfjpegnet edit-optimum``: the paper's test images
kodim22..24 of a Kodak folder (downloaded by default), or every image of another folder (e.g.
all 24 Kodak images for a net trained on another corpus, or a selection set such as T91), with
``--every N`` for a quick subset of it.
"""

from tfjpegnet.cli.argtypes import positive_int
from tfjpegnet.errors import UserError


def add_arguments(parser, what="judged"):
    """Register ``--data-dir`` | ``--images`` (mutually exclusive) and ``--every`` on ``parser``.

    ``what`` completes the help texts ("judged", "optimised and judged", ...).
    """
    images = parser.add_mutually_exclusive_group()
    images.add_argument("--data-dir", help=f"directory with the Kodak PNGs, {what} on its test split kodim22..24 "
                        "(default: download them)")
    images.add_argument("--images", help=f"every image of this directory is {what} instead (e.g. all 24 Kodak "
                        "images for a model trained on another corpus)")
    parser.add_argument("--every", type=positive_int, default=1,
                        help="with --images: only every Nth image of the folder (sorted by path), a quick subset")


def paths(args):
    """The image files the parsed ``args`` name (sorted; ``--every`` applied), list of str.

    UserError for ``--every`` without ``--images`` or a missing or empty folder.
    """
    from tfjpegnet.evaluation import evaluate

    if args.images:
        from tfjpegnet import datasets
        return datasets.find_images(args.images)[::args.every]
    if args.every != 1:
        raise UserError("--every needs --images")
    return evaluate.split_test_paths(args.data_dir)


def load(args):
    """The images the parsed ``args`` name: dict name -> RGB uint8 [H, W, 3].

    UserError as :func:`paths`, or for an unreadable image
    (:func:`tfjpegnet.evaluation.evaluate.load_images`).
    """
    from tfjpegnet.evaluation import evaluate

    return evaluate.load_images(paths(args))
