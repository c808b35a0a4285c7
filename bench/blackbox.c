/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/blackbox: the host store, the verifier and the reader.
 *
 *   bench-blackbox [--mib N] [--dir DIR] [--rounds N]
 *
 * Append: N MiB (default 256) of 1 KiB records, sealed beforehand by a
 * writer into frames (as a guest's agent would), fed to the store in 64 KiB
 * pieces as soda-monitor does: once with the data synced at the close, as
 * the baseline, and once with fdatasync at every group commit (the
 * monitor's durability). Baseline in the same run: write() of the same
 * frame bytes in the same pieces to a plain file, one fdatasync at the end.
 * Then the keyless verifier and the tenant's reader over the store.
 * DIR (default /var/tmp) is where the files go: the disk under test.
 * Every figure is the median of N rounds (default 5); a round measures the
 * baseline and each case once, one after the other, so that a slow spell
 * of the machine meets them alike. The store's chain is BLAKE3 (segment
 * version 2); one case appends with the BLAKE2b chain of version 1 for
 * comparison.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <blake3.h>
#include <sodium.h>

#include <soda/blackbox.h>
#include <soda/soda.h>

static void die(const char *what, soda_error *e)
{
	fprintf(stderr, "bench-blackbox: %s: %s\n", what, e ? soda_error_message(e) : strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int collect(const void *frame, size_t len, void *userdata)
{
	struct buf *b = userdata;

	if (b->len + len > b->cap)
		return -ENOSPC;
	memcpy(b->p + b->len, frame, len);
	b->len += len;
	return 0;
}

#define PIECE (64 * 1024)

/* Feeds the frames to a new store in @dir in pieces, committing when due;
 * returns the seconds from open to close. */
static double append(const char *dir, soda_blackbox_key *pub, const struct buf *frames,
		     uint32_t durability, unsigned mib, unsigned flags)
{
	soda_blackbox_store_options so = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_blackbox_store *st = NULL;
	soda_error *e = NULL;
	double t;

	so.durability = durability;
	so.quota_bytes = (uint64_t)mib * 4 << 20;
	so.segment_bytes = 64 << 20;
	t = now_s();
	if (soda_blackbox_store_open(&st, dir, pub, &so, flags, &e) < 0)
		die("store", e);
	for (size_t off = 0; off < frames->len; off += PIECE) {
		size_t n = frames->len - off < PIECE ? frames->len - off : PIECE;
		uint64_t deadline;

		if (soda_blackbox_store_feed(st, frames->p + off, n, 0, &e) < 0)
			die("feed", e);
		if (soda_blackbox_store_get_deadline(st, &deadline) == 0 && deadline != UINT64_MAX) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			if ((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u >= deadline &&
			    soda_blackbox_store_process(st, 0, &e) < 0)
				die("commit", e);
		}
	}
	if (soda_blackbox_store_close(st, 0, &e) < 0)
		die("close", e);
	return now_s() - t;
}

static double verify(const char *dir, unsigned flags)
{
	soda_blackbox_report *rep = NULL;
	soda_error *e = NULL;
	double t = now_s();

	if (soda_blackbox_verify(&rep, dir, NULL, flags, &e) < 0)
		die("verify", e);
	t = now_s() - t;
	if (soda_blackbox_report_get_status(rep) != SODA_BLACKBOX_INTACT)
		die("the store does not verify", NULL);
	soda_blackbox_report_free(rep);
	return t;
}

static double read_all(const char *dir, const soda_blackbox_key *key, unsigned flags,
		       uint64_t *ret_records, uint64_t *ret_payload)
{
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *e = NULL;
	uint64_t records = 0, payload = 0;
	double t = now_s();

	if (soda_blackbox_reader_open(&rd, dir, key, NULL, flags, &e) < 0)
		die("reader", e);
	while (soda_blackbox_reader_next(rd, &rec, 0, &e) == 1) {
		size_t len;

		soda_blackbox_record_get_data(rec, &len);
		records++;
		payload += len;
	}
	t = now_s() - t;
	if (soda_blackbox_report_get_status(soda_blackbox_reader_get_report(rd)) !=
	    SODA_BLACKBOX_INTACT)
		die("the reader found the store damaged", NULL);
	soda_blackbox_reader_close(rd);
	if (ret_records)
		*ret_records = records;
	if (ret_payload)
		*ret_payload = payload;
	return t;
}

/* The baseline: the same bytes with write(), one fdatasync at the end. */
static double raw_write(const char *path, const struct buf *frames)
{
	double t;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		die(path, NULL);
	t = now_s();
	for (size_t off = 0; off < frames->len; off += PIECE) {
		size_t n = frames->len - off < PIECE ? frames->len - off : PIECE;

		if (write(fd, frames->p + off, n) != (ssize_t)n)
			die("write", NULL);
	}
	fdatasync(fd);
	t = now_s() - t;
	close(fd);
	unlink(path);
	return t;
}

static void remove_store(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		die("cleaning up", NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { RAW, APPEND, APPEND_PAR, GROUP, APPEND_V1, VERIFY, VERIFY_PAR, READ, READ_PAR, BLAKE3, BLAKE2B, N_CASES };
#define MAX_ROUNDS 15

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "mib", required_argument, NULL, 'm' },
					      { "dir", required_argument, NULL, 'd' },
					      { "rounds", required_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	soda_blackbox_writer_options wo = SODA_BLACKBOX_WRITER_OPTIONS_INIT;
	soda_blackbox_key *key = NULL, *pub = NULL;
	soda_blackbox_writer *w = NULL;
	soda_error *e = NULL;
	const char *base = "/var/tmp";
	char dir[256], raw[300];
	struct buf frames = { 0 };
	uint8_t body[1024];
	unsigned mib = 256, rounds = 5;
	double sec[N_CASES][MAX_ROUNDS], m[N_CASES], t;
	uint64_t records = 0, payload = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm' && atoi(optarg) > 0)
			mib = (unsigned)atoi(optarg);
		else if (c == 'd')
			base = optarg;
		else if (c == 'r' && atoi(optarg) > 0 && atoi(optarg) <= MAX_ROUNDS)
			rounds = (unsigned)atoi(optarg);
		else
			return 2;
	}
	snprintf(dir, sizeof(dir), "%s/soda-bench-bb-%d", base, (int)getpid());
	snprintf(raw, sizeof(raw), "%s/soda-bench-raw-%d", base, (int)getpid());

	/* The frames, sealed once: what a guest's line carries. */
	frames.cap = (size_t)mib * 1200 * 1024;
	frames.p = malloc(frames.cap);
	if (!frames.p)
		die("memory", NULL);
	memset(body, 'x', sizeof(body));
	if (soda_blackbox_key_generate(&key, SODA_BLACKBOX_KEY_TENANT, 0, &e) < 0 ||
	    soda_blackbox_key_get_public(&pub, key, &e) < 0 ||
	    soda_blackbox_writer_new(&w, pub, &wo, collect, &frames, NULL, 0, &e) < 0)
		die("writer", e);
	for (uint64_t i = 0; i < (uint64_t)mib * 1024; i++) {
		snprintf((char *)body, 32, "record %020llu", (unsigned long long)i);
		if (soda_blackbox_writer_append(w, SODA_BLACKBOX_TEXT, 0, body, sizeof(body), 0, 0, 0,
						&e) < 0)
			die("append", e);
	}
	soda_blackbox_writer_end(w, 0, 0, NULL);
	soda_blackbox_writer_free(w);

	for (unsigned i = 0; i < rounds; i++) {
		uint8_t digest[32];
		blake3_hasher b3;

		sec[RAW][i] = raw_write(raw, &frames);
		/* The store, as soda-monitor drives it: with the baseline's
		 * durability (written, synced once at the close), with the
		 * monitor's (fdatasync every group), and with the old chain. */
		sec[APPEND][i] = append(dir, pub, &frames, SODA_BLACKBOX_DURABILITY_WRITE, mib, 0);
		remove_store(dir);
		sec[APPEND_PAR][i] = append(dir, pub, &frames, SODA_BLACKBOX_DURABILITY_WRITE, mib,
					    SODA_BLACKBOX_STORE_PARALLEL);
		remove_store(dir);
		sec[APPEND_V1][i] = append(dir, pub, &frames, SODA_BLACKBOX_DURABILITY_WRITE, mib,
					   SODA_BLACKBOX_STORE_CHAIN_V1);
		remove_store(dir);
		sec[GROUP][i] = append(dir, pub, &frames, SODA_BLACKBOX_DURABILITY_GROUP, mib, 0);
		sec[VERIFY][i] = verify(dir, 0);
		sec[VERIFY_PAR][i] = verify(dir, SODA_BLACKBOX_VERIFY_PARALLEL);
		sec[READ][i] = read_all(dir, key, 0, &records, &payload);
		sec[READ_PAR][i] = read_all(dir, key, SODA_BLACKBOX_READ_PARALLEL, NULL, NULL);
		remove_store(dir);
		/* The chain's hashes over every byte, in memory: ceilings. */
		t = now_s();
		blake3_hasher_init(&b3);
		blake3_hasher_update(&b3, frames.p, frames.len);
		blake3_hasher_finalize(&b3, digest, sizeof(digest));
		sec[BLAKE3][i] = now_s() - t;
		t = now_s();
		crypto_generichash(digest, sizeof(digest), frames.p, frames.len, NULL, 0);
		sec[BLAKE2B][i] = now_s() - t;
	}
	for (int k = 0; k < N_CASES; k++)
		m[k] = median(sec[k], rounds);
	printf("Blackbox host store, %u MiB of 1 KiB records (%.1f MiB of frames), pieces of 64 KiB, "
	       "median of %u rounds\n",
	       mib, frames.len / 1048576.0, rounds);
	printf("  write() of the frames (baseline)    %7.3f s  %8.1f MB/s\n", m[RAW],
	       frames.len / m[RAW] / 1e6);
	printf("  store append, synced at the close   %7.3f s  %8.1f MB/s   ratio %.2f\n", m[APPEND],
	       frames.len / m[APPEND] / 1e6, m[RAW] / m[APPEND]);
	printf("  append, chain on a second thread    %7.3f s  %8.1f MB/s   ratio %.2f\n",
	       m[APPEND_PAR], frames.len / m[APPEND_PAR] / 1e6, m[RAW] / m[APPEND_PAR]);
	printf("  store append, fdatasync per group   %7.3f s  %8.1f MB/s   ratio %.2f\n", m[GROUP],
	       frames.len / m[GROUP] / 1e6, m[RAW] / m[GROUP]);
	printf("  store append, BLAKE2b chain (v1)    %7.3f s  %8.1f MB/s   ratio %.2f\n",
	       m[APPEND_V1], frames.len / m[APPEND_V1] / 1e6, m[RAW] / m[APPEND_V1]);
	printf("  verify without a key                %7.3f s  %8.1f MB/s\n", m[VERIFY],
	       frames.len / m[VERIFY] / 1e6);
	printf("  verify, chain on a second thread    %7.3f s  %8.1f MB/s\n", m[VERIFY_PAR],
	       frames.len / m[VERIFY_PAR] / 1e6);
	printf("  read with the tenant key            %7.3f s  %8.1f MB/s   (%llu records, %.1f MiB of "
	       "plaintext)\n",
	       m[READ], frames.len / m[READ] / 1e6, (unsigned long long)records, payload / 1048576.0);
	printf("  read, decrypting on two threads     %7.3f s  %8.1f MB/s\n", m[READ_PAR],
	       frames.len / m[READ_PAR] / 1e6);
	printf("  BLAKE3 of the frames, in memory     %7.3f s  %8.1f MB/s   (the chain's cost)\n",
	       m[BLAKE3], frames.len / m[BLAKE3] / 1e6);
	printf("  BLAKE2b of the frames, in memory    %7.3f s  %8.1f MB/s   (version 1's chain)\n",
	       m[BLAKE2B], frames.len / m[BLAKE2B] / 1e6);
	soda_blackbox_key_free(key);
	soda_blackbox_key_free(pub);
	free(frames.p);
	return records == (uint64_t)mib * 1024 ? 0 : 1;
}
