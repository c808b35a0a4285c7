/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: the software switch and the firewall between virtual servers.
 *
 * A network is a named switch of the context: a Linux bridge in the
 * context's network namespace (soda_context_get_netns()) on which the host
 * has no address and which nothing can reach the host through, optionally
 * with an uplink interface as the way out. A server joins a network through
 * a NIC of its configuration (soda_server_config_add_nic()); when it starts,
 * its NIC becomes a TAP port of the bridge, owned by the server's jail uid,
 * and the switch lets the port send only with the NIC's MAC and addresses
 * (soda_server_config_add_nic_address()), ARP and IPv6 neighbour discovery
 * included, and limits the broadcast and multicast frames it may send
 * (soda_network_set_flood_limit()). When it stops, the port goes.
 *
 * Between servers, and between servers and the outside, nothing passes but
 * what the network's policy allows (default deny). A policy is text (see
 * docs/policy.md for the language and its grammar), e.g.
 *
 *   allow from group web to server db tcp port 5432
 *   allow from any to group web tcp port 80, 443
 *   deny from group web to 203.0.113.0/24   # deny wins over allow
 *
 * Rules are about connections: replies to allowed connections pass
 * (connection tracking), and a server no rule lets initiate can only
 * answer. Every packet of a connection is judged by the connection's first
 * direction against the policy in force, so a change applies at once to
 * connections already open. A change is written into a second copy of the
 * policy's sets that no packet sees, then packets are switched to it in one
 * transaction, so every packet meets the old policy or the new one, never a
 * mix (docs/policy.md); if the kernel refuses the change before the switch,
 * nothing changes.
 *
 * Networks live in the state directory (<state>/networks/NAME), so every
 * process using the context sees them, and a process that starts after a
 * crash finds their bridges and nftables tables again.
 *
 * The firewall needs the nftables plugin, libsoda-nft.so (GPL-2.0-or-later,
 * because it links libnftnl): $SODA_NFT_PLUGIN, else the one beside
 * libsoda, else the installed one. Without it, networks can only be made
 * with SODA_NETWORK_NO_FIREWALL and firewall calls fail with -EOPNOTSUPP.
 */
#ifndef SODA_NETWORK_H
#define SODA_NETWORK_H

#include <soda/common.h>
#include <soda/context.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct soda_network soda_network;

#define SODA_NETWORK_OPTIONS_VERSION 1

/**
 * soda_network_options:
 * Settings for soda_network_create(). Initialise with
 * SODA_NETWORK_OPTIONS_INIT or soda_network_options_init().
 * @since 0.1
 */
typedef struct soda_network_options {
	uint32_t version;
	/* An existing interface of the context's network namespace to enslave
	 * to the bridge as the way out (say, one end of a veth pair or a
	 * physical NIC); NULL: none. It must carry no IPv4 and no global IPv6
	 * address; its link-local IPv6 addresses are removed, so that the host
	 * has no address on the switch at all. */
	const char *uplink;
} soda_network_options;

#define SODA_NETWORK_OPTIONS_INIT { SODA_NETWORK_OPTIONS_VERSION, NULL }

/** Fills @opts with defaults. Returns: 0, or -EINVAL for an unknown @version. @since 0.1 */
SODA_EXPORT int soda_network_options_init(soda_network_options *opts, uint32_t version);

/* Create flags. */
#define SODA_NETWORK_NO_FIREWALL (1u << 0) /* a plain switch: no host invisibility,
					    * no anti-spoofing, no policy */

/**
 * soda_network_create:
 * @ret: optional; receives the network (caller owns one reference).
 * @name: checked as soda_name_check() checks server names.
 * @opts: NULL for defaults.
 * @flags: SODA_NETWORK_NO_FIREWALL or 0.
 *
 * Makes the bridge (in the context's network namespace) and its nftables
 * tables, with the default policy: nothing passes between servers.
 *
 * Returns: 0; -EEXIST if the context has a network of that name or the
 * bridge name is taken by an interface not ours; -ENODEV if the uplink
 * does not exist; -EBUSY if the uplink has addresses or is a port of
 * another bridge; -EOPNOTSUPP without the firewall plugin (unless
 * SODA_NETWORK_NO_FIREWALL); -EOPNOTSUPP for backends without a state
 * directory. Nothing is left behind on failure.
 * @since 0.1
 */
