#!/usr/bin/env bash
# make bench-peer (logs): billrun against DuckDB's read_json + the same pricing SQL
# (benches/peer.py --logs) on RECORDS gzip JSON invocation-log records in the S3
# layout, alternately, 3 runs each, after checking the totals agree; then billrun
# against the inflate-only floor.
set -euo pipefail
source "$(dirname "$0")/peer-lib.sh"
records="${1:-500000}"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-logs-$records"
[ -d "$data/AWSLogs" ] || "$target/gen-usage" "$records" "$data" logs
compare records "$records" "$data" "$data/catalog.csv" -- "$data/AWSLogs" -- --logs "$data/AWSLogs/**/*.json.gz"
# The floor: only inflating the same files with the same library, one file at a time
# on one thread, as billrun's reader does (gen-usage inflate); alternated with billrun.
b=() f=()
for run in 1 2 3; do
  b+=("$(measure "$target/billrun" run "$data/AWSLogs" --prices "$data/catalog.csv" --out "$data/out" --quiet)")
  f+=("$(measure "$target/gen-usage" inflate "$data/AWSLogs")")
done
bw=$(median "${b[@]%% *}"); fw=$(median "${f[@]%% *}")
awk -v r="$records" -v bw="$bw" -v fw="$fw" 'BEGIN {
  printf "inflate floor: %.2fs (%.0f records/s); billrun/floor: %.2f\n", fw, r/fw, bw/fw }'
