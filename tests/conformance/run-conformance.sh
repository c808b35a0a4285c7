#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the conformance suite $1 against URI $2, after checking that the
# backend can run here; otherwise exits 77 (skip) with the reason printed.
# For libvirt+qemu:///system without a libvirtd answering, it starts
# virtlogd and libvirtd itself (root) and stops them, by PID, at the end.
set -u
bin=$1 uri=$2
plugin_dir=$(dirname "$bin")/../..
tmp=
cleanup() {
	[ -n "$tmp" ] || return 0
	for d in libvirtd virtlogd; do
		if [ -s "$tmp/$d.pid" ]; then
			pid=$(cat "$tmp/$d.pid")
			kill "$pid" 2>/dev/null
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.5
			done
			kill -9 "$pid" 2>/dev/null
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

case $uri in
libvirt+*)
	if [ ! -e "$plugin_dir/libsoda-libvirt.so" ]; then
		echo "SKIP $uri: libsoda-libvirt.so was not built (no libvirt-dev)"
		exit 77
	fi ;;
esac
if [ "$uri" = "libvirt+qemu:///system" ] &&
   ! virsh -c qemu:///system version >/dev/null 2>&1; then
	for p in virsh libvirtd virtlogd qemu-system-x86_64; do
		if ! command -v $p >/dev/null 2>&1 && ! [ -x /usr/sbin/$p ]; then
			echo "SKIP $uri: no $p (packages libvirt-daemon-system, qemu-system-x86)"
			exit 77
		fi
	done
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP $uri: no libvirtd answers and starting one needs root"
		exit 77
	fi
	tmp=$(mktemp -d /tmp/soda-it-libvirtd-XXXXXX)
	PATH=$PATH:/usr/sbin
	virtlogd -d -p "$tmp/virtlogd.pid" && libvirtd -d -p "$tmp/libvirtd.pid"
	for _ in $(seq 1 40); do
		virsh -c qemu:///system version >/dev/null 2>&1 && break
		sleep 0.25
	done
	if ! virsh -c qemu:///system version >/dev/null 2>&1; then
		echo "SKIP $uri: libvirtd started here does not answer at qemu:///system"
		exit 77
	fi
fi
"$bin" "$uri"
