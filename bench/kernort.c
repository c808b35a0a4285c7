/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/kernort: what Kernort inside the guest costs the guest.
 *
 *   bench-kernort [--rounds R] [--scale S] [--cpus LIST] [--neighbour-cpus LIST] [--fresh]
 *                 [--seed N] [--raw FILE]
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
 * network namespace the benchmark makes and deletes.
 *
 * Every round draws (--seed makes it repeatable) the order in which the
 * servers are measured and, with --fresh, the order in which they boot
 * and which slot (name, address, hence TAP and port) each configuration
 * gets: a first run of 11 rounds found the first server without rules 4-8 %
 * slower than its twin in every figure, in a fixed order. Drawn afresh in
 * every round, what the order or the slot costs becomes part of the
 * rounds' spread, which the interval below accounts for, instead of a bias.
 *
 * Printed: the median of each figure, and for each configuration against
 * "off" the mean of the rounds' own ratios (time on over time off; for
 * bandwidth off over on: above 1 is slower either way) with its 95 %
 * Student-t interval (bench_stats.h, as bench-ids-port). A target (<= 1.03
 * with 10 rules, <= 1.05 with 1,000) is met when the whole interval is at
 * or below it, missed when the whole interval is above it, and otherwise
 * not decided by this run. The same for the geometric mean of the issue's
 * LMbench set, per round. The A/A row (off B against off) shows whether
 * the method is unbiased here (its interval should hold 1) and how wide
 * the noise is. --raw writes every figure of every round (CSV).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <soda/blackbox.h>
#include <soda/ids.h>
#include <soda/soda.h>

#include "../examples/common/console_exec.h"
#include "bench_stats.h"

#define N_CONF 4
#define N_TEST 21
#define MAX_ROUNDS 60

static const char *const tests[N_TEST] = { "null",	  "fork",      "exec",	   "ctxsw",
					   "ctxsw8",	  "pipe-lat",  "pipe-bw",  "create",
					   "create-etc", "create10k", "mmap",	   "tcp-lat",
					   "tcp-bw",	  "nullio",    "stat",	   "openclose",
					   "sigins",	  "sighnd",    "protfault", "pagefault",
					   "sh" };
#define NEIGHBOUR "198.51.100.9"
static const char *const conf_name[N_CONF] = { "off", "10 rules", "1000 rules", "off B" };
static const unsigned conf_rules[N_CONF] = { 0, 10, 1000, 0 };
/* the targets against "off"; 0: none (the A/A control) */
static const double conf_target[N_CONF] = { 0, 1.03, 1.05, 0 };
/* the LMbench set the issue names, for the geometric mean */
static const char *const issue_set[] = { "null",     "fork",	"exec",	     "ctxsw",
					 "ctxsw8",   "pipe-lat", "pipe-bw",   "create",
					 "create10k", "mmap",	"tcp-lat",   "tcp-bw" };

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

/* Defines and starts measured server @k (k < N_CONF) in slot @slot (its
 * name and address) or the neighbour (k == N_CONF), pinned by @pin when
 * given. */
