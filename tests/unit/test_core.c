/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The core API over the in-memory test backend: URIs, lifecycle rules,
 * events through the fd + process loop, flags and ownership. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <soda/sys/backend.h>

#include "testhelp.h"

static soda_context *open_test(void)
{
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	assert_soda_ok(soda_context_open(&ctx, "test:///default", NULL, 0, &err), err);
	return ctx;
}

static void test_uris(void **state)
{
	static const struct {
		const char *uri;
		int code;
		const char *needle;
	} bad[] = {
		{ "nonsense", -EINVAL, "no scheme" },
		{ "://x", -EINVAL, "no scheme" },
		{ "nfs:///", -ENOENT, "no backend for 'nfs'" },
		{ "test://host/default", -EINVAL, "remote hosts" },
		{ "test:///other", -EINVAL, "test:///default" },
		{ "uml:///?bogus=1", -EINVAL, "unknown query key 'bogus'" },
		{ "uml:///?state", -EINVAL, "not key=value" },
		{ "uml:///?state=relative", -EINVAL, "absolute" },
		{ "uml:///?state=/a%zz", -EINVAL, "well-escaped" },
		{ "uml:///?state=/a%00b", -EINVAL, "well-escaped" },
		{ "uml:///elsewhere", -EINVAL, "path /" },
	};
	soda_context_options opts;
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = soda_context_open(&ctx, bad[i].uri, NULL, 0, &err);

		if (r != bad[i].code || !err || !strstr(soda_error_message(err), bad[i].needle))
			fail_msg("%s: got %d '%s'", bad[i].uri, r, err ? soda_error_message(err) : "");
		assert_null(ctx);
		soda_error_free(err);
		err = NULL;
	}
	assert_soda_fails(soda_context_open(&ctx, "test:///default", NULL, 1, &err), -EINVAL, err);
	assert_int_equal(soda_context_options_init(&opts, 99), -EINVAL);
	assert_int_equal(soda_context_options_init(&opts, SODA_CONTEXT_OPTIONS_VERSION), 0);
	opts.version = 7;
	assert_soda_fails(soda_context_open(&ctx, "test:///default", &opts, 0, &err), -EINVAL,
			  err);
	ctx = open_test();
	assert_string_equal(soda_context_get_uri(ctx), "test:///default");
	assert_null(soda_context_get_state_dir(ctx));
	assert_ptr_equal(soda_context_ref(ctx), ctx);
	assert_null(soda_context_unref(ctx));
	assert_null(soda_context_unref(ctx));
	assert_null(soda_context_unref(NULL));
	assert_string_equal(soda_version(), "0.1.0");
	assert_int_equal(soda_version_number(), 0x000100);
}

struct seen {
	int kinds[32];
	int states[32];
	char names[32][16];
	int n;
	int destroyed;
};

static int on_event(soda_context *ctx, const soda_event *ev, void *userdata)
{
	struct seen *s = userdata;

	(void)ctx;
	if (s->n < 32) {
		s->kinds[s->n] = soda_event_get_kind(ev);
		s->states[s->n] = soda_event_get_state(ev);
		snprintf(s->names[s->n], 16, "%s", soda_event_get_server(ev));
		s->n++;
	}
	return 0;
}

static void on_destroy(void *userdata)
{
	((struct seen *)userdata)->destroyed++;
}

static int pump(soda_context *ctx)
{
	struct pollfd p = { soda_context_get_fd(ctx), POLLIN, 0 };

	assert_true(p.fd >= 0);
	if (poll(&p, 1, 0) <= 0)
		return 0;
	return soda_context_process(ctx, 0, NULL);
}

