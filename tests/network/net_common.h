/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the switch's integration tests share: an environment (state
 * directory, a fresh network namespace soda-it-<pid>-<n>, the busybox
 * image, network "lan" in it), guests on the switch with nettool shared
 * in, policies, counters, and "fake guests": a test process that opens a
 * server's TAP itself and writes and reads raw frames, for checks at the
 * level of single frames. Everything lives in the namespace, which
 * teardown deletes, so nothing is left even when a test fails.
 */
#ifndef SODA_NET_COMMON_H
#define SODA_NET_COMMON_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <soda/network.h>

#include "testhelp.h"

typedef struct net_env {
	th_env env;
	char netns_path[64];
	char tools[256]; /* directory holding nettool, shared into guests at /tools */
	soda_network *net;
	int n_defined;
} net_env;

/* cmocka setup/teardown: environment with network "lan" (firewall on). */
int net_env_setup(void **state);
int net_env_teardown(void **state);
/* The same without creating "lan". */
int net_env_setup_bare(void **state);

/* Defines a server with NIC 0 on @network at @addr (CIDR), optional second
 * address and label; nettool shared at /tools. */
soda_server *net_define(net_env *ne, const char *name, const char *network, const char *addr,
			const char *addr2, const char *label);
/* Defines and starts (waits for ready). */
soda_server *net_guest(net_env *ne, const char *name, const char *addr, const char *label);

/* A server's NIC 0 MAC into @out; returns @out. */
const char *server_mac(soda_server *srv, char out[18]);
/* The same by name. */
const char *server_mac_of(net_env *ne, const char *name, char out[18]);

/* Applies policy text; asserts success. */
void net_apply(net_env *ne, const char *text);

/* Runs a shell command line on a guest; returns its status; output
 * optional (free()). */
int guest_sh(soda_server *srv, char **out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One ping from a guest, a second to answer: where a ping must fail. */
bool ping_ok(soda_server *from, const char *ip);
/* Where a ping must get through: up to three tries of @wait_s seconds each
 * (CI under ASan once lost the first, ARP and all, on a busy host; a QEMU
 * guest under TCG answers slower). */
bool reach_ok_within(soda_server *from, const char *ip, int wait_s);

/* Counters: a server's kind (SODA_NET_*), a rule's packets, a total. */
uint64_t server_count(net_env *ne, const char *server, int kind);
uint64_t rule_count(net_env *ne, size_t rule);
uint64_t total_count(net_env *ne, int kind);

/* Runs a command in the test namespace (ip netns exec). */
int ns_sh(net_env *ne, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Its output (free()). */
char *ns_out(net_env *ne, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A counter of the namespace's IP stack (/proc/net/snmp), and the sum of
 * what reached its ICMP and UDP. */
uint64_t snmp_get(net_env *ne, const char *group, const char *name);
uint64_t host_received(net_env *ne);

/* ---- fake guests ---- */

/* Attaches NIC 0 of defined server @server as the uml backend would (the
 * switch's netdev hooks) and opens its TAP; returns the fd (nonblocking). */
int fake_attach(net_env *ne, const char *server, char ifname[16]);
/* Opens TAP @ifname in the namespace at @netns_path (nonblocking); asserts. */
int fake_tap_open(const char *netns_path, const char *ifname);
void fake_detach(net_env *ne, const char *server, const char *ifname, int fd);

/* Frames. @mac and addresses in text. Return the frame length. */
size_t frame_udp4(uint8_t *f, const char *smac, const char *dmac, const char *sip,
		  const char *dip, uint16_t dport, const char *tag);
size_t frame_tcp4_syn(uint8_t *f, const char *smac, const char *dmac, const char *sip,
		      const char *dip, uint16_t sport, uint16_t dport, bool synack);
size_t frame_icmp4_echo(uint8_t *f, const char *smac, const char *dmac, const char *sip,
			const char *dip, uint16_t id);
size_t frame_arp(uint8_t *f, const char *esrc, const char *edst, int op, const char *sha,
		 const char *spa, const char *tha, const char *tpa);
size_t frame_udp6(uint8_t *f, const char *smac, const char *dmac, const char *sip,
		  const char *dip, uint16_t dport, const char *tag);
/* ICMPv6 neighbour solicitation (135) / advertisement (136) / router
 * advertisement (134) with a link-layer address option (NULL: none). */
size_t frame_nd(uint8_t *f, int type, const char *smac, const char *dmac, const char *sip,
		const char *dip, const char *target, const char *lladdr);
size_t frame_vlan(uint8_t *f, const char *smac, const char *dmac);

void fake_send(int fd, const uint8_t *f, size_t len);
/* Reads frames for up to @ms; true if one contains @needle (e.g. a tag in
 * the payload). Drains what it reads. */
bool fake_sees(int fd, const void *needle, size_t len, int ms);
/* True if an ARP reply (op 2) with sender @spa arrives within @ms. */
bool fake_sees_arp_reply(int fd, const char *spa, int ms);
void fake_drain(int fd);

#endif
