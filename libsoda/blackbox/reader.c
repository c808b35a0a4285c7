/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tenant's reader: the scanner's frames, decrypted with the tenant's
 * secret key. Besides the keyless checks it proves, with the key, what the
 * host cannot forge: each frame is authentic at its place in its stream
 * (secretstream, with the frame header as additional data, so sequence
 * numbers, epochs, times and stream ids are authenticated too), and a
 * finished stream ends with secretstream's final tag, which libsodium does
 * not enforce by itself.
 *
 * A frame that fails to decrypt waits in a small window: if a later frame
 * of the same epoch decrypts and the waiting one then does, it was stored
 * out of order (reported, and read in its right place).
 *
 * With SODA_BLACKBOX_READ_PARALLEL a helper thread decrypts too. A run of
 * frames of one stream and epoch is gathered; secretstream's state before
 * each message follows from the state before the previous one and that
 * message's MAC (the nonce's last 8 bytes are XORed with the MAC, its
 * counter goes up; a rekey only at a REKEY tag or when the counter wraps),
 * so every state of the run is known before anything is decrypted, and the
 * two threads decrypt halves of the run at once. The results are taken in
 * order while each is an authentic message; from the first that is not
 * (a failure, another tag), the rest goes the serial way from that very
 * state, so records and report are those of the serial reader. The state
 * rule is checked against libsodium when the reader opens; if it does not
 * hold, the reader decrypts on one thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "internal.h"

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define WINDOW_FRAMES 8
#define WINDOW_BYTES (1u << 20)
#define MAX_RSTREAMS 4096
#define MAX_RATCHET_STEPS (1u << 20)
#define FAILS_REPORTED_PER_EPOCH 4
#define BATCH_FRAMES 1024
#define BATCH_BYTES (1u << 20)   /* frames gathered, at most (one frame may pass it) */
#define BATCH_MIN_SPLIT 8         /* shorter runs are decrypted on one thread */

#define CRYPTO SODA_BLACKBOX_BASIS_CRYPTO

typedef struct pending {
	uint8_t *frame;
	size_t len;
	sbx_header h;
	sbb_pos pos;
	uint64_t rx;
	bool after_gap;
} pending;

typedef struct rstream {
	uint8_t id[16];
	bool usable, skip, foreign;
	sbx_start_params prm;
	uint8_t base[32]; /* R of epoch base_epoch, confirmed */
	uint32_t base_epoch;
	uint8_t cand[32]; /* R of the epoch being read, confirmed at its first message */
	uint32_t cand_epoch;
	bool have_cand, have_ss;
	crypto_secretstream_xchacha20poly1305_state ss;
	bool final_seen, have_auth;
	uint64_t last_auth_seq, last_auth_time;
	sbb_pos end_pos;
	pending win[WINDOW_FRAMES];
	size_t n_win, win_bytes;
	uint64_t fails_in_epoch;
	bool declared_loss; /* the store said frames of this stream are gone */
	bool line_foreign;  /* came on the line after the server's stream (scanner) */
	bool far_reported, back_reported;
} rstream;

struct soda_blackbox_record {
	uint8_t type, flags;
	uint32_t xflags; /* SODA_BLACKBOX_RECORD_F_FOREIGN, _TIME_* */
	uint64_t received;
	uint32_t aux;
	uint64_t realtime, mono;
	uint8_t *data;
	size_t len, cap;
	char stream[33];
	uint64_t seq;
	const char *origin;
	char label[SBX_LABEL_BYTES + 1];
	uint64_t segment, offset;
};

typedef crypto_secretstream_xchacha20poly1305_state ss_state;

/* A frame of the run being gathered, and its decryption. */
typedef struct bframe {
	sbb_item it; /* it.frame points into the batch's frame buffer */
	size_t poff;  /* its plaintext in the batch's plaintext buffer */
	unsigned long long plen;
	unsigned char tag;
	bool ok;
} bframe;

/* In locked memory (sodium_malloc): states and plaintexts are secret. */
typedef struct batch {
	struct rstream *rs;
	bframe f[BATCH_FRAMES];
	ss_state st[BATCH_FRAMES + 1]; /* st[i]: the state before frame i */
	size_t n, fbytes, pbytes;
	uint64_t taken; /* frames whose decryption was taken from runs */
	uint8_t *fbuf; /* copies of the frames */
	uint8_t *pbuf; /* their plaintexts (locked) */
	/* the helper thread: decrypts frames [from, to) when asked */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t from, to;
	bool job, stop; /* written under mu, atomically: read without it while spinning */
	bool idle;      /* the helper waits for work: it spins while this holds (same) */
} batch;

struct soda_blackbox_reader {
	sbb_scan *scan;
	batch *batch; /* SODA_BLACKBOX_READ_PARALLEL, NULL otherwise */
	soda_blackbox_report *rep;
	unsigned flags;
	uint8_t sk[32];
	uint8_t pk[32];
	uint8_t key_id[SBX_KEY_ID_BYTES];
	uint64_t types, since, until;
	bool have_stream_filter;
	uint8_t stream_filter[16];
	rstream **rs;
	size_t n_rs;
	rstream *last_rs;
	char store_label[SBX_LABEL_BYTES + 1];
	bool have_label;
	uint8_t *plain;
	/* records ready to hand out */
	soda_blackbox_record *q;
	size_t q_head, q_len, q_cap;
	soda_blackbox_record cur; /* the one handed out last */
	/* Bodies' buffers are used again (wiped), not freed: a record is
	 * about a kilobyte and a malloc and free each cost as much as a
	 * tenth of its decryption. */
	uint8_t *spare[8];
	size_t spare_cap[8], n_spare;
	size_t errors_seen;
	bool retention_seen; /* the store deleted segments by its policy */
	bool done;
};

