/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ringattack: a hostile producer of /dev/blackbox.ring, run inside a guest
 * by it-blackbox. It takes a ring from the agent and then
 *   - tries to shrink and to grow the ring's memfd (the agent seals it: a
 *     shrunk file would fault the agent, PID 1, on its next read);
 *   - publishes a head far beyond what the ring holds, and tells the agent.
 * It prints what happened and waits for the agent to close the connection
 * ("closed by the agent"), for at most 10 s. Exit status 0 if the agent
 * refused everything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/uml/guest/bbring.h"

int main(void)
{
	struct bbring_hdr *h;
	struct pollfd p;
	int sock = -1, fd = bbring_connect(&sock), bad = 0;

	if (fd < 0) {
		printf("no ring\n");
		return 1;
	}
	if (ftruncate(fd, 0) == 0) {
		printf("shrink: allowed\n");
		bad = 1;
	} else {
		printf("shrink: refused (%s)\n", strerror(errno));
	}
	if (ftruncate(fd, BBRING_DATA_OFFSET + 2 * BBRING_SIZE) == 0) {
		printf("grow: allowed\n");
		bad = 1;
	} else {
		printf("grow: refused (%s)\n", strerror(errno));
	}
	h = mmap(NULL, BBRING_DATA_OFFSET + BBRING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (h == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		return 1;
	}
	/* A little that is true, then a head three rings ahead. */
	memcpy((char *)h + BBRING_DATA_OFFSET, "ring attack\n", 12);
	__atomic_store_n(&h->head, 3ull * BBRING_SIZE, __ATOMIC_RELEASE);
	h->tail = 0;
	send(sock, "", 1, MSG_NOSIGNAL);
	p = (struct pollfd){ sock, POLLIN, 0 };
	for (int i = 0; i < 100; i++) {
		char buf[64];

		if (poll(&p, 1, 100) > 0 && recv(sock, buf, sizeof(buf), MSG_DONTWAIT) == 0) {
			printf("closed by the agent\n");
			return bad;
		}
	}
	printf("still open after 10 s\n");
	return 1;
}
