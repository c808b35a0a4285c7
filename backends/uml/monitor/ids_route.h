/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where an alert of the IDS at a server's port goes (pure decisions, no
 * I/O, so they are unit-tested apart): always sealed into the tenant's
 * blackbox; to the landlord's stream only as metadata and only when the
 * server's configuration allows it; to the automatic response when its
 * priority is at or above the configured one (1 is the highest, as in
 * Suricata, so "at or above" means a number at most the threshold).
 */
#ifndef SODA_MONITOR_IDS_ROUTE_H
#define SODA_MONITOR_IDS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernort/kproto.h"

enum mids_response { MIDS_RESPONSE_NONE = 0, MIDS_RESPONSE_FREEZE = 1, MIDS_RESPONSE_DUMP = 2 };

struct mids_policy {
	bool landlord;              /* the tenant allows metadata to the landlord */
	uint32_t response;          /* enum mids_response */
	uint32_t response_priority; /* 1..255: respond to priority <= this */
	uint64_t bypass_depth;      /* 0 (no flow bypass) or MIDS_BYPASS_MIN..MAX */
};

/* The flow bypass's depth, bytes (ids.h, soda_server_config_set_ids_bypass) */
#define MIDS_BYPASS_MIN 4096ull
#define MIDS_BYPASS_MAX (1ull << 40)

struct mids_route {
	bool seal;      /* into the tenant's blackbox (always) */
	bool landlord;  /* metadata line to the landlord's stream */
	uint32_t response; /* enum mids_response, or NONE */
};

/* Parses "LANDLORD RESPONSE PRIORITY [BYPASS_DEPTH]" (e.g. "1 1 2" or
 * "0 0 1 1048576"), as the library sends it. Returns 0 or -EINVAL. */
int mids_policy_parse(struct mids_policy *ret, const char *text);

struct mids_route mids_route_alert(const struct mids_policy *p, uint32_t priority);

/* The landlord's metadata line for @a (JSON, no newline, no payload): time,
 * server, source "port" (the in-guest Kernort's lines, ids_guest.c, say
 * "guest"), gid, sid, rev, priority, message, proto, addresses, ports. Writes
 * at most @len bytes with a NUL; returns the length, or -ENOSPC. */
int mids_landlord_line(char *buf, size_t len, const struct kp_alert *a, const char *server);

#endif
