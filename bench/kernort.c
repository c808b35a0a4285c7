/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/kernort: what Kernort inside the guest costs the guest.
 *
 *   bench-kernort [--rounds R] [--scale S] [--cpus LIST] [--neighbour-cpus LIST] [--fresh]
 *
 * --cpus pins the three measured servers to those host CPUs (the cpus=
 * share; they take turns, so one CPU serves): an unpinned UML guest's
 * system calls cost 5-10 times more when its processes land on different
 * CPUs (docs/performance.md), which swamps a 3 % target. --neighbour-cpus
 * pins the neighbour the same way (the TCP figures' other end).
 *
 * Four servers of the same image, all with a blackbox: Kernort off (no
 * rules), on with 10 rules, on with 1,000 (generated: every event kind,
 * contents that the benchmark's own activity never matches, one rule in
 * ten with a pcre, so that every event is evaluated against every rule of
 * its kind), and off again ("off B"): the ratio of the two servers without
 * rules is this machine's noise floor for the others (an A/A test: two
 * guests that differ in nothing, measured the same way). With --fresh,
 * every round boots the four anew (0.2 s each) and warms them up, so that
 * what one guest instance happens to cost (where its memory landed) is
 * not the same configuration's in every round. In each of R rounds
 * (default 3) each server runs kernort-lat (bench/kernort_guest.c: null
 * system call, fork+exit, fork+exec, context switch 2p/0K and 8p/16K, pipe
 * latency and bandwidth, file create+delete 0K in /tmp and in /etc, which
 * Kernort watches, and 10K, mmap latency, TCP latency and bandwidth to a
 * neighbour, and the papers' other rows: null I/O, stat, open/close,
 * signal installation and handling, protection and page faults, sh) from
 * a read-only share; the servers take turns (each round starts with the
 * next one), so that a slow spell of the machine touches all of them,
 * after a warm-up run in each that is not counted. The neighbour is a
 * fifth server without rules on the same switch (a plain one,
 * SODA_NETWORK_NO_FIREWALL: the firewall's cost is not Kernort's) in a
 * network namespace the benchmark makes and deletes. Printed: the median
 * of each figure, and the ratios on/off (time on over time off; for
 * bandwidth off over on: above 1 is slower either way), and off B over
 * off. Targets: <= 1.03 with 10 rules, <= 1.05 with 1,000.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <soda/blackbox.h>
#include <soda/ids.h>
#include <soda/soda.h>

#include "../examples/common/console_exec.h"

#define N_CONF 4
#define N_TEST 21
#define MAX_ROUNDS 15

static const char *const tests[N_TEST] = { "null",	  "fork",      "exec",	   "ctxsw",
					   "ctxsw8",	  "pipe-lat",  "pipe-bw",  "create",
					   "create-etc", "create10k", "mmap",	   "tcp-lat",
					   "tcp-bw",	  "nullio",    "stat",	   "openclose",
					   "sigins",	  "sighnd",    "protfault", "pagefault",
					   "sh" };
#define NEIGHBOUR "198.51.100.9"
static const char *const conf_name[N_CONF] = { "off", "10 rules", "1000 rules", "off B" };
static const unsigned conf_rules[N_CONF] = { 0, 10, 1000, 0 };

static soda_context *bench_ctx;
static soda_network *bench_net;
/* srvs[N_CONF] is the neighbour */
static soda_server *srvs[N_CONF + 1];
static char bench_dir[] = "/tmp/soda-bench-kernort-XXXXXX";
static char bench_netns[32];

static void stop_server(int k)
{
	if (!srvs[k])
		return;
	soda_server_kill(srvs[k], 0, NULL);
	soda_server_undefine(srvs[k], 0, NULL);
	soda_server_unref(srvs[k]);
	srvs[k] = NULL;
}

static void cleanup(void)
{
	char cmd[96];

	for (int c = 0; c <= N_CONF; c++)
		stop_server(c);
	if (bench_net) {
		soda_network_destroy(bench_net, 0, NULL);
		soda_network_unref(bench_net);
		bench_net = NULL;
	}
	if (bench_ctx) {
		soda_context_recover(bench_ctx, 0, NULL);
		soda_context_unref(bench_ctx);
		bench_ctx = NULL;
	}
	if (bench_netns[0]) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s", bench_netns);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-kernort: could not delete %s\n", bench_netns);
		bench_netns[0] = '\0';
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", bench_dir);
	if (bench_dir[sizeof(bench_dir) - 2] != 'X' && system(cmd) != 0)
		fprintf(stderr, "bench-kernort: could not remove %s\n", bench_dir);
}

