/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Turns a server's configuration into the launch spec soda-monitor runs:
 * the jail's mounts and linux.uml's command line. Pure: no system calls, so
 * unit tests pin it down exactly.
 */
#ifndef SODA_UML_CMDLINE_H
#define SODA_UML_CMDLINE_H

#include <stdbool.h>

#include "../../libsoda/config.h"
#include "proto.h"

typedef struct su_uml_params {
	const char *state_dir;
	const char *run_dir;
	const char *status_path;
	const char *console_log;
	const char *uml_binary;  /* host path of linux.uml */
	char *const *uml_libs;   /* what it needs to run (elfdeps.h) */
	const char *image_path;  /* host path of the base image */
	const char *cow_path;    /* host path of the server's layer */
	char *const *share_dirs; /* resolved host directories, one per share */
	char *const *ifnames;    /* host interface per NIC */
	const char *cgroup;
	const char *monitor_cgroup;
	bool prefer_v2_core;
	const char *netns;       /* network namespace path, or NULL */
	char *const *cg_settings; /* "CTRL:FILE:VALUE" for the server's cgroup */
	uint32_t uid;
	uint32_t gid;
	uint64_t lpj; /* 0: let the guest calibrate (slow) */
	const char *blackbox_dir; /* the server's blackbox store, if it has one */
	const char *uml_preload;  /* host path of soda-uml-xstate.so, or NULL */
	uint64_t cow_max;         /* the layer's full size (header, bitmap, data) */
	const char *ids_rules_path; /* the guest's Kernort rules (NUL-padded), or NULL */
} su_uml_params;

/* Extra room in the jail's /tmp beyond guest memory for UML's memory file. */
#define SU_TMP_SLACK (16ULL << 20)

int su_uml_build_launch(su_launch *ret, const soda_server_config *cfg, const su_uml_params *p,
			soda_error **error);

/* What of UML's 4096-byte kernel command line the user's arguments may fill. */
#define SU_UML_CMDLINE_BUDGET 2048
/* Room the memory backstop must leave above guest memory for linux.uml. */
#define SU_UML_BACKSTOP_ROOM (16ULL << 20)

/* The uml backend's own rules on a configuration the core found well-formed
 * (its driver's validate()): no kernel argument the backend sets itself, the
 * arguments within SU_UML_CMDLINE_BUDGET, the backstop's room. */
int su_uml_validate(const soda_server_config *cfg, soda_error **error);
/* The backstop of @s (NULL: the default) leaves SU_UML_BACKSTOP_ROOM above
 * @guest_memory. */
int su_uml_check_backstop(const soda_shares *s, uint64_t guest_memory, soda_error **error);

#endif
