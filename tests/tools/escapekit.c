/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * escapekit: what tenant code inside linux.uml's host process would try
 * first. One attack per run (a denied system call ends the server):
 *
 *   escapekit ATTACK [ARGS...]
 *
 *   tcp ADDR PORT         connect to a TCP listener (the host's 127.0.0.1)
 *   abstract NAME         connect to an abstract unix socket (host namespace)
 *   udp ADDR PORT         send a datagram
 *   userns                unshare(CLONE_NEWUSER)
 *   clone-userns          clone(CLONE_NEWUSER)
 *   io_uring              io_uring_setup
 *   bpf                   bpf(BPF_MAP_CREATE)
 *   perf                  perf_event_open (a software clock on itself)
 *   userfaultfd           userfaultfd
 *   keyctl                add_key to the session keyring
 *   mount DIR             mount a tmpfs on DIR (unmounted again)
 *   ptrace PID            PTRACE_SEIZE another server's process
 *   signal PID            kill(PID, SIGCONT)
 *   open PATH...          open each PATH read-write (disks, stores, keys)
 *   tap NAME              attach to a TAP through /dev/net/tun
 *   fsize DIR             write one byte at RLIMIT_FSIZE in a file in DIR
 *   grow PATH             write one byte at the end of PATH (the COW file)
 *   write PATH...         create each PATH (outside its own files)
 *
 * Prints "ESCAPE ATTACK: ok" when the attack worked (exit 1), "ESCAPE
 * ATTACK: blocked (REASON)" when it failed (exit 0). Statically linked: it
 * runs in the jail of linux.uml, which holds no loader of its own for it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *attack;

static int result(int worked, const char *why)
{
	if (worked)
		printf("ESCAPE %s: ok\n", attack);
	else
		printf("ESCAPE %s: blocked (%s)\n", attack, why);
	fflush(stdout);
	return worked ? 1 : 0;
}

static int by_errno(long r)
{
	return result(r >= 0, r >= 0 ? "" : strerror(errno));
}

static int inet(int type, const char *addr, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int fd;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return result(0, "bad address");
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return by_errno(-1);
	if (type == SOCK_STREAM)
		return by_errno(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	return by_errno(sendto(fd, "escape", 6, 0, (struct sockaddr *)&sa, sizeof(sa)));
}

static int abstract(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(name) >= sizeof(sa.sun_path) - 1)
		return by_errno(-1);
	memcpy(sa.sun_path + 1, name, strlen(name));
	return by_errno(connect(fd, (struct sockaddr *)&sa, len));
}

static int clone_userns(void)
{
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return by_errno(pid);
}

static int bpf_map(void)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	return by_errno(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
}

static int perf(void)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.exclude_kernel = 1;
	return by_errno(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
}

static int io_uring(void)
{
	/* struct io_uring_params: 120 bytes, zero asks for defaults. */
	unsigned char params[120];

	memset(params, 0, sizeof(params));
	return by_errno(syscall(SYS_io_uring_setup, 4, params));
}

static int keyctl_add(void)
{
	/* KEY_SPEC_SESSION_KEYRING */
	return by_errno(syscall(SYS_add_key, "user", "soda-escape", "x", 1, -3));
}

static int ptrace_other(const char *pid)
{
	long r = ptrace(PTRACE_SEIZE, (pid_t)atoi(pid), NULL, NULL);

	if (r == 0)
		ptrace(PTRACE_DETACH, (pid_t)atoi(pid), NULL, NULL);
	return by_errno(r);
}

static int open_all(int argc, char **argv, int flags)
{
	int worked = 0;
	char why[512] = "";

	for (int i = 0; i < argc; i++) {
		int fd = open(argv[i], flags | O_CLOEXEC, 0600);

		if (fd >= 0) {
			worked = 1;
			close(fd);
		} else {
			size_t n = strlen(why);

			snprintf(why + n, sizeof(why) - n, "%s%s: %s", n ? ", " : "", argv[i],
				 strerror(errno));
		}
	}
	return result(worked, why);
}

static int tap(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return by_errno(-1);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	return by_errno(ioctl(fd, TUNSETIFF, &ifr));
}

static int write_at(int fd, off_t at)
{
	return by_errno(pwrite(fd, "x", 1, at) == 1 ? 0 : -1);
}

static int fsize(const char *dir)
{
	struct rlimit lim;
	char path[512];
	int fd;

	if (getrlimit(RLIMIT_FSIZE, &lim) < 0)
		return by_errno(-1);
	/* Unlimited: 1 GiB stands for "past any server's disk". */
	if (lim.rlim_cur == RLIM_INFINITY)
		lim.rlim_cur = 1 << 30;
	snprintf(path, sizeof(path), "%s/escape-fsize", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return by_errno(-1);
	/* EFBIG, not SIGXFSZ: the jail ignores the signal; the kit too. */
	return write_at(fd, (off_t)lim.rlim_cur);
}

static int grow(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		return by_errno(-1);
	return write_at(fd, st.st_size);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: escapekit ATTACK [ARGS...]\n");
		return 2;
	}
	attack = argv[1];
	signal(SIGXFSZ, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(attack, "tcp") == 0 && argc == 4)
		return inet(SOCK_STREAM, argv[2], argv[3]);
	if (strcmp(attack, "udp") == 0 && argc == 4)
		return inet(SOCK_DGRAM, argv[2], argv[3]);
	if (strcmp(attack, "abstract") == 0 && argc == 3)
		return abstract(argv[2]);
	if (strcmp(attack, "userns") == 0)
		return by_errno(unshare(CLONE_NEWUSER));
	if (strcmp(attack, "clone-userns") == 0)
		return clone_userns();
	if (strcmp(attack, "io_uring") == 0)
		return io_uring();
	if (strcmp(attack, "bpf") == 0)
		return bpf_map();
	if (strcmp(attack, "perf") == 0)
		return perf();
	if (strcmp(attack, "userfaultfd") == 0)
		return by_errno(syscall(SYS_userfaultfd, O_CLOEXEC));
	if (strcmp(attack, "keyctl") == 0)
		return keyctl_add();
	if (strcmp(attack, "mount") == 0 && argc == 3) {
		int r = mount("none", argv[2], "tmpfs", 0, "size=4k");

		if (r == 0)
			umount2(argv[2], MNT_DETACH);
		return by_errno(r);
	}
	if (strcmp(attack, "ptrace") == 0 && argc == 3)
		return ptrace_other(argv[2]);
	if (strcmp(attack, "signal") == 0 && argc == 3)
		return by_errno(kill((pid_t)atoi(argv[2]), SIGCONT));
	if (strcmp(attack, "open") == 0 && argc >= 3)
		return open_all(argc - 2, argv + 2, O_RDWR);
	if (strcmp(attack, "write") == 0 && argc >= 3)
		return open_all(argc - 2, argv + 2, O_WRONLY | O_CREAT);
	if (strcmp(attack, "tap") == 0 && argc == 3)
		return tap(argv[2]);
	if (strcmp(attack, "fsize") == 0 && argc == 3)
		return fsize(argv[2]);
	if (strcmp(attack, "grow") == 0 && argc == 3)
		return grow(argv[2]);
	fprintf(stderr, "escapekit: unknown attack or arguments '%s'\n", attack);
	return 2;
}
