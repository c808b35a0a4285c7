/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bbtest.h"
#include "libsoda/blackbox/internal.h"
#include "testhelp.h"

void bb_env_setup(bb_env *e)
{
	soda_error *err = NULL;

	memset(e, 0, sizeof(*e));
	strcpy(e->dir, "/tmp/soda-bb-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->store, sizeof(e->store), "%s/store", e->dir);
	assert_soda_ok(soda_blackbox_key_generate(&e->sk, SODA_BLACKBOX_KEY_TENANT, 0, &err), err);
	assert_soda_ok(soda_blackbox_key_get_public(&e->pk, e->sk, &err), err);
	assert_int_equal(soda_blackbox_key_get_box_public(e->pk, e->box_pk, 32), 0);
}

void bb_env_teardown(bb_env *e)
{
	if (e->dir[0])
		th_sh("rm -rf '%s'", e->dir);
	soda_blackbox_key_free(e->sk);
	soda_blackbox_key_free(e->pk);
	memset(e, 0, sizeof(*e));
}

int bb_line_out(const void *frame, size_t len, void *userdata)
{
	bb_line *l = userdata;

	if (l->fail > 0) {
		l->fail--;
		return -EAGAIN;
	}
	if (l->len + len > l->cap) {
		size_t cap = l->cap ? l->cap : 65536;

		while (cap < l->len + len)
			cap *= 2;
		l->data = realloc(l->data, cap);
		assert_non_null(l->data);
		l->cap = cap;
	}
	memcpy(l->data + l->len, frame, len);
	l->len += len;
	return 0;
}

void bb_line_reset(bb_line *l)
{
	free(l->data);
	memset(l, 0, sizeof(*l));
}

sbw_writer *bb_writer(const bb_env *e, bb_line *l, const char *label)
{
	sbw_options o = { 0 };
	sbw_writer *w = NULL;

	o.label = label;
	o.heartbeat_ms = 1000;
	assert_int_equal(sbw_new(&w, e->box_pk, &o, bb_line_out, l), 0);
	return w;
}

soda_blackbox_store *bb_store(const char *dir, const soda_blackbox_key *pk,
			      const soda_blackbox_store_options *o)
{
	soda_blackbox_store *s = NULL;
	soda_error *err = NULL;

	assert_soda_ok(soda_blackbox_store_open(&s, dir, pk, o, 0, &err), err);
	return s;
}

void bb_feed(soda_blackbox_store *s, bb_line *l, size_t chunk)
{
	soda_error *err = NULL;
	size_t off = 0;

	if (!chunk)
		chunk = l->len ? l->len : 1;
	while (off < l->len) {
		size_t n = l->len - off < chunk ? l->len - off : chunk;

		assert_soda_ok(soda_blackbox_store_feed(s, l->data + off, n, 0, &err), err);
		off += n;
	}
	l->len = 0;
}

void bb_close(soda_blackbox_store *s)
{
	soda_error *err = NULL;

	assert_soda_ok(soda_blackbox_store_close(s, 0, &err), err);
}

/* Reports alike finding by finding (kind, severity, basis, position,
 * message) and counter by counter. */
static void assert_same_report(const soda_blackbox_report *a, const soda_blackbox_report *b)
{
	size_t n = soda_blackbox_report_get_finding_count(a);

	assert_int_equal(soda_blackbox_report_get_status(a), soda_blackbox_report_get_status(b));
	assert_int_equal(n, soda_blackbox_report_get_finding_count(b));
	for (size_t i = 0; i < n; i++) {
		const soda_blackbox_finding *x = soda_blackbox_report_get_finding(a, i);
		const soda_blackbox_finding *y = soda_blackbox_report_get_finding(b, i);

		assert_int_equal(soda_blackbox_finding_get_kind(x), soda_blackbox_finding_get_kind(y));
		assert_int_equal(soda_blackbox_finding_get_severity(x),
				 soda_blackbox_finding_get_severity(y));
		assert_int_equal(soda_blackbox_finding_get_basis(x), soda_blackbox_finding_get_basis(y));
		assert_int_equal(soda_blackbox_finding_get_segment(x),
				 soda_blackbox_finding_get_segment(y));
		assert_int_equal(soda_blackbox_finding_get_offset(x),
				 soda_blackbox_finding_get_offset(y));
		assert_string_equal(soda_blackbox_finding_get_message(x),
				    soda_blackbox_finding_get_message(y));
	}
	for (uint32_t c = SODA_BLACKBOX_REPORT_FRAMES; c <= SODA_BLACKBOX_REPORT_DROPPED; c++)
		assert_int_equal(soda_blackbox_report_get_counter(a, c),
				 soda_blackbox_report_get_counter(b, c));
	if (soda_blackbox_report_get_anchor(a) || soda_blackbox_report_get_anchor(b))
		assert_string_equal(soda_blackbox_report_get_anchor(a),
				    soda_blackbox_report_get_anchor(b));
}

/* Every verification in the tests runs twice, with the chain hashed on
 * the caller's thread and on a helper thread: the reports must agree. */
char *bb_expect_intact(const char *what, const char *dir, const soda_blackbox_key *sk,
		       uint64_t types, size_t want)
{
	soda_blackbox_report *r = bb_verify(dir);
	char *text = NULL;
	size_t n = 0;

	bb_dump(what, r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	r = bb_read(dir, sk, types, &text, &n);
	bb_dump(what, r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	assert_int_equal(n, want);
	soda_blackbox_report_free(r);
	return text;
}

soda_blackbox_report *bb_verify(const char *dir)
{
	soda_blackbox_report *r = NULL, *rp = NULL;
	soda_error *err = NULL;

	assert_soda_ok(soda_blackbox_verify(&r, dir, NULL, 0, &err), err);
	assert_soda_ok(soda_blackbox_verify(&rp, dir, NULL, SODA_BLACKBOX_VERIFY_PARALLEL, &err),
		       err);
	assert_same_report(r, rp);
	soda_blackbox_report_free(rp);
	return r;
}

static soda_blackbox_report *read_with(const char *dir, const soda_blackbox_key *sk,
				       uint64_t types, unsigned flags, char **ret_text,
				       size_t *ret_count);

/* Like bb_verify(): read twice, serial and parallel; the records and the
 * reports must agree. */
soda_blackbox_report *bb_read(const char *dir, const soda_blackbox_key *sk, uint64_t types,
			      char **ret_text, size_t *ret_count)
{
	char *text = NULL, *ptext = NULL;
	size_t count = 0, pcount = 0;
	soda_blackbox_report *r = read_with(dir, sk, types, 0, &text, &count);
	soda_blackbox_report *rp =
		read_with(dir, sk, types, SODA_BLACKBOX_READ_PARALLEL, &ptext, &pcount);

	assert_int_equal(count, pcount);
	assert_string_equal(text ? text : "", ptext ? ptext : "");
	assert_same_report(r, rp);
	soda_blackbox_report_free(rp);
	free(ptext);
	if (ret_text)
		*ret_text = text;
	else
		free(text);
	if (ret_count)
		*ret_count = count;
	return r;
}

static soda_blackbox_report *read_with(const char *dir, const soda_blackbox_key *sk,
				       uint64_t types, unsigned flags, char **ret_text,
				       size_t *ret_count)
{
	soda_blackbox_reader_options o = SODA_BLACKBOX_READER_OPTIONS_INIT;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_blackbox_report *copy;
	soda_error *err = NULL;
	char *text = NULL;
	size_t tlen = 0, count = 0;
	FILE *f = open_memstream(&text, &tlen);
	int r;

	o.types = types;
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, sk, &o, flags, &err), err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &err)) > 0) {
		size_t len;
		const uint8_t *d = soda_blackbox_record_get_data(rec, &len);

		fwrite(d, 1, len, f);
		fputc('\n', f);
		count++;
	}
	assert_soda_ok(r, err);
	fclose(f);
	copy = sbb_reader_take_report(rd);
	soda_blackbox_reader_close(rd);
	if (ret_text)
		*ret_text = text;
	else
		free(text);
	if (ret_count)
		*ret_count = count;
	return copy;
}

