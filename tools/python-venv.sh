#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 venv with focus-validator 2.2.1 (which brings
# DuckDB), creating it under ~/.cache/billrun on first use. Exit 3 when no Python
# >= 3.12 is found: callers decide how loudly to skip.
# With --pyarrow-only: a venv with just $PYARROW_PIN (and numpy 1.x) at $PYARROW_VENV.
set -euo pipefail
if [ "${1:-}" = "--pyarrow-only" ]; then
  venv="$PYARROW_VENV"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pyarrow' 2>/dev/null; then
    echo "$venv"; exit 0
  fi
else
  venv="${FOCUS_VENV:-$HOME/.cache/billrun/focus-venv}"
  if [ -x "$venv/bin/focus-validator" ]; then echo "$venv"; exit 0; fi
fi
find_python() {
  local c
  for c in "${PYTHON:-}" python3.13 python3.12 \
    "$(pyenv root 2>/dev/null)/versions/3.12.1/bin/python3" python3; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}
python=$(find_python) || exit 3
echo "creating $venv with $python" >&2
"$python" -m venv "$venv" >&2
if [ "${1:-}" = "--pyarrow-only" ]; then
  "$venv/bin/pip" install -q "$PYARROW_PIN" 'numpy<2' >&2
else
  # 2.2.1 pins numpy 1.x, which needs pyarrow < 18.
  "$venv/bin/pip" install -q 'focus-validator==2.2.1' 'pyarrow<18' >&2
fi
echo "$venv"
