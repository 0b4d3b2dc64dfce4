# Sourced by benches/peer.sh and benches/peer-logs.sh: the DuckDB venv, and
# `compare UNITS COUNT DATA CATALOG -- BILLRUN_INPUT -- PEER_ARGS...` (billrun also
# gets $BILLRUN_FLAGS), which checks
# that billrun and benches/peer.py agree on the total to the last digit, then runs
# each three times, alternately, and prints medians, units/s and the ratios.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release"
venv="${BENCH_VENV:-$HOME/.cache/billrun/bench-venv}"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q duckdb; }

measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

compare() {
  local units=$1 count=$2 data=$3 catalog=$4 input=$6
  shift 7
  local ours theirs
  "$target/billrun" run "$input" --prices "$catalog" --out "$data/out" --quiet ${BILLRUN_FLAGS:-}
  ours=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['USD'])" "$data/out/manifest.json")
  theirs=$("$venv/bin/python" "$here/peer.py" "$@" "$catalog" | cut -d' ' -f1)
  if [ "$ours" != "$theirs" ]; then echo "totals differ: billrun $ours, DuckDB $theirs"; exit 1; fi
  echo "$units: totals agree: $ours"
  local b=() d=()
  for run in 1 2 3; do
    b+=("$(measure "$target/billrun" run "$input" --prices "$catalog" --out "$data/out" --quiet ${BILLRUN_FLAGS:-})")
    d+=("$(measure "$venv/bin/python" "$here/peer.py" "$@" "$catalog")")
  done
  local bw br dw dr
  bw=$(median "${b[@]%% *}"); br=$(median "${b[@]##* }")
  dw=$(median "${d[@]%% *}"); dr=$(median "${d[@]##* }")
  awk -v u="$units" -v r="$count" -v bw="$bw" -v br="$br" -v dw="$dw" -v dr="$dr" 'BEGIN {
    printf "billrun: %.2fs, %.0f %s/s, peak RSS %d MiB\n", bw, r/bw, u, br/1024
    printf "DuckDB:  %.2fs, %.0f %s/s, peak RSS %d MiB\n", dw, r/dw, u, dr/1024
    printf "billrun/DuckDB: wall %.2f (%s/s %.2fx), peak RSS %.2f\n", bw/dw, u, dw/bw, br/dr }'
}
