#!/usr/bin/env bash
# The Python package: builds the abi3 wheel with maturin (python/), installs it in a
# venv under ~/.cache/billrun and runs python/tests with pytest.
# Exit 3 when no Python >= 3.10 is available (the caller says so loudly).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/billrun/target}"
venv="${PY_VENV:-$HOME/.cache/billrun/py-venv}"
if ! [ -x "$venv/bin/maturin" ] || ! "$venv/bin/python" -c 'import pyarrow' 2>/dev/null; then
  python=$(command -v python3) || exit 3
  "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || exit 3
  "$python" -m venv "$venv" && "$venv/bin/pip" install -q 'maturin>=1.8,<2' pytest pyarrow || exit 3
fi
rm -rf "$CARGO_TARGET_DIR/wheels"
"$venv/bin/maturin" build --release --locked -m python/Cargo.toml --compatibility linux --quiet 2>&1 | tail -3
wheel=$(ls "$CARGO_TARGET_DIR"/wheels/billrun-*.whl)
echo "== $(basename "$wheel")"
"$venv/bin/pip" install -q --force-reinstall --no-deps "$wheel"
"$venv/bin/python" -m pytest -q python/tests
