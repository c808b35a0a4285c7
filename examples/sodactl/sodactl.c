/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl: the command line over libsoda.
 *
 * The commands and their options are one table (below); the shared parser
 * (examples/common/cli.c) gives them options in any order, per-command
 * --help, --version, completion and the tools' exit codes: 0 success,
 * 1 failure, 2 bad usage, 3 not found; `exec` returns the command's own
 * status (125 when sodactl itself failed). Global options may also come
 * from the environment: SODA_URI, SODA_STATE_DIR, SODA_NETNS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sodactl.h"
#include "commands.h"

static soda_context *the_ctx;

static void log_to_stderr(int level, const char *msg, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "libsoda[%d]: %s\n", level, msg);
}

static const char *global_or_env(struct cli_call *c, const char *opt, const char *env)
{
	const char *v = c ? cli_get(c, opt) : NULL;

	if (!v)
		v = getenv(env);
	return v && *v ? v : NULL;
}

soda_context *sctl_context(struct cli_call *c)
{
	soda_context_options opts = SODA_CONTEXT_OPTIONS_INIT;
	soda_error *e = NULL;

	if (the_ctx)
		return the_ctx;
	opts.state_dir = global_or_env(c, "state-dir", "SODA_STATE_DIR");
	opts.netns = global_or_env(c, "netns", "SODA_NETNS");
	if (c && cli_has(c, "verbose")) {
		opts.log_fn = log_to_stderr;
		opts.log_level = SODA_LOG_DEBUG;
	}
	if (soda_context_open(&the_ctx, global_or_env(c, "uri", "SODA_URI"), &opts, 0, &e) < 0) {
		sctl_fail(e, "cannot open the context");
		the_ctx = NULL;
	}
	return the_ctx;
}

int sctl_fail(soda_error *e, const char *what)
{
	int code = soda_error_code(e);

	fprintf(stderr, "sodactl: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	soda_error_free(e);
	return code == -ENOENT ? CLI_EXIT_NOTFOUND : CLI_EXIT_FAIL;
}

int sctl_server(struct cli_call *c, const char *name, soda_server **ret)
{
	soda_context *ctx = sctl_context(c);
	soda_error *e = NULL;

	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_server_lookup(ret, ctx, name, &e) < 0)
		return sctl_fail(e, name);
	return 0;
}

#ifdef SODA_HAVE_NETWORK
int sctl_network(struct cli_call *c, const char *name, soda_network **ret)
{
	soda_context *ctx = sctl_context(c);
	soda_error *e = NULL;

	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_network_lookup(ret, ctx, name, &e) < 0)
		return sctl_fail(e, name);
	return 0;
}
#endif

/*
 * sodactl ids ...: cmd_ids.c parses an argv of its own; the table checked
 * the line, so it gets the same words back in its order.
 */
static int sctl_ids(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	static const char *const opts[] = { "rules", "vars" };
	char *argv[12];
	int argc = 0;

	if (!ctx)
		return CLI_EXIT_FAIL;
	argv[argc++] = (char *)"ids";
	argv[argc++] = strchr(c->cmd->path, ' ') + 1;
	argv[argc++] = c->argv[0];
	for (size_t i = 0; i < 2; i++) {
		const char *v = cli_get(c, opts[i]);

		if (v) {
			argv[argc++] = i ? (char *)"--vars" : (char *)"--rules";
			argv[argc++] = (char *)v;
		}
	}
	if (c->json)
		argv[argc++] = (char *)"--json";
	if (cli_has(c, "follow"))
		argv[argc++] = (char *)"--follow";
	argv[argc] = NULL;
	return sodactl_cmd_ids(ctx, argc, argv);
}

#define SLURP_MAX (64u << 20)

