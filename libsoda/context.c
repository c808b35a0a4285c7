/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define MAX_DRIVERS 16

static pthread_mutex_t drivers_lock = PTHREAD_MUTEX_INITIALIZER;
static const soda_backend_driver *drivers[MAX_DRIVERS] = { &su_uml_driver, &su_test_driver };
static size_t n_drivers = 2;

SODA_EXPORT const char *soda_version(void)
{
	return SODA_VERSION_STRING;
}

SODA_EXPORT uint32_t soda_version_number(void)
{
	return (uint32_t)SODA_VERSION_MAJOR << 16 | SODA_VERSION_MINOR << 8 | SODA_VERSION_PATCH;
}

SODA_EXPORT void soda_free(void *ptr)
{
	free(ptr);
}

SODA_EXPORT void soda_strv_free(char **strv)
{
	su_strv_free(strv);
}

SODA_EXPORT int soda_backend_register(const soda_backend_driver *driver, soda_error **error)
{
	int r = 0;

	if (!driver || driver->version != SODA_BACKEND_VERSION || !driver->scheme ||
	    !driver->open || !driver->close)
		return su_errorf(error, -EINVAL,
				 "backend driver table is incomplete or of another version");
	pthread_mutex_lock(&drivers_lock);
	for (size_t i = 0; i < n_drivers; i++)
		if (strcmp(drivers[i]->scheme, driver->scheme) == 0)
			r = su_errorf(error, -EEXIST, "a backend for '%s' is already registered",
				      driver->scheme);
	if (r == 0 && n_drivers >= MAX_DRIVERS)
		r = su_errorf(error, -ENOSPC, "too many backends");
	if (r == 0)
		drivers[n_drivers++] = driver;
	pthread_mutex_unlock(&drivers_lock);
	return r;
}

static const soda_backend_driver *find_driver(const char *scheme, size_t len)
{
	const soda_backend_driver *d = NULL;

	pthread_mutex_lock(&drivers_lock);
	for (size_t i = 0; i < n_drivers && !d; i++)
		if (strlen(drivers[i]->scheme) == len && strncmp(drivers[i]->scheme, scheme, len) == 0)
			d = drivers[i];
	pthread_mutex_unlock(&drivers_lock);
	return d;
}

void su_log(soda_context *ctx, int level, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (!ctx || !ctx->log_fn || level > ctx->log_level)
		return;
	va_start(ap, fmt);
	msg = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (msg)
		ctx->log_fn(level, msg, ctx->log_userdata);
	free(msg);
}

SODA_EXPORT void soda_context_log(soda_context *ctx, int level, const char *message)
{
	su_log(ctx, level, "%s", message);
}

SODA_EXPORT int soda_context_options_init(soda_context_options *opts, uint32_t version)
{
	if (!opts || version != SODA_CONTEXT_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}


static char *percent_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    su_hexval(s[i + 1]) >= 0 && su_hexval(s[i + 2]) >= 0) {
			*o++ = (char)(su_hexval(s[i + 1]) << 4 | su_hexval(s[i + 2]));
			i += 2;
		} else if (s[i] == '%') {
			free(out);
			return NULL;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	if (strlen(out) != (size_t)(o - out)) { /* a %00 */
		free(out);
		return NULL;
	}
	return out;
}

