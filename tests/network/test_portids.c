/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The port IDS's decisions and parsers, without guests: where an alert
 * goes (the tenant's blackbox always; the landlord only when allowed; the
 * freeze or dump at or above the configured priority, 1 being the highest), the
 * policy the library sends, the landlord's metadata line (escaped, no
 * payload), the check of kernort's alert messages, and the TPACKET_V3
 * block walk over hand-made blocks (good and corrupt).
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <soda/soda.h>

#include "backends/uml/kernort/kproto.h"
#include "backends/uml/kernort/ring.h"
#include "backends/uml/monitor/ids_route.h"

static void test_route(void **state)
{
	struct mids_policy p = { .landlord = false, .response = MIDS_RESPONSE_NONE,
				 .response_priority = 1 };
	struct mids_route r;

	(void)state;
	/* Sealed always; the landlord and a response only as configured. */
	r = mids_route_alert(&p, 1);
	assert_true(r.seal);
	assert_false(r.landlord);
	assert_int_equal(r.response, MIDS_RESPONSE_NONE);
	p.landlord = true;
	assert_true(mids_route_alert(&p, 3).landlord);
	/* Freeze at priority 2 or higher (numbers 1 and 2), not at 3. */
	p.response = MIDS_RESPONSE_FREEZE;
	p.response_priority = 2;
	assert_int_equal(mids_route_alert(&p, 1).response, MIDS_RESPONSE_FREEZE);
	assert_int_equal(mids_route_alert(&p, 2).response, MIDS_RESPONSE_FREEZE);
	assert_int_equal(mids_route_alert(&p, 3).response, MIDS_RESPONSE_NONE);
	assert_int_equal(mids_route_alert(&p, 255).response, MIDS_RESPONSE_NONE);
	/* A priority of 0 is no priority (kernort never sends one). */
	assert_int_equal(mids_route_alert(&p, 0).response, MIDS_RESPONSE_NONE);
	p.response_priority = 1;
	assert_int_equal(mids_route_alert(&p, 2).response, MIDS_RESPONSE_NONE);
	assert_true(mids_route_alert(&p, 2).seal);
	/* The dump: at priority 1 only with dump:1; never for 2, 3 or 0. */
	p.response = MIDS_RESPONSE_DUMP;
	assert_int_equal(mids_route_alert(&p, 1).response, MIDS_RESPONSE_DUMP);
	assert_int_equal(mids_route_alert(&p, 2).response, MIDS_RESPONSE_NONE);
	assert_int_equal(mids_route_alert(&p, 0).response, MIDS_RESPONSE_NONE);
	p.response_priority = 3;
	assert_int_equal(mids_route_alert(&p, 3).response, MIDS_RESPONSE_DUMP);
	assert_int_equal(mids_route_alert(&p, 4).response, MIDS_RESPONSE_NONE);
}

