#!/usr/bin/env bash
# Installs Debian's `chromium` when it is missing, for the inspector's browser tests.
# Idempotent (does nothing when chromium is on PATH), runs as root without stdin (CI).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: chromium is missing and installing it needs root (apt-get install chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core </dev/null >/dev/null
command -v chromium >/dev/null
echo "ensure-chromium: installed $(chromium --version 2>/dev/null || echo chromium)" >&2
