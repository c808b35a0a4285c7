/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl: the command line over libsoda.
 *
 * Exit codes: 0 success; 1 the operation failed (message on stderr);
 * 2 bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>

#include "commands.h"
#ifdef SODA_HAVE_BLACKBOX
#include <soda/blackbox.h>
#endif

#include "../common/console_exec.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char *opt_uri;
static const char *opt_state_dir;
static const char *opt_netns;
static int opt_verbose;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sodactl [--uri URI] [--state-dir DIR] [--netns NAME] [-v] COMMAND [ARGS]\n"
		"\n"
		"Virtual servers:\n"
		"  create NAME [--image IMG] [--memory MIB] [--kernel-arg ARG]...\n"
		"              [--share HOSTDIR:GUESTDIR[:ro|rw][,sensitive]]... (sensitive:\n"
		"              share /etc, /proc, the state directory... on purpose)\n"
		"              [--nic NETWORK[,MAC]]...\n"
		"              [--address NIC:CIDR]... [--label LABEL]... [--shares SPEC]\n"
		"              [--blackbox TENANT.pub]   (a blackbox sealed to that public key)\n"
		"              [--blackbox-retention stop|drop-oldest[:QUOTA-MIB]]  (at the\n"
		"              quota, default 1024: refuse new records, or delete the oldest)\n"
		"              [--guest-profile locked|open]  (locked, the default: no modules,\n"
		"              /dev/mem or ptrace for root in the guest; open: all of them)\n"
		"              [--ids-rules FILE]  (Kernort in the guest: rules on its programs,\n"
		"              console, files, sockets and logs; alerts into the blackbox)\n"
		"              [--ids-landlord-alerts]  (the port IDS's alert metadata may\n"
		"              reach the landlord: sodactl ids alerts)\n"
		"              [--ids-response none|freeze:PRIORITY]  (freeze the server on a\n"
		"              port IDS alert of PRIORITY or higher; 1 is the highest)\n"
		"  start NAME [--no-wait]      boot it; waits until the guest is ready\n"
		"  stop NAME [--timeout SEC]   graceful shutdown, forced after SEC (default 10)\n"
		"  kill NAME                   end it at once\n"
		"  freeze NAME | thaw NAME     stop and resume all its processes\n"
		"  restart NAME [--timeout SEC]\n"
		"  dump NAME DIR [--memory]    forensic dump (disk layer, facts, memory)\n"
		"  destroy NAME                kill if running, then forget it and its disk\n"
		"  list [--json]               servers and their states\n"
		"  info NAME [--json]\n"
		"  shares NAME [SPEC]          show, or change live, a server's resource shares\n"
		"  stats [--json|--prometheus] [NAME]...   usage of running servers (Prometheus:\n"
		"                              and every network's firewall counters)\n"
		"  stats --listen HOST:PORT [--count N] [NAME]...   the same at /metrics over\n"
		"                              HTTP, one request at a time (N requests, then exit)\n"
		"  console NAME                attach to its console (leave with Ctrl-])\n"
		"  exec NAME COMMAND...        run a shell command on its console\n"
		"  events [--count N]          print state changes as they happen\n"
		"  recover                     clean up after crashed monitors\n"
		"Networks (the switch) and firewall policies (docs/policy.md):\n"
		"  network create NAME [--uplink IF] [--no-firewall] [--flood-limit RATE[/BURST]]\n"
		"  network flood-limit NAME RATE [BURST]  broadcasts per second per port (0: off)\n"
		"  network destroy NAME [--force] | network list | network info NAME\n"
		"  policy apply NETWORK FILE|-     replace the policy, atomically\n"
		"  policy check NETWORK FILE|-     dry run, the kernel's checks included\n"
		"  policy show NETWORK [--compiled]\n"
		"  policy counters NETWORK [--json]   per rule, per server, totals\n"
		"The IDS at a server's port (alerts sealed into its blackbox):\n"
		"  ids enable NAME --rules FILE [--vars FILE]   start it on NIC 0\n"
		"  ids reload NAME --rules FILE [--vars FILE]   new rules; flows and packets kept\n"
		"  ids disable NAME | ids stats NAME [--json]\n"
		"  ids alerts NAME [--follow] [--json]   the landlord's metadata stream\n"
		"Images:\n"
		"  image build NAME [--from-dir DIR | --from-tar FILE | --from-ext4 FILE]\n"
		"              [--size MIB] [--replace]   (default source: built-in busybox)\n"
		"  image list | image rm NAME\n"
		"\n"
		"Shares SPEC: e.g. 'cpu.weight=300 cpu.max=20%% cpus=0 memory.max=256MiB\n"
		"  pids.max=512 net.out=20Mbit net.in=200Mbit'; see include/soda/shares.h.\n"
		"\n"
		"Options:\n"
		"  --uri URI        backend URI (default uml:///)\n"
		"  --state-dir DIR  state directory (default /var/lib/soda)\n"
		"  --netns NAME     network namespace of the guests and their switch\n"
		"                   (a name under /run/netns or a path)\n"
		"  -v               log what the library does to stderr\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int fail(soda_error *e, const char *what)
{
	fprintf(stderr, "sodactl: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	soda_error_free(e);
	return EXIT_FAIL;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sodactl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'sodactl --help'.\n");
	return EXIT_USAGE;
}

static void log_to_stderr(int level, const char *msg, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "libsoda[%d]: %s\n", level, msg);
}

