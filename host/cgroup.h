/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroups behind one interface, v1 and v2 chosen per controller from
 * /proc/self/mountinfo.
 *
 * A controller mounted on a v1 hierarchy is used there (the kernel will not
 * enable it on v2 while a v1 hierarchy holds it); otherwise it is used on
 * the unified (v2) hierarchy if that lists it in cgroup.controllers. Freezing
 * uses the v1 freezer if mounted, else v2's cgroup.freeze; killing uses v2's
 * cgroup.kill where the unified hierarchy is mounted, else freezes and kills
 * pid by pid. On v2 processes live only in leaves: callers put processes in
 * the server's own cgroup and never in its parents.
 */
#ifndef SODA_CGROUP_H
#define SODA_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../libsoda/util.h"

enum su_cg_controller {
	SU_CG_CPU,
	SU_CG_CPUACCT,
	SU_CG_MEMORY,
	SU_CG_PIDS,
	SU_CG_FREEZER,
	SU_CG_CPUSET,
	SU_CG_N
};

typedef struct su_cg_layout {
	/* Mount point of the v1 hierarchy holding each controller, or NULL. */
	char *v1[SU_CG_N];
	/* Mount point of the unified hierarchy, or NULL. */
	char *v2;
	/* Controllers the unified hierarchy offers (its root cgroup.controllers). */
	bool v2_has[SU_CG_N];
	/* Test switch: use v2's core freeze/kill even when a v1 freezer exists. */
	bool prefer_v2_core;
} su_cg_layout;

typedef struct su_cgroup {
	const su_cg_layout *layout;
	char *rel; /* path below each hierarchy's root, no leading '/' */
} su_cgroup;

const char *su_cg_controller_name(enum su_cg_controller c);

/* Parses mountinfo text (for tests) or reads /proc/self/mountinfo (text NULL). */
int su_cg_layout_detect(su_cg_layout *ret, const char *mountinfo_text, soda_error **error);
void su_cg_layout_free(su_cg_layout *layout);
/* True when controller c is usable somewhere. */
bool su_cg_has(const su_cg_layout *layout, enum su_cg_controller c);
/* "v1", "v2" or "none" for c. */
const char *su_cg_version_of(const su_cg_layout *layout, enum su_cg_controller c);

/* One file value of a cgroup controller, as launch specs carry them. */
typedef struct su_cg_setting {
	enum su_cg_controller ctrl;
	char file[40];
	char value[64];
} su_cg_setting;

/* Parses "CTRL:FILE:VALUE" (the file must belong to CTRL) and formats it. */
int su_cg_setting_parse(const char *text, su_cg_setting *ret);
char *su_cg_setting_format(const su_cg_setting *s);

/* Fills cg (no syscalls). rel must be a relative path of safe names. */
int su_cg_init(su_cgroup *cg, const su_cg_layout *layout, const char *rel);
void su_cg_done(su_cgroup *cg);
/* Creates the cgroup in every hierarchy in use (and on v2 enables the
 * controllers it needs in the parents' subtree_control). */
int su_cg_create(su_cgroup *cg, soda_error **error);
/* Moves pid into the cgroup in every hierarchy. */
int su_cg_attach(su_cgroup *cg, pid_t pid, soda_error **error);
/* Freezes or thaws and waits until the kernel says it is done (up to 5 s). */
int su_cg_freeze(su_cgroup *cg, bool frozen, soda_error **error);
/* Returns 1 if frozen, 0 if not, -errno. */
int su_cg_is_frozen(su_cgroup *cg);
/* Ends every process in the cgroup and waits until it is empty (up to 5 s). */
int su_cg_kill(su_cgroup *cg, soda_error **error);
/* Lists pids (sorted, NULL-free array), from the authoritative hierarchy. */
int su_cg_pids(su_cgroup *cg, pid_t **ret, size_t *ret_n);
/* Kills what is left and removes the cgroup from every hierarchy; a missing
 * cgroup is not an error. */
int su_cg_destroy(su_cgroup *cg, soda_error **error);
/* Removes the cgroup's directory from every hierarchy if it is empty (no
 * processes, no children); leaves it otherwise. Never kills. */
void su_cg_remove_if_empty(su_cgroup *cg);
/* True if the directory exists in some hierarchy. */
bool su_cg_exists(su_cgroup *cg);
/* Path of a file of controller c ("memory.usage_in_bytes"), or NULL. */
char *su_cg_file(su_cgroup *cg, enum su_cg_controller c, const char *file);
int su_cg_write(su_cgroup *cg, enum su_cg_controller c, const char *file, const char *value,
		soda_error **error);
int su_cg_read_u64(su_cgroup *cg, enum su_cg_controller c, const char *file, uint64_t *ret);
/* Host memory charged to the cgroup (v1 memory.usage_in_bytes or v2
 * memory.current). */
int su_cg_memory_usage(su_cgroup *cg, uint64_t *ret);

#endif
