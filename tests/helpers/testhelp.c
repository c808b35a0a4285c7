/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testhelp.h"

extern char **environ;

uint64_t th_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void th_require_root(void)
{
	if (geteuid() != 0) {
		print_message("skipped: needs root\n");
		skip();
	}
}

void th_become_subreaper(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

void th_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int th_run(char *const argv[], char **out)
{
	posix_spawn_file_actions_t fa;
	int p[2], status = -1;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(p[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			buf = realloc(buf, cap);
		}
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = buf ? buf : strdup("");
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int th_sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd = NULL;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (!cmd)
		return -1;
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		r = th_run(argv, NULL);
	}
	free(cmd);
	return r;
}

/* Process @pid's state letter and start time (field 22) from its stat;
 * false if it is gone. */
static bool proc_stat(int pid, char *ret_state, unsigned long long *ret_start)
{
	char path[64], *text = NULL, *p;
	size_t n = 0;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (getline(&text, &n, f) > 0 && (p = strrchr(text, ')')) && p[1] == ' ') {
		*ret_state = p[2];
		/* After ") ": the state is field 3, the start time field 22. */
		for (int field = 2; p && field < 22; field++)
			p = strchr(p + 1, ' ');
		*ret_start = p ? strtoull(p + 1, NULL, 10) : 0;
		ok = true;
	}
	free(text);
	fclose(f);
	return ok;
}

int th_pid_alive(int pid)
{
	unsigned long long start;
	char st;

	return proc_stat(pid, &st, &start) && st != 'Z' && st != 'X';
}

/* The start time of process @pid, 0 if it is gone. */
static unsigned long long start_time_of(int pid)
{
	unsigned long long start;
	char st;

	return proc_stat(pid, &st, &start) ? start : 0;
}

static int open_ctx(th_env *env, soda_context **ret)
{
	static const char *const uml_options[] = { "monitor=" SODA_TEST_MONITOR,
						   "agent=" SODA_TEST_AGENT, NULL };
	soda_context_options opts = SODA_CONTEXT_OPTIONS_INIT;

	opts.state_dir = env->state_dir;
	opts.driver_options = uml_options;
	opts.netns = env->netns[0] ? env->netns : NULL;
	return soda_context_open(ret, "uml:///", &opts, 0, &env->err);
}

int th_open_context(th_env *env, soda_context **ret)
{
	return open_ctx(env, ret);
}

/* A test process that died without its teardown (a sanitizer abort, a
 * timeout's SIGKILL) leaves its namespaces, with the bridges and tables in
 * them. They carry its pid: remove those whose process is gone. */
static void sweep_dead_netns(void)
{
	DIR *d = opendir("/run/netns");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int pid, n, len = 0;

		if (sscanf(de->d_name, "soda-it-%d-%d%n", &pid, &n, &len) != 2 ||
		    de->d_name[len] != '\0' || pid <= 0 || pid == (int)getpid())
			continue;
		if (kill(pid, 0) < 0 && errno == ESRCH)
			th_sh("ip netns del %s", de->d_name);
	}
	closedir(d);
}

#define OWNER_FILE ".soda-it-owner"

/* A test process that died without its teardown also leaves its state
 * directory, and the servers it started keep running (their monitors
 * detach). Each state directory names its owner (pid and start time); a
 * directory whose owner is gone is cleaned up as a teardown would: its
 * servers killed (by the pids their records hold), cgroups and files
 * removed. */
static void sweep_dead_state_dirs(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[512];
		int pid = 0;
		unsigned long long start = 0;
		FILE *f;
		th_env dead;

		if (strncmp(de->d_name, "soda-it-", 8) != 0 || strlen(de->d_name) >= 48)
			continue;
		snprintf(path, sizeof(path), "/tmp/%s/" OWNER_FILE, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue; /* not ours to judge (an old run's, or a helper's) */
		if (fscanf(f, "%d %llu", &pid, &start) != 2)
			pid = 0;
		fclose(f);
		if (pid <= 0 || pid == (int)getpid() || start_time_of(pid) == start)
			continue;
		memset(&dead, 0, sizeof(dead));
		snprintf(dead.state_dir, sizeof(dead.state_dir), "/tmp/%.48s", de->d_name);
		if (open_ctx(&dead, &dead.ctx) < 0) {
			soda_error_free(dead.err);
			dead.err = NULL;
		}
		print_message("sweeping %s, left by test process %d\n", dead.state_dir, pid);
		th_env_teardown(&dead);
	}
	closedir(d);
}