static int open_ctx(soda_context **ctx)
{
	soda_context_options opts = SODA_CONTEXT_OPTIONS_INIT;
	soda_error *e = NULL;

	opts.state_dir = opt_state_dir;
	opts.netns = opt_netns;
	if (opt_verbose) {
		opts.log_fn = log_to_stderr;
		opts.log_level = SODA_LOG_DEBUG;
	}
	if (soda_context_open(ctx, opt_uri, &opts, 0, &e) < 0)
		return fail(e, "cannot open the context");
	return 0;
}

static int lookup(soda_context *ctx, const char *name, soda_server **srv)
{
	soda_error *e = NULL;

	if (soda_server_lookup(srv, ctx, name, &e) < 0)
		return fail(e, name);
	return 0;
}

static int parse_uint(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* ---- create ---- */

/* The tenant's public key file (soda-blackbox keygen writes it); a secret
 * key file is refused: it must never be on the host. */
static int set_blackbox(soda_server_config *cfg, const char *path, soda_error **e)
{
#ifdef SODA_HAVE_BLACKBOX
	soda_blackbox_key *key = NULL;
	uint8_t box[SODA_BLACKBOX_PUBLIC_KEY_BYTES];
	int r = soda_blackbox_key_load(&key, path, 0, e);

	if (r < 0)
		return r;
	if (soda_blackbox_key_has_secret(key)) {
		soda_blackbox_key_free(key);
		fprintf(stderr,
			"sodactl: %s holds a secret key; give the tenant's public key file: the "
			"secret key must never be on the host\n",
			path);
		return -EINVAL;
	}
	r = soda_blackbox_key_get_box_public(key, box, sizeof(box));
	if (r == 0)
		r = soda_server_config_set_blackbox(cfg, box, NULL, e);
	soda_blackbox_key_free(key);
	return r;
#else
	(void)cfg, (void)path, (void)e;
	fprintf(stderr, "sodactl: this build has no blackbox\n");
	return -EOPNOTSUPP;
#endif
}

static int cmd_create(soda_context *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "memory", required_argument, NULL, 'm' },
		{ "kernel-arg", required_argument, NULL, 'k' },
		{ "share", required_argument, NULL, 's' },
		{ "nic", required_argument, NULL, 'n' },
		{ "address", required_argument, NULL, 'a' },
		{ "label", required_argument, NULL, 'l' },
		{ "shares", required_argument, NULL, 'S' },
		{ "blackbox", required_argument, NULL, 'B' },
		{ "guest-profile", required_argument, NULL, 'P' },
		{ "blackbox-retention", required_argument, NULL, 'R' },
		{ "ids-rules", required_argument, NULL, 'D' },
		{ "ids-landlord-alerts", no_argument, NULL, 'L' },
		{ "ids-response", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int c, rc = 0;

	if (argc < 2 || argv[1][0] == '-')
		return usage_error("%s", "create needs a NAME");
	if (soda_server_config_new(&cfg, argv[1], &e) < 0)
		return fail(e, "bad name");
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		uint64_t mib;
		int r = 0;

		switch (c) {
		case 'i':
			r = soda_server_config_set_image(cfg, optarg, &e);
			break;
		case 'm':
			if (parse_uint(optarg, &mib) < 0 || mib > (1ull << 40)) {
				soda_server_config_free(cfg);
				return usage_error("--memory takes MiB, not '%s'", optarg);
			}
			r = soda_server_config_set_memory(cfg, mib << 20, &e);
			break;
		case 'k':
			r = soda_server_config_add_kernel_arg(cfg, optarg, &e);
			break;
		case 'L': /* cmd_ids.c */
			r = sodactl_ids_create_option(cfg, "ids-landlord-alerts", NULL, &e);
			break;
		case 'W':
			r = sodactl_ids_create_option(cfg, "ids-response", optarg, &e);
			break;
		case 's': {
			char *spec = strdup(optarg), *guest, *mode;
			unsigned flags = 0;

			guest = spec ? strchr(spec, ':') : NULL;
			if (!guest) {
				free(spec);
				soda_server_config_free(cfg);
				return usage_error("--share takes HOSTDIR:GUESTDIR[:ro], not '%s'",
						   optarg);
			}
			*guest++ = '\0';
			mode = strchr(guest, ':');
			/* MODE: ro or rw, and "sensitive" to share a sensitive
			 * host path (/etc, the state directory...) on purpose. */
			for (char *word = mode ? (*mode++ = '\0', strtok(mode, ",")) : NULL; word;
			     word = strtok(NULL, ",")) {
				if (strcmp(word, "ro") == 0)
					flags |= SODA_SHARE_READONLY;
				else if (strcmp(word, "sensitive") == 0)
					flags |= SODA_SHARE_ALLOW_SENSITIVE;
				else if (strcmp(word, "rw") != 0) {
					int rc2 = usage_error("--share mode must be ro, rw or "
							      "sensitive, not '%s'",
							      word);

					free(spec);
					soda_server_config_free(cfg);
					return rc2;
				}
			}
			r = soda_server_config_add_share(cfg, spec, guest, flags, &e);
			free(spec);
			break;
		}
		case 'n': {
			char *spec = strdup(optarg), *mac;

			if (!spec)
				return EXIT_FAIL;
			mac = strchr(spec, ',');
			if (mac)
				*mac++ = '\0';
			r = soda_server_config_add_nic(cfg, spec, mac, 0, &e);
			free(spec);
			break;
		}
		case 'a': {
			char *end;
			unsigned long nic = strtoul(optarg, &end, 10);

			if (end == optarg || *end != ':') {
				soda_server_config_free(cfg);
				return usage_error("--address takes NIC:CIDR, not '%s'", optarg);
			}
			r = soda_server_config_add_nic_address(cfg, nic, end + 1, &e);
			break;
		}
		case 'l':
			r = soda_server_config_add_label(cfg, optarg, &e);
			break;
		case 'S': {
			soda_shares *sh = NULL;

			r = soda_shares_parse(&sh, optarg, &e);
			if (r == 0)
				r = soda_server_config_set_shares(cfg, sh, &e);
			soda_shares_free(sh);
			break;
		}
		case 'B':
			r = set_blackbox(cfg, optarg, &e);
			break;
		case 'D': /* Kernort in the guest: checked now, refused with line:column */
			r = soda_server_config_set_ids_rules(cfg, optarg, 0, &e);
			break;
		case 'R': {
			char name[32], *colon = strchr(optarg, ':'), *end = NULL;
			unsigned long long quota_mib = 0;
			size_t n = colon ? (size_t)(colon - optarg) : strlen(optarg);
			uint32_t policy;

			snprintf(name, sizeof(name), "%.*s", (int)(n < 31 ? n : 31), optarg);
			if (colon) {
				errno = 0;
				quota_mib = strtoull(colon + 1, &end, 10);
				if (errno || end == colon + 1 || *end || quota_mib > (1ull << 30)) {
					soda_server_config_free(cfg);
					return usage_error("bad blackbox quota '%s' (MiB)", colon + 1);
				}
			}
			r = soda_blackbox_retention_from_name(&policy, name, &e);
			if (r == 0)
				r = soda_server_config_set_blackbox_retention(cfg, policy, quota_mib << 20, &e);
			break;
		}
		case 'P': {
			uint32_t profile;

			r = soda_guest_profile_from_name(&profile, optarg, &e);
			if (r == 0)
				r = soda_server_config_set_guest_profile(cfg, profile, &e);
			break;
		}
		default:
			soda_server_config_free(cfg);
			return usage_error("%s", "bad option to create");
		}
		if (r < 0) {
			soda_server_config_free(cfg);
			return fail(e, "bad configuration");
		}
	}
	if (optind != argc) {
		soda_server_config_free(cfg);
		return usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (soda_server_define(&srv, ctx, cfg, 0, &e) < 0)
		rc = fail(e, "cannot create the server");
	else
		printf("created %s\n", argv[1]);
	soda_server_unref(srv);
	soda_server_config_free(cfg);
	return rc;
}

/* ---- lifecycle ---- */

static int get_timeout(int argc, char **argv, uint32_t *ms)
{
	*ms = 10000;
	for (int i = 2; i < argc; i++) {
		uint64_t sec;

		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (parse_uint(argv[i + 1], &sec) < 0 || sec > 86400)
				return usage_error("--timeout takes seconds, not '%s'", argv[i + 1]);
			*ms = (uint32_t)sec * 1000;
			i++;
		} else {
			return usage_error("unexpected argument '%s'", argv[i]);
		}
	}
	return 0;
}

