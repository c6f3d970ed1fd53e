"""Regenerate the generated sections: README.md's "Results" and docs/evaluation.md's details from
results/*/metrics.json (tfjpegnet evaluate), benchmarks/README.md's results from
benchmarks/results/*.md (benchmarks/bench_*.py)."""

import argparse
import sys

from tfjpegnet.errors import UserError
from tfjpegnet.evaluation.summary import update_readme


def main(argv=None):
    """Parse flags and rewrite the generated sections; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--readme", default="README.md", help="README to update (headline results)")
    parser.add_argument("--details", default="docs/evaluation.md",
                        help="document for the detailed results: JPEG-Net fidelity, other encoders ('' to skip)")
    parser.add_argument("--results", default="results", help="folder with q{Q}/ and rate_q{Q}/ evaluations")
    parser.add_argument("--benchmarks", default="benchmarks/results",
                        help="folder of benchmark tables (*.md) for the performance section ('' to skip)")
    parser.add_argument("--performance", default="benchmarks/README.md",
                        help="document for the performance section ('' to skip)")
    parser.add_argument("--qualities", default="5,15", help="comma-separated qualities to include")
    args = parser.parse_args(argv)
    try:
        update_readme(args.readme, args.results, [int(q) for q in args.qualities.split(",")],
                      args.details or None, args.benchmarks or None, args.performance or None)
    except (UserError, OSError) as err:
        print(f"update_readme: error: {err}", file=sys.stderr)
        return 2
    print("updated " + ", ".join(p for p in (args.readme, args.details, args.benchmarks and args.performance) if p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
