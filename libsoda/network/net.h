/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The network module's insides: policies (policy.c), their compilation into
 * set elements (compile.c), the state files (state.c) and the module itself
 * (network.c).
 */
#ifndef SODA_NETWORK_NET_H
#define SODA_NETWORK_NET_H

#include <soda/network.h>
#include <soda/server.h>

#include "nft_ops.h"
#include "../util.h"

/* ---- policies ---- */

enum { SU_EP_ANY = 1, SU_EP_SERVER, SU_EP_GROUP, SU_EP_CIDR };

typedef struct su_ep {
	int kind;
	char *name;          /* server or group */
	int family;          /* CIDR: AF_INET or AF_INET6 */
	uint8_t addr[16];    /* CIDR: network address (host bits cleared) */
	unsigned prefix;
	uint32_t line, col;  /* where it was written */
} su_ep;

typedef struct su_prange {
	uint16_t lo, hi;
} su_prange;

#define SU_PROTO_ANY 0
#define SU_PROTO_ICMP 1
#define SU_PROTO_TCP 6
#define SU_PROTO_UDP 17

typedef struct su_prule {
	uint32_t line, col;
	bool deny;
	su_ep *src, *dst;
	size_t n_src, n_dst;
	int proto;
	su_prange *ports; /* none: every port */
	size_t n_ports;
	char *text;       /* the rule written out canonically */
	uint64_t hash;    /* of text: the compiler's cache key */
} su_prule;

/* Immutable once parsed, and shared: the network module keeps a reference
 * to the policy in force instead of a copy (su_policy_ref; the caller's
 * soda_policy_free() drops one reference). */
struct soda_policy {
	unsigned refs; /* atomic */
	char *source;
	char *text;
	size_t len;
	su_prule *rules;
	size_t n_rules;
};

/* Limits, so that bad input cannot ask for unbounded memory. */
#define SU_POLICY_TEXT_MAX (64u << 20)
#define SU_POLICY_RULES_MAX 1000000u
#define SU_POLICY_LIST_MAX 256u /* endpoints per side, port ranges per rule */

/* What a policy refers to: the servers defined in the context that have a
 * NIC on the network, with their labels. */
typedef struct su_dirent {
	const char *name;
	char *const *labels;
	bool on_network;
} su_dirent;

/* Another reference to @p (NULL: NULL); soda_policy_free() drops it. */
soda_policy *su_policy_ref(soda_policy *p);
/* Checks that every server and group the policy names exists on
 * @network; errors carry the line and column of the name. */
int su_policy_resolve(const soda_policy *p, const su_dirent *servers, size_t n,
		      const char *network, soda_error **error);

/* ---- ports and the compiled form ---- */

typedef struct su_port {
	char *ifname;
	char *server;
	uint32_t nic;
	char *mac;         /* "02:..." lower case */
	char **addresses;  /* CIDR, as configured */
	char **labels;
} su_port;

void su_port_done(su_port *p);
int su_port_copy(su_port *to, const su_port *from);
/* "02:00:..." into six bytes; -EINVAL if it is not one. */
int su_mac_parse(const char *s, uint8_t mac[6]);
/* The plugin's view of a port. */
int su_port_to_nft(const su_port *p, su_nft_port *ret);

/* The elements are ordered by their hash (su_elem_hash()), then by their
 * bytes: sorting by a 64-bit number is what makes a rebuild from cached
 * rules cheap. su_model_format() writes them in byte order. */
typedef struct su_model {
	su_nft_port *ports; /* sorted by name */
	size_t n_ports;
	su_nft_elem *elems; /* sorted (see above), unique */
	uint32_t *owner;    /* the rule (index) each element is counted for */
	uint64_t *hash;     /* su_elem_hash() of each element */
	size_t n_elems;
} su_model;

#define SU_MODEL_ELEMS_MAX 4000000u

uint64_t su_text_hash(const char *s);
uint64_t su_elem_hash(const su_nft_elem *e);

/* What a network's compiler remembers between builds: each rule's
 * elements and boxes by its canonical text (valid while the ports stay the
 * same) and the last decomposition of each interval set's boxes. A cache
 * never holds a wrong result, only more or fewer of them. */
typedef struct su_compile_cache su_compile_cache;
void su_compile_cache_free(su_compile_cache *c);

/* What the kernel should hold for @policy (NULL: none) with @ports. With
 * @cache (*cache may be NULL: one is made) unchanged rules are not
 * compiled again. The result does not depend on the cache. */
int su_model_build_cached(su_model *m, su_compile_cache **cache, const soda_policy *policy,
			  const su_port *ports, size_t n_ports, soda_error **error);
int su_model_build(su_model *m, const soda_policy *policy, const su_port *ports, size_t n_ports,
		   soda_error **error);
void su_model_free(su_model *m);
/* The change from @old to @new (arrays in @d point into the models, except
 * the element arrays, which are allocated: free with su_delta_free()). */
int su_model_diff(const su_model *old, const su_model *new, su_nft_delta *d);
void su_delta_free(su_nft_delta *d);
/* Index of @e in @m, or -1. */
ssize_t su_model_find(const su_model *m, const su_nft_elem *e);
/* One line per element: "SET KEY rule N". */
char *su_model_format(const su_model *m);
int su_elem_cmp(const su_nft_elem *a, const su_nft_elem *b);

/* ---- state files ---- */

typedef struct su_netstate {
	char *name;
	char *bridge;
	char *table;
	char *uplink;       /* NULL: none */
	char *netns;        /* the namespace it lives in (a path), NULL: the initial one */
	bool firewall;
	uint32_t generation;
	uint32_t flood_rate, flood_burst; /* the ports' broadcast limit (0: none) */
	char *policy_file;  /* "policy.N" in the network's directory, or NULL */
	su_port *ports;
	size_t n_ports;
} su_netstate;

/* The broadcast limit of a new network, and of a record older than the
 * limit: enough for ARP, DHCP and neighbour discovery of a busy server,
 * three orders of magnitude below what one port can send. */
#define SU_FLOOD_RATE_DEFAULT 100u
#define SU_FLOOD_BURST_DEFAULT 200u
#define SU_FLOOD_MAX 1000000u

#define SU_NETSTATE_MAGIC "soda-network"
#define SU_NETSTATE_VERSION 1

void su_netstate_done(su_netstate *st);
int su_netstate_copy(su_netstate *to, const su_netstate *from);
char *su_netstate_serialize(const su_netstate *st);
int su_netstate_parse(su_netstate *st, const char *text, size_t len, const char *source,
		      soda_error **error);

/* Deterministic names (all fit IFNAMSIZ or nftables' limits). */
uint64_t su_net_hash(const char *a, const char *b);
void su_net_bridge_name(const char *state_dir, const char *network, char out[16]);
void su_net_tap_name(const char *state_dir, const char *server, uint32_t nic, char out[16]);
/* "soda-<16 hex of the state directory>-" */
void su_net_table_prefix(const char *state_dir, char out[32]);

#endif
