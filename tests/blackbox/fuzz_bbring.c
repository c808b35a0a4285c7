/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the ring header a producer of /dev/blackbox.ring controls.
 * Input: head (8 bytes), tail (8), max (4), a size exponent (1), then the
 * ring's contents. bbring_take() must refuse or take at most max bytes,
 * exactly the ring's bytes in order from the tail, and never read or
 * write outside the ring and the output.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/uml/guest/bbring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct bbring_hdr h = { 0 };
	uint64_t tail, tail0;
	uint32_t max, size;
	uint8_t *ring, *out;
	long n;

	if (len < 21)
		return 0;
	memcpy(&h.head, data, 8);
	memcpy(&tail, data + 8, 8);
	memcpy(&max, data + 16, 4);
	size = 1u << (data[20] % 13); /* up to 4 KiB */
	max %= 2 * size + 1;
	ring = calloc(1, size);
	out = malloc(max + 1);
	if (!ring || !out)
		abort();
	memcpy(ring, data + 21, len - 21 < size ? len - 21 : size);
	tail0 = tail;
	n = bbring_take(&h, ring, size, &tail, out, max);
	if (n == -EPROTO) {
		if (tail != tail0 || h.head - tail0 <= size)
			abort();
	} else {
		if (n < 0 || (size_t)n > max || tail != tail0 + (uint64_t)n || h.head - tail0 > size)
			abort();
		for (long i = 0; i < n; i++)
			if (out[i] != ring[(tail0 + (uint64_t)i) & (size - 1)])
				abort();
	}
	free(ring);
	free(out);
	return 0;
}
