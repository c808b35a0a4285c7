/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bypass.h"
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

static uint8_t tagged[KB_SNAP_MAX + 4];

/* The kernel takes an 802.1Q tag out of a received frame (the tag is in
 * the frame's header, TP_STATUS_VLAN_VALID): put back in a copy, so that
 * the decoder sees the frame as it was on the wire. Returns the copy's
 * length, or 0 when it would not fit. */
static size_t with_tag(uint8_t *out, size_t max, const uint8_t *frame, size_t len,
		       uint16_t tpid, uint16_t tci)
{
	if (!tpid)
		tpid = 0x8100;
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
			uint16_t tpid = (h.tp_status & TP_STATUS_VLAN_TPID_VALID) ? h.hv1.tp_vlan_tpid
										   : 0;
			size_t n_tagged =
				with_tag(tagged, sizeof(tagged), frame, caplen, tpid,
					 (uint16_t)h.hv1.tp_vlan_tci);

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

/* ---- the BPF ring buffer ---- */

#ifndef BPF_RINGBUF_BUSY_BIT
#define BPF_RINGBUF_BUSY_BIT (1u << 31)
#define BPF_RINGBUF_DISCARD_BIT (1u << 30)
#define BPF_RINGBUF_HDR_SZ 8u
#endif

int kr_bpfring_map(struct kr_bpfring *r, int fd, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	void *cons, *prod;

	memset(r, 0, sizeof(*r));
	if (page <= 0 || size == 0 || (size & (size - 1)))
		return -EINVAL;
	cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (cons == MAP_FAILED)
		return -errno;
	prod = mmap(NULL, (size_t)page + 2 * size, PROT_READ, MAP_SHARED, fd, page);
	if (prod == MAP_FAILED) {
		int e = -errno;

		munmap(cons, (size_t)page);
		return e;
	}
	r->consumer_pos = cons;
	r->producer_pos = prod;
	r->data = (const uint8_t *)prod + page;
	r->size = size;
	r->page = (size_t)page;
	return 0;
}

void kr_bpfring_unmap(struct kr_bpfring *r)
{
	if (r->consumer_pos)
		munmap(r->consumer_pos, r->page);
	if (r->producer_pos)
		munmap((void *)r->producer_pos, r->page + 2 * r->size);
	memset(r, 0, sizeof(*r));
}

int kr_bpfring_walk(const uint8_t *data, size_t size, unsigned long *cons, unsigned long prod,
		    int64_t mono_to_real_ns, kr_frame_fn fn, void *userdata)
{
	unsigned long pos = *cons;
	int n = 0;

	while (pos < prod) {
		const uint8_t *rec = data + (pos & (size - 1));
		uint32_t len = __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE);
		uint32_t body = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		unsigned long step;

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* being written */
		if (prod - pos < BPF_RINGBUF_HDR_SZ || body > size - BPF_RINGBUF_HDR_SZ ||
		    body > prod - pos - BPF_RINGBUF_HDR_SZ)
			return -EPROTO;
		step = (BPF_RINGBUF_HDR_SZ + body + 7) & ~7ul;
		if (!(len & BPF_RINGBUF_DISCARD_BIT) && body >= sizeof(struct kb_rec)) {
			struct kb_rec h;
			const uint8_t *frame = rec + BPF_RINGBUF_HDR_SZ + sizeof(h);
			size_t caplen;
			uint64_t ts;

			memcpy(&h, rec + BPF_RINGBUF_HDR_SZ, sizeof(h));
			caplen = h.caplen <= body - sizeof(h) ? h.caplen : body - sizeof(h);
			if (h.flags & KB_REC_VLAN) {
				size_t n_tagged = with_tag(tagged, sizeof(tagged), frame, caplen,
							   ntohs(h.vlan_proto),
							   h.vlan_tci);

				if (n_tagged) {
					frame = tagged;
					caplen = n_tagged;
				}
			}
			/* In unsigned arithmetic: a record's time is the kernel's,
			 * but the walk must not overflow on any bytes. */
			ts = h.ts_ns + (uint64_t)mono_to_real_ns;
			fn(userdata, frame, caplen, ts / 1000u);
			n++;
		}
		pos += step;
		*cons = pos;
	}
	return n;
}

int kr_bpfring_drain(struct kr_bpfring *r, int64_t mono_to_real_ns, kr_frame_fn fn,
		     void *userdata)
{
	int total = 0;

	for (;;) {
		unsigned long cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
		unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
		unsigned long start = cons;
		int n;

		if (cons >= prod)
			return total;
		n = kr_bpfring_walk(r->data, r->size, &cons, prod, mono_to_real_ns, fn, userdata);
		/* A record whose length leaves the ring (never from the
		 * kernel's own producer): all it holds now is given up, or the
		 * walk would stop there for ever. */
		if (n < 0)
			cons = prod;
		__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
		if (n < 0)
			return n;
		total += n;
		if (cons == start)
			return total; /* the next record is still being written */
	}
}
