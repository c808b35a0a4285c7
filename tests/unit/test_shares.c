/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource shares: ranges, units, text form, and their cgroup v1/v2 files. */
#include <stdlib.h>
#include <string.h>

#include "testhelp.h"
#include "host/shares.h"

static void expect_parse_error(const char *text, uint32_t col, const char *needle)
{
	soda_shares *s = NULL;
	soda_error *err = NULL;

	assert_true(soda_shares_parse(&s, text, &err) < 0);
	assert_null(s);
	if (soda_error_column(err) != col || !strstr(soda_error_message(err), needle))
		fail_msg("'%s': column %u '%s', expected column %u with '%s'", text,
			 soda_error_column(err), soda_error_message(err), col, needle);
	soda_error_free(err);
}

static void test_parse(void **state)
{
	soda_shares *s = NULL, *back = NULL;
	soda_error *err = NULL;
	uint64_t rate, burst;
	char *text = NULL, *again = NULL;

	(void)state;
	assert_soda_ok(soda_shares_parse(&s,
					 "cpu.weight=300, cpu.max=20% cpus=0 memory.max=256MiB "
					 "pids.max=512 net.out=20Mbit net.in=1Gbit/64KiB",
					 &err),
		       err);
	assert_int_equal(soda_shares_get_cpu_weight(s), 300);
	assert_int_equal(soda_shares_get_cpu_max(s), 20);
	assert_string_equal(soda_shares_get_cpus(s), "0");
	assert_int_equal(soda_shares_get_memory_max(s), 256ULL << 20);
	assert_int_equal(soda_shares_get_pids_max(s), 512);
	assert_int_equal(soda_shares_get_bandwidth(s, SODA_DIRECTION_OUT, &rate, &burst), 0);
	assert_int_equal(rate, 20000000);
	assert_int_equal(burst, 0);
	assert_int_equal(soda_shares_get_bandwidth(s, SODA_DIRECTION_IN, &rate, &burst), 0);
	assert_int_equal(rate, 1000000000);
	assert_int_equal(burst, 65536);
	assert_int_equal(soda_shares_get_bandwidth(s, 3, &rate, &burst), -EINVAL);
	/* The text form reads back to the same shares. */
	assert_soda_ok(soda_shares_format(&text, s, &err), err);
	assert_soda_ok(soda_shares_parse(&back, text, &err), err);
	assert_soda_ok(soda_shares_format(&again, back, &err), err);
	assert_string_equal(text, again);
	free(text);
	free(again);
	soda_shares_free(s);
	soda_shares_free(back);
	/* Empty text: all defaults. */
	assert_soda_ok(soda_shares_parse(&s, "", &err), err);
	assert_int_equal(soda_shares_get_cpu_weight(s), SODA_CPU_WEIGHT_DEFAULT);
	assert_null(soda_shares_get_cpus(s));
	soda_shares_free(s);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse_error("cpu.weight=0", 1, "outside 1..10000");
	expect_parse_error("cpu.weight=10001", 1, "outside");
	expect_parse_error("cpu.weight=3x", 13, "unknown unit 'x'");
	expect_parse_error("cpu.max=20", 9, "percentage");
	expect_parse_error("cpu.max=0%", 1, "at least 1%");
	expect_parse_error("cpu.max=999999%", 1, "above");
	expect_parse_error("memory.max=12", 1, "below");
	expect_parse_error("memory.max=1Tb", 13, "unknown unit 'Tb'");
	expect_parse_error("pids.max=3", 1, "outside");
	expect_parse_error("x cpu.weight=1 bogus=1", 1, "expected KEY=VALUE");
	expect_parse_error("cpu.weight=1 bogus=1", 14, "unknown key 'bogus'");
	expect_parse_error("net.out=20", 9, "needs a unit");
	expect_parse_error("net.out=20Mbps", 11, "unknown unit 'Mbps'");
	expect_parse_error("net.in=1bit", 1, "outside");
	expect_parse_error("net.in=20Mbit/100B", 1, "outside 3028");
	expect_parse_error("cpus=1000", 1, "no online CPU 1000");
	expect_parse_error("cpus=9999", 1, "past 1023");
	expect_parse_error("cpus=1-0", 1, "bad range");
	expect_parse_error("cpus=a", 1, "expected a number");
	expect_parse_error("memory.max=99999999999999999999G", 12, "needs a number");
}