static int cmd_simple(soda_context *ctx, int argc, char **argv)
{
	const char *cmd = argv[0];
	soda_server *srv = NULL;
	soda_error *e = NULL;
	uint32_t timeout = 10000;
	int r, rc;

	if (argc < 2)
		return usage_error("%s needs a NAME", cmd);
	if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "restart") == 0) {
		rc = get_timeout(argc, argv, &timeout);
		if (rc)
			return rc;
	} else if (strcmp(cmd, "start") == 0) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--no-wait") != 0))
			return usage_error("unexpected argument '%s'", argv[2]);
	} else if (argc != 2) {
		return usage_error("unexpected argument '%s'", argv[2]);
	}
	rc = lookup(ctx, argv[1], &srv);
	if (rc)
		return rc;
	if (strcmp(cmd, "start") == 0)
		r = soda_server_start(srv, argc == 3 ? 0 : SODA_START_WAIT_READY, &e);
	else if (strcmp(cmd, "stop") == 0)
		r = soda_server_stop(srv, timeout, 0, &e);
	else if (strcmp(cmd, "restart") == 0)
		r = soda_server_restart(srv, timeout, SODA_START_WAIT_READY, &e);
	else if (strcmp(cmd, "kill") == 0)
		r = soda_server_kill(srv, 0, &e);
	else if (strcmp(cmd, "freeze") == 0)
		r = soda_server_freeze(srv, 0, &e);
	else
		r = soda_server_thaw(srv, 0, &e);
	if (r < 0) {
		rc = fail(e, argv[1]);
	} else {
		int state = 0;

		soda_server_get_state(&state, srv, NULL);
		printf("%s: %s\n", argv[1], soda_state_name(state));
	}
	soda_server_unref(srv);
	return rc;
}