static void test_policy_parse(void **state)
{
	struct mids_policy p;

	(void)state;
	assert_int_equal(mids_policy_parse(&p, "1 1 2"), 0);
	assert_true(p.landlord);
	assert_int_equal(p.response, MIDS_RESPONSE_FREEZE);
	assert_int_equal(p.response_priority, 2);
	assert_int_equal(mids_policy_parse(&p, "0 0 1"), 0);
	assert_false(p.landlord);
	assert_int_equal(mids_policy_parse(&p, "0 2 7"), 0);
	assert_int_equal(p.response, MIDS_RESPONSE_DUMP);
	assert_int_equal(p.response_priority, 7);
	static const char *const bad[] = { "", "1 1", "2 0 1", "0 3 1", "0 2 0", "0 2 256",
					   "0 1 0", "0 1 256",
					   "0 1 1 x", "0 1 1 ", "a b c", "-1 0 1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mids_policy_parse(&p, bad[i]) != -EINVAL)
			fail_msg("policy '%s' accepted", bad[i]);
	assert_int_equal(mids_policy_parse(&p, NULL), -EINVAL);
}

/* The bypass depth, the policy's optional fourth field: 0 or 4 KiB..1 TiB,
 * the library's bounds; anything else refused whole. */
static void test_policy_bypass(void **state)
{
	struct mids_policy p;

	(void)state;
	assert_int_equal(SODA_IDS_BYPASS_MIN, MIDS_BYPASS_MIN);
	assert_int_equal(SODA_IDS_BYPASS_MAX, MIDS_BYPASS_MAX);
	assert_int_equal(mids_policy_parse(&p, "0 0 1 1048576"), 0);
	assert_int_equal(p.bypass_depth, 1048576);
	assert_int_equal(mids_policy_parse(&p, "1 1 2 0"), 0);
	assert_int_equal(p.bypass_depth, 0);
	assert_true(p.landlord);
	assert_int_equal(mids_policy_parse(&p, "0 0 1 4096"), 0);
	assert_int_equal(mids_policy_parse(&p, "0 0 1 1099511627776"), 0);
	assert_int_equal(mids_policy_parse(&p, "0 0 1"), 0);
	assert_int_equal(p.bypass_depth, 0);
	static const char *const bad[] = { "0 0 1 4095", "0 0 1 1099511627777", "0 0 1 -5",
					   "0 0 1 +4096", "0 0 1 1048576 1", "0 0 1 1048576x",
					   "0 0 1  1048576", "0 0 1 99999999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mids_policy_parse(&p, bad[i]) != -EINVAL)
			fail_msg("policy '%s' accepted", bad[i]);
}

/* kernort's bypass requests are checked before the monitor uses them. */
static void test_bypass_check(void **state)
{
	struct kp_bypass b;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.h.kind = KP_BYPASS;
	b.h.len = sizeof(b);
	b.op = KP_BYPASS_ADD;
	b.family = 4;
	b.proto = 6;
	assert_int_equal(kp_bypass_check(&b, sizeof(b)), 0);
	b.op = KP_BYPASS_REMOVE;
	assert_int_equal(kp_bypass_check(&b, sizeof(b)), 0);
	assert_int_equal(kp_bypass_check(&b, sizeof(b) - 1), -71);
	b.op = 3;
	assert_int_equal(kp_bypass_check(&b, sizeof(b)), -71);
	b.op = KP_BYPASS_ADD;
	b.family = 5;
	assert_int_equal(kp_bypass_check(&b, sizeof(b)), -71);
	b.family = 6;
	b.proto = 17;
	assert_int_equal(kp_bypass_check(&b, sizeof(b)), -71);
	b.proto = 6;
	b.h.len = 8;
	assert_int_equal(kp_bypass_check(&b, sizeof(b)), -71);
	b.h.len = sizeof(b);
	b.h.kind = KP_ALERT;
	assert_int_equal(kp_bypass_check(&b, sizeof(b)), -71);
}

/* The public setter: bounds, and a refusal leaves the depth as it was. */
static void test_config_bypass(void **state)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "idsbypass", &err), 0);
	assert_int_equal(soda_server_config_get_ids_bypass(cfg), 0);
	assert_int_equal(soda_server_config_set_ids_bypass(cfg, 1 << 20, &err), 0);
	assert_int_equal(soda_server_config_get_ids_bypass(cfg), 1 << 20);
	assert_int_equal(soda_server_config_set_ids_bypass(cfg, 100, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "bypass depth 100 is not 0 or 4096.."));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_server_config_set_ids_bypass(cfg, SODA_IDS_BYPASS_MAX + 1, &err),
			 -EINVAL);
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_server_config_get_ids_bypass(cfg), 1 << 20);
	assert_int_equal(soda_server_config_set_ids_bypass(cfg, 0, &err), 0);
	assert_int_equal(soda_server_config_get_ids_bypass(cfg), 0);
	assert_int_equal(soda_server_config_set_ids_bypass(NULL, 0, &err), -EINVAL);
	soda_error_free(err);
	soda_server_config_free(cfg);
}

/* The public setter: the library's constant is the monitor's, dump:N is
 * kept, and unknown responses or priorities out of 1..255 are refused
 * with the configuration unchanged. */
