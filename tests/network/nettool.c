/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nettool: the traffic the switch tests send from inside guests (static,
 * given to them through a share). Busybox's nc has no UDP and no raw
 * frames, hence this.
 *
 *   nettool tcp-serve PORT SECONDS            accept, answer "ok", close; repeat
 *   nettool tcp-connect ADDR PORT MS          connect and read "ok"; exit 0 if so
 *   nettool tcp-loop ADDR PORT SECONDS        connect again and again; "ok=N fail=M"
 *   nettool udp-echo PORT SECONDS             send every datagram back
 *   nettool udp-ask ADDR PORT MS              one datagram, wait for the echo; exit 0 if so
 *   nettool udp-count PORT SECONDS            "received=N" datagrams
 *   nettool udp-send ADDR PORT COUNT GAP_US   COUNT datagrams (sequence numbers)
 *   nettool frame-udp IF SRCMAC DSTMAC SRCIP DSTIP PORT COUNT
 *                                             raw UDP frames with any source
 *   nettool frame-arp IF SRCMAC OP SHA SPA THA TPA COUNT
 *                                             raw ARP (OP 1 request, 2 reply),
 *                                             to the broadcast address
 *
 * Exit status 0 success, 1 the traffic did not get through, 2 bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "nettool: bad usage (see the source)\n");
	return 2;
}

static int addr_of(const char *ip, int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int listener(int type, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, type, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r;
}

static int tcp_serve(int port, double secs)
{
	int ls = listener(SOCK_STREAM, port);
	double end = now() + secs;

	if (ls < 0) {
		perror("listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	while (now() < end) {
		int fd;

		if (wait_readable(ls, 100) <= 0)
			continue;
		fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		if (write(fd, "ok\n", 3) < 0) {
			/* the client went away; nothing to do */
		}
		close(fd);
	}
	close(ls);
	return 0;
}

/* 0: connected and got "ok"; 1: not. */
static int tcp_once(const struct sockaddr_in *sa, int ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0, r = 1;
	socklen_t len = sizeof(err);
	struct pollfd p;
	char buf[8];

	if (fd < 0)
		return 1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS)
		goto out;
	p = (struct pollfd){ fd, POLLOUT, 0 };
	if (poll(&p, 1, ms) <= 0)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		goto out;
	if (wait_readable(fd, ms) <= 0)
		goto out;
	if (read(fd, buf, sizeof(buf)) >= 2 && buf[0] == 'o' && buf[1] == 'k')
		r = 0;
out:
	close(fd);
	return r;
}

static int tcp_connect(const char *ip, int port, int ms)
{
	struct sockaddr_in sa;
	int r;

	if (addr_of(ip, port, &sa) < 0)
		return usage();
	r = tcp_once(&sa, ms);
	printf("%s\n", r ? "failed" : "connected");
	return r;
}

static int tcp_loop(const char *ip, int port, double secs)
{
	struct sockaddr_in sa;
	double end = now() + secs;
	unsigned long ok = 0, fail = 0;

	if (addr_of(ip, port, &sa) < 0)
		return usage();
	while (now() < end) {
		if (tcp_once(&sa, 1000) == 0)
			ok++;
		else
			fail++;
	}
	printf("ok=%lu fail=%lu\n", ok, fail);
	return 0;
}

static int udp_echo(int port, double secs)
{
	int fd = listener(SOCK_DGRAM, port);
	double end = now() + secs;
	char buf[2048];

	if (fd < 0) {
		perror("bind");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	while (now() < end) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (wait_readable(fd, 100) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	close(fd);
	return 0;
}

static int udp_ask(const char *ip, int port, int ms)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), r = 1;
	char buf[64];

	if (fd < 0 || addr_of(ip, port, &sa) < 0)
		return usage();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && send(fd, "ping", 4, 0) == 4 &&
	    wait_readable(fd, ms) > 0 && recv(fd, buf, sizeof(buf), 0) == 4 &&
	    memcmp(buf, "ping", 4) == 0)
		r = 0;
	printf("%s\n", r ? "no answer" : "answered");
	close(fd);
	return r;
}

