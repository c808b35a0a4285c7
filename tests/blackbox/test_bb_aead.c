/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The writer's own sealing steps (libsoda/blackbox/aead.c) against
 * libsodium: for many lengths, splits of the plaintext into its two parts,
 * additional data and tags, through rekeys and a wrapping counter,
 * sbx_ss_push2() must give the bytes and the state that
 * crypto_secretstream_xchacha20poly1305_push() gives for the concatenation,
 * and libsodium's pull must open them; with ChaCha20 on AVX-512 (where the
 * CPU has it) and without; sbx_ss_pull() must open them as libsodium's
 * pull does and refuse them altered. Our Poly1305 (sbx_poly) alone against
 * RFC 8439's vector and libsodium's crypto_onetimeauth_poly1305, for many
 * keys, lengths and ways of cutting the updates, both ways too.
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

#include "libsoda/blackbox/aead.h"

#define MAX_MSG (70 * 1024)
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

static uint8_t msg[MAX_MSG], scratch[MAX_MSG], ad[64];
static uint8_t want[MAX_MSG + ABYTES], got[MAX_MSG + ABYTES + 1], opened[MAX_MSG];

struct pair {
	sbx_ss_state ref, fast, pull, fpull;
};

static void start(struct pair *p)
{
	uint8_t key[32], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];

	randombytes_buf(key, sizeof(key));
	crypto_secretstream_xchacha20poly1305_init_push(&p->ref, header, key);
	p->fast = p->ref;
	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&p->pull, header, key), 0);
	p->fpull = p->pull;
}

static uint8_t fopened[MAX_MSG + 1];

/* sbx_ss_pull() of @c opens what libsodium's pull opened (@len bytes,
 * @tag), and the states agree; a copy of @c with a bit flipped, or the
 * wrong additional data, is refused both ways and leaves the state as it
 * was. */
static void pull_both_ways(struct pair *p, const uint8_t *c, size_t len, uint8_t tag)
{
	static uint8_t bad[MAX_MSG + ABYTES];
	unsigned long long flen = 0, rlen = 0;
	unsigned char ftag = 0xff, rtag;
	sbx_ss_state before = p->fpull, ref = p->fpull;
	size_t clen = len + ABYTES;
	const size_t flips[] = { 0, 1, clen / 2, clen - ABYTES, clen - 1 };

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, c, clen);
		bad[flips[i]] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(sbx_ss_pull(&p->fpull, fopened, &flen, &ftag, bad, clen, ad, 0), -1);
		assert_int_equal(crypto_secretstream_xchacha20poly1305_pull(
					 &ref, opened, &rlen, &rtag, bad, clen, ad, 0),
				 -1);
		assert_memory_equal(&p->fpull, &before, sizeof(before));
	}
	assert_int_equal(sbx_ss_pull(&p->fpull, fopened, &flen, &ftag, c, clen - 1, ad, 0), -1);
	assert_int_equal(sbx_ss_pull(&p->fpull, fopened, &flen, &ftag, c, ABYTES - 1, ad, 0), -1);
	assert_memory_equal(&p->fpull, &before, sizeof(before));
	(void)tag;
}


/* One message both ways; returns whether it went by the steps. */
static int one(struct pair *p, size_t len, size_t split, size_t adlen, uint8_t tag)
{
	unsigned long long olen = 0;
	unsigned char otag = 0xff;

	randombytes_buf(msg, len);
	randombytes_buf(ad, adlen);
	crypto_secretstream_xchacha20poly1305_push(&p->ref, want, NULL, msg, len, ad, adlen, tag);
	memset(got, 0xa5, len + ABYTES + 1);
	sbx_ss_push2(&p->fast, got, msg, split, msg + split, len - split, ad, adlen, tag, scratch);
	if (memcmp(want, got, len + ABYTES) != 0 || got[len + ABYTES] != 0xa5) {
		fprintf(stderr, "len %zu split %zu ad %zu tag %u: bytes differ\n", len, split, adlen,
			tag);
		fail();
	}
	if (memcmp(&p->ref.k, &p->fast.k, sizeof(p->ref.k)) != 0 ||
	    memcmp(&p->ref.nonce, &p->fast.nonce, sizeof(p->ref.nonce)) != 0) {
		fprintf(stderr, "len %zu split %zu ad %zu tag %u: state differs\n", len, split, adlen,
			tag);
		fail();
	}
	assert_int_equal(crypto_secretstream_xchacha20poly1305_pull(&p->pull, opened, &olen, &otag,
								    got, len + ABYTES, ad, adlen),
			 0);
	assert_int_equal(olen, len);
	assert_int_equal(otag, tag);
	assert_memory_equal(opened, msg, len);
	/* Our pull: refuses what is altered, opens what is not. */
	if (adlen == 0)
		pull_both_ways(p, got, len, tag);
	olen = 0, otag = 0xff;
	memset(fopened, 0x5a, len + 1);
	assert_int_equal(sbx_ss_pull(&p->fpull, fopened, &olen, &otag, got, len + ABYTES, ad, adlen),
			 0);
	assert_int_equal(olen, len);
	assert_int_equal(otag, tag);
	assert_memory_equal(fopened, msg, len);
	assert_int_equal(fopened[len], 0x5a);
	assert_memory_equal(&p->fpull, &p->pull, sizeof(p->pull));
	return len >= sbx_aead_steps_min();
}

