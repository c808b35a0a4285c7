/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* soda_blackbox_writer_*: the public face of writer.c for programs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "writer.h"

struct soda_blackbox_writer {
	sbw_writer *w;
	soda_blackbox_output_fn out;
	void *userdata;
	soda_destroy_fn destroy;
	char stream[33];
};

static int out_cb(const void *frame, size_t len, void *userdata)
{
	soda_blackbox_writer *pw = userdata;

	return pw->out(frame, len, pw->userdata);
}

SODA_EXPORT int soda_blackbox_writer_options_init(soda_blackbox_writer_options *opts,
						  uint32_t version)
{
	if (!opts || version != SODA_BLACKBOX_WRITER_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

SODA_EXPORT int soda_blackbox_writer_new(soda_blackbox_writer **ret,
					 const soda_blackbox_key *tenant_key,
					 const soda_blackbox_writer_options *opts,
					 soda_blackbox_output_fn out, void *userdata,
					 soda_destroy_fn destroy, unsigned int flags,
					 soda_error **error)
{
	soda_blackbox_writer *pw;
	sbw_options wo = { 0 };
	const uint8_t *pk = sbb_key_box_public(tenant_key);
	int r;

	if (!ret || !out)
		return su_errorf(error, -EINVAL, "no writer or no output");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!pk || soda_blackbox_key_get_type(tenant_key) != SODA_BLACKBOX_KEY_TENANT)
		return su_errorf(error, -EINVAL, "a writer needs a tenant key");
	if (opts) {
		if (opts->version != SODA_BLACKBOX_WRITER_OPTIONS_VERSION)
			return su_errorf(error, -EINVAL, "unknown writer options version %u", opts->version);
		if (opts->label && strlen(opts->label) > SBX_LABEL_BYTES)
			return su_errorf(error, -EINVAL, "label '%s' is longer than %d bytes", opts->label,
					 SBX_LABEL_BYTES);
		wo.heartbeat_ms = opts->heartbeat_ms == UINT32_MAX ? SBW_DISABLED : opts->heartbeat_ms;
		wo.rekey_ms = opts->rekey_ms;
		wo.rekey_bytes = opts->rekey_bytes;
		wo.label = opts->label;
	}
	pw = calloc(1, sizeof(*pw));
	if (!pw)
		return su_errorf(error, -ENOMEM, "out of memory");
	pw->out = out;
	pw->userdata = userdata;
	r = sbw_new(&pw->w, pk, &wo, out_cb, pw);
	if (r < 0) {
		free(pw);
		return su_errorf(error, r, "cannot create the writer: %s", strerror(-r));
	}
	pw->destroy = destroy;
	sbb_hex(pw->stream, sbw_stream_id(pw->w), 16);
	*ret = pw;
	return 0;
}

SODA_EXPORT int soda_blackbox_writer_append(soda_blackbox_writer *pw, uint32_t type, uint32_t aux,
					    const void *data, size_t len, uint64_t realtime_usec,
					    uint64_t mono_usec, unsigned int flags,
					    soda_error **error)
{
	int r;

	if (!pw || (len && !data))
		return su_errorf(error, -EINVAL, "no writer or no data");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (type == 0 || type > SODA_BLACKBOX_TYPE_MAX || type == SODA_BLACKBOX_HEARTBEAT ||
	    type == SODA_BLACKBOX_END || type == SODA_BLACKBOX_LOSS)
		return su_errorf(error, -EINVAL, "record type %u cannot be appended", type);
	r = sbw_append_at(pw->w, type, aux, data, len, realtime_usec, mono_usec);
	if (r == -EPIPE)
		return su_errorf(error, r, "the stream has ended");
	if (r < 0)
		return su_errorf(error, r, "a frame was lost: %s", strerror(-r));
	return 0;
}

SODA_EXPORT int soda_blackbox_writer_tick(soda_blackbox_writer *pw, uint64_t *ret_next_usec,
					  unsigned int flags, soda_error **error)
{
	int r;

	if (!pw)
		return su_errorf(error, -EINVAL, "no writer");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	r = sbw_tick(pw->w, ret_next_usec);
	if (r < 0)
		return su_errorf(error, r, "a frame was lost: %s", strerror(-r));
	return 0;
}

SODA_EXPORT int soda_blackbox_writer_end(soda_blackbox_writer *pw, uint32_t reason,
					 unsigned int flags, soda_error **error)
{
	int r;

	if (!pw)
		return su_errorf(error, -EINVAL, "no writer");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	r = sbw_end(pw->w, reason);
	if (r < 0)
		return su_errorf(error, r, "the end frame was lost: %s", strerror(-r));
	return 0;
}

SODA_EXPORT const char *soda_blackbox_writer_get_stream_id(const soda_blackbox_writer *pw)
{
	return pw ? pw->stream : NULL;
}

SODA_EXPORT void soda_blackbox_writer_free(soda_blackbox_writer *pw)
{
	if (!pw)
		return;
	sbw_free(pw->w);
	if (pw->destroy)
		pw->destroy(pw->userdata);
	free(pw);
}
