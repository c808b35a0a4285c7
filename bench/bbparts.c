/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/bbparts: the parts of the blackbox's path, timed inside a UML guest
 * (static; bench-bbguest copies it into the guest and runs it there).
 *
 *   bbparts LINE LINES MIB REPS
 *
 * For MIB MiB each, the median of REPS runs of:
 *   line   write() of 64 KiB pieces from memory to LINE, the node of the
 *          blackbox line: the raw channel without the copy's reading;
 *   tmpfs  read() of 64 KiB pieces of the file LINES (the guest's copy
 *          reads its lines from there in every mode);
 *   fifo   a child writes 64 KiB pieces into a FIFO of 1 MiB, the parent
 *          reads up to 256 KiB at a time (the agent's sizes): what
 *          /dev/blackbox costs a writer and the agent together;
 *   seal   sbx_ss_push2() of 64 KiB records (the agent's sealing, with
 *          AVX-512 where the CPU has it), from a 1 MiB buffer.
 * Prints one line: "parts line_ms=... tmpfs_ms=... fifo_ms=... seal_ms=...".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aead.h"

#define PIECE 65536
#define MAX_REPS 15

static char piece[PIECE], rbuf[256 * 1024];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static double line_ms(const char *line, size_t total)
{
	int fd = open(line, O_WRONLY | O_CLOEXEC);
	double t;

	if (fd < 0)
		fail(line);
	t = now_ms();
	for (size_t off = 0; off < total; off += PIECE)
		if (write(fd, piece, PIECE) != PIECE)
			fail("write to the line");
	t = now_ms() - t;
	close(fd);
	return t;
}

static double tmpfs_ms(const char *lines, size_t total)
{
	int fd = open(lines, O_RDONLY | O_CLOEXEC);
	double t;

	if (fd < 0)
		fail(lines);
	t = now_ms();
	for (size_t off = 0; off < total; off += PIECE)
		if (read(fd, rbuf, PIECE) != PIECE)
			fail("read of the lines (is the file large enough?)");
	t = now_ms() - t;
	close(fd);
	return t;
}

static double fifo_ms(size_t total)
{
	int p[2];
	size_t got = 0;
	double t;
	pid_t child;

	if (pipe2(p, O_CLOEXEC) < 0)
		fail("pipe");
	fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
	t = now_ms();
	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		close(p[0]);
		for (size_t off = 0; off < total; off += PIECE)
			if (write(p[1], piece, PIECE) != PIECE)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	for (ssize_t n; (n = read(p[0], rbuf, sizeof(rbuf))) > 0;)
		got += (size_t)n;
	waitpid(child, NULL, 0);
	t = now_ms() - t;
	close(p[0]);
	if (got != total)
		fail("the FIFO lost bytes");
	return t;
}

static double seal_ms(size_t total)
{
	static uint8_t plain[1 << 20], out[PIECE + crypto_secretstream_xchacha20poly1305_ABYTES],
		scratch[PIECE];
	uint8_t key[32], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	sbx_ss_state st;
	double t;

	randombytes_buf(plain, sizeof(plain));
	randombytes_buf(key, sizeof(key));
	crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
	t = now_ms();
	for (size_t off = 0; off < total; off += PIECE) {
		const uint8_t *p = plain + off % sizeof(plain);

		sbx_ss_push2(&st, out, p, 24, p + 24, PIECE - 24, NULL, 0, 0, scratch);
	}
	return now_ms() - t;
}

int main(int argc, char **argv)
{
	double v[4][MAX_REPS];
	size_t total;
	unsigned reps;

	if (argc != 5 || sodium_init() < 0) {
		fprintf(stderr, "usage: bbparts LINE LINES MIB REPS\n");
		return 2;
	}
	total = strtoul(argv[3], NULL, 10) << 20;
	reps = (unsigned)strtoul(argv[4], NULL, 10);
	if (!total || total > (1ul << 30) || !reps || reps > MAX_REPS) {
		fprintf(stderr, "bbparts: MIB 1..1024, REPS 1..%d\n", MAX_REPS);
		return 2;
	}
	/* 1 KiB lines, as the bench's copies carry. */
	for (size_t i = 0; i < PIECE; i++)
		piece[i] = (i % 1024 == 1023) ? '\n' : '0';
	for (unsigned r = 0; r < reps; r++) {
		v[0][r] = line_ms(argv[1], total);
		v[1][r] = tmpfs_ms(argv[2], total);
		v[2][r] = fifo_ms(total);
		v[3][r] = seal_ms(total);
	}
	for (int k = 0; k < 4; k++)
		qsort(v[k], reps, sizeof(double), cmp_double);
	printf("parts line_ms=%.2f tmpfs_ms=%.2f fifo_ms=%.2f seal_ms=%.2f avx512=%d\n",
	       v[0][reps / 2], v[1][reps / 2], v[2][reps / 2], v[3][reps / 2],
	       sbx_aead_avx512(-1));
	return 0;
}
