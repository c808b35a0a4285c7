/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: matching a packet against a ruleset.
 *
 * Candidates: the rules whose fast pattern Vectorscan finds in the
 * packet's payload or stream window, plus the rules of the packet's
 * protocol that have none. Each candidate, in the ruleset's order, is
 * then evaluated exactly: header, packet tests, flowbits conditions, and
 * the payload operations in rule order over one buffer with a cursor.
 * A content (or pcre) followed by a relative operation is retried at
 * its next occurrence when the rest fails, as Suricata's inspection
 * engine does; the number of steps per rule is bounded.
 *
 * The prefilter scans each stream byte once. A packet's scan covers its
 * new bytes and, before them, the longest fast pattern less one byte (a
 * pattern that ends in the new bytes starts there at the earliest); the
 * fast patterns found in earlier packets' scans are remembered per flow
 * direction with the end of the scan that found them, and stay
 * candidates while that scan overlaps the window (a rule may match with
 * its fast pattern wholly in old bytes and a later content in the new
 * ones). When the memory is incomplete (its first packet, past a gap,
 * more than KN_SEEN_MAX patterns) the whole window is scanned instead.
 *
 * The buffer: for TCP with a stream (p->stream), rules inspect the
 * reassembled window unless they say flow:no_stream, and a match must
 * end in the bytes this packet added (so old data is not alerted on
 * twice); otherwise the packet's payload. flow:only_stream rules see
 * only the stream.
 *
 * After a match: flowbits set/unset/toggle (even when the alert is then
 * held back), then pass (no further rule for this packet), noalert,
 * threshold and detection_filter, then the alert.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hs.h>

#include "events.h"
#include "rule.h"
#include "../util.h"

#define KN_INSPECT_BUDGET 3000
/* Fast patterns remembered per flow direction; past that, whole-window
 * scans (the cost before the memory, never a lost candidate). */
#define KN_SEEN_MAX 128

struct kn_detector {
	const kn_ruleset *rs;
	hs_scratch_t *scratch;
	uint32_t *stamp;
	uint32_t gen;
	uint32_t *cand;
	size_t n_cand;
	uint64_t *counts;
	pcre2_match_data *md;
	struct kn_thstate *th;
	/* the fast patterns one stream scan found (each once: single match) */
	uint32_t *hits;
	size_t n_hits;
	uint32_t *pat_mark, pgen;
	uint64_t id;              /* unique in the process: whose memory a kn_seen is */
	bool reference;           /* kn_detector_reference_mode() */
};

/* What the prefilter found in one direction's stream before this packet:
 * every fast pattern that occurs wholly in [from, scanned_end) has an
 * entry whose end (the end of the last scan that found it) is at least
 * the end of that occurrence. Absolute stream offsets. */
struct kn_seen {
	uint64_t owner;           /* the detector (pattern ids are its ruleset's) */
	bool valid;
	uint64_t from, scanned_end;
	uint32_t n, cap;
	struct kn_seen_pat {
		uint32_t pat;
		uint64_t end;
	} *e;
};

/* A flow's detection state: flowbits (the hashes of the names that are
 * set) and, per direction, the prefilter's memory. */
struct kn_fbstate {
	size_t n, cap;
	uint64_t *bits;
	struct kn_seen seen[2];
};

static struct kn_fbstate *flow_state(struct kn_flow *f)
{
	if (!f->detect_state)
		f->detect_state = calloc(1, sizeof(struct kn_fbstate));
	return f->detect_state;
}

static uint64_t detector_ids;

