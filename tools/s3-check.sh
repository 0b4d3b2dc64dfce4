#!/usr/bin/env bash
# S3 inputs against a moto server (pip "moto[server]", in a venv under
# ~/.cache/billrun) on 127.0.0.1, started and stopped here: the fixtures' invocation
# logs (Bedrock's S3 layout, with the permission-check object), usage tables, a
# generated Parquet table with its catalog and a capacity table are uploaded to a
# bucket; billrun reading s3://... must write byte-identical summaries
# to billrun reading the same files on disk, with and without a --from/--to window
# (which prunes the hour folders listed), with credentials from the environment and
# from a shared credentials file with a profile; the manifest records each object's
# ETag; a missing bucket, a missing prefix, access denied (IAM enforced on a second
# server) and an object deleted mid-run are errors naming them.
# Exit 3 when no Python is available (the caller says so loudly).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release/billrun"
gen="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release/gen-usage"
venv="${MOTO_VENV:-$HOME/.cache/billrun/moto-venv}"
if ! [ -x "$venv/bin/moto_server" ]; then
  python=$(command -v python3) || exit 3
  "$python" -m venv "$venv" && "$venv/bin/pip" install -q 'moto[server]==5.*' || exit 3
fi
work=$(mktemp -d)
servers=()
trap 'kill "${servers[@]}" 2>/dev/null; rm -rf "$work"' EXIT
start_moto() {  # NAME [ENV=VALUE...]: a moto server on a free port of 127.0.0.1, its port in $port
  local name=$1; shift
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env "$@" "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/$name.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 50); do
    "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.2
  done
}
start_moto moto
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
# No instance-metadata lookups from here.
export AWS_EC2_METADATA_DISABLED=true
# A Parquet table (read by byte ranges: footer, then column chunks; ~13 MB, so
# reads span blocks and columns interleave): 300,000 generated rows.
"$gen" 300000 "$work/gen" parquet
"$venv/bin/python" - <<PY
import boto3, pathlib
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$port", region_name="us-east-1")
s3.create_bucket(Bucket="bedrock-logs")
root = pathlib.Path("fixtures/logs/s3")
for p in sorted(root.rglob("*")):
    if p.is_file():
        s3.upload_file(str(p), "bedrock-logs", str(p.relative_to(root)))
# Another day's hour folder (a copy: its records are duplicates of the first file's),
# which a one-hour window must not list.
first = sorted(root.rglob("*_a.json.gz"))[0]
s3.upload_file(str(first), "bedrock-logs",
               "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2025/11/02/13/copy.json.gz")
for p in sorted(pathlib.Path("fixtures/usage").glob("*.csv")):
    s3.upload_file(str(p), "bedrock-logs", f"tables/{p.name}")
s3.upload_file("$work/gen/usage.parquet", "bedrock-logs", "exports/usage.parquet")
# Keys as people name things: a space, +, =, non-ASCII, a literal %20, ~ and #.
s3.upload_file("fixtures/usage/2025-11-01.csv", "bedrock-logs", "odd keys/a b+c=d/ü%20x~1#2.csv")
s3.upload_file("$work/gen/catalog.csv", "bedrock-logs", "exports/catalog.csv")
s3.upload_file("fixtures/capacity/provisioned.csv", "bedrock-logs", "capacity/provisioned.csv")
# A Data Exports delivery: the CUR 2.0 Parquet under data/, a manifest beside it.
s3.upload_file("fixtures/bills/cur2.parquet", "bedrock-logs", "cur/data/BILLING_PERIOD=2025-11/part-0.parquet")
s3.put_object(Bucket="bedrock-logs", Key="cur/metadata/BILLING_PERIOD=2025-11/Manifest.json", Body=b"{}")
PY
status=0
same() {  # NAME LOCAL_ARGS... -- S3_ARGS... : both runs' summary.csv must be equal
  local name=$1; shift
  local local_args=() s3_args=()
  while [ "$1" != "--" ]; do local_args+=("$1"); shift; done; shift
  s3_args=("$@")
  "$bin" run "${local_args[@]}" --out "$work/$name-local" --format csv --quiet || [ $? -eq 1 ]
  "$bin" run "${s3_args[@]}" --out "$work/$name-s3" --format csv --quiet || [ $? -eq 1 ]
  if cmp -s "$work/$name-local/summary.csv" "$work/$name-s3/summary.csv"; then
    echo "  $name: s3 summary = local summary ($(wc -l < "$work/$name-s3/summary.csv") lines)"
  else
    echo "  $name: s3 and local summaries DIFFER"; diff "$work/$name-local/summary.csv" "$work/$name-s3/summary.csv" | head; status=1
  fi
}
echo "== S3 inputs against moto on 127.0.0.1:$port"
same logs fixtures/logs/s3 -- s3://bedrock-logs/AWSLogs/
same tables fixtures/usage -- s3://bedrock-logs/tables
same parquet "$work/gen/usage.parquet" --prices "$work/gen/catalog.csv" \
  -- s3://bedrock-logs/exports/usage.parquet --prices s3://bedrock-logs/exports/catalog.csv
