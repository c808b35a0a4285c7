// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The port IDS's flow bypass: a socket filter on soda-kernort's capture
 * socket (soda-monitor attaches it). A TCP segment of a flow in the flows
 * map, without SYN, FIN or RST, is dropped here, before the kernel copies
 * it into the capture ring; everything else is kept whole. A SYN or a RST
 * also takes the flow's two entries out of the map, here and at once: a
 * new connection on the same addresses and ports is inspected from its
 * first byte, without waiting for kernort to see the SYN and ask. Frames it
 * cannot read as untagged Ethernet + IPv4 (not a fragment) or IPv6 (TCP
 * right after the fixed header) + TCP are kept: the filter only ever
 * removes what kernort asked it to.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
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

SEC("socket")
int kn_bypass(struct __sk_buff *skb)
{
	struct kb_key k = { .proto = IPPROTO_TCP };
	__u32 keep = skb->len, off = ETH_HLEN, zero = 0;
	struct kb_totals *t;
	__be16 eth_proto;
	__u8 flags;
	__u64 *n;

	/* A tagged frame's tag is out of its bytes by now (the kernel took
	 * it into the skb): never bypassed, as kernort keys flows by VLAN. */
	if (skb->vlan_present ||
	    bpf_skb_load_bytes(skb, 12, &eth_proto, sizeof(eth_proto)) < 0)
		return keep;
	if (eth_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0 || ip.protocol != IPPROTO_TCP ||
		    ip.ihl < 5 || (ip.frag_off & bpf_htons(0x3fff)))
			return keep;
		k.family = 4;
		__builtin_memcpy(k.src, &ip.saddr, 4);
		__builtin_memcpy(k.dst, &ip.daddr, 4);
		off += ip.ihl * 4;
	} else if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0 || ip6.nexthdr != IPPROTO_TCP)
			return keep;
		k.family = 6;
		__builtin_memcpy(k.src, &ip6.saddr, 16);
		__builtin_memcpy(k.dst, &ip6.daddr, 16);
		off += sizeof(ip6);
	} else {
		return keep;
	}
	if (bpf_skb_load_bytes(skb, off, &k.sport, 4) < 0 ||
	    bpf_skb_load_bytes(skb, off + 13, &flags, 1) < 0)
		return keep;
	if (flags & (TCP_SYN | TCP_RST)) {
		struct kb_key r = { .family = k.family, .proto = k.proto, .sport = k.dport,
				    .dport = k.sport };

		__builtin_memcpy(r.src, k.dst, 16);
		__builtin_memcpy(r.dst, k.src, 16);
		bpf_map_delete_elem(&flows, &k);
		bpf_map_delete_elem(&flows, &r);
		return keep;
	}
	if (flags & TCP_FIN)
		return keep;
	n = bpf_map_lookup_elem(&flows, &k);
	if (!n)
		return keep;
	__sync_fetch_and_add(n, 1);
	t = bpf_map_lookup_elem(&totals, &zero);
	if (t) {
		t->packets++;
		t->bytes += skb->len;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
