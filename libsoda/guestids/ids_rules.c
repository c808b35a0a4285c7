/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort inside the guest: the rule file of a server's configuration.
 *
 * The text is read once, checked by the engine's own parser and kept in
 * the configuration (and so in the server's record); the backend hands it
 * to the guest read-only at every start. The check runs in a process of
 * its own, the guest agent's binary as "soda-agent ids-check NAME" with
 * the text on its stdin (a memfd, so what is checked is what is kept):
 * rule text is hostile input, and a parser bug it finds stays out of the
 * caller's process. The agent is the program that will parse the rules in
 * the guest, so the host refuses exactly what the guest would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soda/ids.h>

#include "../config.h"

#ifndef SODA_AGENT_DEFAULT
#define SODA_AGENT_DEFAULT "/usr/libexec/soda-agent"
#endif

#define RULES_MAX (16u << 20)

extern char **environ;

static int read_all(const char *path, char **ret, size_t *ret_len, soda_error **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t len = 0;
	char *buf;

	if (fd < 0)
		return su_errorf(error, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return su_errorf(error, -EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > RULES_MAX) {
		close(fd);
		return su_errorf(error, -EFBIG, "%s: larger than %u bytes", path, RULES_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			close(fd);
			free(buf);
			return su_errorf(error, e, "%s: cannot read: %s", path, strerror(-e));
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		return su_errorf(error, -EINVAL, "%s: a NUL byte in the rules", path);
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Runs the checker on @text; 0, or the rule's error with its place. */
static int check(const char *name, const char *text, size_t len, char sha256[65],
		 soda_error **error)
{
	const char *agent = getenv("SODA_AGENT");
	char agent_buf[4096];
	posix_spawn_file_actions_t fa;
	char *argv[4], out[1024];
	int in = -1, pipefd[2] = { -1, -1 }, r, status;
	size_t olen = 0;
	pid_t pid;

	if (!agent || !*agent) {
		/* Beside the library or in its libexec, as the backend finds it. */
		char *found = su_find_helper("soda-agent");

		snprintf(agent_buf, sizeof(agent_buf), "%s", found ? found : SODA_AGENT_DEFAULT);
		free(found);
		agent = agent_buf;
	}
	in = memfd_create("soda-ids-rules", MFD_CLOEXEC);
	if (in < 0)
		return su_errorf(error, -errno, "memfd_create: %s", strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t n = write(in, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = su_errorf(error, -errno, "memfd: %s", strerror(errno));
			close(in);
			return r;
		}
		off += (size_t)n;
	}
	if (lseek(in, 0, SEEK_SET) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		r = su_errorf(error, -errno, "%s", strerror(errno));
		close(in);
		return r;
	}
	argv[0] = (char *)agent;
	argv[1] = (char *)"ids-check";
	argv[2] = (char *)name;
	argv[3] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, agent, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return su_errorf(error, -ENOEXEC, "cannot run the rule checker %s: %s", agent,
				 strerror(r));
	}
	for (;;) {
		ssize_t n = read(pipefd[0], out + olen, sizeof(out) - 1 - olen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		olen += (size_t)n;
		if (olen == sizeof(out) - 1)
			break;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return su_errorf(error, -errno, "waitpid: %s", strerror(errno));
	out[olen] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && strncmp(out, "ok sha256=", 10) == 0 &&
	    strspn(out + 10, "0123456789abcdef") == 64) {
		memcpy(sha256, out + 10, 64);
		sha256[64] = '\0';
		return 0;
	}
	{
		unsigned code, line, col;
		int at = 0;

		if (WIFEXITED(status) && sscanf(out, "err %u %u %u %n", &code, &line, &col, &at) == 3 &&
		    at > 0 && code > 0 && code < 4096)
			return su_errorf_at(error, -(int)code, name, line, col, "%s", out + at);
	}
	return su_errorf(error, -ENOEXEC, "the rule checker %s failed (%s%d): %.200s", agent,
			 WIFEXITED(status) ? "exit " : "signal ",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), out);
}

SODA_EXPORT int soda_server_config_set_ids_rules(soda_server_config *cfg, const char *path,
						 unsigned int flags, soda_error **error)
{
	char *text = NULL, sha256[65];
	size_t len = 0;
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "soda_server_config_set_ids_rules: cfg is NULL");
	if (flags & ~SODA_IDS_RULES_GUEST_PACKETS)
		return su_errorf(error, -EINVAL, "soda_server_config_set_ids_rules: unknown flags 0x%x",
				 flags & ~SODA_IDS_RULES_GUEST_PACKETS);
	if (!path) {
		free(cfg->ids_rules);
		cfg->ids_rules = NULL;
		cfg->ids_rules_sha256[0] = '\0';
		cfg->ids_packets = false;
		return 0;
	}
	r = read_all(path, &text, &len, error);
	if (r < 0)
		return r;
	r = check(path, text, len, sha256, error);
	if (r < 0) {
		free(text);
		return r;
	}
	free(cfg->ids_rules);
	cfg->ids_rules = text;
	memcpy(cfg->ids_rules_sha256, sha256, sizeof(sha256));
	cfg->ids_packets = flags & SODA_IDS_RULES_GUEST_PACKETS;
	return 0;
}

SODA_EXPORT const char *soda_server_config_get_ids_rules_sha256(const soda_server_config *cfg)
{
	return cfg && cfg->ids_rules ? cfg->ids_rules_sha256 : NULL;
}
