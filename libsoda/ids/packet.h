/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: what the decoder hands the detection engine.
 *
 * The contract between the two halves of the IDS engine. The decoder
 * (decode.c, flow.c, stream.c: Ethernet to TCP, fragments, flows and
 * in-order TCP reassembly) fills a kn_packet for every packet it sees and
 * calls kn_detect() on it; the detection engine (rules.c, detect.c: the
 * rule language, the Vectorscan prefilter, exact evaluation, flowbits,
 * thresholds) answers with alerts through a callback. Neither half
 * includes the other's internals: this header is all they share.
 *
 * Every pointer in a kn_packet is borrowed for the duration of the
 * kn_detect() call only.
 */
#ifndef SODA_IDS_PACKET_H
#define SODA_IDS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* IP protocol numbers the rule header names (ip matches every packet). */
enum {
	KN_IPPROTO_ICMP = 1,
	KN_IPPROTO_TCP = 6,
	KN_IPPROTO_UDP = 17,
	KN_IPPROTO_ICMPV6 = 58,
};

/* TCP flag bits, as on the wire (byte 13 of the TCP header). */
enum {
	KN_TCP_FIN = 0x01,
	KN_TCP_SYN = 0x02,
	KN_TCP_RST = 0x04,
	KN_TCP_PSH = 0x08,
	KN_TCP_ACK = 0x10,
	KN_TCP_URG = 0x20,
	KN_TCP_ECE = 0x40,
	KN_TCP_CWR = 0x80,
};

/*
 * A flow (5-tuple, both directions), owned by the decoder's flow table.
 * The detection engine keeps its per-flow state (flowbits) behind
 * detect_state: it allocates it on first use and the flow table frees
 * it with kn_detect_flow_free() when the flow is evicted or ends.
 */
struct kn_flow {
	uint64_t id;           /* EVE flow_id: unique per engine, never 0 */
	void *detect_state;    /* the detection engine's, NULL until it sets it */
	uint64_t pkts_toserver, pkts_toclient;
	uint64_t bytes_toserver, bytes_toclient;
	uint32_t app_flags;    /* the application's own (0 when the flow is
	                        * made); the engine reads it only to decide
	                        * whether to call kn_decode_config.flow_end */
};

/* A flow's endpoints, client first (the flow_end callback's argument). */
struct kn_flow_tuple {
	uint8_t family;        /* 4 or 6 */
	uint8_t proto;
	uint16_t client_port, server_port;
	uint8_t client[16], server[16]; /* IPv4 in the first 4 bytes */
	uint16_t vlan[2];
};

/* One decoded packet (after IP reassembly: a reassembled datagram is one
 * packet whose `reassembled` is true). */
struct kn_packet {
	uint64_t ts_usec;          /* capture time, microseconds since the epoch */
	uint64_t pcap_cnt;         /* 1-based number in the capture; 0 live */

	const uint8_t *pkt;        /* the whole frame as captured */
	size_t pkt_len;

	uint8_t family;            /* 4 or 6; 0 when the packet is not IP */
	uint8_t src[16], dst[16];  /* IPv4 in the first 4 bytes */
	uint8_t ip_proto;          /* the transport (after IPv6 extension headers) */
	uint8_t ttl;               /* IPv4 TTL or IPv6 hop limit */
	uint16_t ip_id;            /* IPv4 identification (0 for IPv6) */
	bool reassembled;          /* built from IP fragments */
	const uint8_t *ip;         /* the IP header; ip_len covers header + payload */
	size_t ip_len;
	uint16_t vlan[2];          /* 802.1Q / QinQ ids, 0 when absent */

	uint16_t sport, dport;     /* TCP/UDP ports, 0 otherwise */
	uint8_t tcp_flags;         /* KN_TCP_* */
	uint32_t tcp_seq, tcp_ack;
	uint16_t tcp_window;
	uint8_t icmp_type, icmp_code;
	bool checksum_bad;         /* set only when checksum validation is on */

	/* The transport payload of this packet (TCP/UDP data, ICMP body after
	 * the 4-byte type/code/checksum header, or the IP payload for other
	 * protocols). dsize and packet-level content match this. */
	const uint8_t *payload;
	size_t payload_len;

	/* The flow, NULL for packets that belong to none (non-IP, or flow
	 * tracking off). Direction is relative to the flow's initiator: the
	 * side that sent the first packet (the SYN for TCP) is the client. */
	struct kn_flow *flow;
	bool to_server;
	bool established;          /* TCP: handshake seen both ways; UDP: a
	                            * packet seen in each direction */

	/* TCP only: in-order reassembled bytes of this direction, ending with
	 * the data this packet made contiguous. stream_new_off is where that
	 * new data starts within stream; stream_len - stream_new_off bytes are
	 * new (0 when the packet added nothing in order, e.g. a retransmission
	 * or an out-of-order segment held back). The window keeps at least the
	 * last KN_STREAM_WINDOW bytes before the new data, so a pattern split
	 * across segments is whole in it. NULL when there is no stream. */
	const uint8_t *stream;
	size_t stream_len;
	size_t stream_new_off;
	/* Added by the detection half: where stream[0] lies in this
	 * direction's byte stream (0 = its first byte). Absolute positions
	 * (offset, depth, startswith, isdataat, byte_* without relative)
	 * count from the stream's start, as in Suricata; 0 when unknown. */
	uint64_t stream_off;
};

#define KN_STREAM_WINDOW 4096

#endif
