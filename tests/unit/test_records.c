/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state store's record files: kv encoding, status and launch specs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhelp.h"
#include "libsoda/kv.h"
#include "backends/uml/proto.h"

struct collect {
	char *keys[16];
	char *values[16];
	uint32_t lines[16];
	int n;
};

static int collect(const char *key, const char *value, uint32_t line, void *userdata)
{
	struct collect *c = userdata;

	if (c->n >= 16)
		return -E2BIG;
	c->keys[c->n] = strdup(key);
	c->values[c->n] = strdup(value);
	c->lines[c->n] = line;
	c->n++;
	return 0;
}

static void free_collect(struct collect *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->keys[i]);
		free(c->values[i]);
	}
}

static void test_kv_escapes(void **state)
{
	su_buf b = { 0 };
	struct collect c = { 0 };
	unsigned version = 0;
	char odd[256];

	(void)state;
	/* Every byte but NUL survives, and every record stays on one line. */
	for (int i = 1; i < 256; i++)
		odd[i - 1] = (char)i;
	odd[255] = '\0';
	su_kv_header(&b, "soda-test", 2);
	su_kv_add(&b, "odd", odd);
	su_kv_add(&b, "empty", "");
	su_kv_add_u64(&b, "big", UINT64_MAX);
	su_kv_add_i64(&b, "neg", -42);
	assert_false(b.oom);
	assert_int_equal(strchr(b.data, '\n') - b.data, strlen("soda-test 2"));
	assert_int_equal(su_kv_parse(b.data, b.len, "t", "soda-test", 2, &version, collect, &c,
				     NULL),
			 0);
	assert_int_equal(version, 2);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.values[0], odd);
	assert_string_equal(c.values[1], "");
	assert_string_equal(c.values[2], "18446744073709551615");
	assert_string_equal(c.values[3], "-42");
	assert_int_equal(c.lines[3], 5);
	free_collect(&c);
	su_buf_free(&b);
}

static void expect_kv_error(const char *text, size_t len, uint32_t line, uint32_t col,
			    const char *needle)
{
	struct collect c = { 0 };
	soda_error *err = NULL;

	assert_true(su_kv_parse(text, len, "src", "soda-test", 1, NULL, collect, &c, &err) < 0);
	assert_non_null(err);
	if (soda_error_line(err) != line || (col && soda_error_column(err) != col))
		fail_msg("at %u:%u, expected %u:%u: %s", soda_error_line(err),
			 soda_error_column(err), line, col, soda_error_message(err));
	if (!strstr(soda_error_message(err), needle))
		fail_msg("'%s' lacks '%s'", soda_error_message(err), needle);
	soda_error_free(err);
	free_collect(&c);
}

static void test_kv_errors(void **state)
{
	(void)state;
	expect_kv_error("soda-test 1\nkey value\nkey2", 26, 3, 0, "truncated");
	expect_kv_error("soda-test 1\nkey value\0x\n", sizeof("soda-test 1\nkey value\0x\n") - 1, 0, 0, "NUL");
	expect_kv_error("soda-test 1\nkey va%4", 20, 2, 9, "truncated");
	expect_kv_error("soda-test 1\nkey va%4\n", 21, 2, 7, "escape");
	expect_kv_error("soda-test 1\nkey a b\n", 20, 2, 6, "unescaped");
	expect_kv_error("soda-test 1\nkeyonly\n", 20, 2, 1, "key value");
	expect_kv_error("soda-test 1\nKey v\n", 18, 2, 1, "bad character");
	expect_kv_error("soda-test 0\n", 12, 1, 0, "unsupported");
	expect_kv_error("soda-test x\n", 12, 1, 0, "unsupported");
	expect_kv_error("other 1\n", 8, 1, 1, "not a 'soda-test' file");
	expect_kv_error("", 0, 1, 1, "empty");
}