int kn_detector_new(kn_detector **ret, const kn_ruleset *rs, soda_error **error)
{
	kn_detector *d;
	size_t n;

	if (!ret || !rs)
		return su_errorf(error, -EINVAL, "kn_detector_new: missing argument");
	n = rs->n_rules ? rs->n_rules : 1;
	d = calloc(1, sizeof(*d));
	if (!d)
		return su_errorf(error, -ENOMEM, "out of memory");
	d->rs = rs;
	d->id = __atomic_add_fetch(&detector_ids, 1, __ATOMIC_RELAXED);
	d->stamp = calloc(n, sizeof(*d->stamp));
	d->cand = calloc(n, sizeof(*d->cand));
	d->counts = calloc(n, sizeof(*d->counts));
	d->md = pcre2_match_data_create(rs->max_ovector, NULL);
	d->hits = calloc(rs->n_pats ? rs->n_pats : 1, sizeof(*d->hits));
	d->pat_mark = calloc(rs->n_pats ? rs->n_pats : 1, sizeof(*d->pat_mark));
	if (!d->stamp || !d->cand || !d->counts || !d->md || !d->hits || !d->pat_mark ||
	    kn_thstate_new(&d->th) < 0) {
		kn_detector_free(d);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	if (rs->hs_db && hs_alloc_scratch(rs->hs_db, &d->scratch) != HS_SUCCESS) {
		kn_detector_free(d);
		return su_errorf(error, -ENOMEM, "Vectorscan: cannot allocate scratch space");
	}
	*ret = d;
	return 0;
}

void kn_detector_free(kn_detector *d)
{
	if (!d)
		return;
	if (d->scratch)
		hs_free_scratch(d->scratch);
	free(d->stamp);
	free(d->cand);
	free(d->counts);
	free(d->hits);
	free(d->pat_mark);
	pcre2_match_data_free(d->md);
	kn_thstate_free(d->th);
	free(d);
}

void kn_detector_reference_mode(kn_detector *d, bool on)
{
	if (d)
		d->reference = on;
}

void kn_detect_flow_free(void *detect_state)
{
	struct kn_fbstate *f = detect_state;

	if (!f)
		return;
	free(f->bits);
	free(f->seen[0].e);
	free(f->seen[1].e);
	free(f);
}

void kn_detector_counts(const kn_detector *d,
			void (*fn)(void *userdata, uint32_t gid, uint32_t sid, uint64_t count),
			void *userdata)
{
	if (!d || !fn)
		return;
	for (size_t i = 0; i < d->rs->n_rules; i++)
		if (d->counts[i])
			fn(userdata, d->rs->rules[i]->gid, d->rs->rules[i]->sid, d->counts[i]);
}

/* ---- flowbits ---- */

static bool fb_isset(const struct kn_flow *f, uint64_t h)
{
	const struct kn_fbstate *s = f->detect_state;

	if (!s)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->bits[i] == h)
			return true;
	return false;
}

static int fb_set(struct kn_flow *f, uint64_t h, bool on)
{
	struct kn_fbstate *s = f->detect_state;

	if (fb_isset(f, h) == on)
		return 0;
	if (!on) {
		for (size_t i = 0; i < s->n; i++)
			if (s->bits[i] == h) {
				s->bits[i] = s->bits[--s->n];
				break;
			}
		return 0;
	}
	s = flow_state(f);
	if (!s)
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 4;
		uint64_t *nb = realloc(s->bits, nc * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		s->bits = nb;
		s->cap = nc;
	}
	s->bits[s->n++] = h;
	return 0;
}

static bool flowbits_match(const struct kn_rule *r, const struct kn_packet *p)
{
	for (size_t i = 0; i < r->n_fbs; i++) {
		const struct kn_flowbit *fb = &r->fbs[i];
		bool want = fb->cmd == KN_FB_ISSET, ok;

		if (fb->cmd != KN_FB_ISSET && fb->cmd != KN_FB_ISNOTSET)
			continue;
		if (!p->flow)
			return false;
		ok = !fb->any;
		for (size_t k = 0; k < fb->n; k++) {
			bool m = fb_isset(p->flow, fb->names[k]) == want;

			if (fb->any && m) {
				ok = true;
				break;
			}
			if (!fb->any && !m) {
				ok = false;
				break;
			}
		}
		if (!ok)
			return false;
	}
	return true;
}

