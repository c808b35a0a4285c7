/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The store scanner: reads a store's segments in order, frame by frame, and
 * checks everything that needs no key: checksums, the hash chain (segment
 * headers, checkpoints, head, anchors), the store's identity, each stream's
 * sequence, epochs and end, and the store's notices. The verifier runs it
 * alone; the reader runs it and decrypts the frames it yields.
 *
 * Bad input never makes it fail: every length is checked against what was
 * read, and every problem becomes a finding with its position.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kv.h"
#include "internal.h"

#define WINDOW (4u << 20)
#define BUF_CAP (WINDOW + 2 * (SBX_HEADER_BYTES + SBX_MAX_PAYLOAD) + 64)
#define MAX_GAPS 64
#define MAX_DECLARED 256
#define MAX_STREAMS (1u << 16)
#define MAX_UNKNOWN_FINDINGS 16
/*
 * With SBB_SCAN_THREAD the chain is hashed on a helper thread (chain.h):
 * the scanner hands it the consumed bytes of the read buffer in pieces of
 * HASH_PIECE and goes on checking (and the reader decrypting) the frames.
 * It waits for the hasher before the buffer's consumed bytes are
 * overwritten (fill()), before it reads or resets the chain (a digest, a
 * new segment), and at the end.
 */
#define HASH_PIECE (256u << 10)

#define SEV_I SODA_BLACKBOX_SEVERITY_INFO
#define SEV_W SODA_BLACKBOX_SEVERITY_WARNING
#define SEV_L SODA_BLACKBOX_SEVERITY_LOSS
#define SEV_E SODA_BLACKBOX_SEVERITY_ERROR
#define STRUCT SODA_BLACKBOX_BASIS_STRUCTURE

typedef struct range {
	uint64_t first, last;
} range;

typedef struct gap {
	uint64_t first, last;
	sbb_pos pos;       /* of the frame that came after the missing ones */
	uint64_t seq_after;
	bool reordered;
} gap;

struct sbb_stream {
	uint8_t id[16];
	bool session; /* a stream of store notices */
	uint8_t origin;
	uint32_t hb_ms;
	uint8_t start_hash[32];
	bool have_start_hash, adopted;
	bool seq_known;
	uint64_t next_seq;
	bool have_epoch;
	uint32_t epoch;
	bool ended, eof, gap_in_epoch, end_reported;
	uint64_t eof_seq;
	sbb_stream *owner; /* the session in which the stream started */
	uint64_t last_time, last_seq;
	sbb_pos last_pos, end_pos;
	gap *gaps;
	size_t n_gaps;
	range *declared;
	size_t n_declared;
	int end_class;
	bool foreign; /* came on the line after the server's stream */
	/* sessions only */
	bool closed, crashed, write_error;
	uint64_t number;
	bool has_server;   /* a LINE notice named the server's stream */
	uint8_t server[16];
	uint64_t receipt;  /* the last RECEIPT's time */
};

typedef struct probe {
	uint64_t seg, off;
	uint8_t digest[32];
	bool is_head, reached;
	uint64_t entries;
	char text[128];
} probe;

struct sbb_scan {
	char *dir;
	int dirfd;
	unsigned flags;
	soda_blackbox_report *rep;
	uint8_t store_id[16];
	bool have_store_id;
	uint64_t *segs;
	size_t n_segs, seg_i;
	/* the current segment */
	int fd;
	uint64_t seg_no;
	bool seg_open, seg_foreign, seg_chain_reported;
	uint8_t *buf;
	size_t len, pos;
	size_t hashed; /* buf[0..hashed) is in the chain: it is hashed in big pieces */
	uint64_t base;
	sbx_chain chain; /* in the current segment's hash */
	sbx_hasher *hasher; /* NULL: the chain is hashed on the scanner's thread */
	bool in_garbage;
	uint64_t garbage_off, garbage_len;
	/* the previous segment */
	bool have_prev;
	uint64_t prev_no;
	uint8_t prev_digest[32];
	uint64_t first_no;
	uint8_t first_prev[32];
	bool have_first;
	uint64_t entry;
	/* head and anchors */
	probe *probes;
	size_t n_probes;
	bool have_head;
	sbb_head head;
	/* streams */
	sbb_stream **streams;
	size_t n_streams;
	sbb_stream **table;
	size_t table_cap;
	sbb_stream **sessions;
	size_t n_sessions;
	sbb_stream *cur;
	sbb_retention *rets;
	size_t n_rets;
	uint64_t last_host_time;
	uint64_t unknown_findings;
	uint8_t last_unknown[16];
	bool finished, live;
	uint64_t end_seg, end_off; /* where the store ends */
};

/* ---- streams table ---- */

static size_t slot_of(const uint8_t id[16], size_t cap)
{
	uint64_t v;

	memcpy(&v, id, 8);
	return (size_t)(v ^ (v >> 29)) & (cap - 1);
}

static sbb_stream *find(const sbb_scan *s, const uint8_t id[16])
{
	if (!s->table_cap)
		return NULL;
	for (size_t i = slot_of(id, s->table_cap);; i = (i + 1) & (s->table_cap - 1)) {
		sbb_stream *st = s->table[i];

		if (!st)
			return NULL;
		if (memcmp(st->id, id, 16) == 0)
			return st;
	}
}

static sbb_stream *add(sbb_scan *s, const uint8_t id[16])
{
	sbb_stream *st, **v;

	if (s->n_streams >= MAX_STREAMS)
		return NULL;
	if ((s->n_streams + 1) * 2 > s->table_cap) {
		size_t cap = s->table_cap ? s->table_cap * 2 : 64;
		sbb_stream **t = calloc(cap, sizeof(*t));

		if (!t)
			return NULL;
		for (size_t i = 0; i < s->n_streams; i++) {
			size_t j = slot_of(s->streams[i]->id, cap);

			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = s->streams[i];
		}
		free(s->table);
		s->table = t;
		s->table_cap = cap;
	}
	v = realloc(s->streams, (s->n_streams + 1) * sizeof(*v));
	if (!v)
		return NULL;
	s->streams = v;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	memcpy(st->id, id, 16);
	st->owner = s->cur;
	s->streams[s->n_streams++] = st;
	for (size_t j = slot_of(id, s->table_cap);; j = (j + 1) & (s->table_cap - 1))
		if (!s->table[j]) {
			s->table[j] = st;
			break;
		}
	s->rep->counters[SODA_BLACKBOX_REPORT_STREAMS]++;
	return st;
}

static void stream_free(sbb_stream *st)
{
	free(st->gaps);
	free(st->declared);
	free(st);
}

/* ---- findings ---- */