static void test_config_response(void **state)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;
	uint32_t resp = 9, prio = 9;

	(void)state;
	assert_int_equal(SODA_IDS_RESPONSE_DUMP, MIDS_RESPONSE_DUMP);
	assert_int_equal(SODA_IDS_RESPONSE_FREEZE, MIDS_RESPONSE_FREEZE);
	assert_int_equal(soda_server_config_new(&cfg, "idsdump", &err), 0);
	assert_int_equal(soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_DUMP, 2, &err), 0);
	assert_int_equal(soda_server_config_get_ids_response(cfg, &resp, &prio), 0);
	assert_int_equal(resp, SODA_IDS_RESPONSE_DUMP);
	assert_int_equal(prio, 2);
	assert_int_equal(soda_server_config_set_ids_response(cfg, 3, 1, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "unknown IDS response 3"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_DUMP, 0, &err),
			 -EINVAL);
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_DUMP, 256, &err),
			 -EINVAL);
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_server_config_get_ids_response(cfg, &resp, &prio), 0);
	assert_int_equal(resp, SODA_IDS_RESPONSE_DUMP);
	assert_int_equal(prio, 2);
	soda_server_config_free(cfg);
}

static struct kp_alert sample(void)
{
	struct kp_alert a;

	memset(&a, 0, sizeof(a));
	a.h.kind = KP_ALERT;
	a.h.len = sizeof(a);
	a.ts_usec = 1796616876123456ull;
	a.gid = 1;
	a.sid = 314;
	a.rev = 9;
	a.priority = 1;
	a.family = 4;
	a.proto = 17;
	a.sport = 40000;
	a.dport = 53;
	a.src[0] = 198, a.src[1] = 51, a.src[2] = 100, a.src[3] = 2;
	a.dst[0] = 198, a.dst[1] = 51, a.dst[2] = 100, a.dst[3] = 1;
	snprintf(a.msg, sizeof(a.msg), "DNS \"EXPLOIT\" \\ named\ttsig \x01\xff");
	return a;
}

static void test_landlord_line(void **state)
{
	struct kp_alert a = sample();
	char line[1200];
	int n;

	(void)state;
	n = mids_landlord_line(line, sizeof(line), &a, "web\"1");
	assert_true(n > 0);
	assert_string_equal(line,
			    "{\"timestamp\":\"2026-12-07T04:14:36.123456Z\",\"server\":\"web\\\"1\","
			    "\"source\":\"port\","
			    "\"gid\":1,\"sid\":314,\"rev\":9,\"priority\":1,"
			    "\"msg\":\"DNS \\\"EXPLOIT\\\" \\\\ named\\u0009tsig \\u0001\\u00ff\","
			    "\"proto\":\"UDP\",\"src_ip\":\"198.51.100.2\",\"src_port\":40000,"
			    "\"dest_ip\":\"198.51.100.1\",\"dest_port\":53}");
	/* Too small a buffer is an error, never a cut line. */
	assert_int_equal(mids_landlord_line(line, 40, &a, "web"), -ENOSPC);
	a.family = 6;
	a.proto = 99;
	assert_true(mids_landlord_line(line, sizeof(line), &a, "web") > 0);
	assert_non_null(strstr(line, "\"proto\":\"99\""));
	assert_non_null(strstr(line, "\"src_ip\":\"c633:6402::\""));
}

