#!/bin/sh
# Installs what libsoda needs to build, test and run on Debian 12, then
# builds it into build/. Idempotent. Run as root.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (it uses apt-get, and libsoda runs guests as root)" >&2
	exit 1
fi

PACKAGES="build-essential cmake pkg-config clang
  user-mode-linux busybox-static e2fsprogs iproute2 nftables ethtool bpftool
  libmnl-dev libnftnl-dev libbpf-dev libsodium-dev librust-blake3-dev libcmocka-dev
  libvectorscan-dev libpcre2-dev libvirt-dev libpcap-dev libarchive-dev
  python3 python3-pytest python3-cffi python3-scapy python3-setuptools python3-wheel python3-venv python3-mypy golang-go
  doxygen scdoc man-db"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" --no-print-directory
