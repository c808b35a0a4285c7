/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sodactl network ... and policy ...: the switch and its firewall. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sodactl.h"

/* A number of frames (the library checks the range). */
static bool frames(const char *s, uint32_t *ret)
{
	unsigned long long v;

	if (!cli_parse_u64(s, UINT32_MAX, &v))
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* "RATE" or "RATE/BURST" (burst: twice the rate if not given). */
static bool flood_arg(const char *s, uint32_t *rate, uint32_t *burst)
{
	char buf[64];
	char *slash;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return false;
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (!frames(buf, rate))
		return false;
	if (slash)
		return frames(slash, burst);
	*burst = *rate > UINT32_MAX / 2 ? UINT32_MAX : *rate * 2;
	return true;
}

int sctl_network_create(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	soda_network_options o = SODA_NETWORK_OPTIONS_INIT;
	const char *limit = cli_get(c, "flood-limit");
	soda_network *net = NULL;
	soda_error *e = NULL;
	uint32_t rate = 0, burst = 0;

	if (limit && !flood_arg(limit, &rate, &burst))
		return cli_usage_error(c, "--flood-limit takes RATE[/BURST], not '%s'", limit);
	if (!ctx)
		return CLI_EXIT_FAIL;
	o.uplink = cli_get(c, "uplink");
	if (soda_network_create(&net, ctx, c->argv[0], &o,
				cli_has(c, "no-firewall") ? SODA_NETWORK_NO_FIREWALL : 0, &e) < 0)
		return sctl_fail(e, "network create");
	/* Made with the default limit; a different one follows at once. */
	if (limit && soda_network_set_flood_limit(net, rate, burst, 0, &e) < 0) {
		soda_network_unref(net);
		return sctl_fail(e, "network create: --flood-limit (the network exists)");
	}
	printf("created network %s\n", c->argv[0]);
	soda_network_unref(net);
	return 0;
}

int sctl_network_destroy(struct cli_call *c)
{
	soda_network *net = NULL;
	soda_error *e = NULL;
	int r = sctl_network(c, c->argv[0], &net);

	if (r)
		return r;
	r = soda_network_destroy(net, cli_has(c, "force") ? SODA_NETWORK_DESTROY_FORCE : 0, &e);
	soda_network_unref(net);
	if (r < 0)
		return sctl_fail(e, "network destroy");
	printf("destroyed network %s\n", c->argv[0]);
	return 0;
}

int sctl_network_flood_limit(struct cli_call *c)
{
	soda_network *net = NULL;
	soda_error *e = NULL;
	uint32_t rate = 0, burst = 0;
	int r;

	if (!frames(c->argv[1], &rate) || (c->argc == 3 && !frames(c->argv[2], &burst)))
		return cli_usage_error(c, "RATE and BURST are frame counts (RATE 0: off)");
	if (c->argc == 2)
		burst = rate > UINT32_MAX / 2 ? UINT32_MAX : rate * 2;
	if ((r = sctl_network(c, c->argv[0], &net)))
		return r;
	r = soda_network_set_flood_limit(net, rate, burst, 0, &e);
	soda_network_unref(net);
	if (r < 0)
		return sctl_fail(e, "network flood-limit");
	if (rate)
		printf("network %s: at most %u broadcast and multicast frames per second per port, "
		       "burst %u\n", c->argv[0], rate, burst);
	else
		printf("network %s: broadcast limit off\n", c->argv[0]);
	return 0;
}

static int net_info(struct cli_call *c, soda_network *net, struct json *j)
{
	soda_network_info *info = NULL;
	soda_error *e = NULL;
	uint32_t rate = 0, burst = 0;
	const char *name = soda_network_get_name(net);

	if (soda_network_get_info(&info, net, 0, &e) < 0)
		return sctl_fail(e, "network info");
	soda_network_info_get_flood_limit(info, &rate, &burst);
	if (j) {
		json_object_begin(j, NULL);
		json_str(j, "name", name);
		json_str(j, "bridge", soda_network_info_get_bridge(info));
		json_str(j, "uplink", soda_network_info_get_uplink(info));
		json_str(j, "table", soda_network_info_get_table(info));
		json_bool(j, "firewall", soda_network_info_get_firewall(info));
		json_uint(j, "generation", soda_network_info_get_generation(info));
		json_uint(j, "rules", soda_network_info_get_rule_count(info));
		json_object_begin(j, "flood_limit");
		json_uint(j, "rate", soda_network_info_get_firewall(info) ? rate : 0);
		json_uint(j, "burst", soda_network_info_get_firewall(info) ? burst : 0);
		json_object_end(j);
		json_array_begin(j, "ports");
		for (size_t i = 0; i < soda_network_info_get_port_count(info); i++) {
			const char *server, *ifname, *mac;
			uint32_t nic;

			soda_network_info_get_port(info, i, &server, &nic, &ifname, &mac);
			json_object_begin(j, NULL);
			json_str(j, "server", server);
			json_uint(j, "nic", nic);
			json_str(j, "ifname", ifname);
			json_str(j, "mac", mac);
			json_array_begin(j, "addresses");
			for (size_t a = 0; a < soda_network_info_get_port_address_count(info, i); a++)
				json_str(j, NULL, soda_network_info_get_port_address(info, i, a));
			json_array_end(j);
			json_object_end(j);
		}
		json_array_end(j);
		json_object_end(j);
	} else {
		printf("network:    %s\nbridge:     %s\nuplink:     %s\ntables:     %s\n"
		       "firewall:   %s\ngeneration: %" PRIu64 "\nrules:      %zu\n",
		       name, soda_network_info_get_bridge(info),
		       soda_network_info_get_uplink(info) ? soda_network_info_get_uplink(info) : "(none)",
		       soda_network_info_get_table(info),
		       soda_network_info_get_firewall(info) ? "yes" : "no",
		       soda_network_info_get_generation(info), soda_network_info_get_rule_count(info));
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
	}
	soda_network_info_free(info);
	(void)c;
	return 0;
}

int sctl_network_info(struct cli_call *c)
{
	soda_network *net = NULL;
	struct json j;
	int r = sctl_network(c, c->argv[0], &net);

	if (r)
		return r;
	if (c->json)
		sctl_json(&j);
	r = net_info(c, net, c->json ? &j : NULL);
	if (c->json && r == 0)
		json_finish(&j);
	soda_network_unref(net);
	return r;
}

int sctl_network_list(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	char **names = NULL;
	soda_error *e = NULL;
	struct json j;
	int rc = 0;

	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_context_list_networks(&names, NULL, ctx, 0, &e) < 0)
		return sctl_fail(e, "network list");
	if (c->json) {
		sctl_json(&j);
		json_array_begin(&j, NULL);
	}
	for (size_t i = 0; names[i]; i++) {
		soda_network *net = NULL;

		if (!c->json) {
			printf("%s\n", names[i]);
			continue;
		}
		if (soda_network_lookup(&net, ctx, names[i], NULL) < 0)
			continue; /* destroyed meanwhile */
		if (net_info(c, net, &j))
			rc = CLI_EXIT_FAIL;
		soda_network_unref(net);
	}
	if (c->json) {
		json_array_end(&j);
		json_finish(&j);
	}
	soda_strv_free(names);
	return rc;
}

