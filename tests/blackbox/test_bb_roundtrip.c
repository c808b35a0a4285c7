/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writer -> line -> store -> reader, and what the verifier says. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Lines that arrived together are sealed as one record and handed out one
 * record per line, the same by both readers; a single line is an ordinary
 * record; what is not whole lines is refused by the writer. */
static void test_lines(void **state)
{
	static const char lines[] = "first\n\nthe third line\n";
	static const char *const want[] = { "first", "", "the third line", "solo" };
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "lines");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	static char big[SBX_RECORD_MAX_BODY + 2];
	struct timespec ts;
	uint64_t rt;
	char *text;

	clock_gettime(CLOCK_REALTIME, &ts);
	rt = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	assert_int_equal(sbw_append_lines_at(w, lines, sizeof(lines) - 1, rt, 2000), 0);
	assert_int_equal(sbw_append_lines_at(w, "solo\n", 5, rt + 1, 2001), 0);
	assert_int_equal(sbw_append_lines_at(w, "no newline", 10, 0, 0), -EINVAL);
	assert_int_equal(sbw_append_lines_at(w, "", 0, 0, 0), -EINVAL);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(sbw_append_lines_at(w, big, sizeof(big), 0, 0), -EINVAL);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	sbw_free(w);
	bb_close(s);
	text = bb_expect_intact("lines", e->store, e->sk, 1ull << SODA_BLACKBOX_TEXT, 4);
	assert_string_equal(text, "first\n\nthe third line\nsolo\n");
	free(text);

	/* Each line a record of its own, with the times of the read. */
	for (unsigned flags = 0; flags <= SODA_BLACKBOX_READ_PARALLEL;
	     flags += SODA_BLACKBOX_READ_PARALLEL) {
		soda_blackbox_reader_options ro = SODA_BLACKBOX_READER_OPTIONS_INIT;
		soda_blackbox_reader *rd = NULL;
		const soda_blackbox_record *rec;
		soda_error *err = NULL;
		uint64_t seq0 = 0;
		size_t i = 0;

		ro.types = 1ull << SODA_BLACKBOX_TEXT;
		assert_soda_ok(soda_blackbox_reader_open(&rd, e->store, e->sk, &ro, flags, &err),
			       err);
		while (soda_blackbox_reader_next(rd, &rec, 0, &err) > 0) {
			size_t len;
			const uint8_t *body = soda_blackbox_record_get_data(rec, &len);

			assert_true(i < 4);
			assert_int_equal(len, strlen(want[i]));
			assert_memory_equal(body, want[i], len);
			assert_int_equal(soda_blackbox_record_get_flags(rec), 0);
			assert_int_equal(soda_blackbox_record_get_realtime(rec), i < 3 ? rt : rt + 1);
			assert_int_equal(soda_blackbox_record_get_monotonic(rec), i < 3 ? 2000 : 2001);
			/* The three lines come from one frame. */
			if (i == 1 || i == 2)
				assert_int_equal(soda_blackbox_record_get_seq(rec), seq0);
			seq0 = soda_blackbox_record_get_seq(rec);
			i++;
		}
		assert_int_equal(i, 4);
		soda_blackbox_reader_close(rd);
	}
	bb_line_reset(&line);
}

/* An output that gathers frames as the agent does: the writer builds each
 * frame in place (the reserve callback), and frames handed over can still
 * be lost when the gathered ones are sent. The writer, told, opens a new
 * epoch behind a LOSS record; the reader reads around the gap. */
static void *gather_reserve(size_t len, void *userdata)
{
	bb_line *l = userdata;

	if (l->len + len > l->cap) {
		l->cap = (l->len + len) * 2;
		l->data = realloc(l->data, l->cap);
		assert_non_null(l->data);
	}
	return l->data + l->len;
}

