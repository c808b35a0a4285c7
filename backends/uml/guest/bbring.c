/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /dev/blackbox.ring: the ring's two ends (see bbring.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bbring.h"

/* The producer tells a sleeping agent at least this often under load. */
#define TELL_BYTES (768 * 1024)
#define READ_MAX (64 * 1024) /* as the bench's dd reads: the same system calls */

long bbring_take(const struct bbring_hdr *h, const uint8_t *data, uint32_t size, uint64_t *tail,
		 uint8_t *out, size_t max)
{
	uint64_t head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE), avail = head - *tail;
	size_t n, off, first;

	/* Modulo 2^64: a head behind the tail is as far off as one too far
	 * ahead. */
	if (avail > size)
		return -EPROTO;
	n = avail < max ? (size_t)avail : max;
	off = (size_t)(*tail & (size - 1));
	first = size - off < n ? size - off : n;
	memcpy(out, data + off, first);
	memcpy(out + first, data, n - first);
	*tail += n;
	return (long)n;
}

static void tell(int sock)
{
	if (send(sock, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		return;
}

void bbring_publish(struct bbring_hdr *h, int sock, uint64_t head, int tell_now)
{
	__atomic_store_n(&h->head, head, __ATOMIC_RELEASE);
	if (!tell_now)
		return;
	/* The agent set its flag, then looked at head: either it sees this
	 * head, or we see its flag (both sides fence between). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&h->agent_waiting, 0, __ATOMIC_ACQ_REL))
		tell(sock);
}

int bbring_connect(int *ret_sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char byte, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", BBRING_PATH);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "log: cannot connect to %s: %s\n", BBRING_PATH, strerror(errno));
		goto fail;
	}
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1 || !(cm = CMSG_FIRSTHDR(&mh)) ||
	    cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "log: the agent gave no ring (too many producers?)\n");
		goto fail;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	*ret_sock = sock;
	return fd;
fail:
	if (sock >= 0)
		close(sock);
	return -1;
}

/* Receives the ring from the agent and maps it. */
static struct bbring_hdr *ring_open(int *ret_sock)
{
	struct bbring_hdr *h;
	struct stat st;
	int sock = -1, fd = bbring_connect(&sock);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size != BBRING_DATA_OFFSET + BBRING_SIZE) {
		fprintf(stderr, "log: the ring has the wrong size\n");
		goto fail;
	}
	h = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	fd = -1;
	if (h == MAP_FAILED || h->magic != BBRING_MAGIC || h->version != BBRING_VERSION ||
	    h->size != BBRING_SIZE) {
		fprintf(stderr, "log: not a ring of this version\n");
		goto fail;
	}
	*ret_sock = sock;
	return h;
fail:
	if (fd >= 0)
		close(fd);
	close(sock);
	return NULL;
}

/* The ring is full: sleep until the agent has taken some. */
static int wait_room(struct bbring_hdr *h, int sock, uint64_t head)
{
	char buf[64];

	__atomic_store_n(&h->writer_waiting, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (head - __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE) < h->size) {
		__atomic_store_n(&h->writer_waiting, 0, __ATOMIC_RELAXED);
		return 0;
	}
	/* Make sure the agent is awake to take it. */
	bbring_publish(h, sock, head, 1);
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf), 0);

		if (n > 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		fprintf(stderr, "log: the agent closed the ring\n");
		return -1;
	}
}

static int copy_in(struct bbring_hdr *h, uint8_t *data, int sock, int in, uint64_t *head,
		   const char *name)
{
	uint64_t pending = 0;

	for (;;) {
		uint64_t used = *head - __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
		size_t off = (size_t)(*head & (BBRING_SIZE - 1)), want;
		ssize_t n;

		if (used >= BBRING_SIZE) {
			if (wait_room(h, sock, *head) < 0)
				return -1;
			continue;
		}
		want = BBRING_SIZE - (size_t)used;
		if (want > BBRING_SIZE - off)
			want = BBRING_SIZE - off;
		if (want > READ_MAX)
			want = READ_MAX;
		n = read(in, data + off, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "log: %s: %s\n", name, strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		*head += (uint64_t)n;
		pending += (uint64_t)n;
		/* Tell a sleeping agent once enough is there, or when the input
		 * paused (a short read): a slow producer's lines go at once. */
		bbring_publish(h, sock, *head, pending >= TELL_BYTES || (size_t)n < want);
		if (pending >= TELL_BYTES || (size_t)n < want)
			pending = 0;
	}
}

int bbring_log_main(int argc, char **argv)
{
	struct bbring_hdr *h;
	uint64_t head;
	int sock, status = 0;

	if (argc > 1 && argv[1][0] == '-' && argv[1][1]) {
		fprintf(stderr, "usage: /soda/init %s [FILE...]  (lines into the blackbox)\n",
			argv[0]);
		return 2;
	}
	h = ring_open(&sock);
	if (!h)
		return 1;
	head = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
	if (argc <= 1) {
		status = copy_in(h, (uint8_t *)h + BBRING_DATA_OFFSET, sock, 0, &head, "stdin") < 0;
	} else {
		for (int i = 1; i < argc; i++) {
			int fd = strcmp(argv[i], "-") == 0 ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);

			if (fd < 0) {
				fprintf(stderr, "log: %s: %s\n", argv[i], strerror(errno));
				status = 1;
				continue;
			}
			if (copy_in(h, (uint8_t *)h + BBRING_DATA_OFFSET, sock, fd, &head,
				    argv[i]) < 0)
				status = 1;
			if (fd > 0)
				close(fd);
		}
	}
	bbring_publish(h, sock, head, 1);
	/* Closing tells the agent to take the rest and end the connection. */
	close(sock);
	return status;
}
