/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tampering with a finished store: a flipped bit; frames deleted, reordered,
 * duplicated; the end cut off; a segment spliced in from another store or
 * from an older copy of the same one. Each must be found both by the keyless
 * verifier and by the tenant's reader, at the right place. Where an attacker
 * also forges what the keyless checks rely on (checksums, sequence numbers),
 * the reader must still find it by the key.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bbtest.h"
#include "testhelp.h"

#define S_ERR SODA_BLACKBOX_SEVERITY_ERROR
#define CRYPTO SODA_BLACKBOX_BASIS_CRYPTO
#define MAXF 512

typedef struct fixture {
	bb_env e;
	char a[160];     /* the store of server a */
	char a_old[160]; /* a copy of it taken half way */
	char b[160];     /* the store of server b, same tenant */
	char work[160];  /* the copy each test damages */
} fixture;

static void fill_store(bb_env *e, const char *dir, const char *label, int n, const char *snapshot)
{
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_error *err = NULL;
	bb_line line = { 0 };
	sbw_options wo = { 0 };
	sbw_writer *w = NULL;
	soda_blackbox_store *s;
	char rec[1000];

	o.segment_bytes = 64 << 10;
	o.checkpoint_ms = 1;
	o.label = label;
	s = bb_store(dir, e->pk, &o);
	wo.label = label;
	wo.rekey_bytes = 16 << 10; /* an epoch every ~16 records */
	assert_int_equal(sbw_new(&w, e->box_pk, &wo, bb_line_out, &line), 0);
	assert_soda_ok(soda_blackbox_store_host_event(s, SODA_BLACKBOX_LIFECYCLE, 1, "started", 7, 0, &err), err);
	for (int i = 0; i < n; i++) {
		char tag[48];
		int tl = snprintf(tag, sizeof(tag), "record %d of %s;", i, label);

		memset(rec, 'a' + i % 26, sizeof(rec));
		memcpy(rec, tag, (size_t)tl);
		assert_int_equal(sbw_append(w, i % 3 ? SBX_R_SYSLOG : SBX_R_CONSOLE_OUT, 0, rec, sizeof(rec)), 0);
		bb_feed(s, &line, 333);
		if (i % 10 == 9) {
			usleep(2000);
			assert_soda_ok(soda_blackbox_store_flush(s, 0, &err), err);
		}
		if (snapshot && i == n / 2) {
			assert_soda_ok(soda_blackbox_store_flush(s, 0, &err), err);
			bb_copy_tree(dir, snapshot);
		}
	}
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	assert_soda_ok(soda_blackbox_store_host_event(s, SODA_BLACKBOX_LIFECYCLE, 2, "stopped", 7, 0, &err), err);
	bb_close(s);
	sbw_free(w);
	bb_line_reset(&line);
}


