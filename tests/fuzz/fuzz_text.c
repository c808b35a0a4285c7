/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the small text parsers: shares, context URIs (test
 * backend only: nothing touches the disk), mountinfo, cgroup settings,
 * names and addresses. */
#include <stdlib.h>
#include <string.h>

#include "host/cgroup.h"
#include "libsoda/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *uri;
	soda_shares *sh = NULL;
	soda_context *ctx = NULL;
	su_cg_layout layout;
	su_cg_setting set;
	soda_error *e = NULL;
	char norm[64];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (soda_shares_parse(&sh, text, &e) == 0) {
		char *again = NULL;
		soda_shares *back = NULL;

		if (soda_shares_format(&again, sh, NULL) < 0 ||
		    soda_shares_parse(&back, again, NULL) < 0)
			abort();
		soda_shares_free(back);
		free(again);
		soda_shares_free(sh);
	}
	soda_error_free(e);
	e = NULL;
	uri = malloc(size + 8);
	if (uri) {
		memcpy(uri, "test://", 7);
		memcpy(uri + 7, text, size + 1);
		if (soda_context_open(&ctx, uri, NULL, 0, &e) == 0)
			soda_context_unref(ctx);
		soda_error_free(e);
		e = NULL;
		free(uri);
	}
	if (su_cg_layout_detect(&layout, text, NULL) == 0)
		su_cg_layout_free(&layout);
	su_cg_setting_parse(text, &set);
	soda_name_check(text, &e);
	soda_error_free(e);
	e = NULL;
	su_parse_cidr(text, NULL, NULL, NULL, norm, &e);
	soda_error_free(e);
	free(text);
	return 0;
}
