/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "private.h"

#define START_READY_TIMEOUT_MS 30000

static int unsupported(soda_context *ctx, const char *what, soda_error **error)
{
	return su_errorf(error, -EOPNOTSUPP, "the %s backend does not support %s",
			 ctx->drv->scheme, what);
}

static int check_flags(unsigned int flags, unsigned int allowed, soda_error **error)
{
	if (flags & ~allowed)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags & ~allowed);
	return 0;
}

static int server_new(soda_server **ret, soda_context *ctx, const char *name,
		      soda_error **error)
{
	soda_server *srv = calloc(1, sizeof(*srv));

	if (!srv || !(srv->name = strdup(name))) {
		free(srv);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	srv->refs = 1;
	srv->ctx = soda_context_ref(ctx);
	*ret = srv;
	return 0;
}

SODA_EXPORT int soda_server_define(soda_server **ret, soda_context *ctx,
				   const soda_server_config *cfg, unsigned int flags,
				   soda_error **error)
{
	int r;

	if (!ctx || !cfg)
		return su_errorf(error, -EINVAL, "ctx or cfg is NULL");
	r = check_flags(flags, 0, error);
	if (r < 0)
		return r;
	r = su_config_validate(cfg, error);
	if (r < 0)
		return r;
	r = su_config_check_shares(cfg, soda_context_get_state_dir(ctx), error);
	if (r < 0)
		return r;
	if (!ctx->drv->define)
		return unsupported(ctx, "defining servers", error);
	/* The backend's own rules, on what the core found well-formed. */
	if (ctx->drv->validate) {
		r = ctx->drv->validate(ctx->priv, cfg, error);
		if (r < 0)
			return r;
	}
	r = ctx->drv->define(ctx->priv, cfg, 0, error);
	if (r < 0)
		return r;
	if (ret)
		return server_new(ret, ctx, cfg->name, error);
	return 0;
}

SODA_EXPORT int soda_server_lookup(soda_server **ret, soda_context *ctx, const char *name,
				   soda_error **error)
{
	soda_server_config *cfg = NULL;
	int r;

	if (!ret || !ctx)
		return su_errorf(error, -EINVAL, "ret or ctx is NULL");
	r = soda_name_check(name, error);
	if (r < 0)
		return r;
	if (!ctx->drv->lookup)
		return unsupported(ctx, "lookup", error);
	r = ctx->drv->lookup(ctx->priv, name, &cfg, error);
	if (r < 0)
		return r;
	soda_server_config_free(cfg);
	return server_new(ret, ctx, name, error);
}

SODA_EXPORT soda_server *soda_server_ref(soda_server *srv)
{
	if (srv)
		srv->refs++;
	return srv;
}

SODA_EXPORT soda_server *soda_server_unref(soda_server *srv)
{
	if (!srv || --srv->refs > 0)
		return NULL;
	soda_context_unref(srv->ctx);
	free(srv->name);
	free(srv);
	return NULL;
}

SODA_EXPORT const char *soda_server_get_name(const soda_server *srv)
{
	return srv ? srv->name : NULL;
}

SODA_EXPORT soda_context *soda_server_get_context(const soda_server *srv)
{
	return srv ? srv->ctx : NULL;
}

SODA_EXPORT int soda_server_get_config(soda_server_config **ret, soda_server *srv,
				       soda_error **error)
{
	if (!ret || !srv)
		return su_errorf(error, -EINVAL, "ret or srv is NULL");
	if (!srv->ctx->drv->lookup)
		return unsupported(srv->ctx, "lookup", error);
	return srv->ctx->drv->lookup(srv->ctx->priv, srv->name, ret, error);
}

static int get_status(soda_server *srv, soda_backend_status *st, soda_error **error)
{
	memset(st, 0, sizeof(*st));
	st->version = SODA_BACKEND_VERSION;
	st->exit_code = -1;
	if (!srv->ctx->drv->status)
		return unsupported(srv->ctx, "status", error);
	return srv->ctx->drv->status(srv->ctx->priv, srv->name, st, error);
}

SODA_EXPORT int soda_server_get_state(int *ret_state, soda_server *srv, soda_error **error)
{
	soda_backend_status st;
	int r;

	if (!ret_state || !srv)
		return su_errorf(error, -EINVAL, "ret_state or srv is NULL");
	r = get_status(srv, &st, error);
	if (r < 0)
		return r;
	*ret_state = st.state;
	return 0;
}

SODA_EXPORT int soda_server_get_info(soda_server_info **ret, soda_server *srv,
				     unsigned int flags, soda_error **error)
{
	soda_server_info *info;
	int r;

	if (!ret || !srv)
		return su_errorf(error, -EINVAL, "ret or srv is NULL");
	r = check_flags(flags, 0, error);
	if (r < 0)
		return r;
	info = calloc(1, sizeof(*info));
	if (!info)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = get_status(srv, &info->st, error);
	if (r < 0) {
		free(info);
		return r;
	}
	info->st.reason[sizeof(info->st.reason) - 1] = '\0';
	*ret = info;
	return 0;
}

SODA_EXPORT void soda_server_info_free(soda_server_info *info)
{
	free(info);
}

SODA_EXPORT int soda_server_info_get_state(const soda_server_info *info)
{
	return info ? info->st.state : 0;
}

SODA_EXPORT int soda_server_info_get_ready(const soda_server_info *info)
{
	return info ? info->st.ready : 0;
}

SODA_EXPORT int32_t soda_server_info_get_monitor_pid(const soda_server_info *info)
{
	return info ? info->st.helper_pid : 0;
}

SODA_EXPORT int32_t soda_server_info_get_guest_pid(const soda_server_info *info)
{
	return info ? info->st.guest_pid : 0;
}

SODA_EXPORT uint32_t soda_server_info_get_uid(const soda_server_info *info)
{
	return info ? info->st.uid : 0;
}

SODA_EXPORT uint64_t soda_server_info_get_started_usec(const soda_server_info *info)
{
	return info ? info->st.started_usec : 0;
}

SODA_EXPORT uint64_t soda_server_info_get_ready_usec(const soda_server_info *info)
{
	return info ? info->st.ready_usec : 0;
}

SODA_EXPORT int32_t soda_server_info_get_exit_code(const soda_server_info *info)
{
	return info ? info->st.exit_code : -1;
}

SODA_EXPORT int32_t soda_server_info_get_exit_signal(const soda_server_info *info)
{
	return info ? info->st.exit_signal : 0;
}

SODA_EXPORT const char *soda_server_info_get_reason(const soda_server_info *info)
{
	return info ? info->st.reason : "";
}

SODA_EXPORT int soda_server_wait_state(soda_server *srv, int state, int32_t timeout_ms,
				       unsigned int flags, soda_error **error)
{
	uint64_t deadline;
	int r;

	if (!srv)
		return su_errorf(error, -EINVAL, "srv is NULL");
	r = check_flags(flags, 0, error);
	if (r < 0)
		return r;
	if (state < SODA_STATE_SHUTOFF || state > SODA_STATE_CRASHED)
		return su_errorf(error, -EINVAL, "unknown state %d", state);
	deadline = timeout_ms < 0 ? UINT64_MAX : su_mono_usec() + (uint64_t)timeout_ms * 1000;
	for (;;) {
		soda_backend_status st;
		uint64_t now;
		int32_t left;

		r = get_status(srv, &st, error);
		if (r < 0)
			return r;
		if (st.state == state)
			return 0;
		if ((state == SODA_STATE_RUNNING || state == SODA_STATE_STARTING) &&
		    (st.state == SODA_STATE_SHUTOFF || st.state == SODA_STATE_CRASHED))
			return su_errorf(error, -ECHILD, "server '%s' ended (%s%s%s) while waiting for %s",
					 srv->name, soda_state_name(st.state),
					 st.reason[0] ? ": " : "", st.reason, soda_state_name(state));
		now = su_mono_usec();
		if (now >= deadline)
			return su_errorf(error, -ETIMEDOUT,
					 "server '%s' is %s, not %s, after %d ms", srv->name,
					 soda_state_name(st.state), soda_state_name(state), timeout_ms);
		/* Wake at least every 100 ms: a state change in another process
		 * shows in the fd, but a poll is cheap insurance. */
		left = deadline == UINT64_MAX ? 100
					      : (int32_t)((deadline - now + 999) / 1000);
		if (left > 100)
			left = 100;
		r = soda_context_wait(srv->ctx, left, 0, error);
		if (r < 0 && r != -EOPNOTSUPP)
			return r;
		if (r == -EOPNOTSUPP)
			su_sleep_usec((uint64_t)left * 1000);
	}
}

SODA_EXPORT int soda_server_start(soda_server *srv, unsigned int flags, soda_error **error)
{
	int r;

	if (!srv)
		return su_errorf(error, -EINVAL, "srv is NULL");
	r = check_flags(flags, SODA_START_WAIT_READY, error);
	if (r < 0)
		return r;
	if (!srv->ctx->drv->start)
		return unsupported(srv->ctx, "start", error);
	r = srv->ctx->drv->start(srv->ctx->priv, srv->name, 0, error);
	if (r < 0 || !(flags & SODA_START_WAIT_READY))
		return r;
	r = soda_server_wait_state(srv, SODA_STATE_RUNNING, START_READY_TIMEOUT_MS, 0, error);
	if (r == -ETIMEDOUT && srv->ctx->drv->kill)
		srv->ctx->drv->kill(srv->ctx->priv, srv->name, 0, NULL);
	return r;
}

SODA_EXPORT int soda_server_stop(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
				 soda_error **error)
{
	int r;

	if (!srv)
		return su_errorf(error, -EINVAL, "srv is NULL");
	r = check_flags(flags, 0, error);
	if (r < 0)
		return r;
	if (!srv->ctx->drv->stop)
		return unsupported(srv->ctx, "stop", error);
	return srv->ctx->drv->stop(srv->ctx->priv, srv->name, timeout_ms, 0, error);
}

#define SIMPLE_ACTION(fn, op, what)                                                        \
	SODA_EXPORT int fn(soda_server *srv, unsigned int flags, soda_error **error)        \
	{                                                                                  \
		int r;                                                                     \
		if (!srv)                                                                  \
			return su_errorf(error, -EINVAL, "srv is NULL");                   \
		r = check_flags(flags, 0, error);                                          \
		if (r < 0)                                                                 \
			return r;                                                          \
		if (!srv->ctx->drv->op)                                                    \
			return unsupported(srv->ctx, what, error);                         \
		return srv->ctx->drv->op(srv->ctx->priv, srv->name, 0, error);             \
	}

SIMPLE_ACTION(soda_server_kill, kill, "kill")
SIMPLE_ACTION(soda_server_freeze, freeze, "freeze")
SIMPLE_ACTION(soda_server_thaw, thaw, "thaw")
SIMPLE_ACTION(soda_server_undefine, undefine, "undefine")

SODA_EXPORT int soda_server_restart(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
				    soda_error **error)
{
	int r, state;

	if (!srv)
		return su_errorf(error, -EINVAL, "srv is NULL");
	r = check_flags(flags, SODA_START_WAIT_READY, error);
	if (r < 0)
		return r;
	r = soda_server_get_state(&state, srv, error);
	if (r < 0)
		return r;
	if (state != SODA_STATE_SHUTOFF && state != SODA_STATE_CRASHED) {
		r = soda_server_stop(srv, timeout_ms, 0, error);
		if (r < 0)
			return r;
	}
	return soda_server_start(srv, flags, error);
}

SODA_EXPORT int soda_server_dump(soda_server *srv, const char *dir, unsigned int flags,
				 soda_error **error)
{
	int r;

	if (!srv)
		return su_errorf(error, -EINVAL, "srv is NULL");
	r = check_flags(flags, SODA_DUMP_MEMORY, error);
	if (r < 0)
		return r;
	if (!dir || dir[0] != '/')
		return su_errorf(error, -EINVAL, "dump directory must be an absolute path");
	r = su_check_abs_path("dump directory", dir, 1024, error);
	if (r < 0)
		return r;
	if (!srv->ctx->drv->dump)
		return unsupported(srv->ctx, "dump", error);
	return srv->ctx->drv->dump(srv->ctx->priv, srv->name, dir, flags, error);
}

SODA_EXPORT int soda_server_open_console(int *ret_fd, soda_server *srv, unsigned int flags,
					 soda_error **error)
{
	int r;

	if (!ret_fd || !srv)
		return su_errorf(error, -EINVAL, "ret_fd or srv is NULL");
	r = check_flags(flags, 0, error);
	if (r < 0)
		return r;
	if (!srv->ctx->drv->open_console)
		return unsupported(srv->ctx, "consoles", error);
	return srv->ctx->drv->open_console(srv->ctx->priv, srv->name, ret_fd, 0, error);
}

SODA_EXPORT int soda_server_get_blackbox_dir(char **ret, soda_server *srv, soda_error **error)
{
	if (!ret || !srv)
		return su_errorf(error, -EINVAL, "ret or srv is NULL");
	if (!srv->ctx->drv->blackbox_dir)
		return unsupported(srv->ctx, "blackboxes", error);
	return srv->ctx->drv->blackbox_dir(srv->ctx->priv, srv->name, ret, error);
}

/* ---- images ---- */

SODA_EXPORT int soda_image_build(soda_context *ctx, const char *name, int source_kind,
				 const char *source, uint64_t size_bytes, unsigned int flags,
				 soda_error **error)
{
	int r;

	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	r = check_flags(flags, SODA_IMAGE_REPLACE, error);
	if (r < 0)
		return r;
	r = su_check_name("image", name, error);
	if (r < 0)
		return r;
	switch (source_kind) {
	case SODA_IMAGE_SOURCE_BUSYBOX:
		if (source)
			return su_errorf(error, -EINVAL, "the busybox source takes no path");
		break;
	case SODA_IMAGE_SOURCE_DIRECTORY:
	case SODA_IMAGE_SOURCE_TARBALL:
	case SODA_IMAGE_SOURCE_EXT4:
		r = su_check_abs_path("image source", source, 1024, error);
		if (r < 0)
			return r;
		break;
	default:
		return su_errorf(error, -EINVAL, "unknown image source kind %d", source_kind);
	}
	if (size_bytes && size_bytes < SODA_IMAGE_SIZE_MIN)
		return su_errorf(error, -EINVAL, "image size %llu bytes is below the minimum of %llu MiB",
				 (unsigned long long)size_bytes, SODA_IMAGE_SIZE_MIN >> 20);
	if (size_bytes % 4096)
		return su_errorf(error, -EINVAL, "image size %llu is not a multiple of 4096",
				 (unsigned long long)size_bytes);
	if (!ctx->drv->image_build)
		return unsupported(ctx, "images", error);
	return ctx->drv->image_build(ctx->priv, name, source_kind, source, size_bytes, flags,
				     error);
}

SODA_EXPORT int soda_image_list(char ***ret_names, size_t *ret_count, soda_context *ctx,
				unsigned int flags, soda_error **error)
{
	char **names = NULL;
	int r;

	if (!ret_names || !ctx)
		return su_errorf(error, -EINVAL, "ret_names or ctx is NULL");
	r = check_flags(flags, 0, error);
	if (r < 0)
		return r;
	if (!ctx->drv->image_list)
		return unsupported(ctx, "images", error);
	r = ctx->drv->image_list(ctx->priv, &names, error);
	if (r < 0)
		return r;
	if (!names && !(names = calloc(1, sizeof(char *))))
		return su_errorf(error, -ENOMEM, "out of memory");
	su_strv_sort(names);
	if (ret_count)
		*ret_count = su_strv_len(names);
	*ret_names = names;
	return 0;
}

SODA_EXPORT int soda_image_remove(soda_context *ctx, const char *name, unsigned int flags,
				  soda_error **error)
{
	int r;

	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	r = check_flags(flags, 0, error);
	if (r < 0)
		return r;
	r = su_check_name("image", name, error);
	if (r < 0)
		return r;
	if (!ctx->drv->image_remove)
		return unsupported(ctx, "images", error);
	return ctx->drv->image_remove(ctx->priv, name, 0, error);
}

SODA_EXPORT int soda_image_get_path(char **ret_path, soda_context *ctx, const char *name,
				    soda_error **error)
{
	int r;

	if (!ret_path || !ctx)
		return su_errorf(error, -EINVAL, "ret_path or ctx is NULL");
	r = su_check_name("image", name, error);
	if (r < 0)
		return r;
	if (!ctx->drv->image_path)
		return unsupported(ctx, "image paths", error);
	return ctx->drv->image_path(ctx->priv, name, ret_path, error);
}
