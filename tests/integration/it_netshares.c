/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bandwidth shares with real guests. The test installs its own network
 * attachment hooks: each NIC gets a TAP in the test's namespace, owned by
 * the server's uid, with the namespace's own stack (198.51.100.1/24) as the
 * peer. (The software switch brings its own hooks; this test needs none of
 * it.) TCP goodput guest -> peer and peer -> guest at 20 and 200 Mbit/s, a
 * live change, counters, and a neighbour keeping its rate while another
 * server floods.
 */
#include "it_common.h"

struct hooks {
	th_env *env;
	int next_addr;
};

static int tap_attach(void *userdata, const char *server, uint32_t index, const char *network,
		      const char *mac, uint32_t uid, char ret_ifname[16], soda_error **error)
{
	struct hooks *h = userdata;
	char name[16];

	(void)network;
	(void)mac;
	snprintf(name, sizeof(name), "sdt%.9s%u", server, index);
	if (th_sh("ip -n %s tuntap add dev %s mode tap user %u && "
		  "ip -n %s link set %s up && "
		  "ip netns exec %s ethtool -K %s tx off tso off gso off sg off >/dev/null 2>&1; "
		  "ip -n %s route replace 198.51.100.%d/32 dev %s",
		  h->env->netns, name, uid, h->env->netns, name, h->env->netns, name, h->env->netns,
		  10 + h->next_addr, name) != 0)
		return soda_error_set(error, -EIO, "cannot make the test TAP");
	h->next_addr++;
	snprintf(ret_ifname, 16, "%s", name);
	return 0;
}

static int tap_detach(void *userdata, const char *server, uint32_t index, const char *ifname,
		      soda_error **error)
{
	struct hooks *h = userdata;

	(void)server;
	(void)index;
	(void)error;
	th_sh("ip -n %s link del %s 2>/dev/null", h->env->netns, ifname);
	return 0;
}

static const soda_netdev_ops ops = { SODA_BACKEND_VERSION, tap_attach, tap_detach };

static int setup(void **state)
{
	th_env *env = calloc(1, sizeof(*env));
	struct hooks *h = calloc(1, sizeof(*h));

	if (!env || !h || th_env_setup_netns(env) < 0) {
		if (env)
			th_env_teardown(env);
		free(env);
		free(h);
		return -1;
	}
	h->env = env;
	/* The namespace's stack is every guest's peer (this kernel has no
	 * dummy devices: the address sits on lo). */
	if (th_sh("ip -n %s addr add 198.51.100.1/32 dev lo", env->netns) != 0) {
		th_env_teardown(env);
		free(env);
		free(h);
		return -1;
	}
	soda_context_set_netdev_ops(env->ctx, &ops, h, NULL);
	state[0] = env;
	return 0;
}

static int teardown(void **state)
{
	th_env *env = *state;
	void *h = NULL;

	soda_context_get_netdev_ops(env->ctx, &h);
	th_env_teardown(env);
	free(h);
	free(env);
	return 0;
}

/* A guest on the test TAPs with the goodput tool shared in. */
static soda_server *guest(th_env *env, const char *name, int host_octet, const char *shares)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_shares *sh = NULL;
	char addr[32], tools[256];

	snprintf(tools, sizeof(tools), "%s", SODA_TEST_TCPBLAST);
	*strrchr(tools, '/') = '\0';
	snprintf(addr, sizeof(addr), "198.51.100.%d/24", host_octet);
	assert_int_equal(soda_server_config_new(&cfg, name, NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 64 << 20, NULL), 0);
	assert_soda_ok(soda_server_config_add_nic(cfg, "test", NULL, 0, &env->err), env->err);
	assert_soda_ok(soda_server_config_add_nic_address(cfg, 0, addr, &env->err), env->err);
	assert_soda_ok(soda_server_config_add_share(cfg, tools, "/tools", SODA_SHARE_READONLY,
						    &env->err),
		       env->err);
	assert_soda_ok(soda_shares_parse(&sh, shares, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_shares(cfg, sh, &env->err), env->err);
	soda_shares_free(sh);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

static double parse_goodput(const char *out)
{
	const char *p = out ? strstr(out, "goodput_mbit=") : NULL;

	return p ? atof(p + 13) : -1;
}

/* Guest -> peer: the guest sends, the namespace receives. */
static double guest_to_peer(th_env *env, soda_server *srv, int port, double secs)
{
	char cmd[512], *out = NULL;
	double mbit;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s %s recv %d %.1f > /tmp/soda-it-nb.%d.%d 2>&1 </dev/null & sleep 0.3",
		 env->netns, SODA_TEST_TCPBLAST, port, secs, (int)getpid(), port);
	assert_int_equal(th_sh("%s", cmd), 0);
	snprintf(cmd, sizeof(cmd), "/tools/tcpblast send 198.51.100.1 %d %.1f", port, secs + 0.5);
	th_exec(srv, cmd, NULL);
	th_sh("sleep 0.3");
	snprintf(cmd, sizeof(cmd), "/tmp/soda-it-nb.%d.%d", (int)getpid(), port);
	out = th_read_file(cmd);
	mbit = parse_goodput(out);
	free(out);
	unlink(cmd);
	return mbit;
}

