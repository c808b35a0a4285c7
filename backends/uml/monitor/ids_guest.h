/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor's side of Kernort inside the guest: the metadata lines the
 * agent writes on the agent line for the landlord (agent_ids.h).
 *
 *   ids-alert GID SID REV PRIORITY KIND
 *   ids-dropped COUNT          (the agent's own rate limit dropped some)
 *
 * The line comes from the guest: hostile. A line is taken only when the
 * server's configuration lets the landlord see alert metadata (the launch
 * spec's ids-landlord, never the guest's word), only in exactly that form
 * (decimal numbers in range, a known kind, nothing more), and at most
 * MIDG_PER_SEC a second (a burst of MIDG_BURST); the rest is counted and
 * logged once a second. What is taken is appended as one JSON line with
 * the host's time and the server's name to ids-alerts.jsonl in the run
 * directory, beside the port IDS's (ids.h), with "source":"guest".
 */
#ifndef SODA_MONITOR_IDS_GUEST_H
#define SODA_MONITOR_IDS_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIDG_PER_SEC 20
#define MIDG_BURST 40

struct midg_alert {
	uint32_t gid, sid, rev, priority;
	const char *kind; /* static */
};

/* Parses an "ids-alert ..." line's fields (after "ids-alert "): 0 or
 * -EINVAL. Pure, for the tests. */
int midg_parse(const char *fields, struct midg_alert *ret);
/* The JSON line (no newline) for @a; -ENOSPC if @len is too small. */
int midg_json(char *buf, size_t len, const struct midg_alert *a, uint64_t realtime_usec,
	      const char *server);

void midg_init(const char *server, bool landlord, void (*log)(const char *msg));
/* Whether @line was one of the lines above (taken, dropped or refused). */
bool midg_on_line(const char *line);

#endif
