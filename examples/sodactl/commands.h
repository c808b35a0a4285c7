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

#endif
