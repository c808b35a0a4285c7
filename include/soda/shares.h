/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: resource shares — the slice of the host a server is admitted with
 * (CPU, memory, process count, network bandwidth) — and the statistics that
 * show what it used.
 *
 * CPU weight is proportional, 1..10000, default 100 (cgroup v2's cpu.weight
 * scale). On cgroup v1 it becomes cpu.shares = weight * 1024 / 100 (so the
 * default 100 is v1's default 1024, and 25:75 stays 25:75). The cap is a
 * percentage of one CPU (200 = two full CPUs): v2 cpu.max "QUOTA 100000",
 * v1 cpu.cfs_quota_us/cpu.cfs_period_us with a 100 ms period.
 * Memory: the guest's own memory is the server's configured memory
 * (soda_server_config_set_memory); the host backstop caps what the whole
 * linux.uml process tree may use on the host (guest RAM file plus UML's own
 * overhead): v2 memory.max, v1 memory.limit_in_bytes. Default: guest memory
 * plus SODA_MEMORY_OVERHEAD_DEFAULT.
 * Process count: host processes of the server (UML runs one per guest
 * address space): pids.max on both.
 */
#ifndef SODA_SHARES_H
#define SODA_SHARES_H

#include <soda/common.h>
#include <soda/server.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SODA_CPU_WEIGHT_MIN 1
#define SODA_CPU_WEIGHT_MAX 10000
#define SODA_CPU_WEIGHT_DEFAULT 100
#define SODA_CPU_MAX_PERCENT_MAX 100000 /* 1000 CPUs */
#define SODA_MEMORY_OVERHEAD_DEFAULT (48ULL * 1024 * 1024)
#define SODA_PIDS_MIN 8
#define SODA_PIDS_MAX 4194304
#define SODA_PIDS_DEFAULT 2048
#define SODA_RATE_MIN 8000ULL               /* 8 kbit/s */
#define SODA_RATE_MAX 100000000000ULL       /* 100 Gbit/s */

/* Bandwidth directions, from the guest's point of view. */
#define SODA_DIRECTION_OUT 1 /* guest -> anywhere */
#define SODA_DIRECTION_IN 2  /* anywhere -> guest */

typedef struct soda_shares soda_shares;

/** @ret: new shares with every value at its default (soda_shares_free()). @since 0.1 */
SODA_EXPORT int soda_shares_new(soda_shares **ret, soda_error **error);
/** @since 0.1 */
SODA_EXPORT int soda_shares_copy(soda_shares **ret, const soda_shares *shares,
				 soda_error **error);
/** Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_shares_free(soda_shares *shares);

/** @weight: 1..10000. @since 0.1 */
SODA_EXPORT int soda_shares_set_cpu_weight(soda_shares *s, uint32_t weight, soda_error **error);
/** @percent: 1..100000 percent of one CPU; 0 removes the cap. @since 0.1 */
SODA_EXPORT int soda_shares_set_cpu_max(soda_shares *s, uint32_t percent, soda_error **error);
/** @cpus: a CPU list such as "0" or "0-3,6" of CPUs this host has; NULL or
 * "" for all. The server's monitor (its console, its blackbox store) then
 * runs on the host's other CPUs, if it has others, so that it does not take
 * the pinned guest's CPU time. @since 0.1 */
SODA_EXPORT int soda_shares_set_cpus(soda_shares *s, const char *cpus, soda_error **error);
/** @bytes: host backstop; 0 for the default (guest memory plus
 * SODA_MEMORY_OVERHEAD_DEFAULT). Above the guest memory, by as much as the
 * backend needs for itself (uml: 16 MiB for linux.uml), checked when the
 * server is defined and when its shares change. @since 0.1 */
SODA_EXPORT int soda_shares_set_memory_max(soda_shares *s, uint64_t bytes, soda_error **error);
/** @n: SODA_PIDS_MIN..SODA_PIDS_MAX; 0 for the default. @since 0.1 */
SODA_EXPORT int soda_shares_set_pids_max(soda_shares *s, uint32_t n, soda_error **error);
/**
 * soda_shares_set_bandwidth:
 * @direction: SODA_DIRECTION_OUT or SODA_DIRECTION_IN.
 * @rate_bps: bits per second, SODA_RATE_MIN..SODA_RATE_MAX; 0 removes the limit.
 * @burst_bytes: 0 for the default (10 ms at @rate_bps, at least 2 full frames).
 * @since 0.1
 */
SODA_EXPORT int soda_shares_set_bandwidth(soda_shares *s, int direction, uint64_t rate_bps,
					  uint64_t burst_bytes, soda_error **error);

/** @since 0.1 */
SODA_EXPORT uint32_t soda_shares_get_cpu_weight(const soda_shares *s);
/** Returns: the cap in percent of one CPU, 0 if none. @since 0.1 */
SODA_EXPORT uint32_t soda_shares_get_cpu_max(const soda_shares *s);
/** Returns: the CPU list (borrowed), or NULL for all CPUs. @since 0.1 */
SODA_EXPORT const char *soda_shares_get_cpus(const soda_shares *s);
/** Returns: the backstop, 0 meaning the default. @since 0.1 */
SODA_EXPORT uint64_t soda_shares_get_memory_max(const soda_shares *s);
/** Returns: pids.max, 0 meaning the default. @since 0.1 */
SODA_EXPORT uint32_t soda_shares_get_pids_max(const soda_shares *s);
/** Returns: 0 or -EINVAL for a bad direction. @since 0.1 */
SODA_EXPORT int soda_shares_get_bandwidth(const soda_shares *s, int direction,
					  uint64_t *ret_rate_bps, uint64_t *ret_burst_bytes);

/**
 * soda_shares_parse:
 * Reads shares from text: comma- or space-separated KEY=VALUE items, e.g.
 *   "cpu.weight=300 cpu.max=20% cpus=0 memory.max=256MiB pids.max=512
 *    net.out=20Mbit net.in=200Mbit/64KiB"
 * Sizes take B, KiB, MiB, GiB (or K, M, G as powers of 1024); rates take
 * bit, kbit, Mbit, Gbit (powers of 1000, per second); cpu.max takes a
 * percentage. Items not given keep their defaults. Errors name the column.
 * @since 0.1
 */
SODA_EXPORT int soda_shares_parse(soda_shares **ret, const char *text, soda_error **error);
/** @ret: the shares as text soda_shares_parse() reads back (soda_free()). @since 0.1 */
SODA_EXPORT int soda_shares_format(char **ret, const soda_shares *s, soda_error **error);

/** Copies @s into the configuration (applied when the server starts). @since 0.1 */
SODA_EXPORT int soda_server_config_set_shares(soda_server_config *cfg, const soda_shares *s,
					      soda_error **error);
/** @ret: a copy of the configuration's shares. @since 0.1 */
SODA_EXPORT int soda_server_config_get_shares(soda_shares **ret, const soda_server_config *cfg,
					      soda_error **error);

/**
 * soda_server_set_shares:
 * Changes a server's shares, live if it runs (effective at once), and records
 * them in its configuration. All or nothing: on failure the old shares stay
 * in force and on record.
 * Returns: 0; -EINVAL for values this host cannot honour (say, a CPU it does
 * not have); -EOPNOTSUPP if a needed cgroup controller or shaping is missing.
 * @since 0.1
 */
SODA_EXPORT int soda_server_set_shares(soda_server *srv, const soda_shares *s, unsigned int flags,
				       soda_error **error);

/* ---- statistics ---- */

typedef struct soda_stats soda_stats;

/* Statistic keys for soda_stats_get(). */
#define SODA_STAT_CPU_USEC 1             /* CPU time used, all of this run */
#define SODA_STAT_CPU_THROTTLED_USEC 2   /* time held back by the cap */
#define SODA_STAT_CPU_THROTTLED_PERIODS 3
#define SODA_STAT_MEMORY_BYTES 4         /* host memory charged now */
#define SODA_STAT_MEMORY_PEAK_BYTES 5
#define SODA_STAT_MEMORY_MAX_BYTES 6     /* the backstop */
#define SODA_STAT_MEMORY_LIMIT_HITS 7    /* times the backstop was hit */
#define SODA_STAT_MEMORY_OOM_KILLS 8     /* host OOM kills inside the server (v2 only) */
#define SODA_STAT_PIDS 9
#define SODA_STAT_PIDS_MAX 10
#define SODA_STAT_PIDS_LIMIT_HITS 11     /* forks refused by pids.max */
#define SODA_STAT_NET_OUT_BYTES 12       /* guest -> */
#define SODA_STAT_NET_OUT_PACKETS 13
#define SODA_STAT_NET_OUT_DROPS 14
#define SODA_STAT_NET_IN_BYTES 15        /* -> guest */
#define SODA_STAT_NET_IN_PACKETS 16
#define SODA_STAT_NET_IN_DROPS 17
#define SODA_STAT_MAX 17

/** @ret: a snapshot of a running server's statistics (soda_stats_free()).
 * Returns: 0; -EBUSY if it is not running. @since 0.1 */
SODA_EXPORT int soda_server_get_stats(soda_stats **ret, soda_server *srv, unsigned int flags,
				      soda_error **error);
/** Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_stats_free(soda_stats *stats);
/** Returns: 0, -ENOENT for an unknown key, -ENODATA if this host cannot
 * tell. @since 0.1 */
SODA_EXPORT int soda_stats_get(const soda_stats *stats, int key, uint64_t *ret_value);
/** Returns: a static name for a key ("cpu_usec", ...), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_stats_key_name(int key);

#ifdef __cplusplus
}
#endif

#endif