static int group_setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	soda_blackbox_report *r;

	bb_env_setup(&f->e);
	snprintf(f->a, sizeof(f->a), "%s/a", f->e.dir);
	snprintf(f->a_old, sizeof(f->a_old), "%s/a-old", f->e.dir);
	snprintf(f->b, sizeof(f->b), "%s/b", f->e.dir);
	snprintf(f->work, sizeof(f->work), "%s/work", f->e.dir);
	fill_store(&f->e, f->a, "srv-a", 200, f->a_old);
	fill_store(&f->e, f->b, "srv-b", 120, NULL);
	/* The pristine stores are intact. */
	r = bb_verify(f->a);
	if (soda_blackbox_report_get_status(r) != SODA_BLACKBOX_INTACT)
		bb_dump("pristine a", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	r = bb_read(f->a, f->e.sk, 0, NULL, NULL);
	if (soda_blackbox_report_get_status(r) != SODA_BLACKBOX_INTACT)
		bb_dump("pristine a (reader)", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	fixture *f = *state;

	bb_env_teardown(&f->e);
	free(f);
	return 0;
}

static int setup(void **state)
{
	fixture *f = *state;

	bb_copy_tree(f->a, f->work);
	return 0;
}

/* Index of a DATA frame of the guest stream in @fr that is followed by
 * another DATA frame of the same stream and epoch, in the middle. */
static size_t pick_pair(const bb_frame *fr, size_t n)
{
	for (size_t i = n / 3; i + 2 < n; i++)
		if (fr[i].kind == SBX_K_DATA && fr[i + 1].kind == SBX_K_DATA &&
		    memcmp(fr[i].stream, fr[i + 1].stream, 16) == 0 && fr[i].epoch == fr[i + 1].epoch &&
		    fr[i + 2].kind == SBX_K_DATA && memcmp(fr[i].stream, fr[i + 2].stream, 16) == 0)
			return i;
	fail_msg("no pair of data frames to work on");
	return 0;
}

static void expect_at(const soda_blackbox_finding *f, uint32_t kind, uint64_t seg, uint64_t off)
{
	assert_non_null(f);
	if (soda_blackbox_finding_get_kind(f) != kind || soda_blackbox_finding_get_segment(f) != seg ||
	    soda_blackbox_finding_get_offset(f) != off)
		fail_msg("expected %s at segment %llu offset %llu, got: %s",
			 soda_blackbox_finding_kind_name(kind), (unsigned long long)seg,
			 (unsigned long long)off, soda_blackbox_finding_get_message(f));
}

/* Both sides: the verifier's first error is @kind at seg/off; the reader
 * reports a finding there too and one found by the key at @crypto_off of
 * @crypto_seg (kind @crypto_kind, 0 for any). */
static void check_both(fixture *f, uint32_t kind, uint64_t seg, uint64_t off, uint32_t crypto_kind,
		       uint64_t crypto_seg, uint64_t crypto_off)
{
	soda_blackbox_report *v = bb_verify(f->work);
	soda_blackbox_report *r = bb_read(f->work, f->e.sk, 0, NULL, NULL);
	bool found = false, found_crypto = false;

	if (soda_blackbox_report_get_status(v) != SODA_BLACKBOX_DAMAGED)
		bb_dump("verifier", v);
	assert_int_equal(soda_blackbox_report_get_status(v), SODA_BLACKBOX_DAMAGED);
	expect_at(bb_first(v, S_ERR), kind, seg, off);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(r); i++) {
		const soda_blackbox_finding *x = soda_blackbox_report_get_finding(r, i);

		if (soda_blackbox_finding_get_segment(x) == seg && soda_blackbox_finding_get_offset(x) == off &&
		    soda_blackbox_finding_get_kind(x) == kind)
			found = true;
		if (soda_blackbox_finding_get_basis(x) == CRYPTO &&
		    soda_blackbox_finding_get_segment(x) == crypto_seg &&
		    soda_blackbox_finding_get_offset(x) == crypto_off &&
		    (!crypto_kind || soda_blackbox_finding_get_kind(x) == crypto_kind))
			found_crypto = true;
	}
	if (!found || !found_crypto)
		bb_dump("reader", r);
	assert_true(found);
	assert_true(found_crypto);
	soda_blackbox_report_free(v);
	soda_blackbox_report_free(r);
}

static void test_flip_bit(void **state)
{
	fixture *f = *state;
	char *seg = bb_seg_path(f->work, 2);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k = pick_pair(fr, n), len;
	uint8_t *d = bb_read_file(seg, &len);

	d[fr[k].off + SBX_HEADER_BYTES + 100] ^= 0x10;
	bb_write_file(seg, d, len);
	check_both(f, SODA_BLACKBOX_F_CORRUPT_FRAME, 2, fr[k].off, SODA_BLACKBOX_F_DECRYPT_FAILED, 2,
		   fr[k].off);
	free(d);
	free(seg);
}

/* The flip with the checksum fixed up: the keyless frame check passes, the
 * chain still catches it at the next checkpoint, and the key at the frame. */