/* scheme "://" [host] path ["?" key=value {"&" key=value}] */
static int parse_uri(const char *uri, const soda_backend_driver **ret_drv, char **ret_path,
		     char **ret_state, soda_error **error)
{
	const char *sep = strstr(uri, "://"), *path, *query;
	const soda_backend_driver *drv;
	char *state = NULL;

	if (!sep || sep == uri)
		return su_errorf_at(error, -EINVAL, "uri", 1, 1,
				    "URI '%s' has no scheme (expected e.g. uml:///)", uri);
	drv = find_driver(uri, (size_t)(sep - uri));
	if (!drv)
		return su_errorf_at(error, -ENOENT, "uri", 1, 1, "URI '%s': no backend for '%.*s'",
				    uri, (int)(sep - uri), uri);
	path = sep + 3;
	if (*path != '/')
		return su_errorf_at(error, -EINVAL, "uri", 1, (uint32_t)(path - uri) + 1,
				    "URI '%s': remote hosts are not supported; use scheme:///", uri);
	query = strchr(path, '?');
	for (const char *q = query ? query + 1 : NULL; q && *q;) {
		const char *amp = strchr(q, '&'), *eq = strchr(q, '=');
		size_t plen = amp ? (size_t)(amp - q) : strlen(q);

		if (!eq || eq > q + plen) {
			free(state);
			return su_errorf_at(error, -EINVAL, "uri", 1, (uint32_t)(q - uri) + 1,
					    "URI '%s': query part '%.*s' is not key=value", uri,
					    (int)plen, q);
		}
		if ((size_t)(eq - q) == 5 && strncmp(q, "state", 5) == 0) {
			free(state);
			state = percent_decode(eq + 1, plen - (size_t)(eq - q) - 1);
			if (!state || state[0] != '/')
				return free(state),
				       su_errorf_at(error, -EINVAL, "uri", 1,
						    (uint32_t)(eq - uri) + 2,
						    "URI '%s': state must be an absolute, "
						    "well-escaped path",
						    uri);
		} else {
			free(state);
			return su_errorf_at(error, -EINVAL, "uri", 1, (uint32_t)(q - uri) + 1,
					    "URI '%s': unknown query key '%.*s'", uri,
					    (int)(eq - q), q);
		}
		q = amp ? amp + 1 : NULL;
	}
	*ret_path = query ? strndup(path, (size_t)(query - path)) : strdup(path);
	if (!*ret_path) {
		free(state);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	*ret_drv = drv;
	*ret_state = state;
	return 0;
}

SODA_EXPORT int soda_context_open(soda_context **ret, const char *uri,
				  const soda_context_options *opts, unsigned int flags,
				  soda_error **error)
{
	soda_context_options defaults = SODA_CONTEXT_OPTIONS_INIT;
	const soda_backend_driver *drv = NULL;
	soda_context *ctx;
	char *path = NULL, *state = NULL;
	int r;

	if (!ret)
		return su_errorf(error, -EINVAL, "ret is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!opts)
		opts = &defaults;
	if (opts->version != SODA_CONTEXT_OPTIONS_VERSION)
		return su_errorf(error, -EINVAL, "context options version %u is unknown (expected %u)",
				 opts->version, SODA_CONTEXT_OPTIONS_VERSION);
	if (opts->log_level < 0 || opts->log_level > SODA_LOG_DEBUG)
		return su_errorf(error, -EINVAL, "log level %d is out of range 0..%d",
				 opts->log_level, SODA_LOG_DEBUG);
	if (!uri)
		uri = "uml:///";
	r = parse_uri(uri, &drv, &path, &state, error);
	if (r < 0)
		return r;
	if (opts->state_dir) {
		free(state);
		state = strdup(opts->state_dir);
		if (!state) {
			free(path);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx || !(ctx->uri = strdup(uri))) {
		free(ctx);
		free(path);
		free(state);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	ctx->refs = 1;
	ctx->drv = drv;
	ctx->log_fn = opts->log_fn;
	ctx->log_userdata = opts->log_userdata;
	ctx->log_level = opts->log_level ? opts->log_level : SODA_LOG_INFO;
	ctx->next_handler_id = 1;
	r = drv->open(&ctx->priv, ctx, path, state, opts, error);
	free(path);
	free(state);
	if (r < 0) {
		free(ctx->uri);
		free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

SODA_EXPORT soda_context *soda_context_ref(soda_context *ctx)
{
	if (ctx)
		ctx->refs++;
	return ctx;
}

SODA_EXPORT soda_context *soda_context_unref(soda_context *ctx)
{
	if (!ctx || --ctx->refs > 0)
		return NULL;
	if (su_switch_context_closed)
		su_switch_context_closed(ctx);
	ctx->drv->close(ctx->priv);
	for (size_t i = 0; i < ctx->n_handlers; i++)
		if (ctx->handlers[i].destroy)
			ctx->handlers[i].destroy(ctx->handlers[i].userdata);
	free(ctx->handlers);
	free(ctx->uri);
	free(ctx);
	return NULL;
}

SODA_EXPORT const char *soda_context_get_uri(const soda_context *ctx)
{
	return ctx ? ctx->uri : NULL;
}

SODA_EXPORT const char *soda_context_get_state_dir(const soda_context *ctx)
{
	return ctx && ctx->drv->state_dir ? ctx->drv->state_dir(ctx->priv) : NULL;
}

SODA_EXPORT const char *soda_context_get_netns(const soda_context *ctx)
{
	return ctx && ctx->drv->netns ? ctx->drv->netns(ctx->priv) : NULL;
}

SODA_EXPORT int soda_context_list_servers(char ***ret_names, size_t *ret_count,
					  soda_context *ctx, unsigned int flags,
					  soda_error **error)
{
	char **names = NULL;
	int r;

	if (!ret_names || !ctx)
		return su_errorf(error, -EINVAL, "ret_names or ctx is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!ctx->drv->list)
		return su_errorf(error, -EOPNOTSUPP, "the %s backend cannot list servers",
				 ctx->drv->scheme);
	r = ctx->drv->list(ctx->priv, &names, error);
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

SODA_EXPORT int soda_context_recover(soda_context *ctx, unsigned int flags, soda_error **error)
{
	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!ctx->drv->recover)
		return 0;
	return ctx->drv->recover(ctx->priv, 0, error);
}

/* ---- events ---- */

SODA_EXPORT int soda_event_get_kind(const soda_event *ev)
{
	return ev ? ev->kind : 0;
}

SODA_EXPORT const char *soda_event_get_server(const soda_event *ev)
{
	return ev ? ev->server : NULL;
}

SODA_EXPORT int soda_event_get_state(const soda_event *ev)
{
	return ev ? ev->state : 0;
}

SODA_EXPORT int soda_event_get_previous_state(const soda_event *ev)
{
	return ev ? ev->previous : 0;
}

SODA_EXPORT const char *soda_event_get_reason(const soda_event *ev)
{
	return ev && ev->reason ? ev->reason : "";
}

SODA_EXPORT int soda_context_add_event_handler(uint64_t *ret_id, soda_context *ctx,
					       soda_event_fn fn, void *userdata,
					       soda_destroy_fn destroy, unsigned int flags,
					       soda_error **error)
{
	su_handler *h;

	if (!ctx || !fn)
		return su_errorf(error, -EINVAL, "ctx or fn is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	h = realloc(ctx->handlers, (ctx->n_handlers + 1) * sizeof(*h));
	if (!h)
		return su_errorf(error, -ENOMEM, "out of memory");
	ctx->handlers = h;
	h[ctx->n_handlers] = (su_handler){ ctx->next_handler_id++, fn, userdata, destroy };
	if (ret_id)
		*ret_id = h[ctx->n_handlers].id;
	ctx->n_handlers++;
	return 0;
}

SODA_EXPORT int soda_context_remove_event_handler(soda_context *ctx, uint64_t id,
						  soda_error **error)
{
	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	for (size_t i = 0; i < ctx->n_handlers; i++) {
		if (ctx->handlers[i].id != id)
			continue;
		su_handler h = ctx->handlers[i];

		memmove(&ctx->handlers[i], &ctx->handlers[i + 1],
			(ctx->n_handlers - i - 1) * sizeof(su_handler));
		ctx->n_handlers--;
		if (h.destroy)
			h.destroy(h.userdata);
		return 0;
	}
	return su_errorf(error, -ENOENT, "no event handler with id %llu", (unsigned long long)id);
}

SODA_EXPORT int soda_context_get_fd(soda_context *ctx)
{
	if (!ctx)
		return -EINVAL;
	if (!ctx->drv->get_fd)
		return -EOPNOTSUPP;
	return ctx->drv->get_fd(ctx->priv);
}

struct emit_data {
	soda_context *ctx;
	int dispatched;
};

static int emit(void *data, int kind, const char *server, int state, int previous,
		const char *reason)
{
	struct emit_data *ed = data;
	soda_event ev = { kind, server, state, previous, reason ? reason : "" };

	su_log(ed->ctx, SODA_LOG_DEBUG, "event: %s %s -> %s (%s)", server,
	       soda_state_name(previous), soda_state_name(state), ev.reason);
	/* Handlers may remove themselves: walk by id, not by pointer. */
	for (size_t i = 0; i < ed->ctx->n_handlers; i++) {
		uint64_t id = ed->ctx->handlers[i].id;
		int r = ed->ctx->handlers[i].fn(ed->ctx, &ev, ed->ctx->handlers[i].userdata);

		if (r < 0)
			return r;
		if (i < ed->ctx->n_handlers && ed->ctx->handlers[i].id != id)
			i--;
	}
	ed->dispatched++;
	return 0;
}

SODA_EXPORT int soda_context_process(soda_context *ctx, unsigned int flags, soda_error **error)
{
	struct emit_data ed = { ctx, 0 };
	int r;

	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!ctx->drv->process)
		return 0;
	if (ctx->processing)
		return su_errorf(error, -EBUSY, "soda_context_process() called from an event handler");
	ctx->processing = true;
	r = ctx->drv->process(ctx->priv, emit, &ed, error);
	ctx->processing = false;
	return r < 0 ? r : ed.dispatched;
}

SODA_EXPORT int soda_context_wait(soda_context *ctx, int32_t timeout_ms, unsigned int flags,
				  soda_error **error)
{
	struct pollfd pfd;
	int fd, r;

	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	fd = soda_context_get_fd(ctx);
	if (fd < 0)
		return su_errorf(error, fd, "the context has no event fd");
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	do
		r = poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return su_errorf(error, su_neg_errno(), "poll: %s", strerror(errno));
	if (r == 0)
		return 0;
	return soda_context_process(ctx, 0, error);
}

SODA_EXPORT int soda_context_set_netdev_ops(soda_context *ctx, const soda_netdev_ops *ops,
					    void *userdata, soda_error **error)
{
	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	if (!ops) {
		ctx->has_netdev = false;
		return 0;
	}
	if (ops->version != SODA_BACKEND_VERSION || !ops->attach || !ops->detach)
		return su_errorf(error, -EINVAL, "netdev ops are incomplete or of another version");
	ctx->netdev = *ops;
	ctx->netdev_userdata = userdata;
	ctx->has_netdev = true;
	return 0;
}

SODA_EXPORT const soda_netdev_ops *soda_context_get_netdev_ops(soda_context *ctx,
							       void **ret_userdata)
{
	if (!ctx)
		return NULL;
	if (!ctx->has_netdev)
		return su_switch_netdev_ops ? su_switch_netdev_ops(ctx, ret_userdata) : NULL;
	if (ret_userdata)
		*ret_userdata = ctx->netdev_userdata;
	return &ctx->netdev;
}