static int udp_count(int port, double secs)
{
	int fd = listener(SOCK_DGRAM, port), size = 4 << 20;
	double end = now() + secs;
	unsigned long n = 0;
	char buf[2048];

	if (fd < 0) {
		perror("bind");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	printf("listening\n");
	fflush(stdout);
	while (now() < end) {
		if (wait_readable(fd, 100) <= 0)
			continue;
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			n++;
	}
	printf("received=%lu\n", n);
	close(fd);
	return 0;
}

static int udp_send(const char *ip, int port, long count, long gap_us)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	long sent = 0;

	if (fd < 0 || addr_of(ip, port, &sa) < 0)
		return usage();
	for (long i = 0; i < count; i++) {
		char msg[32];
		int len = snprintf(msg, sizeof(msg), "%ld", i);

		if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&sa, sizeof(sa)) == len)
			sent++;
		if (gap_us > 0)
			usleep((useconds_t)gap_us);
	}
	printf("sent=%ld\n", sent);
	close(fd);
	return 0;
}

/* ---- raw frames ---- */

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int raw_send(const char *ifname, const void *frame, size_t len, long count)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_halen = 6 };
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	long sent = 0;

	if (fd < 0) {
		perror("packet socket");
		return 1;
	}
	ll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!ll.sll_ifindex) {
		perror(ifname);
		return 1;
	}
	memcpy(ll.sll_addr, frame, 6);
	for (long i = 0; i < count; i++) {
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&ll, sizeof(ll)) == (ssize_t)len)
			sent++;
		usleep(2000);
	}
	close(fd);
	printf("sent=%ld\n", sent);
	return sent == count ? 0 : 1;
}

static int frame_udp(char **a, long count)
{
	uint8_t f[64] = { 0 }, *ip = f + 14, *udp = ip + 20;
	struct in_addr s, d;
	int port = atoi(a[5]);

	if (parse_mac(a[1], f + 6) < 0 || parse_mac(a[2], f) < 0 || inet_pton(AF_INET, a[3], &s) != 1 ||
	    inet_pton(AF_INET, a[4], &d) != 1)
		return usage();
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4; /* total length */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	{
		uint16_t c = csum(ip, 20);

		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	}
	udp[0] = 0x9c;
	udp[1] = 0x40; /* source port 40000 */
	udp[2] = (uint8_t)(port >> 8);
	udp[3] = (uint8_t)port;
	udp[5] = 8 + 4;
	memcpy(udp + 8, "spof", 4); /* checksum 0: none */
	return raw_send(a[0], f, 60, count);
}

static int frame_arp(char **a, long count)
{
	uint8_t f[60] = { 0 }, *arp = f + 14;
	struct in_addr spa, tpa;

	memset(f, 0xff, 6);
	if (parse_mac(a[1], f + 6) < 0 || parse_mac(a[3], arp + 8) < 0 ||
	    inet_pton(AF_INET, a[4], &spa) != 1 || parse_mac(a[5], arp + 18) < 0 ||
	    inet_pton(AF_INET, a[6], &tpa) != 1)
		return usage();
	f[12] = 0x08;
	f[13] = 0x06;
	arp[1] = 1;    /* Ethernet */
	arp[2] = 0x08; /* IPv4 */
	arp[4] = 6;
	arp[5] = 4;
	arp[7] = (uint8_t)atoi(a[2]);
	memcpy(arp + 14, &spa, 4);
	memcpy(arp + 24, &tpa, 4);
	return raw_send(a[0], f, sizeof(f), count);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "tcp-serve") && argc == 4)
		return tcp_serve(atoi(argv[2]), atof(argv[3]));
	if (!strcmp(cmd, "tcp-connect") && argc == 5)
		return tcp_connect(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "tcp-loop") && argc == 5)
		return tcp_loop(argv[2], atoi(argv[3]), atof(argv[4]));
	if (!strcmp(cmd, "udp-echo") && argc == 4)
		return udp_echo(atoi(argv[2]), atof(argv[3]));
	if (!strcmp(cmd, "udp-ask") && argc == 5)
		return udp_ask(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "udp-count") && argc == 4)
		return udp_count(atoi(argv[2]), atof(argv[3]));
	if (!strcmp(cmd, "udp-send") && argc == 6)
		return udp_send(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]));
	if (!strcmp(cmd, "frame-udp") && argc == 9)
		return frame_udp(argv + 2, atol(argv[8]));
	if (!strcmp(cmd, "frame-arp") && argc == 10)
		return frame_arp(argv + 2, atol(argv[9]));
	return usage();
}
