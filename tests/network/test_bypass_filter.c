/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The port IDS's bypass filter (backends/uml/kernort/bypass.bpf.c) in the
 * real kernel: the skeleton soda-monitor loads, attached as it attaches it
 * to a packet socket bound to one end of a veth pair, frames sent from
 * the other end. In a network namespace of the test's own (unshared: it
 * goes when the test ends, whatever happens), addresses from
 * 198.51.100.0/24 and 2001:db8::/32 on frames that never leave the pair.
 *
 *  - a data segment of a flow in the map is dropped, both directions (the
 *    two keys kb_flow_keys() makes, as the monitor does), IPv4 and IPv6;
 *    the map's counter and the totals count it;
 *  - SYN, FIN and RST of that flow, other flows, UDP on the same ports, an
 *    IPv4 fragment of the flow and a VLAN-tagged copy pass;
 *  - the control: the same data segment passes without the filter, and
 *    with the filter once its entry is gone.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backends/uml/kernort/bypass.h"
#include "kn_bypass.skel.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

static const uint8_t C4[16] = { 198, 51, 100, 1 }, S4[16] = { 198, 51, 100, 2 };
static const uint8_t O4[16] = { 198, 51, 100, 3 };
static const uint8_t C6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t S6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

struct env {
	struct kn_bypass *skel;
	int tx, rx;
	uint32_t marker;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An Ethernet frame, untagged (or with an 802.1Q tag), IPv4 or IPv6, TCP
 * (@proto 6, @flags) or UDP (17), whose payload is a 4-byte marker. The
 * checksums do not matter to a packet socket. */
static size_t frame(uint8_t *f, int family, bool vlan, uint8_t proto, const uint8_t *src,
		    const uint8_t *dst, uint16_t sport, uint16_t dport, uint8_t flags,
		    uint16_t frag_off, uint32_t marker)
{
	size_t l4 = proto == 6 ? 20 : 8, off = 12, ip;

	memset(f, 0, 200);
	memset(f, 0x02, 6);      /* destination MAC */
	memset(f + 6, 0x04, 6);  /* source MAC */
	if (vlan) {
		put16(f + off, ETH_P_8021Q);
		put16(f + off + 2, 7);
		off += 4;
	}
	put16(f + off, family == 4 ? ETH_P_IP : ETH_P_IPV6);
	ip = off + 2;
	if (family == 4) {
		f[ip] = 0x45;
		put16(f + ip + 2, (uint16_t)(20 + l4 + 4));
		put16(f + ip + 6, frag_off);
		f[ip + 8] = 64;
		f[ip + 9] = proto;
		memcpy(f + ip + 12, src, 4);
		memcpy(f + ip + 16, dst, 4);
		ip += 20;
	} else {
		f[ip] = 0x60;
		put16(f + ip + 4, (uint16_t)(l4 + 4));
		f[ip + 6] = proto;
		f[ip + 7] = 64;
		memcpy(f + ip + 8, src, 16);
		memcpy(f + ip + 24, dst, 16);
		ip += 40;
	}
	put16(f + ip, sport);
	put16(f + ip + 2, dport);
	if (proto == 6) {
		f[ip + 12] = 5 << 4;
		f[ip + 13] = flags;
	}
	memcpy(f + ip + l4, &marker, 4);
	return ip + l4 + 4;
}

/* Sends the frame and says whether the filtered socket got it. */
static bool passes(struct env *e, int family, bool vlan, uint8_t proto, const uint8_t *src,
		   const uint8_t *dst, uint16_t sport, uint16_t dport, uint8_t flags,
		   uint16_t frag_off)
{
	uint8_t f[200], got[2048];
	uint32_t marker = ++e->marker;
	size_t n = frame(f, family, vlan, proto, src, dst, sport, dport, flags, frag_off, marker);
	struct pollfd p = { e->rx, POLLIN, 0 };

	assert_int_equal(send(e->tx, f, n, 0), (ssize_t)n);
	/* Frames arrive in order: wait for this one, or for a later
	 * sentinel that the filter always lets through (UDP). */
	{
		uint8_t s[200];
		uint32_t sentinel = ++e->marker;
		size_t sn = frame(s, 4, false, 17, O4, S4, 9, 9, 0, 0, sentinel);

		assert_int_equal(send(e->tx, s, sn, 0), (ssize_t)sn);
		for (;;) {
			ssize_t r;

			assert_int_equal(poll(&p, 1, 2000), 1);
			r = recv(e->rx, got, sizeof(got), 0);
			assert_true(r >= 4);
			if (memcmp(got + r - 4, &marker, 4) == 0) {
				/* drain the sentinel too */
				assert_int_equal(poll(&p, 1, 2000), 1);
				assert_true(recv(e->rx, got, sizeof(got), 0) >= 4);
				return true;
			}
			if (memcmp(got + r - 4, &sentinel, 4) == 0)
				return false;
		}
	}
}

static int packet_socket(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	assert_true(fd >= 0);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

static int setup(void **state)
{
	static struct env e;

	if (geteuid() != 0) {
		print_message("skipped: needs root (BPF, a network namespace)\n");
		return -1;
	}
	/* A namespace of our own: the veth pair goes with the process. */
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	if (system("ip link add soda-bpa type veth peer name soda-bpb && "
		   "ip link set soda-bpa up && ip link set soda-bpb up") != 0)
		return -1;
	e.skel = kn_bypass__open_and_load();
	if (!e.skel)
		return -1;
	e.tx = packet_socket("soda-bpa");
	e.rx = packet_socket("soda-bpb");
	/* Frames already queued (the veth's own) are not the test's. */
	usleep(100000);
	while (recv(e.rx, (char[2048]){ 0 }, 2048, MSG_DONTWAIT) > 0)
		;
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	close(e->tx);
	close(e->rx);
	kn_bypass__destroy(e->skel);
	return 0;
}

static void attach(struct env *e)
{
	int prog = bpf_program__fd(e->skel->progs.kn_bypass);

	assert_int_equal(setsockopt(e->rx, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)), 0);
}

static void add_flow(struct env *e, int family, const uint8_t *c, const uint8_t *s,
		     uint16_t cport, uint16_t sport, bool add)
{
	struct kb_key k[2];
	uint64_t zero = 0;

	kb_flow_keys(k, (uint8_t)family, c, s, cport, sport);
	for (int i = 0; i < 2; i++) {
		if (add)
			assert_int_equal(bpf_map__update_elem(e->skel->maps.flows, &k[i], sizeof(k[i]),
							      &zero, sizeof(zero), BPF_ANY),
					 0);
		else
			assert_int_equal(bpf_map__delete_elem(e->skel->maps.flows, &k[i],
							      sizeof(k[i]), 0),
					 0);
	}
}

static uint64_t flow_count(struct env *e, const uint8_t *c, const uint8_t *s, uint16_t cport,
			   uint16_t sport)
{
	struct kb_key k[2];
	uint64_t v = 0;

	kb_flow_keys(k, 4, c, s, cport, sport);
	assert_int_equal(bpf_map__lookup_elem(e->skel->maps.flows, &k[0], sizeof(k[0]), &v,
					      sizeof(v), 0),
			 0);
	return v;
}

static uint64_t total_packets(struct env *e)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kb_totals *t = calloc((size_t)ncpu, sizeof(*t));
	uint32_t zero = 0;
	uint64_t sum = 0;

