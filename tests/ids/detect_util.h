/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernort detection tests: hand-built packets and a collecting alert sink. */
#ifndef KN_DETECT_UTIL_H
#define KN_DETECT_UTIL_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "libsoda/ids/detect.h"

struct sink {
	size_t n;
	uint32_t sids[64];
	struct kn_alert last;
	char *eve;
};

static __attribute__((unused)) void sink_alert(void *userdata, const struct kn_alert *a, const struct kn_packet *p)
{
	struct sink *s = userdata;

	if (s->n < 64)
		s->sids[s->n] = a->sid;
	s->n++;
	s->last = *a;
	free(s->eve);
	s->eve = NULL;
	assert_int_equal(kn_eve_alert(&s->eve, a, p), 0);
}

static __attribute__((unused)) bool sink_has(const struct sink *s, uint32_t sid)
{
	for (size_t i = 0; i < s->n && i < 64; i++)
		if (s->sids[i] == sid)
			return true;
	return false;
}

static void set_addr(struct kn_packet *p, const char *src, const char *dst)
{
	if (strchr(src, ':')) {
		p->family = 6;
		assert_int_equal(inet_pton(AF_INET6, src, p->src), 1);
		assert_int_equal(inet_pton(AF_INET6, dst, p->dst), 1);
	} else {
		p->family = 4;
		assert_int_equal(inet_pton(AF_INET, src, p->src), 1);
		assert_int_equal(inet_pton(AF_INET, dst, p->dst), 1);
	}
}

/* A packet of proto between two addresses, with a payload. */
static struct kn_packet mkpkt(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			      uint16_t dport, const void *payload, size_t len)
{
	struct kn_packet p;

	memset(&p, 0, sizeof(p));
	set_addr(&p, src, dst);
	p.ip_proto = proto;
	p.ttl = 64;
	p.sport = sport;
	p.dport = dport;
	p.payload = payload;
	p.payload_len = len;
	p.ts_usec = 1796613871123456ull; /* 2026-12-07T03:24:31.123456Z */
	if (proto == KN_IPPROTO_TCP)
		p.tcp_flags = KN_TCP_ACK | KN_TCP_PSH;
	return p;
}

static kn_ruleset *load_rules(const char *text, const kn_vars *vars)
{
	kn_ruleset *rs = NULL;
	soda_error *err = NULL;
	int r = kn_ruleset_load_text(&rs, "test.rules", text, strlen(text), vars, 0, NULL, NULL,
				     &err);

	if (r < 0)
		fail_msg("loading failed: %s\n%s", soda_error_message(err), text);
	soda_error_free(err);
	return rs;
}

/* Runs a packet through a fresh detector over rs; fills sink. */
static __attribute__((unused)) int run_pkt(const kn_ruleset *rs, struct kn_packet *p, struct sink *s)
{
	kn_detector *d;
	int r;

	assert_int_equal(kn_detector_new(&d, rs, NULL), 0);
	r = kn_detect(d, p, sink_alert, s);
	kn_detector_free(d);
	return r;
}

/* Whether "alert tcp any any -> any any (<opts> sid:1;)" alerts on a TCP
 * packet with this payload. */
static __attribute__((unused)) bool tcp_match(const char *opts, const void *payload, size_t len)
{
	char rule[4096];
	kn_ruleset *rs;
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80,
				   payload, len);
	struct sink s = { 0 };

	snprintf(rule, sizeof(rule), "alert tcp any any -> any any (%s sid:1;)", opts);
	rs = load_rules(rule, NULL);
	run_pkt(rs, &p, &s);
	kn_ruleset_free(rs);
	free(s.eve);
	return s.n == 1 && s.sids[0] == 1;
}

#define MATCH(opts, str) assert_true(tcp_match(opts, str, sizeof(str) - 1))
#define NOMATCH(opts, str) assert_false(tcp_match(opts, str, sizeof(str) - 1))

#endif
