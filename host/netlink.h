/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtnetlink (libmnl) for the software switch: network namespaces, links
 * (bridges, bridge ports, deletion), addresses, and netfilter sockets.
 *
 * Sockets are opened in the target namespace: the calling thread enters it
 * with setns(), opens the socket and goes straight back; a socket keeps the
 * namespace it was made in, so everything sent on it afterwards acts there
 * whatever thread sends it. Every path restores the thread's namespace.
 */
#ifndef SODA_HOST_NETLINK_H
#define SODA_HOST_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "../libsoda/util.h"

/* Enters the network namespace @netns (a path; NULL: stay) on the calling
 * thread; *saved receives a descriptor of the namespace to go back to (or
 * -1 when nothing changed). */
int su_netns_enter(const char *netns, int *saved, soda_error **error);
/* Goes back and closes @saved (nothing for -1). Returns 0 or -errno; on
 * failure the thread is left in the other namespace, which the caller
 * must treat as fatal for further namespace-sensitive work. */
int su_netns_leave(int saved);

/* A NETLINK_NETFILTER socket (O_CLOEXEC) in @netns. */
int su_nfnl_open(const char *netns, int *ret_fd, soda_error **error);

typedef struct su_nl su_nl;

/* An rtnetlink socket in @netns. */
int su_nl_open(su_nl **ret, const char *netns, soda_error **error);
void su_nl_close(su_nl *nl);

typedef struct su_link {
	int index;
	unsigned int flags;  /* IFF_* */
	int master;          /* ifindex of the bridge it is a port of, or 0 */
	char name[16];
	char kind[16];       /* "bridge", "tun", "veth", ... or "" */
	char alias[256];     /* IFLA_IFALIAS or "" */
	unsigned char mac[6];
} su_link;

/* Reads one link by name; -ENODEV if there is none. */
int su_nl_link_get(su_nl *nl, const char *name, su_link *ret);
/* Every link of the namespace (free *ret). */
int su_nl_link_list(su_nl *nl, su_link **ret, size_t *ret_count);

/* Creates a bridge: no STP, no forwarding delay, no multicast snooping,
 * frames handed to the IPv4/IPv6 netfilter hooks (br_netfilter), no IPv6
 * address generation (so it never gets a link-local address), @alias as
 * its description, up. No address is ever put on it. -EEXIST if the name
 * is taken. */
int su_nl_bridge_create(su_nl *nl, const char *name, const char *alias, soda_error **error);

/* Makes @ifindex a port of bridge @master (0: of none), without IPv6
 * address generation, with @alias (NULL: unchanged), up. */
int su_nl_port_set(su_nl *nl, int ifindex, int master, const char *alias, soda_error **error);

/* Makes bridge port @ifindex a server's: the bridge floods it no frame for
 * an unknown unicast address and learns nothing from it, and @mac is a
 * static entry on it. So a frame for a server that has not spoken yet, or
 * is away (its port gone while it restarts), reaches no other server. */
int su_nl_port_server(su_nl *nl, int ifindex, const uint8_t mac[6], soda_error **error);

/* Deletes a link; a missing one is no error. */
int su_nl_link_del(su_nl *nl, const char *name, soda_error **error);

typedef struct su_addr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
	unsigned char scope;     /* RT_SCOPE_* */
} su_addr;

/* Addresses on @ifindex (free *ret). */
int su_nl_addr_list(su_nl *nl, int ifindex, su_addr **ret, size_t *ret_count);
int su_nl_addr_del(su_nl *nl, int ifindex, const su_addr *a, soda_error **error);

#endif
