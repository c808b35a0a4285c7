/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort's flows and TCP reassembly (libsoda/ids/flow.c, stream.c): the
 * handshake, direction and established; content split across segments
 * whole in the stream window; retransmissions adding nothing; segments out
 * of order released in order; overlaps keeping the first bytes; sequence
 * wraparound; where the window starts in the stream; the out-of-order and memory bounds; gaps given up only when
 * the receiver acknowledged past them (junk sent ahead cannot make the
 * stream skip the real bytes); a bounded flow table
 * that evicts new flows before established ones; timeouts; UDP
 * established; RST and port reuse; midstream pickup; bad checksums kept
 * out of the state.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "libsoda/ids/decode.h"
#include "test_pktbuild.h"

static const uint8_t C4[4] = { 198, 51, 100, 10 }, S4[4] = { 203, 0, 113, 20 };

struct seen {
	int n;
	struct kn_packet p;
	uint64_t flow_id;
	uint8_t stream[1 << 20];
	size_t stream_len, new_off;
	bool has_stream;
};

static struct seen s;

static void on_packet(void *userdata, struct kn_packet *p)
{
	struct seen *v = userdata;
	v->n++;
	v->p = *p;
	v->flow_id = p->flow ? p->flow->id : 0;
	v->has_stream = p->stream != NULL;
	v->stream_len = p->stream_len;
	v->new_off = p->stream_new_off;
	if (p->stream)
		memcpy(v->stream, p->stream, p->stream_len);
}

static kn_decoder *dec(struct kn_decode_config *cfg)
{
	kn_decoder *d = NULL;
	assert_int_equal(kn_decoder_new(&d, cfg), 0);
	return d;
}

static uint64_t pkt_no;

/* One TCP segment; from the client when to_server. */
static void seg_at(kn_decoder *d, uint64_t ts, bool to_server, uint16_t cport, uint32_t seq,
		   uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	static uint8_t l4[70000], l3[70100];
	const uint8_t *src = to_server ? C4 : S4, *dst = to_server ? S4 : C4;
	uint16_t sp = to_server ? cport : 80, dp = to_server ? 80 : cport;
	size_t n = tb_tcp(l4, 4, src, dst, sp, dp, seq, ack, flags, data, len);
	n = tb_ip4(l3, src, dst, 6, 1, 0, 0, l4, n);
	s.n = 0;
	assert_int_equal(kn_decode(d, KN_LINK_RAW, ts, ++pkt_no, l3, n, on_packet, &s), 1);
}

static void seg(kn_decoder *d, bool to_server, uint32_t seq, const char *data)
{
	seg_at(d, 0, to_server, 40000, seq, 1, KN_TCP_ACK | KN_TCP_PSH, data, strlen(data));
}

static void handshake(kn_decoder *d, uint16_t cport, uint32_t cisn, uint32_t sisn)
{
	seg_at(d, 0, true, cport, cisn, 0, KN_TCP_SYN, NULL, 0);
	assert_true(s.p.to_server);
	assert_false(s.p.established);
	seg_at(d, 0, false, cport, sisn, cisn + 1, KN_TCP_SYN | KN_TCP_ACK, NULL, 0);
	assert_false(s.p.to_server);
	assert_false(s.p.established);
	seg_at(d, 0, true, cport, cisn + 1, sisn + 1, KN_TCP_ACK, NULL, 0);
	assert_true(s.p.established);
}

static void assert_new(const char *want)
{
	size_t n = strlen(want);
	assert_true(s.has_stream);
	assert_int_equal(s.stream_len - s.new_off, n);
	assert_memory_equal(s.stream + s.new_off, want, n);
}