static void test_alert_check(void **state)
{
	struct {
		struct kp_alert a;
		char eve[KP_EVE_MAX + 8];
	} m;

	(void)state;
	m.a = sample();
	memcpy(m.eve, "{\"x\":1}", 7);
	m.a.h.len = sizeof(m.a) + 7;
	assert_int_equal(kp_alert_check(&m, sizeof(m.a) + 7), 7);
	/* The header's length must be the datagram's. */
	assert_int_equal(kp_alert_check(&m, sizeof(m.a) + 6), -71);
	m.a.h.len = sizeof(m.a);
	assert_int_equal(kp_alert_check(&m, sizeof(m.a)), 0);
	assert_int_equal(kp_alert_check(&m, sizeof(m.a) - 1), -71);
	/* No terminator in msg, a family neither 4 nor 6, another kind. */
	memset(m.a.msg, 'A', sizeof(m.a.msg));
	assert_int_equal(kp_alert_check(&m, sizeof(m.a)), -71);
	m.a = sample();
	m.a.family = 0;
	assert_int_equal(kp_alert_check(&m, sizeof(m.a)), -71);
	m.a = sample();
	m.a.h.kind = KP_RESULT;
	assert_int_equal(kp_alert_check(&m, sizeof(m.a)), -71);
	/* Longer than the largest EVE line kernort may send. */
	m.a = sample();
	m.a.h.len = sizeof(m.a) + KP_EVE_MAX + 1;
	assert_int_equal(kp_alert_check(&m, sizeof(m.a) + KP_EVE_MAX + 1), -71);
}

/* ---- the ring ---- */

struct seen {
	int n;
	size_t len[8];
	uint8_t first[8];
	uint64_t ts[8];
};

static void on_frame(void *userdata, const uint8_t *frame, size_t caplen, uint64_t ts_usec)
{
	struct seen *s = userdata;

	if (s->n < 8) {
		s->len[s->n] = caplen;
		s->first[s->n] = caplen ? frame[0] : 0;
		s->ts[s->n] = ts_usec;
	}
	s->n++;
}

/* A block of @n frames of @len bytes each, as the kernel lays it out. */
static size_t make_block(uint8_t *b, size_t size, int n, uint32_t len)
{
	struct tpacket_block_desc *bd = (void *)b;
	uint32_t off = 64;

	memset(b, 0, size);
	bd->version = TPACKET_V3;
	bd->hdr.bh1.num_pkts = (uint32_t)n;
	bd->hdr.bh1.offset_to_first_pkt = off;
	bd->hdr.bh1.block_status = TP_STATUS_USER;
	for (int i = 0; i < n; i++) {
		struct tpacket3_hdr h = { 0 };
		uint32_t next = (uint32_t)((sizeof(h) + 32 + len + 15) & ~15u);

		if (off + next > size)
			break; /* the rest is claimed, not there */

		h.tp_sec = 1000 + (uint32_t)i;
		h.tp_nsec = 5000;
		h.tp_snaplen = len;
		h.tp_len = len;
		h.tp_mac = (uint16_t)(sizeof(h) + 32);
		h.tp_next_offset = i + 1 < n ? next : 0;
		memcpy(b + off, &h, sizeof(h));
		memset(b + off + h.tp_mac, 0x40 + i, len);
		off += next;
	}
	return off;
}

static void test_ring_walk(void **state)
{
	static uint8_t b[8192];
	struct seen s = { 0 };
	struct tpacket3_hdr h;
	uint32_t first;

	(void)state;
	make_block(b, sizeof(b), 3, 60);
	assert_true(kr_block_ready(b));
	assert_int_equal(kr_block_walk(b, sizeof(b), on_frame, &s), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.len[2], 60);
	assert_int_equal(s.first[1], 0x41);
	assert_int_equal(s.ts[0], 1000ull * 1000000 + 5);
	kr_block_release(b);
	assert_false(kr_block_ready(b));

	/* Corrupt blocks end the walk, never read past the block. */
	make_block(b, sizeof(b), 3, 60);
	memset(&s, 0, sizeof(s));
	((struct tpacket_block_desc *)b)->hdr.bh1.offset_to_first_pkt = sizeof(b) - 4;
	assert_int_equal(kr_block_walk(b, sizeof(b), on_frame, &s), -EPROTO);
	assert_int_equal(s.n, 0);

	make_block(b, sizeof(b), 3, 60);
	memset(&s, 0, sizeof(s));
	first = ((struct tpacket_block_desc *)b)->hdr.bh1.offset_to_first_pkt;
	memcpy(&h, b + first, sizeof(h));
	h.tp_snaplen = sizeof(b);
	memcpy(b + first, &h, sizeof(h));
	assert_int_equal(kr_block_walk(b, sizeof(b), on_frame, &s), -EPROTO);
	assert_int_equal(s.n, 0);

	make_block(b, sizeof(b), 3, 60);
	memset(&s, 0, sizeof(s));
	memcpy(&h, b + first, sizeof(h));
	h.tp_next_offset = 0; /* with frames still to come */
	memcpy(b + first, &h, sizeof(h));
	assert_int_equal(kr_block_walk(b, sizeof(b), on_frame, &s), -EPROTO);
	assert_int_equal(s.n, 1);

	make_block(b, sizeof(b), 1000, 60); /* claims more frames than fit */
	memset(&s, 0, sizeof(s));
	assert_int_equal(kr_block_walk(b, 4096, on_frame, &s), -EPROTO);
	assert_true(s.n > 0 && s.n < 1000);

	assert_int_equal(kr_block_walk(b, 8, on_frame, &s), -EPROTO);
}