SODA_EXPORT int soda_blackbox_reader_options_init(soda_blackbox_reader_options *opts,
						  uint32_t version)
{
	if (!opts || version != SODA_BLACKBOX_READER_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

/* ---- record queue ---- */

static uint8_t *buf_get(soda_blackbox_reader *rd, size_t len, size_t *ret_cap)
{
	for (size_t i = rd->n_spare; i-- > 0;)
		if (rd->spare_cap[i] >= len) {
			uint8_t *b = rd->spare[i];

			*ret_cap = rd->spare_cap[i];
			rd->spare[i] = rd->spare[rd->n_spare - 1];
			rd->spare_cap[i] = rd->spare_cap[rd->n_spare - 1];
			rd->n_spare--;
			return b;
		}
	*ret_cap = len < 2048 ? 2048 : len;
	return malloc(*ret_cap);
}

/* Wipes the body and keeps (or frees) its buffer. */
static void buf_put(soda_blackbox_reader *rd, uint8_t *b, size_t len, size_t cap)
{
	if (!b)
		return;
	sodium_memzero(b, len);
	if (rd->n_spare < SU_ARRAY_SIZE(rd->spare)) {
		rd->spare[rd->n_spare] = b;
		rd->spare_cap[rd->n_spare++] = cap;
	} else {
		free(b);
	}
}

static soda_blackbox_record *q_push(soda_blackbox_reader *rd)
{
	soda_blackbox_record *r;

	if (rd->q_head + rd->q_len == rd->q_cap) {
		if (rd->q_head > 0) {
			memmove(rd->q, rd->q + rd->q_head, rd->q_len * sizeof(*rd->q));
			rd->q_head = 0;
		} else {
			size_t cap = rd->q_cap ? rd->q_cap * 2 : 16;
			soda_blackbox_record *v = realloc(rd->q, cap * sizeof(*v));

			if (!v)
				return NULL;
			rd->q = v;
			rd->q_cap = cap;
		}
	}
	r = &rd->q[rd->q_head + rd->q_len++];
	memset(r, 0, sizeof(*r));
	return r;
}

static bool wanted(const soda_blackbox_reader *rd, uint32_t type, uint64_t time,
		   const uint8_t stream[16])
{
	if (rd->types && !(rd->types & (1ull << type)))
		return false;
	if (rd->since && time < rd->since)
		return false;
	if (rd->until && time >= rd->until)
		return false;
	if (rd->have_stream_filter && memcmp(stream, rd->stream_filter, 16) != 0)
		return false;
	return true;
}

static void queue_record(soda_blackbox_reader *rd, const rstream *rs, const sbx_header *h,
			 const sbb_pos *pos, const sbx_record_header *rh, const uint8_t *body,
			 size_t len, const char *origin, uint64_t rx, uint32_t xflags)
{
	soda_blackbox_record *r;

	rd->rep->counters[SODA_BLACKBOX_REPORT_RECORDS]++;
	if (!wanted(rd, rh->type, h->time_usec, h->stream))
		return;
	r = q_push(rd);
	if (!r)
		return;
	r->data = buf_get(rd, len ? len : 1, &r->cap);
	if (!r->data) {
		rd->q_len--;
		return;
	}
	if (len)
		memcpy(r->data, body, len);
	r->len = len;
	r->type = rh->type;
	r->flags = rh->flags;
	r->aux = rh->aux;
	r->mono = rh->mono_usec;
	r->realtime = h->time_usec;
	sbb_hex(r->stream, h->stream, 16);
	r->seq = h->seq;
	r->origin = origin;
	r->received = rx;
	r->xflags = xflags;
	if (rs)
		memcpy(r->label, rs->prm.label, sizeof(r->label));
	r->segment = pos->segment;
	r->offset = pos->offset;
}

/* A record of lines (SBX_RECORD_F_LINES; @body ends with '\n'): one
 * record per line, without its newline, with the frame's times and place. */
static void queue_lines(soda_blackbox_reader *rd, const rstream *rs, const sbx_header *h,
			const sbb_pos *pos, const sbx_record_header *rh, const uint8_t *body,
			size_t len, const char *origin, uint64_t rx, uint32_t xflags)
{
	sbx_record_header line = *rh;
	const uint8_t *end = body + len;

	line.flags = 0;
	for (const uint8_t *p = body; p < end;) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

		queue_record(rd, rs, h, pos, &line, p, (size_t)(nl - p), origin, rx, xflags);
		p = nl + 1;
	}
}

/* ---- streams ---- */

static rstream *rs_find(soda_blackbox_reader *rd, const uint8_t id[16])
{
	if (rd->last_rs && memcmp(rd->last_rs->id, id, 16) == 0)
		return rd->last_rs;
	for (size_t i = 0; i < rd->n_rs; i++)
		if (memcmp(rd->rs[i]->id, id, 16) == 0)
			return rd->last_rs = rd->rs[i];
	return NULL;
}

static rstream *rs_add(soda_blackbox_reader *rd, const uint8_t id[16])
{
	rstream **v, *rs;

	if (rd->n_rs >= MAX_RSTREAMS)
		return NULL;
	v = realloc(rd->rs, (rd->n_rs + 1) * sizeof(*v));
	if (!v)
		return NULL;
	rd->rs = v;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	memcpy(rs->id, id, 16);
	rd->rs[rd->n_rs++] = rs;
	return rd->last_rs = rs;
}

static void win_drop(rstream *rs, size_t i)
{
	rs->win_bytes -= rs->win[i].len;
	free(rs->win[i].frame);
	memmove(rs->win + i, rs->win + i + 1, (rs->n_win - i - 1) * sizeof(rs->win[0]));
	rs->n_win--;
}

static void fail_finding(soda_blackbox_reader *rd, rstream *rs, const pending *p)
{
	rs->fails_in_epoch++;
	if (rs->fails_in_epoch > FAILS_REPORTED_PER_EPOCH)
		return;
	if (p->after_gap)
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_UNREADABLE, SODA_BLACKBOX_SEVERITY_WARNING, CRYPTO,
			       &p->pos, p->h.stream, p->h.seq,
			       "cannot be decrypted: frames before it in epoch %u are missing", p->h.epoch);
	else
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_DECRYPT_FAILED, SODA_BLACKBOX_SEVERITY_ERROR, CRYPTO,
			       &p->pos, p->h.stream, p->h.seq,
			       "the frame is not authentic at this place in its stream (changed, "
			       "duplicated, moved, or a frame before it was removed)");
	if (rs->fails_in_epoch == FAILS_REPORTED_PER_EPOCH)
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_UNREADABLE, SODA_BLACKBOX_SEVERITY_WARNING, CRYPTO,
			       &p->pos, p->h.stream, p->h.seq,
			       "further frames of epoch %u that cannot be decrypted are not listed",
			       p->h.epoch);
}

