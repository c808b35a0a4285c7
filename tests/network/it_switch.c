/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The switch with real UML guests, in a namespace the test makes: allowed
 * flows work and denied ones fail (TCP, UDP, ICMP); a reverse rule stops a
 * server initiating while it still answers; policy changes reach running
 * servers; the host is invisible from a guest; IP and MAC spoofing and ARP
 * poisoning from a guest fail and are counted; two contexts' switches in
 * separate namespaces cannot see each other.
 */
#include "net_common.h"

#include <soda/server.h>

#define WEB_IP "198.51.100.10"
#define DB_IP "198.51.100.20"
#define CLIENT_IP "198.51.100.30"
#define MALLORY_IP "198.51.100.40"
#define HOST_IP "203.0.113.1"

/* Background servers in a guest, for @secs seconds. */
static void serve(soda_server *srv, const char *what, int port, int secs)
{
	assert_int_equal(guest_sh(srv, NULL, "(/tools/nettool %s %d %d >/dev/null 2>&1 &) ; sleep 0.2",
				  what, port, secs),
			 0);
}

static bool tcp_ok(soda_server *from, const char *ip, int port)
{
	return guest_sh(from, NULL, "/tools/nettool tcp-connect %s %d 1500", ip, port) == 0;
}

static bool udp_ok(soda_server *from, const char *ip, int port)
{
	return guest_sh(from, NULL, "/tools/nettool udp-ask %s %d 1000", ip, port) == 0;
}

/* Where a ping must get through: three tries of a second (net_common). */
static bool reach_ok(soda_server *from, const char *ip)
{
	return reach_ok_within(from, ip, 1);
}

static void put_down(soda_server **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		soda_server_unref(s[i]);
}

/* Default deny, then exactly the flows the rules allow, by protocol,
 * port and direction; the rules that decided are counted. */
static void test_flows(void **state)
{
	net_env *ne = *state;
	soda_server *web = net_guest(ne, "web1", WEB_IP "/24", "web");
	soda_server *db = net_guest(ne, "db", DB_IP "/24", NULL);
	soda_server *client = net_guest(ne, "client", CLIENT_IP "/24", NULL);
	soda_server *all[] = { web, db, client };

	serve(web, "tcp-serve", 80, 60);
	serve(web, "tcp-serve", 81, 60);
	serve(db, "tcp-serve", 5432, 60);
	serve(db, "udp-echo", 53, 60);
	serve(web, "udp-echo", 53, 60);

	/* Nothing is allowed yet. */
	assert_false(tcp_ok(client, WEB_IP, 80));
	assert_false(ping_ok(client, WEB_IP));

	net_apply(ne, "# the demo's shop\n"
		      "allow from server client to group web tcp port 80\n"
		      "allow from group web to server db tcp port 5432\n"
		      "allow from server client to server db udp port 53\n"
		      "allow from server client to group web icmp\n");
	assert_true(tcp_ok(client, WEB_IP, 80));
	assert_false(tcp_ok(client, WEB_IP, 81));    /* another port */
	assert_false(tcp_ok(client, DB_IP, 5432));   /* another source */
	assert_true(tcp_ok(web, DB_IP, 5432));
	assert_true(udp_ok(client, DB_IP, 53));
	assert_false(udp_ok(client, WEB_IP, 53));    /* another destination */
	assert_true(reach_ok(client, WEB_IP));
	assert_false(ping_ok(web, CLIENT_IP));       /* the other direction */
	assert_false(ping_ok(client, DB_IP));
	assert_true(rule_count(ne, 0) >= 3);          /* a connection's packets */
	assert_true(rule_count(ne, 1) >= 3);
	assert_true(rule_count(ne, 2) >= 2);          /* ask and echo */
	assert_true(rule_count(ne, 3) >= 2);
	assert_true(server_count(ne, "client", SODA_NET_DROP_POLICY_OUT) >= 1);
	assert_true(server_count(ne, "web1", SODA_NET_DROP_POLICY_OUT) >= 1);
	assert_true(server_count(ne, "client", SODA_NET_ACCEPTED) >= 5);
	put_down(all, 3);
}

/* "Web servers answer, never initiate": with everything else allowed, a
 * deny rule on web1's side of new connections stops web1 connecting out,
 * while clients' connections to web1 (and web1's replies) work. Then the
 * policy changes under running servers, both ways. */
