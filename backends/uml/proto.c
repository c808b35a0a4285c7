/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <soda/context.h>

#include "../../libsoda/kv.h"
#include "proto.h"

/* ---- launch spec ---- */

void su_launch_free(su_launch *l)
{
	free(l->name);
	free(l->state_dir);
	free(l->run_dir);
	free(l->status_path);
	free(l->console_log);
	free(l->cgroup);
	free(l->monitor_cgroup);
	free(l->netns);
	free(l->blackbox_dir);
	free(l->blackbox_key);
	free(l->blackbox_retention);
	free(l->preload);
	for (size_t i = 0; i < l->n_mounts; i++) {
		free(l->mounts[i].dst);
		free(l->mounts[i].src);
	}
	free(l->mounts);
	su_strv_free(l->argv);
	su_strv_free(l->netdevs);
	su_strv_free(l->cg_settings);
	memset(l, 0, sizeof(*l));
}

int su_launch_add_mount(su_launch *l, enum su_mount_kind kind, const char *dst,
			const char *src, uint64_t size, uint32_t mode, uint32_t uid)
{
	su_mount *m = realloc(l->mounts, (l->n_mounts + 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	l->mounts = m;
	m = &l->mounts[l->n_mounts];
	*m = (su_mount){ kind, strdup(dst), src ? strdup(src) : NULL, size, mode, uid };
	if (!m->dst || (src && !m->src)) {
		free(m->dst);
		free(m->src);
		return -ENOMEM;
	}
	l->n_mounts++;
	return 0;
}

static const char *const mount_keys[] = { "bind-ro", "bind-rw", "bind-dev", "tmpfs", "chardev" };

char *su_launch_serialize(const su_launch *l)
{
	su_buf b = { 0 };

	su_kv_header(&b, SU_LAUNCH_MAGIC, SU_LAUNCH_VERSION);
	su_kv_add(&b, "name", l->name);
	su_kv_add(&b, "state-dir", l->state_dir);
	su_kv_add(&b, "run-dir", l->run_dir);
	su_kv_add(&b, "status", l->status_path);
	su_kv_add(&b, "console-log", l->console_log);
	su_kv_add(&b, "cgroup", l->cgroup);
	su_kv_add(&b, "monitor-cgroup", l->monitor_cgroup);
	su_kv_add_u64(&b, "prefer-v2-core", l->prefer_v2_core);
	if (l->netns)
		su_kv_add(&b, "netns", l->netns);
	if (l->blackbox_dir) {
		su_kv_add(&b, "blackbox-dir", l->blackbox_dir);
		su_kv_add(&b, "blackbox-key", l->blackbox_key);
		if (l->blackbox_retention)
			su_kv_add(&b, "blackbox-retention", l->blackbox_retention);
	}
	if (l->preload)
		su_kv_add(&b, "preload", l->preload);
	if (l->ids_landlord)
		su_kv_add(&b, "ids-landlord", "yes");
	su_kv_add_u64(&b, "uid", l->uid);
	su_kv_add_u64(&b, "gid", l->gid);
	su_kv_add_u64(&b, "memory", l->memory);
	if (l->fsize)
		su_kv_add_u64(&b, "fsize", l->fsize);
	if (l->fsize_run)
		su_kv_add_u64(&b, "fsize-run", l->fsize_run);
	for (size_t i = 0; i < l->n_mounts; i++) {
		const su_mount *m = &l->mounts[i];
		char *v;

		if (m->kind == SU_MNT_TMPFS)
			v = su_strdup_printf("%s:%" PRIu64 ":%o:%u", m->dst, m->size, m->mode, m->uid);
		else if (m->kind == SU_MNT_CHARDEV)
			v = su_strdup_printf("%s:%u:%u:%u", m->dst, major((dev_t)m->size),
					     minor((dev_t)m->size), m->uid);
		else
			v = su_strdup_printf("%s:%s", m->dst, m->src);
		if (!v) {
			su_buf_free(&b);
			return NULL;
		}
		su_kv_add(&b, mount_keys[m->kind], v);
		free(v);
	}
	for (size_t i = 0; l->argv && l->argv[i]; i++)
		su_kv_add(&b, "arg", l->argv[i]);
	for (size_t i = 0; l->netdevs && l->netdevs[i]; i++)
		su_kv_add(&b, "netdev", l->netdevs[i]);
	for (size_t i = 0; l->cg_settings && l->cg_settings[i]; i++)
		su_kv_add(&b, "cgroup-set", l->cg_settings[i]);
	return su_buf_steal(&b);
}

struct launch_parse {
	su_launch *l;
	const char *source;
	soda_error **error;
};

static int set_str(char **field, const char *value)
{
	char *c = strdup(value);

	if (!c)
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

static bool jail_path_ok(const char *p)
{
	/* Jail paths are made by the library: absolute, no "..", no ':'. */
	return p[0] == '/' && !strstr(p, "..") && !strchr(p, ':') && strlen(p) < 256;
}

static int launch_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	struct launch_parse *lp = userdata;
	su_launch *l = lp->l;
	uint64_t v;

	if (strcmp(key, "name") == 0)
		return set_str(&l->name, value);
	if (strcmp(key, "state-dir") == 0)
		return set_str(&l->state_dir, value);
	if (strcmp(key, "run-dir") == 0)
		return set_str(&l->run_dir, value);
	if (strcmp(key, "status") == 0)
		return set_str(&l->status_path, value);
	if (strcmp(key, "console-log") == 0)
		return set_str(&l->console_log, value);
	if (strcmp(key, "cgroup") == 0)
		return set_str(&l->cgroup, value);
	if (strcmp(key, "monitor-cgroup") == 0)
		return set_str(&l->monitor_cgroup, value);
	if (strcmp(key, "netns") == 0) {
		if (value[0] != '/')
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 7,
					    "%s:%u: netns must be an absolute path", lp->source, line);
		return set_str(&l->netns, value);
	}
	if (strcmp(key, "blackbox-dir") == 0) {
		if (value[0] != '/')
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 14,
					    "%s:%u: blackbox-dir must be an absolute path",
					    lp->source, line);
		return set_str(&l->blackbox_dir, value);
	}
	if (strcmp(key, "blackbox-key") == 0)
		return set_str(&l->blackbox_key, value);
	if (strcmp(key, "blackbox-retention") == 0)
		return set_str(&l->blackbox_retention, value);
	if (strcmp(key, "preload") == 0) {
		if (value[0] != '/')
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 9,
					    "%s:%u: preload must be an absolute path", lp->source,
					    line);
		return set_str(&l->preload, value);
	}
	if (strcmp(key, "ids-landlord") == 0) {
		if (strcmp(value, "yes") != 0)
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 14,
					    "%s:%u: ids-landlord must be 'yes'", lp->source, line);
		l->ids_landlord = true;
		return 0;
	}
	if (strcmp(key, "arg") == 0)
		return su_strv_push(&l->argv, value);
	if (strcmp(key, "netdev") == 0)
		return su_strv_push(&l->netdevs, value);
	if (strcmp(key, "cgroup-set") == 0)
		return su_strv_push(&l->cg_settings, value);
	if (strcmp(key, "fsize") == 0 || strcmp(key, "fsize-run") == 0) {
		if (su_parse_u64(value, &v) < 0 || v == 0 || v > INT64_MAX)
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 1,
					    "%s:%u: bad file size limit '%s'", lp->source, line,
					    value);
		if (key[5] == '\0')
			l->fsize = v;
		else
			l->fsize_run = v;
		return 0;
	}
	if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0 || strcmp(key, "memory") == 0 ||
	    strcmp(key, "prefer-v2-core") == 0) {
		if (su_parse_u64(value, &v) < 0 || (key[0] != 'm' && v > UINT32_MAX))
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 1,
					    "%s:%u: bad number '%s'", lp->source, line, value);
		if (key[0] == 'u')
			l->uid = (uint32_t)v;
		else if (key[0] == 'g')
			l->gid = (uint32_t)v;
		else if (key[0] == 'm')
			l->memory = v;
		else
			l->prefer_v2_core = v != 0;
		return 0;
	}
	for (int k = 0; k < (int)SU_ARRAY_SIZE(mount_keys); k++) {
		char *copy, *colon;
		int r = 0;

		if (strcmp(key, mount_keys[k]) != 0)
			continue;
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		colon = strchr(copy, ':');
		if (!colon) {
			free(copy);
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 1,
					    "%s:%u: mount '%s' lacks ':'", lp->source, line, value);
		}
		*colon++ = '\0';
		if (!jail_path_ok(copy)) {
			free(copy);
			return su_errorf_at(lp->error, -EINVAL, lp->source, line, 1,
					    "%s:%u: bad jail path", lp->source, line);
		}
		if (k == SU_MNT_TMPFS) {
			uint64_t size;
			unsigned mode, uid;
			char tail;

			if (sscanf(colon, "%" SCNu64 ":%o:%u%c", &size, &mode, &uid, &tail) != 3)
				r = su_errorf_at(lp->error, -EINVAL, lp->source, line, 1,
						 "%s:%u: bad tmpfs '%s'", lp->source, line, value);
			else
				r = su_launch_add_mount(l, SU_MNT_TMPFS, copy, NULL, size, mode, uid);
		} else if (k == SU_MNT_CHARDEV) {
			unsigned maj, min, uid;
			char tail;

			if (sscanf(colon, "%u:%u:%u%c", &maj, &min, &uid, &tail) != 3)
				r = su_errorf_at(lp->error, -EINVAL, lp->source, line, 1,
						 "%s:%u: bad chardev '%s'", lp->source, line, value);
			else
				r = su_launch_add_mount(l, SU_MNT_CHARDEV, copy, NULL,
							(uint64_t)makedev(maj, min), 0600, uid);
		} else if (colon[0] != '/') {
			r = su_errorf_at(lp->error, -EINVAL, lp->source, line, 1,
					 "%s:%u: bind source is not absolute", lp->source, line);
		} else {
			r = su_launch_add_mount(l, (enum su_mount_kind)k, copy, colon, 0, 0, 0);
		}
		free(copy);
		return r;
	}
	return su_errorf_at(lp->error, -EINVAL, lp->source, line, 1, "%s:%u: unknown key '%s'",
			    lp->source, line, key);
}

