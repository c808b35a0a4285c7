/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <libgen.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

/* ---- strings ---- */

char *su_strdup_vprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

char *su_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

bool su_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

size_t su_strv_len(char *const *strv)
{
	size_t n = 0;

	while (strv && strv[n])
		n++;
	return n;
}

int su_strv_push_take(char ***strv, char *s)
{
	size_t n = su_strv_len(*strv);
	char **v;

	if (!s)
		return -ENOMEM;
	v = realloc(*strv, (n + 2) * sizeof(char *));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	v[n] = s;
	v[n + 1] = NULL;
	*strv = v;
	return 0;
}

int su_strv_push(char ***strv, const char *s)
{
	return su_strv_push_take(strv, strdup(s));
}

void su_strv_free(char **strv)
{
	for (size_t i = 0; strv && strv[i]; i++)
		free(strv[i]);
	free(strv);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void su_strv_sort(char **strv)
{
	if (strv) /* NULL is the empty vector; qsort() may not take it */
		qsort(strv, su_strv_len(strv), sizeof(char *), cmp_str);
}

char **su_strv_copy(char *const *strv)
{
	size_t n = su_strv_len(strv);
	char **v = calloc(n + 1, sizeof(char *));

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		v[i] = strdup(strv[i]);
		if (!v[i]) {
			su_strv_free(v);
			return NULL;
		}
	}
	return v;
}

void su_buf_append(su_buf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *d;

		while (cap < b->len + len + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void su_buf_puts(su_buf *b, const char *s)
{
	su_buf_append(b, s, strlen(s));
}

void su_buf_printf(su_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!s) {
		b->oom = true;
		return;
	}
	su_buf_puts(b, s);
	free(s);
}

void su_buf_free(su_buf *b)
{
	free(b->data);
	*b = (su_buf){ 0 };
}

char *su_buf_steal(su_buf *b)
{
	char *s;

	if (b->oom) {
		su_buf_free(b);
		return NULL;
	}
	s = b->data ? b->data : strdup("");
	*b = (su_buf){ 0 };
	return s;
}

void su_hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int su_unhex(uint8_t *out, size_t n, const char *text)
{
	for (size_t i = 0; i < n; i++) {
		int hi = su_hexval(text[2 * i]), lo = hi < 0 ? -1 : su_hexval(text[2 * i + 1]);

		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int su_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int su_parse_i64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -errno;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* ---- files ---- */

int su_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
	su_buf b = { 0 };
	char chunk[8192];
	int fd;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return su_neg_errno();
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = su_neg_errno();
			close(fd);
			su_buf_free(&b);
			return r;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			close(fd);
			su_buf_free(&b);
			return -EFBIG;
		}
		su_buf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	if (ret_len)
		*ret_len = b.len;
	*ret = su_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

int su_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return su_read_file_at(AT_FDCWD, path, max, ret, ret_len);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return su_neg_errno();
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int su_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len,
			    mode_t mode)
{
	char *tmp;
	int fd, r;

	tmp = su_strdup_printf("%s.tmp.%d", name, (int)getpid());
	if (!tmp)
		return -ENOMEM;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		r = su_neg_errno();
		free(tmp);
		return r;
	}
	r = write_all(fd, data, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = su_neg_errno();
	if (r == 0 && fsync(fd) < 0)
		r = su_neg_errno();
	if (close(fd) < 0 && r == 0)
		r = su_neg_errno();
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = su_neg_errno();
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	free(tmp);
	return r;
}

int su_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	int r = su_write_file_atomic_at(AT_FDCWD, path, data, len, mode);

	if (r == 0)
		su_fsync_dir_of(path);
	return r;
}

int su_fsync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return su_neg_errno();
	if (fsync(fd) < 0)
		r = su_neg_errno();
	close(fd);
	return r;
}

