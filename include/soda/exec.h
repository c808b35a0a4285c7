/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: running a command in a server's guest (issue 20).
 *
 * The command goes to the guest's agent (PID 1) on a line of its own, not
 * through the console: its exit status is exact (0-255, or the signal that
 * ended it), stdout and stderr stay apart and binary-safe, several commands
 * run at once, and nothing of it lands in the console or its recording.
 * The tenant's blackbox gets a record that the landlord ran a command (its
 * argv, user, working directory, the names of its environment, and how it
 * ended; docs/blackbox-format.md, "Commands the landlord ran").
 *
 * In the guest the command runs in the userland's namespaces, locked down
 * as the userland is, in a session of its own. A timeout kills its process
 * group (SIGKILL); a process it started in another session lives on.
 */
#ifndef SODA_EXEC_H
#define SODA_EXEC_H

#include <soda/common.h>
#include <soda/server.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SODA_EXEC_OPTIONS_VERSION 1

/* *ret_status of a command a signal ended: SODA_EXEC_SIGNALED + the signal. */
#define SODA_EXEC_SIGNALED 256

/**
 * soda_exec_options:
 * How to run a command. Strings and descriptors are the caller's: they are
 * used during the call only.
 * @env: NULL-terminated "NAME=VALUE" entries added to (and replacing
 *   entries of) the command's environment: PATH, HOME, USER, LOGNAME. NULL
 *   for none.
 * @user: a user name of the guest's /etc/passwd or a decimal uid; NULL:
 *   root.
 * @cwd: an absolute directory; NULL: the user's home (or /).
 * @timeout_ms: 0 for none; else the command is killed after so long and
 *   the call returns -ETIMEDOUT.
 * @stdin_fd: read to its end and given as the command's stdin; -1: the
 *   command's stdin is /dev/null.
 * @stdout_fd, @stderr_fd: where the command's output goes, as it comes;
 *   -1: discarded.
 * @since 0.2
 */
typedef struct soda_exec_options {
	uint32_t version; /* SODA_EXEC_OPTIONS_VERSION */
	const char *const *env;
	const char *user;
	const char *cwd;
	uint32_t timeout_ms;
	int32_t stdin_fd;
	int32_t stdout_fd;
	int32_t stderr_fd;
} soda_exec_options;

#define SODA_EXEC_OPTIONS_INIT { SODA_EXEC_OPTIONS_VERSION, NULL, NULL, NULL, 0, -1, -1, -1 }

/**
 * soda_exec_options_init:
 * Fills @opts as SODA_EXEC_OPTIONS_INIT does, for @version.
 * Returns: 0, or -EINVAL for NULL or an unknown version.
 * @since 0.2
 */
SODA_EXPORT int soda_exec_options_init(soda_exec_options *opts, uint32_t version);

/**
 * soda_server_exec:
 * Runs @argv (NULL-terminated; argv[0] looked up in the command's PATH) in
 * the running server @srv and waits for its end, passing @opts' stdin to it
 * and its stdout and stderr to @opts' descriptors as they come. @opts NULL
 * means SODA_EXEC_OPTIONS_INIT. @flags must be 0. At most 16 commands run
 * at once per server. The call blocks; run it in a thread of its own to do
 * other things meanwhile (the thread model: one object, one thread).
 *
 * *@ret_status (set on success only) gets the command's exit status
 * (0-255), or SODA_EXEC_SIGNALED + N when signal N ended it.
 *
 * Returns: 0; -ETIMEDOUT when the timeout passed (the command was killed);
 * -ENOENT (no such command, or user), -EACCES, ... when the command could
 * not start (the message says why); -EAGAIN when the server is not running
 * and ready; -EOPNOTSUPP when the guest's agent has no exec line (an older
 * image) or the backend has no exec; -EPROTO when the guest broke the
 * protocol (exec is then off for the server until its next start);
 * -EINVAL for bad arguments (named), -E2BIG when argv, environment, user
 * and directory take more than 64 KiB; -errno from the descriptors.
 * @since 0.2
 */
SODA_EXPORT int soda_server_exec(int *ret_status, soda_server *srv, const char *const *argv,
				 const soda_exec_options *opts, unsigned int flags,
				 soda_error **error);

/** The signal that ended a command (its *ret_status >= SODA_EXEC_SIGNALED),
 * or 0 when it exited. For FFIs. @since 0.2 */
SODA_EXPORT int soda_exec_status_signal(int status);
/** The exit status (0-255), or -1 when a signal ended it. @since 0.2 */
SODA_EXPORT int soda_exec_status_code(int status);

#ifdef __cplusplus
}
#endif

#endif
