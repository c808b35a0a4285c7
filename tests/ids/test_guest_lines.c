/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor's side of Kernort inside the guest (backends/uml/monitor/
 * ids_guest.h): the agent's metadata lines are hostile input. Exactly the
 * documented form is taken, nothing without the configuration's consent,
 * no more than the rate; the JSON line is compared exactly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/uml/monitor/ids.h"
#include "backends/uml/monitor/ids_guest.h"

static void test_parse(void **state)
{
	static const char *const bad[] = {
		"", "1 1001 0 3", "1 1001 0 3 exec ", " 1 1001 0 3 exec", "1  1001 0 3 exec",
		"1 1001 0 0 exec", "1 1001 0 256 exec", "01 1001 0 3 exec", "-1 1001 0 3 exec",
		"1 4294967296 0 3 exec", "1 99999999999 0 3 exec", "1 1001 0 3 shell",
		"1 1001 0 3 exec\n", "1 1001 0 3 EXEC", "1 1001 0 3 exec x", "1 +1 0 3 exec",
		"1 1001 0x1 3 exec",
	};
	struct midg_alert a;

	(void)state;
	assert_int_equal(midg_parse("1 1001 0 3 exec", &a), 0);
	assert_int_equal(a.gid, 1);
	assert_int_equal(a.sid, 1001);
	assert_int_equal(a.rev, 0);
	assert_int_equal(a.priority, 3);
	assert_string_equal(a.kind, "exec");
	assert_int_equal(midg_parse("4294967295 4294967295 4294967295 255 klog", &a), 0);
	assert_int_equal(a.sid, 4294967295u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (midg_parse(bad[i], &a) != -EINVAL)
			fail_msg("taken: '%s'", bad[i]);
}

static void test_json(void **state)
{
	struct midg_alert a = { 1, 1002, 2, 1, "file" };
	static const char want[] = "{\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"server\":"
				   "\"web\\u00221\",\"source\":\"guest\",\"gid\":1,\"sid\":1002,"
				   "\"rev\":2,\"priority\":1,\"kind\":\"file\"}";
	char buf[600];

	(void)state;

	assert_int_equal(midg_json(buf, sizeof(buf), &a, 1700000000123456ull, "web\"1"),
			 (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(midg_json(buf, 20, &a, 1700000000123456ull, "web"), -ENOSPC);
}

static size_t lines_in(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void test_consent_and_rate(void **state)
{
	char dir[] = "/tmp/soda-kx-lines-XXXXXX", *old = getcwd(NULL, 0);

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	/* without the configuration's consent: taken off the line, not passed on */
	midg_init("srv", false, NULL);
	assert_true(midg_on_line("ids-alert 1 1001 0 3 exec"));
	assert_int_equal(access(MIDS_LANDLORD_FILE, F_OK), -1);
	/* other agent lines are not this module's */
	assert_false(midg_on_line("ready"));
	assert_false(midg_on_line("ids-alertx 1 1001 0 3 exec"));
	/* with it (the positive control): one line each */
	midg_init("srv", true, NULL);
	assert_true(midg_on_line("ids-alert 1 1001 0 3 exec"));
	assert_int_equal(lines_in(MIDS_LANDLORD_FILE), 1);
	/* malformed: refused */
	assert_true(midg_on_line("ids-alert 1 1001 0 3 exec; rm -rf /"));
	assert_true(midg_on_line("ids-dropped 12"));
	assert_int_equal(lines_in(MIDS_LANDLORD_FILE), 1);
	/* a flood: the burst, then the rate */
	for (int i = 0; i < 200; i++)
		assert_true(midg_on_line("ids-alert 1 1001 0 3 exec"));
	{
		size_t n = lines_in(MIDS_LANDLORD_FILE);

		if (n < MIDG_BURST || n > MIDG_BURST + 3)
			fail_msg("%zu lines after a flood of 200", n);
	}
	unlink(MIDS_LANDLORD_FILE);
	assert_int_equal(chdir(old), 0);
	assert_int_equal(rmdir(dir), 0);
	free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_consent_and_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