int su_launch_parse(su_launch *ret, const char *text, size_t len, const char *source,
		    soda_error **error)
{
	su_launch l = { 0 };
	struct launch_parse lp = { &l, source, error };
	int r;

	r = su_kv_parse(text, len, source, SU_LAUNCH_MAGIC, SU_LAUNCH_VERSION, NULL, launch_line,
			&lp, error);
	if (r == 0 && (!l.name || !l.state_dir || !l.run_dir || !l.status_path || !l.cgroup ||
		       !l.console_log || !l.monitor_cgroup || !l.argv || !l.uid || !l.gid ||
		       !l.blackbox_dir != !l.blackbox_key))
		r = su_errorf(error, -EINVAL, "%s: incomplete launch spec", source);
	if (r < 0) {
		su_errorf(error, r, "%s: %s", source, strerror(-r));
		su_launch_free(&l);
		return r;
	}
	*ret = l;
	return 0;
}

/* ---- status ---- */

void su_status_init(su_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = SODA_STATE_SHUTOFF;
	st->exit_code = -1;
}

void su_status_done(su_status *st)
{
	su_strv_free(st->netdevs);
	st->netdevs = NULL;
}

bool su_state_is_live(int state)
{
	return state == SODA_STATE_STARTING || state == SODA_STATE_RUNNING ||
	       state == SODA_STATE_PAUSED || state == SODA_STATE_STOPPING;
}

