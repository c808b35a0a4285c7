/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writer -> line -> store -> reader, and what the verifier says. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bbtest.h"
#include "libsoda/blackbox/internal.h"
#include "testhelp.h"

static int setup(void **state)
{
	bb_env *e = calloc(1, sizeof(*e));

	bb_env_setup(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	bb_env_teardown(*state);
	free(*state);
	return 0;
}

static void test_basic(void **state)
{
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "srv1");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	char *text = NULL;
	size_t n = 0;

	assert_int_equal(sbw_append(w, SBX_R_SYSLOG, 13, "hello world", 11), 0);
	assert_int_equal(sbw_append(w, SBX_R_CONSOLE_OUT, 0, "$ ls\r\n", 6), 0);
	bb_feed(s, &line, 7);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	sbw_free(w);
	bb_close(s);
	r = bb_verify(e->store);
	bb_dump("verify", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	r = bb_read(e->store, e->sk, 0, &text, &n);
	bb_dump("read", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	assert_non_null(strstr(text, "hello world\n$ ls\r\n"));
	free(text);
	soda_blackbox_report_free(r);
	bb_line_reset(&line);
}

/* A reader following a live store sees records as they are committed;
 * with @flags PARALLEL, a burst that the reader takes as one run is handed
 * out whole before it says there is nothing more. */
static void follow(void **state, unsigned flags)
{
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "live");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_reader_options ro = SODA_BLACKBOX_READER_OPTIONS_INIT;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *err = NULL;
	const uint8_t *body;
	size_t len;
	int r;

	ro.types = 1ull << SODA_BLACKBOX_TEXT;
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "first", 5), 0);
	bb_feed(s, &line, 0);
	assert_int_equal(soda_blackbox_store_flush(s, 0, NULL), 0);
	assert_soda_ok(soda_blackbox_reader_open(&rd, e->store, e->sk, &ro,
						 SODA_BLACKBOX_READ_FOLLOW | flags, &err),
		       err);
	assert_int_equal(soda_blackbox_reader_next(rd, &rec, 0, &err), 1);
	body = soda_blackbox_record_get_data(rec, &len);
	assert_memory_equal(body, "first", 5);
	/* Nothing more yet: the reader says so and waits. */
	assert_int_equal(soda_blackbox_reader_next(rd, &rec, 0, &err), -EAGAIN);
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "second", 6), 0);
	bb_feed(s, &line, 0);
	/* Not committed: still nothing. */
	r = soda_blackbox_reader_next(rd, &rec, 0, &err);
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(soda_blackbox_store_flush(s, 0, NULL), 0);
	assert_int_equal(soda_blackbox_reader_next(rd, &rec, 0, &err), 1);
	body = soda_blackbox_record_get_data(rec, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(body, "second", 6);
	for (int i = 0; i < 300; i++) {
		char t[16];

		assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, t, (size_t)snprintf(t, sizeof(t), "burst %d", i)), 0);
	}
	bb_feed(s, &line, 0);
	assert_int_equal(soda_blackbox_store_flush(s, 0, NULL), 0);
	for (int i = 0; i < 300; i++) {
		char t[16];
		int n = snprintf(t, sizeof(t), "burst %d", i);

		assert_int_equal(soda_blackbox_reader_next(rd, &rec, 0, &err), 1);
		body = soda_blackbox_record_get_data(rec, &len);
		assert_int_equal(len, (size_t)n);
		assert_memory_equal(body, t, (size_t)n);
	}
	assert_int_equal(soda_blackbox_reader_next(rd, &rec, 0, &err), -EAGAIN);
	if (flags & SODA_BLACKBOX_READ_PARALLEL)
		assert_true(sbb_reader_batched(rd) >= 250);
	soda_blackbox_reader_close(rd);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	sbw_free(w);
	bb_close(s);
	bb_line_reset(&line);
}

static void test_follow(void **state)
{
	follow(state, 0);
}

static void test_follow_parallel(void **state)
{
	follow(state, SODA_BLACKBOX_READ_PARALLEL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow_parallel, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
