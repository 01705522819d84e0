#!/usr/bin/env bash
# What the portal's browser tests need, installed only when missing: Debian's headless
# Chromium and its WebDriver, and axe-core in the npm cache (never in the repository).
# Safe to run again; prints what it installed.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the portal tests need ${missing[*]}: run this script as root, or apt-get install them" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm_cache="${ACCORD_NPM_CACHE:-$HOME/.cache/accord/npm}"
if [ ! -f "$npm_cache/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null; then
    echo "the portal tests need npm to install axe-core (apt-get install npm)" >&2
    exit 1
  fi
  echo "installing axe-core 4 into $npm_cache"
  mkdir -p "$npm_cache"
  npm install --silent --no-audit --no-fund --prefix "$npm_cache" axe-core@4 >/dev/null
fi
