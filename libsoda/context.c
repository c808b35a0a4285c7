/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"

#define MAX_DRIVERS 16
#define PLUGIN_NAME_MAX 32

/* The drivers: the built-in ones the build listed (su_builtin_drivers), then
 * those registered, by hand or by a plugin. The core names none. */
static pthread_mutex_t drivers_lock = PTHREAD_MUTEX_INITIALIZER;
static const soda_backend_driver *drivers[MAX_DRIVERS];
static size_t n_drivers;
static bool builtins_added;

/* Called with drivers_lock held. */
static void add_builtins(void)
{
	if (builtins_added)
		return;
	builtins_added = true;
	for (size_t i = 0; su_builtin_drivers[i] && n_drivers < MAX_DRIVERS; i++)
		drivers[n_drivers++] = su_builtin_drivers[i];
}

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
	add_builtins();
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
	add_builtins();
	for (size_t i = 0; i < n_drivers && !d; i++)
		if (strlen(drivers[i]->scheme) == len && strncmp(drivers[i]->scheme, scheme, len) == 0)
			d = drivers[i];
	pthread_mutex_unlock(&drivers_lock);
	return d;
}

/* ---- backend plugins ---- */

/* A scheme no driver has, NAME or NAME+TRANSPORT, may belong to the plugin
 * libsoda-NAME.so: looked for in $SODA_BACKEND_PLUGIN_DIR alone if set,
 * else beside this library (a build tree), then in the install's libdir.
 * Its entry SODA_BACKEND_PLUGIN_SYMBOL registers its driver(s). NAME is
 * lower-case letters and digits, so a URI cannot name a path. Plugins stay
 * loaded for the life of the process. */
static pthread_mutex_t plugins_lock = PTHREAD_MUTEX_INITIALIZER;

static bool plugin_name_ok(const char *name, size_t len)
{
	if (len == 0 || len >= PLUGIN_NAME_MAX || name[0] < 'a' || name[0] > 'z')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
			return false;
	return true;
}

static int try_plugin(const char *dir, const char *name, char *why, size_t why_size)
{
	soda_backend_plugin_init_fn init;
	soda_error *err = NULL;
	size_t used = strlen(why);
	char *path = su_strdup_printf("%s/libsoda-%s.so", dir, name);
	void *h;
	int r;

	if (!path)
		return -ENOMEM;
	if (access(path, R_OK) < 0) {
		snprintf(why + used, why_size - used, "%s%s: %s", used ? "; " : "", path,
			 strerror(errno));
		free(path);
		return -ENOENT;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why + used, why_size - used, "%s%s", used ? "; " : "", dlerror());
		free(path);
		return -ENOENT;
	}
	init = (soda_backend_plugin_init_fn)dlsym(h, SODA_BACKEND_PLUGIN_SYMBOL);
	r = init ? init(SODA_BACKEND_VERSION, &err) : -ENOENT;
	if (r < 0 && r != -EEXIST) {
		snprintf(why + used, why_size - used, "%s%s: %s", used ? "; " : "", path,
			 err ? soda_error_message(err)
			     : "no " SODA_BACKEND_PLUGIN_SYMBOL "() of this interface version");
		soda_error_free(err);
		dlclose(h);
		free(path);
		return r;
	}
	soda_error_free(err);
	free(path);
	return 0;
}

static int load_plugin(const char *name, size_t len, soda_error **error)
{
	char plugin[PLUGIN_NAME_MAX], why[1024] = "";
	const char *env = secure_getenv("SODA_BACKEND_PLUGIN_DIR");
	Dl_info info;
	int r = -ENOENT;

	if (!plugin_name_ok(name, len))
		return -ENOENT;
	memcpy(plugin, name, len);
	plugin[len] = '\0';
	pthread_mutex_lock(&plugins_lock);
	if (find_driver(plugin, len)) {
		r = 0; /* another thread loaded it */
	} else if (env && *env) {
		r = try_plugin(env, plugin, why, sizeof(why)); /* not second-guessed */
	} else {
		if (dladdr((void *)soda_context_open, &info) && info.dli_fname &&
		    strchr(info.dli_fname, '/')) {
			char *copy = strdup(info.dli_fname);

			r = copy ? try_plugin(dirname(copy), plugin, why, sizeof(why)) : -ENOMEM;
			free(copy);
		}
		if (r < 0 && r != -ENOMEM)
			r = try_plugin(su_backend_plugin_dir, plugin, why, sizeof(why));
	}
	pthread_mutex_unlock(&plugins_lock);
	if (r == 0 && !find_driver(plugin, len))
		r = su_errorf(error, -ENOENT, "plugin libsoda-%s.so registered no '%s' backend",
			      plugin, plugin);
	if (r < 0)
		su_errorf(error, r, "no backend for '%s' (plugin libsoda-%s.so: %s)", plugin, plugin,
			  why[0] ? why : "not loadable");
	return r;
}

