/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids_route.h"

int mids_policy_parse(struct mids_policy *ret, const char *text)
{
	unsigned landlord, response, priority;
	unsigned long long depth = 0;
	int end = 0, end2 = 0;

	if (!text || sscanf(text, "%u %u %u%n", &landlord, &response, &priority, &end) != 3 ||
	    landlord > 1 || response > MIDS_RESPONSE_DUMP || priority < 1 || priority > 255)
		return -EINVAL;
	if (text[end] == ' ') {
		if (text[end + 1] < '0' || text[end + 1] > '9' ||
		    sscanf(text + end + 1, "%llu%n", &depth, &end2) != 1 ||
		    (depth && (depth < MIDS_BYPASS_MIN || depth > MIDS_BYPASS_MAX)))
			return -EINVAL;
		end += 1 + end2;
	}
	if (text[end] != '\0')
		return -EINVAL;
	ret->landlord = landlord == 1;
	ret->response = response;
	ret->response_priority = priority;
	ret->bypass_depth = depth;
	return 0;
}

struct mids_route mids_route_alert(const struct mids_policy *p, uint32_t priority)
{
	struct mids_route r = { .seal = true };

	r.landlord = p->landlord;
	if (p->response != MIDS_RESPONSE_NONE && priority >= 1 &&
	    priority <= p->response_priority)
		r.response = p->response;
	return r;
}

/* JSON string body: quotes, backslashes and control bytes escaped; bytes
 * >= 0x80 as \u00XX so the line is ASCII whatever the rule's msg held. */
static int put_str(char *buf, size_t len, size_t *pos, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[8];
		size_t n;

		if (c == '"' || c == '\\')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		else
			n = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		if (*pos + n >= len)
			return -ENOSPC;
		memcpy(buf + *pos, tmp, n);
		*pos += n;
	}
	buf[*pos] = '\0';
	return 0;
}

static const char *proto_name(uint8_t p, char *tmp, size_t len)
{
	switch (p) {
	case 1:
		return "ICMP";
	case 6:
		return "TCP";
	case 17:
		return "UDP";
	case 58:
		return "IPv6-ICMP";
	}
	snprintf(tmp, len, "%u", p);
	return tmp;
}

int mids_landlord_line(char *buf, size_t len, const struct kp_alert *a, const char *server)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], ts[40], ptmp[8];
	char msg[6 * sizeof(a->msg) + 1], name[6 * 64 + 1];
	int af = a->family == 6 ? AF_INET6 : AF_INET;
	time_t sec = (time_t)(a->ts_usec / 1000000u);
	size_t mpos = 0, npos = 0;
	struct tm tm;
	int n;

	if (len == 0 || !inet_ntop(af, a->src, src, sizeof(src)) ||
	    !inet_ntop(af, a->dst, dst, sizeof(dst)) || !gmtime_r(&sec, &tm))
		return -EINVAL;
	msg[0] = name[0] = '\0';
	if (put_str(msg, sizeof(msg), &mpos, a->msg) < 0 ||
	    put_str(name, sizeof(name), &npos, server) < 0)
		return -ENOSPC;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(buf, len,
		     "{\"timestamp\":\"%s.%06uZ\",\"server\":\"%s\",\"source\":\"port\","
		     "\"gid\":%u,\"sid\":%u,"
		     "\"rev\":%u,\"priority\":%u,\"msg\":\"%s\",\"proto\":\"%s\","
		     "\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"%s\",\"dest_port\":%u}",
		     ts, (unsigned)(a->ts_usec % 1000000u), name, a->gid, a->sid, a->rev,
		     a->priority, msg, proto_name(a->proto, ptmp, sizeof(ptmp)), src,
		     (unsigned)a->sport, dst, (unsigned)a->dport);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}
