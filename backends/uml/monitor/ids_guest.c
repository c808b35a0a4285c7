/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The landlord's metadata of Kernort's alerts inside the guest (ids_guest.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ids.h"
#include "ids_guest.h"

static struct {
	const char *server;
	bool landlord;
	void (*log)(const char *msg);
	double tokens;
	uint64_t last_ms;
	uint64_t dropped, refused, agent_dropped;
	uint64_t logged_sec;
} G = { .tokens = MIDG_BURST };

static const char *const kinds[] = { "exec", "tty", "file", "net", "syslog", "klog", "packet" };

/* A decimal number without sign or leading zeros, at most @max; moves *p
 * past it. */
static int number(const char **p, uint32_t max, uint32_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		v = v * 10 + (uint64_t)(s[n] - '0');
		if (++n > 10 || v > max)
			return -EINVAL;
	}
	if (n == 0 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	*p = s + n;
	*ret = (uint32_t)v;
	return 0;
}

int midg_parse(const char *fields, struct midg_alert *ret)
{
	const char *p = fields;
	uint32_t *nums[4] = { &ret->gid, &ret->sid, &ret->rev, &ret->priority };
	static const uint32_t max[4] = { UINT32_MAX, UINT32_MAX, UINT32_MAX, 255 };

	for (int i = 0; i < 4; i++) {
		if (number(&p, max[i], nums[i]) < 0 || *p++ != ' ')
			return -EINVAL;
	}
	if (ret->priority == 0)
		return -EINVAL;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(p, kinds[k]) == 0) {
			ret->kind = kinds[k];
			return 0;
		}
	return -EINVAL;
}

int midg_json(char *buf, size_t len, const struct midg_alert *a, uint64_t realtime_usec,
	      const char *server)
{
	char ts[40], name[6 * 64 + 1];
	time_t sec = (time_t)(realtime_usec / 1000000u);
	size_t o = 0;
	struct tm tm;
	int n;

	if (!gmtime_r(&sec, &tm))
		return -EINVAL;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* the server's name is the operator's, escaped all the same */
	for (const unsigned char *s = (const unsigned char *)server; *s && o + 7 < sizeof(name);
	     s++) {
		if (*s < 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
			o += (size_t)snprintf(name + o, sizeof(name) - o, "\\u%04x", *s);
		else
			name[o++] = (char)*s;
	}
	name[o] = '\0';
	n = snprintf(buf, len,
		     "{\"timestamp\":\"%s.%06uZ\",\"server\":\"%s\",\"source\":\"guest\","
		     "\"gid\":%u,\"sid\":%u,\"rev\":%u,\"priority\":%u,\"kind\":\"%s\"}",
		     ts, (unsigned)(realtime_usec % 1000000u), name, a->gid, a->sid, a->rev,
		     a->priority, a->kind);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

void midg_init(const char *server, bool landlord, void (*log)(const char *msg))
{
	G.server = server ? server : "";
	G.landlord = landlord;
	G.log = log;
}

static uint64_t now_ms(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say_counts(void)
{
	uint64_t sec = now_ms(CLOCK_MONOTONIC) / 1000;
	char msg[200];

	if (!G.log || sec == G.logged_sec || !(G.dropped || G.refused || G.agent_dropped))
		return;
	G.logged_sec = sec;
	snprintf(msg, sizeof(msg),
		 "ids (guest): %llu alert lines over the rate, %llu refused, %llu dropped by "
		 "the agent",
		 (unsigned long long)G.dropped, (unsigned long long)G.refused,
		 (unsigned long long)G.agent_dropped);
	G.log(msg);
	G.dropped = G.refused = G.agent_dropped = 0;
}

static void append(const char *line, size_t len)
{
	int fd = open(MIDS_LANDLORD_FILE, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		      0600);

	if (fd < 0)
		return;
	if (write(fd, line, len) < 0) {
		/* a full disk loses the landlord's copy, never the tenant's */
	}
	close(fd);
}

bool midg_on_line(const char *line)
{
	struct midg_alert a;
	uint64_t ms;

	if (strncmp(line, "ids-dropped ", 12) == 0) {
		uint32_t n;
		const char *p = line + 12;

		if (number(&p, UINT32_MAX, &n) == 0 && !*p)
			G.agent_dropped += n;
		else
			G.refused++;
		say_counts();
		return true;
	}
	if (strncmp(line, "ids-alert ", 10) != 0)
		return false;
	if (!G.landlord || midg_parse(line + 10, &a) < 0) {
		G.refused++;
		say_counts();
		return true;
	}
	ms = now_ms(CLOCK_MONOTONIC);
	G.tokens += (double)(ms - G.last_ms) * MIDG_PER_SEC / 1000.0;
	if (G.tokens > MIDG_BURST)
		G.tokens = MIDG_BURST;
	G.last_ms = ms;
	if (G.tokens < 1) {
		G.dropped++;
		say_counts();
		return true;
	}
	G.tokens -= 1;
	{
		char json[600];
		int n = midg_json(json, sizeof(json) - 1, &a, now_ms(CLOCK_REALTIME) * 1000,
				  G.server);

		if (n > 0) {
			json[n] = '\n';
			append(json, (size_t)n + 1);
		}
	}
	say_counts();
	return true;
}
