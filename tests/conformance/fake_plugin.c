/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda-cftest.so: a backend plugin for test_plugin.c. Its driver keeps
 * the @path and @query it was opened with, so the test sees what the core
 * passed on.
 * Built as libsoda-cfbad.so (CF_BAD) it registers nothing and fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soda/sys/backend.h>

#ifndef CF_BAD
static char *last_path;

/* Keeps "PATH" or "PATH?KEY=VALUE&..." of what the core handed over. Its
 * query keys are "color" and "size"; any other is refused by name. */
static int cf_open(void **ret_priv, soda_context *ctx, const char *path,
		   const char *const *query, const char *state_dir,
		   const soda_context_options *opts, soda_error **error)
{
	size_t len = strlen(path) + 1;

	(void)ctx;
	(void)state_dir;
	(void)opts;
	for (size_t i = 0; query[i]; i++) {
		if (strncmp(query[i], "color=", 6) != 0 && strncmp(query[i], "size=", 5) != 0) {
			char msg[128];

			snprintf(msg, sizeof(msg), "unknown query key '%.*s'",
				 (int)strcspn(query[i], "="), query[i]);
			return soda_error_set(error, -EINVAL, msg);
		}
		len += strlen(query[i]) + 1;
	}
	free(last_path);
	last_path = malloc(len);
	if (!last_path)
		return soda_error_set(error, -ENOMEM, "out of memory");
	strcpy(last_path, path);
	for (size_t i = 0; query[i]; i++) {
		strcat(last_path, i ? "&" : "?");
		strcat(last_path, query[i]);
	}
	*ret_priv = last_path;
	return 0;
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