static void test_status_round_trip(void **state)
{
	su_status st, back;
	char *text;
	soda_error *err = NULL;

	(void)state;
	su_status_init(&st);
	st.state = SODA_STATE_PAUSED;
	snprintf(st.reason, sizeof(st.reason), "frozen by an operator\n with: odd bytes %%");
	st.monitor_pid = 1234;
	st.monitor_start = 987654321;
	st.guest_pid = 1240;
	st.uid = 1000100007;
	st.started_usec = 1700000000123456ULL;
	st.ready = true;
	st.ready_usec = 190000;
	st.exit_signal = 9;
	su_strv_push(&st.netdevs, "0 sd12345678a0");
	text = su_status_serialize(&st);
	assert_non_null(text);
	assert_soda_ok(su_status_parse(&back, text, strlen(text), "status", &err), err);
	assert_int_equal(back.state, SODA_STATE_PAUSED);
	assert_string_equal(back.reason, st.reason);
	assert_int_equal(back.monitor_pid, 1234);
	assert_int_equal(back.monitor_start, 987654321);
	assert_int_equal(back.uid, 1000100007);
	assert_int_equal(back.started_usec, 1700000000123456ULL);
	assert_true(back.ready);
	assert_int_equal(back.exit_signal, 9);
	assert_int_equal(back.exit_code, -1);
	assert_string_equal(back.netdevs[0], "0 sd12345678a0");
	assert_true(su_state_is_live(back.state));
	assert_false(su_state_is_live(SODA_STATE_CRASHED));
	free(text);
	su_status_done(&st);
	su_status_done(&back);
	/* A torn or foreign status file is an error naming the line. */
	assert_true(su_status_parse(&back, "soda-status 1\nstate flying\n", 27, "s", &err) < 0);
	assert_int_equal(soda_error_line(err), 2);
	assert_non_null(strstr(soda_error_message(err), "flying"));
	soda_error_free(err);
	err = NULL;
	assert_true(su_status_parse(&back, "soda-status 1\nmonitor-pid x1\n", 29, "s", &err) < 0);
	assert_int_equal(soda_error_line(err), 2);
	soda_error_free(err);
}

static void test_launch_round_trip(void **state)
{
	su_launch l = { 0 }, back = { 0 };
	soda_error *err = NULL;
	char *text, *again;

	(void)state;
	l.name = strdup("web");
	l.state_dir = strdup("/var/lib/soda test");
	l.run_dir = strdup("/var/lib/soda test/run/web");
	l.status_path = strdup("/var/lib/soda test/status/web");
	l.console_log = strdup("/var/lib/soda test/servers/web/console.log");
	l.cgroup = strdup("soda/0badc0de/web");
	l.monitor_cgroup = strdup("soda/0badc0de/_monitors");
	l.netns = strdup("/run/netns/soda-it-1");
	l.uid = l.gid = 1000100000;
	l.memory = 64ULL << 20;
	assert_int_equal(su_launch_add_mount(&l, SU_MNT_BIND_RO, "/usr/bin/linux.uml",
					     "/usr/bin/linux.uml", 0, 0, 0),
			 0);
	assert_int_equal(su_launch_add_mount(&l, SU_MNT_TMPFS, "/tmp", NULL, 80ULL << 20, 0700,
					     1000100000),
			 0);
	assert_int_equal(su_launch_add_mount(&l, SU_MNT_BIND_RW, "/share/0", "/srv/a:b c", 0, 0, 0),
			 0);
	su_strv_push(&l.argv, "/usr/bin/linux.uml");
	su_strv_push(&l.argv, "mem=64M");
	text = su_launch_serialize(&l);
	assert_non_null(text);
	assert_soda_ok(su_launch_parse(&back, text, strlen(text), "launch", &err), err);
	again = su_launch_serialize(&back);
	assert_string_equal(text, again);
	assert_int_equal(back.n_mounts, 3);
	assert_string_equal(back.mounts[2].src, "/srv/a:b c");
	assert_int_equal(back.mounts[1].size, 80ULL << 20);
	assert_int_equal(back.mounts[1].mode, 0700);
	free(text);
	free(again);
	su_launch_free(&back);
	/* A jail path with ".." or a relative bind source is refused. */
	text = "soda-launch 1\nbind-ro /x/../etc:/etc\n";
	assert_true(su_launch_parse(&back, text, strlen(text), "launch", &err) < 0);
	soda_error_free(err);
	err = NULL;
	text = "soda-launch 1\nbind-ro /x:etc\n";
	assert_true(su_launch_parse(&back, text, strlen(text), "launch", &err) < 0);
	soda_error_free(err);
	err = NULL;
	/* Missing required parts. */
	text = "soda-launch 1\nname x\n";
	assert_true(su_launch_parse(&back, text, strlen(text), "launch", &err) < 0);
	assert_non_null(strstr(soda_error_message(err), "incomplete"));
	soda_error_free(err);
	su_launch_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_escapes),
		cmocka_unit_test(test_kv_errors),
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_launch_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
