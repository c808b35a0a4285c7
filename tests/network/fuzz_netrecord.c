/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: a network's record (<state>/networks/NAME/network, state.c).
 * Whatever the bytes, parsing fails with a message or gives a record that
 * is written out and read back to the same text, whose broadcast limit is
 * in range and never a rate without a burst.
 */
#include <stdlib.h>
#include <string.h>

#include "libsoda/network/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	su_netstate st, back;
	soda_error *e = NULL;
	char *t1, *t2;

	if (su_netstate_parse(&st, (const char *)data, size, "fuzz", &e) < 0) {
		if (!e || !soda_error_message(e))
			abort();
		soda_error_free(e);
		return 0;
	}
	if (st.flood_rate > SU_FLOOD_MAX || st.flood_burst > SU_FLOOD_MAX ||
	    (st.flood_rate && !st.flood_burst))
		abort();
	t1 = su_netstate_serialize(&st);
	if (!t1 || su_netstate_parse(&back, t1, strlen(t1), "again", NULL) < 0)
		abort();
	t2 = su_netstate_serialize(&back);
	if (!t2 || strcmp(t1, t2) != 0 || back.flood_rate != st.flood_rate ||
	    back.flood_burst != st.flood_burst || back.n_ports != st.n_ports)
		abort();
	free(t1);
	free(t2);
	su_netstate_done(&back);
	su_netstate_done(&st);
	return 0;
}
