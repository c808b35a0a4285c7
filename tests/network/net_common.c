/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "net_common.h"

static int setup(void **state, bool with_lan)
{
	net_env *ne = calloc(1, sizeof(*ne));
	char *copy;

	if (!ne)
		return -1;
	if (th_env_setup_netns(&ne->env) < 0) {
		th_env_teardown(&ne->env);
		free(ne);
		return -1;
	}
	snprintf(ne->netns_path, sizeof(ne->netns_path), "/run/netns/%s", ne->env.netns);
	copy = strdup(SODA_TEST_NETTOOL);
	snprintf(ne->tools, sizeof(ne->tools), "%s", dirname(copy));
	free(copy);
	if (soda_image_build(ne->env.ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0,
			     &ne->env.err) < 0 ||
	    (with_lan &&
	     soda_network_create(&ne->net, ne->env.ctx, "lan", NULL, 0, &ne->env.err) < 0)) {
		print_error("setup: %s\n", soda_error_message(ne->env.err));
		th_env_teardown(&ne->env);
		free(ne);
		return -1;
	}
	*state = ne;
	return 0;
}

int net_env_setup(void **state)
{
	return setup(state, true);
}

int net_env_setup_bare(void **state)
{
	return setup(state, false);
}

int net_env_teardown(void **state)
{
	net_env *ne = *state;

	soda_network_unref(ne->net);
	/* Kills the servers (their ports go through the detach hook) and
	 * deletes the namespace with everything in it. */
	th_env_teardown(&ne->env);
	free(ne);
	return 0;
}

soda_server *net_define(net_env *ne, const char *name, const char *network, const char *addr,
			const char *addr2, const char *label)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error **err = &ne->env.err;

	assert_soda_ok(soda_server_config_new(&cfg, name, err), *err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 40 << 20, err), *err);
	assert_soda_ok(soda_server_config_add_nic(cfg, network, NULL, 0, err), *err);
	if (addr)
		assert_soda_ok(soda_server_config_add_nic_address(cfg, 0, addr, err), *err);
	if (addr2)
		assert_soda_ok(soda_server_config_add_nic_address(cfg, 0, addr2, err), *err);
	if (label)
		assert_soda_ok(soda_server_config_add_label(cfg, label, err), *err);
	assert_soda_ok(soda_server_config_add_share(cfg, ne->tools, "/tools", SODA_SHARE_READONLY,
						    err),
		       *err);
	assert_soda_ok(soda_server_define(&srv, ne->env.ctx, cfg, 0, err), *err);
	soda_server_config_free(cfg);
	ne->n_defined++;
	return srv;
}

soda_server *net_guest(net_env *ne, const char *name, const char *addr, const char *label)
{
	soda_server *srv = net_define(ne, name, "lan", addr, NULL, label);

	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &ne->env.err), ne->env.err);
	return srv;
}

const char *server_mac(soda_server *srv, char out[18])
{
	soda_server_config *cfg = NULL;
	const char *mac = NULL;

	assert_soda_ok(soda_server_get_config(&cfg, srv, NULL), NULL);
	assert_int_equal(soda_server_config_get_nic(cfg, 0, NULL, &mac), 0);
	assert_non_null(mac);
	snprintf(out, 18, "%s", mac);
	soda_server_config_free(cfg);
	return out;
}

const char *server_mac_of(net_env *ne, const char *name, char out[18])
{
	soda_server *srv = NULL;

	assert_soda_ok(soda_server_lookup(&srv, ne->env.ctx, name, &ne->env.err), ne->env.err);
	server_mac(srv, out);
	soda_server_unref(srv);
	return out;
}

void net_apply(net_env *ne, const char *text)
{
	soda_policy *p = NULL;

	assert_soda_ok(soda_policy_parse(&p, text, strlen(text), "test", 0, &ne->env.err),
		       ne->env.err);
	assert_soda_ok(soda_network_apply_policy(ne->net, p, 0, &ne->env.err), ne->env.err);
	soda_policy_free(p);
}

int guest_sh(soda_server *srv, char **out, const char *fmt, ...)
{
	va_list ap;
	char *cmd = NULL;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	assert_non_null(cmd);
	r = th_exec(srv, cmd, out);
	free(cmd);
	return r;
}

