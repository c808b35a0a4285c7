/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The switch against the real kernel, frame by frame: a bridge, TAP ports
 * and nftables tables in a namespace the test makes, with "fake guests"
 * (the test holds a server's TAP and writes and reads raw frames). Each
 * attack is tried and shown to fail, with a positive control that the
 * same frame done honestly gets through, and the counters that must
 * name it.
 */
#include "net_common.h"

#include <soda/server.h>

#define A_IP "198.51.100.10"
#define B_IP "198.51.100.11"
#define C_IP "198.51.100.12"
#define HOST_IP "203.0.113.1" /* an address the namespace has on another interface */
#define BCAST "ff:ff:ff:ff:ff:ff"

/* The last error's message names @needle. */
static void assert_message(net_env *ne, const char *needle)
{
	const char *m = soda_error_message(ne->env.err);

	if (!m || !strstr(m, needle))
		fail_msg("error message '%s' does not name '%s'", m ? m : "(none)", needle);
	soda_error_free(ne->env.err);
	ne->env.err = NULL;
}

/* @call fails with @code and a message naming @needle. */
#define EXPECT_FAIL(ne, call, code, needle)                \
	do {                                               \
		assert_int_equal((call), (code));          \
		assert_message((ne), (needle));            \
	} while (0)

typedef struct port {
	const char *name;
	char ifname[16];
	char mac[18];
	const char *ip;
	int fd;
} port;

static void port_up(net_env *ne, port *p, const char *name, const char *ip, const char *label)
{
	soda_server *srv;

	p->name = name;
	p->ip = ip;
	srv = net_define(ne, name, "lan", ip, NULL, label);
	server_mac(srv, p->mac);
	soda_server_unref(srv);
	p->fd = fake_attach(ne, name, p->ifname);
}

static void ports_down(net_env *ne, port *ps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fake_detach(ne, ps[i].name, ps[i].ifname, ps[i].fd);
}

/* Sends a UDP datagram with the given tag from @from (with the given
 * source MAC and IP) to @to; true if @to receives it. */
static bool udp_through(port *from, const char *smac, const char *sip, port *to, uint16_t dport,
			const char *tag)
{
	uint8_t f[256];
	size_t len;

	fake_drain(to->fd);
	len = frame_udp4(f, smac, to->mac, sip, to->ip, dport, tag);
	fake_send(from->fd, f, len);
	return fake_sees(to->fd, tag, strlen(tag), 300);
}

/* The EUI-64 link-local address a guest makes from its MAC. */
static const char *link_local(const char *mac, char out[64])
{
	unsigned m[6];

	assert_int_equal(sscanf(mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]),
			 6);
	snprintf(out, 64, "fe80::%x:%x:%x:%x", (m[0] ^ 2) << 8 | m[1], m[2] << 8 | 0xff,
		 0xfe00 | m[3], m[4] << 8 | m[5]);
	return out;
}

static void three_ports(net_env *ne, port ps[3])
{
	port_up(ne, &ps[0], "a", A_IP "/24", "web");
	port_up(ne, &ps[1], "b", B_IP "/24", "web");
	port_up(ne, &ps[2], "c", C_IP "/24", NULL);
	ps[0].ip = A_IP;
	ps[1].ip = B_IP;
	ps[2].ip = C_IP;
}

/* The bridge exists in the namespace with no address at all, the tables
 * exist, and the network's record says so. */
static void test_bridge_and_tables(void **state)
{
	net_env *ne = *state;
	soda_network_info *info = NULL;
	char *out;

	assert_soda_ok(soda_network_get_info(&info, ne->net, 0, &ne->env.err), ne->env.err);
	assert_int_equal(soda_network_info_get_firewall(info), 1);
	out = ns_out(ne, "ip -o addr show dev %s", soda_network_info_get_bridge(info));
	assert_non_null(out);
	/* No inet and no inet6 line: not even a link-local address. */
	assert_null(strstr(out, "inet"));
	free(out);
	out = ns_out(ne, "nft list tables");
	assert_non_null(strstr(out, soda_network_info_get_table(info)));
	free(out);
	soda_network_info_free(info);
}

