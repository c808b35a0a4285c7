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

int kr_block_walk(const uint8_t *block, size_t block_size, kr_frame_fn fn, void *userdata)
{
	const struct tpacket_block_desc *bd = (const void *)block;
	const size_t hdr = sizeof(struct tpacket3_hdr);
	uint32_t n, off;

	if (block_size < sizeof(*bd))
		return -EPROTO;
	n = bd->hdr.bh1.num_pkts;
	off = bd->hdr.bh1.offset_to_first_pkt;
	for (uint32_t i = 0; i < n; i++) {
		struct tpacket3_hdr h;
		const uint8_t *frame;

		/* Copied out: the header's place need not be aligned in a
		 * test's block, and it is read once. */
		if (off < sizeof(*bd) || off > block_size || block_size - off < hdr)
			return -EPROTO;
		memcpy(&h, block + off, hdr);
		if (h.tp_mac > block_size - off || h.tp_snaplen > block_size - off - h.tp_mac)
			return -EPROTO;
		frame = block + off + h.tp_mac;
		fn(userdata, frame, h.tp_snaplen,
		   (uint64_t)h.tp_sec * 1000000u + h.tp_nsec / 1000u);
		if (i + 1 < n) {
			if (h.tp_next_offset == 0 || h.tp_next_offset > block_size - off)
				return -EPROTO;
			off += h.tp_next_offset;
		}
	}
	return (int)n;
}
