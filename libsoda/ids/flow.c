/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort's flow table: one entry per 5-tuple (and VLAN ids), both
 * directions, at most max_flows of them.
 *
 * Flows sit in one list per class (TCP new/established/closed, other
 * new/established), oldest first, so the timeout of a class expires from
 * the head in O(1). A full table ends one flow to make room: the oldest
 * closed TCP flow, else the oldest new TCP flow, else the oldest one-way
 * flow, else the oldest established one (a flood of new flows displaces
 * itself before it displaces established ones). The hash is keyed per
 * decoder (SipHash-1-3), so a sender cannot choose colliding tuples.
 *
 * TCP: the SYN's sender is the client; SYN, SYN-ACK, ACK make it
 * established; RST, or FIN both ways, closes it; a SYN on a closed flow
 * starts a new one (a new id). A flow picked up without a SYN (midstream)
 * is tracked and reassembled from its first segment each way, but is
 * established only with the midstream option, and then at once. The
 * first packet's sender is the client, except for a SYN-ACK (its sender
 * is the server). UDP and other protocols: established once each side
 * has sent a packet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decode_int.h"

/* ---- SipHash-1-3 ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

uint64_t kn_hash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ull;
	uint64_t v1 = key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ull;
	uint64_t v3 = key[1] ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)len << 56;
	size_t i;
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m;
		memcpy(&m, in + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table ---- */

int kn_flows_init(kn_decoder *d)
{
	uint32_t n = 1;
	while (n < d->cfg.max_flows && n < (1u << 24))
		n <<= 1;
	d->buckets = calloc(n, sizeof(*d->buckets));
	if (!d->buckets)
		return -ENOMEM;
	d->bucket_mask = n - 1;
	d->next_flow_id = 1;
	return 0;
}

static uint32_t timeout_of(const kn_decoder *d, unsigned int cls)
{
	switch (cls) {
	case KN_FC_TCP_CLOSED:
		return d->cfg.tcp_closed_timeout;
	case KN_FC_TCP_NEW:
		return d->cfg.tcp_new_timeout;
	case KN_FC_OTHER_NEW:
		return d->cfg.other_new_timeout;
	case KN_FC_OTHER_EST:
		return d->cfg.other_est_timeout;
	default:
		return d->cfg.tcp_est_timeout;
	}
}

static void list_remove(kn_decoder *d, struct kn_flow_entry *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		d->lru[f->cls].head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		d->lru[f->cls].tail = f->prev;
	f->prev = f->next = NULL;
}

static void list_append(kn_decoder *d, struct kn_flow_entry *f, unsigned int cls)
{
	f->cls = (uint8_t)cls;
	f->prev = d->lru[cls].tail;
	f->next = NULL;
	if (d->lru[cls].tail)
		d->lru[cls].tail->next = f;
	else
		d->lru[cls].head = f;
	d->lru[cls].tail = f;
}

static uint32_t bucket_of(const kn_decoder *d, const struct kn_flow_key *k)
{
	return (uint32_t)kn_hash(d->hash_key, k, sizeof(*k)) & d->bucket_mask;
}

static void flow_end(kn_decoder *d, struct kn_flow_entry *f)
{
	for (struct kn_flow_entry **pp = &d->buckets[bucket_of(d, &f->key)]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == f) {
			*pp = f->hnext;
			break;
		}
	}
	list_remove(d, f);
	if (f->pub.app_flags && d->cfg.flow_end) {
		struct kn_flow_tuple t = { .family = f->key.family, .proto = f->key.proto };

		memcpy(t.client, f->client_is_a ? f->key.a : f->key.b, 16);
		memcpy(t.server, f->client_is_a ? f->key.b : f->key.a, 16);
		t.client_port = f->client_is_a ? f->key.pa : f->key.pb;
		t.server_port = f->client_is_a ? f->key.pb : f->key.pa;
		memcpy(t.vlan, f->key.vlan, sizeof(t.vlan));
		d->cfg.flow_end(d->cfg.flow_end_userdata, &f->pub, &t);
	}
	kn_stream_dir_free(d, &f->dir[0]);
	kn_stream_dir_free(d, &f->dir[1]);
	if (f->pub.detect_state && d->cfg.flow_state_free)
		d->cfg.flow_state_free(f->pub.detect_state);
	d->st.flows_active--;
	free(f);
}

void kn_flows_fini(kn_decoder *d)
{
	for (unsigned int c = 0; c < KN_FC_COUNT; c++)
		while (d->lru[c].head)
			flow_end(d, d->lru[c].head);
	free(d->buckets);
	d->buckets = NULL;
}

void kn_flows_expire(kn_decoder *d)
{
	for (unsigned int c = 0; c < KN_FC_COUNT; c++) {
		uint64_t t = timeout_of(d, c);
		while (d->lru[c].head && d->lru[c].head->last_ts + t < d->now) {
			d->st.flows_timed_out++;
			flow_end(d, d->lru[c].head);
		}
	}
}

static void evict_one(kn_decoder *d)
{
	/* The classes are declared in eviction order. */
	for (unsigned int c = 0; c < KN_FC_COUNT; c++) {
		if (d->lru[c].head) {
			d->st.flows_evicted++;
			flow_end(d, d->lru[c].head);
			return;
		}
	}
}

static unsigned int class_of(const struct kn_flow_entry *f)
{
	if (f->key.proto == KN_IPPROTO_TCP) {
		switch (f->tcp_state) {
		case KN_TCP_ESTABLISHED:
		case KN_TCP_CLOSING:
			return KN_FC_TCP_EST;
		case KN_TCP_CLOSED:
			return KN_FC_TCP_CLOSED;
		default:
			return KN_FC_TCP_NEW;
		}
	}
	return f->seen_toserver && f->seen_toclient ? KN_FC_OTHER_EST : KN_FC_OTHER_NEW;
}

