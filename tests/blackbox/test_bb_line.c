/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest's line carries one stream per boot that is the server's: the
 * agent's, the first on the line. Attacks by root in the guest, who can
 * write to the line through a device node of its own and can seal a stream
 * to the tenant's public key (it is on the guest's command line): a second
 * stream, bytes torn into the agent's frames, a frame injected into the
 * agent's stream. Each must be damage to the verifier, and the reader must
 * never hand out the intruder's records as the server's. The store also
 * chains the host's time of receipt: a record whose claimed time is far
 * from it, or goes backwards, is flagged (a guest whose clock was set).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bbtest.h"
#include "libsoda/blackbox/internal.h"
#include "testhelp.h"

#define S_ERR SODA_BLACKBOX_SEVERITY_ERROR

static int setup(void **state)
{
	bb_env *e = calloc(1, sizeof(*e));

	bb_env_setup(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	bb_env *e = *state;

	bb_env_teardown(e);
	free(e);
	return 0;
}

static void text(sbw_writer *w, const char *s)
{
	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, s, strlen(s)), 0);
}

/* What the reader hands out, record by record. */
typedef struct seen {
	int server, foreign, server_flagged, foreign_unflagged, far, back, received;
	bool forged_as_server;
	uint64_t max_rx_gap; /* |received - claimed| of unflagged records */
} seen;

static soda_blackbox_report *read_all(const bb_env *e, seen *out)
{
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *err = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	assert_soda_ok(soda_blackbox_reader_open(&rd, e->store, e->sk, NULL, 0, &err), err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &err)) == 1) {
		uint32_t fl = soda_blackbox_record_get_flags(rec);
		const char *origin = soda_blackbox_record_get_origin(rec);
		size_t len;
		const char *d = (const char *)soda_blackbox_record_get_data(rec, &len);
		bool forged = len >= 6 && memcmp(d, "FORGED", 6) == 0;
		uint64_t rt = soda_blackbox_record_get_realtime(rec);
		uint64_t rx = soda_blackbox_record_get_received(rec);

		if (soda_blackbox_record_get_type(rec) != SODA_BLACKBOX_TEXT)
			continue; /* (the ends, the store's notes) */
		if (fl & SODA_BLACKBOX_RECORD_F_FOREIGN) {
			out->foreign++;
			assert_string_equal(origin, "foreign");
		} else {
			out->server++;
			assert_string_equal(origin, "guest");
		}
		if (forged && !(fl & SODA_BLACKBOX_RECORD_F_FOREIGN))
			out->forged_as_server = true;
		if (fl & SODA_BLACKBOX_RECORD_F_TIME_FAR)
			out->far++;
		if (fl & SODA_BLACKBOX_RECORD_F_TIME_BACK)
			out->back++;
		if (rx) {
			uint64_t gap = rx > rt ? rx - rt : rt - rx;

			out->received++;
			if (!(fl & SODA_BLACKBOX_RECORD_F_TIME_FAR) && gap > out->max_rx_gap)
				out->max_rx_gap = gap;
		}
	}
	assert_int_equal(r, 0);
	{
		soda_blackbox_report *rep = sbb_reader_take_report(rd);

		soda_blackbox_reader_close(rd);
		return rep;
	}
}

/* The agent alone: intact, nothing flagged, every record with its receipt
 * (the positive control of the attacks below). */
