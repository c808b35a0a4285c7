/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The port IDS's public side (include/soda/ids.h): configuration setters,
 * and requests to the server's backend, which hands them to the server's
 * monitor. Files are opened here with the caller's rights and travel as
 * descriptors; nothing here reads them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <soda/ids.h>

#include "../config.h"
#include "../private.h"
#include "../util.h"

struct soda_ids_stats {
	uint64_t v[SODA_IDS_STAT_MAX + 1];
	uint8_t have[SODA_IDS_STAT_MAX + 1];
};

/* The monitor's names for the keys (monitor/ids.c). */
static const char *const key_names[SODA_IDS_STAT_MAX + 1] = {
	[SODA_IDS_STAT_PACKETS] = "packets",       [SODA_IDS_STAT_BYTES] = "bytes",
	[SODA_IDS_STAT_DROPS] = "drops",           [SODA_IDS_STAT_ALERTS] = "alerts",
	[SODA_IDS_STAT_ALERTS_LOST] = "alerts-lost", [SODA_IDS_STAT_RULES] = "rules",
	[SODA_IDS_STAT_RELOADS] = "reloads",       [SODA_IDS_STAT_FLOWS] = "flows",
	[SODA_IDS_STAT_SEALED] = "sealed",         [SODA_IDS_STAT_LANDLORD] = "landlord",
	[SODA_IDS_STAT_RESPONSES] = "responses",   [SODA_IDS_STAT_PID] = "pid",
	[SODA_IDS_STAT_BYPASSED_FLOWS] = "bypassed-flows",
	[SODA_IDS_STAT_BYPASSED_PACKETS] = "bypassed-packets",
	[SODA_IDS_STAT_BYPASSED_BYTES] = "bypassed-bytes",
};

SODA_EXPORT int soda_server_config_set_ids_landlord_alerts(soda_server_config *cfg,
							   uint32_t allow, soda_error **error)
{
	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	if (allow > 1)
		return su_errorf(error, -EINVAL, "landlord alerts %u is not 0 or 1", allow);
	cfg->ids_landlord = allow == 1;
	return 0;
}

SODA_EXPORT uint32_t soda_server_config_get_ids_landlord_alerts(const soda_server_config *cfg)
{
	return cfg && cfg->ids_landlord ? 1 : 0;
}

SODA_EXPORT int soda_server_config_set_ids_response(soda_server_config *cfg, uint32_t response,
						    uint32_t min_priority, soda_error **error)
{
	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	if (response > SODA_IDS_RESPONSE_DUMP)
		return su_errorf(error, -EINVAL, "unknown IDS response %u", response);
	if (response != SODA_IDS_RESPONSE_NONE && (min_priority < 1 || min_priority > 255))
		return su_errorf(error, -EINVAL, "IDS response priority %u is not 1 to 255",
				 min_priority);
	cfg->ids_response = response;
	if (response != SODA_IDS_RESPONSE_NONE)
		cfg->ids_response_priority = min_priority;
	return 0;
}

SODA_EXPORT int soda_server_config_set_ids_bypass(soda_server_config *cfg, uint64_t depth,
						  soda_error **error)
{
	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	if (depth && (depth < SODA_IDS_BYPASS_MIN || depth > SODA_IDS_BYPASS_MAX))
		return su_errorf(error, -EINVAL,
				 "bypass depth %llu is not 0 or %llu..%llu bytes",
				 (unsigned long long)depth, (unsigned long long)SODA_IDS_BYPASS_MIN,
				 (unsigned long long)SODA_IDS_BYPASS_MAX);
	cfg->ids_bypass_depth = depth;
	return 0;
}

SODA_EXPORT uint64_t soda_server_config_get_ids_bypass(const soda_server_config *cfg)
{
	return cfg ? cfg->ids_bypass_depth : 0;
}

SODA_EXPORT int soda_server_config_get_ids_response(const soda_server_config *cfg,
						    uint32_t *ret_response,
						    uint32_t *ret_min_priority)
{
	if (!cfg)
		return -EINVAL;
	if (ret_response)
		*ret_response = cfg->ids_response;
	if (ret_min_priority)
		*ret_min_priority = cfg->ids_response_priority ? cfg->ids_response_priority : 1;
	return 0;
}

static int check(soda_server *srv, unsigned int flags, soda_error **error)
{
	if (!srv)
		return su_errorf(error, -EINVAL, "srv is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!srv->ctx->drv->ids || !srv->ctx->drv->ids_alerts)
		return su_errorf(error, -EOPNOTSUPP, "the %s backend has no port IDS",
				 srv->ctx->drv->scheme);
	return 0;
}

/* "L R P B" from the server's configuration, for the monitor. */
static int policy_text(soda_server *srv, char *buf, size_t len, soda_error **error)
{
	soda_server_config *cfg = NULL;
	int r = soda_server_get_config(&cfg, srv, error);

	if (r < 0)
		return r;
	snprintf(buf, len, "%u %u %u %llu", cfg->ids_landlord ? 1 : 0, cfg->ids_response,
		 cfg->ids_response_priority ? cfg->ids_response_priority : 1,
		 (unsigned long long)cfg->ids_bypass_depth);
	soda_server_config_free(cfg);
	return 0;
}

static int open_input(const char *path, const char *what, soda_error **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open the %s %s: %s", what, path,
				 strerror(errno));
	return fd;
}

/* kernort reads the files as descriptors and calls them "rules" and
 * "vars" in its messages ("rules:12:45: keyword 'depth': ..."): the
 * caller gets the paths it gave, with line and column in the error. */
