/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/seal: what sealing a record costs the writer (libsoda/blackbox/aead.c).
 *
 *   bench-seal [--mib N] [--rounds R] [--record BYTES]
 *
 * Seals N MiB (default 64) as secretstream messages of BYTES (default
 * 65536, the largest record body), taken in turn from a buffer of 1 MiB (the
 * agent seals what it has just read from the FIFO: in the cache), with:
 *   libsodium  crypto_secretstream_xchacha20poly1305_push() of each message
 *              from one buffer: the baseline;
 *   portable   sbx_ss_push2() from two parts (a 24-byte header and the
 *              body) without AVX-512: the steps with libsodium's ChaCha20
 *              and Poly1305 from 16 KiB, a copy and libsodium's push below;
 *   avx512     sbx_ss_push2() with ChaCha20 and Poly1305 on AVX-512 from
 *              2 KiB, what the writer does where the CPU has it;
 *   writer     the writer (writer.c) with the agent's settings: records of
 *              1 KiB lines, sbw_append_lines_at() of as many lines as a
 *              record holds, each frame built where the output wants it
 *              (reserve): sealing plus the framing, counting and copying
 *              around it;
 * and the other way, opening 64 KiB messages (as the tenant's reader does
 * with the agent's records): libsodium's pull against sbx_ss_pull() on
 * AVX-512; and Poly1305 alone over the same bytes, libsodium's against ours.
 * Each figure is the median of R rounds (default 7); a round measures every
 * case once, one after the other. Single-threaded: in a UML guest the agent
 * has one CPU, which it shares with the line.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aead.h"
#include "writer.h"

#define MAX_ROUNDS 50
#define HEADER 24
#define PLAIN_BYTES (1u << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { C_SODIUM, C_STEPS, C_AVX512, C_WRITER, C_PULL_SODIUM, C_PULL_OURS, C_POLY_SODIUM, C_POLY_OURS, N_CASES };

static const char *const names[N_CASES] = {
	"libsodium push (baseline)", "push2 without AVX-512", "push2 on AVX-512", "writer, 1 KiB lines", "pull, libsodium", "pull on AVX-512",
	"Poly1305 libsodium", "Poly1305 ours (AVX-512)",
};

/* The writer's output: frames built in place, in a buffer that is
 * reused once it fills (as the agent's goes to the line). */
struct out {
	uint8_t *p;
	size_t len, cap;
};

static void *reserve(size_t len, void *userdata)
{
	struct out *o = userdata;

	if (len > o->cap)
		return NULL;
	if (o->len + len > o->cap)
		o->len = 0;
	return o->p + o->len;
}

static int output(const void *frame, size_t len, void *userdata)
{
	struct out *o = userdata;

	if (o->len + len > o->cap)
		o->len = 0;
	if ((const uint8_t *)frame != o->p + o->len)
		memcpy(o->p + o->len, frame, len);
	o->len += len;
	return 0;
}

static double run_writer(const uint8_t *plain, size_t total, size_t record)
{
	static uint8_t frames[512 * 1024];
	struct out o = { frames, 0, sizeof(frames) };
	sbw_options opts = { .origin = SBX_ORIGIN_GUEST, .reserve = reserve };
	uint8_t pk[32], sk[32];
	sbw_writer *w;
	double t0;

	crypto_box_keypair(pk, sk);
	if (sbw_new(&w, pk, &opts, output, &o) < 0 || sbw_start(w) < 0)
		exit(1);
	sbw_append(w, SBX_R_LIFECYCLE, 0, "bench", 5); /* the epoch is open */
	t0 = now_s();
	for (size_t off = 0; off + record <= total; off += record)
		if (sbw_append_lines_at(w, plain + off % (PLAIN_BYTES - PLAIN_BYTES % record),
					record, 1, 1) < 0)
			exit(1);
	t0 = now_s() - t0;
	sbw_free(w);
	return t0;
}

/* Opens @total bytes: the messages sealed from @plain (one state, 1 MiB
 * of them), opened in turn from the same state again and again. */
static double run_pull(int ours, const uint8_t *plain, size_t total, size_t record)
{
	static uint8_t sealed[PLAIN_BYTES + 64 * crypto_secretstream_xchacha20poly1305_ABYTES];
	static uint8_t opened[1 << 20];
	const size_t clen = record + crypto_secretstream_xchacha20poly1305_ABYTES;
	const size_t n = PLAIN_BYTES / record;
	uint8_t key[32], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	sbx_ss_state push, start, st;
	unsigned long long mlen;
	unsigned char tag;
	double t0;

	randombytes_buf(key, sizeof(key));
	crypto_secretstream_xchacha20poly1305_init_push(&push, header, key);
	crypto_secretstream_xchacha20poly1305_init_pull(&start, header, key);
	for (size_t i = 0; i < n && (i + 1) * clen <= sizeof(sealed); i++)
		crypto_secretstream_xchacha20poly1305_push(&push, sealed + i * clen, NULL,
							   plain + i * record, record, NULL, 0, 0);
	t0 = now_s();
	for (size_t off = 0, i = n; off + record <= total; off += record, i++) {
		if (i == n || (i + 1) * clen > sizeof(sealed))
			i = 0, st = start;
		if ((ours ? sbx_ss_pull(&st, opened, &mlen, &tag, sealed + i * clen, clen, NULL, 0)
			  : crypto_secretstream_xchacha20poly1305_pull(&st, opened, &mlen, &tag,
								       sealed + i * clen, clen,
								       NULL, 0)) != 0)
			exit(1);
	}
	return now_s() - t0;
}

static double run_case(int c, const uint8_t *plain, uint8_t *out, uint8_t *scratch, size_t total,
		       size_t record)
{
	sbx_ss_state st;
	uint8_t key[32], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	uint8_t polykey[32], tag[16];
	static uint8_t sink;
	double t0;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(polykey, sizeof(polykey));
	crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
	sbx_aead_avx512(c == C_AVX512 || c == C_POLY_OURS || c == C_WRITER || c == C_PULL_OURS);
	if (c == C_PULL_SODIUM || c == C_PULL_OURS)
		return run_pull(c == C_PULL_OURS, plain, total, record);
	if (c == C_WRITER)
		/* Whole lines, as many as a record holds (the agent's way). */
		return run_writer(plain, total,
				  (record < SBX_RECORD_MAX_BODY ? record : SBX_RECORD_MAX_BODY) &
					  ~(size_t)1023);
	t0 = now_s();
	for (size_t off = 0; off + record <= total; off += record) {
		const uint8_t *p = plain + off % (PLAIN_BYTES - PLAIN_BYTES % record);

		switch (c) {
		case C_SODIUM:
			crypto_secretstream_xchacha20poly1305_push(&st, out, NULL, p, record, NULL,
								   0, 0);
			break;
		case C_STEPS:
		case C_AVX512:
			sbx_ss_push2(&st, out, p, HEADER, p + HEADER, record - HEADER, NULL, 0, 0,
				     scratch);
			break;
		case C_POLY_SODIUM:
			crypto_onetimeauth_poly1305(tag, p, record, polykey);
			sink ^= tag[0];
			break;
		default: {
			sbx_poly ps;

			sbx_poly_init(&ps, polykey);
			sbx_poly_update(&ps, p, record);
			sbx_poly_final(&ps, tag);
			sink ^= tag[0];
		}
		}
	}
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "mib", required_argument, NULL, 'm' },
					      { "rounds", required_argument, NULL, 'r' },
					      { "record", required_argument, NULL, 'b' },
					      { NULL, 0, NULL, 0 } };
	unsigned mib = 64, rounds = 7;
	size_t record = 65536, total;
	double t[N_CASES][MAX_ROUNDS], med[N_CASES];
	uint8_t *plain, *out, *scratch;
	int o, have;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'm')
			mib = (unsigned)strtoul(optarg, NULL, 10);
		else if (o == 'r')
			rounds = (unsigned)strtoul(optarg, NULL, 10);
		else if (o == 'b')
			record = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (!mib || mib > 4096 || !rounds || rounds > MAX_ROUNDS || record < 1024 ||
	    record > (1u << 20)) {
		fprintf(stderr,
			"bench-seal: --mib 1..4096, --rounds 1..%d, --record 1024..1048576\n",
			MAX_ROUNDS);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	have = sbx_aead_avx512(-1);
	total = (size_t)mib << 20;
	plain = malloc(PLAIN_BYTES);
	out = malloc(record + crypto_secretstream_xchacha20poly1305_ABYTES);
	scratch = malloc(record);
	if (!plain || !out || !scratch)
		return 1;
	/* 1 KiB lines of random letters. */
	randombytes_buf(plain, PLAIN_BYTES);
	for (size_t i = 0; i < PLAIN_BYTES; i++)
		plain[i] = i % 1024 == 1023 ? '\n' : (uint8_t)('a' + plain[i] % 26);
	for (unsigned r = 0; r < rounds; r++)
		for (int c = 0; c < N_CASES; c++)
			t[c][r] = (c == C_AVX512 || c == C_POLY_OURS || c == C_WRITER ||
				   c == C_PULL_OURS) &&
						  !have
					  ? 0
					  : run_case(c, plain, out, scratch, total, record);
	printf("Sealing %u MiB as records of %zu bytes, median of %u rounds, one thread%s\n", mib,
	       record, rounds, have ? "" : " (no AVX-512 here)");
	for (int c = 0; c < N_CASES; c++) {
		med[c] = median(t[c], rounds);
		if (med[c] <= 0) {
			printf("  %-28s       -\n", names[c]);
			continue;
		}
		printf("  %-28s %7.1f MB/s", names[c], (double)total / med[c] / 1e6);
		if (c == C_STEPS || c == C_AVX512 || c == C_WRITER)
			printf("  (%.2f x libsodium push)", med[C_SODIUM] / med[c]);
		if (c == C_POLY_OURS)
			printf("  (%.2f x libsodium)", med[C_POLY_SODIUM] / med[c]);
		if (c == C_PULL_OURS)
			printf("  (%.2f x libsodium pull)", med[C_PULL_SODIUM] / med[c]);
		printf("\n");
	}
	sbx_aead_avx512(1);
	free(plain);
	free(out);
	free(scratch);
	return 0;
}
