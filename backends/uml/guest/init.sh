#!/soda/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# libsoda guest init (PID 1 in every libsoda image).
#
# Mounts the kernel file systems and the server's shares (soda.share=I,DIR,MODE
# on the kernel command line: the host has bound the shared directory at
# /share/I in the server's jail), sets the NICs' addresses (soda.addr=I,CIDR
# for ethI), tells the host it is ready on the agent line
# (/dev/ttyS2, write-only for the guest), then runs the image's own
# /sbin/init if it has one, else keeps a root shell on the console.
# Ctrl-alt-del from the host (a graceful stop) reaches us as SIGINT.

bb=/soda/busybox
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp 2>/dev/null
$bb mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run 2>/dev/null
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts -o mode=0620,ptmxmode=0666 devpts /dev/pts 2>/dev/null
$bb ln -sf /proc/self/fd /dev/fd 2>/dev/null

for word in $($bb cat /proc/cmdline); do
	case "$word" in
	soda.name=*)
		$bb hostname "${word#soda.name=}"
		;;
	soda.share=*)
		spec=${word#soda.share=}
		index=${spec%%,*}
		rest=${spec#*,}
		dir=${rest%,*}
		mode=${rest##*,}
		$bb mkdir -p "$dir"
		if ! $bb mount -t hostfs -o "$mode,/share/$index" none "$dir"; then
			echo "soda-init: cannot mount share $index at $dir" >/dev/console
		fi
		;;
	soda.addr=*)
		spec=${word#soda.addr=}
		$bb ip link set "eth${spec%%,*}" up
		$bb ip addr add "${spec#*,}" dev "eth${spec%%,*}"
		;;
	esac
done

$bb ip link set lo up 2>/dev/null

# Ctrl-alt-del must signal us rather than reboot the kernel at once.
echo 0 >/proc/sys/kernel/ctrl-alt-del

soda_shutdown() {
	echo "soda-init: shutting down" >/dev/console
	$bb kill -TERM -1 2>/dev/null
	$bb sleep 0.2
	$bb kill -KILL -1 2>/dev/null
	$bb sync
	$bb umount -a -r 2>/dev/null
	$bb poweroff -f
}
trap soda_shutdown INT TERM

# devtmpfs may not have the agent line's node yet this early in boot.
[ -e /dev/ttyS2 ] || $bb mknod -m 600 /dev/ttyS2 c 4 66
echo ready >/dev/ttyS2

if [ -x /sbin/init ] && [ ! /sbin/init -ef /soda/init ] && [ ! /sbin/init -ef $bb ]; then
	exec /sbin/init "$@"
fi

# Keep a shell on the console, whoever exits it.
(
	while :; do
		$bb setsid $bb cttyhack $bb sh -l
		$bb sleep 0.2
	done
) </dev/console >/dev/console 2>&1 &

while :; do
	wait
done