static void test_lifecycle_rules(void **state)
{
	soda_context *ctx = open_test();
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL, *again = NULL;
	soda_error *err = NULL;
	struct seen seen = { 0 };
	uint64_t id = 0;
	char **names = NULL;
	size_t n = 0;
	int st = 0;

	(void)state;
	assert_int_equal(soda_context_add_event_handler(&id, ctx, on_event, &seen, on_destroy, 0,
							NULL),
			 0);
	assert_soda_fails(soda_context_add_event_handler(NULL, ctx, NULL, NULL, NULL, 0, &err),
			  -EINVAL, err);
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	assert_soda_fails(soda_server_define(&srv, ctx, cfg, 4, &err), -EINVAL, err);
	assert_int_equal(soda_server_config_set_image(cfg, "nope", NULL), 0);
	assert_soda_fails(soda_server_define(&srv, ctx, cfg, 0, &err), -ENOENT, err);
	assert_int_equal(soda_server_config_set_image(cfg, "busybox", NULL), 0);
	assert_soda_ok(soda_server_define(&srv, ctx, cfg, 0, &err), err);
	assert_soda_fails(soda_server_define(&again, ctx, cfg, 0, &err), -EEXIST, err);
	assert_null(again);
	assert_string_equal(soda_server_get_name(srv), "web");
	assert_ptr_equal(soda_server_get_context(srv), ctx);

	/* Wrong-state actions are refused and change nothing. */
	assert_soda_fails(soda_server_stop(srv, 1000, 0, &err), -EBUSY, err);
	assert_soda_fails(soda_server_freeze(srv, 0, &err), -EBUSY, err);
	assert_soda_fails(soda_server_thaw(srv, 0, &err), -EBUSY, err);
	assert_soda_fails(soda_server_kill(srv, 0, &err), -EBUSY, err);
	assert_soda_fails(soda_server_start(srv, 0x100, &err), -EINVAL, err);
	assert_int_equal(soda_server_get_state(&st, srv, NULL), 0);
	assert_int_equal(st, SODA_STATE_SHUTOFF);

	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &err), err);
	assert_int_equal(soda_server_get_state(&st, srv, NULL), 0);
	assert_int_equal(st, SODA_STATE_RUNNING);
	assert_soda_fails(soda_server_start(srv, 0, &err), -EBUSY, err);
	assert_soda_fails(soda_server_undefine(srv, 0, &err), -EBUSY, err);
	assert_soda_fails(soda_server_thaw(srv, 0, &err), -EBUSY, err);
	assert_soda_ok(soda_server_freeze(srv, 0, &err), err);
	assert_soda_fails(soda_server_freeze(srv, 0, &err), -EBUSY, err);
	assert_soda_ok(soda_server_thaw(srv, 0, &err), err);
	assert_soda_ok(soda_server_restart(srv, 1000, 0, &err), err);
	assert_soda_ok(soda_server_stop(srv, 1000, 0, &err), err);
	assert_soda_fails(soda_server_dump(srv, "relative", 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_dump(srv, "/tmp/x", 0, &err), -EOPNOTSUPP, err);

	/* Lookup and list. */
	assert_soda_ok(soda_server_lookup(&again, ctx, "web", &err), err);
	assert_soda_fails(soda_server_lookup(&again, ctx, "../etc", &err), -EINVAL, err);
	soda_server_unref(again);
	again = NULL;
	assert_soda_fails(soda_server_lookup(&again, ctx, "ghost", &err), -ENOENT, err);
	assert_soda_ok(soda_context_list_servers(&names, &n, ctx, 0, &err), err);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "web");
	assert_null(names[1]);
	soda_strv_free(names);

	/* Events arrive through the fd, in order. */
	assert_true(pump(ctx) > 0);
	assert_int_equal(seen.kinds[0], SODA_EVENT_DEFINED);
	{
		static const int want[] = { SODA_STATE_STARTING, SODA_STATE_RUNNING,
					    SODA_STATE_PAUSED,   SODA_STATE_RUNNING,
					    SODA_STATE_SHUTOFF,  SODA_STATE_STARTING,
					    SODA_STATE_RUNNING,  SODA_STATE_SHUTOFF };

		assert_int_equal(seen.n, 1 + (int)(sizeof(want) / sizeof(want[0])));
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			assert_int_equal(seen.kinds[i + 1], SODA_EVENT_STATE);
			assert_int_equal(seen.states[i + 1], want[i]);
			assert_string_equal(seen.names[i + 1], "web");
		}
	}
	assert_int_equal(pump(ctx), 0);
	assert_soda_ok(soda_server_undefine(srv, 0, &err), err);
	assert_int_equal(pump(ctx), 1);
	assert_int_equal(seen.kinds[seen.n - 1], SODA_EVENT_UNDEFINED);
	assert_soda_fails(soda_server_start(srv, 0, &err), -ENOENT, err);

	assert_int_equal(soda_context_remove_event_handler(ctx, id, NULL), 0);
	assert_int_equal(seen.destroyed, 1);
	assert_soda_fails(soda_context_remove_event_handler(ctx, id, &err), -ENOENT, err);
	soda_server_unref(srv);
	soda_server_config_free(cfg);
	soda_context_unref(ctx);
}

static int stop_early(soda_context *ctx, const soda_event *ev, void *userdata)
{
	(void)ctx;
	(void)ev;
	return ++*(int *)userdata == 2 ? -ECANCELED : 0;
}

