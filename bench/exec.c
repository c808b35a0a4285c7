/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/exec: a command through the guest's agent (soda_server_exec)
 * against the console (soda_console_exec, the way sodactl exec went before
 * 0.2), measured in the same run on the same guest, runs interleaved.
 *
 *   bench-exec [--runs N]
 *
 * Latency: `true`, N runs each, p50 and the ratio agent/console.
 * Throughput: 64 KiB of text out (the console drops a reader that falls
 * behind: 1 MiB does not come through it), MB/s each and the ratio; and
 * 32 MiB of binary out through the agent alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>

#include "../examples/common/console_exec.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char state_dir[] = "/tmp/soda-bench-XXXXXX";
static soda_server *srv;

static void die(const char *what, soda_error *e)
{
	char cmd[128];

	fprintf(stderr, "bench-exec: %s: %s\n", what, e ? soda_error_message(e) : strerror(errno));
	/* What the run made goes, even on failure. */
	if (srv)
		soda_server_kill(srv, 0, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (state_dir[strlen(state_dir) - 1] != 'X' && system(cmd) != 0)
		fprintf(stderr, "bench-exec: cannot remove %s\n", state_dir);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Seconds for @cmd through the agent; output to /dev/null. */
static double agent(soda_server *s, const char *cmd)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	soda_exec_options o = SODA_EXEC_OPTIONS_INIT;
	soda_error *e = NULL;
	int status = -1, null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	double t0 = now_s();

	o.stdout_fd = null;
	o.timeout_ms = 120000;
	if (soda_server_exec(&status, s, argv, &o, 0, &e) < 0 || status != 0)
		die("agent exec", e);
	t0 = now_s() - t0;
	close(null);
	return t0;
}

static double console(soda_server *s, const char *cmd)
{
	soda_error *e = NULL;
	char *out = NULL;
	int status = -1;
	double t0 = now_s();

	if (soda_console_exec(s, cmd, 120000, &out, &status, &e) < 0 || status != 0)
		die("console exec", e);
	t0 = now_s() - t0;
	free(out);
	return t0;
}

int main(int argc, char **argv)
{
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	char cmd[128];
	soda_server_config *cfg = NULL;
	soda_context *ctx = NULL;
	soda_error *e = NULL;
	int runs = 30;
	double *a, *c, ta, tc;
	const char *text = "yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU | "
			   "head -c 65536";

	if (argc == 3 && strcmp(argv[1], "--runs") == 0)
		runs = atoi(argv[2]);
	if (runs < 3 || runs > 10000) {
		fprintf(stderr, "usage: bench-exec [--runs N (3-10000)]\n");
		return 2;
	}
	if (!mkdtemp(state_dir))
		die("mkdtemp", NULL);
	copts.state_dir = state_dir;
	if (soda_context_open(&ctx, NULL, &copts, 0, &e) < 0 ||
	    soda_image_build(ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0 ||
	    soda_server_config_new(&cfg, "bench-exec", &e) < 0 ||
	    soda_server_config_set_memory(cfg, 64 << 20, &e) < 0 ||
	    soda_server_define(&srv, ctx, cfg, 0, &e) < 0 ||
	    soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0)
		die("set-up", e);
	soda_server_config_free(cfg);
	a = calloc((size_t)runs, sizeof(*a));
	c = calloc((size_t)runs, sizeof(*c));
	if (!a || !c)
		die("calloc", NULL);
	for (int i = 0; i < runs; i++) {
		a[i] = agent(srv, "true");
		c[i] = console(srv, "true");
	}
	qsort(a, (size_t)runs, sizeof(*a), cmp_double);
	qsort(c, (size_t)runs, sizeof(*c), cmp_double);
	printf("latency of 'true' (p50 of %d): agent %.1f ms, console %.1f ms, ratio %.2f\n", runs,
	       a[runs / 2] * 1e3, c[runs / 2] * 1e3, a[runs / 2] / c[runs / 2]);
	ta = agent(srv, text);
	tc = console(srv, text);
	printf("64 KiB of text out: agent %.1f MB/s, console %.1f MB/s, ratio %.2f\n",
	       0.065536 / ta, 0.065536 / tc, tc / ta);
	ta = agent(srv, "head -c 33554432 /dev/zero");
	printf("32 MiB of binary out through the agent: %.1f MB/s\n", 33.554432 / ta);
	soda_server_kill(srv, 0, NULL);
	soda_server_undefine(srv, 0, NULL);
	soda_server_unref(srv);
	soda_image_remove(ctx, "busybox", 0, NULL);
	soda_context_unref(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-exec: cannot remove %s\n", state_dir);
	free(a);
	free(c);
	return 0;
}
