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

#endif