static void run_all(unsigned *fast, unsigned *total)
{
	static const size_t lens[] = { 0,    1,    15,   16,	 17,	63,    64,    65,
				       127,  128,  1023, 1024, 1025,	4095,  4096,  4097,
				       9999, 16384, 65535, 65536, 65551, 65552, MAX_MSG };
	static const uint8_t tags[] = { 0, crypto_secretstream_xchacha20poly1305_TAG_PUSH,
					crypto_secretstream_xchacha20poly1305_TAG_REKEY };
	struct pair p;

	start(&p);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		const size_t splits[] = { 0, len < 16 ? len : 16, len / 2, len < 1 ? 0 : len - 1,
					  len };

		for (size_t s = 0; s < sizeof(splits) / sizeof(splits[0]); s++)
			for (size_t t = 0; t < sizeof(tags); t++)
				for (size_t adlen = 0; adlen <= 48; adlen += 24) {
					*fast += one(&p, len, splits[s], adlen, tags[t]);
					(*total)++;
				}
	}
	/* Random ones: lengths, splits and additional data. */
	for (int i = 0; i < 300; i++) {
		size_t len = randombytes_uniform(MAX_MSG + 1);

		*fast += one(&p, len, randombytes_uniform((uint32_t)len + 1),
			     randombytes_uniform(sizeof(ad) + 1), 0);
		(*total)++;
	}
	/* The counter wraps: both rekey. */
	for (int wrap = 0; wrap < 2; wrap++) {
		memset(p.ref.nonce, 0xff, 4);
		memcpy(p.fast.nonce, p.ref.nonce, 4);
		memcpy(p.pull.nonce, p.ref.nonce, 4);
		memcpy(p.fpull.nonce, p.ref.nonce, 4);
		*fast += one(&p, 5000, 16, 48, 0);
		*fast += one(&p, 5000, 16, 48, 0);
		*total += 2;
	}
	/* The final tag, last. */
	*fast += one(&p, 4096, 16, 48, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	(*total)++;
}

/* The same, through @avx512 or not, and the scratch buffer is wiped. */
static void run_way(int avx512)
{
	unsigned steps = 0, total = 0;
	static const uint8_t zero[MAX_MSG];
	int on = sbx_aead_avx512(avx512);

	if (avx512 && !on) {
		print_message("this CPU has no AVX-512: the portable steps only\n");
		skip();
	}
	assert_int_equal(on, avx512);
	run_all(&steps, &total);
	sbx_aead_avx512(1);
	/* Both ways of sealing were taken, many times each. */
	assert_true(steps >= 100 && total - steps >= 100);
	assert_memory_equal(scratch, zero, sizeof(zero));
	print_message("%u messages, %u by the steps (ChaCha20 %s)\n", total, steps,
		      avx512 ? "on AVX-512" : "libsodium's");
}

static void test_avx512(void **state)
{
	run_way(1);
}

static void test_portable(void **state)
{
	run_way(0);
}

/* Our tag of @len bytes at @m, fed in pieces of @piece bytes (0: one
 * update; SIZE_MAX: random pieces), against libsodium's. */
static void poly_one(const uint8_t key[32], const uint8_t *m, size_t len, size_t piece)
{
	uint8_t want_tag[16], got_tag[16];
	sbx_poly st;
	size_t off = 0;

	crypto_onetimeauth_poly1305(want_tag, m, len, key);
	sbx_poly_init(&st, key);
	while (off < len) {
		size_t n = piece == 0	      ? len - off
			   : piece == SIZE_MAX ? randombytes_uniform((uint32_t)(len - off) + 1)
					       : piece;

		if (n > len - off)
			n = len - off;
		sbx_poly_update(&st, m + off, n);
		off += n;
	}
	sbx_poly_final(&st, got_tag);
	if (memcmp(want_tag, got_tag, 16) != 0) {
		fprintf(stderr, "poly1305: len %zu pieces of %zu: tags differ\n", len, piece);
		fail();
	}
}