static void test_handshake_and_split_content(void **state)
{
	kn_decoder *d = dec(NULL);
	handshake(d, 40000, 100, 5000);
	uint64_t id = s.flow_id;
	assert_int_not_equal(id, 0);
	seg(d, true, 101, "GET /ma");
	assert_new("GET /ma");
	assert_int_equal(s.flow_id, id);
	seg(d, true, 108, "licious HTTP/1.0\r\n");
	assert_new("licious HTTP/1.0\r\n");
	assert_int_equal(s.new_off, 7);
	assert_memory_equal(s.stream, "GET /malicious", 14);
	/* The other direction is its own stream. */
	seg(d, false, 5001, "HTTP/1.0 200");
	assert_false(s.p.to_server);
	assert_new("HTTP/1.0 200");
	assert_int_equal(s.new_off, 0);
	/* Another connection: another id. */
	handshake(d, 40001, 7, 9);
	assert_int_not_equal(s.flow_id, id);
	kn_decoder_free(d);
}

static void test_retransmission(void **state)
{
	kn_decoder *d = dec(NULL);
	handshake(d, 40000, 100, 5000);
	seg(d, true, 101, "abcdef");
	seg(d, true, 101, "abcdef");
	assert_true(s.has_stream);
	assert_int_equal(s.stream_len, s.new_off); /* nothing new */
	/* A retransmission with other bytes changes nothing (first wins),
	 * and the part past what was seen is new. */
	seg(d, true, 104, "XYZghi");
	assert_new("ghi");
	assert_memory_equal(s.stream, "abcdefghi", 9);
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_int_equal(st.tcp_retransmits, 1);
	assert_int_equal(st.tcp_overlaps, 1);
	kn_decoder_free(d);
}

static void test_out_of_order(void **state)
{
	kn_decoder *d = dec(NULL);
	handshake(d, 40000, 100, 5000);
	seg(d, true, 111, "KLMNO");
	assert_int_equal(s.stream_len, s.new_off);
	seg(d, true, 106, "FGHIJ");
	assert_int_equal(s.stream_len, s.new_off);
	seg(d, true, 101, "ABCDE");
	assert_new("ABCDEFGHIJKLMNO");
	/* Held data overlapped by the segment that fills the gap: the held
	 * bytes came first and stay. */
	seg(d, true, 126, "0123456789");
	seg(d, true, 116, "pqrstuvwxyzzzzz");
	assert_new("pqrstuvwxy0123456789");
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_int_equal(st.tcp_ooo_held, 3);
	assert_true(st.tcp_overlaps >= 1);
	kn_decoder_free(d);
}

static void test_wraparound(void **state)
{
	kn_decoder *d = dec(NULL);
	uint32_t isn = 0xfffffff0u;
	handshake(d, 40000, isn, 5000);
	seg(d, true, isn + 1, "0123456789");
	seg(d, true, isn + 21, "klmnopqrst"); /* past 2^32, held */
	seg(d, true, isn + 11, "abcdefghij"); /* crosses 2^32 */
	assert_new("abcdefghijklmnopqrst");
	assert_memory_equal(s.stream, "0123456789abcdefghijklmnopqrst", 30);
	seg(d, true, isn + 1, "0123456789"); /* old, from before the wrap */
	assert_int_equal(s.stream_len, s.new_off);
	kn_decoder_free(d);
}

/* The window keeps KN_STREAM_WINDOW bytes of history before new data. */
static void test_window(void **state)
{
	kn_decoder *d = dec(NULL);
	handshake(d, 40000, 0, 0);
	static char all[100001];
	for (int i = 0; i < 100000; i++)
		all[i] = (char)('a' + (i * 31 + i / 7) % 26);
	uint32_t seq = 1;
	for (int i = 0; i < 100; i++) {
		char chunk[1001];
		memcpy(chunk, all + i * 1000, 1000);
		chunk[1000] = 0;
		seg(d, true, seq, chunk);
		seq += 1000;
		assert_new(chunk);
		size_t hist = (size_t)i * 1000 < KN_STREAM_WINDOW ? (size_t)i * 1000 : KN_STREAM_WINDOW;
		assert_int_equal(s.new_off, hist);
		assert_memory_equal(s.stream, all + i * 1000 - s.new_off, s.stream_len);
		assert_int_equal(s.stream_len, hist + 1000);
		/* where the window starts in the stream: absolute offsets
		 * (offset, depth, startswith) count from the stream's start */
		assert_int_equal(s.p.stream_off, (uint64_t)i * 1000 - s.new_off);
	}
	/* a retransmission: nothing new, the same place */
	seg(d, true, seq - 1000, "x");
	assert_int_equal(s.new_off, s.stream_len);
	assert_int_equal(s.p.stream_off, 100000 - s.stream_len);
	kn_decoder_free(d);
}

