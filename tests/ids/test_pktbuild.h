/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frames for the decoder's tests, built by hand: each function writes one
 * layer around what the caller already built and returns its length.
 * Checksums are right unless the test spoils them.
 */
#ifndef SODA_TEST_PKTBUILD_H
#define SODA_TEST_PKTBUILD_H

#include <stdint.h>
#include <string.h>

static inline uint32_t tb_sum(uint32_t sum, const uint8_t *b, size_t len)
{
	for (; len > 1; b += 2, len -= 2)
		sum += (uint32_t)(b[0] << 8 | b[1]);
	if (len)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

static inline uint16_t tb_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void tb_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void tb_put32(uint8_t *b, uint32_t v)
{
	tb_put16(b, (uint16_t)(v >> 16));
	tb_put16(b + 2, (uint16_t)v);
}

/* The transport checksum at csum_off of l4, over the pseudo-header. */
static inline void tb_l4sum(uint8_t *l4, size_t len, size_t csum_off, int fam,
			    const uint8_t *src, const uint8_t *dst, uint8_t proto)
{
	size_t alen = fam == 4 ? 4 : 16;
	l4[csum_off] = l4[csum_off + 1] = 0;
	uint32_t s = tb_sum(0, src, alen);
	s = tb_sum(s, dst, alen);
	s += proto + (uint32_t)len;
	tb_put16(l4 + csum_off, tb_fold(tb_sum(s, l4, len)));
}

static inline size_t tb_tcp(uint8_t *o, int fam, const uint8_t *src, const uint8_t *dst,
			    uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
			    const void *pl, size_t plen)
{
	memset(o, 0, 20);
	tb_put16(o, sp);
	tb_put16(o + 2, dp);
	tb_put32(o + 4, seq);
	tb_put32(o + 8, ack);
	o[12] = 5 << 4;
	o[13] = flags;
	tb_put16(o + 14, 65535);
	if (plen)
		memcpy(o + 20, pl, plen);
	tb_l4sum(o, 20 + plen, 16, fam, src, dst, 6);
	return 20 + plen;
}

static inline size_t tb_udp(uint8_t *o, int fam, const uint8_t *src, const uint8_t *dst,
			    uint16_t sp, uint16_t dp, const void *pl, size_t plen)
{
	tb_put16(o, sp);
	tb_put16(o + 2, dp);
	tb_put16(o + 4, (uint16_t)(8 + plen));
	if (plen)
		memcpy(o + 8, pl, plen);
	tb_l4sum(o, 8 + plen, 6, fam, src, dst, 17);
	return 8 + plen;
}

static inline size_t tb_icmp(uint8_t *o, uint8_t type, uint8_t code, const void *pl, size_t plen)
{
	o[0] = type;
	o[1] = code;
	o[2] = o[3] = 0;
	if (plen)
		memcpy(o + 4, pl, plen);
	tb_put16(o + 2, tb_fold(tb_sum(0, o, 4 + plen)));
	return 4 + plen;
}

/* An IPv4 header (with optlen bytes of NOP options) in front of l4. */
static inline size_t tb_ip4(uint8_t *o, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			    uint16_t id, uint16_t frag, size_t optlen, const uint8_t *l4, size_t l4len)
{
	size_t hl = 20 + optlen;
	memset(o, 0, hl);
	o[0] = (uint8_t)(0x40 | hl / 4);
	tb_put16(o + 2, (uint16_t)(hl + l4len));
	tb_put16(o + 4, id);
	tb_put16(o + 6, frag);
	o[8] = 64;
	o[9] = proto;
	memcpy(o + 12, src, 4);
	memcpy(o + 16, dst, 4);
	memset(o + 20, 1, optlen);
	tb_put16(o + 10, tb_fold(tb_sum(0, o, hl)));
	memmove(o + hl, l4, l4len);
	return hl + l4len;
}

/* An IPv6 fixed header in front of rest (extension headers and l4). */
static inline size_t tb_ip6(uint8_t *o, const uint8_t *src, const uint8_t *dst, uint8_t nh,
			    const uint8_t *rest, size_t len)
{
	memset(o, 0, 40);
	o[0] = 0x60;
	tb_put16(o + 4, (uint16_t)len);
	o[6] = nh;
	o[7] = 64;
	memcpy(o + 8, src, 16);
	memcpy(o + 24, dst, 16);
	memmove(o + 40, rest, len);
	return 40 + len;
}

/* Ethernet (and VLAN tags, outermost first, with their TPIDs) around l3. */
static inline size_t tb_eth(uint8_t *o, uint16_t type, const uint16_t *tpid,
			    const uint16_t *vid, int ntags, const uint8_t *l3, size_t len)
{
	size_t h = 12;
	memset(o, 0, 12);
	o[0] = 0x02, o[5] = 0x01, o[6] = 0x02, o[11] = 0x02;
	for (int i = 0; i < ntags; i++, h += 4) {
		tb_put16(o + h, tpid[i]);
		tb_put16(o + h + 2, vid[i]);
	}
	tb_put16(o + h, type);
	memmove(o + h + 2, l3, len);
	return h + 2 + len;
}

#endif
