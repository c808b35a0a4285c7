/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * liongen: Lion-worm-like traffic (March 2001) for the tests of the IDS at
 * a server's port, run inside a neighbour guest (static; given to guests
 * through a share). It only ever talks to the address it is given; the
 * tests give it 198.51.100.x / 203.0.113.x addresses inside namespaces
 * they made. Nothing here exploits anything: the payloads carry the bytes
 * the signatures look for, not working shellcode.
 *
 *   liongen tsig-udp ADDR          the BIND 8 TSIG overflow over UDP to 53
 *   liongen tsig-tcp ADDR          the same over TCP to 53 (needs a listener)
 *   liongen tsig-tcp-late ADDR N   the same on a connection that first
 *                                  carried N bytes of filler and paused
 *                                  for 0.5 s (the port IDS's flow bypass)
 *   liongen version ADDR           a version.bind CHAOS TXT query (UDP 53)
 *   liongen dns ADDR               a benign A query for www.example.com
 *   liongen scan ADDR FROM TO      a connect() to each port FROM..TO
 *   liongen backdoor ADDR PORT     a connect() to the backdoor PORT
 *   liongen flow ADDR PORT MS      connect, say hello, wait MS, send the
 *                                  flow marker, close
 *   liongen serve PORT SECONDS     (on the victim) accept connections and
 *                                  read them to their end
 *
 * Each prints "sent_usec=T" (CLOCK_REALTIME) when its last attack packet
 * left. Exit status 0 sent, 1 a network error, 2 bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* What Snort's sid 314 looks for in a UDP datagram to port 53, inside a
 * query-like datagram. */
static const unsigned char tsig_udp[] = {
	0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* header */
	0x00, 0x00, 0x01, 0x00, 0x01,                                           /* question */
	0x80, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, '?', 0x00, 0x01, 0x02,
	0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
};

/* sid 303's bytes, after the 2-byte length of DNS over TCP. */
static const unsigned char tsig_tcp[] = {
	0xab, 0xcd, 0x09, 0x80, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x20, 0x20, 0x20, 0x20, 0x02, 'a',
	0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
};

static const unsigned char version_bind[] = {
	0x13, 0x37, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 4, 'b', 'i', 'n', 'd', 0,
	0x00, 0x10, 0x00, 0x03, /* TXT, CHAOS */
};

static const unsigned char benign_query[] = {
	0x42, 0x42, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	0x00, 0x01, 0x00, 0x01,
};

static unsigned long long realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
}

static int addr_of(const char *ip, int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int udp_send(const char *ip, const void *data, size_t len)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || addr_of(ip, 53, &sa) < 0)
		return 2;
	if (sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)len) {
		perror("liongen: sendto");
		return 1;
	}
	printf("sent_usec=%llu\n", realtime_usec());
	close(fd);
	return 0;
}

/* A connect with a deadline; returns the socket (connected or not:
 * -1 when the connection failed, which a scan expects). */