	assert_non_null(t);
	assert_int_equal(bpf_map__lookup_elem(e->skel->maps.totals, &zero, sizeof(zero), t,
					      (size_t)ncpu * sizeof(*t), 0),
			 0);
	for (int i = 0; i < ncpu; i++)
		sum += t[i].packets;
	free(t);
	return sum;
}

static void test_filter(void **state)
{
	struct env *e = *state;

	/* The control: nothing attached, the flow's data passes. */
	add_flow(e, 4, C4, S4, 40000, 53, true);
	assert_true(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_ACK, 0));
	attach(e);
	/* Bypassed: data both ways, IPv4 and IPv6. */
	assert_false(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_ACK, 0));
	assert_false(passes(e, 4, false, 6, S4, C4, 53, 40000, TCP_ACK, 0));
	add_flow(e, 6, C6, S6, 40001, 443, true);
	assert_false(passes(e, 6, false, 6, C6, S6, 40001, 443, TCP_ACK, 0));
	assert_false(passes(e, 6, false, 6, S6, C6, 443, 40001, TCP_ACK, 0));
	assert_int_equal(flow_count(e, C4, S4, 40000, 53), 1);
	assert_int_equal(total_packets(e), 4);
	/* Kept: the flow's FIN; another flow; UDP on the same ports; a
	 * fragment; a VLAN-tagged copy (the entries stay). */
	assert_true(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_FIN | TCP_ACK, 0));
	assert_true(passes(e, 4, false, 6, C4, S4, 40002, 53, TCP_ACK, 0));
	assert_true(passes(e, 4, false, 6, O4, S4, 40000, 53, TCP_ACK, 0));
	assert_true(passes(e, 4, false, 17, C4, S4, 40000, 53, 0, 0));
	assert_true(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_ACK, 0x2000));
	assert_true(passes(e, 4, true, 6, C4, S4, 40000, 53, TCP_ACK, 0));
	assert_false(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_ACK, 0));
	assert_int_equal(total_packets(e), 5);
	/* The entry gone, the flow is inspected again. */
	add_flow(e, 4, C4, S4, 40000, 53, false);
	assert_true(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_ACK, 0));
	/* A SYN (a new connection on the same ports) or a RST is kept and
	 * takes both entries out in the kernel, before kernort could ask. */
	add_flow(e, 4, C4, S4, 40000, 53, true);
	assert_false(passes(e, 4, false, 6, S4, C4, 53, 40000, TCP_ACK, 0));
	assert_true(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_SYN, 0));
	assert_true(passes(e, 4, false, 6, C4, S4, 40000, 53, TCP_ACK, 0));
	assert_true(passes(e, 4, false, 6, S4, C4, 53, 40000, TCP_ACK, 0));
	assert_false(passes(e, 6, false, 6, C6, S6, 40001, 443, TCP_ACK, 0)); /* untouched */
	assert_true(passes(e, 6, false, 6, S6, C6, 443, 40001, TCP_RST, 0));
	assert_true(passes(e, 6, false, 6, C6, S6, 40001, 443, TCP_ACK, 0));
	assert_true(passes(e, 6, false, 6, S6, C6, 443, 40001, TCP_ACK, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
