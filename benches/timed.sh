# Sourced by the bench scripts: time_runs UNITS COUNT BYTES -- COMMAND...
# Runs COMMAND three times under /usr/bin/time -v and prints wall time, COUNT/s
# (named UNITS), MB/s of BYTES when BYTES > 0, and peak RSS.
time_runs() {
  local units=$1 count=$2 bytes=$3
  shift 4
  local log
  log=$(mktemp)
  for run in 1 2 3; do
    /usr/bin/time -v "$@" 2> "$log" || true
    local wall rss secs
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    awk -v n="$run" -v s="$secs" -v c="$count" -v u="$units" -v b="$bytes" -v m="$((rss / 1024))" 'BEGIN {
      printf "run %d: %ss wall, %.0f %s/s", n, s, c/s, u
      if (b > 0) printf ", %.0f MB/s", b/s/1e6
      printf ", peak RSS %d MiB\n", m }'
  done
  rm -f "$log"
}
