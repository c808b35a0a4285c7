/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The API's behaviour, written once and run against every backend: the
 * URI is the first argument ("uml:///" uses a temporary state directory
 * with this build's monitor and a busybox image). Whatever a backend is,
 * the same misuse gives the same error and the same action the same
 * states and events.
 *
 *   conformance test:///default
 *   conformance libvirt+test:///default
 *   conformance uml:///                         (root)
 *   conformance libvirt+qemu:///system          (a running libvirtd)
 *
 * A backend that cannot run here is skipped with the reason printed.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhelp.h"

#define STOP_MS 15000
#define WAIT_MS 30000
#define MAX_SEEN 256

static const char *uri;
static bool uml;

typedef struct seen {
	int kind;
	char server[64];
	int state;
} seen;

typedef struct cf {
	th_env env; /* for uml:///, its state directory and context */
	soda_context *ctx;
	soda_error *err;
	char names[4][32];
	seen events[MAX_SEEN];
	size_t n_events;
} cf;

static int record(soda_context *ctx, const soda_event *ev, void *userdata)
{
	cf *c = userdata;

	(void)ctx;
	if (c->n_events < MAX_SEEN) {
		seen *s = &c->events[c->n_events++];

		s->kind = soda_event_get_kind(ev);
		snprintf(s->server, sizeof(s->server), "%s", soda_event_get_server(ev));
		s->state = soda_event_get_state(ev);
	}
	return 0;
}

static int setup(void **state)
{
	cf *c = calloc(1, sizeof(*c));
	int r;

	assert_non_null(c);
	for (int i = 0; i < 4; i++)
		snprintf(c->names[i], sizeof(c->names[i]), "cf%d-%c", (int)getpid(), 'a' + i);
	if (uml) {
		if (th_env_setup(&c->env) < 0) {
			free(c);
			return -1;
		}
		c->ctx = soda_context_ref(c->env.ctx);
		th_build_image(&c->env);
	} else {
		r = soda_context_open(&c->ctx, uri, NULL, 0, &c->err);
		if (r < 0) {
			print_error("cannot open %s: %s\n", uri, soda_error_message(c->err));
			soda_error_free(c->err);
			free(c);
			return -1;
		}
	}
	assert_soda_ok(soda_context_add_event_handler(NULL, c->ctx, record, c, NULL, 0, &c->err),
		       c->err);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	cf *c = *state;

	for (int i = 0; i < 4; i++) {
		soda_server *srv = NULL;

		if (soda_server_lookup(&srv, c->ctx, c->names[i], NULL) == 0) {
			soda_server_kill(srv, 0, NULL);
			soda_server_undefine(srv, 0, NULL);
			soda_server_unref(srv);
		}
	}
	soda_context_unref(c->ctx);
	if (uml)
		th_env_teardown(&c->env);
	soda_error_free(c->err);
	free(c);
	return 0;
}

static soda_server *define(cf *c, const char *name)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;

	assert_soda_ok(soda_server_config_new(&cfg, name, &c->err), c->err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 64u << 20, &c->err), c->err);
	assert_soda_ok(soda_server_config_add_kernel_arg(cfg, "loglevel=4", &c->err), c->err);
	assert_soda_ok(soda_server_define(&srv, c->ctx, cfg, 0, &c->err), c->err);
	soda_server_config_free(cfg);
	return srv;
}

static int state_of(cf *c, soda_server *srv)
{
	int st = 0;

	assert_soda_ok(soda_server_get_state(&st, srv, &c->err), c->err);
	return st;
}

static void expect_state(cf *c, soda_server *srv, int state)
{
	int r = soda_server_wait_state(srv, state, WAIT_MS, 0, &c->err);

	if (r < 0)
		fail_msg("%s: waiting for %s: %s", soda_server_get_name(srv),
			 soda_state_name(state), c->err ? soda_error_message(c->err) : "?");
}

