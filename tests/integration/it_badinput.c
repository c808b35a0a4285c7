/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bad input against the real backend: each mistake gives -errno and a
 * message naming the problem, changes nothing and leaks nothing.
 */
#include "it_common.h"

/* The state directory's servers/ and status/ as a listing, to compare
 * before and after a failed call. */
static char *snapshot(th_env *env)
{
	char *argv[] = { "/bin/sh", "-c", NULL, NULL }, *cmd = NULL, *out = NULL;

	if (asprintf(&cmd,
		     "cd %s && find servers status run images -printf '%%p %%s %%T@\\n' | sort",
		     env->state_dir) < 0)
		return NULL;
	argv[2] = cmd;
	th_run(argv, &out);
	free(cmd);
	return out;
}

static void define_fails(th_env *env, soda_server_config *cfg, int code, const char *needle)
{
	soda_server *srv = NULL;
	char *before = snapshot(env), *after;
	int r = soda_server_define(&srv, env->ctx, cfg, 0, &env->err);

	if (r != code || !env->err || !strstr(soda_error_message(env->err), needle))
		fail_msg("define gave %d '%s', expected %d with '%s'", r,
			 env->err ? soda_error_message(env->err) : "", code, needle);
	assert_null(srv);
	soda_error_free(env->err);
	env->err = NULL;
	after = snapshot(env);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static soda_server *define(th_env *env, const char *name, const char *image)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;

	assert_int_equal(soda_server_config_new(&cfg, name, NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
	if (image)
		assert_int_equal(soda_server_config_set_image(cfg, image, NULL), 0);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	return srv;
}

static void test_names_and_lookups(void **state)
{
	th_env *env = *state;
	soda_server *srv = NULL;

	th_require_root();
	for (const char *const *bad = (const char *const[]){ "", "/", "..", ".", "a/b", "../etc",
							     "x\n", "x\x1b[2J", NULL };
	     *bad; bad++) {
		assert_int_equal(soda_server_lookup(&srv, env->ctx, *bad, &env->err), -EINVAL);
		assert_non_null(env->err);
		soda_error_free(env->err);
		env->err = NULL;
	}
	assert_soda_fails(soda_server_lookup(&srv, env->ctx, "absent", &env->err), -ENOENT,
			  env->err);
	assert_null(srv);
}

static void test_define_errors(void **state)
{
	th_env *env = *state;
	soda_server_config *cfg = NULL;
	soda_server *srv;
	char *before, *after;

	th_require_root();
	th_build_image(env);
	assert_int_equal(soda_server_config_new(&cfg, "dup", NULL), 0);
	assert_int_equal(soda_server_config_set_image(cfg, "missing-image", NULL), 0);
	define_fails(env, cfg, -ENOENT, "image 'missing-image' is not in the image store");
	assert_int_equal(soda_server_config_set_image(cfg, "busybox", NULL), 0);
	srv = define(env, "dup", NULL);
	/* A duplicate changes nothing about the original. */
	assert_int_equal(soda_server_config_set_memory(cfg, 96 << 20, NULL), 0);
	define_fails(env, cfg, -EEXIST, "already exists");
	{
		soda_server_config *back = NULL;

		assert_soda_ok(soda_server_get_config(&back, srv, &env->err), env->err);
		assert_int_equal(soda_server_config_get_memory(back), 48 << 20);
		soda_server_config_free(back);
	}
	soda_server_config_free(cfg);
	/* Memory below what UML boots with never gets into a configuration. */
	assert_int_equal(soda_server_config_new(&cfg, "tiny", NULL), 0);
	assert_soda_fails(soda_server_config_set_memory(cfg, 16 << 20, &env->err), -EINVAL,
			  env->err);
	soda_server_config_free(cfg);
	/* The uml backend's own rules (its driver's validate(); the core's
	 * setters let these through): refused at define, changing nothing. */
	{
		soda_shares *sh = NULL;
		char word[201];

		assert_int_equal(soda_server_config_new(&cfg, "rules", NULL), 0);
		assert_int_equal(soda_server_config_add_kernel_arg(cfg, "init=/bin/sh", NULL), 0);
		define_fails(env, cfg, -EINVAL, "'init=/bin/sh' is set by libsoda");
		soda_server_config_free(cfg);
		memset(word, 'w', sizeof(word) - 1);
		word[sizeof(word) - 1] = '\0';
		assert_int_equal(soda_server_config_new(&cfg, "rules", NULL), 0);
		for (int i = 0; i < 11; i++)
			assert_int_equal(soda_server_config_add_kernel_arg(cfg, word, NULL), 0);
		define_fails(env, cfg, -E2BIG, "2048 bytes");
		soda_server_config_free(cfg);
		assert_int_equal(soda_server_config_new(&cfg, "rules", NULL), 0);
		assert_int_equal(soda_server_config_set_memory(cfg, 128 << 20, NULL), 0);
		assert_int_equal(soda_shares_new(&sh, NULL), 0);
		assert_int_equal(soda_shares_set_memory_max(sh, 130 << 20, NULL), 0);
		assert_int_equal(soda_server_config_set_shares(cfg, sh, NULL), 0);
		define_fails(env, cfg, -EINVAL, "for linux.uml itself");
		soda_shares_free(sh);
		soda_server_config_free(cfg);
	}

	/* Wrong-state operations. */
	before = snapshot(env);
	assert_soda_fails(soda_server_stop(srv, 1000, 0, &env->err), -EBUSY, env->err);
	assert_soda_fails(soda_server_kill(srv, 0, &env->err), -EBUSY, env->err);
	assert_soda_fails(soda_server_freeze(srv, 0, &env->err), -EBUSY, env->err);
	assert_soda_fails(soda_server_thaw(srv, 0, &env->err), -EBUSY, env->err);
	{
		int fd = -1;

		assert_soda_fails(soda_server_open_console(&fd, srv, 0, &env->err), -EBUSY,
				  env->err);
		assert_int_equal(fd, -1);
	}
	after = snapshot(env);
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	assert_soda_fails(soda_server_start(srv, 0, &env->err), -EBUSY, env->err);
	assert_soda_fails(soda_server_undefine(srv, 0, &env->err), -EBUSY, env->err);
	assert_soda_fails(soda_server_thaw(srv, 0, &env->err), -EBUSY, env->err);
	assert_soda_fails(soda_server_start(srv, 0x80, &env->err), -EINVAL, env->err);
	assert_int_equal(state_of(srv), SODA_STATE_RUNNING);
	assert_int_equal(th_exec(srv, "true", NULL), 0);
	soda_server_unref(srv);
}

static void test_corrupt_image(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	soda_server_info *info;
	char *img = NULL;
	uid_t uid;

	th_require_root();
	assert_soda_ok(soda_image_build(env->ctx, "fragile", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0,
					&env->err),
		       env->err);
	srv = define(env, "victim", "fragile");
	info = info_of(srv);
	uid = soda_server_info_get_uid(info);
	soda_server_info_free(info);
	assert_soda_ok(soda_image_get_path(&img, env->ctx, "fragile", &env->err), env->err);
	/* Someone scribbles over the superblock (keeping the file's mtime). */
	assert_int_equal(th_sh("t=$(stat -c %%Y %s) && chmod u+w %s && "
			       "dd if=/dev/zero of=%s bs=1024 seek=1 count=1 conv=notrunc status=none && "
			       "chmod 444 %s && touch -d @$t %s",
			       img, img, img, img, img),
			 0);
	assert_int_equal(soda_server_start(srv, 0, &env->err), -EINVAL);
	assert_non_null(strstr(soda_error_message(env->err), "corrupt"));
	assert_non_null(strstr(soda_error_message(env->err), "fragile"));
	soda_error_free(env->err);
	env->err = NULL;
	assert_int_equal(state_of(srv), SODA_STATE_SHUTOFF);
	assert_no_leftovers(env, "victim", uid);
	/* An image that changed after define would break the layer: refused. */
	assert_soda_ok(soda_image_build(env->ctx, "changing", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0,
					0, &env->err),
		       env->err);
	soda_server_unref(srv);
	srv = define(env, "victim2", "changing");
	free(img);
	assert_soda_ok(soda_image_get_path(&img, env->ctx, "changing", &env->err), env->err);
	assert_int_equal(th_sh("touch -d '2001-01-01' %s", img), 0);
	assert_soda_fails(soda_server_start(srv, 0, &env->err), -ESTALE, env->err);
	/* A missing image. */
	assert_int_equal(unlink(img), 0);
	assert_soda_fails(soda_server_start(srv, 0, &env->err), -ENOENT, env->err);
	assert_int_equal(state_of(srv), SODA_STATE_SHUTOFF);
	free(img);
	soda_server_unref(srv);
}

static void test_bad_share_and_files(void **state)
{
	th_env *env = *state;
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL, *other = NULL;
	char path[256], *names_before = NULL;
	char **names = NULL;

	th_require_root();
	th_build_image(env);
	assert_int_equal(soda_server_config_new(&cfg, "sharer", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
	snprintf(path, sizeof(path), "%s/no-such-dir", env->state_dir);
	assert_soda_ok(soda_server_config_add_share(cfg, path, "/mnt/x", 0, &env->err), env->err);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_int_equal(soda_server_start(srv, 0, &env->err), -ENOENT);
	assert_non_null(strstr(soda_error_message(env->err), "no-such-dir"));
	soda_error_free(env->err);
	env->err = NULL;
	assert_no_leftovers(env, "sharer", 0);
	assert_int_equal(state_of(srv), SODA_STATE_SHUTOFF);

	/* A corrupt configuration file names the file and line; other servers
	 * are unaffected. */
	other = define(env, "healthy", NULL);
	snprintf(path, sizeof(path), "%s/servers/sharer/config", env->state_dir);
	assert_int_equal(th_sh("printf 'soda-server 1\\nname sharer\\nmemory lots\\n' > %s", path),
			 0);
	assert_int_equal(soda_server_start(srv, 0, &env->err), -EINVAL);
	assert_non_null(strstr(soda_error_message(env->err), "config:3"));
	assert_int_equal(soda_error_line(env->err), 3);
	soda_error_free(env->err);
	env->err = NULL;
	assert_soda_ok(soda_context_list_servers(&names, NULL, env->ctx, 0, &env->err), env->err);
	assert_string_equal(names[0], "healthy");
	assert_string_equal(names[1], "sharer");
	soda_strv_free(names);
	/* A torn status file is reported, not crashed on. */
	snprintf(path, sizeof(path), "%s/status/healthy", env->state_dir);
	assert_int_equal(th_sh("printf 'soda-status 1\\nstate runn' > %s", path), 0);
	{
		int st = 0;

		assert_int_equal(soda_server_get_state(&st, other, &env->err), -EINVAL);
		assert_non_null(strstr(soda_error_message(env->err), "status/healthy:2"));
		soda_error_free(env->err);
		env->err = NULL;
	}
	/* Images: missing source, not-a-tarball, duplicate name. */
	snprintf(path, sizeof(path), "%s/absent", env->state_dir);
	assert_soda_fails(soda_image_build(env->ctx, "x", SODA_IMAGE_SOURCE_DIRECTORY, path, 0, 0,
					   &env->err),
			  -ENOENT, env->err);
	snprintf(path, sizeof(path), "%s/not-a-tar", env->state_dir);
	assert_int_equal(th_sh("echo hello > %s", path), 0);
	assert_int_equal(soda_image_build(env->ctx, "x", SODA_IMAGE_SOURCE_TARBALL, path, 0, 0,
					  &env->err),
			 -EINVAL);
	assert_non_null(strstr(soda_error_message(env->err), "is not a tarball libsoda can read"));
	soda_error_free(env->err);
	env->err = NULL;
	assert_soda_fails(soda_image_build(env->ctx, "x", SODA_IMAGE_SOURCE_EXT4, path, 0, 0,
					   &env->err),
			  -EINVAL, env->err);
	assert_soda_fails(soda_image_build(env->ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0,
					   0, &env->err),
			  -EEXIST, env->err);
	/* Replacing an image a server depends on is refused. */
	assert_soda_fails(soda_image_build(env->ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0,
					   SODA_IMAGE_REPLACE, &env->err),
			  -EBUSY, env->err);
	assert_soda_fails(soda_image_remove(env->ctx, "busybox", 0, &env->err), -EBUSY, env->err);
	{
		char **imgs = NULL;

		assert_soda_ok(soda_image_list(&imgs, NULL, env->ctx, 0, &env->err), env->err);
		assert_string_equal(imgs[0], "busybox");
		assert_null(imgs[1]);
		soda_strv_free(imgs);
	}
	free(names_before);
	soda_server_unref(other);
	soda_server_unref(srv);
}

static void test_uid_range_exhausted(void **state)
{
	static const char *const small_range[] = { "monitor=" SODA_TEST_MONITOR,
						   "uid_base=1900000000", "uid_count=1", NULL };
	static const char *const bad[][3] = {
		{ "uid_base=10", NULL, "system uid" },
		{ "cgroup_parent=../escape", NULL, "cgroup parent" },
		{ "binary=/nonexistent/linux.uml", NULL, "not there" },
		{ "binary=relative", NULL, "absolute" },
		{ "uid_count=0", NULL, "positive" },
		{ "uid_count=x", NULL, "not a number" },
		{ "colour=blue", NULL, "unknown query key 'colour'" },
		{ "state=/x", NULL, "state_dir's" },
		{ "novalue", NULL, "not key=value" },
	};
	th_env *env = *state;
	soda_context_options opts = SODA_CONTEXT_OPTIONS_INIT;
	soda_context *small = NULL;
	soda_server_config *cfg = NULL;
	soda_server *a = NULL, *b = NULL;

	th_require_root();
	th_build_image(env);
	opts.state_dir = env->state_dir;
	opts.driver_options = small_range;
	assert_soda_ok(soda_context_open(&small, NULL, &opts, 0, &env->err), env->err);
	assert_int_equal(soda_server_config_new(&cfg, "one", NULL), 0);
	assert_soda_ok(soda_server_define(&a, small, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_int_equal(soda_server_config_new(&cfg, "two", NULL), 0);
	assert_soda_fails(soda_server_define(&b, small, cfg, 0, &env->err), -ENOSPC, env->err);
	soda_server_config_free(cfg);
	/* Bad options are refused up front, by name, as options or in the URI. */
	opts.netns = "soda-it-does-not-exist";
	assert_soda_fails(soda_context_open(&small, NULL, &opts, 0, &env->err), -ENOENT, env->err);
	opts.netns = NULL;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		soda_context *c = NULL;
		char *uri = NULL;
		int r;

		opts.driver_options = bad[i];
		r = soda_context_open(&c, NULL, &opts, 0, &env->err);
		if (r >= 0 || !strstr(soda_error_message(env->err), bad[i][2]))
			fail_msg("option %s: %d '%s'", bad[i][0], r,
				 env->err ? soda_error_message(env->err) : "");
		soda_error_free(env->err);
		env->err = NULL;
		if (strchr(bad[i][0], '=') && strncmp(bad[i][0], "state=", 6) != 0) {
			opts.driver_options = NULL;
			assert_true(asprintf(&uri, "uml:///?%s", bad[i][0]) > 0);
			r = soda_context_open(&c, uri, &opts, 0, &env->err);
			if (r >= 0 || !strstr(soda_error_message(env->err), bad[i][2]))
				fail_msg("%s: %d '%s'", uri, r,
					 env->err ? soda_error_message(env->err) : "");
			soda_error_free(env->err);
			env->err = NULL;
			free(uri);
		}
		assert_null(c);
	}
	/* A key in both the URI and the options. */
	opts.driver_options = small_range;
	assert_int_equal(soda_context_open(&small, "uml:///?uid_count=2", &opts, 0, &env->err),
			 -EINVAL);
	assert_non_null(strstr(soda_error_message(env->err), "'uid_count' is given twice"));
	soda_error_free(env->err);
	env->err = NULL;
	soda_server_unref(a);
	a = NULL;
	assert_int_equal(soda_server_lookup(&a, env->ctx, "one", NULL), 0);
	soda_server_unref(a);
	soda_context_unref(small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_and_lookups, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_define_errors, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_image, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_bad_share_and_files, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_uid_range_exhausted, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
