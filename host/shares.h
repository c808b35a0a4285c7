/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resource shares as cgroup file contents, for whichever of v1 and v2 holds
 * each controller on this host (see include/soda/shares.h for the mapping).
 */
#ifndef SODA_HOST_SHARES_H
#define SODA_HOST_SHARES_H

#include "../libsoda/config.h"
#include "cgroup.h"

/* The settings that give a server @s (NULL: defaults) with @guest_memory.
 * A non-default share whose controller the host lacks is -EOPNOTSUPP;
 * defaults for missing controllers are skipped. */
int su_shares_cg_settings(const soda_shares *s, uint64_t guest_memory, const su_cg_layout *l,
			  su_cg_setting **ret, size_t *ret_n, soda_error **error);

/* Writes @n settings into the cgroup; all or nothing: when one is refused,
 * the ones already written get their old values back. */
int su_cg_apply(su_cgroup *cg, const su_cg_setting *set, size_t n, soda_error **error);

/* Statistics of a server's cgroup into value/have (SODA_STAT_* indexes). */
void su_cg_stats(su_cgroup *cg, uint64_t *value, uint8_t *have);

#endif
