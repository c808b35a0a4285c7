/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crashes: SIGKILL of the monitor or of linux.uml, and what recovery leaves
 * (nothing: no process, cgroup, uml_dir entry or run directory). */
#include "it_common.h"

#include <sys/wait.h>

static int saw_crash(soda_context *ctx, const soda_event *ev, void *userdata)
{
	(void)ctx;
	if (soda_event_get_kind(ev) == SODA_EVENT_STATE &&
	    soda_event_get_state(ev) == SODA_STATE_CRASHED)
		(*(int *)userdata)++;
	return 0;
}

static void wait_events(soda_context *ctx, int *counter, int want, int timeout_ms)
{
	uint64_t deadline = th_mono_ms() + (uint64_t)timeout_ms;

	while (*counter < want && th_mono_ms() < deadline)
		soda_context_wait(ctx, 100, 0, NULL);
}

static void wait_gone(int pid, int timeout_ms)
{
	uint64_t deadline = th_mono_ms() + (uint64_t)timeout_ms;

	while (th_pid_alive(pid) && th_mono_ms() < deadline)
		usleep(10000);
	assert_false(th_pid_alive(pid));
}

/* A running server and the pids and uid of its run. */
static soda_server *start_victim(th_env *env, const char *name, int *mpid, int *gpid, uid_t *uid)
{
	soda_server *srv;
	soda_server_info *info;

	th_require_root();
	th_build_image(env);
	srv = th_start_server(env, name, 48);
	info = info_of(srv);
	*mpid = soda_server_info_get_monitor_pid(info);
	*gpid = soda_server_info_get_guest_pid(info);
	*uid = soda_server_info_get_uid(info);
	soda_server_info_free(info);
	return srv;
}

static void test_kill_monitor(void **state)
{
	th_env *env = *state;
	soda_context *other = NULL;
	soda_server *srv, *seen = NULL;
	soda_server_info *info;
	int crashes = 0, mpid, gpid;
	uid_t uid;
	char *umldir;

	srv = start_victim(env, "victim", &mpid, &gpid, &uid);
	/* uml_dir is in the jail's own tmpfs, seen through linux.uml's working
	 * directory (its root holds only what hostfs may reach). */
	assert_int_not_equal(asprintf(&umldir, "/proc/%d/cwd/uml/soda/pid", gpid), -1);
	assert_true(path_exists(umldir));

	/* A second context (as another process would) watches the events. */
	assert_soda_ok(th_open_context(env, &other), env->err);
	assert_int_equal(soda_context_add_event_handler(NULL, other, saw_crash, &crashes, NULL, 0,
							NULL),
			 0);
	assert_int_equal(kill(mpid, SIGKILL), 0);
	th_reap();
	/* The pidfd wakes the watcher; its processing cleans up. */
	wait_events(other, &crashes, 1, 5000);
	assert_int_equal(crashes, 1);
	assert_soda_ok(soda_server_lookup(&seen, other, "victim", &env->err), env->err);
	info = info_of(seen);
	assert_int_equal(soda_server_info_get_state(info), SODA_STATE_CRASHED);
	assert_string_equal(soda_server_info_get_reason(info), "monitor died");
	soda_server_info_free(info);
	th_reap();
	assert_false(th_pid_alive(gpid));
	assert_no_leftovers(env, "victim", uid);
	assert_false(path_exists(umldir));
	free(umldir);
	/* It starts again after the crash. */
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	assert_int_equal(th_exec(srv, "true", NULL), 0);
	soda_server_unref(seen);
	soda_context_unref(other);
	soda_server_unref(srv);
}

static void test_kill_guest(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	soda_server_info *info;
	int mpid, gpid;
	uid_t uid;
	uint64_t deadline;

	srv = start_victim(env, "victim2", &mpid, &gpid, &uid);
	assert_int_equal(kill(gpid, SIGKILL), 0);
	/* The monitor records the crash, cleans up and exits. */
	deadline = th_mono_ms() + 5000;
	while (th_pid_alive(mpid) && th_mono_ms() < deadline) {
		th_reap();
		usleep(20000);
	}
	assert_false(th_pid_alive(mpid));
	info = info_of(srv);
	assert_int_equal(soda_server_info_get_state(info), SODA_STATE_CRASHED);
	assert_string_equal(soda_server_info_get_reason(info), "linux.uml killed by signal 9");
	assert_int_equal(soda_server_info_get_exit_signal(info), 9);
	soda_server_info_free(info);
	assert_no_leftovers(env, "victim2", uid);
	soda_server_unref(srv);
}