char *su_status_serialize(const su_status *st)
{
	su_buf b = { 0 };

	su_kv_header(&b, SU_STATUS_MAGIC, SU_STATUS_VERSION);
	su_kv_add(&b, "state", soda_state_name(st->state));
	su_kv_add(&b, "reason", st->reason[0] ? st->reason : "-");
	su_kv_add_i64(&b, "monitor-pid", st->monitor_pid);
	su_kv_add_u64(&b, "monitor-start", st->monitor_start);
	su_kv_add_i64(&b, "guest-pid", st->guest_pid);
	su_kv_add_u64(&b, "uid", st->uid);
	su_kv_add_u64(&b, "started-usec", st->started_usec);
	su_kv_add_u64(&b, "ready", st->ready);
	su_kv_add_u64(&b, "ready-usec", st->ready_usec);
	su_kv_add_i64(&b, "exit-code", st->exit_code);
	su_kv_add_i64(&b, "exit-signal", st->exit_signal);
	for (size_t i = 0; st->netdevs && st->netdevs[i]; i++)
		su_kv_add(&b, "netdev", st->netdevs[i]);
	if (st->bb_anchor[0])
		su_kv_add(&b, "blackbox-anchor", st->bb_anchor);
	if (st->bb_usage)
		su_kv_add_u64(&b, "blackbox-usage", st->bb_usage);
	return su_buf_steal(&b);
}

