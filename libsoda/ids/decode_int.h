/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort's decoder inside: what decode.c, flow.c and stream.c share.
 * Not for the detection engine (it sees packet.h only).
 */
#ifndef SODA_IDS_DECODE_INT_H
#define SODA_IDS_DECODE_INT_H

#include "decode.h"

/* Held data at 64-bit offsets, sorted, never overlapping: out-of-order TCP
 * segments and IP fragments. Insertion keeps what was there first. */
struct kn_seg {
	struct kn_seg *next;
	uint64_t off;
	uint32_t len;
	uint8_t data[];
};

struct kn_segs {
	struct kn_seg *head;
	size_t bytes;
	uint32_t count;
};

/* Inserts the bytes of [off, off + len) that no held segment covers (the
 * first data wins). *overlap tells whether any byte was already covered.
 * Returns the number of bytes inserted; -ENOBUFS (nothing inserted) when
 * the store would pass max_bytes or max_count; -ENOMEM. */
int kn_segs_insert(struct kn_segs *s, uint64_t off, const uint8_t *data, uint32_t len,
		   size_t max_bytes, uint32_t max_count, bool *overlap);
void kn_segs_clear(struct kn_segs *s);

/* One direction of a TCP stream. */
struct kn_stream_dir {
	bool started;       /* next_seq known */
	bool acked_known;
	uint32_t acked;     /* the highest ACK the receiver sent for this direction */
	uint32_t next_seq;  /* sequence number of the next in-order byte */
	uint64_t next_off;  /* its offset in the stream */
	uint8_t *buf;       /* the window: history, then the newest data */
	uint32_t len, cap;
	struct kn_segs ooo; /* held out of order, offsets >= next_off */
};

enum kn_flow_class {
	KN_FC_TCP_CLOSED,
	KN_FC_TCP_NEW,
	KN_FC_OTHER_NEW,
	KN_FC_OTHER_EST,
	KN_FC_TCP_EST,
	KN_FC_COUNT,
};

enum kn_tcp_state {
	KN_TCP_NONE,
	KN_TCP_SYN_SENT,
	KN_TCP_SYN_RECV,     /* SYN-ACK seen */
	KN_TCP_ESTABLISHED,
	KN_TCP_CLOSING,      /* FIN one way */
	KN_TCP_CLOSED,       /* RST, or FIN both ways */
};

struct kn_flow_key {
	uint8_t a[16], b[16]; /* a is the lower (address, port) end */
	uint16_t pa, pb;
	uint16_t vlan[2];
	uint8_t family, proto;
	uint8_t pad[2];
};

struct kn_flow_entry {
	struct kn_flow pub;
	struct kn_flow_key key;
	struct kn_flow_entry *hnext;          /* hash chain */
	struct kn_flow_entry *prev, *next;    /* the list of its class, oldest first */
	uint64_t last_ts;                     /* seconds */
	uint8_t cls;                          /* enum kn_flow_class */
	uint8_t tcp_state;                    /* enum kn_tcp_state */
	bool client_is_a;
	bool seen_toserver, seen_toclient;
	bool midstream;                       /* picked up without a SYN */
	bool fin_toserver, fin_toclient;
	struct kn_stream_dir dir[2];          /* [0] to server, [1] to client */
};

struct kn_frag;

struct kn_decoder {
	struct kn_decode_config cfg;
	struct kn_decode_stats st;
	uint64_t now;                          /* seconds, the newest packet's */
	uint64_t hash_key[2];

	struct kn_flow_entry **buckets;
	uint32_t bucket_mask;
	struct {
		struct kn_flow_entry *head, *tail;
	} lru[KN_FC_COUNT];
	uint64_t next_flow_id;

	struct kn_frag **fbuckets;
	uint32_t fbucket_mask;
	struct kn_frag *fhead, *ftail;        /* oldest first */
	uint32_t nfrags;
	uint8_t *reasm;                        /* a reassembled datagram */
};

uint64_t kn_hash(const uint64_t key[2], const void *data, size_t len);

/* flow.c */
int kn_flows_init(kn_decoder *d);
void kn_flows_fini(kn_decoder *d);
void kn_flows_expire(kn_decoder *d);
/* Finds or makes p's flow, sets p->flow, to_server, established; tracks
 * TCP state, then reassembles (stream.c) when the packet is sound. */
void kn_flow_packet(kn_decoder *d, struct kn_packet *p);
/* After the packet's inspection. */
void kn_flow_after(kn_decoder *d, struct kn_packet *p);

/* stream.c */
void kn_stream_packet(kn_decoder *d, struct kn_flow_entry *f, struct kn_packet *p);
void kn_stream_dir_free(kn_decoder *d, struct kn_stream_dir *s);

#endif
