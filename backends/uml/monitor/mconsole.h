/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A client for UML's management console (arch/um/drivers/mconsole_*.c):
 * datagrams of { magic, version, len, data } to the guest's socket in its
 * uml_dir; the reply comes back to the sender's address, an abstract socket,
 * so the client must share the guest's network namespace.
 */
#ifndef SODA_MCONSOLE_H
#define SODA_MCONSOLE_H

#include <stddef.h>

#define MCONSOLE_MAX_DATA 512

/* Sends @command; gathers the reply (all parts) into @reply. The client's
 * socket is made in network namespace @netns (linux.uml's; -1: the
 * caller's), @home the caller's own to return to. Returns 0, or -errno;
 * -EREMOTEIO if the guest answered with an error (text in @reply). */
int su_mconsole_request(const char *socket_path, int netns, int home, const char *command,
			char *reply, size_t reply_len, int timeout_ms);

#endif