static void test_setters(void **state)
{
	soda_shares *s = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_int_equal(soda_shares_new(&s, NULL), 0);
	assert_soda_fails(soda_shares_set_bandwidth(s, SODA_DIRECTION_OUT, 0, 5000, &err), -EINVAL,
			  err);
	assert_soda_fails(soda_shares_set_bandwidth(s, 0, 1000000, 0, &err), -EINVAL, err);
	assert_int_equal(soda_shares_set_cpus(s, "0,1", NULL), 0);
	assert_string_equal(soda_shares_get_cpus(s), "0-1");
	assert_int_equal(soda_shares_set_cpus(s, "", NULL), 0);
	assert_null(soda_shares_get_cpus(s));
	/* A failed set leaves the old value. */
	assert_int_equal(soda_shares_set_cpu_weight(s, 42, NULL), 0);
	assert_soda_fails(soda_shares_set_cpu_weight(s, 0, &err), -EINVAL, err);
	assert_int_equal(soda_shares_get_cpu_weight(s), 42);
	/* The backstop must be above the guest's memory (how far above is the
	 * backend's rule: test_cmdline.c has uml's). */
	{
		soda_server_config *cfg = NULL;

		assert_int_equal(soda_server_config_new(&cfg, "m", NULL), 0);
		assert_int_equal(soda_server_config_set_memory(cfg, 128ULL << 20, NULL), 0);
		assert_int_equal(soda_shares_set_memory_max(s, 128ULL << 20, NULL), 0);
		assert_soda_fails(soda_server_config_set_shares(cfg, s, &err), -EINVAL, err);
		assert_int_equal(soda_shares_set_memory_max(s, 256ULL << 20, NULL), 0);
		assert_int_equal(soda_server_config_set_shares(cfg, s, NULL), 0);
		soda_server_config_free(cfg);
	}
	soda_shares_free(s);
}

static const char *find(su_cg_setting *v, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].file, file) == 0)
			return v[i].value;
	return NULL;
}

static void test_cgroup_mapping(void **state)
{
	su_cg_layout v1 = { 0 }, v2 = { 0 }, none = { 0 };
	su_cg_setting *set = NULL;
	soda_shares *s = NULL;
	soda_error *err = NULL;
	size_t n;

	(void)state;
	for (int c = 0; c < SU_CG_N; c++)
		v1.v1[c] = "/sys/fs/cgroup/x";
	v2.v2 = "/sys/fs/cgroup";
	for (int c = 0; c < SU_CG_N; c++)
		v2.v2_has[c] = true;
	assert_int_equal(soda_shares_parse(&s, "cpu.weight=300 cpu.max=20% pids.max=64 cpus=0", NULL),
			 0);

	assert_soda_ok(su_shares_cg_settings(s, 64ULL << 20, &v1, &set, &n, &err), err);
	assert_string_equal(find(set, n, "cpu.shares"), "3072"); /* 300 * 1024 / 100 */
	assert_string_equal(find(set, n, "cpu.cfs_period_us"), "100000");
	assert_string_equal(find(set, n, "cpu.cfs_quota_us"), "20000");
	assert_string_equal(find(set, n, "cpuset.cpus"), "0");
	assert_string_equal(find(set, n, "memory.limit_in_bytes"), "117440512"); /* 64 + 48 MiB */
	assert_string_equal(find(set, n, "pids.max"), "64");
	assert_null(find(set, n, "cpu.weight"));
	free(set);

	assert_soda_ok(su_shares_cg_settings(s, 64ULL << 20, &v2, &set, &n, &err), err);
	assert_string_equal(find(set, n, "cpu.weight"), "300");
	assert_string_equal(find(set, n, "cpu.max"), "20000 100000");
	assert_string_equal(find(set, n, "memory.max"), "117440512");
	assert_null(find(set, n, "cpu.shares"));
	free(set);

	/* Defaults: v1's default share is v1's 1024; no cap. */
	assert_soda_ok(su_shares_cg_settings(NULL, 64ULL << 20, &v1, &set, &n, &err), err);
	assert_string_equal(find(set, n, "cpu.shares"), "1024");
	assert_string_equal(find(set, n, "cpu.cfs_quota_us"), "-1");
	assert_string_equal(find(set, n, "pids.max"), "2048");
	free(set);
	assert_soda_ok(su_shares_cg_settings(NULL, 64ULL << 20, &v2, &set, &n, &err), err);
	assert_string_equal(find(set, n, "cpu.max"), "max 100000");
	free(set);
	/* Weight 1 still gives v1 its minimum of 2. */
	assert_int_equal(soda_shares_set_cpu_weight(s, 1, NULL), 0);
	assert_soda_ok(su_shares_cg_settings(s, 64ULL << 20, &v1, &set, &n, &err), err);
	assert_string_equal(find(set, n, "cpu.shares"), "10");
	free(set);

	/* A share the host cannot enforce is refused, defaults are not. */
	assert_soda_fails(su_shares_cg_settings(s, 64ULL << 20, &none, &set, &n, &err), -EOPNOTSUPP,
			  err);
	assert_soda_ok(su_shares_cg_settings(NULL, 64ULL << 20, &none, &set, &n, &err), err);
	assert_int_equal(n, 0);
	free(set);
	soda_shares_free(s);
}

