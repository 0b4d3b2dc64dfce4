#!/usr/bin/env bash
# make bench-peer (first part): billrun against the fair DuckDB peer
# (benches/peer_flat.py: the price table flattened to exact keys, then an equi-join),
# with and without exact dedup, and the scan floor (DuckDB reading the same columns),
# on ROWS generated rows written three ways, as users write them: gen-usage's 64K-row
# groups, pyarrow's default 1,048,576-row groups, and ~128 MB groups (Spark's size;
# 3.15M rows here). Totals are checked to the last digit first; then RUNS rounds
# (default 3), every tool on every file in turn, and medians of wall time and peak RSS.
set -euo pipefail
source "$(dirname "$0")/peer-lib.sh"
rows="${1:-2000000}"
runs="${RUNS:-3}"
data="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}/v2-$rows"
[ -f "$data/usage.parquet" ] || "$target/gen-usage" "$rows" "$data" parquet
[ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pyarrow' 2>/dev/null \
  || "$venv/bin/pip" install -q pyarrow
for size in 1m:1048576 128mb:3150000; do
  f="$data/usage-${size%%:*}.parquet"
  [ -f "$f" ] || "$venv/bin/python" "$here/regroup.py" "$data/usage.parquet" "$f" "${size##*:}"
done
files=("$data/usage.parquet" "$data/usage-1m.parquet" "$data/usage-128mb.parquet")
tools=(billrun dedup nodedup floor)
command_of() {  # TOOL FILE: the command, in the array cmd
  case $1 in
    billrun) cmd=("$target/billrun" run "$2" --prices "$data/catalog.csv" --out "$data/out" --quiet) ;;
    *) cmd=("$venv/bin/python" "$here/peer_flat.py" "$1" "$2" "$data/catalog.csv") ;;
  esac
}
run_tool() { command_of "$@"; "${cmd[@]}"; }
ours=$(run_tool billrun "${files[0]}" && python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['USD'])" "$data/out/manifest.json")
for f in "${files[@]}"; do
  for peer in dedup nodedup; do
    theirs=$(run_tool "$peer" "$f" | cut -d' ' -f1)
    [ "$ours" = "$theirs" ] || { echo "totals differ on $f: billrun $ours, $peer $theirs"; exit 1; }
  done
done
echo "totals agree: $ours"
results=$(mktemp)
for round in $(seq "$runs"); do
  for f in "${files[@]}"; do
    for t in "${tools[@]}"; do
      command_of "$t" "$f"
      /usr/bin/time -f "%e %M" -o "$results.t" "${cmd[@]}" > /dev/null
      echo "$(basename "$f") $t $(cat "$results.t")" >> "$results"
    done
  done
done
python3 - "$results" "$rows" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
med = lambda f, t, i: st.median(float(r[2 + i]) for r in rows if r[0] == f and r[1] == t)
print(f"{'file':22} {'tool':8} {'wall s':>7} {'RSS MiB':>8}  billrun/tool")
for f in dict.fromkeys(r[0] for r in rows):
    b = med(f, "billrun", 0)
    for t in ["billrun", "dedup", "nodedup", "floor"]:
        w, m = med(f, t, 0), med(f, t, 1) / 1024
        print(f"{f:22} {t:8} {w:7.2f} {m:8.0f}  {b / w:5.2f}")
PY
rm -f "$results" "$results.t"
