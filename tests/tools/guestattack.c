/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guestattack: what an intruder who is root in a guest's userland tries
 * against the guest kernel (it-guest-lockdown). Static; run in the guest.
 *
 *   guestattack ATTACK [ARG]
 *
 * Prints "ATTACK: ok" when the kernel let it through, or "ATTACK: ENAME"
 * (EPERM, ENOENT...) when it refused, and exits 0 either way: the test
 * decides what it should have been.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int result(const char *what, long r)
{
	if (r >= 0) {
		printf("%s: ok\n", what);
	} else {
		const char *name = strerrorname_np(errno);

		printf("%s: %s\n", what, name ? name : "E?");
	}
	return 0;
}

/* The start of @pid's first mapping whose permissions begin with @perms
 * ("r", "rw"). */
static unsigned long first_mapping(pid_t pid, const char *perms)
{
	char want[8];

	char path[64], line[256];
	unsigned long start = 0;
	FILE *f;

	snprintf(want, sizeof(want), " %s", perms);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, want) && sscanf(line, "%lx-", &start) == 1)
			break;
	if (f)
		fclose(f);
	return start;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : "";

	if (strcmp(what, "module") == 0) {
		/* finit_module on a file: EPERM refused by the profile, ENOEXEC
		 * a kernel that parsed it (not a module), ok loaded. */
		int fd = open(arg, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return result("open", -1);
		return result("finit_module", syscall(SYS_finit_module, fd, "", 0));
	}
	if (strcmp(what, "init_module") == 0) {
		static const char junk[64] = "not a module";

		return result("init_module", syscall(SYS_init_module, junk, sizeof(junk), ""));
	}
	if (strcmp(what, "delete_module") == 0)
		return result("delete_module", syscall(SYS_delete_module, arg, O_NONBLOCK));
	if (strcmp(what, "read") == 0 || strcmp(what, "write") == 0) {
		/* A page of @arg (at argv[3], default 0). "write" opens it for
		 * writing and writes nothing: opening is where the kernel says
		 * yes or no, and writing even the same bytes back to the guest
		 * kernel's own text kills the guest (UML maps it read-only). */
		char page[4096];
		off_t off = argc > 3 ? strtoll(argv[3], NULL, 0) : 0;
		int fd = open(arg, (what[0] == 'w' ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			return result(what, -1);
		n = pread(fd, page, sizeof(page), off);
		if (n > 0 && what[0] == 'w')
			n = pwrite(fd, page, 0, off);
		else if (n == 0)
			errno = ENODATA, n = -1;
		close(fd);
		return result(what, n);
	}
	if (strcmp(what, "mknod") == 0) {
		/* guestattack mknod PATH MAJOR MINOR: a character device. */
		unsigned maj = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
		unsigned min = argc > 4 ? (unsigned)atoi(argv[4]) : 1;

		return result("mknod", mknod(arg, S_IFCHR | 0600, makedev(maj, min)));
	}
	if (strcmp(what, "ptrace") == 0) {
		pid_t pid = (pid_t)atoi(arg);
		long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);

		if (r == 0) {
			waitpid(pid, NULL, __WALL);
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
		}
		return result("ptrace", r);
	}
	if (strcmp(what, "vmread") == 0 || strcmp(what, "vmwrite") == 0) {
		pid_t pid = (pid_t)atoi(arg);
		char buf[16];
		unsigned long at = first_mapping(pid, what[2] == 'w' ? "rw" : "r");
		struct iovec local = { buf, sizeof(buf) }, remote = { (void *)at, sizeof(buf) };
		ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);

		/* Writes back what it read. */
		if (r > 0 && what[2] == 'w')
			r = process_vm_writev(pid, &local, 1, &remote, 1, 0);
		return result(what, r);
	}
	if (strcmp(what, "iopl") == 0)
		return result("iopl", syscall(SYS_iopl, 3));
	if (strcmp(what, "ioperm") == 0)
		return result("ioperm", syscall(SYS_ioperm, 0x80, 1, 1));
	if (strcmp(what, "kexec") == 0)
		return result("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	if (strcmp(what, "bpf") == 0) {
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY;
		a.key_size = 4;
		a.value_size = 4;
		a.max_entries = 1;
		return result("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
	}
	if (strcmp(what, "perf") == 0) {
		struct perf_event_attr a;

		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		return result("perf_event_open", syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
	}
	fprintf(stderr, "usage: guestattack module FILE | init_module | delete_module NAME |\n"
			"  read|write FILE [OFFSET] | mknod PATH [MAJOR MINOR] | ptrace PID |\n"
			"  vmread|vmwrite PID | iopl | ioperm | kexec | bpf | perf\n");
	return 2;
}