static void test_define_lookup_list(void **state)
{
	cf *c = *state;
	soda_server *a = define(c, c->names[0]), *again = NULL, *none = NULL;
	soda_server_config *cfg = NULL, *dup = NULL;
	char **names = NULL;
	size_t n = 0;
	bool listed = false;

	assert_int_equal(state_of(c, a), SODA_STATE_SHUTOFF);
	/* lookup finds it with its configuration */
	assert_soda_ok(soda_server_lookup(&again, c->ctx, c->names[0], &c->err), c->err);
	assert_soda_ok(soda_server_get_config(&cfg, again, &c->err), c->err);
	assert_string_equal(soda_server_config_get_name(cfg), c->names[0]);
	assert_int_equal(soda_server_config_get_memory(cfg), 64u << 20);
	assert_int_equal(soda_server_config_get_kernel_arg_count(cfg), 1);
	assert_string_equal(soda_server_config_get_kernel_arg(cfg, 0), "loglevel=4");
	soda_server_config_free(cfg);
	/* list holds it */
	assert_soda_ok(soda_context_list_servers(&names, &n, c->ctx, 0, &c->err), c->err);
	for (size_t i = 0; i < n; i++)
		listed |= strcmp(names[i], c->names[0]) == 0;
	soda_strv_free(names);
	assert_true(listed);
	/* the same name twice */
	assert_soda_ok(soda_server_config_new(&dup, c->names[0], &c->err), c->err);
	assert_soda_fails(soda_server_define(&none, c->ctx, dup, 0, &c->err), -EEXIST, c->err);
	soda_server_config_free(dup);
	assert_null(none);
	/* an unknown name */
	assert_soda_fails(soda_server_lookup(&none, c->ctx, c->names[3], &c->err), -ENOENT,
			  c->err);
	assert_null(none);
	soda_server_unref(again);
	soda_server_unref(a);
}

static void test_lifecycle(void **state)
{
	cf *c = *state;
	soda_server *srv = define(c, c->names[1]);
	soda_server_info *info = NULL;

	/* not running: no freeze, thaw, stop or kill */
	assert_soda_fails(soda_server_freeze(srv, 0, &c->err), -EBUSY, c->err);
	assert_soda_fails(soda_server_thaw(srv, 0, &c->err), -EBUSY, c->err);
	assert_soda_fails(soda_server_stop(srv, STOP_MS, 0, &c->err), -EBUSY, c->err);
	assert_soda_fails(soda_server_kill(srv, 0, &c->err), -EBUSY, c->err);

	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &c->err), c->err);
	assert_int_equal(state_of(c, srv), SODA_STATE_RUNNING);
	assert_soda_ok(soda_server_get_info(&info, srv, 0, &c->err), c->err);
	assert_int_equal(soda_server_info_get_state(info), SODA_STATE_RUNNING);
	assert_true(soda_server_info_get_ready(info));
	soda_server_info_free(info);
	assert_soda_fails(soda_server_start(srv, 0, &c->err), -EBUSY, c->err);
	assert_soda_fails(soda_server_thaw(srv, 0, &c->err), -EBUSY, c->err);
	assert_soda_fails(soda_server_undefine(srv, 0, &c->err), -EBUSY, c->err);

	assert_soda_ok(soda_server_freeze(srv, 0, &c->err), c->err);
	expect_state(c, srv, SODA_STATE_PAUSED);
	assert_soda_fails(soda_server_freeze(srv, 0, &c->err), -EBUSY, c->err);
	assert_soda_ok(soda_server_thaw(srv, 0, &c->err), c->err);
	expect_state(c, srv, SODA_STATE_RUNNING);

	assert_soda_ok(soda_server_stop(srv, STOP_MS, 0, &c->err), c->err);
	expect_state(c, srv, SODA_STATE_SHUTOFF);
	assert_soda_fails(soda_server_stop(srv, STOP_MS, 0, &c->err), -EBUSY, c->err);

	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &c->err), c->err);
	assert_soda_ok(soda_server_kill(srv, 0, &c->err), c->err);
	expect_state(c, srv, SODA_STATE_SHUTOFF);

	assert_soda_ok(soda_server_undefine(srv, 0, &c->err), c->err);
	soda_server_unref(srv);
}

/* A handle whose server was undefined through another: -ENOENT from the
 * backend itself, for every action. */
static void test_unknown(void **state)
{
	cf *c = *state;
	soda_server *srv = define(c, c->names[2]), *other = NULL;
	int st;

	assert_soda_ok(soda_server_lookup(&other, c->ctx, c->names[2], &c->err), c->err);
	assert_soda_ok(soda_server_undefine(other, 0, &c->err), c->err);
	soda_server_unref(other);
	assert_soda_fails(soda_server_start(srv, 0, &c->err), -ENOENT, c->err);
	assert_soda_fails(soda_server_stop(srv, STOP_MS, 0, &c->err), -ENOENT, c->err);
	assert_soda_fails(soda_server_kill(srv, 0, &c->err), -ENOENT, c->err);
	assert_soda_fails(soda_server_freeze(srv, 0, &c->err), -ENOENT, c->err);
	assert_soda_fails(soda_server_thaw(srv, 0, &c->err), -ENOENT, c->err);
	assert_soda_fails(soda_server_get_state(&st, srv, &c->err), -ENOENT, c->err);
	assert_soda_fails(soda_server_undefine(srv, 0, &c->err), -ENOENT, c->err);
	soda_server_unref(srv);
}