static int cmd_destroy(soda_context *ctx, int argc, char **argv)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int state = 0, rc;

	if (argc != 2)
		return usage_error("%s", "destroy takes exactly one NAME");
	rc = lookup(ctx, argv[1], &srv);
	if (rc)
		return rc;
	if (soda_server_get_state(&state, srv, &e) < 0) {
		soda_server_unref(srv);
		return fail(e, argv[1]);
	}
	if ((state != SODA_STATE_SHUTOFF && state != SODA_STATE_CRASHED &&
	     soda_server_kill(srv, 0, &e) < 0) ||
	    soda_server_undefine(srv, 0, &e) < 0)
		rc = fail(e, argv[1]);
	else
		printf("destroyed %s\n", argv[1]);
	soda_server_unref(srv);
	return rc;
}

static int cmd_dump(soda_context *ctx, int argc, char **argv)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	unsigned flags = 0;
	int rc;

	if (argc < 3 || argc > 4)
		return usage_error("%s", "dump takes NAME DIR [--memory]");
	if (argc == 4) {
		if (strcmp(argv[3], "--memory") != 0)
			return usage_error("unexpected argument '%s'", argv[3]);
		flags = SODA_DUMP_MEMORY;
	}
	rc = lookup(ctx, argv[1], &srv);
	if (rc)
		return rc;
	if (soda_server_dump(srv, argv[2], flags, &e) < 0)
		rc = fail(e, argv[1]);
	else
		printf("dumped %s to %s\n", argv[1], argv[2]);
	soda_server_unref(srv);
	return rc;
}

/* ---- list / info ---- */

