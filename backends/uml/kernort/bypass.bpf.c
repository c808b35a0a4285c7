// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The port IDS in the kernel (soda-monitor loads it; bypass.h has the
 * maps and records).
 *
 * kn_capture_in / kn_capture_out, at the tcx ingress and egress of the
 * server's TAP (kernels with tcx, 6.6 and later): every frame the guest
 * sends or is sent goes into the ring for soda-kernort, unless its flow is
 * bypassed. This replaces a packet socket on the TAP, for which the kernel
 * clones every frame sent to the guest before any filter can look at it:
 * a bypassed flow's frames then cost a map lookup here and nothing else.
 * The programs never change a frame's fate: they return TC_ACT_UNSPEC, so
 * tc's other programs and qdiscs (the bandwidth shares) run as before.
 *
 * kn_bypass: the same bypass as a socket filter on soda-kernort's
 * AF_PACKET socket, where the kernel has no tcx.
 *
 * The bypass: a TCP segment of a flow in the flows map, without SYN, FIN
 * or RST, is not handed to kernort. A SYN or a RST also takes the flow's
 * two entries out of the map, here and at once: a new connection on the
 * same addresses and ports is inspected from its first byte, without
 * waiting for kernort to see the SYN and ask. Frames it cannot read as
 * untagged Ethernet + IPv4 (not a fragment) or IPv6 (TCP right after the
 * fixed header) + TCP are kept: only what kernort asked for is left out.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bypass.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KB_MAX_ENTRIES);
	__type(key, struct kb_key);
	__type(value, __u64);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kb_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KB_RING_SIZE);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kb_capstats);
} capstats SEC(".maps");

/* A frame longer than KB_SNAP_MEDIUM is copied here first: a ring record's
 * size must be known when the program is verified. One slot per CPU (the
 * monitor sets max_entries); a per-CPU map's values cannot be this big. */
struct kb_big {
	struct kb_rec h;
	__u8 data[KB_SNAP_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kb_big);
} scratch SEC(".maps");

/* 1 when the frame is a bypassed flow's (and counted as such), else 0. */
static __always_inline int kb_bypassed(struct __sk_buff *skb)
{
	struct kb_key k = { .proto = IPPROTO_TCP };
	__u32 off = ETH_HLEN, zero = 0;
	struct kb_totals *t;
	__be16 eth_proto;
	__u8 flags;
	__u64 *n;

	/* A tagged frame's tag is out of its bytes by now (the kernel took
	 * it into the skb): never bypassed, as kernort keys flows by VLAN. */
	if (skb->vlan_present ||
	    bpf_skb_load_bytes(skb, 12, &eth_proto, sizeof(eth_proto)) < 0)
		return 0;
	if (eth_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0 || ip.protocol != IPPROTO_TCP ||
		    ip.ihl < 5 || (ip.frag_off & bpf_htons(0x3fff)))
			return 0;
		k.family = 4;
		__builtin_memcpy(k.src, &ip.saddr, 4);
		__builtin_memcpy(k.dst, &ip.daddr, 4);
		off += ip.ihl * 4;
	} else if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0 || ip6.nexthdr != IPPROTO_TCP)
			return 0;
		k.family = 6;
		__builtin_memcpy(k.src, &ip6.saddr, 16);
		__builtin_memcpy(k.dst, &ip6.daddr, 16);
		off += sizeof(ip6);
	} else {
		return 0;
	}
	if (bpf_skb_load_bytes(skb, off, &k.sport, 4) < 0 ||
	    bpf_skb_load_bytes(skb, off + 13, &flags, 1) < 0)
		return 0;
	if (flags & (TCP_SYN | TCP_RST)) {
		struct kb_key r = { .family = k.family, .proto = k.proto, .sport = k.dport,
				    .dport = k.sport };

		__builtin_memcpy(r.src, k.dst, 16);
		__builtin_memcpy(r.dst, k.src, 16);
		bpf_map_delete_elem(&flows, &k);
		bpf_map_delete_elem(&flows, &r);
		return 0;
	}
	if (flags & TCP_FIN)
		return 0;
	n = bpf_map_lookup_elem(&flows, &k);
	if (!n)
		return 0;
	__sync_fetch_and_add(n, 1);
	t = bpf_map_lookup_elem(&totals, &zero);
	if (t) {
		t->packets++;
		t->bytes += skb->len;
	}
	return 1;
}

