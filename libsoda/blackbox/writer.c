/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The blackbox writer (see writer.h). libc + libsodium only. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aead.h"
#include "writer.h"

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADERBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define FRAME_MAX (SBX_HEADER_BYTES + SBX_RECORD_HEADER_BYTES + SBX_RECORD_MAX_BODY + SS_ABYTES)

struct sbw_writer {
	uint8_t pk[32];
	uint8_t stream[SBX_STREAM_ID_BYTES];
	uint8_t k0[32];      /* until START is out, then wiped */
	uint8_t ratchet[32]; /* R_e of the current epoch */
	crypto_secretstream_xchacha20poly1305_state ss;
	sbx_start_params params;
	uint32_t epoch;
	uint32_t epochs_opened;
	bool started, epoch_open, need_epoch, ended;
	uint64_t seq; /* of the next frame */
	uint64_t rekey_bytes;
	uint64_t epoch_start_mono, epoch_bytes, last_frame_mono;
	uint64_t pending_lost_records, pending_lost_bytes; /* not yet told in a LOSS record */
	sbw_stats st;
	sbw_output_fn out;
	sbw_reserve_fn reserve;
	void *userdata;
	sbw_clock_fn clock;
	void *clock_userdata;
	uint8_t *plain; /* the plaintext, where libsodium seals it */
	uint8_t *frame; /* frames built here unless the output reserves them */
};

