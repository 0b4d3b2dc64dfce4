#!/usr/bin/env bash
# make bench-peer: billrun against the same job as one DuckDB query (benches/peer.py)
# on ROWS generated Parquet rows, alternately, 3 runs each, after checking that both
# totals agree to the last digit (benches/peer-lib.sh); then the same with line items.
set -euo pipefail
source "$(dirname "$0")/peer-lib.sh"
rows="${1:-2000000}"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-$rows"
[ -f "$data/usage.parquet" ] || "$target/gen-usage" "$rows" "$data" parquet
# catalog.csv is written by gen-usage: 3 regions, a mid-month price change.
compare rows "$rows" "$data" "$data/catalog.csv" -- "$data/usage.parquet" -- "$data/usage.parquet"
# The same rows with one line item per priced meter, against DuckDB writing them
# to Parquet (COPY ... TO).
echo "== with line items (3.9 per 2 rows), written to Parquet by both"
BILLRUN_FLAGS=--line-items compare rows "$rows" "$data" "$data/catalog.csv" -- \
  "$data/usage.parquet" -- --line-items "$data/peer-line-items.parquet" "$data/usage.parquet"
