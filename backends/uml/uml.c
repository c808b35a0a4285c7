/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The uml backend: User-Mode Linux guests, each run by its own soda-monitor
 * in a jail. This file is the library side; see proto.h for the state
 * directory layout and monitor/monitor.c for the other side.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_client.h"
#include "../../libsoda/config.h"
#include "../../libsoda/kv.h"
#include "../../libsoda/private.h"
#include "host/cgroup.h"
#include "host/shape.h"
#include "host/shares.h"
#include "cmdline.h"
#include "cow.h"
#include "elfdeps.h"
#include "image.h"
#include "ids_ctl.h"
#include "proto.h"

#ifndef SODA_MONITOR_DEFAULT
#define SODA_MONITOR_DEFAULT "/usr/libexec/soda-monitor"
#endif
#ifndef SODA_AGENT_DEFAULT
#define SODA_AGENT_DEFAULT "/usr/libexec/soda-agent"
#endif

#define DEFAULT_STATE_DIR "/var/lib/soda"
#define DEFAULT_UML "/usr/bin/linux.uml"
#define DEFAULT_UID_BASE 1000100000u
#define DEFAULT_UID_COUNT 65536u
#define UID_SLOTS 4096u /* contexts spread over this many default ranges */
#define START_TIMEOUT_MS 30000
#define CTL_TIMEOUT_MS 5000
#define KILL_WAIT_MS 10000
#define STOP_MARGIN_MS 15000

extern char **environ;

typedef struct known {
	char *name;
	int state;
	int32_t monitor_pid;
	int pidfd;
	char bb_anchor[160]; /* the blackbox's, as last seen in the status */
	uint32_t bb_usage;
} known;

typedef struct uml {
	soda_context *ctx;
	char *state_dir;
	char *uml_binary;
	char *monitor_path;
	char *agent_path;
	char *uml_preload; /* soda-uml-xstate.so beside soda-monitor; NULL: none */
	bool preload_looked;
	char *cgroup_parent;
	char *netns;
	char ctxid[9];
	uint32_t uid_base;
	uint32_t uid_count;
	int lock_fd;
	int lock_depth;
	int inotify_fd;
	int epoll_fd;
	su_cg_layout layout;
	char **uml_libs;
	uint64_t lpj;
	known *known;
	size_t n_known;
} uml;

/* ---- paths ---- */

static char *pathf(const uml *u, const char *fmt, ...) SU_PRINTF(2, 3);
static char *pathf(const uml *u, const char *fmt, ...)
{
	va_list ap;
	char *rel, *full;

	va_start(ap, fmt);
	rel = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!rel)
		return NULL;
	full = su_strdup_printf("%s/%s", u->state_dir, rel);
	free(rel);
	return full;
}

static char *cgroup_of(const uml *u, const char *name)
{
	return su_strdup_printf("%s/%s/%s", u->cgroup_parent, u->ctxid, name);
}

#define OOM(error) su_errorf(error, -ENOMEM, "out of memory")

/* ---- locking ---- */

static int lock(uml *u, soda_error **error)
{
	if (u->lock_depth++ > 0)
		return 0;
	while (flock(u->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			u->lock_depth--;
			return su_errorf(error, su_neg_errno(), "cannot lock %s/lock: %s",
					 u->state_dir, strerror(errno));
		}
	}
	return 0;
}

static void unlock(uml *u)
{
	if (--u->lock_depth == 0)
		flock(u->lock_fd, LOCK_UN);
}

/* ---- status ---- */

static bool server_exists(const uml *u, const char *name)
{
	char *p = pathf(u, "servers/%s/config", name);
	bool e = p && su_path_exists(p);

	free(p);
	return e;
}

static bool monitor_alive(const su_status *st)
{
	return st->monitor_pid > 0 && su_proc_alive(st->monitor_pid, st->monitor_start);
}

/* Reads a server's status as written; a defined server without a status
 * file is shut off. */
static int read_status(const uml *u, const char *name, su_status *st, soda_error **error)
{
	char *p = pathf(u, "status/%s", name);
	int r;

	if (!p)
		return OOM(error);
	if (!su_path_exists(p)) {
		free(p);
		if (!server_exists(u, name))
			return su_errorf(error, -ENOENT, "no server named '%s'", name);
		su_status_init(st);
		return 0;
	}
	r = su_status_read(st, p, error);
	free(p);
	return r;
}

static int write_status(const uml *u, const char *name, const su_status *st, soda_error **error)
{
	char *p = pathf(u, "status/%s", name);
	int r;

	if (!p)
		return OOM(error);
	r = su_status_write(st, p);
	if (r < 0)
		su_errorf(error, r, "cannot write %s: %s", p, strerror(-r));
	free(p);
	return r;
}

/* ---- network attachments ---- */

/* Undoes what attach did for each "INDEX IFNAME" entry; returns the entries
 * it could not undo (no hooks installed here, or the hook failed). */
static char **detach_netdevs(uml *u, const char *name, char **netdevs)
{
	void *userdata = NULL;
	const soda_netdev_ops *ops = soda_context_get_netdev_ops(u->ctx, &userdata);
	char **left = NULL;

	for (size_t i = 0; netdevs && netdevs[i]; i++) {
		unsigned idx;
		char ifname[32];
		soda_error *e = NULL;

		if (sscanf(netdevs[i], "%u %31s", &idx, ifname) != 2)
			continue;
		/* The TAP's shaping goes first: its IFB outlives the TAP. */
		su_shape_detach(u->netns, ifname, NULL);
		if (!ops || ops->detach(userdata, name, idx, ifname, &e) < 0) {
			su_log(u->ctx, SODA_LOG_WARNING, "server %s: cannot release %s: %s", name,
			       ifname, e ? soda_error_message(e) : "no network hooks installed");
			su_strv_push(&left, netdevs[i]);
		}
		soda_error_free(e);
	}
	return left;
}

/* ---- recovery ---- */

static void cleanup_run(uml *u, const char *name)
{
	char *cgrel = cgroup_of(u, name), *run = pathf(u, "run/%s", name);
	su_cgroup cg;
	soda_error *e = NULL;

	if (cgrel && su_cg_init(&cg, &u->layout, cgrel) == 0) {
		if (su_cg_destroy(&cg, &e) < 0)
			su_log(u->ctx, SODA_LOG_WARNING, "server %s: %s", name,
			       soda_error_message(e));
		soda_error_free(e);
		su_cg_done(&cg);
	}
	if (run)
		su_rm_rf(run);
	free(cgrel);
	free(run);
}

/* Under the lock: the monitor of @name is gone while its status says the
 * server runs. End what is left, release what the run held, record a crash. */
static int recover_server(uml *u, const char *name, su_status *st, soda_error **error)
{
	char **left;

	su_log(u->ctx, SODA_LOG_NOTICE, "server %s: monitor %d is gone; cleaning up", name,
	       (int)st->monitor_pid);
	cleanup_run(u, name);
	left = detach_netdevs(u, name, st->netdevs);
	su_strv_free(st->netdevs);
	st->netdevs = left;
	st->state = SODA_STATE_CRASHED;
	snprintf(st->reason, sizeof(st->reason), "monitor died");
	st->monitor_pid = 0;
	st->monitor_start = 0;
	st->guest_pid = 0;
	return write_status(u, name, st, error);
}

static int list_dir_names(const char *dir, char ***ret)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;

	if (!d)
		return errno == ENOENT ? (*ret = NULL, 0) : su_neg_errno();
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (soda_name_check(de->d_name, NULL) < 0)
			continue; /* temporary files and anything foreign */
		if (su_strv_push(&names, de->d_name) < 0) {
			closedir(d);
			su_strv_free(names);
			return -ENOMEM;
		}
	}
	closedir(d);
	*ret = names;
	return 0;
}

static void remove_dot_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *p;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		p = su_strdup_printf("%s/%s", dir, de->d_name);
		if (p)
			su_rm_rf(p);
		free(p);
	}
	closedir(d);
}

static int uml_recover(void *priv, unsigned int flags, soda_error **error)
{
	uml *u = priv;
	char **names = NULL, *dir;
	int r, count = 0;

	(void)flags;
	r = lock(u, error);
	if (r < 0)
		return r;
	dir = pathf(u, "status");
	r = dir ? list_dir_names(dir, &names) : -ENOMEM;
	free(dir);
	for (size_t i = 0; r == 0 && names && names[i]; i++) {
		su_status st;

		if (read_status(u, names[i], &st, NULL) < 0)
			continue;
		if (su_state_is_live(st.state) && !monitor_alive(&st)) {
			if (recover_server(u, names[i], &st, NULL) == 0)
				count++;
		} else if (!su_state_is_live(st.state) && st.netdevs) {
			char **left = detach_netdevs(u, names[i], st.netdevs);

			su_strv_free(st.netdevs);
			st.netdevs = left;
			write_status(u, names[i], &st, NULL);
		}
		su_status_done(&st);
	}
	su_strv_free(names);
	names = NULL;
	/* Run directories and cgroups with no live monitor behind them. */
	dir = pathf(u, "run");
	if (r == 0 && dir && list_dir_names(dir, &names) == 0) {
		for (size_t i = 0; names && names[i]; i++) {
			su_status st;
			bool live = false;

			if (read_status(u, names[i], &st, NULL) == 0) {
				live = su_state_is_live(st.state) && monitor_alive(&st);
				su_status_done(&st);
			}
			if (!live)
				cleanup_run(u, names[i]);
		}
	}
	free(dir);
	su_strv_free(names);
	names = NULL;
	{
		char *rel = su_strdup_printf("%s/%s", u->cgroup_parent, u->ctxid);
		const char *root = u->layout.v1[SU_CG_FREEZER] ? u->layout.v1[SU_CG_FREEZER]
							       : u->layout.v2;
		char *cgdir = rel && root ? su_strdup_printf("%s/%s", root, rel) : NULL;

		if (cgdir && list_dir_names(cgdir, &names) == 0) {
			for (size_t i = 0; names && names[i]; i++) {
				su_status st;
				bool live = false;

				if (read_status(u, names[i], &st, NULL) == 0) {
					live = su_state_is_live(st.state) && monitor_alive(&st);
					su_status_done(&st);
				}
				if (!live)
					cleanup_run(u, names[i]);
			}
		}
		free(rel);
		free(cgdir);
		su_strv_free(names);
	}
	/* The context's cgroup subtree goes once no monitor is left in it. */
	{
		char *rels[3] = { su_strdup_printf("%s/%s/_monitors", u->cgroup_parent, u->ctxid),
				  su_strdup_printf("%s/%s", u->cgroup_parent, u->ctxid),
				  strdup(u->cgroup_parent) };

		for (size_t i = 0; i < SU_ARRAY_SIZE(rels); i++) {
			su_cgroup cg;

			if (rels[i] && su_cg_init(&cg, &u->layout, rels[i]) == 0) {
				su_cg_remove_if_empty(&cg);
				su_cg_done(&cg);
			}
			free(rels[i]);
		}
	}
	/* Half-made servers and half-removed ones, and build scratch space. */
	dir = pathf(u, "servers");
	if (dir)
		remove_dot_entries(dir);
	free(dir);
	dir = pathf(u, "tmp");
	if (dir)
		su_rm_rf(dir);
	free(dir);
	unlock(u);
	return r < 0 ? su_errorf(error, r, "cannot scan the state directory: %s", strerror(-r))
		     : count;
}

