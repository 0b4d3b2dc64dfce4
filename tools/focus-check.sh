#!/usr/bin/env bash
# make focus-check: price the fixtures (usage tables, invocation logs, capacity,
# allocation) with --format focus, per day and per hour, and validate focus.parquet
# with the FinOps Foundation's focus-validator (FOCUS 1.2). Fails on any failed or
# errored rule (tools/focus_junit.py reads its JUnit XML: the validator exits 0
# regardless), then reads every Parquet report with DuckDB (tools/check_parquet.py)
# and with pyarrow 14 (tools/check_old_pyarrow.py).
# Exit 3 when no Python >= 3.12 is available.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release/billrun"
venv=$(bash tools/python-venv.sh) || exit $?
site=$("$venv/bin/python" -c 'import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))')
model="$site/focus_validator/rules/model-1.2.0.1.json"
# What a Bedrock bill has: a public price list, unit prices, measured usage, linked
# accounts, regions, tags, contracted (= list) prices, provisioned resources with
# types, more than one pricing category (PT commitments are "Committed"). Not
# claimed: COMMITMENT_DISCOUNT_SUPPORTED, because rule CommitmentDiscountStatus-C-004-C
# in 2.2.1's model tests rows whose CommitmentDiscountId IS null, contradicting
# C-003-C for every row without a commitment (docs/focus.md).
criteria=PUBLIC_PRICE_LIST_SUPPORTED,UNIT_PRICING_SUPPORTED,USAGE_MEASUREMENT_SUPPORTED
criteria+=,SUB_ACCOUNT_SUPPORTED,REGION_SUPPORTED,TAGGING_SUPPORTED,NEGOTIATED_PRICING_SUPPORTED
criteria+=,BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED,RESOURCE_TYPE_ASSIGNMENT_SUPPORTED
criteria+=,MULTIPLE_PRICING_CATEGORIES_SUPPORTED

# Prices every fixture into $1 as FOCUS with line items; more options follow.
price_fixtures() {
  local out=$1
  shift
  "$bin" run fixtures/usage fixtures/logs/s3 fixtures/capacity/invocations.csv \
    --profiles fixtures/logs/profiles.csv \
    --provisioned fixtures/capacity/provisioned.csv \
    --imported-models fixtures/capacity/imported_models.csv \
    --copies fixtures/capacity/copies.csv \
    --customization fixtures/capacity/customization.csv \
    --allocation fixtures/allocation/rules.csv --split-capacity tokens \
    --format focus --line-items --out "$out" --quiet "$@" || [ $? -eq 1 ]
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for period in day hour; do
  price_fixtures "$work/$period" --to 2026-01-01 --charge-period "$period"
  echo "== focus-validator on the fixtures, charge period $period"
  # 2.2.1 opens one of its own files by a relative path: run it from site-packages.
  (cd "$site" && "$venv/bin/focus-validator" --data-file "$work/$period/focus.parquet" \
    --validate-version 1.2 --applicability-criteria "$criteria" \
    --output-type unittest --output-destination "$work/$period.xml" > "$work/$period.log" 2>&1) \
    || { cat "$work/$period.log"; exit 1; }
  "$venv/bin/python" tools/focus_junit.py "$work/$period.xml" "$model" || status=1
done
# The same job partitioned by day, as a nightly chargeback job would write it.
price_fixtures "$work/partitioned" --from 2024-01-01 --to 2026-01-01 --partition-by day
# Every Parquet report read back by DuckDB, no casts, totals = the manifest's.
"$venv/bin/python" tools/check_parquet.py "$work/day" "$work/hour" "$work/partitioned" || status=1
# The reconciliation of the bills fixture (CUR 2.0 Parquet), with a true-up: DuckDB
# reads it, and it adds up to the bill (exit 1 is expected: the fixture drifts).
"$bin" run fixtures/bills/usage.csv --line-items --out "$work/bills-run" --quiet
"$bin" reconcile "$work/bills-run" --bill fixtures/bills/cur2.parquet --true-up principal \
  --out "$work/reconcile" --quiet || [ $? -eq 1 ]
"$venv/bin/python" tools/check_reconcile.py "$work/reconcile" || status=1
# ...and by pyarrow 14, which cannot open string views (its own small venv).
old=$(PYARROW_PIN='pyarrow==14.0.2' PYARROW_VENV="$HOME/.cache/billrun/pyarrow14-venv" \
  bash tools/python-venv.sh --pyarrow-only) || exit $?
"$old/bin/python" tools/check_old_pyarrow.py "$work/day" "$work/hour" "$work/partitioned" "$work/reconcile" || status=1
exit $status
