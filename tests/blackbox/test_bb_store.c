/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host store's policies: a flooding guest against the quota, garbage
 * on the line, rotation into several segments, retention, recovery of a
 * torn tail after a crash, what the host can learn from a store, and
 * stores whose segments chain in both hashes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "bbtest.h"
#include "libsoda/blackbox/internal.h"
#include "testhelp.h"

static int setup(void **state)
{
	bb_env *e = calloc(1, sizeof(*e));

	bb_env_setup(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	bb_env_teardown(*state);
	free(*state);
	return 0;
}

/* Bytes in the store's files, and how many segments there are. */
static uint64_t store_bytes(const char *dir, int *ret_segments)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t total = 0;
	int segs = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode)) {
			total += (uint64_t)st.st_size;
			segs += strncmp(de->d_name, "seg-", 4) == 0;
		}
	}
	closedir(d);
	if (ret_segments)
		*ret_segments = segs;
	return total;
}

/* @n records of 1 KiB, "REC-<i>" first, into the line. */
static void records(sbw_writer *w, int first, int n)
{
	char body[1024];

	memset(body, '.', sizeof(body));
	for (int i = first; i < first + n; i++) {
		int k = snprintf(body, 32, "REC-%d;", i);

		body[k] = '.';
		assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, body, sizeof(body)), 0);
	}
}

static void test_quota_flood(void **state)
{
	bb_env *e = *state;
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "flood");
	soda_blackbox_store *s;
	soda_blackbox_report *r;
	uint64_t dropped = 0;
	char *text = NULL;
	size_t n = 0;

	o.quota_bytes = 1 << 20;
	o.segment_bytes = 256 << 10;
	s = bb_store(e->store, e->pk, &o);
	/* A guest writes 8 MiB into a 1 MiB store. */
	for (int i = 0; i < 32; i++) {
		records(w, i * 256, 256);
		bb_feed(s, &line, 4096);
	}
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	assert_int_equal(soda_blackbox_store_get_counter(s, SODA_BLACKBOX_STAT_DROPPED_FRAMES,
							 &dropped),
			 0);
	assert_true(dropped > 6000);
	bb_close(s);
	sbw_free(w);
	/* The disk holds no more than the quota... */
	assert_true(store_bytes(e->store, NULL) <= o.quota_bytes);
	/* ...and the loss is written down, not silent: both readers say so,
	 * and call it a declared loss, not damage. */
	r = bb_verify(e->store);
	bb_dump("verify after the flood", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INCOMPLETE);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_DECLARED_LOSS, 0));
	soda_blackbox_report_free(r);
	r = bb_read(e->store, e->sk, 0, &text, &n);
	bb_dump("read after the flood", r);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_INCOMPLETE);
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_DECLARED_LOSS, 0));
	/* What was kept is the beginning, whole. */
	assert_non_null(strstr(text, "REC-0;"));
	assert_non_null(strstr(text, "REC-100;"));
	assert_null(strstr(text, "REC-8000;"));
	free(text);
	soda_blackbox_report_free(r);
	bb_line_reset(&line);
}

/* The fraction of segment 1's pages in the page cache (mincore), the
 * store still open. */
