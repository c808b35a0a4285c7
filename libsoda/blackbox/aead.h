/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Secretstream messages sealed from two parts, without a copy, with a fast
 * ChaCha20.
 *
 * crypto_secretstream_xchacha20poly1305_push() of a message M with tag T
 * takes, under the state's key K and 96-bit nonce N: the Poly1305 key from
 * ChaCha20 block 0; E(B), B a 64-byte block holding T and zeros, from block
 * 1 (the message keeps its first byte); E(M) from block 2; the Poly1305 tag
 * of ad, (16 - |ad|) mod 16 zeros, E(B), E(M), (16 - 64 + |M|) mod 16 zeros
 * (libsodium's padding, not RFC 8439's), le64(|ad|) and le64(64 + |M|);
 * then the tag's first 8 bytes are XORed into the inner nonce, the counter
 * is incremented, and a rekey follows on TAG_REKEY or a wrapped counter.
 *
 * sbx_ss_push2() does the same steps itself, so that the plaintext can be in
 * two places (the record header, the caller's body) and needs no copy, and
 * so that ChaCha20 can run 16 blocks at a time with AVX-512 where the CPU
 * has it (5.3 GB/s here against libsodium 1.0.18's 2.2 GB/s), and Poly1305
 * eight blocks at a time (sbx_poly below). That matters in a UML guest, whose one CPU also carries the
 * line (docs/performance.md). The bytes are libsodium's: the format does not
 * change, readers need nothing new, and tests/blackbox/test_bb_aead.c checks
 * the equality against libsodium for many lengths, splits, tags and rekeys,
 * with and without AVX-512.
 */
#ifndef SODA_BLACKBOX_AEAD_H
#define SODA_BLACKBOX_AEAD_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

typedef crypto_secretstream_xchacha20poly1305_state sbx_ss_state;

/* Messages shorter than this go through libsodium's push (in @scratch):
 * for them its one call is as fast as the steps or faster (bench-seal, on
 * AVX-512: 0.81 of it at 1 KiB, 0.99 at 2 KiB, 1.15 at 3 KiB, 1.8 at 64 KiB;
 * without AVX-512 the steps gain only by the copy they save, from about
 * 16 KiB). */
#define SBX_AEAD_STEPS_MIN 2048
#define SBX_AEAD_STEPS_MIN_PORTABLE 16384

/* The threshold in force: SBX_AEAD_STEPS_MIN with AVX-512, else
 * SBX_AEAD_STEPS_MIN_PORTABLE. */
size_t sbx_aead_steps_min(void);

/* Seals one message whose plaintext is @p1 (@l1 bytes) followed by @p2 (@l2
 * bytes) into @c, which receives l1 + l2 + ABYTES bytes: the same bytes, and
 * the same state afterwards, as crypto_secretstream_xchacha20poly1305_push()
 * of the concatenation. A message shorter than sbx_aead_steps_min() is pushed
 * by libsodium from @scratch (l1 + l2 bytes, wiped afterwards). @c must not
 * overlap the plaintext. */
void sbx_ss_push2(sbx_ss_state *st, uint8_t *c, const uint8_t *p1, size_t l1, const uint8_t *p2,
		  size_t l2, const uint8_t *ad, size_t adlen, uint8_t tag, uint8_t *scratch);

/* crypto_secretstream_xchacha20poly1305_pull(), the same results and the
 * same state afterwards (unchanged where it fails), with ChaCha20 and
 * Poly1305 on AVX-512 for messages of SBX_AEAD_STEPS_MIN bytes or more where
 * the CPU has it; libsodium's pull otherwise (with libsodium's parts the
 * steps gain nothing here: there is no copy to save). @m must not overlap @in. */
int sbx_ss_pull(sbx_ss_state *st, uint8_t *m, unsigned long long *mlen, unsigned char *tag,
		const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen);

/* Poly1305 (RFC 8439), the same tags as crypto_onetimeauth_poly1305: the
 * bulk of a long update runs eight blocks at a time on AVX-512 where the
 * CPU has it (and sbx_aead_avx512() allows), the rest in scalar code.
 * sbx_ss_push2() uses it with the AVX-512 ChaCha20, libsodium's without. */
typedef struct {
	uint64_t r[3], h[3], pad[2];
	uint64_t rlast[5][8]; /* r^8..r^1 in 26-bit limbs, once needed */
	uint8_t buf[16];
	size_t fill;
	int powers;
} sbx_poly;

void sbx_poly_init(sbx_poly *st, const uint8_t key[32]);
void sbx_poly_update(sbx_poly *st, const uint8_t *m, size_t len);
/* Writes the tag and wipes the state. */
void sbx_poly_final(sbx_poly *st, uint8_t mac[16]);

/* Whether ChaCha20 and Poly1305 run with AVX-512 here; @allow 0 turns it off and 1 back
 * on where the CPU has it (tests compare both ways). */
int sbx_aead_avx512(int allow);

#endif
