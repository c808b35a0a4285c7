/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host store: frames from the guest's line (and the host's own sealed
 * events) appended to hash-chained segment files, with group commit,
 * checkpoints, rotation, retention, a quota, and loss notices.
 *
 * Ingest rules: a frame from the line is stored only if its stream's rules
 * allow it (a START opens a new stream at seq 0; every other frame belongs to
 * a stream started on this line, has a sequence number beyond the last one,
 * and respects epochs and the end). Everything else is dropped and counted in
 * a loss notice. So whatever a verifier later finds wrong inside the store
 * was done to the store, not sent down the line by a compromised guest.
 *
 * One stream per boot is the server's: the agent opens it before any
 * tenant program runs, so it is the first on the line. The store names it
 * in a LINE notice; any later stream's START, and any byte that is not a
 * frame the stream rules accept, came from someone else on the guest's line
 * (root in the guest can make a device node for it) and is written down as
 * foreign (a LINE notice, or a loss notice flagged foreign): the verifier
 * calls that damage and the reader shows such records apart. RECEIPT
 * notices chain the host's time of receipt with the line's frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kv.h"
#include "internal.h"
#include "writer.h"

#define DEFAULT_GROUP_MS 20
#define DEFAULT_CHECKPOINT_MS 1000
#define DEFAULT_GROUP_BYTES (1ull << 20)
#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define DEFAULT_QUOTA_BYTES (1ull << 30)
#define MIN_SEGMENT_BYTES (64ull << 10)
#define MIN_QUOTA_BYTES (1ull << 20)
#define FINAL_RESERVE (8u << 10)
#define MAX_STREAMS 1024
#define RETENTION_PERIOD_USEC (60ull * 1000000u)
#define DROP_SEGMENTS 8 /* drop-oldest: at least this many segments fit the quota */
#define PBUF_CAP (2 * (SBX_HEADER_BYTES + SBX_MAX_PAYLOAD) + (64u << 10))
/* With the helper thread: buffered frames go to it in pieces of this size. */
#define HASH_PIECE (256u << 10)

enum { CLASS_LINE, CLASS_NOTICE, CLASS_FINAL };

typedef struct loss_run {
	bool active;
	uint64_t first_seq, last_seq, frames, bytes, t0, t1;
} loss_run;

typedef struct st_stream {
	uint8_t id[16];
	uint64_t next_seq;
	uint32_t epoch;
	bool have_epoch, ended, line, eofed, skipping, foreign;
	uint64_t epoch_seg; /* the segment that holds its current epoch's start */
	uint64_t last_use;
	uint8_t start[SBX_HEADER_BYTES + SBX_START_PAYLOAD_BYTES];
	loss_run quota;
} st_stream;

struct soda_blackbox_store {
	char *dir;
	int dirfd, lockfd, segfd;
	soda_blackbox_store_options o;
	char label[SBX_LABEL_BYTES + 1];
	uint8_t store_id[16];
	uint8_t session[16];
	uint64_t session_no, session_seq;
	/* the current segment */
	uint64_t seg_no, seg_size, seg_entries;
	sbx_chain chain, chain_committed; /* in the current segment's hash */
	int new_alg; /* the chain's hash in new segments */
	sbx_hasher *hasher; /* SODA_BLACKBOX_STORE_PARALLEL: the chain on a helper thread */
	size_t whashed; /* bytes of wbuf already in the chain (it is hashed in big pieces) */
	uint64_t entries; /* in the store, buffered ones included */
	uint64_t entries_committed;
	uint64_t other_bytes; /* bytes of older segments and small files */
	/* the group waiting for its commit */
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t group_since; /* CLOCK_MONOTONIC of the group's first frame, 0 if none */
	uint64_t commit_no;
	uint8_t head_digest[32];
	uint64_t head_offset;
	/* checkpoints */
	uint64_t last_ckpt, frames_since_ckpt;
	/* line parsing */
	uint8_t *pbuf;
	size_t plen;
	size_t la_rel; /* lookahead resumes here, relative to the pending frame */
	/* losses not yet written down */
	loss_run garbage, rejected, write_err;
	loss_run fgarbage, frejected; /* the same after the server's stream began: foreign */
	/* the line: the server's stream, receipts */
	bool have_server;
	uint8_t server[16];
	uint64_t line_bytes;   /* fed so far */
	uint64_t feed_usec;    /* CLOCK_REALTIME of the feed call under way */
	uint64_t receipt_usec; /* the last RECEIPT written in this segment, 0 if none */
	uint64_t last_loss_notice;
	bool quota_pending;
	/* counters */
	uint64_t stat[12];
	/* streams */
	st_stream *streams;
	size_t n_streams;
	uint64_t use_clock;
	/* host events */
	bool have_pk;
	uint8_t pk[32];
	sbw_writer *host;
	int host_err;
	uint64_t next_retention;
	bool closing;
	bool drop_oldest; /* SODA_BLACKBOX_STORE_DROP_OLDEST */
};

static int commit(soda_blackbox_store *s, bool force_ckpt, uint32_t ckpt_flags, soda_error **error);
static void chain_submit(soda_blackbox_store *s);

/* ---- options ---- */