struct status_parse {
	su_status *st;
	const char *source;
	soda_error **error;
};

static int status_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	struct status_parse *sp = userdata;
	su_status *st = sp->st;
	int64_t v = 0;

	if (strcmp(key, "state") == 0) {
		for (int s = SODA_STATE_SHUTOFF; s <= SODA_STATE_CRASHED; s++)
			if (strcmp(value, soda_state_name(s)) == 0) {
				st->state = s;
				return 0;
			}
		return su_errorf_at(sp->error, -EINVAL, sp->source, line, 7,
				    "%s:%u: unknown state '%s'", sp->source, line, value);
	}
	if (strcmp(key, "reason") == 0) {
		snprintf(st->reason, sizeof(st->reason), "%s", strcmp(value, "-") ? value : "");
		return 0;
	}
	if (strcmp(key, "netdev") == 0)
		return su_strv_push(&st->netdevs, value);
	if (strcmp(key, "blackbox-anchor") == 0) {
		if (strlen(value) >= sizeof(st->bb_anchor))
			return su_errorf_at(sp->error, -EINVAL, sp->source, line, 17,
					    "%s:%u: blackbox-anchor is too long", sp->source, line);
		snprintf(st->bb_anchor, sizeof(st->bb_anchor), "%s", value);
		return 0;
	}
	if (su_parse_i64(value, &v) < 0)
		return su_errorf_at(sp->error, -EINVAL, sp->source, line, (uint32_t)strlen(key) + 2,
				    "%s:%u: '%s' is not a number", sp->source, line, value);
	if (strcmp(key, "monitor-pid") == 0)
		st->monitor_pid = (int32_t)v;
	else if (strcmp(key, "monitor-start") == 0)
		st->monitor_start = (uint64_t)v;
	else if (strcmp(key, "guest-pid") == 0)
		st->guest_pid = (int32_t)v;
	else if (strcmp(key, "uid") == 0)
		st->uid = (uint32_t)v;
	else if (strcmp(key, "started-usec") == 0)
		st->started_usec = (uint64_t)v;
	else if (strcmp(key, "ready") == 0)
		st->ready = v != 0;
	else if (strcmp(key, "ready-usec") == 0)
		st->ready_usec = (uint64_t)v;
	else if (strcmp(key, "exit-code") == 0)
		st->exit_code = (int32_t)v;
	else if (strcmp(key, "exit-signal") == 0)
		st->exit_signal = (int32_t)v;
	else if (strcmp(key, "blackbox-usage") == 0 && v >= 0 && v <= 100)
		st->bb_usage = (uint32_t)v;
	else
		return su_errorf_at(sp->error, -EINVAL, sp->source, line, 1,
				    "%s:%u: unknown key '%s'", sp->source, line, key);
	return 0;
}

