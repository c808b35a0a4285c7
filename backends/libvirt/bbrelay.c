/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-bbrelay: the host's end of a QEMU guest's blackbox line, what
 * soda-monitor's blackbox.c is to a UML guest. QEMU writes the guest's
 * ttyS1 to a FIFO (a pipe chardev, RUN/NAME/blackbox.out); the relay reads
 * it and feeds the tenant's store through the public API
 * (include/soda/blackbox.h), which parses the guest's bytes strictly:
 * they are the guest's and may be anything.
 *
 *   soda-bbrelay --line FIFO --store DIR --key BOXHEX [--retention stop|drop-oldest]
 *                [--quota BYTES] [--label NAME] --pid-file FILE [--log FILE]
 *
 * The libvirt backend starts it before the domain (so no byte of the
 * guest's is written before it reads), and it outlives the process that
 * started it: it forks, the child leaves the session (setsid) and the
 * parent exits once the child holds the store and the line, with the
 * child's error message on stderr and status 1 if it could not. The
 * child writes "PID STARTTIME" to the pid file (the backend ends it by
 * that PID, checked against its start time) and runs until the line
 * closes (QEMU ended: the store records the end of the line) or SIGTERM.
 *
 * While no relay reads, QEMU's writes wait in the pipe (it holds the FIFO
 * open) and the guest's serial port stalls: nothing reaches the host's
 * disk but through the store, which keeps to its quota. The log (anchors,
 * quota warnings, garbage) is bounded too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>

#include "../../libsoda/hexval.h"
#include "pidrec.h"

#define LINE_CHUNK (64 * 1024)
#define LINE_READS_PER_EVENT 16
#define LINE_PIPE_SIZE (1 << 20)
#define GROUP_MS 2
#define ANCHOR_SECONDS 10
#define LOG_MAX (256 * 1024)

static struct {
	soda_blackbox_store *store;
	int line, log;
	size_t logged;
	uint64_t garbage_reported, foreign_reported, next_anchor;
	int usage_level;
	char last_anchor[160];
	const char *pid_file;
} R = { .line = -1, .log = -1 };

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void rlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rlog(const char *fmt, ...)
{
	char msg[600];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (R.log < 0 || R.logged >= LOG_MAX)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(msg, sizeof(msg), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	if (R.logged + (size_t)n + 1 >= LOG_MAX)
		n = snprintf(msg, sizeof(msg), "log full: no more lines this run");
	msg[n++] = '\n';
	if (write(R.log, msg, (size_t)n) > 0)
		R.logged += (size_t)n;
	else
		R.logged = LOG_MAX;
}

static void log_error(const char *what, soda_error *e)
{
	rlog("%s: %s", what, soda_error_message(e));
	soda_error_free(e);
}

static int write_pid_file(const char *path)
{
	char tmp[4096], text[64];
	int fd, n;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	n = snprintf(text, sizeof(text), "%d %llu\n", (int)getpid(), lv_start_time(getpid()));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return r ? r : -EIO;
	}
	return 0;
}

