/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl stats --prometheus and --listen (issue 20): the exposition that
 * a running server, a network with a policy, spoofed frames and a
 * broadcast flood produce is what a scraper accepts: `promtool check
 * metrics` finds no problem, prometheus_client parses every family with a
 * type and help (tests/network/check_metrics.py), and the samples carry
 * the numbers the library reports (server, network, rule and reason
 * labels; the firewall's rule counters, spoofing drops, broadcast-limit
 * drops). Then the same over HTTP from 127.0.0.1 of the test's namespace:
 * /metrics, a 404, a 405, an oversized request and a stalled client, after
 * which the server still answers and exits after the requests it was told
 * to serve.
 */
#include "net_common.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <soda/server.h>

#define A_IP "198.51.100.10"
#define B_IP "198.51.100.11"
#define G_IP "198.51.100.20"
#define BCAST "ff:ff:ff:ff:ff:ff"

#ifndef SODA_TEST_SRCDIR
#error SODA_TEST_SRCDIR
#endif
#define CHECKER SODA_TEST_SRCDIR "/check_metrics.py"

extern char **environ;

static pid_t listener = -1;

static int teardown(void **state)
{
	if (listener > 0) {
		kill(listener, SIGKILL);
		waitpid(listener, NULL, 0);
		listener = -1;
	}
	return net_env_teardown(state);
}

typedef struct port {
	char ifname[16];
	char mac[18];
	int fd;
} fport;

static void port_up(net_env *ne, fport *p, const char *name, const char *cidr)
{
	soda_server *srv = net_define(ne, name, "lan", cidr, NULL, NULL);

	server_mac(srv, p->mac);
	soda_server_unref(srv);
	p->fd = fake_attach(ne, name, p->ifname);
}

/* Runs promtool and the Python checker on @path; @expect: extra arguments
 * of the checker (a shell-quoted string). */
static void check_exposition(const char *path, const char *expect)
{
	assert_int_equal(th_sh("promtool check metrics < %s", path), 0);
	assert_int_equal(th_sh("/usr/bin/python3 %s %s %s", CHECKER, path, expect), 0);
}

/* Fills the counters: an allowed datagram (rule 1), a spoofed frame, a
 * broadcast flood of 1,000 ARP requests from a. */
static void traffic(fport *a, fport *b)
{
	uint8_t f[256];
	size_t len;

	len = frame_udp4(f, a->mac, b->mac, A_IP, B_IP, 7000, "soda-metrics");
	fake_send(a->fd, f, len);
	assert_true(fake_sees(b->fd, "soda-metrics", 12, 500));
	len = frame_udp4(f, "02:66:66:66:66:66", b->mac, A_IP, B_IP, 7000, "soda-spoof");
	fake_send(a->fd, f, len);
	len = frame_arp(f, a->mac, BCAST, 1, a->mac, A_IP, "00:00:00:00:00:00", B_IP);
	for (int i = 0; i < 1000; i++)
		fake_send(a->fd, f, len);
	usleep(100000);
	fake_drain(b->fd);
}

static void test_prometheus(void **state)
{
	net_env *ne = *state;
	char path[256], expect[2048];
	fport a, b;
	soda_server *g;
	uint64_t flood, mac, rule;

	port_up(ne, &a, "a", A_IP "/24");
	port_up(ne, &b, "b", B_IP "/24");
	g = net_guest(ne, "g", G_IP "/24", NULL);
	net_apply(ne, "allow from server a to server b udp port 7000\n"
		      "deny from server g to server a tcp port 1\n");
	traffic(&a, &b);
	flood = server_count(ne, "a", SODA_NET_DROP_FLOOD);
	mac = server_count(ne, "a", SODA_NET_DROP_MAC);
	rule = rule_count(ne, 0);
	assert_true(flood >= 1000 - 300);
	assert_int_equal(mac, 1);
	assert_true(rule >= 1);

	snprintf(path, sizeof(path), "%s/metrics.txt", ne->env.state_dir);
	if (th_sh("%s --state-dir %s --netns %s stats --prometheus > %s 2> %s.err",
		  SODA_TEST_SODACTL, ne->env.state_dir, ne->env.netns, path, path) != 0) {
		char errp[300], *msg;

		snprintf(errp, sizeof(errp), "%s.err", path);
		msg = th_read_file(errp);
		fail_msg("sodactl stats --prometheus failed: %s", msg ? msg : "(no message)");
	}
	snprintf(expect, sizeof(expect),
		 "'soda_firewall_dropped_packets_total{network=lan,server=a,reason=broadcast_limit}"
		 "==%llu' "
		 "'soda_firewall_dropped_packets_total{network=lan,server=a,reason=spoofed_mac}"
		 "==%llu' "
		 "'soda_firewall_dropped_packets_total{network=lan,server=b,reason=broadcast_limit}"
		 "==0' "
		 "'soda_firewall_rule_packets_total{network=lan,rule=1}==%llu' "
		 "'soda_firewall_rule_packets_total{network=lan,rule=2}==0' "
		 "'soda_firewall_accepted_packets_total{network=lan,server=a}>=1' "
		 "'soda_network_broadcast_limit_packets_per_second{network=lan}==100' "
		 "'soda_network_broadcast_limit_burst_packets{network=lan}==200' "
		 "'soda_network_ports{network=lan}==3' "
		 "'soda_server_cpu_seconds_total{server=g}>0' "
		 "'soda_server_memory_bytes{server=g}>0' "
		 "'soda_server_pids{server=g}>=1' "
		 "'soda_scrape_errors==0'",
		 (unsigned long long)flood, (unsigned long long)mac, (unsigned long long)rule);
	check_exposition(path, expect);
	/* A rule is labelled with its number and its text. */
	{
		char *text = th_read_file(path);

		assert_non_null(text);
		assert_non_null(strstr(text, "rule=\"2\",text=\"deny from server g to"));
		free(text);
	}
	soda_server_unref(g);
	fake_detach(ne, "a", a.ifname, a.fd);
	fake_detach(ne, "b", b.ifname, b.fd);
}

