#!/usr/bin/env bash
# make catalog: regenerate src/catalog/default_prices.csv and docs/catalog-sources.md
# from tools/catalog/curated.csv, the AWS Price List excerpt (fixtures/pricelist/)
# and the pinned litellm price map (downloaded from PyPI). See build_default.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}/release/billrun"
python=${PYTHON:-python3}
version=$("$python" -c 'import sys; sys.path.insert(0, "tools/catalog"); import build_default; print(build_default.LITELLM_VERSION)')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip download -q --no-deps -d "$work" "litellm==$version"
(cd "$work" && unzip -q -o litellm-*.whl litellm/model_prices_and_context_window_backup.json)
"$bin" prices import fixtures/pricelist/AmazonBedrock-us-east-1-20260911124408-excerpt.json \
  --out "$work/aws.csv"
"$python" tools/catalog/build_default.py tools/catalog/curated.csv "$work/aws.csv" \
  "$work/litellm/model_prices_and_context_window_backup.json" \
  src/catalog/default_prices.csv docs/catalog-sources.md
"$bin" prices --check src/catalog/default_prices.csv
