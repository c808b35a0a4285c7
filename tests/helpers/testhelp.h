/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test helpers. Everything a test makes is named with the "soda-it-" prefix
 * (state directories under /tmp, network namespaces) and removed by
 * th_env_teardown() even when the test failed: cmocka runs teardowns after
 * failed assertions.
 */
#ifndef SODA_TESTHELP_H
#define SODA_TESTHELP_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <soda/soda.h>
#include <soda/sys/backend.h>

#include "console_exec.h"

/* Asserts r >= 0, printing the library's message otherwise. */
#define assert_soda_ok(r, err)                                                                  \
	do {                                                                                    \
		int r_ = (r);                                                                   \
		if (r_ < 0)                                                                     \
			fail_msg("%s failed: %d (%s)", #r, r_,                                  \
				 (err) ? soda_error_message(err) : "no message");              \
	} while (0)

/* Asserts r == code and that a message came with it. */
#define assert_soda_fails(r, code, err)                                                         \
	do {                                                                                    \
		int r_ = (r);                                                                   \
		if (r_ != (code))                                                               \
			fail_msg("%s returned %d, expected %d (%s)", #r, r_, (code),            \
				 (err) ? soda_error_message(err) : "no message");              \
		assert_non_null(err);                                                           \
		assert_non_null(soda_error_message(err));                                       \
		soda_error_free(err);                                                           \
		(err) = NULL;                                                                   \
	} while (0)

typedef struct th_env {
	char state_dir[64];
	char netns[32];    /* "" unless th_env_setup_netns() */
	soda_context *ctx;
	soda_error *err;
} th_env;

/* Skips the test (cmocka skip) unless running as root. */
void th_require_root(void);
/* Makes this process the reaper of orphaned descendants (the monitors of
 * servers whose starter exited), so none is left a zombie. */
void th_become_subreaper(void);
/* Reaps exited descendants without blocking. */
void th_reap(void);

/* New state directory and context (uml:/// with this build's monitor). */
int th_env_setup(th_env *env);
/* The same, with guests in a fresh network namespace soda-it-<pid>-<n>. */
int th_env_setup_netns(th_env *env);
/* Kills every server of the context, recovers, checks nothing is left (no
 * cgroup, no run directory), removes the state directory and namespace. */
void th_env_teardown(th_env *env);
/* Opens another context on the same state directory (a second "process"). */
int th_open_context(th_env *env, soda_context **ret);

/* Builds the busybox image once per environment. */
void th_build_image(th_env *env);
/* Defines and starts (waiting for ready) a server with @mem_mib memory. */
soda_server *th_start_server(th_env *env, const char *name, uint64_t mem_mib);
/* Runs a command on the server's console; asserts it ran; returns status. */
int th_exec(soda_server *srv, const char *cmd, char **out);

/* Runs argv (NULL-terminated, argv[0] absolute) and returns its exit code;
 * output (stdout+stderr) optional. */
int th_run(char *const argv[], char **out);
/* Runs a shell command line with /bin/sh -c; returns the exit code. */
int th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True if a process with this pid exists and is not a zombie. */
int th_pid_alive(int pid);
/* Path of the server's cgroup directory in the freezer (or unified)
 * hierarchy, whether or not it exists. Caller frees. */
char *th_cgroup_dir(th_env *env, const char *server);

uint64_t th_mono_ms(void);
/* A whole file as a string (NULL if unreadable). Caller frees. */
char *th_read_file(const char *path);

#endif
