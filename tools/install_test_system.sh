#!/usr/bin/env bash
# The system programs the test suite runs for real: a PostgreSQL server (the shared ledger's
# tests start their own on a temporary directory) and headless Chromium with its driver (the
# status page's browser tests). Installs only what is missing, from the Debian packages.
# `make test` and `.ci/run` call it; it needs root (or sudo) and the apt registry.
set -euo pipefail

missing=()
command -v "$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/initdb" >/dev/null 2>&1 \
    || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: the tests need ${missing[*]}; this machine has no apt-get. Install them with your package manager and rerun." >&2
    exit 2
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "error: the tests need ${missing[*]}; run 'apt-get install ${missing[*]}' as root, then rerun." >&2
        exit 2
    fi
fi
echo "installing test system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Update the index only when it is empty or an install fails: a fresh machine has none.
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
