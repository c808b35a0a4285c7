/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl network ... and sodactl policy ...: the switch and its firewall.
 *
 *   network create NAME [--uplink IF] [--no-firewall] [--flood-limit RATE[/BURST]]
 *   network flood-limit NAME RATE [BURST]
 *                                    broadcast and multicast frames per second
 *                                    (and burst) each port may send; 0: off
 *   network destroy NAME [--force]
 *   network list
 *   network info NAME
 *   policy apply NETWORK FILE|-      replace the policy (atomically)
 *   policy check NETWORK FILE|-      everything apply does, the kernel's
 *                                    checks included, but change nothing
 *   policy show NETWORK [--compiled] the policy in force (or its set elements)
 *   policy counters NETWORK [--json] per rule, per server, totals
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soda/network.h>

#include "commands.h"

#define TEXT_MAX (64u << 20)

static int failed(soda_error *e, const char *what)
{
	fprintf(stderr, "sodactl: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	soda_error_free(e);
	return 1;
}

static int usage(const char *msg)
{
	fprintf(stderr, "sodactl: %s (see sodactl --help)\n", msg);
	return 2;
}

/* Reads @path ("-": standard input) whole. */
static char *slurp(const char *path, size_t *ret_len)
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
			nb = cap <= TEXT_MAX + 131072 ? realloc(buf, cap) : NULL;
			if (!nb) {
				fprintf(stderr, "sodactl: %s is too large\n", path);
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
				fprintf(stderr, "sodactl: cannot read %s: %s\n", path,
					strerror(errno));
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

/* A number of frames, 0 to 1000000 (the library checks the range). */
static int frames(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

/* "RATE", "RATE/BURST" (burst: twice the rate if not given). */
static int flood_arg(const char *s, uint32_t *rate, uint32_t *burst)
{
	char buf[64];
	char *slash;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -1;
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (frames(buf, rate) < 0)
		return -1;
	if (slash)
		return frames(slash, burst);
	*burst = *rate > UINT32_MAX / 2 ? UINT32_MAX : *rate * 2;
	return 0;
}

static int open_net(soda_context *ctx, const char *name, soda_network **net)
{
	soda_error *e = NULL;

	if (soda_network_lookup(net, ctx, name, &e) < 0)
		return failed(e, name);
	return 0;
}

int sodactl_cmd_network(soda_context *ctx, int argc, char **argv)
{
	soda_error *e = NULL;
	soda_network *net = NULL;

	if (argc < 2)
		return usage("network needs a command: create, destroy, list, info, flood-limit");
	if (strcmp(argv[1], "create") == 0) {
		soda_network_options o = SODA_NETWORK_OPTIONS_INIT;
		unsigned int flags = 0;
		uint32_t rate = 0, burst = 0;
		bool limit = false;

		if (argc < 3)
			return usage("network create needs a NAME");
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--no-firewall") == 0)
				flags |= SODA_NETWORK_NO_FIREWALL;
			else if (strcmp(argv[i], "--uplink") == 0 && i + 1 < argc)
				o.uplink = argv[++i];
			else if (strcmp(argv[i], "--flood-limit") == 0 && i + 1 < argc) {
				if (flood_arg(argv[++i], &rate, &burst) < 0)
					return usage("network create: --flood-limit RATE[/BURST]");
				limit = true;
			} else
				return usage("network create: unknown option or missing value");
		}
		if (soda_network_create(&net, ctx, argv[2], &o, flags, &e) < 0)
			return failed(e, "network create");
		/* Made with the default limit; a different one follows at once. */
		if (limit && soda_network_set_flood_limit(net, rate, burst, 0, &e) < 0) {
			soda_network_unref(net);
			return failed(e, "network create: --flood-limit (the network exists)");
		}
		printf("created network %s\n", argv[2]);
		soda_network_unref(net);
		return 0;
	}
	if (strcmp(argv[1], "destroy") == 0) {
		unsigned int flags = 0;
		int r;

		if (argc < 3 || (argc == 4 && strcmp(argv[3], "--force") != 0) || argc > 4)
			return usage("usage: network destroy NAME [--force]");
		if (argc == 4)
			flags |= SODA_NETWORK_DESTROY_FORCE;
		if ((r = open_net(ctx, argv[2], &net)))
			return r;
		r = soda_network_destroy(net, flags, &e);
		soda_network_unref(net);
		if (r < 0)
			return failed(e, "network destroy");
		printf("destroyed network %s\n", argv[2]);
		return 0;
	}
	if (strcmp(argv[1], "list") == 0) {
		char **names = NULL;

		if (soda_context_list_networks(&names, NULL, ctx, 0, &e) < 0)
			return failed(e, "network list");
		for (size_t i = 0; names[i]; i++)
			printf("%s\n", names[i]);
		soda_strv_free(names);
		return 0;
	}
	if (strcmp(argv[1], "flood-limit") == 0) {
		uint32_t rate = 0, burst = 0;
		int r;

		if (argc < 4 || argc > 5 || frames(argv[3], &rate) < 0 ||
		    (argc == 5 && frames(argv[4], &burst) < 0))
			return usage("usage: network flood-limit NAME RATE [BURST] (RATE 0: off)");
		if (argc == 4)
			burst = rate > UINT32_MAX / 2 ? UINT32_MAX : rate * 2;
		if ((r = open_net(ctx, argv[2], &net)))
			return r;
		r = soda_network_set_flood_limit(net, rate, burst, 0, &e);
		soda_network_unref(net);
		if (r < 0)
			return failed(e, "network flood-limit");
		if (rate)
			printf("network %s: at most %u broadcast and multicast frames per second "
			       "per port, burst %u\n",
			       argv[2], rate, burst);
		else
			printf("network %s: broadcast limit off\n", argv[2]);
		return 0;
	}
	if (strcmp(argv[1], "info") == 0) {
		soda_network_info *info = NULL;
		uint32_t rate = 0, burst = 0;
		int r;

		if (argc != 3)
			return usage("usage: network info NAME");
		if ((r = open_net(ctx, argv[2], &net)))
			return r;
		r = soda_network_get_info(&info, net, 0, &e);
		soda_network_unref(net);
		if (r < 0)
			return failed(e, "network info");
		printf("network:    %s\nbridge:     %s\nuplink:     %s\ntables:     %s\n"
		       "firewall:   %s\ngeneration: %" PRIu64 "\nrules:      %zu\n",
		       argv[2], soda_network_info_get_bridge(info),
		       soda_network_info_get_uplink(info) ? soda_network_info_get_uplink(info)
							  : "(none)",
		       soda_network_info_get_table(info),
		       soda_network_info_get_firewall(info) ? "yes" : "no",
		       soda_network_info_get_generation(info),
		       soda_network_info_get_rule_count(info));
		soda_network_info_get_flood_limit(info, &rate, &burst);
		if (!soda_network_info_get_firewall(info))
			printf("broadcast:  no limit (no firewall)\n");
		else if (rate)
			printf("broadcast:  %u/s burst %u per port\n", rate, burst);
		else
			printf("broadcast:  no limit\n");
		for (size_t i = 0; i < soda_network_info_get_port_count(info); i++) {
			const char *server, *ifname, *mac;
			uint32_t nic;

			soda_network_info_get_port(info, i, &server, &nic, &ifname, &mac);
			printf("port:       %s nic %u %s %s", server, nic, ifname, mac);
			for (size_t a = 0; a < soda_network_info_get_port_address_count(info, i); a++)
				printf(" %s", soda_network_info_get_port_address(info, i, a));
			printf("\n");
		}
		soda_network_info_free(info);
		return 0;
	}
	return usage("unknown network command");
}

static int policy_load(const char *path, soda_policy **ret)
{
	soda_error *e = NULL;
	size_t len = 0;
	char *text = slurp(path, &len);
	int r;

	if (!text)
		return 1;
	r = soda_policy_parse(ret, text, len, strcmp(path, "-") == 0 ? "stdin" : path, 0, &e);
	free(text);
	if (r < 0)
		return failed(e, "policy");
	return 0;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int counters(soda_network *net, bool json)
{
	soda_net_counters *c = NULL;
	soda_error *e = NULL;
	size_t nr, ns;

	if (soda_network_get_counters(&c, net, 0, &e) < 0)
		return failed(e, "policy counters");
	nr = soda_net_counters_get_rule_count(c);
	ns = soda_net_counters_get_server_count(c);
	if (json) {
		printf("{\"rules\":[");
		for (size_t i = 0; i < nr; i++) {
			uint64_t p = 0, b = 0;

			soda_net_counters_get_rule(c, i, &p, &b);
			printf("%s{\"rule\":", i ? "," : "");
			json_string(soda_net_counters_get_rule_text(c, i));
			printf(",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", p, b);
		}
		printf("],\"servers\":{");
		for (size_t s = 0; s < ns; s++) {
			printf("%s", s ? "," : "");
			json_string(soda_net_counters_get_server(c, s));
			printf(":{");
			for (int k = 0; k <= SODA_NET_COUNTER_MAX; k++) {
				uint64_t p = 0;

				soda_net_counters_get_server_value(c, s, k, &p, NULL);
				printf("%s\"%s\":%" PRIu64, k ? "," : "", soda_net_counter_name(k), p);
			}
			printf("}");
		}
		printf("},\"totals\":{");
		{
			static const char *names[] = { "default", "invalid", "host", "uplink" };

			for (int k = 0; k <= SODA_NET_TOTAL_MAX; k++) {
				uint64_t p = 0;

				soda_net_counters_get_total(c, k, &p, NULL);
				printf("%s\"%s\":%" PRIu64, k ? "," : "", names[k], p);
			}
		}
		printf("}}\n");
	} else {
		printf("%10s %12s  %s\n", "PACKETS", "BYTES", "RULE");
		for (size_t i = 0; i < nr; i++) {
			uint64_t p = 0, b = 0;

			soda_net_counters_get_rule(c, i, &p, &b);
			printf("%10" PRIu64 " %12" PRIu64 "  %s\n", p, b,
			       soda_net_counters_get_rule_text(c, i));
		}
		printf("\n%-16s", "SERVER");
		for (int k = 0; k <= SODA_NET_COUNTER_MAX; k++)
			printf(" %11s", soda_net_counter_name(k));
		printf("\n");
		for (size_t s = 0; s < ns; s++) {
			printf("%-16s", soda_net_counters_get_server(c, s));
			for (int k = 0; k <= SODA_NET_COUNTER_MAX; k++) {
				uint64_t p = 0;

				soda_net_counters_get_server_value(c, s, k, &p, NULL);
				printf(" %11" PRIu64, p);
			}
			printf("\n");
		}
		{
			uint64_t d = 0, inv = 0, h = 0, u = 0;

			soda_net_counters_get_total(c, SODA_NET_TOTAL_DEFAULT, &d, NULL);
			soda_net_counters_get_total(c, SODA_NET_TOTAL_INVALID, &inv, NULL);
			soda_net_counters_get_total(c, SODA_NET_TOTAL_HOST, &h, NULL);
			soda_net_counters_get_total(c, SODA_NET_TOTAL_UPLINK, &u, NULL);
			printf("\nrefused by default %" PRIu64 ", invalid %" PRIu64
			       ", to the host %" PRIu64 ", spoofed from the uplink %" PRIu64 "\n",
			       d, inv, h, u);
		}
	}
	soda_net_counters_free(c);
	return 0;
}

int sodactl_cmd_policy(soda_context *ctx, int argc, char **argv)
{
	soda_error *e = NULL;
	soda_network *net = NULL;
	soda_policy *p = NULL;
	int r;

	if (argc < 3)
		return usage("usage: policy apply|check|show|counters NETWORK ...");
	if (strcmp(argv[1], "apply") == 0 || strcmp(argv[1], "check") == 0) {
		bool check = strcmp(argv[1], "check") == 0;

		if (argc != 4)
			return usage("usage: policy apply|check NETWORK FILE|-");
		if ((r = open_net(ctx, argv[2], &net)))
			return r;
		r = policy_load(argv[3], &p);
		if (!r && soda_network_apply_policy(net, p, check ? SODA_POLICY_CHECK : 0, &e) < 0)
			r = failed(e, check ? "policy check" : "policy apply");
		if (!r)
			printf("%s: %zu rules %s\n", argv[2], soda_policy_get_rule_count(p),
			       check ? "check out (nothing changed)" : "in force");
		soda_policy_free(p);
		soda_network_unref(net);
		return r;
	}
	if (strcmp(argv[1], "show") == 0) {
		bool compiled = argc == 4 && strcmp(argv[3], "--compiled") == 0;

		if (argc > 4 || (argc == 4 && !compiled))
			return usage("usage: policy show NETWORK [--compiled]");
		if ((r = open_net(ctx, argv[2], &net)))
			return r;
		if (compiled) {
			char *text = NULL;

			r = soda_network_get_compiled(&text, net, 0, &e) < 0
				    ? failed(e, "policy show")
				    : 0;
			if (!r)
				fputs(text, stdout);
			soda_free(text);
		} else {
			r = soda_network_get_policy(&p, net, &e) < 0 ? failed(e, "policy show") : 0;
			if (!r)
				fputs(soda_policy_get_text(p), stdout);
			soda_policy_free(p);
		}
		soda_network_unref(net);
		return r;
	}
	if (strcmp(argv[1], "counters") == 0) {
		bool json = argc == 4 && strcmp(argv[3], "--json") == 0;

		if (argc > 4 || (argc == 4 && !json))
			return usage("usage: policy counters NETWORK [--json]");
		if ((r = open_net(ctx, argv[2], &net)))
			return r;
		r = counters(net, json);
		soda_network_unref(net);
		return r;
	}
	return usage("unknown policy command");
}