bool ping_ok(soda_server *from, const char *ip)
{
	return guest_sh(from, NULL, "ping -c 1 -W 1 %s >/dev/null 2>&1", ip) == 0;
}

bool reach_ok_within(soda_server *from, const char *ip, int wait_s)
{
	return guest_sh(from, NULL,
			"ping -c 1 -W %d %s >/dev/null 2>&1 || ping -c 1 -W %d %s >/dev/null 2>&1 || "
			"ping -c 1 -W %d %s >/dev/null 2>&1",
			wait_s, ip, wait_s, ip, wait_s, ip) == 0;
}

static soda_net_counters *counters(net_env *ne)
{
	soda_net_counters *c = NULL;

	assert_soda_ok(soda_network_get_counters(&c, ne->net, 0, &ne->env.err), ne->env.err);
	return c;
}

uint64_t server_count(net_env *ne, const char *server, int kind)
{
	soda_net_counters *c = counters(ne);
	uint64_t v = 0;
	size_t i;

	if (soda_net_counters_find_server(c, server, &i) == 0)
		assert_int_equal(soda_net_counters_get_server_value(c, i, kind, &v, NULL), 0);
	soda_net_counters_free(c);
	return v;
}

uint64_t rule_count(net_env *ne, size_t rule)
{
	soda_net_counters *c = counters(ne);
	uint64_t v = 0;

	assert_int_equal(soda_net_counters_get_rule(c, rule, &v, NULL), 0);
	soda_net_counters_free(c);
	return v;
}

uint64_t total_count(net_env *ne, int kind)
{
	soda_net_counters *c = counters(ne);
	uint64_t v = 0;

	assert_int_equal(soda_net_counters_get_total(c, kind, &v, NULL), 0);
	soda_net_counters_free(c);
	return v;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

int ns_sh(net_env *ne, const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int r;

	va_start(ap, fmt);
	cmd = vformat(fmt, ap);
	va_end(ap);
	assert_non_null(cmd);
	r = th_sh("ip netns exec %s sh -c '%s'", ne->env.netns, cmd);
	free(cmd);
	return r;
}

char *ns_out(net_env *ne, const char *fmt, ...)
{
	va_list ap;
	char *cmd, *out = NULL;

	va_start(ap, fmt);
	cmd = vformat(fmt, ap);
	va_end(ap);
	assert_non_null(cmd);
	{
		char *argv[] = { "/usr/bin/ip", "netns", "exec", ne->env.netns, "/bin/sh", "-c", cmd,
				 NULL };

		th_run(argv, &out);
	}
	free(cmd);
	return out;
}

/* ---- fake guests ---- */

int fake_tap_open(const char *netns_path, const char *ifname)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = open(netns_path, O_RDONLY | O_CLOEXEC), fd = -1;
	struct ifreq ifr;

	assert_true(self >= 0 && ns >= 0);
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		fd = -1;
	}
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	close(ns);
	assert_true(fd >= 0);
	return fd;
}

int fake_attach(net_env *ne, const char *server, char ifname[16])
{
	void *ud = NULL;
	const soda_netdev_ops *ops = soda_context_get_netdev_ops(ne->env.ctx, &ud);
	soda_server *srv = NULL;
	soda_server_config *cfg = NULL;
	const char *network = NULL, *mac = NULL;
	int fd;

	assert_non_null(ops);
	assert_soda_ok(soda_server_lookup(&srv, ne->env.ctx, server, &ne->env.err), ne->env.err);
	assert_soda_ok(soda_server_get_config(&cfg, srv, &ne->env.err), ne->env.err);
	assert_int_equal(soda_server_config_get_nic(cfg, 0, &network, &mac), 0);
	assert_soda_ok(ops->attach(ud, server, 0, network, mac, 4242, ifname, &ne->env.err),
		       ne->env.err);
	soda_server_config_free(cfg);
	soda_server_unref(srv);
	fd = fake_tap_open(ne->netns_path, ifname);
	/* Let the port come up (no STP, no forwarding delay). */
	usleep(50000);
	fake_drain(fd);
	return fd;
}

