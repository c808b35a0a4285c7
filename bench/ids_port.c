/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/ids_port: what the IDS at a server's port costs the guest, and
 * whether it keeps up.
 *
 *   bench-ids-port [--seconds S] [--rounds N] [--rules FILE] [--bypass DEPTH]
 *                  [--pin] [--control]
 *
 * TCP goodput from guest web1 to guest web2 through the switch (tcpblast),
 * with the port IDS on web2 (examples/ids/lion.rules unless --rules) and
 * without, alternating --rounds times (default 3) for S seconds each
 * (default 5): the ratio on/off (target >= 0.95), and the capture's
 * counters over the runs with it on: frames taken, frames the kernel
 * dropped for want of ring space (target 0). --bypass defines web2 with
 * the flow bypass at DEPTH bytes (soda_server_config_set_ids_bypass;
 * Suricata's depth is 1048576): the frames the kernel's filter kept from
 * the IDS are printed too. --pin puts web1 on host CPU 0 and web2 on CPU 1
 * (the cpus= share): a UML guest whose host processes move between CPUs
 * is slower and far less steady. --control is the A/A test: the same
 * rounds with the IDS left off in the "on" runs too, so the ratio shows
 * this machine's noise and any bias of the method (it should come out 1).
 * Printed: the ratio of the mean goodputs, and the mean of the rounds'
 * own on/off ratios with its 95 % confidence interval (Student's t): the
 * target is met when the whole interval is at or above 0.95.
 *
 * Needs root, the nftables plugin ($SODA_NFT_PLUGIN), soda-monitor and
 * soda-agent ($SODA_MONITOR, $SODA_AGENT) and soda-kernort beside the
 * monitor. Everything lives in a namespace of its own, removed at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soda/soda.h>

#include "bench_sh.h"
#include "bench_stats.h"

#include "../examples/common/console_exec.h"

#define WEB1_IP "198.51.100.11"
#define WEB2_IP "198.51.100.12"
#define BLAST_PORT 5001

static char netns[32], state_dir[64], vars_file[96];
static soda_context *ctx;
static soda_network *net;
static soda_server *web1, *web2;
static uint64_t bypass_depth;
static const char *pin_web1, *pin_web2;

static void die(const char *what, soda_error *e)
{
	fprintf(stderr, "bench-ids-port: %s: %s\n", what,
		e ? soda_error_message(e) : errno ? strerror(errno) : "failed");
	exit(1); /* cleanup() runs from atexit */
}

static void cleanup(void)
{
	soda_server *s[2] = { web1, web2 };

	for (int i = 0; i < 2; i++)
		if (s[i]) {
			soda_server_kill(s[i], 0, NULL);
			soda_server_unref(s[i]);
		}
	web1 = web2 = NULL;
	soda_network_unref(net);
	net = NULL;
	if (ctx) {
		soda_context_recover(ctx, 0, NULL);
		soda_context_unref(ctx);
		ctx = NULL;
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (netns[0])
		sh("ip netns del %s 2>/dev/null", netns);
	if (state_dir[0])
		sh("rm -rf '%s'", state_dir);
	if (vars_file[0])
		unlink(vars_file);
	netns[0] = state_dir[0] = vars_file[0] = '\0';
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1);
}

static soda_server *guest(const char *name, const char *addr, const char *tools,
			  uint64_t bypass, const char *cpus)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_shares *pin = NULL;
	soda_error *e = NULL;

	if (cpus && (soda_shares_new(&pin, &e) < 0 || soda_shares_set_cpus(pin, cpus, &e) < 0))
		die("--pin", e);

	if (soda_server_config_new(&cfg, name, &e) < 0 ||
	    soda_server_config_set_memory(cfg, 40 << 20, &e) < 0 ||
	    soda_server_config_add_nic(cfg, "lan", NULL, 0, &e) < 0 ||
	    soda_server_config_add_nic_address(cfg, 0, addr, &e) < 0 ||
	    soda_server_config_add_share(cfg, tools, "/tools", SODA_SHARE_READONLY, &e) < 0 ||
	    soda_server_config_set_ids_bypass(cfg, bypass, &e) < 0 ||
	    (pin && soda_server_config_set_shares(cfg, pin, &e) < 0) ||
	    soda_server_define(&srv, ctx, cfg, 0, &e) < 0 ||
	    soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0)
		die(name, e);
	soda_server_config_free(cfg);
	soda_shares_free(pin);
	return srv;
}

/* TCP goodput from web1 to web2 for @seconds, in Mbit/s. */
static double goodput(int seconds)
{
	char cmd[256], *out = NULL, *p;
	soda_error *e = NULL;
	double mbit = -1;
	int status;

	snprintf(cmd, sizeof(cmd), "(/tools/tcpblast recv %d %d > /tmp/r.out 2>&1 &) ; sleep 0.2",
		 BLAST_PORT, seconds);
	if (soda_console_exec(web2, cmd, 10000, NULL, &status, &e) < 0)
		die("receiver", e);
	snprintf(cmd, sizeof(cmd), "/tools/tcpblast send %s %d %d.5", WEB2_IP, BLAST_PORT, seconds);
	if (soda_console_exec(web1, cmd, (seconds + 15) * 1000, NULL, &status, &e) < 0)
		die("sender", e);
	if (soda_console_exec(web2, "sleep 0.5; cat /tmp/r.out", 10000, &out, &status, &e) < 0)
		die("receiver's result", e);
	p = out ? strstr(out, "goodput_mbit=") : NULL;
	if (p)
		mbit = atof(p + 13);
	free(out);
	if (mbit <= 0)
		die("no goodput measured", NULL);
	return mbit;
}

/* CPU seconds (user + system) process @pid has used. */
static double cpu_seconds(uint64_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* after ") S": fields 3..; utime and stime are fields 14 and 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t stat_of(const soda_ids_stats *st, uint32_t key)
{
	uint64_t v = 0;

	soda_ids_stats_get(st, key, &v);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "seconds", required_argument, NULL, 's' },
					      { "rounds", required_argument, NULL, 'R' },
					      { "rules", required_argument, NULL, 'r' },
					      { "bypass", required_argument, NULL, 'b' },
					      { "pin", no_argument, NULL, 'p' },
					      { "control", no_argument, NULL, 'C' },
					      { NULL, 0, NULL, 0 } };
	const char *rules = SODA_SOURCE_DIR "/examples/ids/lion.rules";
	int seconds = 5, rounds = 3, c;
	double sum_on = 0, sum_off = 0, pair[64], last_on = 0, last_off = 0;
	char bypass_text[40] = "off";
	bool control = false;
	double mean, half;
	uint64_t packets = 0, drops = 0, bytes = 0, lost = 0, bp_flows = 0, bp_packets = 0;
	double k_cpu = 0;
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	soda_policy *open_all = NULL;
	soda_error *e = NULL;
	char tools[256], *slash;
	FILE *f;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			seconds = atoi(optarg);
		else if (c == 'R')
			rounds = atoi(optarg);
		else if (c == 'r')
			rules = optarg;
		else if (c == 'b')
			bypass_depth = strtoull(optarg, NULL, 10);
		else if (c == 'p')
			pin_web1 = "0", pin_web2 = "1";
		else if (c == 'C')
			control = true;
		else
			return 2;
	}
	if (seconds < 1 || rounds < 1 || rounds > 64)
		return 2;
	if (bypass_depth)
		snprintf(bypass_text, sizeof(bypass_text), "at %llu bytes",
			 (unsigned long long)bypass_depth);
	if (geteuid() != 0) {
		fprintf(stderr, "bench-ids-port: needs root\n");
		return 1;
	}
	snprintf(tools, sizeof(tools), "%s", BENCH_TCPBLAST);
	slash = strrchr(tools, '/');
	if (slash)
		*slash = '\0';
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	snprintf(netns, sizeof(netns), "soda-bench-%d", (int)getpid());
	if (sh("ip netns add %s && ip -n %s link set lo up", netns, netns) != 0) {
		netns[0] = '\0';
		die("ip netns add", NULL);
	}
	snprintf(state_dir, sizeof(state_dir), "/tmp/soda-bench-XXXXXX");
	if (!mkdtemp(state_dir)) {
		state_dir[0] = '\0';
		die("mkdtemp", NULL);
	}
	snprintf(vars_file, sizeof(vars_file), "%s.vars", state_dir);
	f = fopen(vars_file, "w");
	if (!f)
		die(vars_file, NULL);
	fprintf(f, "HOME_NET %s\n", WEB2_IP);
	fclose(f);
	copts.state_dir = state_dir;
	copts.netns = netns;
	if (soda_context_open(&ctx, "uml:///", &copts, 0, &e) < 0 ||
	    soda_image_build(ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0 ||
	    soda_network_create(&net, ctx, "lan", NULL, 0, &e) < 0)
		die("setup", e);
	web1 = guest("web1", WEB1_IP "/24", tools, 0, pin_web1);
	web2 = guest("web2", WEB2_IP "/24", tools, bypass_depth, pin_web2);
	if (soda_policy_parse(&open_all, "allow from any to any\n", 22, "bench", 0, &e) < 0 ||
	    soda_network_apply_policy(net, open_all, 0, &e) < 0)
		die("policy", e);
	soda_policy_free(open_all);

	printf("bench-ids-port: TCP goodput web1 -> web2, %d s per run, %d rounds, rules %s, "
	       "flow bypass %s, guests %s%s\n",
	       seconds, rounds, rules, bypass_text, pin_web1 ? "pinned to CPUs 0 and 1" : "unpinned",
	       control ? "; CONTROL (A/A): the IDS stays off in the \"on\" runs too" : "");
	for (int r = 0; r < rounds; r++) {
		/* Alternate which goes first, so drift favours neither. */
		for (int k = 0; k < 2; k++) {
			bool on = (k == 0) == (r % 2 == 0);
			double mbit;

			if (on && control) {
				mbit = goodput(seconds);
				sum_on += mbit;
				last_on = mbit;
				printf("  round %d, IDS off (B) %8.1f Mbit/s\n", r + 1, mbit);
				fflush(stdout);
				continue;
			}
			if (on && soda_server_ids_enable(web2, rules, vars_file, 0, &e) < 0)
				die("ids enable", e);
			mbit = goodput(seconds);
			if (on) {
				soda_ids_stats *st = NULL;

				if (soda_server_ids_stats(&st, web2, 0, &e) < 0)
					die("ids stats", e);
				packets += stat_of(st, SODA_IDS_STAT_PACKETS);
				bytes += stat_of(st, SODA_IDS_STAT_BYTES);
				drops += stat_of(st, SODA_IDS_STAT_DROPS);
				lost += stat_of(st, SODA_IDS_STAT_ALERTS_LOST);
				bp_flows += stat_of(st, SODA_IDS_STAT_BYPASSED_FLOWS);
				bp_packets += stat_of(st, SODA_IDS_STAT_BYPASSED_PACKETS);
				k_cpu += cpu_seconds(stat_of(st, SODA_IDS_STAT_PID));
				soda_ids_stats_free(st);
				if (soda_server_ids_disable(web2, 0, &e) < 0)
					die("ids disable", e);
				sum_on += mbit;
				last_on = mbit;
			} else {
				sum_off += mbit;
				last_off = mbit;
			}
			printf("  round %d, IDS %-3s %8.1f Mbit/s\n", r + 1, on ? "on" : "off", mbit);
			fflush(stdout);
		}
		pair[r] = last_on / last_off;
	}
	printf("goodput: off %.1f Mbit/s, on %.1f Mbit/s (means); ratio on/off %.3f "
	       "(target >= 0.95)\n",
	       sum_off / rounds, sum_on / rounds, sum_on / sum_off);
	{
		/* Each round's own on/off: the median, and how far they spread. */
		double sorted[64], lo, hi;

		memcpy(sorted, pair, sizeof(double) * (size_t)rounds);
		for (int i = 1; i < rounds; i++)
			for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
				double t = sorted[j];

				sorted[j] = sorted[j - 1];
				sorted[j - 1] = t;
			}
		lo = sorted[0];
		hi = sorted[rounds - 1];
		bench_mean_ci(pair, rounds, &mean, &half);
		printf("per round on/off: mean %.3f, 95 %% confidence interval %.3f-%.3f (%s); "
		       "median %.3f, from %.3f to %.3f\n",
		       mean, mean - half, mean + half,
		       mean - half >= 0.95 ? "target met" : mean + half < 0.95 ? "target missed"
									 : "undecided",
		       rounds % 2 ? sorted[rounds / 2]
				  : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2,
		       lo, hi);
	}
	printf("capture with the IDS on: %llu frames, %llu bytes, %llu dropped by the kernel "
	       "(target 0), %llu alerts lost\n",
	       (unsigned long long)packets, (unsigned long long)bytes, (unsigned long long)drops,
	       (unsigned long long)lost);
	printf("soda-kernort's CPU: %.2f s over %d runs (%.0f %% of one core while on; "
	       "%.1f ns per frame)\n",
	       k_cpu, rounds, 100.0 * k_cpu / (rounds * (seconds + 1.2)),
	       packets ? k_cpu * 1e9 / (double)packets : 0.0);
	if (bypass_depth)
		printf("flow bypass at %llu bytes: %llu flows bypassed, %llu frames kept from the "
		       "IDS by the kernel's filter\n",
		       (unsigned long long)bypass_depth, (unsigned long long)bp_flows,
		       (unsigned long long)bp_packets);
	return 0;
}
