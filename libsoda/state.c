/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* State names, shared by the library and soda-monitor. */
#include <soda/context.h>

SODA_EXPORT const char *soda_state_name(int state)
{
	switch (state) {
	case SODA_STATE_SHUTOFF:
		return "shutoff";
	case SODA_STATE_STARTING:
		return "starting";
	case SODA_STATE_RUNNING:
		return "running";
	case SODA_STATE_PAUSED:
		return "paused";
	case SODA_STATE_STOPPING:
		return "stopping";
	case SODA_STATE_CRASHED:
		return "crashed";
	default:
		return "unknown";
	}
}
