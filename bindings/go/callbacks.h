/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* C helpers of the Go binding: the library's callbacks, pointing at the Go
 * functions exported in context.go, blackbox.go and soda.go, with a cgo
 * handle as userdata (callbacks.c). */
#ifndef SODA_GO_CALLBACKS_H
#define SODA_GO_CALLBACKS_H

#include <stdint.h>
#include <soda/soda.h>
#include <soda/network.h>
#include <soda/blackbox.h>

int soda_go_add_handler(uint64_t *ret_id, soda_context *ctx, uintptr_t handle,
			soda_error **error);
void soda_go_set_log(soda_context_options *o, uintptr_t handle);
int soda_go_writer_new(soda_blackbox_writer **ret, const soda_blackbox_key *key,
		       const soda_blackbox_writer_options *opts, uintptr_t handle,
		       soda_error **error);

#endif
