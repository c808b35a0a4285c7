/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor's side of the IDS at the server's switch port.
 *
 * The library asks for it on the run directory's ids.sock (root only):
 *   "enable LANDLORD RESPONSE PRIORITY" + the rule file and the variables
 *        file as descriptors (SCM_RIGHTS): opens an AF_PACKET socket on the
 *        server's first TAP here, in the switch's network namespace, and
 *        starts soda-kernort jailed with it (kernort/kproto.h);
 *   "reload" + descriptors: kernort swaps its ruleset, keeping flows and ring;
 *   "policy LANDLORD RESPONSE PRIORITY": changes where alerts go;
 *   "stats": "ok KEY=VALUE ..." (kernort's counters);
 *   "disable": ends kernort.
 * Replies: "ok ..." or "err ERRNO message".
 *
 * Each alert kernort reports is sealed into the tenant's blackbox as an
 * ids-alert record (the EVE line), appended as metadata to ids-alerts.jsonl
 * in the run directory when the tenant allows the landlord to see alerts,
 * and freezes the server, or takes a forensic dump of it, when the response
 * says so (ids_route.h). The dump (disk.cow and the guest's memory file,
 * copied while the server is frozen, then a manifest) goes into
 * STATE/dumps/NAME-ids-TIME/ (0700; every file made O_EXCL|O_NOFOLLOW under
 * directory descriptors, so nothing the guest controls redirects it); the
 * server is thawed and runs on; the tenant's blackbox gets a snapshot record.
 */
#ifndef SODA_MONITOR_IDS_H
#define SODA_MONITOR_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIDS_SOCK "ids.sock"
#define MIDS_LANDLORD_FILE "ids-alerts.jsonl"

struct mids_config {
	int epfd;            /* the monitor's epoll set */
	uint64_t ep_tag;     /* data.u64 of the listener; ep_tag | 1 for kernort */
	const char *server;
	char **netdevs;      /* "INDEX IFNAME" per NIC (su_launch); NIC 0 is watched */
	uint32_t jail_uid;   /* the server's; kernort gets a uid of its own from it */
	void (*log)(const char *msg);
	int (*freeze)(char *msg, size_t msglen);
	/* For the dump response: the context's state directory (the server's
	 * disk layer is STATE/servers/NAME/disk.cow), the guest's pid (its
	 * memory file is reached through /proc/PID/fd), and hold(true) that
	 * freezes (1: it froze, 0: it was frozen already, <0 error) and
	 * hold(false) that thaws. */
	const char *state_dir;
	int guest_pid;
	int (*hold)(bool frozen, char *msg, size_t msglen);
	void (*seal)(uint32_t type, uint32_t aux, const char *text);
};

/* Makes the listener (in the current directory, the run directory) and
 * adds it to the epoll set. Returns 0 or -errno. */
int mids_init(const struct mids_config *cfg);
/* An epoll event whose data.u64 was ep_tag (slot 0) or ep_tag | 1. */
void mids_on_event(uint64_t tag);
/* Ends kernort and closes everything (at the guest's end). */
void mids_close(void);

#endif