static void test_flip_bit_forged_checksum(void **state)
{
	fixture *f = *state;
	char *seg = bb_seg_path(f->work, 2);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k = pick_pair(fr, n), len;
	uint8_t *d = bb_read_file(seg, &len);
	soda_blackbox_report *v, *r;
	const soda_blackbox_finding *x;
	sbx_header h;

	d[fr[k].off + SBX_HEADER_BYTES + 100] ^= 0x10;
	assert_int_equal(sbx_header_decode(&h, d + fr[k].off), 0);
	sbx_header_finish_crc(d + fr[k].off, &h);
	bb_write_file(seg, d, len);
	v = bb_verify(f->work);
	x = bb_first(v, S_ERR);
	assert_non_null(x);
	assert_int_equal(soda_blackbox_finding_get_kind(x), SODA_BLACKBOX_F_CHAIN_BREAK);
	assert_int_equal(soda_blackbox_finding_get_segment(x), 2);
	assert_true(soda_blackbox_finding_get_offset(x) > fr[k].off);
	r = bb_read(f->work, f->e.sk, 0, NULL, NULL);
	x = bb_find(r, SODA_BLACKBOX_F_DECRYPT_FAILED, CRYPTO);
	expect_at(x, SODA_BLACKBOX_F_DECRYPT_FAILED, 2, fr[k].off);
	soda_blackbox_report_free(v);
	soda_blackbox_report_free(r);
	free(d);
	free(seg);
}

/* A big store (segments of 8 MiB, checkpoints every few hundred frames),
 * so that the chain is hashed in many pieces and, with a helper thread,
 * runs behind the checks (bb_verify() and bb_read() compare both ways):
 * intact, then with a bit flipped and the checksum forged deep inside the
 * first segment, caught by the chain at the next checkpoint and by the key
 * at the frame. */
static void test_big_store(void **state)
{
	fixture *f = *state;
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_error *err = NULL;
	bb_line line = { 0 };
	sbw_writer *w;
	soda_blackbox_store *st;
	soda_blackbox_report *v, *r;
	const soda_blackbox_finding *x;
	char dir[200], rec[1000], *seg;
	static bb_frame fr[16384];
	size_t n, len, count = 0;
	uint8_t *d;
	sbx_header h;
	int k;

	snprintf(dir, sizeof(dir), "%s/big", f->e.dir);
	o.segment_bytes = 8 << 20;
	o.checkpoint_ms = 1; /* a checkpoint with (nearly) every flush below */
	st = bb_store(dir, f->e.pk, &o);
	w = bb_writer(&f->e, &line, "big");
	for (int i = 0; i < 12000; i++) {
		memset(rec, 'a' + i % 26, sizeof(rec));
		snprintf(rec, 32, "big record %d;", i);
		assert_int_equal(sbw_append(w, SBX_R_SYSLOG, 0, rec, sizeof(rec)), 0);
		if (i % 400 == 399) {
			bb_feed(st, &line, 65536);
			assert_soda_ok(soda_blackbox_store_flush(st, 0, &err), err);
		}
	}
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(st, &line, 65536);
	bb_close(st);
	sbw_free(w);
	bb_line_reset(&line);

	v = bb_verify(dir);
	assert_int_equal(soda_blackbox_report_get_status(v), SODA_BLACKBOX_INTACT);
	assert_true(soda_blackbox_report_get_counter(v, SODA_BLACKBOX_REPORT_SEGMENTS) >= 2);
	soda_blackbox_report_free(v);
	r = bb_read(dir, f->e.sk, 0, NULL, &count);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	assert_int_equal(count, 12000 + 1); /* and the stream's end record */
	soda_blackbox_report_free(r);

	seg = bb_seg_path(dir, 1);
	n = bb_frames(seg, fr, sizeof(fr) / sizeof(fr[0]));
	assert_true(n > 5000);
	k = (int)(n * 2 / 3);
	while (fr[k].kind != SBX_K_DATA)
		k++;
	d = bb_read_file(seg, &len);
	d[fr[k].off + SBX_HEADER_BYTES + 100] ^= 0x10;
	assert_int_equal(sbx_header_decode(&h, d + fr[k].off), 0);
	sbx_header_finish_crc(d + fr[k].off, &h);
	bb_write_file(seg, d, len);
	v = bb_verify(dir);
	x = bb_first(v, S_ERR);
	assert_non_null(x);
	assert_int_equal(soda_blackbox_finding_get_kind(x), SODA_BLACKBOX_F_CHAIN_BREAK);
	assert_int_equal(soda_blackbox_finding_get_segment(x), 1);
	assert_true(soda_blackbox_finding_get_offset(x) > fr[k].off);
	r = bb_read(dir, f->e.sk, 0, NULL, NULL);
	expect_at(bb_find(r, SODA_BLACKBOX_F_DECRYPT_FAILED, CRYPTO), SODA_BLACKBOX_F_DECRYPT_FAILED,
		  1, fr[k].off);
	soda_blackbox_report_free(v);
	soda_blackbox_report_free(r);
	free(d);
	free(seg);
}

