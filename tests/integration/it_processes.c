/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Servers outlive the program that started them, and other processes see
 * and control them (sodactl here is a real separate process). */
#include "it_common.h"

static int run_sodactl(th_env *env, char **out, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { SODA_TEST_SODACTL, "--state-dir", env->state_dir, (char *)a1,
			 (char *)a2, (char *)a3, NULL };

	setenv("SODA_MONITOR", SODA_TEST_MONITOR, 1);
	return th_run(argv, out);
}

static int count_state(soda_context *ctx, const soda_event *ev, void *userdata)
{
	(void)ctx;
	if (soda_event_get_kind(ev) == SODA_EVENT_STATE)
		(*(int *)userdata)++;
	return 0;
}

static void test_starter_exits(void **state)
{
	th_env *env = *state;
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_server_info *info;
	char *out = NULL;
	int events = 0, mpid;

	th_require_root();
	th_build_image(env);
	assert_int_equal(soda_server_config_new(&cfg, "detached", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_int_equal(soda_context_add_event_handler(NULL, env->ctx, count_state, &events, NULL,
							0, NULL),
			 0);

	/* Another process starts it and exits. */
	assert_int_equal(run_sodactl(env, &out, "start", "detached", NULL), 0);
	assert_non_null(strstr(out, "detached: running"));
	free(out);
	/* We see it running, started by someone else, and got the events. */
	assert_int_equal(state_of(srv), SODA_STATE_RUNNING);
	while (soda_context_wait(env->ctx, 200, 0, NULL) > 0)
		;
	assert_true(events >= 1);
	info = info_of(srv);
	mpid = soda_server_info_get_monitor_pid(info);
	assert_true(th_pid_alive(mpid));
	soda_server_info_free(info);
	/* The monitor is not the starter's child: it left the starter's
	 * session and process group. */
	assert_int_not_equal(getsid(mpid), getsid(0));
	assert_int_not_equal(getpgid(mpid), getpgid(0));

	/* This process controls it... */
	assert_int_equal(th_exec(srv, "echo started-elsewhere", &out), 0);
	assert_non_null(strstr(out, "started-elsewhere"));
	free(out);
	/* ...and so does a third one. */
	assert_int_equal(run_sodactl(env, &out, "exec", "detached", "echo from-third"), 0);
	assert_non_null(strstr(out, "from-third"));
	free(out);
	assert_int_equal(run_sodactl(env, &out, "list", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"name\":\"detached\",\"state\":\"running\""));
	free(out);
	assert_int_equal(run_sodactl(env, &out, "stop", "detached", NULL), 0);
	free(out);
	assert_int_equal(state_of(srv), SODA_STATE_SHUTOFF);
	th_reap();
	assert_false(th_pid_alive(mpid));
	soda_server_unref(srv);
}

/* sodactl's exit codes: 0 ok, 1 failure with a message, 2 bad usage,
 * 3 not found. */
static void test_sodactl_errors(void **state)
{
	th_env *env = *state;
	char *out = NULL;

	th_require_root();
	assert_int_equal(run_sodactl(env, &out, "start", "ghost", NULL), 3);
	assert_non_null(strstr(out, "no server named 'ghost'"));
	free(out);
	assert_int_equal(run_sodactl(env, &out, "create", "bad/name", NULL), 1);
	assert_non_null(strstr(out, "'/'"));
	free(out);
	assert_int_equal(run_sodactl(env, &out, "frobnicate", NULL, NULL), 2);
	assert_non_null(strstr(out, "no command 'frobnicate'"));
	free(out);
	assert_int_equal(run_sodactl(env, &out, "create", "x", "--memory"), 2);
	free(out);
	assert_int_equal(run_sodactl(env, &out, "create", "x", "--memory=lots"), 2);
	assert_non_null(strstr(out, "--memory takes MiB"));
	free(out);
	assert_int_equal(run_sodactl(env, &out, "create", "x", "--memory=8"), 1);
	assert_non_null(strstr(out, "below"));
	free(out);
	assert_int_equal(run_sodactl(env, &out, "--help", NULL, NULL), 0);
	assert_non_null(strstr(out, "usage: sodactl"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_starter_exits, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_sodactl_errors, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
