#!/usr/bin/env bash
# What the PostgreSQL tests need, installed only when missing: Debian's postgresql, whose
# initdb and postgres the tests run themselves on a free port (its own cluster service
# is not used). Safe to run again; prints what it installed.
set -euo pipefail

if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the PostgreSQL tests need postgresql: run this script as root, or apt-get install it" >&2
    exit 1
  fi
  echo "installing postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# Under root the tests run the server as the user the package creates.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "the postgresql package left no postgres user: the tests cannot run the server" >&2
  exit 1
fi