static double resident(const char *store)
{
	char *path = bb_seg_path(store, 1);
	struct stat st;
	unsigned char *vec;
	size_t pages, in = 0;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0);
	pages = ((size_t)st.st_size + 4095) / 4096;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	vec = calloc(pages, 1);
	assert_non_null(vec);
	assert_int_equal(mincore(map, (size_t)st.st_size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		in += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
	free(path);
	return (double)in / (double)pages;
}

/* A store that syncs its groups drops their pages from the host's page
 * cache (a flooding guest cannot fill it with its log); one that never
 * syncs keeps them. */
static void test_synced_pages_leave_the_cache(void **state)
{
	bb_env *e = *state;
	char nosync[160];
	double kept[2];

	snprintf(nosync, sizeof(nosync), "%s/nosync", e->dir);
	for (int k = 0; k < 2; k++) {
		soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
		bb_line line = { 0 };
		sbw_writer *w = bb_writer(e, &line, "cache");
		soda_blackbox_store *s;

		o.durability = k ? SODA_BLACKBOX_DURABILITY_WRITE : SODA_BLACKBOX_DURABILITY_GROUP;
		s = bb_store(k ? nosync : e->store, e->pk, &o);
		records(w, 0, 8192); /* 8 MiB: eight groups of 1 MiB */
		bb_feed(s, &line, 64 * 1024);
		kept[k] = resident(k ? nosync : e->store);
		bb_close(s);
		sbw_free(w);
		bb_line_reset(&line);
	}
	print_message("in the page cache: %.0f %% synced by groups, %.0f %% never synced\n",
		      100 * kept[0], 100 * kept[1]);
	/* At most the group not yet committed, and the edges of the others. */
	assert_true(kept[0] < 0.25);
	assert_true(kept[1] > 0.9);
}

static void test_garbage_is_written_down(void **state)
{
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "noisy");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_report *r;
	uint64_t garbage = 0;
	char *text = NULL;
	size_t n = 0;

	records(w, 0, 3);
	bb_feed(s, &line, 0);
	/* An intruder writes straight onto the line. */
	assert_int_equal(soda_blackbox_store_feed(s, "rm -rf / # hi host\n", 19, 0, NULL), 0);
	records(w, 3, 3);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	assert_int_equal(soda_blackbox_store_get_counter(s, SODA_BLACKBOX_STAT_GARBAGE_BYTES,
							 &garbage),
			 0);
	assert_int_equal(garbage, 19);
	bb_close(s);
	sbw_free(w);
	r = bb_read(e->store, e->sk, 0, &text, &n);
	/* Every record is there; bytes on the line after the server's stream
	 * began that are not its frames were written by someone else: damage
	 * (a foreign stream), not a mere loss. */
	for (int i = 0; i < 6; i++) {
		char want[16];

		snprintf(want, sizeof(want), "REC-%d;", i);
		assert_non_null(strstr(text, want));
	}
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_FOREIGN_STREAM, SODA_BLACKBOX_BASIS_STRUCTURE));
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	free(text);
	soda_blackbox_report_free(r);
	bb_line_reset(&line);
}

/* The retention policies at the quota: stop keeps the oldest records and
 * refuses the newest (loss notices); drop-oldest deletes whole old
 * segments with a deletion record in the chain, the newest records are
 * kept and the store still verifies intact. */
static void flood_with_policy(bb_env *e, unsigned flags, char **ret_text, soda_blackbox_report **ret_v,
			      soda_blackbox_report **ret_r, uint64_t *ret_max)
{
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_error *err = NULL;
	bb_line line = { 0 };
	/* Epochs of 16 KiB, as the agent's are of 4 MiB against a quota of
	 * gigabytes: what follows a deleted epoch start can be read again
	 * from the next epoch on. */
	sbw_options wo = { .label = "policy", .rekey_bytes = 16 << 10 };
	sbw_writer *w = NULL;
	soda_blackbox_store *s;
	uint64_t max = 0, quota = 0;

	assert_int_equal(sbw_new(&w, e->box_pk, &wo, bb_line_out, &line), 0);

	o.quota_bytes = 1 << 20;
	o.checkpoint_ms = 1;
	assert_soda_ok(soda_blackbox_store_open(&s, e->store, e->pk, &o, flags, &err), err);
	assert_int_equal(soda_blackbox_store_get_counter(s, SODA_BLACKBOX_STAT_QUOTA_BYTES, &quota), 0);
	assert_int_equal(quota, 1 << 20);
	for (int i = 0; i < 3000; i += 10) {
		uint64_t now = 0;

		records(w, i, 10);
		bb_feed(s, &line, 0);
		assert_soda_ok(soda_blackbox_store_flush(s, 0, &err), err);
		assert_int_equal(soda_blackbox_store_get_counter(s, SODA_BLACKBOX_STAT_STORE_BYTES, &now), 0);
		if (now > max)
			max = now;
	}
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	bb_close(s);
	sbw_free(w);
	bb_line_reset(&line);
	*ret_v = bb_verify(e->store);
	*ret_r = bb_read(e->store, e->sk, 0, ret_text, NULL);
	*ret_max = max;
}

