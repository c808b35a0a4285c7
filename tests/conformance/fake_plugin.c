/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda-cftest.so: a backend plugin for test_plugin.c. Its driver keeps
 * the @path it was opened with, so the test sees what the core passed on.
 * Built as libsoda-cfbad.so (CF_BAD) it registers nothing and fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <soda/sys/backend.h>

#ifndef CF_BAD
static char *last_path;

static int cf_open(void **ret_priv, soda_context *ctx, const char *path, const char *state_dir,
		   const soda_context_options *opts, soda_error **error)
{
	(void)ctx;
	(void)state_dir;
	(void)opts;
	free(last_path);
	last_path = strdup(path);
	*ret_priv = last_path;
	return last_path ? 0 : soda_error_set(error, -ENOMEM, "out of memory");
}

static void cf_close(void *priv)
{
	(void)priv;
}

/* The test reads the path back through the state-dir getter. */
static const char *cf_state_dir(void *priv)
{
	return priv;
}

static const soda_backend_driver cf_driver = {
	.version = SODA_BACKEND_VERSION,
	.scheme = "cftest",
	.open = cf_open,
	.close = cf_close,
	.state_dir = cf_state_dir,
};
#endif

__attribute__((visibility("default"))) int soda_backend_plugin_init(uint32_t version,
								    soda_error **error)
{
#ifdef CF_BAD
	(void)version;
	return soda_error_set(error, -EPROTO, "this plugin refuses to load");
#else
	if (version != SODA_BACKEND_VERSION)
		return soda_error_set(error, -EPROTO, "other interface version");
	return soda_backend_register(&cf_driver, error);
#endif
}
