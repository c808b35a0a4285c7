/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* soda-monitor's parser of the guest agent's Kernort lines (ids_guest.h):
 * any bytes a guest writes on its agent line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/uml/monitor/ids_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct midg_alert a;
	char json[600];

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (midg_parse(line, &a) == 0 &&
	    midg_json(json, sizeof(json), &a, (uint64_t)size * 1000003u, line) < 0)
		abort(); /* a parsed line always fits */
	free(line);
	return 0;
}
