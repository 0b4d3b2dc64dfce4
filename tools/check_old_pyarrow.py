"""An older pyarrow opens every Parquet report billrun writes.

pyarrow 14 (still common in managed runtimes and older notebooks) cannot open a
file whose stored Arrow schema declares string views ("Unrecognized type: 24").
This reads every .parquet file under the directories given with the pyarrow of
the running interpreter, checks money comes back as decimal128(38, 12), and fails on the first file it cannot read.

usage: python check_old_pyarrow.py OUT_DIR [OUT_DIR...]
"""

import glob
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def check(path):
    table = pq.read_table(path)  # raises ArrowInvalid on string views before pyarrow 15
    for field in table.schema:
        if field.name in ("cost", "BilledCost") and field.type != pa.decimal128(38, 12):
            raise SystemExit(f"{path}: {field.name} is {field.type}, not decimal128(38, 12)")
    return table.num_rows


def main(dirs):
    files = sorted(f for d in dirs for f in glob.glob(os.path.join(d, "**", "*.parquet"), recursive=True))
    if not files:
        raise SystemExit("no Parquet reports found")
    rows = sum(check(f) for f in files)
    print(f"pyarrow {pa.__version__} read {len(files)} Parquet reports ({rows} rows)")


if __name__ == "__main__":
    main(sys.argv[1:])
