/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort's decoder (libsoda/ids/decode.c) on frames built by hand: the
 * fields of Ethernet, 802.1Q/QinQ, raw-IP and Linux cooked frames, IPv4
 * with options, IPv6 with extension headers, TCP, UDP, ICMP and ICMPv6;
 * every truncation of a valid frame counted and skipped; IPv4 and IPv6
 * fragments reassembled out of order, overlaps keeping the first bytes,
 * the fragment bounds (memory, trackers, time) holding; checksums checked
 * only when asked.
 */
#define _GNU_SOURCE
#include <errno.h>
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

static const uint8_t A4[4] = { 198, 51, 100, 1 }, B4[4] = { 203, 0, 113, 2 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* What the callback saw (copied: the packet is borrowed). */
struct seen {
	int n;
	struct kn_packet p;
	uint8_t payload[70000];
	size_t ip_len;
};

static void on_packet(void *userdata, struct kn_packet *p)
{
	struct seen *s = userdata;
	s->n++;
	s->p = *p;
	memcpy(s->payload, p->payload, p->payload_len);
	s->ip_len = p->ip_len;
}

static kn_decoder *new_decoder(bool checksums)
{
	struct kn_decode_config cfg;
	kn_decode_config_init(&cfg);
	cfg.validate_checksums = checksums;
	kn_decoder *d = NULL;
	assert_int_equal(kn_decoder_new(&d, &cfg), 0);
	return d;
}

static size_t tcp4_frame(uint8_t *f, const char *data)
{
	uint8_t l4[2000], l3[2100];
	size_t n = tb_tcp(l4, 4, A4, B4, 40000, 80, 1000, 0, KN_TCP_ACK | KN_TCP_PSH, data,
			  strlen(data));
	n = tb_ip4(l3, A4, B4, 6, 77, 0, 0, l4, n);
	return tb_eth(f, 0x0800, NULL, NULL, 0, l3, n);
}

static void test_ethernet_ipv4_tcp(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	uint8_t f[2200];
	size_t n = tcp4_frame(f, "hello");
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 5000000, 7, f, n, on_packet, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.p.family, 4);
	assert_memory_equal(s.p.src, A4, 4);
	assert_memory_equal(s.p.dst, B4, 4);
	assert_int_equal(s.p.ip_proto, 6);
	assert_int_equal(s.p.ttl, 64);
	assert_int_equal(s.p.ip_id, 77);
	assert_int_equal(s.p.sport, 40000);
	assert_int_equal(s.p.dport, 80);
	assert_int_equal(s.p.tcp_seq, 1000);
	assert_int_equal(s.p.tcp_flags, KN_TCP_ACK | KN_TCP_PSH);
	assert_int_equal(s.p.pcap_cnt, 7);
	assert_int_equal(s.p.ts_usec, 5000000);
	assert_int_equal(s.p.payload_len, 5);
	assert_memory_equal(s.payload, "hello", 5);
	assert_int_equal(s.ip_len, 20 + 20 + 5);
	assert_false(s.p.checksum_bad);
	assert_false(s.p.reassembled);
	assert_non_null(s.p.flow);
	assert_true(s.p.to_server);
	kn_decoder_free(d);
}

static void test_ipv4_options_and_padding(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	uint8_t l4[100], l3[200], f[300];
	size_t n = tb_udp(l4, 4, A4, B4, 53, 5353, "dns?", 4);
	n = tb_ip4(l3, A4, B4, 17, 1, 0, 12, l4, n);
	n = tb_eth(f, 0x0800, NULL, NULL, 0, l3, n);
	memset(f + n, 0xee, 10); /* Ethernet padding after the datagram */
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 1, f, n + 10, on_packet, &s), 1);
	assert_int_equal(s.p.sport, 53);
	assert_int_equal(s.p.dport, 5353);
	assert_int_equal(s.p.payload_len, 4);
	assert_memory_equal(s.payload, "dns?", 4);
	assert_int_equal(s.ip_len, 32 + 12);
	kn_decoder_free(d);
}