static int setup(th_env *env, int with_netns)
{
	static int counter;
	char owner[128];
	FILE *f;

	memset(env, 0, sizeof(*env));
	th_become_subreaper();
	sweep_dead_state_dirs();
	snprintf(env->state_dir, sizeof(env->state_dir), "/tmp/soda-it-XXXXXX");
	if (!mkdtemp(env->state_dir))
		return -1;
	snprintf(owner, sizeof(owner), "%s/" OWNER_FILE, env->state_dir);
	f = fopen(owner, "we");
	if (!f)
		return -1;
	fprintf(f, "%d %llu\n", (int)getpid(), start_time_of((int)getpid()));
	fclose(f);
	if (with_netns) {
		sweep_dead_netns();
		snprintf(env->netns, sizeof(env->netns), "soda-it-%d-%d", (int)getpid(), counter++);
		if (th_sh("ip netns add %s && ip -n %s link set lo up", env->netns, env->netns) != 0) {
			env->netns[0] = '\0';
			return -1;
		}
	}
	if (open_ctx(env, &env->ctx) < 0) {
		print_error("cannot open context: %s\n", soda_error_message(env->err));
		return -1;
	}
	return 0;
}

int th_env_setup(th_env *env)
{
	return setup(env, 0);
}

int th_env_setup_netns(th_env *env)
{
	return setup(env, 1);
}

char *th_cgroup_dir(th_env *env, const char *server)
{
	unsigned h = 2166136261u;
	char *p = NULL;
	const char *root = access("/sys/fs/cgroup/freezer", F_OK) == 0 ? "/sys/fs/cgroup/freezer"
				 : access("/sys/fs/cgroup/unified", F_OK) == 0 ? "/sys/fs/cgroup/unified"
										: "/sys/fs/cgroup";

	for (const char *s = env->state_dir; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	if (asprintf(&p, "%s/soda/%08x%s%s", root, h, server ? "/" : "", server ? server : "") < 0)
		return NULL;
	return p;
}

void th_env_teardown(th_env *env)
{
	char **names = NULL;

	if (env->ctx) {
		if (soda_context_list_servers(&names, NULL, env->ctx, 0, NULL) == 0) {
			for (size_t i = 0; names[i]; i++) {
				soda_server *srv = NULL;

				if (soda_server_lookup(&srv, env->ctx, names[i], NULL) == 0) {
					soda_server_kill(srv, 0, NULL);
					soda_server_undefine(srv, 0, NULL);
				}
				soda_server_unref(srv);
			}
			soda_strv_free(names);
		}
		soda_context_recover(env->ctx, 0, NULL);
		env->ctx = soda_context_unref(env->ctx);
	}
	th_reap();
	if (env->state_dir[0]) {
		char *cg = th_cgroup_dir(env, NULL);

		/* The context's cgroup subtree must be empty of servers. */
		if (cg) {
			th_sh("for d in %s/*/; do [ -d \"$d\" ] && rmdir \"$d\"; done 2>/dev/null; "
			      "rmdir %s 2>/dev/null", cg, cg);
			free(cg);
		}
		th_sh("rm -rf '%s'", env->state_dir);
	}
	if (env->netns[0])
		th_sh("ip netns del %s", env->netns);
	soda_error_free(env->err);
	env->err = NULL;
	th_reap();
}

void th_build_image(th_env *env)
{
	int r = soda_image_build(env->ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0,
				 &env->err);

	assert_soda_ok(r, env->err);
}

soda_server *th_start_server(th_env *env, const char *name, uint64_t mem_mib)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;

	assert_soda_ok(soda_server_config_new(&cfg, name, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_memory(cfg, mem_mib << 20, &env->err), env->err);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

int th_exec(soda_server *srv, const char *cmd, char **out)
{
	soda_error *err = NULL;
	int status = -1;
	int r;

	if (getenv("SODA_TEST_VERBOSE"))
		print_message("exec on %s: %s\n", soda_server_get_name(srv), cmd);
	r = soda_console_exec(srv, cmd, 30000, out, &status, &err);
	if (r < 0)
		print_error("exec on %s failed: %s\n", soda_server_get_name(srv), cmd);
	assert_soda_ok(r, err);
	return status;
}

char *th_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}
