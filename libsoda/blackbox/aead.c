/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Secretstream messages from two parts, step by step (see aead.h for why the
 * bytes are libsodium's), with a 16-block AVX-512 ChaCha20. */
#include <string.h>

#include "aead.h"

/* The state's 12-byte nonce: a 4-byte little-endian counter, then the
 * 8-byte inner nonce (libsodium's layout, not in its headers). */
#define SS_COUNTERBYTES 4
#define SS_INONCEBYTES 8
_Static_assert(sizeof(((sbx_ss_state *)0)->nonce) == SS_COUNTERBYTES + SS_INONCEBYTES &&
		       sizeof(((sbx_ss_state *)0)->k) == 32,
	       "libsodium's secretstream state");

#define CHUNK 1024 /* 16 ChaCha20 blocks */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_CODE 1

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define QR(a, b, c, d)                                                                    \
	do {                                                                              \
		a = _mm512_add_epi32(a, b), d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16); \
		c = _mm512_add_epi32(c, d), b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12); \
		a = _mm512_add_epi32(a, b), d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);  \
		c = _mm512_add_epi32(c, d), b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);  \
	} while (0)

/* out = in ^ the keystream of blocks @ctr.. (RFC 8439 ChaCha20, 96-bit
 * nonce), @len a multiple of CHUNK: lane j of vector i computes word i of
 * block ctr + j; a 16 x 16 transpose turns that into 16 blocks. */
