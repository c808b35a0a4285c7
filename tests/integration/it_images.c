/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images from a directory, a tarball and an existing ext4 file boot, and
 * servers share one base image through their own copy-on-write layers. */
#include "it_common.h"

static soda_server *boot(th_env *env, const char *name, const char *image)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;

	assert_int_equal(soda_server_config_new(&cfg, name, NULL), 0);
	assert_int_equal(soda_server_config_set_image(cfg, image, NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

static void test_tree_images(void **state)
{
	th_env *env = *state;
	char dir[128], tar[160];
	soda_server *a, *b;
	char *out = NULL;

	th_require_root();
	/* A tiny root of our own: busybox applets through the soda busybox. */
	snprintf(dir, sizeof(dir), "%s/tree", env->state_dir);
	assert_int_equal(th_sh("mkdir -p %s/bin %s/etc && cp /bin/busybox %s/bin/ && "
			       "ln -s busybox %s/bin/sh && ln -s busybox %s/bin/cat && "
			       "echo from-directory > %s/etc/motd",
			       dir, dir, dir, dir, dir, dir),
			 0);
	assert_soda_ok(soda_image_build(env->ctx, "fromdir", SODA_IMAGE_SOURCE_DIRECTORY, dir, 0, 0,
					&env->err),
		       env->err);
	snprintf(tar, sizeof(tar), "%s/tree.tar.gz", env->state_dir);
	assert_int_equal(th_sh("echo from-tarball > %s/etc/motd && tar -czf %s -C %s .", dir, tar,
			       dir),
			 0);
	assert_soda_ok(soda_image_build(env->ctx, "fromtar", SODA_IMAGE_SOURCE_TARBALL, tar, 0, 0,
					&env->err),
		       env->err);
	a = boot(env, "a", "fromdir");
	b = boot(env, "b", "fromtar");
	assert_int_equal(th_exec(a, "cat /etc/motd", &out), 0);
	assert_non_null(strstr(out, "from-directory"));
	free(out);
	assert_int_equal(th_exec(b, "cat /etc/motd", &out), 0);
	assert_non_null(strstr(out, "from-tarball"));
	free(out);
	soda_server_unref(a);
	soda_server_unref(b);
}

static void test_import_and_sharing(void **state)
{
	th_env *env = *state;
	char *path = NULL, *out = NULL;
	soda_server *a, *b;

	th_require_root();
	th_build_image(env);
	assert_soda_ok(soda_image_get_path(&path, env->ctx, "busybox", &env->err), env->err);
	assert_soda_ok(soda_image_build(env->ctx, "imported", SODA_IMAGE_SOURCE_EXT4, path, 0, 0,
					&env->err),
		       env->err);
	soda_free(path);
	/* Two servers on one base: each writes its own layer. */
	a = boot(env, "first", "imported");
	b = boot(env, "second", "imported");
	assert_int_equal(th_exec(a, "echo mine > /root/who && sync", NULL), 0);
	assert_int_not_equal(th_exec(b, "cat /root/who", NULL), 0);
	assert_int_equal(th_exec(b, "echo other > /root/who && sync && cat /root/who", &out), 0);
	assert_non_null(strstr(out, "other"));
	free(out);
	assert_int_equal(th_exec(a, "cat /root/who", &out), 0);
	assert_non_null(strstr(out, "mine"));
	free(out);
	soda_server_unref(a);
	soda_server_unref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tree_images, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_import_and_sharing, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