static void start_server(int k, int slot, const uint8_t box[32], const char *share,
			 const soda_shares *pin)
{
	soda_server_config *cfg = NULL;
	char name[32], rules[400], addr[32];
	bool rules_on = k < N_CONF && conf_rules[k];
	soda_error *e = NULL;

	if (k < N_CONF)
		snprintf(name, sizeof(name), "kernort-b%d", slot);
	else
		snprintf(name, sizeof(name), "kernort-neighbour");
	snprintf(addr, sizeof(addr), k < N_CONF ? "198.51.100.%d/24" : NEIGHBOUR "/24", slot + 1);
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

/* A uniformly drawn order of 0..n-1 (Fisher-Yates). */
static void shuffle(int *a, int n)
{
	for (int i = 0; i < n; i++)
		a[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(lrand48() % (i + 1)), x = a[i];

		a[i] = a[j];
		a[j] = x;
	}
}

static bool is_bandwidth(int t)
{
	return strcmp(tests[t], "pipe-bw") == 0 || strcmp(tests[t], "tcp-bw") == 0;
}

/* Configuration @c against "off" in round @r for test @t: above 1 is
 * slower (time on / off; bandwidth off / on). */
static double ratio_of(double v[N_CONF][N_TEST][MAX_ROUNDS], int c, int t, unsigned r)
{
	return is_bandwidth(t) ? v[0][t][r] / v[c][t][r] : v[c][t][r] / v[0][t][r];
}

/* "mean [lo-hi] verdict" of the ratios @x[0..n) against @target (0: the
 * control, which should hold 1). */
static void print_ci(const double *x, unsigned n, double target)
{
	double mean, half;
	const char *verdict;

	bench_mean_ci(x, (int)n, &mean, &half);
	if (target > 0)
		verdict = mean + half <= target ? "met" : mean - half > target ? "MISSED" : "undecided";
	else
		verdict = mean - half <= 1 && mean + half >= 1 ? "holds 1" : "BIASED";
	printf("  %.3f [%.3f-%.3f] %-9s", mean, mean - half, mean + half, verdict);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "rounds", required_argument, NULL, 'r' },
					      { "scale", required_argument, NULL, 's' },
					      { "cpus", required_argument, NULL, 'c' },
					      { "neighbour-cpus", required_argument, NULL, 'N' },
					      { "fresh", no_argument, NULL, 'f' },
					      { "seed", required_argument, NULL, 'S' },
					      { "raw", required_argument, NULL, 'w' },
					      { NULL, 0, NULL, 0 } };
	static double v[N_CONF][N_TEST][MAX_ROUNDS], cpu[N_CONF][MAX_ROUNDS];
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	soda_blackbox_key *key = NULL;
	soda_error *e = NULL;
	unsigned rounds = 3, scale = 1;
	bool fresh = false;
	const char *cpus = NULL, *ncpus = NULL, *raw = NULL;
	long seed = (long)time(NULL);
	int slot[N_CONF] = { 0, 1, 2, 3 }, order[N_CONF];
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
		else if (c == 'S')
			seed = atol(optarg);
		else if (c == 'w')
			raw = optarg;
		else {
			fprintf(stderr, "usage: bench-kernort [--rounds 1-%d] [--scale S] [--cpus LIST] "
				"[--neighbour-cpus LIST] [--fresh] [--seed N] [--raw FILE]\n",
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
	srand48(seed);
	start_server(N_CONF, N_CONF, box, share, npin);
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
	for (unsigned r = 0; r < rounds; r++) {
		if (r == 0 || fresh) {
			int boot[N_CONF];

			for (int k = 0; k < N_CONF; k++)
				stop_server(k);
			if (fresh)
				shuffle(slot, N_CONF);
			shuffle(boot, N_CONF);
			for (int kk = 0; kk < N_CONF; kk++) {
				int k = boot[kk];
				char *out = NULL;
				int status = -1;

				start_server(k, slot[k], box, share, pin);
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
		}
		shuffle(order, N_CONF);
		for (int kk = 0; kk < N_CONF; kk++) {
			int k = order[kk];
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
				if (!(v[k][t][r] > 0))
					die("kernort-lat's output (a figure that is not positive)", NULL);
			}
			free(out);
		}
		if (getenv("BENCH_VERBOSE")) {
			printf("round %u (measured", r + 1);
			for (int kk = 0; kk < N_CONF; kk++)
				printf(" %s%s", kk ? "-> " : "", conf_name[order[kk]]);
			printf("): exec %.3f %.3f %.3f, ctxsw %.3f %.3f %.3f, create-etc %.3f %.3f %.3f "
			       "(10 rules, 1000 rules, A/A)\n",
			       ratio_of(v, 1, 2, r), ratio_of(v, 2, 2, r), ratio_of(v, 3, 2, r),
			       ratio_of(v, 1, 3, r), ratio_of(v, 2, 3, r), ratio_of(v, 3, 3, r),
			       ratio_of(v, 1, 8, r), ratio_of(v, 2, 8, r), ratio_of(v, 3, 8, r));
			fflush(stdout);
		}
	}
	if (raw) {
		FILE *f = fopen(raw, "we");

		if (!f)
			die(raw, NULL);
		fprintf(f, "round,configuration,test,value\n");
		for (unsigned r = 0; r < rounds; r++)
			for (int k = 0; k < N_CONF; k++) {
				for (int t = 0; t < N_TEST; t++)
					fprintf(f, "%u,%s,%s,%.4f\n", r + 1, conf_name[k], tests[t],
						v[k][t][r]);
				fprintf(f, "%u,%s,server-cpu-ms,%.1f\n", r + 1, conf_name[k], cpu[k][r]);
			}
		if (fclose(f) != 0)
			die(raw, NULL);
	}
	printf("Kernort in the guest: %u rounds (scale %u, CPUs %s, the neighbour's %s, %s, "
	       "seed %ld)\n\n",
	       rounds, scale, cpus ? cpus : "any", ncpus ? ncpus : "any",
	       fresh ? "fresh guests and slots every round" : "the same guests throughout", seed);
	printf("Medians\n%-11s %11s %11s %11s %11s\n", "test", conf_name[0], conf_name[1],
	       conf_name[2], conf_name[3]);
	for (int t = 0; t < N_TEST; t++) {
		double m[N_CONF], tmp[MAX_ROUNDS];

		for (int k = 0; k < N_CONF; k++) {
			memcpy(tmp, v[k][t], sizeof(tmp));
			m[k] = median(tmp, rounds);
		}
		printf("%-11s %11.3f %11.3f %11.3f %11.3f  %s\n", tests[t], m[0], m[1], m[2], m[3],
		       is_bandwidth(t) ? "MB/s" : "us");
	}
	{
		double m[N_CONF], tmp[MAX_ROUNDS];

		for (int k = 0; k < N_CONF; k++) {
			memcpy(tmp, cpu[k], sizeof(tmp));
			m[k] = median(tmp, rounds);
		}
		printf("%-11s %11.1f %11.1f %11.1f %11.1f  %s\n", "server-cpu", m[0], m[1], m[2],
		       m[3], "ms per run (the guest and its agent)");
	}
	printf("\nThe mean of the rounds' ratios against \"off\" [95 %% interval], verdict\n"
	       "%-11s  %-33s  %-33s  %-33s\n", "test", "10 rules (<= 1.03)", "1000 rules (<= 1.05)",
	       "A/A: off B (should hold 1)");
	for (int t = 0; t <= N_TEST; t++) {
		const unsigned n_issue = sizeof(issue_set) / sizeof(issue_set[0]);

		printf("%-11s", t < N_TEST ? tests[t] : "geomean-12");
		for (int k = 1; k < N_CONF; k++) {
			double x[MAX_ROUNDS];

			for (unsigned r = 0; r < rounds; r++) {
				if (t < N_TEST) {
					x[r] = ratio_of(v, k, t, r);
					continue;
				}
				/* the geometric mean of the issue's set, this round */
				x[r] = 0;
				for (int u = 0; u < N_TEST; u++)
					for (unsigned i = 0; i < n_issue; i++)
						if (strcmp(tests[u], issue_set[i]) == 0)
							x[r] += log(ratio_of(v, k, u, r));
				x[r] = exp(x[r] / n_issue);
			}
			print_ci(x, rounds, conf_target[k]);
		}
		printf("\n");
	}
	{
		printf("%-11s", "server-cpu");
		for (int k = 1; k < N_CONF; k++) {
			double x[MAX_ROUNDS];

			for (unsigned r = 0; r < rounds; r++)
				x[r] = cpu[k][r] / cpu[0][r];
			print_ci(x, rounds, conf_target[k]);
		}
		printf("\n");
	}
	printf("\nmet: the whole interval at or below the target; MISSED: the whole interval "
	       "above it;\nundecided: the interval holds the target (this run's noise is larger "
	       "than what it asks).\ngeomean-12: the geometric mean of the issue's LMbench set "
	       "(null, fork, exec, ctxsw,\nctxsw8, pipe-lat, pipe-bw, create, create10k, mmap, "
	       "tcp-lat, tcp-bw) in each round.\n");
	soda_blackbox_key_free(key);
	soda_shares_free(pin);
	soda_shares_free(npin);
	cleanup();
	return 0;
}