/* Policy: default deny, then exactly what the rules allow, counted per
 * rule; refusals counted per server and direction. */
static void test_policy_frames(void **state)
{
	net_env *ne = *state;
	port ps[3];
	uint64_t out0, in0;

	three_ports(ne, ps);
	/* Default deny: nothing passes. */
	assert_false(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "deny-default"));
	net_apply(ne, "allow from server a to server c udp port 5000\n"
		      "allow from group web to server c udp port 6000-6010\n");
	assert_true(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "allow-exact"));
	assert_false(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5001, "wrong-port"));
	assert_false(udp_through(&ps[1], ps[1].mac, B_IP, &ps[2], 5000, "not-b"));
	assert_true(udp_through(&ps[1], ps[1].mac, B_IP, &ps[2], 6005, "group-range"));
	/* Direction: c may not send to a. */
	out0 = server_count(ne, "c", SODA_NET_DROP_POLICY_OUT);
	in0 = server_count(ne, "a", SODA_NET_DROP_POLICY_IN);
	assert_false(udp_through(&ps[2], ps[2].mac, C_IP, &ps[0], 5000, "reverse"));
	assert_true(server_count(ne, "c", SODA_NET_DROP_POLICY_OUT) > out0);
	assert_true(server_count(ne, "a", SODA_NET_DROP_POLICY_IN) > in0);
	/* Rule counters: rule 0 decided one packet, rule 1 one. */
	assert_int_equal(rule_count(ne, 0), 1);
	assert_int_equal(rule_count(ne, 1), 1);
	/* A deny rule wins over an allow rule. */
	net_apply(ne, "allow from server a to server c udp port 5000\n"
		      "deny from server a to any udp\n");
	assert_false(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "deny-wins"));
	assert_true(rule_count(ne, 1) >= 1);
	ports_down(ne, ps, 3);
}

/* Spoofing from a port: another server's IP, another MAC, ARP poisoning,
 * VLAN tags. Each fails and is counted; the honest frame passes. */
static void test_spoofing(void **state)
{
	net_env *ne = *state;
	char ll[64];
	port ps[3];
	uint8_t f[256];
	size_t len;

	three_ports(ne, ps);
	net_apply(ne, "allow from any to any udp\n");
	/* The positive control. */
	assert_true(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 7000, "honest"));
	/* a claims b's address: b's traffic would be allowed too, so only the
	 * anti-spoofing can stop it. */
	assert_false(udp_through(&ps[0], ps[0].mac, B_IP, &ps[2], 7000, "ip-spoof"));
	assert_true(server_count(ne, "a", SODA_NET_DROP_IP) >= 1);
	/* a claims b's MAC. */
	assert_false(udp_through(&ps[0], ps[1].mac, A_IP, &ps[2], 7000, "mac-spoof"));
	assert_true(server_count(ne, "a", SODA_NET_DROP_MAC) >= 1);
	/* A made-up MAC and address from outside the network. */
	assert_false(udp_through(&ps[0], "02:66:66:66:66:66", "203.0.113.66", &ps[2], 7000,
				 "both-spoof"));
	/* ARP poisoning: a tells everyone that b's address is at a's MAC. */
	fake_drain(ps[2].fd);
	len = frame_arp(f, ps[0].mac, BCAST, 2, ps[0].mac, B_IP, "00:00:00:00:00:00", C_IP);
	fake_send(ps[0].fd, f, len);
	assert_false(fake_sees_arp_reply(ps[2].fd, B_IP, 300));
	assert_true(server_count(ne, "a", SODA_NET_DROP_ARP) >= 1);
	/* Its honest ARP reply for its own address passes (control). */
	len = frame_arp(f, ps[0].mac, BCAST, 2, ps[0].mac, A_IP, "00:00:00:00:00:00", C_IP);
	fake_send(ps[0].fd, f, len);
	assert_true(fake_sees_arp_reply(ps[2].fd, A_IP, 300));
	/* A VLAN-tagged frame (a way around per-protocol rules). */
	fake_drain(ps[2].fd);
	len = frame_vlan(f, ps[0].mac, ps[2].mac);
	fake_send(ps[0].fd, f, len);
	assert_false(fake_sees(ps[2].fd, "soda-vlan", 9, 300));
	assert_true(server_count(ne, "a", SODA_NET_DROP_OTHER) >= 1);
	/* IPv6 router advertisement from a guest. */
	len = frame_nd(f, 134, ps[0].mac, "33:33:00:00:00:01", link_local(ps[0].mac, ll),
		       "ff02::1", NULL, ps[0].mac);
	fake_send(ps[0].fd, f, len);
	usleep(100000);
	assert_true(server_count(ne, "a", SODA_NET_DROP_ND) >= 1);
	/* The honest sender was never counted as a spoofer. */
	assert_int_equal(server_count(ne, "c", SODA_NET_DROP_IP), 0);
	assert_int_equal(server_count(ne, "c", SODA_NET_DROP_MAC), 0);
	ports_down(ne, ps, 3);
}

