#!/bin/sh
# Installs dependencies, builds, and runs every test: unit tests,
# integration tests (real UML guests, cgroups, namespaces, nftables), bounded
# fuzz runs, then the unit and integration tests again under AddressSanitizer
# and UndefinedBehaviorSanitizer. Run as root on Debian 12.
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
cd ..

echo "== again under ASan and UBSan"
cmake -S . -B build-asan -DSODA_SANITIZE=ON -DSODA_FUZZ=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
make -C build-asan -j"$(nproc)" --no-print-directory >/dev/null
cd build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
ctest --output-on-failure -L unit -j"$(nproc)"
ctest --output-on-failure -L integration
