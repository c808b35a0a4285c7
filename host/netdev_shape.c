/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda_netdev_shape(): the host's traffic shaping (shape.h) for drivers
 * built outside libsoda (plugins), which see only the public API. The uml
 * backend calls shape.h directly; a plugin's TAPs get the same shaping
 * through this.
 */
#include <errno.h>

#include <soda/sys/backend.h>
#include "../libsoda/config.h"
#include "shape.h"

SODA_EXPORT int soda_netdev_shape(const char *netns, const char *ifname, const soda_shares *s,
				  unsigned int flags, soda_error **error)
{
	su_shape_rates rates = { 0 };

	if (!ifname || !ifname[0])
		return su_errorf(error, -EINVAL, "ifname is NULL or empty");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!su_shares_have_bandwidth(s))
		return su_shape_detach(netns, ifname, error);
	if (!su_shape_available())
		return su_errorf(error, -EOPNOTSUPP,
				 "bandwidth shares need traffic shaping, which this build lacks");
	soda_shares_get_bandwidth(s, SODA_DIRECTION_OUT, &rates.out_bps, &rates.out_burst);
	soda_shares_get_bandwidth(s, SODA_DIRECTION_IN, &rates.in_bps, &rates.in_burst);
	/* Replaces the shaping the interface had. */
	return su_shape_attach(netns, ifname, &rates, error);
}