static void test_agent_alone_is_intact(void **state)
{
	bb_env *e = *state;
	bb_line agent = { 0 };
	sbw_writer *a = bb_writer(e, &agent, "srv");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	seen sn;

	for (int i = 0; i < 10; i++)
		text(a, "agent record");
	assert_int_equal(sbw_end(a, 0), 0);
	bb_feed(s, &agent, 100);
	bb_close(s);
	r = bb_verify(e->store);
	bb_dump("verify", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	r = read_all(e, &sn);
	bb_dump("read", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	assert_int_equal(sn.server, 10);
	assert_int_equal(sn.foreign, 0);
	assert_int_equal(sn.far + sn.back, 0);
	assert_int_equal(sn.received, 10);
	assert_true(sn.max_rx_gap < 2000000);
	soda_blackbox_report_free(r);
	sbw_free(a);
	bb_line_reset(&agent);
}

/* Root in the guest seals a stream of its own to the tenant's key and
 * writes it to the line while the agent's stream runs. */
static void test_second_stream_is_foreign(void **state)
{
	bb_env *e = *state;
	bb_line agent = { 0 }, intruder = { 0 };
	sbw_writer *a = bb_writer(e, &agent, "srv");
	sbw_writer *x = bb_writer(e, &intruder, "srv"); /* the same label: no help there */
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	const soda_blackbox_finding *f;
	uint64_t n = 0;
	seen sn;

	text(a, "agent: boot");
	bb_feed(s, &agent, 0);
	text(x, "FORGED sshd exec");
	text(x, "FORGED login");
	bb_feed(s, &intruder, 7);
	text(a, "agent: after");
	assert_int_equal(sbw_end(a, 0), 0);
	bb_feed(s, &agent, 0);
	assert_int_equal(sbw_end(x, 0), 0);
	bb_feed(s, &intruder, 0);
	assert_int_equal(soda_blackbox_store_get_counter(s, SODA_BLACKBOX_STAT_FOREIGN_STREAMS, &n), 0);
	assert_int_equal(n, 1);
	bb_close(s);

	r = bb_verify(e->store);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	f = bb_find(r, SODA_BLACKBOX_F_FOREIGN_STREAM, SODA_BLACKBOX_BASIS_STRUCTURE);
	assert_non_null(f);
	{
		char id[33];

		for (int i = 0; i < 16; i++)
			snprintf(id + 2 * i, 3, "%02x", sbw_stream_id(x)[i]);
		assert_string_equal(soda_blackbox_finding_get_stream(f), id);
	}
	soda_blackbox_report_free(r);

	r = read_all(e, &sn);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_FOREIGN_STREAM, 0));
	assert_false(sn.forged_as_server);
	assert_int_equal(sn.server, 2);
	assert_int_equal(sn.foreign, 2);
	soda_blackbox_report_free(r);
	sbw_free(a);
	sbw_free(x);
	bb_line_reset(&agent);
	bb_line_reset(&intruder);
}

/* The intruder's bytes land in the middle of one of the agent's frames. */
static void test_bytes_torn_into_a_frame(void **state)
{
	bb_env *e = *state;
	bb_line agent = { 0 };
	sbw_writer *a = bb_writer(e, &agent, "srv");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	size_t mid;
	seen sn;

	text(a, "agent: boot");
	bb_feed(s, &agent, 0);
	text(a, "agent: this frame gets torn");
	mid = agent.len / 2;
	assert_int_equal(soda_blackbox_store_feed(s, agent.data, mid, 0, NULL), 0);
	assert_int_equal(soda_blackbox_store_feed(s, "\xab" "SBX junk", 9, 0, NULL), 0);
	assert_int_equal(soda_blackbox_store_feed(s, agent.data + mid, agent.len - mid, 0, NULL), 0);
	bb_line_reset(&agent);
	sbw_rekey(a); /* (so that what follows can be read) */
	text(a, "agent: later");
	assert_int_equal(sbw_end(a, 0), 0);
	bb_feed(s, &agent, 0);
	bb_close(s);

	r = bb_verify(e->store);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_FOREIGN_STREAM, SODA_BLACKBOX_BASIS_STRUCTURE));
	soda_blackbox_report_free(r);
	r = read_all(e, &sn);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	/* The store found the agent's frames again after the torn one. */
	assert_int_equal(sn.server, 2);
	assert_int_equal(sn.foreign, 0);
	soda_blackbox_report_free(r);
	sbw_free(a);
	bb_line_reset(&agent);
}

/* A frame injected into the agent's stream (its id, the next sequence
 * number, a valid checksum, no key): the agent's own frame of that number
 * is then refused, which makes it damage without a key; the reader finds
 * the injected frame not authentic. */