static void test_reverse_and_live_change(void **state)
{
	net_env *ne = *state;
	soda_server *web = net_guest(ne, "web1", WEB_IP "/24", "web");
	soda_server *client = net_guest(ne, "client", CLIENT_IP "/24", NULL);
	soda_server *all[] = { web, client };
	uint64_t out0;

	serve(web, "tcp-serve", 80, 60);
	serve(client, "tcp-serve", 80, 60);
	net_apply(ne, "allow from any to any\n");
	assert_true(tcp_ok(web, CLIENT_IP, 80)); /* the control */
	net_apply(ne, "allow from any to any\n"
		      "deny from group web to any\n");
	out0 = server_count(ne, "web1", SODA_NET_DROP_POLICY_OUT);
	assert_false(tcp_ok(web, CLIENT_IP, 80));
	assert_false(ping_ok(web, CLIENT_IP));
	assert_true(server_count(ne, "web1", SODA_NET_DROP_POLICY_OUT) > out0);
	assert_true(rule_count(ne, 1) >= 2);
	/* Replies to the client's connections pass. */
	assert_true(tcp_ok(client, WEB_IP, 80));
	assert_true(reach_ok(client, WEB_IP));

	/* Live: take the client's right away, give it back. */
	net_apply(ne, "allow from server client to server web1 udp\n");
	assert_false(tcp_ok(client, WEB_IP, 80));
	net_apply(ne, "allow from server client to server web1 tcp port 80\n");
	assert_true(tcp_ok(client, WEB_IP, 80));
	put_down(all, 2);
}

/* From a guest the host does not exist: no ARP answer, no ping, nothing
 * reaches its stack, though the namespace has an address; the frames are
 * counted as dropped on their way to the host. Control: the same probes
 * reach another guest. */
static void test_host_invisible(void **state)
{
	net_env *ne = *state;
	soda_server *a = net_guest(ne, "a", "198.51.100.10/24", NULL);
	soda_server *b = net_guest(ne, "b", "198.51.100.11/24", NULL);
	soda_server *all[] = { a, b };
	uint64_t before;

	assert_int_equal(ns_sh(ne, "ip link add sodait-h type veth peer name sodait-hp && "
				   "ip addr add " HOST_IP "/24 dev sodait-h && "
				   "ip link set sodait-h up && ip link set sodait-hp up"),
			 0);
	net_apply(ne, "allow from any to any\n");
	assert_true(reach_ok(a, "198.51.100.11"));
	assert_int_equal(guest_sh(a, NULL, "arping -c 1 -w 2 -I eth0 198.51.100.11 >/dev/null"), 0);
	assert_int_equal(guest_sh(a, NULL, "ip route add 203.0.113.0/24 dev eth0"), 0);
	before = host_received(ne);
	assert_int_not_equal(guest_sh(a, NULL, "arping -c 2 -w 3 -I eth0 " HOST_IP " >/dev/null"),
			     0);
	/* Even told the bridge's own MAC (the strongest guess a guest could
	 * make), packets to the host go nowhere. */
	{
		soda_network_info *info = NULL;
		char *brmac;

		assert_soda_ok(soda_network_get_info(&info, ne->net, 0, &ne->env.err), ne->env.err);
		brmac = ns_out(ne, "cat /sys/class/net/%s/address",
			       soda_network_info_get_bridge(info));
		assert_non_null(brmac);
		brmac[strcspn(brmac, "\n")] = '\0';
		assert_int_equal(guest_sh(a, NULL,
					  "arp -s " HOST_IP " %s && "
					  "{ ping -c 3 -W 1 " HOST_IP " >/dev/null 2>&1; true; } && "
					  "/tools/nettool udp-send " HOST_IP " 9 20 1000",
					  brmac),
				 0);
		free(brmac);
		soda_network_info_free(info);
	}
	assert_int_equal(host_received(ne) - before, 0);
	assert_true(server_count(ne, "a", SODA_NET_DROP_HOST) >= 2 + 3 + 20);
	ns_sh(ne, "ip link del sodait-h");
	put_down(all, 2);
}

/* Reads how many datagrams a guest's "udp-count" saw. */
static long received(soda_server *srv, const char *file)
{
	char *out = NULL;
	long n = -1;

	guest_sh(srv, &out, "sleep 0.3; cat %s", file);
	if (out && strstr(out, "received="))
		n = strtol(strstr(out, "received=") + 9, NULL, 10);
	free(out);
	return n;
}

