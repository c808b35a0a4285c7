/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built when libbpf, libmnl, clang or bpftool were missing at build time:
 * bandwidth shares are refused with a message saying why. */
#include <errno.h>
#include <string.h>

#include "shape.h"

bool su_shape_available(void)
{
	return false;
}

uint64_t su_shape_default_burst(uint64_t bps)
{
	uint64_t b = bps / 8 / 100;

	return b < 3028 ? 3028 : b;
}

void su_shape_ifb_name(const char *tap, char out[16])
{
	strncpy(out, tap, 15);
	out[15] = '\0';
}

static int unavailable(soda_error **error)
{
	return su_errorf(error, -EOPNOTSUPP,
			 "bandwidth shaping was not built (libbpf, libmnl, clang or bpftool missing)");
}

int su_shape_attach(const char *netns, const char *tap, const su_shape_rates *rates,
		    soda_error **error)
{
	(void)netns, (void)tap, (void)rates;
	return unavailable(error);
}

int su_shape_update(const char *netns, const char *tap, const su_shape_rates *rates,
		    soda_error **error)
{
	(void)netns, (void)tap, (void)rates;
	return unavailable(error);
}

int su_shape_detach(const char *netns, const char *tap, soda_error **error)
{
	(void)netns, (void)tap, (void)error;
	return 0;
}

int su_shape_counters_read(const char *netns, const char *tap, su_shape_counters *ret,
			   soda_error **error)
{
	(void)netns, (void)tap, (void)ret;
	return unavailable(error);
}