/* A flood of segments past a gap: held up to the bound, the rest dropped;
 * the gap is given up only when the receiver acknowledges past it (the
 * bytes were lost to the capture), and the stream goes on. */
static void test_ooo_bounds(void **state)
{
	struct kn_decode_config cfg;
	kn_decode_config_init(&cfg);
	cfg.stream_ooo_max = 4096;
	cfg.stream_ooo_max_segs = 8;
	kn_decoder *d = dec(&cfg);
	handshake(d, 40000, 0, 0);
	char chunk[513];
	memset(chunk, 'q', 512);
	chunk[512] = 0;
	struct kn_decode_stats st;
	size_t passed = 0;
	for (uint32_t i = 0; i < 64; i++) {
		seg(d, true, 1 + 100 + i * 512, chunk);
		passed += s.stream_len - s.new_off;
		kn_decoder_stats(d, &st);
		assert_true(st.stream_bytes <= 4096 + 2 * KN_STREAM_WINDOW);
	}
	assert_int_equal(passed, 0);
	assert_int_equal(st.tcp_ooo_held, 8);
	assert_int_equal(st.tcp_ooo_dropped, 56);
	assert_int_equal(st.tcp_gaps, 0);
	/* The server acknowledges past the gap: it was capture loss. */
	seg_at(d, 0, false, 40000, 1, 1 + 100 + 64 * 512, KN_TCP_ACK, NULL, 0);
	seg(d, true, 1 + 100 + 8 * 512, "after");
	static char want[4096 + 6];
	memset(want, 'q', 4096);
	strcpy(want + 4096, "after");
	assert_new(want);
	/* the history is gone, the offsets go on past the 100 lost bytes */
	assert_int_equal(s.new_off, 0);
	assert_int_equal(s.p.stream_off, 100);
	kn_decoder_stats(d, &st);
	assert_int_equal(st.tcp_gaps, 1);
	kn_decoder_free(d);

	/* The memory cap over all flows. */
	kn_decode_config_init(&cfg);
	cfg.stream_memcap = 64 * 1024;
	d = dec(&cfg);
	for (uint16_t c = 0; c < 40; c++) {
		seg_at(d, 0, true, (uint16_t)(1000 + c), 0, 0, KN_TCP_SYN, NULL, 0);
		char data[3000];
		memset(data, 'm', sizeof(data));
		seg_at(d, 0, true, (uint16_t)(1000 + c), 1, 0, KN_TCP_ACK, data, sizeof(data));
		seg_at(d, 0, true, (uint16_t)(1000 + c), 5001, 0, KN_TCP_ACK, data, sizeof(data));
		kn_decoder_stats(d, &st);
		assert_true(st.stream_bytes <= 64 * 1024);
	}
	assert_true(st.stream_memcap_drops + st.tcp_ooo_dropped > 0);
	kn_decoder_free(d);
}

/* An attack: junk sent ahead of the stream (the receiver drops it and
 * never acknowledges it) fills the out-of-order store, then the real
 * bytes come in order. They must be inspected; with gaps given up without
 * an acknowledgement (the positive control) the stream has jumped past
 * them and they pass as old. */
static void test_gap_evasion(void **state)
{
	for (int protect = 1; protect >= 0; protect--) {
		struct kn_decode_config cfg;
		kn_decode_config_init(&cfg);
		cfg.stream_ooo_max = 4096;
		cfg.stream_ooo_max_segs = 8;
		cfg.stream_gap_without_ack = !protect;
		kn_decoder *d = dec(&cfg);
		handshake(d, 40000, 0, 0);
		seg(d, true, 1, "GET /");
		char junk[513];
		memset(junk, 'j', 512);
		junk[512] = 0;
		for (uint32_t i = 0; i < 9; i++)
			seg(d, true, 1 + 5 + 1000 + i * 512, junk);
		seg(d, true, 6, "malicious HTTP/1.0");
		if (protect) {
			assert_new("malicious HTTP/1.0");
			assert_memory_equal(s.stream, "GET /malicious", 14);
		} else {
			assert_int_equal(s.stream_len, s.new_off); /* evaded */
		}
		kn_decoder_free(d);
	}
}

