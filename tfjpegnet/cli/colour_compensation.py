"""End a trained net with the fixed 4:2:0 colour pre-compensation: ``tfjpegnet colour-compensation``.

Reads a ``.keras`` light Modify-Net for every quality (``train --qualities``), or a net for one
quality with ``--quality Q`` (the quality it edits for, then fixed in the net), builds the same
net with :class:`tfjpegnet.colour_compensation.ColourCompensation` as its last step, copies
the weights (the compensation has none) and writes the new ``.keras``. ``--chroma`` and
``--luma`` set the two strengths as functions of the quality (knots Q:S, linear between,
constant outside); one knot gives a constant strength, e.g. for a sweep judged by
``tfjpegnet operating-point``. ``--luma-model quantisation`` (the default) makes the luma step
cancel the chroma error mozjpeg's decoder will show after quantisation
(:class:`tfjpegnet.chroma_quantisation.QuantisedChromaLuma`, in place of the step's own luma part);
``resampling`` keeps the step's first version, against the round trip alone. ``train
--colour-compensation`` trains a net for every quality with the step in place.
"""

import argparse

from tfjpegnet.cli import argtypes
from tfjpegnet.errors import UserError


def knots_arg(text):
    """argparse ``type=``: "Q:S,Q:S,..." (increasing qualities 1..100, strengths >= 0) -> tuple of (q, s)."""
    try:
        knots = tuple((float(q), float(s)) for q, s in (part.split(":") for part in text.split(",") if part.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"knots must be Q:S,Q:S,... (e.g. 80:0,85:1), got {text!r}") from None
    qualities = [q for q, _ in knots]
    if not knots or qualities != sorted(set(qualities)) or not all(1 <= q <= 100 for q in qualities) \
            or any(s < 0 for _, s in knots):
        raise argparse.ArgumentTypeError(f"knots need increasing qualities in 1..100 and strengths >= 0, "
                                         f"got {text!r}")
    return knots


def knots_text(knots):
    """The "Q:S,Q:S" text of knots ((q, s), ...)."""
    return ",".join(f"{q:g}:{s:g}" for q, s in knots)


def add_arguments(parser):
    """Register the command's options on an argparse parser."""
    from tfjpegnet import chroma_quantisation as cq
    from tfjpegnet import colour_compensation as cc
    from tfjpegnet import models

    parser.add_argument("model", help="a .keras Modify-Net for every quality (train --qualities), or for one "
                                      "quality with --quality")
    parser.add_argument("--quality", type=argtypes.quality_arg, default=None,
                        help="a net for one quality: the quality it edits for (1..100), fixed in the new net")
    parser.add_argument("--out", required=True, help="the .keras file to write")
    parser.add_argument("--chroma", type=knots_arg, default=knots_text(cc.CHROMA_KNOTS),
                        help="strength of the chroma step by quality, knots Q:S")
    parser.add_argument("--luma", type=knots_arg, default=None,
                        help="strength of the luma step by quality, knots Q:S (default: "
                             f"{knots_text(cq.KNOTS)} against quantisation, {knots_text(cc.LUMA_KNOTS)} against "
                             "resampling)")
    parser.add_argument("--tikhonov", type=float, default=cc.TIKHONOV,
                        help="penalty on the change of the chroma means (0: plain least squares)")
    parser.add_argument("--luma-model", choices=models.LUMA_MODELS, default="quantisation",
                        help="the chroma error the luma step cancels: the decoded chroma after mozjpeg's "
                             "quantisation at the request's quality (tfjpegnet.chroma_quantisation), or the "
                             "round trip's resampling alone (the step's first version)")


def run(args):
    """Write ``args.out``; returns 0."""
    if not args.out.endswith(".keras"):
        raise UserError(f"--out must be a .keras file, got {args.out!r}")
    from tfjpegnet import files, models
    from tfjpegnet.deploy import savedmodel

    source = savedmodel.load_keras_model(args.model)
    try:
        net = models.with_colour_compensation(source, args.chroma, args.luma, args.tikhonov, args.luma_model,
                                              args.quality)
    except ValueError as err:
        raise UserError(f"{args.model}: {err}") from None
    luma = net.get_layer("quantised_chroma_luma" if args.luma_model == "quantisation" else "colour_compensation")
    args.luma = luma.knots if args.luma_model == "quantisation" else luma.luma_knots
    with files.atomic_path(args.out) as tmp:
        net.save(tmp)
    fixed = "" if args.quality is None else f"at Q{args.quality}, "
    print(f"{args.out}: {args.model} + colour compensation ({fixed}chroma {knots_text(args.chroma)}, "
          f"luma {knots_text(args.luma)} against {args.luma_model}, tikhonov {args.tikhonov:g})")
    return 0
