/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The interface between the switch (libsoda/network, LGPL) and its
 * nftables plugin (libsoda-nft.so, GPL-2.0-or-later because it links
 * libnftnl). The library loads the plugin with dlopen() and asks its one
 * exported function, soda_nft_plugin_ops(), for this table. The table is
 * versioned; an entry left NULL means "not supported".
 *
 * What the kernel holds for a network (all in the switch's namespace):
 *
 *   table bridge <table>   anti-spoofing per port (a chain per port reached
 *                          through a verdict map keyed by the input
 *                          interface), the uplink's checks, an input chain
 *                          that drops everything addressed to the host,
 *                          per-port counters, and per port a chain
 *                          "flood-<port>" holding the port's limit on
 *                          broadcast and multicast frames;
 *   table inet <table>     the policy: established or not, every packet is
 *                          judged by its connection's original direction
 *                          (conntrack through br_netfilter) against deny
 *                          sets, then allow sets (hash sets for exact
 *                          server-to-server keys, concatenated interval
 *                          sets for address ranges and port ranges); the
 *                          rest is dropped. The sets and their chains are
 *                          there twice (buffers a and b); chain "dispatch"
 *                          sends packets to one. A one-element set holds
 *                          the generation of the state the kernel has.
 *
 * The library computes what the sets should hold; the plugin turns it into
 * netlink messages in batches, which the kernel commits atomically or not
 * at all. A change is written into the buffer no packet sees, then the
 * dispatch to it is swapped in one batch, so packets meet the old policy
 * or the new one and never a mix (nft.c, op_update()).
 */
#ifndef SODA_NFT_OPS_H
#define SODA_NFT_OPS_H

#include <stddef.h>
#include <stdint.h>

#define SU_NFT_OPS_VERSION 3
#define SU_NFT_ADDR_MAX 8 /* addresses per port and family (SODA_NIC_ADDRESSES_MAX) */

/* Element sets: bit 0 IPv6, bit 1 deny, bits 2-3 the kind. */
#define SU_NFT_SET_V6 1u
#define SU_NFT_SET_DENY 2u
#define SU_NFT_KIND_PORT 0u  /* exact source . destination . protocol . port */
#define SU_NFT_KIND_PROTO 1u /* exact source . destination . protocol */
#define SU_NFT_KIND_ANY 2u   /* exact source . destination */
#define SU_NFT_KIND_RANGE 3u /* ranges of all four */
#define SU_NFT_SET(v6, deny, kind) ((v6) | ((deny) ? SU_NFT_SET_DENY : 0u) | (kind) << 2)
#define SU_NFT_SET_KIND(set) ((set) >> 2 & 3u)
#define SU_NFT_SETS 16

/* One element of one policy set. Addresses are big-endian, IPv4 in the
 * first four bytes. For the exact kinds lo == hi and the ports and
 * protocol fields a kind does not use are 0. */
typedef struct su_nft_elem {
	uint8_t set;
	uint8_t proto_lo, proto_hi;
	uint8_t pad;
	uint16_t port_lo, port_hi;
	uint8_t src_lo[16], src_hi[16];
	uint8_t dst_lo[16], dst_hi[16];
} su_nft_elem;

/* One server port on the bridge. */
typedef struct su_nft_port {
	char ifname[16];
	uint8_t mac[6];
	uint8_t n_ip4, n_ip6;
	uint8_t ip4[SU_NFT_ADDR_MAX][4];
	uint8_t ip6[SU_NFT_ADDR_MAX][16];
	uint8_t ll6[16]; /* the link-local address the guest derives from its MAC */
} su_nft_port;

typedef struct su_nft_net {
	int fd;              /* NETLINK_NETFILTER socket in the switch's namespace (caller's) */
	const char *table;   /* name of both tables */
	const char *bridge;  /* the bridge, to tell its packets from others in the inet hooks */
	const char *uplink;  /* NULL: none */
	const char *comment; /* recorded with the tables: who owns them */
	/* Broadcast and multicast frames (ARP, DHCP, neighbour discovery
	 * included) a port may send per second, and the burst above that
	 * rate it may send at once; the excess is dropped at the port and
	 * counted. 0: no limit. */
	uint32_t flood_rate, flood_burst;
} su_nft_net;

/* Everything the kernel should hold. */
typedef struct su_nft_model {
	const su_nft_port *ports;
	size_t n_ports;
	const su_nft_elem *elems;
	size_t n_elems;
	uint32_t generation;
} su_nft_model;

/* A change. A port in both lists (same name) is replaced. */
typedef struct su_nft_delta {
	const su_nft_port *port_del;
	size_t n_port_del;
	const su_nft_port *port_add;
	size_t n_port_add;
	const su_nft_elem *elem_del;
	size_t n_elem_del;
	const su_nft_elem *elem_add;
	size_t n_elem_add;
	/* The new policy's elements, all of them: a set that loses most of
	 * its elements is emptied and filled anew rather than edited. */
	const su_nft_elem *elems;
	size_t n_elems;
	uint32_t generation_old, generation_new;
} su_nft_delta;

typedef struct su_nft_err {
	int code;
	char message[512];
} su_nft_err;

/* Counter kinds reported by counters(). */
#define SU_NFT_C_ELEM 1      /* a policy set element: elem */
#define SU_NFT_C_PORT_DROP 2 /* a port's drop: ifname, tag (mac, ip, arp, nd, other: anti-spoofing;
			      * flood: over the broadcast limit) */