/* An intruder in one guest forges frames: another server's IP, another
 * server's MAC, ARP replies claiming another server's address. The policy
 * allows everything, so only the switch's anti-spoofing stands in the way;
 * the honest frames from the same guest are the control. */
static void test_spoofing(void **state)
{
	net_env *ne = *state;
	soda_server *db = net_guest(ne, "db", DB_IP "/24", NULL);
	soda_server *client = net_guest(ne, "client", CLIENT_IP "/24", NULL);
	soda_server *mallory = net_guest(ne, "mallory", MALLORY_IP "/24", NULL);
	soda_server *all[] = { db, client, mallory };
	char mm[18], cm[18], dm[18], *neigh = NULL;

	server_mac(mallory, mm);
	server_mac(client, cm);
	server_mac(db, dm);
	net_apply(ne, "allow from any to any\n");
	assert_int_equal(guest_sh(client, NULL,
				  "(/tools/nettool udp-count 7000 6 > /tmp/c.out 2>&1 &) ; sleep 0.2"),
			 0);
	/* 20 with db's address, 20 with db's MAC, then 5 honest ones. */
	assert_int_equal(guest_sh(mallory, NULL,
				  "/tools/nettool frame-udp eth0 %s %s " DB_IP " " CLIENT_IP
				  " 7000 20 && /tools/nettool frame-udp eth0 %s %s " MALLORY_IP
				  " " CLIENT_IP " 7000 20 && /tools/nettool frame-udp eth0 %s %s "
				  MALLORY_IP " " CLIENT_IP " 7000 5",
				  mm, cm, dm, cm, mm, cm),
			 0);
	guest_sh(client, NULL, "sleep 6");
	assert_int_equal(received(client, "/tmp/c.out"), 5);
	assert_true(server_count(ne, "mallory", SODA_NET_DROP_IP) >= 20);
	assert_true(server_count(ne, "mallory", SODA_NET_DROP_MAC) >= 20);

	/* ARP poisoning: the client knows db; mallory says db is at its MAC. */
	assert_true(reach_ok(client, DB_IP));
	assert_int_equal(guest_sh(mallory, NULL,
				  "/tools/nettool frame-arp eth0 %s 2 %s " DB_IP
				  " 00:00:00:00:00:00 " CLIENT_IP " 5",
				  mm, mm),
			 0);
	guest_sh(client, &neigh, "sleep 0.5; ip neigh show " DB_IP);
	assert_non_null(neigh);
	assert_non_null(strstr(neigh, dm));
	assert_null(strstr(neigh, mm));
	free(neigh);
	assert_true(server_count(ne, "mallory", SODA_NET_DROP_ARP) >= 5);
	/* The victims were never counted as spoofers. */
	assert_int_equal(server_count(ne, "client", SODA_NET_DROPPED) -
				 server_count(ne, "client", SODA_NET_DROP_POLICY_OUT) -
				 server_count(ne, "client", SODA_NET_DROP_HOST),
			 0);
	put_down(all, 3);
}

/* Two contexts, each with its switch in its own namespace and the same
 * address plan: a guest of one cannot reach or even ARP a guest of the
 * other; within a context the same probes work. */
static void test_two_contexts(void **state)
{
	net_env *ne = *state, *other = NULL;
	soda_server *a, *a2, *b;

	assert_int_equal(net_env_setup((void **)&other), 0);
	a = net_guest(ne, "a", "198.51.100.10/24", NULL);
	a2 = net_guest(ne, "a2", "198.51.100.12/24", NULL);
	b = net_guest(other, "b", "198.51.100.11/24", NULL);
	net_apply(ne, "allow from any to any\n");
	net_apply(other, "allow from any to any\n");
	assert_true(reach_ok(a, "198.51.100.12"));
	assert_false(ping_ok(a, "198.51.100.11"));
	assert_false(ping_ok(b, "198.51.100.10"));
	assert_int_not_equal(guest_sh(b, NULL, "arping -c 2 -w 2 -I eth0 198.51.100.10 >/dev/null"),
			     0);
	soda_server_unref(a);
	soda_server_unref(a2);
	soda_server_unref(b);
	net_env_teardown((void **)&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flows, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_reverse_and_live_change, net_env_setup,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_host_invisible, net_env_setup,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_spoofing, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_two_contexts, net_env_setup, net_env_teardown),
	};

	th_require_root();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