static void test_policy_stop_and_drop_oldest(void **state)
{
	bb_env *e = *state;
	soda_blackbox_report *v, *r;
	uint64_t max;
	char *text = NULL;
	int segments = 0;

	/* stop (the default): the first records stay, the last are refused. */
	flood_with_policy(e, 0, &text, &v, &r, &max);
	assert_non_null(strstr(text, "REC-0;"));
	assert_null(strstr(text, "REC-2999;"));
	assert_non_null(bb_find(v, SODA_BLACKBOX_F_DECLARED_LOSS, 0));
	assert_true(max <= 1 << 20);
	free(text);
	soda_blackbox_report_free(v);
	soda_blackbox_report_free(r);
	assert_int_equal(th_sh("rm -rf %s", e->store), 0);

	/* drop-oldest: the last records stay, the first went with their
	 * segments; the chain still proves everything kept. */
	flood_with_policy(e, SODA_BLACKBOX_STORE_DROP_OLDEST, &text, &v, &r, &max);
	bb_dump("verify, drop-oldest", v);
	assert_int_equal(soda_blackbox_report_get_status(v), SODA_BLACKBOX_INTACT);
	assert_null(strstr(text, "REC-0;"));
	assert_non_null(strstr(text, "REC-2999;"));
	assert_non_null(strstr(text, "deleted (drop-oldest at the quota)"));
	assert_true(max <= 1 << 20);
	assert_true(store_bytes(e->store, &segments) <= 1 << 20);
	assert_true(segments >= 4);
	assert_int_not_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	free(text);
	soda_blackbox_report_free(v);
	soda_blackbox_report_free(r);

	/* One more old segment deleted without a deletion record: caught. */
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "rm -f $(ls %s/seg-*.sbx | head -1)", e->store);
		assert_int_equal(th_sh("%s", cmd), 0);
	}
	v = bb_verify(e->store);
	assert_int_equal(soda_blackbox_report_get_status(v), SODA_BLACKBOX_DAMAGED);
	assert_non_null(bb_find(v, SODA_BLACKBOX_F_SEGMENT_MISSING, 0));
	soda_blackbox_report_free(v);
}

static void test_rotation_and_retention(void **state)
{
	bb_env *e = *state;
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "rotate");
	soda_blackbox_store *s;
	soda_blackbox_report *r;
	int segments = 0;
	char *text = NULL;
	size_t n = 0;

	o.segment_bytes = 64 << 10;
	o.retention_bytes = 256 << 10;
	o.quota_bytes = 4 << 20;
	s = bb_store(e->store, e->pk, &o);
	for (int i = 0; i < 8; i++) {
		/* A new epoch now and then (writers rekey by time and bytes):
		 * what follows a deleted segment decrypts from the next epoch on. */
		sbw_rekey(w);
		records(w, i * 128, 128);
		bb_feed(s, &line, 0);
		assert_int_equal(soda_blackbox_store_flush(s, 0, NULL), 0);
		assert_int_equal(soda_blackbox_store_process(s, 0, NULL), 0);
	}
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	bb_close(s);
	sbw_free(w);
	/* 1 MiB went in: several segments were made and the oldest deleted. */
	assert_true(store_bytes(e->store, &segments) <= (320 << 10));
	assert_true(segments >= 2);
	r = bb_verify(e->store);
	bb_dump("verify after retention", r);
	assert_int_not_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(r);
	r = bb_read(e->store, e->sk, 0, &text, &n);
	bb_dump("read after retention", r);
	assert_int_not_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	/* The newest records are readable, the oldest went with retention. */
	assert_non_null(strstr(text, "REC-1023;"));
	assert_null(strstr(text, "REC-0;"));
	free(text);
	soda_blackbox_report_free(r);
	bb_line_reset(&line);
}

