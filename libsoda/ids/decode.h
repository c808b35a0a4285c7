/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: the decoder (frames in, kn_packets out).
 *
 * A kn_decoder turns captured frames into kn_packets (packet.h): link layer
 * (Ethernet, 802.1Q/QinQ, raw IP, Linux cooked), IPv4 and IPv6 with their
 * fragments reassembled, TCP/UDP/ICMP/ICMPv6, a bounded flow table, and
 * in-order TCP reassembly per direction. Every bound (flows, fragment
 * memory, out-of-order bytes, stream memory) is in kn_decode_config; time
 * is the packets' own (capture time), so a capture replays the same way
 * every time. The policies are in docs/ids.md ("Decoding", "Flows",
 * "Reassembly").
 *
 * A decoder has no global state and is used by one thread at a time;
 * several decoders run in parallel.
 */
#ifndef SODA_IDS_DECODE_H
#define SODA_IDS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

typedef struct kn_decoder kn_decoder;

/* Link layers, by what the capture says (kn_link_from_dlt maps libpcap's
 * DLT_* numbers). */
enum kn_link {
	KN_LINK_ETHERNET = 1,
	KN_LINK_RAW,   /* IPv4 or IPv6 by the version nibble (DLT_RAW) */
	KN_LINK_IPV4,
	KN_LINK_IPV6,
	KN_LINK_SLL,   /* Linux cooked capture v1 */
	KN_LINK_SLL2,  /* Linux cooked capture v2 */
};

/* Returns the kn_link of a libpcap datalink type, or -EPROTONOSUPPORT. */
int kn_link_from_dlt(int dlt);

struct kn_decode_config {
	uint32_t max_flows;            /* table size; the oldest flow makes room */
	uint32_t tcp_new_timeout;      /* seconds, handshake not complete */
	uint32_t tcp_est_timeout;
	uint32_t tcp_closed_timeout;   /* after RST or FIN both ways */
	uint32_t other_new_timeout;    /* UDP, ICMP, others: one way so far */
	uint32_t other_est_timeout;
	bool midstream;                /* TCP flows picked up without a SYN may
	                                * become established */
	bool validate_checksums;       /* bad ones: checksum_bad, no flow or
	                                * stream update */
	uint32_t frag_max_trackers;    /* datagrams being reassembled at once */
	size_t frag_memcap;            /* bytes held in fragments, all datagrams */
	uint32_t frag_timeout;         /* seconds from a datagram's first fragment */
	uint32_t frag_max_pieces;      /* fragments held per datagram */
	size_t stream_ooo_max;         /* out-of-order bytes held per direction */
	uint32_t stream_ooo_max_segs;  /* out-of-order segments held per direction */
	size_t stream_memcap;          /* stream bytes (windows and held
	                                * segments), all flows */
	bool stream_gap_without_ack;   /* give up a gap the receiver has not
	                                * acknowledged past when held data no
	                                * longer fits (evadable: off by default) */
	/* Called for a flow's detect_state when the flow ends (evicted, timed
	 * out, replaced, or the decoder freed): kn_detect_flow_free. */
	void (*flow_state_free)(void *detect_state);
	/* Called when a flow whose app_flags are not 0 ends (as above), before
	 * flow_state_free: soda-kernort ends its bypass of the flow here. */
	void (*flow_end)(void *userdata, const struct kn_flow *flow,
			 const struct kn_flow_tuple *tuple);
	void *flow_end_userdata;
};

/* Fills *cfg with the defaults (docs/ids.md lists them). */
void kn_decode_config_init(struct kn_decode_config *cfg);

/* What a decoder has seen. */
struct kn_decode_stats {
	uint64_t packets, bytes;      /* frames given to kn_decode */
	uint64_t delivered;           /* kn_packets handed to the callback */
	uint64_t ipv4, ipv6, tcp, udp, icmp, icmpv6, other_proto;
	uint64_t not_ip;              /* ARP and other non-IP frames (skipped) */
	uint64_t decode_errors;       /* malformed or truncated (skipped) */
	uint64_t checksum_bad;
	uint64_t frag_fragments;      /* fragments taken in */
	uint64_t frag_reassembled;    /* datagrams completed */
	uint64_t frag_overlaps;       /* fragments that overlapped held data */
	uint64_t frag_dropped;        /* datagrams given up (timeout, memory, size) */
	uint64_t flows;               /* flows created */
	uint64_t flows_active;
	uint64_t flows_timed_out;
	uint64_t flows_evicted;       /* pushed out by a full table */
	uint64_t tcp_retransmits;     /* segments with nothing new in order */
	uint64_t tcp_overlaps;        /* segments that overlapped held or seen data */
	uint64_t tcp_ooo_held;        /* segments held back out of order */
	uint64_t tcp_ooo_dropped;     /* segments beyond the out-of-order bounds */
	uint64_t tcp_gaps;            /* gaps skipped (data that never came) */
	uint64_t stream_memcap_drops; /* data not reassembled: stream_memcap */
	uint64_t stream_bytes;        /* bytes held now (windows, held segments) */
	uint64_t stream_bytes_peak;
	uint64_t frag_bytes;          /* bytes held now in fragments */
};

/* Returns 0 or -ENOMEM. cfg NULL: the defaults. */
int kn_decoder_new(kn_decoder **ret, const struct kn_decode_config *cfg);
/* Ends every flow (flow_state_free on each detect_state). Accepts NULL. */
void kn_decoder_free(kn_decoder *d);

/* Called for each kn_packet a frame yields (none for a held fragment, a
 * skipped frame or a malformed one). The packet and what it points to are
 * borrowed for the call only. */
typedef void (*kn_packet_fn)(void *userdata, struct kn_packet *p);

/* Decodes one frame captured at ts_usec, number pcap_cnt in its capture
 * (0 live). Returns the number of packets delivered (0 or 1), or -EINVAL
 * for an unknown link. Malformed frames are counted, never fatal. */
int kn_decode(kn_decoder *d, enum kn_link link, uint64_t ts_usec, uint64_t pcap_cnt,
	      const uint8_t *frame, size_t len, kn_packet_fn fn, void *userdata);

void kn_decoder_stats(const kn_decoder *d, struct kn_decode_stats *out);

#endif
