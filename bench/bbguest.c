/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/bbguest: the blackbox from a real guest to the host store.
 *
 *   bench-bbguest [--mib N] [--lines N] [--rounds R] [--cpus LIST]
 *
 * --cpus pins the guest (every linux.uml process of it) to those host CPUs
 * (the cpus= share); soda-monitor then keeps to the other CPUs.
 *
 * Throughput: the guest copies N MiB (default 32), and then 3N MiB, of 1 KiB
 * lines from a file in its memory with dd, 64 KiB per write, in R rounds
 * (default 7) of:
 *   raw       into the write-only line itself: a node of its own for the
 *             line's device (4,65), since the agent removes /dev/ttyS1
 *             once it holds the line. soda-monitor reads the bytes and
 *             counts them as garbage (no frames); the run checks at the
 *             end that the store declared all of them, so the baseline
 *             did cross the line;
 *   raw512    the same with 512 KiB per write (the agent writes the line up
 *             to 512 KiB at a time, 128 system calls per 64 MiB where dd
 *             makes 1024): the ratios are printed against both;
 *   relay     dd into a pipe and a second dd from it into that node: what
 *             a second process in the path costs, with no sealing and no
 *             frames (the agent is such a second process);
 *   blackbox  into /dev/blackbox: the agent seals each line as a record and
 *             writes the frames to the line; the monitor stores them (group
 *             commit with fdatasync);
 *   ring      through /dev/blackbox.ring: `/soda/init log FILE` reads the
 *             file (N or 3N MiB of the same lines) straight into the ring
 *             the agent shares with it (backends/uml/guest/bbring.h); the
 *             agent copies it out, seals it and writes the frames.
 * The blackbox and ring times run until the store stops growing by data (polled
 * every millisecond; the checkpoint written a moment later does not count).
 * Every run also carries a fixed cost: the console's round trip, the fork
 * and exec of dd, the pipeline filling and draining (about 45 ms here, a
 * quarter of a 32 MiB raw run). The throughput is therefore taken from the
 * difference: 2N MiB / (median time of the 3N MiB runs - median time of
 * the N MiB runs), and the ratios from those times (raw / blackbox; also
 * relay / raw and blackbox / relay). The whole-run figures are printed too,
 * and the median over the rounds of each round's own ratio (its 3N run
 * minus its N run, for raw and for the blackbox), which a slow spell of
 * the machine in one round disturbs less. Every round has a server of its
 * own (a round of 32 MiB puts 256 MiB in its store, whose quota is 1 GiB);
 * the run fails if a store dropped frames.
 *
 * The bench also prints how busy each host CPU was during the runs of each
 * mode (/proc/stat, from the command's start to its end on the console):
 * with the guest pinned, whether the guest's CPU or the monitor's side held
 * the line back. Then it runs bench/bbparts in the guest: each part of the
 * path alone for 2N MiB (the line, the read of the lines, the FIFO, the
 * sealing) and what they add up to for raw and blackbox, beside the
 * measured steady state: the ratio of the parts is what the path allows
 * (docs/performance.md).
 *
 * Latency: the guest writes N lines (default 1000), one per `usleep 5000`
 * of its shell loop (about 40 a second in a UML guest);
 * a reader with the tenant key follows the store and takes, for each
 * record, the time it became readable there minus the time the guest
 * sealed it (CLOCK_REALTIME of host and guest). The guest's clock is the
 * host's read at boot and carried on by the guest kernel: it is off by a
 * few milliseconds, the same for the whole boot. clockoff measures that
 * offset in the guest against a file on a read-only share that a host
 * thread rewrites with the host's time every 50 microseconds; the
 * latencies are corrected by it (and the uncertainty is printed).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <soda/blackbox.h>
#include <soda/soda.h>

#include "../examples/common/console_exec.h"

#define MAX_ROUNDS 50
/* A node of the agent's line (ttyS1, which the agent unlinks once it
 * holds it): the raw baseline writes here. */
#define RAW_LINE "/tmp/rawline"

static soda_context *bench_ctx;
static char bench_server_name[32] = "bbbench-1"; /* the one running */
static char bench_dir[] = "/tmp/soda-bench-XXXXXX";

/* Fails the run, leaving nothing behind: servers killed, state removed. */
static void die(const char *what, soda_error *e)
{
	char cmd[64];

	fprintf(stderr, "bench-bbguest: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	if (bench_ctx) {
		soda_server *srv = NULL;

		if (soda_server_lookup(&srv, bench_ctx, bench_server_name, NULL) == 0) {
			soda_server_kill(srv, 0, NULL);
			soda_server_unref(srv);
		}
		soda_context_recover(bench_ctx, 0, NULL);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", bench_dir);
	if (bench_dir[sizeof(bench_dir) - 2] != 'X' && system(cmd) != 0)
		fprintf(stderr, "bench-bbguest: could not remove %s\n", bench_dir);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void run(soda_server *srv, const char *cmd)
{
	soda_error *e = NULL;
	int status = -1;

	if (soda_console_exec(srv, cmd, 600000, NULL, &status, &e) < 0 || status != 0) {
		fprintf(stderr, "bench-bbguest: '%s' exited with %d\n", cmd, status);
		die("guest command", e);
	}
}

/* Total size of the files in the store directory. */
static uint64_t store_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t total = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

/* Keeps the host's CLOCK_REALTIME (ns) in @arg's file for clockoff. */
static volatile bool clock_stop;
static void *host_clock(void *arg)
{
	const char *path = arg;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	while (fd >= 0 && !clock_stop) {
		char b[32];
		int n = snprintf(b, sizeof(b), "%llu\n", (unsigned long long)realtime_usec() * 1000u);

		if (pwrite(fd, b, (size_t)n, 0) < 0)
			break;
		usleep(50);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

struct watch {
	const char *dir;
	volatile bool stop;
	double last_growth;
	uint64_t bytes;
};

static void *watch_store(void *arg)
{
	struct watch *w = arg;

	while (!w->stop) {
		uint64_t b = store_bytes(w->dir);

		/* Data commits add at least a frame of 1 KiB; checkpoints and
		 * heartbeats that follow the data are smaller and do not count. */
		if (b >= w->bytes + 1024) {
			w->bytes = b;
			w->last_growth = now_s();
		}
		usleep(1000);
	}
	return NULL;
}

/* The guest copies @mib MiB of a file of 1 KiB lines (1023 characters and a
 * newline), made beforehand in its memory, 64 KiB per write. */
static const char *copy_cmd(const char *dst, unsigned mib, char *buf, size_t len)
{
	snprintf(buf, len, "dd if=/tmp/lines of=%s bs=64k count=%u 2>/dev/null", dst, mib * 16);
	return buf;
}

/* The same, 512 KiB per write. */
static const char *copy_cmd_512k(const char *dst, unsigned mib, char *buf, size_t len)
{
	snprintf(buf, len, "dd if=/tmp/lines of=%s bs=512k count=%u 2>/dev/null", dst, mib * 2);
	return buf;
}

struct run_times {
	double raw, raw512, relay, bb, guest, ring;
};

/* Busy and total time of each host CPU (/proc/stat, in ticks), summed over
 * the runs of each mode: which side of the line was busy. */
#define MAX_CPUS 8
enum { M_RAW, M_RAW512, M_RELAY, M_BB, M_RING, N_MODES };
static unsigned long long cpu_busy[N_MODES][MAX_CPUS], cpu_total[N_MODES][MAX_CPUS];
static int n_cpus;

static void cpu_ticks(unsigned long long busy[MAX_CPUS], unsigned long long total[MAX_CPUS])
{
	FILE *f = fopen("/proc/stat", "r");
	char line[256];

	n_cpus = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = { 0 };
		int cpu;

		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 9 ||
		    cpu < 0 || cpu >= MAX_CPUS)
			continue;
		total[cpu] = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		busy[cpu] = total[cpu] - v[3] - v[4] - v[7]; /* not idle, iowait, steal */
		if (cpu + 1 > n_cpus)
			n_cpus = cpu + 1;
	}
	if (f)
		fclose(f);
}

static void cpu_mark(int mode, int end)
{
	unsigned long long busy[MAX_CPUS] = { 0 }, total[MAX_CPUS] = { 0 };

	cpu_ticks(busy, total);
	for (int c = 0; c < n_cpus; c++) {
		cpu_busy[mode][c] += end ? busy[c] : -busy[c];
		cpu_total[mode][c] += end ? total[c] : -total[c];
	}
}

/* Runs @cmd in the guest, through the agent into the store: the time until
 * the store stops growing (and the guest's own time in @guest). */
static double store_run(soda_server *srv, const char *dir, const char *cmd, int mode,
			double *guest)
{
	struct watch w = { .dir = dir, .bytes = store_bytes(dir) };
	pthread_t th;
	double t0;

	w.last_growth = now_s();
	pthread_create(&th, NULL, watch_store, &w);
	cpu_mark(mode, 0);
	t0 = now_s();
	run(srv, cmd);
	if (guest)
		*guest = now_s() - t0;
	cpu_mark(mode, 1);
	/* The store stops growing: nothing more is on its way. */
	while (now_s() - w.last_growth < 0.5)
		usleep(10000);
	w.stop = true;
	pthread_join(th, NULL);
	return w.last_growth - t0;
}

/* One of each run for @mib MiB (@lines: a file of that size, for the
 * ring's producer); the blackbox runs last until the store stops growing. */
static void one_size(soda_server *srv, const char *dir, unsigned mib, const char *lines,
		     struct run_times *t)
{
	char cmd[256];
	double t0;

	/* Raw: the line itself. */
	cpu_mark(M_RAW, 0);
	t0 = now_s();
	run(srv, copy_cmd(RAW_LINE, mib, cmd, sizeof(cmd)));
	t->raw = now_s() - t0;
	cpu_mark(M_RAW, 1);
	cpu_mark(M_RAW512, 0);
	t0 = now_s();
	run(srv, copy_cmd_512k(RAW_LINE, mib, cmd, sizeof(cmd)));
	t->raw512 = now_s() - t0;
	cpu_mark(M_RAW512, 1);

	/* A plain relay: a second process between dd and the line, as the
	 * agent is, that neither seals nor frames. */
	snprintf(cmd, sizeof(cmd),
		 "dd if=/tmp/lines bs=64k count=%u 2>/dev/null | dd of=" RAW_LINE
		 " bs=1M 2>/dev/null",
		 mib * 16);
	cpu_mark(M_RELAY, 0);
	t0 = now_s();
	run(srv, cmd);
	t->relay = now_s() - t0;
	cpu_mark(M_RELAY, 1);

	/* Through the FIFO, the agent and the store. */
	t->bb = store_run(srv, dir, copy_cmd("/dev/blackbox", mib, cmd, sizeof(cmd)), M_BB,
			  &t->guest);
	/* Through the ring: its producer reads the file into the ring. */
	snprintf(cmd, sizeof(cmd), "/soda/init log %s", lines);
	t->ring = store_run(srv, dir, cmd, M_RING, NULL);
}

/* CPU time the hypervisor gave to others (steal, /proc/stat), in
 * seconds summed over the host's CPUs: a run with much of it was disturbed. */
static double steal_s(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7])
		  : 0;

	if (f)
		fclose(f);
	return n == 8 ? (double)v[7] / (double)sysconf(_SC_CLK_TCK) : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Bytes the store declares it got on the line that were no frame: the
 * verifier's "the line carried N bytes that were no acceptable frame
 * (garbage)" findings. */
static uint64_t declared_garbage(const char *dir)
{
	soda_blackbox_verify_options vo = SODA_BLACKBOX_VERIFY_OPTIONS_INIT;
	soda_blackbox_report *rep = NULL;
	soda_error *e = NULL;
	uint64_t total = 0;

	if (soda_blackbox_verify(&rep, dir, &vo, 0, &e) < 0)
		die("verifying the store", e);
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++) {
		const soda_blackbox_finding *f = soda_blackbox_report_get_finding(rep, i);
		const char *m = soda_blackbox_finding_get_message(f);
		const char *c = strstr(m, "the line carried ");
		unsigned long long n;

		if (soda_blackbox_finding_get_kind(f) == SODA_BLACKBOX_F_DECLARED_LOSS && c &&
		    strstr(c, "(garbage)") && sscanf(c, "the line carried %llu bytes", &n) == 1)
			total += n;
		/* Since the store tells the agent's stream from others (issue
		 * 16), bytes after it began are foreign: "the guest's line
		 * carried N bytes that were not its frames (no frames)". */
		c = strstr(m, "line carried ");
		if (soda_blackbox_finding_get_kind(f) == SODA_BLACKBOX_F_FOREIGN_STREAM && c &&
		    strstr(c, "(no frames)") && sscanf(c, "line carried %llu bytes", &n) == 1)
			total += n;
		/* Frames the store dropped: the blackbox times would be short. */
		if (strstr(m, "(quota"))
			die("the store hit its quota (fewer rounds or MiB)", NULL);
	}
	if (soda_blackbox_report_get_counter(rep, SODA_BLACKBOX_REPORT_DROPPED))
		die("the verifier dropped findings", NULL);
	soda_blackbox_report_free(rep);
	return total;
}

/* The parts of the path, each alone in the guest (bbparts), for @mib MiB;
 * what they add up to beside the measured steady-state times. */
static void guest_parts(soda_server *srv, unsigned mib, double raw_s, double bb_s)
{
	char cmd[160], *out = NULL, *at;
	double line, tmpfs, fifo, seal, raw_m, bb_m;
	soda_error *e = NULL;
	int status = -1, avx = 0;

	snprintf(cmd, sizeof(cmd), "/clk/bbparts " RAW_LINE " /tmp/lines %u 5", mib);
	if (soda_console_exec(srv, cmd, 600000, &out, &status, &e) < 0 || status != 0 ||
	    !(at = strstr(out, "parts ")) ||
	    sscanf(at, "parts line_ms=%lf tmpfs_ms=%lf fifo_ms=%lf seal_ms=%lf avx512=%d", &line,
		   &tmpfs, &fifo, &seal, &avx) != 5) {
		fprintf(stderr, "bench-bbguest: bbparts: %s\n", out ? out : "no output");
		die("the parts in the guest", e);
	}
	free(out);
	raw_m = tmpfs + line;
	bb_m = raw_m + fifo + seal;
	printf("  the parts alone in the guest, %u MiB each (bbparts, median of 5):\n"
	       "    write to the line %.1f ms, read of the lines from tmpfs %.1f ms,\n"
	       "    FIFO write + read %.1f ms, sealing 64 KiB records %.1f ms (%s)\n"
	       "    raw = tmpfs + line = %.1f ms (measured %.1f); blackbox = raw + FIFO + "
	       "sealing = %.1f ms (measured %.1f)\n"
	       "    ratio of the parts %.2f; with sealing free %.2f; without the FIFO (the ring's "
	       "path) %.2f\n",
	       mib, line, tmpfs, fifo, seal, avx ? "AVX-512" : "no AVX-512", raw_m, raw_s * 1e3,
	       bb_m, bb_s * 1e3, raw_m / bb_m, raw_m / (raw_m + fifo), raw_m / (raw_m + seal));
}

/* Server @index of the bench (one per round: each has a store, and its
 * 1 GiB quota, of its own), booted, with N and 3N MiB of lines in its
 * memory and a node of the line. */
static soda_server *bench_server(soda_context *ctx, unsigned index, const uint8_t box[32],
				 const char *clk, const soda_shares *shares, unsigned mib,
				 char **ret_dir)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error *e = NULL;
	char cmd[512];

	snprintf(bench_server_name, sizeof(bench_server_name), "bbbench-%u", index);
	if (soda_server_config_new(&cfg, bench_server_name, &e) < 0 ||
	    soda_server_config_set_memory(cfg, (uint64_t)(5 * mib + 128) << 20, &e) < 0 ||
	    soda_server_config_set_blackbox(cfg, box, NULL, &e) < 0 ||
	    /* The raw baseline makes a node for the line: the open profile. */
	    soda_server_config_set_guest_profile(cfg, SODA_GUEST_PROFILE_OPEN, &e) < 0 ||
	    soda_server_config_add_share(cfg, clk, "/clk", SODA_SHARE_READONLY, &e) < 0 ||
	    (shares && soda_server_config_set_shares(cfg, shares, &e) < 0) ||
	    soda_server_define(&srv, ctx, cfg, 0, &e) < 0 ||
	    soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0 ||
	    soda_server_get_blackbox_dir(ret_dir, srv, &e) < 0)
		die("setup", e);
	soda_server_config_free(cfg);
	snprintf(cmd, sizeof(cmd),
		 "mount -t tmpfs -o size=%uM none /tmp && "
		 "yes \"$(printf '%%01023d' 7)\" | head -c %u > /tmp/lines && "
		 "head -c %u /tmp/lines > /tmp/lines1 && "
		 "mknod " RAW_LINE " c 4 65",
		 4 * mib + 1, 3 * mib * 1024u * 1024u, mib * 1024u * 1024u);
	run(srv, cmd);
	return srv;
}

