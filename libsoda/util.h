/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal helpers shared by the library, its backends and soda-monitor.
 * Prefix su_ ("soda utility"); nothing here is exported.
 */
#ifndef SODA_UTIL_H
#define SODA_UTIL_H

#include "hexval.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <soda/common.h>

#define SU_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SU_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SU_UNUSED __attribute__((unused))

/* ---- errors ---- */

/* Sets *error (when error is non-NULL and *error is NULL) and returns code
 * (a negative errno). */
int su_errorf(soda_error **error, int code, const char *fmt, ...) SU_PRINTF(3, 4);
int su_errorf_at(soda_error **error, int code, const char *source, uint32_t line,
		 uint32_t column, const char *fmt, ...) SU_PRINTF(6, 7);
int su_verrorf(soda_error **error, int code, const char *source, uint32_t line,
	       uint32_t column, const char *fmt, va_list ap);
/* Prefixes an existing message: "what: <old message>". */
void su_error_prefix(soda_error **error, const char *fmt, ...) SU_PRINTF(2, 3);
/* -errno of the last call, never 0. */
static inline int su_neg_errno(void);

/* ---- strings ---- */

char *su_strdup_printf(const char *fmt, ...) SU_PRINTF(1, 2);
char *su_strdup_vprintf(const char *fmt, va_list ap);
static inline bool su_streq(const char *a, const char *b);
bool su_startswith(const char *s, const char *prefix);
/* Appends a copy of s to *strv (NULL-terminated). 0 or -ENOMEM. */
int su_strv_push(char ***strv, const char *s);
/* Takes ownership of s. */
int su_strv_push_take(char ***strv, char *s);
size_t su_strv_len(char *const *strv);
void su_strv_free(char **strv);
void su_strv_sort(char **strv);
char **su_strv_copy(char *const *strv);

/* Growable byte buffer, always NUL-terminated when non-empty. */
typedef struct su_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom;
} su_buf;
void su_buf_append(su_buf *b, const void *data, size_t len);
void su_buf_puts(su_buf *b, const char *s);
void su_buf_printf(su_buf *b, const char *fmt, ...) SU_PRINTF(2, 3);
void su_buf_free(su_buf *b);
/* Returns the string and resets the buffer, or NULL after an allocation failure. */
char *su_buf_steal(su_buf *b);

/* Hex digits: su_hexval() (hexval.h) gives a digit's value or -1;
 * su_hex() writes 2 * @n lower-case digits and a NUL to @out; su_unhex()
 * reads exactly 2 * @n digits from @text into @out (0, or -EINVAL). */
void su_hex(char *out, const uint8_t *in, size_t n);
int su_unhex(uint8_t *out, size_t n, const char *text);

/* Parses a decimal uint64 that fills the whole string. */
int su_parse_u64(const char *s, uint64_t *ret);
int su_parse_i64(const char *s, int64_t *ret);

/* ---- files ---- */

/* Reads a whole file (at most max bytes, -EFBIG beyond); NUL-terminated. */
int su_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
int su_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* Writes via a temporary file, fsync and rename(2), so readers see the old or new
 * contents, never a mix. */
int su_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
int su_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len,
			    mode_t mode);
/* Writes a small string to a kernel file (cgroup, sysctl). */
int su_write_string(const char *path, const char *s);
int su_mkdir_p(const char *path, mode_t mode);
/* Removes a tree without following symlinks or crossing mount points. */
int su_rm_rf(const char *path);
bool su_path_exists(const char *path);
bool su_is_dir(const char *path);
/* Copies a file, keeping holes. */
int su_copy_file(const char *from, const char *to, mode_t mode);
int su_copy_fd(int in, int out);
/* fsync of the directory holding path. */
int su_fsync_dir_of(const char *path);

/* ---- time ---- */

uint64_t su_now_usec(void);  /* CLOCK_REALTIME */
uint64_t su_mono_usec(void); /* CLOCK_MONOTONIC */
void su_sleep_usec(uint64_t usec);

/* ---- processes ---- */

/* Start time of a process in clock ticks since boot (field 22 of
 * /proc/PID/stat), which together with the pid names one process for good. */
int su_proc_starttime(pid_t pid, uint64_t *ret);
/* True if pid is alive and has that start time. */
bool su_proc_alive(pid_t pid, uint64_t starttime);
int su_pidfd_open(pid_t pid);

/* A CPU list as the kernel or libsoda writes it ("0-3,6") into a bitmap of
 * CPUs 0-1023; stops at the first character that does not fit. */
void su_cpulist_parse(const char *text, unsigned char map[128]);
/* Keeps every thread of @pid off the CPUs of @cpus (a CPU list; NULL: none)
 * where the host has other CPUs online; else lets it use them all. A server's
 * monitor stays beside a pinned guest this way, not in its CPU time. */
int su_affinity_avoid(pid_t pid, const char *cpus);

/* Runs argv (argv[0] an absolute path) with stdin from /dev/null and stdout and
 * stderr captured (up to 64 KiB); waits. *ret_status gets the wait status.
 * Uses posix_spawn, never fork. */
int su_run(char *const argv[], int *ret_status, char **ret_output);

/* Closes fd if >= 0 and returns -1, keeping errno. */
int su_close(int fd);

#include <errno.h>
#include <string.h>

static inline int su_neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static inline bool su_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

#define SU_AUTOFREE __attribute__((cleanup(su_freep)))
static inline void su_freep(void *p)
{
	extern void free(void *);
	free(*(void **)p);
}

#define SU_AUTOCLOSE __attribute__((cleanup(su_closep)))
static inline void su_closep(int *fd)
{
	if (*fd >= 0)
		su_close(*fd);
}

/* soda-monitor or soda-agent found beside the library (a build tree) or in
 * the libexec directory relative to it (an install); NULL if not (free()). */
char *su_find_helper(const char *name);

#endif
