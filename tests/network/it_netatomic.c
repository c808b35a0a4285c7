/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Atomicity of policy changes: while a policy of N rules is replaced over
 * and over by another of N rules, a probe flow both allow never loses a
 * packet and one both deny never gets one through. The two versions allow
 * the probe through different sets (an address range in one, an exact
 * server-to-server key in the other), and deny the other probe likewise,
 * so every replacement moves the probes' elements between kinds of sets:
 * a window between a delete and an add would show. A third probe is
 * refused by both for different reasons: by a deny range in one, for want
 * of an allow in the other (an allow range covers it in the first), so a
 * change that took the deny away before the allow would let it through.
 *
 * The probes are frames written into one server's TAP and read from the
 * other's (fake guests), every 200 us by a sender thread, counted by a
 * receiver thread, each carrying a sequence number.
 */
#include "net_common.h" /* first: it defines _GNU_SOURCE */

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <soda/server.h>

#define N_RULES 2000
#define ROUNDS 40

typedef struct probe {
	int fd_a, fd_c;
	char mac_a[18], mac_c[18];
	atomic_bool stop;
	atomic_long sent_allow, sent_deny, sent_gap, got_allow, got_deny, got_gap;
} probe;

static void *sender(void *arg)
{
	probe *p = arg;
	uint8_t f[256];
	char tag[32];
	long seq = 0;

	while (!atomic_load(&p->stop)) {
		size_t len;

		snprintf(tag, sizeof(tag), "probe-allow-%ld", seq);
		len = frame_udp4(f, p->mac_a, p->mac_c, "198.51.100.10", "198.51.100.12", 5000, tag);
		if (write(p->fd_a, f, len < 60 ? 60 : len) > 0)
			atomic_fetch_add(&p->sent_allow, 1);
		snprintf(tag, sizeof(tag), "probe-deny-%ld", seq);
		len = frame_udp4(f, p->mac_a, p->mac_c, "198.51.100.10", "198.51.100.12", 6000, tag);
		if (write(p->fd_a, f, len < 60 ? 60 : len) > 0)
			atomic_fetch_add(&p->sent_deny, 1);
		snprintf(tag, sizeof(tag), "probe-gap-%ld", seq);
		len = frame_udp4(f, p->mac_a, p->mac_c, "198.51.100.10", "198.51.100.12", 7000, tag);
		if (write(p->fd_a, f, len < 60 ? 60 : len) > 0)
			atomic_fetch_add(&p->sent_gap, 1);
		seq++;
		usleep(200);
	}
	return NULL;
}

static void *receiver(void *arg)
{
	probe *p = arg;
	uint8_t buf[2048];

	for (;;) {
		struct pollfd pf = { p->fd_c, POLLIN, 0 };
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0) {
			if (atomic_load(&p->stop))
				return NULL;
			continue;
		}
		while ((n = read(p->fd_c, buf, sizeof(buf))) > 0) {
			if (memmem(buf, (size_t)n, "probe-allow-", 12))
				atomic_fetch_add(&p->got_allow, 1);
			else if (memmem(buf, (size_t)n, "probe-deny-", 11))
				atomic_fetch_add(&p->got_deny, 1);
			else if (memmem(buf, (size_t)n, "probe-gap-", 10))
				atomic_fetch_add(&p->got_gap, 1);
		}
	}
}

/* N rules. Both versions allow the probe to port 5000 and deny the one to
 * port 6000 while allowing the rest of that traffic, each through a
 * different kind of set: an address range (interval set) in one, exact
 * keys (hash sets) in the other. Port 7000: version 0 allows it by its
 * range and denies it by a deny range; version 1 has no allow for it. The
 * other N - 3 rules differ between the versions (their ports). */