/* Checks that the raw runs' bytes crossed the line (the store declares
 * them as bytes that were no frame: at least 12 MiB per MiB of N, the two
 * raw runs and the relay run of N and 3N MiB), and adds them to @total. */
static void check_garbage(const char *dir, unsigned mib, uint64_t *total)
{
	uint64_t garbage = declared_garbage(dir);

	if (garbage < 12ull * mib * 1048576u) {
		fprintf(stderr, "bench-bbguest: the store declares %llu bytes of raw line, not %llu\n",
			(unsigned long long)garbage, 12ull * mib * 1048576u);
		die("the raw baseline did not cross the line", NULL);
	}
	*total += garbage;
}

/* @lines records of a line each, one per `usleep 5000` of a guest shell
 * loop, into /dev/blackbox (or, @ring, through a pipe into one `/soda/init
 * log`); for each, the time it became readable in the store minus the
 * time the guest sealed it, in ms (the guest's clock, uncorrected). */
static size_t latency(soda_server *srv, const char *dir, const soda_blackbox_key *key,
		      unsigned lines, int ring, double *lat, double *rate)
{
	soda_blackbox_reader_options ropts = SODA_BLACKBOX_READER_OPTIONS_INIT;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *e = NULL;
	double deadline, first = 0, last = 1;
	char cmd[320];
	size_t n = 0;

	ropts.types = 1ull << SODA_BLACKBOX_TEXT;
	/* A second back: the guest's clock runs a few ms behind. */
	ropts.since_usec = realtime_usec() - 1000000u;
	if (soda_blackbox_reader_open(&rd, dir, key, &ropts, SODA_BLACKBOX_READ_FOLLOW, &e) < 0)
		die("reader", e);
	/* Catch up with what is there, so that the samples measure the store,
	 * not the reader's backlog. */
	for (int r; (r = soda_blackbox_reader_next(rd, &rec, 0, &e)) != -EAGAIN;)
		if (r <= 0)
			die("reading the store", e);
	if (ring)
		snprintf(cmd, sizeof(cmd),
			 "((i=0; while [ $i -lt %u ]; do printf 'LAT %%d\\n' $i; usleep 5000; "
			 "i=$((i+1)); done) </dev/null 2>/dev/null | /soda/init log >/dev/null 2>&1) &",
			 lines);
	else
		snprintf(cmd, sizeof(cmd),
			 "(i=0; while [ $i -lt %u ]; do printf 'LAT %%d\\n' $i > /dev/blackbox; "
			 "usleep 5000; i=$((i+1)); done) </dev/null >/dev/null 2>&1 &",
			 lines);
	run(srv, cmd);
	deadline = now_s() + lines * 0.02 + 30;
	while (n < lines && now_s() < deadline) {
		int r = soda_blackbox_reader_next(rd, &rec, 0, &e);
		const uint8_t *body;
		size_t len;

		if (r == -EAGAIN) {
			usleep(200);
			continue;
		}
		if (r <= 0)
			die("reading the store", e);
		body = soda_blackbox_record_get_data(rec, &len);
		if (len >= 4 && memcmp(body, "LAT ", 4) == 0) {
			if (!n)
				first = now_s();
			last = now_s();
			lat[n++] = (double)(realtime_usec() - soda_blackbox_record_get_realtime(rec)) /
				   1000.0;
		}
	}
	soda_blackbox_reader_close(rd);
	if (n == 0)
		die("no latency sample arrived", NULL);
	*rate = (double)n / (last - first);
	return n;
}

