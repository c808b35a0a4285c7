/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"

#define WAIT_USEC (5u * 1000 * 1000)

static const char *const names[SU_CG_N] = { "cpu", "cpuacct", "memory", "pids", "freezer",
					    "cpuset" };

const char *su_cg_controller_name(enum su_cg_controller c)
{
	return c < SU_CG_N ? names[c] : "?";
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_mount(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

void su_cg_layout_free(su_cg_layout *layout)
{
	for (int i = 0; i < SU_CG_N; i++)
		free(layout->v1[i]);
	free(layout->v2);
	memset(layout, 0, sizeof(*layout));
}

static void read_v2_controllers(su_cg_layout *l)
{
	char *path, *text = NULL;

	path = su_strdup_printf("%s/cgroup.controllers", l->v2);
	if (!path)
		return;
	if (su_read_file(path, 4096, &text, NULL) == 0) {
		for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n")) {
			for (int i = 0; i < SU_CG_N; i++)
				if (strcmp(tok, names[i]) == 0)
					l->v2_has[i] = true;
			/* v2's cpu controller also does what v1's cpuacct did. */
			if (strcmp(tok, "cpu") == 0)
				l->v2_has[SU_CG_CPUACCT] = true;
		}
	}
	free(text);
	free(path);
}

int su_cg_layout_detect(su_cg_layout *ret, const char *mountinfo_text, soda_error **error)
{
	su_cg_layout l = { 0 };
	char *owned = NULL, *line, *save = NULL;
	int r;

	if (!mountinfo_text) {
		r = su_read_file("/proc/self/mountinfo", 4 << 20, &owned, NULL);
		if (r < 0)
			return su_errorf(error, r, "cannot read /proc/self/mountinfo: %s",
					 strerror(-r));
		mountinfo_text = owned;
	}
	char *text = strdup(mountinfo_text);
	free(owned);
	if (!text)
		return su_errorf(error, -ENOMEM, "out of memory");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent major:minor root mountpoint options [optional...] - fstype source superoptions */
		char *fields[6] = { 0 }, *p = line, *dash, *fstype, *super, *mp;
		int n = 0;

		dash = strstr(line, " - ");
		if (!dash)
			continue;
		*dash = '\0';
		while (n < 6 && p) {
			fields[n++] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		if (n < 5)
			continue;
		fstype = dash + 3;
		super = strchr(fstype, ' ');
		if (!super)
			continue;
		*super++ = '\0';
		super = strchr(super, ' '); /* skip source */
		if (!super)
			continue;
		super++;
		if (strcmp(fields[3], "/") != 0)
			continue; /* a bind of a sub-cgroup, not a hierarchy root */
		mp = unescape_mount(fields[4]);
		if (!mp) {
			free(text);
			su_cg_layout_free(&l);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
		if (strcmp(fstype, "cgroup2") == 0) {
			if (!l.v2) {
				l.v2 = mp;
				mp = NULL;
			}
		} else if (strcmp(fstype, "cgroup") == 0) {
			char *opts = strdup(super), *osave = NULL;

			for (char *o = opts ? strtok_r(opts, ",", &osave) : NULL; o;
			     o = strtok_r(NULL, ",", &osave))
				for (int i = 0; i < SU_CG_N; i++)
					if (strcmp(o, names[i]) == 0 && !l.v1[i])
						l.v1[i] = strdup(mp);
			free(opts);
		}
		free(mp);
	}
	free(text);
	if (l.v2)
		read_v2_controllers(&l);
	/* A controller held by v1 is not usable on v2. */
	for (int i = 0; i < SU_CG_N; i++)
		if (l.v1[i])
			l.v2_has[i] = false;
	*ret = l;
	return 0;
}

bool su_cg_has(const su_cg_layout *l, enum su_cg_controller c)
{
	return l->v1[c] || (l->v2 && l->v2_has[c]);
}

const char *su_cg_version_of(const su_cg_layout *l, enum su_cg_controller c)
{
	if (l->v1[c])
		return "v1";
	if (l->v2 && l->v2_has[c])
		return "v2";
	return "none";
}

static bool safe_rel(const char *rel)
{
	if (!rel || !*rel || rel[0] == '/' || strlen(rel) > 512)
		return false;
	for (const char *p = rel; *p;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < len; i++) {
			char c = p[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
				return false;
		}
		p = slash ? slash + 1 : p + len;
	}
	return true;
}

int su_cg_init(su_cgroup *cg, const su_cg_layout *layout, const char *rel)
{
	if (!safe_rel(rel))
		return -EINVAL;
	cg->layout = layout;
	cg->rel = strdup(rel);
	return cg->rel ? 0 : -ENOMEM;
}

void su_cg_done(su_cgroup *cg)
{
	free(cg->rel);
	cg->rel = NULL;
}

/* The distinct hierarchy roots the cgroup lives in: each v1 mount of a
 * controller we use, plus the unified hierarchy. */
static size_t roots(const su_cgroup *cg, const char *out[SU_CG_N + 1])
{
	size_t n = 0;

	for (int i = 0; i < SU_CG_N; i++) {
		const char *m = cg->layout->v1[i];
		bool seen = false;

		if (!m)
			continue;
		for (size_t j = 0; j < n; j++)
			if (strcmp(out[j], m) == 0)
				seen = true;
		if (!seen)
			out[n++] = m;
	}
	if (cg->layout->v2)
		out[n++] = cg->layout->v2;
	return n;
}

static bool use_v1_freezer(const su_cgroup *cg)
{
	return cg->layout->v1[SU_CG_FREEZER] && !(cg->layout->prefer_v2_core && cg->layout->v2);
}

/* The hierarchy whose cgroup.procs is authoritative for "who is in it". */
static const char *procs_root(const su_cgroup *cg)
{
	if (use_v1_freezer(cg))
		return cg->layout->v1[SU_CG_FREEZER];
	if (cg->layout->v2)
		return cg->layout->v2;
	for (int i = 0; i < SU_CG_N; i++)
		if (cg->layout->v1[i])
			return cg->layout->v1[i];
	return NULL;
}

static void enable_in(const char *dir, const su_buf *want)
{
	char *path = su_strdup_printf("%s/cgroup.subtree_control", dir);

	if (!path)
		return;
	/* One controller per write: one the kernel refuses must not block the rest. */
	for (const char *tok = want->data; tok && *tok;) {
		const char *sp = strchr(tok, ' ');
		char one[32];

		snprintf(one, sizeof(one), "%.*s", (int)(sp - tok), tok);
		su_write_string(path, one);
		tok = sp + 1;
	}
	free(path);
}

/* On v2 a controller works in a cgroup only if every ancestor enables it in
 * cgroup.subtree_control. */
static int enable_v2_subtree(const su_cgroup *cg)
{
	su_buf want = { 0 };
	char *rel;

	for (int i = 0; i < SU_CG_N; i++) {
		if (i == SU_CG_CPUACCT || i == SU_CG_FREEZER || cg->layout->v1[i] ||
		    !cg->layout->v2_has[i])
			continue;
		su_buf_printf(&want, "+%s ", names[i]);
	}
	if (want.oom)
		return -ENOMEM;
	if (!want.len)
		return 0;
	rel = strdup(cg->rel);
	if (!rel) {
		su_buf_free(&want);
		return -ENOMEM;
	}
	enable_in(cg->layout->v2, &want);
	for (char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
		char *dir;

		*slash = '\0';
		dir = su_strdup_printf("%s/%s", cg->layout->v2, rel);
		*slash = '/';
		if (!dir)
			break;
		su_mkdir_p(dir, 0755);
		enable_in(dir, &want);
		free(dir);
	}
	free(rel);
	su_buf_free(&want);
	return 0;
}

/* A new v1 cpuset cgroup has no CPUs and no memory nodes, and no task can
 * join it until it has: each level takes its parent's. */
static int mkdir_cpuset_v1(const char *root, const char *rel)
{
	char *copy = strdup(rel), *parent = strdup(root);
	int r = 0;

	if (!copy || !parent) {
		free(copy);
		free(parent);
		return -ENOMEM;
	}
	for (char *seg = copy, *next; seg && r == 0; seg = next) {
		char *dir;

		next = strchr(seg, '/');
		if (next)
			*next++ = '\0';
		dir = su_strdup_printf("%s/%s", parent, seg);
		if (!dir) {
			r = -ENOMEM;
			break;
		}
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			r = su_neg_errno();
		for (int k = 0; r == 0 && k < 2; k++) {
			const char *file = k ? "cpuset.mems" : "cpuset.cpus";
			char *mine = su_strdup_printf("%s/%s", dir, file);
			char *theirs = su_strdup_printf("%s/%s", parent, file);
			char *val = NULL;

			if (mine && theirs && su_read_file(mine, 4096, &val, NULL) == 0 &&
			    (val[0] == '\n' || val[0] == '\0')) {
				free(val);
				val = NULL;
				if (su_read_file(theirs, 4096, &val, NULL) == 0)
					r = su_write_string(mine, val);
			}
			free(val);
			free(mine);
			free(theirs);
		}
		free(parent);
		parent = dir;
	}
	free(copy);
	free(parent);
	return r;
}

int su_cg_create(su_cgroup *cg, soda_error **error)
{
	const char *rs[SU_CG_N + 1];
	size_t n = roots(cg, rs);
	int r;

	if (n == 0)
		return su_errorf(error, -EOPNOTSUPP, "no cgroup hierarchy is mounted");
	if (cg->layout->v2) {
		r = enable_v2_subtree(cg);
		if (r < 0)
			return su_errorf(error, r, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		char *path = su_strdup_printf("%s/%s", rs[i], cg->rel);
		bool v1_cpuset = cg->layout->v1[SU_CG_CPUSET] &&
				 strcmp(rs[i], cg->layout->v1[SU_CG_CPUSET]) == 0;

		if (!path)
			return su_errorf(error, -ENOMEM, "out of memory");
		r = v1_cpuset ? mkdir_cpuset_v1(rs[i], cg->rel) : su_mkdir_p(path, 0755);
		if (r < 0) {
			su_errorf(error, r, "cannot create cgroup %s: %s", path, strerror(-r));
			free(path);
			return r;
		}
		free(path);
	}
	return 0;
}

int su_cg_attach(su_cgroup *cg, pid_t pid, soda_error **error)
{
	const char *rs[SU_CG_N + 1];
	size_t n = roots(cg, rs);
	char num[24];

	snprintf(num, sizeof(num), "%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		char *path = su_strdup_printf("%s/%s/cgroup.procs", rs[i], cg->rel);
		int r;

		if (!path)
			return su_errorf(error, -ENOMEM, "out of memory");
		r = su_write_string(path, num);
		if (r < 0) {
			su_errorf(error, r, "cannot move pid %d into %s: %s", (int)pid, path,
				  strerror(-r));
			free(path);
			return r;
		}
		free(path);
	}
	return 0;
}

static int read_freezer_state(su_cgroup *cg, bool *frozen)
{
	char *path, *text = NULL;
	int r;

	if (use_v1_freezer(cg))
		path = su_strdup_printf("%s/%s/freezer.state", cg->layout->v1[SU_CG_FREEZER],
					cg->rel);
	else if (cg->layout->v2)
		path = su_strdup_printf("%s/%s/cgroup.events", cg->layout->v2, cg->rel);
	else
		return -EOPNOTSUPP;
	if (!path)
		return -ENOMEM;
	r = su_read_file(path, 4096, &text, NULL);
	free(path);
	if (r < 0)
		return r;
	if (use_v1_freezer(cg))
		*frozen = strncmp(text, "FROZEN", 6) == 0;
	else
		*frozen = strstr(text, "frozen 1") != NULL;
	free(text);
	return 0;
}

int su_cg_is_frozen(su_cgroup *cg)
{
	bool frozen;
	int r = read_freezer_state(cg, &frozen);

	return r < 0 ? r : frozen;
}

int su_cg_freeze(su_cgroup *cg, bool frozen, soda_error **error)
{
	char *path;
	uint64_t deadline;
	int r;

	if (use_v1_freezer(cg))
		path = su_strdup_printf("%s/%s/freezer.state", cg->layout->v1[SU_CG_FREEZER],
					cg->rel);
	else if (cg->layout->v2)
		path = su_strdup_printf("%s/%s/cgroup.freeze", cg->layout->v2, cg->rel);
	else
		return su_errorf(error, -EOPNOTSUPP, "no cgroup freezer on this host");
	if (!path)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = su_write_string(path, use_v1_freezer(cg) ? (frozen ? "FROZEN" : "THAWED")
						     : (frozen ? "1" : "0"));
	if (r < 0) {
		su_errorf(error, r, "cannot write %s: %s", path, strerror(-r));
		free(path);
		return r;
	}
	deadline = su_mono_usec() + 2 * WAIT_USEC;
	for (unsigned round = 1;; round++) {
		bool now;

		r = read_freezer_state(cg, &now);
		if (r < 0) {
			free(path);
			return su_errorf(error, r, "cannot read the freezer state: %s", strerror(-r));
		}
		if (now == frozen) {
			free(path);
			return 0;
		}
		if (su_mono_usec() > deadline) {
			free(path);
			return su_errorf(error, -ETIMEDOUT, "cgroup %s did not %s within 10 s", cg->rel,
					 frozen ? "freeze" : "thaw");
		}
		/* The v1 freezer stays in FREEZING when a task could not be
		 * frozen at that moment (a ptrace stop of linux.uml's, say) and
		 * only tries again when asked again. */
		if (frozen && use_v1_freezer(cg) && round % 20 == 0)
			su_write_string(path, "FROZEN");
		su_sleep_usec(1000);
	}
}

int su_cg_pids(su_cgroup *cg, pid_t **ret, size_t *ret_n)
{
	const char *root = procs_root(cg);
	char *path, *text = NULL;
	pid_t *pids = NULL;
	size_t n = 0;
	int r;

	if (!root)
		return -EOPNOTSUPP;
	path = su_strdup_printf("%s/%s/cgroup.procs", root, cg->rel);
	if (!path)
		return -ENOMEM;
	r = su_read_file(path, 16 << 20, &text, NULL);
	free(path);
	if (r == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	for (char *tok = strtok(text, "\n"); tok; tok = strtok(NULL, "\n")) {
		pid_t *np = realloc(pids, (n + 1) * sizeof(pid_t));

		if (!np) {
			free(pids);
			free(text);
			return -ENOMEM;
		}
		pids = np;
		pids[n++] = (pid_t)atoi(tok);
	}
	free(text);
	*ret = pids;
	*ret_n = n;
	return 0;
}

bool su_cg_exists(su_cgroup *cg)
{
	const char *rs[SU_CG_N + 1];
	size_t n = roots(cg, rs);

	for (size_t i = 0; i < n; i++) {
		char *path = su_strdup_printf("%s/%s", rs[i], cg->rel);
		bool e = path && su_is_dir(path);

		free(path);
		if (e)
			return true;
	}
	return false;
}

static bool v2_kill_available(su_cgroup *cg)
{
	char *path;
	bool ok;

	if (!cg->layout->v2)
		return false;
	path = su_strdup_printf("%s/%s/cgroup.kill", cg->layout->v2, cg->rel);
	ok = path && access(path, W_OK) == 0;
	free(path);
	return ok;
}

int su_cg_kill(su_cgroup *cg, soda_error **error)
{
	uint64_t deadline = su_mono_usec() + WAIT_USEC;
	bool v2kill = v2_kill_available(cg);

	if (!su_cg_exists(cg))
		return 0;
	for (;;) {
		pid_t *pids = NULL;
		size_t n = 0;
		int r;

		r = su_cg_pids(cg, &pids, &n);
		if (r < 0)
			return su_errorf(error, r, "cannot list the processes of cgroup %s: %s",
					 cg->rel, strerror(-r));
		if (n == 0) {
			free(pids);
			/* Frozen and empty is still frozen: leave it thawed for rmdir. */
			if (su_cg_is_frozen(cg) == 1)
				su_cg_freeze(cg, false, NULL);
			return 0;
		}
		if (v2kill) {
			char *path = su_strdup_printf("%s/%s/cgroup.kill", cg->layout->v2, cg->rel);

			if (path)
				su_write_string(path, "1");
			free(path);
			/* v2 cgroup.kill covers the v2 cgroup; v1 members are the same
			 * processes, and the loop checks they are gone. */
		} else {
			/* Freeze first so nothing forks between listing and killing. */
			bool can_freeze = use_v1_freezer(cg) || cg->layout->v2;

			if (can_freeze)
				su_cg_freeze(cg, true, NULL);
			for (size_t i = 0; i < n; i++)
				kill(pids[i], SIGKILL);
			if (can_freeze)
				su_cg_freeze(cg, false, NULL);
		}
		/* A frozen cgroup keeps its killed tasks until thawed. */
		if (su_cg_is_frozen(cg) == 1)
			su_cg_freeze(cg, false, NULL);
		free(pids);
		if (su_mono_usec() > deadline)
			return su_errorf(error, -ETIMEDOUT,
					 "processes of cgroup %s survived SIGKILL for 5 s", cg->rel);
		su_sleep_usec(2000);
	}
}

int su_cg_destroy(su_cgroup *cg, soda_error **error)
{
	const char *rs[SU_CG_N + 1];
	size_t n = roots(cg, rs);
	int r, result = 0;

	r = su_cg_kill(cg, error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char *path = su_strdup_printf("%s/%s", rs[i], cg->rel);
		uint64_t deadline = su_mono_usec() + WAIT_USEC;

		if (!path)
			return su_errorf(error, -ENOMEM, "out of memory");
		/* rmdir can briefly fail with EBUSY while the last task exits. */
		while (rmdir(path) < 0) {
			if (errno == ENOENT)
				break;
			if (errno != EBUSY || su_mono_usec() > deadline) {
				r = su_neg_errno();
				su_errorf(error, r, "cannot remove cgroup %s: %s", path, strerror(-r));
				if (result == 0)
					result = r;
				break;
			}
			su_sleep_usec(2000);
		}
		free(path);
	}
	return result;
}

void su_cg_remove_if_empty(su_cgroup *cg)
{
	const char *rs[SU_CG_N + 1];
	size_t n = roots(cg, rs);

	for (size_t i = 0; i < n; i++) {
		char *path = su_strdup_printf("%s/%s", rs[i], cg->rel);

		if (path)
			rmdir(path); /* fails harmlessly while in use */
		free(path);
	}
}

char *su_cg_file(su_cgroup *cg, enum su_cg_controller c, const char *file)
{
	if (cg->layout->v1[c])
		return su_strdup_printf("%s/%s/%s", cg->layout->v1[c], cg->rel, file);
	if (cg->layout->v2 && cg->layout->v2_has[c])
		return su_strdup_printf("%s/%s/%s", cg->layout->v2, cg->rel, file);
	return NULL;
}

int su_cg_write(su_cgroup *cg, enum su_cg_controller c, const char *file, const char *value,
		soda_error **error)
{
	char *path = su_cg_file(cg, c, file);
	int r;

	if (!path)
		return su_errorf(error, -EOPNOTSUPP, "the %s cgroup controller is not available",
				 names[c]);
	r = su_write_string(path, value);
	if (r < 0)
		su_errorf(error, r, "cannot write '%s' to %s: %s", value, path, strerror(-r));
	free(path);
	return r;
}

int su_cg_read_u64(su_cgroup *cg, enum su_cg_controller c, const char *file, uint64_t *ret)
{
	char *path = su_cg_file(cg, c, file), *text = NULL;
	int r;

	if (!path)
		return -EOPNOTSUPP;
	r = su_read_file(path, 4096, &text, NULL);
	free(path);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	r = su_parse_u64(text, ret);
	free(text);
	return r;
}

int su_cg_memory_usage(su_cgroup *cg, uint64_t *ret)
{
	if (cg->layout->v1[SU_CG_MEMORY])
		return su_cg_read_u64(cg, SU_CG_MEMORY, "memory.usage_in_bytes", ret);
	return su_cg_read_u64(cg, SU_CG_MEMORY, "memory.current", ret);
}

int su_cg_setting_parse(const char *text, su_cg_setting *ret)
{
	const char *c1 = strchr(text, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	size_t clen, flen;

	if (!c1 || !c2)
		return -EINVAL;
	clen = (size_t)(c1 - text);
	flen = (size_t)(c2 - c1 - 1);
	if (flen == 0 || flen >= sizeof(ret->file) || strlen(c2 + 1) >= sizeof(ret->value))
		return -EINVAL;
	for (int c = 0; c < SU_CG_N; c++) {
		const char *name = su_cg_controller_name(c);

		if (strlen(name) != clen || strncmp(name, text, clen) != 0)
			continue;
		ret->ctrl = (enum su_cg_controller)c;
		memcpy(ret->file, c1 + 1, flen);
		ret->file[flen] = '\0';
		/* Only files of that controller, never a path. */
		if (strchr(ret->file, '/') || strncmp(ret->file, name, strlen(name)) != 0 ||
		    ret->file[strlen(name)] != '.')
			return -EINVAL;
		snprintf(ret->value, sizeof(ret->value), "%s", c2 + 1);
		return 0;
	}
	return -EINVAL;
}

char *su_cg_setting_format(const su_cg_setting *s)
{
	return su_strdup_printf("%s:%s:%s", su_cg_controller_name(s->ctrl), s->file, s->value);
}