static int unhex(uint8_t *out, const char *hex)
{
	if (strlen(hex) != 64)
		return -1;
	for (size_t i = 0; i < 32; i++) {
		int hi = su_hexval(hex[2 * i]), lo = su_hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

typedef struct args {
	const char *line, *store, *key, *retention, *quota, *label, *pid_file, *log;
} args;

/* The store and the line: 0, or -errno with @err filled. */
static int setup(const args *a, char *err, size_t errlen)
{
	soda_blackbox_store_options opts = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_blackbox_key *k = NULL;
	soda_error *e = NULL;
	uint32_t policy = SODA_BLACKBOX_RETENTION_STOP;
	uint8_t box[32];
	struct stat st;
	char *end;
	int r;

	if (unhex(box, a->key) < 0) {
		snprintf(err, errlen, "--key: not 64 hex digits");
		return -EINVAL;
	}
	if (a->retention && soda_blackbox_retention_from_name(&policy, a->retention, NULL) < 0) {
		snprintf(err, errlen, "--retention: '%.40s' is neither stop nor drop-oldest",
			 a->retention);
		return -EINVAL;
	}
	if (a->quota) {
		errno = 0;
		opts.quota_bytes = strtoull(a->quota, &end, 10);
		if (errno || end == a->quota || *end || a->quota[0] == '-') {
			snprintf(err, errlen, "--quota: '%.40s' is not a number of bytes", a->quota);
			return -EINVAL;
		}
	}
	if (a->label && strlen(a->label) <= 32)
		opts.label = a->label;
	opts.group_ms = GROUP_MS;
	/* Never blocks: QEMU may not have opened the FIFO yet. */
	R.line = open(a->line, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (R.line < 0 || fstat(R.line, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		r = R.line < 0 ? -errno : -EINVAL;
		snprintf(err, errlen, "blackbox line %s: %s", a->line,
			 r == -EINVAL ? "not a FIFO" : strerror(-r));
		return r;
	}
	/* Not fatal: the default 64 KiB pipe only means more wake-ups. */
	if (fcntl(R.line, F_SETPIPE_SZ, LINE_PIPE_SIZE) < 0)
		rlog("cannot grow the line's pipe: %s", strerror(errno));
	r = soda_blackbox_key_from_public(&k, SODA_BLACKBOX_KEY_TENANT, box, NULL, 0, &e);
	if (r == 0)
		r = soda_blackbox_store_open(&R.store, a->store, k, &opts,
					     policy == SODA_BLACKBOX_RETENTION_DROP_OLDEST
						     ? SODA_BLACKBOX_STORE_DROP_OLDEST
						     : 0,
					     &e);
	soda_blackbox_key_free(k);
	if (r < 0) {
		snprintf(err, errlen, "blackbox store %s: %s", a->store, soda_error_message(e));
		soda_error_free(e);
		return r;
	}
	r = write_pid_file(a->pid_file);
	if (r < 0) {
		snprintf(err, errlen, "pid file %s: %s", a->pid_file, strerror(-r));
		return r;
	}
	R.pid_file = a->pid_file;
	return 0;
}

/* Once it holds the store and the line, the relay needs no privilege: its
 * files are its own (uid 0 owns them without CAP_DAC_OVERRIDE). What it
 * parses is the guest's, so it keeps none: every capability, and no way
 * back to one. Returns 0 or -errno. */
static int drop_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

static void host_lifecycle(int state, const char *text)
{
	soda_error *e = NULL;

	if (soda_blackbox_store_host_event(R.store, SODA_BLACKBOX_LIFECYCLE, (uint32_t)state, text,
					   strlen(text), 0, &e) < 0)
		log_error("host event", e);
}

/* Anchors, quota warnings and the line's garbage, in the log (as
 * soda-monitor's log has them). */
static void notes(void)
{
	uint64_t used = 0, quota = 0, g = 0, f = 0;
	char *anchor = NULL;
	int level;

	if (soda_blackbox_store_get_counter(R.store, SODA_BLACKBOX_STAT_STORE_BYTES, &used) == 0 &&
	    soda_blackbox_store_get_counter(R.store, SODA_BLACKBOX_STAT_QUOTA_BYTES, &quota) == 0 &&
	    quota) {
		level = used * 100 >= quota * 95 ? 95 : used * 100 >= quota * 80 ? 80 : 0;
		if (level > R.usage_level)
			rlog("blackbox quota: %d %% used (%llu of %llu bytes)", level,
			     (unsigned long long)used, (unsigned long long)quota);
		if (level > R.usage_level || (level != R.usage_level && used * 100 < quota * 75))
			R.usage_level = level;
	}
	if (soda_blackbox_store_get_counter(R.store, SODA_BLACKBOX_STAT_FOREIGN_STREAMS, &f) == 0 &&
	    f > R.foreign_reported) {
		rlog("blackbox line: %llu streams after the agent's: someone else in the guest "
		     "writes to the line",
		     (unsigned long long)f);
		R.foreign_reported = f;
	}
	if (soda_blackbox_store_get_counter(R.store, SODA_BLACKBOX_STAT_GARBAGE_BYTES, &g) == 0 &&
	    g >= R.garbage_reported + (1 << 20)) {
		rlog("blackbox line: %llu bytes that were not frames so far", (unsigned long long)g);
		R.garbage_reported = g;
	}
	if (mono_usec() < R.next_anchor)
		return;
	R.next_anchor = mono_usec() + ANCHOR_SECONDS * 1000000ull;
	if (soda_blackbox_store_get_anchor(R.store, &anchor, NULL) == 0 &&
	    strcmp(anchor, R.last_anchor) != 0) {
		rlog("blackbox anchor %s", anchor);
		snprintf(R.last_anchor, sizeof(R.last_anchor), "%s", anchor);
	}
	soda_free(anchor);
}

/* Reads what the line has; returns 0 at its end (no writer left), 1 if it
 * is open. */
static int on_line(void)
{
	static char buf[LINE_CHUNK];
	soda_error *e = NULL;

	for (int i = 0; i < LINE_READS_PER_EVENT; i++) {
		ssize_t n = read(R.line, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n <= 0) {
			if (n < 0)
				rlog("blackbox line: read: %s", strerror(errno));
			return 0;
		}
		if (soda_blackbox_store_feed(R.store, buf, (size_t)n, 0, &e) < 0)
			log_error("feed", e);
		if ((size_t)n < sizeof(buf))
			return 1;
	}
	return 1;
}

static int timeout_ms(void)
{
	uint64_t deadline = UINT64_MAX, now = mono_usec();

	if (soda_blackbox_store_get_deadline(R.store, &deadline) < 0)
		deadline = UINT64_MAX;
	if (R.next_anchor < deadline)
		deadline = R.next_anchor;
	if (deadline == UINT64_MAX)
		return -1;
	if (deadline <= now)
		return 0;
	return (int)((deadline - now + 999) / 1000);
}

static int run(void)
{
	soda_error *e = NULL;
	sigset_t set;
	int sfd, open_line = 1, r = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	R.next_anchor = mono_usec() + ANCHOR_SECONDS * 1000000ull;
	host_lifecycle(SODA_STATE_STARTING, "starting: soda-bbrelay holds the guest's line");
	while (open_line) {
		struct pollfd p[2] = { { R.line, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		int n = poll(p, sfd >= 0 ? 2 : 1, timeout_ms());

		if (n < 0 && errno != EINTR) {
			rlog("poll: %s", strerror(errno));
			r = 1;
			break;
		}
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			open_line = on_line();
		if (n > 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				rlog("signal %u: ending", si.ssi_signo);
			/* what the guest wrote before, to the last byte */
			while (on_line() && poll(p, 1, 0) > 0 && (p[0].revents & POLLIN))
				;
			break;
		}
		if (soda_blackbox_store_process(R.store, 0, &e) < 0)
			log_error("commit", e);
		notes();
	}
	if (!open_line) {
		if (soda_blackbox_store_feed(R.store, NULL, 0, SODA_BLACKBOX_FEED_EOF, &e) < 0)
			log_error("end of line", e);
		host_lifecycle(SODA_STATE_SHUTOFF, "shutoff: the guest's line closed (QEMU ended)");
		rlog("the line closed");
	}
	notes();
	if (soda_blackbox_store_close(R.store, 0, &e) < 0) {
		log_error("close", e);
		r = 1;
	}
	R.store = NULL;
	unlink(R.pid_file);
	return r;
}

static void usage(void)
{
	fprintf(stderr, "usage: soda-bbrelay --line FIFO --store DIR --key BOXHEX "
			"[--retention stop|drop-oldest] [--quota BYTES] [--label NAME] "
			"--pid-file FILE [--log FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "line", required_argument, NULL, 'l' },
		{ "store", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "retention", required_argument, NULL, 'r' },
		{ "quota", required_argument, NULL, 'q' },
		{ "label", required_argument, NULL, 'n' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	char err[1024] = "";
	args a = { 0 };
	int st[2], c, nul;
	pid_t pid;
	ssize_t n;

	/* Descriptors the starting process left open are not ours. */
	close_range(3, ~0u, 0);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': a.line = optarg; break;
		case 's': a.store = optarg; break;
		case 'k': a.key = optarg; break;
		case 'r': a.retention = optarg; break;
		case 'q': a.quota = optarg; break;
		case 'n': a.label = optarg; break;
		case 'p': a.pid_file = optarg; break;
		case 'g': a.log = optarg; break;
		default: usage(); return 2;
		}
	}
	if (optind != argc || !a.line || !a.store || !a.key || !a.pid_file) {
		usage();
		return 2;
	}
	if (pipe2(st, O_CLOEXEC) < 0) {
		perror("soda-bbrelay: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("soda-bbrelay: fork");
		return 1;
	}
	if (pid > 0) {
		/* The child's word: "ok", or its error (EOF without a word:
		 * it died). */
		close(st[1]);
		n = read(st[0], err, sizeof(err) - 1);
		if (n == 2 && memcmp(err, "ok", 2) == 0)
			return 0;
		fprintf(stderr, "soda-bbrelay: %s\n", n > 0 ? err : "the relay died starting");
		return 1;
	}
	close(st[0]);
	setsid();
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	if (a.log)
		R.log = open(a.log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
			     0600);
	if (setup(&a, err, sizeof(err)) < 0) {
		rlog("%s", err);
		if (write(st[1], err, strlen(err)) < 0) {
			/* the parent is gone: nobody to tell */
		}
		_exit(1);
	}
	rlog("relaying %s to the store %s", a.line, a.store);
	c = drop_privileges();
	if (c < 0)
		rlog("cannot drop capabilities: %s", strerror(-c));
	if (write(st[1], "ok", 2) != 2)
		rlog("cannot report the start");
	close(st[1]);
	return run();
}