/* The driver of scheme @s (length @len): a registered one, else one a
 * plugin registers. For NAME+TRANSPORT the driver of NAME is the fallback,
 * and *@ret_whole is set: it gets the whole URI, unparsed. */
static const soda_backend_driver *driver_for(const char *s, size_t len, bool *ret_whole,
					     soda_error **error)
{
	const char *plus = memchr(s, '+', len);
	size_t name_len = plus ? (size_t)(plus - s) : len;
	const soda_backend_driver *d = find_driver(s, len);

	*ret_whole = false;
	if (d)
		return d;
	if (!find_driver(s, name_len) && load_plugin(s, name_len, error) < 0)
		return NULL;
	*ret_whole = plus != NULL;
	return find_driver(s, name_len);
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

/* scheme "://" [host] path ["?" key=value {"&" key=value}], or for a
 * NAME+TRANSPORT scheme whose driver is NAME's, anything (see driver_for).
 * The query is parsed here once: "state" is the core's, every other key
 * goes to the driver's open() as "key=value" (value percent-decoded), for
 * the driver to take or refuse. */
static int parse_uri(const char *uri, const soda_backend_driver **ret_drv, char **ret_path,
		     char ***ret_query, char **ret_state, soda_error **error)
{
	const char *sep = strstr(uri, "://"), *path, *query;
	const soda_backend_driver *drv;
	soda_error *perr = NULL;
	char *state = NULL, **keys = NULL;
	bool whole;
	int r = 0;

	if (!sep || sep == uri)
		return su_errorf_at(error, -EINVAL, "uri", 1, 1,
				    "URI '%s' has no scheme (expected e.g. %s)", uri,
				    su_default_uri);
	drv = driver_for(uri, (size_t)(sep - uri), &whole, &perr);
	if (!drv) {
		r = su_errorf_at(error, -ENOENT, "uri", 1, 1, "URI '%s': %s", uri,
				 perr ? soda_error_message(perr) : "no backend");
		soda_error_free(perr);
		return r;
	}
	if (!(keys = calloc(1, sizeof(char *))))
		return su_errorf(error, -ENOMEM, "out of memory");
	if (whole) {
		/* Its transport, host and query are the driver's to read. */
		*ret_path = strdup(uri);
		*ret_query = keys;
		*ret_state = NULL;
		*ret_drv = drv;
		return *ret_path ? 0 : (su_strv_free(keys), su_errorf(error, -ENOMEM, "out of memory"));
	}
	path = sep + 3;
	if (*path != '/') {
		su_strv_free(keys);
		return su_errorf_at(error, -EINVAL, "uri", 1, (uint32_t)(path - uri) + 1,
				    "URI '%s': remote hosts are not supported; use scheme:///", uri);
	}
	query = strchr(path, '?');
	for (const char *q = query ? query + 1 : NULL; q && *q && r == 0;) {
		const char *amp = strchr(q, '&'), *eq = strchr(q, '=');
		size_t plen = amp ? (size_t)(amp - q) : strlen(q), klen;
		uint32_t col = (uint32_t)(q - uri) + 1;
		char *value = NULL, *pair;

		if (!eq || eq > q + plen) {
			r = su_errorf_at(error, -EINVAL, "uri", 1, col,
					 "URI '%s': query part '%.*s' is not key=value", uri,
					 (int)plen, q);
			break;
		}
		klen = (size_t)(eq - q);
		for (size_t i = 0; i < su_strv_len(keys) && r == 0; i++)
			if (strncmp(keys[i], q, klen) == 0 && keys[i][klen] == '=')
				r = su_errorf_at(error, -EINVAL, "uri", 1, col,
						 "URI '%s': query key '%.*s' is given twice", uri,
						 (int)klen, q);
		if (r < 0)
			break;
		value = percent_decode(eq + 1, plen - klen - 1);
		if (klen == 5 && strncmp(q, "state", 5) == 0 && (!value || value[0] != '/'))
			r = su_errorf_at(error, -EINVAL, "uri", 1, (uint32_t)(eq - uri) + 2,
					 "URI '%s': state must be an absolute, well-escaped path",
					 uri);
		else if (!value)
			r = su_errorf_at(error, -EINVAL, "uri", 1, (uint32_t)(eq - uri) + 2,
					 "URI '%s': the value of '%.*s' is not well-escaped", uri,
					 (int)klen, q);
		pair = r == 0 ? su_strdup_printf("%.*s=%s", (int)klen, q, value) : NULL;
		if (r == 0 && (!pair || su_strv_push(&keys, pair) < 0))
			r = su_errorf(error, -ENOMEM, "out of memory");
		free(pair);
		if (r == 0 && klen == 5 && strncmp(q, "state", 5) == 0) {
			state = value;
			value = NULL;
		}
		free(value);
		q = amp ? amp + 1 : NULL;
	}
	if (r == 0) {
		/* "state" is the core's; the driver gets the rest. */
		for (size_t i = 0; keys[i]; i++)
			if (strncmp(keys[i], "state=", 6) == 0) {
				free(keys[i]);
				memmove(&keys[i], &keys[i + 1],
					(su_strv_len(keys + i + 1) + 1) * sizeof(char *));
				break;
			}
		*ret_path = query ? strndup(path, (size_t)(query - path)) : strdup(path);
		if (!*ret_path)
			r = su_errorf(error, -ENOMEM, "out of memory");
	}
	if (r < 0) {
		free(state);
		su_strv_free(keys);
		return r;
	}
	*ret_drv = drv;
	*ret_query = keys;
	*ret_state = state;
	return 0;
}

/* The options' driver_options joined to the URI's query keys (a key in
 * both is refused; "state" is the state_dir option's). */
static int add_driver_options(char ***query, const char *const *extra, soda_error **error)
{
	for (size_t i = 0; extra && extra[i]; i++) {
		const char *eq = strchr(extra[i], '=');
		size_t klen = eq ? (size_t)(eq - extra[i]) : 0;

		if (klen == 0 || strcspn(extra[i], "&?") < strlen(extra[i]))
			return su_errorf(error, -EINVAL,
					 "driver option %zu '%s' is not key=value (without & or ?)",
					 i + 1, extra[i]);
		if (klen == 5 && strncmp(extra[i], "state", 5) == 0)
			return su_errorf(error, -EINVAL,
					 "driver option 'state': the state directory is state_dir's");
		for (size_t k = 0; (*query)[k]; k++)
			if (strncmp((*query)[k], extra[i], klen + 1) == 0)
				return su_errorf(error, -EINVAL,
						 "driver option '%.*s' is given twice (in the URI "
						 "or the options)",
						 (int)klen, extra[i]);
		if (su_strv_push(query, extra[i]) < 0)
			return su_errorf(error, -ENOMEM, "out of memory");
	}
	return 0;
}

SODA_EXPORT int soda_context_open(soda_context **ret, const char *uri,
				  const soda_context_options *opts, unsigned int flags,
				  soda_error **error)
{
	soda_context_options defaults = SODA_CONTEXT_OPTIONS_INIT;
	const soda_backend_driver *drv = NULL;
	soda_context *ctx;
	char *path = NULL, *state = NULL, **query = NULL;
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
		uri = su_default_uri;
	r = parse_uri(uri, &drv, &path, &query, &state, error);
	if (r == 0)
		r = add_driver_options(&query, opts->driver_options, error);
	if (r < 0) {
		free(path);
		free(state);
		su_strv_free(query);
		return r;
	}
	if (opts->state_dir) {
		free(state);
		state = strdup(opts->state_dir);
		if (!state) {
			free(path);
			su_strv_free(query);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx || !(ctx->uri = strdup(uri))) {
		free(ctx);
		free(path);
		free(state);
		su_strv_free(query);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	ctx->refs = 1;
	ctx->drv = drv;
	ctx->log_fn = opts->log_fn;
	ctx->log_userdata = opts->log_userdata;
	ctx->log_level = opts->log_level ? opts->log_level : SODA_LOG_INFO;
	ctx->next_handler_id = 1;
	r = drv->open(&ctx->priv, ctx, path, (const char *const *)query, state, opts, error);
	free(path);
	free(state);
	su_strv_free(query);
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
	for (const struct su_feature *const *f = su_features; *f; f++)
		if ((*f)->context_closed)
			(*f)->context_closed(ctx);
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
	if (!ctx->has_netdev) {
		for (const struct su_feature *const *f = su_features; *f; f++)
			if ((*f)->netdev_ops)
				return (*f)->netdev_ops(ctx, ret_userdata);
		return NULL;
	}
	if (ret_userdata)
		*ret_userdata = ctx->netdev_userdata;
	return &ctx->netdev;
}
