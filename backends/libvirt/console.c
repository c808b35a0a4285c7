/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The console of a domain (virDomainOpenConsole, a virStream) as the
 * connected stream socket soda_server_open_console() promises: one thread
 * per open console relays between the stream (non-blocking, touched by that
 * thread only) and its end of a socket pair, until either side ends. This
 * works the same over a remote URI, where the stream goes through libvirtd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lv.h"

#define RELAY_POLL_MS 20

typedef struct relay {
	virStreamPtr st;
	int fd;
} relay;

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static void *relay_main(void *arg)
{
	relay *rl = arg;
	char buf[4096];
	bool ok = true;

	while (ok) {
		struct pollfd p = { rl->fd, POLLIN, 0 };
		int n = virStreamRecv(rl->st, buf, sizeof(buf));

		if (n > 0) {
			ok = write_all(rl->fd, buf, (size_t)n);
			continue;
		}
		if (n == 0 || n == -1) /* the console ended */
			break;
		/* -2: nothing now */
		if (poll(&p, 1, RELAY_POLL_MS) < 0 && errno != EINTR)
			break;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = recv(rl->fd, buf, sizeof(buf), 0);

			if (got <= 0)
				break;
			for (ssize_t off = 0; ok && off < got;) {
				int sent = virStreamSend(rl->st, buf + off, (size_t)(got - off));

				if (sent == -2) {
					poll(NULL, 0, RELAY_POLL_MS);
					continue;
				}
				ok = sent > 0;
				off += sent > 0 ? sent : 0;
			}
		}
	}
	virResetLastError();
	virStreamAbort(rl->st);
	virStreamFree(rl->st);
	close(rl->fd);
	free(rl);
	return NULL;
}

int lv_console_open(virDomainPtr dom, int *ret_fd, soda_error **error)
{
	virStreamPtr st = virStreamNew(virDomainGetConnect(dom), VIR_STREAM_NONBLOCK);
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	relay *rl;
	int sv[2], r;

	if (!st)
		return soda_error_set(error, -ENOMEM, "cannot make a console stream");
	if (virDomainOpenConsole(dom, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0) {
		virErrorPtr e = virGetLastError();
		char msg[512];

		snprintf(msg, sizeof(msg), "cannot open the console of '%s': %s",
			 virDomainGetName(dom), e && e->message ? e->message : "libvirt failed");
		virResetLastError();
		virStreamFree(st);
		return soda_error_set(error, -EIO, msg);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		virStreamAbort(st);
		virStreamFree(st);
		return soda_error_set(error, r, "cannot make the console's socket pair");
	}
	rl = malloc(sizeof(*rl));
	if (!rl) {
		r = -ENOMEM;
		goto fail;
	}
	rl->st = st;
	rl->fd = sv[1];
	/* The relay takes no signal of the application's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&tid, &attr, relay_main, rl);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		free(rl);
		goto fail;
	}
	*ret_fd = sv[0];
	return 0;
fail:
	close(sv[0]);
	close(sv[1]);
	virStreamAbort(st);
	virStreamFree(st);
	return soda_error_set(error, r, "cannot start the console relay");
}