/* Another server's traffic is not flooded to a third. Attack: b listens
 * on its port (a TAP gets whatever the bridge sends out of it) while a
 * talks to c, first before c has sent a single frame (a learning bridge
 * does not know c yet and floods), then while c is away, its port gone as
 * while it restarts (its entry went with the port). b gets neither; c gets
 * the first. The bridge knows each server's MAC by a static entry and
 * learns nothing from server ports. */
static void test_no_flood(void **state)
{
	net_env *ne = *state;
	port ps[3];
	uint8_t f[256];
	size_t len;
	char *fdb;
	const char *tag = "for-c-only", *tag2 = "for-c-away";

	three_ports(ne, ps);
	net_apply(ne, "allow from any to any\n");
	fdb = ns_out(ne, "bridge fdb show dev %s", ps[2].ifname);
	assert_non_null(fdb);
	if (!strcasestr(fdb, ps[2].mac) || !strstr(fdb, " static"))
		fail_msg("no static entry for c's MAC %s on %s: %s", ps[2].mac, ps[2].ifname, fdb);
	free(fdb);
	for (int i = 0; i < 3; i++)
		fake_drain(ps[i].fd);
	len = frame_udp4(f, ps[0].mac, ps[2].mac, A_IP, C_IP, 5000, tag);
	fake_send(ps[0].fd, f, len);
	assert_true(fake_sees(ps[2].fd, tag, strlen(tag), 300));
	assert_false(fake_sees(ps[1].fd, tag, strlen(tag), 300));

	/* The port learns nothing (the firewall's anti-spoofing already drops
	 * foreign source MACs before the bridge could learn them, so this is
	 * read from the port's flags) and floods no unknown unicast;
	 * broadcast and multicast still go out. */
	fdb = ns_out(ne, "bridge -d link show dev %s", ps[1].ifname);
	assert_non_null(fdb);
	if (!strstr(fdb, "learning off") || !strstr(fdb, " flood off") ||
	    !strstr(fdb, "bcast_flood on") || !strstr(fdb, "mcast_flood on"))
		fail_msg("port flags of %s: %s", ps[1].ifname, fdb);
	free(fdb);

	fake_detach(ne, "c", ps[2].ifname, ps[2].fd);
	len = frame_udp4(f, ps[0].mac, ps[2].mac, A_IP, C_IP, 5000, tag2);
	for (int i = 0; i < 5; i++)
		fake_send(ps[0].fd, f, len);
	assert_false(fake_sees(ps[1].fd, tag2, strlen(tag2), 300));
	ports_down(ne, ps, 2);
}