static void test_vlan_qinq(void **state)
{
	kn_decoder *d = new_decoder(false);
	static struct seen s;
	uint8_t l4[100], l3[200], f[300];
	size_t n4 = tb_udp(l4, 4, A4, B4, 1, 2, "x", 1);
	size_t n3 = tb_ip4(l3, A4, B4, 17, 1, 0, 0, l4, n4);
	uint16_t tp1[] = { 0x8100 }, v1[] = { 100 };
	size_t n = tb_eth(f, 0x0800, tp1, v1, 1, l3, n3);
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 1, f, n, on_packet, &s), 1);
	assert_int_equal(s.p.vlan[0], 100);
	assert_int_equal(s.p.vlan[1], 0);
	uint16_t tp2[] = { 0x88a8, 0x8100 }, v2[] = { 0x2000 | 300, 42 };
	n = tb_eth(f, 0x0800, tp2, v2, 2, l3, n3);
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 2, f, n, on_packet, &s), 1);
	assert_int_equal(s.p.vlan[0], 300); /* the priority bits are not the id */
	assert_int_equal(s.p.vlan[1], 42);
	assert_memory_equal(s.payload, "x", 1);
	/* Two VLANs apart are two flows. */
	assert_int_not_equal(s.p.flow->id, 1);
	/* Four tags: beyond what we take. */
	uint16_t tp4[] = { 0x88a8, 0x8100, 0x8100, 0x8100 }, v4[] = { 1, 2, 3, 4 };
	n = tb_eth(f, 0x0800, tp4, v4, 4, l3, n3);
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	uint64_t errs = st.decode_errors;
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 3, f, n, on_packet, &s), 0);
	kn_decoder_stats(d, &st);
	assert_int_equal(st.decode_errors, errs + 1);
	kn_decoder_free(d);
}

static void test_raw_and_cooked(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	uint8_t l4[100], l3[200], f[300];
	size_t n4 = tb_udp(l4, 6, A6, B6, 7, 9, "six", 3);
	size_t n3 = tb_ip6(l3, A6, B6, 17, l4, n4);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 1, l3, n3, on_packet, &s), 1);
	assert_int_equal(s.p.family, 6);
	assert_memory_equal(s.p.src, A6, 16);
	assert_int_equal(s.p.dport, 9);
	assert_int_equal(kn_decode(d, KN_LINK_IPV6, 0, 2, l3, n3, on_packet, &s), 1);
	assert_int_equal(kn_decode(d, KN_LINK_IPV4, 0, 3, l3, n3, on_packet, &s), 0);
	/* Linux cooked v1: protocol at 14; v2: at 0. */
	memset(f, 0, 16);
	tb_put16(f + 14, 0x86dd);
	memcpy(f + 16, l3, n3);
	s.n = 0;
	assert_int_equal(kn_decode(d, KN_LINK_SLL, 0, 4, f, 16 + n3, on_packet, &s), 1);
	assert_memory_equal(s.payload, "six", 3);
	memset(f, 0, 20);
	tb_put16(f, 0x86dd);
	memcpy(f + 20, l3, n3);
	assert_int_equal(kn_decode(d, KN_LINK_SLL2, 0, 5, f, 20 + n3, on_packet, &s), 1);
	assert_int_equal(s.n, 2);
	assert_int_equal(kn_link_from_dlt(1), KN_LINK_ETHERNET);
	assert_int_equal(kn_link_from_dlt(12), KN_LINK_RAW);
	assert_int_equal(kn_link_from_dlt(101), KN_LINK_RAW);
	assert_int_equal(kn_link_from_dlt(113), KN_LINK_SLL);
	assert_true(kn_link_from_dlt(105) < 0);
	assert_int_equal(kn_decode(d, (enum kn_link)99, 0, 6, f, 20, on_packet, &s), -EINVAL);
	kn_decoder_free(d);
}

static void test_ipv6_extension_headers(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	uint8_t rest[300], l3[400];
	/* hop-by-hop (8) -> routing (24) -> destination options (16) -> TCP */
	size_t o = 0;
	memset(rest, 0, sizeof(rest));
	rest[o] = 43, rest[o + 1] = 0, o += 8;
	rest[o] = 60, rest[o + 1] = 2, rest[o + 2] = 0, rest[o + 3] = 0, o += 24;
	rest[o] = 6, rest[o + 1] = 1, o += 16;
	size_t n4 = tb_tcp(rest + o, 6, A6, B6, 1234, 443, 5, 0, KN_TCP_SYN, "syn", 3);
	size_t n3 = tb_ip6(l3, A6, B6, 0, rest, o + n4);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 1, l3, n3, on_packet, &s), 1);
	assert_int_equal(s.p.ip_proto, 6);
	assert_int_equal(s.p.dport, 443);
	assert_false(s.p.checksum_bad);
	assert_memory_equal(s.payload, "syn", 3);
	/* ICMPv6 (echo request) */
	uint8_t l4[64];
	size_t n = tb_icmp(l4, 128, 0, "ping", 4);
	tb_l4sum(l4, n, 2, 6, A6, B6, 58);
	n3 = tb_ip6(l3, A6, B6, 58, l4, n);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 2, l3, n3, on_packet, &s), 1);
	assert_int_equal(s.p.ip_proto, 58);
	assert_int_equal(s.p.icmp_type, 128);
	assert_int_equal(s.p.payload_len, 4);
	assert_false(s.p.checksum_bad);
	/* An extension header running past the payload. */
	rest[1] = 200;
	n3 = tb_ip6(l3, A6, B6, 0, rest, o + n4);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 3, l3, n3, on_packet, &s), 0);
	kn_decoder_free(d);
}