/* A frame whose 802.1Q tag the kernel took out comes back with it. */
static uint8_t last_frame[128];

static void keep_frame(void *userdata, const uint8_t *frame, size_t caplen, uint64_t ts_usec)
{
	(void)ts_usec;
	*(size_t *)userdata = caplen;
	memcpy(last_frame, frame, caplen < sizeof(last_frame) ? caplen : sizeof(last_frame));
}

static void test_ring_vlan(void **state)
{
	static uint8_t b[4096];
	struct tpacket3_hdr h;
	uint32_t first;
	size_t len = 0;

	(void)state;
	make_block(b, sizeof(b), 1, 60);
	first = ((struct tpacket_block_desc *)b)->hdr.bh1.offset_to_first_pkt;
	memcpy(&h, b + first, sizeof(h));
	h.tp_status = TP_STATUS_VLAN_VALID;
	h.hv1.tp_vlan_tci = 0x2007; /* priority 1, VLAN 7 */
	memcpy(b + first, &h, sizeof(h));
	b[first + h.tp_mac + 12] = 0x08; /* the frame's own type: IPv4 */
	b[first + h.tp_mac + 13] = 0x00;
	assert_int_equal(kr_block_walk(b, sizeof(b), keep_frame, &len), 1);
	assert_int_equal(len, 64);
	assert_int_equal(last_frame[0], 0x40);
	assert_int_equal(last_frame[12], 0x81);
	assert_int_equal(last_frame[13], 0x00);
	assert_int_equal(last_frame[14], 0x20);
	assert_int_equal(last_frame[15], 0x07);
	assert_int_equal(last_frame[16], 0x08);
	assert_int_equal(last_frame[17], 0x00);
	assert_int_equal(last_frame[18], 0x40);
	/* QinQ's outer tag keeps its TPID. */
	h.tp_status = TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID;
	h.hv1.tp_vlan_tpid = 0x88a8;
	memcpy(b + first, &h, sizeof(h));
	assert_int_equal(kr_block_walk(b, sizeof(b), keep_frame, &len), 1);
	assert_int_equal(last_frame[12], 0x88);
	assert_int_equal(last_frame[13], 0xa8);
	/* Without the status bit the frame is as captured. */
	h.tp_status = 0;
	memcpy(b + first, &h, sizeof(h));
	assert_int_equal(kr_block_walk(b, sizeof(b), keep_frame, &len), 1);
	assert_int_equal(len, 60);
	assert_int_equal(last_frame[12], 0x08);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route),       cmocka_unit_test(test_policy_parse),
		cmocka_unit_test(test_landlord_line), cmocka_unit_test(test_alert_check),
		cmocka_unit_test(test_ring_walk),   cmocka_unit_test(test_config_response),
		cmocka_unit_test(test_policy_bypass), cmocka_unit_test(test_bypass_check),
		cmocka_unit_test(test_config_bypass),
		cmocka_unit_test(test_ring_vlan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
