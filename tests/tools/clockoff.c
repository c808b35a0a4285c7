/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clockoff: how far a guest's CLOCK_REALTIME is from the host's.
 *
 *   clockoff FILE [ROUNDS]
 *
 * Runs in the guest. FILE (on a directory share) holds the host's
 * CLOCK_REALTIME in nanoseconds, rewritten by the host every few
 * microseconds. Each round reads it between two readings of the guest's
 * clock; the round with the shortest read gives the estimate. Prints
 * "offset_ns N uncertainty_ns M" (guest minus host).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long best_rtt = -1, best_off = 0;
	int rounds = argc > 2 ? atoi(argv[2]) : 50;

	if (argc < 2 || rounds < 1) {
		fprintf(stderr, "usage: clockoff FILE [ROUNDS]\n");
		return 2;
	}
	for (int i = 0; i < rounds; i++) {
		char buf[32] = { 0 };
		long long a, b, host;
		int fd, n;

		a = now_ns();
		fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? (int)read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		b = now_ns();
		host = n > 0 ? atoll(buf) : 0;
		if (host <= 0)
			continue;
		if (best_rtt < 0 || b - a < best_rtt) {
			best_rtt = b - a;
			best_off = (a + b) / 2 - host;
		}
		usleep(2000);
	}
	if (best_rtt < 0) {
		fprintf(stderr, "clockoff: could not read %s\n", argv[1]);
		return 1;
	}
	printf("offset_ns %lld uncertainty_ns %lld\n", best_off, best_rtt / 2);
	return 0;
}
