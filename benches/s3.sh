#!/usr/bin/env bash
# billrun reading s3:// (a local moto server) against the same files on disk:
# ROWS generated usage rows as one Parquet file (read by ranges) and RECORDS log
# records in the S3 layout (streamed), alternately, 3 runs each, medians.
set -euo pipefail
source "$(dirname "$0")/peer-lib.sh"
rows="${1:-2000000}" records="${2:-200000}"
base="${BENCH_DIR:-${TMPDIR:-/tmp}/billrun-bench}"
table="$base/v2-$rows" logs="$base/v2-logs-$records"
[ -f "$table/usage.parquet" ] || "$target/gen-usage" "$rows" "$table" parquet
[ -d "$logs/AWSLogs" ] || "$target/gen-usage" "$records" "$logs" logs
moto="${MOTO_VENV:-$HOME/.cache/billrun/moto-venv}"
[ -x "$moto/bin/moto_server" ] || { python3 -m venv "$moto" && "$moto/bin/pip" install -q 'moto[server]==5.*'; }
port=$("$moto/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto/bin/moto_server" -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 2
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x
"$moto/bin/python" - "$table/usage.parquet" "$logs/AWSLogs" <<PY
import boto3, pathlib, sys
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$port", region_name="us-east-1")
s3.create_bucket(Bucket="bench")
s3.upload_file(sys.argv[1], "bench", "tables/usage.parquet")
root = pathlib.Path(sys.argv[2]).parent
for p in pathlib.Path(sys.argv[2]).rglob("*.gz"):
    s3.upload_file(str(p), "bench", str(p.relative_to(root)))
PY
for what in table logs; do
  case $what in
    table) local_in="$table/usage.parquet" s3_in=s3://bench/tables/usage.parquet cat="$table/catalog.csv" n=$rows ;;
    logs) local_in="$logs/AWSLogs" s3_in=s3://bench/AWSLogs cat="$logs/catalog.csv" n=$records ;;
  esac
  l=() r=()
  for run in 1 2 3; do
    l+=("$(measure "$target/billrun" run "$local_in" --prices "$cat" --out "$base/s3-out" --quiet)")
    r+=("$(measure "$target/billrun" run "$s3_in" --prices "$cat" --out "$base/s3-out" --quiet)")
  done
  lw=$(median "${l[@]%% *}"); lr=$(median "${l[@]##* }"); rw=$(median "${r[@]%% *}"); rr=$(median "${r[@]##* }")
  awk -v w="$what" -v n="$n" -v lw="$lw" -v lr="$lr" -v rw="$rw" -v rr="$rr" 'BEGIN {
    printf "%s: local %.2fs (%.0f rows/s, %d MiB), s3 %.2fs (%.0f rows/s, %d MiB): s3/local %.2f\n",
      w, lw, n/lw, lr/1024, rw, n/rw, rr/1024, rw/lw }'
done
