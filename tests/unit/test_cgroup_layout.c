/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Choosing v1 or v2 per controller from mountinfo text. */
#include <string.h>

#include "testhelp.h"
#include "host/cgroup.h"

/* This machine: hybrid, controllers on v1, an empty unified hierarchy. */
static const char hybrid[] =
	"30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
	"38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* Classic systemd v1 layout: cpu and cpuacct co-mounted; a bind of a
 * sub-cgroup (root field not "/") must be ignored. */
static const char comounted[] =
	"25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
	"26 24 0:23 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
	"90 80 0:23 /docker/abc /mnt/memory rw - cgroup cgroup rw,memory\n"
	"27 24 0:24 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,pids\n";

/* v2 only (read_v2_controllers cannot read a fake path: no controllers). */
static const char v2only[] =
	"29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

static void test_hybrid(void **state)
{
	su_cg_layout l;

	(void)state;
	assert_int_equal(su_cg_layout_detect(&l, hybrid, NULL), 0);
	assert_string_equal(l.v1[SU_CG_CPU], "/sys/fs/cgroup/cpu");
	assert_string_equal(l.v1[SU_CG_CPUACCT], "/sys/fs/cgroup/cpuacct");
	assert_string_equal(l.v1[SU_CG_MEMORY], "/sys/fs/cgroup/memory");
	assert_string_equal(l.v1[SU_CG_FREEZER], "/sys/fs/cgroup/freezer");
	assert_string_equal(l.v1[SU_CG_PIDS], "/sys/fs/cgroup/pids");
	assert_string_equal(l.v2, "/sys/fs/cgroup/unified");
	for (int c = 0; c < SU_CG_N; c++) {
		assert_string_equal(su_cg_version_of(&l, c), "v1");
		assert_false(l.v2_has[c]); /* held by v1 */
	}
	su_cg_layout_free(&l);
}

static void test_comounted(void **state)
{
	su_cg_layout l;

	(void)state;
	assert_int_equal(su_cg_layout_detect(&l, comounted, NULL), 0);
	assert_string_equal(l.v1[SU_CG_CPU], "/sys/fs/cgroup/cpu,cpuacct");
	assert_string_equal(l.v1[SU_CG_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct");
	assert_string_equal(l.v1[SU_CG_MEMORY], "/sys/fs/cgroup/memory");
	assert_string_equal(l.v1[SU_CG_PIDS], "/sys/fs/cgroup/with space");
	assert_null(l.v1[SU_CG_FREEZER]);
	assert_null(l.v2);
	assert_false(su_cg_has(&l, SU_CG_FREEZER));
	assert_string_equal(su_cg_version_of(&l, SU_CG_FREEZER), "none");
	su_cg_layout_free(&l);
}

static void test_v2only(void **state)
{
	su_cg_layout l;
	su_cgroup cg;

	(void)state;
	assert_int_equal(su_cg_layout_detect(&l, v2only, NULL), 0);
	assert_string_equal(l.v2, "/sys/fs/cgroup");
	for (int c = 0; c < SU_CG_N; c++)
		assert_null(l.v1[c]);
	/* Paths are relative names only. */
	assert_int_equal(su_cg_init(&cg, &l, "../escape"), -EINVAL);
	assert_int_equal(su_cg_init(&cg, &l, "/abs"), -EINVAL);
	assert_int_equal(su_cg_init(&cg, &l, "a//b"), -EINVAL);
	assert_int_equal(su_cg_init(&cg, &l, "a/b c"), -EINVAL);
	assert_int_equal(su_cg_init(&cg, &l, "soda/0badc0de/web-1"), 0);
	su_cg_done(&cg);
	su_cg_layout_free(&l);
}

static void test_garbage(void **state)
{
	su_cg_layout l;

	(void)state;
	assert_int_equal(su_cg_layout_detect(&l, "garbage\n - \n1 2 3\n\n - - -\n", NULL), 0);
	assert_null(l.v2);
	su_cg_layout_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_comounted),
		cmocka_unit_test(test_v2only),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