const soda_blackbox_finding *bb_find(const soda_blackbox_report *r, uint32_t kind, uint32_t basis)
{
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(r); i++) {
		const soda_blackbox_finding *f = soda_blackbox_report_get_finding(r, i);

		if (soda_blackbox_finding_get_kind(f) == kind &&
		    (!basis || soda_blackbox_finding_get_basis(f) == basis))
			return f;
	}
	return NULL;
}

const soda_blackbox_finding *bb_first(const soda_blackbox_report *r, uint32_t severity)
{
	return soda_blackbox_report_get_first(r, severity);
}

void bb_dump(const char *what, const soda_blackbox_report *r)
{
	fprintf(stderr, "--- %s: status %u, %zu findings\n", what, soda_blackbox_report_get_status(r),
		soda_blackbox_report_get_finding_count(r));
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(r); i++) {
		const soda_blackbox_finding *f = soda_blackbox_report_get_finding(r, i);

		fprintf(stderr, "  [%s/%u/%s] %s\n", soda_blackbox_finding_kind_name(soda_blackbox_finding_get_kind(f)),
			soda_blackbox_finding_get_severity(f),
			soda_blackbox_finding_get_basis(f) == SODA_BLACKBOX_BASIS_CRYPTO ? "crypto" : "struct",
			soda_blackbox_finding_get_message(f));
	}
}

uint8_t *bb_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	d = malloc((size_t)n + 1);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return d;
}

void bb_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

void bb_splice(const char *path, uint64_t off, uint64_t cut, const void *ins, size_t ins_len)
{
	size_t len;
	uint8_t *d = bb_read_file(path, &len), *n;

	assert_true(off + cut <= len);
	n = malloc(len - cut + ins_len + 1);
	assert_non_null(n);
	memcpy(n, d, off);
	if (ins_len)
		memcpy(n + off, ins, ins_len);
	memcpy(n + off + ins_len, d + off + cut, len - off - cut);
	bb_write_file(path, n, len - cut + ins_len);
	free(d);
	free(n);
}

size_t bb_frames(const char *path, bb_frame *out, size_t max)
{
	size_t len, off = 128, n = 0;
	uint8_t *d = bb_read_file(path, &len);

	while (off + SBX_HEADER_BYTES <= len && n < max) {
		sbx_header h;

		assert_int_equal(sbx_header_decode(&h, d + off), 0);
		out[n].off = off;
		out[n].len = SBX_HEADER_BYTES + h.len;
		out[n].kind = h.kind;
		out[n].seq = h.seq;
		out[n].epoch = h.epoch;
		memcpy(out[n].stream, h.stream, 16);
		off += SBX_HEADER_BYTES + h.len;
		n++;
	}
	free(d);
	return n;
}

char *bb_seg_path(const char *store, uint64_t n)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/seg-%010llu.sbx", store, (unsigned long long)n) > 0);
	return p;
}

void bb_copy_tree(const char *from, const char *to)
{
	assert_int_equal(th_sh("rm -rf '%s' && cp -a '%s' '%s'", to, from, to), 0);
}
