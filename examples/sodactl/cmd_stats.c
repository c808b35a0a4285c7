/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sodactl stats: a table, JSON, or the Prometheus exposition (metrics.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sodactl.h"
#include "commands.h"

int sctl_stats(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	const char *addr = cli_get(c, "listen"), *count_arg = cli_get(c, "count");
	bool prom = cli_has(c, "prometheus");
	unsigned long long count = 0;
	char **names = NULL;
	soda_error *e = NULL;
	bool listed = false;
	struct json j;
	int rc = 0;

	if ((prom || addr) && c->json)
		return cli_usage_error(c, "--json, --prometheus and --listen go one at a time");
	if (prom && addr)
		return cli_usage_error(c, "--prometheus prints once; --listen serves it");
	if (count_arg && (!addr || !cli_parse_u64(count_arg, 1ull << 31, &count) || count == 0))
		return cli_usage_error(c, "--count takes a number of requests (1 or more), with --listen");
	if (!ctx)
		return CLI_EXIT_FAIL;
	if (c->argc) {
		names = calloc((size_t)c->argc + 1, sizeof(char *));
		if (!names)
			return CLI_EXIT_FAIL;
		for (int k = 0; k < c->argc; k++)
			names[k] = strdup(c->argv[k]);
	}
	/* Prometheus: the servers (every running one unless named) and every
	 * network's firewall counters, listed anew at each scrape. */
	if (prom || addr) {
		rc = prom ? sodactl_metrics_print(ctx, names)
			  : sodactl_metrics_listen(ctx, names, addr, (long)count);
		soda_strv_free(names);
		return rc;
	}
	if (!names) {
		if (soda_context_list_servers(&names, NULL, ctx, 0, &e) < 0)
			return sctl_fail(e, "stats");
		listed = true;
	}
	if (c->json) {
		sctl_json(&j);
		json_array_begin(&j, NULL);
	} else {
		printf("%-20s %12s %10s %10s %10s %8s %12s %12s\n", "NAME", "CPU s", "THROTTLED",
		       "MEM MiB", "MEMHITS", "PIDS", "NET OUT B", "NET IN B");
	}
	for (size_t n = 0; names && names[n]; n++) {
		soda_server *srv = NULL;
		soda_stats *st = NULL;
		uint64_t v;

		if (soda_server_lookup(&srv, ctx, names[n], &e) < 0) {
			rc = sctl_fail(e, names[n]);
			e = NULL;
			continue;
		}
		if (soda_server_get_stats(&st, srv, 0, &e) < 0) {
			/* Listing all: shut-off servers have no statistics. */
			if (listed && soda_error_code(e) == -EBUSY)
				soda_error_free(e);
			else
				rc = sctl_fail(e, names[n]);
			e = NULL;
			soda_server_unref(srv);
			continue;
		}
		if (c->json) {
			json_object_begin(&j, NULL);
			json_str(&j, "name", names[n]);
			for (int k = 1; k <= SODA_STAT_MAX; k++)
				if (soda_stats_get(st, k, &v) == 0)
					json_uint(&j, soda_stats_key_name(k), v);
			json_object_end(&j);
		} else {
#define G(k) (soda_stats_get(st, k, &v) == 0 ? v : 0)
			printf("%-20s %12.2f %10.2f %10.1f %10llu %8llu %12llu %12llu\n", names[n],
			       G(SODA_STAT_CPU_USEC) / 1e6, G(SODA_STAT_CPU_THROTTLED_USEC) / 1e6,
			       G(SODA_STAT_MEMORY_BYTES) / 1048576.0,
			       (unsigned long long)G(SODA_STAT_MEMORY_LIMIT_HITS),
			       (unsigned long long)G(SODA_STAT_PIDS),
			       (unsigned long long)G(SODA_STAT_NET_OUT_BYTES),
			       (unsigned long long)G(SODA_STAT_NET_IN_BYTES));
#undef G
		}
		soda_stats_free(st);
		soda_server_unref(srv);
	}
	if (c->json) {
		json_array_end(&j);
		json_finish(&j);
	}
	soda_strv_free(names);
	return rc;
}