static void test_delete_record(void **state)
{
	fixture *f = *state;
	char *seg = bb_seg_path(f->work, 2);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k = pick_pair(fr, n);

	bb_splice(seg, fr[k].off, fr[k].len, NULL, 0);
	/* The next frame of the stream now sits where the deleted one was. */
	check_both(f, SODA_BLACKBOX_F_SEQ_GAP, 2, fr[k].off, 0, 2, fr[k].off);
	free(seg);
}

/* Deleted, and the later frames renumbered with fixed checksums: the
 * sequence looks whole; the key still finds the hole. */
static void test_delete_record_forged_seq(void **state)
{
	fixture *f = *state;
	char *seg = bb_seg_path(f->work, 2);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k = pick_pair(fr, n), len;
	uint8_t *d = bb_read_file(seg, &len);
	soda_blackbox_report *r;

	for (size_t i = k + 1; i < n; i++) {
		sbx_header h;
		uint8_t *p = d + fr[i].off;

		if (memcmp(fr[i].stream, fr[k].stream, 16) != 0)
			continue;
		assert_int_equal(sbx_header_decode(&h, p), 0);
		h.seq--;
		sbx_header_encode_ad(p, &h);
		sbx_header_finish_crc(p, &h);
	}
	bb_write_file(seg, d, len);
	bb_splice(seg, fr[k].off, fr[k].len, NULL, 0);
	r = bb_read(f->work, f->e.sk, 0, NULL, NULL);
	expect_at(bb_find(r, SODA_BLACKBOX_F_DECRYPT_FAILED, CRYPTO), SODA_BLACKBOX_F_DECRYPT_FAILED, 2,
		  fr[k].off);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(r);
	r = bb_verify(f->work);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(r);
	free(d);
	free(seg);
}

static void test_reorder_records(void **state)
{
	fixture *f = *state;
	char *seg = bb_seg_path(f->work, 2);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k = pick_pair(fr, n), len;
	uint8_t *d = bb_read_file(seg, &len);
	uint8_t *swapped = malloc(fr[k].len + fr[k + 1].len);
	char *text = NULL;
	soda_blackbox_report *r;

	memcpy(swapped, d + fr[k + 1].off, fr[k + 1].len);
	memcpy(swapped + fr[k + 1].len, d + fr[k].off, fr[k].len);
	bb_splice(seg, fr[k].off, fr[k].len + fr[k + 1].len, swapped, fr[k].len + fr[k + 1].len);
	check_both(f, SODA_BLACKBOX_F_SEQ_REORDER, 2, fr[k].off, SODA_BLACKBOX_F_SEQ_REORDER, 2, fr[k].off);
	/* The reader still hands the records out in their true order. */
	r = bb_read(f->work, f->e.sk, 0, &text, NULL);
	{
		char a[32], b[32], *pa, *pb;
		int i;

		for (i = 0; i < 200; i++) {
			snprintf(a, sizeof(a), "record %d of srv-a;", i);
			snprintf(b, sizeof(b), "record %d of srv-a;", i + 1);
			pa = strstr(text, a);
			pb = strstr(text, b);
			if (i < 199) {
				assert_non_null(pa);
				assert_non_null(pb);
				assert_true(pa < pb);
			}
		}
	}
	free(text);
	soda_blackbox_report_free(r);
	free(swapped);
	free(d);
	free(seg);
}

