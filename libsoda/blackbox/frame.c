/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The blackbox format v1: codecs, CRC-32C, key schedule. libc + libsodium. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "frame.h"

/* ---- CRC-32C ----
 * libsodium has no cheap checksum and the in-guest writer may use nothing
 * but libc and libsodium, so the few lines are here. The checksum only
 * localises accidental damage and lets the host resynchronise on a noisy
 * line; integrity against intent comes from the hash chain and the AEAD. */

#define CRC_POLY 0x82F63B78u /* Castagnoli, bit-reflected */
/* With SSE 4.2 the CRC of long inputs runs as three interleaved streams of
 * LANE bytes (the instruction takes three cycles, one can start each
 * cycle), joined by shifting a stream's CRC over LANE zero bytes. */
#define LANE 336

static uint32_t crc_table[256];
static uint32_t lane_shift[4][256]; /* the raw CRC after LANE zero bytes, by byte */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* GF(2) 32x32 matrices as the images of the 32 bits. */
static uint32_t gf2_apply(const uint32_t m[32], uint32_t v)
{
	uint32_t r = 0;

	for (int i = 0; v; i++, v >>= 1)
		if (v & 1)
			r ^= m[i];
	return r;
}

static void gf2_compose(uint32_t out[32], const uint32_t a[32], const uint32_t b[32])
{
	uint32_t t[32];

	for (int i = 0; i < 32; i++)
		t[i] = gf2_apply(a, b[i]);
	memcpy(out, t, sizeof(t));
}

static void crc_init(void)
{
	uint32_t step[32], op[32];
	uint64_t bits = 8u * LANE;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC_POLY & (0u - (c & 1)));
		crc_table[i] = c;
	}
	/* One zero bit moves the state right, folding the polynomial in; the
	 * operator for LANE zero bytes is its (8 * LANE)th power. */
	step[0] = CRC_POLY;
	for (int i = 1; i < 32; i++)
		step[i] = 1u << (i - 1);
	for (int i = 0; i < 32; i++)
		op[i] = 1u << i;
	for (; bits; bits >>= 1) {
		if (bits & 1)
			gf2_compose(op, step, op);
		gf2_compose(step, step, step);
	}
	for (int k = 0; k < 4; k++)
		for (uint32_t i = 0; i < 256; i++)
			lane_shift[k][i] = gf2_apply(op, i << (8 * k));
}

