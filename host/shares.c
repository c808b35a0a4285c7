/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shares.h"

#define CFS_PERIOD_US 100000u

static int add(su_cg_setting **v, size_t *n, enum su_cg_controller c, const char *file,
	       const char *fmt, ...) SU_PRINTF(5, 6);
static int add(su_cg_setting **v, size_t *n, enum su_cg_controller c, const char *file,
	       const char *fmt, ...)
{
	su_cg_setting *nv = realloc(*v, (*n + 1) * sizeof(*nv));
	va_list ap;

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n].ctrl = c;
	snprintf(nv[*n].file, sizeof(nv[*n].file), "%s", file);
	va_start(ap, fmt);
	vsnprintf(nv[*n].value, sizeof(nv[*n].value), fmt, ap);
	va_end(ap);
	(*n)++;
	return 0;
}

static bool v1(const su_cg_layout *l, enum su_cg_controller c)
{
	return l->v1[c] != NULL;
}

static bool v2(const su_cg_layout *l, enum su_cg_controller c)
{
	return !l->v1[c] && l->v2 && l->v2_has[c];
}

static int missing(soda_error **error, const char *what, const char *ctrl)
{
	return su_errorf(error, -EOPNOTSUPP,
			 "%s needs the '%s' cgroup controller, which this host does not offer", what,
			 ctrl);
}

static char *all_cpus(void)
{
	char *text = NULL;

	if (su_read_file("/sys/devices/system/cpu/online", 4096, &text, NULL) < 0)
		return NULL;
	text[strcspn(text, "\n")] = '\0';
	return text;
}

int su_shares_cg_settings(const soda_shares *s, uint64_t guest_memory, const su_cg_layout *l,
			  su_cg_setting **ret, size_t *ret_n, soda_error **error)
{
	static const soda_shares none = { SODA_CPU_WEIGHT_DEFAULT, 0, NULL, 0, 0, { 0, 0 }, { 0, 0 } };
	su_cg_setting *v = NULL;
	size_t n = 0;
	int r = 0;

	if (!s)
		s = &none;
	/* CPU weight. */
	if (v1(l, SU_CG_CPU)) {
		uint64_t shares = (uint64_t)s->cpu_weight * 1024 / 100;

		r = add(&v, &n, SU_CG_CPU, "cpu.shares", "%" PRIu64, shares < 2 ? 2 : shares);
	} else if (v2(l, SU_CG_CPU)) {
		r = add(&v, &n, SU_CG_CPU, "cpu.weight", "%u", s->cpu_weight);
	} else if (s->cpu_weight != SODA_CPU_WEIGHT_DEFAULT || s->cpu_max) {
		r = missing(error, "a CPU share", "cpu");
		goto out;
	}
	/* CPU cap. */
	if (r == 0 && v1(l, SU_CG_CPU)) {
		r = add(&v, &n, SU_CG_CPU, "cpu.cfs_period_us", "%u", CFS_PERIOD_US);
		if (r == 0)
			r = s->cpu_max ? add(&v, &n, SU_CG_CPU, "cpu.cfs_quota_us", "%" PRIu64,
					     (uint64_t)s->cpu_max * CFS_PERIOD_US / 100)
				       : add(&v, &n, SU_CG_CPU, "cpu.cfs_quota_us", "-1");
	} else if (r == 0 && v2(l, SU_CG_CPU)) {
		r = s->cpu_max ? add(&v, &n, SU_CG_CPU, "cpu.max", "%" PRIu64 " %u",
				     (uint64_t)s->cpu_max * CFS_PERIOD_US / 100, CFS_PERIOD_US)
			       : add(&v, &n, SU_CG_CPU, "cpu.max", "max %u", CFS_PERIOD_US);
	}
	/* CPUs. */
	if (r == 0 && (v1(l, SU_CG_CPUSET) || v2(l, SU_CG_CPUSET))) {
		char *all = s->cpus ? NULL : all_cpus();

		if (s->cpus || all)
			r = add(&v, &n, SU_CG_CPUSET, "cpuset.cpus", "%s", s->cpus ? s->cpus : all);
		free(all);
	} else if (r == 0 && s->cpus) {
		r = missing(error, "pinning to CPUs", "cpuset");
		goto out;
	}
	/* Memory backstop. */
	if (r == 0 && v1(l, SU_CG_MEMORY))
		r = add(&v, &n, SU_CG_MEMORY, "memory.limit_in_bytes", "%" PRIu64,
			su_shares_memory_max(s, guest_memory));
	else if (r == 0 && v2(l, SU_CG_MEMORY))
		r = add(&v, &n, SU_CG_MEMORY, "memory.max", "%" PRIu64,
			su_shares_memory_max(s, guest_memory));
	else if (r == 0 && s->memory_max) {
		r = missing(error, "a memory backstop", "memory");
		goto out;
	}
	/* Processes. */
	if (r == 0 && (v1(l, SU_CG_PIDS) || v2(l, SU_CG_PIDS)))
		r = add(&v, &n, SU_CG_PIDS, "pids.max", "%u", su_shares_pids_max(s));
	else if (r == 0 && s->pids_max) {
		r = missing(error, "a process limit", "pids");
		goto out;
	}
	if (r < 0) {
		r = su_errorf(error, r, "out of memory");
		goto out;
	}
	*ret = v;
	*ret_n = n;
	return 0;
out:
	free(v);
	return r;
}

