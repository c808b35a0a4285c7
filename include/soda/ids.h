/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: Kernort, the signature IDS, at a server's switch port.
 *
 * The operator turns the IDS on for a running server with a rule set
 * (Snort 2 / Suricata rules, docs/ids.md). Frames are taken on the host
 * side of the server's TAP by soda-kernort, a process outside the guest
 * (an unprivileged uid of its own, no capabilities, an empty network
 * namespace, a seccomp filter), so an owned guest kernel can neither blind
 * it nor pay for it. Each alert is sealed into the tenant's blackbox as an
 * ids-alert record (the EVE JSON line); its metadata (time, server, rule,
 * message, protocol, addresses, ports; never payload) goes to the
 * landlord's stream only when the server's configuration allows it; and
 * the server can be frozen, or dumped, on alerts at or above a priority.
 */
#ifndef SODA_IDS_H
#define SODA_IDS_H

#include <soda/common.h>
#include <soda/server.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Automatic responses to an alert. */
#define SODA_IDS_RESPONSE_NONE 0   /* the default */
#define SODA_IDS_RESPONSE_FREEZE 1 /* freeze the server (once per enable or reload) */
/* Take a forensic dump (disk layer and guest memory, as soda_server_dump with
 * SODA_DUMP_MEMORY) into STATE/dumps/NAME-ids-TIME/, then let the server run
 * on (once per enable or reload). @since 0.2 */
#define SODA_IDS_RESPONSE_DUMP 2

/**
 * soda_server_config_set_ids_landlord_alerts:
 * Whether the tenant lets the landlord see the metadata of the port IDS's
 * alerts (@allow 1) or not (0, the default). The alerts themselves always
 * go to the tenant's blackbox.
 * Returns: 0, or -EINVAL for @allow other than 0 or 1.
 * @since 0.2
 */
SODA_EXPORT int soda_server_config_set_ids_landlord_alerts(soda_server_config *cfg,
							   uint32_t allow, soda_error **error);
/** Returns: 1 if the landlord may see alert metadata, else 0. @since 0.2 */
SODA_EXPORT uint32_t soda_server_config_get_ids_landlord_alerts(const soda_server_config *cfg);

/**
 * soda_server_config_set_ids_response:
 * The automatic response (SODA_IDS_RESPONSE_*) to an alert whose priority
 * is @min_priority or higher (priority 1 is the highest, as in Suricata:
 * 2 responds to priorities 1 and 2). @min_priority is 1 to 255; it is
 * ignored (and kept) for SODA_IDS_RESPONSE_NONE.
 * Returns: 0, or -EINVAL naming the bad value.
 * @since 0.2
 */
SODA_EXPORT int soda_server_config_set_ids_response(soda_server_config *cfg, uint32_t response,
						    uint32_t min_priority, soda_error **error);
/** *@ret_response and *@ret_min_priority (either may be NULL) get the
 * configured response (NONE and 1 unless set). Returns: 0 or -EINVAL.
 * @since 0.2 */
SODA_EXPORT int soda_server_config_get_ids_response(const soda_server_config *cfg,
						    uint32_t *ret_response,
						    uint32_t *ret_min_priority);

/**
 * soda_server_config_set_ids_bypass:
 * The port IDS's flow bypass, as Suricata's stream.bypass with its eBPF
 * bypass: once a TCP flow has carried @depth bytes of stream in either
 * direction, the IDS stops inspecting it, and a socket filter in the kernel
 * drops the flow's packets before they are copied to the IDS (all but
 * those with SYN, FIN or RST, so that the flow's end is still seen). It
 * trades what follows the first @depth bytes of long flows (bulk
 * transfers) for the guest's CPU time: content there raises no alert.
 * @depth: 0 (the default: every packet is inspected) or
 * SODA_IDS_BYPASS_MIN..SODA_IDS_BYPASS_MAX bytes; Suricata's reassembly
 * depth is 1 MiB. It takes effect at soda_server_ids_enable() and
 * soda_server_ids_reload(). docs/ids.md, "Flow bypass".
 * Returns: 0, or -EINVAL naming the bad value.
 * @since 0.2
 */
#define SODA_IDS_BYPASS_MIN 4096ull
#define SODA_IDS_BYPASS_MAX (1ull << 40)
SODA_EXPORT int soda_server_config_set_ids_bypass(soda_server_config *cfg, uint64_t depth,
						  soda_error **error);
/** The bypass depth in bytes, 0 when off. @since 0.2 */
SODA_EXPORT uint64_t soda_server_config_get_ids_bypass(const soda_server_config *cfg);

/**
 * soda_server_ids_enable:
 * Starts the IDS at the running server's first network interface with the
 * rules in @rules_path and optional variables ($HOME_NET ...) in
 * @vars_path ("NAME VALUE" lines or a suricata.yaml vars block). The files
 * are opened here, with the caller's rights, and handed over open; their
 * contents are parsed only in the jailed capture process. Rules with
 * unsupported keywords are skipped (their warnings are in the monitor's
 * log). The server's configuration says where alerts go.
 * Returns: 0; -EALREADY if it is on; -ENODEV if the server has no
 * network interface; -EINVAL (with file, line and column) for a bad rule
 * or variable; -ENOENT for a missing file; -EBUSY if the server is not
 * running; -EOPNOTSUPP for a backend without it.
 * @since 0.2
 */
SODA_EXPORT int soda_server_ids_enable(soda_server *srv, const char *rules_path,
				       const char *vars_path, unsigned int flags,
				       soda_error **error);