/* The same through an uplink, whose far side the test plays (a TAP): a
 * host outside reaches a and not b; a's frames for an outside MAC the
 * bridge has not learned yet go out the uplink and not to b; and once the
 * outside host has spoken, the uplink has learned it (the uplink learns
 * and floods as a bridge port does, server ports do not). */
static void test_uplink_no_flood(void **state)
{
	net_env *ne = *state;
	soda_network_options o = SODA_NETWORK_OPTIONS_INIT;
	const char *ext_mac = "02:ee:00:00:00:01", *far_mac = "02:ee:00:00:00:99";
	const char *ext_ip = "198.51.100.200";
	port ps[2];
	uint8_t f[256];
	size_t len;
	char *fdb;
	int up;

	assert_int_equal(ns_sh(ne, "ip tuntap add dev sodait-up mode tap"), 0);
	up = fake_tap_open(ne->netns_path, "sodait-up");
	o.uplink = "sodait-up";
	assert_soda_ok(soda_network_create(&ne->net, ne->env.ctx, "lan", &o, 0, &ne->env.err),
		       ne->env.err);
	port_up(ne, &ps[0], "a", A_IP "/24", NULL);
	port_up(ne, &ps[1], "b", B_IP "/24", NULL);
	ps[0].ip = A_IP;
	ps[1].ip = B_IP;
	net_apply(ne, "allow from any to any\n");
	usleep(50000);
	fake_drain(up);
	fake_drain(ps[0].fd);
	fake_drain(ps[1].fd);

	len = frame_udp4(f, ext_mac, ps[0].mac, ext_ip, A_IP, 5000, "from-outside");
	fake_send(up, f, len);
	assert_true(fake_sees(ps[0].fd, "from-outside", 12, 300));
	assert_false(fake_sees(ps[1].fd, "from-outside", 12, 300));
	fdb = ns_out(ne, "bridge fdb show dev sodait-up");
	assert_non_null(fdb);
	if (!strcasestr(fdb, ext_mac))
		fail_msg("the uplink did not learn %s: %s", ext_mac, fdb);
	free(fdb);

	len = frame_udp4(f, ps[0].mac, far_mac, A_IP, ext_ip, 5000, "to-far-away");
	fake_send(ps[0].fd, f, len);
	assert_true(fake_sees(up, "to-far-away", 11, 300));
	assert_false(fake_sees(ps[1].fd, "to-far-away", 11, 300));
	len = frame_udp4(f, ps[0].mac, ext_mac, A_IP, ext_ip, 5000, "to-outside");
	fake_send(ps[0].fd, f, len);
	assert_true(fake_sees(up, "to-outside", 10, 300));
	assert_false(fake_sees(ps[1].fd, "to-outside", 10, 300));
	ports_down(ne, ps, 2);
	close(up);
}

/* The host is invisible: the namespace has an address (on another
 * interface, as a host has), and by Linux's weak host model would answer
 * ARP for it on the bridge and take packets to it. With the switch's
 * firewall, no ARP reply, and no packet reaches the IP stack; the
 * counters name the frames. Control: a network without the firewall
 * does answer, so the test can see an answer when there is one. */
static void probe_host(net_env *ne, port *a, bool *ret_arp, uint64_t *ret_received)
{
	uint8_t f[256];
	size_t len;
	uint64_t before = host_received(ne);

	fake_drain(a->fd);
	len = frame_arp(f, a->mac, BCAST, 1, a->mac, A_IP, "00:00:00:00:00:00", HOST_IP);
	fake_send(a->fd, f, len);
	*ret_arp = fake_sees_arp_reply(a->fd, HOST_IP, 500);
	/* Straight to the bridge's MAC too, and broadcast. */
	for (int i = 0; i < 20; i++) {
		len = frame_udp4(f, a->mac, BCAST, A_IP, HOST_IP, 9, "to-host-bcast");
		fake_send(a->fd, f, len);
		len = frame_icmp4_echo(f, a->mac, BCAST, A_IP, HOST_IP, (uint16_t)i);
		fake_send(a->fd, f, len);
	}
	usleep(200000);
	*ret_received = host_received(ne) - before;
}