#define FIND(s, kind, sev, pos, stream, seq, ...)                                                   \
	sbb_report_add((s)->rep, SODA_BLACKBOX_F_##kind, sev, STRUCT, pos, stream, seq, __VA_ARGS__)

static sbb_pos here(const sbb_scan *s)
{
	sbb_pos p = { s->seg_no, s->base + s->pos, s->entry };

	return p;
}

static char *short_id(char out[9], const uint8_t id[16])
{
	sbb_hex(out, id, 4);
	return out;
}

/* ---- reading ---- */

/* What was consumed goes into the chain: one update per buffer rather than
 * one per frame (both hashes run faster on big inputs). */
static void chain_submit(sbb_scan *s)
{
	if (s->hashed < s->pos) {
		sbx_chain_feed(&s->chain, s->hasher, s->buf + s->hashed, s->pos - s->hashed);
		s->hashed = s->pos;
	}
}

/* Everything consumed is in the chain, and the chain is the scanner's. */
static void chain_sync(sbb_scan *s)
{
	chain_submit(s);
	sbx_hasher_wait(s->hasher);
}

/* Makes @need bytes available at pos. false at the end of the file. */
static bool fill(sbb_scan *s, size_t need)
{
	if (s->len - s->pos >= need)
		return true;
	if (s->pos > 0) {
		chain_sync(s);
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->base += s->pos;
		s->len -= s->pos;
		s->pos = 0;
		s->hashed = 0;
	}
	while (s->len < need) {
		ssize_t n = read(s->fd, s->buf + s->len, BUF_CAP - s->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		s->len += (size_t)n;
		s->rep->counters[SODA_BLACKBOX_REPORT_BYTES] += (uint64_t)n;
	}
	return true;
}

static void consume(sbb_scan *s, size_t n)
{
	s->pos += n;
	if (s->hasher && s->pos - s->hashed >= HASH_PIECE)
		chain_submit(s);
}

static void garbage_flush(sbb_scan *s)
{
	sbb_pos p;

	if (!s->in_garbage)
		return;
	p.segment = s->seg_no;
	p.offset = s->garbage_off;
	p.entry = s->entry;
	FIND(s, GARBAGE, SEV_E, &p, NULL, SBB_NO_SEQ,
	     "%" PRIu64 " bytes that are no valid frame (damaged or inserted data)", s->garbage_len);
	s->in_garbage = false;
}

static void garbage_byte(sbb_scan *s)
{
	if (!s->in_garbage) {
		s->in_garbage = true;
		s->garbage_off = s->base + s->pos;
		s->garbage_len = 0;
	}
	s->garbage_len++;
	consume(s, 1);
}

static void digest_now(sbb_scan *s, uint8_t out[32])
{
	chain_sync(s);
	sbx_chain_digest(&s->chain, out);
}

static void check_probes(sbb_scan *s)
{
	uint64_t off = s->base + s->pos;

	for (size_t i = 0; i < s->n_probes; i++) {
		probe *p = &s->probes[i];
		uint8_t d[32];
		sbb_pos pos = here(s);

		if (p->reached || p->seg != s->seg_no || p->off != off)
			continue;
		p->reached = true;
		digest_now(s, d);
		if (sodium_memcmp(d, p->digest, 32) != 0)
			sbb_report_add(s->rep, p->is_head ? SODA_BLACKBOX_F_CHAIN_BREAK : SODA_BLACKBOX_F_ANCHOR,
				       SEV_E, STRUCT, &pos, NULL, SBB_NO_SEQ,
				       "the data up to here differs from what %s committed to", p->text);
		else if (p->is_head && p->entries != s->entry)
			sbb_report_add(s->rep, SODA_BLACKBOX_F_CHAIN_BREAK, SEV_E, STRUCT, &pos, NULL,
				       SBB_NO_SEQ, "the head counts %" PRIu64 " entries up to here, the store %" PRIu64,
				       p->entries, s->entry);
	}
}

/* ---- opening ---- */

typedef struct meta_ctx {
	uint8_t id[16];
	bool have;
} meta_ctx;

static int meta_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	meta_ctx *m = userdata;

	if (strcmp(key, "id") == 0 && sbb_unhex(m->id, 16, value, strlen(value)) == 0)
		m->have = true;
	return 0;
}

static void add_probe(sbb_scan *s, const probe *p)
{
	probe *v = realloc(s->probes, (s->n_probes + 1) * sizeof(*v));

	if (!v)
		return;
	s->probes = v;
	s->probes[s->n_probes++] = *p;
}

int sbb_scan_add_anchor(sbb_scan *s, const char *anchor, soda_error **error)
{
	probe p = { 0 };
	const char *c1, *c2;
	char *end;

	c1 = anchor ? strchr(anchor, ':') : NULL;
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return su_errorf(error, -EINVAL, "anchor '%s' is not SEGMENT:OFFSET:DIGEST",
				 anchor ? anchor : "");
	errno = 0;
	p.seg = strtoull(anchor, &end, 10);
	if (errno || end != c1 || p.seg == 0)
		return su_errorf(error, -EINVAL, "anchor '%s': bad segment", anchor);
	p.off = strtoull(c1 + 1, &end, 10);
	if (errno || end != c2)
		return su_errorf(error, -EINVAL, "anchor '%s': bad offset", anchor);
	if (sbb_unhex(p.digest, 32, c2 + 1, strlen(c2 + 1)) < 0)
		return su_errorf(error, -EINVAL, "anchor '%s': the digest must be 64 hex digits", anchor);
	snprintf(p.text, sizeof(p.text), "the anchor %" PRIu64 ":%" PRIu64, p.seg, p.off);
	add_probe(s, &p);
	return 0;
}

int sbb_scan_open(sbb_scan **ret, const char *dir, unsigned flags, soda_blackbox_report *report,
		  soda_error **error)
{
	sbb_scan *s;
	meta_ctx m = { 0 };
	char *path;
	soda_error *e = NULL;
	int r, lfd;

	if (sodium_init() < 0)
		return su_errorf(error, -EIO, "libsodium cannot start");
	s = calloc(1, sizeof(*s));
	if (!s)
		return su_errorf(error, -ENOMEM, "out of memory");
	s->fd = -1;
	s->dirfd = -1;
	s->flags = flags;
	s->rep = report;
	s->dir = strdup(dir);
	s->buf = malloc(BUF_CAP);
	if (!s->dir || !s->buf) {
		sbb_scan_free(s);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	if (flags & SBB_SCAN_THREAD) {
		s->hasher = sbx_hasher_start(&s->chain);
		if (!s->hasher) {
			sbb_scan_free(s);
			return su_errorf(error, -EAGAIN, "cannot start the hashing thread");
		}
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot open the store %s: %m", dir);
		sbb_scan_free(s);
		return r;
	}
	r = sbb_list_segments(s->dirfd, &s->segs, &s->n_segs);
	if (r < 0) {
		sbb_scan_free(s);
		return su_errorf(error, r, "cannot list %s", dir);
	}
	path = su_strdup_printf("%s/%s", dir, SBB_STORE_META);
	r = path ? su_kv_parse_file(path, SBB_STORE_META_MAGIC, 1, NULL, meta_line, &m, &e) : -ENOMEM;
	if (r == 0 && m.have) {
		memcpy(s->store_id, m.id, 16);
		s->have_store_id = true;
	} else if (r == -ENOENT && s->n_segs == 0) {
		free(path);
		soda_error_free(e);
		sbb_scan_free(s);
		return su_errorf(error, -ENOENT, "%s is not a blackbox store (no store file, no segment)", dir);
	} else {
		FIND(s, BAD_FILE, SEV_E, NULL, NULL, SBB_NO_SEQ, "the store file %s is %s%s%s", path ? path : "",
		     r == -ENOENT ? "missing" : "not valid",
		     e ? ": " : "", e ? soda_error_message(e) : "");
	}
	free(path);
	soda_error_free(e);
	if (sbb_head_read(s->dirfd, &s->head) == 0) {
		if (s->have_store_id && memcmp(s->head.store, s->store_id, 16) != 0) {
			FIND(s, BAD_FILE, SEV_E, NULL, NULL, SBB_NO_SEQ, "the head file belongs to another store");
		} else {
			probe p = { 0 };

			s->have_head = true;
			p.seg = s->head.segment;
			p.off = s->head.offset;
			p.is_head = true;
			p.entries = s->head.entries;
			memcpy(p.digest, s->head.digest, 32);
			snprintf(p.text, sizeof(p.text), "the head (commit %" PRIu64 ")", s->head.commit);
			add_probe(s, &p);
		}
	} else if (s->n_segs > 0) {
		FIND(s, BAD_FILE, SEV_W, NULL, NULL, SBB_NO_SEQ,
		     "the head file is missing or damaged: the end of the store cannot be checked");
	}
	lfd = openat(s->dirfd, SBB_LOCK_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lfd >= 0) {
		if (flock(lfd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
			s->live = true;
		close(lfd);
	}
	*ret = s;
	return 0;
}

void sbb_scan_free(sbb_scan *s)
{
	if (!s)
		return;
	sbx_hasher_stop(s->hasher);
	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	for (size_t i = 0; i < s->n_streams; i++)
		stream_free(s->streams[i]);
	free(s->streams);
	free(s->table);
	free(s->sessions);
	free(s->rets);
	free(s->probes);
	free(s->segs);
	free(s->buf);
	free(s->dir);
	free(s);
}

bool sbb_scan_is_live(const sbb_scan *s)
{
	return s->live;
}

int sbb_scan_stream_end(const sbb_scan *s, const uint8_t stream[16])
{
	sbb_stream *st = find(s, stream);

	return st ? st->end_class : SBB_END_OPEN;
}

/* ---- segments ---- */

static bool refresh_segments(sbb_scan *s)
{
	uint64_t *v = NULL;
	size_t n = 0;
	bool more = false;

	if (sbb_list_segments(s->dirfd, &v, &n) < 0)
		return false;
	if (n > 0 && (s->n_segs == 0 || v[n - 1] > s->segs[s->n_segs - 1])) {
		size_t keep = s->n_segs;
		uint64_t last = keep ? s->segs[keep - 1] : 0;
		uint64_t *nv = realloc(s->segs, (keep + n) * sizeof(*nv));

		if (nv) {
			s->segs = nv;
			for (size_t i = 0; i < n; i++)
				if (v[i] > last)
					s->segs[s->n_segs++] = v[i];
			more = true;
		}
	}
	free(v);
	return more;
}

static void open_segment(sbb_scan *s)
{
	uint64_t no = s->segs[s->seg_i];
	sbb_seg_header h;
	char name[64];
	sbb_pos p = { no, 0, s->entry };

	s->seg_no = no;
	s->seg_open = true;
	s->seg_foreign = false;
	s->seg_chain_reported = false;
	sbx_hasher_wait(s->hasher); /* done with the last segment's bytes */
	s->len = s->pos = s->hashed = 0;
	s->base = 0;
	s->in_garbage = false;
	/* A segment without a valid header is hashed as version 1's. */
	sbx_chain_init(&s->chain, SBX_CHAIN_BLAKE2B);
	s->rep->counters[SODA_BLACKBOX_REPORT_SEGMENTS]++;
	sbb_seg_name(name, sizeof(name), no);
	s->fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->fd < 0) {
		FIND(s, BAD_FILE, SEV_E, &p, NULL, SBB_NO_SEQ, "cannot open %s: %s", name, strerror(errno));
		return;
	}
	if (s->have_prev && no != s->prev_no + 1)
		FIND(s, SEGMENT_MISSING, SEV_E, &p, NULL, SBB_NO_SEQ,
		     "segments %" PRIu64 " to %" PRIu64 " are missing", s->prev_no + 1, no - 1);
	if (!fill(s, SBB_SEG_HEADER_BYTES) || sbb_seg_header_decode(&h, s->buf) < 0) {
		FIND(s, BAD_FILE, SEV_E, &p, NULL, SBB_NO_SEQ,
		     "%s does not start with a valid segment header", name);
		s->seg_foreign = true;
		if (s->len >= SBB_SEG_HEADER_BYTES)
			consume(s, SBB_SEG_HEADER_BYTES);
		return;
	}
	if (s->have_store_id && memcmp(h.store, s->store_id, 16) != 0) {
		char a[33], b[33];

		sbb_hex(a, h.store, 16);
		sbb_hex(b, s->store_id, 16);
		FIND(s, FOREIGN_SEGMENT, SEV_E, &p, NULL, SBB_NO_SEQ,
		     "segment of another store (%s, not %s): spliced in", a, b);
		s->seg_foreign = true;
	} else if (!s->have_store_id) {
		memcpy(s->store_id, h.store, 16);
		s->have_store_id = true;
	}
	if (h.number != no)
		FIND(s, CHAIN_BREAK, SEV_E, &p, NULL, SBB_NO_SEQ,
		     "the file is named segment %" PRIu64 " but its header says %" PRIu64, no, h.number);
	if (s->have_prev && !s->seg_foreign) {
		if (sodium_memcmp(h.prev, s->prev_digest, 32) != 0)
			FIND(s, CHAIN_BREAK, SEV_E, &p, NULL, SBB_NO_SEQ,
			     "segment %" PRIu64 " does not continue segment %" PRIu64
			     " (that one was cut, extended or replaced)",
			     no, s->prev_no);
		else if (h.first_entry != s->entry)
			FIND(s, CHAIN_BREAK, SEV_E, &p, NULL, SBB_NO_SEQ,
			     "segment starts at entry %" PRIu64 ", the store counts %" PRIu64, h.first_entry,
			     s->entry);
	}
	if (!s->have_first) {
		s->have_first = true;
		s->first_no = no;
		memcpy(s->first_prev, h.prev, 32);
		s->entry = h.first_entry;
		if (no == 1 && !sbb_is_zero(h.prev, 32))
			FIND(s, CHAIN_BREAK, SEV_E, &p, NULL, SBB_NO_SEQ,
			     "the first segment claims a predecessor");
	}
	if (!s->seg_foreign)
		s->entry = h.first_entry;
	/* Nothing is hashed yet (the header is not consumed): the chain takes
	 * the hash the header names. */
	sbx_chain_init(&s->chain, (int)h.version);
	consume(s, SBB_SEG_HEADER_BYTES);
}

static void end_segment(sbb_scan *s, bool last)
{
	size_t rest = s->len - s->pos;
	sbb_pos p = here(s);

	garbage_flush(s);
	s->end_seg = s->seg_no;
	s->end_off = s->base + s->pos; /* where the last whole frame ends */
	if (last && !s->seg_foreign) {
		uint8_t d[32];
		char hex[65];

		digest_now(s, d);
		sbb_hex(hex, d, 32);
		snprintf(s->rep->anchor, sizeof(s->rep->anchor), "%" PRIu64 ":%" PRIu64 ":%s", s->seg_no,
			 s->end_off, hex);
	}
	if (rest > 0) {
		if (last)
			FIND(s, TORN_TAIL, SEV_L, &p, NULL, SBB_NO_SEQ,
			     "the store ends with %zu bytes of a partial frame (a write cut short: crash?)",
			     rest);
		else
			FIND(s, TRUNCATED, SEV_E, &p, NULL, SBB_NO_SEQ,
			     "segment %" PRIu64 " ends with %zu bytes of a partial frame, but later segments exist",
			     s->seg_no, rest);
		consume(s, rest);
	}
	check_probes(s);
	digest_now(s, s->prev_digest);
	s->prev_no = s->seg_no;
	s->have_prev = true;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->seg_open = false;
	s->seg_i++;
}

/* ---- stream rules ---- */

static bool declared_covers(const sbb_stream *st, uint64_t seq)
{
	for (size_t i = 0; i < st->n_declared; i++)
		if (seq >= st->declared[i].first && seq <= st->declared[i].last)
			return true;
	return false;
}

static void add_declared(sbb_stream *st, uint64_t first, uint64_t last)
{
	range *v;

	if (st->n_declared >= MAX_DECLARED) {
		/* Merge into the last one rather than forget. */
		range *l = &st->declared[st->n_declared - 1];

		if (first < l->first)
			l->first = first;
		if (last > l->last)
			l->last = last;
		return;
	}
	v = realloc(st->declared, (st->n_declared + 1) * sizeof(*v));
	if (!v)
		return;
	st->declared = v;
	st->declared[st->n_declared].first = first;
	st->declared[st->n_declared].last = last;
	st->n_declared++;
}

static void report_gap(sbb_scan *s, sbb_stream *st, const gap *g)
{
	uint64_t a = g->first, b = g->last;

	/* What the store declared lost is not an error. */
	while (a <= b && declared_covers(st, a))
		a++;
	while (b >= a && declared_covers(st, b) && b > 0)
		b--;
	if (a > b || (st->owner && st->owner->write_error))
		return;
	FIND(s, SEQ_GAP, SEV_E, &g->pos, st->id, g->seq_after,
	     "frames %" PRIu64 " to %" PRIu64 " of the stream are missing before this one (deleted?)", a,
	     b);
}

/* Sequence rules; returns false for a repeated frame. */
static bool check_seq(sbb_scan *s, sbb_stream *st, const sbb_item *it)
{
	uint64_t seq = it->h.seq;

	if (!st->seq_known) {
		st->seq_known = true;
		st->next_seq = seq + 1;
		return true;
	}
	if (seq == st->next_seq) {
		st->next_seq++;
		return true;
	}
	if (seq > st->next_seq) {
		gap g = { st->next_seq, seq - 1, it->pos, seq, false };

		if (st->n_gaps < MAX_GAPS) {
			gap *v = realloc(st->gaps, (st->n_gaps + 1) * sizeof(*v));

			if (v) {
				st->gaps = v;
				st->gaps[st->n_gaps++] = g;
			}
		} else {
			report_gap(s, st, &g);
		}
		st->next_seq = seq + 1;
		st->gap_in_epoch = true;
		return true;
	}
	for (size_t i = 0; i < st->n_gaps; i++) {
		gap *g = &st->gaps[i];

		if (seq < g->first || seq > g->last)
			continue;
		if (!g->reordered) {
			char a[9];

			FIND(s, SEQ_REORDER, SEV_E, &g->pos, st->id, g->seq_after,
			     "frames out of order: seq %" PRIu64 " of stream %s comes before seq %" PRIu64
			     ", found later at segment %" PRIu64 " offset %" PRIu64,
			     g->seq_after, short_id(a, st->id), seq, it->pos.segment, it->pos.offset);
			g->reordered = true;
		}
		/* Take seq out of the gap. */
		if (seq == g->first)
			g->first++;
		else if (seq == g->last)
			g->last--;
		else if (st->n_gaps < MAX_GAPS) {
			gap *v = realloc(st->gaps, (st->n_gaps + 1) * sizeof(*v));

			if (v) {
				st->gaps = v;
				g = &st->gaps[i];
				st->gaps[st->n_gaps] = *g;
				st->gaps[st->n_gaps].first = seq + 1;
				g->last = seq - 1;
				st->n_gaps++;
			}
		}
		if (g->first > g->last) {
			g->first = 1;
			g->last = 0; /* empty */
		}
		return true;
	}
	FIND(s, SEQ_DUPLICATE, SEV_E, &it->pos, st->id, seq,
	     "seq %" PRIu64 " of the stream appears again (replayed or duplicated frame)", seq);
	return false;
}

static void note_frame(sbb_stream *st, const sbb_item *it)
{
	st->last_time = it->h.time_usec;
	st->last_seq = it->h.seq;
	st->last_pos = it->pos;
	st->end_pos = it->pos;
	st->end_pos.offset += it->frame_len;
	if (st->end_pos.entry != SBB_NO_ENTRY)
		st->end_pos.entry++;
}

static void unknown(sbb_scan *s, const sbb_item *it, const char *what)
{
	if (s->seg_foreign)
		return; /* said once for the whole segment */
	if (memcmp(s->last_unknown, it->h.stream, 16) == 0 ||
	    ++s->unknown_findings > MAX_UNKNOWN_FINDINGS)
		return;
	memcpy(s->last_unknown, it->h.stream, 16);
	FIND(s, UNKNOWN_STREAM, SEV_E, &it->pos, it->h.stream, it->h.seq,
	     "%s of a stream that never started in this store (spliced in?)", what);
}

static void session_closed(sbb_scan *s, sbb_stream *sess, const sbb_pos *pos)
{
	sess->closed = true;
	for (size_t i = 0; i < s->n_streams; i++) {
		sbb_stream *st = s->streams[i];
		char a[9];

		if (st->session || st->owner != sess || st->ended || st->eof || st->end_reported)
			continue;
		st->end_reported = true;
		st->end_class = SBB_END_TRUNCATED;
		FIND(s, TRUNCATED, SEV_E, &st->end_pos, st->id, st->last_seq + 1,
		     "stream %s has no end though the store was closed at segment %" PRIu64
		     " offset %" PRIu64 ": its last frames are gone",
		     short_id(a, st->id), pos->segment, pos->offset);
	}
}

static void notice(sbb_scan *s, sbb_item *it)
{
	const uint8_t *p = it->frame + SBX_HEADER_BYTES;
	size_t len = it->h.len;
	sbb_stream *sess = find(s, it->h.stream);

	s->last_host_time = it->h.time_usec;
	if (it->h.kind == SBX_K_OPEN) {
		sbb_open op;

		if (sess) {
			check_seq(s, sess, it);
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a second OPEN of a session");
			return;
		}
		if (sbb_open_decode(&op, p, len) < 0 || it->h.seq != 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed OPEN notice");
			return;
		}
		if (s->have_store_id && memcmp(op.store, s->store_id, 16) != 0 && !s->seg_foreign)
			FIND(s, FOREIGN_SEGMENT, SEV_E, &it->pos, it->h.stream, 0,
			     "an OPEN notice of another store");
		if (s->cur && !s->cur->closed) {
			s->cur->crashed = true;
			if (!(op.flags & SBB_OPEN_F_PREV_UNCLEAN))
				FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, 0,
				     "the previous session was not closed, yet this OPEN says it was");
		}
		if (op.flags & (SBB_OPEN_F_TORN | SBB_OPEN_F_HEAD_AHEAD | SBB_OPEN_F_DAMAGED_TAIL))
			FIND(s, RECOVERED, SEV_L, &it->pos, NULL, SBB_NO_SEQ,
			     "the store was recovered after a crash:%s%s%s",
			     op.flags & SBB_OPEN_F_TORN ? " a partial frame was cut off" : "",
			     op.flags & SBB_OPEN_F_HEAD_AHEAD ? " committed data was missing" : "",
			     op.flags & SBB_OPEN_F_DAMAGED_TAIL ? " a damaged segment was left as it was" : "");
		else if (op.flags & SBB_OPEN_F_PREV_UNCLEAN)
			FIND(s, RECOVERED, SEV_W, &it->pos, NULL, SBB_NO_SEQ,
			     "the store's previous writer stopped without closing it (crash?)");
		if (op.flags & SBB_OPEN_F_TORN)
			FIND(s, DECLARED_LOSS, SEV_L, &it->pos, NULL, SBB_NO_SEQ,
			     "recovery cut %" PRIu64 " bytes of a partial frame at segment %" PRIu64
			     " offset %" PRIu64,
			     op.torn_bytes, op.torn_segment, op.torn_offset);
		if (op.flags & SBB_OPEN_F_HEAD_AHEAD)
			FIND(s, DECLARED_LOSS, SEV_L, &it->pos, NULL, SBB_NO_SEQ,
			     "at recovery the head said %" PRIu64 " entries up to segment %" PRIu64
			     " offset %" PRIu64 " were committed, but only %" PRIu64 " were found",
			     op.head_entries, op.head_segment, op.head_offset, op.found_entries);
		sess = add(s, it->h.stream);
		if (!sess)
			return;
		sess->session = true;
		sess->number = op.session;
		sess->owner = NULL;
		check_seq(s, sess, it);
		note_frame(sess, it);
		{
			sbb_stream **v = realloc(s->sessions, (s->n_sessions + 1) * sizeof(*v));

			if (v) {
				s->sessions = v;
				s->sessions[s->n_sessions++] = sess;
			}
		}
		s->cur = sess;
		return;
	}
	if (!sess) {
		/* After retention the current session's OPEN may be gone. */
		if (s->first_no > 1 && !s->cur && !s->seg_foreign) {
			sess = add(s, it->h.stream);
			if (!sess)
				return;
			sess->session = true;
			sess->owner = NULL;
			sess->adopted = true;
			s->cur = sess;
		} else {
			unknown(s, it, "a store notice");
			return;
		}
	}
	if (!sess->session) {
		FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq,
		     "a store notice in an encrypted stream");
		return;
	}
	if (!check_seq(s, sess, it))
		return;
	note_frame(sess, it);
	if (sess->closed) {
		FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq,
		     "a notice after the session's final checkpoint");
		return;
	}
	switch (it->h.kind) {
	case SBX_K_CHECKPOINT: {
		sbb_checkpoint c;
		uint8_t d[32];

		if (sbb_checkpoint_decode(&c, p, len) < 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed checkpoint");
			return;
		}
		digest_now(s, d); /* the frame itself is not hashed yet */
		if (c.segment != it->pos.segment || c.offset != it->pos.offset) {
			FIND(s, CHAIN_BREAK, SEV_E, &it->pos, it->h.stream, it->h.seq,
			     "a checkpoint written for segment %" PRIu64 " offset %" PRIu64
			     " sits here: data before it was added or removed",
			     c.segment, c.offset);
		} else if (sodium_memcmp(d, c.digest, 32) != 0) {
			if (!s->seg_chain_reported)
				FIND(s, CHAIN_BREAK, SEV_E, &it->pos, it->h.stream, it->h.seq,
				     "the segment's data before this checkpoint is not what was written "
				     "(changed since the previous checkpoint)");
			s->seg_chain_reported = true;
		} else if (c.entry != it->pos.entry) {
			FIND(s, CHAIN_BREAK, SEV_E, &it->pos, it->h.stream, it->h.seq,
			     "the checkpoint counts entry %" PRIu64 ", the store %" PRIu64, c.entry,
			     it->pos.entry);
		}
		s->entry = c.entry; /* re-base after damage */
		if (c.flags & SBB_CHECKPOINT_F_FINAL)
			session_closed(s, sess, &it->pos);
		return;
	}
	case SBX_K_LOSS: {
		sbb_loss l;
		sbb_stream *st;
		char a[9];

		if (sbb_loss_decode(&l, p, len) < 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed loss notice");
			return;
		}
		if (l.reason == SBB_LOSS_WRITE_ERROR)
			sess->write_error = true;
		if (l.flags & SBB_LOSS_F_STREAM) {
			st = find(s, l.stream);
			if (!st)
				st = add(s, l.stream); /* frames may come later */
			if (st) {
				add_declared(st, l.first_seq, l.last_seq);
				if (!st->session && st->have_epoch)
					st->gap_in_epoch = true;
			}
			FIND(s, DECLARED_LOSS, SEV_L, &it->pos, l.stream, l.first_seq,
			     "the store declares frames %" PRIu64 " to %" PRIu64 " of stream %s lost (%s: %" PRIu64
			     " frames, %" PRIu64 " bytes)",
			     l.first_seq, l.last_seq, short_id(a, l.stream), sbb_loss_reason_name(l.reason),
			     l.frames, l.bytes);
		} else if ((l.flags & SBB_LOSS_F_FOREIGN) &&
			   (l.reason == SBB_LOSS_GARBAGE || l.reason == SBB_LOSS_REJECTED)) {
			FIND(s, FOREIGN_STREAM, SEV_E, &it->pos, NULL, SBB_NO_SEQ,
			     "after the server's stream began, the guest's line carried %" PRIu64
			     " bytes that were not its frames (%s): someone other than the agent wrote to the line",
			     l.bytes, l.reason == SBB_LOSS_GARBAGE ? "no frames" : "frames its rules refused");
		} else if (l.reason == SBB_LOSS_GARBAGE || l.reason == SBB_LOSS_REJECTED) {
			FIND(s, DECLARED_LOSS, SEV_I, &it->pos, NULL, SBB_NO_SEQ,
			     "the line carried %" PRIu64 " bytes that were no acceptable frame (%s)", l.bytes,
			     sbb_loss_reason_name(l.reason));
		} else {
			FIND(s, DECLARED_LOSS, SEV_L, &it->pos, NULL, SBB_NO_SEQ,
			     "the store declares %" PRIu64 " frames (%" PRIu64 " bytes) lost (%s)", l.frames,
			     l.bytes, sbb_loss_reason_name(l.reason));
		}
		return;
	}
	case SBX_K_EOF: {
		uint32_t n;

		if (len < 8 || (n = sbx_get32(p)) == 0 || n > SBB_EOF_MAX ||
		    len != 8 + (size_t)n * SBB_EOF_ENTRY_BYTES) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed EOF notice");
			return;
		}
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *e = p + 8 + (size_t)i * SBB_EOF_ENTRY_BYTES;
			sbb_stream *st = find(s, e);
			uint64_t last = sbx_get64(e + 16);
			char a[9];

			if (!st || st->session)
				continue;
			st->eof = true;
			st->eof_seq = last;
			if (st->seq_known && st->next_seq <= last) {
				uint64_t first = st->next_seq;

				while (first <= last && declared_covers(st, first))
					first++;
				if (first <= last) {
					st->end_reported = true;
					st->end_class = SBB_END_TRUNCATED;
					FIND(s, TRUNCATED, SEV_E, &st->end_pos, st->id, first,
					     "stream %s: the line delivered up to seq %" PRIu64
					     " but the store holds only up to %" PRIu64,
					     short_id(a, st->id), last, st->next_seq - 1);
					continue;
				}
			}
			if (!st->ended && !st->end_reported) {
				st->end_reported = true;
				st->end_class = SBB_END_EOF;
				FIND(s, NO_END, SEV_W, &st->end_pos, st->id, last,
				     "stream %s stopped without its end record; the line closed after seq %" PRIu64
				     " (the guest stopped abruptly)",
				     short_id(a, st->id), last);
			}
		}
		return;
	}
	case SBX_K_LINE: {
		sbb_line l;
		sbb_stream *st;
		char a[9], b[9];

		if (sbb_line_decode(&l, p, len) < 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed LINE notice");
			return;
		}
		if (l.role == SBB_LINE_SERVER) {
			if (sess->has_server && memcmp(sess->server, l.stream, 16) != 0)
				FIND(s, PROTOCOL, SEV_E, &it->pos, l.stream, SBB_NO_SEQ,
				     "a second server stream %s in one session (the first was %s)",
				     short_id(a, l.stream), short_id(b, sess->server));
			else if ((st = find(s, l.stream)) && st->foreign)
				FIND(s, PROTOCOL, SEV_E, &it->pos, l.stream, SBB_NO_SEQ,
				     "stream %s is named the server's after it was named foreign",
				     short_id(a, l.stream));
			sess->has_server = true;
			memcpy(sess->server, l.stream, 16);
			return;
		}
		if (sess->has_server && memcmp(sess->server, l.stream, 16) == 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, l.stream, SBB_NO_SEQ,
			     "the server's stream %s is named foreign", short_id(a, l.stream));
			return;
		}
		st = find(s, l.stream);
		if (!st)
			st = add(s, l.stream);
		if (!st || st->foreign)
			return; /* a copy at a new segment's top */
		st->foreign = true;
		FIND(s, FOREIGN_STREAM, SEV_E, &it->pos, l.stream, 0,
		     "stream %s came on the guest's line after the server's stream %s: someone other than "
		     "the agent wrote it; its records are not the server's",
		     short_id(a, l.stream), sess->has_server ? short_id(b, sess->server) : "(unknown)");
		return;
	}
	case SBX_K_RECEIPT: {
		uint64_t t;

		if (sbb_receipt_decode(&t, p, len) < 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed RECEIPT notice");
			return;
		}
		sess->receipt = t;
		return;
	}
	case SBX_K_STARTCOPY: {
		sbx_header h;
		sbb_stream *st;
		uint8_t hash[32];

		if (len != SBX_HEADER_BYTES + SBX_START_PAYLOAD_BYTES || sbx_header_decode(&h, p) < 0 ||
		    h.kind != SBX_K_START || h.len != SBX_START_PAYLOAD_BYTES || !sbx_frame_crc_ok(p, &h)) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed START copy");
			return;
		}
		crypto_generichash(hash, 32, p, len, NULL, 0);
		st = find(s, h.stream);
		if (st && st->have_start_hash) {
			if (sodium_memcmp(hash, st->start_hash, 32) != 0)
				FIND(s, PROTOCOL, SEV_E, &it->pos, h.stream, 0,
				     "a START copy that differs from the stream's START");
			return;
		}
		if (!st && s->first_no <= 1) {
			/* Without retention every stream's START is in the store. */
			unknown(s, it, "a START copy");
			return;
		}
		if (!st || !st->have_start_hash) {
			sbx_start_params prm;

			if (!st)
				st = add(s, h.stream); /* (or known from a LINE notice) */
			if (!st)
				return;
			if (sbx_start_params_decode(&prm, p + SBX_HEADER_BYTES) == 0) {
				st->origin = prm.origin;
				st->hb_ms = prm.heartbeat_ms;
			}
			st->adopted = true;
		}
		memcpy(st->start_hash, hash, 32);
		st->have_start_hash = true;
		it->adopted = true;
		return;
	}
	case SBX_K_RETENTION: {
		sbb_retention r;
		sbb_retention *v;

		if (sbb_retention_decode(&r, p, len) < 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq,
			     "a malformed retention notice");
			return;
		}
		FIND(s, DECLARED_LOSS, SEV_I, &it->pos, NULL, SBB_NO_SEQ,
		     "segments %" PRIu64 " to %" PRIu64 " (%" PRIu64 " bytes) were deleted by the retention policy (%s)",
		     r.first, r.last, r.bytes,
		     r.reason == SBB_RETENTION_AGE     ? "age"
		     : r.reason == SBB_RETENTION_QUOTA ? "drop-oldest at the quota"
						       : "size");
		v = realloc(s->rets, (s->n_rets + 1) * sizeof(*v));
		if (v) {
			s->rets = v;
			s->rets[s->n_rets++] = r;
		}
		return;
	}
	default:
		return;
	}
}