/**
 * soda_server_ids_reload:
 * Replaces the running IDS's rules (and variables) and re-reads the
 * server's alert configuration. Captured packets and flow state are kept:
 * only the rule set is swapped, after the new one is built; a bad rule
 * set leaves the old one in force and returns its error.
 * Returns: 0; -ENOTCONN if the IDS is off; as soda_server_ids_enable().
 * @since 0.2
 */
SODA_EXPORT int soda_server_ids_reload(soda_server *srv, const char *rules_path,
				       const char *vars_path, unsigned int flags,
				       soda_error **error);
/** Stops the server's port IDS. Returns: 0; -ENOTCONN if it is off. @since 0.2 */
SODA_EXPORT int soda_server_ids_disable(soda_server *srv, unsigned int flags,
					soda_error **error);

/**
 * soda_server_config_set_ids_rules:
 * Kernort inside the guest (docs/ids.md, "Guest events"): rules on what
 * happens in the guest (programs started, console input, watched files,
 * connects and listens, syslog and kernel log lines). The file at @path is
 * read now, checked with the guest's own parser (the agent binary, in a
 * process of its own) and kept in the configuration; the guest gets it
 * read-only at every start and seals its SHA-256 into the blackbox at
 * boot. Alerts are sealed as ids-alert records; their metadata reaches the
 * landlord only with soda_server_config_set_ids_landlord_alerts(). Needs
 * the blackbox. @path NULL removes the rules. @flags: 0, or
 * SODA_IDS_RULES_GUEST_PACKETS to have the guest also match its packet
 * rules on the frames it receives (AF_PACKET inside the guest; it costs
 * the guest's CPU, and the port IDS sees the same frames from the host).
 * Returns: 0; -EINVAL (or -EOPNOTSUPP for a keyword outside the subset)
 * with @path, the line and the column of the bad rule in @error; -ENOENT,
 * -EIO, -EFBIG (over 16 MiB) for the file; -ENOEXEC if the checker cannot
 * run.
 * @since 0.2
 */
#define SODA_IDS_RULES_GUEST_PACKETS (1u << 0)
SODA_EXPORT int soda_server_config_set_ids_rules(soda_server_config *cfg, const char *path,
						 unsigned int flags, soda_error **error);
/** The SHA-256 of the guest's rule text as 64 hex digits (borrowed), or
 * NULL when the configuration has none. @since 0.2 */
SODA_EXPORT const char *soda_server_config_get_ids_rules_sha256(const soda_server_config *cfg);

typedef struct soda_ids_stats soda_ids_stats;

/* Keys of soda_ids_stats_get(). */
#define SODA_IDS_STAT_PACKETS 1      /* frames taken from the capture ring */
#define SODA_IDS_STAT_BYTES 2
#define SODA_IDS_STAT_DROPS 3        /* frames the kernel dropped: ring full */
#define SODA_IDS_STAT_ALERTS 4
#define SODA_IDS_STAT_ALERTS_LOST 5  /* alerts the monitor could not take */
#define SODA_IDS_STAT_RULES 6
#define SODA_IDS_STAT_RELOADS 7
#define SODA_IDS_STAT_FLOWS 8        /* flows tracked now */
#define SODA_IDS_STAT_SEALED 9       /* alerts sealed into the blackbox */
#define SODA_IDS_STAT_LANDLORD 10    /* alerts on the landlord's stream */
#define SODA_IDS_STAT_RESPONSES 11   /* automatic responses taken */
#define SODA_IDS_STAT_PID 12         /* soda-kernort's process id */
/* The flow bypass (soda_server_config_set_ids_bypass), @since 0.2: */
#define SODA_IDS_STAT_BYPASSED_FLOWS 13   /* flows bypassed so far */
#define SODA_IDS_STAT_BYPASSED_PACKETS 14 /* frames the kernel's filter kept from the IDS */
#define SODA_IDS_STAT_BYPASSED_BYTES 15
#define SODA_IDS_STAT_MAX 15

/**
 * soda_server_ids_stats:
 * *@ret gets the port IDS's counters (free with soda_ids_stats_free()).
 * Returns: 0; -ENOTCONN if the IDS is off.
 * @since 0.2
 */
SODA_EXPORT int soda_server_ids_stats(soda_ids_stats **ret, soda_server *srv,
				      unsigned int flags, soda_error **error);
/** Returns: 0, or -ENOENT for an unknown key. @since 0.2 */
SODA_EXPORT int soda_ids_stats_get(const soda_ids_stats *stats, uint32_t key,
				   uint64_t *ret_value);
/** Returns: a static name for a key ("packets", "drops", ...) or NULL. @since 0.2 */
SODA_EXPORT const char *soda_ids_stats_key_name(uint32_t key);
/** Accepts NULL. @since 0.2 */
SODA_EXPORT void soda_ids_stats_free(soda_ids_stats *stats);

/**
 * soda_server_ids_open_alerts:
 * *@ret_fd gets a read-only descriptor (the caller's, close-on-exec) of
 * the landlord's alert stream of a running server: JSON lines, one per
 * alert, with metadata only (timestamp, server, gid, sid, rev, priority,
 * msg, proto, src_ip, src_port, dest_ip, dest_port); new lines are
 * appended while the server runs. It stays empty unless the server's
 * configuration allows landlord alerts.
 * Returns: 0 or -errno.
 * @since 0.2
 */
SODA_EXPORT int soda_server_ids_open_alerts(soda_server *srv, int *ret_fd, unsigned int flags,
					    soda_error **error);

#ifdef __cplusplus
}
#endif

#endif
