/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test vectors of docs/blackbox-format.md: each line of the document's
 * "Test vectors" block is "NAME HEX"; this test computes NAME from the
 * inputs the document gives and compares. With SODA_PRINT_VECTORS=1 it
 * prints the block instead (to write the document).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bbtest.h"
#include "libsoda/blackbox/internal.h"

#define MAX_VECTORS 24

struct vector {
	const char *name;
	uint8_t bytes[128];
	size_t len;
};

static void fill(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

/* A segment of each version: its header (store id 50 51 .. 5f, number 1,
 * first entry 0, no predecessor, created 1700000000000000) and the DATA
 * frame of "frame_header"; the header's check and the chain's digest. */
static size_t segment_vectors(struct vector *v, size_t n, const sbx_header *fh,
			      const uint8_t *payload)
{
	static const char *const names[][2] = { { "segment_check_v1", "segment_digest_v1" },
						{ "segment_check_v2", "segment_digest_v2" } };
	uint8_t seg[SBB_SEG_HEADER_BYTES + SBX_HEADER_BYTES + 16];

	for (uint32_t version = 1; version <= 2; version++) {
		sbb_seg_header sh = { .version = version, .number = 1,
				      .created_usec = 1700000000000000ull };
		sbx_header fhc = *fh; /* the encoder fills in its CRC */

		fill(sh.store, 16, 0x50);
		sbb_seg_header_encode(seg, &sh);
		sbx_header_encode(seg + SBB_SEG_HEADER_BYTES, &fhc, payload);
		memcpy(seg + SBB_SEG_HEADER_BYTES + SBX_HEADER_BYTES, payload, fh->len);
		v[n].name = names[version - 1][0];
		memcpy(v[n].bytes, seg + 96, 32);
		v[n++].len = 32;
		v[n].name = names[version - 1][1];
		sbx_chain_oneshot((int)version, v[n].bytes, seg,
				  SBB_SEG_HEADER_BYTES + SBX_HEADER_BYTES + fh->len);
		v[n++].len = 32;
	}
	return n;
}

/* The notices of issue 16: whole LINE and RECEIPT frames of the session
 * 60 61 .. 6f (seq 3 and 4, time 1700000000000000), a LOSS payload
 * flagged foreign, a RETENTION payload of the drop-oldest policy. */
static size_t notice_vectors(struct vector *v, size_t n, const uint8_t stream[16])
{
	uint8_t p[SBB_LOSS_BYTES];
	sbx_header h = { .seq = 3, .time_usec = 1700000000000000ull };
	sbb_line l = { .role = SBB_LINE_SERVER, .received_usec = 1700000000000123ull,
		       .line_bytes = 4096 };
	sbb_loss lo = { .reason = SBB_LOSS_GARBAGE, .flags = SBB_LOSS_F_FOREIGN, .frames = 0,
			.bytes = 9, .first_usec = 1700000000000200ull,
			.last_usec = 1700000000000300ull };
	sbb_retention rt = { .first = 1, .last = 2, .reason = SBB_RETENTION_QUOTA, .bytes = 131072 };

	fill(h.stream, 16, 0x60);
	memcpy(l.stream, stream, 16);
	h.kind = SBX_K_LINE;
	h.len = SBB_LINE_BYTES;
	sbb_line_encode(p, &l);
	v[n].name = "line_notice";
	sbx_header_encode(v[n].bytes, &h, p);
	memcpy(v[n].bytes + SBX_HEADER_BYTES, p, SBB_LINE_BYTES);
	v[n++].len = SBX_HEADER_BYTES + SBB_LINE_BYTES;
	h.kind = SBX_K_RECEIPT;
	h.len = SBB_RECEIPT_BYTES;
	h.seq = 4;
	sbb_receipt_encode(p, 1700000000000456ull);
	v[n].name = "receipt_notice";
	sbx_header_encode(v[n].bytes, &h, p);
	memcpy(v[n].bytes + SBX_HEADER_BYTES, p, SBB_RECEIPT_BYTES);
	v[n++].len = SBX_HEADER_BYTES + SBB_RECEIPT_BYTES;
	v[n].name = "loss_foreign_payload";
	sbb_loss_encode(v[n].bytes, &lo);
	v[n++].len = SBB_LOSS_BYTES;
	fill(rt.last_digest, 32, 0x70);
	v[n].name = "retention_quota_payload";
	sbb_retention_encode(v[n].bytes, &rt);
	v[n++].len = SBB_RETENTION_BYTES;
	/* The codecs read back what they wrote. */
	{
		sbb_line l2;
		uint64_t t = 0;
		sbb_loss lo2;
		sbb_retention rt2;

		assert_int_equal(sbb_line_decode(&l2, v[n - 4].bytes + SBX_HEADER_BYTES, SBB_LINE_BYTES), 0);
		assert_memory_equal(l2.stream, stream, 16);
		assert_int_equal(l2.received_usec, l.received_usec);
		assert_int_equal(sbb_receipt_decode(&t, v[n - 3].bytes + SBX_HEADER_BYTES, SBB_RECEIPT_BYTES),
				 0);
		assert_int_equal(t, 1700000000000456ull);
		assert_int_equal(sbb_loss_decode(&lo2, v[n - 2].bytes, SBB_LOSS_BYTES), 0);
		assert_int_equal(lo2.flags, SBB_LOSS_F_FOREIGN);
		assert_int_equal(sbb_retention_decode(&rt2, v[n - 1].bytes, SBB_RETENTION_BYTES), 0);
		assert_int_equal(rt2.reason, SBB_RETENTION_QUOTA);
		/* and refuse what is not theirs */
		assert_int_equal(sbb_line_decode(&l2, v[n - 4].bytes + SBX_HEADER_BYTES, SBB_LINE_BYTES - 1),
				 -EBADMSG);
		p[0] = 0;
		assert_int_equal(sbb_receipt_decode(&t, (const uint8_t[16]){ 0 }, 16), -EBADMSG);
	}
	return n;
}

static size_t compute(struct vector *v)
{
	uint8_t box_pk[32], k0[32], stream[16], r[32];
	static const char payload[] = "hello, blackbox!";
	sbx_header h = { 0 };
	sbx_record_header rh = { 0 };
	uint32_t crc;
	size_t n = 0;

	fill(box_pk, 32, 0x00);
	fill(k0, 32, 0x20);
	fill(stream, 16, 0x40);
	crc = sbx_crc32c(0, "123456789", 9);
	v[n] = (struct vector){ "crc32c", { (uint8_t)(crc >> 24), (uint8_t)(crc >> 16),
					   (uint8_t)(crc >> 8), (uint8_t)crc },
				4 };
	n++;
	v[n].name = "key_id";
	sbx_key_id(v[n].bytes, box_pk);
	v[n++].len = SBX_KEY_ID_BYTES;
	sbx_ratchet_first(r, k0, stream);
	v[n].name = "ratchet_0";
	memcpy(v[n].bytes, r, 32);
	v[n++].len = 32;
	v[n].name = "epoch_key_0";
	sbx_epoch_key(v[n].bytes, r, stream, 0);
	v[n++].len = 32;
	sbx_ratchet_next(r);
	v[n].name = "ratchet_1";
	memcpy(v[n].bytes, r, 32);
	v[n++].len = 32;
	v[n].name = "epoch_key_1";
	sbx_epoch_key(v[n].bytes, r, stream, 1);
	v[n++].len = 32;
	h.kind = SBX_K_DATA;
	h.len = (uint32_t)strlen(payload);
	h.epoch = 1;
	memcpy(h.stream, stream, 16);
	h.seq = 5;
	h.time_usec = 1700000000000000ull;
	v[n].name = "frame_header";
	sbx_header_encode(v[n].bytes, &h, (const uint8_t *)payload);
	v[n++].len = SBX_HEADER_BYTES;
	rh.type = SBX_R_TEXT;
	rh.aux = 7;
	rh.mono_usec = 123456789;
	v[n].name = "record_header";
	sbx_record_header_encode(v[n].bytes, &rh);
	v[n++].len = SBX_RECORD_HEADER_BYTES;
	v[n].name = "blake3_abc"; /* BLAKE3's own published value: the build is right */
	sbx_chain_oneshot(SBX_CHAIN_BLAKE3, v[n].bytes, "abc", 3);
	v[n++].len = 32;
	n = segment_vectors(v, n, &h, (const uint8_t *)payload);
	n = notice_vectors(v, n, stream);
	return n;
}

static void to_hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* The document's value for @name: the hex after "NAME " on a line of its
 * own, the hex possibly continued on following lines indented further. */
static char *doc_value(const char *doc, const char *name)
{
	char key[64];
	const char *p;
	char *out = calloc(1, 512);
	size_t o = 0;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(doc, key);
	if (!p || !out) {
		free(out);
		return NULL;
	}
	p += strlen(key);
	for (; *p && o < 511; p++) {
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
			out[o++] = *p;
		else if (*p == '\n' && p[1] != ' ')
			break;
	}
	return out;
}

static void test_vectors(void **state)
{
	struct vector v[MAX_VECTORS];
	size_t n = compute(v);
	char *doc = NULL, path[512], hex[257];

	(void)state;
	if (getenv("SODA_PRINT_VECTORS")) {
		for (size_t i = 0; i < n; i++) {
			to_hex(hex, v[i].bytes, v[i].len);
			printf("%s %s\n", v[i].name, hex);
		}
		return;
	}
	snprintf(path, sizeof(path), "%s/docs/blackbox-format.md", SODA_TEST_SRCDIR);
	{
		size_t len;
		uint8_t *raw = bb_read_file(path, &len);

		doc = realloc(raw, len + 1);
		assert_non_null(doc);
		doc[len] = '\0';
	}
	for (size_t i = 0; i < n; i++) {
		char *want = doc_value(doc, v[i].name);

		if (!want)
			fail_msg("docs/blackbox-format.md has no test vector '%s'", v[i].name);
		to_hex(hex, v[i].bytes, v[i].len);
		if (strcmp(want, hex) != 0)
			fail_msg("vector %s: the document says %s, the code makes %s", v[i].name, want,
				 hex);
		free(want);
	}
	free(doc);
}

/* A bit at a time, as the definition reads. */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* The CRC of every length up to 5,000 bytes (the fast path takes three
 * interleaved streams from about a kilobyte on), whole and in two calls. */
static void test_crc_lengths(void **state)
{
	static uint8_t buf[5000];

	(void)state;
	randombytes_buf(buf, sizeof(buf));
	for (size_t n = 0; n <= sizeof(buf); n++) {
		size_t cut = n ? (size_t)randombytes_uniform((uint32_t)n + 1) : 0;
		uint32_t want = crc32c_ref(0, buf, n);

		if (sbx_crc32c(0, buf, n) != want)
			fail_msg("length %zu: %08x, want %08x", n, sbx_crc32c(0, buf, n), want);
		if (sbx_crc32c(sbx_crc32c(0, buf, cut), buf + cut, n - cut) != want)
			fail_msg("length %zu cut at %zu", n, cut);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_crc_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
