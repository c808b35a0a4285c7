/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the port IDS parses from others: a TPACKET_V3 block (the kernel's;
 * bounds checked anyway), kernort's alert messages as the monitor checks
 * and turns them into the landlord's line, and the policy text.
 */
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
