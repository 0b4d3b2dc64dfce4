#!/usr/bin/env bash
# make bench (logs): generate RECORDS gzip JSON invocation-log records in the S3 layout
# (once), then time billrun on them: records/s, MB/s of JSON read, peak RSS.
set -euo pipefail
records="${1:-500000}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/logs-$records"
if [ ! -d "$data/AWSLogs" ]; then
  echo "generating $records log records into $data"
  "$target/gen-usage" "$records" "$data" logs
  find "$data/AWSLogs" -name '*.json.gz' -print0 | xargs -0 cat | gzip -dc | wc -c > "$data/json-bytes"
fi
json=$(cat "$data/json-bytes")
echo "logs: $records records, $((json / 1048576)) MiB of JSON, $(du -sh "$data/AWSLogs" | cut -f1) gzipped"
for run in 1 2 3; do
  /usr/bin/time -v "$target/billrun" run "$data/AWSLogs" --out "$data/out" --quiet "${@:2}" 2> "$data/time.txt" || true
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$data/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$data/time.txt")
  secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  awk -v r="$records" -v s="$secs" -v b="$json" -v m="$((rss / 1024))" -v n="$run" \
    'BEGIN { printf "run %d: %ss wall, %.0f records/s, %.0f MB/s of JSON, peak RSS %d MiB\n", n, s, r/s, b/s/1e6, m }'
done
