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
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
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


/* One audit netlink request, as auditctl sends it: the kernel's answer
 * (0, or the -errno of its NLMSG_ERROR; a reply of @type counts as 0). */
static long audit_ask(uint16_t type, const void *data, size_t len)
{
	struct {
		struct nlmsghdr nh;
		char body[1200];
	} __attribute__((aligned(8))) msg;
	char reply[8192] __attribute__((aligned(8)));
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);

	if (fd < 0)
		return -errno;
	memset(&msg, 0, sizeof(msg));
	msg.nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	msg.nh.nlmsg_type = type;
	msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	msg.nh.nlmsg_seq = 7;
	memcpy(NLMSG_DATA(&msg.nh), data, len);
	if (sendto(fd, &msg, msg.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		long r = -errno;

		close(fd);
		return r;
	}
	for (int tries = 0; tries < 8; tries++) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			break;
		n = recv(fd, reply, sizeof(reply), 0);
		for (struct nlmsghdr *nh = (struct nlmsghdr *)reply; n > 0 && NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				close(fd);
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			}
			if (nh->nlmsg_type == type || nh->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return 0;
			}
		}
	}
	close(fd);
	return -ETIMEDOUT;
}

static int audit_result(const char *what, long r)
{
	errno = (int)-r;
	return result(what, r);
}

/* AUDIT_SET of one field (@mask) to @value. */
static int audit_set(const char *what, uint32_t mask, uint32_t value)
{
	struct audit_status st;

	memset(&st, 0, sizeof(st));
	st.mask = mask;
	if (mask == AUDIT_STATUS_ENABLED)
		st.enabled = value;
	else if (mask == AUDIT_STATUS_PID)
		st.pid = value;
	else if (mask == AUDIT_STATUS_RATE_LIMIT)
		st.rate_limit = value;
	else
		st.backlog_limit = value;
	return audit_result(what, audit_ask(AUDIT_SET, &st, sizeof(st)));
}

/* The agent's own rule, "every execve and execveat at exit, always"
 * (backends/uml/guest/agent_blackbox.c), deleted (auditctl -d) or, with
 * @never, its opposite put first (auditctl -A exit,never -S all). */
static int audit_rule(const char *what, uint16_t type, bool never)
{
	struct audit_rule_data rule;

	memset(&rule, 0, sizeof(rule));
	rule.flags = AUDIT_FILTER_EXIT;
	rule.action = never ? AUDIT_NEVER : AUDIT_ALWAYS;
	if (never) {
		memset(rule.mask, 0xff, sizeof(rule.mask));
	} else {
		rule.mask[SYS_execve / 32] |= 1u << (SYS_execve % 32);
		rule.mask[SYS_execveat / 32] |= 1u << (SYS_execveat % 32);
	}
	return audit_result(what, audit_ask(type, &rule, sizeof(rule)));
}

/* For @seconds, @procs processes turn IFF_PROMISC of lo on and off: each
 * change is an AUDIT_ANOM_PROMISCUOUS record the kernel makes without
 * waiting (GFP_ATOMIC), so that past the backlog limit it drops them.
 * Prints how many changes were made before the answer. */
static int audit_flood(double seconds, int procs)
{
	long *counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct timespec t0, t;
	int failed = 0;
	long total = 0;

	if (counts == MAP_FAILED || procs < 1 || procs > 64)
		return result("audit-flood", -1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid == 0) {
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			struct ifreq ifr;

			memset(&ifr, 0, sizeof(ifr));
			strcpy(ifr.ifr_name, "lo");
			if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
				_exit(1);
			for (;;) {
				for (int i = 0; i < 64; i++) {
					ifr.ifr_flags ^= IFF_PROMISC;
					if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
						_exit(1);
				}
				counts[p] += 64;
				clock_gettime(CLOCK_MONOTONIC, &t);
				if ((double)(t.tv_sec - t0.tv_sec) +
					    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >=
				    seconds)
					_exit(0); /* an even count: lo as it was */
			}
		}
		if (pid < 0)
			return result("audit-flood", -1);
	}
	for (int status; wait(&status) > 0;)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	for (int p = 0; p < procs; p++)
		total += counts[p];
	printf("audit-flood changes=%ld\n", total);
	errno = EIO;
	return result("audit-flood", failed ? -1 : 0);
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
	/* Audit, as auditctl would ask it (each answer is the kernel's). */
	if (strcmp(what, "audit-get") == 0) /* auditctl -s */
		return audit_result("audit-get", audit_ask(AUDIT_GET, NULL, 0));
	if (strcmp(what, "audit-off") == 0) /* auditctl -e 0 */
		return audit_set("audit-off", AUDIT_STATUS_ENABLED, 0);
	if (strcmp(what, "audit-pid") == 0) /* become the audit daemon */
		return audit_set("audit-pid", AUDIT_STATUS_PID, (uint32_t)getpid());
	if (strcmp(what, "audit-rate") == 0) /* auditctl -r 1: the rest dropped */
		return audit_set("audit-rate", AUDIT_STATUS_RATE_LIMIT, 1);
	if (strcmp(what, "audit-backlog") == 0) /* auditctl -b 1 */
		return audit_set("audit-backlog", AUDIT_STATUS_BACKLOG_LIMIT, 1);
	if (strcmp(what, "audit-list") == 0) /* auditctl -l, -D's first step */
		return audit_result("audit-list", audit_ask(AUDIT_LIST_RULES, NULL, 0));
	if (strcmp(what, "audit-del") == 0) /* auditctl -d exit,always -S execve,execveat */
		return audit_rule("audit-del", AUDIT_DEL_RULE, false);
	if (strcmp(what, "audit-never") == 0) /* auditctl -A exit,never -S all */
		return audit_rule("audit-never", AUDIT_ADD_RULE, true);
	if (strcmp(what, "audit-user") == 0) { /* auditctl -m: a user message */
		static const char text[] = "soda-guestattack user message";

		return audit_result("audit-user", audit_ask(AUDIT_USER, text, sizeof(text)));
	}
	if (strcmp(what, "audit-flood") == 0)
		return audit_flood(atof(arg), argc > 3 ? atoi(argv[3]) : 4);
	fprintf(stderr, "usage: guestattack module FILE | init_module | delete_module NAME |\n"
			"  read|write FILE [OFFSET] | mknod PATH [MAJOR MINOR] | ptrace PID |\n"
			"  vmread|vmwrite PID | iopl | ioperm | kexec | bpf | perf |\n"
			"  audit-get|audit-off|audit-pid|audit-rate|audit-backlog|audit-list |\n"
			"  audit-del|audit-never|audit-user | audit-flood SECONDS [PROCS]\n");
	return 2;
}