/* Both die (a host crash, in effect): the next context to open recovers. */
static void test_recover_on_open(void **state)
{
	th_env *env = *state;
	soda_context *fresh = NULL;
	soda_server *srv, *again = NULL;
	int mpid, gpid;
	uid_t uid;
	char *cg;

	srv = start_victim(env, "victim3", &mpid, &gpid, &uid);
	soda_server_unref(srv);
	cg = th_cgroup_dir(env, "victim3");
	assert_int_equal(kill(mpid, SIGKILL), 0);
	th_reap();
	/* As after a host crash, the monitor is gone before anyone opens (a
	 * killed process takes a while to exit, longer under ASan). */
	wait_gone(mpid, 5000);
	/* Our old context closes without looking; the cgroup and run
	 * directory are still there for the next one to find. */
	assert_true(path_exists(cg));
	soda_context_unref(env->ctx);
	env->ctx = NULL;
	assert_soda_ok(th_open_context(env, &fresh), env->err);
	env->ctx = fresh;
	assert_soda_ok(soda_server_lookup(&again, fresh, "victim3", &env->err), env->err);
	assert_int_equal(state_of(again), SODA_STATE_CRASHED);
	th_reap();
	assert_false(th_pid_alive(gpid));
	assert_false(path_exists(cg));
	assert_no_leftovers(env, "victim3", uid);
	free(cg);
	soda_server_unref(again);
}

/* A context that was open all along and processes no events: the first
 * read of the state after the monitor died says crashed, and whoever reads
 * that also cleans up (no cgroup, run directory or process is left beside
 * a "crashed"). */
static void test_state_read_recovers(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	int mpid, gpid;
	uid_t uid;
	char *cg;

	srv = start_victim(env, "victim4", &mpid, &gpid, &uid);
	cg = th_cgroup_dir(env, "victim4");
	assert_true(path_exists(cg));
	assert_int_equal(kill(mpid, SIGKILL), 0);
	th_reap();
	wait_gone(mpid, 5000);
	assert_int_equal(state_of(srv), SODA_STATE_CRASHED);
	th_reap();
	assert_false(th_pid_alive(gpid));
	assert_false(path_exists(cg));
	assert_no_leftovers(env, "victim4", uid);
	free(cg);
	soda_server_unref(srv);
}

/* A test process that dies without its teardown (a sanitizer abort, a
 * timeout's SIGKILL) leaves a running server and its state directory; the
 * next test's setup sweeps them: the server's processes end, the directory
 * and the context's cgroups go. */
static void test_dead_test_swept(void **state)
{
	th_env *env = *state, other;
	struct {
		int mpid, gpid;
		char dir[64];
	} left = { 0, 0, "" };
	int pfd[2], status;
	pid_t child;
	char *cg;

	(void)env;
	th_require_root();
	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* The dying test: no cmocka here, plain calls, then _exit. */
		th_env e;
		soda_server_config *cfg = NULL;
		soda_server *srv = NULL;
		soda_server_info *info = NULL;

		close(pfd[0]);
		if (th_env_setup(&e) < 0 || soda_server_config_new(&cfg, "orphan", NULL) < 0 ||
		    soda_server_config_set_memory(cfg, 48ull << 20, NULL) < 0 ||
		    soda_image_build(e.ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, NULL) < 0 ||
		    soda_server_define(&srv, e.ctx, cfg, 0, NULL) < 0 ||
		    soda_server_start(srv, SODA_START_WAIT_READY, NULL) < 0 ||
		    soda_server_get_info(&info, srv, 0, NULL) < 0)
			_exit(2);
		left.mpid = soda_server_info_get_monitor_pid(info);
		left.gpid = soda_server_info_get_guest_pid(info);
		snprintf(left.dir, sizeof(left.dir), "%s", e.state_dir);
		if (write(pfd[1], &left, sizeof(left)) != (ssize_t)sizeof(left))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &left, sizeof(left)), (ssize_t)sizeof(left));
	close(pfd[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* What the dead test left. */
	assert_true(th_pid_alive(left.mpid));
	assert_true(th_pid_alive(left.gpid));
	assert_true(path_exists(left.dir));
	snprintf(other.state_dir, sizeof(other.state_dir), "%s", left.dir);
	cg = th_cgroup_dir(&other, NULL);
	assert_true(path_exists(cg));
	/* The next test's setup. */
	assert_int_equal(th_env_setup(&other), 0);
	th_reap();
	wait_gone(left.mpid, 5000);
	wait_gone(left.gpid, 5000);
	assert_false(path_exists(left.dir));
	assert_false(path_exists(cg));
	th_env_teardown(&other);
	free(cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_monitor, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_kill_guest, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_recover_on_open, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_state_read_recovers, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_dead_test_swept, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