__attribute__((target("avx512f"))) static void chacha_avx512(uint8_t *out, const uint8_t *in,
							     size_t len, const uint8_t key[32],
							     const uint8_t nonce[12], uint32_t ctr)
{
	const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	uint32_t s[16] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };

	for (int i = 0; i < 8; i++)
		s[4 + i] = le32(key + 4 * i);
	for (int i = 0; i < 3; i++)
		s[13 + i] = le32(nonce + 4 * i);
	for (size_t off = 0; off < len; off += CHUNK, ctr += 16) {
		__m512i x[16], o[16], t[16];

		for (int i = 0; i < 16; i++)
			o[i] = x[i] = _mm512_set1_epi32((int)s[i]);
		o[12] = x[12] = _mm512_add_epi32(_mm512_set1_epi32((int)ctr), lanes);
		for (int r = 0; r < 10; r++) {
			QR(x[0], x[4], x[8], x[12]);
			QR(x[1], x[5], x[9], x[13]);
			QR(x[2], x[6], x[10], x[14]);
			QR(x[3], x[7], x[11], x[15]);
			QR(x[0], x[5], x[10], x[15]);
			QR(x[1], x[6], x[11], x[12]);
			QR(x[2], x[7], x[8], x[13]);
			QR(x[3], x[4], x[9], x[14]);
		}
		for (int i = 0; i < 16; i++)
			x[i] = _mm512_add_epi32(x[i], o[i]);
		/* Pairs of words, then quads, then 128-bit lanes across vectors. */
		for (int i = 0; i < 16; i += 2) {
			t[i] = _mm512_unpacklo_epi32(x[i], x[i + 1]);
			t[i + 1] = _mm512_unpackhi_epi32(x[i], x[i + 1]);
		}
		for (int i = 0; i < 16; i += 4) {
			x[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
			x[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
			x[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
			x[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
		}
		for (int g = 0; g < 16; g += 8)
			for (int k = 0; k < 4; k++) {
				t[g / 2 + k] = _mm512_shuffle_i32x4(x[g + k], x[g + 4 + k], 0x88);
				t[g / 2 + k + 8] = _mm512_shuffle_i32x4(x[g + k], x[g + 4 + k], 0xdd);
			}
		for (int k = 0; k < 4; k++) {
			x[k] = _mm512_shuffle_i32x4(t[k], t[4 + k], 0x88);
			x[k + 8] = _mm512_shuffle_i32x4(t[k], t[4 + k], 0xdd);
			x[k + 4] = _mm512_shuffle_i32x4(t[8 + k], t[12 + k], 0x88);
			x[k + 12] = _mm512_shuffle_i32x4(t[8 + k], t[12 + k], 0xdd);
		}
		for (int i = 0; i < 16; i++)
			_mm512_storeu_si512(out + off + 64 * i,
					    _mm512_xor_si512(_mm512_loadu_si512(in + off + 64 * i), x[i]));
	}
}
#endif

/* -1 not yet looked, 0 no, 1 yes; allowed by tests. Writers of several
 * threads may look at once: they find the same, and the accesses are
 * atomic. */
static int avx512_state = -1;
static int avx512_allowed = 1;

int sbx_aead_avx512(int allow)
{
	int have = __atomic_load_n(&avx512_state, __ATOMIC_RELAXED);

	if (have < 0) {
#ifdef HAVE_AVX512_CODE
		__builtin_cpu_init();
		/* GCC checks that the kernel saves the ZMM state (XCR0) too. */
		have = __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
		have = 0;
#endif
		__atomic_store_n(&avx512_state, have, __ATOMIC_RELAXED);
	}
	if (allow >= 0)
		__atomic_store_n(&avx512_allowed, allow != 0, __ATOMIC_RELAXED);
	return have == 1 && __atomic_load_n(&avx512_allowed, __ATOMIC_RELAXED);
}

/* out = in ^ keystream from block @ic: whole chunks with AVX-512 if there,
 * the rest (or all) with libsodium. */
static void chacha_xor(uint8_t *out, const uint8_t *in, size_t len, const sbx_ss_state *st,
		       uint32_t ic)
{
	size_t bulk = 0;

	if (!len)
		return;
#ifdef HAVE_AVX512_CODE
	if (len >= CHUNK && sbx_aead_avx512(-1)) {
		bulk = len & ~(size_t)(CHUNK - 1);
		chacha_avx512(out, in, bulk, st->k, st->nonce, ic);
	}
#endif
	if (len > bulk)
		crypto_stream_chacha20_ietf_xor_ic(out + bulk, in + bulk, len - bulk, st->nonce,
						   ic + (uint32_t)(bulk / 64), st->k);
}

/* E(p1 || p2) from block 2 into @c: p1's whole blocks, a block that joins
 * p1's rest and p2's start, then p2 from a block boundary. */
static void encrypt_parts(uint8_t *c, const uint8_t *p1, size_t l1, const uint8_t *p2, size_t l2,
			  const sbx_ss_state *st)
{
	size_t whole = l1 & ~(size_t)63, rest = l1 - whole;
	uint32_t ic = 2 + (uint32_t)(whole / 64);

	chacha_xor(c, p1, whole, st, 2);
	c += whole;
	if (rest) {
		uint8_t block[64];
		size_t take = l2 < 64 - rest ? l2 : 64 - rest;

		memcpy(block, p1 + whole, rest);
		memcpy(block + rest, p2, take);
		crypto_stream_chacha20_ietf_xor_ic(block, block, rest + take, st->nonce, ic, st->k);
		memcpy(c, block, rest + take);
		sodium_memzero(block, sizeof(block));
		c += rest + take;
		p2 += take;
		l2 -= take;
		ic++;
	}
	chacha_xor(c, p2, l2, st, ic);
}

static void push_steps(sbx_ss_state *st, uint8_t *c, const uint8_t *p1, size_t l1,
		       const uint8_t *p2, size_t l2, const uint8_t *ad, size_t adlen, uint8_t tag)
{
	static const uint8_t pad0[16];
	crypto_onetimeauth_poly1305_state poly;
	uint8_t block[64], lens[16], *mac;
	size_t mlen = l1 + l2;

	crypto_stream_chacha20_ietf(block, sizeof(block), st->nonce, st->k);
	crypto_onetimeauth_poly1305_init(&poly, block);
	crypto_onetimeauth_poly1305_update(&poly, ad, adlen);
	crypto_onetimeauth_poly1305_update(&poly, pad0, (0x10 - adlen) & 0xf);
	memset(block, 0, sizeof(block));
	block[0] = tag;
	crypto_stream_chacha20_ietf_xor_ic(block, block, sizeof(block), st->nonce, 1, st->k);
	crypto_onetimeauth_poly1305_update(&poly, block, sizeof(block));
	c[0] = block[0];
	/* E(B) past its first byte is keystream of block 1. */
	sodium_memzero(block, sizeof(block));
	encrypt_parts(c + 1, p1, l1, p2, l2, st);
	crypto_onetimeauth_poly1305_update(&poly, c + 1, mlen);
	crypto_onetimeauth_poly1305_update(&poly, pad0, (0x10 - sizeof(block) + mlen) & 0xf);
	for (int i = 0; i < 8; i++) {
		lens[i] = (uint8_t)((uint64_t)adlen >> (8 * i));
		lens[8 + i] = (uint8_t)((uint64_t)(sizeof(block) + mlen) >> (8 * i));
	}
	crypto_onetimeauth_poly1305_update(&poly, lens, sizeof(lens));
	mac = c + 1 + mlen;
	crypto_onetimeauth_poly1305_final(&poly, mac);
	sodium_memzero(&poly, sizeof(poly));
	/* The state moves as crypto_secretstream_xchacha20poly1305_push()
	 * moves it. */
	for (size_t i = 0; i < SS_INONCEBYTES; i++)
		st->nonce[SS_COUNTERBYTES + i] ^= mac[i];
	sodium_increment(st->nonce, SS_COUNTERBYTES);
	if ((tag & crypto_secretstream_xchacha20poly1305_TAG_REKEY) ||
	    sodium_is_zero(st->nonce, SS_COUNTERBYTES))
		crypto_secretstream_xchacha20poly1305_rekey(st);
}

void sbx_ss_push2(sbx_ss_state *st, uint8_t *c, const uint8_t *p1, size_t l1, const uint8_t *p2,
		  size_t l2, const uint8_t *ad, size_t adlen, uint8_t tag, uint8_t *scratch)
{
	static const uint8_t none[1];

	/* An empty part may be NULL; no pointer arithmetic on NULL below. */
	if (!p1)
		p1 = none, l1 = 0;
	if (!p2)
		p2 = none, l2 = 0;
	if (!ad)
		ad = none, adlen = 0;
	/* Up to 256 MiB: far from the 32-bit block counter's end (records are
	 * at most 64 KiB). */
	if (l1 + l2 >= SBX_AEAD_STEPS_MIN && l1 + l2 <= ((size_t)256 << 20)) {
		push_steps(st, c, p1, l1, p2, l2, ad, adlen, tag);
		return;
	}
	memcpy(scratch, p1, l1);
	memcpy(scratch + l1, p2, l2);
	crypto_secretstream_xchacha20poly1305_push(st, c, NULL, scratch, l1 + l2, ad, adlen, tag);
	sodium_memzero(scratch, l1 + l2);
}
