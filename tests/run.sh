#!/usr/bin/env bash
# Runs every check and test Accord has, from a fresh machine or a warm one.
# Builds go to ~/.cache/accord/target so a fresh clone reuses earlier builds when they
# exist; nothing depends on that cache being there.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/accord/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust 1.94 or newer (https://rustup.rs)" >&2
  exit 1
fi
# A build that runs out of disk dies in the linker with an unhelpful signal, so say it first.
mkdir -p "$CARGO_TARGET_DIR"
free_kib=$(df -Pk "$CARGO_TARGET_DIR" 2>/dev/null | awk 'NR == 2 { print $4 }' || true)
if [ -n "${free_kib:-}" ] && [ "$free_kib" -lt $((8 * 1024 * 1024)) ]; then
  echo "warning: only $((free_kib / 1024)) MiB free under $CARGO_TARGET_DIR;" \
    "a cold test build takes about 5.5 GiB (clear old target directories to make room)" >&2
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== formatting"
cargo fmt --all -- --check
echo "== lints"
cargo clippy --all-targets --locked -- -D warnings
echo "== tests"
bash tests/setup/kube.sh
bash tests/setup/chromium.sh
bash tests/setup/postgres.sh
cargo test --locked
echo "== the example Trust validates"
"$CARGO_TARGET_DIR/debug/accord" validate examples/
