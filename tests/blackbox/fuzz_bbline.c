/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the host store's line parser, the part of the host a guest
 * talks to. The input is what a guest writes on its blackbox line (frames,
 * garbage, both), fed in two pieces cut where the input's first byte says;
 * the store must take it without crashing and stay verifiable: its only
 * errors are the foreign streams and bytes the line carried.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <soda/blackbox.h>

#include "fuzzdir.h"
#include "fuzzkey.h"

static soda_blackbox_key *public_key(void)
{
	static soda_blackbox_key *pub;

	if (!pub) {
		soda_blackbox_key *k = NULL;

		if (soda_blackbox_key_parse(&k, bb_fuzz_key, strlen(bb_fuzz_key), "fuzzkey", 0,
					    NULL) < 0 ||
		    soda_blackbox_key_get_public(&pub, k, NULL) < 0)
			abort();
		soda_blackbox_key_free(k);
	}
	return pub;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_blackbox_store *st = NULL;
	soda_blackbox_report *rep = NULL;
	char dir[64];
	size_t cut = size ? (size_t)data[0] * size / 256 : 0;

	snprintf(dir, sizeof(dir), "/tmp/soda-fuzz-bbline-%d", (int)getpid());
	o.durability = SODA_BLACKBOX_DURABILITY_WRITE;
	o.label = "fuzz";
	/* Both retention policies, as the input's last byte says. */
	if (soda_blackbox_store_open(&st, dir, public_key(), &o,
				     size && (data[size - 1] & 1) ? SODA_BLACKBOX_STORE_DROP_OLDEST : 0,
				     NULL) < 0)
		abort();
	soda_blackbox_store_feed(st, data, cut, 0, NULL);
	soda_blackbox_store_feed(st, data + cut, size - cut, SODA_BLACKBOX_FEED_EOF, NULL);
	soda_blackbox_store_host_event(st, SODA_BLACKBOX_LIFECYCLE, 0, "fuzz", 4, 0, NULL);
	soda_blackbox_store_close(st, 0, NULL);
	/* Whatever the line carried, what the store wrote is its own, whole:
	 * the only damage is what the line itself carried (a foreign stream,
	 * bytes that were not the server's stream), never the store's. */
	if (soda_blackbox_verify(&rep, dir, NULL, 0, NULL) < 0)
		abort();
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++) {
		const soda_blackbox_finding *f = soda_blackbox_report_get_finding(rep, i);

		if (soda_blackbox_finding_get_severity(f) == SODA_BLACKBOX_SEVERITY_ERROR &&
		    soda_blackbox_finding_get_kind(f) != SODA_BLACKBOX_F_FOREIGN_STREAM) {
			fprintf(stderr, "the store is damaged after feeding %zu bytes: %s\n", size,
				soda_blackbox_finding_get_message(f));
			abort();
		}
	}
	soda_blackbox_report_free(rep);
	bb_fuzz_rmdir(dir);
	return 0;
}
