/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kernort-lat: LMbench-style microbenchmarks, run inside a guest by
 * bench-kernort (bench/kernort.c). Static, so that it runs in any image.
 *
 *   kernort-lat [SCALE]     prints "name value unit" lines
 *   kernort-lat exit        exits at once (the program fork+exec runs)
 *
 *   null        getppid(), the cheapest system call            us/call
 *   fork        fork, the child _exits, the parent waits        us
 *   exec        fork, the child execs "kernort-lat exit"        us
 *   ctxsw       two processes passing a byte over two pipes:
 *               half a round trip (LMbench's lat_ctx, 2 procs)  us
 *   pipe-lat    the round trip itself (lat_pipe)                us
 *   pipe-bw     64 KiB writes through a pipe to a reader        MB/s
 *   create      create and delete an empty file in /tmp         us
 *   create-etc  the same in /etc (a directory Kernort watches)  us
 *
 * Each figure is the best of 3 runs, as LMbench reports.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	if (argc > 1)
		scale = atol(argv[1]) > 0 ? atol(argv[1]) : 1;
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
	return 0;
}