/* ---- events ---- */

static int effective_state(const su_status *st, bool *dead_monitor)
{
	*dead_monitor = su_state_is_live(st->state) && !monitor_alive(st);
	return *dead_monitor ? SODA_STATE_CRASHED : st->state;
}

static known *find_known(uml *u, const char *name)
{
	for (size_t i = 0; i < u->n_known; i++)
		if (strcmp(u->known[i].name, name) == 0)
			return &u->known[i];
	return NULL;
}

static void drop_pidfd(uml *u, known *k)
{
	if (k->pidfd >= 0) {
		epoll_ctl(u->epoll_fd, EPOLL_CTL_DEL, k->pidfd, NULL);
		close(k->pidfd);
		k->pidfd = -1;
	}
	k->monitor_pid = 0;
}

/* Watches a live monitor through a pidfd, so its death wakes the caller
 * even if it could not write a last status. */
static void watch_monitor(uml *u, known *k, const su_status *st)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (k->pidfd >= 0 && k->monitor_pid == st->monitor_pid)
		return;
	drop_pidfd(u, k);
	if (st->monitor_pid <= 0)
		return;
	k->pidfd = su_pidfd_open(st->monitor_pid);
	if (k->pidfd < 0)
		return;
	/* Checked after opening: the pid cannot be reused while we hold it. */
	if (!su_proc_alive(st->monitor_pid, st->monitor_start)) {
		close(k->pidfd);
		k->pidfd = -1;
		return;
	}
	k->monitor_pid = st->monitor_pid;
	ev.data.fd = k->pidfd;
	epoll_ctl(u->epoll_fd, EPOLL_CTL_ADD, k->pidfd, &ev);
}

static void forget_known(uml *u, size_t i)
{
	drop_pidfd(u, &u->known[i]);
	free(u->known[i].name);
	u->known[i] = u->known[--u->n_known];
}

/* Compares the state directory with what we last saw; calls emit (if
 * given) for each difference. */
static int rescan(uml *u, soda_backend_emit_fn emit, void *emit_data, soda_error **error)
{
	char **names = NULL, *dir = pathf(u, "servers");
	int r;

	if (!dir)
		return OOM(error);
	r = list_dir_names(dir, &names);
	free(dir);
	if (r < 0)
		return su_errorf(error, r, "cannot list servers: %s", strerror(-r));
	/* Gone servers. */
	for (size_t i = 0; i < u->n_known;) {
		bool still = false;

		for (size_t j = 0; names && names[j]; j++)
			if (strcmp(names[j], u->known[i].name) == 0)
				still = true;
		if (still) {
			i++;
			continue;
		}
		if (emit && (r = emit(emit_data, SODA_EVENT_UNDEFINED, u->known[i].name, 0,
				      u->known[i].state, "undefined")) < 0)
			break;
		forget_known(u, i);
	}
	for (size_t j = 0; r >= 0 && names && names[j]; j++) {
		su_status st;
		bool dead;
		int state;
		known *k;

		if (read_status(u, names[j], &st, NULL) < 0)
			continue;
		state = effective_state(&st, &dead);
		if (dead && lock(u, NULL) == 0) {
			/* Re-read under the lock: another process may have cleaned up. */
			su_status_done(&st);
			if (read_status(u, names[j], &st, NULL) == 0) {
				state = effective_state(&st, &dead);
				if (dead)
					recover_server(u, names[j], &st, NULL);
			}
			unlock(u);
		} else if (!su_state_is_live(st.state) && st.netdevs && lock(u, NULL) == 0) {
			char **left = detach_netdevs(u, names[j], st.netdevs);

			su_strv_free(st.netdevs);
			st.netdevs = left;
			write_status(u, names[j], &st, NULL);
			unlock(u);
		}
		k = find_known(u, names[j]);
		if (!k) {
			known *nk = realloc(u->known, (u->n_known + 1) * sizeof(*nk));

			if (!nk) {
				su_status_done(&st);
				r = OOM(error);
				break;
			}
			u->known = nk;
			k = &u->known[u->n_known];
			*k = (known){ .name = strdup(names[j]), .state = state, .pidfd = -1 };
			if (!k->name) {
				su_status_done(&st);
				r = OOM(error);
				break;
			}
			u->n_known++;
			/* Seen for the first time: it was defined, and may have
			 * moved on since (started by another process, say). */
			if (emit)
				r = emit(emit_data, SODA_EVENT_DEFINED, names[j], SODA_STATE_SHUTOFF, 0,
					 "defined");
			if (emit && r >= 0 && state != SODA_STATE_SHUTOFF)
				r = emit(emit_data, SODA_EVENT_STATE, names[j], state,
					 SODA_STATE_SHUTOFF, dead ? "monitor died" : st.reason);
		} else if (k->state != state) {
			int prev = k->state;

			k->state = state;
			if (emit)
				r = emit(emit_data, SODA_EVENT_STATE, names[j], state, prev,
					 dead ? "monitor died" : st.reason);
		}
		/* The blackbox's anchor and quota warnings (soda-monitor). */
		if (r >= 0 && st.bb_anchor[0] && strcmp(st.bb_anchor, k->bb_anchor) != 0) {
			snprintf(k->bb_anchor, sizeof(k->bb_anchor), "%s", st.bb_anchor);
			if (emit)
				r = emit(emit_data, SODA_EVENT_BLACKBOX_ANCHOR, names[j], state, state,
					 st.bb_anchor);
		}
		if (r >= 0 && st.bb_usage != k->bb_usage) {
			char pct[16];

			snprintf(pct, sizeof(pct), "%u", st.bb_usage);
			if (emit && st.bb_usage > k->bb_usage)
				r = emit(emit_data, SODA_EVENT_BLACKBOX_QUOTA, names[j], state, state, pct);
			k->bb_usage = st.bb_usage;
		}
		if (su_state_is_live(state))
			watch_monitor(u, k, &st);
		else
			drop_pidfd(u, k);
		su_status_done(&st);
	}
	su_strv_free(names);
	return r < 0 ? r : 0;
}

static int uml_get_fd(void *priv)
{
	return ((uml *)priv)->epoll_fd;
}

static int uml_process(void *priv, soda_backend_emit_fn emit, void *emit_data,
		       soda_error **error)
{
	uml *u = priv;
	struct epoll_event evs[32];
	char buf[8192];
	int n;

	/* Drain: inotify events only say "look again". */
	while (read(u->inotify_fd, buf, sizeof(buf)) > 0)
		;
	n = epoll_wait(u->epoll_fd, evs, 32, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == u->inotify_fd)
			continue;
		for (size_t k = 0; k < u->n_known; k++)
			if (u->known[k].pidfd == evs[i].data.fd)
				drop_pidfd(u, &u->known[k]);
	}
	return rescan(u, emit, emit_data, error);
}

/* ---- the FPU-state shim ---- */

/* soda-uml-xstate.so is installed beside soda-monitor (and built beside it).
 * Without it linux.uml 6.1 cannot run a process on a host with AMX (see
 * backends/uml/preload/xstate.c); elsewhere it changes nothing. */
static void find_preload(uml *u)
{
	const char *slash = strrchr(u->monitor_path, '/');
	char *p = slash ? su_strdup_printf("%.*s/soda-uml-xstate.so",
					   (int)(slash - u->monitor_path), u->monitor_path)
			: NULL;

	u->preload_looked = true;
	if (p && access(p, R_OK) == 0) {
		u->uml_preload = p;
		return;
	}
	su_log(u->ctx, SODA_LOG_WARNING,
	       "%s is missing: guests cannot run on hosts whose XSAVE area is larger than "
	       "linux.uml 6.1's (CPUs with AMX)",
	       p ? p : "soda-uml-xstate.so");
	free(p);
}

/* ---- lpj ---- */