static char *version(int v)
{
	size_t cap = (size_t)N_RULES * 96 + 256, len = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	len += (size_t)snprintf(s + len, cap - len, "%s",
				v ? "allow from server a to server c udp port 5000, 6000\n"
				    "deny from 198.51.100.0/28 to server c udp port 5990-6010\n"
				    "allow from server a to server c tcp port 7000\n"
				  : "allow from 198.51.100.0/24 to server c udp\n"
				    "deny from server a to server c udp port 6000\n"
				    "deny from 198.51.100.0/28 to server c udp port 6990-7010\n");
	for (int i = 3; i < N_RULES; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"allow from 203.0.113.%d to server c tcp port %d\n", i % 250,
					10000 + i * 2 + v);
	return s;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_replace_under_traffic(void **state)
{
	net_env *ne = *state;
	probe p = { 0 };
	pthread_t ts, tr;
	char ifa[16], ifc[16], *text[2];
	soda_policy *pol[2] = { NULL, NULL };
	double t0, worst = 0;

	soda_server_unref(net_define(ne, "a", "lan", "198.51.100.10/24", NULL, NULL));
	server_mac_of(ne, "a", p.mac_a);
	soda_server_unref(net_define(ne, "c", "lan", "198.51.100.12/24", NULL, NULL));
	server_mac_of(ne, "c", p.mac_c);
	p.fd_a = fake_attach(ne, "a", ifa);
	p.fd_c = fake_attach(ne, "c", ifc);

	for (int v = 0; v < 2; v++) {
		text[v] = version(v);
		assert_soda_ok(soda_policy_parse(&pol[v], text[v], strlen(text[v]), "v", 0,
						 &ne->env.err),
			       ne->env.err);
		assert_int_equal(soda_policy_get_rule_count(pol[v]), N_RULES);
	}
	assert_soda_ok(soda_network_apply_policy(ne->net, pol[0], 0, &ne->env.err), ne->env.err);
	/* c answers nothing, but the switch must learn where c is so that the
	 * probes are not flooded: one frame from c. */
	{
		uint8_t f[128];
		size_t len = frame_arp(f, p.mac_c, "ff:ff:ff:ff:ff:ff", 1, p.mac_c, "198.51.100.12",
				       "00:00:00:00:00:00", "198.51.100.10");

		fake_send(p.fd_c, f, len);
	}
	assert_int_equal(pthread_create(&tr, NULL, receiver, &p), 0);
	assert_int_equal(pthread_create(&ts, NULL, sender, &p), 0);
	usleep(200000);
	for (int i = 1; i <= ROUNDS; i++) {
		t0 = now_ms();
		assert_soda_ok(soda_network_apply_policy(ne->net, pol[i % 2], 0, &ne->env.err),
			       ne->env.err);
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
	}
	usleep(200000);
	atomic_store(&p.stop, true);
	pthread_join(ts, NULL);
	usleep(300000);
	pthread_join(tr, NULL);
	print_message("%d replacements of %d rules (slowest %.1f ms); probes sent %ld allowed, "
		      "%ld denied, %ld refused either way; received %ld, %ld, %ld\n",
		      ROUNDS, N_RULES, worst, atomic_load(&p.sent_allow), atomic_load(&p.sent_deny),
		      atomic_load(&p.sent_gap), atomic_load(&p.got_allow), atomic_load(&p.got_deny),
		      atomic_load(&p.got_gap));
	/* The sender really ran across the replacements. */
	assert_true(atomic_load(&p.sent_allow) > 200);
	assert_int_equal(atomic_load(&p.got_allow), atomic_load(&p.sent_allow));
	assert_int_equal(atomic_load(&p.got_deny), 0);
	assert_int_equal(atomic_load(&p.got_gap), 0);
	/* And the policy in force is the last one applied. */
	{
		soda_policy *cur = NULL;

		assert_soda_ok(soda_network_get_policy(&cur, ne->net, &ne->env.err), ne->env.err);
		assert_string_equal(soda_policy_get_text(cur), text[ROUNDS % 2]);
		soda_policy_free(cur);
	}
	fake_detach(ne, "a", ifa, p.fd_a);
	fake_detach(ne, "c", ifc, p.fd_c);
	for (int v = 0; v < 2; v++) {
		soda_policy_free(pol[v]);
		free(text[v]);
	}
}

/* A change the kernel refuses leaves the old policy working: with the
 * plugin's failure injection a transaction fails at its end, after all its
 * messages were accepted one by one. A change has three (the standby
 * buffer written, the swap, the old buffer brought along): a failure in
 * the first two changes nothing for any packet; one in the third comes
 * after the swap, so the new policy is in force and the next change still
 * works (the library then installs the tables anew). */
static void test_failed_change_changes_nothing(void **state)
{
	net_env *ne = *state;
	char ifa[16], ifc[16], *before = NULL, *after = NULL;
	soda_policy *p = NULL;
	const char *t = "allow from any to any\n";
	int fa, fc, r;
	uint8_t f[128];
	size_t len;
	char ma[18], mc[18];

	soda_server_unref(net_define(ne, "a", "lan", "198.51.100.10/24", NULL, NULL));
	server_mac_of(ne, "a", ma);
	soda_server_unref(net_define(ne, "c", "lan", "198.51.100.12/24", NULL, NULL));
	server_mac_of(ne, "c", mc);
	fa = fake_attach(ne, "a", ifa);
	fc = fake_attach(ne, "c", ifc);
	assert_soda_ok(soda_policy_parse(&p, t, strlen(t), "t", 0, &ne->env.err), ne->env.err);
	for (int stage = 1; stage <= 3; stage++) {
		char fault[2] = { (char)('0' + stage), 0 };

		net_apply(ne, "allow from server a to server c udp port 5000\n");
		assert_soda_ok(soda_network_get_compiled(&before, ne->net, 0, &ne->env.err),
			       ne->env.err);
		setenv("SODA_NFT_TEST_FAIL", fault, 1);
		r = soda_network_apply_policy(ne->net, p, 0, &ne->env.err);
		unsetenv("SODA_NFT_TEST_FAIL");
		assert_soda_ok(soda_network_get_compiled(&after, ne->net, 0, &ne->env.err),
			       ne->env.err);
		fake_drain(fc);
		len = frame_udp4(f, ma, mc, "198.51.100.10", "198.51.100.12", 5000, "old-ok");
		fake_send(fa, f, len);
		assert_true(fake_sees(fc, "old-ok", 6, 300));
		len = frame_udp4(f, ma, mc, "198.51.100.10", "198.51.100.12", 5001, "new-ok");
		fake_send(fa, f, len);
		if (stage < 3) {
			/* Refused: the record and the kernel keep the old policy
			 * (5001, which the failed policy allowed, does not pass). */
			assert_true(r < 0);
			soda_error_free(ne->env.err);
			ne->env.err = NULL;
			assert_string_equal(before, after);
			assert_false(fake_sees(fc, "new-ok", 6, 300));
		} else {
			assert_int_equal(r, 0);
			assert_string_not_equal(before, after);
			assert_true(fake_sees(fc, "new-ok", 6, 300));
		}
		free(before);
		free(after);
	}
	/* And the next change goes through and holds. */
	net_apply(ne, "allow from server a to server c udp port 5001\n");
	fake_drain(fc);
	len = frame_udp4(f, ma, mc, "198.51.100.10", "198.51.100.12", 5000, "now-no");
	fake_send(fa, f, len);
	assert_false(fake_sees(fc, "now-no", 6, 300));
	len = frame_udp4(f, ma, mc, "198.51.100.10", "198.51.100.12", 5001, "now-ok");
	fake_send(fa, f, len);
	assert_true(fake_sees(fc, "now-ok", 6, 300));
	soda_policy_free(p);
	fake_detach(ne, "a", ifa, fa);
	fake_detach(ne, "c", ifc, fc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace_under_traffic, net_env_setup,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_failed_change_changes_nothing, net_env_setup,
						net_env_teardown),
	};

	th_require_root();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
