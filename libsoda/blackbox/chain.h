/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The store's hash chain: the digest of a segment's bytes, in the hash its
 * header names (version 1: BLAKE2b-256, version 2: BLAKE3-256).
 */
#ifndef SODA_BLACKBOX_CHAIN_H
#define SODA_BLACKBOX_CHAIN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <blake3.h>
#include <sodium.h>

#define SBX_CHAIN_BLAKE2B 1 /* segment version 1 */
#define SBX_CHAIN_BLAKE3 2  /* segment version 2 */
#define SBX_CHAIN_DEFAULT SBX_CHAIN_BLAKE3

typedef struct sbx_chain {
	int alg;
	union {
		crypto_generichash_state b2;
		blake3_hasher b3;
	} u;
} sbx_chain;

void sbx_chain_init(sbx_chain *c, int alg);
void sbx_chain_update(sbx_chain *c, const void *p, size_t n);
/* The digest of what went in so far; the chain goes on. */
void sbx_chain_digest(const sbx_chain *c, uint8_t out[32]);
/* The digest of @n bytes at @p. */
void sbx_chain_oneshot(int alg, uint8_t out[32], const void *p, size_t n);

/*
 * The chain on a helper thread. Its owner hands it pieces of a buffer in
 * order and goes on with other work; while pieces are queued the hasher
 * owns the chain state and the owner must neither change those bytes nor
 * touch the chain. sbx_hasher_wait() returns when every piece is hashed:
 * then both are the owner's again. The thread takes no signals.
 */
typedef struct sbx_hasher sbx_hasher;
/* pthread_create() with every signal blocked in the new thread. */
int sbx_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* NULL if the thread cannot start (then hash on the caller's thread). */
sbx_hasher *sbx_hasher_start(sbx_chain *chain);
void sbx_hasher_submit(sbx_hasher *h, const uint8_t *p, size_t n);
/* Returns at once for NULL. */
void sbx_hasher_wait(sbx_hasher *h);
/* @n bytes into @c: through @h when there is one, here otherwise. */
void sbx_chain_feed(sbx_chain *c, sbx_hasher *h, const uint8_t *p, size_t n);
/* Waits, ends the thread, frees; NULL is fine. */
void sbx_hasher_stop(sbx_hasher *h);

#endif