static uint64_t calibrate_lpj(uml *u)
{
	char *argv[] = { u->monitor_path, "calibrate", u->uml_binary, NULL };
	char *out = NULL, *cpu = NULL, *p, *cache = pathf(u, "host/lpj"), *text = NULL;
	uint64_t lpj = 0, cached = 0;
	struct stat st;
	su_buf b = { 0 };
	int status;

	if (!cache || stat(u->uml_binary, &st) < 0) {
		free(cache);
		return 0;
	}
	/* Key: the kernel binary and the CPU model. */
	if (su_read_file("/proc/cpuinfo", 1 << 20, &text, NULL) == 0 &&
	    (p = strstr(text, "model name"))) {
		p = strchr(p, ':');
		if (p)
			cpu = strndup(p + 2, strcspn(p + 2, "\n"));
	}
	free(text);
	text = NULL;
	su_kv_header(&b, "soda-lpj", 1);
	su_kv_add(&b, "uml", u->uml_binary);
	su_kv_add_u64(&b, "uml-size", (uint64_t)st.st_size);
	su_kv_add_u64(&b, "uml-mtime", (uint64_t)st.st_mtime);
	su_kv_add(&b, "cpu", cpu ? cpu : "unknown");
	free(cpu);
	if (b.oom) {
		su_buf_free(&b);
		free(cache);
		return 0;
	}
	/* The cache holds the key lines, then "lpj N". */
	if (su_read_file(cache, 65536, &text, NULL) == 0 && strncmp(text, b.data, b.len) == 0 &&
	    strncmp(text + b.len, "lpj ", 4) == 0) {
		char *num = strndup(text + b.len + 4, strcspn(text + b.len + 4, "\n"));

		if (num && su_parse_u64(num, &cached) == 0 && cached > 0)
			lpj = cached;
		free(num);
	}
	free(text);
	if (!lpj && su_run(argv, &status, &out) == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		out[strcspn(out, "\n")] = '\0';
		if (su_parse_u64(out, &lpj) == 0 && lpj > 0) {
			su_kv_add_u64(&b, "lpj", lpj);
			if (!b.oom)
				su_write_file_atomic(cache, b.data, b.len, 0644);
			su_log(u->ctx, SODA_LOG_INFO, "calibrated lpj=%" PRIu64 " for %s", lpj,
			       u->uml_binary);
		} else {
			lpj = 0;
		}
	}
	if (!lpj)
		su_log(u->ctx, SODA_LOG_WARNING,
		       "could not calibrate lpj; guests will calibrate at each boot (slower)");
	free(out);
	free(cache);
	su_buf_free(&b);
	return lpj;
}

/* ---- context ---- */

static uint32_t fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void uml_close(void *priv)
{
	uml *u = priv;

	if (!u)
		return;
	while (u->n_known)
		forget_known(u, u->n_known - 1);
	free(u->known);
	if (u->inotify_fd >= 0)
		close(u->inotify_fd);
	if (u->epoll_fd >= 0)
		close(u->epoll_fd);
	if (u->lock_fd >= 0)
		close(u->lock_fd);
	su_cg_layout_free(&u->layout);
	su_strv_free(u->uml_libs);
	free(u->state_dir);
	free(u->uml_binary);
	free(u->monitor_path);
	free(u->agent_path);
	free(u->uml_preload);
	free(u->cgroup_parent);
	free(u->netns);
	free(u);
}

static const char *uml_state_dir(void *priv)
{
	return ((uml *)priv)->state_dir;
}

static const char *uml_netns(void *priv)
{
	return ((uml *)priv)->netns;
}

static int check_cgroup_parent(const char *p, soda_error **error)
{
	su_cgroup probe;
	su_cg_layout none = { 0 };
	int r = su_cg_init(&probe, &none, p);

	if (r < 0)
		return su_errorf(error, -EINVAL,
				 "cgroup parent '%s' must be a relative path of plain names", p);
	su_cg_done(&probe);
	return 0;
}

/* The uml backend's settings: its URI query keys, or the context options'
 * driver_options (docs/backends/uml.md). Strings point into @query. */
typedef struct uml_settings {
	const char *binary;
	const char *monitor;
	const char *agent;
	const char *cgroup_parent;
	uint32_t uid_base;
	uint32_t uid_count;
} uml_settings;

static int parse_u32_setting(const char *key, const char *value, uint32_t *ret,
			     soda_error **error)
{
	uint64_t v;

	if (su_parse_u64(value, &v) < 0 || v > UINT32_MAX)
		return su_errorf(error, -EINVAL, "uml option %s='%s' is not a number up to %u", key,
				 value, UINT32_MAX);
	*ret = (uint32_t)v;
	return 0;
}

