#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the conformance suite $1 against URI $2, after checking that the
# backend can run here; otherwise exits 77 (skip) with the reason.
set -u
bin=$1 uri=$2
plugin_dir=$(dirname "$bin")/../..
case $uri in
libvirt+*)
	if [ ! -e "$plugin_dir/libsoda-libvirt.so" ]; then
		echo "SKIP $uri: libsoda-libvirt.so was not built (no libvirt-dev)"
		exit 77
	fi ;;
esac
case $uri in
libvirt+qemu:///system)
	if ! command -v virsh >/dev/null 2>&1 || ! virsh -c qemu:///system version >/dev/null 2>&1; then
		echo "SKIP $uri: no libvirtd with the QEMU driver answers at qemu:///system" \
		     "(needs libvirt-daemon-system, qemu-system-x86, virtlogd; see DESIGN.md)"
		exit 77
	fi ;;
esac
exec "$bin" "$uri"
