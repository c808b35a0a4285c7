/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl subcommands that live in their own files. Each gets the context
 * and its arguments with argv[0] the subcommand's name, and returns the
 * process exit code (0 success, 1 failure with a message on stderr, 2 bad
 * usage).
 */
#ifndef SODACTL_COMMANDS_H
#define SODACTL_COMMANDS_H

#include <soda/soda.h>

/* cmd_network.c: sodactl network ... / sodactl policy ... */
int sodactl_cmd_network(soda_context *ctx, int argc, char **argv);
int sodactl_cmd_policy(soda_context *ctx, int argc, char **argv);

/* cmd_ids.c: sodactl ids ...; and the IDS options of sodactl create
 * (--ids-landlord-alerts, --ids-response none|freeze:PRIORITY). */
int sodactl_cmd_ids(soda_context *ctx, int argc, char **argv);
int sodactl_ids_create_option(soda_server_config *cfg, const char *opt, const char *value,
			      soda_error **error);

/* metrics.c: sodactl stats --prometheus / --listen ADDR. @names: the
 * servers to report (NULL: every running one); networks are all reported.
 * The exposition on standard output: */
int sodactl_metrics_print(soda_context *ctx, char **names);
/* Served at /metrics over HTTP on @addr (HOST:PORT), one request at a
 * time, @count requests (0: forever). */
int sodactl_metrics_listen(soda_context *ctx, char **names, const char *addr, long count);

#endif
