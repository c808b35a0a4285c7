/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: threshold and detection_filter state, per detector.
 *
 * One entry per (rule, tracked key): the start of its time window and the
 * matches counted in it, with Suricata's rules (detect-engine-threshold):
 *   limit      alert on the first count matches of a window;
 *   threshold  alert on every count-th match within a window;
 *   both       alert once per window, at the count-th match;
 *   detection_filter  alert on every match after the count-th in a window.
 * A window starts at a match that finds none (or an expired one). Time is
 * the packets' (ts_usec). Memory is bounded: at KN_TH_MAX entries the
 * least recently used goes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

#define KN_TH_MAX 65536
#define KN_TH_BUCKETS 16384

struct th_entry {
	struct th_entry *next;             /* bucket chain */
	struct th_entry *lru_prev, *lru_next;
	uint32_t rule;
	uint8_t track, family;
	uint8_t a[16], b[16];
	uint64_t flow;
	uint64_t start;                    /* usec */
	uint32_t count;
};

struct kn_thstate {
	struct th_entry *buckets[KN_TH_BUCKETS];
	struct th_entry *lru_head, *lru_tail; /* head: most recent */
	size_t n;
};

int kn_thstate_new(struct kn_thstate **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void kn_thstate_free(struct kn_thstate *t)
{
	struct th_entry *e, *n;

	if (!t)
		return;
	for (e = t->lru_head; e; e = n) {
		n = e->lru_next;
		free(e);
	}
	free(t);
}

static uint32_t hash_key(const struct th_entry *k)
{
	uint64_t h = 0xcbf29ce484222325ull ^ k->rule;
	const uint8_t *parts[2] = { k->a, k->b };

	h = (h ^ k->track) * 0x100000001b3ull;
	h = (h ^ k->flow) * 0x100000001b3ull;
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < 16; i++)
			h = (h ^ parts[p][i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ (h >> 32)) % KN_TH_BUCKETS;
}

static bool same_key(const struct th_entry *x, const struct th_entry *y)
{
	return x->rule == y->rule && x->track == y->track && x->family == y->family &&
	       x->flow == y->flow && !memcmp(x->a, y->a, 16) && !memcmp(x->b, y->b, 16);
}

static void lru_unlink(struct kn_thstate *t, struct th_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_front(struct kn_thstate *t, struct th_entry *e)
{
	e->lru_next = t->lru_head;
	e->lru_prev = NULL;
	if (t->lru_head)
		t->lru_head->lru_prev = e;
	t->lru_head = e;
	if (!t->lru_tail)
		t->lru_tail = e;
}

static void evict_oldest(struct kn_thstate *t)
{
	struct th_entry *e = t->lru_tail, **pp;

	if (!e)
		return;
	lru_unlink(t, e);
	for (pp = &t->buckets[hash_key(e)]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	free(e);
	t->n--;
}

bool kn_threshold_check(struct kn_thstate *t, uint32_t rule, const struct kn_threshold *th,
			const struct kn_packet *p)
{
	struct th_entry key = { .rule = rule, .track = (uint8_t)th->track, .family = p->family };
	struct th_entry *e;
	uint64_t now = p->ts_usec, window = (uint64_t)th->seconds * 1000000u;
	uint32_t h;
	size_t alen = p->family == 4 ? 4 : 16;

	switch (th->track) {
	case KN_TRACK_SRC: memcpy(key.a, p->src, alen); break;
	case KN_TRACK_DST: memcpy(key.a, p->dst, alen); break;
	case KN_TRACK_BOTH: {
		/* the pair in either direction, as Suricata's by_both */
		bool swap = memcmp(p->src, p->dst, alen) > 0;

		memcpy(key.a, swap ? p->dst : p->src, alen);
		memcpy(key.b, swap ? p->src : p->dst, alen);
		break;
	}
	case KN_TRACK_FLOW: key.flow = p->flow ? p->flow->id : 0; break;
	case KN_TRACK_RULE: key.family = 0; break;
	}
	h = hash_key(&key);
	for (e = t->buckets[h]; e; e = e->next)
		if (same_key(e, &key))
			break;
	if (!e) {
		bool ok;

		if (t->n >= KN_TH_MAX)
			evict_oldest(t);
		e = malloc(sizeof(*e));
		if (!e)
			return th->type == KN_TH_LIMIT; /* no memory: limit still alerts */
		*e = key;
		e->start = now;
		e->count = 1;
		e->next = t->buckets[h];
		t->buckets[h] = e;
		lru_front(t, e);
		t->n++;
		switch (th->type) {
		case KN_TH_LIMIT: ok = true; break;
		case KN_TH_THRESHOLD:
			ok = th->count <= 1;
			if (ok)
				e->count = 0;
			break;
		case KN_TH_BOTH: ok = th->count <= 1; break;
		case KN_TH_DETECTION: ok = th->count == 0; break;
		default: ok = true; break;
		}
		return ok;
	}
	lru_unlink(t, e);
	lru_front(t, e);
	if (now < e->start || now - e->start >= window) {
		/* a new window, opened by this match */
		e->start = now;
		e->count = 1;
		switch (th->type) {
		case KN_TH_LIMIT: return true;
		case KN_TH_THRESHOLD:
			if (th->count <= 1) {
				e->count = 0;
				return true;
			}
			return false;
		case KN_TH_BOTH: return th->count <= 1;
		case KN_TH_DETECTION: return th->count == 0;
		default: return true;
		}
	}
	e->count++;
	switch (th->type) {
	case KN_TH_LIMIT: return e->count <= th->count;
	case KN_TH_THRESHOLD:
		if (e->count >= th->count) {
			e->count = 0;
			return true;
		}
		return false;
	case KN_TH_BOTH: return e->count == th->count;
	case KN_TH_DETECTION: return e->count > th->count;
	default: return true;
	}
}