static int policy_load(const char *path, soda_policy **ret)
{
	soda_error *e = NULL;
	size_t len = 0;
	char *text = sctl_slurp(path, &len);
	int r;

	if (!text)
		return CLI_EXIT_FAIL;
	r = soda_policy_parse(ret, text, len, strcmp(path, "-") == 0 ? "stdin" : path, 0, &e);
	free(text);
	if (r < 0)
		return sctl_fail(e, "policy");
	return 0;
}

int sctl_policy_apply(struct cli_call *c)
{
	bool check = strcmp(c->cmd->path, "policy check") == 0;
	soda_network *net = NULL;
	soda_policy *p = NULL;
	soda_error *e = NULL;
	int r;

	if ((r = sctl_network(c, c->argv[0], &net)))
		return r;
	r = policy_load(c->argv[1], &p);
	if (!r && soda_network_apply_policy(net, p, check ? SODA_POLICY_CHECK : 0, &e) < 0)
		r = sctl_fail(e, check ? "policy check" : "policy apply");
	if (!r)
		printf("%s: %zu rules %s\n", c->argv[0], soda_policy_get_rule_count(p),
		       check ? "check out (nothing changed)" : "in force");
	soda_policy_free(p);
	soda_network_unref(net);
	return r;
}

int sctl_policy_show(struct cli_call *c)
{
	soda_network *net = NULL;
	soda_policy *p = NULL;
	soda_error *e = NULL;
	char *text = NULL;
	int r;

	if ((r = sctl_network(c, c->argv[0], &net)))
		return r;
	if (cli_has(c, "compiled")) {
		r = soda_network_get_compiled(&text, net, 0, &e) < 0 ? sctl_fail(e, "policy show") : 0;
		if (!r)
			fputs(text, stdout);
		soda_free(text);
	} else {
		r = soda_network_get_policy(&p, net, &e) < 0 ? sctl_fail(e, "policy show") : 0;
		if (!r)
			fputs(soda_policy_get_text(p), stdout);
		soda_policy_free(p);
	}
	soda_network_unref(net);
	return r;
}

