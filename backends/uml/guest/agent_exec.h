/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Commands the landlord runs in the guest (issue 20), inside soda-agent.
 *
 * The exec line is /dev/ttyS3 (UML ssl3, a socketpair soda-monitor holds),
 * raw, opened once and unlinked so that the userland cannot open it by
 * name (the locked profile refuses it a new node). Frames:
 * backends/uml/exec_proto.h. Each command runs in the userland's PID and
 * mount namespaces, locked down as the userland is (lockdown_userland),
 * as the user asked for (looked up in the userland's /etc/passwd), in its
 * own session; stdin, stdout and stderr are pipes to the agent. Its
 * timeout is the agent's to enforce: SIGKILL to its process group. Before
 * it runs, the agent seals what runs (argv, user, directory, names of the
 * environment) into the tenant's blackbox, and its end after; nothing of
 * it touches the console.
 */
#ifndef SODA_AGENT_EXEC_H
#define SODA_AGENT_EXEC_H

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../exec_proto.h"

#define EXEC_MAX_FDS (1 + 3 * SX_MAX_EXECS)
#define EXEC_BB_AUX 8 /* the LIFECYCLE records' aux (docs/blackbox-format.md) */

/* Opens the line; @record seals a line of text into the blackbox (may be
 * NULL). Returns 0, or -errno (the agent then has no exec). */
int ex_open(int profile, void (*record)(const char *text));
/* The userland's PID 1 (its namespaces are the commands'), 0 when none. */
void ex_set_userland(pid_t pid);
int ex_poll_fds(struct pollfd *pfd, int max);
void ex_handle(const struct pollfd *pfd, int n);
/* Milliseconds until a deadline (a timeout, a grace), or -1. */
int ex_timeout_ms(void);
/* A child the agent reaped: true if it was a command's. */
bool ex_reaped(pid_t pid, int status);

#endif
