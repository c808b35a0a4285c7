/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the record-file parsers (server configuration, run status,
 * launch spec) on any bytes. */
#include <stdlib.h>
#include <string.h>

#include "libsoda/config.h"
#include "libsoda/kv.h"
#include "backends/uml/proto.h"

static int any(const char *key, const char *value, uint32_t line, void *userdata)
{
	(void)userdata;
	return strlen(key) + strlen(value) + line > 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	soda_server_config *cfg = NULL;
	su_status st;
	su_launch l;
	soda_error *e = NULL;

	su_kv_parse(text, size, "fuzz", "soda-server", 1, NULL, any, NULL, &e);
	soda_error_free(e);
	e = NULL;
	if (su_config_parse(&cfg, text, size, "fuzz", &e) == 0) {
		/* What parses must serialise and parse back the same. */
		char *again = su_config_serialize(cfg);
		soda_server_config *back = NULL;

		if (!again || su_config_parse(&back, again, strlen(again), "again", NULL) < 0)
			abort();
		soda_server_config_free(back);
		free(again);
		soda_server_config_free(cfg);
	}
	soda_error_free(e);
	e = NULL;
	if (su_status_parse(&st, text, size, "fuzz", &e) == 0)
		su_status_done(&st);
	soda_error_free(e);
	e = NULL;
	if (su_launch_parse(&l, text, size, "fuzz", &e) == 0)
		su_launch_free(&l);
	soda_error_free(e);
	return 0;
}