static int flowbits_apply(const struct kn_rule *r, struct kn_packet *p)
{
	if (!p->flow)
		return 0;
	for (size_t i = 0; i < r->n_fbs; i++) {
		const struct kn_flowbit *fb = &r->fbs[i];

		for (size_t k = 0; k < fb->n; k++) {
			int rc = 0;

			if (fb->cmd == KN_FB_SET)
				rc = fb_set(p->flow, fb->names[k], true);
			else if (fb->cmd == KN_FB_UNSET)
				rc = fb_set(p->flow, fb->names[k], false);
			else if (fb->cmd == KN_FB_TOGGLE)
				rc = fb_set(p->flow, fb->names[k], !fb_isset(p->flow, fb->names[k]));
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- packet tests ---- */

static bool cmp(const struct kn_intcmp *c, uint64_t v)
{
	switch (c->op) {
	case KN_EQ: return v == c->a;
	case KN_NE: return v != c->a;
	case KN_LT: return v < c->a;
	case KN_LE: return v <= c->a;
	case KN_GT: return v > c->a;
	case KN_GE: return v >= c->a;
	case KN_RANGE: return v > c->a && v < c->b;
	}
	return false;
}

/* The payload as Suricata sees it. The decoder's ICMP payload starts after
 * type, code and checksum; Suricata's after the 8-byte header (the rest of
 * header: echo id and sequence, the unused word of an error...). */
static const uint8_t *suri_payload(const struct kn_packet *p, size_t *len)
{
	if (p->ip_proto == KN_IPPROTO_ICMP || p->ip_proto == KN_IPPROTO_ICMPV6) {
		if (!p->payload || p->payload_len < 4) {
			*len = 0;
			return p->payload;
		}
		*len = p->payload_len - 4;
		return p->payload + 4;
	}
	*len = p->payload_len;
	return p->payload;
}

/* ICMP messages whose rest-of-header is an identifier and a sequence. */
static bool icmp_has_id(const struct kn_packet *p)
{
	if (!p->payload || p->payload_len < 4)
		return false;
	if (p->ip_proto == KN_IPPROTO_ICMP)
		return p->icmp_type == 0 || p->icmp_type == 8 ||
		       (p->icmp_type >= 13 && p->icmp_type <= 18);
	return p->ip_proto == KN_IPPROTO_ICMPV6 && (p->icmp_type == 128 || p->icmp_type == 129);
}

static bool has_ports(const struct kn_packet *p)
{
	return p->ip_proto == KN_IPPROTO_TCP || p->ip_proto == KN_IPPROTO_UDP;
}

static bool ends_match(const struct kn_rule *r, const struct kn_packet *p, bool swap)
{
	const uint8_t *src = swap ? p->dst : p->src, *dst = swap ? p->src : p->dst;
	uint16_t sp = swap ? p->dport : p->sport, dport = swap ? p->sport : p->dport;

	if (!kn_addr_match(&r->src, p->family, src) || !kn_addr_match(&r->dst, p->family, dst))
		return false;
	if (has_ports(p))
		return kn_port_match(&r->sport, sp) && kn_port_match(&r->dport, dport);
	return kn_port_is_any(&r->sport) && kn_port_is_any(&r->dport);
}

static bool header_match(const struct kn_rule *r, const struct kn_packet *p)
{
	switch (r->proto) {
	case KN_RP_IP: break;
	case KN_RP_TCP: if (p->ip_proto != KN_IPPROTO_TCP) return false; break;
	case KN_RP_UDP: if (p->ip_proto != KN_IPPROTO_UDP) return false; break;
	case KN_RP_ICMP:
		if (p->ip_proto != KN_IPPROTO_ICMP && p->ip_proto != KN_IPPROTO_ICMPV6)
			return false;
		break;
	case KN_RP_ICMPV4: if (p->ip_proto != KN_IPPROTO_ICMP) return false; break;
	case KN_RP_ICMPV6: if (p->ip_proto != KN_IPPROTO_ICMPV6) return false; break;
	}
	return ends_match(r, p, false) || (r->bidir && ends_match(r, p, true));
}

static bool tests_match(const struct kn_rule *r, const struct kn_packet *p)
{
	uint32_t t = r->tests;
	bool tcp = p->ip_proto == KN_IPPROTO_TCP;
	bool icmp = p->ip_proto == KN_IPPROTO_ICMP || p->ip_proto == KN_IPPROTO_ICMPV6;

	if (!t)
		return true;
	if (t & KN_T_FLOW) {
		uint32_t f = r->flow;

		if ((f & KN_FLOW_ESTABLISHED) && !(p->flow && p->established))
			return false;
		if ((f & KN_FLOW_NOT_ESTABLISHED) && p->established)
			return false;
		if ((f & KN_FLOW_TO_SERVER) && !(p->flow && p->to_server))
			return false;
		if ((f & KN_FLOW_TO_CLIENT) && !(p->flow && !p->to_server))
			return false;
	}
	if (t & KN_T_DSIZE) {
		size_t len;

		suri_payload(p, &len);
		if (!cmp(&r->dsize, len))
			return false;
	}
	if ((t & KN_T_ICMP_ID) &&
	    !(icmp_has_id(p) && cmp(&r->icmp_id, (uint32_t)p->payload[0] << 8 | p->payload[1])))
		return false;
	if ((t & KN_T_ICMP_SEQ) &&
	    !(icmp_has_id(p) && cmp(&r->icmp_seq, (uint32_t)p->payload[2] << 8 | p->payload[3])))
		return false;
	if ((t & KN_T_TTL) && !cmp(&r->ttl, p->ttl))
		return false;
	if ((t & KN_T_ITYPE) && !(icmp && cmp(&r->itype, p->icmp_type)))
		return false;
	if ((t & KN_T_ICODE) && !(icmp && cmp(&r->icode, p->icmp_code)))
		return false;
	if ((t & KN_T_IPPROTO) && !cmp(&r->ipproto, p->ip_proto))
		return false;
	if ((t & KN_T_ID) && !(p->family == 4 && cmp(&r->ipid, p->ip_id)))
		return false;
	if (t & (KN_T_TOS | KN_T_FRAGBITS | KN_T_FRAGOFFSET)) {
		uint16_t frag;

		/* IPv4 header fields the decoder leaves in p->ip */
		if (p->family != 4 || !p->ip || p->ip_len < 20)
			return false;
		if ((t & KN_T_TOS) && !cmp(&r->tos, p->ip[1]))
			return false;
		frag = (uint16_t)(p->ip[6] << 8 | p->ip[7]);
		if ((t & KN_T_FRAGOFFSET) && !cmp(&r->fragoffset, frag & 0x1fff))
			return false;
		if (t & KN_T_FRAGBITS) {
			uint16_t b = frag & 0xe000, want = r->fragbits;

			switch (r->fragbits_mod) {
			case KN_FLAGS_EXACT: if (b != want) return false; break;
			/* Suricata's fragbits '+': these and at least one more */
			case KN_FLAGS_PLUS: if ((b & want) != want || b == want) return false; break;
			case KN_FLAGS_ANY: if (!(b & want)) return false; break;
			case KN_FLAGS_NOT: if ((b & want) == want) return false; break;
			}
		}
	}
	if ((t & KN_T_SAMEIP) &&
	    memcmp(p->src, p->dst, p->family == 4 ? 4 : 16) != 0)
		return false;
	if (t & (KN_T_ACK | KN_T_SEQ | KN_T_WINDOW | KN_T_FLAGS)) {
		if (!tcp)
			return false;
		if ((t & KN_T_ACK) && p->tcp_ack != r->ack)
			return false;
		if ((t & KN_T_SEQ) && p->tcp_seq != r->seq)
			return false;
		if ((t & KN_T_WINDOW) && !cmp(&r->window, p->tcp_window))
			return false;
		if (t & KN_T_FLAGS) {
			uint8_t f = p->tcp_flags & (uint8_t)~r->flags_mask;

			switch (r->flags_mod) {
			case KN_FLAGS_EXACT: if (f != r->flags) return false; break;
			case KN_FLAGS_PLUS: if ((f & r->flags) != r->flags) return false; break;
			case KN_FLAGS_ANY: if (!(f & r->flags)) return false; break;
			case KN_FLAGS_NOT: if ((f & r->flags) == r->flags) return false; break;
			}
		}
	}
	return true;
}

/* ---- payload inspection ---- */

struct insp {
	const uint8_t *buf;
	size_t len;
	bool stream;
	size_t new_off;
	int budget;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	const struct kn_op *ops;
	size_t n;
	uint64_t vals[KN_MAX_BYTE_VARS];  /* byte_extract */
	int64_t base;             /* absolute position of buf[0] (stream_off) */
	bool reference;           /* no search bound (kn_detector_reference_mode) */
};

/* A literal, or the value of the byte_extract variable ref (index + 1). */
static int64_t arg(const struct insp *x, uint8_t ref, int64_t lit)
{
	if (!ref)
		return lit;
	return x->vals[ref - 1] > INT32_MAX ? INT32_MAX : (int64_t)x->vals[ref - 1];
}

static inline uint8_t lc(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* First occurrence of pat starting in [start, end - plen]. */
static long find(const uint8_t *buf, size_t start, size_t end, const struct kn_content *c)
{
	size_t plen = c->len;

	if (end < start || end - start < plen)
		return -1;
	if (!(c->flags & KN_C_NOCASE)) {
		const uint8_t *m = memmem(buf + start, end - start, c->pat, plen);

		return m ? (long)(m - buf) : -1;
	}
	for (size_t i = start; i + plen <= end; i++) {
		size_t k = 0;

		while (k < plen && lc(buf[i + k]) == lc(c->pat[k]))
			k++;
		if (k == plen)
			return (long)i;
	}
	return -1;
}

/* Reads nbytes at at as a number (binary, or a string in base). Returns
 * the bytes used (a string may end early), or -1. */
static int extract(const struct kn_bytes *b, uint32_t nbytes, const uint8_t *at, uint64_t *ret)
{
	if (b->flags & KN_B_STRING) {
		char tmp[32], *end;

		memcpy(tmp, at, nbytes);
		tmp[nbytes] = '\0';
		errno = 0;
		*ret = strtoull(tmp, &end, b->base);
		if (end == tmp || errno)
			return -1;
		return (int)(end - tmp);
	}
	*ret = 0;
	for (uint32_t i = 0; i < nbytes; i++) {
		uint32_t k = b->flags & KN_B_LITTLE ? nbytes - 1 - i : i;

		*ret = *ret << 8 | at[k];
	}
	return (int)nbytes;
}

static uint64_t apply_mask(const struct kn_bytes *b, uint64_t v)
{
	if (b->flags & KN_B_BITMASK) {
		v &= b->bitmask;
		v >>= __builtin_ctzll(b->bitmask);
	}
	return v;
}

/* The byte count of a byte_test/byte_jump (a variable's value checked). */
static int64_t nbytes_of(const struct insp *x, const struct kn_bytes *b)
{
	int64_t n = arg(x, b->v_nbytes, b->nbytes);

	if (b->v_nbytes && (n < 1 || n > (b->flags & KN_B_STRING ? 23 : 8)))
		return -1;
	return n;
}

/* Where a byte_test/byte_jump/byte_extract reads nbytes: -1 when out of
 * the buffer. */
static int64_t read_pos(const struct insp *x, const struct kn_bytes *b, int64_t nbytes,
			size_t cursor)
{
	int64_t pos = arg(x, b->v_offset, b->offset) +
		      (b->flags & KN_B_RELATIVE ? (int64_t)cursor : -x->base);

	if (pos < 0 || pos > (int64_t)x->len)
		return -1;
	if ((b->flags & KN_B_RELATIVE) && (int64_t)x->len - pos <= 0)
		return -1;
	if (nbytes > (int64_t)x->len - pos)
		return -1;
	return pos;
}

static int inspect(struct insp *x, size_t i, size_t cursor, size_t maxend);

static bool may_retry(const struct insp *x, size_t i)
{
	return x->stream || (i + 1 < x->n && x->ops[i + 1].relative);
}

static int inspect_content(struct insp *x, size_t i, size_t cursor, size_t maxend)
{
	const struct kn_content *c = &x->ops[i].u.c;
	int64_t s0, e0;
	size_t start, end;

	if (x->ops[i].relative) {
		s0 = (int64_t)cursor + (c->flags & KN_C_DISTANCE ? arg(x, c->v_distance, c->distance) : 0);
		e0 = c->flags & KN_C_WITHIN ? s0 + arg(x, c->v_within, c->within) : (int64_t)x->len;
	} else {
		s0 = c->flags & KN_C_OFFSET ? arg(x, c->v_offset, c->offset) : 0;
		e0 = c->flags & KN_C_DEPTH ? s0 + arg(x, c->v_depth, c->depth) - x->base
					   : (int64_t)x->len;
		s0 -= x->base;
	}
	if (s0 < 0)
		s0 = 0;
	if (e0 > (int64_t)x->len)
		e0 = (int64_t)x->len;
	if (e0 < s0)
		e0 = s0;
	start = (size_t)s0;
	end = (size_t)e0;
	if (c->flags & KN_C_ENDSWITH) {
		/* the one place it can be: ending at the end of the buffer */
		if (end != x->len || end - start < c->len)
			return c->flags & KN_C_NEGATED ? inspect(x, i + 1, cursor, maxend) : 0;
		start = end - c->len;
	}
	if (c->flags & KN_C_NEGATED) {
		if (find(x->buf, start, end, c) >= 0)
			return 0;
		return inspect(x, i + 1, cursor, maxend);
	}
	if (x->stream && !x->reference && i + 1 == x->n && maxend <= x->new_off &&
	    x->new_off + 1 > c->len &&
	    start < x->new_off + 1 - c->len) {
		/* the last operation, and nothing before it ended in the new
		 * bytes: this content must (an occurrence before would fail
		 * in inspect), so the search starts where it can */
		start = x->new_off + 1 - c->len;
	}
	for (;;) {
		long at = find(x->buf, start, end, c);
		size_t mend;
		int r;

		if (at < 0)
			return 0;
		mend = (size_t)at + c->len;
		r = inspect(x, i + 1, mend, mend > maxend ? mend : maxend);
		if (r != 0 || !may_retry(x, i))
			return r;
		start = (size_t)at + 1;
	}
}

static int inspect_pcre(struct insp *x, size_t i, size_t cursor, size_t maxend)
{
	const struct kn_pcre *re = &x->ops[i].u.re;
	size_t base = re->flags & KN_PCRE_RELATIVE ? cursor : 0;
	PCRE2_SIZE startoff = 0, *ov;
	uint32_t opts = 0;

	if (base > x->len)
		return 0;
	if (!(re->flags & KN_PCRE_RELATIVE) && x->base > 0) {
		/* The window starts mid-stream: its first byte is not the
		 * buffer's start, so ^ (and \A, /A) cannot match there. */
		if (re->flags & KN_PCRE_ANCHORED)
			return re->flags & KN_PCRE_NEGATED ? inspect(x, i + 1, cursor, maxend) : 0;
		opts = PCRE2_NOTBOL;
	}
	for (;;) {
		int rc = pcre2_match(re->code, x->buf + base, x->len - base, startoff, opts, x->md,
				     x->mctx);
		size_t mend;
		int r;

		if (re->flags & KN_PCRE_NEGATED)
			return rc >= 0 ? 0 : inspect(x, i + 1, cursor, maxend);
		if (rc < 0)
			return 0;
		ov = pcre2_get_ovector_pointer(x->md);
		mend = base + ov[1];
		r = inspect(x, i + 1, mend, mend > maxend ? mend : maxend);
		if (r != 0 || !may_retry(x, i))
			return r;
		startoff = ov[0] + 1;
		if (startoff > x->len - base)
			return 0;
	}
}

static int inspect(struct insp *x, size_t i, size_t cursor, size_t maxend)
{
	const struct kn_op *op;

	if (i == x->n) {
		/* on a stream, something must end in this packet's new bytes */
		if (x->stream && maxend && maxend <= x->new_off)
			return 0;
		return 1;
	}
	if (--x->budget < 0)
		return -1;
	op = &x->ops[i];
	switch (op->type) {
	case KN_OP_CONTENT:
		return inspect_content(x, i, cursor, maxend);
	case KN_OP_PCRE:
		return inspect_pcre(x, i, cursor, maxend);
	case KN_OP_ISDATAAT: {
		const struct kn_bytes *b = &op->u.b;
		size_t at = (size_t)arg(x, b->v_offset, b->offset);
		bool ok = b->flags & KN_B_RELATIVE ? cursor + at <= x->len
						    : (int64_t)at < (int64_t)x->len + x->base;

		if (b->flags & KN_B_NEGATED)
			ok = !ok;
		return ok ? inspect(x, i + 1, cursor, maxend) : 0;
	}
	case KN_OP_BYTE_TEST: {
		const struct kn_bytes *b = &op->u.b;
		int64_t nb = nbytes_of(x, b), pos = nb < 0 ? -1 : read_pos(x, b, nb, cursor);
		uint64_t v, want = b->v_value ? x->vals[b->v_value - 1] : b->value;
		bool ok;

		if (pos < 0 || extract(b, (uint32_t)nb, x->buf + pos, &v) < 0)
			return 0;
		v = apply_mask(b, v);
		switch (b->op) {
		case KN_BT_LT: ok = v < want; break;
		case KN_BT_GT: ok = v > want; break;
		case KN_BT_EQ: ok = v == want; break;
		case KN_BT_AND: ok = (v & want) != 0; break;
		case KN_BT_OR: ok = (v ^ want) != 0; break;
		case KN_BT_LE: ok = v <= want; break;
		default: ok = v >= want; break;
		}
		if (b->flags & KN_B_NEGATED)
			ok = !ok;
		return ok ? inspect(x, i + 1, cursor, maxend) : 0;
	}
	case KN_OP_BYTE_JUMP: {
		const struct kn_bytes *b = &op->u.b;
		int64_t pos, jump;
		uint64_t v = 0;
		int used = 0;

		int64_t nb = nbytes_of(x, b);

		if (x->len == 0 || nb < 0)
			return 0;
		pos = read_pos(x, b, nb, cursor);
		if (pos < 0)
			return 0;
		if (nb) {
			used = extract(b, (uint32_t)nb, x->buf + pos, &v);
			if (used < 0)
				return 0;
		}
		v = apply_mask(b, v);
		if (v > (uint64_t)INT32_MAX)
			return 0;
		jump = (int64_t)v * b->multiplier;
		if ((b->flags & KN_B_ALIGN) && jump % 4)
			jump += 4 - jump % 4;
		jump += b->post_offset;
		if (b->flags & KN_B_BEGIN)
			jump -= x->base;
		else if (b->flags & KN_B_END)
			jump += (int64_t)x->len;
		else
			jump += pos + used;
		if (jump < 0)
			jump = 0;
		else if (jump >= (int64_t)x->len)
			return 0;
		return inspect(x, i + 1, (size_t)jump, maxend);
	}
	case KN_OP_BYTE_EXTRACT: {
		const struct kn_bytes *b = &op->u.b;
		int64_t pos;
		uint64_t v;
		int used;

		if (x->len == 0)
			return 0;
		pos = read_pos(x, b, b->nbytes, cursor);
		if (pos < 0)
			return 0;
		used = extract(b, b->nbytes, x->buf + pos, &v);
		if (used < 0)
			return 0;
		v *= b->multiplier;
		if (b->align && v % b->align)
			v += b->align - v % b->align;
		x->vals[b->var] = v;
		/* the cursor moves past what was read, as Suricata's */
		return inspect(x, i + 1, (size_t)(pos + used), maxend);
	}
	}
	return 0;
}

static bool payload_match(kn_detector *d, const struct kn_rule *r, const struct kn_packet *p)
{
	struct insp x = { .budget = KN_INSPECT_BUDGET, .md = d->md, .mctx = d->rs->mctx,
			  .ops = r->ops, .n = r->n_ops, .reference = d->reference };
	/* dsize makes a rule a packet rule, as in Suricata */
	/* dsize makes a packet rule, as in Suricata; so does the lack of a
	 * positive content or pcre here (nothing could tie a match to the
	 * new bytes, so old data would alert again with every packet) */
	bool stream = p->ip_proto == KN_IPPROTO_TCP && p->stream &&
		      !(r->flow & KN_FLOW_NO_STREAM) && !(r->tests & KN_T_DSIZE) &&
		      (r->has_content || (r->flow & KN_FLOW_ONLY_STREAM));

	if ((r->flow & KN_FLOW_ONLY_STREAM) && !stream)
		return false;
	if (stream && p->stream_new_off >= p->stream_len)
		return false;
	if (!r->n_ops)
		return true;
	if (stream) {
		x.buf = p->stream;
		x.len = p->stream_len;
		x.stream = true;
		x.new_off = p->stream_new_off;
		x.base = p->stream_off > INT32_MAX ? INT32_MAX : (int64_t)p->stream_off;
	} else {
		x.buf = suri_payload(p, &x.len);
	}
	if (!x.len || !x.buf)
		return false;
	return inspect(&x, 0, 0, 0) == 1;
}

/* ---- the prefilter and the loop ---- */

struct scan_ctx {
	kn_detector *d;
	bool record;              /* keep the pattern ids in d->hits */
};

/* The rules of fast pattern id become candidates. remembered: the
 * pattern is not in this packet's scan, only in older bytes of the window:
 * a rule whose one operation is the fast pattern's content (whole, or
 * without leading NULs: it ends where the content ends) cannot match (on
 * the stream its match must end in the new bytes, so the pattern would
 * lie in the scanned part; the payload is in it or scanned too). */
static void add_pat(kn_detector *d, uint32_t id, bool remembered)
{
	const kn_ruleset *rs = d->rs;

	for (uint32_t k = 0; k < rs->pat_n[id]; k++) {
		uint32_t r = rs->pat_rules[id][k];

		if (remembered && rs->rules[r]->fp_alone)
			continue;
		if (d->stamp[r] != d->gen) {
			d->stamp[r] = d->gen;
			d->cand[d->n_cand++] = r;
		}
	}
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct scan_ctx *sc = ctx;

	add_pat(sc->d, id, false);
	/* single match: each id once per scan */
	if (sc->record && sc->d->n_hits < sc->d->rs->n_pats)
		sc->d->hits[sc->d->n_hits++] = id;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int pclass(uint8_t proto)
{
	switch (proto) {
	case KN_IPPROTO_TCP: return KN_PC_TCP;
	case KN_IPPROTO_UDP: return KN_PC_UDP;
	case KN_IPPROTO_ICMP: return KN_PC_ICMP;
	case KN_IPPROTO_ICMPV6: return KN_PC_ICMPV6;
	default: return KN_PC_OTHER;
	}
}

static void scan(kn_detector *d, const uint8_t *buf, size_t len, bool record)
{
	struct scan_ctx sc = { d, record };

	d->n_hits = 0;
	if (!d->scratch || !buf || !len || len > UINT32_MAX)
		return;
	hs_scan(d->rs->hs_db, (const char *)buf, (unsigned int)len, 0, d->scratch, on_match, &sc);
}

/* The prefilter over a TCP packet's stream window (it has new bytes):
 * the part no earlier scan of this direction covered, and the patterns
 * those scans found that the window still holds (see the top). */
static void scan_stream(kn_detector *d, struct kn_packet *p)
{
	struct kn_fbstate *fs = p->flow && !d->reference ? flow_state(p->flow) : NULL;
	struct kn_seen *sn = fs ? &fs->seen[p->to_server ? 0 : 1] : NULL;
	uint64_t win = p->stream_off, end = win + p->stream_len;
	uint64_t from = win, keep = d->rs->max_pat_len ? d->rs->max_pat_len - 1 : 0;
	uint32_t n = 0;

	if (sn && sn->owner != d->id) {
		sn->owner = d->id;
		sn->valid = false;
	}
	if (sn && sn->valid && sn->from <= win && sn->scanned_end >= win &&
	    sn->scanned_end <= end) {
		/* a pattern ending past scanned_end starts at most keep
		 * bytes before it */
		from = sn->scanned_end - win > keep ? sn->scanned_end - keep : win;
	} else if (sn) {
		sn->valid = false;
		sn->n = 0;
	}
	scan(d, p->stream + (from - win), (size_t)(end - from), sn != NULL);
	if (!sn)
		return;
	/* the remembered patterns the window still overlaps; the ones this
	 * scan found again move to its end */
	if (++d->pgen == 0) {
		memset(d->pat_mark, 0, (d->rs->n_pats ? d->rs->n_pats : 1) * sizeof(*d->pat_mark));
		d->pgen = 1;
	}
	for (size_t k = 0; k < d->n_hits; k++)
		d->pat_mark[d->hits[k]] = d->pgen;
	for (uint32_t k = 0; k < sn->n; k++) {
		struct kn_seen_pat e = sn->e[k];

		if (e.end <= win)
			continue;
		if (d->pat_mark[e.pat] == d->pgen) {
			e.end = end;
			d->pat_mark[e.pat] = 0; /* recorded */
		} else {
			add_pat(d, e.pat, true);
		}
		sn->e[n++] = e;
	}
	sn->n = n;
	for (size_t k = 0; k < d->n_hits; k++) {
		uint32_t id = d->hits[k];

		if (d->pat_mark[id] != d->pgen)
			continue;
		if (sn->n == sn->cap) {
			uint32_t nc = sn->cap ? sn->cap * 2 : 8;
			struct kn_seen_pat *ne = nc <= KN_SEEN_MAX ?
				realloc(sn->e, nc * sizeof(*ne)) : NULL;

			if (!ne) {
				/* too many to remember: the next packet scans
				 * its whole window */
				sn->valid = false;
				sn->n = 0;
				return;
			}
			sn->e = ne;
			sn->cap = nc;
		}
		sn->e[sn->n++] = (struct kn_seen_pat){ id, end };
	}
	if (!sn->valid) {
		sn->valid = true;
		sn->from = win;
	}
	sn->scanned_end = end;
}

int kn_detect(kn_detector *d, struct kn_packet *p, kn_alert_fn alert, void *userdata)
{
	const kn_ruleset *rs;
	const uint32_t *always;
	size_t n_always, ia = 0, ic = 0;
	int pc, alerts = 0;

	if (!d || !p)
		return -EINVAL;
	if (p->family != 4 && p->family != 6)
		return 0;
	rs = d->rs;
	if (++d->gen == 0) {
		memset(d->stamp, 0, (rs->n_rules ? rs->n_rules : 1) * sizeof(*d->stamp));
		d->gen = 1;
	}
	d->n_cand = 0;
	if (p->ip_proto == KN_IPPROTO_TCP && p->stream && p->stream_new_off < p->stream_len) {
		size_t fresh = p->stream_len - p->stream_new_off;

		scan_stream(d, p);
		/* the payload too, unless it is the first of the new bytes,
		 * which the stream's scan covered (not so when some of it
		 * was old, or lost to bytes held before it) */
		if (d->reference || p->payload_len > fresh ||
		    memcmp(p->payload, p->stream + p->stream_new_off, p->payload_len) != 0)
			scan(d, p->payload, p->payload_len, false);
	} else {
		size_t len;
		const uint8_t *pl = suri_payload(p, &len);

		scan(d, pl, len, false);
	}
	if (d->n_cand > 1)
		qsort(d->cand, d->n_cand, sizeof(*d->cand), cmp_u32);
	pc = pclass(p->ip_proto);
	always = rs->always[pc];
	n_always = rs->n_always[pc];
	while (ia < n_always || ic < d->n_cand) {
		uint32_t idx;
		const struct kn_rule *r;

		if (ic >= d->n_cand || (ia < n_always && always[ia] < d->cand[ic]))
			idx = always[ia++];
		else
			idx = d->cand[ic++];
		r = rs->rules[idx];
		if (!header_match(r, p) || !tests_match(r, p) || !flowbits_match(r, p) ||
		    !payload_match(d, r, p))
			continue;
		d->counts[idx]++;
		if (flowbits_apply(r, p) < 0)
			return -ENOMEM;
		if (r->action == KN_ACTION_PASS)
			break;
		if (r->noalert)
			continue;
		if (r->threshold.type != KN_TH_NONE &&
		    !kn_threshold_check(d->th, idx, &r->threshold, p))
			continue;
		if (r->detection_filter.type != KN_TH_NONE &&
		    !kn_threshold_check(d->th, idx, &r->detection_filter, p))
			continue;
		if (alert) {
			struct kn_alert a = {
				.action = r->action, .gid = r->gid, .sid = r->sid, .rev = r->rev,
				.priority = r->priority > 0 ? (uint32_t)r->priority
					    : r->classtype ? r->classtype->priority : 3,
				.msg = r->msg,
				.classtype = r->classtype ? r->classtype->name : NULL,
				.category = r->classtype ? r->classtype->description : NULL,
			};

			alert(userdata, &a, p);
		}
		alerts++;
	}
	return alerts;
}

/* ---- guest events (events.c): one field's run of keywords ---- */

int kn_inspect_ops(const struct kn_op *ops, size_t n, const uint8_t *buf, size_t len, void *md,
		   void *mctx)
{
	struct insp x = { .budget = KN_INSPECT_BUDGET, .md = md, .mctx = mctx, .ops = ops,
			  .n = n, .buf = buf, .len = len };

	if (!buf || !len)
		return 0;
	return inspect(&x, 0, 0, 0);
}
