#!/bin/sh
# Installs dependencies, builds, and runs the demo of the whole platform.
# Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
exec ./examples/demo/demo.sh build
