"""LazyAdam on a large embedding: the cost of a step grows with the touched rows, not the table.

    python benchmarks/lazy_adam_embedding.py [--rows 1000000] [--width 32]

For each number of touched rows it times one sparse step of ``zoo_lazy_adam`` (only the touched
rows of the table and of both moments change), of ``zoo_adam`` and of Keras's ``adam`` (both
decay every row's moments: the whole table is read and written), in the same run.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_optim_zoo.bench import sparse_embedding_case  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="embedding rows (default 1,000,000)")
    parser.add_argument("--width", type=int, default=32, help="embedding width (default 32)")
    parser.add_argument("--touched", default="64,1024,16384", help="comma-separated touched-row counts")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per case (median)")
    args = parser.parse_args(argv)
    names = ["zoo_lazy_adam", "zoo_adam", "adam"]
    print(f"table {args.rows:,} x {args.width}; ms per step (median of {args.steps})")
    print(f"{'touched rows':>12} " + " ".join(f"{n:>14}" for n in names) + "   lazy/keras")
    for touched in (int(t) for t in args.touched.split(",")):
        ms = [1e3 * sparse_embedding_case(n, args.rows, args.width, touched, steps=args.steps) for n in names]
        print(f"{touched:>12,} " + " ".join(f"{m:>14.2f}" for m in ms) + f"   {ms[0] / ms[2]:.3f}", flush=True)


if __name__ == "__main__":
    main()
