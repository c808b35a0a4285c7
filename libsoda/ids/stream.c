/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort's TCP reassembly: each direction's bytes in order.
 *
 * Policy (docs/ids.md, "Reassembly"):
 *  - sequence numbers become 64-bit stream offsets (next_off plus the
 *    signed 32-bit distance from next_seq), so wraparound needs no care;
 *  - the first data for a byte wins: bytes already passed on in order, and
 *    bytes already held out of order, are never replaced by a later
 *    segment that covers them (a retransmission or an overlap with other
 *    data changes nothing; both are counted);
 *  - a segment past a gap is held (stream_ooo_max bytes and
 *    stream_ooo_max_segs segments per direction, stream_memcap in all) and
 *    passed on when the gap fills; a segment that does not fit is dropped;
 *  - a gap is taken as lost (capture loss) only once the receiver has
 *    acknowledged bytes past it: the stream jumps to the first held byte,
 *    and the window's history is dropped (no match across a hole). Junk
 *    sent ahead of the stream, which the receiver never acknowledges,
 *    cannot make the stream jump over the real data that follows;
 *  - the window (kn_packet.stream) shows KN_STREAM_WINDOW bytes before the
 *    new data (fewer only at the start of the stream or after a gap); the
 *    buffer behind it holds at most twice that plus the new data;
 *    kn_packet.stream_off says where the window starts in the stream
 *    (after a gap, the offsets go on past the lost bytes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decode_int.h"

int kn_segs_insert(struct kn_segs *s, uint64_t off, const uint8_t *data, uint32_t len,
		   size_t max_bytes, uint32_t max_count, bool *overlap)
{
	uint64_t end = off + len;
	size_t add_bytes = 0;
	uint32_t add_count = 0;
	/* First the cost, so a refusal changes nothing. */
	uint64_t pos = off;
	struct kn_seg *c = s->head;
	while (pos < end) {
		while (c && c->off + c->len <= pos)
			c = c->next;
		if (c && c->off <= pos) {
			*overlap = true;
			pos = c->off + c->len;
			continue;
		}
		uint64_t pend = c && c->off < end ? c->off : end;
		add_bytes += pend - pos;
		add_count++;
		pos = pend;
	}
	if (add_bytes == 0)
		return 0;
	if (s->bytes + add_bytes > max_bytes || s->count + add_count > max_count)
		return -ENOBUFS;
	struct kn_seg **pp = &s->head;
	int done = 0;
	pos = off;
	while (pos < end) {
		while (*pp && (*pp)->off + (*pp)->len <= pos)
			pp = &(*pp)->next;
		c = *pp;
		if (c && c->off <= pos) {
			pos = c->off + c->len;
			continue;
		}
		uint64_t pend = c && c->off < end ? c->off : end;
		struct kn_seg *n = malloc(sizeof(*n) + (size_t)(pend - pos));
		if (!n)
			return -ENOMEM;
		n->off = pos;
		n->len = (uint32_t)(pend - pos);
		memcpy(n->data, data + (pos - off), n->len);
		n->next = c;
		*pp = n;
		pp = &n->next;
		s->bytes += n->len;
		s->count++;
		done += (int)n->len;
		pos = pend;
	}
	return done;
}

void kn_segs_clear(struct kn_segs *s)
{
	struct kn_seg *n;
	for (struct kn_seg *c = s->head; c; c = n) {
		n = c->next;
		free(c);
	}
	*s = (struct kn_segs){ 0 };
}

static void account(kn_decoder *d, int64_t delta)
{
	d->st.stream_bytes += (uint64_t)delta;
	if (d->st.stream_bytes > d->st.stream_bytes_peak)
		d->st.stream_bytes_peak = d->st.stream_bytes;
}

void kn_stream_dir_free(kn_decoder *d, struct kn_stream_dir *s)
{
	account(d, -(int64_t)(s->cap + s->ooo.bytes));
	free(s->buf);
	kn_segs_clear(&s->ooo);
	memset(s, 0, sizeof(*s));
}

/* Room for n more bytes after at least KN_STREAM_WINDOW of history.
 * Returns false when the memory cap refuses it. */
static bool reserve(kn_decoder *d, struct kn_stream_dir *s, size_t n)
{
	if (s->len + n > s->cap && s->len > KN_STREAM_WINDOW) {
		memmove(s->buf, s->buf + s->len - KN_STREAM_WINDOW, KN_STREAM_WINDOW);
		s->len = KN_STREAM_WINDOW;
	}
	size_t want = s->len + n;
	size_t nc = s->cap;
	if (want > s->cap) {
		nc = s->cap ? s->cap : 256;
		while (nc < want)
			nc *= 2;
		if (nc > 2 * KN_STREAM_WINDOW && want <= 2 * KN_STREAM_WINDOW)
			nc = 2 * KN_STREAM_WINDOW;
	} else if (s->cap > 4 * KN_STREAM_WINDOW && want <= 2 * KN_STREAM_WINDOW) {
		nc = 2 * KN_STREAM_WINDOW; /* after a burst of released data */
	}
	if (nc == s->cap)
		return true;
	if (nc > s->cap && d->st.stream_bytes + (nc - s->cap) > d->cfg.stream_memcap)
		return false;
	uint8_t *b = realloc(s->buf, nc);
	if (!b)
		return false;
	account(d, (int64_t)nc - (int64_t)s->cap);
	s->buf = b;
	s->cap = (uint32_t)nc;
	return true;
}

/* Jumps over data that will not come: to `off`, history dropped. */
static void skip_to(kn_decoder *d, struct kn_stream_dir *s, uint64_t off)
{
	d->st.tcp_gaps++;
	s->next_seq += (uint32_t)(off - s->next_off);
	s->next_off = off;
	s->len = 0;
}

/* The packet sees KN_STREAM_WINDOW bytes of history at most (what the
 * contract promises), not all the buffer holds: less to scan again. */
static void set_window(struct kn_packet *p, const struct kn_stream_dir *s, size_t new_off)
{
	if (!s->buf)
		return;
	size_t skip = new_off > KN_STREAM_WINDOW ? new_off - KN_STREAM_WINDOW : 0;
	p->stream = s->buf + skip;
	p->stream_len = s->len - skip;
	p->stream_new_off = new_off - skip;
	/* The buffer ends at next_off: where the window starts in the
	 * stream (absolute offset, depth, startswith count from 0). */
	p->stream_off = s->next_off - s->len + skip;
}

/* Passes on `direct` (in order at next_off), then every held segment it
 * makes contiguous. */
static void release(kn_decoder *d, struct kn_stream_dir *s, struct kn_packet *p,
		    const uint8_t *direct, size_t dlen)
{
	size_t n = dlen;
	uint64_t cur = s->next_off + dlen;
	for (struct kn_seg *g = s->ooo.head; g && g->off == cur; g = g->next) {
		n += g->len;
		cur += g->len;
	}
	if (n == 0) {
		set_window(p, s, s->len);
		return;
	}
	if (!reserve(d, s, n)) {
		/* No memory for it: the bytes go unseen, as a gap. */
		d->st.stream_memcap_drops++;
		while (s->ooo.head && s->ooo.head->off < cur) {
			struct kn_seg *g = s->ooo.head;
			s->ooo.head = g->next;
			s->ooo.count--;
			s->ooo.bytes -= g->len;
			account(d, -(int64_t)g->len);
			free(g);
		}
		skip_to(d, s, cur);
		set_window(p, s, s->len);
		return;
	}
	size_t new_off = s->len;
	if (dlen)
		memcpy(s->buf + s->len, direct, dlen);
	s->len += (uint32_t)dlen;
	while (s->ooo.head && s->ooo.head->off == s->next_off + (s->len - new_off)) {
		struct kn_seg *g = s->ooo.head;
		memcpy(s->buf + s->len, g->data, g->len);
		s->len += g->len;
		s->ooo.head = g->next;
		s->ooo.count--;
		s->ooo.bytes -= g->len;
		account(d, -(int64_t)g->len);
		free(g);
	}
	s->next_seq += (uint32_t)n;
	s->next_off += n;
	set_window(p, s, new_off);
}

static bool hold(kn_decoder *d, struct kn_stream_dir *s, uint64_t off, const uint8_t *data,
		 size_t len)
{
	size_t room = d->cfg.stream_memcap > d->st.stream_bytes ?
		d->cfg.stream_memcap - d->st.stream_bytes : 0;
	size_t max = d->cfg.stream_ooo_max;
	if (max > s->ooo.bytes + room)
		max = s->ooo.bytes + room;
	bool overlap = false;
	size_t before = s->ooo.bytes;
	int r = kn_segs_insert(&s->ooo, off, data, (uint32_t)len, max, d->cfg.stream_ooo_max_segs,
			       &overlap);
	account(d, (int64_t)(s->ooo.bytes - before));
	if (overlap)
		d->st.tcp_overlaps++;
	return r >= 0;
}

void kn_stream_packet(kn_decoder *d, struct kn_flow_entry *f, struct kn_packet *p)
{
	struct kn_stream_dir *s = &f->dir[p->to_server ? 0 : 1];
	struct kn_stream_dir *peer = &f->dir[p->to_server ? 1 : 0];
	uint32_t seq = p->tcp_seq;

	if ((p->tcp_flags & KN_TCP_ACK) &&
	    (!peer->acked_known || (int32_t)(p->tcp_ack - peer->acked) > 0)) {
		peer->acked = p->tcp_ack;
		peer->acked_known = true;
	}
	const uint8_t *data = p->payload;
	size_t len = p->payload_len;

	if (p->tcp_flags & KN_TCP_SYN) {
		/* The SYN takes a sequence number; data on it (TFO) follows. */
		if (!s->started) {
			s->started = true;
			s->next_seq = seq + 1;
			s->next_off = 0;
		}
		seq++;
	}
	/* The receiver has bytes past the gap that never came by here: they
	 * were lost to the capture, not to the receiver. */
	if (s->started && s->ooo.head && s->acked_known && (int32_t)(s->acked - s->next_seq) > 0) {
		skip_to(d, s, s->ooo.head->off);
		if (len && !(p->tcp_flags & KN_TCP_RST)) {
			/* This packet's bytes join the held ones (first wins)
			 * and go on with them, in one release. */
			int32_t r = (int32_t)(seq - s->next_seq);
			size_t seen = r < 0 ? (size_t)-(int64_t)r : 0;
			if (seen < len) {
				/* Past the per-direction bounds by this one segment
				 * at most (the held bytes before it leave in this
				 * release), never past stream_memcap. */
				bool overlap = false;
				size_t before = s->ooo.bytes;
				size_t room = d->cfg.stream_memcap > d->st.stream_bytes ?
					d->cfg.stream_memcap - d->st.stream_bytes : 0;
				kn_segs_insert(&s->ooo, s->next_off + (uint32_t)(r < 0 ? 0 : r),
					       data + seen, (uint32_t)(len - seen),
					       s->ooo.bytes + (room < len ? room : len), UINT32_MAX,
					       &overlap);
				account(d, (int64_t)(s->ooo.bytes - before));
			}
		}
		release(d, s, p, NULL, 0);
		return;
	}
	if (len == 0 || (p->tcp_flags & KN_TCP_RST)) {
		set_window(p, s, s->len);
		return;
	}
	if (!s->started) {
		/* No SYN seen this way: the stream starts here. */
		s->started = true;
		s->next_seq = seq;
		s->next_off = 0;
	}
	int32_t rel = (int32_t)(seq - s->next_seq);
	if (rel < 0) {
		size_t seen = (size_t)-(int64_t)rel;
		if (seen >= len) {
			d->st.tcp_retransmits++;
			set_window(p, s, s->len);
			return;
		}
		d->st.tcp_overlaps++;
		data += seen;
		len -= seen;
		rel = 0;
	}
	uint64_t off = s->next_off + (uint32_t)rel;
	if (rel > 0) {
		/* Past a gap: held until it fills. */
		if (hold(d, s, off, data, len)) {
			d->st.tcp_ooo_held++;
		} else {
			d->st.tcp_ooo_dropped++;
			if (d->cfg.stream_gap_without_ack && s->ooo.head) {
				/* No room to wait any longer: the gap is lost. */
				skip_to(d, s, s->ooo.head->off);
				release(d, s, p, NULL, 0);
				return;
			}
		}
		set_window(p, s, s->len);
		return;
	}
	/* In order: up to the first held segment straight on; what overlaps
	 * held data keeps the held bytes (they came first). */
	size_t direct = len;
	if (s->ooo.head && s->ooo.head->off < off + len) {
		direct = (size_t)(s->ooo.head->off - off);
		if (!hold(d, s, off + direct, data + direct, len - direct))
			d->st.tcp_ooo_dropped++;
	}
	release(d, s, p, data, direct);
}
