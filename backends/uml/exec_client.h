/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's side of exec (include/soda/exec.h): one exec connection to
 * the server's soda-monitor (backends/uml/exec_proto.h). */
#ifndef SODA_UML_EXEC_CLIENT_H
#define SODA_UML_EXEC_CLIENT_H

#include <soda/soda.h>

/* Runs @argv in the server whose run directory is @run_dir. The arguments
 * are checked (libsoda/exec.c). */
int su_exec_run(const char *run_dir, const char *const *argv, const soda_exec_options *opts,
		int *ret_status, soda_error **error);

#endif
