/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The flow bypass's BPF maps, shared by the socket filter
 * (bypass.bpf.c) and soda-monitor, which fills them for soda-kernort
 * (kproto.h, struct kp_bypass).
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
