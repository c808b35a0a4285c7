/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Compiling a policy into the elements of the kernel's sets.
 *
 * A rule between hosts (servers, groups, /32 or /128 addresses) becomes
 * exact keys of hash sets: source . destination [. protocol [. port]]; a
 * rule with an address range or a port range becomes boxes of a
 * four-field interval set (source, destination, protocol, port ranges).
 * The kernel's interval sets refuse overlapping elements, and overlaps
 * are normal in policies ("any" and a server, two prefixes), so each
 * interval set's boxes are cut into disjoint ones covering the same union
 * (by sweeping each field in turn), each counted for the earliest rule
 * that covers it. Lookups stay one hash or interval lookup per set
 * whatever the number of rules.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../config.h"
#include "net.h"

/* ---- ports ---- */

void su_port_done(su_port *p)
{
	free(p->ifname);
	free(p->server);
	free(p->mac);
	su_strv_free(p->addresses);
	su_strv_free(p->labels);
	memset(p, 0, sizeof(*p));
}

int su_port_copy(su_port *to, const su_port *from)
{
	memset(to, 0, sizeof(*to));
	to->ifname = strdup(from->ifname);
	to->server = strdup(from->server);
	to->mac = strdup(from->mac);
	to->nic = from->nic;
	to->addresses = from->addresses ? su_strv_copy(from->addresses) : NULL;
	to->labels = from->labels ? su_strv_copy(from->labels) : NULL;
	if (!to->ifname || !to->server || !to->mac || (from->addresses && !to->addresses) ||
	    (from->labels && !to->labels)) {
		su_port_done(to);
		return -ENOMEM;
	}
	return 0;
}

int su_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			 &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int su_port_to_nft(const su_port *p, su_nft_port *n)
{
	memset(n, 0, sizeof(*n));
	if (strlen(p->ifname) >= sizeof(n->ifname) || su_mac_parse(p->mac, n->mac) < 0)
		return -EINVAL;
	strcpy(n->ifname, p->ifname);
	for (size_t i = 0; p->addresses && p->addresses[i]; i++) {
		unsigned char a[16];
		int family;

		if (su_parse_cidr(p->addresses[i], &family, a, NULL, NULL, NULL) < 0)
			return -EINVAL;
		if (family == AF_INET && n->n_ip4 < SU_NFT_ADDR_MAX)
			memcpy(n->ip4[n->n_ip4++], a, 4);
		else if (family == AF_INET6 && n->n_ip6 < SU_NFT_ADDR_MAX)
			memcpy(n->ip6[n->n_ip6++], a, 16);
	}
	/* The guest's EUI-64 link-local address. */
	n->ll6[0] = 0xfe;
	n->ll6[1] = 0x80;
	n->ll6[8] = n->mac[0] ^ 0x02;
	n->ll6[9] = n->mac[1];
	n->ll6[10] = n->mac[2];
	n->ll6[11] = 0xff;
	n->ll6[12] = 0xfe;
	n->ll6[13] = n->mac[3];
	n->ll6[14] = n->mac[4];
	n->ll6[15] = n->mac[5];
	return 0;
}

/* ---- element lists ---- */

typedef struct elist {
	su_nft_elem *e;
	uint32_t *owner;
	uint64_t *hash;
	size_t n, cap;
	int err;
} elist;

_Static_assert(sizeof(su_nft_elem) == 72, "su_nft_elem is nine 64-bit words");

uint64_t su_elem_hash(const su_nft_elem *e)
{
	uint64_t w[9], h = 0x9e3779b97f4a7c15ull;

	memcpy(w, e, sizeof(w));
	for (int i = 0; i < 9; i++) {
		h ^= w[i];
		h *= 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}

uint64_t su_text_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static void elist_push(elist *l, const su_nft_elem *e, uint32_t owner, uint64_t hash)
{
	if (l->err)
		return;
	if (l->n >= SU_MODEL_ELEMS_MAX) {
		l->err = -E2BIG;
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		su_nft_elem *ne = realloc(l->e, cap * sizeof(*ne));
		uint32_t *no = ne ? realloc(l->owner, cap * sizeof(*no)) : NULL;
		uint64_t *nh = no ? realloc(l->hash, cap * sizeof(*nh)) : NULL;

		if (ne)
			l->e = ne;
		if (no)
			l->owner = no;
		if (!ne || !no || !nh) {
			l->err = -ENOMEM;
			return;
		}
		l->hash = nh;
		l->cap = cap;
	}
	l->e[l->n] = *e;
	l->owner[l->n] = owner;
	l->hash[l->n] = hash;
	l->n++;
}

static void elist_free(elist *l)
{
	free(l->e);
	free(l->owner);
	free(l->hash);
	memset(l, 0, sizeof(*l));
}

int su_elem_cmp(const su_nft_elem *a, const su_nft_elem *b)
{
	return memcmp(a, b, sizeof(*a));
}

/* The models' order: hash first. */
static int model_cmp(uint64_t ha, const su_nft_elem *a, uint64_t hb, const su_nft_elem *b)
{
	if (ha != hb)
		return ha < hb ? -1 : 1;
	return su_elem_cmp(a, b);
}

/* ---- endpoints to address ranges ---- */

typedef struct arange {
	int family;
	uint8_t lo[16], hi[16];
	bool exact;
} arange;

typedef struct alist {
	arange *a;
	size_t n, cap;
	int err;
} alist;

static void alist_push(alist *l, const arange *a)
{
	if (l->err)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(&l->a[i], a, sizeof(*a)) == 0)
			return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		arange *na = realloc(l->a, cap * sizeof(*na));

		if (!na) {
			l->err = -ENOMEM;
			return;
		}
		l->a = na;
		l->cap = cap;
	}
	l->a[l->n++] = *a;
}