SEC("socket")
int kn_bypass(struct __sk_buff *skb)
{
	return kb_bypassed(skb) ? 0 : (int)skb->len;
}

static __always_inline void rec_header(struct kb_rec *h, struct __sk_buff *skb, __u32 len,
				       __u32 caplen, __u8 dir)
{
	h->ts_ns = bpf_ktime_get_ns();
	h->len = len;
	h->caplen = caplen;
	h->vlan_tci = (__u16)skb->vlan_tci;
	h->vlan_proto = (__u16)skb->vlan_proto;
	h->flags = dir | (skb->vlan_present ? KB_REC_VLAN : 0);
	h->pad[0] = h->pad[1] = h->pad[2] = 0;
}

/* kernort is woken when the ring's content crosses KB_WAKEUP_BYTES with
 * a record of @size bytes, not for every record (the kernel's default,
 * which wakes it whenever it has caught up) nor for every record past the
 * mark: a wake-up is an irq_work, an interrupt the CPU sends itself, and
 * one per frame costs more than the copy (in a VM, an exit each). kernort
 * also looks every KP_BLOCK_TIMEOUT_MS by itself, and poll() sees what is
 * there, so a crossing missed in a race costs at most that wait. */
/* A record of @size bytes takes this much of the ring, its header with it. */
#define RING_TAKES(size) ((((__u64)(size)) + 8 + 7) & ~7ull)

static __always_inline __u64 wakeup(__u64 avail_after, __u64 size)
{
	return avail_after >= KB_WAKEUP_BYTES && avail_after - RING_TAKES(size) < KB_WAKEUP_BYTES
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/* Frames up to @SNAP bytes: straight into a record of that size. */
#define CAPTURE_FIXED(SNAP)                                                              \
	do {                                                                             \
		struct {                                                                 \
			struct kb_rec h;                                                 \
			__u8 data[SNAP];                                                 \
		} *r = bpf_ringbuf_reserve(&ring, sizeof(*r), 0);                        \
                                                                                         \
		if (!r)                                                                  \
			goto full;                                                       \
		rec_header(&r->h, skb, len, len, dir);                                   \
		if (bpf_skb_load_bytes(skb, 0, r->data, len) < 0) {                      \
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);                        \
			return TC_ACT_UNSPEC;                                            \
		}                                                                        \
		/* reserved: the ring's content counts this record already */         \
		bpf_ringbuf_submit(r, wakeup(bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA), \
					     sizeof(*r)));                               \
	} while (0)

static __always_inline int capture(struct __sk_buff *skb, __u8 dir)
{
	__u32 zero = 0, len = skb->len;
	struct kb_capstats *cs = bpf_map_lookup_elem(&capstats, &zero);

	if (!cs || len < ETH_HLEN || kb_bypassed(skb))
		return TC_ACT_UNSPEC;
	if (len <= KB_SNAP_SMALL) {
		CAPTURE_FIXED(KB_SNAP_SMALL);
	} else if (len <= KB_SNAP_MEDIUM) {
		CAPTURE_FIXED(KB_SNAP_MEDIUM);
	} else {
		__u32 cpu = bpf_get_smp_processor_id(), caplen = len;
		struct kb_big *b = bpf_map_lookup_elem(&scratch, &cpu);

		if (!b)
			goto full;
		if (caplen > KB_SNAP_MAX) {
			caplen = KB_SNAP_MAX;
			cs->truncated++;
		}
		rec_header(&b->h, skb, len, caplen, dir);
		if (bpf_skb_load_bytes(skb, 0, b->data, caplen) < 0)
			return TC_ACT_UNSPEC;
		if (bpf_ringbuf_output(&ring, b, sizeof(b->h) + caplen,
				       wakeup(bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA) +
						      RING_TAKES(sizeof(b->h) + caplen),
					      sizeof(b->h) + caplen)) < 0)
			goto full;
	}
	cs->packets++;
	cs->bytes += len;
	return TC_ACT_UNSPEC;
full:
	cs->drops++;
	return TC_ACT_UNSPEC;
}

/* What the guest sends (the TAP's ingress). */
SEC("tc")
int kn_capture_in(struct __sk_buff *skb)
{
	return capture(skb, 0);
}

/* What is sent to the guest (the TAP's egress). */
SEC("tc")
int kn_capture_out(struct __sk_buff *skb)
{
	return capture(skb, KB_REC_TO_GUEST);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