static void die(const char *what, soda_error *e)
{
	fprintf(stderr, "bench-kernort: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	cleanup();
	exit(1);
}

static void write_rules(const char *path, unsigned n)
{
	FILE *f = fopen(path, "we");

	if (!f)
		die(path, NULL);
	for (unsigned i = 0; i < n; i++) {
		const char *pcre = i % 10 == 9 ? "pcre:\"/kxb[0-9]+\\s+-[a-z]/\"; " : "";

		switch (i % 6) {
		case 0:
			fprintf(f, "alert exec any any -> any any (msg:\"b%u\"; exec.path; "
				   "content:\"/kxb%u\"; endswith; exec.argv; %ssid:%u;)\n", i, i, pcre,
				i + 1);
			break;
		case 1:
			fprintf(f, "alert file any any -> any any (msg:\"b%u\"; file.path; "
				   "content:\"/etc/kxb%u\"; startswith; %ssid:%u;)\n", i, i, pcre, i + 1);
			break;
		case 2:
			fprintf(f, "alert net any any -> any any (msg:\"b%u\"; net.op; content:\"listen\"; "
				   "net.port; content:\"%u\"; startswith; endswith; sid:%u;)\n", i,
				40000 + i, i + 1);
			break;
		case 3:
			fprintf(f, "alert syslog any any -> any any (msg:\"b%u\"; syslog.message; "
				   "content:\"kxb%u \"; %ssid:%u;)\n", i, i, pcre, i + 1);
			break;
		case 4:
			fprintf(f, "alert tty any any -> any any (msg:\"b%u\"; tty.input; "
				   "content:\"kxb%u \"; %ssid:%u;)\n", i, i, pcre, i + 1);
			break;
		default:
			fprintf(f, "alert klog any any -> any any (msg:\"b%u\"; klog.message; "
				   "content:\"kxb%u \"; %ssid:%u;)\n", i, i, pcre, i + 1);
			break;
		}
	}
	if (fclose(f) != 0)
		die(path, NULL);
}

/* CPU time the whole server (linux.uml: the guest and its agent) used so
 * far, microseconds: the work a run cost, which a busy machine delays but
 * does not inflate as much as wall time. */
static uint64_t server_cpu(soda_server *srv)
{
	soda_stats *st = NULL;
	soda_error *e = NULL;
	uint64_t v = 0;

	if (soda_server_get_stats(&st, srv, 0, &e) < 0 || soda_stats_get(st, SODA_STAT_CPU_USEC, &v) < 0)
		die("stats", e);
	soda_stats_free(st);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Defines and starts measured server @k (k < N_CONF) or the neighbour
 * (k == N_CONF), pinned by @pin when given. */
static void start_server(int k, const uint8_t box[32], const char *share, const soda_shares *pin)
{
	soda_server_config *cfg = NULL;
	char name[32], rules[400], addr[32];
	bool rules_on = k < N_CONF && conf_rules[k];
	soda_error *e = NULL;

	if (k < N_CONF)
		snprintf(name, sizeof(name), "kernort-b%d", k);
	else
		snprintf(name, sizeof(name), "kernort-neighbour");
	snprintf(addr, sizeof(addr), k < N_CONF ? "198.51.100.%d/24" : NEIGHBOUR "/24", k + 1);
	snprintf(rules, sizeof(rules), "%s/%u.rules", bench_dir, rules_on ? conf_rules[k] : 0);
	if (soda_server_config_new(&cfg, name, &e) < 0 ||
	    soda_server_config_set_memory(cfg, 96u << 20, &e) < 0 ||
	    soda_server_config_set_blackbox(cfg, box, NULL, &e) < 0 ||
	    soda_server_config_add_share(cfg, share, "/kb", SODA_SHARE_READONLY, &e) < 0 ||
	    soda_server_config_add_nic(cfg, "lan", NULL, 0, &e) < 0 ||
	    soda_server_config_add_nic_address(cfg, 0, addr, &e) < 0 ||
	    (rules_on && soda_server_config_set_ids_rules(cfg, rules, 0, &e) < 0) ||
	    (pin && soda_server_config_set_shares(cfg, pin, &e) < 0) ||
	    soda_server_define(&srvs[k], bench_ctx, cfg, 0, &e) < 0 ||
	    soda_server_start(srvs[k], SODA_START_WAIT_READY, &e) < 0)
		die(name, e);
	soda_server_config_free(cfg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "rounds", required_argument, NULL, 'r' },
					      { "scale", required_argument, NULL, 's' },
					      { "cpus", required_argument, NULL, 'c' },
					      { "neighbour-cpus", required_argument, NULL, 'N' },
					      { "fresh", no_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	static double v[N_CONF][N_TEST][MAX_ROUNDS], cpu[N_CONF][MAX_ROUNDS];
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	soda_blackbox_key *key = NULL;
	soda_error *e = NULL;
	unsigned rounds = 3, scale = 1;
	bool fresh = false;
	const char *cpus = NULL, *ncpus = NULL;
	soda_shares *pin = NULL, *npin = NULL;
	char state[300], share[300], cmd[2048];
	uint8_t box[32];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r' && atoi(optarg) > 0 && atoi(optarg) <= MAX_ROUNDS)
			rounds = (unsigned)atoi(optarg);
		else if (c == 's' && atoi(optarg) > 0)
			scale = (unsigned)atoi(optarg);
		else if (c == 'c')
			cpus = optarg;
		else if (c == 'N')
			ncpus = optarg;
		else if (c == 'f')
			fresh = true;
		else {
			fprintf(stderr, "usage: bench-kernort [--rounds 1-%d] [--scale S] [--cpus LIST] "
				"[--neighbour-cpus LIST] [--fresh]\n",
				MAX_ROUNDS);
			return 2;
		}
	}
	/* the agent checks the rules on the host too */
	setenv("SODA_AGENT", BENCH_AGENT, 0);
	setenv("SODA_MONITOR", BENCH_MONITOR, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (!mkdtemp(bench_dir))
		die("mkdtemp", NULL);
	snprintf(state, sizeof(state), "%s/state", bench_dir);
	snprintf(share, sizeof(share), "%s/kb", bench_dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s/kernort-lat && chmod -R a+rX %s", share,
		 BENCH_KERNORT_LAT, share, bench_dir);
	if (system(cmd) != 0)
		die("the share", NULL);
	copts.state_dir = state;
	snprintf(bench_netns, sizeof(bench_netns), "soda-bench-kn-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "ip netns add %s && ip -n %s link set lo up", bench_netns,
		 bench_netns);
	if (system(cmd) != 0) {
		bench_netns[0] = '\0';
		die("ip netns add", NULL);
	}
	copts.netns = bench_netns;
	if (cpus && (soda_shares_new(&pin, &e) < 0 || soda_shares_set_cpus(pin, cpus, &e) < 0))
		die("--cpus", e);
	if (ncpus && (soda_shares_new(&npin, &e) < 0 || soda_shares_set_cpus(npin, ncpus, &e) < 0))
		die("--neighbour-cpus", e);
	if (soda_blackbox_key_generate(&key, SODA_BLACKBOX_KEY_TENANT, 0, &e) < 0 ||
	    soda_blackbox_key_get_box_public(key, box, sizeof(box)) < 0 ||
	    soda_context_open(&bench_ctx, NULL, &copts, 0, &e) < 0 ||
	    soda_network_create(&bench_net, bench_ctx, "lan", NULL, SODA_NETWORK_NO_FIREWALL, &e) < 0 ||
	    soda_image_build(bench_ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0)
		die("setup", e);
	for (int k = 0; k < N_CONF; k++)
		if (conf_rules[k]) {
			char rules[400];

			snprintf(rules, sizeof(rules), "%s/%u.rules", bench_dir, conf_rules[k]);
			write_rules(rules, conf_rules[k]);
		}
	start_server(N_CONF, box, share, npin);
	{
		char *out = NULL;
		int status = -1;

		if (soda_console_exec(srvs[N_CONF],
				      "(/kb/kernort-lat tcp-serve >/dev/null 2>&1 &) ; sleep 0.3",
				      30000, &out, &status, &e) < 0 ||
		    status != 0)
			die("the neighbour's tcp-serve", e);
		free(out);
	}
	snprintf(cmd, sizeof(cmd), "/kb/kernort-lat %u " NEIGHBOUR, scale);
	/* Round r starts with server r mod N_CONF: none of them always runs
	 * first or right after the same one. */
	for (unsigned r = 0; r < rounds; r++) {
		if (r == 0 || fresh)
			for (int k = 0; k < N_CONF; k++) {
				char *out = NULL;
				int status = -1;

				stop_server(k);
				start_server(k, box, share, pin);
				/* A warm-up run, not counted: the first run of a
				 * fresh guest pays for its memory's first touch on
				 * the host (mmap 4x, the guest's CPU 2x in the first
				 * server of a trial run) and for reading the program
				 * through hostfs. */
				if (soda_console_exec(srvs[k], cmd, 600000, &out, &status, &e) < 0 ||
				    status != 0)
					die("kernort-lat (warm-up)", e);
				free(out);
			}
		for (int kk = 0; kk < N_CONF; kk++) {
			int k = (int)((r + (unsigned)kk) % N_CONF);
			char *out = NULL, *line;
			int status = -1;
			uint64_t cpu0 = server_cpu(srvs[k]);

			if (soda_console_exec(srvs[k], cmd, 600000, &out, &status, &e) < 0 ||
			    status != 0)
				die("kernort-lat", e);
			cpu[k][r] = (double)(server_cpu(srvs[k]) - cpu0) / 1000.0;
			for (int t = 0; t < N_TEST; t++) {
				char key_[32];

				snprintf(key_, sizeof(key_), "\n%s ", tests[t]);
				line = strstr(out, key_);
				if (!line && strncmp(out, key_ + 1, strlen(key_ + 1)) == 0)
					line = out - 1;
				if (!line)
					die("kernort-lat's output", NULL);
				v[k][t][r] = strtod(line + strlen(key_), NULL);
			}
			if (getenv("BENCH_VERBOSE"))
				printf("round %u %-10s exec %.0f us, ctxsw %.2f us, create-etc %.1f us\n",
				       r + 1, conf_name[k], v[k][2][r], v[k][3][r], v[k][8][r]);
			free(out);
		}
	}
	printf("Kernort in the guest: medians of %u rounds (scale %u, CPUs %s, the neighbour's %s, "
	       "%s)\n\n",
	       rounds, scale, cpus ? cpus : "any", ncpus ? ncpus : "any",
	       fresh ? "fresh guests every round" : "the same guests throughout");
	printf("%-11s %11s %11s %11s %11s %9s %9s %9s\n", "test", conf_name[0], conf_name[1],
	       conf_name[2], conf_name[3], "ratio 10", "ratio 1k", "A/A");
	for (int t = 0; t < N_TEST; t++) {
		double m[N_CONF];
		bool bw = strcmp(tests[t], "pipe-bw") == 0 || strcmp(tests[t], "tcp-bw") == 0;

		for (int k = 0; k < N_CONF; k++)
			m[k] = median(v[k][t], rounds);
		printf("%-11s %11.3f %11.3f %11.3f %11.3f %9.3f %9.3f %9.3f  %s\n", tests[t], m[0],
		       m[1], m[2], m[3], bw ? m[0] / m[1] : m[1] / m[0],
		       bw ? m[0] / m[2] : m[2] / m[0], bw ? m[0] / m[3] : m[3] / m[0],
		       bw ? "MB/s" : "us");
	}
	{
		double m[N_CONF];

		for (int k = 0; k < N_CONF; k++)
			m[k] = median(cpu[k], rounds);
		printf("%-11s %11.1f %11.1f %11.1f %11.1f %9.3f %9.3f %9.3f  %s\n", "server-cpu", m[0],
		       m[1], m[2], m[3], m[1] / m[0], m[2] / m[0], m[3] / m[0],
		       "ms per run (the guest and its agent)");
	}
	printf("\nratio: time with Kernort / time without (bandwidth: without / with); "
	       "targets <= 1.03 (10 rules), <= 1.05 (1000 rules)\n"
	       "A/A: the second server without rules / the first: how far two identical guests "
	       "differ here\n");
	soda_blackbox_key_free(key);
	soda_shares_free(pin);
	soda_shares_free(npin);
	cleanup();
	return 0;
}