int su_write_string(const char *path, const char *s)
{
	int fd, r = 0;
	size_t len = strlen(s);
	ssize_t n;

	/* O_TRUNC: kernel files ignore it; ordinary files must not keep a tail. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return su_neg_errno();
	do
		n = write(fd, s, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = su_neg_errno();
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

int su_mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path);
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			r = su_neg_errno();
			free(p);
			return r;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		r = su_neg_errno();
	if (r == 0 && !su_is_dir(p))
		r = -ENOTDIR;
	free(p);
	return r;
}

static int rm_rf_at(int dirfd, dev_t dev, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > 64)
		return -ELOOP;
	d = fdopendir(dirfd);
	if (!d) {
		r = su_neg_errno();
		close(dirfd);
		return r;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && r == 0)
				r = su_neg_errno();
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;

			if (st.st_dev != dev) {
				/* A mount point: never descend into other file systems. */
				if (r == 0)
					r = -EBUSY;
				continue;
			}
			sub = openat(dirfd, de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				if (r == 0)
					r = su_neg_errno();
				continue;
			}
			int k = rm_rf_at(sub, dev, depth + 1);
			if (k < 0 && r == 0)
				r = k;
			if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT &&
			    r == 0)
				r = su_neg_errno();
		} else if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT && r == 0) {
			r = su_neg_errno();
		}
	}
	closedir(d);
	return r;
}

int su_rm_rf(const char *path)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : su_neg_errno();
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? su_neg_errno() : 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return su_neg_errno();
	r = rm_rf_at(fd, st.st_dev, 0);
	if (rmdir(path) < 0 && errno != ENOENT && r == 0)
		r = su_neg_errno();
	return r;
}

bool su_path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool su_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int su_copy_fd(int in, int out)
{
	struct stat st;
	off_t pos = 0;

	if (fstat(in, &st) < 0)
		return su_neg_errno();
	/* Walk the data extents so holes stay holes (COW layers are sparse). */
	for (;;) {
		off_t data = lseek(in, pos, SEEK_DATA);
		off_t hole;

		if (data < 0) {
			if (errno == ENXIO)
				break;
			return su_neg_errno();
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return su_neg_errno();
		while (data < hole) {
			off_t in_off = data, out_off = data;
			ssize_t n = copy_file_range(in, &in_off, out, &out_off,
						    (size_t)(hole - data), 0);

			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
				char buf[65536];
				size_t want = (size_t)(hole - data) < sizeof(buf)
						      ? (size_t)(hole - data)
						      : sizeof(buf);

				n = pread(in, buf, want, data);
				if (n > 0 && pwrite(out, buf, (size_t)n, data) != n)
					return su_neg_errno();
			}
			if (n < 0)
				return su_neg_errno();
			if (n == 0)
				break;
			data += n;
		}
		pos = hole;
	}
	if (ftruncate(out, st.st_size) < 0)
		return su_neg_errno();
	return 0;
}

int su_copy_file(const char *from, const char *to, mode_t mode)
{
	int in, out, r;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return su_neg_errno();
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0) {
		r = su_neg_errno();
		close(in);
		return r;
	}
	r = su_copy_fd(in, out);
	if (r == 0 && fsync(out) < 0)
		r = su_neg_errno();
	close(in);
	if (close(out) < 0 && r == 0)
		r = su_neg_errno();
	if (r < 0)
		unlink(to);
	return r;
}

/* ---- time ---- */

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t su_now_usec(void)
{
	return clock_usec(CLOCK_REALTIME);
}

uint64_t su_mono_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

