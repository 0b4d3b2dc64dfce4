#!/usr/bin/env bash
# make bench-peer: billrun against the same job as one DuckDB query (benches/peer.py),
# alternately, 3 runs each, on ROWS generated rows. Checks that both totals agree to the
# last digit before printing medians and the billrun/DuckDB ratios.
set -euo pipefail
rows="${1:-2000000}"
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-$rows"
venv="${BENCH_VENV:-$HOME/.cache/billrun/bench-venv}"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q duckdb; }
[ -f "$data/usage.parquet" ] || "$target/gen-usage" "$rows" "$data" parquet
catalog="$data/catalog.csv"  # written by gen-usage: 3 regions, a mid-month price change
measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
"$target/billrun" run "$data/usage.parquet" --prices "$catalog" --out "$data/out" --quiet
ours=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['USD'])" "$data/out/manifest.json")
theirs=$("$venv/bin/python" "$here/peer.py" "$data/usage.parquet" "$catalog" | cut -d' ' -f1)
if [ "$ours" != "$theirs" ]; then echo "totals differ: billrun $ours, DuckDB $theirs"; exit 1; fi
echo "totals agree: $ours"
b=(); d=()
for run in 1 2 3; do
  b+=("$(measure "$target/billrun" run "$data/usage.parquet" --prices "$catalog" --out "$data/out" --quiet)")
  d+=("$(measure "$venv/bin/python" "$here/peer.py" "$data/usage.parquet" "$catalog")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
bw=$(median "${b[@]%% *}"); br=$(median "${b[@]##* }")
dw=$(median "${d[@]%% *}"); dr=$(median "${d[@]##* }")
awk -v r="$rows" -v bw="$bw" -v br="$br" -v dw="$dw" -v dr="$dr" 'BEGIN {
  printf "billrun: %.2fs, %.0f rows/s, peak RSS %d MiB\n", bw, r/bw, br/1024
  printf "DuckDB:  %.2fs, %.0f rows/s, peak RSS %d MiB\n", dw, r/dw, dr/1024
  printf "billrun/DuckDB: wall %.2f, peak RSS %.2f\n", bw/dw, br/dr }'