SODA_EXPORT int soda_blackbox_store_options_init(soda_blackbox_store_options *opts, uint32_t version)
{
	if (!opts || version != SODA_BLACKBOX_STORE_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static int resolve_options(soda_blackbox_store_options *o, const soda_blackbox_store_options *in,
			   soda_error **error)
{
	memset(o, 0, sizeof(*o));
	if (in) {
		if (in->version != SODA_BLACKBOX_STORE_OPTIONS_VERSION)
			return su_errorf(error, -EINVAL, "unknown store options version %u", in->version);
		*o = *in;
	}
	if (!o->durability)
		o->durability = SODA_BLACKBOX_DURABILITY_GROUP;
	if (o->durability > SODA_BLACKBOX_DURABILITY_WRITE)
		return su_errorf(error, -EINVAL, "unknown durability %u", o->durability);
	if (!o->group_ms)
		o->group_ms = DEFAULT_GROUP_MS;
	if (!o->checkpoint_ms)
		o->checkpoint_ms = DEFAULT_CHECKPOINT_MS;
	if (!o->group_bytes)
		o->group_bytes = DEFAULT_GROUP_BYTES;
	if (!o->segment_bytes)
		o->segment_bytes = DEFAULT_SEGMENT_BYTES;
	if (!o->quota_bytes)
		o->quota_bytes = DEFAULT_QUOTA_BYTES;
	if (o->segment_bytes < MIN_SEGMENT_BYTES)
		return su_errorf(error, -EINVAL, "segment size %" PRIu64 " is below the minimum %llu",
				 o->segment_bytes, MIN_SEGMENT_BYTES);
	if (o->quota_bytes < MIN_QUOTA_BYTES)
		return su_errorf(error, -EINVAL, "quota %" PRIu64 " is below the minimum %llu",
				 o->quota_bytes, MIN_QUOTA_BYTES);
	if (o->group_bytes > (64ull << 20))
		return su_errorf(error, -EINVAL, "group size %" PRIu64 " is above 64 MiB", o->group_bytes);
	if (o->label && strlen(o->label) > SBX_LABEL_BYTES)
		return su_errorf(error, -EINVAL, "label '%s' is longer than %d bytes", o->label,
				 SBX_LABEL_BYTES);
	return 0;
}

static uint64_t reserve_of(const soda_blackbox_store *s)
{
	uint64_t r = s->o.quota_bytes / 64;

	return r < (64u << 10) ? (64u << 10) : r;
}

static uint64_t total_bytes(const soda_blackbox_store *s)
{
	return s->other_bytes + s->seg_size + s->wlen;
}

/* ---- streams ---- */

static st_stream *find_stream(soda_blackbox_store *s, const uint8_t id[16])
{
	for (size_t i = s->n_streams; i-- > 0;)
		if (memcmp(s->streams[i].id, id, 16) == 0) {
			s->streams[i].last_use = ++s->use_clock;
			return &s->streams[i];
		}
	return NULL;
}

static st_stream *add_stream(soda_blackbox_store *s, const uint8_t id[16])
{
	st_stream *st;

	if (s->n_streams == MAX_STREAMS) {
		/* Forget the least recently used stream, preferring ended ones. */
		size_t victim = 0;
		bool victim_ended = false;

		for (size_t i = 0; i < s->n_streams; i++) {
			st_stream *c = &s->streams[i];

			if ((c->ended && !victim_ended) ||
			    (c->ended == victim_ended && c->last_use < s->streams[victim].last_use)) {
				victim = i;
				victim_ended = c->ended;
			}
		}
		s->streams[victim] = s->streams[--s->n_streams];
	}
	if (!s->streams) {
		s->streams = calloc(MAX_STREAMS, sizeof(*s->streams));
		if (!s->streams)
			return NULL;
	}
	st = &s->streams[s->n_streams++];
	memset(st, 0, sizeof(*st));
	memcpy(st->id, id, 16);
	st->last_use = ++s->use_clock;
	return st;
}

/* ---- low-level appends ---- */

static int reserve_wbuf(soda_blackbox_store *s, size_t more)
{
	size_t need = s->wlen + more, cap;
	uint8_t *n;

	if (need <= s->wcap)
		return 0;
	sbx_hasher_wait(s->hasher); /* it may be reading the old buffer */
	cap = s->wcap ? s->wcap : (256u << 10);
	while (cap < need)
		cap *= 2;
	n = realloc(s->wbuf, cap);
	if (!n)
		return -ENOMEM;
	s->wbuf = n;
	s->wcap = cap;
	return 0;
}

static uint64_t class_limit(const soda_blackbox_store *s, int cls)
{
	switch (cls) {
	case CLASS_LINE:
		return s->o.quota_bytes - reserve_of(s);
	case CLASS_NOTICE:
		return s->o.quota_bytes - FINAL_RESERVE;
	default:
		return s->o.quota_bytes;
	}
}

/* Buffers a frame: no rotation, no commit. -ENOSPC beyond the class's share
 * of the quota. */
static int put_frame(soda_blackbox_store *s, const uint8_t *frame, size_t len, int cls)
{
	int r;

	if (total_bytes(s) + len > class_limit(s, cls))
		return -ENOSPC;
	r = reserve_wbuf(s, len);
	if (r < 0)
		return r;
	memcpy(s->wbuf + s->wlen, frame, len);
	s->wlen += len;
	if (s->hasher && s->wlen - s->whashed >= HASH_PIECE)
		chain_submit(s);
	s->entries++;
	s->seg_entries++;
	s->frames_since_ckpt++;
	s->stat[SODA_BLACKBOX_STAT_FRAMES]++;
	s->stat[SODA_BLACKBOX_STAT_BYTES] += len;
	if (!s->group_since)
		s->group_since = su_mono_usec();
	return 0;
}

/* A store notice in the session stream. */
static int put_notice(soda_blackbox_store *s, uint8_t kind, const uint8_t *payload, size_t len,
		      int cls)
{
	uint8_t frame[SBX_HEADER_BYTES + 4096];
	sbx_header h = { 0 };
	int r;

	if (len > sizeof(frame) - SBX_HEADER_BYTES)
		return -EINVAL;
	h.kind = kind;
	h.len = (uint32_t)len;
	memcpy(h.stream, s->session, 16);
	h.seq = s->session_seq;
	h.time_usec = su_now_usec();
	memcpy(frame + SBX_HEADER_BYTES, payload, len);
	sbx_header_encode(frame, &h, frame + SBX_HEADER_BYTES);
	r = put_frame(s, frame, SBX_HEADER_BYTES + len, cls);
	if (r == 0)
		s->session_seq++;
	return r;
}

/* The chain takes the buffered frames in big pieces: when a digest is
 * wanted, or (with the helper thread) every HASH_PIECE, one update over
 * many frames (both hashes run faster on big inputs; BLAKE3 hashes 16
 * chunks at a time with AVX-512). */
static void chain_submit(soda_blackbox_store *s)
{
	if (s->whashed < s->wlen) {
		sbx_chain_feed(&s->chain, s->hasher, s->wbuf + s->whashed, s->wlen - s->whashed);
		s->whashed = s->wlen;
	}
}

/* Everything buffered is in the chain, and the chain is ours. */
static void chain_sync(soda_blackbox_store *s)
{
	chain_submit(s);
	sbx_hasher_wait(s->hasher);
}

static void digest_now(soda_blackbox_store *s, uint8_t out[32])
{
	chain_sync(s);
	sbx_chain_digest(&s->chain, out);
}

static int put_checkpoint(soda_blackbox_store *s, uint32_t flags, int cls)
{
	uint8_t p[SBB_CHECKPOINT_BYTES];
	sbb_checkpoint c = { 0 };
	int r;

	c.segment = s->seg_no;
	c.offset = s->seg_size + s->wlen;
	digest_now(s, c.digest);
	c.entry = s->entries;
	c.dropped_frames = s->stat[SODA_BLACKBOX_STAT_DROPPED_FRAMES];
	c.dropped_bytes = s->stat[SODA_BLACKBOX_STAT_DROPPED_BYTES];
	c.garbage_bytes = s->stat[SODA_BLACKBOX_STAT_GARBAGE_BYTES];
	c.rejected_frames = s->stat[SODA_BLACKBOX_STAT_REJECTED_FRAMES];
	c.flags = flags;
	sbb_checkpoint_encode(p, &c);
	r = put_notice(s, SBX_K_CHECKPOINT, p, sizeof(p), cls);
	if (r == 0) {
		s->last_ckpt = su_mono_usec();
		s->frames_since_ckpt = 0;
	}
	return r;
}

static void run_add(loss_run *run, uint64_t seq, uint64_t bytes)
{
	uint64_t now = su_now_usec();

	if (!run->active) {
		memset(run, 0, sizeof(*run));
		run->active = true;
		run->first_seq = seq;
		run->t0 = now;
	}
	run->last_seq = seq;
	run->frames++;
	run->bytes += bytes;
	run->t1 = now;
}

static int put_loss_f(soda_blackbox_store *s, uint32_t reason, uint32_t flags, const uint8_t *stream,
		      loss_run *run, int cls)
{
	uint8_t p[SBB_LOSS_BYTES];
	sbb_loss l = { 0 };
	int r;

	l.reason = reason;
	l.flags = flags;
	if (stream) {
		l.flags |= SBB_LOSS_F_STREAM;
		memcpy(l.stream, stream, 16);
		l.first_seq = run->first_seq;
		l.last_seq = run->last_seq;
	}
	l.frames = run->frames;
	l.bytes = run->bytes;
	l.first_usec = run->t0;
	l.last_usec = run->t1;
	sbb_loss_encode(p, &l);
	r = put_notice(s, SBX_K_LOSS, p, sizeof(p), cls);
	if (r == 0)
		memset(run, 0, sizeof(*run));
	return r;
}

static int put_loss(soda_blackbox_store *s, uint32_t reason, const uint8_t *stream, loss_run *run,
		    int cls)
{
	return put_loss_f(s, reason, 0, stream, run, cls);
}

/* Writes down the losses not yet recorded (as far as the quota lets). */
static void put_pending_losses(soda_blackbox_store *s, int cls)
{
	bool left = false;

	if (s->garbage.active)
		put_loss(s, SBB_LOSS_GARBAGE, NULL, &s->garbage, cls);
	if (s->rejected.active)
		put_loss(s, SBB_LOSS_REJECTED, NULL, &s->rejected, cls);
	if (s->fgarbage.active)
		put_loss_f(s, SBB_LOSS_GARBAGE, SBB_LOSS_F_FOREIGN, NULL, &s->fgarbage, cls);
	if (s->frejected.active)
		put_loss_f(s, SBB_LOSS_REJECTED, SBB_LOSS_F_FOREIGN, NULL, &s->frejected, cls);
	if (s->write_err.active)
		put_loss(s, SBB_LOSS_WRITE_ERROR, NULL, &s->write_err, cls);
	for (size_t i = 0; i < s->n_streams; i++) {
		st_stream *st = &s->streams[i];

		if (st->quota.active && put_loss(s, SBB_LOSS_QUOTA, st->id, &st->quota, cls) < 0)
			left = true;
	}
	s->quota_pending = left;
	s->last_loss_notice = su_mono_usec();
}

/* ---- segments ---- */

static int write_all_at(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return su_neg_errno();
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void count_segments(soda_blackbox_store *s)
{
	uint64_t *segs = NULL;
	size_t n = 0;

	if (sbb_list_segments(s->dirfd, &segs, &n) == 0)
		s->stat[SODA_BLACKBOX_STAT_SEGMENTS] = n;
	free(segs);
}

static int new_segment(soda_blackbox_store *s, const uint8_t prev[32], uint64_t number,
		       soda_error **error)
{
	uint8_t hdr[SBB_SEG_HEADER_BYTES];
	sbb_seg_header h = { 0 };
	char name[64];
	int fd, r;

	sbb_seg_name(name, sizeof(name), number);
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "cannot create %s/%s: %m", s->dir, name);
	h.version = (uint32_t)s->new_alg;
	memcpy(h.store, s->store_id, 16);
	h.number = number;
	h.first_entry = s->entries;
	if (prev)
		memcpy(h.prev, prev, 32);
	h.created_usec = su_now_usec();
	sbb_seg_header_encode(hdr, &h);
	r = write_all_at(fd, hdr, sizeof(hdr), 0);
	if (r == 0 && fsync(fd) < 0)
		r = su_neg_errno();
	if (r < 0) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return su_errorf(error, r, "cannot write %s/%s: %s", s->dir, name, strerror(-r));
	}
	fsync(s->dirfd);
	if (s->segfd >= 0) {
		s->other_bytes += s->seg_size;
		close(s->segfd);
	}
	s->segfd = fd;
	s->seg_no = number;
	s->seg_size = SBB_SEG_HEADER_BYTES;
	s->seg_entries = 0;
	s->receipt_usec = 0; /* every segment has its own receipts */
	sbx_hasher_wait(s->hasher); /* (idle already: rotation commits first) */
	sbx_chain_init(&s->chain, s->new_alg);
	sbx_chain_update(&s->chain, hdr, sizeof(hdr));
	s->chain_committed = s->chain;
	s->whashed = 0; /* what is buffered (nothing, after rotate()'s commit) goes here */
	count_segments(s);
	return 0;
}

static int put_line(soda_blackbox_store *s, uint32_t role, const uint8_t stream[16])
{
	uint8_t p[SBB_LINE_BYTES];
	sbb_line l = { .role = role, .received_usec = s->feed_usec ? s->feed_usec : su_now_usec(),
		       .line_bytes = s->line_bytes };

	memcpy(l.stream, stream, 16);
	sbb_line_encode(p, &l);
	return put_notice(s, SBX_K_LINE, p, sizeof(p), CLASS_NOTICE);
}

static void copy_starts(soda_blackbox_store *s)
{
	/* The server's stream named again: a segment read on its own (after
	 * retention) still tells the server's stream from foreign ones. */
	if (s->have_server)
		put_line(s, SBB_LINE_SERVER, s->server);
	for (size_t i = 0; i < s->n_streams; i++) {
		st_stream *st = &s->streams[i];

		if (st->ended || !sbx_is_magic(st->start))
			continue;
		if (st->foreign)
			put_line(s, SBB_LINE_FOREIGN, st->id);
		put_notice(s, SBX_K_STARTCOPY, st->start, sizeof(st->start), CLASS_NOTICE);
	}
}

/* The host's time of receipt goes into the chain before the line's frames
 * (at most one notice per SBB_RECEIPT_USEC). */
static void note_receipt(soda_blackbox_store *s)
{
	uint8_t p[SBB_RECEIPT_BYTES];
	uint64_t t = s->feed_usec ? s->feed_usec : su_now_usec();

	if (s->receipt_usec && t >= s->receipt_usec && t - s->receipt_usec < SBB_RECEIPT_USEC)
		return;
	sbb_receipt_encode(p, t);
	if (put_notice(s, SBX_K_RECEIPT, p, sizeof(p), CLASS_NOTICE) == 0)
		s->receipt_usec = t;
}

static int apply_retention(soda_blackbox_store *s, soda_error **error);
static void make_room(soda_blackbox_store *s, size_t need, soda_error **error);

static int rotate(soda_blackbox_store *s, soda_error **error)
{
	uint8_t digest[32];
	int r;

	r = commit(s, false, 0, error);
	if (r < 0)
		return r;
	if (s->o.durability == SODA_BLACKBOX_DURABILITY_WRITE)
		fdatasync(s->segfd);
	digest_now(s, digest);
	if (total_bytes(s) + SBB_SEG_HEADER_BYTES > class_limit(s, CLASS_NOTICE))
		return -ENOSPC;
	r = new_segment(s, digest, s->seg_no + 1, error);
	if (r < 0)
		return r;
	copy_starts(s);
	apply_retention(s, NULL);
	return commit(s, false, 0, error);
}

/* Buffers a frame after rotating if needed, and commits if the policy says
 * so. -ENOSPC when the quota refuses it. */
static int append_frame(soda_blackbox_store *s, const uint8_t *frame, size_t len, int cls,
			soda_error **error)
{
	int r;

	if (s->seg_entries > 0 && s->seg_size + s->wlen + len > s->o.segment_bytes) {
		r = rotate(s, error);
		if (r < 0 && r != -ENOSPC)
			return r;
	}
	if (cls == CLASS_LINE) {
		make_room(s, len + 2 * (SBX_HEADER_BYTES + SBB_RETENTION_BYTES), error);
		/* Only for a frame that fits: receipts of refused frames would
		 * eat the room kept for the loss notices. */
		if (total_bytes(s) + len + SBX_HEADER_BYTES + SBB_RECEIPT_BYTES <= class_limit(s, CLASS_LINE))
			note_receipt(s);
	}
	r = put_frame(s, frame, len, cls);
	if (r < 0)
		return r;
	if (s->o.durability == SODA_BLACKBOX_DURABILITY_FRAME || s->wlen >= s->o.group_bytes)
		return commit(s, false, 0, error);
	return 0;
}

/* ---- commit ---- */

/* Writes the head's next slot; @sync: make it durable now. The head may lag
 * the data after a host crash (a verifier checks the prefix it names, and
 * recovery scans past it), never lead it: the data is synced first. */
static int write_head(soda_blackbox_store *s, uint32_t flags, bool sync)
{
	uint8_t slot[SBB_HEAD_SLOT_BYTES];
	sbb_head h = { 0 };
	int fd, r;

	h.flags = flags;
	memcpy(h.store, s->store_id, 16);
	h.commit = ++s->commit_no;
	h.segment = s->seg_no;
	h.offset = s->seg_size;
	h.entries = s->entries_committed;
	memcpy(h.digest, s->head_digest, 32);
	h.time_usec = su_now_usec();
	h.session = s->session_no;
	sbb_head_encode(slot, &h);
	fd = openat(s->dirfd, SBB_HEAD_FILE, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return su_neg_errno();
	r = write_all_at(fd, slot, sizeof(slot), (h.commit % 2) * SBB_HEAD_SLOT_BYTES);
	if (r == 0 && sync && s->o.durability != SODA_BLACKBOX_DURABILITY_WRITE && fdatasync(fd) < 0)
		r = su_neg_errno();
	close(fd);
	return r;
}

static int commit(soda_blackbox_store *s, bool force_ckpt, uint32_t ckpt_flags, soda_error **error)
{
	uint64_t now = su_mono_usec();
	size_t entries_in_group;
	bool ckpt = false;
	int r;

	if (s->garbage.active || s->rejected.active || s->write_err.active || s->fgarbage.active ||
	    s->frejected.active ||
	    (s->quota_pending && now - s->last_loss_notice >= (uint64_t)s->o.checkpoint_ms * 1000u))
		put_pending_losses(s, s->closing ? CLASS_FINAL : CLASS_NOTICE);
	if (force_ckpt || (s->frames_since_ckpt > 0 &&
			   now - s->last_ckpt >= (uint64_t)s->o.checkpoint_ms * 1000u)) {
		put_checkpoint(s, ckpt_flags, force_ckpt ? CLASS_FINAL : CLASS_NOTICE);
		ckpt = true;
	}
	if (s->wlen == 0)
		return 0;
	entries_in_group = (size_t)(s->entries - s->entries_committed);
	chain_submit(s); /* a helper thread hashes while the group is written */
	r = write_all_at(s->segfd, s->wbuf, s->wlen, s->seg_size);
	if (r == 0 && s->o.durability != SODA_BLACKBOX_DURABILITY_WRITE && fdatasync(s->segfd) < 0)
		r = su_neg_errno();
	chain_sync(s);
	if (r < 0) {
		/* Take the group back out: the segment stays a sequence of whole
		 * frames, and the loss is written down when the disk lets us. */
		if (ftruncate(s->segfd, (off_t)s->seg_size) < 0) {
			/* Nothing more to do: the verifier will see a torn tail. */
		}
		s->chain = s->chain_committed;
		s->entries = s->entries_committed;
		s->seg_entries -= entries_in_group;
		s->write_err.active = true;
		s->write_err.frames += entries_in_group;
		s->write_err.bytes += s->wlen;
		s->write_err.t1 = su_now_usec();
		if (!s->write_err.t0)
			s->write_err.t0 = s->write_err.t1;
		s->wlen = 0;
		s->whashed = 0;
		s->group_since = 0;
		return su_errorf(error, r, "cannot write to the blackbox store %s: %s", s->dir,
				 strerror(-r));
	}
	/* Synced pages leave the page cache: a log is written once and seldom
	 * read, a flooding guest does not push the host's other files out of
	 * memory, and the kernel hands the freed pages to the next group while
	 * they are warm. Measured here (docs/performance.md): keeping them,
	 * the monitor stored 230 MB/s, the VM backing each new page cache
	 * page on first touch; dropping them, 1.1 GB/s. */
	if (s->o.durability != SODA_BLACKBOX_DURABILITY_WRITE) {
		/* From a 2 MiB boundary: the page cache keeps large folios, and
		 * one that reached past the last group's end is dropped now. */
		uint64_t from = s->seg_size & ~((UINT64_C(2) << 20) - 1);

		posix_fadvise(s->segfd, (off_t)from, (off_t)(s->seg_size + s->wlen - from),
			      POSIX_FADV_DONTNEED);
	}
	s->seg_size += s->wlen;
	s->wlen = 0;
	s->whashed = 0;
	s->group_since = 0;
	s->entries_committed = s->entries;
	s->chain_committed = s->chain;
	digest_now(s, s->head_digest);
	s->head_offset = s->seg_size;
	s->stat[SODA_BLACKBOX_STAT_COMMITS]++;
	/* One fdatasync per group for the data; the head is synced with the
	 * checkpoints, at the close and under FRAME durability. */
	r = write_head(s, s->closing ? SBB_HEAD_F_CLOSED : 0,
		       ckpt || s->closing || s->o.durability == SODA_BLACKBOX_DURABILITY_FRAME);
	if (r < 0)
		return su_errorf(error, r, "cannot write the head of %s: %s", s->dir, strerror(-r));
	return 0;
}

/* ---- retention ---- */

/* Deletes the oldest segments (never the current one) while they are
 * older than the retention age, or the store is bigger than @max_bytes
 * (0: no limit), and writes a RETENTION notice that commits to the last
 * deleted segment's final digest. */
static int drop_front(soda_blackbox_store *s, uint64_t max_bytes, uint32_t size_reason,
		      uint64_t below, soda_error **error)
{
	uint64_t *segs = NULL, now = su_now_usec();
	size_t n = 0, k = 0;
	uint64_t freed = 0, total;
	uint32_t reason = 0;
	int r;

	r = sbb_list_segments(s->dirfd, &segs, &n);
	if (r < 0)
		return su_errorf(error, r, "cannot list %s", s->dir);
	total = total_bytes(s);
	while (k < n && segs[k] < s->seg_no && segs[k] < below) {
		struct stat st;
		char name[64];
		bool old, big;

		sbb_seg_name(name, sizeof(name), segs[k]);
		if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			break;
		old = s->o.retention_seconds &&
		      (uint64_t)st.st_mtim.tv_sec + s->o.retention_seconds < now / 1000000u;
		big = max_bytes && total - freed > max_bytes;
		if (!old && !big)
			break;
		if (unlinkat(s->dirfd, name, 0) < 0)
			break;
		reason = old ? SBB_RETENTION_AGE : size_reason;
		freed += (uint64_t)st.st_size;
		k++;
	}
	if (k > 0) {
		uint8_t p[SBB_RETENTION_BYTES], hdr[SBB_SEG_HEADER_BYTES];
		sbb_retention ret = { 0 };
		sbb_seg_header sh;
		char name[64];
		int fd;

		fsync(s->dirfd);
		ret.first = segs[0];
		ret.last = segs[k - 1];
		ret.reason = reason;
		ret.bytes = freed;
		/* The next segment's header holds the digest of the last one deleted. */
		sbb_seg_name(name, sizeof(name), segs[k]);
		fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
		    sbb_seg_header_decode(&sh, hdr) == 0)
			memcpy(ret.last_digest, sh.prev, 32);
		if (fd >= 0)
			close(fd);
		s->other_bytes = s->other_bytes > freed ? s->other_bytes - freed : 0;
		count_segments(s);
		sbb_retention_encode(p, &ret);
		put_notice(s, SBX_K_RETENTION, p, sizeof(p), CLASS_NOTICE);
		/* Space is back: write down the quota losses now. */
		if (s->quota_pending)
			put_pending_losses(s, CLASS_NOTICE);
	}
	free(segs);
	return 0;
}

static int apply_retention(soda_blackbox_store *s, soda_error **error)
{
	s->next_retention = su_mono_usec() + RETENTION_PERIOD_USEC;
	if (!s->o.retention_bytes && !s->o.retention_seconds)
		return 0;
	return drop_front(s, s->o.retention_bytes, SBB_RETENTION_SIZE, UINT64_MAX, error);
}

/* drop-oldest: room for @need more bytes of the line, old segments out.
 * Down to 3/4 of the line's share, so that this happens once in a while,
 * not at every frame. */
static void make_room(soda_blackbox_store *s, size_t need, soda_error **error)
{
	uint64_t limit = class_limit(s, CLASS_LINE), target = limit / 4 * 3;

	if (!s->drop_oldest || total_bytes(s) + need <= limit)
		return;
	/* Everything in the current segment: close it, so it can go. */
	if (s->stat[SODA_BLACKBOX_STAT_SEGMENTS] <= 1 && s->seg_entries > 0 && rotate(s, error) < 0)
		return;
	/* The records of an epoch whose start is gone cannot be decrypted
	 * (secretstream chains its messages): keep every live stream's
	 * current epoch whole if that frees enough, else drop anyway. */
	{
		uint64_t keep = s->seg_no, before = total_bytes(s);

		for (size_t i = 0; i < s->n_streams; i++)
			if (s->streams[i].line && !s->streams[i].ended && s->streams[i].have_epoch &&
			    s->streams[i].epoch_seg < keep)
				keep = s->streams[i].epoch_seg;
		drop_front(s, target > need ? target - need : 1, SBB_RETENTION_QUOTA, keep, error);
		if (total_bytes(s) == before || total_bytes(s) + need > limit)
			drop_front(s, target > need ? target - need : 1, SBB_RETENTION_QUOTA, UINT64_MAX,
				   error);
	}
	s->stat[SODA_BLACKBOX_STAT_STORE_BYTES] = total_bytes(s);
}

/* ---- opening and recovery ---- */

typedef struct meta_ctx {
	uint8_t id[16];
	bool have_id;
} meta_ctx;

static int meta_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	meta_ctx *m = userdata;

	if (strcmp(key, "id") == 0) {
		if (sbb_unhex(m->id, 16, value, strlen(value)) < 0)
			return -EBADMSG;
		m->have_id = true;
	}
	return 0;
}