static void test_icmp(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	uint8_t l4[64], l3[128];
	size_t n = tb_icmp(l4, 8, 0, "\0\1\0\1abc", 7);
	n = tb_ip4(l3, A4, B4, 1, 3, 0, 0, l4, n);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 1, l3, n, on_packet, &s), 1);
	assert_int_equal(s.p.icmp_type, 8);
	assert_int_equal(s.p.payload_len, 7);
	assert_int_equal(s.p.sport, 0);
	assert_false(s.p.checksum_bad);
	kn_decoder_free(d);
}

/* Every strict prefix of a valid frame is short of what its headers say:
 * counted, never delivered, never read past (ASan watches). */
static void test_truncation(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	uint8_t f[2200];
	size_t n = tcp4_frame(f, "0123456789");
	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, f, len);
		s.n = 0;
		assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, len + 1, copy, len, on_packet, &s), 0);
		assert_int_equal(s.n, 0);
		free(copy);
	}
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_int_equal(st.decode_errors, n);
	assert_int_equal(st.delivered, 0);
	/* A TCP data offset past the segment. */
	uint8_t l4[64], l3[128];
	size_t n4 = tb_tcp(l4, 4, A4, B4, 1, 2, 0, 0, 0, NULL, 0);
	l4[12] = 0xf0;
	size_t n3 = tb_ip4(l3, A4, B4, 6, 1, 0, 0, l4, n4);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 1, l3, n3, on_packet, &s), 0);
	/* IHL below 5, UDP length past the datagram. */
	n3 = tb_ip4(l3, A4, B4, 6, 1, 0, 0, l4, n4);
	l3[0] = 0x44;
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 1, l3, n3, on_packet, &s), 0);
	n4 = tb_udp(l4, 4, A4, B4, 1, 2, "ab", 2);
	tb_put16(l4 + 4, 40);
	n3 = tb_ip4(l3, A4, B4, 17, 1, 0, 0, l4, n4);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 1, l3, n3, on_packet, &s), 0);
	kn_decoder_stats(d, &st);
	assert_int_equal(st.decode_errors, n + 3);
	/* ARP is not IP: skipped, counted apart. */
	uint8_t arp[60] = { 0 };
	tb_put16(arp + 12, 0x0806);
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 1, arp, 60, on_packet, &s), 0);
	kn_decoder_stats(d, &st);
	assert_int_equal(st.not_ip, 1);
	kn_decoder_free(d);
}

/* A UDP datagram of 3000 bytes in fragments of `step` (a multiple of 8),
 * fed in the order given; returns what was delivered. */
static uint8_t big[3000];

static size_t frag4(uint8_t *out, uint16_t id, uint32_t off, bool more, const uint8_t *data,
		    size_t len)
{
	return tb_ip4(out, A4, B4, 17, id, (uint16_t)((more ? 0x2000 : 0) | off / 8), 0, data, len);
}

