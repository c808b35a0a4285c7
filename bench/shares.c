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
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>
#include <soda/sys/backend.h>

#include "bench_sh.h"

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

static char netns[32];

static int tap_attach(void *userdata, const char *server, uint32_t index, const char *network,
		      const char *mac, uint32_t uid, char ret_ifname[16], soda_error **error)
{
	(void)userdata, (void)network, (void)mac;
	snprintf(ret_ifname, 16, "sdb%.10s%u", server, index);
	if (sh("ip -n %s tuntap add dev %s mode tap user %u && ip -n %s link set %s up && "
	       "ip netns exec %s ethtool -K %s tx off tso off gso off sg off >/dev/null 2>&1; "
	       "ip -n %s route replace 198.51.100.10/32 dev %s",
	       netns, ret_ifname, uid, netns, ret_ifname, netns, ret_ifname, netns, ret_ifname) != 0)
		return soda_error_set(error, -EIO, "cannot make the benchmark's TAP");
	return 0;
}

static int tap_detach(void *userdata, const char *server, uint32_t index, const char *ifname,
		      soda_error **error)
{
	(void)userdata, (void)server, (void)index, (void)error;
	sh("ip -n %s link del %s 2>/dev/null", netns, ifname);
	return 0;
}

static double goodput(soda_server *srv, bool to_guest, int port, int seconds)
{
	char cmd[512], *out = NULL, *p;
	soda_error *e = NULL;
	double mbit = -1;
	int status;

	if (to_guest) {
		snprintf(cmd, sizeof(cmd), "(/tools/tcpblast recv %d %d > /tmp/r.out &) ; sleep 0.2",
			 port, seconds);
		soda_console_exec(srv, cmd, 10000, NULL, &status, &e);
		sh("ip netns exec %s %s send 198.51.100.10 %d %d.5", netns, BENCH_TCPBLAST, port,
		   seconds);
		soda_console_exec(srv, "sleep 0.5; cat /tmp/r.out", 10000, &out, &status, &e);
	} else {
		snprintf(cmd, sizeof(cmd), "/tmp/soda-bench-nb.%d", (int)getpid());
		sh("ip netns exec %s %s recv %d %d > %s 2>&1 </dev/null & sleep 0.3", netns,
		   BENCH_TCPBLAST, port, seconds, cmd);
		{
			char send[128];

			snprintf(send, sizeof(send), "/tools/tcpblast send 198.51.100.1 %d %d.5", port,
				 seconds);
			soda_console_exec(srv, send, (seconds + 10) * 1000, NULL, &status, &e);
		}
		usleep(300000);
		{
			FILE *f = fopen(cmd, "re");
			char line[128] = "";

			if (f) {
				if (!fgets(line, sizeof(line), f))
					line[0] = '\0';
				if (!fgets(line, sizeof(line), f))
					line[0] = line[0] ? line[0] : '\0';
				fclose(f);
			}
			out = strdup(line);
			unlink(cmd);
		}
	}
	soda_error_free(e);
	p = out ? strstr(out, "goodput_mbit=") : NULL;
	if (p)
		mbit = atof(p + 13);
	free(out);
	return mbit;
}

static void bandwidth_table(int seconds)
{
	static const unsigned rates[] = { 10, 20, 50, 100, 200, 500 };
	static const soda_netdev_ops ops = { SODA_BACKEND_VERSION, tap_attach, tap_detach };
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	char state_dir[] = "/tmp/soda-bench-XXXXXX", tools[256];
	soda_server_config *cfg = NULL;
	soda_context *ctx = NULL;
	soda_server *srv = NULL;
	soda_shares *s = NULL;
	soda_error *e = NULL;

	snprintf(netns, sizeof(netns), "soda-bench-%d", (int)getpid());
	if (!mkdtemp(state_dir) ||
	    sh("ip netns add %s && ip -n %s link set lo up && ip -n %s addr add 198.51.100.1/32 dev lo",
	       netns, netns, netns) != 0)
		die("bandwidth setup", NULL);
	snprintf(tools, sizeof(tools), "%s", BENCH_TCPBLAST);
	*strrchr(tools, '/') = '\0';
	copts.state_dir = state_dir;
	copts.netns = netns;
	if (soda_context_open(&ctx, NULL, &copts, 0, &e) < 0 ||
	    soda_context_set_netdev_ops(ctx, &ops, NULL, &e) < 0 ||
	    soda_image_build(ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0 ||
	    soda_server_config_new(&cfg, "bw", &e) < 0 ||
	    soda_server_config_set_memory(cfg, 64 << 20, &e) < 0 ||
	    soda_server_config_add_nic(cfg, "bench", NULL, 0, &e) < 0 ||
	    soda_server_config_add_nic_address(cfg, 0, "198.51.100.10/24", &e) < 0 ||
	    soda_server_config_add_share(cfg, tools, "/tools", SODA_SHARE_READONLY, &e) < 0 ||
	    soda_shares_parse(&s, "net.out=10Mbit net.in=10Mbit", &e) < 0 ||
	    soda_server_config_set_shares(cfg, s, &e) < 0 ||
	    soda_server_define(&srv, ctx, cfg, 0, &e) < 0 ||
	    soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0)
		die("bandwidth guest", e);
	soda_shares_free(s);
	printf("Bandwidth: TCP goodput of one guest, %d s each way (rates count IP packets)\n",
	       seconds);
	printf("  %-12s %-22s %-22s\n", "configured", "guest -> peer", "peer -> guest");
	{
		/* The baseline: what one guest does with no share at all. */
		double out, in;

		if (soda_shares_parse(&s, "", &e) < 0 || soda_server_set_shares(srv, s, 0, &e) < 0)
			die("live change", e);
		soda_shares_free(s);
		out = goodput(srv, false, 5498, seconds);
		in = goodput(srv, true, 5499, seconds);
		printf("  %-12s %7.1f Mbit/s           %7.1f Mbit/s\n", "unlimited", out, in);
	}
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		char spec[64];
		double out, in;

		snprintf(spec, sizeof(spec), "net.out=%uMbit net.in=%uMbit", rates[i], rates[i]);
		if (soda_shares_parse(&s, spec, &e) < 0 || soda_server_set_shares(srv, s, 0, &e) < 0)
			die("live change", e);
		soda_shares_free(s);
		out = goodput(srv, false, 5500 + (int)i, seconds);
		in = goodput(srv, true, 5600 + (int)i, seconds);
		printf("  %4u Mbit/s  %7.1f Mbit/s (%5.1f %%)  %7.1f Mbit/s (%5.1f %%)\n", rates[i],
		       out, 100 * out / rates[i], in, 100 * in / rates[i]);
	}
	soda_server_kill(srv, 0, NULL);
	soda_server_undefine(srv, 0, NULL);
	soda_server_unref(srv);
	soda_server_config_free(cfg);
	soda_context_recover(ctx, 0, NULL);
	soda_context_unref(ctx);
	sh("ip netns del %s; rm -rf %s", netns, state_dir);
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
	bandwidth_table(seconds);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	return system(cmd) == 0 ? 0 : 1;
}
