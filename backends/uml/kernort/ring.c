/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <linux/if_packet.h>
#include <string.h>

#include "ring.h"

int kr_block_ready(const uint8_t *block)
{
	const struct tpacket_block_desc *bd = (const void *)block;

	return (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

void kr_block_release(uint8_t *block)
{
	struct tpacket_block_desc *bd = (void *)block;

	__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

/* The kernel takes an 802.1Q tag out of a received frame (the tag is in
 * the frame's header, TP_STATUS_VLAN_VALID): put back in a copy, so that
 * the decoder sees the frame as it was on the wire. Returns the copy's
 * length, or 0 when it would not fit. */
static size_t with_tag(uint8_t *out, size_t max, const uint8_t *frame, size_t len,
		       const struct tpacket3_hdr *h)
{
	uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid
				? h->hv1.tp_vlan_tpid
				: 0x8100;
	uint16_t tci = (uint16_t)h->hv1.tp_vlan_tci;

	if (len < 12 || len + 4 > max)
		return 0;
	memcpy(out, frame, 12);
	out[12] = (uint8_t)(tpid >> 8);
	out[13] = (uint8_t)tpid;
	out[14] = (uint8_t)(tci >> 8);
	out[15] = (uint8_t)tci;
	memcpy(out + 16, frame + 12, len - 12);
	return len + 4;
}

int kr_block_walk(const uint8_t *block, size_t block_size, kr_frame_fn fn, void *userdata)
{
	const struct tpacket_block_desc *bd = (const void *)block;
	const size_t hdr = sizeof(struct tpacket3_hdr);
	static uint8_t tagged[65536 + 4];
	uint32_t n, off;

	if (block_size < sizeof(*bd))
		return -EPROTO;
	n = bd->hdr.bh1.num_pkts;
	off = bd->hdr.bh1.offset_to_first_pkt;
	for (uint32_t i = 0; i < n; i++) {
		struct tpacket3_hdr h;
		const uint8_t *frame;
		size_t caplen;

		/* Copied out: the header's place need not be aligned in a
		 * test's block, and it is read once. */
		if (off < sizeof(*bd) || off > block_size || block_size - off < hdr)
			return -EPROTO;
		memcpy(&h, block + off, hdr);
		if (h.tp_mac > block_size - off || h.tp_snaplen > block_size - off - h.tp_mac)
			return -EPROTO;
		frame = block + off + h.tp_mac;
		caplen = h.tp_snaplen;
		if (h.tp_status & TP_STATUS_VLAN_VALID) {
			size_t n_tagged = with_tag(tagged, sizeof(tagged), frame, caplen, &h);

			if (n_tagged) {
				frame = tagged;
				caplen = n_tagged;
			}
		}
		fn(userdata, frame, caplen, (uint64_t)h.tp_sec * 1000000u + h.tp_nsec / 1000u);
		if (i + 1 < n) {
			if (h.tp_next_offset == 0 || h.tp_next_offset > block_size - off)
				return -EPROTO;
			off += h.tp_next_offset;
		}
	}
	return (int)n;
}
