#!/usr/bin/env bash
# make bench: generate ROWS deterministic usage rows (once), then time billrun on them.
# Extra arguments go to billrun: bash benches/run.sh 2000000 --line-items
set -euo pipefail
source "$(dirname "$0")/timed.sh"
rows="${1:-2000000}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-$rows"
if [ ! -f "$data/usage.parquet" ]; then
  echo "generating $rows rows into $data"
  "$target/gen-usage" "$rows" "$data" parquet
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; input $(du -h "$data/usage.parquet" | cut -f1)"
time_runs rows "$rows" 0 -- "$target/billrun" run "$data/usage.parquet" --prices "$data/catalog.csv" --out "$data/out" --quiet "${@:2}"