static void poly_way(int avx512)
{
	/* RFC 8439, 2.5.2. */
	static const uint8_t rfc_key[32] = {
		0x85, 0xd6, 0xbe, 0x78, 0x57, 0x55, 0x6d, 0x33, 0x7f, 0x44, 0x52,
		0xfe, 0x42, 0xd5, 0x06, 0xa8, 0x01, 0x03, 0x80, 0x8a, 0xfb, 0x0d,
		0xb2, 0xfd, 0x4a, 0xbf, 0xf6, 0xaf, 0x41, 0x49, 0xf5, 0x1b
	};
	static const uint8_t rfc_tag[16] = { 0xa8, 0x06, 0x1d, 0xc1, 0x30, 0x51, 0x36, 0xc6,
					     0xc2, 0x2b, 0x8b, 0xaf, 0x0c, 0x01, 0x27, 0xa9 };
	static const char rfc_msg[] = "Cryptographic Forum Research Group";
	static const size_t lens[] = { 0,    1,	   15,	 16,   17,   127,  128,	 129,
				       1023, 1024, 1025, 1151, 1152, 1153, 2047, 2048,
				       2049, 4096, 9999, 65535, 65536, 65600, MAX_MSG };
	uint8_t key[32], tag[16];
	sbx_poly st;
	unsigned n = 0;

	if (sbx_aead_avx512(avx512) != avx512) {
		print_message("this CPU has no AVX-512: the scalar Poly1305 only\n");
		sbx_aead_avx512(1);
		skip();
	}
	sbx_poly_init(&st, rfc_key);
	sbx_poly_update(&st, (const uint8_t *)rfc_msg, sizeof(rfc_msg) - 1);
	sbx_poly_final(&st, tag);
	assert_memory_equal(tag, rfc_tag, 16);
	/* RFC 8439 A.3's edge cases (the accumulator at or past p, carries
	 * through every limb): vectors 5 to 9 and 11 (r, s, text). */
	{
		static const struct {
			uint8_t r0, r8, s, len;
			uint8_t text[48];
		} edges[] = {
			{ 2, 0, 0x00, 16, { [0 ... 15] = 0xff } },
			{ 2, 0, 0xff, 16, { 2 } },
			{ 1, 0, 0x00, 48, { [0 ... 15] = 0xff, 0xf0, [17 ... 31] = 0xff, 0x11 } },
			{ 1, 0, 0x00, 48, { [0 ... 15] = 0xff, 0xfb, [17 ... 31] = 0xfe, [32 ... 47] = 1 } },
			{ 2, 0, 0x00, 16, { 0xfd, [1 ... 15] = 0xff } },
			{ 1, 4, 0x00, 48, { 0xe3, 0x35, 0x94, 0xd7, 0x50, 0x5e, 0x43, 0xb9, [16] = 0x33,
					    0x94, 0xd7, 0x50, 0x5e, 0x43, 0x79, 0xcd, 1 } },
		};
		static const uint8_t tag5[16] = { 3 };

		for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
			memset(key, 0, sizeof(key));
			key[0] = edges[i].r0;
			key[8] = edges[i].r8;
			memset(key + 16, edges[i].s, 16);
			poly_one(key, edges[i].text, edges[i].len, 0);
			poly_one(key, edges[i].text, edges[i].len, 1);
			if (i == 0) {
				sbx_poly_init(&st, key);
				sbx_poly_update(&st, edges[i].text, edges[i].len);
				sbx_poly_final(&st, tag);
				assert_memory_equal(tag, tag5, 16);
			}
		}
	}
	for (int k = 0; k < 40; k++) {
		/* Random keys; then the largest r (all clamp bits) and s, and
		 * messages of 0xff, which keep every limb at its largest; and r
		 * = 0. */
		if (k == 0 || k == 1)
			memset(key, k == 0 ? 0xff : 0, sizeof(key));
		else
			randombytes_buf(key, sizeof(key));
		if (k < 2 || k % 8 == 2)
			memset(msg, 0xff, MAX_MSG);
		else
			randombytes_buf(msg, MAX_MSG);
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			static const size_t pieces[] = { 0, 1, 16, 100, 128, 1024, SIZE_MAX };

			for (size_t j = 0; j < sizeof(pieces) / sizeof(pieces[0]); j++) {
				if (pieces[j] == 1 && lens[i] > 4096)
					continue;
				poly_one(key, msg, lens[i], pieces[j]);
				n++;
			}
		}
		for (int r = 0; r < 20; r++, n++)
			poly_one(key, msg, randombytes_uniform(MAX_MSG + 1), SIZE_MAX);
	}
	sbx_aead_avx512(1);
	print_message("%u tags (Poly1305 %s)\n", n, avx512 ? "on AVX-512" : "scalar");
}

static void test_poly1305_avx512(void **state)
{
	poly_way(1);
}

static void test_poly1305_scalar(void **state)
{
	poly_way(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_avx512),
		cmocka_unit_test(test_portable),
		cmocka_unit_test(test_poly1305_avx512),
		cmocka_unit_test(test_poly1305_scalar),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