void fake_detach(net_env *ne, const char *server, const char *ifname, int fd)
{
	void *ud = NULL;
	const soda_netdev_ops *ops = soda_context_get_netdev_ops(ne->env.ctx, &ud);

	if (fd >= 0)
		close(fd);
	assert_soda_ok(ops->detach(ud, server, 0, ifname, &ne->env.err), ne->env.err);
}

static void mac_of(const char *s, uint8_t *out)
{
	unsigned v[6];

	assert_int_equal(sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
			 6);
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)v[i];
}

static void ip4_of(const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void ip6_of(const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t eth(uint8_t *f, const char *smac, const char *dmac, uint16_t type)
{
	memset(f, 0, 128);
	mac_of(dmac, f);
	mac_of(smac, f + 6);
	put16(f + 12, type);
	return 14;
}

/* IPv4 header + transport of @tlen at f+34; fills checksums. */
static size_t ip4(uint8_t *f, const char *sip, const char *dip, uint8_t proto, size_t tlen)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	uint32_t sum;

	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tlen));
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = proto;
	ip4_of(sip, ip + 12);
	ip4_of(dip, ip + 16);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
	if (proto == 6 || proto == 17) {
		uint8_t pseudo[12];

		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = proto;
		put16(pseudo + 10, (uint16_t)tlen);
		sum = sum16(pseudo, 12, 0);
		put16(t + (proto == 6 ? 16 : 6), fold(sum16(t, tlen, sum)));
	} else if (proto == 1) {
		put16(t + 2, fold(sum16(t, tlen, 0)));
	}
	return 14 + 20 + tlen;
}

size_t frame_udp4(uint8_t *f, const char *smac, const char *dmac, const char *sip,
		  const char *dip, uint16_t dport, const char *tag)
{
	uint8_t *u = f + 34;
	size_t tl = strlen(tag);

	eth(f, smac, dmac, 0x0800);
	put16(u, 40000);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + tl));
	memcpy(u + 8, tag, tl);
	return ip4(f, sip, dip, 17, 8 + tl);
}

size_t frame_tcp4_syn(uint8_t *f, const char *smac, const char *dmac, const char *sip,
		      const char *dip, uint16_t sport, uint16_t dport, bool synack)
{
	uint8_t *t = f + 34;

	eth(f, smac, dmac, 0x0800);
	put16(t, sport);
	put16(t + 2, dport);
	t[7] = synack ? 0x20 : 0x10; /* sequence numbers */
	if (synack)
		t[11] = 0x11; /* ack = the SYN's seq + 1 */
	t[12] = 5 << 4;
	t[13] = synack ? 0x12 : 0x02;
	put16(t + 14, 64240);
	return ip4(f, sip, dip, 6, 20);
}

size_t frame_icmp4_echo(uint8_t *f, const char *smac, const char *dmac, const char *sip,
			const char *dip, uint16_t id)
{
	uint8_t *t = f + 34;

	eth(f, smac, dmac, 0x0800);
	t[0] = 8;
	put16(t + 4, id);
	put16(t + 6, 1);
	memcpy(t + 8, "soda-echo", 9);
	return ip4(f, sip, dip, 1, 17);
}

size_t frame_arp(uint8_t *f, const char *esrc, const char *edst, int op, const char *sha,
		 const char *spa, const char *tha, const char *tpa)
{
	uint8_t *a = f + 14;

	eth(f, esrc, edst, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, (uint16_t)op);
	mac_of(sha, a + 8);
	ip4_of(spa, a + 14);
	mac_of(tha, a + 18);
	ip4_of(tpa, a + 24);
	return 60;
}

static size_t ip6(uint8_t *f, const char *sip, const char *dip, uint8_t nh, size_t tlen,
		  uint8_t hops)
{
	uint8_t *ip = f + 14, *t = ip + 40, pseudo[40];
	size_t off = nh == 58 ? 2 : 6;

	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)tlen);
	ip[6] = nh;
	ip[7] = hops;
	ip6_of(sip, ip + 8);
	ip6_of(dip, ip + 24);
	memcpy(pseudo, ip + 8, 32);
	memset(pseudo + 32, 0, 8);
	put16(pseudo + 34, (uint16_t)tlen);
	pseudo[39] = nh;
	put16(t + off, 0);
	put16(t + off, fold(sum16(t, tlen, sum16(pseudo, 40, 0))));
	return 14 + 40 + tlen;
}

