/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The port IDS's BPF maps and records, shared by bypass.bpf.c (the
 * capture programs at the TAP, or the socket filter of the AF_PACKET
 * capture on kernels without tcx), soda-monitor, which fills the flows
 * map for soda-kernort (kproto.h, struct kp_bypass), and soda-kernort,
 * which reads the ring.
 *
 * flows: one entry per bypassed TCP flow and direction, keyed by the
 * frame's own source and destination (so a flow has two entries); the
 * value counts the frames the filter dropped for it. totals: one per-CPU
 * slot of the frames and bytes it dropped in all.
 */
#ifndef SODA_KERNORT_BYPASS_H
#define SODA_KERNORT_BYPASS_H

#include <linux/types.h>

#define KB_MAX_ENTRIES 65536 /* 32,768 flows */

struct kb_key {
	__u8 family;      /* 4 or 6 */
	__u8 proto;       /* 6 */
	__u8 pad[2];
	__be16 sport, dport;
	__u8 src[16], dst[16]; /* IPv4 in the first 4 bytes, the rest 0 */
};

struct kb_totals {
	__u64 packets, bytes;
};

/* The capture at the TAP (kn_capture in bypass.bpf.c, at its tcx ingress
 * and egress): every frame that is not bypassed goes into the ring, a BPF
 * ring buffer of KB_RING_SIZE bytes soda-kernort maps and reads, as a
 * struct kb_rec and the frame's first caplen bytes. An 802.1Q tag the
 * kernel holds outside the frame's bytes is in vlan_tci/vlan_proto
 * (KB_REC_VLAN), for the reader to put back. The frame stays whole up to
 * KB_SNAP_MAX bytes (a GSO frame at egress is still one skb there). */
#define KB_RING_SIZE (32u << 20)
#define KB_WAKEUP_BYTES (256u << 10) /* the reader is woken past this */
#define KB_SNAP_SMALL 256u   /* headers: ACKs, SYNs, DNS */
#define KB_SNAP_MEDIUM 1536u /* a full Ethernet frame, QinQ included */
#define KB_SNAP_MAX (65536u + 256u) /* through a per-CPU scratch buffer */

enum { KB_REC_VLAN = 1, KB_REC_TO_GUEST = 2 };

struct kb_rec {
	__u64 ts_ns;     /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u32 len;       /* the frame's length */
	__u32 caplen;    /* its bytes that follow */
	__u16 vlan_tci, vlan_proto; /* network order proto; valid with KB_REC_VLAN */
	__u8 flags;      /* KB_REC_* */
	__u8 pad[3];
};

/* What the capture did, per CPU. */
struct kb_capstats {
	__u64 packets, bytes; /* put in the ring */
	__u64 drops;          /* the ring was full */
	__u64 truncated;      /* longer than KB_SNAP_MAX */
};

#ifndef __bpf__
#include <arpa/inet.h>
#include <string.h>

/* The flows map's two keys of a TCP flow: k[0] the client's frames, k[1]
 * the server's. Ports in host order; addresses of 16 bytes (IPv4 in the
 * first 4: the rest is zeroed here). */
static inline void kb_flow_keys(struct kb_key k[2], __u8 family, const __u8 client[16],
				const __u8 server[16], __u16 client_port, __u16 server_port)
{
	size_t alen = family == 4 ? 4 : 16;

	memset(k, 0, 2 * sizeof(*k));
	for (int i = 0; i < 2; i++) {
		k[i].family = family;
		k[i].proto = 6;
	}
	k[0].sport = k[1].dport = htons(client_port);
	k[0].dport = k[1].sport = htons(server_port);
	memcpy(k[0].src, client, alen);
	memcpy(k[0].dst, server, alen);
	memcpy(k[1].src, server, alen);
	memcpy(k[1].dst, client, alen);
}
#endif

#endif
