/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor's parser of the exec line (backends/uml/monitor/exec.c): the
 * guest's bytes, in chunks of the sizes the input chooses, against 0-16
 * running commands. Never a crash, and never more held than the windows
 * allow.
 *   input: [commands % 17] [chunk seed] [line bytes...]
 */
#include <stdint.h>
#include <stdlib.h>

#include "backends/uml/exec_proto.h"
#include "backends/uml/monitor/exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 2, chunk;

	if (size < 2)
		return 0;
	mex_test_setup(data[0] % 17);
	chunk = (size_t)data[1] * 97 + 1;
	while (pos < size) {
		size_t n = size - pos < chunk ? size - pos : chunk;

		mex_line_input(data + pos, n);
		pos += n;
		chunk = chunk * 7 % 65599 + 1;
	}
	/* The line's queue (credits) and the clients' (they take everything
	 * at once here): a few pages, whatever came. */
	if (mex_held_bytes() > 16 * (SX_WINDOW + 65536))
		abort();
	mex_test_setup(0);
	return 0;
}
