/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test backend ("test:///default"): servers live in memory and change
 * state at once. For unit tests of the core and for the bindings; it
 * follows the same rules as the uml backend (which states allow which
 * actions, which errors come back) so that code tested against it behaves
 * the same on real guests.
 *
 * Exec runs nothing; it echoes, so that bindings can test their plumbing:
 * stdout gets argv's words joined by spaces and a newline, then all of
 * stdin; stderr gets "user U cwd D env N" and a newline (U "root" and D
 * "~" when not given, N the number of environment entries). The status is
 * 0, but for "exit N" (N, 0-255), "kill N" (killed by signal N, 1-64) and
 * "sleep ..." with a timeout (-ETIMEDOUT).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../libsoda/config.h"
#include "../../libsoda/private.h"

typedef struct tserver {
	soda_server_config *cfg;
	int state;
	int prev_reported;
	char reason[64];
	uint32_t uid;
	uint64_t started;
	int32_t exit_code;
} tserver;

typedef struct tevent {
	int kind;
	char *server;
	int state;
	int previous;
	char *reason;
} tevent;

typedef struct tbackend {
	soda_context *ctx;
	tserver *servers;
	size_t n;
	char **images;
	int efd;
	tevent *events;
	size_t n_events;
	uint32_t next_uid;
} tbackend;

static tserver *find(tbackend *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->servers[i].cfg->name, name) == 0)
			return &t->servers[i];
	return NULL;
}

