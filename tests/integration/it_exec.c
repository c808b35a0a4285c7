/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exec through the agent (issue 20, part 3), on real guests: exact exit
 * statuses (all of 0-255) and signals, stderr apart from stdout, 8 MiB
 * out with its checksum, every byte value both ways, a timeout that kills
 * the command and leaves the guest fine, 8 commands at once each with its
 * own output, user, directory and environment, and the console's
 * recording without a trace of any of it while the tenant's blackbox
 * holds the landlord's record. Then a hostile guest: root in an open
 * guest writes oversized frames, frames for ids the monitor never issued,
 * and garbage to the exec line; the monitor stays up, small, and turns
 * exec off for the run (EPROTO) instead of believing it.
 */
#include "it_bb_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#define MARK "xq7-exec-mark"

static int run(soda_server *srv, const char *const *argv, const soda_exec_options *o,
	       int *status, soda_error **err)
{
	return soda_server_exec(status, srv, argv, o, 0, err);
}

/* Runs @argv with @in (or nothing) as stdin; *@out and *@errout (both
 * malloc'd, NUL-terminated, lengths in *@outlen) get its output. */
static int run_capture(soda_server *srv, const char *const *argv, soda_exec_options *o,
		       const void *in, size_t inlen, char **out, size_t *outlen, char **errout,
		       int *status, soda_error **err)
{
	char tout[] = "/tmp/soda-it-exec-out-XXXXXX", terr[] = "/tmp/soda-it-exec-err-XXXXXX";
	char tin[] = "/tmp/soda-it-exec-in-XXXXXX";
	int fo = mkstemp(tout), fe = mkstemp(terr), fi = -1, r;
	soda_exec_options local = SODA_EXEC_OPTIONS_INIT;
	struct stat st;

	if (!o)
		o = &local;
	assert_true(fo >= 0 && fe >= 0);
	unlink(tout);
	unlink(terr);
	if (in) {
		fi = mkstemp(tin);
		assert_true(fi >= 0);
		unlink(tin);
		assert_int_equal(write(fi, in, inlen), (ssize_t)inlen);
		lseek(fi, 0, SEEK_SET);
	}
	o->stdin_fd = fi;
	o->stdout_fd = fo;
	o->stderr_fd = fe;
	r = run(srv, argv, o, status, err);
	for (int k = 0; k < 2; k++) {
		int fd = k ? fe : fo;
		char **dst = k ? errout : out;
		char *b;

		fstat(fd, &st);
		b = malloc((size_t)st.st_size + 1);
		assert_non_null(b);
		assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
		b[st.st_size] = '\0';
		if (!k && outlen)
			*outlen = (size_t)st.st_size;
		if (dst)
			*dst = b;
		else
			free(b);
		close(fd);
	}
	if (fi >= 0)
		close(fi);
	return r;
}

static soda_server *srv_main; /* the locked guest with a blackbox */

static void test_status(void **state)
{
	th_env *env = *state;
	char *out = NULL, *err = NULL;
	int status = -1;
	uint64_t t0;

	th_require_root();
	th_build_image(env);
	srv_main = bb_start_server(env, "exec", NULL, SODA_GUEST_PROFILE_LOCKED);
	/* A sample through `exit N`. */
	{
		static const int sample[] = { 0, 1, 3, 42, 126, 127, 128, 200, 255 };

		for (size_t i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
			char cmd[32];
			const char *argv[] = { "sh", "-c", cmd, NULL };

			snprintf(cmd, sizeof(cmd), "exit %d", sample[i]);
			assert_soda_ok(run(srv_main, argv, NULL, &status, &env->err), env->err);
			assert_int_equal(status, sample[i]);
			assert_int_equal(soda_exec_status_code(status), sample[i]);
			assert_int_equal(soda_exec_status_signal(status), 0);
		}
	}
	/* All of 0-255, each its own command, in one loop. */
	t0 = th_mono_ms();
	for (int n = 0; n <= 255; n++) {
		char num[8];
		const char *argv[] = { "sh", "-c", "exit $1", "sh", num, NULL };

		snprintf(num, sizeof(num), "%d", n);
		assert_soda_ok(run(srv_main, argv, NULL, &status, &env->err), env->err);
		if (status != n)
			fail_msg("exit %d came back as %d", n, status);
	}
	print_message("256 execs in %llu ms\n", (unsigned long long)(th_mono_ms() - t0));
	/* A signal is not an exit. */
	{
		const char *argv[] = { "sh", "-c", "kill -9 $$", NULL };

		assert_soda_ok(run(srv_main, argv, NULL, &status, &env->err), env->err);
		assert_int_equal(status, SODA_EXEC_SIGNALED + 9);
		assert_int_equal(soda_exec_status_signal(status), 9);
		assert_int_equal(soda_exec_status_code(status), -1);
	}
	/* stderr apart from stdout. */
	{
		const char *argv[] = { "sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 7",
				       NULL };

		assert_soda_ok(run_capture(srv_main, argv, NULL, NULL, 0, &out, NULL, &err, &status,
					   &env->err),
			       env->err);
		assert_int_equal(status, 7);
		assert_string_equal(out, "out1\nout2\n");
		assert_string_equal(err, "err1\n");
		free(out);
		free(err);
	}
	/* A command that is not there, a user that is not there. */
	{
		const char *argv[] = { "/no/such/" MARK, NULL };
		soda_exec_options o = SODA_EXEC_OPTIONS_INIT;

		assert_soda_fails(run(srv_main, argv, NULL, &status, &env->err), -ENOENT, env->err);
		o.user = "no-such-user";
		argv[0] = "true";
		assert_soda_fails(run(srv_main, argv, &o, &status, &env->err), -ENOENT, env->err);
		o.user = NULL;
		o.cwd = "relative";
		assert_soda_fails(run(srv_main, argv, &o, &status, &env->err), -EINVAL, env->err);
	}
}

