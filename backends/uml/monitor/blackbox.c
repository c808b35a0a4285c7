/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blackbox.h"

#ifdef SODA_MONITOR_BLACKBOX

#include <soda/blackbox.h>

#include "../../../libsoda/util.h"

/* Bytes read from the line per readiness event: enough to keep up with the
 * channel (about 100 MB/s), small enough to keep the monitor responsive. */
#define LINE_CHUNK (64 * 1024)
#define LINE_READS_PER_EVENT 16
/* The pipe's buffer: a burst of the guest's writes waits here while the
 * store commits. */
#define LINE_PIPE_SIZE (1 << 20)
#define MONITOR_GROUP_MS 2

static struct {
	soda_blackbox_store *store;
	mbb_log_fn log;
	int fd;
	uint64_t garbage_reported, foreign_reported;
	int usage_level;       /* 0, 80 or 95: the last warning given */
	mbb_status_fn status_fn;
	uint64_t next_anchor;  /* CLOCK_MONOTONIC usec */
	char last_anchor[160];
} B = { .fd = -1 };

static void blog(const char *fmt, ...) SU_PRINTF(1, 2);
static void blog(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!B.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	B.log(msg);
}

/* "stop|drop-oldest QUOTA" (the launch spec's blackbox-retention). */
static int parse_retention(const char *text, unsigned *flags, uint64_t *quota)
{
	const char *sp = text ? strchr(text, ' ') : NULL;
	char *end;

	*flags = 0;
	*quota = 0;
	if (!text)
		return 0;
	if (!sp)
		return -EINVAL;
	if ((size_t)(sp - text) == 11 && strncmp(text, "drop-oldest", 11) == 0)
		*flags = SODA_BLACKBOX_STORE_DROP_OLDEST;
	else if (!((size_t)(sp - text) == 4 && strncmp(text, "stop", 4) == 0))
		return -EINVAL;
	errno = 0;
	*quota = strtoull(sp + 1, &end, 10);
	return errno || end == sp + 1 || *end ? -EINVAL : 0;
}

int mbb_open(const char *dir, const char *key, const char *retention, const char *label,
	     mbb_log_fn log, int *ret_read_fd, int *ret_write_fd, char *err, size_t errlen)
{
	soda_blackbox_store_options opts = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_blackbox_key *k = NULL;
	soda_error *e = NULL;
	uint8_t box[32], sign[32];
	size_t klen = strlen(key);
	unsigned flags;
	int p[2], r;

	B.log = log;
	if (parse_retention(retention, &flags, &opts.quota_bytes) < 0) {
		snprintf(err, errlen, "blackbox retention '%.60s' in the launch spec is malformed",
			 retention);
		return -EINVAL;
	}
	if ((klen != 64 && klen != 129) || su_unhex(box, 32, key) < 0 ||
	    (klen == 129 && (key[64] != '/' || su_unhex(sign, 32, key + 65) < 0))) {
		snprintf(err, errlen, "blackbox key in the launch spec is malformed");
		return -EINVAL;
	}
	r = soda_blackbox_key_from_public(&k, SODA_BLACKBOX_KEY_TENANT, box,
					  klen == 129 ? sign : NULL, 0, &e);
	if (r < 0)
		goto fail;
	if (label && strlen(label) <= 32)
		opts.label = label;
	/* A record waits at most this long in the monitor before it is written
	 * and synced: the latency an intruder has to stop it. Under load the
	 * byte threshold commits sooner. */
	opts.group_ms = MONITOR_GROUP_MS;
	r = soda_blackbox_store_open(&B.store, dir, k, &opts, flags, &e);
	soda_blackbox_key_free(k);
	if (r < 0)
		goto fail;
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "blackbox line: pipe: %s", strerror(errno));
		soda_blackbox_store_close(B.store, 0, NULL);
		B.store = NULL;
		return r;
	}
	/* Not fatal: the default 64 KiB pipe only means more wake-ups. */
	if (fcntl(p[1], F_SETPIPE_SZ, LINE_PIPE_SIZE) < 0)
		blog("blackbox line: cannot grow the pipe: %s", strerror(errno));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	B.fd = p[0];
	B.next_anchor = su_mono_usec() + MBB_ANCHOR_SECONDS * 1000000ull;
	*ret_read_fd = p[0];
	*ret_write_fd = p[1];
	return 0;