static void queue(tbackend *t, int kind, const char *server, int state, int previous,
		  const char *reason)
{
	tevent *ev = realloc(t->events, (t->n_events + 1) * sizeof(*ev));
	uint64_t one = 1;

	if (!ev)
		return;
	t->events = ev;
	ev[t->n_events] = (tevent){ kind, strdup(server), state, previous, strdup(reason) };
	t->n_events++;
	if (write(t->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in a test */
	}
}

static void set_state(tbackend *t, tserver *s, int state, const char *reason)
{
	int prev = s->state;

	s->state = state;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	queue(t, SODA_EVENT_STATE, s->cfg->name, state, prev, reason);
}

static int t_open(void **ret_priv, soda_context *ctx, const char *path,
		  const char *const *query, const char *state_dir,
		  const soda_context_options *opts, soda_error **error)
{
	tbackend *t;

	(void)state_dir;
	(void)opts;
	if (strcmp(path, "/default") != 0)
		return su_errorf_at(error, -EINVAL, "uri", 1, 8,
				    "the test backend's URI is test:///default, not path '%s'", path);
	if (query[0])
		return su_errorf(error, -EINVAL,
				 "URI: unknown query key '%.*s' (the test backend takes only state)",
				 (int)strcspn(query[0], "="), query[0]);
	t = calloc(1, sizeof(*t));
	if (!t)
		return su_errorf(error, -ENOMEM, "out of memory");
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->efd < 0) {
		free(t);
		return su_errorf(error, su_neg_errno(), "eventfd: %s", strerror(errno));
	}
	t->ctx = ctx;
	t->next_uid = 1000100000u;
	if (su_strv_push(&t->images, "busybox") < 0) {
		close(t->efd);
		free(t);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	*ret_priv = t;
	return 0;
}

static void t_close(void *priv)
{
	tbackend *t = priv;

	for (size_t i = 0; i < t->n; i++)
		soda_server_config_free(t->servers[i].cfg);
	free(t->servers);
	for (size_t i = 0; i < t->n_events; i++) {
		free(t->events[i].server);
		free(t->events[i].reason);
	}
	free(t->events);
	su_strv_free(t->images);
	close(t->efd);
	free(t);
}

static int t_get_fd(void *priv)
{
	return ((tbackend *)priv)->efd;
}

static int t_process(void *priv, soda_backend_emit_fn emit, void *emit_data, soda_error **error)
{
	tbackend *t = priv;
	uint64_t v;
	size_t i;
	int r = 0;

	(void)error;
	if (read(t->efd, &v, sizeof(v)) < 0) {
		/* nothing pending */
	}
	for (i = 0; i < t->n_events && r >= 0; i++) {
		tevent *ev = &t->events[i];

		r = emit(emit_data, ev->kind, ev->server, ev->state, ev->previous, ev->reason);
	}
	/* Events after a handler's failure stay for the next round. */
	for (size_t j = 0; j < i; j++) {
		free(t->events[j].server);
		free(t->events[j].reason);
	}
	memmove(t->events, t->events + i, (t->n_events - i) * sizeof(tevent));
	t->n_events -= i;
	if (t->n_events) {
		uint64_t one = 1;

		if (write(t->efd, &one, sizeof(one)) < 0) {
			/* see queue() */
		}
	}
	return r < 0 ? r : 0;
}

static bool has_image(tbackend *t, const char *name)
{
	for (size_t i = 0; t->images && t->images[i]; i++)
		if (strcmp(t->images[i], name) == 0)
			return true;
	return false;
}

static int t_define(void *priv, const soda_server_config *cfg, unsigned int flags,
		    soda_error **error)
{
	tbackend *t = priv;
	tserver *s;
	int r;

	(void)flags;
	if (find(t, cfg->name))
		return su_errorf(error, -EEXIST, "a server named '%s' already exists", cfg->name);
	if (!has_image(t, cfg->image))
		return su_errorf(error, -ENOENT, "image '%s' is not in the image store", cfg->image);
	s = realloc(t->servers, (t->n + 1) * sizeof(*s));
	if (!s)
		return su_errorf(error, -ENOMEM, "out of memory");
	t->servers = s;
	s = &t->servers[t->n];
	memset(s, 0, sizeof(*s));
	r = soda_server_config_copy(&s->cfg, cfg, error);
	if (r < 0)
		return r;
	s->state = SODA_STATE_SHUTOFF;
	s->uid = t->next_uid++;
	s->exit_code = -1;
	snprintf(s->reason, sizeof(s->reason), "defined");
	t->n++;
	queue(t, SODA_EVENT_DEFINED, cfg->name, SODA_STATE_SHUTOFF, 0, "defined");
	return 0;
}

static int t_undefine(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	tbackend *t = priv;
	tserver *s = find(t, name);

	(void)flags;
	if (!s)
		return su_errorf(error, -ENOENT, "no server named '%s'", name);
	if (s->state != SODA_STATE_SHUTOFF && s->state != SODA_STATE_CRASHED)
		return su_errorf(error, -EBUSY, "server '%s' is %s; stop it first", name,
				 soda_state_name(s->state));
	queue(t, SODA_EVENT_UNDEFINED, name, 0, s->state, "undefined");
	soda_server_config_free(s->cfg);
	*s = t->servers[--t->n];
	return 0;
}

static int t_lookup(void *priv, const char *name, soda_server_config **ret_cfg,
		    soda_error **error)
{
	tserver *s = find(priv, name);

	if (!s)
		return su_errorf(error, -ENOENT, "no server named '%s'", name);
	return soda_server_config_copy(ret_cfg, s->cfg, error);
}

static int t_list(void *priv, char ***ret_names, soda_error **error)
{
	tbackend *t = priv;
	char **names = NULL;

	for (size_t i = 0; i < t->n; i++)
		if (su_strv_push(&names, t->servers[i].cfg->name) < 0) {
			su_strv_free(names);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
	*ret_names = names;
	return 0;
}

static int t_status(void *priv, const char *name, soda_backend_status *ret, soda_error **error)
{
	tserver *s = find(priv, name);

	if (!s)
		return su_errorf(error, -ENOENT, "no server named '%s'", name);
	ret->state = s->state;
	ret->ready = s->state == SODA_STATE_RUNNING || s->state == SODA_STATE_PAUSED;
	ret->uid = s->uid;
	ret->started_usec = s->started;
	ret->exit_code = s->exit_code;
	snprintf(ret->reason, sizeof(ret->reason), "%s", s->reason);
	return 0;
}

static int need(tserver *s, const char *name, bool ok, soda_error **error)
{
	if (!s)
		return su_errorf(error, -ENOENT, "no server named '%s'", name);
	if (!ok)
		return su_errorf(error, -EBUSY, "server '%s' is %s", name, soda_state_name(s->state));
	return 0;
}

static bool live(const tserver *s)
{
	return s->state == SODA_STATE_RUNNING || s->state == SODA_STATE_PAUSED ||
	       s->state == SODA_STATE_STARTING || s->state == SODA_STATE_STOPPING;
}

static int t_start(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	tbackend *t = priv;
	tserver *s = find(t, name);
	int r = need(s, name, s && !live(s), error);

	(void)flags;
	if (r < 0)
		return r;
	s->started = su_now_usec();
	set_state(t, s, SODA_STATE_STARTING, "booting");
	set_state(t, s, SODA_STATE_RUNNING, "ready");
	return 0;
}

static int t_stop(void *priv, const char *name, uint32_t timeout_ms, unsigned int flags,
		  soda_error **error)
{
	tbackend *t = priv;
	tserver *s = find(t, name);
	int r = need(s, name, s && live(s), error);

	(void)timeout_ms;
	(void)flags;
	if (r < 0)
		return r;
	s->exit_code = 0;
	set_state(t, s, SODA_STATE_SHUTOFF, "stopped");
	return 0;
}

static int t_kill(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	tbackend *t = priv;
	tserver *s = find(t, name);
	int r = need(s, name, s && live(s), error);

	(void)flags;
	if (r < 0)
		return r;
	set_state(t, s, SODA_STATE_SHUTOFF, "killed");
	return 0;
}

static int t_freeze(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	tbackend *t = priv;
	tserver *s = find(t, name);
	int r = need(s, name, s && s->state == SODA_STATE_RUNNING, error);

	(void)flags;
	if (r < 0)
		return r;
	set_state(t, s, SODA_STATE_PAUSED, "frozen");
	return 0;
}

static int t_thaw(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	tbackend *t = priv;
	tserver *s = find(t, name);
	int r = need(s, name, s && s->state == SODA_STATE_PAUSED, error);

	(void)flags;
	if (r < 0)
		return r;
	set_state(t, s, SODA_STATE_RUNNING, "thawed");
	return 0;
}

static int t_image_build(void *priv, const char *name, int source_kind, const char *source,
			 uint64_t size_bytes, unsigned int flags, soda_error **error)
{
	tbackend *t = priv;

	(void)source_kind;
	(void)source;
	(void)size_bytes;
	if (has_image(t, name)) {
		if (!(flags & SODA_IMAGE_REPLACE))
			return su_errorf(error, -EEXIST, "image '%s' already exists", name);
		return 0;
	}
	if (su_strv_push(&t->images, name) < 0)
		return su_errorf(error, -ENOMEM, "out of memory");
	return 0;
}

static int t_image_list(void *priv, char ***ret_names, soda_error **error)
{
	char **copy = su_strv_copy(((tbackend *)priv)->images);

	if (!copy)
		return su_errorf(error, -ENOMEM, "out of memory");
	*ret_names = copy;
	return 0;
}

static int t_image_remove(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	tbackend *t = priv;
	size_t n = su_strv_len(t->images);

	(void)flags;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->servers[i].cfg->image, name) == 0)
			return su_errorf(error, -EBUSY, "image '%s' is used by server '%s'", name,
					 t->servers[i].cfg->name);
	for (size_t i = 0; i < n; i++)
		if (strcmp(t->images[i], name) == 0) {
			free(t->images[i]);
			t->images[i] = t->images[n - 1];
			t->images[n - 1] = NULL;
			return 0;
		}
	return su_errorf(error, -ENOENT, "no image named '%s'", name);
}