static void json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static int print_server(soda_server *srv, bool json, bool full)
{
	soda_server_info *info = NULL;
	soda_server_config *cfg = NULL;
	soda_error *e = NULL;
	const char *name = soda_server_get_name(srv);

	if (soda_server_get_info(&info, srv, 0, &e) < 0 || soda_server_get_config(&cfg, srv, &e) < 0) {
		soda_server_info_free(info);
		return fail(e, name);
	}
	if (json) {
		printf("{\"name\":");
		json_string(name);
		printf(",\"state\":\"%s\",\"image\":", soda_state_name(soda_server_info_get_state(info)));
		json_string(soda_server_config_get_image(cfg));
		printf(",\"memory_mib\":%" PRIu64 ",\"uid\":%u,\"ready\":%s,\"monitor_pid\":%d,"
		       "\"guest_pid\":%d,\"ready_usec\":%" PRIu64 ",\"reason\":",
		       soda_server_config_get_memory(cfg) >> 20, soda_server_info_get_uid(info),
		       soda_server_info_get_ready(info) ? "true" : "false",
		       soda_server_info_get_monitor_pid(info), soda_server_info_get_guest_pid(info),
		       soda_server_info_get_ready_usec(info));
		json_string(soda_server_info_get_reason(info));
		if (full) {
			printf(",\"shares\":[");
			for (size_t i = 0; i < soda_server_config_get_share_count(cfg); i++) {
				const char *h, *g;
				unsigned f;

				soda_server_config_get_share(cfg, i, &h, &g, &f);
				printf("%s{\"host\":", i ? "," : "");
				json_string(h);
				printf(",\"guest\":");
				json_string(g);
				printf(",\"readonly\":%s}", f & SODA_SHARE_READONLY ? "true" : "false");
			}
			printf("],\"exit_code\":%d,\"exit_signal\":%d",
			       soda_server_info_get_exit_code(info),
			       soda_server_info_get_exit_signal(info));
		}
		printf("}");
	} else if (full) {
		printf("name:        %s\nstate:       %s (%s)\nimage:       %s\nmemory:      %" PRIu64
		       " MiB\njail uid:    %u\nmonitor pid: %d\nguest pid:   %d\n",
		       name, soda_state_name(soda_server_info_get_state(info)),
		       soda_server_info_get_reason(info), soda_server_config_get_image(cfg),
		       soda_server_config_get_memory(cfg) >> 20, soda_server_info_get_uid(info),
		       soda_server_info_get_monitor_pid(info), soda_server_info_get_guest_pid(info));
		if (soda_server_info_get_ready_usec(info))
			printf("ready after: %.3f s\n", soda_server_info_get_ready_usec(info) / 1e6);
		for (size_t i = 0; i < soda_server_config_get_share_count(cfg); i++) {
			const char *h, *g;
			unsigned f;

			soda_server_config_get_share(cfg, i, &h, &g, &f);
			printf("share:       %s -> %s (%s)\n", h, g,
			       f & SODA_SHARE_READONLY ? "ro" : "rw");
		}
	} else {
		printf("%-24s %-9s %-12s %6" PRIu64 " MiB  %s\n", name,
		       soda_state_name(soda_server_info_get_state(info)),
		       soda_server_config_get_image(cfg), soda_server_config_get_memory(cfg) >> 20,
		       soda_server_info_get_reason(info));
	}
	soda_server_info_free(info);
	soda_server_config_free(cfg);
	return 0;
}

static int cmd_list(soda_context *ctx, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	char **names = NULL;
	soda_error *e = NULL;
	size_t n;
	int rc = 0;

	if (argc > 2 || (argc == 2 && !json))
		return usage_error("unexpected argument '%s'", argv[1]);
	if (soda_context_list_servers(&names, &n, ctx, 0, &e) < 0)
		return fail(e, "cannot list servers");
	if (json)
		printf("[");
	else if (n)
		printf("%-24s %-9s %-12s %10s  %s\n", "NAME", "STATE", "IMAGE", "MEMORY", "REASON");
	for (size_t i = 0; i < n; i++) {
		soda_server *srv = NULL;

		if (soda_server_lookup(&srv, ctx, names[i], NULL) < 0)
			continue; /* undefined meanwhile */
		if (json && i)
			printf(",");
		if (print_server(srv, json, false))
			rc = EXIT_FAIL;
		soda_server_unref(srv);
	}
	if (json)
		printf("]\n");
	soda_strv_free(names);
	return rc;
}

static int cmd_info(soda_context *ctx, int argc, char **argv)
{
	bool json = argc == 3 && strcmp(argv[2], "--json") == 0;
	soda_server *srv = NULL;
	int rc;

	if (argc < 2 || argc > 3 || (argc == 3 && !json))
		return usage_error("%s", "info takes NAME [--json]");
	rc = lookup(ctx, argv[1], &srv);
	if (rc)
		return rc;
	rc = print_server(srv, json, true);
	if (json)
		printf("\n");
	soda_server_unref(srv);
	return rc;
}

/* ---- console / exec / events ---- */