static void test_torn_tail_recovery(void **state)
{
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "torn");
	soda_blackbox_store *s;
	soda_blackbox_report *r;
	char *seg, *text = NULL;
	size_t n = 0, len;
	uint8_t *data;
	int status;
	pid_t pid;

	records(w, 0, 10);
	/* The store's writer, a process that crashes after its last commit
	 * (it never closes the store). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		s = bb_store(e->store, e->pk, NULL);
		bb_feed(s, &line, 0);
		_exit(soda_blackbox_store_flush(s, 0, NULL) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	bb_line_reset(&line);
	/* ...and its last frame is only half on the disk. */
	seg = bb_seg_path(e->store, 1);
	data = bb_read_file(seg, &len);
	bb_write_file(seg, data, len - 300);
	free(data);
	/* The next writer recovers the store and goes on, with the guest's
	 * next stream (the crashed monitor took its guest along). */
	sbw_free(w);
	w = bb_writer(e, &line, "torn");
	s = bb_store(e->store, e->pk, NULL);
	records(w, 10, 2);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	bb_close(s);
	sbw_free(w);
	r = bb_verify(e->store);
	bb_dump("verify after the cut", r);
	/* The cut is found and reported as a recovery with its loss, not as
	 * tampering. */
	assert_non_null(bb_find(r, SODA_BLACKBOX_F_RECOVERED, 0));
	assert_int_not_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(r);
	r = bb_read(e->store, e->sk, 0, &text, &n);
	bb_dump("read after the cut", r);
	assert_non_null(strstr(text, "REC-0;"));
	assert_non_null(strstr(text, "REC-8;"));
	assert_non_null(strstr(text, "REC-11;"));
	free(text);
	soda_blackbox_report_free(r);
	free(seg);
	bb_line_reset(&line);
}

/* The chain's hash of segment @n (its header's version). */
static uint32_t seg_version(const char *store, uint64_t n)
{
	char *path = bb_seg_path(store, n);
	size_t len = 0;
	uint8_t *data = bb_read_file(path, &len);
	sbb_seg_header h;

	assert_true(len >= SBB_SEG_HEADER_BYTES);
	assert_int_equal(sbb_seg_header_decode(&h, data), 0);
	free(data);
	free(path);
	return h.version;
}

/* Gives segment @n of @store the other chain hash, with a valid header
 * check: what someone who rewrites headers can do. */
static void relabel_segment(const char *store, uint64_t n)
{
	char *path = bb_seg_path(store, n);
	size_t len = 0;
	uint8_t *data = bb_read_file(path, &len);
	sbb_seg_header h;

	assert_int_equal(sbb_seg_header_decode(&h, data), 0);
	h.version = h.version == SBX_CHAIN_BLAKE3 ? SBX_CHAIN_BLAKE2B : SBX_CHAIN_BLAKE3;
	sbb_seg_header_encode(data, &h);
	assert_int_equal(sbb_seg_header_decode(&h, data), 0);
	bb_write_file(path, data, len);
	free(data);
	free(path);
}

/* A store of libsoda 0.1 (BLAKE2b chain, version 1) opened by this one
 * goes on in its last segment's hash and starts new segments in BLAKE3:
 * the mixed chain verifies and reads intact. A segment relabelled with the
 * other hash (its header check recomputed) breaks the chain. */