static void print_latency(const char *how, double *lat, size_t n, double rate)
{
	size_t over = 0;

	qsort(lat, n, sizeof(*lat), cmp_double);
	for (size_t i = 0; i < n; i++)
		over += lat[i] > 10.0;
	printf("Latency sealed in guest -> readable in store, %s, %zu records at %.0f/s\n", how, n,
	       rate);
	printf("  min %.2f ms  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", lat[0],
	       lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], lat[n - 1]);
	printf("  over 10 ms: %zu of %zu\n", over, n);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "mib", required_argument, NULL, 'm' },
					      { "lines", required_argument, NULL, 'l' },
					      { "rounds", required_argument, NULL, 'r' },
					      { "cpus", required_argument, NULL, 'c' },
					      { NULL, 0, NULL, 0 } };
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	char *state_dir = bench_dir, cmd[512], *dir = NULL, clk[128], now_file[160];
	soda_blackbox_key *key = NULL;
	soda_context *ctx = NULL;
	soda_server *srv = NULL;
	soda_error *e = NULL;
	uint8_t box[32];
	unsigned mib = 32, lines = 1000, rounds = 7;
	const char *cpus = NULL;
	soda_shares *shares = NULL;
	double t0, raw_s, bb_s, *lat, *lat_ring, lat_rate, lat_rate_ring;
	double raw[2][MAX_ROUNDS], raw512[2][MAX_ROUNDS], relay[2][MAX_ROUNDS], bb[2][MAX_ROUNDS];
	double ring[2][MAX_ROUNDS], raw512_s, relay_s, ring_s, steal0, t_rounds, sys_us;
	uint64_t garbage = 0;
	size_t n_lat, n_lat_ring;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm' && atoi(optarg) > 0)
			mib = (unsigned)atoi(optarg);
		else if (c == 'l' && atoi(optarg) > 0)
			lines = (unsigned)atoi(optarg);
		else if (c == 'r' && atoi(optarg) > 0 && atoi(optarg) <= MAX_ROUNDS)
			rounds = (unsigned)atoi(optarg);
		else if (c == 'c')
			cpus = optarg;
		else
			return 2;
	}
	/* A store keeps 1 GiB: what a round puts there (N and 3N MiB, by the
	 * FIFO and by the ring) must fit. */
	if ((uint64_t)8 * mib > 960) {
		fprintf(stderr, "bench-bbguest: a round of %u MiB stores %u MiB, more than the store's "
			"quota allows (960 MiB)\n", mib, 8 * mib);
		return 2;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (!mkdtemp(state_dir))
		die("mkdtemp", NULL);
	copts.state_dir = state_dir;
	/* The clock probe's share: the static tool and the host's time. */
	snprintf(clk, sizeof(clk), "%s/clk", state_dir);
	snprintf(now_file, sizeof(now_file), "%s/now", clk);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s %s/ && chmod 755 %s", clk,
		 BENCH_CLOCKOFF, BENCH_BBPARTS, clk, clk);
	if (system(cmd) != 0)
		die("the clock probe's share", NULL);
	if (soda_blackbox_key_generate(&key, SODA_BLACKBOX_KEY_TENANT, 0, &e) < 0 ||
	    soda_blackbox_key_get_box_public(key, box, sizeof(box)) < 0 ||
	    soda_context_open(&ctx, NULL, &copts, 0, &e) < 0 || !(bench_ctx = ctx) ||
	    soda_image_build(ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0 ||
	    (cpus && (soda_shares_new(&shares, &e) < 0 || soda_shares_set_cpus(shares, cpus, &e) < 0)))
		die("setup", e);

	steal0 = steal_s();
	t_rounds = now_s();
	for (unsigned r = 0; r < rounds; r++) {
		struct run_times one, two;

		/* A server of its own per round; the last one stays for the
		 * rest. */
		if (srv) {
			check_garbage(dir, mib, &garbage);
			soda_server_kill(srv, 0, NULL);
			soda_server_undefine(srv, 0, NULL);
			soda_server_unref(srv);
			free(dir);
			dir = NULL;
		}
		srv = bench_server(ctx, r + 1, box, clk, shares, mib, &dir);
		one_size(srv, dir, mib, "/tmp/lines1", &one);
		one_size(srv, dir, 3 * mib, "/tmp/lines", &two);
		raw[0][r] = one.raw, raw[1][r] = two.raw;
		raw512[0][r] = one.raw512, raw512[1][r] = two.raw512;
		relay[0][r] = one.relay, relay[1][r] = two.relay;
		bb[0][r] = one.bb, bb[1][r] = two.bb;
		ring[0][r] = one.ring, ring[1][r] = two.ring;
		printf("  round %u: %u MiB raw %.3f s (512 KiB writes %.3f s), relay %.3f s, blackbox "
		       "%.3f s (the guest's copy %.3f s), ring %.3f s; %u MiB raw %.3f (%.3f), relay "
		       "%.3f, blackbox %.3f (%.3f), ring %.3f\n",
		       r + 1, mib, one.raw, one.raw512, one.relay, one.bb, one.guest, one.ring,
		       3 * mib, two.raw, two.raw512, two.relay, two.bb, two.guest, two.ring);
	}
	t_rounds = now_s() - t_rounds;
	steal0 = steal_s() - steal0;
	/* 2N MiB without the fixed cost of a run: the median of the 3N MiB
	 * runs minus that of the N MiB runs. */
	raw_s = median(raw[1], rounds) - median(raw[0], rounds);
	raw512_s = median(raw512[1], rounds) - median(raw512[0], rounds);
	relay_s = median(relay[1], rounds) - median(relay[0], rounds);
	bb_s = median(bb[1], rounds) - median(bb[0], rounds);
	ring_s = median(ring[1], rounds) - median(ring[0], rounds);
	check_garbage(dir, mib, &garbage);
	/* What one system call of the guest costs: dd copies 20,000 single
	 * bytes (a read and a write each); the console's own round trip,
	 * timed with `true`, is taken off. */
	t0 = now_s();
	run(srv, "true");
	sys_us = now_s() - t0;
	t0 = now_s();
	run(srv, "dd if=/dev/zero of=/dev/null bs=1 count=20000 2>/dev/null");
	sys_us = (now_s() - t0 - sys_us) / 40000 * 1e6;


	printf("Guest to store, 1 KiB lines, median of %u rounds, guest on CPUs %s\n", rounds,
	       cpus ? cpus : "any");
	for (int k = 0; k < 2; k++)
		printf("  whole runs of %3u MiB: raw %.3f s, relay %.3f s, blackbox %.3f s "
		       "(ratio %.2f), ring %.3f s (ratio %.2f; with the fixed cost of a run)\n",
		       (2 * k + 1) * mib, median(raw[k], rounds), median(relay[k], rounds),
		       median(bb[k], rounds), median(raw[k], rounds) / median(bb[k], rounds),
		       median(ring[k], rounds), median(raw[k], rounds) / median(ring[k], rounds));
	printf("  %u MiB in steady state (median of the %u MiB runs minus that of the %u MiB "
	       "runs):\n",
	       2 * mib, 3 * mib, mib);
	printf("  raw line (device 4,65)     %7.3f s  %7.1f MB/s  "
	       "(the store declares %llu bytes of raw runs)\n",
	       raw_s, 2 * mib * 1.048576 / raw_s, (unsigned long long)garbage);
	printf("  raw line, 512 KiB writes   %7.3f s  %7.1f MB/s\n", raw512_s,
	       2 * mib * 1.048576 / raw512_s);
	printf("  plain relay (dd | dd)      %7.3f s  %7.1f MB/s\n", relay_s,
	       2 * mib * 1.048576 / relay_s);
	printf("  blackbox (/dev/blackbox)   %7.3f s  %7.1f MB/s\n", bb_s,
	       2 * mib * 1.048576 / bb_s);
	printf("  blackbox (the ring)        %7.3f s  %7.1f MB/s  (/soda/init log FILE)\n", ring_s,
	       2 * mib * 1.048576 / ring_s);
	printf("  ratio blackbox/raw         %7.2f   (target 0.8)\n", raw_s / bb_s);
	printf("  ratio ring/raw             %7.2f   (target 0.8)\n", raw_s / ring_s);
	printf("  ratio ring/raw512          %7.2f   (against 512 KiB writes)\n",
	       raw512_s / ring_s);
	{
		double fifo_r[MAX_ROUNDS], ring_r[MAX_ROUNDS], fifo_512[MAX_ROUNDS];
		double ring_512[MAX_ROUNDS];

		for (unsigned r = 0; r < rounds; r++) {
			double r64 = raw[1][r] - raw[0][r], r512 = raw512[1][r] - raw512[0][r];

			fifo_r[r] = r64 / (bb[1][r] - bb[0][r]);
			ring_r[r] = r64 / (ring[1][r] - ring[0][r]);
			fifo_512[r] = r512 / (bb[1][r] - bb[0][r]);
			ring_512[r] = r512 / (ring[1][r] - ring[0][r]);
		}
		printf("  median of the rounds' own ratios: blackbox/raw %.2f, ring/raw %.2f; "
		       "against 512 KiB writes: blackbox %.2f, ring %.2f\n",
		       median(fifo_r, rounds), median(ring_r, rounds), median(fifo_512, rounds),
		       median(ring_512, rounds));
	}
	printf("  ratio relay/raw            %7.2f   "
	       "(no sealing, no frames: the cost of a second process)\n",
	       raw_s / relay_s);
	printf("  ratio blackbox/relay       %7.2f\n", relay_s / bb_s);
	printf("  CPU steal during the rounds: %.2f s of %.2f s x %ld CPUs\n", steal0, t_rounds,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("  a system call in the guest: %.1f us (dd of 20,000 single bytes)\n", sys_us);
	{
		static const char *const mode[N_MODES] = { "raw", "raw512", "relay", "blackbox",
							       "ring" };

		printf("  busy CPUs during the runs (the guest's copy):");
		for (int m = 0; m < N_MODES; m++) {
			printf("%s %s", m ? ";" : "", mode[m]);
			for (int k = 0; k < n_cpus; k++)
				printf(" %d:%.0f%%", k,
				       cpu_total[m][k] ? 100.0 * (double)cpu_busy[m][k] /
								 (double)cpu_total[m][k]
						       : 0.0);
		}
		printf("\n");
	}
	guest_parts(srv, 2 * mib, raw_s, bb_s);

	/* Latency: sealed in the guest -> readable in the store, by the FIFO
	 * and by the ring. */
	lat = calloc(lines, sizeof(*lat));
	lat_ring = calloc(lines, sizeof(*lat_ring));
	if (!lat || !lat_ring)
		die("memory", NULL);
	n_lat = latency(srv, dir, key, lines, 0, lat, &lat_rate);
	n_lat_ring = latency(srv, dir, key, lines, 1, lat_ring, &lat_rate_ring);
	/* The guest clock's offset, measured now, corrects the samples. */
	{
		pthread_t th;
		soda_error *ce = NULL;
		char *out = NULL;
		long long off_ns = 0, unc_ns = 0;
		int status = -1;

		pthread_create(&th, NULL, host_clock, now_file);
		usleep(20000);
		if (soda_console_exec(srv, "/clk/clockoff /clk/now 100", 60000, &out, &status, &ce) <
			    0 ||
		    status != 0 || !strstr(out, "offset_ns ") ||
		    sscanf(strstr(out, "offset_ns "), "offset_ns %lld uncertainty_ns %lld", &off_ns,
			   &unc_ns) != 2)
			die("clockoff in the guest", ce);
		clock_stop = true;
		pthread_join(th, NULL);
		free(out);
		printf("Guest clock minus host clock: %+.3f ms (+-%.3f ms)\n", off_ns / 1e6,
		       unc_ns / 1e6);
		for (size_t i = 0; i < n_lat; i++)
			lat[i] += off_ns / 1e6;
		for (size_t i = 0; i < n_lat_ring; i++)
			lat_ring[i] += off_ns / 1e6;
	}
	print_latency("by /dev/blackbox", lat, n_lat, lat_rate);
	print_latency("by the ring (a pipe into /soda/init log)", lat_ring, n_lat_ring,
		      lat_rate_ring);

	soda_server_kill(srv, 0, NULL);
	soda_server_undefine(srv, 0, NULL);
	soda_server_unref(srv);
	soda_shares_free(shares);
	soda_context_recover(ctx, 0, NULL);
	soda_context_unref(ctx);
	soda_blackbox_key_free(key);
	free(lat);
	free(lat_ring);
	free(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-bbguest: could not remove %s\n", state_dir);
	return 0;
}
