/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's hash chain, in BLAKE2b (libsodium) or BLAKE3 (the BLAKE3
 * team's C implementation, built from Debian's librust-blake3-dev). */
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
