/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command-line parser the example tools share (sodactl, soda-blackbox,
 * soda-ids): each tool describes its commands and their options in a table,
 * and the parser gives every tool the same behaviour:
 *
 *  - options in any order, before or after the command's arguments; global
 *    options (--state-dir, -v...) anywhere; "--" ends the options;
 *    --name=value and --name value; repeatable options keep every value;
 *  - `TOOL --help`, `TOOL COMMAND --help`, `TOOL help COMMAND`, `TOOL
 *    --version`;
 *  - one exit-code convention (CLI_EXIT_*, documented in every man page);
 *  - `TOOL __complete WORD...` prints completion candidates for the bash
 *    completion script (commands, options, and names the tool lists: its
 *    servers, networks, images).
 *
 * A command whose table entry sets CLI_JSON accepts --json; one that sets
 * CLI_ARGS_REST takes everything after its last fixed argument verbatim
 * (sodactl exec NAME -- COMMAND...).
 */
#ifndef SODA_CLI_H
#define SODA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes of every tool. */
enum {
	CLI_EXIT_OK = 0,         /* success; for verify: intact */
	CLI_EXIT_FAIL = 1,       /* the operation failed (message on stderr) */
	CLI_EXIT_USAGE = 2,      /* bad usage: unknown command or option, missing argument */
	CLI_EXIT_NOTFOUND = 3,   /* a named object (server, network, image, store) does not exist */
	CLI_EXIT_INCOMPLETE = 4, /* blackbox: intact so far, but records are missing (declared losses, no end) */
	CLI_EXIT_DAMAGED = 5,    /* blackbox: tampering or corruption found */
	CLI_EXIT_EXEC_FAIL = 125 /* sodactl exec: sodactl itself failed (else the command's status) */
};

/* Option flags. */
enum {
	CLI_OPT_REPEAT = 1u << 0, /* may be given several times; every value kept */
};

struct cli_option {
	const char *name;     /* long name without "--" */
	char short_name;      /* 0 for none */
	const char *arg;      /* NULL for a flag; else the value's name in help ("MIB") */
	unsigned int flags;   /* CLI_OPT_* */
	const char *help;
	char complete;        /* completion of the value: 0 none, 'f' file, 'd' directory,
	                       * or a tool's kind letter ('s' server, 'n' network, 'i' image) */
};

/* Command flags. */
enum {
	CLI_JSON = 1u << 0,      /* accepts --json */
	CLI_ARGS_REST = 1u << 1, /* arguments past max_args - 1 are taken verbatim, options and all */
	CLI_HIDDEN = 1u << 2,    /* not listed in help */
	CLI_DEFAULT = 1u << 3,   /* runs when the line names no command (soda-ids --rules ...) */
};

struct cli_call;

struct cli_command {
	const char *path;        /* "create", "network create" */
	const char *args;        /* synopsis of the arguments ("NAME [SPEC]") */
	int min_args, max_args;  /* max -1: no limit */
	const struct cli_option *options; /* ends with { NULL } ; may be NULL */
	int (*run)(struct cli_call *call);
	const char *group;       /* heading in the tool's help */
	const char *summary;     /* one line */
	const char *help;        /* more text for COMMAND --help, or NULL */
	unsigned int flags;      /* CLI_* */
	const char *complete;    /* completion kind of each argument ("s", "nf"), or NULL */
};

struct cli_tool {
	const char *name;        /* "sodactl" */
	const char *version;     /* shown by --version */
	const char *synopsis;    /* "[GLOBAL OPTIONS] COMMAND [ARGS]" */
	const struct cli_option *global; /* options every command takes; ends with { NULL } */
	const struct cli_command *commands; /* ends with { NULL } */
	const char *footer;      /* text at the end of --help */
	/* For `__complete`: prints the names of kind ('s', 'n', 'i'...), one per line. */
	void (*complete_names)(char kind, void *userdata);
};

struct cli_value {
	const struct cli_option *opt;
	const char *value;       /* NULL for flags */
};

struct cli_call {
	const struct cli_tool *tool;
	const struct cli_command *cmd;
	int argc;                /* the command's arguments, options taken out */
	char **argv;
	struct cli_value *values; /* options given, in order (globals too) */
	size_t n_values;
	bool json;               /* --json given */
	void *userdata;
};

/* Parses argv and runs the command; returns the exit code. */
int cli_main(const struct cli_tool *tool, int argc, char **argv, void *userdata);

/* The last value of option @name, or NULL (also for a flag not given). */
const char *cli_get(const struct cli_call *call, const char *name);
/* Whether option @name was given. */
bool cli_has(const struct cli_call *call, const char *name);
/* Every value of option @name: a NULL-terminated array (free() it, not the strings). */
const char **cli_get_all(const struct cli_call *call, const char *name, size_t *n);

/* Prints "TOOL: message" on stderr and returns CLI_EXIT_USAGE, with a
 * pointer to the command's --help. */
int cli_usage_error(const struct cli_call *call, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a non-negative decimal number no larger than max; false if bad. */
bool cli_parse_u64(const char *s, unsigned long long max, unsigned long long *ret);

#endif
