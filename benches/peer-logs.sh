#!/usr/bin/env bash
# make bench-peer (logs): billrun against DuckDB's read_json + the same pricing SQL
# (benches/peer.py --logs) on RECORDS gzip JSON invocation-log records in the S3
# layout, alternately, 3 runs each, after checking the totals agree.
set -euo pipefail
source "$(dirname "$0")/peer-lib.sh"
records="${1:-500000}"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-logs-$records"
[ -d "$data/AWSLogs" ] || "$target/gen-usage" "$records" "$data" logs
compare records "$records" "$data" "$data/catalog.csv" -- "$data/AWSLogs" -- --logs "$data/AWSLogs/**/*.json.gz"