SODA_EXPORT int soda_network_create(soda_network **ret, soda_context *ctx, const char *name,
				    const soda_network_options *opts, unsigned int flags,
				    soda_error **error);

/** Returns: 0, or -ENOENT if the context has no network @name. @since 0.1 */
SODA_EXPORT int soda_network_lookup(soda_network **ret, soda_context *ctx, const char *name,
				    soda_error **error);

/** Accepts NULL; returns @net. @since 0.1 */
SODA_EXPORT soda_network *soda_network_ref(soda_network *net);
/** Accepts NULL; returns NULL. @since 0.1 */
SODA_EXPORT soda_network *soda_network_unref(soda_network *net);
/** Returns: the name (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_network_get_name(const soda_network *net);
/** Returns: the context (borrowed). @since 0.1 */
SODA_EXPORT soda_context *soda_network_get_context(const soda_network *net);

/* Destroy flags. */
#define SODA_NETWORK_DESTROY_FORCE (1u << 0) /* also while servers are attached:
					      * their ports are removed */

/**
 * soda_network_destroy:
 * Removes the bridge, its tables and its state; the uplink is released.
 * @net stays valid (for unref) but names nothing any more.
 * Returns: 0; -EBUSY if servers are attached (unless forced).
 * @since 0.1
 */
SODA_EXPORT int soda_network_destroy(soda_network *net, unsigned int flags, soda_error **error);

/**
 * soda_context_list_networks:
 * @ret_names: receives a NULL-terminated, sorted array (soda_strv_free()).
 * @ret_count: optional.
 * @since 0.1
 */
SODA_EXPORT int soda_context_list_networks(char ***ret_names, size_t *ret_count,
					   soda_context *ctx, unsigned int flags,
					   soda_error **error);

/* ---- what a network is now ---- */

typedef struct soda_network_info soda_network_info;

/** @ret: a snapshot (soda_network_info_free()). @since 0.1 */
SODA_EXPORT int soda_network_get_info(soda_network_info **ret, soda_network *net,
				      unsigned int flags, soda_error **error);
/** Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_network_info_free(soda_network_info *info);
/** Returns: the bridge's interface name (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_network_info_get_bridge(const soda_network_info *info);
/** Returns: the uplink's name, or NULL (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_network_info_get_uplink(const soda_network_info *info);
/** Returns: the name of the network's nftables tables (bridge and inet family). @since 0.1 */
SODA_EXPORT const char *soda_network_info_get_table(const soda_network_info *info);
/** Returns: 1 if the network has a firewall, 0 if it was made without. @since 0.1 */
SODA_EXPORT int soda_network_info_get_firewall(const soda_network_info *info);
/**
 * soda_network_info_get_flood_limit:
 * The broadcast limit of each port (soda_network_set_flood_limit()).
 * Outputs optional; a rate of 0 means no limit.
 * Returns: 0, or -EINVAL for a NULL @info.
 * @since 0.2
 */
SODA_EXPORT int soda_network_info_get_flood_limit(const soda_network_info *info,
						  uint32_t *ret_rate, uint32_t *ret_burst);
/** Returns: the number of policy changes and port changes so far. @since 0.1 */
SODA_EXPORT uint64_t soda_network_info_get_generation(const soda_network_info *info);
/** Returns: the number of rules of the policy in force. @since 0.1 */
SODA_EXPORT size_t soda_network_info_get_rule_count(const soda_network_info *info);
/** Returns: the number of ports (started NICs on this network). @since 0.1 */
SODA_EXPORT size_t soda_network_info_get_port_count(const soda_network_info *info);
/**
 * soda_network_info_get_port:
 * Each output is optional; strings are borrowed.
 * Returns: 0, or -ENOENT for a bad @index.
 * @since 0.1
 */
SODA_EXPORT int soda_network_info_get_port(const soda_network_info *info, size_t index,
					   const char **ret_server, uint32_t *ret_nic,
					   const char **ret_ifname, const char **ret_mac);
/** @since 0.1 */
SODA_EXPORT size_t soda_network_info_get_port_address_count(const soda_network_info *info,
							    size_t index);
/** Returns: the address in CIDR form (borrowed), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_network_info_get_port_address(const soda_network_info *info,
							   size_t index, size_t addr_index);

/* ---- policies ---- */

