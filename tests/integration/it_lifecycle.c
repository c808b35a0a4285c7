/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The whole lifecycle of real UML guests: start, exec, freeze, thaw, stop,
 * restart, kill, dump, undefine, and the state events on the way. */
#include "it_common.h"

#include <poll.h>

struct trail {
	int states[64];
	int n;
};

static int record(soda_context *ctx, const soda_event *ev, void *userdata)
{
	struct trail *t = userdata;

	(void)ctx;
	if (soda_event_get_kind(ev) == SODA_EVENT_STATE && t->n < 64)
		t->states[t->n++] = soda_event_get_state(ev);
	return 0;
}

static bool trail_has(const struct trail *t, int state)
{
	for (int i = 0; i < t->n; i++)
		if (t->states[i] == state)
			return true;
	return false;
}

static void drain(soda_context *ctx)
{
	while (soda_context_wait(ctx, 50, 0, NULL) > 0)
		;
}

static void test_lifecycle(void **state)
{
	th_env *env = *state;
	struct trail trail = { 0 };
	soda_server *srv;
	soda_server_info *info;
	char *out = NULL;
	uid_t uid;

	th_require_root();
	th_build_image(env);
	assert_int_equal(soda_context_add_event_handler(NULL, env->ctx, record, &trail, NULL, 0,
							NULL),
			 0);
	srv = th_start_server(env, "life", 48);
	assert_int_equal(state_of(srv), SODA_STATE_RUNNING);
	info = info_of(srv);
	assert_true(soda_server_info_get_ready(info));
	assert_true(soda_server_info_get_monitor_pid(info) > 0);
	assert_true(th_pid_alive(soda_server_info_get_guest_pid(info)));
	assert_true(soda_server_info_get_ready_usec(info) > 0);
	assert_true(soda_server_info_get_ready_usec(info) < 10 * 1000 * 1000);
	uid = soda_server_info_get_uid(info);
	assert_true(uid >= 1000);
	soda_server_info_free(info);

	assert_int_equal(th_exec(srv, "echo hello from $(hostname); cat /proc/meminfo | head -1", &out),
			 0);
	assert_non_null(strstr(out, "hello from life"));
	free(out);
	assert_int_equal(th_exec(srv, "false", NULL), 1);
	/* Job control works: the console shell gets its children's exits. */
	assert_int_equal(th_exec(srv, "sleep 0.1 & wait $!; echo waited", &out), 0);
	assert_non_null(strstr(out, "waited"));
	free(out);

	/* Freeze and thaw. */
	assert_soda_ok(soda_server_freeze(srv, 0, &env->err), env->err);
	assert_int_equal(state_of(srv), SODA_STATE_PAUSED);
	assert_soda_ok(soda_server_thaw(srv, 0, &env->err), env->err);
	assert_int_equal(state_of(srv), SODA_STATE_RUNNING);
	assert_int_equal(th_exec(srv, "echo still here", &out), 0);
	assert_non_null(strstr(out, "still here"));
	free(out);

	/* Graceful stop: the guest's init shuts down on ctrl-alt-del. */
	{
		uint64_t t0 = th_mono_ms();

		assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
		assert_true(th_mono_ms() - t0 < 5000);
	}
	assert_int_equal(state_of(srv), SODA_STATE_SHUTOFF);
	info = info_of(srv);
	assert_string_equal(soda_server_info_get_reason(info), "stopped");
	assert_int_equal(soda_server_info_get_exit_code(info), 0);
	assert_int_equal(soda_server_info_get_monitor_pid(info), 0);
	soda_server_info_free(info);
	assert_no_leftovers(env, "life", uid);

	/* Restart from shutoff, then restart while running. */
	assert_soda_ok(soda_server_restart(srv, 10000, SODA_START_WAIT_READY, &env->err), env->err);
	assert_int_equal(state_of(srv), SODA_STATE_RUNNING);
	/* The disk layer persists across runs. */
	assert_int_equal(th_exec(srv, "echo persisted > /root/note && sync", NULL), 0);
	assert_soda_ok(soda_server_restart(srv, 10000, SODA_START_WAIT_READY, &env->err), env->err);
	assert_int_equal(th_exec(srv, "cat /root/note", &out), 0);
	assert_non_null(strstr(out, "persisted"));
	free(out);

	/* Kill. */
	assert_soda_ok(soda_server_kill(srv, 0, &env->err), env->err);
	info = info_of(srv);
	assert_int_equal(soda_server_info_get_state(info), SODA_STATE_SHUTOFF);
	assert_string_equal(soda_server_info_get_reason(info), "killed");
	soda_server_info_free(info);
	assert_no_leftovers(env, "life", uid);

	/* Events: the states went by in this process's loop too. */
	drain(env->ctx);
	assert_true(trail_has(&trail, SODA_STATE_RUNNING));
	assert_true(trail_has(&trail, SODA_STATE_SHUTOFF));

	/* Undefine removes it all. */
	assert_soda_ok(soda_server_undefine(srv, 0, &env->err), env->err);
	{
		char *dir = state_path(env, "servers", "life");
		char *st = state_path(env, "status", "life");

		assert_false(path_exists(dir));
		assert_false(path_exists(st));
		free(dir);
		free(st);
	}
	assert_soda_fails(soda_server_start(srv, 0, &env->err), -ENOENT, env->err);
	soda_server_unref(srv);
}

