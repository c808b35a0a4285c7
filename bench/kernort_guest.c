/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kernort-lat: LMbench-style microbenchmarks, run inside a guest by
 * bench-kernort (bench/kernort.c). Static, so that it runs in any image.
 *
 *   kernort-lat [SCALE [ADDR]]  prints "name value unit" lines; with
 *                               ADDR, also the TCP figures against the
 *                               kernort-lat tcp-serve at ADDR port 7007
 *   kernort-lat exit            exits at once (the program fork+exec runs)
 *   kernort-lat tcp-serve       the neighbour's side of the TCP figures
 *
 *   null        getppid(), the cheapest system call            us/call
 *   fork        fork, the child _exits, the parent waits        us
 *   exec        fork, the child execs "kernort-lat exit"        us
 *   ctxsw       two processes passing a byte over two pipes:
 *               half a round trip (LMbench's lat_ctx, 2 procs)  us
 *   ctxsw8      eight processes in a ring of pipes, each summing
 *               its own 16 KiB before passing the byte on: time
 *               per hop, the sum included (lat_ctx -s 16 8)     us
 *   pipe-lat    the round trip itself (lat_pipe)                us
 *   pipe-bw     64 KiB writes through a pipe to a reader        MB/s
 *   create      create and delete an empty file in /tmp         us
 *   create-etc  the same in /etc (a directory Kernort watches)  us
 *   create10k   create, write 10 KiB, close, delete, in /tmp    us
 *   mmap        map 8 MiB of a file, touch a byte every 16 KiB,
 *               unmap (lat_mmap)                                us
 *   tcp-lat     a byte's round trip over one TCP connection to
 *               the neighbour (lat_tcp)                         us
 *   tcp-bw      64 KiB writes to the neighbour, until it has
 *               read them all (bw_tcp)                          MB/s
 *
 * and the papers' other rows (LMbench's lat_syscall, lat_sig, lat_proc,
 * lat_pagefault):
 *   nullio      a 1-byte read of /dev/zero and a 1-byte write to
 *               /dev/null, the mean of the two                  us
 *   stat        stat() of a file in /tmp                        us
 *   openclose   open() and close() of that file                 us
 *   sigins      sigaction() installing a handler                us
 *   sighnd      kill() of itself, the handler run               us
 *   protfault   a write to a read-only page, SIGSEGV handled
 *               (the handler jumps back)                        us
 *   pagefault   the first touch of an anonymous page            us
 *   sh          fork, the child runs /bin/sh -c "kernort-lat
 *               exit", the parent waits (lat_proc shell)        us
 *
 * Each figure is the best of 3 runs, as LMbench reports.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *self;

static double t_null(long n)
{
	double t = now();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now() - t) / (double)n * 1e6;
}

static double t_fork(long n, int exec)
{
	double t = now();

	for (long i = 0; i < n; i++) {
		pid_t p = fork();

		if (p == 0) {
			if (exec) {
				char *argv[] = { (char *)"kernort-lat", (char *)"exit", NULL };

				execv(self, argv);
			}
			_exit(0);
		}
		if (p < 0 || waitpid(p, NULL, 0) < 0) {
			perror("fork");
			exit(1);
		}
	}
	return (now() - t) / (double)n * 1e6;
}

/* Round trip of one byte between two processes. */
static double t_pingpong(long n)
{
	int a[2], b[2];
	char c = 0;
	double t;
	pid_t p;

	if (pipe(a) < 0 || pipe(b) < 0)
		exit(1);
	p = fork();
	if (p == 0) {
		close(a[1]);
		close(b[0]);
		for (;;) {
			if (read(a[0], &c, 1) != 1)
				_exit(0);
			if (write(b[1], &c, 1) != 1)
				_exit(0);
		}
	}
	t = now();
	for (long i = 0; i < n; i++)
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			exit(1);
	t = now() - t;
	close(a[1]);
	waitpid(p, NULL, 0);
	close(a[0]);
	close(b[0]);
	close(b[1]);
	return t / (double)n * 1e6;
}