static int tcp_connect(const char *ip, int port, int ms, int *connected)
{
	struct sockaddr_in sa;
	struct pollfd p;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t len = sizeof(err);

	*connected = 0;
	if (fd < 0 || addr_of(ip, port, &sa) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	p = (struct pollfd){ fd, POLLOUT, 0 };
	if (poll(&p, 1, ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == 0) {
		*connected = 1;
		fcntl(fd, F_SETFL, 0);
	}
	return fd;
}

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int tsig_over_tcp(const char *ip, long filler)
{
	unsigned char msg[2 + sizeof(tsig_tcp)];
	int ok, fd = tcp_connect(ip, 53, 2000, &ok);

	if (fd < 0 || !ok) {
		fprintf(stderr, "liongen: cannot connect to %s:53\n", ip);
		return 1;
	}
	if (filler > 0) {
		char buf[16384];

		memset(buf, 'f', sizeof(buf));
		while (filler > 0) {
			size_t n = filler < (long)sizeof(buf) ? (size_t)filler : sizeof(buf);

			if (send_all(fd, buf, n) < 0) {
				perror("liongen: send");
				return 1;
			}
			filler -= (long)n;
		}
		usleep(500000);
	}
	msg[0] = 0;
	msg[1] = sizeof(tsig_tcp);
	memcpy(msg + 2, tsig_tcp, sizeof(tsig_tcp));
	if (send_all(fd, msg, sizeof(msg)) < 0)
		return 1;
	printf("sent_usec=%llu\n", realtime_usec());
	usleep(100000);
	close(fd);
	return 0;
}

static int scan(const char *ip, int from, int to)
{
	int n = 0;

	for (int port = from; port <= to; port++) {
		int ok, fd = tcp_connect(ip, port, 200, &ok);

		if (fd >= 0)
			close(fd);
		n++;
	}
	printf("scanned=%d sent_usec=%llu\n", n, realtime_usec());
	return 0;
}

static int flow(const char *ip, int port, int ms)
{
	static const char hello[] = "hello\n", marker[] = "LION-FLOW-MARKER\n";
	int ok, fd = tcp_connect(ip, port, 2000, &ok);
	char buf[64];

	if (fd < 0 || !ok) {
		fprintf(stderr, "liongen: cannot connect to %s:%d\n", ip, port);
		return 1;
	}
	if (send_all(fd, hello, sizeof(hello) - 1) < 0)
		return 1;
	printf("connected_usec=%llu\n", realtime_usec());
	fflush(stdout);
	usleep((useconds_t)ms * 1000);
	if (send_all(fd, marker, sizeof(marker) - 1) < 0) {
		fprintf(stderr, "liongen: the connection did not last\n");
		return 1;
	}
	printf("sent_usec=%llu\n", realtime_usec());
	{
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 300) == 1 && read(fd, buf, sizeof(buf)) < 0) {
			/* the answer does not matter */
		}
	}
	close(fd);
	return 0;
}

static int serve(int port, int seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd p[9];
	int one = 1, n = 1;
	time_t end = time(NULL) + seconds;

	p[0] = (struct pollfd){ socket(AF_INET, SOCK_STREAM, 0), POLLIN, 0 };
	if (p[0].fd < 0 || setsockopt(p[0].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(p[0].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(p[0].fd, 8) < 0) {
		perror("liongen: listen");
		return 1;
	}
	while (time(NULL) < end) {
		if (poll(p, (nfds_t)n, 200) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && n < 9) {
			int fd = accept(p[0].fd, NULL, NULL);

			if (fd >= 0)
				p[n++] = (struct pollfd){ fd, POLLIN, 0 };
		}
		for (int i = 1; i < n; i++) {
			char buf[4096];

			if (!p[i].revents)
				continue;
			if (read(p[i].fd, buf, sizeof(buf)) <= 0) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "tsig-udp") && argc == 3)
		return udp_send(argv[2], tsig_udp, sizeof(tsig_udp));
	if (!strcmp(cmd, "tsig-tcp") && argc == 3)
		return tsig_over_tcp(argv[2], 0);
	if (!strcmp(cmd, "tsig-tcp-late") && argc == 4 && atol(argv[3]) > 0)
		return tsig_over_tcp(argv[2], atol(argv[3]));
	if (!strcmp(cmd, "version") && argc == 3)
		return udp_send(argv[2], version_bind, sizeof(version_bind));
	if (!strcmp(cmd, "dns") && argc == 3)
		return udp_send(argv[2], benign_query, sizeof(benign_query));
	if (!strcmp(cmd, "scan") && argc == 5)
		return scan(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "backdoor") && argc == 4) {
		int ok, fd = tcp_connect(argv[2], atoi(argv[3]), 500, &ok);

		printf("connected=%d sent_usec=%llu\n", ok, realtime_usec());
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (!strcmp(cmd, "serve") && argc == 4)
		return serve(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(cmd, "flow") && argc == 5)
		return flow(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "liongen: bad usage (see the source)\n");
	return 2;
}