static void test_gathered_output_lost(void **state)
{
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_options o = { .label = "gather", .heartbeat_ms = SBW_DISABLED,
			  .reserve = gather_reserve };
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *rep;
	sbw_writer *w = NULL;
	sbw_stats st;
	size_t mark, count = 0;
	char *text;

	assert_int_equal(sbw_new(&w, e->box_pk, &o, bb_line_out, &line), 0);
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "one", 3), 0);
	mark = line.len;
	/* Built in place: bb_line_out sees the frame where it will be. */
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "two", 3), 0);
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "three", 5), 0);
	assert_true(line.len > mark);
	/* The line refused those two frames after all. */
	sbw_output_lost(w, 2, line.len - mark);
	line.len = mark;
	sbw_get_stats(w, &st);
	assert_int_equal(st.lost_records, 2);
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "after", 5), 0);
	assert_int_equal(sbw_end(w, 0), 0);
	sbw_get_stats(w, &st);
	assert_int_equal(st.epoch, 1); /* a new epoch after the loss */
	sbw_free(w);
	bb_feed(s, &line, 0);
	bb_close(s);
	rep = bb_read(e->store, e->sk, 1ull << SODA_BLACKBOX_TEXT, &text, &count);
	assert_int_equal(count, 2);
	assert_string_equal(text, "one\nafter\n");
	free(text);
	soda_blackbox_report_free(rep);
	/* Two LOSS records: the reader's for the gap, frames 3 and 4, and the
	 * writer's, which says it lost two. */
	{
		soda_blackbox_reader_options ro = SODA_BLACKBOX_READER_OPTIONS_INIT;
		soda_blackbox_reader *rd = NULL;
		const soda_blackbox_record *rec;
		soda_error *err = NULL;
		bool gap = false, told = false;

		ro.types = 1ull << SODA_BLACKBOX_LOSS;
		assert_soda_ok(soda_blackbox_reader_open(&rd, e->store, e->sk, &ro, 0, &err), err);
		while (soda_blackbox_reader_next(rd, &rec, 0, &err) > 0) {
			size_t len;
			const uint8_t *body = soda_blackbox_record_get_data(rec, &len);

			if (len >= 24 && memcmp(body, "line-gap: frames 3 to 4 ", 24) == 0)
				gap = true;
			else if (len == SBX_WLOSS_BODY_BYTES)
				told = sbx_get64(body) == 2 && sbx_get32(body + 16) == 1;
		}
		soda_blackbox_reader_close(rd);
		assert_true(gap);
		assert_true(told);
	}
	/* The store saw the gap on the line and wrote it down: the keyless
	 * verifier reports a declared loss, nothing worse. */
	rep = bb_verify(e->store);
	assert_non_null(bb_find(rep, SODA_BLACKBOX_F_DECLARED_LOSS, 0));
	assert_null(bb_first(rep, SODA_BLACKBOX_SEVERITY_ERROR));
	soda_blackbox_report_free(rep);
	bb_line_reset(&line);
}

/* Records of lines that a correct writer never makes (an intruder with the
 * stream's key could): the reader names each, at its frame, and hands out
 * nothing of it; the records around it are read. */
static void test_lines_bad(void **state)
{
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "bad");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	const soda_blackbox_finding *f;
	char *text = NULL;
	size_t n = 0, bad = 0;

	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "before", 6), 0);
	assert_int_equal(sbw_append_record(w, SBX_R_TEXT, SBX_RECORD_F_LINES, 0, "a\nno end", 8, 0,
					   0),
			 0);
	assert_int_equal(sbw_append_record(w, SBX_R_TEXT, SBX_RECORD_F_LINES, 0, NULL, 0, 0, 0), 0);
	assert_int_equal(sbw_append_record(w, SBX_R_SYSLOG, SBX_RECORD_F_LINES, 0, "x\n", 2, 0, 0), 0);
	assert_int_equal(sbw_append_record(w, SBX_R_TEXT,
					   SBX_RECORD_F_LINES | SBX_RECORD_F_CONTINUED, 0, "x\n", 2,
					   0, 0),
			 0);
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "after", 5), 0);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	sbw_free(w);
	bb_close(s);
	r = bb_read(e->store, e->sk, 0, &text, &n);
	bb_dump("read", r);
	assert_non_null(strstr(text, "before\nafter\n"));
	assert_null(strstr(text, "no end"));
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(r); i++) {
		f = soda_blackbox_report_get_finding(r, i);
		if (soda_blackbox_finding_get_kind(f) != SODA_BLACKBOX_F_BAD_RECORD)
			continue;
		bad++;
		assert_true(soda_blackbox_finding_get_segment(f) >= 1);
		assert_true(soda_blackbox_finding_get_offset(f) > 0);
	}
	assert_int_equal(bad, 4);
	f = bb_find(r, SODA_BLACKBOX_F_BAD_RECORD, 0);
	assert_non_null(strstr(soda_blackbox_finding_get_message(f),
			       "a record of lines that does not end with a newline"));
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	free(text);
	soda_blackbox_report_free(r);
	bb_line_reset(&line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gathered_output_lost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