static double t_pipe_bw(long mib)
{
	static char buf[65536];
	int fd[2];
	double t;
	pid_t p;

	if (pipe(fd) < 0)
		exit(1);
	p = fork();
	if (p == 0) {
		close(fd[1]);
		while (read(fd[0], buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(fd[0]);
	t = now();
	for (long i = 0; i < mib * 16; i++)
		if (write(fd[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			exit(1);
	close(fd[1]);
	waitpid(p, NULL, 0);
	t = now() - t;
	return (double)mib * 1.048576 / t;
}

static double t_create(const char *dir, long n)
{
	char path[256];
	double t = now();

	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/kernort-lat.%ld", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || close(fd) < 0 || unlink(path) < 0) {
			perror(path);
			exit(1);
		}
	}
	return (now() - t) / (double)n * 1e6;
}

/* Eight processes in a ring: process i reads the token from pipe i, sums
 * its 16 KiB and writes the token to pipe i+1; the parent is process 0. */
#define RING 8
#define RING_WS (16 * 1024)

static unsigned sum_ws(volatile unsigned char *ws)
{
	unsigned s = 0;

	for (size_t i = 0; i < RING_WS; i += 64)
		s += ws[i];
	return s;
}

static double t_ring(long n)
{
	static unsigned char ws0[RING_WS];
	int p[RING][2];
	pid_t kids[RING];
	char c = 0;
	double t;

	for (int i = 0; i < RING; i++)
		if (pipe(p[i]) < 0)
			exit(1);
	for (int i = 1; i < RING; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			exit(1);
		if (kids[i] == 0) {
			unsigned char *ws = malloc(RING_WS);

			if (!ws)
				_exit(1);
			memset(ws, i, RING_WS);
			for (;;) {
				if (read(p[i][0], &c, 1) != 1)
					_exit(0);
				c = (char)(c + (char)sum_ws(ws));
				if (write(p[(i + 1) % RING][1], &c, 1) != 1)
					_exit(0);
			}
		}
	}
	memset(ws0, 1, sizeof(ws0));
	t = now();
	for (long k = 0; k < n; k++) {
		c = (char)(c + (char)sum_ws(ws0));
		if (write(p[1][1], &c, 1) != 1 || read(p[0][0], &c, 1) != 1)
			exit(1);
	}
	t = now() - t;
	/* Every child holds every pipe: no EOF ends them, a signal does. */
	for (int i = 1; i < RING; i++)
		kill(kids[i], SIGKILL);
	for (int i = 1; i < RING; i++)
		waitpid(kids[i], NULL, 0);
	for (int i = 0; i < RING; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	return t / (double)n / RING * 1e6;
}

static double t_create10k(long n)
{
	static char data[10240];
	char path[64];
	double t = now();

	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "/tmp/kernort-lat10k.%ld", i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || close(fd) < 0 ||
		    unlink(path) < 0) {
			perror(path);
			exit(1);
		}
	}
	return (now() - t) / (double)n * 1e6;
}

#define MAP_SIZE (8 << 20)

static double t_mmap(long n)
{
	const char *path = "/tmp/kernort-lat.map";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	volatile unsigned s = 0;
	double t;

	if (fd < 0 || ftruncate(fd, MAP_SIZE) < 0) {
		perror(path);
		exit(1);
	}
	t = now();
	for (long i = 0; i < n; i++) {
		unsigned char *m = mmap(NULL, MAP_SIZE, PROT_READ, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED) {
			perror("mmap");
			exit(1);
		}
		for (size_t o = 0; o < MAP_SIZE; o += 16384)
			s += m[o];
		munmap(m, MAP_SIZE);
	}
	t = now() - t;
	close(fd);
	unlink(path);
	(void)s;
	return t / (double)n * 1e6;
}

/* TCP against "kernort-lat tcp-serve" on the neighbour. The first byte of
 * a connection says what it is for: 'L' echo every byte, 'B' read to the
 * end, then answer one byte. */
#define TCP_PORT 7007

static const char *tcp_addr;

static int tcp_dial(char kind)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(TCP_PORT) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, tcp_addr, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    write(fd, &kind, 1) != 1) {
		perror("tcp");
		exit(1);
	}
	return fd;
}

static double t_tcp_lat(long n)
{
	int fd = tcp_dial('L');
	char c = 'x';
	double t = now();

	for (long i = 0; i < n; i++)
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
			perror("tcp-lat");
			exit(1);
		}
	t = now() - t;
	close(fd);
	return t / (double)n * 1e6;
}