static void stream_frame(sbb_scan *s, sbb_item *it)
{
	sbb_stream *st = find(s, it->h.stream);
	char a[9];

	if (it->h.kind == SBX_K_START) {
		sbx_start_params prm;
		uint8_t hash[32];

		crypto_generichash(hash, 32, it->frame, it->frame_len, NULL, 0);
		if (st && st->have_start_hash) {
			if (sodium_memcmp(hash, st->start_hash, 32) == 0) {
				FIND(s, SEQ_DUPLICATE, SEV_E, &it->pos, it->h.stream, 0,
				     "the START of stream %s appears again", short_id(a, it->h.stream));
				it->duplicate = true;
			} else {
				FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, 0,
				     "a second, different START for stream %s", short_id(a, it->h.stream));
			}
			return;
		}
		if (it->h.seq != 0 || it->h.len != SBX_START_PAYLOAD_BYTES ||
		    sbx_start_params_decode(&prm, it->frame + SBX_HEADER_BYTES) < 0) {
			FIND(s, PROTOCOL, SEV_E, &it->pos, it->h.stream, it->h.seq, "a malformed START");
			return;
		}
		if (!st)
			st = add(s, it->h.stream); /* or known from a loss notice only */
		if (!st)
			return;
		st->origin = prm.origin;
		st->hb_ms = prm.heartbeat_ms;
		memcpy(st->start_hash, hash, 32);
		st->have_start_hash = true;
		st->seq_known = true;
		st->next_seq = 1;
		st->owner = s->cur;
		note_frame(st, it);
		/* A stream of the line that the store did not name as the
		 * server's (it names every one in stores that name any). */
		if (prm.origin == SBX_ORIGIN_GUEST && s->cur && s->cur->has_server && !st->foreign &&
		    memcmp(s->cur->server, st->id, 16) != 0) {
			char b[9];

			st->foreign = true;
			FIND(s, FOREIGN_STREAM, SEV_E, &it->pos, st->id, 0,
			     "stream %s started on the guest's line, but the store named %s the server's",
			     short_id(a, st->id), short_id(b, s->cur->server));
		}
		it->foreign = st->foreign;
		if (prm.origin == SBX_ORIGIN_GUEST && s->cur)
			it->received_usec = s->cur->receipt;
		return;
	}
	if (!st || !st->have_start_hash) {
		unknown(s, it, "a frame");
		return;
	}
	it->adopted = st->adopted;
	it->foreign = st->foreign;
	if (st->origin == SBX_ORIGIN_GUEST && s->cur)
		it->received_usec = s->cur->receipt;
	if (st->ended) {
		if (it->h.seq <= st->last_seq) {
			FIND(s, SEQ_DUPLICATE, SEV_E, &it->pos, st->id, it->h.seq,
			     "seq %" PRIu64 " of the stream appears again, after its end", it->h.seq);
			it->duplicate = true;
		} else {
			FIND(s, PROTOCOL, SEV_E, &it->pos, st->id, it->h.seq, "a frame after the stream's end");
		}
		return;
	}
	if (!check_seq(s, st, it)) {
		it->duplicate = true;
		return;
	}
	note_frame(st, it);
	if (it->h.kind == SBX_K_EPOCH) {
		if (st->have_epoch && it->h.epoch <= st->epoch)
			FIND(s, PROTOCOL, SEV_E, &it->pos, st->id, it->h.seq,
			     "epoch %u after epoch %u", it->h.epoch, st->epoch);
		else if (it->h.len != crypto_secretstream_xchacha20poly1305_HEADERBYTES)
			FIND(s, PROTOCOL, SEV_E, &it->pos, st->id, it->h.seq, "a malformed EPOCH frame");
		st->epoch = it->h.epoch;
		st->have_epoch = true;
		st->gap_in_epoch = false;
		return;
	}
	if (!st->have_epoch && st->adopted) {
		st->epoch = it->h.epoch;
		st->have_epoch = true;
		st->gap_in_epoch = true; /* its beginning is gone */
	}
	if (!st->have_epoch || it->h.epoch != st->epoch)
		FIND(s, PROTOCOL, SEV_E, &it->pos, st->id, it->h.seq,
		     "a frame of epoch %u while the stream is in epoch %u", it->h.epoch, st->epoch);
	it->after_gap = st->gap_in_epoch;
	if (it->h.kind == SBX_K_END) {
		st->ended = true;
		st->end_class = SBB_END_ENDED;
	}
}