static void test_host_invisible(void **state)
{
	net_env *ne = *state;
	soda_network *plain = NULL;
	port a;
	bool arp;
	uint64_t got, host0;

	assert_int_equal(ns_sh(ne, "ip link add sodait-dummy type veth peer name sodait-peer && "
				   "ip addr add " HOST_IP "/24 dev sodait-dummy && "
				   "ip link set sodait-dummy up && ip link set sodait-peer up"),
			 0);
	port_up(ne, &a, "a", A_IP "/24", NULL);
	a.ip = A_IP;
	net_apply(ne, "allow from any to any\n");
	host0 = total_count(ne, SODA_NET_TOTAL_HOST);
	probe_host(ne, &a, &arp, &got);
	assert_false(arp);
	assert_int_equal(got, 0);
	assert_true(total_count(ne, SODA_NET_TOTAL_HOST) >= host0 + 41);
	assert_true(server_count(ne, "a", SODA_NET_DROP_HOST) >= 41);
	fake_detach(ne, "a", a.ifname, a.fd);

	/* The control: the same probes on a switch without the firewall. */
	assert_soda_ok(soda_network_create(&plain, ne->env.ctx, "plain", NULL,
					   SODA_NETWORK_NO_FIREWALL, &ne->env.err),
		       ne->env.err);
	soda_server_unref(net_define(ne, "p", "plain", "198.51.100.20/24", NULL, NULL));
	server_mac_of(ne, "p", a.mac);
	a.fd = fake_attach(ne, "p", a.ifname);
	probe_host(ne, &a, &arp, &got);
	assert_true(arp);
	assert_true(got >= 40);
	fake_detach(ne, "p", a.ifname, a.fd);
	assert_soda_ok(soda_network_destroy(plain, 0, &ne->env.err), ne->env.err);
	soda_network_unref(plain);
	ns_sh(ne, "ip link del sodait-dummy");
}

/* Bad policies change nothing: syntax errors name line and column;
 * unknown servers and groups are refused; the policy in force and what
 * the kernel holds are the same afterwards. */
static void test_bad_policy(void **state)
{
	net_env *ne = *state;
	port ps[3];
	soda_policy *p = NULL, *cur = NULL;
	char *before = NULL, *after = NULL, *nft0, *nft1;
	const char *text;
	int r;

	three_ports(ne, ps);
	net_apply(ne, "allow from server a to server c udp port 5000\n");
	assert_soda_ok(soda_network_get_compiled(&before, ne->net, 0, &ne->env.err), ne->env.err);
	nft0 = ns_out(ne, "nft list ruleset");

	text = "allow from server a to server c udp port 5000\nallow frm any\n";
	r = soda_policy_parse(&p, text, strlen(text), "bad", 0, &ne->env.err);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(soda_error_line(ne->env.err), 2);
	assert_int_equal(soda_error_column(ne->env.err), 7);
	assert_message(ne, "bad:2:7: expected 'from', found 'frm'");

	text = "allow from server nobody to server c\n";
	r = soda_policy_parse(&p, text, strlen(text), "t", 0, &ne->env.err);
	assert_int_equal(r, 0);
	r = soda_network_apply_policy(ne->net, p, 0, &ne->env.err);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(soda_error_line(ne->env.err), 1);
	assert_int_equal(soda_error_column(ne->env.err), 19);
	assert_message(ne, "t:1:19: unknown server 'nobody'");
	soda_policy_free(p);
	p = NULL;
	text = "allow from group nogroup to server c\n";
	r = soda_policy_parse(&p, text, strlen(text), "t", 0, &ne->env.err);
	assert_int_equal(r, 0);
	EXPECT_FAIL(ne, soda_network_apply_policy(ne->net, p, 0, &ne->env.err), -ENOENT,
		    "unknown group 'nogroup'");
	soda_policy_free(p);

	assert_soda_ok(soda_network_get_compiled(&after, ne->net, 0, &ne->env.err), ne->env.err);
	assert_string_equal(before, after);
	nft1 = ns_out(ne, "nft list ruleset");
	assert_string_equal(nft0, nft1);
	assert_soda_ok(soda_network_get_policy(&cur, ne->net, &ne->env.err), ne->env.err);
	assert_string_equal(soda_policy_get_text(cur),
			    "allow from server a to server c udp port 5000\n");
	soda_policy_free(cur);
	/* And it still works. */
	assert_true(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "still"));
	free(before);
	free(after);
	free(nft0);
	free(nft1);
	ports_down(ne, ps, 3);
}

