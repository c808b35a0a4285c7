/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl ids: the IDS at a server's switch port (include/soda/ids.h).
 *
 *   sodactl ids enable NAME --rules FILE [--vars FILE]
 *   sodactl ids reload NAME --rules FILE [--vars FILE]
 *   sodactl ids disable NAME
 *   sodactl ids stats NAME [--json]
 *   sodactl ids alerts NAME [--follow] [--json]   (the port's lines and the
 *                                   in-guest Kernort's, "source" port/guest)
 *
 * and, for `sodactl create`, the tenant's choices:
 *   --ids-landlord-alerts            the landlord may see alert metadata
 *   --ids-response freeze:PRIORITY   freeze on alerts of PRIORITY or higher
 *   --ids-response dump:PRIORITY     dump (disk and memory) on such alerts
 *   --ids-bypass BYTES               the port IDS's flow bypass at BYTES
 *                                    (K, M, G suffixes; 0 off)
 *
 * Each command is a function of its own taking plain values (ids_enable(),
 * ids_stats()...), so a table-driven parser can call them directly;
 * sodactl_cmd_ids() is the argv front end for today's dispatcher.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <soda/soda.h>
#include <soda/sys/backend.h> /* soda_error_set */

#include "commands.h"

static int failed(soda_error *e, const char *what)
{
	fprintf(stderr, "sodactl: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	soda_error_free(e);
	return 1;
}

static int usage(const char *msg)
{
	fprintf(stderr,
		"sodactl: %s\n"
		"usage: sodactl ids enable|reload NAME --rules FILE [--vars FILE]\n"
		"       sodactl ids disable NAME\n"
		"       sodactl ids stats NAME [--json]\n"
		"       sodactl ids alerts NAME [--follow] [--json]\n",
		msg);
	return 2;
}

static int lookup(soda_context *ctx, const char *name, soda_server **srv)
{
	soda_error *e = NULL;

	if (soda_server_lookup(srv, ctx, name, &e) < 0) {
		int code = soda_error_code(e) == -ENOENT ? 3 : 1;

		failed(e, name);
		return code;
	}
	return 0;
}

int ids_enable(soda_context *ctx, const char *name, const char *rules, const char *vars,
	       bool reload)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int rc = lookup(ctx, name, &srv), r;

	if (rc)
		return rc;
	r = reload ? soda_server_ids_reload(srv, rules, vars, 0, &e)
		   : soda_server_ids_enable(srv, rules, vars, 0, &e);
	soda_server_unref(srv);
	if (r < 0)
		return failed(e, reload ? "ids reload" : "ids enable");
	printf("%s the port IDS of %s with %s\n", reload ? "reloaded" : "enabled", name, rules);
	return 0;
}

int ids_disable(soda_context *ctx, const char *name)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int rc = lookup(ctx, name, &srv), r;

	if (rc)
		return rc;
	r = soda_server_ids_disable(srv, 0, &e);
	soda_server_unref(srv);
	if (r < 0)
		return failed(e, "ids disable");
	printf("disabled the port IDS of %s\n", name);
	return 0;
}

int ids_stats(soda_context *ctx, const char *name, bool json)
{
	soda_server *srv = NULL;
	soda_ids_stats *st = NULL;
	soda_error *e = NULL;
	int rc = lookup(ctx, name, &srv), r;
	bool first = true;

	if (rc)
		return rc;
	r = soda_server_ids_stats(&st, srv, 0, &e);
	soda_server_unref(srv);
	if (r < 0)
		return failed(e, "ids stats");
	if (json)
		printf("{\"server\":\"%s\"", name);
	for (uint32_t k = 1; k <= SODA_IDS_STAT_MAX; k++) {
		uint64_t v;

		if (soda_ids_stats_get(st, k, &v) < 0)
			continue;
		if (json)
			printf(",\"%s\":%llu", soda_ids_stats_key_name(k), (unsigned long long)v);
		else
			printf("%s%-12s %llu\n", first ? "" : "", soda_ids_stats_key_name(k),
			       (unsigned long long)v);
		first = false;
	}
	if (json)
		printf("}\n");
	soda_ids_stats_free(st);
	return 0;
}

/* The value of "key": in one of our own landlord lines (a string's
 * escapes are kept as they are). */
static void field(const char *line, const char *key, char *out, size_t len)
{
	char pat[40];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	out[0] = '\0';
	p = strstr(line, pat);
	if (!p)
		return;
	p += strlen(pat);
	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < len; p++) {
			if (*p == '\\' && p[1])
				out[n++] = *p++;
			out[n++] = *p;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && n + 1 < len)
			out[n++] = *p++;
	}
	out[n] = '\0';
}