static void test_duplicate_record(void **state)
{
	fixture *f = *state;
	char *seg = bb_seg_path(f->work, 2);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k = pick_pair(fr, n), len;
	uint8_t *d = bb_read_file(seg, &len);

	bb_splice(seg, fr[k].off + fr[k].len, 0, d + fr[k].off, fr[k].len);
	check_both(f, SODA_BLACKBOX_F_SEQ_DUPLICATE, 2, fr[k].off + fr[k].len,
		   SODA_BLACKBOX_F_DECRYPT_FAILED, 2, fr[k].off + fr[k].len);
	free(d);
	free(seg);
}

static uint64_t last_segment(const char *store)
{
	uint64_t n = 1;

	for (;;) {
		char *p = bb_seg_path(store, n + 1);
		FILE *fp = fopen(p, "rb");

		free(p);
		if (!fp)
			return n;
		fclose(fp);
		n++;
	}
}

/* The end cut off at a frame boundary, taking the guest's END and the
 * store's final checkpoint with it. */
static void test_truncate_at_frame(void **state)
{
	fixture *f = *state;
	uint64_t last = last_segment(f->work);
	char *seg = bb_seg_path(f->work, last);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k = n, len;
	uint8_t *d;

	/* Cut right after a guest DATA frame, before the stream's END. */
	for (size_t i = 0; i < n; i++)
		if (fr[i].kind == SBX_K_END && memcmp(fr[i].stream, fr[0].stream, 16) != 0)
			k = i;
	for (size_t i = 0; i < n; i++)
		if (fr[i].kind == SBX_K_END)
			k = k < i ? k : i;
	assert_true(k < n && k > 1);
	while (fr[k - 1].kind != SBX_K_DATA)
		k--;
	d = bb_read_file(seg, &len);
	bb_write_file(seg, d, fr[k].off);
	check_both(f, SODA_BLACKBOX_F_TRUNCATED, last, fr[k].off, 0, last, fr[k].off);
	free(d);
	free(seg);
}

static void test_truncate_mid_frame(void **state)
{
	fixture *f = *state;
	uint64_t last = last_segment(f->work);
	char *seg = bb_seg_path(f->work, last);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg, fr, MAXF), k, len;
	uint8_t *d = bb_read_file(seg, &len);
	soda_blackbox_report *v;

	size_t j;

	k = n / 2;
	while (fr[k].kind != SBX_K_DATA)
		k++;
	/* The authentic records stop where the stream's last whole record
	 * ends (a receipt notice or an epoch may sit between it and the cut
	 * frame). */
	for (j = k - 1; fr[j].kind != SBX_K_DATA || memcmp(fr[j].stream, fr[k].stream, 16) != 0; j--)
		;
	bb_write_file(seg, d, fr[k].off + fr[k].len / 2);
	check_both(f, SODA_BLACKBOX_F_TRUNCATED, last, fr[k].off, 0, last, fr[j].off + fr[j].len);
	v = bb_verify(f->work);
	expect_at(bb_find(v, SODA_BLACKBOX_F_TORN_TAIL, 0), SODA_BLACKBOX_F_TORN_TAIL, last, fr[k].off);
	soda_blackbox_report_free(v);
	free(d);
	free(seg);
}

/* Segment 2 of another server's store (same tenant key) in place of ours. */
static void test_splice_other_stream(void **state)
{
	fixture *f = *state;
	char *ours = bb_seg_path(f->work, 2), *theirs = bb_seg_path(f->b, 2);
	size_t len;
	uint8_t *d = bb_read_file(theirs, &len);
	bb_frame fr[MAXF];
	size_t n;

	size_t k = 0;

	bb_write_file(ours, d, len);
	n = bb_frames(ours, fr, MAXF);
	/* A segment begins with the line's streams named again (LINE), then
	 * the START copies. */
	while (k < n && fr[k].kind == SBX_K_LINE)
		k++;
	assert_true(k < n && fr[k].kind == SBX_K_STARTCOPY);
	/* The reader knows by the key that b's stream is b's. */
	check_both(f, SODA_BLACKBOX_F_FOREIGN_SEGMENT, 2, 0, SODA_BLACKBOX_F_FOREIGN_STREAM, 2, fr[k].off);
	free(d);
	free(ours);
	free(theirs);
}