/* Freezing stops the guest's CPU time; thawing lets it run again. */
static void freeze_check(th_env *env, const char *name)
{
	soda_server *srv;
	char *cg;
	long before, after;

	th_build_image(env);
	srv = th_start_server(env, name, 48);
	cg = th_cgroup_dir(env, name);
	/* A CPU hog inside the guest. */
	assert_int_equal(th_exec(srv, "(while :; do :; done) >/dev/null 2>&1 &", NULL), 0);
	usleep(300000);
	before = cgroup_cpu_ticks(cg);
	usleep(500000);
	after = cgroup_cpu_ticks(cg);
	assert_true(after - before >= 20); /* it burns CPU (ticks are 10 ms) */

	assert_soda_ok(soda_server_freeze(srv, 0, &env->err), env->err);
	before = cgroup_cpu_ticks(cg);
	sleep(1);
	after = cgroup_cpu_ticks(cg);
	print_message("frozen: %ld ticks in 1 s\n", after - before);
	assert_true(after - before <= 1);

	assert_soda_ok(soda_server_thaw(srv, 0, &env->err), env->err);
	before = cgroup_cpu_ticks(cg);
	usleep(500000);
	after = cgroup_cpu_ticks(cg);
	print_message("thawed: %ld ticks in 0.5 s\n", after - before);
	assert_true(after - before >= 20);
	free(cg);
	assert_soda_ok(soda_server_kill(srv, 0, &env->err), env->err);
	soda_server_unref(srv);
}

static void test_freeze_v1(void **state)
{
	th_require_root();
	freeze_check(*state, "frz");
}

/* The same through cgroup v2's core cgroup.freeze and cgroup.kill, which
 * hosts without a v1 freezer use. */
static void test_freeze_v2_core(void **state)
{
	th_env *env = *state;

	th_require_root();
	if (access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) != 0 &&
	    access("/sys/fs/cgroup/cgroup.procs", F_OK) != 0)
		skip();
	/* The context reads the switch when it opens: reopen with it set. */
	setenv("SODA_TEST_CGROUP_V2_CORE", "1", 1);
	soda_context_unref(env->ctx);
	assert_soda_ok(th_open_context(env, &env->ctx), env->err);
	freeze_check(env, "frz2");
	unsetenv("SODA_TEST_CGROUP_V2_CORE");
}

