#!/usr/bin/env bash
# billrun.spark on a local Spark 3.5 cluster (local-cluster[2,1,1024]: separate
# executor JVMs): python/tests_spark with pytest, in a venv under ~/.cache/billrun
# holding pyspark 3.5, pyarrow, pandas and the billrun wheel (the one
# tools/python-check.sh built, else built here).
# Exit 3 when it cannot run here (no Java, no Python >= 3.10, or the venv cannot be
# installed): the caller says so loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}"
venv="${SPARK_VENV:-$HOME/.cache/billrun/spark-venv}"
command -v java >/dev/null || exit 3
if ! "$venv/bin/python" -c 'import pyspark, pyarrow, pandas, pytest' 2>/dev/null; then
  python=$(command -v python3) || exit 3
  # pyspark 3.5 supports Python 3.8 to 3.11 (3.12 lacks distutils it imports).
  for p in python3.11 python3.10 "$(pyenv root 2>/dev/null)/versions/3.11.7/bin/python3"; do
    if command -v "$p" >/dev/null 2>&1; then python=$(command -v "$p"); break; fi
  done
  "$python" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info < (3, 12) else 1)' || exit 3
  rm -rf "$venv"
  "$python" -m venv "$venv" &&
    "$venv/bin/pip" install -q 'pyspark==3.5.*' 'pyarrow>=14' 'pandas>=2' 'maturin>=1.8,<2' pytest || exit 3
fi
wheel=$(ls "$CARGO_TARGET_DIR"/wheels/billrun-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  "$venv/bin/maturin" build --release --locked -m python/Cargo.toml --compatibility linux --quiet 2>&1 | tail -3
  wheel=$(ls "$CARGO_TARGET_DIR"/wheels/billrun-*.whl)
fi
"$venv/bin/pip" install -q --force-reinstall --no-deps "$wheel"
# Run from outside the clone so `import billrun` is the installed wheel.
tests="$PWD/python/tests_spark"
cd "${TMPDIR:-/tmp}"
log=$(mktemp)
status=0
"$venv/bin/python" -m pytest -q -s -W ignore::DeprecationWarning -p no:cacheprovider "$tests" >"$log" 2>&1 || status=$?
# Spark's start-up chatter left out.
grep -vE 'WARN|NativeCodeLoader|log4j|setLogLevel|^\s*$' "$log" || true
rm -f "$log"
exit "$status"
