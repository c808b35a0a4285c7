/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: Kernort's decoder, flow table and TCP reassembly on a
 * sequence of frames a sender controls.
 * Input: link (1 byte), options (1 byte: bit 0 checksums, bit 1 midstream,
 * bit 2 tight bounds), then records of length (2 bytes, big-endian),
 * seconds since the previous frame (1 byte) and the frame.
 * Every packet delivered must lie within its frame or the decoder's own
 * buffers (ASan checks each byte read below), keep its stream window
 * consistent, and the bounds must hold after every frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libsoda/ids/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void check(void *userdata, struct kn_packet *p)
{
	volatile uint8_t sink = 0;
	if (p->stream_new_off > p->stream_len || (p->stream_len && !p->stream) ||
	    (p->payload_len && !p->payload) || p->ip_len > 65535 + 60 ||
	    (p->flow && p->flow->id == 0))
		abort();
	for (size_t i = 0; i < p->payload_len; i++)
		sink ^= p->payload[i];
	for (size_t i = 0; i < p->stream_len; i++)
		sink ^= p->stream[i];
	for (size_t i = 0; i < p->ip_len; i++)
		sink ^= p->ip[i];
	(void)sink;
	(*(uint64_t *)userdata)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 2)
		return 0;
	struct kn_decode_config cfg;
	kn_decode_config_init(&cfg);
	cfg.validate_checksums = data[1] & 1;
	cfg.midstream = data[1] & 2;
	if (data[1] & 4) {
		cfg.max_flows = 4;
		cfg.frag_max_trackers = 4;
		cfg.frag_memcap = 4096;
		cfg.frag_max_pieces = 8;
		cfg.stream_ooo_max = 2048;
		cfg.stream_ooo_max_segs = 4;
		cfg.stream_memcap = 32768;
	}
	enum kn_link link = (enum kn_link)(KN_LINK_ETHERNET + data[0] % 6);
	kn_decoder *d = NULL;
	if (kn_decoder_new(&d, &cfg) < 0)
		return 0;
	uint64_t ts = 1000000, delivered = 0, cnt = 0;
	size_t off = 2;
	while (off + 3 <= len) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		ts += (uint64_t)data[off + 2] * 1000000;
		off += 3;
		if (n > len - off)
			n = len - off;
		/* A copy of its own size, so a read past the frame is caught. */
		uint8_t *frame = malloc(n ? n : 1);
		if (!frame)
			break;
		memcpy(frame, data + off, n);
		kn_decode(d, link, ts, ++cnt, frame, n, check, &delivered);
		free(frame);
		off += n;
		struct kn_decode_stats st;
		kn_decoder_stats(d, &st);
		if (st.flows_active > cfg.max_flows || st.frag_bytes > cfg.frag_memcap ||
		    st.stream_bytes > cfg.stream_memcap || st.delivered != delivered)
			abort();
	}
	kn_decoder_free(d);
	return 0;
}
