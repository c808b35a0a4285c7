/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's hash chain, in BLAKE2b (libsodium) or BLAKE3 (the BLAKE3
 * team's C implementation, built from Debian's librust-blake3-dev). */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"

void sbx_chain_init(sbx_chain *c, int alg)
{
	c->alg = alg;
	if (alg == SBX_CHAIN_BLAKE3)
		blake3_hasher_init(&c->u.b3);
	else
		crypto_generichash_init(&c->u.b2, NULL, 0, 32);
}

void sbx_chain_update(sbx_chain *c, const void *p, size_t n)
{
	if (c->alg == SBX_CHAIN_BLAKE3)
		blake3_hasher_update(&c->u.b3, p, n);
	else
		crypto_generichash_update(&c->u.b2, p, n);
}

void sbx_chain_digest(const sbx_chain *c, uint8_t out[32])
{
	if (c->alg == SBX_CHAIN_BLAKE3) {
		blake3_hasher_finalize(&c->u.b3, out, 32); /* leaves the state as it was */
	} else {
		crypto_generichash_state copy = c->u.b2;

		crypto_generichash_final(&copy, out, 32);
	}
}

void sbx_chain_oneshot(int alg, uint8_t out[32], const void *p, size_t n)
{
	sbx_chain c;

	sbx_chain_init(&c, alg);
	sbx_chain_update(&c, p, n);
	sbx_chain_digest(&c, out);
}

/* ---- the helper thread ---- */

#define QUEUE 32

struct sbx_hasher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	struct {
		const uint8_t *p;
		size_t n;
	} q[QUEUE];
	size_t head, count;
	bool busy, stop;
	sbx_chain *chain;
};

static void *hasher_main(void *arg)
{
	sbx_hasher *h = arg;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		const uint8_t *p;
		size_t n;

		while (!h->count && !h->stop)
			pthread_cond_wait(&h->work, &h->mu);
		if (!h->count)
			break;
		p = h->q[h->head].p;
		n = h->q[h->head].n;
		h->busy = true;
		pthread_mutex_unlock(&h->mu);
		sbx_chain_update(h->chain, p, n);
		pthread_mutex_lock(&h->mu);
		h->busy = false;
		h->head = (h->head + 1) % QUEUE;
		h->count--;
		pthread_cond_broadcast(&h->idle);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int sbx_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

void sbx_chain_feed(sbx_chain *c, sbx_hasher *h, const uint8_t *p, size_t n)
{
	if (h)
		sbx_hasher_submit(h, p, n);
	else
		sbx_chain_update(c, p, n);
}

sbx_hasher *sbx_hasher_start(sbx_chain *chain)
{
	sbx_hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->chain = chain;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->work, NULL);
	pthread_cond_init(&h->idle, NULL);
	if (sbx_thread_start(&h->thread, hasher_main, h) != 0) {
		pthread_cond_destroy(&h->idle);
		pthread_cond_destroy(&h->work);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return NULL;
	}
	return h;
}

void sbx_hasher_submit(sbx_hasher *h, const uint8_t *p, size_t n)
{
	pthread_mutex_lock(&h->mu);
	while (h->count == QUEUE)
		pthread_cond_wait(&h->idle, &h->mu);
	h->q[(h->head + h->count) % QUEUE].p = p;
	h->q[(h->head + h->count) % QUEUE].n = n;
	h->count++;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->mu);
}

void sbx_hasher_wait(sbx_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	while (h->count || h->busy)
		pthread_cond_wait(&h->idle, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

void sbx_hasher_stop(sbx_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->idle);
	pthread_cond_destroy(&h->work);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
