/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a TPACKET_V3 receive ring: the kernel fills blocks of frames and
 * hands a block over by setting TP_STATUS_USER in its descriptor; the
 * reader walks the block's frames and gives it back (TP_STATUS_KERNEL).
 * The walk checks every offset against the block, so a corrupt block (or
 * a unit test's) ends the walk instead of reading past it.
 */
#ifndef SODA_KERNORT_RING_H
#define SODA_KERNORT_RING_H

#include <stddef.h>
#include <stdint.h>

typedef void (*kr_frame_fn)(void *userdata, const uint8_t *frame, size_t caplen,
			    uint64_t ts_usec);

/* Calls @fn for each frame of the block at @block (@block_size bytes),
 * with the 802.1Q tag the kernel took out of it (TP_STATUS_VLAN_VALID) put
 * back. Returns the number of frames, or -EPROTO when the block's own
 * offsets leave it (the frames before the bad one were delivered). Not
 * reentrant: a tagged frame is rebuilt in a static buffer. */
int kr_block_walk(const uint8_t *block, size_t block_size, kr_frame_fn fn, void *userdata);

/* True when the kernel has handed the block to the reader. */
int kr_block_ready(const uint8_t *block);
/* Gives the block back to the kernel. */
void kr_block_release(uint8_t *block);

#endif
