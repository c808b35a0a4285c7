/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Backend plugins (libsoda/context.c): a URI of a scheme no driver has
 * loads libsoda-NAME.so from $SODA_BACKEND_PLUGIN_DIR (argv[1] here, where
 * the build put libsoda-cftest.so and libsoda-cfbad.so), whose driver gets
 * a NAME+TRANSPORT URI whole; names that could reach outside the plugin
 * directory are never looked up.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "testhelp.h"

static const char *plugin_dir;

static void test_compound_uri_reaches_driver_whole(void **state)
{
	const char *uri = "cftest+tcp://203.0.113.7:16509/system?keyfile=/x&no_verify=1";
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_soda_ok(soda_context_open(&ctx, uri, NULL, 0, &err), err);
	/* the core parsed nothing: not the host, not the query */
	assert_string_equal(soda_context_get_state_dir(ctx), uri);
	soda_context_unref(ctx);
	/* the plain scheme goes through the core's parser as ever */
	assert_soda_ok(soda_context_open(&ctx, "cftest:///p?state=/tmp", NULL, 0, &err), err);
	assert_string_equal(soda_context_get_state_dir(ctx), "/p");
	soda_context_unref(ctx);
}

/* The core parses a plain URI's query once and hands the driver every key
 * but its own "state", values decoded; the driver refuses what it does not
 * know, by name; the core refuses a key given twice. */
static void test_query_reaches_driver(void **state)
{
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_soda_ok(soda_context_open(&ctx, "cftest:///p?color=r%20ed&state=/tmp&size=2", NULL,
					 0, &err),
		       err);
	assert_string_equal(soda_context_get_state_dir(ctx), "/p?color=r ed&size=2");
	soda_context_unref(ctx);
	ctx = NULL;
	assert_int_equal(soda_context_open(&ctx, "cftest:///p?color=x&flavour=y", NULL, 0, &err),
			 -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "unknown query key 'flavour'"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_context_open(&ctx, "cftest:///p?size=1&size=2", NULL, 0, &err),
			 -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "'size' is given twice"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_context_open(&ctx, "cftest:///p?color=%zz", NULL, 0, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "not well-escaped"));
	soda_error_free(err);
	err = NULL;
	assert_null(ctx);
	assert_soda_fails(soda_context_open(&ctx, "cftest://203.0.113.7/p", NULL, 0, &err),
			  -EINVAL, err);
}

/* The options' driver_options join the URI's keys, after them; a key in
 * both, "state" (state_dir's) and a pair without '=' are the core's to
 * refuse. A NAME+TRANSPORT URI's driver gets them too. */
static void test_driver_options(void **state)
{
	static const char *const size[] = { "size=9", NULL };
	static const char *const twice[] = { "color=x", NULL };
	static const char *const st[] = { "state=/x", NULL };
	static const char *const bare[] = { "size", NULL };
	static const char *const odd[] = { "size=1&color=2", NULL };
	soda_context_options opts = SODA_CONTEXT_OPTIONS_INIT;
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	opts.driver_options = size;
	assert_soda_ok(soda_context_open(&ctx, "cftest:///p?color=red", &opts, 0, &err), err);
	assert_string_equal(soda_context_get_state_dir(ctx), "/p?color=red&size=9");
	ctx = soda_context_unref(ctx);
	assert_soda_ok(soda_context_open(&ctx, "cftest+x://h/p", &opts, 0, &err), err);
	assert_string_equal(soda_context_get_state_dir(ctx), "cftest+x://h/p?size=9");
	ctx = soda_context_unref(ctx);
	opts.driver_options = twice;
	assert_int_equal(soda_context_open(&ctx, "cftest:///p?color=red", &opts, 0, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "'color' is given twice"));
	soda_error_free(err);
	err = NULL;
	opts.driver_options = st;
	assert_int_equal(soda_context_open(&ctx, "cftest:///p", &opts, 0, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "state_dir's"));
	soda_error_free(err);
	err = NULL;
	opts.driver_options = bare;
	assert_soda_fails(soda_context_open(&ctx, "cftest:///p", &opts, 0, &err), -EINVAL, err);
	opts.driver_options = odd;
	assert_soda_fails(soda_context_open(&ctx, "cftest:///p", &opts, 0, &err), -EINVAL, err);
	/* the built-in test backend has no keys: it refuses this one by name */
	opts.driver_options = size;
	assert_int_equal(soda_context_open(&ctx, "test:///default", &opts, 0, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "unknown query key 'size'"));
	soda_error_free(err);
	assert_null(ctx);
}

static void test_registered_once(void **state)
{
	soda_backend_driver again = { .version = SODA_BACKEND_VERSION, .scheme = "cftest" };
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_soda_ok(soda_context_open(&ctx, "cftest:///a", NULL, 0, &err), err);
	soda_context_unref(ctx);
	again.open = (void *)1;
	again.close = (void *)1;
	assert_soda_fails(soda_backend_register(&again, &err), -EEXIST, err);
}

static void test_missing_and_failing_plugins(void **state)
{
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_int_equal(soda_context_open(&ctx, "cfnone+x:///a", NULL, 0, &err), -ENOENT);
	assert_non_null(strstr(soda_error_message(err), "libsoda-cfnone.so"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_context_open(&ctx, "cfbad:///a", NULL, 0, &err), -ENOENT);
	assert_non_null(strstr(soda_error_message(err), "refuses to load"));
	soda_error_free(err);
	err = NULL;
	assert_null(ctx);
}

/* Schemes that are not plain lower-case names never become a path: with
 * libsoda-x/ beside evil.so (the failing plugin) in the plugin directory,
 * "x/../evil" would name evil.so. Its message would show that it ran. */
static char evil_dir[] = "/tmp/soda-it-plugins-XXXXXX";

static int evil_teardown(void **state)
{
	(void)state;
	setenv("SODA_BACKEND_PLUGIN_DIR", plugin_dir, 1);
	return evil_dir[sizeof(evil_dir) - 2] != 'X' ? th_sh("rm -rf %s", evil_dir) : 0;
}

static void test_names_stay_in_the_directory(void **state)
{
	static const char *const uris[] = { "x/../evil:///a", "x/../evil+t:///a" };
	char *dir = evil_dir;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(th_sh("mkdir %s/libsoda-x && cp %s/libsoda-cfbad.so %s/evil.so", dir,
			       plugin_dir, dir),
			 0);
	setenv("SODA_BACKEND_PLUGIN_DIR", dir, 1);
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		soda_context *ctx = NULL;
		soda_error *err = NULL;
		int r = soda_context_open(&ctx, uris[i], NULL, 0, &err);

		if (r >= 0 || strstr(soda_error_message(err), "refuses to load"))
			fail_msg("%s loaded %s/evil.so: %s", uris[i], dir,
				 r >= 0 ? "opened" : soda_error_message(err));
		soda_error_free(err);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compound_uri_reaches_driver_whole),
		cmocka_unit_test(test_query_reaches_driver),
		cmocka_unit_test(test_driver_options),
		cmocka_unit_test(test_registered_once),
		cmocka_unit_test(test_missing_and_failing_plugins),
		cmocka_unit_test_teardown(test_names_stay_in_the_directory, evil_teardown),
	};

	if (argc < 2)
		return 2;
	plugin_dir = argv[1];
	setenv("SODA_BACKEND_PLUGIN_DIR", plugin_dir, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