typedef struct soda_policy soda_policy;

/**
 * soda_policy_parse:
 * @ret: receives the parsed policy (soda_policy_free()).
 * @text: the policy, @len bytes (need not be NUL-terminated; at most 64 MiB).
 * @source: a name for error messages (a file name, say); NULL: "policy".
 * @flags: 0.
 *
 * Checks the syntax only; names are checked when the policy is applied.
 * Returns: 0; -EINVAL with the line and column of the first error (see
 * soda_error_line(), soda_error_column()); -EFBIG for too much text.
 * @since 0.1
 */
SODA_EXPORT int soda_policy_parse(soda_policy **ret, const char *text, size_t len,
				  const char *source, unsigned int flags, soda_error **error);
/** Drops the caller's policy. Policies are immutable; a network applied
 * one keeps its own reference, so freeing it after the apply is fine.
 * Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_policy_free(soda_policy *policy);
/** @since 0.1 */
SODA_EXPORT size_t soda_policy_get_rule_count(const soda_policy *policy);
/** Returns: rule @index written out canonically (borrowed), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_policy_get_rule(const soda_policy *policy, size_t index);
/** Returns: the line rule @index starts on, or 0. @since 0.1 */
SODA_EXPORT uint32_t soda_policy_get_rule_line(const soda_policy *policy, size_t index);
/** Returns: the text as it was given (borrowed, NUL-terminated). @since 0.1 */
SODA_EXPORT const char *soda_policy_get_text(const soda_policy *policy);

/* Apply flags. */
#define SODA_POLICY_CHECK (1u << 0) /* check everything, the kernel included; change nothing */

/**
 * soda_network_apply_policy:
 * Replaces the network's policy by @policy: checks that every server and
 * group it names exists on the network (errors give the line and column),
 * compiles it and sends the kernel only what changed, switching packets
 * from the old policy to the new one in one transaction.
 * With SODA_POLICY_CHECK the kernel checks the change and discards it.
 * Returns: 0; -ENOENT for an unknown server or group; -EOPNOTSUPP without
 * the firewall; -E2BIG if the policy compiles to too many set elements.
 * On failure the policy in force (kernel and record) is untouched.
 * @since 0.1
 */
SODA_EXPORT int soda_network_apply_policy(soda_network *net, const soda_policy *policy,
					  unsigned int flags, soda_error **error);

/**
 * soda_network_set_flood_limit:
 * @rate: frames per second each port may send to broadcast and multicast
 *        addresses (ARP requests, DHCP, neighbour discovery included),
 *        at most 1000000; 0 turns the limit off.
 * @burst: frames a port may send at once above @rate (1 to 1000000; with
 *         @rate 0, ignored).
 * @flags: 0.
 *
 * Every port gets a budget of its own, so one server flooding the switch
 * costs the others nothing of theirs; frames beyond it are dropped at the
 * sender's port before the switch copies them to every other port, and
 * counted (SODA_NET_DROP_FLOOD). Unicast frames are not limited. A network
 * starts with 100 frames per second and a burst of 200. The change reaches
 * every port in one transaction; each port's drop counter starts again at 0.
 * Returns: 0; -EINVAL for values out of range; -EOPNOTSUPP without the
 * firewall. On failure the limit in force is untouched.
 * @since 0.2
 */
SODA_EXPORT int soda_network_set_flood_limit(soda_network *net, uint32_t rate, uint32_t burst,
					     unsigned int flags, soda_error **error);

/** @ret: the policy in force (an empty one if none was applied). @since 0.1 */
SODA_EXPORT int soda_network_get_policy(soda_policy **ret, soda_network *net,
					soda_error **error);

/**
 * soda_network_get_compiled:
 * @ret_text: receives what the kernel holds for the policy (soda_free()):
 *            one line per set element, "SET KEY rule N", N being the
 *            1-based rule it is counted for.
 * @since 0.1
 */
SODA_EXPORT int soda_network_get_compiled(char **ret_text, soda_network *net,
					  unsigned int flags, soda_error **error);

/* ---- counters ---- */

typedef struct soda_net_counters soda_net_counters;