static void udp_at(kn_decoder *d, uint64_t ts, bool to_server, uint16_t cport)
{
	uint8_t l4[64], l3[128];
	const uint8_t *src = to_server ? C4 : S4, *dst = to_server ? S4 : C4;
	uint16_t sp = to_server ? cport : 53, dp = to_server ? 53 : cport;
	size_t n = tb_udp(l4, 4, src, dst, sp, dp, "q", 1);
	n = tb_ip4(l3, src, dst, 17, 1, 0, 0, l4, n);
	s.n = 0;
	assert_int_equal(kn_decode(d, KN_LINK_RAW, ts, ++pkt_no, l3, n, on_packet, &s), 1);
}

static void test_udp_established_and_timeout(void **state)
{
	kn_decoder *d = dec(NULL);
	udp_at(d, 0, true, 3000);
	assert_true(s.p.to_server);
	assert_false(s.p.established);
	uint64_t id = s.flow_id;
	udp_at(d, 1000000, false, 3000);
	assert_false(s.p.to_server);
	assert_true(s.p.established);
	assert_int_equal(s.flow_id, id);
	assert_int_equal(s.p.flow->pkts_toserver, 1);
	assert_int_equal(s.p.flow->pkts_toclient, 1);
	/* One way for longer than other_new_timeout: a new flow. */
	udp_at(d, 10000000, true, 3001);
	uint64_t id2 = s.flow_id;
	udp_at(d, 41000000, true, 3001);
	assert_int_not_equal(s.flow_id, id2);
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_true(st.flows_timed_out >= 1);
	/* The established one lasts other_est_timeout (300 s) from its last packet. */
	udp_at(d, 41000000, true, 3000);
	assert_int_equal(s.flow_id, id);
	kn_decoder_free(d);
}

static void test_flow_table_bounded(void **state)
{
	struct kn_decode_config cfg;
	kn_decode_config_init(&cfg);
	cfg.max_flows = 4;
	kn_decoder *d = dec(&cfg);
	handshake(d, 40000, 0, 0);
	uint64_t est = s.flow_id;
	for (uint16_t c = 0; c < 50; c++)
		udp_at(d, 0, true, (uint16_t)(2000 + c));
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_true(st.flows_active <= 4);
	assert_int_equal(st.flows_evicted, 47);
	/* The established TCP flow outlived the flood of one-way flows. */
	seg(d, true, 1, "still here");
	assert_int_equal(s.flow_id, est);
	assert_new("still here");
	kn_decoder_free(d);
}

static void test_rst_and_reuse(void **state)
{
	kn_decoder *d = dec(NULL);
	handshake(d, 40000, 100, 5000);
	uint64_t id = s.flow_id;
	seg_at(d, 0, false, 40000, 5001, 101, KN_TCP_RST | KN_TCP_ACK, NULL, 0);
	assert_false(s.p.established);
	assert_int_equal(s.flow_id, id);
	seg(d, true, 101, "late");
	assert_false(s.p.established);
	assert_false(s.has_stream);
	handshake(d, 40000, 999, 5000);
	assert_int_not_equal(s.flow_id, id);
	seg(d, true, 1000, "fresh");
	assert_new("fresh");
	/* FIN both ways closes too. */
	seg_at(d, 0, true, 40000, 1005, 5001, KN_TCP_FIN | KN_TCP_ACK, NULL, 0);
	assert_true(s.p.established);
	seg_at(d, 0, false, 40000, 5001, 1006, KN_TCP_FIN | KN_TCP_ACK, NULL, 0);
	assert_false(s.p.established);
	kn_decoder_free(d);
}

