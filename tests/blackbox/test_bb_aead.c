/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The writer's own sealing steps (libsoda/blackbox/aead.c) against
 * libsodium: for many lengths, splits of the plaintext into its two parts,
 * additional data and tags, through rekeys and a wrapping counter,
 * sbx_ss_push2() must give the bytes and the state that
 * crypto_secretstream_xchacha20poly1305_push() gives for the concatenation,
 * and libsodium's pull must open them; with ChaCha20 on AVX-512 (where the
 * CPU has it) and without.
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
	sbx_ss_state ref, fast, pull;
};

static void start(struct pair *p)
{
	uint8_t key[32], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];

	randombytes_buf(key, sizeof(key));
	crypto_secretstream_xchacha20poly1305_init_push(&p->ref, header, key);
	p->fast = p->ref;
	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&p->pull, header, key), 0);
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
	return len >= SBX_AEAD_STEPS_MIN;
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
	assert_true(steps > total / 2);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_avx512),
		cmocka_unit_test(test_portable),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