static void test_chain_versions(void **state)
{
	bb_env *e = *state;
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_blackbox_store *s = NULL;
	soda_blackbox_report *r;
	soda_error *err = NULL;
	const soda_blackbox_finding *f;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "chains");
	char work[192], *text = NULL;
	int segments = 0, v1 = 0, v2 = 0;

	o.segment_bytes = 64 << 10;
	/* An unknown flag is refused before anything is made. */
	assert_int_equal(soda_blackbox_store_open(&s, e->store, e->pk, &o, 1u << 5, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "unknown flags"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(access(e->store, F_OK), -1);
	assert_soda_ok(soda_blackbox_store_open(&s, e->store, e->pk, &o, SODA_BLACKBOX_STORE_CHAIN_V1,
						&err), err);
	records(w, 0, 200);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 4096);
	bb_close(s);
	sbw_free(w);
	store_bytes(e->store, &segments);
	assert_true(segments >= 3);
	for (int i = 1; i <= segments; i++)
		assert_int_equal(seg_version(e->store, (uint64_t)i), SBX_CHAIN_BLAKE2B);

	/* The next boot of the guest: a new stream on a new line. */
	w = bb_writer(e, &line, "chains");
	s = bb_store(e->store, e->pk, &o);
	records(w, 200, 200);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 4096);
	bb_close(s);
	sbw_free(w);
	/* The old segments kept their hash, the new ones are BLAKE3. */
	assert_int_equal(seg_version(e->store, (uint64_t)segments), SBX_CHAIN_BLAKE2B);
	store_bytes(e->store, &segments);
	for (int i = 1; i <= segments; i++) {
		if (seg_version(e->store, (uint64_t)i) == SBX_CHAIN_BLAKE2B) {
			assert_int_equal(v2, 0); /* never back to version 1 */
			v1++;
		} else {
			v2++;
		}
	}
	if (v1 < 3 || v2 < 3)
		fail_msg("segments: %d in BLAKE2b, %d in BLAKE3", v1, v2);

	/* (the text records only: ends and heartbeats hold zero bytes) */
	text = bb_expect_intact("mixed chain", e->store, e->sk, 1ull << SODA_BLACKBOX_TEXT, 400);
	assert_non_null(strstr(text, "REC-0;"));
	assert_non_null(strstr(text, "REC-399;"));
	free(text);

	/* Relabelled: a BLAKE3 segment in the middle said to be BLAKE2b, and
	 * the last BLAKE2b one said to be BLAKE3. */
	for (int k = 0; k < 2; k++) {
		uint64_t victim = k == 0 ? (uint64_t)(v1 + 1) : (uint64_t)v1;

		snprintf(work, sizeof(work), "%s/work-%d", e->dir, k);
		bb_copy_tree(e->store, work);
		relabel_segment(work, victim);
		r = bb_verify(work);
		assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
		f = bb_first(r, SODA_BLACKBOX_SEVERITY_ERROR);
		assert_non_null(f);
		/* At the victim's first checkpoint, or where the next segment
		 * names the victim's digest. */
		assert_int_equal(soda_blackbox_finding_get_kind(f), SODA_BLACKBOX_F_CHAIN_BREAK);
		if (soda_blackbox_finding_get_segment(f) != victim &&
		    (soda_blackbox_finding_get_segment(f) != victim + 1 ||
		     soda_blackbox_finding_get_offset(f) != 0))
			fail_msg("segment %llu relabelled, found: %s", (unsigned long long)victim,
				 soda_blackbox_finding_get_message(f));
		soda_blackbox_report_free(r);
		r = bb_read(work, e->sk, 0, NULL, NULL);
		assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
		assert_non_null(bb_find(r, SODA_BLACKBOX_F_CHAIN_BREAK, SODA_BLACKBOX_BASIS_STRUCTURE));
		soda_blackbox_report_free(r);
	}
	/* A version no reader knows (its header check recomputed): the
	 * segment is not read as either hash, it is named as a bad file. */
	snprintf(work, sizeof(work), "%s/work-3", e->dir);
	bb_copy_tree(e->store, work);
	{
		char *path = bb_seg_path(work, (uint64_t)v1 + 1);
		size_t len = 0;
		uint8_t *data = bb_read_file(path, &len);

		sbx_put32(data + 8, 3);
		crypto_generichash(data + 96, 32, data, 96, NULL, 0);
		bb_write_file(path, data, len);
		free(data);
		free(path);
	}
	r = bb_verify(work);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	f = bb_first(r, SODA_BLACKBOX_SEVERITY_ERROR);
	assert_int_equal(soda_blackbox_finding_get_kind(f), SODA_BLACKBOX_F_BAD_FILE);
	assert_int_equal(soda_blackbox_finding_get_segment(f), (uint64_t)v1 + 1);
	soda_blackbox_report_free(r);
	bb_line_reset(&line);
}

