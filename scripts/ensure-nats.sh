#!/usr/bin/env bash
# Makes sure `nats-server` (Debian's package, 2.9.x with JetStream) is on PATH, for the
# tests and benchmarks of @troupe/remote, which start their own servers on loopback.
# Idempotent and quick: does nothing when the binary is already there. Installing needs
# root and apt (CI runs as root, with no stdin); elsewhere it says what to run instead.
set -euo pipefail

if command -v nats-server >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "ensure-nats: nats-server is not installed and this is not root; run: sudo apt-get install -y nats-server" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-nats: nats-server is not installed and apt-get is missing; install nats-server 2.9+ by hand" >&2
  exit 1
fi

echo "ensure-nats: installing nats-server from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent on a fresh machine; a failed install retries once after an update.
if ! apt-get install -y --no-install-recommends nats-server </dev/null >&2; then
  apt-get update </dev/null >&2
  apt-get install -y --no-install-recommends nats-server </dev/null >&2
fi
command -v nats-server >/dev/null 2>&1 || { echo "ensure-nats: nats-server still missing after install" >&2; exit 1; }
nats-server --version >&2