static void win_flush(soda_blackbox_reader *rd, rstream *rs)
{
	while (rs->n_win > 0) {
		fail_finding(rd, rs, &rs->win[0]);
		win_drop(rs, 0);
	}
}

static void win_add(soda_blackbox_reader *rd, rstream *rs, const sbb_item *it)
{
	pending *p;

	if (rs->n_win == WINDOW_FRAMES || rs->win_bytes + it->frame_len > WINDOW_BYTES) {
		while (rs->n_win > 0 &&
		       (rs->n_win == WINDOW_FRAMES || rs->win_bytes + it->frame_len > WINDOW_BYTES)) {
			fail_finding(rd, rs, &rs->win[0]);
			win_drop(rs, 0);
		}
	}
	p = &rs->win[rs->n_win];
	p->frame = malloc(it->frame_len);
	p->h = it->h;
	p->pos = it->pos;
	p->rx = it->received_usec;
	p->after_gap = it->after_gap;
	if (!p->frame) {
		fail_finding(rd, rs, p);
		return;
	}
	memcpy(p->frame, it->frame, it->frame_len);
	p->len = it->frame_len;
	rs->win_bytes += p->len;
	rs->n_win++;
}

static void check_label(soda_blackbox_reader *rd, rstream *rs, const sbb_pos *pos)
{
	if (!rs->prm.label[0])
		return;
	if (!rd->have_label) {
		memcpy(rd->store_label, rs->prm.label, sizeof(rd->store_label));
		rd->have_label = true;
		return;
	}
	if (strcmp(rd->store_label, rs->prm.label) != 0) {
		rs->foreign = true;
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_FOREIGN_STREAM, SODA_BLACKBOX_SEVERITY_ERROR, CRYPTO,
			       pos, rs->id, 0,
			       "an authentic stream of '%s' in the store of '%s' (spliced in from another server)",
			       rs->prm.label, rd->store_label);
	}
}

static void on_start(soda_blackbox_reader *rd, const uint8_t *frame, const sbx_header *h,
		     const sbb_pos *pos)
{
	uint8_t plain[SBX_SEALED_PLAIN_BYTES];
	const uint8_t *payload = frame + SBX_HEADER_BYTES;
	sbx_start_params prm;
	rstream *rs = rs_find(rd, h->stream);
	char kid[17], mine[17];

	if (rs)
		return; /* a copy of a START we know, or a duplicate: the scanner judges */
	rs = rs_add(rd, h->stream);
	if (!rs)
		return;
	if (h->len != SBX_START_PAYLOAD_BYTES || sbx_start_params_decode(&prm, payload) < 0) {
		rs->skip = true;
		return;
	}
	rs->prm = prm;
	if (memcmp(prm.key_id, rd->key_id, SBX_KEY_ID_BYTES) != 0) {
		sbb_hex(kid, prm.key_id, SBX_KEY_ID_BYTES);
		sbb_hex(mine, rd->key_id, SBX_KEY_ID_BYTES);
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_WRONG_KEY, SODA_BLACKBOX_SEVERITY_WARNING, CRYPTO, pos,
			       h->stream, 0, "the stream is sealed to key %s, not to this key (%s)", kid, mine);
		rs->skip = true;
		return;
	}
	if (crypto_box_seal_open(plain, payload + SBX_START_PARAMS_BYTES, SBX_SEALED_BYTES, rd->pk,
				 rd->sk) != 0) {
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_DECRYPT_FAILED, SODA_BLACKBOX_SEVERITY_ERROR, CRYPTO,
			       pos, h->stream, 0, "the stream's sealed key does not open with this key");
		rs->skip = true;
		return;
	}
	if (sodium_memcmp(plain + 32, payload, SBX_START_PARAMS_BYTES) != 0) {
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_BAD_RECORD, SODA_BLACKBOX_SEVERITY_ERROR, CRYPTO, pos,
			       h->stream, 0, "the stream's parameters were changed after it was sealed");
		sodium_memzero(plain, sizeof(plain));
		rs->skip = true;
		return;
	}
	sbx_ratchet_first(rs->base, plain, h->stream);
	sodium_memzero(plain, sizeof(plain));
	rs->base_epoch = 0;
	rs->usable = true;
	rs->end_pos = *pos;
	check_label(rd, rs, pos);
}

static void on_epoch(soda_blackbox_reader *rd, rstream *rs, const sbb_item *it)
{
	uint8_t key[32];
	uint32_t e = it->h.epoch;

	win_flush(rd, rs);
	rs->fails_in_epoch = 0;
	rs->have_ss = false;
	if (e < rs->base_epoch || e - rs->base_epoch > MAX_RATCHET_STEPS ||
	    it->h.len != crypto_secretstream_xchacha20poly1305_HEADERBYTES)
		return; /* the scanner reports the epoch's order; its frames will fail */
	memcpy(rs->cand, rs->base, 32);
	for (uint32_t i = rs->base_epoch; i < e; i++)
		sbx_ratchet_next(rs->cand);
	rs->cand_epoch = e;
	rs->have_cand = true;
	sbx_epoch_key(key, rs->cand, rs->id, e);
	if (crypto_secretstream_xchacha20poly1305_init_pull(&rs->ss, it->frame + SBX_HEADER_BYTES, key) == 0)
		rs->have_ss = true;
	sodium_memzero(key, sizeof(key));
}

static const char *origin_name(const rstream *rs)
{
	if (rs->line_foreign)
		return "foreign"; /* never the server's */
	return rs->prm.origin == SBX_ORIGIN_HOST ? "host" : "guest";
}

/* The claimed (authenticated) time against the host's receipt and the
 * stream's previous record: a guest whose clock was set back or forth. */