char *sctl_slurp(const char *path, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "sodactl: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t n;

		if (len + 65536 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 131072;
			nb = cap <= SLURP_MAX + 131072 ? realloc(buf, cap) : NULL;
			if (!nb) {
				fprintf(stderr, "sodactl: %s is too large (at most %u MiB)\n", path,
					SLURP_MAX >> 20);
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n < 65536) {
			if (ferror(f)) {
				fprintf(stderr, "sodactl: cannot read %s: %s\n", path, strerror(errno));
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (buf) {
		buf[len] = '\0';
		*ret_len = len;
	}
	return buf;
}

char *sctl_absolute(const char *path)
{
	char *cwd, *abs = NULL;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (cwd && asprintf(&abs, "%s/%s", cwd, path) < 0)
		abs = NULL;
	free(cwd);
	if (!abs)
		fprintf(stderr, "sodactl: cannot make '%s' absolute: %s\n", path, strerror(errno));
	return abs;
}

void sctl_json(struct json *j)
{
	json_init(j, stdout, isatty(1));
}

/* For completion: the names of servers, networks or images. */
static void complete_names(char kind, void *userdata)
{
	soda_context *ctx;
	char **names = NULL;
	int r = -1;

	(void)userdata;
	/* Completion must never hang or print errors: no context, no names. */
	ctx = sctl_context(NULL);
	if (!ctx)
		return;
	if (kind == 's')
		r = soda_context_list_servers(&names, NULL, ctx, 0, NULL);
#ifdef SODA_HAVE_NETWORK
	else if (kind == 'n')
		r = soda_context_list_networks(&names, NULL, ctx, 0, NULL);
#endif
	else if (kind == 'i')
		r = soda_image_list(&names, NULL, ctx, 0, NULL);
	for (size_t i = 0; r >= 0 && names && names[i]; i++)
		printf("%s\n", names[i]);
	soda_strv_free(names);
}

static const struct cli_option global_options[] = {
	{ "uri", 0, "URI", 0, "backend URI (default uml:///; env SODA_URI)", 0 },
	{ "state-dir", 0, "DIR", 0, "state directory (default /var/lib/soda; env SODA_STATE_DIR)", 'd' },
	{ "netns", 0, "NAME", 0, "network namespace of the guests and their switch (env SODA_NETNS)", 0 },
	{ "verbose", 'v', NULL, 0, "log what the library does to stderr", 0 },
	{ NULL },
};

static const struct cli_option start_options[] = {
	{ "no-wait", 0, NULL, 0, "return once it boots, without waiting for the guest to be ready", 0 },
	{ NULL },
};
static const struct cli_option timeout_options[] = {
	{ "timeout", 0, "SEC", 0, "graceful for SEC seconds, then forced (default 10)", 0 },
	{ NULL },
};
static const struct cli_option dump_options[] = {
	{ "memory", 0, NULL, 0, "also the guest's memory", 0 },
	{ NULL },
};
static const struct cli_option exec_options[] = {
	{ "timeout", 0, "SEC", 0, "kill the command after SEC seconds (default 60; 0: never)", 0 },
	{ "user", 0, "USER", 0, "run as USER (a name or uid in the guest; default root)", 0 },
	{ "cwd", 0, "DIR", 0, "in DIR (default the user's home)", 0 },
	{ "env", 0, "NAME=VALUE", CLI_OPT_REPEAT, "set NAME in the command's environment", 0 },
	{ NULL },
};
static const struct cli_option events_options[] = {
	{ "count", 0, "N", 0, "stop after N events", 0 },
	{ NULL },
};
static const struct cli_option stats_options[] = {
	{ "prometheus", 0, NULL, 0, "Prometheus text exposition", 0 },
	{ "listen", 0, "HOST:PORT", 0, "serve the exposition at /metrics over HTTP", 0 },
	{ "count", 0, "N", 0, "with --listen: stop after N requests", 0 },
	{ NULL },
};
static const struct cli_option image_build_options[] = {
	{ "from-dir", 0, "DIR", 0, "a root file system in a directory", 'd' },
	{ "from-tar", 0, "FILE", 0, "a root file system in a tarball", 'f' },
	{ "from-ext4", 0, "FILE", 0, "an ext4 image", 'f' },
	{ "size", 0, "MIB", 0, "the image's size", 0 },
	{ "replace", 0, NULL, 0, "replace an image of that name", 0 },
	{ NULL },
};
static const struct cli_option net_create_options[] = {
	{ "uplink", 0, "IF", 0, "a host interface joined to the switch", 0 },
	{ "no-firewall", 0, NULL, 0, "no firewall (a plain switch)", 0 },
	{ "flood-limit", 0, "RATE[/BURST]", 0,
	  "broadcast and multicast frames per second each port may send (default 100/200; 0: off)", 0 },
	{ NULL },
};
static const struct cli_option net_destroy_options[] = {
	{ "force", 'f', NULL, 0, "even with servers attached", 0 },
	{ NULL },
};
static const struct cli_option ids_rules_options[] = {
	{ "rules", 0, "FILE", 0, "the rules (Snort/Suricata subset, docs/ids.md)", 'f' },
	{ "vars", 0, "FILE", 0, "variables (NAME VALUE per line) over the defaults", 'f' },
	{ NULL },
};
static const struct cli_option ids_alerts_options[] = {
	{ "follow", 0, NULL, 0, "wait for new alerts (Ctrl-C ends)", 0 },
	{ NULL },
};
static const struct cli_option policy_show_options[] = {
	{ "compiled", 0, NULL, 0, "the set elements the policy compiles to", 0 },
	{ NULL },
};

#define S "Virtual servers"
#define N "Networks (the switch) and firewall policies (docs/policy.md)"
#define I "Images"
#define K "The IDS at a server's switch port (alerts sealed into its blackbox; docs/ids.md)"

static const struct cli_command commands[] = {
	{ "create", "NAME", 1, 1, sctl_create_options, sctl_create, S, "define a server",
	  "Defines a server; `start` boots it. Shares SPEC: e.g. 'cpu.weight=300 cpu.max=20% cpus=0\n"
	  "memory.max=256MiB pids.max=512 net.out=20Mbit net.in=200Mbit' (include/soda/shares.h).",
	  0, NULL },
	{ "start", "NAME", 1, 1, start_options, sctl_lifecycle, S, "boot it; waits until the guest is ready", NULL, CLI_JSON, "s" },
	{ "stop", "NAME", 1, 1, timeout_options, sctl_lifecycle, S, "graceful shutdown, forced after --timeout", NULL, CLI_JSON, "s" },
	{ "restart", "NAME", 1, 1, timeout_options, sctl_lifecycle, S, "stop, then start", NULL, CLI_JSON, "s" },
	{ "kill", "NAME", 1, 1, NULL, sctl_lifecycle, S, "end it at once", NULL, CLI_JSON, "s" },
	{ "freeze", "NAME", 1, 1, NULL, sctl_lifecycle, S, "stop all its processes", NULL, CLI_JSON, "s" },
	{ "thaw", "NAME", 1, 1, NULL, sctl_lifecycle, S, "resume them", NULL, CLI_JSON, "s" },
	{ "dump", "NAME DIR", 2, 2, dump_options, sctl_dump, S, "forensic dump (disk layer, facts, memory)", NULL, 0, "sd" },
	{ "destroy", "NAME", 1, 1, NULL, sctl_destroy, S, "kill if running, then forget it and its disk", NULL, 0, "s" },
	{ "list", "", 0, 0, NULL, sctl_list, S, "servers and their states", NULL, CLI_JSON, NULL },
	{ "info", "NAME", 1, 1, NULL, sctl_info, S, "everything about a server", NULL, CLI_JSON, "s" },
	{ "shares", "NAME [SPEC]", 1, 2, NULL, sctl_shares, S, "show, or change live, a server's resource shares", NULL, CLI_JSON, "s" },
	{ "stats", "[NAME...]", 0, -1, stats_options, sctl_stats, S, "usage of running servers", NULL, CLI_JSON, "ssssssss" },
	{ "console", "NAME", 1, 1, NULL, sctl_console, S, "attach to its console (leave with Ctrl-])", NULL, 0, "s" },
	{ "exec", "NAME COMMAND...", 2, -1, exec_options, sctl_exec, S, "run a command in the guest; its exit status is sodactl's",
	  "One COMMAND word runs under the guest's sh -c; several are the command's argv.\n"
	  "It runs through the guest's agent, not the console: stdin is passed through,\n"
	  "stdout and stderr stay apart, and nothing lands in the console's recording (the\n"
	  "tenant's blackbox records that the landlord ran it). The exit status is the\n"
	  "command's (128+N when signal N ended it); 124: --timeout passed (the command is\n"
	  "killed); 126, 127: it could not start, or is not there; 125: sodactl failed.\n"
	  "Put options for sodactl before COMMAND (or use '--').", CLI_ARGS_REST, "s" },
	{ "events", "", 0, 0, events_options, sctl_events, S, "print state changes as they happen", NULL, CLI_JSON, NULL },
	{ "recover", "", 0, 0, NULL, sctl_recover, S, "clean up after crashed monitors", NULL, 0, NULL },
#ifdef SODA_HAVE_NETWORK
	{ "network create", "NAME", 1, 1, net_create_options, sctl_network_create, N, "a switch: a bridge with no host address", NULL, 0, NULL },
	{ "network destroy", "NAME", 1, 1, net_destroy_options, sctl_network_destroy, N, "remove a switch", NULL, 0, "n" },
	{ "network list", "", 0, 0, NULL, sctl_network_list, N, "the networks", NULL, CLI_JSON, NULL },
	{ "network info", "NAME", 1, 1, NULL, sctl_network_info, N, "a network's bridge, firewall, limit and ports", NULL, CLI_JSON, "n" },
	{ "network flood-limit", "NAME RATE [BURST]", 2, 3, NULL, sctl_network_flood_limit, N,
	  "broadcast and multicast frames per second per port (0: off)", NULL, 0, "n" },
	{ "policy apply", "NETWORK FILE|-", 2, 2, NULL, sctl_policy_apply, N, "replace the policy, atomically", NULL, 0, "nf" },
	{ "policy check", "NETWORK FILE|-", 2, 2, NULL, sctl_policy_apply, N, "dry run, the kernel's checks included", NULL, 0, "nf" },
	{ "policy show", "NETWORK", 1, 1, policy_show_options, sctl_policy_show, N, "the policy in force", NULL, 0, "n" },
	{ "policy counters", "NETWORK", 1, 1, NULL, sctl_policy_counters, N, "per rule, per server, totals", NULL, CLI_JSON, "n" },
#endif
	{ "ids enable", "NAME", 1, 1, ids_rules_options, sctl_ids, K, "start it on the server's NIC 0", NULL, 0, "s" },
	{ "ids reload", "NAME", 1, 1, ids_rules_options, sctl_ids, K, "new rules; flows and packets kept", NULL, 0, "s" },
	{ "ids disable", "NAME", 1, 1, NULL, sctl_ids, K, "stop it", NULL, 0, "s" },
	{ "ids stats", "NAME", 1, 1, NULL, sctl_ids, K, "packets, drops, alerts", NULL, CLI_JSON, "s" },
	{ "ids alerts", "NAME", 1, 1, ids_alerts_options, sctl_ids, K,
	  "the landlord's metadata stream (only what the tenant allows)", NULL, CLI_JSON, "s" },
	{ "image build", "NAME", 1, 1, image_build_options, sctl_image_build, I, "build a guest image (default source: built-in busybox)", NULL, 0, NULL },
	{ "image list", "", 0, 0, NULL, sctl_image_list, I, "the images", NULL, CLI_JSON, NULL },
	{ "image rm", "NAME", 1, 1, NULL, sctl_image_rm, I, "remove an image", NULL, 0, "i" },
	{ NULL },
};

int main(int argc, char **argv)
{
	static char version[64];
	struct cli_tool tool = {
		.name = "sodactl",
		.version = version,
		.synopsis = "[GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]",
		.global = global_options,
		.commands = commands,
		.footer = "See sodactl(1) and docs/tutorial.md.\n",
		.complete_names = complete_names,
	};
	int rc;

	snprintf(version, sizeof(version), "(libsoda %s)", soda_version());
	signal(SIGPIPE, SIG_IGN);
	rc = cli_main(&tool, argc, argv, NULL);
	soda_context_unref(the_ctx);
	return rc;
}