static int load_or_create_meta(soda_blackbox_store *s, bool have_segments, soda_error **error)
{
	meta_ctx m = { 0 };
	char *path = su_strdup_printf("%s/%s", s->dir, SBB_STORE_META);
	int r;

	if (!path)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = su_kv_parse_file(path, SBB_STORE_META_MAGIC, 1, NULL, meta_line, &m, error);
	if (r == -ENOENT && !have_segments) {
		su_buf b = { 0 };
		char hex[33];

		if (error && *error) {
			soda_error_free(*error);
			*error = NULL;
		}
		randombytes_buf(s->store_id, 16);
		sbb_hex(hex, s->store_id, 16);
		su_kv_header(&b, SBB_STORE_META_MAGIC, 1);
		su_kv_add(&b, "id", hex);
		su_kv_add_u64(&b, "created", su_now_usec());
		if (s->label[0])
			su_kv_add(&b, "label", s->label);
		if (b.oom) {
			su_buf_free(&b);
			free(path);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
		r = su_write_file_atomic(path, b.data, b.len, 0600);
		su_buf_free(&b);
		if (r < 0)
			r = su_errorf(error, r, "cannot write %s: %s", path, strerror(-r));
		free(path);
		return r;
	}
	if (r < 0) {
		su_error_prefix(error, "not a usable blackbox store");
		free(path);
		return r == -ENOENT ? su_errorf(error, -EBADMSG, "%s has segments but no store file",
						s->dir)
				    : r;
	}
	free(path);
	if (!m.have_id)
		return su_errorf(error, -EBADMSG, "%s/%s has no id", s->dir, SBB_STORE_META);
	memcpy(s->store_id, m.id, 16);
	return 0;
}

/* Scans the last segment: hashes its valid frames, cuts a torn tail, and
 * learns how the previous session ended. */
static int recover_last(soda_blackbox_store *s, uint64_t number, sbb_open *op, soda_error **error)
{
	uint8_t *data = NULL;
	char name[64];
	struct stat st;
	sbb_seg_header sh;
	size_t off, valid_end;
	bool last_final = false;
	uint64_t frames = 0;
	int fd, r = 0;

	sbb_seg_name(name, sizeof(name), number);
	fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open %s/%s: %m", s->dir, name);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return su_errorf(error, -EBADMSG, "%s/%s is not a regular file", s->dir, name);
	}
	if ((uint64_t)st.st_size > (4ull << 30)) {
		close(fd);
		return su_errorf(error, -EFBIG, "%s/%s is too large", s->dir, name);
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		close(fd);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	if (pread(fd, data, (size_t)st.st_size, 0) != st.st_size) {
		r = su_errorf(error, -EIO, "cannot read %s/%s", s->dir, name);
		goto out;
	}
	if ((size_t)st.st_size < SBB_SEG_HEADER_BYTES || sbb_seg_header_decode(&sh, data) < 0 ||
	    memcmp(sh.store, s->store_id, 16) != 0 || sh.number != number) {
		/* Not ours or damaged: leave it alone, go on in a new segment. */
		uint8_t d[32];

		/* A segment without a valid header is hashed as version 1's. */
		sbx_chain_oneshot(SBX_CHAIN_BLAKE2B, d, data, (size_t)st.st_size);
		op->flags |= SBB_OPEN_F_DAMAGED_TAIL | SBB_OPEN_F_PREV_UNCLEAN;
		close(fd);
		fd = -1;
		s->other_bytes += (uint64_t)st.st_size;
		s->entries = s->entries_committed = op->head_entries; /* best known */
		r = new_segment(s, d, number + 1, error);
		goto out;
	}
	off = SBB_SEG_HEADER_BYTES;
	valid_end = off;
	while (off + SBX_HEADER_BYTES <= (size_t)st.st_size) {
		sbx_header h;

		if (sbx_header_decode(&h, data + off) < 0 ||
		    off + SBX_HEADER_BYTES + h.len > (size_t)st.st_size ||
		    !sbx_frame_crc_ok(data + off, &h))
			break;
		last_final = false;
		if (h.kind == SBX_K_CHECKPOINT && h.len == SBB_CHECKPOINT_BYTES &&
		    (sbx_get32(data + off + SBX_HEADER_BYTES + 88) & SBB_CHECKPOINT_F_FINAL))
			last_final = true;
		off += SBX_HEADER_BYTES + h.len;
		valid_end = off;
		frames++;
	}
	s->entries = s->entries_committed = sh.first_entry + frames;
	if (!last_final)
		op->flags |= SBB_OPEN_F_PREV_UNCLEAN;
	if (valid_end < (size_t)st.st_size) {
		/* A torn tail only if nothing valid follows; otherwise damage in
		 * the middle, which we must not destroy. */
		bool valid_after = false;
		size_t q = valid_end + 1;

		while ((q = sbx_find_magic(data, (size_t)st.st_size, q)) + SBX_HEADER_BYTES <=
		       (size_t)st.st_size) {
			sbx_header h;

			if (sbx_header_decode(&h, data + q) == 0 &&
			    q + SBX_HEADER_BYTES + h.len <= (size_t)st.st_size &&
			    sbx_frame_crc_ok(data + q, &h)) {
				valid_after = true;
				break;
			}
			q++;
		}
		if (valid_after) {
			uint8_t d[32];

			sbx_chain_oneshot((int)sh.version, d, data, (size_t)st.st_size);
			op->flags |= SBB_OPEN_F_DAMAGED_TAIL | SBB_OPEN_F_PREV_UNCLEAN;
			close(fd);
			fd = -1;
			s->other_bytes += (uint64_t)st.st_size;
			r = new_segment(s, d, number + 1, error);
			goto out;
		}
		if (ftruncate(fd, (off_t)valid_end) < 0 || fsync(fd) < 0) {
			r = su_errorf(error, su_neg_errno(), "cannot cut the torn tail of %s/%s: %m",
				      s->dir, name);
			goto out;
		}
		op->flags |= SBB_OPEN_F_TORN | SBB_OPEN_F_PREV_UNCLEAN;
		op->torn_segment = number;
		op->torn_offset = valid_end;
		op->torn_bytes = (uint64_t)st.st_size - valid_end;
	}
	s->segfd = fd;
	fd = -1;
	s->seg_no = number;
	s->seg_size = valid_end;
	s->seg_entries = frames;
	sbx_chain_init(&s->chain, (int)sh.version); /* go on in the segment's own hash */
	sbx_chain_update(&s->chain, data, valid_end);
	s->chain_committed = s->chain;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return r;
}

static void store_free(soda_blackbox_store *s)
{
	if (!s)
		return;
	sbx_hasher_stop(s->hasher);
	sbw_free(s->host);
	if (s->segfd >= 0)
		close(s->segfd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the lock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->wbuf);
	free(s->pbuf);
	free(s->streams);
	free(s->dir);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

SODA_EXPORT int soda_blackbox_store_open(soda_blackbox_store **ret, const char *dir,
					 const soda_blackbox_key *tenant_key,
					 const soda_blackbox_store_options *opts,
					 unsigned int flags, soda_error **error)
{
	soda_blackbox_store *s;
	uint64_t *segs = NULL;
	size_t n_segs = 0;
	sbb_open op = { 0 };
	sbb_head head;
	uint8_t p[SBB_OPEN_BYTES];
	int r;

	if (!ret || !dir || !*dir)
		return su_errorf(error, -EINVAL, "no store directory");
	if (flags & ~(SODA_BLACKBOX_STORE_CHAIN_V1 | SODA_BLACKBOX_STORE_PARALLEL |
		      SODA_BLACKBOX_STORE_DROP_OLDEST))
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (tenant_key && soda_blackbox_key_has_secret(tenant_key))
		return su_errorf(error, -EINVAL,
				 "the store takes the tenant's public key: a secret key must never be on the host");
	if (tenant_key && soda_blackbox_key_get_type(tenant_key) != SODA_BLACKBOX_KEY_TENANT)
		return su_errorf(error, -EINVAL, "the store needs a tenant key, not a factory key");
	if (sodium_init() < 0)
		return su_errorf(error, -EIO, "libsodium cannot start");
	s = calloc(1, sizeof(*s));
	if (!s)
		return su_errorf(error, -ENOMEM, "out of memory");
	s->dirfd = s->lockfd = s->segfd = -1;
	s->new_alg = (flags & SODA_BLACKBOX_STORE_CHAIN_V1) ? SBX_CHAIN_BLAKE2B : SBX_CHAIN_DEFAULT;
	r = resolve_options(&s->o, opts, error);
	if (r < 0)
		goto fail;
	if (s->o.label)
		memcpy(s->label, s->o.label, strlen(s->o.label));
	s->o.label = NULL; /* not kept: copied to s->label */
	s->drop_oldest = flags & SODA_BLACKBOX_STORE_DROP_OLDEST;
	/* Old data goes a segment at a time: segments small against the
	 * quota keep most of it. */
	if (s->drop_oldest && s->o.segment_bytes > s->o.quota_bytes / DROP_SEGMENTS)
		s->o.segment_bytes = s->o.quota_bytes / DROP_SEGMENTS < MIN_SEGMENT_BYTES
					     ? MIN_SEGMENT_BYTES
					     : s->o.quota_bytes / DROP_SEGMENTS;
	if (tenant_key) {
		soda_blackbox_key_get_box_public(tenant_key, s->pk, sizeof(s->pk));
		s->have_pk = true;
	}
	s->dir = strdup(dir);
	s->pbuf = malloc(PBUF_CAP);
	if (!s->dir || !s->pbuf) {
		r = su_errorf(error, -ENOMEM, "out of memory");
		goto fail;
	}
	r = su_mkdir_p(dir, 0700);
	if (r < 0) {
		r = su_errorf(error, r, "cannot create %s: %s", dir, strerror(-r));
		goto fail;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot open %s: %m", dir);
		goto fail;
	}
	s->lockfd = openat(s->dirfd, SBB_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lockfd < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot open %s/%s: %m", dir, SBB_LOCK_FILE);
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK
			    ? su_errorf(error, -EBUSY, "the blackbox store %s is open in another process", dir)
			    : su_errorf(error, su_neg_errno(), "cannot lock %s: %m", dir);
		goto fail;
	}
	r = sbb_list_segments(s->dirfd, &segs, &n_segs);
	if (r < 0) {
		r = su_errorf(error, r, "cannot list %s", dir);
		goto fail;
	}
	r = load_or_create_meta(s, n_segs > 0, error);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i + 1 < n_segs; i++) {
		struct stat st;
		char name[64];

		sbb_seg_name(name, sizeof(name), segs[i]);
		if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			s->other_bytes += (uint64_t)st.st_size;
	}
	if (sbb_head_read(s->dirfd, &head) == 0 && memcmp(head.store, s->store_id, 16) == 0) {
		s->commit_no = head.commit;
		s->session_no = head.session;
		op.head_segment = head.segment;
		op.head_offset = head.offset;
		op.head_entries = head.entries;
	} else {
		memset(&head, 0, sizeof(head));
	}
	if (n_segs == 0) {
		r = new_segment(s, NULL, 1, error);
	} else {
		r = recover_last(s, segs[n_segs - 1], &op, error);
		if (r == 0 && (head.segment > s->seg_no ||
			       (head.segment == s->seg_no && head.offset > s->seg_size) ||
			       head.entries > s->entries))
			op.flags |= SBB_OPEN_F_HEAD_AHEAD;
	}
	if (r < 0)
		goto fail;
	free(segs);
	segs = NULL;
	count_segments(s);
	/* A new session. */
	randombytes_buf(s->session, sizeof(s->session));
	s->session_no++;
	s->last_ckpt = su_mono_usec();
	memcpy(op.store, s->store_id, 16);
	op.session = s->session_no;
	op.found_entries = s->entries;
	op.quota_bytes = s->o.quota_bytes;
	op.segment_bytes = s->o.segment_bytes;
	if (n_segs == 0)
		op.flags &= ~(uint32_t)SBB_OPEN_F_PREV_UNCLEAN;
	sbb_open_encode(p, &op);
	r = put_notice(s, SBX_K_OPEN, p, sizeof(p), CLASS_FINAL);
	if (r < 0) {
		r = su_errorf(error, r, "the blackbox store %s is full", dir);
		goto fail;
	}
	apply_retention(s, NULL);
	r = commit(s, false, 0, error);
	if (r < 0)
		goto fail;
	/* From here on the chain is only fed buffered frames. If the thread
	 * cannot start, the chain is hashed here as without the flag. */
	if (flags & SODA_BLACKBOX_STORE_PARALLEL)
		s->hasher = sbx_hasher_start(&s->chain);
	*ret = s;
	return 0;
fail:
	free(segs);
	store_free(s);
	return r;
}

/* ---- ingest ---- */

static void reject(soda_blackbox_store *s, size_t len)
{
	s->stat[SODA_BLACKBOX_STAT_REJECTED_FRAMES]++;
	/* After the server's stream began, a frame its rules refuse was
	 * written by someone else (a copy, an injection). */
	run_add(s->have_server ? &s->frejected : &s->rejected, 0, len);
}

static void drop_quota(soda_blackbox_store *s, st_stream *st, const sbx_header *h, size_t len)
{
	s->stat[SODA_BLACKBOX_STAT_DROPPED_FRAMES]++;
	s->stat[SODA_BLACKBOX_STAT_DROPPED_BYTES] += len;
	run_add(&st->quota, h->seq, len);
	s->quota_pending = true;
}

/* A whole, checksummed frame from the line. */
static int ingest(soda_blackbox_store *s, const uint8_t *frame, const sbx_header *h, soda_error **error)
{
	size_t len = SBX_HEADER_BYTES + h->len;
	st_stream *st;
	bool foreign;
	int r;

	if (!sbx_kind_is_stream(h->kind)) {
		reject(s, len); /* store notices never come from the line */
		return 0;
	}
	st = find_stream(s, h->stream);
	if (h->kind == SBX_K_START) {
		sbx_start_params prm;

		if (st || h->seq != 0 || h->epoch != 0 || h->len != SBX_START_PAYLOAD_BYTES ||
		    sbx_start_params_decode(&prm, frame + SBX_HEADER_BYTES) < 0 ||
		    prm.origin != SBX_ORIGIN_GUEST) {
			reject(s, len);
			return 0;
		}
		foreign = s->have_server;
		if (!foreign) {
			s->have_server = true;
			memcpy(s->server, h->stream, 16);
		} else {
			s->stat[SODA_BLACKBOX_STAT_FOREIGN_STREAMS]++;
		}
		put_line(s, foreign ? SBB_LINE_FOREIGN : SBB_LINE_SERVER, h->stream);
		r = append_frame(s, frame, len, CLASS_LINE, error);
		if (r == -ENOSPC) {
			/* Not even the start fits: the stream stays unknown, and
			 * its frames will be rejected; count them as dropped. */
			s->stat[SODA_BLACKBOX_STAT_DROPPED_FRAMES]++;
			s->stat[SODA_BLACKBOX_STAT_DROPPED_BYTES] += len;
			run_add(&s->rejected, 0, len);
			return 0;
		}
		if (r < 0)
			return r;
		st = add_stream(s, h->stream);
		if (!st)
			return su_errorf(error, -ENOMEM, "out of memory");
		st->line = true;
		st->foreign = foreign;
		st->next_seq = 1;
		memcpy(st->start, frame, sizeof(st->start));
		return 0;
	}
	if (!st || !st->line || st->ended || h->seq < st->next_seq) {
		reject(s, len);
		return 0;
	}
	if (h->kind == SBX_K_EPOCH) {
		if (h->len != crypto_secretstream_xchacha20poly1305_HEADERBYTES ||
		    (st->have_epoch && h->epoch <= st->epoch)) {
			reject(s, len);
			return 0;
		}
	} else if (!st->have_epoch || h->epoch != st->epoch) {
		reject(s, len);
		return 0;
	}
	if (h->seq > st->next_seq) {
		/* Frames of this stream never arrived (garbled on the line):
		 * say so before the frame that follows the gap. */
		loss_run gap = { .active = true, .first_seq = st->next_seq, .last_seq = h->seq - 1,
				 .frames = h->seq - st->next_seq, .t0 = su_now_usec() };

		gap.t1 = gap.t0;
		if (put_loss(s, SBB_LOSS_LINE_GAP, st->id, &gap, CLASS_NOTICE) < 0) {
			/* No room for the notice: drop the frame as a quota loss
			 * whose declared range covers the gap too. */
			run_add(&st->quota, st->next_seq, 0);
			st->quota.frames += h->seq - st->next_seq - 1;
			drop_quota(s, st, h, len);
			st->next_seq = h->seq + 1;
			st->skipping = true;
			return 0;
		}
	}
	if (st->skipping && sbx_kind_is_sealed(h->kind) && h->kind != SBX_K_END) {
		/* After a quota loss the rest of the epoch cannot be decrypted:
		 * not worth the space. */
		drop_quota(s, st, h, len);
		st->next_seq = h->seq + 1;
		return 0;
	}
	r = append_frame(s, frame, len, CLASS_LINE, error);
	if (r == -ENOSPC) {
		drop_quota(s, st, h, len);
		st->skipping = true;
	} else if (r < 0) {
		return r;
	} else {
		st->skipping = false;
	}
	st->next_seq = h->seq + 1;
	if (h->kind == SBX_K_EPOCH) {
		st->epoch = h->epoch;
		st->epoch_seg = s->seg_no; /* (after append_frame's rotation) */
		st->have_epoch = true;
	}
	if (h->kind == SBX_K_END && r == 0)
		st->ended = true;
	return 0;
}

static void garbage(soda_blackbox_store *s, size_t n)
{
	if (!n)
		return;
	s->stat[SODA_BLACKBOX_STAT_GARBAGE_BYTES] += n;
	if (s->have_server) {
		run_add(&s->fgarbage, 0, n);
		s->fgarbage.frames = 0;
	} else {
		run_add(&s->garbage, 0, n);
		s->garbage.frames = 0;
	}
}

/* Is there a whole valid frame at p (with @avail bytes)? 1 yes, 0 no, -1
 * cannot tell yet. */
static int valid_frame_at(const uint8_t *p, size_t avail, sbx_header *h)
{
	if (avail < SBX_HEADER_BYTES)
		return -1;
	if (sbx_header_decode(h, p) < 0)
		return 0;
	if (avail < SBX_HEADER_BYTES + h->len)
		return -1;
	return sbx_frame_crc_ok(p, h) ? 1 : 0;
}

/* Takes the whole frames (and garbage) at the start of @buf; *ret_used: how
 * many bytes it took. What it leaves is less than one frame: a frame not
 * complete yet, or bytes that cannot be judged yet. */
static int parse_buf(soda_blackbox_store *s, const uint8_t *buf, size_t len, size_t *ret_used,
		     soda_error **error)
{
	size_t pos = 0;
	int r = 0;

	while (r == 0) {
		size_t m = sbx_find_magic(buf, len, pos);
		sbx_header h;
		int v;

		if (m > pos) {
			garbage(s, m - pos);
			s->la_rel = 0;
		}
		pos = m;
		v = valid_frame_at(buf + pos, len - pos, &h);
		if (v == 1) {
			r = ingest(s, buf + pos, &h, error);
			pos += SBX_HEADER_BYTES + h.len;
			s->la_rel = 0;
			continue;
		}
		if (v == 0) {
			garbage(s, 1);
			pos++;
			s->la_rel = 0;
			continue;
		}
		/* Incomplete. If a whole valid frame starts inside what we
		 * have, the pending one was torn or fake: skip to it. */
		{
			size_t q = pos + (s->la_rel ? s->la_rel : 1), first_unsure = 0;
			bool found = false;

			while ((q = sbx_find_magic(buf, len, q)) < len) {
				sbx_header h2;
				int v2 = valid_frame_at(buf + q, len - q, &h2);

				if (v2 == 1) {
					found = true;
					break;
				}
				if (v2 < 0 && !first_unsure)
					first_unsure = q;
				q++;
			}
			if (found) {
				garbage(s, q - pos);
				pos = q;
				s->la_rel = 0;
				continue;
			}
			if (first_unsure)
				s->la_rel = first_unsure - pos;
			else
				s->la_rel = len > pos + 4 ? len - 3 - pos : 1;
		}
		break;
	}
	*ret_used = pos;
	return r;
}

/* Parses what waits in pbuf. */
static int parse(soda_blackbox_store *s, soda_error **error)
{
	size_t used;
	int r = parse_buf(s, s->pbuf, s->plen, &used, error);

	if (used > 0) {
		memmove(s->pbuf, s->pbuf + used, s->plen - used);
		s->plen -= used;
	}
	return r;
}

static void put_eof(soda_blackbox_store *s)
{
	uint8_t p[8 + 64 * SBB_EOF_ENTRY_BYTES];
	uint32_t n = 0;

	/* The losses first: a verifier that meets the EOF must already know
	 * which of the frames the line delivered the store declared lost
	 * (else a quota flood's end reads as a cut). */
	put_pending_losses(s, CLASS_FINAL);

	for (size_t i = 0; i <= s->n_streams; i++) {
		st_stream *st = i < s->n_streams ? &s->streams[i] : NULL;

		if (st && st->line && !st->eofed) {
			uint8_t *e = p + 8 + n * SBB_EOF_ENTRY_BYTES;

			memset(e, 0, SBB_EOF_ENTRY_BYTES);
			memcpy(e, st->id, 16);
			sbx_put64(e + 16, st->next_seq - 1);
			sbx_put32(e + 24, st->ended ? SBB_EOF_F_ENDED : 0);
			st->eofed = true;
			n++;
		}
		if (n > 0 && (n == 64 || !st)) {
			sbx_put32(p, n);
			sbx_put32(p + 4, 0);
			put_notice(s, SBX_K_EOF, p, 8 + n * SBB_EOF_ENTRY_BYTES, CLASS_FINAL);
			n = 0;
		}
	}
}

SODA_EXPORT int soda_blackbox_store_feed(soda_blackbox_store *s, const void *data, size_t len,
					 unsigned int flags, soda_error **error)
{
	const uint8_t *p = data;
	int r = 0;

	if (!s || (len && !data))
		return su_errorf(error, -EINVAL, "no store or no data");
	if (flags & ~SODA_BLACKBOX_FEED_EOF)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	s->feed_usec = su_now_usec();
	s->line_bytes += len;
	while (len > 0 && r == 0) {
		size_t n = PBUF_CAP - s->plen;

		if (s->plen == 0) {
			/* Nothing pending: the frames are taken where they are,
			 * and only the rest (less than a frame) waits in pbuf. */
			size_t used;

			r = parse_buf(s, p, len, &used, error);
			p += used;
			len -= used;
			n = len < PBUF_CAP ? len : PBUF_CAP;
			memcpy(s->pbuf, p, n);
			s->plen = n;
			break;
		}
		if (n > len)
			n = len;
		memcpy(s->pbuf + s->plen, p, n);
		s->plen += n;
		p += n;
		len -= n;
		r = parse(s, error);
	}
	if (r == 0 && (flags & SODA_BLACKBOX_FEED_EOF)) {
		garbage(s, s->plen);
		s->plen = 0;
		s->la_rel = 0;
		put_eof(s);
		r = commit(s, false, 0, error);
	}
	return r;
}

/* ---- host events ---- */

static int host_out(const void *frame, size_t len, void *userdata)
{
	soda_blackbox_store *s = userdata;
	const uint8_t *f = frame;
	sbx_header h;
	st_stream *st;
	int r;

	if (len < SBX_HEADER_BYTES || sbx_header_decode(&h, f) < 0)
		return -EINVAL;
	r = append_frame(s, f, len, s->closing ? CLASS_FINAL : CLASS_NOTICE, NULL);
	if (r < 0) {
		s->host_err = r;
		if (r == -ENOSPC) {
			s->stat[SODA_BLACKBOX_STAT_DROPPED_FRAMES]++;
			s->stat[SODA_BLACKBOX_STAT_DROPPED_BYTES] += len;
		}
		return r;
	}
	st = find_stream(s, h.stream);
	if (!st && h.kind == SBX_K_START) {
		st = add_stream(s, h.stream);
		if (st)
			memcpy(st->start, f, sizeof(st->start));
	}
	if (st) {
		st->next_seq = h.seq + 1;
		if (h.kind == SBX_K_END)
			st->ended = true;
	}
	return 0;
}

static int host_writer(soda_blackbox_store *s, soda_error **error)
{
	sbw_options wo = { 0 };
	int r;

	if (s->host)
		return 0;
	if (!s->have_pk)
		return su_errorf(error, -ENOKEY, "the store %s was opened without the tenant's public key",
				 s->dir);
	wo.origin = SBX_ORIGIN_HOST;
	wo.heartbeat_ms = SBW_DISABLED;
	wo.label = s->label;
	r = sbw_new(&s->host, s->pk, &wo, host_out, s);
	if (r < 0)
		return su_errorf(error, r, "cannot start the host stream: %s", strerror(-r));
	return 0;
}

SODA_EXPORT int soda_blackbox_store_host_event(soda_blackbox_store *s, uint32_t type, uint32_t aux,
					       const void *data, size_t len, unsigned int flags,
					       soda_error **error)
{
	int r;

	if (!s || (len && !data))
		return su_errorf(error, -EINVAL, "no store or no data");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (type == 0 || type > SODA_BLACKBOX_TYPE_MAX || type == SODA_BLACKBOX_HEARTBEAT ||
	    type == SODA_BLACKBOX_END || type == SODA_BLACKBOX_LOSS)
		return su_errorf(error, -EINVAL, "record type %u cannot be appended", type);
	r = host_writer(s, error);
	if (r < 0)
		return r;
	s->host_err = 0;
	r = sbw_append(s->host, type, aux, data, len);
	if (r < 0)
		return su_errorf(error, r, "cannot store the host event: %s",
				 r == -ENOSPC ? "the store is full" : strerror(-r));
	return s->host_err < 0 ? su_errorf(error, s->host_err, "cannot store the host event") : 0;
}

/* ---- the event loop's side ---- */

SODA_EXPORT int soda_blackbox_store_get_deadline(const soda_blackbox_store *s, uint64_t *ret_usec)
{
	uint64_t d = UINT64_MAX;

	if (!s || !ret_usec)
		return -EINVAL;
	if (s->group_since)
		d = s->group_since + (uint64_t)s->o.group_ms * 1000u;
	if (s->frames_since_ckpt) {
		uint64_t c = s->last_ckpt + (uint64_t)s->o.checkpoint_ms * 1000u;

		if (c < d)
			d = c;
	}
	if (s->garbage.active || s->rejected.active || s->write_err.active || s->fgarbage.active ||
	    s->frejected.active || s->quota_pending) {
		uint64_t l = s->last_loss_notice + (uint64_t)s->o.checkpoint_ms * 1000u;

		if (l < d)
			d = l;
	}
	if ((s->o.retention_seconds || s->o.retention_bytes) && s->next_retention < d)
		d = s->next_retention;
	*ret_usec = d;
	return 0;
}

SODA_EXPORT int soda_blackbox_store_process(soda_blackbox_store *s, unsigned int flags,
					    soda_error **error)
{
	uint64_t now = su_mono_usec(), d;

	if (!s)
		return su_errorf(error, -EINVAL, "no store");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if ((s->o.retention_seconds || s->o.retention_bytes) && now >= s->next_retention)
		apply_retention(s, NULL);
	soda_blackbox_store_get_deadline(s, &d);
	if (now >= d)
		return commit(s, false, 0, error);
	return 0;
}

SODA_EXPORT int soda_blackbox_store_flush(soda_blackbox_store *s, unsigned int flags,
					  soda_error **error)
{
	int r;

	if (!s)
		return su_errorf(error, -EINVAL, "no store");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	r = commit(s, false, 0, error);
	if (r == 0 && s->o.durability == SODA_BLACKBOX_DURABILITY_WRITE && fdatasync(s->segfd) < 0)
		r = su_errorf(error, su_neg_errno(), "cannot sync %s: %m", s->dir);
	return r;
}

SODA_EXPORT int soda_blackbox_store_close(soda_blackbox_store *s, unsigned int flags,
					  soda_error **error)
{
	int r;

	if (!s)
		return 0;
	if (flags) {
		r = su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
		store_free(s);
		return r;
	}
	s->closing = true;
	/* A partial frame left on the line is garbage now. */
	garbage(s, s->plen);
	s->plen = 0;
	put_eof(s);
	if (s->host)
		sbw_end(s->host, 0);
	put_pending_losses(s, CLASS_FINAL);
	r = commit(s, true, SBB_CHECKPOINT_F_FINAL, error);
	if (r == 0 && fsync(s->segfd) < 0)
		r = su_errorf(error, su_neg_errno(), "cannot sync %s: %m", s->dir);
	store_free(s);
	return r;
}

SODA_EXPORT int soda_blackbox_store_get_counter(const soda_blackbox_store *s, uint32_t counter,
						uint64_t *ret)
{
	if (!s || !ret || counter == 0 || counter > SODA_BLACKBOX_STAT_QUOTA_BYTES)
		return -EINVAL;
	if (counter == SODA_BLACKBOX_STAT_QUOTA_BYTES)
		*ret = s->o.quota_bytes;
	else
		*ret = counter == SODA_BLACKBOX_STAT_STORE_BYTES ? total_bytes(s) : s->stat[counter];
	return 0;
}

SODA_EXPORT int soda_blackbox_store_get_anchor(const soda_blackbox_store *s, char **ret,
					       soda_error **error)
{
	char hex[65];
	char *a;

	if (!s || !ret)
		return su_errorf(error, -EINVAL, "no store");
	sbb_hex(hex, s->head_digest, 32);
	a = su_strdup_printf("%" PRIu64 ":%" PRIu64 ":%s", s->seg_no, s->head_offset, hex);
	if (!a)
		return su_errorf(error, -ENOMEM, "out of memory");
	*ret = a;
	return 0;
}