/* Per-server counter kinds. Frames and packets as the switch saw them. */
#define SODA_NET_ACCEPTED 0    /* frames from the server the switch forwarded */
#define SODA_NET_DROP_MAC 1    /* dropped: source MAC not the server's */
#define SODA_NET_DROP_IP 2     /* dropped: source IPv4/IPv6 address not the server's */
#define SODA_NET_DROP_ARP 3    /* dropped: ARP not matching its MAC and addresses */
#define SODA_NET_DROP_ND 4     /* dropped: neighbour discovery spoofing, router
				* advertisements, redirects */
#define SODA_NET_DROP_OTHER 5  /* dropped: other frame types (VLAN tags, ...) */
#define SODA_NET_DROP_HOST 6   /* dropped: frames to the host (incl. broadcasts it
				* would have received) */
#define SODA_NET_DROP_POLICY_OUT 7 /* refused by the policy: packets of connections
				    * the server started */
#define SODA_NET_DROP_POLICY_IN 8  /* refused: packets of connections to the server */
#define SODA_NET_DROPPED 9     /* sum of kinds 1 to 7 and 10 */
#define SODA_NET_DROP_FLOOD 10 /* dropped: broadcast or multicast beyond the port's
				* limit (since 0.2) */
#define SODA_NET_COUNTER_MAX 10

/* Network-wide totals. */
#define SODA_NET_TOTAL_DEFAULT 0 /* refused because no rule allowed them */
#define SODA_NET_TOTAL_INVALID 1 /* packets conntrack could not place */
#define SODA_NET_TOTAL_HOST 2    /* frames to the host, from any port */
#define SODA_NET_TOTAL_UPLINK 3  /* frames from the uplink claiming a server's
				  * MAC or address */
#define SODA_NET_TOTAL_MAX 3

/** Returns: a static name for a SODA_NET_* per-server kind ("unknown" otherwise). @since 0.1 */
SODA_EXPORT const char *soda_net_counter_name(int kind);
/** Returns: SODA_NET_COUNTER_MAX, for FFIs. @since 0.1 */
SODA_EXPORT int soda_net_counter_max(void);

/**
 * soda_network_get_counters:
 * @ret: receives a snapshot of the network's counters (soda_net_counters_free()).
 * Rule counters count the packets each rule decided (allow rules:
 * accepted; deny rules: dropped). A packet several rules match is counted
 * once: deny rules before allow rules, then exact server-to-server rules
 * before those with address or port ranges, then the earliest in the text.
 * @since 0.1
 */
SODA_EXPORT int soda_network_get_counters(soda_net_counters **ret, soda_network *net,
					  unsigned int flags, soda_error **error);
/** Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_net_counters_free(soda_net_counters *c);
/** Returns: the number of rules of the policy in force when read. @since 0.1 */
SODA_EXPORT size_t soda_net_counters_get_rule_count(const soda_net_counters *c);
/** Returns: 0, or -ENOENT for a bad @index. Outputs optional. @since 0.1 */
SODA_EXPORT int soda_net_counters_get_rule(const soda_net_counters *c, size_t index,
					   uint64_t *ret_packets, uint64_t *ret_bytes);
/** Returns: rule @index's canonical text (borrowed), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_net_counters_get_rule_text(const soda_net_counters *c,
							size_t index);
/** Returns: the number of servers with ports on the network. @since 0.1 */
SODA_EXPORT size_t soda_net_counters_get_server_count(const soda_net_counters *c);
/** Returns: server @index's name (borrowed), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_net_counters_get_server(const soda_net_counters *c, size_t index);
/** Returns: 0; -ENOENT for a bad @index; -EINVAL for a bad @kind. @since 0.1 */
SODA_EXPORT int soda_net_counters_get_server_value(const soda_net_counters *c, size_t index,
						   int kind, uint64_t *ret_packets,
						   uint64_t *ret_bytes);
/** Finds a server's index. Returns: 0 or -ENOENT. @since 0.1 */
SODA_EXPORT int soda_net_counters_find_server(const soda_net_counters *c, const char *server,
					      size_t *ret_index);
/** Returns: 0, or -EINVAL for a bad @kind (SODA_NET_TOTAL_*). @since 0.1 */
SODA_EXPORT int soda_net_counters_get_total(const soda_net_counters *c, int kind,
					    uint64_t *ret_packets, uint64_t *ret_bytes);

#ifdef __cplusplus
}
#endif

#endif
