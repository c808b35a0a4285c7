/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/shares: configured against achieved CPU shares.
 *
 *   bench-shares [--seconds S]
 *
 * Weights: two CPU-bound servers pinned to one CPU with weights 1:1, 1:3 and
 * 1:9; each row gives the configured and the achieved split. Caps: one
 * CPU-bound server alone on a CPU capped at 10, 20, 50 and 80 %. Each
 * measurement runs S seconds (default 5) of CPU time read from the cgroups
 * through soda_server_get_stats().
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>

#include "../examples/common/console_exec.h"

static void die(const char *what, soda_error *e)
{
	fprintf(stderr, "bench-shares: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static soda_server *start(soda_context *ctx, const char *name, const char *spec)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_shares *sh = NULL;
	soda_error *e = NULL;
	int status;

	if (soda_server_config_new(&cfg, name, &e) < 0 ||
	    soda_server_config_set_memory(cfg, 48 << 20, &e) < 0 ||
	    soda_shares_parse(&sh, spec, &e) < 0 || soda_server_config_set_shares(cfg, sh, &e) < 0 ||
	    soda_server_define(&srv, ctx, cfg, 0, &e) < 0 ||
	    soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0 ||
	    soda_console_exec(srv, "(while :; do :; done) >/dev/null 2>&1 &", 10000, NULL, &status,
			      &e) < 0)
		die(name, e);
	soda_shares_free(sh);
	soda_server_config_free(cfg);
	return srv;
}

static void stop(soda_server *srv)
{
	soda_server_kill(srv, 0, NULL);
	soda_server_undefine(srv, 0, NULL);
	soda_server_unref(srv);
}

static uint64_t cpu_usec(soda_server *srv)
{
	soda_stats *st = NULL;
	soda_error *e = NULL;
	uint64_t v = 0;

	if (soda_server_get_stats(&st, srv, 0, &e) < 0 || soda_stats_get(st, SODA_STAT_CPU_USEC, &v) < 0)
		die("stats", e);
	soda_stats_free(st);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "seconds", required_argument, NULL, 's' },
					      { NULL, 0, NULL, 0 } };
	static const unsigned weights[][2] = { { 100, 100 }, { 100, 300 }, { 100, 900 } };
	static const unsigned caps[] = { 10, 20, 50, 80 };
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	char state_dir[] = "/tmp/soda-bench-XXXXXX", cmd[128];
	soda_context *ctx = NULL;
	soda_error *e = NULL;
	int seconds = 5, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 's' || (seconds = atoi(optarg)) < 1)
			return 2;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "bench-shares: needs two CPUs\n");
		return 1;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (!mkdtemp(state_dir))
		die("mkdtemp", NULL);
	copts.state_dir = state_dir;
	if (soda_context_open(&ctx, NULL, &copts, 0, &e) < 0 ||
	    soda_image_build(ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0)
		die("setup", e);

	printf("CPU weights: two CPU-bound servers on one CPU, %d s each\n", seconds);
	printf("  %-18s %-18s %s\n", "configured", "achieved", "error");
	for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++) {
		char spec[64];
		soda_server *a, *b;
		uint64_t a0, b0, a1, b1;
		double want, got;

		snprintf(spec, sizeof(spec), "cpu.weight=%u cpus=0", weights[i][0]);
		a = start(ctx, "a", spec);
		snprintf(spec, sizeof(spec), "cpu.weight=%u cpus=0", weights[i][1]);
		b = start(ctx, "b", spec);
		sleep(1);
		a0 = cpu_usec(a);
		b0 = cpu_usec(b);
		sleep((unsigned)seconds);
		a1 = cpu_usec(a);
		b1 = cpu_usec(b);
		want = 100.0 * weights[i][0] / (weights[i][0] + weights[i][1]);
		got = 100.0 * (double)(a1 - a0) / (double)((a1 - a0) + (b1 - b0));
		printf("  %3u:%-3u %4.1f/%4.1f %%   %4.1f/%4.1f %%       %+.1f points\n",
		       weights[i][0], weights[i][1], want, 100 - want, got, 100 - got, got - want);
		stop(a);
		stop(b);
	}

	printf("CPU caps: one CPU-bound server alone on a CPU, %d s each\n", seconds);
	printf("  %-12s %-12s %s\n", "configured", "achieved", "error");
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		char spec[64];
		soda_server *s;
		uint64_t u0, u1;
		double t0, t1, got;

		snprintf(spec, sizeof(spec), "cpu.max=%u%% cpus=1", caps[i]);
		s = start(ctx, "capped", spec);
		sleep(1);
		u0 = cpu_usec(s);
		t0 = now_s();
		sleep((unsigned)seconds);
		u1 = cpu_usec(s);
		t1 = now_s();
		got = 100.0 * (double)(u1 - u0) / 1e6 / (t1 - t0);
		printf("  %3u %%        %5.1f %%      %+.1f points\n", caps[i], got, got - caps[i]);
		stop(s);
	}
	soda_context_recover(ctx, 0, NULL);
	soda_context_unref(ctx);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	return system(cmd) == 0 ? 0 : 1;
}
