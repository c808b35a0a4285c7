/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend's side of soda-bbrelay (bbrelay.c), the host's end of a QEMU
 * guest's blackbox line: made for each start of a server with a blackbox,
 * before the domain, and ended by its recorded PID when the domain is off.
 *
 * The line is a pair of FIFOs in the server's run directory, QEMU's pipe
 * chardev (RUN/NAME/blackbox.in, the guest's input, which nobody writes,
 * and blackbox.out). QEMU opens both read-write, so what the guest writes
 * waits in the pipe while no relay reads, and the port stalls when the
 * pipe is full: nothing of the guest's lands on the host's disk but
 * through the store and its quota.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lv.h"
#include "pidrec.h"

#define RELAY "soda-bbrelay"
#define TERM_WAIT_MS 3000

extern char **environ;

/* SODA_BBRELAY, else beside this plugin, else in the libexec directory
 * relative to it (as libsoda finds soda-monitor). */
static char *find_relay(void)
{
	const char *env = secure_getenv("SODA_BBRELAY");
	Dl_info info;
	char *copy, *dir, *p = NULL;

	if (env && *env)
		return strdup(env);
	if (!dladdr((void *)find_relay, &info) || !info.dli_fname || !strchr(info.dli_fname, '/'))
		return NULL;
	copy = strdup(info.dli_fname);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	if (asprintf(&p, "%s/" RELAY, dir) < 0)
		p = NULL;
	if (p && access(p, X_OK) != 0) {
		free(p);
		if (asprintf(&p, "%s/" SODA_LIBEXEC_FROM_LIBDIR "/" RELAY, dir) < 0 ||
		    access(p, X_OK) != 0) {
			free(p);
			p = NULL;
		}
	}
	free(copy);
	return p;
}

static int run_path(char *buf, size_t size, const char *name, const char *file)
{
	return snprintf(buf, size, LV_RUN_DIR "/%s/%s", name, file) < (int)size ? 0 : -ENAMETOOLONG;
}

int lv_relay_end(const char *name, unsigned wait_ms)
{
	char path[512], text[64] = "";
	unsigned long long start = 0;
	struct pollfd p = { .events = POLLIN };
	FILE *f;
	int pid = 0, r = 0;

	if (run_path(path, sizeof(path), name, "bbrelay.pid") < 0)
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (!fgets(text, sizeof(text), f) || sscanf(text, "%d %llu", &pid, &start) != 2 ||
	    pid <= 1)
		pid = 0;
	fclose(f);
	if (pid)
		p.fd = pidfd_open(pid, 0);
	/* Checked after the pidfd is open: it names the process that had the
	 * PID then, which must be the relay that wrote the file. */
	if (!pid || p.fd < 0 || lv_start_time(pid) != start) {
		if (pid && p.fd >= 0)
			close(p.fd);
		unlink(path);
		return 0;
	}
	if (poll(&p, 1, (int)wait_ms) == 0) {
		/* It still reads: the domain is off, so what QEMU wrote is in
		 * the pipe, which the relay reads to its end at SIGTERM. */
		pidfd_send_signal(p.fd, SIGTERM, NULL, 0);
		if (poll(&p, 1, TERM_WAIT_MS) == 0) {
			pidfd_send_signal(p.fd, SIGKILL, NULL, 0);
			r = poll(&p, 1, 1000) == 0 ? -ETIMEDOUT : 0;
		}
	}
	close(p.fd);
	unlink(path);
	return r;
}

static int make_fifo(const char *path, soda_error **error)
{
	char msg[600];

	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	if (mkfifo(path, 0600) == 0)
		return 0;
fail:
	snprintf(msg, sizeof(msg), "cannot make the blackbox line %s: %s", path, strerror(errno));
	return soda_error_set(error, -errno, msg);
}