#define SU_NFT_C_HOST 3      /* frames from port ifname addressed to the host */
#define SU_NFT_C_FORWARD 4   /* frames from port ifname the switch forwarded */
#define SU_NFT_C_OUT 5       /* refused packets of connections from address (family, addr) */
#define SU_NFT_C_IN 6        /* refused packets of connections to address */
#define SU_NFT_C_TOTAL 7     /* network-wide: tag (default, invalid, host, uplink) */

typedef struct su_nft_counter {
	int kind;
	su_nft_elem elem;
	char ifname[16];
	char tag[16];
	int family; /* 4 or 6 */
	uint8_t addr[16];
	uint64_t packets, bytes;
} su_nft_counter;

typedef int (*su_nft_counter_fn)(const su_nft_counter *c, void *userdata);

/* Flags of install() and update(). */
#define SU_NFT_CHECK 1u /* the kernel checks the batch, then discards it */

typedef struct su_nft_ops {
	uint32_t version; /* SU_NFT_OPS_VERSION */
	/* "libsoda-nft VERSION (libnftnl)": static. */
	const char *(*describe)(void);
	/* One batch: deletes the tables if they exist and makes them anew with
	 * @model. */
	int (*install)(const su_nft_net *net, const su_nft_model *model, unsigned int flags,
		       su_nft_err *err);
	/* Applies @delta in three batches, moving the generation from old to
	 * new (= old + 1); fails, with nothing changed for any packet, unless
	 * the kernel's is generation_old. */
	int (*update)(const su_nft_net *net, const su_nft_delta *delta, unsigned int flags,
		      su_nft_err *err);
	/* Deletes both tables; missing ones are fine. */
	int (*remove)(const su_nft_net *net, su_nft_err *err);
	/* The kernel's generation; -ENOENT if the tables are missing. */
	int (*generation)(const su_nft_net *net, uint32_t *ret, su_nft_err *err);
	/* Reports every counter through @fn (a negative return stops). */
	int (*counters)(const su_nft_net *net, su_nft_counter_fn fn, void *userdata,
			su_nft_err *err);
	/* Calls @fn with the name of each table (either family) whose name
	 * starts with @prefix. */
	int (*list_tables)(int fd, const char *prefix, int (*fn)(const char *name, void *userdata),
			   void *userdata, su_nft_err *err);
	/* Rewrites the broadcast limit of each of @ports (which the kernel
	 * has) to @net's flood_rate and flood_burst, in one batch; the
	 * generation does not change. */
	int (*flood)(const su_nft_net *net, const su_nft_port *ports, size_t n_ports,
		     su_nft_err *err);
} su_nft_ops;

/* The plugin's only export. NULL if it cannot serve @version. */
typedef const su_nft_ops *(*su_nft_plugin_fn)(uint32_t version);
#define SU_NFT_PLUGIN_SYMBOL "soda_nft_plugin_ops"

#endif