/* The same with b's segment header rewritten to look like ours. */
static void test_splice_other_stream_forged_header(void **state)
{
	fixture *f = *state;
	char *ours = bb_seg_path(f->work, 2), *theirs = bb_seg_path(f->b, 2);
	size_t len, olen;
	uint8_t *d = bb_read_file(theirs, &len), *o = bb_read_file(ours, &olen);
	soda_blackbox_report *r;

	memcpy(d, o, 128); /* our header (store id, number, chain) on their frames */
	bb_write_file(ours, d, len);
	r = bb_verify(f->work);
	expect_at(bb_first(r, S_ERR), SODA_BLACKBOX_F_UNKNOWN_STREAM, 2, 128);
	soda_blackbox_report_free(r);
	r = bb_read(f->work, f->e.sk, 0, NULL, NULL);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	expect_at(bb_first(r, S_ERR), SODA_BLACKBOX_F_UNKNOWN_STREAM, 2, 128);
	soda_blackbox_report_free(r);
	free(o);
	free(d);
	free(ours);
	free(theirs);
}

/* Segment 2 replaced by the older copy taken half way (a prefix of it). */
static void test_splice_older_copy(void **state)
{
	fixture *f = *state;
	char *ours = bb_seg_path(f->work, 2), *old = bb_seg_path(f->a_old, 2);
	size_t len, nlen;
	uint8_t *d = bb_read_file(old, &len), *now = bb_read_file(ours, &nlen);
	char *seg3 = bb_seg_path(f->work, 3);
	bb_frame fr[MAXF];
	size_t n = bb_frames(seg3, fr, MAXF), k = 0;

	assert_true(len < nlen);
	assert_memory_equal(d, now, len); /* really an older copy */
	bb_write_file(ours, d, len);
	/* The first frame of the guest stream in segment 3 after the copies. */
	while (k < n && fr[k].kind == SBX_K_STARTCOPY)
		k++;
	while (k < n && !(fr[k].kind == SBX_K_DATA || fr[k].kind == SBX_K_EPOCH || fr[k].kind == SBX_K_HEARTBEAT))
		k++;
	assert_true(k < n);
	check_both(f, SODA_BLACKBOX_F_CHAIN_BREAK, 3, 0, 0, 3, fr[k].kind == SBX_K_EPOCH ? fr[k].off : fr[k].off);
	free(d);
	free(now);
	free(ours);
	free(old);
	free(seg3);
}

/* The whole store rolled back to the older copy, head included: only an
 * anchor taken earlier can tell. */
static void test_rollback_needs_anchor(void **state)
{
	fixture *f = *state;
	soda_blackbox_store *s;
	soda_blackbox_report *r = NULL;
	soda_blackbox_verify_options vo = SODA_BLACKBOX_VERIFY_OPTIONS_INIT;
	soda_error *err = NULL;
	char *anchor = NULL;
	const char *anchors[1];

	/* An anchor of the full store (reopening appends a session; fine). */
	s = bb_store(f->work, f->e.pk, NULL);
	assert_soda_ok(soda_blackbox_store_get_anchor(s, &anchor, &err), err);
	bb_close(s);
	r = bb_verify(f->work);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	anchors[0] = anchor;
	vo.anchors = anchors;
	vo.n_anchors = 1;
	assert_soda_ok(soda_blackbox_verify(&r, f->work, &vo, 0, &err), err);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	bb_copy_tree(f->a_old, f->work);
	/* Consistent in itself (a crash-like end)... */
	r = bb_verify(f->work);
	assert_int_not_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(r);
	/* ...but not what the anchor committed to. */
	assert_soda_ok(soda_blackbox_verify(&r, f->work, &vo, 0, &err), err);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_ANCHOR, 0));
	soda_blackbox_report_free(r);
	anchors[0] = "1:2:xyz";
	assert_soda_fails(soda_blackbox_verify(&r, f->work, &vo, 0, &err), -EINVAL, err);
	free(anchor);
}