static int cmd_console(soda_context *ctx, int argc, char **argv)
{
	struct termios saved, raw;
	bool tty = isatty(0);
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int fd = -1, rc;

	if (argc != 2)
		return usage_error("%s", "console takes exactly one NAME");
	rc = lookup(ctx, argv[1], &srv);
	if (rc)
		return rc;
	if (soda_server_open_console(&fd, srv, 0, &e) < 0) {
		soda_server_unref(srv);
		return fail(e, argv[1]);
	}
	if (tty) {
		fprintf(stderr, "Connected to %s's console. Leave with Ctrl-].\r\n", argv[1]);
		tcgetattr(0, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	for (;;) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
		char buf[4096];
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (write(1, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (tty && memchr(buf, 0x1d, (size_t)n))
				break;
			if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
				break;
		}
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &saved);
		fprintf(stderr, "\nDisconnected.\n");
	}
	close(fd);
	soda_server_unref(srv);
	return 0;
}

static int cmd_exec(soda_context *ctx, int argc, char **argv)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	char *out = NULL, *command = NULL;
	size_t len = 0;
	int status = 0, rc;

	if (argc < 3)
		return usage_error("%s", "exec takes NAME COMMAND...");
	for (int i = 2; i < argc; i++)
		len += strlen(argv[i]) + 1;
	command = calloc(1, len + 1);
	if (!command)
		return EXIT_FAIL;
	for (int i = 2; i < argc; i++) {
		strcat(command, argv[i]);
		if (i + 1 < argc)
			strcat(command, " ");
	}
	rc = lookup(ctx, argv[1], &srv);
	if (rc) {
		free(command);
		return rc;
	}
	if (soda_console_exec(srv, command, 60000, &out, &status, &e) < 0) {
		rc = fail(e, argv[1]);
	} else {
		fputs(out, stdout);
		rc = status == 0 ? 0 : EXIT_FAIL;
	}
	free(out);
	free(command);
	soda_server_unref(srv);
	return rc;
}

static int print_event(soda_context *ctx, const soda_event *ev, void *userdata)
{
	long *left = userdata;
	static const char *const kinds[] = { "", "state", "defined", "undefined" };
	int kind = soda_event_get_kind(ev);

	(void)ctx;
	printf("%s %s %s -> %s (%s)\n", kinds[kind < 4 ? kind : 0], soda_event_get_server(ev),
	       soda_state_name(soda_event_get_previous_state(ev)),
	       soda_state_name(soda_event_get_state(ev)), soda_event_get_reason(ev));
	fflush(stdout);
	if (*left > 0 && --*left == 0)
		return -ECANCELED;
	return 0;
}

static int cmd_events(soda_context *ctx, int argc, char **argv)
{
	soda_error *e = NULL;
	long left = -1;
	uint64_t n;

	if (argc == 3 && strcmp(argv[1], "--count") == 0) {
		if (parse_uint(argv[2], &n) < 0 || n == 0)
			return usage_error("--count takes a positive number, not '%s'", argv[2]);
		left = (long)n;
	} else if (argc != 1) {
		return usage_error("unexpected argument '%s'", argv[1]);
	}
	if (soda_context_add_event_handler(NULL, ctx, print_event, &left, NULL, 0, &e) < 0)
		return fail(e, "events");
	for (;;) {
		int r = soda_context_wait(ctx, -1, 0, &e);

		if (r == -ECANCELED)
			return 0;
		if (r < 0)
			return fail(e, "events");
	}
}

static int cmd_recover(soda_context *ctx, int argc, char **argv)
{
	soda_error *e = NULL;
	int r;

	(void)argv;
	if (argc != 1)
		return usage_error("%s", "recover takes no arguments");
	r = soda_context_recover(ctx, 0, &e);
	if (r < 0)
		return fail(e, "recover");
	printf("cleaned up %d server(s)\n", r);
	return 0;
}

/* ---- shares and statistics ---- */

static int cmd_shares(soda_context *ctx, int argc, char **argv)
{
	soda_server *srv = NULL;
	soda_server_config *cfg = NULL;
	soda_shares *sh = NULL;
	soda_error *e = NULL;
	char *text = NULL;
	int rc;

	if (argc < 2 || argc > 3)
		return usage_error("%s", "shares takes NAME [SPEC]");
	rc = lookup(ctx, argv[1], &srv);
	if (rc)
		return rc;
	if (argc == 3) {
		if (soda_shares_parse(&sh, argv[2], &e) < 0 || soda_server_set_shares(srv, sh, 0, &e) < 0)
			rc = fail(e, argv[1]);
		soda_shares_free(sh);
		sh = NULL;
	}
	if (rc == 0 && (soda_server_get_config(&cfg, srv, &e) < 0 ||
			soda_server_config_get_shares(&sh, cfg, &e) < 0 ||
			soda_shares_format(&text, sh, &e) < 0))
		rc = fail(e, argv[1]);
	if (rc == 0)
		printf("%s: %s\n", argv[1], text);
	free(text);
	soda_shares_free(sh);
	soda_server_config_free(cfg);
	soda_server_unref(srv);
	return rc;
}