static void test_ipv4_fragments_out_of_order(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	static uint8_t dgram[3100], f[3200];
	size_t n = tb_udp(dgram, 4, A4, B4, 5000, 53, big, sizeof(big));
	/* three fragments, last first, then first, then middle */
	size_t cut1 = 1000, cut2 = 2000;
	size_t len = frag4(f, 9, (uint32_t)cut2, false, dgram + cut2, n - cut2);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 1000000, 1, f, len, on_packet, &s), 0);
	len = frag4(f, 9, 0, true, dgram, cut1);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 1000000, 2, f, len, on_packet, &s), 0);
	assert_int_equal(s.n, 0);
	len = frag4(f, 9, (uint32_t)cut1, true, dgram + cut1, cut2 - cut1);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 1000000, 3, f, len, on_packet, &s), 1);
	assert_int_equal(s.n, 1);
	assert_true(s.p.reassembled);
	assert_int_equal(s.p.pcap_cnt, 3);
	assert_int_equal(s.p.dport, 53);
	assert_int_equal(s.p.payload_len, sizeof(big));
	assert_memory_equal(s.payload, big, sizeof(big));
	assert_false(s.p.checksum_bad); /* the rebuilt header and the UDP sum hold */
	assert_int_equal(s.ip_len, 20 + n);
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_int_equal(st.frag_reassembled, 1);
	assert_int_equal(st.frag_bytes, 0);
	kn_decoder_free(d);
}

/* Overlapping fragments: the bytes that came first stay. */
static void test_ipv4_fragment_overlap_first_wins(void **state)
{
	kn_decoder *d = new_decoder(false);
	static struct seen s;
	uint8_t dgram[64], alt[64], f[200];
	uint8_t pl[40];
	memset(pl, 'A', sizeof(pl));
	size_t n = tb_udp(dgram, 4, A4, B4, 1, 2, pl, sizeof(pl)); /* 48 bytes */
	memset(alt, 'B', sizeof(alt));
	/* [16,32) of B's first, then A's [0,40) over it, then A's end. */
	size_t len = frag4(f, 5, 16, true, alt, 16);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 1, f, len, on_packet, &s), 0);
	len = frag4(f, 5, 0, true, dgram, 40);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 2, f, len, on_packet, &s), 0);
	len = frag4(f, 5, 40, false, dgram + 40, n - 40);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, 3, f, len, on_packet, &s), 1);
	uint8_t want[40];
	memset(want, 'A', 40);
	memset(want + 8, 'B', 16); /* datagram bytes 16..31 = payload bytes 8..23 */
	assert_int_equal(s.p.payload_len, 40);
	assert_memory_equal(s.payload, want, 40);
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_int_equal(st.frag_overlaps, 1);
	kn_decoder_free(d);
}

static void test_ipv6_fragments(void **state)
{
	kn_decoder *d = new_decoder(true);
	static struct seen s;
	static uint8_t dgram[3100], rest[3200], f[3300];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	size_t n = tb_udp(dgram, 6, A6, B6, 6000, 53, big, sizeof(big));
	size_t cuts[] = { 0, 1232, 2464, n };
	int order[] = { 2, 0, 1 };
	for (int k = 0; k < 3; k++) {
		int i = order[k];
		/* a destination-options header before the fragment header */
		memset(rest, 0, 8);
		rest[0] = 44;
		uint8_t *fh = rest + 8;
		fh[0] = 17;
		fh[1] = 0;
		tb_put16(fh + 2, (uint16_t)(cuts[i] | (i < 2 ? 1 : 0)));
		tb_put32(fh + 4, 0xabcdef01);
		memcpy(fh + 8, dgram + cuts[i], cuts[i + 1] - cuts[i]);
		size_t len = tb_ip6(f, A6, B6, 60, rest, 16 + cuts[i + 1] - cuts[i]);
		int r = kn_decode(d, KN_LINK_RAW, 0, (uint64_t)k + 1, f, len, on_packet, &s);
		assert_int_equal(r, k == 2 ? 1 : 0);
	}
	assert_int_equal(s.n, 1);
	assert_true(s.p.reassembled);
	assert_int_equal(s.p.ip_proto, 17);
	assert_int_equal(s.p.payload_len, sizeof(big));
	assert_memory_equal(s.payload, big, sizeof(big));
	assert_false(s.p.checksum_bad);
	kn_decoder_free(d);
}

/* A reassembled IPv6 datagram whose payload is another fragment: refused
 * (each level would recurse into the decoder again). */
