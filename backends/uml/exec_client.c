/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's side of exec: asks the monitor for an exec connection,
 * sends the request, then pumps the caller's stdin to the monitor and the
 * command's stdout and stderr to the caller's descriptors until its end.
 * Nothing here waits on one side while the other could stall: stdin goes
 * out only when the socket takes it (the monitor reads it only as the
 * guest has room), output is taken as it comes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../libsoda/util.h"
#include "exec_client.h"
#include "exec_proto.h"
#include "proto.h"

/* The guest enforces the timeout; this much later the library gives up
 * on a guest that does not answer. */
#define GRACE_MS 5000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* To the caller's descriptor, all of it; -1 discards. No SIGPIPE where the
 * descriptor is a socket. */
static int put_all(int fd, const uint8_t *p, size_t n)
{
	while (fd >= 0 && n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { fd, POLLOUT, 0 };

				poll(&pfd, 1, 1000);
				continue;
			}
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* @msg: room for the header and @len bytes; the payload already at
 * msg + SX_MSG_HDR. */
static int send_msg(int fd, uint16_t type, uint8_t *msg, size_t len, int flags)
{
	msg[0] = (uint8_t)type;
	msg[1] = (uint8_t)(type >> 8);
	msg[2] = msg[3] = 0;
	return send(fd, msg, SX_MSG_HDR + len, MSG_NOSIGNAL | flags) < 0 ? -errno : 0;
}

static int on_exit_msg(const uint8_t *p, size_t len, uint32_t timeout_ms, int *ret_status,
		       soda_error **error)
{
	uint32_t kind, value;

	if (len < 8)
		return su_errorf(error, -EPROTO, "the monitor sent a short exit message");
	kind = sx_get_u32(p);
	value = sx_get_u32(p + 4);
	switch (kind) {
	case SX_EXITED:
		*ret_status = (int)value;
		return 0;
	case SX_SIGNALED:
		*ret_status = SODA_EXEC_SIGNALED + (int)value;
		return 0;
	case SX_TIMEDOUT:
		return su_errorf(error, -ETIMEDOUT,
				 "the command did not end within %u ms; it was killed", timeout_ms);
	case SX_NOSTART:
		return su_errorf(error, -(int)value, "the command did not start: %.*s",
				 (int)(len - 8), (const char *)p + 8);
	default:
		return su_errorf(error, -EPROTO, "the monitor sent an exit of kind %u", kind);
	}
}

int su_exec_run(const char *run_dir, const char *const *argv, const soda_exec_options *opts,
		int *ret_status, soda_error **error)
{
	sx_request *req = calloc(1, sizeof(*req));
	uint8_t *buf = malloc(SX_PAYLOAD_MAX + SX_MSG_HDR + 1), inbuf[SX_MSG_HDR + SX_DATA_MAX];
	uint8_t eof[SX_MSG_HDR];
	char err[200], ans[SU_CTL_MAX + 1];
	size_t in_len = 0;
	bool in_open = opts->stdin_fd >= 0, eof_pending = false;
	int64_t deadline = opts->timeout_ms ? mono_ms() + opts->timeout_ms + GRACE_MS : 0;
	int fd = -1, r, status = -1;
	ssize_t n;

	if (!buf || !req) {
		r = su_errorf(error, -ENOMEM, "out of memory");
		goto out;
	}
	for (; argv[req->argc]; req->argc++)
		req->argv[req->argc] = argv[req->argc];
	for (; opts->env && opts->env[req->envc]; req->envc++)
		req->env[req->envc] = opts->env[req->envc];
	req->user = opts->user;
	req->cwd = opts->cwd;
	req->timeout_ms = opts->timeout_ms;
	req->has_stdin = in_open;
	r = sx_request_encode(req, buf + SX_MSG_HDR, SX_PAYLOAD_MAX, err, sizeof(err));
	if (r < 0) {
		r = su_errorf(error, r, "%s", err);
		goto out;
	}
	{
		size_t len = (size_t)r;

		r = su_ctl_connect(run_dir, SU_CTL_SOCK, SOCK_SEQPACKET, &fd, error);
		if (r < 0)
			goto out;
		if (send(fd, "exec", 4, MSG_NOSIGNAL) < 0) {
			r = su_errorf(error, su_neg_errno(), "cannot send to the monitor: %s",
				      strerror(errno));
			goto out;
		}
		{
			struct pollfd pfd = { fd, POLLIN, 0 };

			if (poll(&pfd, 1, 10000) <= 0) {
				r = su_errorf(error, -ETIMEDOUT, "the monitor did not answer 'exec'");
				goto out;
			}
		}
		n = recv(fd, ans, SU_CTL_MAX, 0);
		if (n <= 0) {
			r = su_errorf(error, -ECONNRESET, "the monitor hung up on 'exec'");
			goto out;
		}
		ans[n] = '\0';
		if (strcmp(ans, "ok") != 0) {
			char *msg = NULL;
			long code = strncmp(ans, "err ", 4) == 0 ? strtol(ans + 4, &msg, 10) : 0;

			if (code <= 0 || code > 4095)
				code = EPROTO;
			r = su_errorf(error, (int)-code, "%s",
				      msg && *msg ? msg + 1 : "the monitor refused exec");
			goto out;
		}
		r = send_msg(fd, SX_START, buf, len, 0);
		if (r < 0) {
			r = su_errorf(error, r, "cannot send the command: %s", strerror(-r));
			goto out;
		}
	}
	for (;;) {
		struct pollfd pfd[2];
		int nfd = 1, timeout = -1;

		pfd[0] = (struct pollfd){ fd, POLLIN | (in_len || eof_pending ? POLLOUT : 0), 0 };
		if (in_open && !in_len && !eof_pending)
			pfd[nfd++] = (struct pollfd){ opts->stdin_fd, POLLIN, 0 };
		if (deadline) {
			int64_t left = deadline - mono_ms();

			if (left <= 0) {
				r = su_errorf(error, -ETIMEDOUT,
					      "the guest did not end the command within %u ms",
					      opts->timeout_ms);
				goto out;
			}
			timeout = (int)left;
		}
		r = poll(pfd, (nfds_t)nfd, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = su_errorf(error, su_neg_errno(), "poll: %s", strerror(errno));
			goto out;
		}
		if (nfd > 1 && pfd[1].revents) {
			n = read(opts->stdin_fd, inbuf + SX_MSG_HDR, SX_DATA_MAX);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				r = su_errorf(error, su_neg_errno(), "cannot read stdin_fd: %s",
					      strerror(errno));
				goto out;
			}
			if (n == 0) {
				in_open = false;
				eof_pending = true;
			} else if (n > 0) {
				in_len = (size_t)n;
			}
		}
		if (pfd[0].revents & POLLOUT) {
			r = in_len ? send_msg(fd, SX_STDIN, inbuf, in_len, MSG_DONTWAIT)
				   : send_msg(fd, SX_STDIN_EOF, eof, 0, MSG_DONTWAIT);
			if (r == 0 && in_len)
				in_len = 0;
			else if (r == 0)
				eof_pending = false;
			else if (r != -EAGAIN) {
				r = su_errorf(error, r, "the monitor hung up: %s", strerror(-r));
				goto out;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint16_t type;

			n = recv(fd, buf, SX_MSG_HDR + SX_PAYLOAD_MAX + 1, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				r = su_errorf(error, -ECONNRESET,
					      "the monitor ended the exchange before the command's "
					      "end (the server stopped?)");
				goto out;
			}
			if (n < SX_MSG_HDR || n > SX_MSG_HDR + SX_PAYLOAD_MAX) {
				r = su_errorf(error, -EPROTO, "the monitor sent a bad message");
				goto out;
			}
			type = (uint16_t)(buf[0] | buf[1] << 8);
			if (type == SX_STDOUT || type == SX_STDERR) {
				int to = type == SX_STDOUT ? opts->stdout_fd : opts->stderr_fd;

				r = put_all(to, buf + SX_MSG_HDR, (size_t)n - SX_MSG_HDR);
				if (r < 0) {
					r = su_errorf(error, r, "cannot write to %s: %s",
						      type == SX_STDOUT ? "stdout_fd" : "stderr_fd",
						      strerror(-r));
					goto out;
				}
			} else if (type == SX_EXIT) {
				r = on_exit_msg(buf + SX_MSG_HDR, (size_t)n - SX_MSG_HDR,
						opts->timeout_ms, &status, error);
				goto out;
			} else if (type == SX_ERROR && n >= SX_MSG_HDR + 4) {
				uint32_t e = sx_get_u32(buf + SX_MSG_HDR);

				r = su_errorf(error, e > 0 && e < 4096 ? -(int)e : -EPROTO, "%.*s",
					      (int)(n - SX_MSG_HDR - 4),
					      (const char *)buf + SX_MSG_HDR + 4);
				goto out;
			} else {
				r = su_errorf(error, -EPROTO, "the monitor sent a message of type %u",
					      type);
				goto out;
			}
		}
	}
out:
	/* Closing an exchange that has not ended kills the command. */
	su_close(fd);
	free(buf);
	free(req);
	if (r == 0)
		*ret_status = status;
	return r;
}
