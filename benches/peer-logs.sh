#!/usr/bin/env bash
# make bench-peer (logs): billrun against DuckDB's read_json + the same pricing SQL
# (benches/peer.py --logs) on RECORDS gzip JSON invocation-log records in the S3
# layout, alternately, 3 runs each. Checks the totals agree first.
set -euo pipefail
records="${1:-500000}"
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-logs-$records"
venv="${BENCH_VENV:-$HOME/.cache/billrun/bench-venv}"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q duckdb; }
[ -d "$data/AWSLogs" ] || "$target/gen-usage" "$records" "$data" logs
catalog="$data/catalog.csv"
glob="$data/AWSLogs/**/*.json.gz"
measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
"$target/billrun" run "$data/AWSLogs" --prices "$catalog" --out "$data/out" --quiet
ours=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['USD'])" "$data/out/manifest.json")
theirs=$("$venv/bin/python" "$here/peer.py" --logs "$glob" "$catalog" | cut -d' ' -f1)
if [ "$ours" != "$theirs" ]; then echo "totals differ: billrun $ours, DuckDB $theirs"; exit 1; fi
echo "logs: totals agree: $ours"
b=(); d=()
for run in 1 2 3; do
  b+=("$(measure "$target/billrun" run "$data/AWSLogs" --prices "$catalog" --out "$data/out" --quiet)")
  d+=("$(measure "$venv/bin/python" "$here/peer.py" --logs "$glob" "$catalog")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
bw=$(median "${b[@]%% *}"); br=$(median "${b[@]##* }")
dw=$(median "${d[@]%% *}"); dr=$(median "${d[@]##* }")
awk -v r="$records" -v bw="$bw" -v br="$br" -v dw="$dw" -v dr="$dr" 'BEGIN {
  printf "billrun: %.2fs, %.0f records/s, peak RSS %d MiB\n", bw, r/bw, br/1024
  printf "DuckDB:  %.2fs, %.0f records/s, peak RSS %d MiB\n", dw, r/dw, dr/1024
  printf "records/s billrun/DuckDB: %.2f; peak RSS %.2f\n", dw/bw, br/dr }'
