#!/usr/bin/env bash
# make bench (logs): generate RECORDS gzip JSON invocation-log records in the S3 layout
# (once), then time billrun on them: records/s, MB/s of JSON read, peak RSS.
set -euo pipefail
source "$(dirname "$0")/timed.sh"
records="${1:-500000}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-logs-$records"
if [ ! -d "$data/AWSLogs" ]; then
  echo "generating $records log records into $data"
  "$target/gen-usage" "$records" "$data" logs
  find "$data/AWSLogs" -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc | wc -c > "$data/json-bytes"
fi
json=$(cat "$data/json-bytes")
echo "logs: $records records, $((json / 1048576)) MiB of JSON, $(du -sh "$data/AWSLogs" | cut -f1) gzipped"
time_runs records "$records" "$json" -- "$target/billrun" run "$data/AWSLogs" --prices "$data/catalog.csv" --out "$data/out" --quiet "${@:2}"
