/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the integration tests: per-test environments and probes. */
#ifndef SODA_IT_COMMON_H
#define SODA_IT_COMMON_H

#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"

static __attribute__((unused)) int env_setup(void **state)
{
	th_env *env = calloc(1, sizeof(*env));

	if (!env || th_env_setup(env) < 0) {
		if (env)
			th_env_teardown(env);
		free(env);
		return -1;
	}
	*state = env;
	return 0;
}

static __attribute__((unused)) int env_teardown(void **state)
{
	th_env *env = *state;

	th_env_teardown(env);
	free(env);
	return 0;
}

/* <state dir>/<sub>/<name> */
static inline char *state_path(th_env *env, const char *sub, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s/%s", env->state_dir, sub, name) < 0)
		p = NULL;
	return p;
}

static inline int path_exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* Sums user+system clock ticks of the processes listed in a cgroup.procs. */
static inline long cgroup_cpu_ticks(const char *cgdir)
{
	char *path = NULL, line[64];
	long total = 0;
	FILE *f;

	if (asprintf(&path, "%s/cgroup.procs", cgdir) < 0)
		return -1;
	f = fopen(path, "re");
	free(path);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char stat[64], *text = NULL, *p;
		size_t n = 0;
		FILE *s;
		long ut = 0, st = 0;

		snprintf(stat, sizeof(stat), "/proc/%d/stat", atoi(line));
		s = fopen(stat, "re");
		if (!s)
			continue;
		if (getline(&text, &n, s) > 0 && (p = strrchr(text, ')')))
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st);
		free(text);
		fclose(s);
		total += ut + st;
	}
	fclose(f);
	return total;
}

/* Counts live processes owned by uid anywhere on the host. */
static inline int processes_of_uid(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		char path[300];
		struct stat st;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s", de->d_name);
		if (stat(path, &st) == 0 && st.st_uid == uid && th_pid_alive(atoi(de->d_name)))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static inline soda_server_info *info_of(soda_server *srv)
{
	soda_server_info *info = NULL;
	soda_error *err = NULL;

	assert_soda_ok(soda_server_get_info(&info, srv, 0, &err), err);
	return info;
}

static inline int state_of(soda_server *srv)
{
	int st = 0;
	soda_error *err = NULL;

	assert_soda_ok(soda_server_get_state(&st, srv, &err), err);
	return st;
}

/* Everything a run leaves while alive is gone: run directory, cgroup, uml_dir
 * entry, processes of the jail uid. */
static inline void assert_no_leftovers(th_env *env, const char *name, uid_t uid)
{
	char *run = state_path(env, "run", name), *cg = th_cgroup_dir(env, name);

	if (path_exists(run))
		fail_msg("run directory %s is left", run);
	if (path_exists(cg))
		fail_msg("cgroup %s is left", cg);
	if (uid && processes_of_uid(uid))
		fail_msg("%d processes of uid %u are left", processes_of_uid(uid), (unsigned)uid);
	free(run);
	free(cg);
}

#endif
