/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest side of the blackbox, inside soda-agent (PID 1).
 *
 * With soda.blackbox=<64 hex digits> (the tenant's X25519 public key) on the
 * kernel command line, the agent seals everything below into one stream
 * (libsoda/blackbox/writer.h) and writes its frames to the blackbox line,
 * /dev/ttyS1 (UML ssl1: write-only for the guest, a pipe to soda-monitor,
 * which appends the frames to the host store it cannot decrypt):
 *
 *   kernel log        /dev/kmsg                      SBX_R_KERNEL (aux: level)
 *   syslog            /dev/log (datagram socket)     SBX_R_SYSLOG (aux: priority)
 *   any line          /dev/blackbox (a FIFO anyone may write)   SBX_R_TEXT
 *                     /dev/blackbox.ring (shared memory, bbring.h; the
 *                     producer `/soda/init log`)   SBX_R_TEXT
 *   program starts    audit (every execve; the agent is the audit daemon
 *                     and locks the rules), else the proc connector
 *                                                    SBX_R_EXEC (aux: pid)
 *   console           both directions of the userland's console, which the
 *                     agent puts on a pty it relays  SBX_R_CONSOLE_OUT/IN
 *   the agent itself  start, shutdown               SBX_R_LIFECYCLE
 *
 * The userland runs in PID and mount namespaces of its own, so an intruder
 * there, root or not, cannot stop the agent or read what it sealed: the key
 * of each stream is sealed to the tenant and wiped at once.
 *
 * No silent loss: the agent keeps its endpoints (/dev/blackbox, /dev/log,
 * /dev/blackbox.ring) where writers find them, in its /dev and in the
 * userland's view, and writes down each time it had to put one back and
 * who did it as audit saw it (agent_endpoints.c); whatever it could not
 * take (a producer refused a ring, a cut syslog message, overwritten
 * kernel log lines, dropped events) is a LOSS record with its reason
 * (BB_LOSS_*). docs/blackbox-format.md, "The guest agent's records".
 */
#ifndef SODA_AGENT_BLACKBOX_H
#define SODA_AGENT_BLACKBOX_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* 7 sources, the ring's socket, 8 producers, /dev's and the userland's
 * mount table's watches, 4 retired endpoints */
#define BB_MAX_FDS 23

/* Lifecycle records of the guest: what aux says (docs/blackbox-format.md,
 * "The guest agent's records"). */
#define BB_EV_AGENT 0	 /* the agent started, stops */
#define BB_EV_PROFILE 1	 /* the guest's profile, and sysctls it set back */
#define BB_EV_ENDPOINT 2 /* an endpoint removed, replaced, hidden; put back */
#define BB_EV_LOSS 3	 /* what the LOSS record that follows is about */

/* Reasons of the LOSS records the agent declares (1 is the writer's: the
 * line refused frames). */
#define BB_LOSS_RING_REFUSED 2 /* a producer was given no ring */
#define BB_LOSS_SYSLOG_CUT 3   /* a syslog message longer than 8 KiB: the rest */
#define BB_LOSS_KERNEL_LOG 4   /* kernel log lines overwritten before read */
#define BB_LOSS_EVENTS 5       /* the kernel dropped audit or process events */
#define BB_LOSS_RING_BROKEN 6  /* a lying producer's bytes, not sealed */
#define BB_LOSS_IMPOSTOR 7     /* an impostor file's bytes past the first 64 KiB */

typedef struct bb_agent bb_agent;

/* Starts the blackbox for the tenant key in @hex_pk (64 hex digits), writing
 * to the blackbox line. Returns NULL (after saying why) if it cannot. */
bb_agent *bb_start(const char *hex_pk, const char *label);

/* The pty slave the userland must use as its console, or NULL. */
const char *bb_console_slave(const bb_agent *bb);

/* Fills @pfd with the descriptors to watch; returns how many. All of these
 * accept a NULL @bb (no blackbox) and do nothing. */
int bb_poll_fds(bb_agent *bb, struct pollfd *pfd, int max);
/* Handles what poll() reported on them. */
void bb_handle(bb_agent *bb, const struct pollfd *pfd, int n);
/* Milliseconds until the next heartbeat is due (for poll's timeout). */
int bb_timeout_ms(bb_agent *bb);

/* A lifecycle record. */
void bb_lifecycle(bb_agent *bb, const char *what);
/* A lifecycle record with @aux (BB_EV_*). */
void bb_event(bb_agent *bb, uint32_t aux, const char *what);

/* The userland's first process (0: none now): the agent keeps the
 * endpoints in place in its mount namespace too. */
void bb_set_userland(bb_agent *bb, pid_t pid);
/* The checks that do not wait for an event (the endpoints), once a
 * second or so. */
void bb_periodic(bb_agent *bb);
/* Ends the stream (before the power goes). */
void bb_end(bb_agent *bb);

#endif