/* A dry run (SODA_POLICY_CHECK) goes through the kernel's checks but
 * changes nothing. */
static void test_check_only(void **state)
{
	net_env *ne = *state;
	port ps[3];
	soda_policy *p = NULL;
	const char *text = "allow from any to any udp\n";

	three_ports(ne, ps);
	assert_soda_ok(soda_policy_parse(&p, text, strlen(text), "t", 0, &ne->env.err), ne->env.err);
	assert_soda_ok(soda_network_apply_policy(ne->net, p, SODA_POLICY_CHECK, &ne->env.err),
		       ne->env.err);
	soda_policy_free(p);
	assert_false(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "dry-run"));
	ports_down(ne, ps, 3);
}

/* A second process (here a second context on the same state) finds the
 * network, its policy and its kernel objects; destroy removes them all;
 * tables that vanished behind our back are put back. */
static void test_reopen_and_destroy(void **state)
{
	net_env *ne = *state;
	soda_context *ctx2 = NULL;
	soda_network *n2 = NULL;
	soda_policy *p = NULL;
	soda_network_info *info = NULL;
	char table[64], bridge[16], *out;
	port ps[3];

	three_ports(ne, ps);
	net_apply(ne, "allow from server a to server c udp port 5000\n");
	assert_soda_ok(soda_network_get_info(&info, ne->net, 0, &ne->env.err), ne->env.err);
	snprintf(table, sizeof(table), "%s", soda_network_info_get_table(info));
	snprintf(bridge, sizeof(bridge), "%s", soda_network_info_get_bridge(info));
	soda_network_info_free(info);

	/* Someone deletes the tables (a crash mid-way, a careless admin). */
	assert_int_equal(ns_sh(ne, "nft delete table bridge %s && nft delete table inet %s", table,
			       table),
			 0);
	assert_int_equal(th_open_context(&ne->env, &ctx2), 0);
	assert_soda_ok(soda_network_lookup(&n2, ctx2, "lan", &ne->env.err), ne->env.err);
	assert_soda_ok(soda_network_get_policy(&p, n2, &ne->env.err), ne->env.err);
	assert_string_equal(soda_policy_get_text(p),
			    "allow from server a to server c udp port 5000\n");
	soda_policy_free(p);
	out = ns_out(ne, "nft list tables");
	assert_non_null(strstr(out, table));
	free(out);
	/* The policy works again, anti-spoofing included. */
	assert_true(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "again"));
	assert_false(udp_through(&ps[0], ps[0].mac, B_IP, &ps[2], 5000, "again-spoof"));

	/* Destroy refuses while ports exist, unless forced. */
	EXPECT_FAIL(ne, soda_network_destroy(n2, 0, &ne->env.err), -EBUSY, "lan");
	ports_down(ne, ps, 3);
	assert_soda_ok(soda_network_destroy(n2, 0, &ne->env.err), ne->env.err);
	out = ns_out(ne, "nft list tables; ip -o link show");
	assert_null(strstr(out, table));
	assert_null(strstr(out, bridge));
	free(out);
	soda_network_unref(n2);
	soda_context_unref(ctx2);
	/* The first handle names nothing now. */
	EXPECT_FAIL(ne, soda_network_lookup(&n2, ne->env.ctx, "lan", &ne->env.err), -ENOENT, "lan");
}

