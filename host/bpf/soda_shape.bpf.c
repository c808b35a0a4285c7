// SPDX-License-Identifier: LGPL-2.1-or-later OR BSD-2-Clause
/*
 * Traffic shaping for one server's TAP (host side), as two tc classifiers in
 * direct-action mode on the TAP's clsact hooks:
 *
 *  - ingress (frames the guest sends): counted in the "out" slot, classified
 *    into HTB class 1:10 and redirected to the server's IFB, whose HTB root
 *    shapes them to the server's outbound rate;
 *  - egress (frames to the guest): counted in the "in" slot and classified
 *    into class 1:10 of the HTB root on the TAP itself, which shapes them to
 *    the inbound rate.
 *
 * One object per TAP; the IFB's ifindex is set in .rodata before loading.
 * Counters are per-CPU so the fast path takes no lock.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define SODA_DIR_OUT 0
#define SODA_DIR_IN 1
#define SODA_CLASS 0x00010010 /* HTB class 1:10 */

struct soda_counter {
	__u64 bytes;
	__u64 packets;
	__u64 drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct soda_counter);
} soda_counters SEC(".maps");

const volatile __u32 ifb_ifindex = 0;

static __always_inline void count(__u32 dir, __u32 len, int dropped)
{
	struct soda_counter *c = bpf_map_lookup_elem(&soda_counters, &dir);

	if (!c)
		return;
	if (dropped) {
		c->drops++;
		return;
	}
	c->bytes += len;
	c->packets++;
}

SEC("tc")
int soda_from_guest(struct __sk_buff *skb)
{
	long r;

	skb->priority = SODA_CLASS;
	if (!ifb_ifindex) {
		count(SODA_DIR_OUT, skb->len, 0);
		return TC_ACT_OK;
	}
	r = bpf_redirect(ifb_ifindex, 0);
	/* A failed redirect drops the frame: say so. */
	count(SODA_DIR_OUT, skb->len, r != TC_ACT_REDIRECT);
	return (int)r;
}

SEC("tc")
int soda_to_guest(struct __sk_buff *skb)
{
	skb->priority = SODA_CLASS;
	count(SODA_DIR_IN, skb->len, 0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