static void test_setting_lines(void **state)
{
	su_cg_setting set;
	char *text;

	(void)state;
	assert_int_equal(su_cg_setting_parse("cpu:cpu.shares:3072", &set), 0);
	assert_int_equal(set.ctrl, SU_CG_CPU);
	assert_string_equal(set.file, "cpu.shares");
	assert_string_equal(set.value, "3072");
	text = su_cg_setting_format(&set);
	assert_string_equal(text, "cpu:cpu.shares:3072");
	free(text);
	assert_int_equal(su_cg_setting_parse("cpu:cpu.max:max 100000", &set), 0);
	assert_string_equal(set.value, "max 100000");
	/* Only a file of the named controller: no paths, no other files. */
	assert_int_equal(su_cg_setting_parse("cpu:../../etc/passwd:x", &set), -EINVAL);
	assert_int_equal(su_cg_setting_parse("cpu:memory.max:1", &set), -EINVAL);
	assert_int_equal(su_cg_setting_parse("cpu:cgroup.procs:1", &set), -EINVAL);
	assert_int_equal(su_cg_setting_parse("bogus:bogus.x:1", &set), -EINVAL);
	assert_int_equal(su_cg_setting_parse("cpu", &set), -EINVAL);
}

/* All or nothing: a refused write puts the earlier ones back. */
static void test_apply_rolls_back(void **state)
{
	char dir[] = "/tmp/soda-it-cg-XXXXXX";
	su_cg_layout l = { 0 };
	su_cgroup cg;
	su_cg_setting set[3] = {
		{ SU_CG_CPU, "cpu.shares", "3072" },
		{ SU_CG_CPU, "cpu.cfs_quota_us", "20000" },
		{ SU_CG_CPU, "cpu.cfs_period_us", "100000" },
	};
	soda_error *err = NULL;
	char path[128], *text;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* A fake hierarchy whose third file cannot be written (a directory). */
	assert_int_equal(th_sh("mkdir -p %s/srv/cpu.cfs_period_us && echo 1024 > %s/srv/cpu.shares "
			       "&& echo -1 > %s/srv/cpu.cfs_quota_us",
			       dir, dir, dir),
			 0);
	l.v1[SU_CG_CPU] = dir;
	assert_int_equal(su_cg_init(&cg, &l, "srv"), 0);
	assert_true(su_cg_apply(&cg, set, 3, &err) < 0);
	assert_non_null(err);
	soda_error_free(err);
	snprintf(path, sizeof(path), "%s/srv/cpu.shares", dir);
	text = th_read_file(path);
	assert_string_equal(text, "1024");
	free(text);
	snprintf(path, sizeof(path), "%s/srv/cpu.cfs_quota_us", dir);
	text = th_read_file(path);
	assert_string_equal(text, "-1");
	free(text);
	/* Without the broken file, all of it goes in. */
	assert_int_equal(su_cg_apply(&cg, set, 2, NULL), 0);
	text = th_read_file(path);
	assert_string_equal(text, "20000");
	free(text);
	su_cg_done(&cg);
	th_sh("rm -rf %s", dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),        cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_setters),      cmocka_unit_test(test_cgroup_mapping),
		cmocka_unit_test(test_setting_lines),
		cmocka_unit_test(test_apply_rolls_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
