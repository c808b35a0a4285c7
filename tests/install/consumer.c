/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A program outside the tree, built against an installed libsoda: it opens
 * the in-memory backend, defines a server and reads it back, and touches the
 * switch and blackbox headers through soda.h alone; and it finds the switch's
 * default netdev hooks (sys/backend.h), which a static link must carry. */
#include <stdio.h>
#include <string.h>

#include <soda/soda.h>
#include <soda/sys/backend.h>

int main(void)
{
	soda_context *ctx = NULL;
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error *err = NULL;
	int r;

	if (strcmp(soda_version(), "") == 0)
		return 10;
	r = soda_context_open(&ctx, "test:///default", NULL, 0, &err);
	if (r < 0)
		goto fail;
	r = soda_server_config_new(&cfg, "consumer", &err);
	if (r < 0)
		goto fail;
	r = soda_server_define(&srv, ctx, cfg, 0, &err);
	if (r < 0)
		goto fail;
	if (strcmp(soda_server_get_name(srv), "consumer") != 0)
		return 11;
	/* Declared by network.h and blackbox.h, reached through soda.h; a
	 * static link pulls libmnl and libsodium in through them. */
	soda_network_options nopts;
	if (soda_network_options_init(&nopts, SODA_NETWORK_OPTIONS_VERSION) != 0)
		return 12;
	if (!soda_blackbox_type_name(SODA_BLACKBOX_EXEC))
		return 13;
	/* The switch's default netdev hooks: the network module is in the
	 * link, static ones included (the core refers to its hooks). */
	if (!soda_context_get_netdev_ops(ctx, NULL))
		return 14;
	printf("consumer: libsoda %s, server %s\n", soda_version(), soda_server_get_name(srv));
	soda_server_unref(srv);
	soda_server_config_free(cfg);
	soda_context_unref(ctx);
	return 0;
fail:
	fprintf(stderr, "consumer: %s (%d)\n", soda_error_message(err), r);
	soda_error_free(err);
	return 1;
}