static int parse_settings(const char *const *query, uml_settings *ret, soda_error **error)
{
	static const char *const path_keys[] = { "binary", "monitor", "agent" };

	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; query[i]; i++) {
		const char *eq = strchr(query[i], '='), *value = eq + 1;
		size_t klen = (size_t)(eq - query[i]);
		const char **paths[] = { &ret->binary, &ret->monitor, &ret->agent };
		int r = 0, which = -1;

		for (int k = 0; k < 3; k++)
			if (strlen(path_keys[k]) == klen && strncmp(query[i], path_keys[k], klen) == 0)
				which = k;
		if (which >= 0) {
			*paths[which] = value;
			r = su_check_abs_path(path_keys[which], value, 1024, error);
		} else if (klen == 8 && strncmp(query[i], "uid_base", 8) == 0) {
			r = parse_u32_setting("uid_base", value, &ret->uid_base, error);
			if (r == 0 && ret->uid_base == 0)
				r = su_errorf(error, -EINVAL, "uml option uid_base must not be 0");
		} else if (klen == 9 && strncmp(query[i], "uid_count", 9) == 0) {
			r = parse_u32_setting("uid_count", value, &ret->uid_count, error);
			if (r == 0 && ret->uid_count == 0)
				r = su_errorf(error, -EINVAL, "uml option uid_count must be positive");
		} else if (klen == 13 && strncmp(query[i], "cgroup_parent", 13) == 0) {
			ret->cgroup_parent = value;
		} else {
			r = su_errorf(error, -EINVAL,
				      "unknown query key '%.*s' (the uml backend takes binary, "
				      "monitor, agent, uid_base, uid_count, cgroup_parent and state)",
				      (int)klen, query[i]);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int uml_open(void **ret_priv, soda_context *ctx, const char *path,
		    const char *const *query, const char *state_dir,
		    const soda_context_options *opts, soda_error **error)
{
	uml_settings set;
	static const char *const subdirs[] = { "host", "images", "servers", "status", "run", NULL };
	struct epoll_event ev = { .events = EPOLLIN };
	const char *env;
	char *p;
	uml *u;
	int r;

	if (strcmp(path, "/") != 0 && strcmp(path, "/system") != 0)
		return su_errorf_at(error, -EINVAL, "uri", 1, 7,
				    "uml URIs have the path / (or /system), not '%s'", path);
	r = parse_settings(query, &set, error);
	if (r < 0)
		return r;
	if (set.uid_base && (uint64_t)set.uid_base + (set.uid_count ? set.uid_count
								     : DEFAULT_UID_COUNT) >
				    UINT32_MAX - 2)
		return su_errorf(error, -EINVAL, "the uid range overflows");
	if (set.uid_base && set.uid_base < 1000)
		return su_errorf(error, -EINVAL, "uid_base %u is a system uid; use one above 1000",
				 set.uid_base);
	if (set.cgroup_parent) {
		r = check_cgroup_parent(set.cgroup_parent, error);
		if (r < 0)
			return r;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return OOM(error);
	u->ctx = ctx;
	u->lock_fd = u->inotify_fd = u->epoll_fd = -1;
	env = getenv("SODA_MONITOR");
	u->state_dir = strdup(state_dir ? state_dir : DEFAULT_STATE_DIR);
	u->uml_binary = strdup(set.binary ? set.binary : DEFAULT_UML);
	if (set.monitor || (env && *env))
		u->monitor_path = strdup(set.monitor ? set.monitor : env);
	else if (!(u->monitor_path = su_find_helper("soda-monitor")))
		u->monitor_path = strdup(SODA_MONITOR_DEFAULT);
	env = getenv("SODA_AGENT");
	if (set.agent || (env && *env))
		u->agent_path = strdup(set.agent ? set.agent : env);
	else if (!(u->agent_path = su_find_helper("soda-agent")))
		u->agent_path = strdup(SODA_AGENT_DEFAULT);
	u->cgroup_parent = strdup(set.cgroup_parent ? set.cgroup_parent : "soda");
	if (!u->state_dir || !u->uml_binary || !u->monitor_path || !u->agent_path ||
	    !u->cgroup_parent) {
		uml_close(u);
		return OOM(error);
	}
	r = su_check_abs_path("state directory", u->state_dir, 512, error);
	if (r < 0) {
		uml_close(u);
		return r;
	}
	if (opts->netns) {
		struct stat nst;

		if (opts->netns[0] == '/') {
			r = su_check_abs_path("network namespace", opts->netns, 512, error);
			u->netns = r == 0 ? strdup(opts->netns) : NULL;
		} else {
			r = su_check_name("network namespace", opts->netns, error);
			u->netns = r == 0 ? su_strdup_printf("/run/netns/%s", opts->netns) : NULL;
		}
		if (r == 0 && !u->netns)
			r = OOM(error);
		if (r == 0 && stat(u->netns, &nst) < 0)
			r = su_errorf(error, su_neg_errno(), "network namespace %s: %s", u->netns,
				      strerror(errno));
		if (r < 0) {
			uml_close(u);
			return r;
		}
	}
	snprintf(u->ctxid, sizeof(u->ctxid), "%08x", fnv1a32(u->state_dir));
	u->uid_count = set.uid_count ? set.uid_count : DEFAULT_UID_COUNT;
	/* Contexts that keep the default each get their own range, so that
	 * guests of two state directories never share a uid. */
	u->uid_base = set.uid_base ? set.uid_base
				   : DEFAULT_UID_BASE + fnv1a32(u->state_dir) % UID_SLOTS *
							       DEFAULT_UID_COUNT;
	if (access(u->uml_binary, X_OK) < 0) {
		r = su_errorf(error, su_neg_errno(),
			      "the guest kernel %s is not there or not executable (install "
			      "user-mode-linux)",
			      u->uml_binary);
		uml_close(u);
		return r;
	}
	/* The state directory itself may be made, not its parents: a
	 * mistyped --state-dir /nonexistent/x is an error, not a new tree. */
	if (mkdir(u->state_dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		r = su_errorf(error, r, r == -ENOENT ? "cannot create the state directory %s: its "
						      "parent directory does not exist"
						    : "cannot create the state directory %s: %s",
			      u->state_dir, strerror(-r));
		uml_close(u);
		return r;
	}
	r = 0;
	for (size_t i = 0; r == 0 && subdirs[i]; i++) {
		p = pathf(u, "%s", subdirs[i]);
		r = p ? su_mkdir_p(p, strcmp(subdirs[i], "images") &&
					      strcmp(subdirs[i], "status") ? 0700 : 0755)
		      : -ENOMEM;
		free(p);
	}
	if (r < 0) {
		r = su_errorf(error, r, "cannot create the state directory %s: %s", u->state_dir,
			      strerror(-r));
		uml_close(u);
		return r;
	}
	p = pathf(u, "lock");
	u->lock_fd = p ? open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
	free(p);
	if (u->lock_fd < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot open the lock file in %s: %s",
			      u->state_dir, strerror(errno));
		uml_close(u);
		return r;
	}
	r = su_cg_layout_detect(&u->layout, NULL, error);
	if (r < 0) {
		uml_close(u);
		return r;
	}
	env = getenv("SODA_TEST_CGROUP_V2_CORE");
	u->layout.prefer_v2_core = env && strcmp(env, "1") == 0;
	u->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	u->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	p = pathf(u, "status");
	if (u->inotify_fd < 0 || u->epoll_fd < 0 || !p ||
	    inotify_add_watch(u->inotify_fd, p, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot watch %s: %s", p ? p : "status",
			      strerror(errno));
		free(p);
		uml_close(u);
		return r;
	}
	free(p);
	p = pathf(u, "servers");
	if (p)
		inotify_add_watch(u->inotify_fd, p, IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM);
	free(p);
	ev.data.fd = u->inotify_fd;
	epoll_ctl(u->epoll_fd, EPOLL_CTL_ADD, u->inotify_fd, &ev);

	r = uml_recover(u, 0, error);
	if (r < 0) {
		uml_close(u);
		return r;
	}
	r = rescan(u, NULL, NULL, error);
	if (r < 0) {
		uml_close(u);
		return r;
	}
	*ret_priv = u;
	return 0;
}

/* ---- define / undefine / lookup ---- */

static int load_config(const uml *u, const char *name, soda_server_config **ret,
		       soda_error **error)
{
	char *p = pathf(u, "servers/%s/config", name), *text = NULL;
	size_t len;
	int r;

	if (!p)
		return OOM(error);
	r = su_read_file(p, 1 << 20, &text, &len);
	if (r == -ENOENT) {
		free(p);
		return su_errorf(error, -ENOENT, "no server named '%s'", name);
	}
	if (r < 0) {
		r = su_errorf(error, r, "cannot read %s: %s", p, strerror(-r));
		free(p);
		return r;
	}
	r = su_config_parse(ret, text, len, p, error);
	if (r == 0) {
		/* The record is root's, but checked as a define checks it. */
		soda_error *inner = NULL;

		r = su_uml_validate(*ret, &inner);
		if (r < 0) {
			su_errorf(error, r, "%s: %s", p, soda_error_message(inner));
			soda_error_free(inner);
			soda_server_config_free(*ret);
			*ret = NULL;
		}
	}
	free(text);
	free(p);
	return r;
}

struct uid_scan {
	uint32_t uid;
};

static int uid_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	uint64_t v;

	(void)line;
	if (strcmp(key, "uid") == 0 && su_parse_u64(value, &v) == 0 && v <= UINT32_MAX)
		((struct uid_scan *)userdata)->uid = (uint32_t)v;
	return 0;
}

static int server_uid(const uml *u, const char *name, uint32_t *ret, soda_error **error)
{
	struct uid_scan s = { 0 };
	char *p = pathf(u, "servers/%s/uml", name);
	int r;

	if (!p)
		return OOM(error);
	r = su_kv_parse_file(p, "soda-uml", 1, NULL, uid_line, &s, error);
	free(p);
	if (r < 0)
		return r;
	if (s.uid == 0)
		return su_errorf(error, -EINVAL, "server '%s' has no jail uid on record", name);
	*ret = s.uid;
	return 0;
}

static int allocate_uid(const uml *u, uint32_t *ret, soda_error **error)
{
	char **names = NULL, *dir = pathf(u, "servers");
	uint32_t *used = NULL;
	size_t n_used = 0;
	int r;

	if (!dir)
		return OOM(error);
	r = list_dir_names(dir, &names);
	free(dir);
	if (r < 0)
		return su_errorf(error, r, "cannot list servers: %s", strerror(-r));
	for (size_t i = 0; names && names[i]; i++) {
		uint32_t uid, *nu;

		if (server_uid(u, names[i], &uid, NULL) < 0)
			continue;
		nu = realloc(used, (n_used + 1) * sizeof(*nu));
		if (!nu) {
			free(used);
			su_strv_free(names);
			return OOM(error);
		}
		used = nu;
		used[n_used++] = uid;
	}
	su_strv_free(names);
	for (uint32_t i = 0; i < u->uid_count; i++) {
		uint32_t cand = u->uid_base + i;
		bool taken = false;

		for (size_t j = 0; j < n_used && !taken; j++)
			taken = used[j] == cand;
		/* Never a uid that belongs to someone on the host. */
		if (!taken && !getpwuid(cand)) {
			free(used);
			*ret = cand;
			return 0;
		}
	}
	free(used);
	return su_errorf(error, -ENOSPC, "all %u jail uids from %u are in use", u->uid_count,
			 u->uid_base);
}

static int image_file(const uml *u, const char *image, char **ret, soda_error **error)
{
	char *p = pathf(u, "images/%s.img", image);
	int r;

	if (!p)
		return OOM(error);
	if (!su_path_exists(p)) {
		free(p);
		return su_errorf(error, -ENOENT,
				 "image '%s' is not in the image store (build it first, e.g. "
				 "'sodactl image build %s')",
				 image, image);
	}
	r = su_image_check(p, error);
	if (r < 0) {
		su_error_prefix(error, "image '%s'", image);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

static int uml_define(void *priv, const soda_server_config *cfg, unsigned int flags,
		      soda_error **error)
{
	uml *u = priv;
	char *img = NULL, *tmp = NULL, *final = NULL, *p = NULL, *text = NULL;
	su_status st;
	uint32_t uid = 0;
	su_buf b = { 0 };
	int r;

	(void)flags;
	r = lock(u, error);
	if (r < 0)
		return r;
	if (server_exists(u, cfg->name)) {
		r = su_errorf(error, -EEXIST, "a server named '%s' already exists", cfg->name);
		goto out;
	}
	r = image_file(u, cfg->image, &img, error);
	if (r < 0)
		goto out;
	r = allocate_uid(u, &uid, error);
	if (r < 0)
		goto out;
	/* Built aside and renamed in: a crash leaves a dot-directory that
	 * recovery removes, never half a server. */
	tmp = pathf(u, "servers/.new-%s-%d", cfg->name, (int)getpid());
	final = pathf(u, "servers/%s", cfg->name);
	text = su_config_serialize(cfg);
	if (!tmp || !final || !text) {
		r = OOM(error);
		goto out;
	}
	su_rm_rf(tmp);
	if (mkdir(tmp, 0700) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	p = su_strdup_printf("%s/config", tmp);
	r = p ? su_write_file_atomic(p, text, strlen(text), 0600) : -ENOMEM;
	free(p);
	p = NULL;
	if (r == 0) {
		su_kv_header(&b, "soda-uml", 1);
		su_kv_add_u64(&b, "uid", uid);
		p = su_strdup_printf("%s/uml", tmp);
		r = p && !b.oom ? su_write_file_atomic(p, b.data, b.len, 0600) : -ENOMEM;
		free(p);
		p = NULL;
	}
	if (r < 0) {
		r = su_errorf(error, r, "cannot write the server's configuration: %s", strerror(-r));
		goto fail;
	}
	p = su_strdup_printf("%s/disk.cow", tmp);
	if (!p) {
		r = OOM(error);
		goto fail;
	}
	r = su_cow_create(p, img, SU_JAIL_REL(SU_JAIL_BASE), uid, uid, error);
	if (r < 0)
		goto fail;
	if (rename(tmp, final) < 0) {
		r = su_errorf(error, errno == ENOTEMPTY || errno == EEXIST ? -EEXIST : su_neg_errno(),
			      "cannot create server '%s': %s", cfg->name, strerror(errno));
		goto fail;
	}
	su_fsync_dir_of(final);
	su_status_init(&st);
	st.uid = uid;
	snprintf(st.reason, sizeof(st.reason), "defined");
	write_status(u, cfg->name, &st, NULL);
	su_log(u->ctx, SODA_LOG_INFO, "defined server %s (uid %u, image %s)", cfg->name, uid,
	       cfg->image);
	goto out;
fail:
	su_rm_rf(tmp);
out:
	unlock(u);
	su_buf_free(&b);
	free(img);
	free(tmp);
	free(final);
	free(p);
	free(text);
	return r;
}

static int uml_lookup(void *priv, const char *name, soda_server_config **ret_cfg,
		      soda_error **error)
{
	return load_config(priv, name, ret_cfg, error);
}

static int uml_list(void *priv, char ***ret_names, soda_error **error)
{
	uml *u = priv;
	char *dir = pathf(u, "servers");
	int r;

	if (!dir)
		return OOM(error);
	r = list_dir_names(dir, ret_names);
	free(dir);
	if (r < 0)
		return su_errorf(error, r, "cannot list servers: %s", strerror(-r));
	return 0;
}

static int uml_status(void *priv, const char *name, soda_backend_status *ret,
		      soda_error **error)
{
	uml *u = priv;
	su_status st;
	bool dead;
	int r;

	r = read_status(u, name, &st, error);
	if (r < 0)
		return r;
	ret->state = effective_state(&st, &dead);
	if (dead && lock(u, NULL) == 0) {
		/* Whoever reads a crash cleans up after it, so "crashed" never
		 * stands beside a leftover cgroup or run directory (a monitor
		 * killed just before this context opened was still exiting when
		 * the open's recovery looked). Re-read under the lock: another
		 * process may have recovered it already. */
		su_status_done(&st);
		r = read_status(u, name, &st, NULL);
		if (r < 0) {
			unlock(u);
			return su_errorf(error, r, "cannot read the status of server '%s'", name);
		}
		ret->state = effective_state(&st, &dead);
		if (dead)
			recover_server(u, name, &st, NULL);
		unlock(u);
	}
	ret->ready = st.ready;
	ret->helper_pid = dead ? 0 : st.monitor_pid;
	ret->guest_pid = dead ? 0 : st.guest_pid;
	ret->uid = st.uid;
	ret->started_usec = st.started_usec;
	ret->ready_usec = st.ready_usec;
	ret->exit_code = st.exit_code;
	ret->exit_signal = st.exit_signal;
	snprintf(ret->reason, sizeof(ret->reason), "%s", dead ? "monitor died" : st.reason);
	if (!ret->uid)
		server_uid(u, name, &ret->uid, NULL);
	su_status_done(&st);
	return 0;
}

static int uml_undefine(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	uml *u = priv;
	char *final = NULL, *trash = NULL, *status = NULL;
	su_status st;
	int r;

	(void)flags;
	r = lock(u, error);
	if (r < 0)
		return r;
	r = read_status(u, name, &st, error);
	if (r < 0)
		goto out;
	if (su_state_is_live(st.state) && monitor_alive(&st)) {
		r = su_errorf(error, -EBUSY, "server '%s' is %s; stop it first", name,
			      soda_state_name(st.state));
		su_status_done(&st);
		goto out;
	}
	if (su_state_is_live(st.state))
		recover_server(u, name, &st, NULL);
	if (st.netdevs) {
		char **left = detach_netdevs(u, name, st.netdevs);

		su_strv_free(left);
	}
	su_status_done(&st);
	final = pathf(u, "servers/%s", name);
	trash = pathf(u, "servers/.old-%s-%d", name, (int)getpid());
	status = pathf(u, "status/%s", name);
	if (!final || !trash || !status) {
		r = OOM(error);
		goto out;
	}
	su_rm_rf(trash);
	if (rename(final, trash) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot remove server '%s': %s", name,
			      strerror(errno));
		goto out;
	}
	unlink(status);
	cleanup_run(u, name);
	su_rm_rf(trash);
	su_log(u->ctx, SODA_LOG_INFO, "undefined server %s", name);
out:
	unlock(u);
	free(final);
	free(trash);
	free(status);
	return r;
}

/* ---- start ---- */

static int resolve_shares(uml *u, const soda_server_config *cfg, char ***ret, soda_error **error)
{
	char **dirs = NULL, *state = realpath(u->state_dir, NULL);

	for (size_t i = 0; i < cfg->n_shares; i++) {
		char *real = realpath(cfg->shares[i].host_dir, NULL);
		int r;

		if (!real || !su_is_dir(real)) {
			int e = real ? -ENOTDIR : su_neg_errno();

			free(real);
			free(state);
			su_strv_free(dirs);
			return su_errorf(error, e, "share %zu: host directory %s: %s", i,
					 cfg->shares[i].host_dir, strerror(-e));
		}
		/* The define checked the name; a symlink may lead elsewhere. */
		r = su_share_check_host_dir(real, state ? state : u->state_dir,
					    cfg->shares[i].flags, error);
		if (r < 0) {
			su_error_prefix(error, "share %zu (%s)", i, cfg->shares[i].host_dir);
			free(real);
			free(state);
			su_strv_free(dirs);
			return r;
		}
		if (su_strv_push_take(&dirs, real) < 0) {
			free(state);
			su_strv_free(dirs);
			return OOM(error);
		}
	}
	free(state);
	if (!dirs && !(dirs = calloc(1, sizeof(char *))))
		return OOM(error);
	*ret = dirs;
	return 0;
}

static void rates_of(const soda_shares *shares, su_shape_rates *r)
{
	memset(r, 0, sizeof(*r));
	soda_shares_get_bandwidth(shares, SODA_DIRECTION_OUT, &r->out_bps, &r->out_burst);
	soda_shares_get_bandwidth(shares, SODA_DIRECTION_IN, &r->in_bps, &r->in_burst);
}

/* Bandwidth shares apply to each NIC's TAP. */
static int shape_nic(uml *u, const soda_shares *shares, const char *ifname, soda_error **error)
{
	su_shape_rates rates;

	if (!su_shares_have_bandwidth(shares))
		return 0;
	rates_of(shares, &rates);
	return su_shape_attach(u->netns, ifname, &rates, error);
}

static int attach_netdevs(uml *u, const soda_server_config *cfg, uint32_t uid, char ***ret,
			  soda_error **error)
{
	void *userdata = NULL;
	const soda_netdev_ops *ops;
	char **ifnames = NULL;

	if (!cfg->n_nics) {
		*ret = calloc(1, sizeof(char *));
		return *ret ? 0 : OOM(error);
	}
	ops = soda_context_get_netdev_ops(u->ctx, &userdata);
	if (!ops)
		return su_errorf(error, -ENOTSUP,
				 "server '%s' has NICs but this context has no network hooks (switch)",
				 cfg->name);
	for (size_t i = 0; i < cfg->n_nics; i++) {
		char ifname[16] = "";
		int r = ops->attach(userdata, cfg->name, (uint32_t)i, cfg->nics[i].network,
				    cfg->nics[i].mac, uid, ifname, error);

		if (r == 0 && (!ifname[0] || memchr(ifname, '\0', 16) == NULL ||
			       strpbrk(ifname, " ,/:")))
			r = su_errorf(error, -EINVAL, "the attach hook gave a bad interface name");
		if (r == 0)
			r = su_strv_push(&ifnames, ifname);
		if (r == 0)
			r = shape_nic(u, cfg->resources, ifname, error);
		if (r < 0) {
			su_shape_detach(u->netns, ifname, NULL);
			for (size_t j = 0; ifnames && ifnames[j]; j++) {
				su_shape_detach(u->netns, ifnames[j], NULL);
				ops->detach(userdata, cfg->name, (uint32_t)j, ifnames[j], NULL);
			}
			su_strv_free(ifnames);
			return r;
		}
	}
	*ret = ifnames;
	return 0;
}

static int spawn_monitor(uml *u, const char *launch_path, soda_error **error)
{
	char *argv[] = { u->monitor_path, "run", (char *)launch_path, "3", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char buf[1024];
	su_buf reply = { 0 };
	int pipefd[2], r, status;
	uint64_t deadline;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return su_errorf(error, su_neg_errno(), "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	/* The caller's signal mask and ignored signals are not the monitor's. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = posix_spawn(&pid, u->monitor_path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return su_errorf(error, -r, "cannot start %s: %s", u->monitor_path, strerror(r));
	}
	deadline = su_mono_usec() + START_TIMEOUT_MS * 1000ull;
	for (;;) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		uint64_t now = su_mono_usec();
		ssize_t n;

		if (now >= deadline) {
			r = su_errorf(error, -ETIMEDOUT, "the monitor did not report within %d s",
				      START_TIMEOUT_MS / 1000);
			kill(pid, SIGKILL);
			break;
		}
		r = poll(&p, 1, (int)((deadline - now) / 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = 0;
			break;
		}
		su_buf_append(&reply, buf, (size_t)n);
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0) {
		su_buf_free(&reply);
		return r;
	}
	if (reply.data && strncmp(reply.data, "ok", 2) == 0) {
		su_buf_free(&reply);
		return 0;
	}
	if (reply.data && strncmp(reply.data, "err ", 4) == 0) {
		char *msg = NULL;
		long code = strtol(reply.data + 4, &msg, 10);

		if (code <= 0 || code > 4095)
			code = EIO;
		r = su_errorf(error, (int)-code, "%s", msg && *msg ? msg + 1 : "monitor failed");
	} else {
		r = su_errorf(error, -EIO, "the monitor exited without a word");
	}
	su_buf_free(&reply);
	return r;
}

/* The cgroup file values that put @shares in force, as launch spec lines. */
static int cgroup_settings(uml *u, const soda_shares *shares, uint64_t memory, char ***ret,
			   soda_error **error)
{
	su_cg_setting *set = NULL;
	char **lines = NULL;
	size_t n = 0;
	int r;

	if (su_shares_have_bandwidth(shares) && !su_shape_available())
		return su_errorf(error, -EOPNOTSUPP,
				 "bandwidth shares need traffic shaping, which this build lacks");
	r = su_shares_cg_settings(shares, memory, &u->layout, &set, &n, error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		r = su_strv_push_take(&lines, su_cg_setting_format(&set[i]));
	free(set);
	if (r == 0 && !lines && !(lines = calloc(1, sizeof(char *))))
		r = -ENOMEM;
	if (r < 0) {
		su_strv_free(lines);
		return OOM(error);
	}
	*ret = lines;
	return 0;
}

static int uml_start(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	uml *u = priv;
	soda_server_config *cfg = NULL;
	char *img = NULL, *cow = NULL, *run = NULL, *p = NULL, *launch_text = NULL;
	char *status_path = NULL, *console_log = NULL, *cgrel = NULL, *mcgrel = NULL;
	char *bbdir = NULL, *ids_rules = NULL;
	char **shares = NULL, **ifnames = NULL, **cg_settings = NULL;
	su_launch launch = { 0 };
	su_cow_info ci;
	su_status st;
	struct stat ist;
	uint32_t uid;
	int r;

	(void)flags;
	r = lock(u, error);
	if (r < 0)
		return r;
	r = load_config(u, name, &cfg, error);
	if (r < 0)
		goto out;
	r = read_status(u, name, &st, error);
	if (r < 0)
		goto out;
	if (su_state_is_live(st.state) && monitor_alive(&st)) {
		r = su_errorf(error, -EBUSY, "server '%s' is already %s", name,
			      soda_state_name(st.state));
		su_status_done(&st);
		goto out;
	}
	if (su_state_is_live(st.state))
		recover_server(u, name, &st, NULL);
	su_status_done(&st);
	r = server_uid(u, name, &uid, error);
	if (r < 0)
		goto out;
	r = image_file(u, cfg->image, &img, error);
	if (r < 0)
		goto out;
	cow = pathf(u, "servers/%s/disk.cow", name);
	if (!cow) {
		r = OOM(error);
		goto out;
	}
	r = su_cow_read(cow, &ci, error);
	if (r < 0) {
		su_error_prefix(error, "server '%s' disk layer", name);
		goto out;
	}
	if (stat(img, &ist) < 0 || (uint32_t)ist.st_mtime != ci.mtime ||
	    (uint64_t)ist.st_size != ci.size) {
		r = su_errorf(error, -ESTALE,
			      "image '%s' changed after server '%s' was defined; its disk layer no "
			      "longer fits",
			      cfg->image, name);
		goto out;
	}
	r = resolve_shares(u, cfg, &shares, error);
	if (r < 0)
		goto out;
	r = cgroup_settings(u, cfg->resources, cfg->memory, &cg_settings, error);
	if (r < 0)
		goto out;
	if (!u->uml_libs) {
		r = su_elf_deps(u->uml_binary, &u->uml_libs, error);
		if (r < 0)
			goto out;
	}
	if (!u->lpj)
		u->lpj = calibrate_lpj(u);
	if (!u->preload_looked)
		find_preload(u);

	run = pathf(u, "run/%s", name);
	status_path = pathf(u, "status/%s", name);
	console_log = pathf(u, "servers/%s/console.log", name);
	cgrel = cgroup_of(u, name);
	mcgrel = su_strdup_printf("%s/%s/_monitors", u->cgroup_parent, u->ctxid);
	if (!run || !status_path || !console_log || !cgrel || !mcgrel) {
		r = OOM(error);
		goto out;
	}
	if (cfg->blackbox) {
		/* The store: root's, out of every jail's reach (soda-monitor
		 * makes the server's own directory in it). */
		bbdir = pathf(u, "blackbox/%s", name);
		p = pathf(u, "blackbox");
		if (!bbdir || !p) {
			r = OOM(error);
			goto out;
		}
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			r = su_errorf(error, su_neg_errno(), "cannot create %s: %s", p,
				      strerror(errno));
			goto out;
		}
		free(p);
		p = NULL;
	}
	/* A crash may have left a run directory; nothing runs from it now. */
	cleanup_run(u, name);
	r = attach_netdevs(u, cfg, uid, &ifnames, error);
	if (r < 0)
		goto out;
	if (mkdir(run, 0700) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot create %s: %s", run, strerror(errno));
		goto fail;
	}
	p = su_strdup_printf("%s/root", run);
	if (!p || mkdir(p, 0755) < 0) {
		r = su_errorf(error, p ? su_neg_errno() : -ENOMEM, "cannot create %s/root", run);
		goto fail;
	}
	free(p);
	p = NULL;
	if (cfg->ids_rules) {
		/* Kernort's rules for the guest: a block device holds whole
		 * sectors, so the text is NUL-padded to one (agent_ids.c reads
		 * up to the first NUL). */
		size_t len = strlen(cfg->ids_rules), padded = (len / 512 + 1) * 512;
		char *buf = calloc(1, padded);

		ids_rules = su_strdup_printf("%s/ids.rules", run);
		if (!buf || !ids_rules) {
			free(buf);
			r = OOM(error);
			goto fail;
		}
		memcpy(buf, cfg->ids_rules, len);
		r = su_write_file_atomic(ids_rules, buf, padded, 0644);
		free(buf);
		if (r < 0) {
			su_errorf(error, r, "cannot write %s: %s", ids_rules, strerror(-r));
			goto fail;
		}
	}
	{
		su_uml_params params = {
			.state_dir = u->state_dir,
			.run_dir = run,
			.status_path = status_path,
			.console_log = console_log,
			.uml_binary = u->uml_binary,
			.uml_libs = u->uml_libs,
			.image_path = img,
			.cow_path = cow,
			.share_dirs = shares,
			.ifnames = ifnames,
			.cgroup = cgrel,
			.monitor_cgroup = mcgrel,
			.prefer_v2_core = u->layout.prefer_v2_core,
			.netns = u->netns,
			.cg_settings = cg_settings,
			.uid = uid,
			.gid = uid,
			.lpj = u->lpj,
			.blackbox_dir = bbdir,
			.uml_preload = u->uml_preload,
			.cow_max = ci.data_offset + ci.size,
			.ids_rules_path = ids_rules,
		};

		r = su_uml_build_launch(&launch, cfg, &params, error);
	}
	if (r < 0)
		goto fail;
	launch_text = su_launch_serialize(&launch);
	p = su_strdup_printf("%s/launch", run);
	if (!launch_text || !p) {
		r = OOM(error);
		goto fail;
	}
	r = su_write_file_atomic(p, launch_text, strlen(launch_text), 0600);
	if (r < 0) {
		su_errorf(error, r, "cannot write %s: %s", p, strerror(-r));
		goto fail;
	}
	r = spawn_monitor(u, p, error);
	if (r < 0) {
		su_error_prefix(error, "starting server '%s'", name);
		goto fail;
	}
	su_log(u->ctx, SODA_LOG_INFO, "started server %s", name);
	goto out;
fail:
	if (ifnames) {
		char **nd = NULL;

		for (size_t i = 0; ifnames[i]; i++)
			su_strv_push_take(&nd, su_strdup_printf("%zu %s", i, ifnames[i]));
		su_strv_free(detach_netdevs(u, name, nd));
		su_strv_free(nd);
	}
	cleanup_run(u, name);
out:
	unlock(u);
	soda_server_config_free(cfg);
	su_launch_free(&launch);
	su_strv_free(shares);
	su_strv_free(ifnames);
	su_strv_free(cg_settings);
	free(img);
	free(cow);
	free(run);
	free(p);
	free(launch_text);
	free(status_path);
	free(console_log);
	free(cgrel);
	free(mcgrel);
	free(bbdir);
	free(ids_rules);
	return r;
}

/* ---- actions on a running server ---- */

/* Reads the status and insists the server is running under a live monitor. */
static int live_status(uml *u, const char *name, su_status *st, soda_error **error)
{
	int r = read_status(u, name, st, error);

	if (r < 0)
		return r;
	if (!su_state_is_live(st->state)) {
		r = su_errorf(error, -EBUSY, "server '%s' is %s, not running", name,
			      soda_state_name(st->state));
		su_status_done(st);
		return r;
	}
	if (!monitor_alive(st)) {
		if (lock(u, NULL) == 0) {
			recover_server(u, name, st, NULL);
			unlock(u);
		}
		su_status_done(st);
		return su_errorf(error, -EBUSY, "server '%s' crashed (its monitor died)", name);
	}
	return 0;
}

/* Waits for the monitor @st names to exit. Returns 0, or -ETIMEDOUT. */
static int wait_monitor_exit(const su_status *st, int timeout_ms)
{
	int fd = su_pidfd_open(st->monitor_pid), r;
	struct pollfd p;

	if (fd < 0)
		return 0; /* already gone */
	if (!su_proc_alive(st->monitor_pid, st->monitor_start)) {
		close(fd);
		return 0;
	}
	p = (struct pollfd){ fd, POLLIN, 0 };
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r > 0 ? 0 : -ETIMEDOUT;
}

/* After the monitor is gone: releases network attachments it left in the
 * status, or cleans up if it died without a last word. */
static void finish_run(uml *u, const char *name)
{
	su_status st;

	if (lock(u, NULL) < 0)
		return;
	if (read_status(u, name, &st, NULL) == 0) {
		if (su_state_is_live(st.state) && !monitor_alive(&st)) {
			recover_server(u, name, &st, NULL);
		} else if (!su_state_is_live(st.state) && st.netdevs) {
			char **left = detach_netdevs(u, name, st.netdevs);

			su_strv_free(st.netdevs);
			st.netdevs = left;
			write_status(u, name, &st, NULL);
		}
		su_status_done(&st);
	}
	unlock(u);
}

static char *run_dir(const uml *u, const char *name)
{
	return pathf(u, "run/%s", name);
}

static int ctl(uml *u, const char *name, const char *request, soda_error **error)
{
	char *run = run_dir(u, name);
	int r;

	if (!run)
		return OOM(error);
	r = su_ctl_request(run, request, NULL, CTL_TIMEOUT_MS, error);
	free(run);
	return r;
}

static int kill_now(uml *u, const char *name, su_status *st, soda_error **error)
{
	int r = ctl(u, name, "kill", NULL);

	if (r == 0)
		r = wait_monitor_exit(st, KILL_WAIT_MS);
	if (r < 0) {
		/* The monitor does not answer: end it, then clean up as after a crash. */
		su_log(u->ctx, SODA_LOG_WARNING, "server %s: monitor unresponsive; killing it",
		       name);
		if (su_proc_alive(st->monitor_pid, st->monitor_start))
			kill(st->monitor_pid, SIGKILL);
		wait_monitor_exit(st, KILL_WAIT_MS);
	}
	finish_run(u, name);
	(void)error;
	return 0;
}

static int uml_stop(void *priv, const char *name, uint32_t timeout_ms, unsigned int flags,
		    soda_error **error)
{
	uml *u = priv;
	su_status st;
	char req[32];
	int r;

	(void)flags;
	r = live_status(u, name, &st, error);
	if (r < 0)
		return r;
	snprintf(req, sizeof(req), "stop %u", timeout_ms);
	r = ctl(u, name, req, error);
	if (r == 0) {
		uint64_t wait = (uint64_t)timeout_ms + STOP_MARGIN_MS;

		r = wait_monitor_exit(&st, wait > INT32_MAX ? INT32_MAX : (int)wait);
	}
	if (r < 0)
		kill_now(u, name, &st, NULL);
	else
		finish_run(u, name);
	su_status_done(&st);
	return 0;
}

static int uml_kill(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	uml *u = priv;
	su_status st;
	int r;

	(void)flags;
	r = live_status(u, name, &st, error);
	if (r < 0)
		return r;
	r = kill_now(u, name, &st, error);
	su_status_done(&st);
	return r;
}

static int uml_freeze(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	uml *u = priv;
	su_status st;
	int r;

	(void)flags;
	r = live_status(u, name, &st, error);
	if (r < 0)
		return r;
	su_status_done(&st);
	return ctl(u, name, "freeze", error);
}

/* The run directory of a server that runs (the IDS talks to its monitor there). */
static int live_run_dir(uml *u, const char *name, char **ret, soda_error **error)
{
	su_status st;
	int r = live_status(u, name, &st, error);

	if (r < 0)
		return r;
	su_status_done(&st);
	*ret = run_dir(u, name);
	return *ret ? 0 : OOM(error);
}

/* The IDS at the server's port: the monitor's ids.sock (ids_ctl.c). */
static int uml_ids(void *priv, const char *name, const char *request, const int *fds,
		   size_t n_fds, char **ret_reply, soda_error **error)
{
	char *run;
	int r = live_run_dir(priv, name, &run, error);

	if (r < 0)
		return r;
	/* Loading rules compiles them: a large set takes seconds. */
	r = su_ids_request(run, request, fds, n_fds, ret_reply, 70000, error);
	free(run);
	return r;
}

static int uml_ids_alerts(void *priv, const char *name, int *ret_fd, soda_error **error)
{
	char *run;
	int r = live_run_dir(priv, name, &run, error);

	if (r < 0)
		return r;
	r = su_ids_open_alerts(run, ret_fd, error);
	free(run);
	return r;
}

/* A command in the guest, through the monitor and the agent (exec_client.h). */
static int uml_exec(void *priv, const char *name, const char *const *argv,
		    const soda_exec_options *opts, int *ret_status, soda_error **error)
{
	uml *u = priv;
	su_status st;
	char *run;
	int r;

	r = live_status(u, name, &st, error);
	if (r < 0)
		return r;
	su_status_done(&st);
	run = run_dir(u, name);
	if (!run)
		return OOM(error);
	r = su_exec_run(run, argv, opts, ret_status, error);
	free(run);
	return r;
}

static int uml_thaw(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	uml *u = priv;
	su_status st;
	int r;

	(void)flags;
	r = live_status(u, name, &st, error);
	if (r < 0)
		return r;
	su_status_done(&st);
	return ctl(u, name, "thaw", error);
}

static int uml_open_console(void *priv, const char *name, int *ret_fd, unsigned int flags,
			    soda_error **error)
{
	uml *u = priv;
	su_status st;
	char *run;
	int r;

	(void)flags;
	r = live_status(u, name, &st, error);
	if (r < 0)
		return r;
	su_status_done(&st);
	run = run_dir(u, name);
	if (!run)
		return OOM(error);
	r = su_ctl_connect(run, SU_CONSOLE_SOCK, SOCK_STREAM, ret_fd, error);
	free(run);
	return r;
}

/* ---- forensic dump ---- */

/* The guest's physical memory: linux.uml maps an unlinked file it made in
 * its TMPDIR; /proc/PID/fd still reaches it. */
static int find_memory_file(pid_t pid, char **ret)
{
	char dir[64];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return su_neg_errno();
	while ((de = readdir(d))) {
		char link[320], target[512];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, SU_JAIL_TMP "/", strlen(SU_JAIL_TMP) + 1) == 0 &&
		    strstr(target, "(deleted)")) {
			closedir(d);
			*ret = strdup(link);
			return *ret ? 0 : -ENOMEM;
		}
	}
	closedir(d);
	return -ENOENT;
}

static int dump_copy(const char *from, const char *dir, const char *name, soda_error **error)
{
	char *to = su_strdup_printf("%s/%s", dir, name);
	int r;

	if (!to)
		return OOM(error);
	r = su_copy_file(from, to, 0600);
	if (r < 0)
		su_errorf(error, r, "cannot copy %s to %s: %s", from, to, strerror(-r));
	free(to);
	return r;
}

static int uml_dump(void *priv, const char *name, const char *dir, unsigned int flags,
		    soda_error **error)
{
	uml *u = priv;
	soda_server_config *cfg = NULL;
	su_status st;
	bool live, froze = false;
	char *p = NULL, *img = NULL;
	uint64_t t0, frozen_usec = 0;
	su_buf man = { 0 };
	struct stat ist;
	int r;

	r = load_config(u, name, &cfg, error);
	if (r < 0)
		return r;
	r = read_status(u, name, &st, error);
	if (r < 0) {
		soda_server_config_free(cfg);
		return r;
	}
	live = su_state_is_live(st.state) && monitor_alive(&st);
	if (mkdir(dir, 0700) < 0) {
		r = su_errorf(error, errno == EEXIST ? -EEXIST : su_neg_errno(),
			      "cannot create dump directory %s: %s", dir, strerror(errno));
		goto out;
	}
	t0 = su_mono_usec();
	if (live && st.state != SODA_STATE_PAUSED) {
		r = ctl(u, name, "freeze", error);
		if (r < 0)
			goto out;
		froze = true;
	}
	p = pathf(u, "servers/%s/disk.cow", name);
	r = p ? dump_copy(p, dir, "disk.cow", error) : OOM(error);
	free(p);
	p = NULL;
	if (r == 0 && live && (flags & SODA_DUMP_MEMORY)) {
		r = find_memory_file(st.guest_pid, &p);
		if (r < 0)
			r = su_errorf(error, r, "cannot find the guest's memory file: %s",
				      strerror(-r));
		else
			r = dump_copy(p, dir, "memory", error);
		free(p);
		p = NULL;
	}
	if (froze) {
		soda_error *e = NULL;

		frozen_usec = su_mono_usec() - t0;
		if (ctl(u, name, "thaw", &e) < 0) {
			if (r == 0)
				r = su_errorf(error, soda_error_code(e), "thaw after dump: %s",
					      soda_error_message(e));
		}
		soda_error_free(e);
	}
	if (r < 0)
		goto out;
	/* Facts: configuration, status, console, and which base the layer needs. */
	p = pathf(u, "servers/%s/config", name);
	r = p ? dump_copy(p, dir, "config", error) : OOM(error);
	free(p);
	p = pathf(u, "status/%s", name);
	if (r == 0 && p && su_path_exists(p))
		r = dump_copy(p, dir, "status", error);
	free(p);
	p = pathf(u, "servers/%s/console.log", name);
	if (r == 0 && p && su_path_exists(p))
		r = dump_copy(p, dir, "console.log", error);
	free(p);
	p = NULL;
	if (r < 0)
		goto out;
	r = image_file(u, cfg->image, &img, error);
	if (r < 0)
		goto out;
	if (stat(img, &ist) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot stat %s", img);
		goto out;
	}
	su_kv_header(&man, "soda-dump", 1);
	su_kv_add(&man, "server", name);
	su_kv_add_u64(&man, "time-usec", su_now_usec());
	su_kv_add(&man, "state", soda_state_name(st.state));
	su_kv_add_u64(&man, "frozen-usec", frozen_usec);
	su_kv_add(&man, "image", cfg->image);
	su_kv_add(&man, "image-path", img);
	su_kv_add_u64(&man, "image-size", (uint64_t)ist.st_size);
	su_kv_add_u64(&man, "image-mtime", (uint64_t)ist.st_mtime);
	su_kv_add(&man, "disk", "disk.cow");
	if (live && (flags & SODA_DUMP_MEMORY))
		su_kv_add(&man, "memory", "memory");
	p = su_strdup_printf("%s/manifest", dir);
	r = p && !man.oom ? su_write_file_atomic(p, man.data, man.len, 0600) : -ENOMEM;
	if (r < 0) {
		su_errorf(error, r, "cannot write the dump manifest");
		goto out;
	}
	if (live) {
		/* The server's blackbox (if it has one) records the snapshot; a
		 * monitor that cannot be told does not undo the dump. */
		char req[240];
		soda_error *e = NULL;

		snprintf(req, sizeof(req), "snapshot forensic dump (disk%s, frozen %" PRIu64 " ms) to %.160s",
			 flags & SODA_DUMP_MEMORY ? " and memory" : "", frozen_usec / 1000, dir);
		if (ctl(u, name, req, &e) < 0)
			su_log(u->ctx, SODA_LOG_WARNING, "server %s: snapshot not recorded: %s", name,
			       soda_error_message(e));
		soda_error_free(e);
	}
out:
	su_buf_free(&man);
	free(p);
	free(img);
	su_status_done(&st);
	soda_server_config_free(cfg);
	return r;
}

/* ---- shares and statistics ---- */

/* Live bandwidth change on each TAP of a running server ("INDEX IFNAME"
 * entries): attach, update or detach as the rates come and go. */
static int reshape(uml *u, const soda_shares *old, const soda_shares *new,
		   char **netdevs, soda_error **error)
{
	su_shape_rates rates;
	int r = 0;

	rates_of(new, &rates);
	for (size_t i = 0; netdevs && netdevs[i] && r == 0; i++) {
		char ifname[32];
		unsigned idx;

		if (sscanf(netdevs[i], "%u %31s", &idx, ifname) != 2)
			continue;
		if (!su_shares_have_bandwidth(new))
			r = su_shape_detach(u->netns, ifname, error);
		else if (!su_shares_have_bandwidth(old))
			r = su_shape_attach(u->netns, ifname, &rates, error);
		else
			r = su_shape_update(u->netns, ifname, &rates, error);
	}
	return r;
}

static int uml_set_shares(void *priv, const char *name, const soda_shares *shares,
			  unsigned int flags, soda_error **error)
{
	uml *u = priv;
	soda_server_config *cfg = NULL;
	su_cg_setting *set = NULL;
	char *text = NULL, *path = NULL, **netdevs = NULL;
	size_t n = 0;
	su_status st;
	bool live = false;
	pid_t monitor = 0;
	int r;

	(void)flags;
	r = lock(u, error);
	if (r < 0)
		return r;
	r = load_config(u, name, &cfg, error);
	if (r < 0)
		goto out;
	r = su_shares_check_memory(shares, cfg->memory, error);
	if (r == 0)
		r = su_uml_check_backstop(shares, cfg->memory, error);
	if (r < 0)
		goto out;
	if (su_shares_have_bandwidth(shares) && !su_shape_available()) {
		r = su_errorf(error, -EOPNOTSUPP,
			      "bandwidth shares need traffic shaping, which this build lacks");
		goto out;
	}
	r = su_shares_cg_settings(shares, cfg->memory, &u->layout, &set, &n, error);
	if (r < 0)
		goto out;
	if (read_status(u, name, &st, NULL) == 0) {
		live = su_state_is_live(st.state) && monitor_alive(&st);
		if (live) {
			netdevs = su_strv_copy(st.netdevs);
			monitor = st.monitor_pid;
		}
		su_status_done(&st);
	}
	if (live) {
		char *cgrel = cgroup_of(u, name);
		su_cgroup cg;

		if (!cgrel || su_cg_init(&cg, &u->layout, cgrel) < 0) {
			free(cgrel);
			r = OOM(error);
			goto out;
		}
		free(cgrel);
		r = su_cg_apply(&cg, set, n, error);
		if (r == 0)
			r = reshape(u, cfg->resources, shares, netdevs, error);
		/* The monitor moves off the guest's new CPUs (as at its start);
		 * not fatal: the shares are in force. */
		for (size_t i = 0; r == 0 && i < n; i++)
			if (set[i].ctrl == SU_CG_CPUSET && strcmp(set[i].file, "cpuset.cpus") == 0)
				su_affinity_avoid(monitor, set[i].value);
		if (r < 0) {
			su_error_prefix(error, "changing the shares of server '%s'", name);
			su_cg_done(&cg);
			goto out;
		}
		su_cg_done(&cg);
	}
	soda_shares_free(cfg->resources);
	cfg->resources = NULL;
	r = soda_shares_copy(&cfg->resources, shares, error);
	if (r < 0)
		goto out;
	text = su_config_serialize(cfg);
	path = pathf(u, "servers/%s/config", name);
	r = text && path ? su_write_file_atomic(path, text, strlen(text), 0600) : -ENOMEM;
	if (r < 0)
		su_errorf(error, r, "cannot record the shares: %s", strerror(-r));
out:
	unlock(u);
	free(set);
	free(text);
	free(path);
	su_strv_free(netdevs);
	soda_server_config_free(cfg);
	return r;
}

static int uml_stats(void *priv, const char *name, uint64_t *value, uint8_t *have,
		     soda_error **error)
{
	uml *u = priv;
	su_status st;
	char *cgrel;
	su_cgroup cg;
	int r;

	r = live_status(u, name, &st, error);
	if (r < 0)
		return r;
	su_status_done(&st);
	cgrel = cgroup_of(u, name);
	if (!cgrel || su_cg_init(&cg, &u->layout, cgrel) < 0) {
		free(cgrel);
		return OOM(error);
	}
	su_cg_stats(&cg, value, have);
	su_cg_done(&cg);
	free(cgrel);
	/* Network counters of shaped TAPs (all NICs together). */
	if (read_status(u, name, &st, NULL) == 0) {
		su_shape_counters total = { 0 };
		bool any = false;

		for (size_t i = 0; st.netdevs && st.netdevs[i]; i++) {
			su_shape_counters c;
			char ifname[32];
			unsigned idx;

			if (sscanf(st.netdevs[i], "%u %31s", &idx, ifname) != 2 ||
			    su_shape_counters_read(u->netns, ifname, &c, NULL) < 0)
				continue;
			any = true;
			total.out_bytes += c.out_bytes;
			total.out_packets += c.out_packets;
			total.out_drops += c.out_drops;
			total.in_bytes += c.in_bytes;
			total.in_packets += c.in_packets;
			total.in_drops += c.in_drops;
		}
		if (any) {
			const uint64_t vals[] = { total.out_bytes, total.out_packets, total.out_drops,
						  total.in_bytes,  total.in_packets,  total.in_drops };

			for (int k = 0; k < 6; k++) {
				value[SODA_STAT_NET_OUT_BYTES + k] = vals[k];
				have[SODA_STAT_NET_OUT_BYTES + k] = 1;
			}
		}
		su_status_done(&st);
	}
	return 0;
}

/* ---- images ---- */

static bool image_in_use(uml *u, const char *image, char **user)
{
	char **names = NULL, *dir = pathf(u, "servers");
	bool used = false;

	if (dir && list_dir_names(dir, &names) == 0) {
		for (size_t i = 0; names && names[i] && !used; i++) {
			soda_server_config *cfg = NULL;

			if (load_config(u, names[i], &cfg, NULL) == 0 &&
			    strcmp(cfg->image, image) == 0) {
				used = true;
				*user = strdup(names[i]);
			}
			soda_server_config_free(cfg);
		}
	}
	free(dir);
	su_strv_free(names);
	return used;
}

static int uml_image_build(void *priv, const char *name, int source_kind, const char *source,
			   uint64_t size_bytes, unsigned int flags, soda_error **error)
{
	uml *u = priv;
	char *images = pathf(u, "images"), *work = pathf(u, "tmp"), *img = NULL, *user = NULL;
	int r;

	if (!images || !work) {
		free(images);
		free(work);
		return OOM(error);
	}
	r = lock(u, error);
	if (r < 0)
		goto out_free;
	img = pathf(u, "images/%s.img", name);
	if (!img) {
		r = OOM(error);
		goto out;
	}
	if (su_path_exists(img)) {
		if (!(flags & SODA_IMAGE_REPLACE)) {
			r = su_errorf(error, -EEXIST, "image '%s' already exists", name);
			goto out;
		}
		if (image_in_use(u, name, &user)) {
			r = su_errorf(error, -EBUSY,
				      "image '%s' is used by server '%s'; their disk layers depend on it",
				      name, user ? user : "?");
			goto out;
		}
	}
	{
		su_image_request req = { images, work, name, source_kind, source, size_bytes,
					 NULL, u->agent_path };

		r = su_image_build(&req, error);
	}
	if (r == 0)
		su_log(u->ctx, SODA_LOG_INFO, "built image %s", name);
out:
	unlock(u);
out_free:
	free(images);
	free(work);
	free(img);
	free(user);
	return r;
}

static int uml_image_list(void *priv, char ***ret_names, soda_error **error)
{
	uml *u = priv;
	char *dir = pathf(u, "images");
	DIR *d;
	struct dirent *de;
	char **names = NULL;

	if (!dir)
		return OOM(error);
	d = opendir(dir);
	free(dir);
	if (!d)
		return su_errorf(error, su_neg_errno(), "cannot list images: %s", strerror(errno));
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *n;

		if (len < 5 || strcmp(de->d_name + len - 4, ".img") != 0)
			continue;
		n = strndup(de->d_name, len - 4);
		if (!n || soda_name_check(n, NULL) < 0) {
			free(n);
			continue;
		}
		su_strv_push_take(&names, n);
	}
	closedir(d);
	*ret_names = names;
	return 0;
}

static int uml_image_remove(void *priv, const char *name, unsigned int flags,
			    soda_error **error)
{
	uml *u = priv;
	char *img = pathf(u, "images/%s.img", name), *info = pathf(u, "images/%s.info", name);
	char *user = NULL;
	int r;

	(void)flags;
	if (!img || !info) {
		free(img);
		free(info);
		return OOM(error);
	}
	r = lock(u, error);
	if (r < 0)
		goto out_free;
	if (!su_path_exists(img))
		r = su_errorf(error, -ENOENT, "no image named '%s'", name);
	else if (image_in_use(u, name, &user))
		r = su_errorf(error, -EBUSY, "image '%s' is used by server '%s'", name,
			      user ? user : "?");
	else if (unlink(img) < 0)
		r = su_errorf(error, su_neg_errno(), "cannot remove %s: %s", img, strerror(errno));
	if (r == 0)
		unlink(info);
	unlock(u);
out_free:
	free(img);
	free(info);
	free(user);
	return r;
}

static int uml_image_path(void *priv, const char *name, char **ret_path, soda_error **error)
{
	return image_file(priv, name, ret_path, error);
}

static int uml_validate(void *priv, const soda_server_config *cfg, soda_error **error)
{
	(void)priv;
	return su_uml_validate(cfg, error);
}

/* The tenant's blackbox store: root's, out of every jail's reach. */
static int uml_blackbox_dir(void *priv, const char *name, char **ret_path, soda_error **error)
{
	*ret_path = pathf(priv, "blackbox/%s", name);
	return *ret_path ? 0 : OOM(error);
}

const soda_backend_driver su_uml_driver = {
	.version = SODA_BACKEND_VERSION,
	.scheme = "uml",
	.open = uml_open,
	.close = uml_close,
	.state_dir = uml_state_dir,
	.netns = uml_netns,
	.recover = uml_recover,
	.get_fd = uml_get_fd,
	.process = uml_process,
	.validate = uml_validate,
	.define = uml_define,
	.undefine = uml_undefine,
	.lookup = uml_lookup,
	.list = uml_list,
	.status = uml_status,
	.start = uml_start,
	.stop = uml_stop,
	.kill = uml_kill,
	.freeze = uml_freeze,
	.ids = uml_ids,
	.ids_alerts = uml_ids_alerts,
	.exec = uml_exec,
	.thaw = uml_thaw,
	.dump = uml_dump,
	.open_console = uml_open_console,
	.blackbox_dir = uml_blackbox_dir,
	.set_shares = uml_set_shares,
	.stats = uml_stats,
	.image_build = uml_image_build,
	.image_list = uml_image_list,
	.image_remove = uml_image_remove,
	.image_path = uml_image_path,
};
