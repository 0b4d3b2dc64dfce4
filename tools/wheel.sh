#!/usr/bin/env bash
# make wheel: the Python package as a manylinux_2_28 abi3 wheel (installs on
# glibc >= 2.28: AWS Glue 5, EMR 7, Amazon Linux 2023), built with zig as the C
# compiler and linker so no symbol newer than glibc 2.28 is linked, whatever this
# machine's glibc. A target directory of its own (~/.cache/billrun/zig-target): every
# C dependency is compiled by zig, a cold build of 20-30 min on 2 cores.
# Prints the wheel's path; maturin's audit refuses the tag if a newer symbol slips in.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PY_VENV:-$HOME/.cache/billrun/py-venv}"
if ! [ -x "$venv/bin/maturin" ] || ! "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'maturin>=1.8,<2' ziglang
fi
export PATH="$venv/bin:$PATH"
export CARGO_TARGET_DIR="${ZIG_TARGET_DIR:-$HOME/.cache/billrun/zig-target}"
out="$CARGO_TARGET_DIR/wheels"
rm -rf "$out"
maturin build --release --locked -m python/Cargo.toml --zig \
  --target x86_64-unknown-linux-gnu --compatibility manylinux_2_28 --out "$out" 2>&1 | tail -3
ls "$out"/billrun-*-manylinux_2_28_x86_64.whl