int lv_relay_start(const char *name, const char *store_dir, const soda_server_config *cfg,
		   soda_error **error)
{
	char in[512], out[512], pid_file[512], log[512], hex[65], quota[24], msg[1200];
	char *relay = find_relay(), *parent = strdup(store_dir), *argv[20];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	uint64_t q = 0;
	uint32_t policy = soda_server_config_get_blackbox_retention(cfg, &q);
	uint8_t box[32];
	sigset_t none;
	int pipefd[2] = { -1, -1 }, r, status = 0, i = 0, w;
	size_t len = 0;
	pid_t pid;

	if (!relay || !parent) {
		free(parent);
		free(relay);
		return soda_error_set(error, -ENOENT,
				      "no " RELAY " beside libsoda-libvirt.so, in its libexec "
				      "directory or at $SODA_BBRELAY: the blackbox needs it");
	}
	soda_server_config_get_blackbox(cfg, box);
	for (size_t b = 0; b < 32; b++)
		snprintf(hex + 2 * b, 3, "%02x", box[b]);
	snprintf(quota, sizeof(quota), "%llu", (unsigned long long)q);
	if (run_path(in, sizeof(in), name, "blackbox.in") < 0 ||
	    run_path(out, sizeof(out), name, "blackbox.out") < 0 ||
	    run_path(pid_file, sizeof(pid_file), name, "bbrelay.pid") < 0 ||
	    run_path(log, sizeof(log), name, "bbrelay.log") < 0) {
		r = soda_error_set(error, -ENAMETOOLONG, "server name too long for its run directory");
		goto out;
	}
	/* A relay of a run before (it ends when its QEMU does). */
	lv_relay_end(name, 0);
	/* The store's parent: root's, 0700 (the relay makes the store). */
	if (mkdir(dirname(parent), 0700) < 0 && errno != EEXIST) {
		snprintf(msg, sizeof(msg), "cannot make %s: %s", parent, strerror(errno));
		r = soda_error_set(error, -errno, msg);
		goto out;
	}
	/* New FIFOs at each start: nothing of a run before is in them. */
	r = make_fifo(in, error);
	if (r == 0)
		r = make_fifo(out, error);
	if (r < 0)
		goto out;
	argv[i++] = relay;
	argv[i++] = "--line";
	argv[i++] = out;
	argv[i++] = "--store";
	argv[i++] = (char *)store_dir;
	argv[i++] = "--key";
	argv[i++] = hex;
	argv[i++] = "--retention";
	argv[i++] = (char *)soda_blackbox_retention_name(policy);
	argv[i++] = "--quota";
	argv[i++] = quota;
	argv[i++] = "--label";
	argv[i++] = (char *)name;
	argv[i++] = "--pid-file";
	argv[i++] = pid_file;
	argv[i++] = "--log";
	argv[i++] = log;
	argv[i] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = soda_error_set(error, -errno, "cannot start " RELAY ": pipe failed");
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
	r = -posix_spawn(&pid, relay, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "cannot start %s: %s", relay, strerror(-r));
		r = soda_error_set(error, r, msg);
		goto out;
	}
	/* Its first process exits once the relay holds store and line; its
	 * message, if any, comes on its stderr. */
	for (;;) {
		ssize_t n = read(pipefd[0], msg + len, sizeof(msg) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(msg) - 1)
			break;
	}
	msg[len] = '\0';
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	/* (an application that ignores SIGCHLD has no status to collect) */
	if (w < 0)
		status = access(pid_file, F_OK) == 0 ? 0 : 1 << 8;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char full[1400];

		snprintf(full, sizeof(full), "server '%s': the blackbox relay did not start: %s", name,
			 len ? msg : "it failed without a word");
		r = soda_error_set(error, -EIO, full);
		goto out;
	}
	/* It writes its pid file before it says it runs. */
	if (access(pid_file, F_OK) < 0) {
		snprintf(msg, sizeof(msg), "server '%s': %s exited without running (no %s)", name,
			 relay, pid_file);
		r = soda_error_set(error, -EIO, msg);
		goto out;
	}
	r = 0;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	free(parent);
	free(relay);
	return r;
}