int su_status_parse(su_status *ret, const char *text, size_t len, const char *source,
		    soda_error **error)
{
	su_status st;
	struct status_parse sp = { &st, source, error };
	int r;

	su_status_init(&st);
	r = su_kv_parse(text, len, source, SU_STATUS_MAGIC, SU_STATUS_VERSION, NULL, status_line,
			&sp, error);
	if (r < 0) {
		su_status_done(&st);
		return r;
	}
	*ret = st;
	return 0;
}

int su_status_read(su_status *ret, const char *path, soda_error **error)
{
	char *text = NULL;
	size_t len;
	int r;

	r = su_read_file(path, 65536, &text, &len);
	if (r < 0)
		return su_errorf(error, r, "cannot read %s: %s", path, strerror(-r));
	r = su_status_parse(ret, text, len, path, error);
	free(text);
	return r;
}

int su_status_write(const su_status *st, const char *path)
{
	char *text = su_status_serialize(st);
	int r;

	if (!text)
		return -ENOMEM;
	r = su_write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	return r;
}

/* ---- control ---- */

int su_ctl_connect(const char *dir, const char *sock, int type, int *ret_fd,
		   soda_error **error)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd, fd, r;

	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open %s: %s", dir, strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, sock);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = su_neg_errno();
		close(dfd);
		return su_errorf(error, r, "socket: %s", strerror(-r));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = su_neg_errno();
		close(fd);
		close(dfd);
		return su_errorf(error, r, "cannot connect to %s/%s: %s", dir, sock, strerror(-r));
	}
	close(dfd);
	*ret_fd = fd;
	return 0;
}

int su_ctl_request(const char *run_dir, const char *request, char **ret_data, int timeout_ms,
		   soda_error **error)
{
	char reply[SU_CTL_MAX + 1];
	struct pollfd pfd;
	ssize_t n;
	int fd, r;

	r = su_ctl_connect(run_dir, SU_CTL_SOCK, SOCK_SEQPACKET, &fd, error);
	if (r < 0)
		return r;
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		r = su_neg_errno();
		close(fd);
		return su_errorf(error, r, "cannot send to the monitor: %s", strerror(-r));
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		close(fd);
		return su_errorf(error, r == 0 ? -ETIMEDOUT : su_neg_errno(),
				 "the monitor did not answer '%s' within %d ms", request, timeout_ms);
	}
	n = recv(fd, reply, SU_CTL_MAX, 0);
	r = n < 0 ? su_neg_errno() : 0;
	close(fd);
	if (n <= 0)
		return su_errorf(error, n == 0 ? -ECONNRESET : r,
				 "the monitor hung up on '%s'", request);
	reply[n] = '\0';
	if (strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' || reply[2] == ' ')) {
		if (ret_data) {
			*ret_data = strdup(reply[2] ? reply + 3 : "");
			if (!*ret_data)
				return su_errorf(error, -ENOMEM, "out of memory");
		}
		return 0;
	}
	if (strncmp(reply, "err ", 4) == 0) {
		char *msg = NULL;
		long code = strtol(reply + 4, &msg, 10);

		if (code <= 0 || code > 4095)
			code = EIO;
		return su_errorf(error, (int)-code, "%s", msg && *msg ? msg + 1 : "monitor error");
	}
	return su_errorf(error, -EPROTO, "the monitor answered '%s' with garbage", request);
}