static void test_frame_injected_into_the_agents_stream(void **state)
{
	bb_env *e = *state;
	bb_line agent = { 0 };
	sbw_writer *a = bb_writer(e, &agent, "srv");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	uint8_t fake[SBX_HEADER_BYTES + 64];
	sbx_header h;
	seen sn;

	text(a, "agent: boot");
	bb_feed(s, &agent, 0);
	text(a, "agent: next");
	/* The next frame the agent will send, as the intruder guesses it. */
	assert_int_equal(sbx_header_decode(&h, agent.data), 0);
	h.len = 64;
	memset(fake + SBX_HEADER_BYTES, 0x5a, 64);
	sbx_header_encode(fake, &h, fake + SBX_HEADER_BYTES);
	assert_int_equal(soda_blackbox_store_feed(s, fake, sizeof(fake), 0, NULL), 0);
	bb_feed(s, &agent, 0);
	assert_int_equal(sbw_end(a, 0), 0);
	bb_feed(s, &agent, 0);
	bb_close(s);

	r = bb_verify(e->store);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_FOREIGN_STREAM, SODA_BLACKBOX_BASIS_STRUCTURE));
	soda_blackbox_report_free(r);
	r = read_all(e, &sn);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_DECRYPT_FAILED, SODA_BLACKBOX_BASIS_CRYPTO));
	assert_int_equal(sn.foreign, 0);
	soda_blackbox_report_free(r);
	sbw_free(a);
	bb_line_reset(&agent);
}

/* Noise before the agent's stream (no userland runs yet): not foreign. */
static void test_noise_before_the_agent_is_no_damage(void **state)
{
	bb_env *e = *state;
	bb_line agent = { 0 };
	sbw_writer *a = bb_writer(e, &agent, "srv");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;

	assert_int_equal(soda_blackbox_store_feed(s, "\r\n\r\n", 4, 0, NULL), 0);
	text(a, "agent: boot");
	assert_int_equal(sbw_end(a, 0), 0);
	bb_feed(s, &agent, 0);
	bb_close(s);
	r = bb_verify(e->store);
	bb_dump("verify", r);
	assert_int_not_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_null(bb_find(r, SODA_BLACKBOX_F_FOREIGN_STREAM, 0));
	soda_blackbox_report_free(r);
	sbw_free(a);
	bb_line_reset(&agent);
}

static uint64_t skewed_clock(int realtime, void *userdata)
{
	const int64_t *skew = userdata;
	struct timespec ts;

	clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (uint64_t)((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + (realtime ? *skew : 0));
}

/* The guest's clock set back an hour, then forward again, then back by a
 * minute: the records' claimed times against the host's receipt. */
static void test_claimed_times_against_receipt(void **state)
{
	bb_env *e = *state;
	bb_line agent = { 0 };
	int64_t skew = 0;
	sbw_options wo = { .label = "srv", .clock = skewed_clock, .clock_userdata = &skew };
	sbw_writer *a = NULL;
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	seen sn;

	assert_int_equal(sbw_new(&a, e->box_pk, &wo, bb_line_out, &agent), 0);
	text(a, "on time");
	bb_feed(s, &agent, 0);
	skew = -3600ll * 1000000; /* date -s "1 hour ago" */
	text(a, "FORGED backdated");
	bb_feed(s, &agent, 0);
	skew = 0;
	text(a, "on time again");
	bb_feed(s, &agent, 0);
	skew = -60ll * 1000000;
	text(a, "a minute back");
	assert_int_equal(sbw_end(a, 0), 0);
	skew = 0;
	bb_feed(s, &agent, 0);
	bb_close(s);

	r = read_all(e, &sn);
	bb_dump("read", r);
	assert_int_equal(sn.server, 4);
	assert_int_equal(sn.received, 4);
	assert_int_equal(sn.far, 2);  /* the hour and the minute */
	assert_int_equal(sn.back, 2); /* the hour back, the minute back */
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_CLOCK, SODA_BLACKBOX_BASIS_CRYPTO));
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(r);
	sbw_free(a);
	bb_line_reset(&agent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_alone_is_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_stream_is_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_torn_into_a_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_injected_into_the_agents_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noise_before_the_agent_is_no_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claimed_times_against_receipt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
