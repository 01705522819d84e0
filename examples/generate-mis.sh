#!/usr/bin/env bash
# Writes the example schools' MIS exports (invented people only) with `accord mis generate`.
# The output is deterministic; tests/examples.rs fails if the committed copy differs.
set -euo pipefail
cd "$(dirname "$0")"
accord=${ACCORD:-accord}
"$accord" mis generate --out mis/ashby-primary --name "Ashby Church of England Primary" \
  --urn 139201 --la-estab 8812001 --pupils 80
"$accord" mis generate --out mis/brook-primary --name "Brook Community Primary" \
  --urn 139202 --la-estab 8812002 --pupils 300
"$accord" mis generate --out mis/carlton-academy --name "Carlton Academy" \
  --urn 139203 --la-estab 8814001 --pupils 1200
