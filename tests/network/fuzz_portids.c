/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the port IDS parses from others: a TPACKET_V3 block and a BPF ring
 * buffer's records (the kernel's; bounds checked anyway), kernort's alert
 * messages as the monitor checks and turns them into the landlord's line,
 * and the policy text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/uml/kernort/ring.h"
#include "backends/uml/monitor/ids_route.h"

static void on_frame(void *userdata, const uint8_t *frame, size_t caplen, uint64_t ts_usec)
{
	volatile uint8_t sink = 0;

	(void)userdata, (void)ts_usec;
	for (size_t i = 0; i < caplen; i++)
		sink ^= frame[i];
	(void)sink;
}

/* The input as a BPF ring's data: the largest power of two of its bytes
 * (8 at least), twice in a row as the kernel maps the ring; the consumer
 * and the producer (up to two rings on) from the input's last bytes, at
 * 8-byte boundaries as the kernel keeps them. No record length may take
 * the walk out of the buffer, or the consumer back or past the producer.
 * The clocks' offset is a real one (December 2025), as kernort passes. */
static void bpfring_walk(const uint8_t *data, size_t size)
{
	size_t ring = 8;
	unsigned long cons, start, prod;
	uint32_t tail;
	uint8_t *buf;
	int n;

	if (size < 8)
		return;
	while (ring <= size / 2)
		ring *= 2;
	buf = malloc(2 * ring);
	if (!buf)
		return;
	memcpy(buf, data, ring);
	memcpy(buf + ring, data, ring);
	memcpy(&tail, data + size - 4, sizeof(tail));
	start = cons = ((unsigned long)data[size - 5] * 8) & (ring - 1);
	prod = cons + 8 * (tail % (ring / 4 + 1));
	n = kr_bpfring_walk(buf, ring, &cons, prod, 1765000000000000000, on_frame, NULL);
	if ((n < 0 && n != -EPROTO) || cons < start || cons > prod || (cons & 7))
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size + 1);
	struct mids_policy p;
	char text[64], line[1200];
	long eve;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	kr_block_walk(copy, size, on_frame, NULL);
	bpfring_walk(data, size);
	eve = kp_alert_check(copy, size);
	if (eve >= 0)
		mids_landlord_line(line, sizeof(line), (const struct kp_alert *)copy, "fuzz");
	if (kp_bypass_check(copy, size) == 0 && ((const struct kp_bypass *)copy)->family != 4 &&
	    ((const struct kp_bypass *)copy)->family != 6)
		abort(); /* the check let a bad family through */
	memcpy(text, data, size < sizeof(text) - 1 ? size : sizeof(text) - 1);
	text[size < sizeof(text) - 1 ? size : sizeof(text) - 1] = '\0';
	if (mids_policy_parse(&p, text) == 0)
		mids_route_alert(&p, size & 0xff);
	free(copy);
	return 0;
}
