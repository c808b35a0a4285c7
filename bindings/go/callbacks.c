/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "callbacks.h"
#include "_cgo_export.h"

static int event_trampoline(soda_context *ctx, const soda_event *ev, void *userdata)
{
	return sodaGoEvent(ctx, (soda_event *)ev, userdata);
}

static void log_trampoline(int level, const char *message, void *userdata)
{
	sodaGoLog(level, (char *)message, userdata);
}

static int output_trampoline(const void *frame, size_t len, void *userdata)
{
	return sodaGoOutput((void *)frame, len, userdata);
}

int soda_go_add_handler(uint64_t *ret_id, soda_context *ctx, uintptr_t handle,
			soda_error **error)
{
	return soda_context_add_event_handler(ret_id, ctx, event_trampoline, (void *)handle,
					      sodaGoDestroy, 0, error);
}

void soda_go_set_log(soda_context_options *o, uintptr_t handle)
{
	o->log_fn = log_trampoline;
	o->log_userdata = (void *)handle;
}

int soda_go_writer_new(soda_blackbox_writer **ret, const soda_blackbox_key *key,
		       const soda_blackbox_writer_options *opts, uintptr_t handle,
		       soda_error **error)
{
	return soda_blackbox_writer_new(ret, key, opts, output_trampoline, (void *)handle,
					sodaGoDestroy, 0, error);
}