/* The chain hashed on the helper thread: 4 MiB through small groups and
 * segments, checkpoints every millisecond, fed in odd pieces. What the
 * thread hashed is what the verifier computes on its own; the parallel
 * reader decrypts it in runs; a bit flipped afterwards is found. */
static void test_parallel_append(void **state)
{
	bb_env *e = *state;
	soda_blackbox_store_options o = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_blackbox_store *s = NULL;
	soda_blackbox_report *r;
	soda_error *err = NULL;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "parallel");
	char *text = NULL, *path;
	int segments = 0;
	size_t len = 0;
	uint8_t *data;

	o.segment_bytes = 256 << 10;
	o.group_bytes = 48 << 10;
	o.checkpoint_ms = 1;
	assert_soda_ok(soda_blackbox_store_open(&s, e->store, e->pk, &o, SODA_BLACKBOX_STORE_PARALLEL,
						&err), err);
	for (int i = 0; i < 16; i++) {
		records(w, i * 256, 256);
		bb_feed(s, &line, 7777);
		assert_soda_ok(soda_blackbox_store_process(s, 0, &err), err);
	}
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	bb_close(s);
	sbw_free(w);
	store_bytes(e->store, &segments);
	assert_true(segments >= 16);
	text = bb_expect_intact("parallel append", e->store, e->sk, 1ull << SODA_BLACKBOX_TEXT, 4096);
	assert_non_null(strstr(text, "REC-4095;"));
	free(text);
	/* (bb_read compared that with the serial reader's; here, that the
	 * parallel one did decrypt in runs on its two threads) */
	{
		soda_blackbox_reader *rd = NULL;
		const soda_blackbox_record *rec;

		assert_soda_ok(soda_blackbox_reader_open(&rd, e->store, e->sk, NULL,
							 SODA_BLACKBOX_READ_PARALLEL, &err), err);
		while (soda_blackbox_reader_next(rd, &rec, 0, &err) == 1)
			;
		if (sbb_reader_batched(rd) < 3000)
			fail_msg("only %llu of 4096 records were decrypted in runs",
				 (unsigned long long)sbb_reader_batched(rd));
		soda_blackbox_reader_close(rd);
	}

	path = bb_seg_path(e->store, 9);
	data = bb_read_file(path, &len);
	data[len / 2] ^= 0x10;
	bb_write_file(path, data, len);
	r = bb_verify(e->store);
	assert_int_equal(soda_blackbox_report_get_status(r), SODA_BLACKBOX_DAMAGED);
	assert_int_equal(soda_blackbox_finding_get_segment(bb_first(r, SODA_BLACKBOX_SEVERITY_ERROR)), 9);
	soda_blackbox_report_free(r);
	free(data);
	free(path);
	bb_line_reset(&line);
}

/* The host has the store and the public key: neither opens a record. */
static void test_host_cannot_read(void **state)
{
	bb_env *e = *state;
	bb_line line = { 0 };
	sbw_writer *w = bb_writer(e, &line, "private");
	soda_blackbox_store *s = bb_store(e->store, e->pk, NULL);
	soda_blackbox_reader *rd = NULL;
	soda_error *err = NULL;
	char cmd[300];

	assert_int_equal(sbw_append(w, SBX_R_TEXT, 0, "the tenant's secret 4711", 24), 0);
	assert_int_equal(sbw_end(w, 0), 0);
	bb_feed(s, &line, 0);
	bb_close(s);
	sbw_free(w);
	snprintf(cmd, sizeof(cmd), "grep -rqa \"secret 4711\" %s", e->store);
	assert_int_not_equal(system(cmd), 0);
	/* The probe works: the store's label is in the clear. */
	snprintf(cmd, sizeof(cmd), "grep -rqa private %s", e->store);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(soda_blackbox_reader_open(&rd, e->store, e->pk, NULL, 0, &err), -EINVAL);
	assert_non_null(err);
	soda_error_free(err);
	bb_line_reset(&line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_quota_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_is_written_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synced_pages_leave_the_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_and_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_stop_and_drop_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_cannot_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parallel_append, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
