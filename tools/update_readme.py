"""Regenerate README.md's "Results" and "Performance" sections from results/*/metrics.json
(tfjpegnet evaluate) and benchmarks/results/*.md (benchmarks/bench_*.py)."""

import argparse
import sys

from tfjpegnet.errors import UserError
from tfjpegnet.evaluation.summary import update_readme


def main(argv=None):
    """Parse flags and rewrite the README's results section; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--readme", default="README.md", help="README to update")
    parser.add_argument("--results", default="results", help="folder with q{Q}/ and rate_q{Q}/ evaluations")
    parser.add_argument("--benchmarks", default="benchmarks/results",
                        help="folder of benchmark tables (*.md) for the performance section ('' to skip)")
    parser.add_argument("--qualities", default="5,15", help="comma-separated qualities to include")
    args = parser.parse_args(argv)
    try:
        update_readme(args.readme, args.results, [int(q) for q in args.qualities.split(",")],
                      args.benchmarks or None)
    except (UserError, OSError) as err:
        print(f"update_readme: error: {err}", file=sys.stderr)
        return 2
    print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
