/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Makes the seed corpora of the blackbox fuzz targets, sealed to the fixed
 * fuzz key:
 *   mkseeds LINE-DIR STORE-DIR
 * LINE-DIR gets what a guest writes on its line (one stream of every record
 * type, ended; the same cut short; with garbage between the frames); STORE-DIR
 * gets whole stores in fuzz_bbstore's layout (segment, head, identity file).
 * Both also get a stream of records of lines (the agent's /dev/blackbox
 * records), good ones and ones a correct writer never makes, for the
 * reader's paths that split them ("stream-lines", "store-lines"); and a
 * second stream on the line with bytes torn into the first, which the
 * store names foreign ("stream-two", "store-foreign").
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <soda/blackbox.h>

#include "fuzzkey.h"
#include "writer.h"

struct buf {
	uint8_t *p;
	size_t len;
};

static int collect(const void *frame, size_t len, void *userdata)
{
	struct buf *b = userdata;

	b->p = realloc(b->p, b->len + len);
	if (!b->p)
		abort();
	memcpy(b->p + b->len, frame, len);
	b->len += len;
	return 0;
}

static void write_file(const char *dir, const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static void append_file(struct buf *b, const char *path)
{
	char chunk[4096];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		abort();
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		collect(chunk, n, b);
	fclose(f);
}

/* A store's files in fuzz_bbstore's layout: segment 1, head, identity,
 * with a separator line between them. */
static void store_layout(const char *dir, struct buf *out)
{
	static const char *const names[] = { "seg-0000000001.sbx", "head", "store" };
	static const char sep[] = "\n--file--\n";
	char path[256];

	for (size_t i = 0; i < 3; i++) {
		if (i)
			collect(sep, sizeof(sep) - 1, out);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		append_file(out, path);
	}
}

/* Records of lines, and records that break their rules, from the agent's
 * writer (the library's public writer makes no records of lines). */
static void lines_stream(const soda_blackbox_key *key, struct buf *out)
{
	sbw_options o = { .label = "lines", .rekey_bytes = 300 };
	sbw_writer *w = NULL;
	uint8_t box[32];

	if (soda_blackbox_key_get_box_public(key, box, sizeof(box)) < 0 ||
	    sbw_new(&w, box, &o, collect, out) < 0)
		abort();
	sbw_append_lines_at(w, "one\ntwo\n\nfour\n", 14, 0, 0);
	sbw_append_lines_at(w, "alone\n", 6, 0, 0);
	sbw_append_record(w, SBX_R_TEXT, SBX_RECORD_F_LINES, 0, "no end", 6, 0, 0);
	sbw_append_record(w, SBX_R_SYSLOG, SBX_RECORD_F_LINES, 0, "x\n", 2, 0, 0);
	sbw_append_lines_at(w, "last\nlines\n", 11, 0, 0);
	sbw_end(w, 0);
	sbw_free(w);
}

int main(int argc, char **argv)
{
	soda_blackbox_writer_options wo = SODA_BLACKBOX_WRITER_OPTIONS_INIT;
	soda_blackbox_store_options so = SODA_BLACKBOX_STORE_OPTIONS_INIT;
	soda_blackbox_writer *w = NULL;
	soda_blackbox_store *st = NULL;
	soda_blackbox_key *key = NULL;
	struct buf line = { 0 }, mixed = { 0 }, store = { 0 }, lines = { 0 };
	char tmp[] = "/tmp/soda-mkseeds-XXXXXX", path[256];

	if (argc != 3 || !mkdtemp(tmp) ||
	    soda_blackbox_key_parse(&key, bb_fuzz_key, strlen(bb_fuzz_key), "fuzzkey", 0, NULL) < 0)
		return 2;
	wo.rekey_bytes = 200; /* several epochs */
	wo.label = "seed";
	if (soda_blackbox_writer_new(&w, key, &wo, collect, &line, NULL, 0, NULL) < 0)
		return 1;
	for (uint32_t t = 1; t <= SODA_BLACKBOX_TYPE_MAX; t++) {
		char body[64];
		int n = snprintf(body, sizeof(body), "record of type %s", soda_blackbox_type_name(t));

		if (t == SODA_BLACKBOX_CONSOLE_SIZE)
			n = 4, memcpy(body, "\x50\x00\x18\x00", 4);
		soda_blackbox_writer_append(w, t, t, body, (size_t)n, 0, 0, 0, NULL);
	}
	soda_blackbox_writer_end(w, 0, 0, NULL);
	soda_blackbox_writer_free(w);
	write_file(argv[1], "stream-ended", line.p, line.len);
	write_file(argv[1], "stream-cut", line.p, line.len * 2 / 3);
	collect("garbage before\n", 15, &mixed);
	collect(line.p, line.len / 2, &mixed);
	collect("\xab" "SBX junk", 8, &mixed);
	collect(line.p + line.len / 2, line.len - line.len / 2, &mixed);
	write_file(argv[1], "stream-garbage", mixed.p, mixed.len);
	lines_stream(key, &lines);
	write_file(argv[1], "stream-lines", lines.p, lines.len);

	/* A store with the stream, the host's events and its checkpoints. */
	snprintf(path, sizeof(path), "%s/store", tmp);
	so.durability = SODA_BLACKBOX_DURABILITY_WRITE;
	so.label = "seed";
	{
		soda_blackbox_key *pub = NULL;

		if (soda_blackbox_key_get_public(&pub, key, NULL) < 0 ||
		    soda_blackbox_store_open(&st, path, pub, &so, 0, NULL) < 0)
			return 1;
		soda_blackbox_key_free(pub);
	}
	soda_blackbox_store_host_event(st, SODA_BLACKBOX_LIFECYCLE, 2, "starting", 8, 0, NULL);
	soda_blackbox_store_feed(st, mixed.p, mixed.len, SODA_BLACKBOX_FEED_EOF, NULL);
	soda_blackbox_store_host_event(st, SODA_BLACKBOX_SNAPSHOT, 0, "dump", 4, 0, NULL);
	soda_blackbox_store_close(st, 0, NULL);
	snprintf(path, sizeof(path), "%s/store", tmp);
	store_layout(path, &store);
	write_file(argv[2], "store-closed", store.p, store.len);
	snprintf(path, sizeof(path), "%s/store/seg-0000000001.sbx", tmp);
	{
		struct buf seg = { 0 };

		append_file(&seg, path);
		write_file(argv[2], "segment-only", seg.p, seg.len);
		write_file(argv[2], "segment-torn", seg.p, seg.len - 7);
		free(seg.p);
	}
	/* A store of the lines stream alone. */
	snprintf(path, sizeof(path), "%s/lines", tmp);
	{
		soda_blackbox_key *pub = NULL;
		struct buf ls = { 0 };

		if (soda_blackbox_key_get_public(&pub, key, NULL) < 0 ||
		    soda_blackbox_store_open(&st, path, pub, &so, 0, NULL) < 0)
			return 1;
		soda_blackbox_key_free(pub);
		soda_blackbox_store_feed(st, lines.p, lines.len, SODA_BLACKBOX_FEED_EOF, NULL);
		soda_blackbox_store_close(st, 0, NULL);
		store_layout(path, &ls);
		write_file(argv[2], "store-lines", ls.p, ls.len);
		free(ls.p);
	}
	/* A second stream on the line after the first, and bytes torn into
	 * the first (foreign: LINE notices, foreign losses, receipts). */
	{
		soda_blackbox_key *pub = NULL;
		struct buf two = { 0 }, ts = { 0 };

		collect(line.p, line.len / 3, &two);
		collect(lines.p, lines.len, &two);
		collect(line.p + line.len / 3, line.len / 3, &two);
		collect("\xab" "SBX torn", 8, &two);
		collect(line.p + 2 * (line.len / 3), line.len - 2 * (line.len / 3), &two);
		write_file(argv[1], "stream-two", two.p, two.len);
		snprintf(path, sizeof(path), "%s/two", tmp);
		if (soda_blackbox_key_get_public(&pub, key, NULL) < 0 ||
		    soda_blackbox_store_open(&st, path, pub, &so, 0, NULL) < 0)
			return 1;
		soda_blackbox_key_free(pub);
		soda_blackbox_store_feed(st, two.p, two.len, SODA_BLACKBOX_FEED_EOF, NULL);
		soda_blackbox_store_close(st, 0, NULL);
		store_layout(path, &ts);
		write_file(argv[2], "store-foreign", ts.p, ts.len);
		free(ts.p);
		free(two.p);
	}
	snprintf(path, sizeof(path), "rm -rf %s", tmp);
	if (system(path) != 0)
		return 1;
	soda_blackbox_key_free(key);
	free(line.p);
	free(mixed.p);
	free(store.p);
	free(lines.p);
	return 0;
}