static int cmd_stats(soda_context *ctx, int argc, char **argv)
{
	enum { TABLE, JSON, PROM, LISTEN } fmt = TABLE;
	const char *addr = NULL;
	long count = 0;
	char **names = NULL;
	soda_error *e = NULL;
	int first = 1, rc = 0, i = 1;
	bool listed = false;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0 && fmt == TABLE)
			fmt = JSON;
		else if (strcmp(argv[i], "--prometheus") == 0 && fmt == TABLE)
			fmt = PROM;
		else if (strcmp(argv[i], "--listen") == 0 && fmt == TABLE && i + 1 < argc)
			fmt = LISTEN, addr = argv[++i];
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			count = strtol(argv[++i], &end, 10);
			if (errno || *end || count < 1)
				return usage_error("stats --count: a number of requests (1 or more)");
		} else
			return usage_error("stats [--json|--prometheus|--listen ADDR [--count N]] "
					   "[NAME]...");
	}
	if (count && fmt != LISTEN)
		return usage_error("stats: --count goes with --listen");
	if (i < argc) {
		names = calloc((size_t)(argc - i + 1), sizeof(char *));
		if (!names)
			return EXIT_FAIL;
		for (int k = i; k < argc; k++)
			names[k - i] = strdup(argv[k]);
	}
	/* Prometheus: the servers (all running ones unless named) and every
	 * network's firewall counters, listed anew at each scrape. */
	if (fmt == PROM || fmt == LISTEN) {
		rc = fmt == PROM ? sodactl_metrics_print(ctx, names)
				 : sodactl_metrics_listen(ctx, names, addr, count);
		soda_strv_free(names);
		return rc;
	}
	if (!names) {
		if (soda_context_list_servers(&names, NULL, ctx, 0, &e) < 0)
			return fail(e, "stats");
		listed = true;
	}
	if (fmt == JSON)
		printf("[");
	else
		printf("%-20s %12s %10s %10s %10s %8s %12s %12s\n", "NAME", "CPU s", "THROTTLED", "MEM MiB",
		       "MEMHITS", "PIDS", "NET OUT B", "NET IN B");
	for (size_t n = 0; names && names[n]; n++) {
		soda_server *srv = NULL;
		soda_stats *st = NULL;
		uint64_t v;

		if (soda_server_lookup(&srv, ctx, names[n], &e) < 0) {
			rc = fail(e, names[n]);
			e = NULL;
			continue;
		}
		if (soda_server_get_stats(&st, srv, 0, &e) < 0) {
			/* Listing all: shut-off servers have no statistics. */
			if (listed && soda_error_code(e) == -EBUSY) {
				soda_error_free(e);
			} else {
				rc = fail(e, names[n]);
			}
			e = NULL;
			soda_server_unref(srv);
			continue;
		}
		if (fmt == TABLE) {
#define G(k) (soda_stats_get(st, k, &v) == 0 ? v : 0)
			printf("%-20s %12.2f %10.2f %10.1f %10llu %8llu %12llu %12llu\n", names[n],
			       G(SODA_STAT_CPU_USEC) / 1e6, G(SODA_STAT_CPU_THROTTLED_USEC) / 1e6,
			       G(SODA_STAT_MEMORY_BYTES) / 1048576.0,
			       (unsigned long long)G(SODA_STAT_MEMORY_LIMIT_HITS),
			       (unsigned long long)G(SODA_STAT_PIDS),
			       (unsigned long long)G(SODA_STAT_NET_OUT_BYTES),
			       (unsigned long long)G(SODA_STAT_NET_IN_BYTES));
#undef G
		} else {
			printf("%s{\"name\":", first ? "" : ",");
			json_string(names[n]);
			for (int k = 1; k <= SODA_STAT_MAX; k++)
				if (soda_stats_get(st, k, &v) == 0)
					printf(",\"%s\":%llu", soda_stats_key_name(k),
					       (unsigned long long)v);
			printf("}");
		}
		first = 0;
		soda_stats_free(st);
		soda_server_unref(srv);
	}
	if (fmt == JSON)
		printf("]\n");
	soda_strv_free(names);
	return rc;
}

/* ---- images ---- */

/* The library takes absolute paths only: a relative one is taken from the
 * working directory, as a shell user means it. Links in it are not
 * resolved here (the library reads the source without following any). */
static char *absolute_path(const char *path)
{
	char *cwd, *abs = NULL;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (cwd && asprintf(&abs, "%s/%s", cwd, path) < 0)
		abs = NULL;
	free(cwd);
	return abs;
}