void su_sleep_usec(uint64_t usec)
{
	struct timespec ts = { (time_t)(usec / 1000000u), (long)(usec % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- processes ---- */

/* Reads field 3 (state) and field 22 (start time) of /proc/PID/stat. */
static int proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start)
{
	char path[64], *text = NULL, *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = su_read_file(path, 4096, &text, NULL);
	if (r < 0)
		return r;
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	p = strrchr(text, ')');
	if (!p || p[1] != ' ' || !p[2]) {
		free(text);
		return -EIO;
	}
	*ret_state = p[2];
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %" SCNu64, ret_start) != 1)
		r = -EIO;
	free(text);
	return r;
}

int su_proc_starttime(pid_t pid, uint64_t *ret)
{
	char state;

	return proc_stat(pid, &state, ret);
}

bool su_proc_alive(pid_t pid, uint64_t starttime)
{
	uint64_t st;
	char state;

	if (pid <= 0)
		return false;
	if (proc_stat(pid, &state, &st) < 0)
		return false;
	/* A zombie has ended; only its parent has not noticed yet. */
	return st == starttime && state != 'Z' && state != 'X';
}

int su_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? su_neg_errno() : (int)fd;
}

int su_run(char *const argv[], int *ret_status, char **ret_output)
{
	posix_spawn_file_actions_t fa;
	su_buf out = { 0 };
	int pipefd[2], r, status;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return su_neg_errno();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -r;
	}
	for (;;) {
		char chunk[4096];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out.len < 65536)
			su_buf_append(&out, chunk, (size_t)n);
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			su_buf_free(&out);
			return su_neg_errno();
		}
	}
	if (ret_status)
		*ret_status = status;
	if (ret_output)
		*ret_output = su_buf_steal(&out);
	else
		su_buf_free(&out);
	return 0;
}

int su_close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

void su_cpulist_parse(const char *text, unsigned char map[128])
{
	const char *p = text;

	memset(map, 0, 128);
	while (p && *p >= '0' && *p <= '9') {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (*end == '-' && end[1] >= '0' && end[1] <= '9')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long i = a; i <= b && i < 1024; i++)
			map[i / 8] |= (unsigned char)(1u << (i % 8));
		p = *end == ',' ? end + 1 : NULL;
	}
}

int su_affinity_avoid(pid_t pid, const char *cpus)
{
	unsigned char online[128], avoid[128];
	char *text = NULL, path[64];
	struct dirent *de;
	bool any = false;
	cpu_set_t set;
	int r = su_read_file("/sys/devices/system/cpu/online", 4096, &text, NULL);
	DIR *d;

	if (r < 0)
		return r;
	su_cpulist_parse(text, online);
	free(text);
	su_cpulist_parse(cpus ? cpus : "", avoid);
	CPU_ZERO(&set);
	for (int pass = 0; pass < 2 && !any; pass++)
		for (int i = 0; i < 1024 && i < CPU_SETSIZE; i++)
			if ((online[i / 8] >> (i % 8) & 1) && (pass || !(avoid[i / 8] >> (i % 8) & 1))) {
				CPU_SET(i, &set);
				any = true;
			}
	if (!any)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return su_neg_errno();
	r = 0;
	while ((de = readdir(d))) {
		int tid = atoi(de->d_name);

		/* A thread that ended meanwhile is no failure. */
		if (tid > 0 && sched_setaffinity(tid, sizeof(set), &set) < 0 && errno != ESRCH)
			r = su_neg_errno();
	}
	closedir(d);
	return r;
}

#ifndef SODA_LIBEXEC_FROM_LIBDIR
#define SODA_LIBEXEC_FROM_LIBDIR "../libexec"
#endif

/*
 * A helper program of ours (soda-monitor, soda-agent), found from where the
 * code calling this lies, so that neither a build tree nor an install moved
 * to another prefix needs environment variables: beside the library (a
 * build tree puts them there; in soda-monitor, beside the monitor, which
 * is libexec), then in the libexec directory relative to the library's
 * directory (an install). NULL: not found so; the caller falls back to
 * the configured path.
 */
char *su_find_helper(const char *name)
{
	Dl_info info;
	char *copy, *dir, *p;

	if (!dladdr((void *)su_find_helper, &info) || !info.dli_fname ||
	    !strchr(info.dli_fname, '/'))
		return NULL;
	copy = strdup(info.dli_fname);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	p = su_strdup_printf("%s/%s", dir, name);
	if (p && access(p, X_OK) != 0) {
		free(p);
		p = su_strdup_printf("%s/" SODA_LIBEXEC_FROM_LIBDIR "/%s", dir, name);
		if (p && access(p, X_OK) != 0) {
			free(p);
			p = NULL;
		}
	}
	free(copy);
	return p;
}