int sctl_policy_counters(struct cli_call *c)
{
	static const char *const totals[] = { "default", "invalid", "host", "uplink" };
	soda_network *net = NULL;
	soda_net_counters *cs = NULL;
	soda_error *e = NULL;
	size_t nr, ns;
	int r;

	if ((r = sctl_network(c, c->argv[0], &net)))
		return r;
	r = soda_network_get_counters(&cs, net, 0, &e);
	soda_network_unref(net);
	if (r < 0)
		return sctl_fail(e, "policy counters");
	nr = soda_net_counters_get_rule_count(cs);
	ns = soda_net_counters_get_server_count(cs);
	if (c->json) {
		struct json j;

		sctl_json(&j);
		json_object_begin(&j, NULL);
		json_array_begin(&j, "rules");
		for (size_t i = 0; i < nr; i++) {
			uint64_t p = 0, b = 0;

			soda_net_counters_get_rule(cs, i, &p, &b);
			json_object_begin(&j, NULL);
			json_str(&j, "rule", soda_net_counters_get_rule_text(cs, i));
			json_uint(&j, "packets", p);
			json_uint(&j, "bytes", b);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_begin(&j, "servers");
		for (size_t s = 0; s < ns; s++) {
			json_object_begin(&j, soda_net_counters_get_server(cs, s));
			for (int k = 0; k <= SODA_NET_COUNTER_MAX; k++) {
				uint64_t p = 0;

				soda_net_counters_get_server_value(cs, s, k, &p, NULL);
				json_uint(&j, soda_net_counter_name(k), p);
			}
			json_object_end(&j);
		}
		json_object_end(&j);
		json_object_begin(&j, "totals");
		for (int k = 0; k <= SODA_NET_TOTAL_MAX && k < 4; k++) {
			uint64_t p = 0;

			soda_net_counters_get_total(cs, k, &p, NULL);
			json_uint(&j, totals[k], p);
		}
		json_object_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else {
		uint64_t t[4] = { 0 };

		printf("%10s %12s  %s\n", "PACKETS", "BYTES", "RULE");
		for (size_t i = 0; i < nr; i++) {
			uint64_t p = 0, b = 0;

			soda_net_counters_get_rule(cs, i, &p, &b);
			printf("%10" PRIu64 " %12" PRIu64 "  %s\n", p, b,
			       soda_net_counters_get_rule_text(cs, i));
		}
		printf("\n%-16s", "SERVER");
		for (int k = 0; k <= SODA_NET_COUNTER_MAX; k++)
			printf(" %11s", soda_net_counter_name(k));
		printf("\n");
		for (size_t s = 0; s < ns; s++) {
			printf("%-16s", soda_net_counters_get_server(cs, s));
			for (int k = 0; k <= SODA_NET_COUNTER_MAX; k++) {
				uint64_t p = 0;

				soda_net_counters_get_server_value(cs, s, k, &p, NULL);
				printf(" %11" PRIu64, p);
			}
			printf("\n");
		}
		for (int k = 0; k < 4; k++)
			soda_net_counters_get_total(cs, k, &t[k], NULL);
		printf("\nrefused by default %" PRIu64 ", invalid %" PRIu64 ", to the host %" PRIu64
		       ", spoofed from the uplink %" PRIu64 "\n", t[0], t[1], t[2], t[3]);
	}
	soda_net_counters_free(cs);
	return 0;
}