static bool established(const struct kn_flow_entry *f)
{
	if (f->key.proto == KN_IPPROTO_TCP)
		return f->tcp_state == KN_TCP_ESTABLISHED || f->tcp_state == KN_TCP_CLOSING;
	return f->seen_toserver && f->seen_toclient;
}

static void tcp_track(kn_decoder *d, struct kn_flow_entry *f, const struct kn_packet *p)
{
	uint8_t fl = p->tcp_flags;
	bool syn = fl & KN_TCP_SYN, ack = fl & KN_TCP_ACK;
	if (fl & KN_TCP_RST) {
		f->tcp_state = KN_TCP_CLOSED;
		return;
	}
	if (fl & KN_TCP_FIN) {
		if (p->to_server)
			f->fin_toserver = true;
		else
			f->fin_toclient = true;
	}
	switch (f->tcp_state) {
	case KN_TCP_NONE:
		if (syn && !ack && p->to_server)
			f->tcp_state = KN_TCP_SYN_SENT;
		else if (syn && ack && !p->to_server)
			f->tcp_state = KN_TCP_SYN_RECV;
		else if (f->midstream && d->cfg.midstream)
			f->tcp_state = KN_TCP_ESTABLISHED;
		break;
	case KN_TCP_SYN_SENT:
		if (syn && ack && !p->to_server)
			f->tcp_state = KN_TCP_SYN_RECV;
		break;
	case KN_TCP_SYN_RECV:
		if (ack && !syn && p->to_server)
			f->tcp_state = KN_TCP_ESTABLISHED;
		break;
	case KN_TCP_ESTABLISHED:
		if (f->fin_toserver || f->fin_toclient)
			f->tcp_state = KN_TCP_CLOSING;
		break;
	default:
		break;
	}
	if (f->fin_toserver && f->fin_toclient)
		f->tcp_state = KN_TCP_CLOSED;
}

void kn_flow_packet(kn_decoder *d, struct kn_packet *p)
{
	if (p->family != 4 && p->family != 6)
		return;
	bool ports = p->ip_proto == KN_IPPROTO_TCP || p->ip_proto == KN_IPPROTO_UDP;
	uint16_t sp = ports ? p->sport : 0, dp = ports ? p->dport : 0;
	struct kn_flow_key k;
	memset(&k, 0, sizeof(k));
	int cmp = memcmp(p->src, p->dst, 16);
	bool src_is_a = cmp < 0 || (cmp == 0 && sp <= dp);
	memcpy(k.a, src_is_a ? p->src : p->dst, 16);
	memcpy(k.b, src_is_a ? p->dst : p->src, 16);
	k.pa = src_is_a ? sp : dp;
	k.pb = src_is_a ? dp : sp;
	k.vlan[0] = p->vlan[0];
	k.vlan[1] = p->vlan[1];
	k.family = p->family;
	k.proto = p->ip_proto;

	uint32_t h = bucket_of(d, &k);
	struct kn_flow_entry *f = d->buckets[h];
	while (f && memcmp(&f->key, &k, sizeof(k)) != 0)
		f = f->hnext;
	bool tcp = p->ip_proto == KN_IPPROTO_TCP;
	bool syn_only = tcp && (p->tcp_flags & (KN_TCP_SYN | KN_TCP_ACK | KN_TCP_RST)) == KN_TCP_SYN;
	if (f && syn_only && f->tcp_state == KN_TCP_CLOSED && !p->checksum_bad) {
		flow_end(d, f); /* the tuple used again: a new connection */
		f = NULL;
	}
	if (!f) {
		if (d->st.flows_active >= d->cfg.max_flows)
			evict_one(d);
		f = calloc(1, sizeof(*f));
		if (!f)
			return; /* no flow: the packet still goes to detection */
		f->pub.id = d->next_flow_id++;
		f->key = k;
		bool synack = tcp && (p->tcp_flags & (KN_TCP_SYN | KN_TCP_ACK)) ==
			(KN_TCP_SYN | KN_TCP_ACK);
		f->client_is_a = synack ? !src_is_a : src_is_a;
		f->midstream = tcp && !syn_only;
		f->hnext = d->buckets[h];
		d->buckets[h] = f;
		list_append(d, f, class_of(f));
		d->st.flows++;
		d->st.flows_active++;
	}
	p->flow = &f->pub;
	p->to_server = src_is_a == f->client_is_a;
	if (p->to_server) {
		f->pub.pkts_toserver++;
		f->pub.bytes_toserver += p->pkt_len;
	} else {
		f->pub.pkts_toclient++;
		f->pub.bytes_toclient += p->pkt_len;
	}
	f->last_ts = d->now;
	if (!p->checksum_bad) {
		uint8_t before = f->tcp_state;
		if (p->to_server)
			f->seen_toserver = true;
		else
			f->seen_toclient = true;
		if (tcp) {
			tcp_track(d, f, p);
			if (before != KN_TCP_CLOSED)
				kn_stream_packet(d, f, p);
		}
	}
	p->established = established(f);
	list_remove(d, f);
	list_append(d, f, class_of(f));
}

void kn_flow_after(kn_decoder *d, struct kn_packet *p)
{
	struct kn_flow_entry *f = (struct kn_flow_entry *)p->flow;
	/* A closed flow reassembles nothing more: its windows go once the
	 * packet that closed it has been inspected. */
	if (f && f->tcp_state == KN_TCP_CLOSED && (f->dir[0].cap || f->dir[1].cap ||
						    f->dir[0].ooo.head || f->dir[1].ooo.head)) {
		kn_stream_dir_free(d, &f->dir[0]);
		kn_stream_dir_free(d, &f->dir[1]);
	}
}