static void test_ipv6_fragment_in_fragment(void **state)
{
	kn_decoder *d = new_decoder(false);
	static struct seen s;
	uint8_t inner[16] = { 17, 0, 0, 8, 0, 0, 0, 2, 'i', 'n', 'n', 'e', 'r', '!', '!', '!' };
	uint8_t rest[64], f[128];
	for (int i = 0; i < 2; i++) {
		uint8_t *fh = rest;
		fh[0] = 44; /* what the datagram carries: a fragment header */
		fh[1] = 0;
		tb_put16(fh + 2, (uint16_t)(i * 8 | (i == 0 ? 1 : 0)));
		tb_put32(fh + 4, 1);
		memcpy(fh + 8, inner + i * 8, 8);
		size_t len = tb_ip6(f, A6, B6, 44, rest, 16);
		assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, (uint64_t)i + 1, f, len, on_packet, &s), 0);
	}
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_int_equal(st.frag_reassembled, 1);
	assert_int_equal(st.frag_fragments, 2); /* the inner one not taken */
	assert_int_equal(st.decode_errors, 1);
	kn_decoder_free(d);
}

/* Fragment memory stays under its cap; old datagrams make room; a datagram
 * older than the timeout is given up. */
static void test_fragment_bounds(void **state)
{
	struct kn_decode_config cfg;
	kn_decode_config_init(&cfg);
	cfg.frag_memcap = 4096;
	cfg.frag_max_trackers = 8;
	cfg.frag_timeout = 10;
	kn_decoder *d = NULL;
	assert_int_equal(kn_decoder_new(&d, &cfg), 0);
	static struct seen s;
	uint8_t data[1100], f[1200], pl[1024];
	memset(pl, 'z', sizeof(pl));
	tb_udp(data, 4, A4, B4, 1, 2, pl, sizeof(pl)); /* 1032 bytes: 1024 + 8 */
	struct kn_decode_stats st;
	for (uint16_t id = 0; id < 100; id++) {
		size_t len = frag4(f, id, 0, true, data, 1024);
		assert_int_equal(kn_decode(d, KN_LINK_RAW, 0, id, f, len, on_packet, &s), 0);
		kn_decoder_stats(d, &st);
		assert_true(st.frag_bytes <= 4096);
	}
	assert_int_equal(st.frag_fragments, 100);
	assert_true(st.frag_dropped >= 96);
	/* id 99's first half is held; its second half, in time, completes it */
	size_t len = frag4(f, 99, 1024, false, data + 1024, 8);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 5000000, 101, f, len, on_packet, &s), 1);
	/* id 98's, 11 s after its first: gone */
	len = frag4(f, 98, 1024, false, data + 1024, 8);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 11000000, 102, f, len, on_packet, &s), 0);
	kn_decoder_stats(d, &st);
	assert_int_equal(st.frag_reassembled, 1);
	/* A fragment reaching past 65535 bytes. */
	len = frag4(f, 7, 65528, false, data, 16);
	assert_int_equal(kn_decode(d, KN_LINK_RAW, 11000000, 103, f, len, on_packet, &s), 0);
	kn_decoder_stats(d, &st);
	assert_true(st.decode_errors >= 1);
	kn_decoder_free(d);
}

static void test_checksums(void **state)
{
	static struct seen s;
	uint8_t f[2200];
	size_t n = tcp4_frame(f, "payload");
	f[n - 1] ^= 0xff; /* the TCP checksum no longer holds */
	kn_decoder *d = new_decoder(false);
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 1, f, n, on_packet, &s), 1);
	assert_false(s.p.checksum_bad);
	kn_decoder_free(d);
	d = new_decoder(true);
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 1, f, n, on_packet, &s), 1);
	assert_true(s.p.checksum_bad);
	assert_null(s.p.stream); /* kept out of the stream */
	f[n - 1] ^= 0xff;
	f[14 + 8] ^= 1; /* the TTL: the IPv4 header checksum fails */
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 2, f, n, on_packet, &s), 1);
	assert_true(s.p.checksum_bad);
	f[14 + 8] ^= 1;
	assert_int_equal(kn_decode(d, KN_LINK_ETHERNET, 0, 3, f, n, on_packet, &s), 1);
	assert_false(s.p.checksum_bad);
	struct kn_decode_stats st;
	kn_decoder_stats(d, &st);
	assert_int_equal(st.checksum_bad, 2);
	kn_decoder_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_ipv4_tcp),
		cmocka_unit_test(test_ipv4_options_and_padding),
		cmocka_unit_test(test_vlan_qinq),
		cmocka_unit_test(test_raw_and_cooked),
		cmocka_unit_test(test_ipv6_extension_headers),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_ipv4_fragments_out_of_order),
		cmocka_unit_test(test_ipv4_fragment_overlap_first_wins),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_ipv6_fragment_in_fragment),
		cmocka_unit_test(test_fragment_bounds),
		cmocka_unit_test(test_checksums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
