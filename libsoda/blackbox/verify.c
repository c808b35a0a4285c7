/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keyless verification of a store: the scanner alone. */
#include <errno.h>
#include <string.h>

#include "internal.h"

SODA_EXPORT int soda_blackbox_verify_options_init(soda_blackbox_verify_options *opts,
						  uint32_t version)
{
	if (!opts || version != SODA_BLACKBOX_VERIFY_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

SODA_EXPORT int soda_blackbox_verify(soda_blackbox_report **ret, const char *dir,
				     const soda_blackbox_verify_options *opts, unsigned int flags,
				     soda_error **error)
{
	soda_blackbox_report *rep;
	sbb_scan *scan = NULL;
	sbb_item it;
	int r;

	if (!ret || !dir)
		return su_errorf(error, -EINVAL, "no report or no store directory");
	if (flags & ~SODA_BLACKBOX_VERIFY_PARALLEL)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (opts && opts->version != SODA_BLACKBOX_VERIFY_OPTIONS_VERSION)
		return su_errorf(error, -EINVAL, "unknown verify options version %u", opts->version);
	if (opts && opts->n_anchors && !opts->anchors)
		return su_errorf(error, -EINVAL, "anchors missing");
	rep = sbb_report_new();
	if (!rep)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = sbb_scan_open(&scan, dir, flags & SODA_BLACKBOX_VERIFY_PARALLEL ? SBB_SCAN_THREAD : 0,
			  rep, error);
	if (r < 0) {
		soda_blackbox_report_free(rep);
		return r;
	}
	for (size_t i = 0; opts && i < opts->n_anchors; i++) {
		r = sbb_scan_add_anchor(scan, opts->anchors[i], error);
		if (r < 0)
			goto fail;
	}
	while ((r = sbb_scan_next(scan, &it, error)) > 0)
		;
	if (r < 0)
		goto fail;
	sbb_scan_free(scan);
	sbb_report_sort(rep);
	*ret = rep;
	return 0;
fail:
	sbb_scan_free(scan);
	soda_blackbox_report_free(rep);
	return r;
}