static void test_user_cwd_env(void **state)
{
	th_env *env = *state;
	const char *argv[] = { "sh", "-c", "id -u; id -g; pwd; echo \"$FOO|$HOME|$USER\"", NULL };
	const char *envv[] = { "FOO=bar baz", NULL };
	soda_exec_options o = SODA_EXEC_OPTIONS_INIT;
	char *out = NULL;
	int status = -1;

	th_require_root();
	assert_non_null(srv_main);
	o.env = envv;
	assert_soda_ok(run_capture(srv_main, argv, &o, NULL, 0, &out, NULL, NULL, &status,
				   &env->err),
		       env->err);
	assert_int_equal(status, 0);
	assert_string_equal(out, "0\n0\n/root\nbar baz|/root|root\n");
	free(out);
	o.user = "nobody";
	o.cwd = "/tmp";
	assert_soda_ok(run_capture(srv_main, argv, &o, NULL, 0, &out, NULL, NULL, &status,
				   &env->err),
		       env->err);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "65534\n"));
	assert_non_null(strstr(out, "/tmp\nbar baz|"));
	free(out);
	o.user = "4242";
	o.cwd = NULL;
	assert_soda_ok(run_capture(srv_main, argv, &o, NULL, 0, &out, NULL, NULL, &status,
				   &env->err),
		       env->err);
	assert_string_equal(out, "4242\n4242\n/\nbar baz|/|4242\n");
	free(out);
}

/* 8 MiB out, checksummed on both sides; 1 MiB of every byte value in and
 * back out unchanged. */
