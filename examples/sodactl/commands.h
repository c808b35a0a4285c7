/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl commands that keep an argv front end of their own (cmd_ids.c)
 * and the Prometheus exposition (metrics.c). Each returns the process exit
 * code (examples/common/cli.h).
 */
#ifndef SODACTL_COMMANDS_H
#define SODACTL_COMMANDS_H

#include <soda/soda.h>

/* cmd_ids.c: sodactl ids ..., argv[0] "ids", argv[1] the subcommand. */
int sodactl_cmd_ids(soda_context *ctx, int argc, char **argv);
/* cmd_ids.c: the tenant's IDS choices of sodactl create
 * ("ids-landlord-alerts", "ids-response", "ids-bypass" with their values). */
int sodactl_ids_create_option(soda_server_config *cfg, const char *opt, const char *value,
			      soda_error **error);

/* metrics.c: the Prometheus exposition of @names' statistics (NULL: every
 * running server) and every network's counters, on standard output; or
 * served at /metrics on @addr (HOST:PORT), @count requests (0: forever). */
int sodactl_metrics_print(soda_context *ctx, char **names);
int sodactl_metrics_listen(soda_context *ctx, char **names, const char *addr, long count);

#endif