/* Peer -> guest: the guest receives. */
static double peer_to_guest(th_env *env, soda_server *srv, const char *guest_ip, double secs)
{
	char cmd[512], *out = NULL;

	snprintf(cmd, sizeof(cmd), "(/tools/tcpblast recv 5301 %.1f > /tmp/recv.out &) ; sleep 0.2",
		 secs);
	assert_int_equal(th_exec(srv, cmd, NULL), 0);
	assert_int_equal(th_sh("ip netns exec %s %s send %s 5301 %.1f", env->netns,
			       SODA_TEST_TCPBLAST, guest_ip, secs + 0.5),
			 0);
	th_exec(srv, "sleep 0.5; cat /tmp/recv.out", &out);
	{
		double mbit = parse_goodput(out);

		free(out);
		return mbit;
	}
}

static void expect_rate(const char *what, double got, double want)
{
	print_message("  %s: configured %.0f Mbit/s, TCP goodput %.1f Mbit/s (%.1f %%)\n", what,
		      want, got, 100.0 * got / want);
	assert_true(got >= want * 0.95);
	assert_true(got <= want * 1.05);
}

static uint64_t stat_of(th_env *env, soda_server *srv, int key)
{
	soda_stats *st = NULL;
	uint64_t v = 0;

	assert_soda_ok(soda_server_get_stats(&st, srv, 0, &env->err), env->err);
	assert_int_equal(soda_stats_get(st, key, &v), 0);
	soda_stats_free(st);
	return v;
}

static void test_goodput(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	soda_shares *sh = NULL;

	th_require_root();
	th_build_image(env);
	srv = guest(env, "shaped", 10, "net.out=20Mbit net.in=20Mbit");
	expect_rate("guest -> peer", guest_to_peer(env, srv, 5201, 4), 20);
	expect_rate("peer -> guest", peer_to_guest(env, srv, "198.51.100.10", 4), 20);
	assert_true(stat_of(env, srv, SODA_STAT_NET_OUT_BYTES) > 9000000);
	assert_true(stat_of(env, srv, SODA_STAT_NET_IN_BYTES) > 9000000);

	/* Raised live to 200 Mbit/s: in force for the very next transfer. */
	assert_soda_ok(soda_shares_parse(&sh, "net.out=200Mbit net.in=200Mbit", &env->err),
		       env->err);
	assert_soda_ok(soda_server_set_shares(srv, sh, 0, &env->err), env->err);
	soda_shares_free(sh);
	expect_rate("guest -> peer", guest_to_peer(env, srv, 5202, 4), 200);
	expect_rate("peer -> guest", peer_to_guest(env, srv, "198.51.100.10", 4), 200);
	/* Stopping removes the TAP's IFB with it. */
	assert_soda_ok(soda_server_stop(srv, 5000, 0, &env->err), env->err);
	assert_int_not_equal(th_sh("ip -n %s link show | grep -q sdtshaped0b", env->netns), 0);
	soda_server_unref(srv);
}

/* A flooding server does not take a neighbour's bandwidth. */
static void test_flooding_neighbour(void **state)
{
	th_env *env = *state;
	soda_server *flood, *calm;
	double got;
	uint64_t t0;

	th_require_root();
	th_build_image(env);
	flood = guest(env, "flood", 10, "net.out=50Mbit cpus=0 pids.max=64");
	calm = guest(env, "calm", 11, "net.out=50Mbit cpus=1");
	/* The flood: network at its cap, plus CPU hogs and a memory hog. */
	assert_int_equal(th_sh("ip netns exec %s %s recv 5401 30 >/dev/null 2>&1 </dev/null &", env->netns,
			       SODA_TEST_TCPBLAST),
			 0);
	assert_int_equal(th_exec(flood, "(/tools/tcpblast send 198.51.100.1 5401 25 &) ; "
					"(while :; do :; done &) ; "
					"(awk 'BEGIN { s = \"x\"; while (1) s = s s }' &)",
				 NULL),
			 0);
	sleep(1);
	got = guest_to_peer(env, calm, 5402, 4);
	expect_rate("neighbour under flood", got, 50);
	t0 = th_mono_ms();
	assert_int_equal(th_exec(calm, "echo here", NULL), 0);
	print_message("  neighbour answered in %llu ms\n", (unsigned long long)(th_mono_ms() - t0));
	assert_true(th_mono_ms() - t0 < 3000);
	soda_server_kill(flood, 0, NULL);
	soda_server_unref(flood);
	soda_server_unref(calm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_goodput, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flooding_neighbour, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