/* The last segment deleted and the head put back to the one before (the
 * older copy's): consistent in itself; the anchor read from the head while
 * the store was whole (soda_blackbox_store_read_anchor, as follow
 * --anchors does) proves the cut. */
static void test_anchor_catches_deleted_last_segment(void **state)
{
	fixture *f = *state;
	soda_blackbox_verify_options vo = SODA_BLACKBOX_VERIFY_OPTIONS_INIT;
	soda_blackbox_report *r = NULL;
	soda_error *err = NULL;
	uint64_t last = last_segment(f->work);
	char *anchor = NULL, *seg = bb_seg_path(f->work, last), *head = NULL, *old_head = NULL;
	const char *anchors[1];
	size_t len;
	uint8_t *d;

	assert_soda_ok(soda_blackbox_store_read_anchor(&anchor, f->work, 0, &err), err);
	assert_true(last > 2);
	assert_int_equal(unlink(seg), 0);
	/* A head of the previous segment's end: the digest of it whole. */
	assert_true(asprintf(&head, "%s/head", f->work) > 0);
	assert_true(asprintf(&old_head, "%s/head", f->a_old) > 0);
	d = bb_read_file(old_head, &len);
	bb_write_file(head, d, len);
	free(d);
	anchors[0] = anchor;
	vo.anchors = anchors;
	vo.n_anchors = 1;
	assert_soda_ok(soda_blackbox_verify(&r, f->work, &vo, 0, &err), err);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_ANCHOR, 0));
	soda_blackbox_report_free(r);
	assert_soda_fails(soda_blackbox_store_read_anchor(&anchor, "/nonexistent-soda-bb", 0, &err),
			  -ENOENT, err);
	free(anchor);
	free(seg);
	free(head);
	free(old_head);
}

/* ---- the notices of issue 16: LINE, RECEIPT, foreign LOSS, RETENTION ---- */

/* A store whose line carried a second stream and torn bytes, with
 * receipts, and whose retention deleted its first segments. */
static void fill_line_store(bb_env *e, const char *dir)
{
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	bb_line agent = { 0 }, intruder = { 0 };
	sbw_options wo = { .label = "srv", .rekey_bytes = 8 << 10 };
	sbw_writer *a = NULL, *x = NULL;
	soda_blackbox_store *s;
	char rec[700];

	o.segment_bytes = 64 << 10;
	o.retention_bytes = 200 << 10;
	o.checkpoint_ms = 1;
	s = bb_store(dir, e->pk, &o);
	assert_int_equal(sbw_new(&a, e->box_pk, &wo, bb_line_out, &agent), 0);
	assert_int_equal(sbw_new(&x, e->box_pk, &wo, bb_line_out, &intruder), 0);
	memset(rec, 'r', sizeof(rec));
	for (int i = 0; i < 600; i++) {
		assert_int_equal(sbw_append(a, SBX_R_TEXT, 0, rec, sizeof(rec)), 0);
		bb_feed(s, &agent, 0);
		if (i == 500) {
			assert_int_equal(sbw_append(x, SBX_R_EXEC, 1, "FORGED", 6), 0);
			bb_feed(s, &intruder, 0);
			assert_int_equal(soda_blackbox_store_feed(s, "junk", 4, 0, NULL), 0);
		}
		if (i % 20 == 19) {
			usleep(1500);
			assert_int_equal(soda_blackbox_store_flush(s, 0, NULL), 0);
		}
	}
	assert_int_equal(sbw_end(a, 0), 0);
	bb_feed(s, &agent, 0);
	bb_close(s);
	sbw_free(a);
	sbw_free(x);
	bb_line_reset(&agent);
	bb_line_reset(&intruder);
}