same odd-keys fixtures/usage/2025-11-01.csv -- "s3://bedrock-logs/odd keys/"
same capacity --provisioned fixtures/capacity/provisioned.csv --to 2026-01-01 \
  -- --provisioned s3://bedrock-logs/capacity/provisioned.csv --to 2026-01-01
same window fixtures/logs/s3 --from 2025-11-01T08:00:00Z --to 2025-11-01T09:00:00Z \
  -- s3://bedrock-logs/AWSLogs --from 2025-11-01T08:00:00Z --to 2025-11-01T09:00:00Z
"$venv/bin/python" - "$work" <<'PY' || status=1
import json, sys
m = json.load(open(f"{sys.argv[1]}/logs-s3/manifest.json"))
objs = [i for i in m["inputs"] if i["path"].startswith("s3://")]
assert objs and all(i.get("etag") for i in objs), "every object read has its ETag in the manifest"
skipped = [s["path"] for s in m["skipped_files"]]
assert any("permission-check" in s for s in skipped), skipped
w = json.load(open(f"{sys.argv[1]}/window-s3/manifest.json"))
assert len(w["inputs"]) < len(objs), "the window read fewer objects than the whole tree"
assert all("/2025/11/01/08/" in i["path"] for i in w["inputs"]), [i["path"] for i in w["inputs"]]
c = json.load(open(f"{sys.argv[1]}/capacity-s3/manifest.json"))
pt = [i for i in c["inputs"] if i["path"].startswith("s3://")]
assert pt and all(i["bytes"] > 0 for i in pt), f"a capacity table from S3 has its size: {pt}"
print(f"  manifest: {len(objs)} objects with ETags; window read {len(w['inputs'])}; permission check skipped")
PY
# reconcile --bill s3://prefix = --bill the same file on disk.
"$bin" run fixtures/bills/usage.csv --line-items --out "$work/bills-run" --quiet
"$bin" reconcile "$work/bills-run" --bill fixtures/bills/cur2.parquet --out "$work/recon-local" --format csv --quiet || true
"$bin" reconcile "$work/bills-run" --bill s3://bedrock-logs/cur/ --out "$work/recon-s3" --format csv --quiet || true
if cmp -s "$work/recon-local/reconcile.csv" "$work/recon-s3/reconcile.csv" \
  && grep -q '"etag"' "$work/recon-s3/manifest.json"; then
  echo "  reconcile --bill s3://: same buckets as the local file ($(wc -l < "$work/recon-s3/reconcile.csv") lines), ETag in the manifest"
else
  echo "  reconcile --bill s3://: DIFFERS from the local file"; status=1
fi
# Credentials from a shared credentials file and a profile, none in the environment.
cat > "$work/credentials" <<'INI'
[billing]
aws_access_key_id = testing
aws_secret_access_key = testing
INI
if env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=billing \
  AWS_SHARED_CREDENTIALS_FILE="$work/credentials" AWS_CONFIG_FILE=/dev/null \
  "$bin" run s3://bedrock-logs/tables --out "$work/profile" --format csv --quiet \
  && cmp -s "$work/profile/summary.csv" "$work/tables-local/summary.csv"; then
  echo "  credentials from a profile file: same summary"
else
  echo "  credentials from a profile file: FAILED"; status=1