/* ---- the end ---- */

static void finish(sbb_scan *s)
{
	sbb_stream *last_session = s->n_sessions ? s->sessions[s->n_sessions - 1] : NULL;
	sbb_pos endp = { s->end_seg, s->end_off, s->entry };
	uint64_t now_host = s->have_head ? s->head.time_usec : s->last_host_time;

	/* Head and anchors not reached. */
	for (size_t i = 0; i < s->n_probes; i++) {
		probe *p = &s->probes[i];

		if (p->reached)
			continue;
		if (p->seg > s->end_seg || (p->seg == s->end_seg && p->off > s->end_off))
			sbb_report_add(s->rep, p->is_head ? SODA_BLACKBOX_F_TRUNCATED : SODA_BLACKBOX_F_ANCHOR,
				       SEV_E, STRUCT, &endp, NULL, SBB_NO_SEQ,
				       "the store ends here, but %s covers data up to segment %" PRIu64
				       " offset %" PRIu64 ": the end was cut off",
				       p->text, p->seg, p->off);
		else
			sbb_report_add(s->rep, p->is_head ? SODA_BLACKBOX_F_CHAIN_BREAK : SODA_BLACKBOX_F_ANCHOR,
				       SEV_E, STRUCT, &endp, NULL, SBB_NO_SEQ,
				       "%s points at segment %" PRIu64 " offset %" PRIu64
				       ", which is no frame boundary of this store",
				       p->text, p->seg, p->off);
	}
	/* Segments deleted at the front must be accounted for. */
	if (s->have_first && s->first_no > 1) {
		sbb_pos p = { s->first_no, 0, SBB_NO_ENTRY };
		uint64_t want = 1;
		bool digest_ok = false;

		for (bool progress = true; progress;) {
			progress = false;
			for (size_t i = 0; i < s->n_rets; i++)
				if (s->rets[i].first <= want && s->rets[i].last >= want) {
					want = s->rets[i].last + 1;
					progress = true;
					if (s->rets[i].last == s->first_no - 1)
						digest_ok = sodium_memcmp(s->rets[i].last_digest, s->first_prev,
									 32) == 0;
				}
		}
		/* Retention deletes from the front only, and the notices of
		 * earlier deletions went with the segments that held them: a
		 * notice that ends right before the first segment accounts for
		 * everything before it (its digest ties it to that segment). */
		for (size_t i = 0; want < s->first_no && i < s->n_rets; i++)
			if (s->rets[i].last == s->first_no - 1) {
				want = s->first_no;
				digest_ok = sodium_memcmp(s->rets[i].last_digest, s->first_prev, 32) == 0;
			}
		if (want < s->first_no)
			FIND(s, SEGMENT_MISSING, SEV_E, &p, NULL, SBB_NO_SEQ,
			     "segments %" PRIu64 " to %" PRIu64 " are missing and no retention notice accounts for them",
			     want, s->first_no - 1);
		else if (!digest_ok)
			FIND(s, CHAIN_BREAK, SEV_E, &p, NULL, SBB_NO_SEQ,
			     "the first segment does not continue the last one retention deleted");
	}
	for (size_t i = 0; i < s->n_streams; i++) {
		sbb_stream *st = s->streams[i];
		char a[9];

		for (size_t g = 0; g < st->n_gaps; g++)
			if (st->gaps[g].first <= st->gaps[g].last)
				report_gap(s, st, &st->gaps[g]);
		if (st->session || st->ended || st->end_reported || !st->have_start_hash)
			continue;
		if (st->owner && st->owner->crashed) {
			st->end_class = SBB_END_CRASH;
			FIND(s, NO_END, SEV_W, &st->end_pos, st->id, st->last_seq,
			     "stream %s has no end: the store's writer crashed", short_id(a, st->id));
		} else if (st->owner && st->owner == last_session && !last_session->closed) {
			uint64_t hb = (uint64_t)st->hb_ms * 1000u;

			if (s->live && hb && now_host > st->last_time + 3 * hb + 10000000u) {
				st->end_class = SBB_END_STALE;
				FIND(s, STALE, SEV_W, &st->end_pos, st->id, st->last_seq,
				     "stream %s has been silent for %" PRIu64 " s though it sends heartbeats every %u ms "
				     "(frames missing at the end, or the guest is stuck)",
				     short_id(a, st->id), (now_host - st->last_time) / 1000000u, st->hb_ms);
			} else if (s->live) {
				st->end_class = SBB_END_OPEN;
			} else {
				st->end_class = SBB_END_CRASH;
				FIND(s, NO_END, SEV_W, &st->end_pos, st->id, st->last_seq,
				     "stream %s has no end and the store was not closed (its writer crashed?)",
				     short_id(a, st->id));
			}
		} else if (!st->owner && st->adopted) {
			st->end_class = s->live ? SBB_END_OPEN : SBB_END_CRASH;
		}
	}
	if (last_session && !last_session->closed && !s->live)
		sbb_report_add(s->rep, SODA_BLACKBOX_F_NO_END, SEV_W, STRUCT, &endp, NULL, SBB_NO_SEQ,
			       "the store was not closed and no writer has it open (crash?)");
	if (!s->have_first && s->n_segs == 0 && s->have_head)
		FIND(s, TRUNCATED, SEV_E, NULL, NULL, SBB_NO_SEQ, "the store has a head but no segment");
	s->finished = true;
}