int su_cg_apply(su_cgroup *cg, const su_cg_setting *set, size_t n, soda_error **error)
{
	char **old = calloc(n + 1, sizeof(char *));
	size_t applied;
	int r = 0;

	if (!old)
		return su_errorf(error, -ENOMEM, "out of memory");
	/* Remember each old value, so a refusal halfway puts them back. */
	for (applied = 0; applied < n; applied++) {
		char *file = su_cg_file(cg, set[applied].ctrl, set[applied].file);

		r = file ? su_read_file(file, 4096, &old[applied], NULL) : -EOPNOTSUPP;
		free(file);
		if (r < 0) {
			su_errorf(error, r, "cannot read %s of cgroup %s: %s", set[applied].file,
				  cg->rel, strerror(-r));
			break;
		}
		old[applied][strcspn(old[applied], "\n")] = '\0';
		r = su_cg_write(cg, set[applied].ctrl, set[applied].file, set[applied].value, error);
		if (r < 0) {
			free(old[applied]);
			old[applied] = NULL;
			break;
		}
	}
	if (r < 0)
		for (size_t i = 0; i < applied; i++)
			su_cg_write(cg, set[i].ctrl, set[i].file, old[i], NULL);
	for (size_t i = 0; i < n; i++)
		free(old[i]);
	free(old);
	return r;
}

/* "key value" lines (cpu.stat, memory.events, pids.events...). */
static bool keyed(su_cgroup *cg, enum su_cg_controller c, const char *file, const char *key,
		  uint64_t *ret)
{
	char *path = su_cg_file(cg, c, file), *text = NULL, *p;
	size_t kl = strlen(key);
	bool found = false;

	if (!path)
		return false;
	if (su_read_file(path, 65536, &text, NULL) == 0) {
		for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
				*ret = strtoull(p + kl + 1, NULL, 10);
				found = true;
				break;
			}
	}
	free(text);
	free(path);
	return found;
}

/* Reads one number into value[key] (have[key] = 1) if the file has it. */
static void get_u64(su_cgroup *cg, enum su_cg_controller c, const char *file, int key,
		    uint64_t divisor, uint64_t *value, uint8_t *have)
{
	uint64_t v;

	if (su_cg_read_u64(cg, c, file, &v) == 0) {
		value[key] = v / divisor;
		have[key] = 1;
	}
}

static void get_keyed(su_cgroup *cg, enum su_cg_controller c, const char *file,
		      const char *field, int key, uint64_t divisor, uint64_t *value, uint8_t *have)
{
	uint64_t v;

	if (keyed(cg, c, file, field, &v)) {
		value[key] = v / divisor;
		have[key] = 1;
	}
}