/* The first frame of @kind in the store (segment and offset); false if none. */
static bool find_kind(const char *dir, uint8_t kind, uint64_t *ret_seg, uint64_t *ret_off)
{
	for (uint64_t seg = 1; seg < 1000; seg++) {
		char *path = bb_seg_path(dir, seg);
		bb_frame fr[MAXF];
		size_t n;

		if (access(path, F_OK) != 0) {
			free(path);
			continue;
		}
		n = bb_frames(path, fr, MAXF);
		free(path);
		for (size_t i = 0; i < n; i++)
			if (fr[i].kind == kind) {
				*ret_seg = seg;
				*ret_off = fr[i].off;
				return true;
			}
	}
	return false;
}

/* A byte of the notice's payload changed and its checksum made anew: the
 * chain still tells (the host cannot launder a foreign stream into the
 * server's, move a receipt, or hide a deletion). */
static void test_new_notices_are_chained(void **state)
{
	fixture *f = *state;
	static const struct {
		uint8_t kind;
		size_t at; /* payload byte changed */
		const char *what;
	} cases[] = {
		{ SBX_K_LINE, 0, "LINE role" },
		{ SBX_K_LINE, 8, "LINE stream" },
		{ SBX_K_RECEIPT, 2, "RECEIPT time" },
		{ SBX_K_LOSS, 4, "LOSS flags (foreign)" },
		{ SBX_K_RETENTION, 32, "RETENTION digest" },
	};
	char src[200];
	soda_blackbox_report *r;

	snprintf(src, sizeof(src), "%s/line", f->e.dir);
	fill_line_store(&f->e, src);
	r = bb_verify(src);
	/* The pristine store: damaged by the intruder only (the control). */
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_FOREIGN_STREAM, 0));
	assert_null(bb_find(r, SODA_BLACKBOX_F_CHAIN_BREAK, 0));
	assert_null(bb_find(r, SODA_BLACKBOX_F_CORRUPT_FRAME, 0));
	soda_blackbox_report_free(r);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t seg = 0, off = 0;
		char *path;
		size_t len;
		uint8_t *d;
		sbx_header h;
		soda_blackbox_report *v;

		bb_copy_tree(src, f->work);
		assert_true(find_kind(f->work, cases[c].kind, &seg, &off));
		path = bb_seg_path(f->work, seg);
		d = bb_read_file(path, &len);
		assert_int_equal(sbx_header_decode(&h, d + off), 0);
		assert_true(cases[c].at < h.len);
		d[off + SBX_HEADER_BYTES + cases[c].at] ^= 0x01;
		sbx_header_encode(d + off, &h, d + off + SBX_HEADER_BYTES); /* a valid checksum */
		bb_write_file(path, d, len);
		v = bb_verify(f->work);
		if (!bb_find(v, SODA_BLACKBOX_F_CHAIN_BREAK, 0))
			bb_dump(cases[c].what, v);
		assert_int_equal(soda_blackbox_report_get_status(v), SODA_BLACKBOX_DAMAGED);
		assert_non_null(bb_find(v, SODA_BLACKBOX_F_CHAIN_BREAK, 0));
		soda_blackbox_report_free(v);
		free(d);
		free(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_flip_bit, setup),
		cmocka_unit_test_setup(test_flip_bit_forged_checksum, setup),
		cmocka_unit_test_setup(test_big_store, setup),
		cmocka_unit_test_setup(test_delete_record, setup),
		cmocka_unit_test_setup(test_delete_record_forged_seq, setup),
		cmocka_unit_test_setup(test_reorder_records, setup),
		cmocka_unit_test_setup(test_duplicate_record, setup),
		cmocka_unit_test_setup(test_truncate_at_frame, setup),
		cmocka_unit_test_setup(test_truncate_mid_frame, setup),
		cmocka_unit_test_setup(test_splice_other_stream, setup),
		cmocka_unit_test_setup(test_splice_other_stream_forged_header, setup),
		cmocka_unit_test_setup(test_splice_older_copy, setup),
		cmocka_unit_test_setup(test_rollback_needs_anchor, setup),
		cmocka_unit_test_setup(test_new_notices_are_chained, setup),
		cmocka_unit_test_setup(test_anchor_catches_deleted_last_segment, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