static void test_handler_stops_processing(void **state)
{
	soda_context *ctx = open_test();
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	int calls = 0;

	(void)state;
	assert_int_equal(soda_context_add_event_handler(NULL, ctx, stop_early, &calls, NULL, 0,
							NULL),
			 0);
	assert_int_equal(soda_server_config_new(&cfg, "a", NULL), 0);
	assert_int_equal(soda_server_define(&srv, ctx, cfg, 0, NULL), 0);
	assert_int_equal(soda_server_start(srv, 0, NULL), 0);
	/* defined, starting, running: the handler stops after the second; the
	 * third is kept for the next round. */
	assert_int_equal(soda_context_process(ctx, 0, NULL), -ECANCELED);
	assert_int_equal(calls, 2);
	assert_int_equal(soda_context_process(ctx, 0, NULL), 1);
	assert_int_equal(calls, 3);
	soda_server_unref(srv);
	soda_server_config_free(cfg);
	/* Objects hold their context: unref order does not matter. */
	soda_context_unref(ctx);
}

static void test_images(void **state)
{
	soda_context *ctx = open_test();
	soda_error *err = NULL;
	char **names = NULL;
	size_t n;

	(void)state;
	assert_soda_fails(soda_image_build(ctx, "x", 99, NULL, 0, 0, &err), -EINVAL, err);
	assert_soda_fails(soda_image_build(ctx, "x", SODA_IMAGE_SOURCE_DIRECTORY, "rel", 0, 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_image_build(ctx, "x", SODA_IMAGE_SOURCE_BUSYBOX, "/x", 0, 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_image_build(ctx, "x", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 4096, 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_image_build(ctx, "x", SODA_IMAGE_SOURCE_BUSYBOX, NULL,
					   (64 << 20) + 1, 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_image_build(ctx, "a/b", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_image_build(ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0,
					   &err),
			  -EEXIST, err);
	assert_soda_ok(soda_image_build(ctx, "second", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &err),
		       err);
	assert_soda_ok(soda_image_list(&names, &n, ctx, 0, &err), err);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "busybox");
	assert_string_equal(names[1], "second");
	soda_strv_free(names);
	assert_soda_ok(soda_image_remove(ctx, "second", 0, &err), err);
	assert_soda_fails(soda_image_remove(ctx, "second", 0, &err), -ENOENT, err);
	soda_context_unref(ctx);
}

static void test_error_object(void **state)
{
	soda_error *err = NULL;

	(void)state;
	assert_int_equal(soda_error_set(&err, -EPERM, "first"), -EPERM);
	/* An error already set is not overwritten: the first cause wins. */
	assert_int_equal(soda_error_set(&err, -EIO, "second"), -EIO);
	assert_string_equal(soda_error_message(err), "first");
	assert_int_equal(soda_error_code(err), -EPERM);
	assert_null(soda_error_source(err));
	assert_int_equal(soda_error_line(err), 0);
	soda_error_free(err);
	soda_error_free(NULL);
	assert_null(soda_error_message(NULL));
	assert_int_equal(soda_error_set(NULL, -EIO, "nowhere"), -EIO);
	assert_string_equal(soda_state_name(SODA_STATE_PAUSED), "paused");
	assert_string_equal(soda_state_name(42), "unknown");
}

/* ---- the driver boundary: validate() ---- */

/* A driver of its own ("vtest:///"): its rule refuses kernel argument
 * "vtest.forbidden"; it counts what the core called. */
static struct {
	int validated, defined, opened;
	char query[64];
} vt;

static int vt_open(void **ret_priv, soda_context *ctx, const char *path, const char *const *query,
		   const char *state_dir, const soda_context_options *opts, soda_error **error)
{
	(void)ctx;
	(void)path;
	(void)state_dir;
	(void)opts;
	vt.query[0] = '\0';
	for (size_t i = 0; query[i]; i++)
		if (strncmp(query[i], "depth=", 6) != 0)
			return soda_error_set(error, -EINVAL, "unknown query key (vtest: depth only)");
		else
			snprintf(vt.query, sizeof(vt.query), "%s", query[i]);
	vt.opened++;
	*ret_priv = &vt;
	return 0;
}

static void vt_close(void *priv)
{
	(void)priv;
}

static int vt_validate(void *priv, const soda_server_config *cfg, soda_error **error)
{
	assert_ptr_equal(priv, &vt);
	vt.validated++;
	for (size_t i = 0; i < soda_server_config_get_kernel_arg_count(cfg); i++)
		if (strcmp(soda_server_config_get_kernel_arg(cfg, i), "vtest.forbidden") == 0)
			return soda_error_set(error, -EPERM, "vtest refuses vtest.forbidden");
	return 0;
}

static int vt_define(void *priv, const soda_server_config *cfg, unsigned int flags,
		     soda_error **error)
{
	(void)priv;
	(void)cfg;
	(void)flags;
	(void)error;
	vt.defined++;
	return 0;
}

static const soda_backend_driver vt_driver = {
	.version = SODA_BACKEND_VERSION,
	.scheme = "vtest",
	.open = vt_open,
	.close = vt_close,
	.validate = vt_validate,
	.define = vt_define,
};

/* The core runs its own checks, then the driver's validate(), then
 * define(); validate()'s error reaches the caller as the driver gave it,
 * and nothing is defined. A table of another version is refused. */
static void test_driver_validate(void **state)
{
	soda_backend_driver old = vt_driver;
	soda_server_config *cfg = NULL;
	soda_shares *sh = NULL;
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	old.version = SODA_BACKEND_VERSION - 1;
	old.scheme = "vold";
	assert_soda_fails(soda_backend_register(&old, &err), -EINVAL, err);
	assert_soda_ok(soda_backend_register(&vt_driver, &err), err);
	assert_soda_ok(soda_context_open(&ctx, "vtest:///?depth=3", NULL, 0, &err), err);
	assert_string_equal(vt.query, "depth=3");
	assert_int_equal(soda_server_config_new(&cfg, "v", NULL), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "loglevel=4", NULL), 0);
	assert_soda_ok(soda_server_define(NULL, ctx, cfg, 0, &err), err);
	assert_int_equal(vt.validated, 1);
	assert_int_equal(vt.defined, 1);
	/* the driver's rule, its code and its message */
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "vtest.forbidden", NULL), 0);
	assert_int_equal(soda_server_define(NULL, ctx, cfg, 0, &err), -EPERM);
	assert_non_null(err);
	assert_string_equal(soda_error_message(err), "vtest refuses vtest.forbidden");
	soda_error_free(err);
	err = NULL;
	assert_int_equal(vt.validated, 2);
	assert_int_equal(vt.defined, 1);
	soda_server_config_free(cfg);
	/* the core's checks come first: a backstop the guest memory has since
	 * outgrown never reaches the driver */
	assert_int_equal(soda_server_config_new(&cfg, "w", NULL), 0);
	assert_int_equal(soda_shares_new(&sh, NULL), 0);
	assert_int_equal(soda_shares_set_memory_max(sh, 100ULL << 20, NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 64ULL << 20, NULL), 0);
	assert_int_equal(soda_server_config_set_shares(cfg, sh, NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 128ULL << 20, NULL), 0);
	assert_soda_fails(soda_server_define(NULL, ctx, cfg, 0, &err), -EINVAL, err);
	assert_int_equal(vt.validated, 2);
	assert_int_equal(vt.defined, 1);
	soda_shares_free(sh);
	soda_server_config_free(cfg);
	ctx = soda_context_unref(ctx);
	/* a key the driver does not know is the driver's to refuse */
	assert_int_equal(soda_context_open(&ctx, "vtest:///?colour=1", NULL, 0, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "unknown query key"));
	soda_error_free(err);
	assert_null(ctx);
}

/* uml's and test's drivers refuse query keys they do not know by name
 * (after the path, before any work). */
static void test_builtin_drivers_refuse_unknown_keys(void **state)
{
	static const char *const uris[] = { "test:///default?bogus=1", "uml:///?bogus=1&state=/x" };
	soda_context *ctx = NULL;
	soda_error *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		assert_int_equal(soda_context_open(&ctx, uris[i], NULL, 0, &err), -EINVAL);
		if (!strstr(soda_error_message(err), "unknown query key 'bogus'"))
			fail_msg("%s: '%s'", uris[i], soda_error_message(err));
		soda_error_free(err);
		err = NULL;
		assert_null(ctx);
	}
	assert_int_equal(soda_context_open(&ctx, "test:///default?state=/x&state=/y", NULL, 0, &err),
			 -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "'state' is given twice"));
	soda_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uris),
		cmocka_unit_test(test_lifecycle_rules),
		cmocka_unit_test(test_handler_stops_processing),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_error_object),
		cmocka_unit_test(test_driver_validate),
		cmocka_unit_test(test_builtin_drivers_refuse_unknown_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
