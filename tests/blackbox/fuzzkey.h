/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A fixed tenant key for the blackbox fuzz targets and their seeds: the
 * seeds are sealed to it, so that the reader's decryption paths are reached.
 * A test key: it protects nothing. */
#ifndef SODA_BB_FUZZKEY_H
#define SODA_BB_FUZZKEY_H

static const char bb_fuzz_key[] =
	"soda-blackbox-key 1\n"
	"type tenant\n"
	"part secret\n"
	"id 4d34d3955810973f\n"
	"box-public 40511bc3d3443403f8a4e627d3d11ad355c18cc9f06b8b4103c1139bef82205a\n"
	"sign-public 5ebfaa3efafcb1471f30774b2cc7ba5c421dc5a92abff8911074c4796f232254\n"
	"box-secret 22992c083c34147df587d2e3d6a3422e347fde6454f03117d78bc0b1fe7f4b49\n"
	"sign-seed 7eb56189bf57705aa0177b681ce52713939d8efdf8331239e8c7acde8da3e389\n"
	"created 1795361275640114\n";

#endif
