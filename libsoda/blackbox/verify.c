/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keyless verification of a store: the scanner alone. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

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

SODA_EXPORT int soda_blackbox_store_read_anchor(char **ret, const char *dir, unsigned int flags,
						soda_error **error)
{
	sbb_head h;
	char hex[65];
	char *a;
	int dirfd, r;

	if (!ret || !dir)
		return su_errorf(error, -EINVAL, "no result or no store directory");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open the store %s: %m", dir);
	r = sbb_head_read(dirfd, &h);
	close(dirfd);
	if (r == -ENOENT)
		return su_errorf(error, r, "the store %s has no head yet", dir);
	if (r < 0)
		return su_errorf(error, r, "the head of the store %s is damaged", dir);
	sbb_hex(hex, h.digest, 32);
	a = su_strdup_printf("%" PRIu64 ":%" PRIu64 ":%s", h.segment, h.offset, hex);
	if (!a)
		return su_errorf(error, -ENOMEM, "out of memory");
	*ret = a;
	return 0;
}
