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
  libacl1-dev libzstd-dev liblz4-dev
  libvirt-daemon-system qemu-system-x86 linux-image-amd64
  python3 python3-pytest python3-cffi python3-scapy python3-setuptools python3-wheel python3-venv python3-mypy golang-go
  doxygen scdoc man-db
  python3-prometheus-client prometheus"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	rest=""
	guarded=""
	for p in $missing; do
		case "$p" in
		prometheus | libvirt-daemon-system) guarded="$guarded $p" ;;
		*) rest="$rest $p" ;;
		esac
	done
	if [ -n "$rest" ]; then
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $rest
	fi
	# The tests want promtool, which comes with the Prometheus server
	# (about 100 MB), and libvirtd for the libvirt backend's conformance
	# test, which starts and stops its own daemons. Their packages would
	# start and enable the services (libvirtd with a default network and
	# its bridge): they may not start (unless the machine has a policy of
	# its own), and are not enabled.
	if [ -n "$guarded" ]; then
		guard=""
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			guard=1
		fi
		rc=0
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $guarded || rc=$?
		[ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
		[ "$rc" = 0 ] || exit "$rc"
		if command -v systemctl >/dev/null 2>&1; then
			for unit in prometheus libvirtd libvirtd.socket virtlogd.socket; do
				systemctl disable "$unit" >/dev/null 2>&1 || true
			done
		fi
	fi
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" --no-print-directory