fail:
	snprintf(err, errlen, "blackbox store %s: %s", dir, soda_error_message(e));
	soda_error_free(e);
	return r;
}

int mbb_active(void)
{
	return B.store != NULL;
}

void mbb_set_status_fn(mbb_status_fn fn)
{
	B.status_fn = fn;
}

static void report_errors(soda_error *e, const char *what)
{
	blog("blackbox %s: %s", what, soda_error_message(e));
	soda_error_free(e);
}

/* The store's usage against its quota, in the monitor's log (the
 * landlord's): once when it passes 80 %, once at 95 %, again after it fell
 * back below (retention, drop-oldest). */
static void note_usage(void)
{
	uint64_t used = 0, quota = 0;
	int level;

	if (soda_blackbox_store_get_counter(B.store, SODA_BLACKBOX_STAT_STORE_BYTES, &used) < 0 ||
	    soda_blackbox_store_get_counter(B.store, SODA_BLACKBOX_STAT_QUOTA_BYTES, &quota) < 0 ||
	    !quota)
		return;
	level = used * 100 >= quota * 95 ? 95 : used * 100 >= quota * 80 ? 80 : 0;
	if (level > B.usage_level)
		blog("blackbox quota: %d %% used (%llu of %llu bytes)", level,
		     (unsigned long long)used, (unsigned long long)quota);
	if (level > B.usage_level || (level != B.usage_level && used * 100 < quota * 75)) {
		B.usage_level = level;
		if (B.status_fn)
			B.status_fn(B.last_anchor, (unsigned)level);
	}
}

/* The committed head, for orchestrators to keep off the host. */
static void note_anchor(void)
{
	char *a = NULL;

	if (su_mono_usec() < B.next_anchor)
		return;
	B.next_anchor = su_mono_usec() + MBB_ANCHOR_SECONDS * 1000000ull;
	if (soda_blackbox_store_get_anchor(B.store, &a, NULL) == 0 && strcmp(a, B.last_anchor) != 0) {
		blog("blackbox anchor %s", a);
		snprintf(B.last_anchor, sizeof(B.last_anchor), "%s", a);
		if (B.status_fn)
			B.status_fn(B.last_anchor, (unsigned)B.usage_level);
	}
	free(a); /* (soda_free() is libsoda's, which the monitor does not link) */
}

static void note_garbage(void)
{
	uint64_t g = 0, f = 0;

	if (soda_blackbox_store_get_counter(B.store, SODA_BLACKBOX_STAT_FOREIGN_STREAMS, &f) == 0 &&
	    f > B.foreign_reported) {
		blog("blackbox line: %llu streams after the agent's: someone else in the guest "
		     "writes to the line",
		     (unsigned long long)f);
		B.foreign_reported = f;
	}

	/* Garbage on the line means a guest writes to it without the agent's
	 * framing; say so once per MiB, not once per read. */
	if (soda_blackbox_store_get_counter(B.store, SODA_BLACKBOX_STAT_GARBAGE_BYTES, &g) == 0 &&
	    g >= B.garbage_reported + (1 << 20)) {
		blog("blackbox line: %llu bytes that were not frames so far",
		     (unsigned long long)g);
		B.garbage_reported = g;
	}
}

