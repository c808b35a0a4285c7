/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcpblast: TCP goodput between two ends, for the shaping tests. Static, so
 * it also runs inside guests (given to them through a share).
 *
 *   tcpblast recv PORT SECONDS     prints "goodput_mbit=X bytes=N"
 *   tcpblast send ADDR PORT SECONDS
 *
 * The receiver measures from its first second on (leaving slow start out)
 * to the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_recv(int port, double seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[1 << 16];
	int one = 1, ls, fd;
	double t0, start = 0, end;
	unsigned long long bytes = 0, total = 0;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0) {
		perror("tcpblast: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	{
		/* Nobody coming is a failure, not a hang. */
		struct pollfd lp = { ls, POLLIN, 0 };

		if (poll(&lp, 1, (int)(seconds * 1000) + 15000) <= 0) {
			fprintf(stderr, "tcpblast: nobody connected\n");
			printf("goodput_mbit=0 bytes=0\n");
			return 1;
		}
	}
	fd = accept(ls, NULL, NULL);
	if (fd < 0) {
		perror("tcpblast: accept");
		return 1;
	}
	t0 = now();
	end = t0 + seconds;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		double t = now();
		ssize_t n;

		if (t >= end)
			break;
		if (poll(&p, 1, (int)((end - t) * 1000) + 1) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += (unsigned long long)n;
		if (now() - t0 >= 1.0) {
			if (!start)
				start = now();
			else
				bytes += (unsigned long long)n;
		}
	}
	if (!start || now() - start < 0.5) {
		printf("goodput_mbit=0 bytes=%llu\n", total);
		return 1;
	}
	printf("goodput_mbit=%.2f bytes=%llu\n", (double)bytes * 8 / 1e6 / (now() - start), total);
	close(fd);
	close(ls);
	return 0;
}

static int do_send(const char *addr, int port, double seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[1 << 16];
	double end;
	int fd;

	memset(buf, 'x', sizeof(buf));
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcpblast: bad address %s\n", addr);
		return 2;
	}
	for (int tries = 0;; tries++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(fd);
		if (tries > 50) {
			perror("tcpblast: connect");
			return 1;
		}
		usleep(100000);
	}
	end = now() + seconds;
	{
		/* A stalled connection must not outlive the run. */
		struct timeval tv = { 1, 0 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	/* The receiver hangs up when its time is over: that ends the run. */
	while (now() < end)
		if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR)
			break;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "recv") == 0)
		return do_recv(atoi(argv[2]), atof(argv[3]));
	if (argc == 5 && strcmp(argv[1], "send") == 0)
		return do_send(argv[2], atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: tcpblast recv PORT SECONDS | tcpblast send ADDR PORT SECONDS\n");
	return 2;
}
