/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mconsole.h"

#define MCONSOLE_MAGIC 0xcafebabe
#define MCONSOLE_VERSION 2

struct mc_request {
	uint32_t magic;
	uint32_t version;
	uint32_t len;
	char data[MCONSOLE_MAX_DATA];
};

struct mc_reply {
	uint32_t err;
	uint32_t more;
	uint32_t len;
	char data[MCONSOLE_MAX_DATA];
};

/* A datagram socket made in network namespace @netns (then back to @home):
 * a socket stays in the namespace it was made in, and so does the abstract
 * address it autobinds. */
static int socket_in(int netns, int home)
{
	int fd, e;

	if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	e = errno;
	if (netns >= 0 && setns(home, CLONE_NEWNET) < 0) {
		/* The monitor must not stay in the guest's namespace. */
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	return fd < 0 ? -e : fd;
}

int su_mconsole_request(const char *socket_path, int netns, int home, const char *command,
			char *reply, size_t reply_len, int timeout_ms)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	struct mc_request req = { MCONSOLE_MAGIC, MCONSOLE_VERSION, 0, { 0 } };
	sa_family_t autobind = AF_UNIX;
	size_t used = 0;
	int fd, r = 0;

	if (strlen(command) >= MCONSOLE_MAX_DATA || strlen(socket_path) >= sizeof(to.sun_path))
		return -ENAMETOOLONG;
	if (reply_len)
		reply[0] = '\0';
	req.len = (uint32_t)strlen(command);
	memcpy(req.data, command, req.len);
	snprintf(to.sun_path, sizeof(to.sun_path), "%s", socket_path);
	fd = socket_in(netns, home);
	if (fd < 0)
		return fd;
	/* Autobind gives us an abstract address for the reply. */
	if (bind(fd, (struct sockaddr *)&autobind, sizeof(autobind)) < 0 ||
	    sendto(fd, &req, sizeof(req) - sizeof(req.data) + req.len, 0, (struct sockaddr *)&to,
		   sizeof(to)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		struct mc_reply rep;
		ssize_t n;

		r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			r = r == 0 ? -ETIMEDOUT : -errno;
			break;
		}
		n = recv(fd, &rep, sizeof(rep), 0);
		if (n < (ssize_t)(sizeof(rep) - sizeof(rep.data))) {
			r = -EPROTO;
			break;
		}
		if (rep.len > MCONSOLE_MAX_DATA)
			rep.len = MCONSOLE_MAX_DATA;
		if (reply_len && used < reply_len - 1) {
			size_t k = rep.len < reply_len - 1 - used ? rep.len : reply_len - 1 - used;

			memcpy(reply + used, rep.data, k);
			used += k;
			reply[used] = '\0';
		}
		r = rep.err ? -EREMOTEIO : 0;
		if (!rep.more)
			break;
	}
	close(fd);
	return r;
}