static uint64_t now_usec(const sbw_writer *w, int realtime)
{
	struct timespec ts;

	if (w->clock)
		return w->clock(realtime, w->clock_userdata);
	clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int sbw_new(sbw_writer **ret, const uint8_t tenant_box_pk[32], const sbw_options *opts,
	    sbw_output_fn out, void *userdata)
{
	sbw_writer *w;
	const char *label = opts && opts->label ? opts->label : "";

	if (!ret || !tenant_box_pk || !out)
		return -EINVAL;
	if (strlen(label) > SBX_LABEL_BYTES)
		return -EINVAL;
	if (opts && opts->origin && opts->origin != SBX_ORIGIN_GUEST && opts->origin != SBX_ORIGIN_HOST)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->plain = malloc(SBX_RECORD_HEADER_BYTES + SBX_RECORD_MAX_BODY);
	w->frame = malloc(FRAME_MAX);
	if (!w->plain || !w->frame) {
		sbw_free(w);
		return -ENOMEM;
	}
	memcpy(w->pk, tenant_box_pk, 32);
	w->out = out;
	w->userdata = userdata;
	w->params.origin = opts && opts->origin ? opts->origin : SBX_ORIGIN_GUEST;
	w->params.suite = SBX_SUITE_1;
	w->params.heartbeat_ms = opts && opts->heartbeat_ms ? opts->heartbeat_ms : SBW_HEARTBEAT_MS_DEFAULT;
	if (w->params.heartbeat_ms == SBW_DISABLED)
		w->params.heartbeat_ms = 0; /* 0 in START: "no heartbeats expected" */
	w->params.rekey_ms = opts && opts->rekey_ms ? opts->rekey_ms : SBW_REKEY_MS_DEFAULT;
	w->rekey_bytes = opts && opts->rekey_bytes ? opts->rekey_bytes : SBW_REKEY_BYTES_DEFAULT;
	sbx_key_id(w->params.key_id, tenant_box_pk);
	memcpy(w->params.label, label, strlen(label));
	if (opts) {
		w->clock = opts->clock;
		w->clock_userdata = opts->clock_userdata;
		w->reserve = opts->reserve;
	}
	randombytes_buf(w->stream, sizeof(w->stream));
	randombytes_buf(w->k0, sizeof(w->k0));
	*ret = w;
	return 0;
}

void sbw_free(sbw_writer *w)
{
	if (!w)
		return;
	if (w->plain)
		sodium_memzero(w->plain, SBX_RECORD_HEADER_BYTES + SBX_RECORD_MAX_BODY);
	free(w->plain);
	free(w->frame);
	sodium_memzero(w, sizeof(*w));
	free(w);
}

const uint8_t *sbw_stream_id(const sbw_writer *w)
{
	return w->stream;
}

void sbw_get_stats(const sbw_writer *w, sbw_stats *ret)
{
	*ret = w->st;
	ret->epoch = w->epoch;
}

/* Where the next frame of @len bytes is built: in the output's buffer if it
 * offers one (no copy on the way out), else in the writer's. */
static uint8_t *frame_for(sbw_writer *w, size_t len)
{
	uint8_t *f = w->reserve ? w->reserve(len, w->userdata) : NULL;

	return f ? f : w->frame;
}

/* Sends the frame @f (header already encoded). */
static int emit(sbw_writer *w, const uint8_t *f, size_t len, uint64_t mono)
{
	int r = w->out(f, len, w->userdata);

	if (r < 0)
		return r;
	w->seq++;
	w->st.frames++;
	w->st.frame_bytes += len;
	w->last_frame_mono = mono;
	return 0;
}

static void header_for(const sbw_writer *w, sbx_header *h, uint8_t kind, uint32_t len, uint64_t real)
{
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->len = len;
	h->epoch = w->epoch;
	memcpy(h->stream, w->stream, SBX_STREAM_ID_BYTES);
	h->seq = w->seq;
	h->time_usec = real;
}

int sbw_start(sbw_writer *w)
{
	uint8_t sealed_plain[SBX_SEALED_PLAIN_BYTES];
	uint8_t *payload = w->frame + SBX_HEADER_BYTES;
	sbx_header h;
	int r;

	if (w->started)
		return 0;
	sbx_start_params_encode(payload, &w->params);
	memcpy(sealed_plain, w->k0, 32);
	memcpy(sealed_plain + 32, payload, SBX_START_PARAMS_BYTES);
	r = crypto_box_seal(payload + SBX_START_PARAMS_BYTES, sealed_plain, sizeof(sealed_plain), w->pk);
	sodium_memzero(sealed_plain, sizeof(sealed_plain));
	if (r != 0)
		return -EINVAL; /* not a valid public key */
	header_for(w, &h, SBX_K_START, SBX_START_PAYLOAD_BYTES, now_usec(w, 1));
	sbx_header_encode(w->frame, &h, payload);
	r = emit(w, w->frame, SBX_HEADER_BYTES + SBX_START_PAYLOAD_BYTES, now_usec(w, 0));
	if (r < 0)
		return r;
	sbx_ratchet_first(w->ratchet, w->k0, w->stream);
	sodium_memzero(w->k0, sizeof(w->k0));
	w->started = true;
	w->need_epoch = true;
	return 0;
}

static int open_epoch(sbw_writer *w, uint64_t mono)
{
	uint8_t key[32];
	uint8_t *payload = w->frame + SBX_HEADER_BYTES;
	sbx_header h;

	if (w->epochs_opened > 0) {
		sbx_ratchet_next(w->ratchet);
		w->epoch++;
	}
	w->epochs_opened++;
	sbx_epoch_key(key, w->ratchet, w->stream, w->epoch);
	crypto_secretstream_xchacha20poly1305_init_push(&w->ss, payload, key);
	sodium_memzero(key, sizeof(key));
	w->epoch_open = true;
	w->epoch_start_mono = mono;
	w->epoch_bytes = 0;
	header_for(w, &h, SBX_K_EPOCH, SS_HEADERBYTES, now_usec(w, 1));
	sbx_header_encode(w->frame, &h, payload);
	w->need_epoch = emit(w, w->frame, SBX_HEADER_BYTES + SS_HEADERBYTES, mono) < 0;
	return w->need_epoch ? -EIO : 0;
}

static bool rekey_due(const sbw_writer *w, uint64_t mono)
{
	return w->need_epoch || !w->epoch_open || w->epoch_bytes >= w->rekey_bytes ||
	       mono - w->epoch_start_mono >= (uint64_t)w->params.rekey_ms * 1000u;
}

static int seal(sbw_writer *w, uint8_t kind, const sbx_record_header *rh, const void *body,
		size_t len, uint64_t real, uint8_t tag);

static int seal_pending_loss(sbw_writer *w, uint64_t real, uint64_t mono)
{
	uint8_t body[SBX_WLOSS_BODY_BYTES] = { 0 };
	sbx_record_header rh = { .type = SBX_R_LOSS, .mono_usec = mono };
	int r;

	sbx_put64(body, w->pending_lost_records);
	sbx_put64(body + 8, w->pending_lost_bytes);
	sbx_put32(body + 16, 1); /* reason: the output refused frames */
	r = seal(w, SBX_K_DATA, &rh, body, sizeof(body), real, 0);
	if (r == 0)
		w->pending_lost_records = w->pending_lost_bytes = 0;
	return r;
}

static int seal(sbw_writer *w, uint8_t kind, const sbx_record_header *rh, const void *body,
		size_t len, uint64_t real, uint8_t tag)
{
	size_t plen = SBX_RECORD_HEADER_BYTES + len;
	uint64_t mono = rh->mono_usec;
	uint8_t rhb[SBX_RECORD_HEADER_BYTES], *f;
	sbx_header h;
	int r;

	if (!w->started) {
		r = sbw_start(w);
		if (r < 0)
			goto lost;
	}
	if (rekey_due(w, mono)) {
		r = open_epoch(w, mono);
		if (r < 0)
			goto lost;
	}
	if (w->pending_lost_records && rh->type != SBX_R_LOSS) {
		r = seal_pending_loss(w, real, mono);
		if (r < 0)
			goto lost;
	}
	/* The record header and the body are sealed where they are, straight
	 * into the frame's place (aead.c). */
	sbx_record_header_encode(rhb, rh);
	header_for(w, &h, kind, (uint32_t)(plen + SS_ABYTES), real);
	f = frame_for(w, SBX_HEADER_BYTES + h.len);
	sbx_header_encode_ad(f, &h);
	sbx_ss_push2(&w->ss, f + SBX_HEADER_BYTES, rhb, sizeof(rhb), body, len, f, SBX_AD_BYTES,
		     tag, w->plain);
	sodium_memzero(rhb, sizeof(rhb));
	sbx_header_finish_crc(f, &h);
	r = emit(w, f, SBX_HEADER_BYTES + h.len, mono);
	if (r < 0) {
		/* The secretstream state moved on without the reader: start over
		 * with a new epoch. */
		w->need_epoch = true;
		goto lost;
	}
	w->epoch_bytes += plen;
	if (rh->type != SBX_R_HEARTBEAT && rh->type != SBX_R_END && rh->type != SBX_R_LOSS) {
		w->st.records++;
		w->st.bytes += len;
	}
	return 0;
lost:
	if (rh->type != SBX_R_HEARTBEAT && rh->type != SBX_R_LOSS) {
		w->st.lost_records++;
		w->st.lost_bytes += len;
		w->pending_lost_records++;
		w->pending_lost_bytes += len;
	}
	return r;
}

static bool type_appendable(unsigned type)
{
	return type >= 1 && type <= SBX_R_MAX && type != SBX_R_HEARTBEAT && type != SBX_R_END &&
	       type != SBX_R_LOSS;
}

int sbw_append_record(sbw_writer *w, unsigned type, unsigned flags, uint32_t aux,
		      const void *data, size_t len, uint64_t realtime_usec, uint64_t mono_usec)
{
	sbx_record_header rh = { .type = (uint8_t)type, .flags = (uint8_t)flags, .aux = aux };

	if (!w || !type_appendable(type) || (len && !data) || len > SBX_RECORD_MAX_BODY ||
	    flags > UINT8_MAX)
		return -EINVAL;
	if (w->ended)
		return -EPIPE;
	rh.mono_usec = mono_usec ? mono_usec : now_usec(w, 0);
	return seal(w, SBX_K_DATA, &rh, data, len, realtime_usec ? realtime_usec : now_usec(w, 1), 0);
}

int sbw_append_at(sbw_writer *w, unsigned type, uint32_t aux, const void *data, size_t len,
		  uint64_t realtime_usec, uint64_t mono_usec)
{
	const uint8_t *p = data;
	int first_err = 0;

	if (!w || !type_appendable(type) || (len && !data))
		return -EINVAL;
	if (w->ended)
		return -EPIPE;
	if (!realtime_usec)
		realtime_usec = now_usec(w, 1);
	if (!mono_usec)
		mono_usec = now_usec(w, 0);
	do {
		size_t n = len > SBX_RECORD_MAX_BODY ? SBX_RECORD_MAX_BODY : len;
		int r = sbw_append_record(w, type, n < len ? SBX_RECORD_F_CONTINUED : 0, aux, p, n,
					  realtime_usec, mono_usec);

		if (r < 0 && !first_err)
			first_err = r;
		p += n;
		len -= n;
	} while (len > 0);
	return first_err;
}

int sbw_append_lines_at(sbw_writer *w, const void *data, size_t len, uint64_t realtime_usec,
			uint64_t mono_usec)
{
	const char *p = data, *end = p + len, *nl;
	uint64_t lines = 0;
	int r;

	if (!w || !data || len == 0 || len > SBX_RECORD_MAX_BODY || p[len - 1] != '\n')
		return -EINVAL;
	for (const char *q = p; q < end && (nl = memchr(q, '\n', (size_t)(end - q))); q = nl + 1)
		lines++;
	/* One line is an ordinary record, which every reader knows. */
	if (lines == 1)
		return sbw_append_record(w, SBX_R_TEXT, 0, 0, p, len - 1, realtime_usec, mono_usec);
	r = sbw_append_record(w, SBX_R_TEXT, SBX_RECORD_F_LINES, 0, p, len, realtime_usec,
			      mono_usec);
	/* The counters count records as readers see them: one per line. */
	if (r == 0) {
		w->st.records += lines - 1;
	} else if (r != -EINVAL && r != -EPIPE) {
		w->st.lost_records += lines - 1;
		w->pending_lost_records += lines - 1;
	}
	return r;
}

int sbw_append(sbw_writer *w, unsigned type, uint32_t aux, const void *data, size_t len)
{
	return sbw_append_at(w, type, aux, data, len, 0, 0);
}

int sbw_tick(sbw_writer *w, uint64_t *ret_next_usec)
{
	uint64_t mono, hb;
	int r = 0;

	if (!w)
		return -EINVAL;
	if (w->ended) {
		if (ret_next_usec)
			*ret_next_usec = UINT64_MAX;
		return 0;
	}
	mono = now_usec(w, 0);
	hb = (uint64_t)w->params.heartbeat_ms * 1000u;
	if (!w->started || w->need_epoch) {
		r = w->started ? 0 : sbw_start(w);
		if (r == 0)
			r = open_epoch(w, mono);
	} else if (hb && mono - w->last_frame_mono >= hb) {
		uint8_t body[SBX_HEARTBEAT_BODY_BYTES] = { 0 };
		sbx_record_header rh = { .type = SBX_R_HEARTBEAT, .mono_usec = mono };

		sbx_put64(body, w->st.records);
		sbx_put64(body + 8, w->st.bytes);
		sbx_put64(body + 16, w->st.lost_records);
		sbx_put32(body + 24, w->epoch);
		sbx_put32(body + 28, w->params.heartbeat_ms);
		r = seal(w, SBX_K_HEARTBEAT, &rh, body, sizeof(body), now_usec(w, 1), 0);
	}
	if (ret_next_usec) {
		if (!hb)
			*ret_next_usec = w->need_epoch ? mono + 1000000u : UINT64_MAX;
		else
			*ret_next_usec = (r < 0 ? mono : w->last_frame_mono) + hb;
	}
	return r;
}

void sbw_rekey(sbw_writer *w)
{
	if (w)
		w->need_epoch = true;
}

void sbw_output_lost(sbw_writer *w, uint64_t frames, uint64_t bytes)
{
	if (!w || !frames)
		return;
	w->st.lost_records += frames;
	w->st.lost_bytes += bytes;
	w->pending_lost_records += frames;
	w->pending_lost_bytes += bytes;
	w->need_epoch = true;
}

int sbw_declare_loss(sbw_writer *w, uint64_t records, uint64_t bytes, uint32_t reason,
		     uint64_t realtime_usec, uint64_t mono_usec)
{
	uint8_t body[SBX_WLOSS_BODY_BYTES] = { 0 };
	sbx_record_header rh = { .type = SBX_R_LOSS };

	if (!w || reason == 0)
		return -EINVAL;
	if (w->ended)
		return -EPIPE;
	rh.mono_usec = mono_usec ? mono_usec : now_usec(w, 0);
	sbx_put64(body, records);
	sbx_put64(body + 8, bytes);
	sbx_put32(body + 16, reason);
	w->st.lost_records += records;
	w->st.lost_bytes += bytes;
	return seal(w, SBX_K_DATA, &rh, body, sizeof(body),
		    realtime_usec ? realtime_usec : now_usec(w, 1), 0);
}

int sbw_end(sbw_writer *w, uint32_t reason)
{
	uint8_t body[SBX_END_BODY_BYTES] = { 0 };
	sbx_record_header rh = { .type = SBX_R_END };
	int r;

	if (!w)
		return -EINVAL;
	if (w->ended)
		return 0;
	rh.mono_usec = now_usec(w, 0);
	sbx_put32(body, reason);
	sbx_put64(body + 8, w->st.records);
	sbx_put64(body + 16, w->st.bytes);
	sbx_put64(body + 24, w->st.lost_records);
	r = seal(w, SBX_K_END, &rh, body, sizeof(body), now_usec(w, 1),
		 crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	if (r == 0) {
		w->ended = true;
		sodium_memzero(w->ratchet, sizeof(w->ratchet));
		sodium_memzero(&w->ss, sizeof(w->ss));
	}
	return r;
}