/* ---- the main loop ---- */

int sbb_scan_next(sbb_scan *s, sbb_item *it, soda_error **error)
{
	for (;;) {
		sbx_header h;
		bool last;

		if (s->finished)
			return 0;
		if (!s->seg_open) {
			if (s->seg_i >= s->n_segs) {
				if ((s->flags & SBB_SCAN_FOLLOW) && !refresh_segments(s))
					return -EAGAIN;
				if (s->seg_i >= s->n_segs) {
					finish(s);
					return 0;
				}
			}
			open_segment(s);
			if (s->fd < 0) {
				s->seg_open = false;
				s->seg_i++;
				continue;
			}
			continue;
		}
		last = s->seg_i + 1 >= s->n_segs;
		check_probes(s);
		if (!fill(s, SBX_HEADER_BYTES) ||
		    (sbx_header_decode(&h, s->buf + s->pos) == 0 &&
		     !fill(s, SBX_HEADER_BYTES + (size_t)h.len))) {
			/* The end of this segment's data (for now). */
			if ((s->flags & SBB_SCAN_FOLLOW) && last && !refresh_segments(s)) {
				struct stat st;

				/* A store recovered under us may have shrunk. */
				if (fstat(s->fd, &st) == 0 && (uint64_t)st.st_size < s->base + s->len &&
				    (uint64_t)st.st_size >= s->base + s->pos) {
					s->len = (size_t)((uint64_t)st.st_size - s->base);
					lseek(s->fd, st.st_size, SEEK_SET);
				}
				return -EAGAIN;
			}
			end_segment(s, s->seg_i + 1 >= s->n_segs);
			continue;
		}
		if (!sbx_is_magic(s->buf + s->pos) || sbx_header_decode(&h, s->buf + s->pos) < 0) {
			garbage_byte(s);
			continue;
		}
		memset(it, 0, sizeof(*it));
		it->h = h;
		it->frame = s->buf + s->pos;
		it->frame_len = SBX_HEADER_BYTES + h.len;
		it->pos = here(s);
		it->crc_ok = sbx_frame_crc_ok(it->frame, &h);
		if (!it->crc_ok) {
			/* Trust the length only if a frame (or the end) follows it. */
			size_t n = it->frame_len;
			bool next_ok;

			if (fill(s, n + SBX_HEADER_BYTES)) {
				sbx_header h2;

				next_ok = sbx_header_decode(&h2, s->buf + s->pos + n) == 0;
			} else {
				next_ok = s->len - s->pos == n;
			}
			if (!next_ok) {
				garbage_byte(s);
				continue;
			}
			it->frame = s->buf + s->pos; /* fill() may have moved the buffer */
			it->pos = here(s);
		}
		garbage_flush(s);
		it->pos = here(s);
		s->rep->counters[SODA_BLACKBOX_REPORT_FRAMES]++;
		if (!it->crc_ok) {
			FIND(s, CORRUPT_FRAME, SEV_E, &it->pos, it->h.stream, it->h.seq,
			     "the frame (kind %u, %u bytes) fails its checksum: its bytes were changed", h.kind,
			     h.len);
		} else if (s->seg_foreign) {
			/* Counted, not interpreted: the segment is not ours. */
		} else if (sbx_kind_is_notice(h.kind)) {
			notice(s, it);
		} else {
			stream_frame(s, it);
		}
		/* Hash after the checks: a checkpoint covers the bytes before it. */
		consume(s, it->frame_len);
		s->entry++;
		return 1;
	}
	(void)error;
}