static void test_midstream(void **state)
{
	for (int on = 0; on < 2; on++) {
		struct kn_decode_config cfg;
		kn_decode_config_init(&cfg);
		cfg.midstream = on;
		kn_decoder *d = dec(&cfg);
		seg(d, true, 7777, "mid");
		assert_true(s.p.to_server);
		assert_int_equal(s.p.established, on);
		assert_new("mid");
		seg(d, true, 7780, "stream");
		assert_memory_equal(s.stream, "midstream", 9);
		kn_decoder_free(d);
	}
	/* A SYN-ACK first: its sender is the server. */
	kn_decoder *d = dec(NULL);
	seg_at(d, 0, false, 40000, 5000, 101, KN_TCP_SYN | KN_TCP_ACK, NULL, 0);
	assert_false(s.p.to_server);
	seg_at(d, 0, true, 40000, 101, 5001, KN_TCP_ACK, NULL, 0);
	assert_true(s.p.to_server);
	assert_true(s.p.established);
	kn_decoder_free(d);
}

/* With validation on, a forged RST with a bad checksum neither closes the
 * flow nor reaches the stream; with it off, the same RST closes it. */
static void test_bad_checksum_kept_out(void **state)
{
	for (int validate = 1; validate >= 0; validate--) {
		struct kn_decode_config cfg;
		kn_decode_config_init(&cfg);
		cfg.validate_checksums = validate;
		kn_decoder *d = dec(&cfg);
		handshake(d, 40000, 100, 5000);
		uint8_t l4[64], l3[128];
		size_t n = tb_tcp(l4, 4, S4, C4, 80, 40000, 5001, 101, KN_TCP_RST, NULL, 0);
		l4[16] ^= 0x55;
		n = tb_ip4(l3, S4, C4, 6, 1, 0, 0, l4, n);
		assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, ++pkt_no, l3, n, on_packet, &s), 1);
		assert_int_equal(s.p.checksum_bad, validate);
		seg(d, true, 101, "after the forged RST");
		assert_int_equal(s.p.established, validate);
		if (validate)
			assert_new("after the forged RST");
		else
			assert_false(s.has_stream);
		kn_decoder_free(d);
	}
}

/* flow_end: called for flows whose app_flags the application set (the
 * port IDS's bypassed flows), with the client first, and for no other. */
struct ended {
	int n;
	struct kn_flow_tuple t;
	uint64_t flow_id;
};

static void on_flow_end(void *userdata, const struct kn_flow *flow, const struct kn_flow_tuple *t)
{
	struct ended *e = userdata;

	e->n++;
	e->t = *t;
	e->flow_id = flow->id;
}

static void test_flow_end_callback(void **state)
{
	struct kn_decode_config cfg;
	struct ended e = { 0 };
	uint64_t marked;

	(void)state;
	kn_decode_config_init(&cfg);
	cfg.flow_end = on_flow_end;
	cfg.flow_end_userdata = &e;
	kn_decoder *d = dec(&cfg);
	handshake(d, 40001, 1000, 5000);
	seg_at(d, 0, false, 40001, 5001, 1001, KN_TCP_ACK | KN_TCP_PSH, "hello", 5);
	assert_non_null(s.p.flow);
	s.p.flow->app_flags = 1;
	marked = s.p.flow->id;
	handshake(d, 40002, 2000, 6000); /* not marked */
	kn_decoder_free(d);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.flow_id, marked);
	assert_int_equal(e.t.family, 4);
	assert_int_equal(e.t.proto, 6);
	assert_int_equal(e.t.client_port, 40001);
	assert_int_equal(e.t.server_port, 80);
	assert_memory_equal(e.t.client, C4, 4);
	assert_memory_equal(e.t.server, S4, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_split_content),
		cmocka_unit_test(test_retransmission),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_ooo_bounds),
		cmocka_unit_test(test_gap_evasion),
		cmocka_unit_test(test_udp_established_and_timeout),
		cmocka_unit_test(test_flow_table_bounded),
		cmocka_unit_test(test_rst_and_reuse),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_bad_checksum_kept_out),
		cmocka_unit_test(test_flow_end_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