void su_cg_stats(su_cgroup *cg, uint64_t *value, uint8_t *have)
{
	const su_cg_layout *l = cg->layout;

	/* CPU time. */
	if (l->v1[SU_CG_CPUACCT]) {
		get_u64(cg, SU_CG_CPUACCT, "cpuacct.usage", SODA_STAT_CPU_USEC, 1000, value, have);
	} else if (l->v2) {
		/* cpu.stat's usage_usec is core v2: no controller needed. */
		char *path = su_strdup_printf("%s/%s/cpu.stat", l->v2, cg->rel), *text = NULL;

		if (path && su_read_file(path, 65536, &text, NULL) == 0) {
			char *p = strstr(text, "usage_usec ");

			if (p) {
				value[SODA_STAT_CPU_USEC] = strtoull(p + 11, NULL, 10);
				have[SODA_STAT_CPU_USEC] = 1;
			}
		}
		free(text);
		free(path);
	}
	if (l->v1[SU_CG_CPU]) {
		get_keyed(cg, SU_CG_CPU, "cpu.stat", "nr_throttled", SODA_STAT_CPU_THROTTLED_PERIODS,
			  1, value, have);
		get_keyed(cg, SU_CG_CPU, "cpu.stat", "throttled_time", SODA_STAT_CPU_THROTTLED_USEC,
			  1000, value, have);
	} else if (l->v2 && l->v2_has[SU_CG_CPU]) {
		get_keyed(cg, SU_CG_CPU, "cpu.stat", "nr_throttled", SODA_STAT_CPU_THROTTLED_PERIODS,
			  1, value, have);
		get_keyed(cg, SU_CG_CPU, "cpu.stat", "throttled_usec", SODA_STAT_CPU_THROTTLED_USEC,
			  1, value, have);
	}
	/* Memory. */
	if (l->v1[SU_CG_MEMORY]) {
		get_u64(cg, SU_CG_MEMORY, "memory.usage_in_bytes", SODA_STAT_MEMORY_BYTES, 1, value,
			have);
		get_u64(cg, SU_CG_MEMORY, "memory.max_usage_in_bytes", SODA_STAT_MEMORY_PEAK_BYTES, 1,
			value, have);
		get_u64(cg, SU_CG_MEMORY, "memory.limit_in_bytes", SODA_STAT_MEMORY_MAX_BYTES, 1, value,
			have);
		get_u64(cg, SU_CG_MEMORY, "memory.failcnt", SODA_STAT_MEMORY_LIMIT_HITS, 1, value,
			have);
		get_keyed(cg, SU_CG_MEMORY, "memory.oom_control", "oom_kill",
			  SODA_STAT_MEMORY_OOM_KILLS, 1, value, have);
	} else if (l->v2 && l->v2_has[SU_CG_MEMORY]) {
		get_u64(cg, SU_CG_MEMORY, "memory.current", SODA_STAT_MEMORY_BYTES, 1, value, have);
		get_u64(cg, SU_CG_MEMORY, "memory.peak", SODA_STAT_MEMORY_PEAK_BYTES, 1, value, have);
		get_u64(cg, SU_CG_MEMORY, "memory.max", SODA_STAT_MEMORY_MAX_BYTES, 1, value, have);
		get_keyed(cg, SU_CG_MEMORY, "memory.events", "max", SODA_STAT_MEMORY_LIMIT_HITS, 1,
			  value, have);
		get_keyed(cg, SU_CG_MEMORY, "memory.events", "oom_kill", SODA_STAT_MEMORY_OOM_KILLS, 1,
			  value, have);
	}
	/* Processes. */
	if (su_cg_has(l, SU_CG_PIDS)) {
		get_u64(cg, SU_CG_PIDS, "pids.current", SODA_STAT_PIDS, 1, value, have);
		get_u64(cg, SU_CG_PIDS, "pids.max", SODA_STAT_PIDS_MAX, 1, value, have);
		get_keyed(cg, SU_CG_PIDS, "pids.events", "max", SODA_STAT_PIDS_LIMIT_HITS, 1, value,
			  have);
	}
}