static void test_volume_binary(void **state)
{
	th_env *env = *state;
	const char *big[] = { "sh", "-c",
			      "head -c 8388608 /dev/urandom > /tmp/big && md5sum /tmp/big >&2 && "
			      "cat /tmp/big && rm /tmp/big",
			      NULL };
	const char *cat[] = { "cat", NULL };
	char *out = NULL, *err = NULL, host_sum[64], *sum_out = NULL;
	size_t outlen = 0;
	uint8_t *in;
	size_t inlen = 1 << 20;
	int status = -1;
	uint64_t t0 = th_mono_ms();

	th_require_root();
	assert_non_null(srv_main);
	assert_soda_ok(run_capture(srv_main, big, NULL, NULL, 0, &out, &outlen, &err, &status,
				   &env->err),
		       env->err);
	assert_int_equal(status, 0);
	assert_int_equal(outlen, 8388608);
	print_message("8 MiB out in %llu ms\n", (unsigned long long)(th_mono_ms() - t0));
	{
		char path[] = "/tmp/soda-it-exec-big-XXXXXX";
		int fd = mkstemp(path);
		char *argv[] = { "/usr/bin/md5sum", path, NULL };

		assert_true(fd >= 0);
		assert_int_equal(write(fd, out, outlen), (ssize_t)outlen);
		close(fd);
		assert_int_equal(th_run(argv, &sum_out), 0);
		unlink(path);
	}
	snprintf(host_sum, sizeof(host_sum), "%.32s", sum_out);
	assert_int_equal(strncmp(err, host_sum, 32), 0);
	free(sum_out);
	free(out);
	free(err);

	in = malloc(inlen);
	assert_non_null(in);
	/* Random bytes: newlines, ^C, ^D, XON/XOFF, 0xff and NULs anywhere,
	 * and more than the guest's tty holds unread (exec_proto.h). */
	{
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(read(fd, in, inlen), (ssize_t)inlen);
		close(fd);
	}
	t0 = th_mono_ms();
	{
		soda_exec_options o = SODA_EXEC_OPTIONS_INIT;

		o.timeout_ms = 60000; /* a stalled line fails here, not at ctest's timeout */
		assert_soda_ok(run_capture(srv_main, cat, &o, in, inlen, &out, &outlen, NULL,
					   &status, &env->err),
			       env->err);
	}
	print_message("1 MiB in and back in %llu ms\n", (unsigned long long)(th_mono_ms() - t0));
	assert_int_equal(status, 0);
	assert_int_equal(outlen, inlen);
	assert_memory_equal(out, in, inlen);
	free(out);
	/* Each of the 256 values once, through od in the guest: proof the
	 * guest saw them as sent (not just that they came back). */
	{
		const char *od[] = { "sh", "-c", "od -An -tx1 -v | tr -d ' \\n'", NULL };
		char want[513];

		for (int v = 0; v < 256; v++) {
			in[v] = (uint8_t)v;
			snprintf(want + 2 * v, 3, "%02x", v);
		}
		soda_exec_options o = SODA_EXEC_OPTIONS_INIT;

		o.timeout_ms = 30000;
		assert_soda_ok(run_capture(srv_main, od, &o, in, 256, &out, NULL, NULL, &status,
					   &env->err),
			       env->err);
		assert_string_equal(out, want);
		free(out);
	}
	free(in);
}

static void test_timeout(void **state)
{
	th_env *env = *state;
	const char *slow[] = { "sh", "-c", "echo started; sleep 30; echo never", NULL };
	const char *count[] = { "sh", "-c", "ps -o args | grep -c '^sleep 30' || true", NULL };
	soda_exec_options o = SODA_EXEC_OPTIONS_INIT;
	char *out = NULL;
	int status = -1, r;
	uint64_t t0 = th_mono_ms();

	th_require_root();
	assert_non_null(srv_main);
	o.timeout_ms = 1500;
	r = run_capture(srv_main, slow, &o, NULL, 0, &out, NULL, NULL, &status, &env->err);
	assert_soda_fails(r, -ETIMEDOUT, env->err);
	assert_true(th_mono_ms() - t0 < 5000);
	assert_string_equal(out, "started\n");
	free(out);
	/* The guest is fine, and nothing of the command is left. */
	o = (soda_exec_options)SODA_EXEC_OPTIONS_INIT;
	assert_soda_ok(run_capture(srv_main, count, &o, NULL, 0, &out, NULL, NULL, &status,
				   &env->err),
		       env->err);
	assert_string_equal(out, "0\n");
	free(out);
}

struct conc {
	th_env *env;
	int idx, status, r;
	char *out;
	size_t outlen;
};

static void *conc_thread(void *arg)
{
	struct conc *c = arg;
	soda_context *ctx = NULL;
	soda_server *srv = NULL;
	soda_error *err = NULL;
	char script[160];
	const char *argv[] = { "sh", "-c", script, NULL };
	char path[] = "/tmp/soda-it-exec-conc-XXXXXX";
	soda_exec_options o = SODA_EXEC_OPTIONS_INIT;
	int fd = mkstemp(path);
	struct stat st;

	unlink(path);
	snprintf(script, sizeof(script),
		 "i=0; while [ $i -lt 3000 ]; do echo T%d-$i; i=$((i+1)); done; exit %d", c->idx,
		 10 + c->idx);
	c->r = th_open_context(c->env, &ctx);
	if (c->r == 0)
		c->r = soda_server_lookup(&srv, ctx, "exec", &err);
	o.stdout_fd = fd;
	if (c->r == 0)
		c->r = soda_server_exec(&c->status, srv, argv, &o, 0, &err);
	if (c->r < 0)
		print_error("thread %d: %s\n", c->idx, err ? soda_error_message(err) : "?");
	fstat(fd, &st);
	c->out = calloc(1, (size_t)st.st_size + 1);
	c->outlen = (size_t)st.st_size;
	if (pread(fd, c->out, c->outlen, 0) != (ssize_t)c->outlen)
		c->r = -EIO;
	close(fd);
	soda_error_free(err);
	soda_server_unref(srv);
	soda_context_unref(ctx);
	return NULL;
}