static uint32_t shift_lane(uint32_t c)
{
	return lane_shift[0][c & 0xff] ^ lane_shift[1][(c >> 8) & 0xff] ^
	       lane_shift[2][(c >> 16) & 0xff] ^ lane_shift[3][c >> 24];
}

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c;

	if (n >= 3 * LANE)
		pthread_once(&crc_once, crc_init);
	/* The CRC is linear: that of A then B is that of A shifted over
	 * |B| zero bytes, XOR that of B from zero. */
	while (n >= 3 * LANE) {
		uint64_t a = crc, b = 0, d = 0;

		for (size_t i = 0; i < LANE; i += 8) {
			uint64_t x, y, z;

			memcpy(&x, p + i, 8);
			memcpy(&y, p + LANE + i, 8);
			memcpy(&z, p + 2 * LANE + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			d = __builtin_ia32_crc32di(d, z);
		}
		crc = shift_lane(shift_lane((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)d;
		p += 3 * LANE;
		n -= 3 * LANE;
	}
	c = crc;

	while (n >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}

static int have_sse42(void)
{
	static int cached = -1;

	if (cached < 0) {
		__builtin_cpu_init();
		cached = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	}
	return cached;
}
#endif

uint32_t sbx_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (have_sse42())
		return ~crc_hw(crc, p, len);
#endif
	return ~crc_sw(crc, p, len);
}

/* ---- frame header ---- */

static bool kind_known(unsigned k)
{
	return sbx_kind_is_stream(k) || sbx_kind_is_notice(k);
}

void sbx_header_encode_ad(uint8_t out[SBX_AD_BYTES], const sbx_header *h)
{
	out[0] = SBX_MAGIC_0;
	out[1] = SBX_MAGIC_1;
	out[2] = SBX_MAGIC_2;
	out[3] = SBX_MAGIC_3;
	out[4] = SBX_VERSION;
	out[5] = h->kind;
	sbx_put16(out + 6, h->flags);
	sbx_put32(out + 8, h->len);
	sbx_put32(out + 12, h->epoch);
	memcpy(out + 16, h->stream, SBX_STREAM_ID_BYTES);
	sbx_put64(out + 32, h->seq);
	sbx_put64(out + 40, h->time_usec);
}

void sbx_header_encode(uint8_t out[SBX_HEADER_BYTES], sbx_header *h, const uint8_t *payload)
{
	uint32_t crc;

	sbx_header_encode_ad(out, h);
	crc = sbx_crc32c(0, out, SBX_AD_BYTES);
	if (h->len)
		crc = sbx_crc32c(crc, payload, h->len);
	h->crc = crc;
	sbx_put32(out + 48, crc);
}

void sbx_header_finish_crc(uint8_t *frame, sbx_header *h)
{
	uint32_t crc = sbx_crc32c(0, frame, SBX_AD_BYTES);

	if (h->len)
		crc = sbx_crc32c(crc, frame + SBX_HEADER_BYTES, h->len);
	h->crc = crc;
	sbx_put32(frame + 48, crc);
}

int sbx_header_decode(sbx_header *h, const uint8_t *p)
{
	if (!sbx_is_magic(p) || p[4] != SBX_VERSION || !kind_known(p[5]))
		return -EBADMSG;
	h->kind = p[5];
	h->flags = sbx_get16(p + 6);
	h->len = sbx_get32(p + 8);
	h->epoch = sbx_get32(p + 12);
	memcpy(h->stream, p + 16, SBX_STREAM_ID_BYTES);
	h->seq = sbx_get64(p + 32);
	h->time_usec = sbx_get64(p + 40);
	h->crc = sbx_get32(p + 48);
	if (h->flags != 0 || h->len > SBX_MAX_PAYLOAD)
		return -EBADMSG;
	return 0;
}

bool sbx_frame_crc_ok(const uint8_t *frame, const sbx_header *h)
{
	uint32_t crc = sbx_crc32c(0, frame, SBX_AD_BYTES);

	if (h->len)
		crc = sbx_crc32c(crc, frame + SBX_HEADER_BYTES, h->len);
	return crc == h->crc;
}

size_t sbx_find_magic(const uint8_t *p, size_t len, size_t from)
{
	while (from < len) {
		const uint8_t *q = memchr(p + from, SBX_MAGIC_0, len - from);
		size_t i, avail;

		if (!q)
			return len;
		i = (size_t)(q - p);
		avail = len - i;
		if (avail < 4) {
			/* Keep a possible magic cut at the end of the data. */
			static const uint8_t m[4] = { SBX_MAGIC_0, SBX_MAGIC_1, SBX_MAGIC_2, SBX_MAGIC_3 };

			if (memcmp(p + i, m, avail) == 0)
				return i;
			from = i + 1;
			continue;
		}
		if (sbx_is_magic(p + i))
			return i;
		from = i + 1;
	}
	return len;
}

/* ---- START parameters ---- */

void sbx_start_params_encode(uint8_t out[SBX_START_PARAMS_BYTES], const sbx_start_params *p)
{
	size_t n = strnlen(p->label, SBX_LABEL_BYTES);

	memset(out, 0, SBX_START_PARAMS_BYTES);
	out[0] = p->origin;
	out[1] = p->suite;
	sbx_put32(out + 4, p->heartbeat_ms);
	sbx_put32(out + 8, p->rekey_ms);
	memcpy(out + 16, p->key_id, SBX_KEY_ID_BYTES);
	memcpy(out + 24, p->label, n);
}

int sbx_start_params_decode(sbx_start_params *p, const uint8_t in[SBX_START_PARAMS_BYTES])
{
	size_t n;

	memset(p, 0, sizeof(*p));
	p->origin = in[0];
	p->suite = in[1];
	p->heartbeat_ms = sbx_get32(in + 4);
	p->rekey_ms = sbx_get32(in + 8);
	memcpy(p->key_id, in + 16, SBX_KEY_ID_BYTES);
	memcpy(p->label, in + 24, SBX_LABEL_BYTES);
	p->label[SBX_LABEL_BYTES] = '\0';
	n = strlen(p->label);
	/* Padding must be zeros; reserved bytes too. */
	for (size_t i = n; i < SBX_LABEL_BYTES; i++)
		if (in[24 + i])
			return -EBADMSG;
	if (in[2] || in[3] || sbx_get32(in + 12))
		return -EBADMSG;
	if ((p->origin != SBX_ORIGIN_GUEST && p->origin != SBX_ORIGIN_HOST) || p->suite != SBX_SUITE_1)
		return -EBADMSG;
	return 0;
}

/* ---- record header ---- */

void sbx_record_header_encode(uint8_t out[SBX_RECORD_HEADER_BYTES], const sbx_record_header *r)
{
	out[0] = r->type;
	out[1] = r->flags;
	out[2] = 0;
	out[3] = 0;
	sbx_put32(out + 4, r->aux);
	sbx_put64(out + 8, r->mono_usec);
}

int sbx_record_header_decode(sbx_record_header *r, const uint8_t *in, size_t len)
{
	if (len < SBX_RECORD_HEADER_BYTES)
		return -EBADMSG;
	r->type = in[0];
	r->flags = in[1];
	r->aux = sbx_get32(in + 4);
	r->mono_usec = sbx_get64(in + 8);
	if (r->type == 0 || r->type > SBX_R_MAX ||
	    (r->flags & ~(SBX_RECORD_F_CONTINUED | SBX_RECORD_F_LINES)) ||
	    (r->flags & SBX_RECORD_F_LINES &&
	     (r->flags & SBX_RECORD_F_CONTINUED || r->type != SBX_R_TEXT)) ||
	    in[2] || in[3])
		return -EBADMSG;
	return 0;
}

/* ---- key schedule ---- */

void sbx_key_id(uint8_t out[SBX_KEY_ID_BYTES], const uint8_t box_pk[32])
{
	static const char label[] = "soda-bb key id v1";
	crypto_generichash_state st;
	uint8_t h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, box_pk, 32);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, h, SBX_KEY_ID_BYTES);
}

static void keyed(uint8_t out[32], const uint8_t key[32], const char label[16], const uint8_t *a,
		  size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, 16);
	if (alen)
		crypto_generichash_update(&st, a, alen);
	if (blen)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

void sbx_ratchet_first(uint8_t out[32], const uint8_t k0[32], const uint8_t stream[16])
{
	keyed(out, k0, "soda-bb ratchet0", stream, 16, NULL, 0);
}

void sbx_ratchet_next(uint8_t r[32])
{
	uint8_t next[32];

	keyed(next, r, "soda-bb ratchet+", NULL, 0, NULL, 0);
	memcpy(r, next, 32);
	sodium_memzero(next, sizeof(next));
}

void sbx_epoch_key(uint8_t out[32], const uint8_t r[32], const uint8_t stream[16], uint64_t epoch)
{
	uint8_t e[8];

	sbx_put64(e, epoch);
	keyed(out, r, "soda-bb stream  ", stream, 16, e, 8);
}
