/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../libsoda/util.h"
#include "ids_ctl.h"
#include "proto.h"

int su_ids_request(const char *run_dir, const char *request, const int *fds, size_t n_fds,
		   char **ret_data, int timeout_ms, soda_error **error)
{
	char reply[SU_CTL_MAX + 1];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct iovec iov = { (void *)request, strlen(request) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd;
	ssize_t n;
	int fd, r;

	if (n_fds > 2)
		return su_errorf(error, -EINVAL, "at most two descriptors");
	r = su_ctl_connect(run_dir, SU_IDS_SOCK, SOCK_SEQPACKET, &fd, error);
	if (r < 0)
		return r;
	if (n_fds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0) {
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
		return su_errorf(error, n == 0 ? -ECONNRESET : r, "the monitor hung up on '%s'",
				 request);
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
		char *m = NULL;
		long code = strtol(reply + 4, &m, 10);

		if (code <= 0 || code > 4095)
			code = EIO;
		return su_errorf(error, (int)-code, "%s", m && *m ? m + 1 : "monitor error");
	}
	return su_errorf(error, -EPROTO, "the monitor answered '%s' with garbage", request);
}

int su_ids_open_alerts(const char *run_dir, int *ret_fd, soda_error **error)
{
	int dfd = open(run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open %s: %s", run_dir,
				 strerror(errno));
	fd = openat(dfd, SU_IDS_LANDLORD_FILE, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	close(dfd);
	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open %s/%s: %s", run_dir,
				 SU_IDS_LANDLORD_FILE, strerror(errno));
	*ret_fd = fd;
	return 0;
}