static uint32_t clock_flags(soda_blackbox_reader *rd, rstream *rs, const sbx_header *h,
			    const sbb_pos *pos, uint64_t rx)
{
	uint32_t f = 0;

	if (rx && (h->time_usec + SODA_BLACKBOX_CLOCK_BEHIND_USEC < rx ||
		   h->time_usec > rx + SODA_BLACKBOX_CLOCK_AHEAD_USEC)) {
		f |= SODA_BLACKBOX_RECORD_F_TIME_FAR;
		if (!rs->far_reported) {
			int64_t d = (int64_t)(h->time_usec - rx);

			rs->far_reported = true;
			sbb_report_add(rd->rep, SODA_BLACKBOX_F_CLOCK, SODA_BLACKBOX_SEVERITY_INFO, CRYPTO,
				       pos, h->stream, h->seq,
				       "the record claims a time %.3f s %s the host received it (the guest's "
				       "clock was set?); later such records of the stream are flagged, not listed",
				       (double)(d < 0 ? -d : d) / 1e6, d < 0 ? "before" : "after");
		}
	}
	if (rs->have_auth && h->time_usec + SODA_BLACKBOX_CLOCK_BACK_USEC < rs->last_auth_time) {
		f |= SODA_BLACKBOX_RECORD_F_TIME_BACK;
		if (!rs->back_reported) {
			rs->back_reported = true;
			sbb_report_add(rd->rep, SODA_BLACKBOX_F_CLOCK, SODA_BLACKBOX_SEVERITY_INFO, CRYPTO,
				       pos, h->stream, h->seq,
				       "the record's time goes %.3f s back from the stream's previous one; "
				       "later such records of the stream are flagged, not listed",
				       (double)(rs->last_auth_time - h->time_usec) / 1e6);
		}
	}
	if (rs->line_foreign)
		f |= SODA_BLACKBOX_RECORD_F_FOREIGN;
	return f;
}

/* Can the frame be tried with the stream's state at all? */
static bool decryptable(const rstream *rs, const sbx_header *h)
{
	return rs->have_ss && h->epoch == rs->cand_epoch &&
	       h->len >= SS_ABYTES + SBX_RECORD_HEADER_BYTES &&
	       h->len - SS_ABYTES <= SBX_RECORD_HEADER_BYTES + SBX_RECORD_MAX_BODY;
}

static void authentic(soda_blackbox_reader *rd, rstream *rs, const sbx_header *h,
		      const sbb_pos *pos, uint64_t rx, uint8_t *plain, unsigned long long plen,
		      unsigned char tag);

/* Decrypts one sealed frame; true if it was authentic here. */
static bool try_frame(soda_blackbox_reader *rd, rstream *rs, const uint8_t *frame,
		      const sbx_header *h, const sbb_pos *pos, uint64_t rx)
{
	unsigned long long plen = 0;
	unsigned char tag = 0;

	if (!decryptable(rs, h))
		return false;
	if (sbx_ss_pull(&rs->ss, rd->plain, &plen, &tag, frame + SBX_HEADER_BYTES, h->len, frame,
			SBX_AD_BYTES) != 0)
		return false;
	authentic(rd, rs, h, pos, rx, rd->plain, plen, tag);
	return true;
}

/* What follows an authentic message (@plain, wiped here): the checks of its
 * record, the record queued, the stream's progress. */