static void host_range(alist *l, int family, const unsigned char *addr)
{
	arange a;

	memset(&a, 0, sizeof(a));
	a.family = family;
	memcpy(a.lo, addr, family == AF_INET ? 4 : 16);
	memcpy(a.hi, addr, family == AF_INET ? 4 : 16);
	a.exact = true;
	alist_push(l, &a);
}

static void prefix_range(alist *l, int family, const uint8_t *addr, unsigned prefix)
{
	unsigned max = family == AF_INET ? 32 : 128;
	arange a;

	memset(&a, 0, sizeof(a));
	a.family = family;
	memcpy(a.lo, addr, max / 8);
	memcpy(a.hi, addr, max / 8);
	for (unsigned bit = prefix; bit < max; bit++) {
		a.lo[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
		a.hi[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	}
	a.exact = prefix == max;
	alist_push(l, &a);
}

static bool has_label(const su_port *p, const char *label)
{
	for (size_t i = 0; p->labels && p->labels[i]; i++)
		if (strcmp(p->labels[i], label) == 0)
			return true;
	return false;
}

/* The ports with their addresses parsed, once per build. */
typedef struct pports {
	const su_port *p;
	alist *addrs; /* one per port */
	size_t n;
} pports;

static int pports_init(pports *pp, const su_port *ports, size_t n)
{
	pp->p = ports;
	pp->n = n;
	pp->addrs = n ? calloc(n, sizeof(*pp->addrs)) : NULL;
	if (n && !pp->addrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; ports[i].addresses && ports[i].addresses[k]; k++) {
			unsigned char a[16];
			int family;

			if (su_parse_cidr(ports[i].addresses[k], &family, a, NULL, NULL, NULL) == 0)
				host_range(&pp->addrs[i], family, a);
		}
		if (pp->addrs[i].err)
			return pp->addrs[i].err;
	}
	return 0;
}

static void pports_done(pports *pp)
{
	for (size_t i = 0; i < pp->n; i++)
		free(pp->addrs[i].a);
	free(pp->addrs);
	memset(pp, 0, sizeof(*pp));
}

static void push_all(alist *l, const alist *from)
{
	for (size_t i = 0; i < from->n; i++)
		alist_push(l, &from->a[i]);
}

static void expand(alist *l, const su_ep *e, const pports *pp)
{
	static const uint8_t zero[16];

	switch (e->kind) {
	case SU_EP_ANY:
		prefix_range(l, AF_INET, zero, 0);
		prefix_range(l, AF_INET6, zero, 0);
		break;
	case SU_EP_CIDR:
		prefix_range(l, e->family, e->addr, e->prefix);
		break;
	case SU_EP_SERVER:
		for (size_t i = 0; i < pp->n; i++)
			if (strcmp(pp->p[i].server, e->name) == 0)
				push_all(l, &pp->addrs[i]);
		break;
	case SU_EP_GROUP:
		for (size_t i = 0; i < pp->n; i++)
			if (has_label(&pp->p[i], e->name))
				push_all(l, &pp->addrs[i]);
		break;
	default:
		break;
	}
}

/* ---- boxes of the interval sets ---- */

/* Every field as a 16-byte big-endian number: addresses as they are (IPv4
 * in the first four bytes is fine as all IPv4 boxes share the layout),
 * protocol and port right-aligned. */
#define NDIM 4

typedef struct box {
	uint8_t lo[NDIM][16], hi[NDIM][16];
	uint32_t owner;
} box;

typedef struct blist {
	box *b;
	size_t n, cap;
	int err;
} blist;

static void blist_push(blist *l, const box *b)
{
	if (l->err)
		return;
	if (l->n >= SU_MODEL_ELEMS_MAX) {
		l->err = -E2BIG;
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		box *nb = realloc(l->b, cap * sizeof(*nb));

		if (!nb) {
			l->err = -ENOMEM;
			return;
		}
		l->b = nb;
		l->cap = cap;
	}
	l->b[l->n++] = *b;
}

static void set_u16(uint8_t v[16], uint16_t x)
{
	memset(v, 0, 16);
	v[14] = (uint8_t)(x >> 8);
	v[15] = (uint8_t)x;
}

/* v + 1; false if it overflowed (v was all ones). */
static bool inc(const uint8_t v[16], uint8_t out[16])
{
	memcpy(out, v, 16);
	for (int i = 15; i >= 0; i--)
		if (++out[i] != 0)
			return true;
	return false;
}

static void dec(const uint8_t v[16], uint8_t out[16])
{
	memcpy(out, v, 16);
	for (int i = 15; i >= 0; i--)
		if (out[i]-- != 0)
			return;
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

typedef struct boundary {
	uint8_t v[16];
} boundary;

static int cmp_box_lo(const void *a, const void *b, void *arg)
{
	int dim = *(const int *)arg;

	return memcmp(((const box *)a)->lo[dim], ((const box *)b)->lo[dim], 16);
}

static bool same_boxes(const blist *a, const blist *b)
{
	return a->n == b->n && memcmp(a->b, b->b, a->n * sizeof(box)) == 0;
}

/* Appends @group's boxes to @out with field @dim set to [lo, hi]. */
static void flush_group(blist *group, int dim, const uint8_t lo[16], const uint8_t hi[16],
			blist *out)
{
	for (size_t i = 0; i < group->n; i++) {
		box b = group->b[i];

		memcpy(b.lo[dim], lo, 16);
		memcpy(b.hi[dim], hi, 16);
		blist_push(out, &b);
	}
	free(group->b);
	memset(group, 0, sizeof(*group));
}

/* Cuts @boxes (n of them; reordered) into disjoint boxes covering their
 * union over fields dim..NDIM-1, each counted for the earliest rule
 * covering it, and appends them to @out (fields below @dim zero). */
static void decompose(box *boxes, size_t n, int dim, blist *out)
{
	boundary *pts = NULL;
	box *active = NULL, *sub_in = NULL;
	blist prev = { 0 };
	uint8_t prev_lo[16], prev_hi[16];
	bool have_prev = false;
	size_t n_pts = 0, n_active = 0, next_box = 0;

	if (out->err)
		return;
	if (dim == NDIM) {
		box b;

		memset(&b, 0, sizeof(b));
		b.owner = UINT32_MAX;
		for (size_t i = 0; i < n; i++)
			if (boxes[i].owner < b.owner)
				b.owner = boxes[i].owner;
		blist_push(out, &b);
		return;
	}
	pts = malloc(2 * n * sizeof(*pts));
	active = malloc(n * sizeof(*active));
	sub_in = malloc(n * sizeof(*sub_in));
	if (!pts || !active || !sub_in) {
		out->err = -ENOMEM;
		goto done;
	}
	/* Membership can only change where a box starts or just after one
	 * ends: those points cut the field into elementary intervals. */
	for (size_t i = 0; i < n; i++) {
		memcpy(pts[n_pts++].v, boxes[i].lo[dim], 16);
		if (inc(boxes[i].hi[dim], pts[n_pts].v))
			n_pts++;
	}
	qsort(pts, n_pts, sizeof(*pts), cmp16);
	qsort_r(boxes, n, sizeof(*boxes), cmp_box_lo, &dim);
	for (size_t k = 0; k < n_pts && !out->err; k++) {
		uint8_t hi[16];
		size_t j = 0, m = k + 1;
		blist sub = { 0 };

		if (k > 0 && memcmp(pts[k].v, pts[k - 1].v, 16) == 0)
			continue;
		/* Sweep: boxes that ended leave, boxes that start here come in. */
		for (size_t i = 0; i < n_active; i++)
			if (memcmp(active[i].hi[dim], pts[k].v, 16) >= 0)
				active[j++] = active[i];
		n_active = j;
		while (next_box < n && memcmp(boxes[next_box].lo[dim], pts[k].v, 16) <= 0)
			active[n_active++] = boxes[next_box++];
		if (!n_active)
			continue;
		while (m < n_pts && memcmp(pts[m].v, pts[k].v, 16) == 0)
			m++;
		if (m < n_pts) {
			dec(pts[m].v, hi);
		} else {
			/* No boundary left: every active box runs to the top. */
			memcpy(hi, active[0].hi[dim], 16);
		}
		memcpy(sub_in, active, n_active * sizeof(*sub_in));
		decompose(sub_in, n_active, dim + 1, &sub);
		if (sub.err) {
			out->err = sub.err;
			free(sub.b);
			break;
		}
		if (have_prev && same_boxes(&prev, &sub)) {
			uint8_t after[16];

			if (inc(prev_hi, after) && memcmp(after, pts[k].v, 16) == 0) {
				/* Adjacent and cut the same way: one interval. */
				memcpy(prev_hi, hi, 16);
				free(sub.b);
				continue;
			}
		}
		if (have_prev)
			flush_group(&prev, dim, prev_lo, prev_hi, out);
		prev = sub;
		memcpy(prev_lo, pts[k].v, 16);
		memcpy(prev_hi, hi, 16);
		have_prev = true;
	}
	if (have_prev)
		flush_group(&prev, dim, prev_lo, prev_hi, out);
done:
	free(prev.b);
	free(pts);
	free(active);
	free(sub_in);
}

/* ---- building ---- */

static uint8_t icmp_for(int family)
{
	return family == AF_INET ? 1 : 58;
}

static void exact_elem(su_nft_elem *e, unsigned kind, const arange *s, const arange *d)
{
	memset(e, 0, sizeof(*e));
	e->set = (uint8_t)SU_NFT_SET(d->family == AF_INET6 ? SU_NFT_SET_V6 : 0u, 0, kind);
	memcpy(e->src_lo, s->lo, 16);
	memcpy(e->src_hi, s->lo, 16);
	memcpy(e->dst_lo, d->lo, 16);
	memcpy(e->dst_hi, d->lo, 16);
}

/* Addresses go right-aligned into the box fields, so that +1 and -1 work
 * in IPv4's space as in IPv6's. */
static void range_box(blist *l, const arange *s, const arange *d, uint8_t plo, uint8_t phi,
		      uint16_t lo, uint16_t hi, uint32_t owner)
{
	size_t alen = d->family == AF_INET ? 4 : 16;
	box b;

	memset(&b, 0, sizeof(b));
	memcpy(b.lo[0] + 16 - alen, s->lo, alen);
	memcpy(b.hi[0] + 16 - alen, s->hi, alen);
	memcpy(b.lo[1] + 16 - alen, d->lo, alen);
	memcpy(b.hi[1] + 16 - alen, d->hi, alen);
	b.lo[2][15] = plo;
	b.hi[2][15] = phi;
	set_u16(b.lo[3], lo);
	set_u16(b.hi[3], hi);
	b.owner = owner;
	blist_push(l, &b);
}

static void rule_elems(const su_prule *r, uint32_t idx, const pports *pp, elist *exact,
		       blist ranges[2][2])
{
	alist S = { 0 }, D = { 0 };
	unsigned deny = r->deny ? 1 : 0;

	for (size_t i = 0; i < r->n_src; i++)
		expand(&S, &r->src[i], pp);
	for (size_t i = 0; i < r->n_dst; i++)
		expand(&D, &r->dst[i], pp);
	if (S.err || D.err) {
		exact->err = S.err ? S.err : D.err;
		goto out;
	}
	for (size_t i = 0; i < S.n; i++)
		for (size_t j = 0; j < D.n; j++) {
			const arange *s = &S.a[i], *d = &D.a[j];
			bool ex = s->exact && d->exact;
			int v6 = d->family == AF_INET6;
			blist *rl = &ranges[v6][deny];
			su_nft_elem e;
			uint8_t proto;

			if (s->family != d->family)
				continue;
			proto = r->proto == SU_PROTO_ICMP ? icmp_for(d->family) : (uint8_t)r->proto;
			if (r->proto == SU_PROTO_ANY) {
				if (ex) {
					exact_elem(&e, SU_NFT_KIND_ANY, s, d);
					e.set |= (uint8_t)(deny ? SU_NFT_SET_DENY : 0);
					elist_push(exact, &e, idx, su_elem_hash(&e));
				} else {
					range_box(rl, s, d, 0, 255, 0, 65535, idx);
				}
			} else if (!r->n_ports) {
				if (ex) {
					exact_elem(&e, SU_NFT_KIND_PROTO, s, d);
					e.set |= (uint8_t)(deny ? SU_NFT_SET_DENY : 0);
					e.proto_lo = e.proto_hi = proto;
					elist_push(exact, &e, idx, su_elem_hash(&e));
				} else {
					range_box(rl, s, d, proto, proto, 0, 65535, idx);
				}
			} else {
				for (size_t k = 0; k < r->n_ports; k++) {
					const su_prange *pr = &r->ports[k];

					if (ex && pr->lo == pr->hi) {
						exact_elem(&e, SU_NFT_KIND_PORT, s, d);
						e.set |= (uint8_t)(deny ? SU_NFT_SET_DENY : 0);
						e.proto_lo = e.proto_hi = proto;
						e.port_lo = e.port_hi = pr->lo;
						elist_push(exact, &e, idx, su_elem_hash(&e));
					} else {
						range_box(rl, s, d, proto, proto, pr->lo, pr->hi, idx);
					}
				}
			}
		}
out:
	free(S.a);
	free(D.a);
}

/* ---- the cache ---- */

/* One rule's compiled form: its exact elements and its boxes, owners 0. */
typedef struct rent {
	char *text;
	uint32_t seen; /* the build that last used it */
	elist exact;
	blist boxes[2][2];
} rent;

/* The table holds the hash beside the pointer: a probe reads no entry. */
typedef struct slot {
	uint64_t hash;
	rent *r; /* NULL: empty */
} slot;

/* An interval set's boxes as gathered (owners included) and what
 * decompose() made of them. */
typedef struct dent {
	box *in;
	size_t n_in;
	elist out;
	bool valid;
} dent;

struct su_compile_cache {
	size_t last_total; /* elements the last build gathered: the next one's first guess */
	char *ports_key;
	slot *tab; /* open addressing */
	size_t cap, n;
	uint32_t build;
	dent dec[2][2];
};

static void rent_free(rent *e)
{
	if (!e)
		return;
	free(e->text);
	elist_free(&e->exact);
	for (int v6 = 0; v6 < 2; v6++)
		for (int d = 0; d < 2; d++)
			free(e->boxes[v6][d].b);
	free(e);
}

static void dent_free(dent *d)
{
	free(d->in);
	elist_free(&d->out);
	memset(d, 0, sizeof(*d));
}

static void cache_clear(su_compile_cache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		rent_free(c->tab[i].r);
	free(c->tab);
	c->tab = NULL;
	c->cap = c->n = 0;
	for (int v6 = 0; v6 < 2; v6++)
		for (int d = 0; d < 2; d++)
			dent_free(&c->dec[v6][d]);
}

void su_compile_cache_free(su_compile_cache *c)
{
	if (!c)
		return;
	cache_clear(c);
	free(c->ports_key);
	free(c);
}

/* What the rules' results depend on besides the rules. */
static char *ports_key(const su_port *ports, size_t n)
{
	su_buf b = { 0 };

	for (size_t i = 0; i < n; i++) {
		su_buf_printf(&b, "%s %s %s", ports[i].ifname, ports[i].server, ports[i].mac);
		for (size_t k = 0; ports[i].addresses && ports[i].addresses[k]; k++)
			su_buf_printf(&b, " a%s", ports[i].addresses[k]);
		for (size_t k = 0; ports[i].labels && ports[i].labels[k]; k++)
			su_buf_printf(&b, " l%s", ports[i].labels[k]);
		su_buf_puts(&b, "\n");
	}
	if (!n)
		su_buf_puts(&b, "");
	return su_buf_steal(&b);
}

static slot *cache_slot(su_compile_cache *c, const char *text, uint64_t hash)
{
	size_t i = (size_t)hash & (c->cap - 1);

	while (c->tab[i].r && (c->tab[i].hash != hash || strcmp(c->tab[i].r->text, text) != 0))
		i = (i + 1) & (c->cap - 1);
	return &c->tab[i];
}

/* Moves the entries into a table of @cap slots (a power of two), dropping
 * those no build since @min_seen used, so that the cache holds about the
 * policy of the last build and the one before. */
static int cache_rebuild(su_compile_cache *c, size_t cap, uint32_t min_seen)
{
	slot *old = c->tab;
	size_t old_cap = c->cap;

	c->tab = calloc(cap, sizeof(*c->tab));
	if (!c->tab) {
		c->tab = old;
		return -ENOMEM;
	}
	c->cap = cap;
	c->n = 0;
	for (size_t i = 0; i < old_cap; i++) {
		rent *e = old[i].r;

		if (!e)
			continue;
		if (e->seen < min_seen) {
			rent_free(e);
			continue;
		}
		*cache_slot(c, e->text, old[i].hash) = old[i];
		c->n++;
	}
	free(old);
	return 0;
}

/* Room for one more entry at most half load. */
static int cache_room(su_compile_cache *c)
{
	if ((c->n + 1) * 2 <= c->cap)
		return 0;
	return cache_rebuild(c, c->cap ? c->cap * 2 : 64, c->build ? c->build - 1 : 0);
}

/* ---- a build ---- */

struct order {
	uint64_t hash;
	uint32_t idx; /* into the gathered list */
	uint32_t owner;
};

/* Sorts @o by hash: LSD radix, eight passes of a byte. Stable, so the
 * gathered order (rule by rule, owners rising) survives among equal hashes. */
static int radix_sort(struct order *o, size_t n)
{
	struct order *tmp = malloc(n * sizeof(*tmp)), *src = o, *dst = tmp;

	if (!tmp)
		return -ENOMEM;
	for (int shift = 0; shift < 64; shift += 8) {
		size_t count[256] = { 0 }, pos = 0;

		for (size_t i = 0; i < n; i++)
			count[src[i].hash >> shift & 0xff]++;
		if (count[src[0].hash >> shift & 0xff] == n)
			continue; /* every key has this byte: nothing moves */
		for (int k = 0; k < 256; k++) {
			size_t c = count[k];

			count[k] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[src[i].hash >> shift & 0xff]++] = src[i];
		struct order *t = src;

		src = dst;
		dst = t;
	}
	if (src != o)
		memcpy(o, src, n * sizeof(*o));
	free(tmp);
	return 0;
}

/* Sorts into the models' order and keeps, for each key, the earliest rule. */
static int sort_unique(elist *l)
{
	struct order *o;
	elist out = { 0 };

	if (!l->n)
		return 0;
	o = malloc(l->n * sizeof(*o));
	out.e = malloc(l->n * sizeof(*out.e));
	out.owner = malloc(l->n * sizeof(*out.owner));
	out.hash = malloc(l->n * sizeof(*out.hash));
	if (!o || !out.e || !out.owner || !out.hash) {
		free(o);
		elist_free(&out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++)
		o[i] = (struct order){ l->hash[i], (uint32_t)i, l->owner[i] };
	if (radix_sort(o, l->n) < 0) {
		free(o);
		elist_free(&out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n;) {
		size_t j = i + 1;

		while (j < l->n && o[j].hash == o[i].hash)
			j++;
		/* Equal hashes: the same key from several rules (earliest
		 * first, as gathered), or a collision, which byte order settles
		 * (an insertion sort: such runs are short). */
		for (size_t k = i + 1; k < j; k++) {
			struct order x = o[k];
			size_t m = k;

			while (m > i) {
				int c = su_elem_cmp(&l->e[o[m - 1].idx], &l->e[x.idx]);

				if (c < 0 || (c == 0 && o[m - 1].owner <= x.owner))
					break;
				o[m] = o[m - 1];
				m--;
			}
			o[m] = x;
		}
		for (size_t k = i; k < j; k++) {
			const su_nft_elem *e = &l->e[o[k].idx];

			if (k > i && su_elem_cmp(&out.e[out.n - 1], e) == 0)
				continue;
			out.e[out.n] = *e;
			out.owner[out.n] = o[k].owner;
			out.hash[out.n] = o[k].hash;
			out.n++;
		}
		i = j;
	}
	free(o);
	elist_free(l);
	out.cap = out.n;
	*l = out;
	return 0;
}

static int cmp_nft_port(const void *a, const void *b)
{
	return strcmp(((const su_nft_port *)a)->ifname, ((const su_nft_port *)b)->ifname);
}

static void blist_append(blist *to, const blist *from, uint32_t owner)
{
	for (size_t i = 0; i < from->n && !to->err; i++) {
		box b = from->b[i];

		b.owner = owner;
		blist_push(to, &b);
	}
}

/* One rule's results into the build's lists: from the cache when it has
 * them, compiled (and remembered) otherwise. */
static void gather_rule(su_compile_cache *c, const su_prule *r, uint32_t idx, const pports *pp,
			elist *all, blist ranges[2][2])
{
	slot *sl = NULL;
	rent *e = NULL;

	if (c && cache_room(c) == 0) {
		sl = cache_slot(c, r->text, r->hash);
		e = sl->r;
	}
	if (!e) {
		int err = 0;

		e = calloc(1, sizeof(*e));
		if (!e) {
			all->err = -ENOMEM;
			return;
		}
		rule_elems(r, 0, pp, &e->exact, e->boxes);
		err = e->exact.err;
		for (int v6 = 0; v6 < 2; v6++)
			for (int d = 0; d < 2; d++)
				if (e->boxes[v6][d].err)
					err = e->boxes[v6][d].err;
		if (err) {
			all->err = err;
			rent_free(e);
			return;
		}
		if (sl && (e->text = strdup(r->text))) {
			*sl = (slot){ r->hash, e };
			c->n++;
		} else {
			sl = NULL;
		}
	}
	if (c)
		e->seen = c->build;
	for (size_t i = 0; i < e->exact.n; i++)
		elist_push(all, &e->exact.e[i], idx, e->exact.hash[i]);
	for (int v6 = 0; v6 < 2; v6++)
		for (int d = 0; d < 2; d++)
			blist_append(&ranges[v6][d], &e->boxes[v6][d], idx);
	if (!sl)
		rent_free(e); /* not kept */
}

/* An interval set's boxes made disjoint, as elements: the cached result if
 * the boxes (and their owners) are the same as last time. */
static void decompose_set(su_compile_cache *c, int v6, int deny, blist *in, elist *all)
{
	dent fresh = { 0 }, *d = c ? &c->dec[v6][deny] : &fresh;
	size_t alen = v6 ? 16 : 4;
	blist out = { 0 };

	if (!(d->valid && d->n_in == in->n && memcmp(d->in, in->b, in->n * sizeof(box)) == 0)) {
		dent_free(d);
		d->in = malloc(in->n * sizeof(box));
		if (!d->in) {
			all->err = -ENOMEM;
			return;
		}
		memcpy(d->in, in->b, in->n * sizeof(box));
		d->n_in = in->n;
		/* decompose() reorders its input: it gets the build's copy. */
		decompose(in->b, in->n, 0, &out);
		for (size_t i = 0; i < out.n && !out.err; i++) {
			const box *b = &out.b[i];
			su_nft_elem e;

			memset(&e, 0, sizeof(e));
			e.set = (uint8_t)SU_NFT_SET(v6 ? SU_NFT_SET_V6 : 0u, deny, SU_NFT_KIND_RANGE);
			memcpy(e.src_lo, b->lo[0] + 16 - alen, alen);
			memcpy(e.src_hi, b->hi[0] + 16 - alen, alen);
			memcpy(e.dst_lo, b->lo[1] + 16 - alen, alen);
			memcpy(e.dst_hi, b->hi[1] + 16 - alen, alen);
			e.proto_lo = b->lo[2][15];
			e.proto_hi = b->hi[2][15];
			e.port_lo = (uint16_t)(b->lo[3][14] << 8 | b->lo[3][15]);
			e.port_hi = (uint16_t)(b->hi[3][14] << 8 | b->hi[3][15]);
			elist_push(&d->out, &e, b->owner, su_elem_hash(&e));
		}
		if (out.err || d->out.err) {
			all->err = out.err ? out.err : d->out.err;
			free(out.b);
			dent_free(d);
			return;
		}
		free(out.b);
		d->valid = true;
	}
	for (size_t i = 0; i < d->out.n; i++)
		elist_push(all, &d->out.e[i], d->out.owner[i], d->out.hash[i]);
	if (d == &fresh)
		dent_free(&fresh);
}

int su_model_build_cached(su_model *m, su_compile_cache **cache, const soda_policy *policy,
			  const su_port *ports, size_t n_ports, soda_error **error)
{
	su_compile_cache *c = cache ? *cache : NULL;
	elist all = { 0 };
	blist ranges[2][2] = { { { 0 } } };
	pports pp = { 0 };
	size_t n_rules = policy ? policy->n_rules : 0;
	char *key = NULL;
	int r = 0;

	memset(m, 0, sizeof(*m));
	if (n_ports) {
		m->ports = calloc(n_ports, sizeof(*m->ports));
		if (!m->ports)
			return su_errorf(error, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_ports; i++) {
		if (su_port_to_nft(&ports[i], &m->ports[i]) < 0) {
			su_model_free(m);
			return su_errorf(error, -EINVAL, "port %s of server %s has a bad MAC or address",
					 ports[i].ifname, ports[i].server);
		}
	}
	m->n_ports = n_ports;
	if (m->n_ports)
		qsort(m->ports, m->n_ports, sizeof(*m->ports), cmp_nft_port);
	if (cache) {
		/* A cache is for one set of ports; other ports, other results. */
		key = ports_key(ports, n_ports);
		if (!c && key)
			c = *cache = calloc(1, sizeof(*c));
		if (!key || !c) {
			free(key);
			su_model_free(m);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
		if (!su_streq(c->ports_key, key)) {
			cache_clear(c);
			free(c->ports_key);
			c->ports_key = key;
		} else {
			free(key);
		}
		c->build++;
	}
	if (c && c->last_total) {
		/* One allocation instead of a dozen doublings. */
		all.e = malloc(c->last_total * sizeof(*all.e));
		all.owner = malloc(c->last_total * sizeof(*all.owner));
		all.hash = malloc(c->last_total * sizeof(*all.hash));
		if (all.e && all.owner && all.hash)
			all.cap = c->last_total;
	}
	if (!all.err)
		all.err = pports_init(&pp, ports, n_ports);
	for (size_t i = 0; i < n_rules && !all.err; i++)
		gather_rule(c, &policy->rules[i], (uint32_t)i, &pp, &all, ranges);
	for (int v6 = 0; v6 < 2 && !all.err; v6++)
		for (int deny = 0; deny < 2 && !all.err; deny++) {
			blist *in = &ranges[v6][deny];

			if (in->err)
				all.err = in->err;
			else if (in->n)
				decompose_set(c, v6, deny, in, &all);
			else if (c)
				dent_free(&c->dec[v6][deny]);
		}
	for (int v6 = 0; v6 < 2; v6++)
		for (int deny = 0; deny < 2; deny++)
			free(ranges[v6][deny].b);
	pports_done(&pp);
	if (c)
		c->last_total = all.n + all.n / 16 + 16;
	/* Rules of older policies go once they outnumber this one's. */
	if (c && !all.err && c->n > 2 * n_rules + 64) {
		size_t cap = 64;

		while (cap < 2 * (n_rules + 1))
			cap *= 2;
		cache_rebuild(c, cap, c->build);
	}
	if (!all.err)
		all.err = sort_unique(&all);
	if (all.err) {
		r = all.err;
		elist_free(&all);
		su_model_free(m);
		if (c)
			/* Whatever it half holds is right, but keep it small. */
			cache_clear(c);
		if (r == -E2BIG)
			return su_errorf(error, r,
					 "the policy compiles to more than %u set elements; use "
					 "groups and fewer address ranges",
					 SU_MODEL_ELEMS_MAX);
		return su_errorf(error, r, "out of memory compiling the policy");
	}
	m->elems = all.e;
	m->owner = all.owner;
	m->hash = all.hash;
	m->n_elems = all.n;
	return 0;
}

int su_model_build(su_model *m, const soda_policy *policy, const su_port *ports, size_t n_ports,
		   soda_error **error)
{
	return su_model_build_cached(m, NULL, policy, ports, n_ports, error);
}

void su_model_free(su_model *m)
{
	free(m->ports);
	free(m->elems);
	free(m->owner);
	free(m->hash);
	memset(m, 0, sizeof(*m));
}

ssize_t su_model_find(const su_model *m, const su_nft_elem *e)
{
	uint64_t h = su_elem_hash(e);
	size_t lo = 0, hi = m->n_elems;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = model_cmp(m->hash[mid], &m->elems[mid], h, e);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool port_equal(const su_nft_port *a, const su_nft_port *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

void su_delta_free(su_nft_delta *d)
{
	free((void *)d->elem_add);
	free((void *)d->elem_del);
	free((void *)d->port_add);
	free((void *)d->port_del);
	memset(d, 0, sizeof(*d));
}

int su_model_diff(const su_model *old, const su_model *new, su_nft_delta *d)
{
	su_nft_elem *add = NULL, *del = NULL;
	su_nft_port *padd = NULL, *pdel = NULL;
	size_t na = 0, nd = 0, npa = 0, npd = 0, i = 0, j = 0;

	memset(d, 0, sizeof(*d));
	add = malloc((new->n_elems + 1) * sizeof(*add));
	del = malloc((old->n_elems + 1) * sizeof(*del));
	padd = malloc((new->n_ports + 1) * sizeof(*padd));
	pdel = malloc((old->n_ports + 1) * sizeof(*pdel));
	if (!add || !del || !padd || !pdel) {
		free(add);
		free(del);
		free(padd);
		free(pdel);
		return -ENOMEM;
	}
	/* Both lists are sorted: one merge walk. */
	while (i < old->n_elems || j < new->n_elems) {
		int c = i >= old->n_elems ? 1
			: j >= new->n_elems ? -1
					    : model_cmp(old->hash[i], &old->elems[i], new->hash[j],
							&new->elems[j]);

		if (c < 0)
			del[nd++] = old->elems[i++];
		else if (c > 0)
			add[na++] = new->elems[j++];
		else
			i++, j++;
	}
	i = j = 0;
	while (i < old->n_ports || j < new->n_ports) {
		int c = i >= old->n_ports ? 1
			: j >= new->n_ports ? -1
					    : strcmp(old->ports[i].ifname, new->ports[j].ifname);

		if (c < 0) {
			pdel[npd++] = old->ports[i++];
		} else if (c > 0) {
			padd[npa++] = new->ports[j++];
		} else {
			/* Changed ports are replaced. */
			if (!port_equal(&old->ports[i], &new->ports[j])) {
				pdel[npd++] = old->ports[i];
				padd[npa++] = new->ports[j];
			}
			i++, j++;
		}
	}
	d->elem_add = add;
	d->n_elem_add = na;
	d->elem_del = del;
	d->n_elem_del = nd;
	d->port_add = padd;
	d->n_port_add = npa;
	d->port_del = pdel;
	d->n_port_del = npd;
	return 0;
}

/* ---- text ---- */

static const char *set_label(unsigned set)
{
	static const char *const kinds[] = { "port", "proto", "any", "range" };
	static char buf[SU_NFT_SETS][24];
	static bool init;

	if (!init) {
		for (unsigned s = 0; s < SU_NFT_SETS; s++)
			snprintf(buf[s], sizeof(buf[s]), "%s%c-%s",
				 s & SU_NFT_SET_DENY ? "deny" : "allow", s & SU_NFT_SET_V6 ? '6' : '4',
				 kinds[SU_NFT_SET_KIND(s)]);
		init = true;
	}
	return set < SU_NFT_SETS ? buf[set] : "?";
}

static void put_addr(su_buf *b, int family, const uint8_t *lo, const uint8_t *hi)
{
	char a[INET6_ADDRSTRLEN], z[INET6_ADDRSTRLEN];

	inet_ntop(family, lo, a, sizeof(a));
	if (memcmp(lo, hi, family == AF_INET ? 4 : 16) == 0) {
		su_buf_puts(b, a);
		return;
	}
	inet_ntop(family, hi, z, sizeof(z));
	su_buf_printf(b, "%s-%s", a, z);
}

static int cmp_elem_ptr(const void *a, const void *b)
{
	return su_elem_cmp(*(const su_nft_elem *const *)a, *(const su_nft_elem *const *)b);
}

char *su_model_format(const su_model *m)
{
	const su_nft_elem **sorted = malloc((m->n_elems + 1) * sizeof(*sorted));
	su_buf b = { 0 };

	if (!sorted)
		return NULL;
	/* In byte order, which reads well: sets, then addresses. */
	for (size_t i = 0; i < m->n_elems; i++)
		sorted[i] = &m->elems[i];
	qsort(sorted, m->n_elems, sizeof(*sorted), cmp_elem_ptr);
	for (size_t k = 0; k < m->n_elems; k++) {
		const su_nft_elem *e = sorted[k];
		size_t i = (size_t)(e - m->elems);
		int family = e->set & SU_NFT_SET_V6 ? AF_INET6 : AF_INET;
		unsigned kind = SU_NFT_SET_KIND(e->set);

		su_buf_printf(&b, "%s ", set_label(e->set));
		put_addr(&b, family, e->src_lo, e->src_hi);
		su_buf_puts(&b, " . ");
		put_addr(&b, family, e->dst_lo, e->dst_hi);
		if (kind != SU_NFT_KIND_ANY) {
			if (e->proto_lo == e->proto_hi)
				su_buf_printf(&b, " . %u", e->proto_lo);
			else
				su_buf_printf(&b, " . %u-%u", e->proto_lo, e->proto_hi);
		}
		if (kind == SU_NFT_KIND_PORT || kind == SU_NFT_KIND_RANGE) {
			if (e->port_lo == e->port_hi)
				su_buf_printf(&b, " . %u", e->port_lo);
			else
				su_buf_printf(&b, " . %u-%u", e->port_lo, e->port_hi);
		}
		su_buf_printf(&b, " rule %u\n", m->owner[i] + 1);
	}
	free(sorted);
	return su_buf_steal(&b);
}