static double t_tcp_bw(long mib)
{
	static char buf[65536];
	int fd = tcp_dial('B');
	double t = now();
	char c;

	for (long i = 0; i < mib * 16; i++)
		for (size_t off = 0; off < sizeof(buf);) {
			ssize_t w = write(fd, buf + off, sizeof(buf) - off);

			if (w <= 0) {
				perror("tcp-bw");
				exit(1);
			}
			off += (size_t)w;
		}
	if (shutdown(fd, SHUT_WR) < 0 || read(fd, &c, 1) != 1) {
		perror("tcp-bw");
		exit(1);
	}
	t = now() - t;
	close(fd);
	return (double)mib * 1.048576 / t;
}

/* The neighbour: a process per connection, for as long as it runs. */
static int tcp_serve(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(TCP_PORT) };
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	static char buf[65536];

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 16) < 0) {
		perror("tcp-serve");
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int fd = accept(l, NULL, NULL);
		char kind;

		if (fd < 0)
			continue;
		if (fork() == 0) {
			ssize_t r;

			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (read(fd, &kind, 1) != 1)
				_exit(1);
			if (kind == 'L')
				while ((r = read(fd, buf, sizeof(buf))) > 0)
					if (write(fd, buf, (size_t)r) != r)
						_exit(1);
			if (kind == 'B') {
				while (read(fd, buf, sizeof(buf)) > 0)
					;
				if (write(fd, "k", 1) != 1)
					_exit(1);
			}
			_exit(0);
		}
		close(fd);
	}
}

#define STAT_FILE "/tmp/kernort-lat.stat"

static double t_nullio(long n)
{
	int z = open("/dev/zero", O_RDONLY | O_CLOEXEC), nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	char c = 0;
	double t;

	if (z < 0 || nul < 0)
		exit(1);
	t = now();
	for (long i = 0; i < n; i++)
		if (read(z, &c, 1) != 1 || write(nul, &c, 1) != 1)
			exit(1);
	t = now() - t;
	close(z);
	close(nul);
	return t / (double)(2 * n) * 1e6;
}

static double t_stat(long n)
{
	struct stat st;
	double t = now();

	for (long i = 0; i < n; i++)
		if (stat(STAT_FILE, &st) < 0)
			exit(1);
	return (now() - t) / (double)n * 1e6;
}

static double t_openclose(long n)
{
	double t = now();

	for (long i = 0; i < n; i++) {
		int fd = open(STAT_FILE, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			exit(1);
		close(fd);
	}
	return (now() - t) / (double)n * 1e6;
}

static volatile sig_atomic_t hits;
static sigjmp_buf fault_jmp;

static void on_usr1(int sig)
{
	(void)sig;
	hits++;
}

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

static double t_sigins(long n)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	double t = now();

	for (long i = 0; i < n; i++)
		sigaction(SIGUSR1, &sa, NULL);
	return (now() - t) / (double)n * 1e6;
}

static double t_sighnd(long n)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	double t;

	sigaction(SIGUSR1, &sa, NULL);
	hits = 0;
	t = now();
	for (long i = 0; i < n; i++)
		kill(getpid(), SIGUSR1);
	t = now() - t;
	if (hits != n)
		exit(1);
	return t / (double)n * 1e6;
}

static double t_protfault(long n)
{
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	volatile char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile long i = 0;
	double t;

	if (page == MAP_FAILED)
		exit(1);
	sigaction(SIGSEGV, &sa, NULL);
	t = now();
	for (i = 0; i < n; i++)
		if (sigsetjmp(fault_jmp, 1) == 0)
			page[0] = 1;
	t = now() - t;
	signal(SIGSEGV, SIG_DFL);
	munmap((void *)page, 4096);
	return t / (double)n * 1e6;
}