size_t frame_udp6(uint8_t *f, const char *smac, const char *dmac, const char *sip,
		  const char *dip, uint16_t dport, const char *tag)
{
	uint8_t *u = f + 54;
	size_t tl = strlen(tag);

	eth(f, smac, dmac, 0x86dd);
	put16(u, 40000);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + tl));
	memcpy(u + 8, tag, tl);
	return ip6(f, sip, dip, 17, 8 + tl, 64);
}

size_t frame_nd(uint8_t *f, int type, const char *smac, const char *dmac, const char *sip,
		const char *dip, const char *target, const char *lladdr)
{
	uint8_t *t = f + 54;
	size_t len = type == 134 ? 16 : 24;

	eth(f, smac, dmac, 0x86dd);
	t[0] = (uint8_t)type;
	if (type == 136)
		t[4] = 0x20; /* override */
	if (type != 134)
		ip6_of(target, t + 8);
	if (lladdr) {
		t[len] = type == 136 ? 2 : 1;
		t[len + 1] = 1;
		mac_of(lladdr, t + len + 2);
		len += 8;
	}
	return ip6(f, sip, dip, 58, len, 255);
}

size_t frame_vlan(uint8_t *f, const char *smac, const char *dmac)
{
	eth(f, smac, dmac, 0x8100);
	put16(f + 14, 5);      /* VLAN 5 */
	put16(f + 16, 0x0800); /* carrying IPv4 */
	memcpy(f + 18, "soda-vlan", 9);
	return 60;
}

void fake_send(int fd, const uint8_t *f, size_t len)
{
	if (len < 60)
		len = 60;
	assert_int_equal(write(fd, f, len), (ssize_t)len);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef bool (*frame_pred)(const uint8_t *f, size_t len, const void *arg, size_t arg_len);

static bool wait_frame(int fd, frame_pred pred, const void *arg, size_t arg_len, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	uint8_t buf[2048];

	for (;;) {
		uint64_t now = mono_ms();
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (now >= end)
			return false;
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (pred(buf, (size_t)n, arg, arg_len))
				return true;
	}
}

static bool has_bytes(const uint8_t *f, size_t len, const void *needle, size_t n)
{
	return memmem(f, len, needle, n) != NULL;
}

bool fake_sees(int fd, const void *needle, size_t len, int ms)
{
	return wait_frame(fd, has_bytes, needle, len, ms);
}

static bool is_arp_reply(const uint8_t *f, size_t len, const void *spa, size_t n)
{
	(void)n;
	return len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 &&
	       memcmp(f + 28, spa, 4) == 0;
}

bool fake_sees_arp_reply(int fd, const char *spa, int ms)
{
	uint8_t a[4];

	ip4_of(spa, a);
	return wait_frame(fd, is_arp_reply, a, 4, ms);
}

void fake_drain(int fd)
{
	uint8_t buf[2048];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* A counter of the namespace's IP stack from /proc/net/snmp: @group's
 * two lines are the names, then the values. */
uint64_t snmp_get(net_env *ne, const char *group, const char *name)
{
	char *out = ns_out(ne, "cat /proc/net/snmp"), key[32], *names, *vals, *save1 = NULL,
	     *save2 = NULL;
	uint64_t v = UINT64_MAX;

	assert_non_null(out);
	snprintf(key, sizeof(key), "%s: ", group);
	names = strstr(out, key);
	assert_non_null(names);
	vals = strstr(names + 1, key);
	assert_non_null(vals);
	names[strcspn(names, "\n")] = '\0';
	vals[strcspn(vals, "\n")] = '\0';
	for (char *n = strtok_r(names, " ", &save1), *x = strtok_r(vals, " ", &save2); n && x;
	     n = strtok_r(NULL, " ", &save1), x = strtok_r(NULL, " ", &save2))
		if (strcmp(n, name) == 0)
			v = strtoull(x, NULL, 10);
	free(out);
	assert_true(v != UINT64_MAX);
	return v;
}

/* What reached the host's ICMP and UDP. */
uint64_t host_received(net_env *ne)
{
	return snmp_get(ne, "Icmp", "InMsgs") + snmp_get(ne, "Udp", "InDatagrams") +
	       snmp_get(ne, "Udp", "NoPorts");
}
