"""Parameters and compute of Modify-Nets: a saved ``.keras`` file or a builder's sizes.

For each model: parameters, multiply-accumulates and FLOPs (2 x MACs) of its convolutions
per megapixel of input (each layer counted at its own resolution; element-wise operations
are not counted), receptive radius and tiling grid. Give ``.keras`` files, or
``--light FACTOR,FILTERS,BLOCKS`` / ``--paper DEPTH,FILTERS`` for a new net.
"""

from tfjpegnet.cli import argtypes


def add_arguments(parser):
    """Register the command's flags on an argparse parser."""
    parser.add_argument("models", nargs="*", help="Modify-Net .keras files")
    parser.add_argument("--paper", action="append", default=[], metavar="DEPTH,FILTERS",
                        help="a paper-style net of these sizes (repeatable)")
    parser.add_argument("--light", action="append", default=[], metavar="FACTOR,FILTERS,BLOCKS",
                        help="a light net of these sizes (repeatable)")
    parser.add_argument("--mcu-branch", type=argtypes.nonneg_int, default=0,
                        help="MCU-branch units of the nets built from --paper/--light")


def _sizes(text, count, flag):
    from tfjpegnet.errors import UserError

    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count or min(values) < 0:
        raise UserError(f"{flag} expects {count} comma-separated integers, got {text!r}")
    return values


def run(args):
    """Print one Markdown row per model; returns the exit code."""
    import os

    import keras

    from tfjpegnet import models
    from tfjpegnet.errors import UserError

    nets = []
    for path in args.models:
        if not os.path.isfile(path):
            raise UserError(f"model {path!r} not found")
        nets.append((path, keras.models.load_model(path, compile=False)))
    for text in args.paper:
        depth, filters = _sizes(text, 2, "--paper")
        nets.append((f"paper {depth}x{filters}", models.build_modify_net(depth, filters, mcu_branch=args.mcu_branch)))
    for text in args.light:
        factor, filters, blocks = _sizes(text, 3, "--light")
        nets.append((f"light f{factor} c{filters} b{blocks}",
                     models.build_light_modify_net(factor, filters, blocks, mcu_branch=args.mcu_branch)))
    if not nets:
        raise UserError("give .keras files or --paper / --light sizes")
    print("| model | parameters | GMAC / MP | GFLOP / MP | receptive radius | tile grid |")
    print("|---|---|---|---|---|---|")
    for name, net in nets:
        cost = models.cost(net)
        print(f"| {name} | {cost['parameters']:,} | {cost['macs_per_megapixel'] / 1e9:.2f} | "
              f"{cost['gflops_per_megapixel']:.2f} | {models.receptive_radius(net)} px | {models.grid_period(net)} px |")
    return 0
