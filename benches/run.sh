#!/usr/bin/env bash
# make bench: generate ROWS deterministic usage rows (once), then time billrun on them.
# Prints wall time, rows/s and peak RSS (from /usr/bin/time -v) for three runs.
set -euo pipefail
rows="${1:-2000000}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/$rows"
if [ ! -f "$data/usage.parquet" ]; then
  echo "generating $rows rows into $data"
  "$target/gen-usage" "$rows" "$data" parquet
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; input $(du -h "$data/usage.parquet" | cut -f1)"
for run in 1 2 3; do
  out="$data/out"
  /usr/bin/time -v "$target/billrun" run "$data/usage.parquet" --out "$out" --quiet "${@:2}" 2> "$data/time.txt" || true
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$data/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$data/time.txt")
  secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  echo "run $run: ${secs}s wall, $(awk -v r="$rows" -v s="$secs" 'BEGIN {printf "%.0f", r/s}') rows/s, peak RSS $((rss / 1024)) MiB"
done