/* Unknown flag bits: -EINVAL and nothing happens. */
static void test_flags(void **state)
{
	cf *c = *state;
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL, *none = NULL;
	char **names = NULL;

	assert_soda_ok(soda_server_config_new(&cfg, c->names[3], &c->err), c->err);
	assert_soda_fails(soda_server_define(&none, c->ctx, cfg, 1u << 30, &c->err), -EINVAL,
			  c->err);
	assert_soda_fails(soda_server_lookup(&none, c->ctx, c->names[3], &c->err), -ENOENT,
			  c->err);
	assert_soda_ok(soda_server_define(&srv, c->ctx, cfg, 0, &c->err), c->err);
	soda_server_config_free(cfg);
	assert_soda_fails(soda_server_start(srv, 1u << 30, &c->err), -EINVAL, c->err);
	assert_int_equal(state_of(c, srv), SODA_STATE_SHUTOFF);
	assert_soda_fails(soda_server_stop(srv, STOP_MS, 1u << 30, &c->err), -EINVAL, c->err);
	assert_soda_fails(soda_server_kill(srv, 1u << 30, &c->err), -EINVAL, c->err);
	assert_soda_fails(soda_server_freeze(srv, 1u << 30, &c->err), -EINVAL, c->err);
	assert_soda_fails(soda_server_thaw(srv, 1u << 30, &c->err), -EINVAL, c->err);
	assert_soda_fails(soda_server_undefine(srv, 1u << 30, &c->err), -EINVAL, c->err);
	assert_int_equal(state_of(c, srv), SODA_STATE_SHUTOFF);
	assert_soda_fails(soda_context_list_servers(&names, NULL, c->ctx, 1u << 30, &c->err),
			  -EINVAL, c->err);
	assert_soda_fails(soda_context_process(c->ctx, 1u << 30, &c->err), -EINVAL, c->err);
	assert_soda_ok(soda_server_undefine(srv, 0, &c->err), c->err);
	soda_server_unref(srv);
}

static bool saw(cf *c, int kind, const char *server, int st)
{
	for (size_t i = 0; i < c->n_events; i++)
		if (c->events[i].kind == kind && strcmp(c->events[i].server, server) == 0 &&
		    (kind != SODA_EVENT_STATE || c->events[i].state == st))
			return true;
	return false;
}

/* Waits on the context's descriptor until the event comes. */
static void expect_event(cf *c, int kind, const char *server, int st)
{
	uint64_t deadline = th_mono_ms() + WAIT_MS;

	while (!saw(c, kind, server, st)) {
		int r;

		if (th_mono_ms() > deadline)
			fail_msg("no event kind %d state %s for %s (of %zu events)", kind,
				 soda_state_name(st), server, c->n_events);
		r = soda_context_wait(c->ctx, 200, 0, &c->err);
		assert_soda_ok(r, c->err);
	}
}

static void test_events(void **state)
{
	cf *c = *state;
	soda_server *srv;

	assert_true(soda_context_get_fd(c->ctx) >= 0);
	srv = define(c, c->names[0]);
	expect_event(c, SODA_EVENT_DEFINED, c->names[0], 0);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &c->err), c->err);
	expect_event(c, SODA_EVENT_STATE, c->names[0], SODA_STATE_RUNNING);
	assert_soda_ok(soda_server_freeze(srv, 0, &c->err), c->err);
	expect_event(c, SODA_EVENT_STATE, c->names[0], SODA_STATE_PAUSED);
	assert_soda_ok(soda_server_thaw(srv, 0, &c->err), c->err);
	assert_soda_ok(soda_server_kill(srv, 0, &c->err), c->err);
	expect_event(c, SODA_EVENT_STATE, c->names[0], SODA_STATE_SHUTOFF);
	assert_soda_ok(soda_server_undefine(srv, 0, &c->err), c->err);
	expect_event(c, SODA_EVENT_UNDEFINED, c->names[0], 0);
	/* and none for servers of other contexts or none at all */
	for (size_t i = 0; i < c->n_events; i++)
		assert_true(strncmp(c->events[i].server, c->names[0], strlen(c->names[0]) - 1) ==
			    0);
	soda_server_unref(srv);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_define_lookup_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
	};
	const char *skip = argc > 2 ? argv[2] : NULL;

	if (argc < 2) {
		fprintf(stderr, "usage: %s URI [SKIP-REASON]\n", argv[0]);
		return 2;
	}
	uri = argv[1];
	uml = strncmp(uri, "uml:", 4) == 0;
	if (skip && *skip) {
		printf("SKIP %s: %s\n", uri, skip);
		return 77;
	}
	if (uml && geteuid() != 0) {
		printf("SKIP %s: real guests need root\n", uri);
		return 77;
	}
	return cmocka_run_group_tests_name(uri, tests, NULL, NULL);
}