static int t_put(int fd, const char *p, size_t n)
{
	while (fd >= 0 && n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int t_exec(void *priv, const char *name, const char *const *argv,
		  const soda_exec_options *opts, int *ret_status, soda_error **error)
{
	tbackend *t = priv;
	tserver *s = find(t, name);
	int r = need(s, name, s && s->state == SODA_STATE_RUNNING, error), status = 0;
	char line[300], buf[4096];
	size_t envc = 0;

	if (r < 0)
		return r;
	for (size_t i = 0; argv[i] && r == 0; i++)
		if ((r = t_put(opts->stdout_fd, " ", i > 0)) == 0)
			r = t_put(opts->stdout_fd, argv[i], strlen(argv[i]));
	if (r == 0)
		r = t_put(opts->stdout_fd, "\n", 1);
	while (r == 0 && opts->stdin_fd >= 0) {
		ssize_t n = read(opts->stdin_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		r = t_put(opts->stdout_fd, buf, (size_t)n);
	}
	while (opts->env && opts->env[envc])
		envc++;
	snprintf(line, sizeof(line), "user %.100s cwd %.100s env %zu\n",
		 opts->user ? opts->user : "root", opts->cwd ? opts->cwd : "~", envc);
	if (r == 0)
		r = t_put(opts->stderr_fd, line, strlen(line));
	if (r < 0)
		return su_errorf(error, r, "exec: %s", strerror(-r));
	if (argv[1] && (strcmp(argv[0], "exit") == 0 || strcmp(argv[0], "kill") == 0)) {
		char *end;
		long v = strtol(argv[1], &end, 10);
		bool kill = argv[0][0] == 'k';

		if (*end || v < (kill ? 1 : 0) || v > (kill ? 64 : 255))
			return su_errorf(error, -EINVAL, "test exec: bad number '%s'", argv[1]);
		status = kill ? SODA_EXEC_SIGNALED + (int)v : (int)v;
	} else if (strcmp(argv[0], "sleep") == 0 && opts->timeout_ms) {
		return su_errorf(error, -ETIMEDOUT,
				 "the command did not end within %u ms; it was killed",
				 opts->timeout_ms);
	}
	*ret_status = status;
	return 0;
}

const soda_backend_driver su_test_driver = {
	.version = SODA_BACKEND_VERSION,
	.scheme = "test",
	.open = t_open,
	.close = t_close,
	.get_fd = t_get_fd,
	.process = t_process,
	.define = t_define,
	.undefine = t_undefine,
	.lookup = t_lookup,
	.list = t_list,
	.status = t_status,
	.start = t_start,
	.stop = t_stop,
	.kill = t_kill,
	.freeze = t_freeze,
	.thaw = t_thaw,
	.image_build = t_image_build,
	.image_list = t_image_list,
	.image_remove = t_image_remove,
	.exec = t_exec,
};
