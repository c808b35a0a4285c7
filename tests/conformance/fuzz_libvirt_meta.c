/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend's metadata parser (backends/libvirt/meta.c) reads
 * text from libvirt that anyone with access to the hypervisor may have
 * written. Whatever it accepts must format back to text it reads the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/libvirt/lv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *inner, *again = NULL, *again2 = NULL;
	soda_server_config *cfg = NULL, *cfg2 = NULL;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	inner = lv_meta_text(text);
	free(inner);
	if (lv_meta_parse(&cfg, "fuzz", text, NULL) == 0) {
		if (lv_meta_format(&again, cfg, NULL) < 0 ||
		    lv_meta_parse(&cfg2, "fuzz", again, NULL) < 0 ||
		    lv_meta_format(&again2, cfg2, NULL) < 0 || strcmp(again, again2) != 0)
			abort();
	}
	soda_server_config_free(cfg);
	soda_server_config_free(cfg2);
	free(again);
	free(again2);
	free(text);
	return 0;
}