static void print_alert(const char *line, bool json)
{
	char ts[40], sid[16], rev[16], prio[8], msg[300], proto[12], src[48], sp[8], dst[48],
		dp[8];

	if (json) {
		printf("%s\n", line);
		return;
	}
	field(line, "timestamp", ts, sizeof(ts));
	field(line, "source", src, sizeof(src));
	if (strcmp(src, "port") != 0) {
		/* The guest's Kernort: rule and kind, nothing more. */
		field(line, "sid", sid, sizeof(sid));
		field(line, "rev", rev, sizeof(rev));
		field(line, "priority", prio, sizeof(prio));
		field(line, "kind", msg, sizeof(msg));
		printf("%s [%s:%s] [priority %s] in the guest: %s\n", ts, sid, rev, prio, msg);
		return;
	}
	field(line, "sid", sid, sizeof(sid));
	field(line, "rev", rev, sizeof(rev));
	field(line, "priority", prio, sizeof(prio));
	field(line, "msg", msg, sizeof(msg));
	field(line, "proto", proto, sizeof(proto));
	field(line, "src_ip", src, sizeof(src));
	field(line, "src_port", sp, sizeof(sp));
	field(line, "dest_ip", dst, sizeof(dst));
	field(line, "dest_port", dp, sizeof(dp));
	printf("%s [%s:%s] [priority %s] %s {%s} %s:%s -> %s:%s\n", ts, sid, rev, prio, msg, proto,
	       src, sp, dst, dp);
}

int ids_alerts(soda_context *ctx, const char *name, bool follow, bool json)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	char buf[8192], line[4096];
	size_t have = 0;
	int rc = lookup(ctx, name, &srv), fd = -1, r;

	if (rc)
		return rc;
	r = soda_server_ids_open_alerts(srv, &fd, 0, &e);
	soda_server_unref(srv);
	if (r < 0)
		return failed(e, "ids alerts");
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			perror("sodactl: ids alerts");
			close(fd);
			return 1;
		}
		if (n == 0) {
			if (!follow)
				break;
			/* A regular file has no readiness to wait on: look again
			 * shortly (the monitor appends whole lines). */
			usleep(100000);
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				line[have] = '\0';
				print_alert(line, json);
				have = 0;
			} else if (have + 1 < sizeof(line)) {
				line[have++] = buf[i];
			}
		}
	}
	close(fd);
	return 0;
}

int sodactl_ids_create_option(soda_server_config *cfg, const char *opt, const char *value,
			      soda_error **error)
{
	if (strcmp(opt, "ids-landlord-alerts") == 0)
		return soda_server_config_set_ids_landlord_alerts(cfg, 1, error);
	if (strcmp(opt, "ids-response") == 0) {
		unsigned prio = 0;
		int end = 0;

		if (strcmp(value, "none") == 0)
			return soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_NONE, 1,
								   error);
		if (sscanf(value, "freeze:%u%n", &prio, &end) == 1 && !value[end])
			return soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_FREEZE,
								   prio, error);
		end = 0;
		if (sscanf(value, "dump:%u%n", &prio, &end) == 1 && !value[end])
			return soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_DUMP,
								   prio, error);
		return soda_error_set(error, -EINVAL,
				      "--ids-response takes none, freeze:PRIORITY or dump:PRIORITY");
	}
	if (strcmp(opt, "ids-bypass") == 0) {
		unsigned long long n = 0, mul = 1;
		char *end = NULL;

		errno = 0;
		if (value[0] >= '0' && value[0] <= '9')
			n = strtoull(value, &end, 10);
		if (end && (*end == 'K' || *end == 'k'))
			mul = 1024, end++;
		else if (end && (*end == 'M' || *end == 'm'))
			mul = 1024 * 1024, end++;
		else if (end && (*end == 'G' || *end == 'g'))
			mul = 1024 * 1024 * 1024, end++;
		if (!end || end == value || *end || errno || n > UINT64_MAX / mul)
			return soda_error_set(error, -EINVAL,
					      "--ids-bypass takes a byte count such as 1M (0: off)");
		return soda_server_config_set_ids_bypass(cfg, (uint64_t)(n * mul), error);
	}
	return soda_error_set(error, -EINVAL, "unknown IDS option");
}

int sodactl_cmd_ids(soda_context *ctx, int argc, char **argv)
{
	const char *rules = NULL, *vars = NULL, *name = NULL;
	bool json = false, follow = false;

	if (argc < 3)
		return usage("ids needs a command and a server NAME");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
			rules = argv[++i];
		else if (strcmp(argv[i], "--vars") == 0 && i + 1 < argc)
			vars = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--follow") == 0)
			follow = true;
		else if (argv[i][0] == '-' || name)
			return usage("unknown option or extra argument");
		else
			name = argv[i];
	}
	if (!name)
		return usage("ids needs a server NAME");
	if (strcmp(argv[1], "enable") == 0 || strcmp(argv[1], "reload") == 0) {
		if (!rules || json || follow)
			return usage("ids enable/reload take --rules FILE [--vars FILE]");
		return ids_enable(ctx, name, rules, vars, argv[1][0] == 'r');
	}
	if (rules || vars)
		return usage("--rules and --vars go with enable and reload");
	if (strcmp(argv[1], "disable") == 0 && !json && !follow)
		return ids_disable(ctx, name);
	if (strcmp(argv[1], "stats") == 0 && !follow)
		return ids_stats(ctx, name, json);
	if (strcmp(argv[1], "alerts") == 0)
		return ids_alerts(ctx, name, follow, json);
	return usage("unknown ids command");
}
