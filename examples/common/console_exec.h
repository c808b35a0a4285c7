/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs a shell command on a guest's console and collects its output and exit
 * status. Works with images whose console runs a shell (the built-in busybox
 * image does). Used by sodactl, the tests and the benchmarks.
 */
#ifndef SODA_CONSOLE_EXEC_H
#define SODA_CONSOLE_EXEC_H

#include <soda/soda.h>
#include <soda/sys/backend.h>

/* @ret_output (optional) receives what the command printed (free()),
 * @ret_status its exit status. Returns 0, -ETIMEDOUT, or -errno. */
int soda_console_exec(soda_server *srv, const char *command, int timeout_ms, char **ret_output,
		      int *ret_status, soda_error **error);

#endif
