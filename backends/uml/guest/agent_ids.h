/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort in the guest agent: the tenant's rules on what happens inside
 * the guest (docs/ids.md, "Guest events").
 *
 * The host sees only the guest's packets, and encrypted ones tell it
 * nothing: what an intruder types over ssh and runs is visible only
 * inside, as system calls. The agent (PID 1, outside the userland's PID
 * namespace) already sees most of it for the blackbox; with
 * soda.ids=DEVICE[,landlord] on the kernel command line it also turns it
 * into events for the rules:
 *
 *   exec     audit's execve records (path, argv, uid, cwd; the parent's
 *            program from /proc at the time the record is read, only
 *            when a rule reads exec.parent or for an alert's record)
 *   tty      the userland's console input, line by line
 *   file     inotify on /etc, /etc/ssh, /etc/cron.d, /root, /root/.ssh and
 *            the blackbox endpoints in /dev: write, create, unlink,
 *            rename, attrib (inotify does not say who)
 *   net      /proc/net/{tcp,tcp6,udp,udp6} read every 250 ms (only
 *            with a net rule; file watches only with a file rule): new
 *            listening sockets and new outgoing connections (a socket
 *            that lives less than a poll is missed; so is the process)
 *   syslog   /dev/log messages
 *   klog     kernel log lines
 *   packets  with ",packets": the frames the guest receives (AF_PACKET),
 *            decoded and matched by the packet rules (off by default: it
 *            costs the guest's CPU; the port IDS sees them from the host)
 *
 * The rules come read-only on DEVICE (a UML block device the monitor
 * backs with the rule file: the text, NUL-padded to 512 bytes), are
 * parsed once at boot, and their SHA-256 goes into the blackbox as a
 * lifecycle record (aux IDS_EV_RULES) before the userland starts. Each
 * alert is sealed at once as an ids-alert record (aux: the sid; body: the
 * EVE JSON line, kn_eve_event_alert()). With ",landlord" the agent also
 * writes "ids-alert GID SID REV PRIORITY KIND" (metadata only) on the
 * agent line; soda-monitor passes it on only if the server's configuration
 * allows it.
 */
#ifndef SODA_AGENT_IDS_H
#define SODA_AGENT_IDS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* The lifecycle record's aux for the rules' digest. */
#define IDS_EV_RULES 16
/* Descriptors ids_poll_fds() may add. */
#define IDS_MAX_FDS 2

#ifdef SODA_AGENT_IDS
struct bb_agent;
/* Loads the rules (soda.ids=@spec) and seals their digest into @bb. */
void ids_start(struct bb_agent *bb, const char *spec);
/* The agent line, for the landlord's metadata lines. */
void ids_set_line(int fd);
int ids_poll_fds(struct pollfd *pfd, int max);
void ids_handle(const struct pollfd *pfd, int n);
/* Milliseconds until ids_handle() wants to run (-1: never). */
int ids_timeout_ms(void);
/* soda-agent ids-check NAME < RULES: the host's check (agent_ids.c). */
int ids_check_main(int argc, char **argv);

/* What the blackbox side hands over (agent_blackbox.c). */
void ids_on_audit(uint16_t type, const char *text);
void ids_on_exec_argv(uint64_t serial, const char *argv, size_t len);
void ids_on_tty(const char *buf, size_t len);
void ids_on_syslog(unsigned int pri, const char *msg, size_t len);
void ids_on_klog(unsigned int level, const char *msg, size_t len);
#else
struct bb_agent;
static inline void ids_start(struct bb_agent *bb, const char *spec) { (void)bb, (void)spec; }
static inline void ids_set_line(int fd) { (void)fd; }
static inline int ids_poll_fds(struct pollfd *pfd, int max) { (void)pfd, (void)max; return 0; }
static inline void ids_handle(const struct pollfd *pfd, int n) { (void)pfd, (void)n; }
static inline int ids_timeout_ms(void) { return -1; }
static inline void ids_on_audit(uint16_t type, const char *text) { (void)type, (void)text; }
static inline void ids_on_exec_argv(uint64_t serial, const char *argv, size_t len)
{ (void)serial, (void)argv, (void)len; }
static inline void ids_on_tty(const char *buf, size_t len) { (void)buf, (void)len; }
static inline void ids_on_syslog(unsigned int pri, const char *msg, size_t len)
{ (void)pri, (void)msg, (void)len; }
static inline void ids_on_klog(unsigned int level, const char *msg, size_t len)
{ (void)level, (void)msg, (void)len; }
#endif

#endif