static void test_concurrent(void **state)
{
	th_env *env = *state;
	struct conc c[8];
	pthread_t t[8];

	th_require_root();
	assert_non_null(srv_main);
	for (int i = 0; i < 8; i++) {
		c[i] = (struct conc){ .env = env, .idx = i };
		assert_int_equal(pthread_create(&t[i], NULL, conc_thread, &c[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 8; i++) {
		char *p = c[i].out;
		int n = 0;

		assert_int_equal(c[i].r, 0);
		assert_int_equal(c[i].status, 10 + i);
		/* Exactly its own lines, in order. */
		for (char *nl; (nl = strchr(p, '\n')); p = nl + 1, n++) {
			char want[32];

			snprintf(want, sizeof(want), "T%d-%d", i, n);
			if ((size_t)(nl - p) != strlen(want) || strncmp(p, want, strlen(want)) != 0)
				fail_msg("thread %d line %d: '%.*s'", i, n, (int)(nl - p), p);
		}
		assert_int_equal(n, 3000);
		free(c[i].out);
	}
}

/* Nothing of the commands in the console's log or its recording; the
 * landlord's record in the tenant's blackbox. */
static void test_recording(void **state)
{
	th_env *env = *state;
	const char *argv[] = { "sh", "-c", "echo out-" MARK "; echo err-" MARK " >&2", NULL };
	char *log = NULL, *dir, *all, *path;
	uint32_t st = 0;
	int status = -1;

	th_require_root();
	assert_non_null(srv_main);
	assert_soda_ok(run_capture(srv_main, argv, NULL, "in-" MARK, strlen("in-" MARK), NULL, NULL,
				   NULL, &status, &env->err),
		       env->err);
	/* Positive control: a console command does show in both. */
	{
		char *out = NULL;

		assert_int_equal(th_exec(srv_main, "echo console-ctl-mark", &out), 0);
		free(out);
	}
	path = state_path(env, "servers/exec", "console.log");
	log = th_read_file(path);
	assert_non_null(log);
	assert_non_null(strstr(log, "console-ctl-mark"));
	assert_null(strstr(log, MARK));
	free(log);
	free(path);
	dir = bb_store_dir(env, srv_main);
	assert_soda_ok(soda_server_stop(srv_main, 10000, 0, &env->err), env->err);
	all = bb_read_all(dir, &st);
	assert_non_null(strstr(all, "console-ctl-mark"));
	/* The record, sealed by the agent, and only there. */
	{
		const char *rec = strstr(all, "landlord exec #");
		const char *p;
		int n = 0;

		assert_non_null(rec);
		/* The tenant's own audit sees the command run (the records of
		 * its execve); the console never. */
		for (p = all; (p = strstr(p, MARK)); p++) {
			const char *bol = p;

			while (bol > all && bol[-1] != '\n')
				bol--;
			if (strncmp(bol, "guest console", 13) == 0)
				fail_msg("the mark in a console record: %.120s", bol);
			if (strncmp(bol, "guest lifecycle: landlord exec #", 32) == 0)
				n++;
		}
		/* The not-found one (test_status) and this one. */
		assert_true(n >= 2);
		assert_non_null(strstr(all, "user root, cwd (home), timeout 0 ms, stdin yes, argv "
					    "'sh' '-c' 'echo out-" MARK));
		assert_non_null(strstr(all, "ended: exited 0"));
		assert_non_null(strstr(all, "ended: timed out, killed 9"));
	}
	free(all);
	free(dir);
	soda_server_unref(srv_main);
	srv_main = NULL;
}

static long rss_kib(int pid)
{
	char path[64], *text, *p;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	text = th_read_file(path);
	if (text && (p = strstr(text, "VmRSS:")))
		kib = strtol(p + 6, NULL, 10);
	free(text);
	return kib;
}

static int monitor_pid(soda_server *srv)
{
	soda_server_info *info = NULL;
	int pid;

	assert_soda_ok(soda_server_get_info(&info, srv, 0, NULL), NULL);
	pid = soda_server_info_get_monitor_pid(info);
	soda_server_info_free(info);
	return pid;
}

/* Root in an open guest writes to the exec line itself. */
static void test_hostile_agent(void **state)
{
	static const struct {
		const char *what, *script;
	} attacks[] = {
		/* a header announcing 4 GiB, then megabytes */
		{ "oversized", "printf '\\377\\377\\377\\377\\001\\000\\000\\000\\020\\000\\000\\000' "
			       ">&3; head -c 3000000 /dev/zero >&3" },
		/* well-formed output for ids never issued, many of them */
		{ "unknown ids",
		  "i=0; while [ $i -lt 2000 ]; do printf '\\004\\000\\000\\000\\347\\003\\000\\000"
		  "\\020\\000\\000\\000abcd' >&3; i=$((i+1)); done" },
		{ "garbage", "head -c 4000000 /dev/urandom >&3" },
	};
	th_env *env = *state;
	soda_server *srv;
	const char *echo[] = { "echo", "ok", NULL };
	int status = -1;

	th_require_root();
	srv = bb_start_server(env, "exech", NULL, SODA_GUEST_PROFILE_OPEN);
	for (size_t a = 0; a < sizeof(attacks) / sizeof(attacks[0]); a++) {
		char script[600], *out = NULL, *log, *logpath;
		const char *argv[] = { "sh", "-c", script, NULL };
		int mpid = monitor_pid(srv), r;
		long before = rss_kib(mpid), after;

		assert_true(before > 0);
		/* exec works before */
		assert_soda_ok(run(srv, echo, NULL, &status, &env->err), env->err);
		snprintf(script, sizeof(script),
			 "mknod /dev/xq7-line c 4 67 && exec 3>/dev/xq7-line && (%s); echo done",
			 attacks[a].script);
		/* The attack rides on an exec of its own: it breaks the line
		 * under its own feet (EPROTO), or its console twin... either
		 * way the monitor must not believe it. */
		r = run(srv, argv, NULL, &status, &env->err);
		if (r != -EPROTO)
			fail_msg("%s: exec returned %d (%s)", attacks[a].what, r,
				 env->err ? soda_error_message(env->err) : "");
		soda_error_free(env->err);
		env->err = NULL;
		/* The monitor lives, small, and says why exec is off. */
		assert_true(th_pid_alive(mpid));
		after = rss_kib(mpid);
		print_message("%s: monitor RSS %ld -> %ld KiB\n", attacks[a].what, before, after);
		assert_true(after - before < 2048);
		assert_soda_fails(run(srv, echo, NULL, &status, &env->err), -EPROTO, env->err);
		logpath = state_path(env, "servers/exech", "monitor.log");
		log = th_read_file(logpath);
		assert_non_null(log);
		assert_non_null(strstr(log, "exec line broken by the guest"));
		free(log);
		free(logpath);
		/* The guest itself runs on. */
		assert_int_equal(th_exec(srv, "echo still-here", &out), 0);
		assert_non_null(strstr(out, "still-here"));
		free(out);
		/* A new run, a new line. */
		assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
		assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	}
	soda_server_unref(srv);
}

static void test_locked_no_node(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	const char *argv[] = { "sh", "-c",
			       "ls /dev/ttyS3 2>/dev/null; mknod /dev/xq7-line c 4 67 && echo made",
			       NULL };
	char *out = NULL, *err = NULL;
	int status = -1;

	th_require_root();
	srv = bb_start_server(env, "execl", NULL, SODA_GUEST_PROFILE_LOCKED);
	assert_soda_ok(run_capture(srv, argv, NULL, NULL, 0, &out, NULL, &err, &status, &env->err),
		       env->err);
	/* The agent unlinked its node; the profile refuses a new one (the
	 * same mknod succeeds in the open guest: test_hostile_agent). */
	assert_string_equal(out, "");
	assert_int_not_equal(status, 0);
	assert_non_null(strstr(err, "not permitted"));
	free(out);
	free(err);
	soda_server_unref(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_user_cwd_env),
		cmocka_unit_test(test_volume_binary),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_recording),
		cmocka_unit_test(test_hostile_agent),
		cmocka_unit_test(test_locked_no_node),
	};
	int r;

	th_become_subreaper();
	if (bb_setup_tenant() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, env_setup, env_teardown);
	soda_blackbox_key_free(tenant);
	return r;
}