fi
# Failures name what is missing.
expect_error() {  # WHAT PATTERN ARGS...
  local what=$1 pattern=$2; shift 2
  local out rc=0
  [ "$1" = env ] || set -- "$bin" run "$@"
  out=$("$@" --out "$work/err" --quiet 2>&1) || rc=$?
  if [ "$rc" -eq 2 ] && grep -q "$pattern" <<<"$out"; then
    echo "  $what: exit 2, \"$(head -c 150 <<<"$out")\""
  else
    echo "  $what: expected exit 2 matching '$pattern', got $rc: $out"; status=1
  fi
}
expect_error "missing bucket" "s3://no-such-bucket/AWSLogs/: .*no such bucket" s3://no-such-bucket/AWSLogs/
expect_error "no credentials" "no credentials" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
  AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null "$bin" run s3://bedrock-logs/tables
expect_error "empty prefix" "no usage file found" s3://bedrock-logs/nothing-here/
# Access denied, with IAM enforced: a second moto server takes the first 7 requests
# (the set-up) unsigned, then checks every signature and policy. A user with no
# policy may not list; a user allowed to list but not to read gets past the listing
# and is refused the object; an unknown key is refused as credentials.
main_port=$port
start_moto moto-auth INITIAL_NO_AUTH_ACTION_COUNT=7
aport=$port port=$main_port
"$venv/bin/python" - "$aport" "$work" <<'PY'
import boto3, json, sys
kw = dict(endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
s3, iam = boto3.client("s3", **kw), boto3.client("iam", **kw)
s3.create_bucket(Bucket="locked")
s3.upload_file("fixtures/usage/2025-11-01.csv", "locked", "tables/usage.csv")
for user in ["outsider", "lister"]:
    iam.create_user(UserName=user)
policy = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::locked"}]}
iam.put_user_policy(UserName="lister", PolicyName="list-only", PolicyDocument=json.dumps(policy))
for user in ["outsider", "lister"]:
    k = iam.create_access_key(UserName=user)["AccessKey"]
    open(f"{sys.argv[2]}/{user}.key", "w").write(f"{k['AccessKeyId']} {k['SecretAccessKey']}\n")
PY
read -r oid osecret < "$work/outsider.key"
read -r lid lsecret < "$work/lister.key"
auth=(env AWS_ENDPOINT_URL="http://127.0.0.1:$aport")
expect_error "access denied (listing)" "s3://locked/tables/: .*access denied" \
  "${auth[@]}" AWS_ACCESS_KEY_ID="$oid" AWS_SECRET_ACCESS_KEY="$osecret" "$bin" run s3://locked/tables/
expect_error "access denied (object)" "s3://locked/tables/usage.csv: .*access denied" \
  "${auth[@]}" AWS_ACCESS_KEY_ID="$lid" AWS_SECRET_ACCESS_KEY="$lsecret" "$bin" run s3://locked/tables/
expect_error "unknown access key" "credentials were refused" \
  "${auth[@]}" AWS_ACCESS_KEY_ID=AKIANOSUCHKEY AWS_SECRET_ACCESS_KEY=x "$bin" run s3://locked/tables/
# An object listed, then deleted before it is read: a large first object keeps the
# run busy while the second is deleted.
"$gen" 300000 "$work/biglogs" logs > /dev/null
find "$work/biglogs/AWSLogs" -name '*.gz' | sort | xargs cat > "$work/big.json.gz"
"$venv/bin/python" - <<PY
import boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$port", region_name="us-east-1")
s3.upload_file("$work/big.json.gz", "bedrock-logs", "vanish/1.json.gz")
s3.upload_file("$work/big.json.gz", "bedrock-logs", "vanish/2.json.gz")
PY
rc=0
("$bin" run s3://bedrock-logs/vanish/ --prices "$work/biglogs/catalog.csv" --out "$work/vanish" --quiet \
  > "$work/vanish.log" 2>&1) & run=$!
sleep 0.5
"$venv/bin/python" -c "
import boto3
boto3.client('s3', endpoint_url='http://127.0.0.1:$port', region_name='us-east-1').delete_object(Bucket='bedrock-logs', Key='vanish/2.json.gz')"
wait $run || rc=$?
if [ "$rc" -eq 2 ] && grep -q "vanish/2.json.gz.*gone" "$work/vanish.log"; then
  echo "  object deleted mid-run: exit 2, \"$(head -c 150 "$work/vanish.log")\""
else
  echo "  object deleted mid-run: expected exit 2 naming it as gone, got $rc: $(cat "$work/vanish.log")"; status=1
fi
[ $status -eq 0 ] && echo "S3 CHECK PASSED" || echo "S3 CHECK FAILED"
exit $status
