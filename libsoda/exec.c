/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda_server_exec (include/soda/exec.h): the checks, once, before a
 * driver runs the command.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "private.h"

SODA_EXPORT int soda_exec_options_init(soda_exec_options *opts, uint32_t version)
{
	if (!opts || version != SODA_EXEC_OPTIONS_VERSION)
		return -EINVAL;
	*opts = (soda_exec_options)SODA_EXEC_OPTIONS_INIT;
	return 0;
}

SODA_EXPORT int soda_exec_status_signal(int status)
{
	return status >= SODA_EXEC_SIGNALED ? status - SODA_EXEC_SIGNALED : 0;
}

SODA_EXPORT int soda_exec_status_code(int status)
{
	return status >= 0 && status < SODA_EXEC_SIGNALED ? status : -1;
}

static int check_fd(const char *what, int32_t fd, int want, soda_error **error)
{
	int fl;

	if (fd == -1)
		return 0;
	fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
	if (fl < 0)
		return su_errorf(error, -EBADF, "%s %d is not an open descriptor", what, (int)fd);
	if ((fl & O_ACCMODE) != O_RDWR && (fl & O_ACCMODE) != want)
		return su_errorf(error, -EBADF, "%s %d is not open for %s", what, (int)fd,
				 want == O_RDONLY ? "reading" : "writing");
	return 0;
}

SODA_EXPORT int soda_server_exec(int *ret_status, soda_server *srv, const char *const *argv,
				 const soda_exec_options *opts, unsigned int flags,
				 soda_error **error)
{
	static const soda_exec_options none = SODA_EXEC_OPTIONS_INIT;
	size_t n = 0;
	int r;

	if (!ret_status || !srv || !argv)
		return su_errorf(error, -EINVAL, "ret_status, srv or argv is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!opts)
		opts = &none;
	if (opts->version != SODA_EXEC_OPTIONS_VERSION)
		return su_errorf(error, -EINVAL, "exec options version %u (this libsoda knows %u)",
				 opts->version, SODA_EXEC_OPTIONS_VERSION);
	if (!argv[0] || !argv[0][0])
		return su_errorf(error, -EINVAL, "argv is empty");
	for (; argv[n]; n++)
		if (n >= 4096)
			return su_errorf(error, -E2BIG, "more than 4096 arguments");
	for (size_t i = 0; opts->env && opts->env[i]; i++) {
		const char *eq = strchr(opts->env[i], '=');

		if (i >= 4096)
			return su_errorf(error, -E2BIG, "more than 4096 environment entries");
		if (!eq || eq == opts->env[i])
			return su_errorf(error, -EINVAL,
					 "environment entry %zu ('%.40s') is not NAME=VALUE", i,
					 opts->env[i]);
	}
	if (opts->user && !opts->user[0])
		return su_errorf(error, -EINVAL, "the user is empty");
	if (opts->cwd && opts->cwd[0] != '/')
		return su_errorf(error, -EINVAL, "the working directory '%.80s' is not absolute",
				 opts->cwd);
	if ((r = check_fd("stdin_fd", opts->stdin_fd, O_RDONLY, error)) < 0 ||
	    (r = check_fd("stdout_fd", opts->stdout_fd, O_WRONLY, error)) < 0 ||
	    (r = check_fd("stderr_fd", opts->stderr_fd, O_WRONLY, error)) < 0)
		return r;
	if (!srv->ctx->drv->exec)
		return su_errorf(error, -EOPNOTSUPP, "the %s backend does not support exec",
				 srv->ctx->drv->scheme);
	return srv->ctx->drv->exec(srv->ctx->priv, srv->name, argv, opts, ret_status, error);
}
