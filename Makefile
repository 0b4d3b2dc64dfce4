# billrun — the two commands a newcomer needs are `make demo` and `make test`.
# Builds share one release target directory outside the clone, so tests reuse the
# binary's build and CI keeps it between runs.
CARGO_TARGET_DIR ?= $(HOME)/.cache/billrun/target
export CARGO_TARGET_DIR
BIN := $(CARGO_TARGET_DIR)/release/billrun
GEN := $(CARGO_TARGET_DIR)/release/gen-usage
BENCH_ROWS ?= 2000000
BENCH_LOG_ROWS ?= 500000

.PHONY: build demo test lint focus-check bench bench-peer catalog wheel clean

build:
	cargo build --release --locked --bins

## The main job on the bundled samples with the embedded catalog: invocation logs
## in Bedrock's S3 layout, usage tables and capacity records (Provisioned Throughput,
## an imported model, a customization job). Reports land in out/demo; the sample has
## deliberately bad records, so some rows are rejected (exit 1 is expected).
demo: build
	$(BIN) run fixtures/logs/s3 fixtures/usage --profiles fixtures/logs/profiles.csv \
	  --provisioned fixtures/capacity/provisioned.csv \
	  --imported-models fixtures/capacity/imported_models.csv \
	  --copies fixtures/capacity/copies.csv \
	  --customization fixtures/capacity/customization.csv \
	  --to 2026-01-01 --out out/demo --format csv --line-items || [ $$? -eq 1 ]
	@echo
	@column -s, -t < out/demo/summary.csv 2>/dev/null || cat out/demo/summary.csv

## Regenerate the embedded catalog (src/catalog/default_prices.csv) and
## docs/catalog-sources.md from tools/catalog/curated.csv, the AWS Price List excerpt
## in fixtures/pricelist and the pinned litellm price map (downloaded from PyPI).
catalog: build
	bash tools/catalog/build.sh

## Unit, integration and property tests (release profile: shares the build).
test:
	cargo test --release --locked

## The Python package as a manylinux_2_28 wheel for Glue 5 / EMR 7 (docs/aws.md):
## zig compiles and links, in a target directory of its own (a cold build).
wheel:
	bash tools/wheel.sh

## FOCUS 1.2 validation of the fixtures' focus.parquet with the FinOps Foundation's
## focus-validator, and DuckDB reading every Parquet report (needs Python >= 3.12;
## builds a venv under ~/.cache/billrun on first use).
focus-check: build
	bash tools/focus-check.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --release --locked --all-targets -- -D warnings
	@! grep -rnE '\bf(32|64)\b' src | grep -v 'float-input:' || (echo "binary floats in src/: money and quantities must stay exact (the one input conversion is marked float-input:)"; exit 1)
	python3 tools/module_cycles.py src

## Rows/s and peak RSS on BENCH_ROWS generated rows, then records/s and MB/s on
## BENCH_LOG_ROWS generated invocation-log records (see docs/benchmarks.md).
bench: build
	bash benches/run.sh $(BENCH_ROWS)
	bash benches/logs.sh $(BENCH_LOG_ROWS)

## billrun against the fair DuckDB peer (price table flattened to exact keys, then an
## equi-join; with and without exact dedup) and the scan floor, on 64K, 1M and ~128 MB
## row groups; then the older window-query peer, with line items, and gzip invocation
## logs through DuckDB's read_json (installs duckdb and pyarrow in a venv).
bench-peer: build
	bash benches/peer-fair.sh $(BENCH_ROWS)
	bash benches/peer.sh $(BENCH_ROWS)
	bash benches/peer-logs.sh $(BENCH_LOG_ROWS)

clean:
	rm -rf out