static void authentic(soda_blackbox_reader *rd, rstream *rs, const sbx_header *h,
		      const sbb_pos *pos, uint64_t rx, uint8_t *plain, unsigned long long plen,
		      unsigned char tag)
{
	sbx_record_header rh;
	const char *bad = NULL;
	uint32_t xf = 0;

	/* Authentic: the epoch's key is confirmed; forget the older ones. */
	if (rs->have_cand && rs->cand_epoch != rs->base_epoch) {
		memcpy(rs->base, rs->cand, 32);
		rs->base_epoch = rs->cand_epoch;
	}
	if (rs->have_auth && h->seq <= rs->last_auth_seq)
		bad = "an authentic frame with an old sequence number";
	else if (h->kind == SBX_K_END && tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		bad = "the end frame lacks the final tag";
	else if (h->kind != SBX_K_END && tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		bad = "an unexpected secretstream tag";
	else if (sbx_record_header_decode(&rh, plain, (size_t)plen) < 0)
		bad = "a malformed record";
	else if ((h->kind == SBX_K_HEARTBEAT) != (rh.type == SBX_R_HEARTBEAT) ||
		 (h->kind == SBX_K_END) != (rh.type == SBX_R_END))
		bad = "the record's type does not match its frame";
	else if (rh.flags & SBX_RECORD_F_LINES &&
		 (plen == SBX_RECORD_HEADER_BYTES || plain[plen - 1] != '\n'))
		bad = "a record of lines that does not end with a newline";
	if (!bad)
		xf = clock_flags(rd, rs, h, pos, rx);
	if (bad) {
		sbb_report_add(rd->rep, SODA_BLACKBOX_F_BAD_RECORD, SODA_BLACKBOX_SEVERITY_ERROR, CRYPTO, pos,
			       h->stream, h->seq, "%s", bad);
	} else if (!rs->foreign && rh.flags & SBX_RECORD_F_LINES) {
		queue_lines(rd, rs, h, pos, &rh, plain + SBX_RECORD_HEADER_BYTES,
			    (size_t)plen - SBX_RECORD_HEADER_BYTES, origin_name(rs), rx, xf);
	} else if (!rs->foreign) {
		queue_record(rd, rs, h, pos, &rh, plain + SBX_RECORD_HEADER_BYTES,
			     (size_t)plen - SBX_RECORD_HEADER_BYTES, origin_name(rs), rx, xf);
	}
	sodium_memzero(plain, (size_t)plen);
	rs->have_auth = true;
	rs->last_auth_seq = h->seq;
	rs->last_auth_time = h->time_usec;
	rs->end_pos = *pos;
	rs->end_pos.offset += SBX_HEADER_BYTES + h->len;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		rs->final_seen = true;
		rs->have_ss = false;
		sodium_memzero(&rs->ss, sizeof(rs->ss));
		sodium_memzero(rs->base, sizeof(rs->base));
		sodium_memzero(rs->cand, sizeof(rs->cand));
	}
}

static void on_sealed(soda_blackbox_reader *rd, rstream *rs, const sbb_item *it)
{
	bool progress;

	if (rs->final_seen)
		return; /* the scanner reports frames after the end */
	if (!try_frame(rd, rs, it->frame, &it->h, &it->pos, it->received_usec)) {
		win_add(rd, rs, it);
		return;
	}
	/* Frames waiting may fit now. */
	do {
		progress = false;
		for (size_t i = 0; i < rs->n_win && !rs->final_seen; i++) {
			pending *p = &rs->win[i];
			sbb_pos pos = p->pos;
			uint64_t seq = p->h.seq;

			if (try_frame(rd, rs, p->frame, &p->h, &p->pos, p->rx)) {
				sbb_report_add(rd->rep, SODA_BLACKBOX_F_SEQ_REORDER, SODA_BLACKBOX_SEVERITY_ERROR,
					       CRYPTO, &pos, rs->id, seq,
					       "the frame is authentic but was stored out of order");
				win_drop(rs, i);
				progress = true;
				break;
			}
		}
	} while (progress);
	if (rs->final_seen)
		win_flush(rd, rs);
}

static void on_notice(soda_blackbox_reader *rd, const sbb_item *it)
{
	sbb_loss l;
	char text[256], a[33];
	sbx_record_header rh = { .type = SBX_R_LOSS };
	int n;

	if (it->h.kind == SBX_K_RETENTION) {
		sbb_retention rt;

		rd->retention_seen = true;
		/* The deletion, where it happened, among the records. */
		if (sbb_retention_decode(&rt, it->frame + SBX_HEADER_BYTES, it->h.len) == 0) {
			n = snprintf(text, sizeof(text),
				     "retention: segments %" PRIu64 " to %" PRIu64 " (%" PRIu64
				     " bytes) deleted (%s)",
				     rt.first, rt.last, rt.bytes,
				     rt.reason == SBB_RETENTION_AGE     ? "age"
				     : rt.reason == SBB_RETENTION_QUOTA ? "drop-oldest at the quota"
									: "size");
			queue_record(rd, NULL, &it->h, &it->pos, &rh, (const uint8_t *)text,
				     n > 0 ? (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1 : 0,
				     "store", 0, 0);
		}
		return;
	}
	if (it->h.kind != SBX_K_LOSS || sbb_loss_decode(&l, it->frame + SBX_HEADER_BYTES, it->h.len) < 0)
		return;
	if (l.flags & SBB_LOSS_F_STREAM) {
		rstream *lost = rs_find(rd, l.stream);

		if (lost)
			lost->declared_loss = true;
		sbb_hex(a, l.stream, 16);
		n = snprintf(text, sizeof(text),
			     "%s: frames %" PRIu64 " to %" PRIu64 " of stream %s lost (%" PRIu64 " bytes)",
			     sbb_loss_reason_name(l.reason), l.first_seq, l.last_seq, a, l.bytes);
	} else {
		n = snprintf(text, sizeof(text), "%s: %" PRIu64 " frames, %" PRIu64 " bytes",
			     sbb_loss_reason_name(l.reason), l.frames, l.bytes);
	}
	queue_record(rd, NULL, &it->h, &it->pos, &rh, (const uint8_t *)text,
		     n > 0 ? (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1 : 0, "store", 0, 0);
}

static void on_item(soda_blackbox_reader *rd, const sbb_item *it)
{
	rstream *rs;

	if (sbx_kind_is_notice(it->h.kind)) {
		if (!it->crc_ok)
			return;
		if (it->h.kind == SBX_K_STARTCOPY && it->h.len == SBX_HEADER_BYTES + SBX_START_PAYLOAD_BYTES) {
			sbx_header h;
			const uint8_t *f = it->frame + SBX_HEADER_BYTES;

			if (sbx_header_decode(&h, f) == 0 && h.kind == SBX_K_START && sbx_frame_crc_ok(f, &h))
				on_start(rd, f, &h, &it->pos);
			return;
		}
		on_notice(rd, it);
		return;
	}
	if (it->h.kind == SBX_K_START) {
		on_start(rd, it->frame, &it->h, &it->pos);
		if (it->foreign && (rs = rs_find(rd, it->h.stream)))
			rs->line_foreign = true;
		return;
	}
	rs = rs_find(rd, it->h.stream);
	if (!rs || !rs->usable)
		return;
	if (it->foreign)
		rs->line_foreign = true;
	if (it->h.kind == SBX_K_EPOCH) {
		if (rs->final_seen)
			return;
		on_epoch(rd, rs, it);
		return;
	}
	on_sealed(rd, rs, it);
}

static void at_end(soda_blackbox_reader *rd)
{
	for (size_t i = 0; i < rd->n_rs; i++) {
		rstream *rs = rd->rs[i];
		int cls;

		if (!rs->usable)
			continue;
		win_flush(rd, rs);
		if (rs->final_seen)
			continue;
		cls = sbb_scan_stream_end(rd->scan, rs->id);
		switch (cls) {
		case SBB_END_OPEN:
			break;
		case SBB_END_EOF:
		case SBB_END_CRASH:
			sbb_report_add(rd->rep, SODA_BLACKBOX_F_NO_END, SODA_BLACKBOX_SEVERITY_WARNING, CRYPTO,
				       &rs->end_pos, rs->id, rs->have_auth ? rs->last_auth_seq : SBB_NO_SEQ,
				       "no final tag: the stream's authentic records stop here (%s)",
				       cls == SBB_END_EOF ? "its writer stopped abruptly"
							  : "the store's writer crashed");
			break;
		case SBB_END_STALE:
			sbb_report_add(rd->rep, SODA_BLACKBOX_F_STALE, SODA_BLACKBOX_SEVERITY_WARNING, CRYPTO,
				       &rs->end_pos, rs->id, rs->have_auth ? rs->last_auth_seq : SBB_NO_SEQ,
				       "no final tag and no authentic heartbeat lately: the stream's end may be cut off");
			break;
		default:
			/* The store said so: frames of the stream went over the quota,
			 * or segments went by the retention policy. A loss it owned
			 * up to, not a cut it hid. */
			if (rs->declared_loss || rd->retention_seen) {
				sbb_report_add(rd->rep, SODA_BLACKBOX_F_TRUNCATED,
					       SODA_BLACKBOX_SEVERITY_LOSS, CRYPTO, &rs->end_pos, rs->id,
					       rs->have_auth ? rs->last_auth_seq : SBB_NO_SEQ,
					       "no final tag: the stream's authentic records stop here, "
					       "and the store declared the rest lost (%s)",
					       rs->declared_loss ? "quota or rejected frames"
								 : "retention");
				break;
			}
			sbb_report_add(rd->rep, SODA_BLACKBOX_F_TRUNCATED, SODA_BLACKBOX_SEVERITY_ERROR, CRYPTO,
				       &rs->end_pos, rs->id, rs->have_auth ? rs->last_auth_seq : SBB_NO_SEQ,
				       "no final tag: the stream's authentic records stop here, the rest was cut off");
			break;
		}
	}
}

/* ---- runs of frames decrypted on two threads ---- */

/* secretstream's nonce: a 32-bit counter, then 64 bits XORed with MACs */
#define SS_COUNTER_BYTES 4
#define SS_INONCE_BYTES 8
#define SS_COUNTER(st) ((st)->nonce)
#define SS_INONCE(st) ((st)->nonce + SS_COUNTER_BYTES)

/* The state after a TAG_MESSAGE message with this MAC, from the state
 * before it; false where secretstream would rekey (the counter wrapped). */
static bool ss_advance(ss_state *st, const uint8_t *mac)
{
	for (size_t i = 0; i < SS_INONCE_BYTES; i++)
		SS_INONCE(st)[i] ^= mac[i];
	sodium_increment(SS_COUNTER(st), SS_COUNTER_BYTES);
	return !sodium_is_zero(SS_COUNTER(st), SS_COUNTER_BYTES);
}

/* Does ss_advance() predict what libsodium's pull does? Three messages
 * pushed and pulled, the prediction compared after each. */
static bool ss_rule_holds(void)
{
	static const char *const msg[] = { "a", "record two", "the third record, longer" };
	uint8_t key[32], hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	uint8_t c[64], m[64];
	ss_state push, pull, pred;
	unsigned long long clen, mlen;
	unsigned char tag;
	bool ok = true;

	crypto_secretstream_xchacha20poly1305_keygen(key);
	if (crypto_secretstream_xchacha20poly1305_init_push(&push, hdr, key) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&pull, hdr, key) != 0)
		return false;
	pred = pull;
	for (size_t i = 0; i < 3 && ok; i++) {
		size_t n = strlen(msg[i]);

		ok = crypto_secretstream_xchacha20poly1305_push(&push, c, &clen, (const uint8_t *)msg[i],
								n, NULL, 0,
								crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) == 0 &&
		     crypto_secretstream_xchacha20poly1305_pull(&pull, m, &mlen, &tag, c, clen, NULL, 0) == 0 &&
		     ss_advance(&pred, c + clen - crypto_aead_chacha20poly1305_ietf_ABYTES) &&
		     memcmp(pred.k, pull.k, sizeof(pred.k)) == 0 &&
		     memcmp(pred.nonce, pull.nonce, sizeof(pred.nonce)) == 0;
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&push, sizeof(push));
	sodium_memzero(&pull, sizeof(pull));
	sodium_memzero(&pred, sizeof(pred));
	return ok;
}

static void batch_decrypt(batch *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		bframe *f = &b->f[i];
		ss_state st = b->st[i];

		f->ok = sbx_ss_pull(&st, b->pbuf + f->poff, &f->plen, &f->tag,
				    f->it.frame + SBX_HEADER_BYTES, f->it.h.len, f->it.frame,
				    SBX_AD_BYTES) == 0;
		sodium_memzero(&st, sizeof(st));
	}
}

#define SS_TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE

/*
 * Both threads spin a while before they sleep: a sleeping thread woken by
 * the other tends to be woken on the other's CPU (and to wait for it), and
 * on a virtual machine a wakeup alone costs a few hundred microseconds,
 * against a run's millisecond or two of work.
 */
#define SPIN_USEC 2000

static bool spin_until_clear(bool *flag, const bool *stop)
{
	uint64_t t0 = 0;

	for (unsigned k = 1;; k++) {
		if (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) || (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE)))
			return true;
		if (k % 256 == 0) {
			uint64_t t = su_mono_usec();

			if (!t0)
				t0 = t;
			else if (t - t0 > SPIN_USEC)
				return false;
		}
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

/* Until the helper is done with its part (if it has one). */
static void batch_wait(batch *b, bool helper_has_part)
{
	if (!helper_has_part)
		return;
	if (spin_until_clear(&b->job, NULL))
		return;
	pthread_mutex_lock(&b->mu);
	while (b->job)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

static void *batch_main(void *arg)
{
	batch *b = arg;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		if (!b->job && !b->stop) {
			pthread_mutex_unlock(&b->mu);
			spin_until_clear(&b->idle, &b->stop);
			pthread_mutex_lock(&b->mu);
		}
		while (!b->job && !b->stop)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->stop)
			break;
		__atomic_store_n(&b->idle, false, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&b->mu);
		batch_decrypt(b, b->from, b->to);
		pthread_mutex_lock(&b->mu);
		__atomic_store_n(&b->idle, true, __ATOMIC_RELEASE);
		__atomic_store_n(&b->job, false, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static void batch_free(batch *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	__atomic_store_n(&b->stop, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->fbuf);
	if (b->pbuf)
		sodium_free(b->pbuf);
	sodium_free(b);
}

/* NULL if it cannot be had: then the reader decrypts on one thread. */
static batch *batch_new(void)
{
	batch *b;

	if (!ss_rule_holds())
		return NULL;
	b = sodium_malloc(sizeof(*b));
	if (!b)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->idle = true;
	b->fbuf = malloc(BATCH_BYTES + SBX_HEADER_BYTES + SBX_MAX_PAYLOAD);
	b->pbuf = sodium_malloc(BATCH_BYTES + SBX_HEADER_BYTES + SBX_MAX_PAYLOAD);
	if (!b->fbuf || !b->pbuf) {
		free(b->fbuf);
		if (b->pbuf)
			sodium_free(b->pbuf);
		sodium_free(b);
		return NULL;
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (sbx_thread_start(&b->thread, batch_main, b) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b->fbuf);
		sodium_free(b->pbuf);
		sodium_free(b);
		return NULL;
	}
	return b;
}

/* May the item join the run? Only a sealed frame the serial reader would
 * try at once with its stream's current state, nothing waiting. */
static bool batch_takes(soda_blackbox_reader *rd, const sbb_item *it, rstream **ret_rs)
{
	batch *b = rd->batch;
	rstream *rs;

	if (sbx_kind_is_notice(it->h.kind) || it->h.kind == SBX_K_START || it->h.kind == SBX_K_EPOCH ||
	    it->duplicate || it->after_gap)
		return false;
	if (b->n && (memcmp(it->h.stream, b->rs->id, 16) != 0 || it->h.epoch != b->f[0].it.h.epoch))
		return false;
	rs = b->n ? b->rs : rs_find(rd, it->h.stream);
	if (!rs || !rs->usable || rs->final_seen || rs->n_win || !decryptable(rs, &it->h))
		return false;
	*ret_rs = rs;
	return true;
}

static void batch_add(batch *b, rstream *rs, const sbb_item *it)
{
	bframe *f = &b->f[b->n++];

	if (it->foreign)
		rs->line_foreign = true;
	b->rs = rs;
	f->it = *it;
	memcpy(b->fbuf + b->fbytes, it->frame, it->frame_len);
	f->it.frame = b->fbuf + b->fbytes;
	b->fbytes += it->frame_len;
	f->poff = b->pbytes;
	b->pbytes += it->h.len - SS_ABYTES;
}

static bool batch_full(const batch *b)
{
	return b->n == BATCH_FRAMES || b->fbytes >= BATCH_BYTES;
}

static void on_item(soda_blackbox_reader *rd, const sbb_item *it);

/* Decrypts the run gathered and hands its frames on, in order. */
static void batch_run(soda_blackbox_reader *rd)
{
	batch *b = rd->batch;
	rstream *rs = b ? b->rs : NULL;
	size_t n_pred, i, split, n;

	if (!b || !b->n)
		return;
	/* Every state, from the stream's and the MACs. */
	b->st[0] = rs->ss;
	for (n_pred = 0; n_pred < b->n; n_pred++) {
		const bframe *f = &b->f[n_pred];

		b->st[n_pred + 1] = b->st[n_pred];
		if (!ss_advance(&b->st[n_pred + 1],
				f->it.frame + SBX_HEADER_BYTES + f->it.h.len -
					crypto_aead_chacha20poly1305_ietf_ABYTES))
			break; /* a rekey: this one and the rest go the serial way */
	}
	/* Half each (giving the helper more, as this thread also scans and
	 * queues, measured slower: it then waits for the helper longer). */
	split = n_pred >= BATCH_MIN_SPLIT ? n_pred / 2 : n_pred;
	if (split < n_pred) {
		pthread_mutex_lock(&b->mu);
		b->from = split;
		b->to = n_pred;
		__atomic_store_n(&b->job, true, __ATOMIC_RELEASE);
		__atomic_store_n(&b->idle, false, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
	}
	batch_decrypt(b, 0, split);
	/* The results in order, while each is an authentic message: this
	 * thread's half while the helper finishes the other. */
	for (i = 0; i < n_pred; i++) {
		bframe *f = &b->f[i];

		if (i == split || (i < split && !(f->ok && f->tag == SS_TAG_MESSAGE)))
			batch_wait(b, split < n_pred);
		if (!f->ok || f->tag != SS_TAG_MESSAGE)
			break;
		rs->ss = b->st[i + 1]; /* what the pull would have left */
		authentic(rd, rs, &f->it.h, &f->it.pos, f->it.received_usec, b->pbuf + f->poff, f->plen,
			  f->tag);
		b->taken++;
	}
	if (i == n_pred)
		batch_wait(b, split < n_pred);
	/* The rest as the serial reader takes it, from the state it would
	 * have: the one before frame i, which rs->ss holds now. The frames'
	 * copies stay where they are until the next run is gathered. */
	for (size_t j = i; j < n_pred; j++)
		if (b->f[j].ok)
			sodium_memzero(b->pbuf + b->f[j].poff, (size_t)b->f[j].plen);
	sodium_memzero(b->st, sizeof(b->st));
	n = b->n;
	b->n = 0;
	b->fbytes = b->pbytes = 0;
	b->rs = NULL;
	for (; i < n; i++)
		on_item(rd, &b->f[i].it);
}

/* ---- API ---- */

SODA_EXPORT int soda_blackbox_reader_open(soda_blackbox_reader **ret, const char *dir,
					  const soda_blackbox_key *key,
					  const soda_blackbox_reader_options *opts,
					  unsigned int flags, soda_error **error)
{
	soda_blackbox_reader *rd;
	const uint8_t *sk;
	int r;

	if (!ret || !dir)
		return su_errorf(error, -EINVAL, "no reader or no store directory");
	if (flags & ~(SODA_BLACKBOX_READ_FOLLOW | SODA_BLACKBOX_READ_STRICT | SODA_BLACKBOX_READ_PARALLEL))
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (opts && opts->version != SODA_BLACKBOX_READER_OPTIONS_VERSION)
		return su_errorf(error, -EINVAL, "unknown reader options version %u", opts->version);
	sk = sbb_key_box_secret(key);
	if (!sk)
		return su_errorf(error, -EINVAL, "reading needs the tenant's secret key");
	rd = sodium_malloc(sizeof(*rd)); /* holds the secret key: locked, guarded */
	if (!rd)
		return su_errorf(error, -ENOMEM, "out of memory");
	memset(rd, 0, sizeof(*rd));
	rd->flags = flags;
	memcpy(rd->sk, sk, 32);
	memcpy(rd->pk, sbb_key_box_public(key), 32);
	sbx_key_id(rd->key_id, rd->pk);
	if (opts) {
		rd->types = opts->types;
		rd->since = opts->since_usec;
		rd->until = opts->until_usec;
		if (opts->stream) {
			if (sbb_unhex(rd->stream_filter, 16, opts->stream, strlen(opts->stream)) < 0) {
				sodium_free(rd);
				return su_errorf(error, -EINVAL, "stream '%s' is not 32 hex digits", opts->stream);
			}
			rd->have_stream_filter = true;
		}
	}
	rd->rep = sbb_report_new();
	rd->plain = sodium_malloc(SBX_RECORD_HEADER_BYTES + SBX_RECORD_MAX_BODY);
	if (flags & SODA_BLACKBOX_READ_PARALLEL)
		rd->batch = batch_new(); /* NULL: decrypted on this thread alone */
	if (!rd->rep || !rd->plain) {
		soda_blackbox_reader_close(rd);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	r = sbb_scan_open(&rd->scan, dir,
			  ((flags & SODA_BLACKBOX_READ_FOLLOW) ? SBB_SCAN_FOLLOW : 0) |
				  /* one helper: it decrypts; the chain's
				   * hasher only if it cannot be had */
				  ((flags & SODA_BLACKBOX_READ_PARALLEL) && !rd->batch ? SBB_SCAN_THREAD : 0),
			  rd->rep,
			  error);
	if (r < 0) {
		soda_blackbox_reader_close(rd);
		return r;
	}
	*ret = rd;
	return 0;
}

static void clear_cur(soda_blackbox_reader *rd)
{
	buf_put(rd, rd->cur.data, rd->cur.len, rd->cur.cap);
	memset(&rd->cur, 0, sizeof(rd->cur));
}

static size_t count_errors(const soda_blackbox_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].severity == SODA_BLACKBOX_SEVERITY_ERROR)
			n++;
	return n;
}

SODA_EXPORT int soda_blackbox_reader_next(soda_blackbox_reader *rd, const soda_blackbox_record **ret,
					  unsigned int flags, soda_error **error)
{
	if (!rd || !ret)
		return su_errorf(error, -EINVAL, "no reader");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	clear_cur(rd);
	for (;;) {
		sbb_item it;
		int r;

		if ((rd->flags & SODA_BLACKBOX_READ_STRICT) && count_errors(rd->rep) > rd->errors_seen) {
			rd->errors_seen = count_errors(rd->rep);
			return sbb_report_error(rd->rep, SODA_BLACKBOX_SEVERITY_ERROR, error);
		}
		if (rd->q_len > 0) {
			rd->cur = rd->q[rd->q_head];
			rd->q_head++;
			rd->q_len--;
			*ret = &rd->cur;
			return 1;
		}
		if (rd->done) {
			*ret = NULL;
			return 0;
		}
		r = sbb_scan_next(rd->scan, &it, error);
		if (r == -EAGAIN && rd->batch && rd->batch->n) {
			batch_run(rd); /* what is there now, before the caller waits */
			continue;
		}
		if (r == -EAGAIN)
			return -EAGAIN;
		if (r < 0)
			return r;
		if (r == 0) {
			batch_run(rd);
			at_end(rd);
			sbb_report_sort(rd->rep);
			rd->done = true;
			continue;
		}
		if (rd->batch) {
			rstream *rs;

			if (batch_takes(rd, &it, &rs)) {
				batch_add(rd->batch, rs, &it);
				if (batch_full(rd->batch))
					batch_run(rd);
				continue;
			}
			batch_run(rd);
			/* The run's frames may have changed what this one meets. */
			if (batch_takes(rd, &it, &rs)) {
				batch_add(rd->batch, rs, &it);
				continue;
			}
		}
		on_item(rd, &it);
	}
}

soda_blackbox_report *sbb_reader_take_report(soda_blackbox_reader *rd)
{
	soda_blackbox_report *r = rd->rep;

	sbb_report_sort(r);
	rd->rep = NULL;
	return r;
}

uint64_t sbb_reader_batched(const soda_blackbox_reader *rd)
{
	return rd->batch ? rd->batch->taken : 0;
}

bool sbb_reader_follows(const soda_blackbox_reader *rd)
{
	return rd->flags & SODA_BLACKBOX_READ_FOLLOW;
}

SODA_EXPORT const soda_blackbox_report *soda_blackbox_reader_get_report(
	const soda_blackbox_reader *rd)
{
	return rd ? rd->rep : NULL;
}

SODA_EXPORT void soda_blackbox_reader_close(soda_blackbox_reader *rd)
{
	if (!rd)
		return;
	clear_cur(rd);
	for (size_t i = rd->q_head; i < rd->q_head + rd->q_len; i++) {
		sodium_memzero(rd->q[i].data, rd->q[i].len);
		free(rd->q[i].data);
	}
	free(rd->q);
	for (size_t i = 0; i < rd->n_spare; i++)
		free(rd->spare[i]); /* wiped when they were put back */
	for (size_t i = 0; i < rd->n_rs; i++) {
		while (rd->rs[i]->n_win)
			win_drop(rd->rs[i], 0);
		sodium_memzero(rd->rs[i], sizeof(*rd->rs[i]));
		free(rd->rs[i]);
	}
	free(rd->rs);
	batch_free(rd->batch);
	sbb_scan_free(rd->scan);
	soda_blackbox_report_free(rd->rep);
	if (rd->plain)
		sodium_free(rd->plain);
	sodium_free(rd); /* wipes the key */
}

/* ---- records ---- */

SODA_EXPORT uint32_t soda_blackbox_record_get_type(const soda_blackbox_record *r)
{
	return r ? r->type : 0;
}
SODA_EXPORT uint32_t soda_blackbox_record_get_aux(const soda_blackbox_record *r)
{
	return r ? r->aux : 0;
}
SODA_EXPORT uint32_t soda_blackbox_record_get_flags(const soda_blackbox_record *r)
{
	return r ? r->flags | r->xflags : 0;
}
SODA_EXPORT uint64_t soda_blackbox_record_get_received(const soda_blackbox_record *r)
{
	return r ? r->received : 0;
}
SODA_EXPORT uint64_t soda_blackbox_record_get_realtime(const soda_blackbox_record *r)
{
	return r ? r->realtime : 0;
}
SODA_EXPORT uint64_t soda_blackbox_record_get_monotonic(const soda_blackbox_record *r)
{
	return r ? r->mono : 0;
}
SODA_EXPORT const uint8_t *soda_blackbox_record_get_data(const soda_blackbox_record *r, size_t *ret_len)
{
	if (ret_len)
		*ret_len = r ? r->len : 0;
	return r ? r->data : NULL;
}
SODA_EXPORT const char *soda_blackbox_record_get_stream(const soda_blackbox_record *r)
{
	return r ? r->stream : NULL;
}
SODA_EXPORT const char *soda_blackbox_record_get_origin(const soda_blackbox_record *r)
{
	return r ? r->origin : NULL;
}
SODA_EXPORT const char *soda_blackbox_record_get_label(const soda_blackbox_record *r)
{
	return r ? r->label : NULL;
}
SODA_EXPORT uint64_t soda_blackbox_record_get_seq(const soda_blackbox_record *r)
{
	return r ? r->seq : 0;
}
SODA_EXPORT uint64_t soda_blackbox_record_get_segment(const soda_blackbox_record *r)
{
	return r ? r->segment : 0;
}
SODA_EXPORT uint64_t soda_blackbox_record_get_offset(const soda_blackbox_record *r)
{
	return r ? r->offset : 0;
}