static int cmd_image(soda_context *ctx, int argc, char **argv)
{
	soda_error *e = NULL;

	if (argc < 2)
		return usage_error("%s", "image needs build, list or rm");
	if (strcmp(argv[1], "list") == 0) {
		char **names = NULL;

		if (argc != 2)
			return usage_error("unexpected argument '%s'", argv[2]);
		if (soda_image_list(&names, NULL, ctx, 0, &e) < 0)
			return fail(e, "image list");
		for (size_t i = 0; names[i]; i++)
			printf("%s\n", names[i]);
		soda_strv_free(names);
		return 0;
	}
	if (strcmp(argv[1], "rm") == 0) {
		if (argc != 3)
			return usage_error("%s", "image rm takes exactly one NAME");
		if (soda_image_remove(ctx, argv[2], 0, &e) < 0)
			return fail(e, argv[2]);
		printf("removed image %s\n", argv[2]);
		return 0;
	}
	if (strcmp(argv[1], "build") == 0) {
		int kind = SODA_IMAGE_SOURCE_BUSYBOX;
		const char *source = NULL;
		uint64_t size = 0;
		unsigned flags = 0;

		if (argc < 3 || argv[2][0] == '-')
			return usage_error("%s", "image build needs a NAME");
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--replace") == 0) {
				flags |= SODA_IMAGE_REPLACE;
				continue;
			}
			if (i + 1 >= argc)
				return usage_error("option '%s' needs a value", argv[i]);
			if (strcmp(argv[i], "--from-dir") == 0)
				kind = SODA_IMAGE_SOURCE_DIRECTORY;
			else if (strcmp(argv[i], "--from-tar") == 0)
				kind = SODA_IMAGE_SOURCE_TARBALL;
			else if (strcmp(argv[i], "--from-ext4") == 0)
				kind = SODA_IMAGE_SOURCE_EXT4;
			else if (strcmp(argv[i], "--size") == 0) {
				if (parse_uint(argv[i + 1], &size) < 0 || size > (1u << 20))
					return usage_error("--size takes MiB, not '%s'", argv[i + 1]);
				size <<= 20;
				i++;
				continue;
			} else {
				return usage_error("unknown option '%s'", argv[i]);
			}
			source = argv[++i];
		}
		if (source) {
			char *abs = absolute_path(source);
			int r;

			if (!abs) {
				fprintf(stderr, "sodactl: image build: cannot make '%s' absolute: %s\n",
					source, strerror(errno));
				return EXIT_FAIL;
			}
			r = soda_image_build(ctx, argv[2], kind, abs, size, flags, &e);
			free(abs);
			if (r < 0)
				return fail(e, "image build");
		} else if (soda_image_build(ctx, argv[2], kind, NULL, size, flags, &e) < 0) {
			return fail(e, "image build");
		}
		printf("built image %s\n", argv[2]);
		return 0;
	}
	return usage_error("unknown image command '%s'", argv[1]);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "uri", required_argument, NULL, 'u' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "netns", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		int (*fn)(soda_context *, int, char **);
	} cmds[] = {
		{ "create", cmd_create },   { "start", cmd_simple },    { "stop", cmd_simple },
		{ "kill", cmd_simple },     { "freeze", cmd_simple },   { "thaw", cmd_simple },
		{ "restart", cmd_simple },  { "dump", cmd_dump },       { "destroy", cmd_destroy },
		{ "list", cmd_list },       { "info", cmd_info },       { "console", cmd_console },
		{ "exec", cmd_exec },       { "events", cmd_events },   { "recover", cmd_recover },
		{ "image", cmd_image },     { "shares", cmd_shares },   { "stats", cmd_stats },
		{ "ids", sodactl_cmd_ids },
#ifdef SODA_HAVE_NETWORK
		{ "network", sodactl_cmd_network }, { "policy", sodactl_cmd_policy },
#endif
	};
	soda_context *ctx = NULL;
	int c, rc;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "+vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			opt_uri = optarg;
			break;
		case 's':
			opt_state_dir = optarg;
			break;
		case 'n':
			opt_netns = optarg;
			break;
		case 'v':
			opt_verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sodactl (libsoda %s)\n", soda_version());
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name) != 0)
			continue;
		if (argc - optind >= 2 && strcmp(argv[optind + 1], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		rc = open_ctx(&ctx);
		if (rc)
			return rc;
		rc = cmds[i].fn(ctx, argc - optind, argv + optind);
		soda_context_unref(ctx);
		return rc;
	}
	return usage_error("unknown command '%s'", argv[optind]);
}