/* ---- over HTTP ---- */

/* Runs @fn in the test's namespace (sockets keep the namespace they were
 * made in). */
static int in_netns(net_env *ne, int (*fn)(void *), void *arg)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = open(ne->netns_path, O_RDONLY | O_CLOEXEC), r;

	assert_true(self >= 0 && ns >= 0);
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
	r = fn(arg);
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	close(ns);
	return r;
}

struct conn_arg {
	uint16_t port;
};

static int connect_local(void *arg)
{
	struct conn_arg *c = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Sends @req whole, reads the answer until the server closes (at most
 * 10 s); returns it (free()). */
static char *http(net_env *ne, uint16_t port, const char *req, size_t req_len, size_t *ret_len)
{
	struct conn_arg c = { port };
	int fd = in_netns(ne, connect_local, &c);
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap + 1);
	uint64_t end = th_mono_ms() + 10000;

	assert_non_null(buf);
	assert_int_equal(send(fd, req, req_len, MSG_NOSIGNAL), (ssize_t)req_len);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t k;

		assert_true(th_mono_ms() < end);
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		k = recv(fd, buf + len, cap - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static void test_listen(void **state)
{
	net_env *ne = *state;
	char *argv[] = { SODA_TEST_SODACTL, "--state-dir", ne->env.state_dir, "--netns",
			 ne->env.netns, "stats", "--listen", "127.0.0.1:0", "--count", "6",
			 NULL };
	posix_spawn_file_actions_t fa;
	char line[256] = "", path[256], *resp, *body;
	int out[2], self, ns, status = 0;
	unsigned port = 0;
	size_t len;
	FILE *f;
	fport a, b;
	uint64_t t0;

	port_up(ne, &a, "a", A_IP "/24");
	port_up(ne, &b, "b", B_IP "/24");
	net_apply(ne, "allow from server a to server b udp port 7000\n");
	traffic(&a, &b);
	assert_int_equal(ns_sh(ne, "ip link set lo up"), 0);

	/* sodactl in the test's namespace, its standard output to us. */
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ns = open(ne->netns_path, O_RDONLY | O_CLOEXEC);
	assert_true(self >= 0 && ns >= 0);
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
	assert_int_equal(posix_spawn(&listener, argv[0], &fa, NULL, argv, environ), 0);
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	close(ns);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	f = fdopen(out[0], "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(sscanf(line, "listening on 127.0.0.1:%u", &port), 1);
	assert_true(port > 0 && port < 65536);

	/* 1: the metrics, as a scraper asks for them. */
	resp = http(ne, (uint16_t)port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35, &len);
	assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
	body = strstr(resp, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	{
		char cl[64];

		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(body));
		assert_non_null(strstr(resp, cl));
	}
	snprintf(path, sizeof(path), "%s/scraped.txt", ne->env.state_dir);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	{
		char expect[512];

		snprintf(expect, sizeof(expect),
			 "'soda_firewall_dropped_packets_total{network=lan,server=a,"
			 "reason=broadcast_limit}==%llu' "
			 "'soda_firewall_rule_packets_total{network=lan,rule=1}>=1' "
			 "'soda_scrape_errors==0'",
			 (unsigned long long)server_count(ne, "a", SODA_NET_DROP_FLOOD));
		check_exposition(path, expect);
	}
	free(resp);

	/* 2: another path. */
	resp = http(ne, (uint16_t)port, "GET /secrets HTTP/1.1\r\n\r\n", 25, &len);
	assert_non_null(strstr(resp, "HTTP/1.1 404 "));
	free(resp);
	/* 3: another method. */
	resp = http(ne, (uint16_t)port, "POST /metrics HTTP/1.1\r\n\r\n", 26, &len);
	assert_non_null(strstr(resp, "HTTP/1.1 405 "));
	free(resp);
	/* 4: a request head larger than the server reads. */
	{
		char *big = malloc(20000);

		assert_non_null(big);
		memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
		memset(big + 26, 'a', 20000 - 26);
		resp = http(ne, (uint16_t)port, big, 20000, &len);
		assert_non_null(strstr(resp, "HTTP/1.1 431 "));
		free(resp);
		free(big);
	}
	/* 5: a client that connects and says nothing holds the server for
	 * its timeout (5 s), no longer; 6: the next is served. */
	{
		struct conn_arg c = { (uint16_t)port };
		int idle = in_netns(ne, connect_local, &c);

		t0 = th_mono_ms();
		resp = http(ne, (uint16_t)port, "GET /metrics HTTP/1.0\r\n\r\n", 25, &len);
		assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
		assert_true(th_mono_ms() - t0 < 8000);
		free(resp);
		close(idle);
	}
	/* Six requests served: it exits, successfully. */
	assert_int_equal(waitpid(listener, &status, 0), listener);
	listener = -1;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fake_detach(ne, "a", a.ifname, a.fd);
	fake_detach(ne, "b", b.ifname, b.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prometheus, net_env_setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen, net_env_setup, teardown),
	};

	th_require_root();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