int mbb_on_line(void)
{
	static char buf[LINE_CHUNK];
	soda_error *e = NULL;

	if (B.fd < 0)
		return 0;
	for (int i = 0; i < LINE_READS_PER_EVENT; i++) {
		ssize_t n = read(B.fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (n < 0)
				blog("blackbox line: read: %s", strerror(errno));
			if (soda_blackbox_store_feed(B.store, NULL, 0, SODA_BLACKBOX_FEED_EOF, &e) < 0)
				report_errors(e, "end of line");
			close(B.fd);
			B.fd = -1;
			return 0;
		}
		if (soda_blackbox_store_feed(B.store, buf, (size_t)n, 0, &e) < 0)
			report_errors(e, "feed");
		if ((size_t)n < sizeof(buf))
			break;
	}
	note_garbage();
	note_usage();
	return 1;
}

int mbb_timeout_ms(void)
{
	uint64_t deadline, now;

	if (!B.store || soda_blackbox_store_get_deadline(B.store, &deadline) < 0)
		return -1;
	if (B.next_anchor && B.next_anchor < deadline)
		deadline = B.next_anchor;
	if (deadline == UINT64_MAX)
		return -1;
	now = su_mono_usec();
	if (deadline <= now)
		return 0;
	/* Round up: waking a moment early would only spin. */
	return (int)((deadline - now + 999) / 1000);
}

void mbb_process(void)
{
	soda_error *e = NULL;

	if (B.store && soda_blackbox_store_process(B.store, 0, &e) < 0)
		report_errors(e, "commit");
	if (B.store) {
		note_anchor();
		note_usage();
	}
}

_Static_assert(SU_BB_SNAPSHOT == SODA_BLACKBOX_SNAPSHOT, "record types");

void mbb_host_event(uint32_t type, uint32_t aux, const char *text)
{
	soda_error *e = NULL;

	if (!B.store)
		return;
	if (soda_blackbox_store_host_event(B.store, type, aux, text, strlen(text), 0, &e) < 0)
		report_errors(e, "host event");
}

void mbb_lifecycle(int state, const char *text)
{
	mbb_host_event(SODA_BLACKBOX_LIFECYCLE, (uint32_t)state, text);
}

void mbb_close(void)
{
	soda_error *e = NULL;

	if (!B.store)
		return;
	/* The guest is gone: whatever it wrote is in the pipe; read it to the
	 * end. Bounded: should anything still hold the write end, the monitor
	 * must not hang on it. */
	for (uint64_t until = su_mono_usec() + 3000000; B.fd >= 0 && su_mono_usec() < until;) {
		struct pollfd pfd = { B.fd, POLLIN, 0 };

		if (poll(&pfd, 1, 200) <= 0 || !mbb_on_line())
			break;
	}
	if (B.fd >= 0) {
		if (soda_blackbox_store_feed(B.store, NULL, 0, SODA_BLACKBOX_FEED_EOF, &e) < 0)
			report_errors(e, "end of line");
		close(B.fd);
		B.fd = -1;
	}
	if (soda_blackbox_store_close(B.store, 0, &e) < 0)
		report_errors(e, "close");
	B.store = NULL;
}

#else /* !SODA_MONITOR_BLACKBOX */

int mbb_open(const char *dir, const char *key, const char *retention, const char *label,
	     mbb_log_fn log, int *ret_read_fd, int *ret_write_fd, char *err, size_t errlen)
{
	(void)dir, (void)key, (void)retention, (void)label, (void)log, (void)ret_read_fd,
		(void)ret_write_fd;
	snprintf(err, errlen, "this soda-monitor was built without the blackbox");
	return -EOPNOTSUPP;
}
int mbb_active(void)
{
	return 0;
}
void mbb_set_status_fn(mbb_status_fn fn)
{
	(void)fn;
}
int mbb_on_line(void)
{
	return 0;
}
int mbb_timeout_ms(void)
{
	return -1;
}
void mbb_process(void)
{
}
void mbb_lifecycle(int state, const char *text)
{
	(void)state, (void)text;
}
void mbb_host_event(uint32_t type, uint32_t aux, const char *text)
{
	(void)type, (void)aux, (void)text;
}
void mbb_close(void)
{
}

#endif