/* A change between policies whose range boxes overlap (1,000 prefix
 * rules, then "any to any"): the kernel's interval set must end up holding
 * exactly the new box. Adding the new box before deleting the old ones
 * once left an old box behind and not the new one. */
static void test_range_overlap(void **state)
{
	net_env *ne = *state;
	port ps[3];
	soda_network_info *info = NULL;
	char *big = malloc(1000 * 80), *out;
	size_t len = 0;

	assert_non_null(big);
	three_ports(ne, ps);
	for (int i = 0; i < 1000; i++)
		len += (size_t)snprintf(big + len, 1000 * 80 - len,
					"allow from 203.0.113.%d/28 to server c tcp port %d-%d\n",
					(i % 16) * 16, 20000 + i * 7, 20000 + i * 7 + 5);
	net_apply(ne, big);
	assert_false(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "before"));
	net_apply(ne, "allow from any to any\n");
	assert_true(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "after"));
	assert_soda_ok(soda_network_get_info(&info, ne->net, 0, &ne->env.err), ne->env.err);
	out = ns_out(ne, "nft list set inet %s allow4-range", soda_network_info_get_table(info));
	assert_null(strstr(out, "203.0.113"));
	free(out);
	/* And back. */
	net_apply(ne, big);
	assert_false(udp_through(&ps[0], ps[0].mac, A_IP, &ps[2], 5000, "again"));
	soda_network_info_free(info);
	free(big);
	ports_down(ne, ps, 3);
}

/* Names and options that must be refused without leaving anything. */
static void test_bad_create(void **state)
{
	net_env *ne = *state;
	soda_network *n = NULL;
	soda_network_options o = SODA_NETWORK_OPTIONS_INIT;
	char *before = ns_out(ne, "ip -o link show; nft list tables"), *after;
	char **names = NULL;
	size_t count = 0;

	EXPECT_FAIL(ne, soda_network_create(&n, ne->env.ctx, "", NULL, 0, &ne->env.err), -EINVAL,
		    "empty");
	EXPECT_FAIL(ne, soda_network_create(&n, ne->env.ctx, "../x", NULL, 0, &ne->env.err),
		    -EINVAL, "network name");
	EXPECT_FAIL(ne, soda_network_create(&n, ne->env.ctx, "a\nb", NULL, 0, &ne->env.err),
		    -EINVAL, "network name");
	EXPECT_FAIL(ne, soda_network_create(&n, ne->env.ctx, "lan", NULL, 0, &ne->env.err),
		    -EEXIST, "lan");
	o.uplink = "sodait-none";
	EXPECT_FAIL(ne, soda_network_create(&n, ne->env.ctx, "up", &o, 0, &ne->env.err), -ENODEV,
		    "sodait-none");
	/* An uplink with an address would give the host one on the switch. */
	assert_int_equal(ns_sh(ne, "ip link add sodait-up type veth peer name sodait-upp && "
				   "ip addr add 203.0.113.9/24 dev sodait-up"),
			 0);
	o.uplink = "sodait-up";
	EXPECT_FAIL(ne, soda_network_create(&n, ne->env.ctx, "up", &o, 0, &ne->env.err), -EBUSY,
		    "203.0.113.9");
	ns_sh(ne, "ip link del sodait-up");
	after = ns_out(ne, "ip -o link show; nft list tables");
	assert_string_equal(before, after);
	assert_soda_ok(soda_context_list_networks(&names, &count, ne->env.ctx, 0, &ne->env.err),
		       ne->env.err);
	assert_int_equal(count, 1);
	assert_string_equal(names[0], "lan");
	soda_strv_free(names);
	free(before);
	free(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bridge_and_tables, net_env_setup,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_policy_frames, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_spoofing, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_no_flood, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_uplink_no_flood, net_env_setup_bare,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_host_invisible, net_env_setup,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_bad_policy, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_check_only, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_and_destroy, net_env_setup,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_range_overlap, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_bad_create, net_env_setup, net_env_teardown),
	};

	th_require_root();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