/* A guest that ignores ctrl-alt-del is stopped by force at the timeout. */
static void test_hung_guest(void **state)
{
	th_env *env = *state;
	char dir[128];
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_server_info *info;
	uint64_t t0, took;

	th_require_root();
	snprintf(dir, sizeof(dir), "%s/hung-root", env->state_dir);
	assert_int_equal(th_sh("mkdir -p %s/sbin && printf '#!/soda/busybox sh\\n"
			       "trap \"\" INT TERM\\nwhile :; do /soda/busybox sleep 1; done\\n' "
			       "> %s/sbin/init && chmod 755 %s/sbin/init",
			       dir, dir, dir),
			 0);
	assert_soda_ok(soda_image_build(env->ctx, "hung", SODA_IMAGE_SOURCE_DIRECTORY, dir, 0, 0,
					&env->err),
		       env->err);
	assert_int_equal(soda_server_config_new(&cfg, "hung", NULL), 0);
	assert_int_equal(soda_server_config_set_image(cfg, "hung", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	info = info_of(srv);
	soda_server_info_free(info);
	t0 = th_mono_ms();
	assert_soda_ok(soda_server_stop(srv, 1500, 0, &env->err), env->err);
	took = th_mono_ms() - t0;
	print_message("forced stop took %llu ms\n", (unsigned long long)took);
	assert_true(took >= 1400);
	assert_true(took < 6000);
	info = info_of(srv);
	assert_int_equal(soda_server_info_get_state(info), SODA_STATE_SHUTOFF);
	assert_string_equal(soda_server_info_get_reason(info), "stopped by force after 1500 ms");
	assert_no_leftovers(env, "hung", soda_server_info_get_uid(info));
	soda_server_info_free(info);
	soda_server_unref(srv);
}

static void test_dump(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char dir[128], path[192];
	char *manifest = NULL;
	struct stat st;

	th_require_root();
	th_build_image(env);
	srv = th_start_server(env, "dumpme", 48);
	assert_int_equal(th_exec(srv, "echo FORENSIC-MARKER-7731 > /root/evidence && sync", NULL),
			 0);
	snprintf(dir, sizeof(dir), "%s/dump1", env->state_dir);
	assert_soda_ok(soda_server_dump(srv, dir, SODA_DUMP_MEMORY, &env->err), env->err);
	/* The guest goes on after the dump. */
	assert_int_equal(state_of(srv), SODA_STATE_RUNNING);
	assert_int_equal(th_exec(srv, "true", NULL), 0);
	/* The disk layer holds what the guest wrote; the memory is all of it. */
	assert_int_equal(th_sh("grep -q FORENSIC-MARKER-7731 %s/disk.cow", dir), 0);
	snprintf(path, sizeof(path), "%s/memory", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size >= 48 << 20);
	assert_int_equal(th_sh("grep -aq FORENSIC-MARKER-7731 %s/memory", dir), 0);
	snprintf(path, sizeof(path), "%s/manifest", dir);
	assert_int_equal((manifest = th_read_file(path)) != NULL, 1);
	assert_non_null(strstr(manifest, "server dumpme\n"));
	assert_non_null(strstr(manifest, "image busybox\n"));
	assert_non_null(strstr(manifest, "memory memory\n"));
	free(manifest);
	for (const char *const *f = (const char *const[]){ "config", "status", "console.log", NULL };
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		assert_true(path_exists(path));
	}
	/* An existing directory is refused; nothing is overwritten. */
	assert_soda_fails(soda_server_dump(srv, dir, 0, &env->err), -EEXIST, env->err);
	/* A frozen server stays frozen after a dump. */
	assert_soda_ok(soda_server_freeze(srv, 0, &env->err), env->err);
	snprintf(dir, sizeof(dir), "%s/dump2", env->state_dir);
	assert_soda_ok(soda_server_dump(srv, dir, 0, &env->err), env->err);
	assert_int_equal(state_of(srv), SODA_STATE_PAUSED);
	assert_soda_ok(soda_server_kill(srv, 0, &env->err), env->err);
	/* And a shut-off one: disk and facts, no memory. */
	snprintf(dir, sizeof(dir), "%s/dump3", env->state_dir);
	assert_soda_ok(soda_server_dump(srv, dir, SODA_DUMP_MEMORY, &env->err), env->err);
	snprintf(path, sizeof(path), "%s/memory", dir);
	assert_false(path_exists(path));
	snprintf(path, sizeof(path), "%s/disk.cow", dir);
	assert_true(path_exists(path));
	soda_server_unref(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_freeze_v1, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_freeze_v2_core, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_hung_guest, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_dump, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
