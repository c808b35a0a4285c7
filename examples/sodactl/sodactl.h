/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl's commands share this: the context (opened once, on first use,
 * with the global options), error reporting with the tools' exit codes
 * (examples/common/cli.h), and lookups that say "not found" the same way.
 * Every command is a function of its parsed call; the table in sodactl.c
 * names them with their options.
 */
#ifndef SODACTL_H
#define SODACTL_H

#include <soda/soda.h>

#include "../common/cli.h"
#include "../common/json.h"

/* The context for this run, opened on first use; NULL after printing why
 * (the caller returns CLI_EXIT_FAIL). */
soda_context *sctl_context(struct cli_call *call);

/* Prints "sodactl: WHAT: message" and frees @e. Returns the exit code:
 * CLI_EXIT_NOTFOUND for -ENOENT, CLI_EXIT_FAIL otherwise. */
int sctl_fail(soda_error *e, const char *what);

/* Looks a server or network up; the exit code of the failure, or 0. */
int sctl_server(struct cli_call *call, const char *name, soda_server **ret);
int sctl_network(struct cli_call *call, const char *name, soda_network **ret);

/* Reads @path ("-": standard input) whole, NUL-terminated; NULL after
 * printing why. */
char *sctl_slurp(const char *path, size_t *ret_len);

/* A path given on the command line, made absolute against the working
 * directory (the library takes absolute paths). NULL on error. */
char *sctl_absolute(const char *path);

/* A JSON writer on standard output for --json. */
void sctl_json(struct json *j);

/* Commands (cmd_server.c, cmd_image.c, cmd_network.c, cmd_stats.c). */
int sctl_create(struct cli_call *c);
int sctl_lifecycle(struct cli_call *c);
int sctl_destroy(struct cli_call *c);
int sctl_dump(struct cli_call *c);
int sctl_list(struct cli_call *c);
int sctl_info(struct cli_call *c);
int sctl_console(struct cli_call *c);
int sctl_exec(struct cli_call *c);
int sctl_events(struct cli_call *c);
int sctl_recover(struct cli_call *c);
int sctl_shares(struct cli_call *c);
int sctl_stats(struct cli_call *c);
int sctl_image_build(struct cli_call *c);
int sctl_image_list(struct cli_call *c);
int sctl_image_rm(struct cli_call *c);
int sctl_network_create(struct cli_call *c);
int sctl_network_destroy(struct cli_call *c);
int sctl_network_list(struct cli_call *c);
int sctl_network_info(struct cli_call *c);
int sctl_network_flood_limit(struct cli_call *c);
int sctl_policy_apply(struct cli_call *c);
int sctl_policy_show(struct cli_call *c);
int sctl_policy_counters(struct cli_call *c);

extern const struct cli_option sctl_create_options[];

#endif
