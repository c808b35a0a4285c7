/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shaping mechanism on a veth pair between two test namespaces: "tap"
 * stands where a server's TAP would, "peer" for the rest of the world. TCP
 * goodput both ways at 20 and 200 Mbit/s, counters, a live change, and
 * cleanup. (With real guests: see it_network_shares once the switch gives
 * servers TAPs.)
 */
#include "it_common.h"
#include "host/shape.h"

struct nets {
	char host[32], peer[32], host_path[64];
};

static int nets_setup(void **state)
{
	struct nets *n = calloc(1, sizeof(*n));

	if (!n)
		return -1;
	snprintf(n->host, sizeof(n->host), "soda-it-sh%d", (int)getpid());
	snprintf(n->peer, sizeof(n->peer), "soda-it-pe%d", (int)getpid());
	snprintf(n->host_path, sizeof(n->host_path), "/run/netns/%s", n->host);
	*state = n;
	return th_sh("ip netns add %s && ip netns add %s && "
		     "ip -n %s link add tap0 type veth peer name eth0 netns %s && "
		     "ip -n %s addr add 198.51.100.1/24 dev tap0 && ip -n %s link set tap0 up && "
		     "ip -n %s link set lo up && "
		     "ip -n %s addr add 198.51.100.2/24 dev eth0 && ip -n %s link set eth0 up && "
		     "ip -n %s link set lo up && "
		     "ip netns exec %s ethtool -K tap0 tso off gso off gro off >/dev/null 2>&1; "
		     "ip netns exec %s ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1; true",
		     n->host, n->peer, n->host, n->peer, n->host, n->host, n->host, n->peer,
		     n->peer, n->peer, n->host, n->peer);
}

static int nets_teardown(void **state)
{
	struct nets *n = *state;

	th_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", n->host, n->peer);
	free(n);
	return 0;
}

/* Goodput from the namespace @from to @to_addr in @to, in Mbit/s. */
static double goodput(const char *from, const char *to, const char *to_addr)
{
	char *out = NULL, cmd[600];
	double mbit = -1;
	char *p;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s %s recv 5201 4 > /tmp/soda-it-blast.%d & "
		 "sleep 0.3; ip netns exec %s %s send %s 5201 4.5; wait; cat /tmp/soda-it-blast.%d; "
		 "rm -f /tmp/soda-it-blast.%d",
		 to, SODA_TEST_TCPBLAST, (int)getpid(), from, SODA_TEST_TCPBLAST, to_addr,
		 (int)getpid(), (int)getpid());
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		th_run(argv, &out);
	}
	p = out ? strstr(out, "goodput_mbit=") : NULL;
	if (p)
		mbit = atof(p + 13);
	free(out);
	return mbit;
}

static void expect_rate(double got, double want)
{
	print_message("  configured %.0f Mbit/s, TCP goodput %.1f Mbit/s (%.1f %%)\n", want, got,
		      100.0 * got / want);
	assert_true(got >= want * 0.95);
	assert_true(got <= want * 1.05);
}

static void test_shaping_both_ways(void **state)
{
	struct nets *n = *state;
	su_shape_rates rates = { 20000000, 0, 20000000, 0 };
	su_shape_counters c0, c1;
	soda_error *err = NULL;

	th_require_root();
	if (!su_shape_available())
		skip();
	/* Unshaped, the veth carries far more. */
	assert_true(goodput(n->peer, n->host, "198.51.100.1") > 400);
	assert_soda_ok(su_shape_attach(n->host_path, "tap0", &rates, &err), err);
	assert_int_equal(th_sh("ip -n %s link show tap0b >/dev/null", n->host), 0);
	assert_soda_ok(su_shape_counters_read(n->host_path, "tap0", &c0, &err), err);
	/* Guest -> peer is the TAP's ingress; peer -> guest its egress. */
	expect_rate(goodput(n->host, n->peer, "198.51.100.2"), 20);
	expect_rate(goodput(n->peer, n->host, "198.51.100.1"), 20);
	assert_soda_ok(su_shape_counters_read(n->host_path, "tap0", &c1, &err), err);
	print_message("  counters: out %llu bytes %llu packets, in %llu bytes %llu packets\n",
		      (unsigned long long)(c1.out_bytes - c0.out_bytes),
		      (unsigned long long)(c1.out_packets - c0.out_packets),
		      (unsigned long long)(c1.in_bytes - c0.in_bytes),
		      (unsigned long long)(c1.in_packets - c0.in_packets));
	/* About 4.5 s at 20 Mbit/s each way went through the counters. */
	assert_true(c1.out_bytes - c0.out_bytes > 9000000);
	assert_true(c1.in_bytes - c0.in_bytes > 9000000);
	assert_true(c1.out_packets - c0.out_packets > 5000);

	/* A live change to 200 Mbit/s. */
	rates.out_bps = rates.in_bps = 200000000;
	assert_soda_ok(su_shape_update(n->host_path, "tap0", &rates, &err), err);
	expect_rate(goodput(n->host, n->peer, "198.51.100.2"), 200);
	expect_rate(goodput(n->peer, n->host, "198.51.100.1"), 200);

	/* Detach leaves the devices as they were. */
	assert_soda_ok(su_shape_detach(n->host_path, "tap0", &err), err);
	assert_int_not_equal(th_sh("ip -n %s link show tap0b >/dev/null 2>&1", n->host), 0);
	assert_int_not_equal(th_sh("ip netns exec %s tc qdisc show dev tap0 | grep -q -e htb -e clsact",
				   n->host),
			     0);
	assert_true(goodput(n->peer, n->host, "198.51.100.1") > 400);
}

static void test_errors(void **state)
{
	struct nets *n = *state;
	su_shape_rates rates = { 20000000, 0, 0, 0 };
	su_shape_counters c;
	soda_error *err = NULL;

	th_require_root();
	if (!su_shape_available())
		skip();
	assert_soda_fails(su_shape_attach(n->host_path, "nosuchdev", &rates, &err), -ENODEV, err);
	assert_soda_fails(su_shape_attach("/run/netns/soda-it-none", "tap0", &rates, &err), -ENOENT,
			  err);
	assert_soda_fails(su_shape_counters_read(n->host_path, "tap0", &c, &err), -ENOENT, err);
	assert_soda_fails(su_shape_update(n->host_path, "tap0", &rates, &err), -ENODEV, err);
	/* One direction only: the other is left alone. */
	assert_soda_ok(su_shape_attach(n->host_path, "tap0", &rates, &err), err);
	assert_int_not_equal(th_sh("ip netns exec %s tc qdisc show dev tap0 | grep -q htb", n->host), 0);
	assert_int_equal(th_sh("ip netns exec %s tc qdisc show dev tap0b | grep -q htb", n->host), 0);
	assert_soda_ok(su_shape_detach(n->host_path, "tap0", &err), err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shaping_both_ways, nets_setup, nets_teardown),
		cmocka_unit_test_setup_teardown(test_errors, nets_setup, nets_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