static void rename_source(soda_error **error, int code, const char *msg, const char *rules_path,
			  const char *vars_path)
{
	static const char *const names[] = { "rules:", "vars:" };
	const char *paths[] = { rules_path, vars_path };

	for (size_t i = 0; i < 2; i++) {
		unsigned line = 0, col = 0;
		int end = 0;
		size_t k = strlen(names[i]);

		if (!paths[i] || strncmp(msg, names[i], k) != 0)
			continue;
		if (sscanf(msg + k, "%u:%u: %n", &line, &col, &end) == 2 && end > 0) {
			su_errorf_at(error, code, paths[i], line, col, "%s:%u:%u: %s", paths[i], line,
				     col, msg + k + end);
			return;
		}
		end = 0;
		if (sscanf(msg + k, "%u: %n", &line, &end) == 1 && end > 0) {
			su_errorf_at(error, code, paths[i], line, 0, "%s:%u: %s", paths[i], line,
				     msg + k + end);
			return;
		}
	}
	su_errorf(error, code, "%s", msg);
}

static int send_rules(soda_server *srv, const char *request, const char *rules_path,
		      const char *vars_path, soda_error **error)
{
	soda_error *inner = NULL;
	int fds[2] = { -1, -1 }, r;
	size_t n = 1;

	if (!rules_path)
		return su_errorf(error, -EINVAL, "rules_path is NULL");
	fds[0] = open_input(rules_path, "rule file", error);
	if (fds[0] < 0)
		return fds[0];
	if (vars_path) {
		fds[1] = open_input(vars_path, "variables file", error);
		if (fds[1] < 0) {
			close(fds[0]);
			return fds[1];
		}
		n = 2;
	}
	r = srv->ctx->drv->ids(srv->ctx->priv, srv->name, request, fds, n, NULL, &inner);
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (r < 0) {
		rename_source(error, r, soda_error_message(inner), rules_path, vars_path);
		soda_error_free(inner);
	}
	return r;
}

SODA_EXPORT int soda_server_ids_enable(soda_server *srv, const char *rules_path,
				       const char *vars_path, unsigned int flags,
				       soda_error **error)
{
	char req[64], policy[40];
	int r = check(srv, flags, error);

	if (r < 0)
		return r;
	r = policy_text(srv, policy, sizeof(policy), error);
	if (r < 0)
		return r;
	snprintf(req, sizeof(req), "enable %s", policy);
	return send_rules(srv, req, rules_path, vars_path, error);
}

SODA_EXPORT int soda_server_ids_reload(soda_server *srv, const char *rules_path,
				       const char *vars_path, unsigned int flags,
				       soda_error **error)
{
	char req[64], policy[40];
	int r = check(srv, flags, error);

	if (r < 0)
		return r;
	r = policy_text(srv, policy, sizeof(policy), error);
	if (r < 0)
		return r;
	r = send_rules(srv, "reload", rules_path, vars_path, error);
	if (r < 0)
		return r;
	snprintf(req, sizeof(req), "policy %s", policy);
	return srv->ctx->drv->ids(srv->ctx->priv, srv->name, req, NULL, 0, NULL, error);
}

SODA_EXPORT int soda_server_ids_disable(soda_server *srv, unsigned int flags, soda_error **error)
{
	int r = check(srv, flags, error);

	if (r < 0)
		return r;
	return srv->ctx->drv->ids(srv->ctx->priv, srv->name, "disable", NULL, 0, NULL, error);
}

SODA_EXPORT int soda_server_ids_stats(soda_ids_stats **ret, soda_server *srv,
				      unsigned int flags, soda_error **error)
{
	soda_ids_stats *st;
	char *reply = NULL, *save = NULL;
	int r = check(srv, flags, error);

	if (r < 0)
		return r;
	if (!ret)
		return su_errorf(error, -EINVAL, "ret is NULL");
	r = srv->ctx->drv->ids(srv->ctx->priv, srv->name, "stats", NULL, 0, &reply, error);
	if (r < 0)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st) {
		free(reply);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	/* "KEY=VALUE ...": keys this library does not know are skipped, so
	 * a newer monitor may say more. */
	for (char *tok = strtok_r(reply, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v;

		if (!eq)
			continue;
		*eq = '\0';
		if (su_parse_u64(eq + 1, &v) < 0)
			continue;
		for (uint32_t k = 1; k <= SODA_IDS_STAT_MAX; k++)
			if (strcmp(tok, key_names[k]) == 0) {
				st->v[k] = v;
				st->have[k] = 1;
			}
	}
	free(reply);
	*ret = st;
	return 0;
}

SODA_EXPORT int soda_ids_stats_get(const soda_ids_stats *stats, uint32_t key, uint64_t *ret_value)
{
	if (!stats || key < 1 || key > SODA_IDS_STAT_MAX || !stats->have[key])
		return -ENOENT;
	if (ret_value)
		*ret_value = stats->v[key];
	return 0;
}

SODA_EXPORT const char *soda_ids_stats_key_name(uint32_t key)
{
	return key >= 1 && key <= SODA_IDS_STAT_MAX ? key_names[key] : NULL;
}

SODA_EXPORT void soda_ids_stats_free(soda_ids_stats *stats)
{
	free(stats);
}

SODA_EXPORT int soda_server_ids_open_alerts(soda_server *srv, int *ret_fd, unsigned int flags,
					    soda_error **error)
{
	int r = check(srv, flags, error);

	if (r < 0)
		return r;
	if (!ret_fd)
		return su_errorf(error, -EINVAL, "ret_fd is NULL");
	return srv->ctx->drv->ids_alerts(srv->ctx->priv, srv->name, ret_fd, error);
}
