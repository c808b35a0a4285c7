#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the conformance suite $1 against URI $2, after checking that the
# backend can run here; otherwise exits 77 (skip) with the reason printed.
# For libvirt+qemu:///system without a libvirtd answering, it starts
# virtlogd and libvirtd itself (root) and stops them, by PID, at the end.
# For libvirt+qemu+tcp://127.0.0.1/system (many hosts, shown on one) it
# starts them itself with its own configuration: libvirtd listening on TCP
# at 127.0.0.1 on a port picked here, without authentication, inside a
# network namespace made here (only lo, no route out: no other process of
# the host reaches that listener), and the suite runs in the same namespace
# through that remote URI, port added.
set -u
bin=$1 uri=$2
plugin_dir=$(dirname "$bin")/../..
tmp= kvm_was= netns= in_netns=
PATH=$PATH:/usr/sbin
cleanup() {
	# libvirtd first (it may hold the namespace), then the namespace.
	cleanup_daemons
	[ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
	if [ -n "$kvm_was" ]; then
		chown "${kvm_was%:*}" /dev/kvm
		chmod "${kvm_was##*:}" /dev/kvm
	fi
	[ -z "$tmp" ] || rm -rf "$tmp"
}
cleanup_daemons() {
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
}
trap cleanup EXIT INT TERM

# The tools and the rights to start virtlogd and libvirtd here, or exit 77.
need_daemons() {
	for p in virsh libvirtd virtlogd qemu-system-x86_64; do
		if ! command -v $p >/dev/null 2>&1; then
			echo "SKIP $uri: no $p (packages libvirt-daemon-system, qemu-system-x86)"
			exit 77
		fi
	done
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP $uri: no libvirtd answers and starting one needs root"
		exit 77
	fi
}

# Starts virtlogd and libvirtd (arguments $@ added; libvirtd in $netns
# when set), their PID files in $tmp, and waits until libvirt URI
# $answer_at answers, or exits 77.
start_daemons() {
	virtlogd -d -p "$tmp/virtlogd.pid" &&
		$in_netns libvirtd -d -p "$tmp/libvirtd.pid" "$@"
	for _ in $(seq 1 120); do
		$in_netns virsh -c "$answer_at" version >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	echo "SKIP $uri: libvirtd started here does not answer at $answer_at"
	exit 77
}

# libvirtd probes QEMU with CAP_DAC_OVERRIDE, so the probe finds KVM, but
# judges its capability cache by whether the qemu user (libvirt-qemu) may
# open /dev/kvm. Without udev, /dev/kvm stays root's 0600: the two disagree
# ("KVM was enabled when probing, but it shouldn't be"), and libvirtd probes
# QEMU again, about 8 s, at every define and start (3.5 minutes for this
# suite instead of 30 s). While the test runs /dev/kvm gets udev's default,
# group kvm and 0660; its owner and mode are restored at the end.
kvm_for_qemu() {
	[ -c /dev/kvm ] && id libvirt-qemu >/dev/null 2>&1 &&
		getent group kvm >/dev/null || return 0
	setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --init-groups \
		sh -c 'test -r /dev/kvm -a -w /dev/kvm' 2>/dev/null && return 0
	kvm_was=$(stat -c %u:%g:%a /dev/kvm)
	chgrp kvm /dev/kvm && chmod 0660 /dev/kvm &&
		echo "/dev/kvm: group kvm, 0660 while the test runs (was $kvm_was)"
}

# A TCP port on 127.0.0.1 nothing listens on (in $netns when set).
free_port() {
	p=$((20000 + $$ % 20000))
	while [ -n "$($in_netns ss -Htln "sport = :$p")" ]; do
		p=$((p + 1))
	done
	echo $p
}

case $uri in
libvirt+*)
	if [ ! -e "$plugin_dir/libsoda-libvirt.so" ]; then
		echo "SKIP $uri: libsoda-libvirt.so was not built (no libvirt-dev)"
		exit 77
	fi ;;
esac
case $uri in
libvirt+qemu:* | libvirt+qemu+*)
	[ "$(id -u)" = 0 ] && kvm_for_qemu ;;
esac
if [ "$uri" = "libvirt+qemu:///system" ] &&
   ! virsh -c qemu:///system version >/dev/null 2>&1; then
	need_daemons
	tmp=$(mktemp -d /tmp/soda-it-libvirtd-XXXXXX)
	answer_at=qemu:///system
	start_daemons
fi
if [ "$uri" = "libvirt+qemu+tcp://127.0.0.1/system" ]; then
	need_daemons
	if virsh -c qemu+tcp://127.0.0.1/system version >/dev/null 2>&1; then
		echo "a libvirtd already listens on 127.0.0.1:16509; the suite goes through it"
		"$bin" "$uri"
		exit $?
	fi
	if virsh -c qemu:///system version >/dev/null 2>&1; then
		echo "SKIP $uri: a libvirtd this test did not start already runs here," \
		     "not listening on TCP; the test needs its own"
		exit 77
	fi
	tmp=$(mktemp -d /tmp/soda-it-libvirtd-XXXXXX)
	netns=soda-it-lvremote-$$
	if ! ip netns add "$netns"; then
		netns=
		echo "SKIP $uri: cannot make a network namespace"
		exit 77
	fi
	in_netns="nsenter --net=/run/netns/$netns"
	$in_netns ip link set lo up
	port=$(free_port)
	answer_at=qemu+tcp://127.0.0.1:$port/system
	cat >"$tmp/libvirtd.conf" <<-CONF
	listen_tls = 0
	listen_tcp = 1
	listen_addr = "127.0.0.1"
	tcp_port = "$port"
	auth_tcp = "none"
	CONF
	start_daemons --listen -f "$tmp/libvirtd.conf"
	# Unauthenticated, so reachable from the namespace only: from the
	# host's, where a local user could drive it as root, it must not be.
	if virsh -c "$answer_at" version >/dev/null 2>&1; then
		echo "FAIL $uri: the unauthenticated listener answers outside $netns"
		exit 1
	fi
	uri=libvirt+$answer_at
	echo "libvirtd (PID $(cat "$tmp/libvirtd.pid")) on 127.0.0.1:$port in netns $netns;" \
	     "suite at $uri"
fi
$in_netns "$bin" "$uri"
