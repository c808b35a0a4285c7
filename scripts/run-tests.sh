#!/bin/sh
# Installs dependencies, builds, and runs every test: unit tests, then the
# integration tests (real UML guests, cgroups, namespaces, nftables), then
# bounded fuzz runs. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cd build
# Integration tests share the machine's cgroups and namespaces: one at a time.
ctest --output-on-failure -L unit -j"$(nproc)"
ctest --output-on-failure -L integration
if ctest -N -L fuzz | grep -q "Total Tests: [1-9]"; then
	ctest --output-on-failure -L fuzz
fi
