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

/* A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) the capture programs at the
 * TAP fill (bypass.bpf.c): its consumer page, mapped writable, and its
 * producer page and data, mapped read-only with the data twice in a row
 * so that a record that wraps reads straight on. */
struct kr_bpfring {
	unsigned long *consumer_pos;
	const unsigned long *producer_pos;
	const uint8_t *data;
	size_t size;           /* a power of two */
	size_t page;
};

/* Maps the ring buffer map @fd of @size bytes. Returns 0 or -errno. */
int kr_bpfring_map(struct kr_bpfring *r, int fd, size_t size);
void kr_bpfring_unmap(struct kr_bpfring *r);

/* Calls @fn for each record the ring holds (struct kb_rec and the
 * frame), with the frame's 802.1Q tag put back and its time made
 * CLOCK_REALTIME by @mono_to_real_ns, and hands the space back to the
 * kernel. Returns the number of frames, or -EPROTO when a record's length
 * leaves the ring (the walk stops there). Not reentrant, as
 * kr_block_walk(). */
int kr_bpfring_drain(struct kr_bpfring *r, int64_t mono_to_real_ns, kr_frame_fn fn,
		     void *userdata);

/* The walk of kr_bpfring_drain() over a copy of the ring's data: records
 * from @*cons up to @prod in @data (@size bytes, a power of two, mapped
 * twice over, or @size * 2 bytes of a test's buffer), moving @*cons.
 * For the fuzzer and the unit tests. */
int kr_bpfring_walk(const uint8_t *data, size_t size, unsigned long *cons, unsigned long prod,
		    int64_t mono_to_real_ns, kr_frame_fn fn, void *userdata);

#endif
