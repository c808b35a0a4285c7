/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host side of a server's NIC: a persistent TAP device that the jailed
 * guest (running as @owner) opens by name.
 */
#ifndef SODA_HOST_TAP_H
#define SODA_HOST_TAP_H

#include <sys/types.h>

#include "../libsoda/util.h"

/* Creates TAP @ifname in network namespace @netns (a path; NULL: the
 * caller's), persistent, owned by uid @owner and gid @group, with the
 * offloads that make UML's TCP crawl switched off (tx checksumming, scatter
 * gather, TSO, GSO). Left down and without a master: the switch attaches it.
 * -EEXIST if the name is taken. */
int su_tap_create(const char *netns, const char *ifname, uid_t owner, gid_t group,
		  soda_error **error);

/* Reads whether tx checksumming, sg, tso and gso are all off (1), or not (0). */
int su_tap_offloads_off(const char *netns, const char *ifname, soda_error **error);

#endif