static double t_pagefault(long n)
{
	size_t len = (size_t)n * 4096;
	volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	double t;

	if (p == MAP_FAILED)
		exit(1);
	t = now();
	for (long i = 0; i < n; i++)
		p[i * 4096] = 1;
	t = now() - t;
	munmap((void *)p, len);
	return t / (double)n * 1e6;
}

static double t_sh(long n)
{
	char cmd[300];
	double t;

	snprintf(cmd, sizeof(cmd), "%s exit", self);
	t = now();
	for (long i = 0; i < n; i++) {
		pid_t p = fork();

		if (p == 0) {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		if (p < 0 || waitpid(p, NULL, 0) != p)
			exit(1);
	}
	return (now() - t) / (double)n * 1e6;
}

static double best(double (*fn)(long), long n, int higher_better)
{
	double b = fn(n);

	for (int r = 1; r < 3; r++) {
		double v = fn(n);

		if (higher_better ? v > b : v < b)
			b = v;
	}
	return b;
}

static double fork_exit(long n) { return t_fork(n, 0); }
static double fork_exec(long n) { return t_fork(n, 1); }
static double create_tmp(long n) { return t_create("/tmp", n); }
static double create_etc(long n) { return t_create("/etc", n); }

int main(int argc, char **argv)
{
	long scale = 1;
	double rtt;

	if (argc > 1 && strcmp(argv[1], "exit") == 0)
		return 0;
	if (argc > 1 && strcmp(argv[1], "tcp-serve") == 0)
		return tcp_serve();
	if (argc > 1)
		scale = atol(argv[1]) > 0 ? atol(argv[1]) : 1;
	if (argc > 2)
		tcp_addr = argv[2];
	self = "/proc/self/exe";
	{
		static char path[256];
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

		if (n > 0) {
			path[n] = '\0';
			self = path;
		}
	}
	printf("null %.3f us\n", best(t_null, 20000 * scale, 0));
	printf("fork %.1f us\n", best(fork_exit, 50 * scale, 0));
	printf("exec %.1f us\n", best(fork_exec, 50 * scale, 0));
	rtt = best(t_pingpong, 2000 * scale, 0);
	printf("ctxsw %.2f us\n", rtt / 2);
	printf("pipe-lat %.2f us\n", rtt);
	printf("pipe-bw %.1f MB/s\n", best(t_pipe_bw, 16 * scale, 1));
	printf("create %.1f us\n", best(create_tmp, 500 * scale, 0));
	printf("create-etc %.1f us\n", best(create_etc, 500 * scale, 0));
	printf("ctxsw8 %.2f us\n", best(t_ring, 500 * scale, 0));
	printf("create10k %.1f us\n", best(t_create10k, 500 * scale, 0));
	printf("mmap %.1f us\n", best(t_mmap, 50 * scale, 0));
	{
		int fd = open(STAT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0)
			return 1;
		close(fd);
	}
	printf("nullio %.3f us\n", best(t_nullio, 10000 * scale, 0));
	printf("stat %.3f us\n", best(t_stat, 10000 * scale, 0));
	printf("openclose %.3f us\n", best(t_openclose, 5000 * scale, 0));
	printf("sigins %.3f us\n", best(t_sigins, 10000 * scale, 0));
	printf("sighnd %.3f us\n", best(t_sighnd, 5000 * scale, 0));
	printf("protfault %.3f us\n", best(t_protfault, 2000 * scale, 0));
	printf("pagefault %.3f us\n", best(t_pagefault, 2048 * scale, 0));
	printf("sh %.1f us\n", best(t_sh, 20 * scale, 0));
	unlink(STAT_FILE);
	if (tcp_addr) {
		printf("tcp-lat %.1f us\n", best(t_tcp_lat, 2000 * scale, 0));
		printf("tcp-bw %.1f MB/s\n", best(t_tcp_bw, 16 * scale, 1));
	}
	return 0;
}
