/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The port IDS's capture at the TAP (kn_capture_in / kn_capture_out in
 * backends/uml/kernort/bypass.bpf.c) in the real kernel, read back through
 * kernort's reader (backends/uml/kernort/ring.c). The skeleton is loaded
 * and linked as soda-monitor does it, to the tcx ingress and egress of one
 * end of a veth pair (the "TAP"); packet sockets send frames from the other
 * end (the guest's side: they arrive at the TAP's ingress) and from the TAP
 * itself (its egress, what is sent to the guest). In a network namespace
 * of the test's own (unshared: it goes, with the pair, when the test
 * process ends, however it ends), without IPv6 so that the kernel sends
 * nothing of its own, and without addresses or routes: the frames carry
 * addresses from 198.51.100.0/24 and never leave the pair.
 *
 *  - each frame is in the ring once, in order, with its bytes, its
 *    length, its direction (KB_REC_TO_GUEST at egress) and a time within a
 *    second of CLOCK_REALTIME; frames of every size class (the small and
 *    medium records, and the scratch path up to 65,000 bytes);
 *  - an 802.1Q tag the kernel took out of a frame at ingress (KB_REC_VLAN)
 *    is put back by the reader, an 802.1ad one too, and a tag still in a
 *    frame's bytes (egress) stays as it is;
 *  - every frame still reaches the other end (TC_ACT_UNSPEC), seen by a
 *    socket bound to its protocol, which gets it after the ingress hook;
 *  - the bypass: a flow's data segments, both ways, are not captured once
 *    its two keys are in the flows map (counted per key and in totals);
 *    its SYN, FIN and RST and other flows are; a SYN or a RST takes both
 *    keys out; the control: the same segments are captured without keys;
 *  - capstats counts what went into the ring, packets and bytes.
 *
 * The direction and the kernel's own lengths are not in ring.h's frame
 * callback (bytes and time only): the test reads the records' headers in
 * the mapped ring itself before kr_bpfring_drain() takes them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backends/uml/kernort/bypass.h"
#include "backends/uml/kernort/ring.h"
#include "kn_bypass.skel.h"

#define TAP "sodatcx-tap"
#define PEER "sodatcx-peer"
#define MTU "65500"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define MAX_FRAME 65536
#define MAX_WANT 64

static const uint8_t C4[16] = { 198, 51, 100, 1 }, S4[16] = { 198, 51, 100, 2 };
static const uint8_t O4[16] = { 198, 51, 100, 3 };

/* The end a frame is sent from. From the peer it arrives at the TAP's
 * ingress (the guest's frames); from the TAP it leaves by its egress. */
enum { AT_TAP, AT_PEER };

/* A frame the ring should hold next, as the kernel's record says it. */
struct want {
	uint8_t *bytes;
	size_t len;
	uint32_t rec_len; /* skb->len: without a tag the kernel took out */
	uint8_t flags;
};

/* A record's header, read in the mapped ring. */
struct seen {
	struct kb_rec h;
	uint32_t body;
};

/* A frame kr_bpfring_drain() handed over. */
struct got {
	uint8_t *bytes;
	size_t len;
	uint64_t ts_usec;
};

struct env {
	struct kn_bypass *skel;
	int links[2];
	struct kr_bpfring ring;
	bool mapped, veth;
	int tx[2];     /* the senders at AT_TAP, AT_PEER */
	int rx[2][3];  /* the receivers there, one per protocol of rx_protos */
	uint32_t marker;
	struct want want[MAX_WANT];
	size_t nwant;
	struct got got[MAX_WANT];
	size_t ngot;
	uint64_t cap_packets, cap_bytes; /* what capstats should say */
	uint64_t byp_packets, byp_bytes; /* and totals */
	uint8_t f[MAX_FRAME], in[MAX_FRAME]; /* sent, received */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* An Ethernet frame of @len bytes: @tags tags (1: 802.1Q; 2: 802.1ad
 * outside an 802.1Q), then IPv4 and TCP (@proto 6, @tcp_flags) or UDP
 * (17), or (@proto 0) a local experimental EtherType and no IP; a 4-byte
 * marker, then bytes that depend on it up to @len. Checksums do not matter
 * to packet sockets; the destination MAC is nobody's, so the stack on
 * either end drops the frame once the capture and the sockets saw it. */
static size_t build(uint8_t *f, size_t len, int tags, uint8_t proto, const uint8_t *src,
		    const uint8_t *dst, uint16_t sport, uint16_t dport, uint8_t tcp_flags,
		    uint32_t marker)
{
	size_t off = 12, body;

	assert_true(len <= MAX_FRAME);
	memset(f, 0x02, 6);
	memset(f + 6, 0x04, 6);
	if (tags == 2) {
		put16(f + off, ETH_P_8021AD);
		put16(f + off + 2, 0x6005);
		off += 4;
	}
	if (tags >= 1) {
		put16(f + off, ETH_P_8021Q);
		put16(f + off + 2, 0x2007); /* priority 1, VLAN 7 */
		off += 4;
	}
	if (proto == 0) {
		assert_true(len >= off + 2);
		put16(f + off, 0x88b5);
		body = off + 2;
	} else {
		size_t ip = off + 2, l4 = proto == 6 ? 20 : 8;

		assert_true(len >= ip + 20 + l4 + 4);
		put16(f + off, ETH_P_IP);
		memset(f + ip, 0, 20 + l4);
		f[ip] = 0x45;
		put16(f + ip + 2, (uint16_t)(len - ip));
		f[ip + 8] = 64;
		f[ip + 9] = proto;
		memcpy(f + ip + 12, src, 4);
		memcpy(f + ip + 16, dst, 4);
		put16(f + ip + 20, sport);
		put16(f + ip + 22, dport);
		if (proto == 6) {
			f[ip + 32] = 5 << 4;
			f[ip + 33] = tcp_flags;
		} else {
			put16(f + ip + 24, (uint16_t)(len - ip - 20));
		}
		body = ip + 20 + l4;
		memcpy(f + body, &marker, 4);
		body += 4;
	}
	for (size_t i = body; i < len; i++)
		f[i] = (uint8_t)(marker * 7u + i);
	return len;
}

static bool outer_tag(const uint8_t *f, size_t len)
{
	return len >= 16 && ((f[12] == 0x81 && f[13] == 0x00) || (f[12] == 0x88 && f[13] == 0xa8));
}

/* What the receivers are bound to: the protocols of the test's frames
 * once the kernel has taken an outer tag out. A packet socket bound to
 * one protocol gets the frame after the tcx ingress program ran (one
 * bound to all of them before it: that would not see a drop there). */
static const uint16_t rx_protos[3] = { ETH_P_IP, ETH_P_8021Q, 0x88b5 };

static int rx_socket(struct env *e, int end, const uint8_t *f, size_t len)
{
	size_t at = outer_tag(f, len) ? 16 : 12;
	uint16_t proto;

	assert_true(len >= at + 2);
	proto = (uint16_t)(f[at] << 8 | f[at + 1]);
	for (int i = 0; i < 3; i++)
		if (rx_protos[i] == proto)
			return e->rx[end][i];
	fail_msg("no receiver for protocol %#x", proto);
	return -1;
}

/* Sends @n bytes of e->f from @from and checks that the other end gets
 * them (without the outer tag, which its kernel takes out: the socket has
 * it aside). @captured: whether the ring must hold the frame. */
static void xfer(struct env *e, int from, size_t n, bool captured)
{
	int to = from == AT_TAP ? AT_PEER : AT_TAP;
	bool tagged = outer_tag(e->f, n);
	size_t rx_len = tagged ? n - 4 : n;
	struct pollfd p = { rx_socket(e, to, e->f, n), POLLIN, 0 };
	ssize_t r;

	assert_int_equal(send(e->tx[from], e->f, n, 0), (ssize_t)n);
	for (;;) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);

		if (poll(&p, 1, 2000) != 1)
			fail_msg("a frame of %zu bytes from the %s did not reach the other end", n,
				 from == AT_TAP ? "TAP" : "peer");
		r = recvfrom(p.fd, e->in, sizeof(e->in), 0, (struct sockaddr *)&sll, &sl);
		assert_true(r >= 0);
		if (sll.sll_pkttype != PACKET_OUTGOING)
			break;
	}
	assert_int_equal(r, (ssize_t)rx_len);
	if (tagged) {
		assert_memory_equal(e->in, e->f, 12);
		assert_memory_equal(e->in + 12, e->f + 16, n - 16);
	} else {
		assert_memory_equal(e->in, e->f, n);
	}
	if (!captured) {
		e->byp_packets++;
		e->byp_bytes += n;
		return;
	}
	assert_true(e->nwant < MAX_WANT);
	{
		struct want *w = &e->want[e->nwant++];

		w->bytes = malloc(n);
		assert_non_null(w->bytes);
		memcpy(w->bytes, e->f, n);
		w->len = n;
		/* At ingress the kernel has taken the outer tag out already. */
		w->rec_len = from == AT_PEER && tagged ? (uint32_t)n - 4 : (uint32_t)n;
		w->flags = (uint8_t)((from == AT_TAP ? KB_REC_TO_GUEST : 0) |
				     (from == AT_PEER && tagged ? KB_REC_VLAN : 0));
		e->cap_packets++;
		e->cap_bytes += w->rec_len;
	}
}

/* A TCP segment of 120 bytes, untagged or with @tags tags. */
static void seg(struct env *e, int from, const uint8_t *src, const uint8_t *dst, uint16_t sport,
		uint16_t dport, uint8_t flags, int tags, bool captured)
{
	size_t n = build(e->f, 120, tags, 6, src, dst, sport, dport, flags, ++e->marker);

	xfer(e, from, n, captured);
}

/* The records from the consumer to the producer position, read here. */
static size_t peek(struct env *e, struct seen *out, size_t max)
{
	unsigned long cons = __atomic_load_n(e->ring.consumer_pos, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(e->ring.producer_pos, __ATOMIC_ACQUIRE);
	size_t n = 0;

	while (cons < prod && n < max) {
		const uint8_t *rec = e->ring.data + (cons & (e->ring.size - 1));
		uint32_t len = __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE);
		uint32_t body = len & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break;
		assert_true(body <= e->ring.size);
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			assert_true(body >= sizeof(struct kb_rec));
			memcpy(&out[n].h, rec + BPF_RINGBUF_HDR_SZ, sizeof(out[n].h));
			out[n].body = body;
			n++;
		}
		cons += (BPF_RINGBUF_HDR_SZ + body + 7) & ~7ul;
	}
	return n;
}

static void on_frame(void *userdata, const uint8_t *frame, size_t caplen, uint64_t ts_usec)
{
	struct env *e = userdata;
	struct got *g;

	if (e->ngot >= MAX_WANT)
		return; /* counted by the drain's return value, checked there */
	g = &e->got[e->ngot++];
	g->bytes = malloc(caplen ? caplen : 1);
	if (g->bytes)
		memcpy(g->bytes, frame, caplen);
	g->len = caplen;
	g->ts_usec = ts_usec;
}

static void forget(struct env *e)
{
	for (size_t i = 0; i < e->nwant; i++)
		free(e->want[i].bytes);
	for (size_t i = 0; i < e->ngot; i++)
		free(e->got[i].bytes);
	e->nwant = e->ngot = 0;
}

static uint64_t flow_hits(struct env *e, const struct kb_key *k)
{
	uint64_t v = 0;

	assert_int_equal(bpf_map__lookup_elem(e->skel->maps.flows, k, sizeof(*k), &v, sizeof(v), 0),
			 0);
	return v;
}

/* A flow's two keys into the map, as the monitor puts them (value 0). */
static void put_keys(struct env *e, const struct kb_key k[2])
{
	uint64_t zero = 0;

	for (int i = 0; i < 2; i++)
		assert_int_equal(bpf_map__update_elem(e->skel->maps.flows, &k[i], sizeof(k[i]), &zero,
						      sizeof(zero), BPF_ANY),
				 0);
}

static bool flow_present(struct env *e, const struct kb_key *k)
{
	uint64_t v;

	return bpf_map__lookup_elem(e->skel->maps.flows, k, sizeof(*k), &v, sizeof(v), 0) == 0;
}

/* capstats and totals, summed over the CPUs, against what was sent. */
static void check_stats(struct env *e)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kb_capstats *cs = calloc((size_t)ncpu, sizeof(*cs));
	struct kb_totals *t = calloc((size_t)ncpu, sizeof(*t));
	struct kb_capstats c = { 0 };
	struct kb_totals tt = { 0 };
	uint32_t zero = 0;

	assert_non_null(cs);
	assert_non_null(t);
	assert_int_equal(bpf_map__lookup_elem(e->skel->maps.capstats, &zero, sizeof(zero), cs,
					      (size_t)ncpu * sizeof(*cs), 0),
			 0);
	assert_int_equal(bpf_map__lookup_elem(e->skel->maps.totals, &zero, sizeof(zero), t,
					      (size_t)ncpu * sizeof(*t), 0),
			 0);
	for (int i = 0; i < ncpu; i++) {
		c.packets += cs[i].packets;
		c.bytes += cs[i].bytes;
		c.drops += cs[i].drops;
		c.truncated += cs[i].truncated;
		tt.packets += t[i].packets;
		tt.bytes += t[i].bytes;
	}
	free(cs);
	free(t);
	assert_int_equal(c.packets, e->cap_packets);
	assert_int_equal(c.bytes, e->cap_bytes);
	assert_int_equal(c.drops, 0);
	assert_int_equal(c.truncated, 0);
	assert_int_equal(tt.packets, e->byp_packets);
	assert_int_equal(tt.bytes, e->byp_bytes);
}

/* The ring holds exactly the frames wanted since the last check, in order:
 * headers read in place, then the frames as kr_bpfring_drain() gives them;
 * it is empty afterwards. */
static void check_ring(struct env *e, uint64_t since_usec)
{
	static struct seen seen[MAX_WANT + 8];
	struct timespec mono, real;
	uint64_t deadline = realtime_usec() + 2000000, now, prev = 0;
	size_t n;
	int drained;

	/* The test's process runs on one CPU: the programs have run by the
	 * time the other end got each frame. Waiting is for a slow machine. */
	while ((n = peek(e, seen, MAX_WANT + 8)) < e->nwant && realtime_usec() < deadline)
		usleep(1000);
	usleep(20000);
	n = peek(e, seen, MAX_WANT + 8);
	if (n != e->nwant)
		fail_msg("the ring holds %zu records, %zu frames were to be captured", n, e->nwant);
	for (size_t i = 0; i < n; i++) {
		struct want *w = &e->want[i];

		if (seen[i].h.flags != w->flags)
			fail_msg("record %zu (%zu bytes): flags %#x, expected %#x", i, w->len,
				 seen[i].h.flags, w->flags);
		assert_int_equal(seen[i].h.len, w->rec_len);
		assert_int_equal(seen[i].h.caplen, w->rec_len);
		assert_true(seen[i].body >= sizeof(struct kb_rec) + w->rec_len);
	}
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	drained = kr_bpfring_drain(&e->ring,
				   ((int64_t)real.tv_sec - mono.tv_sec) * 1000000000 +
					   (real.tv_nsec - mono.tv_nsec),
				   on_frame, e);
	now = realtime_usec();
	assert_int_equal(drained, (int)e->nwant);
	assert_int_equal(e->ngot, e->nwant);
	for (size_t i = 0; i < e->ngot; i++) {
		struct got *g = &e->got[i];
		struct want *w = &e->want[i];

		assert_non_null(g->bytes);
		if (g->len != w->len)
			fail_msg("frame %zu: %zu bytes out of the ring, %zu sent", i, g->len, w->len);
		if (memcmp(g->bytes, w->bytes, w->len) != 0)
			fail_msg("frame %zu (%zu bytes): not the bytes sent", i, w->len);
		/* Within a second of the clock, after the batch began, in order. */
		assert_true(g->ts_usec + 1000000 > now && g->ts_usec <= now + 1000);
		assert_true(g->ts_usec + 1000 >= since_usec);
		assert_true(g->ts_usec >= prev);
		prev = g->ts_usec;
	}
	assert_int_equal(__atomic_load_n(e->ring.consumer_pos, __ATOMIC_ACQUIRE),
			 __atomic_load_n(e->ring.producer_pos, __ATOMIC_ACQUIRE));
	forget(e);
	check_stats(e);
}

/* Bound to @ifname and @proto; 0: a sender, which receives nothing. */
static int packet_socket(const char *ifname, uint16_t proto)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(proto) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	int one = 1, buf = 8 << 20;

	assert_true(fd >= 0);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	/* Its own frames going out are not what the other end received. */
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)), 0);
	return fd;
}

static void write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, value, strlen(value)) < 0)
			print_message("cannot write %s\n", path);
		close(fd);
	}
}

static int setup(void **state)
{
	static struct env e;

	memset(&e, 0, sizeof(e));
	e.links[0] = e.links[1] = e.tx[0] = e.tx[1] = -1;
	for (int i = 0; i < 6; i++)
		e.rx[i / 3][i % 3] = -1;
	*state = &e;
	return 0;
}

/* The pair, the programs linked as the monitor links them, the ring
 * mapped as kernort maps it, a packet socket on each end. */
static void env_up(struct env *e)
{
	static const int types[2] = { 46 /* BPF_TCX_INGRESS */, 47 /* BPF_TCX_EGRESS */ };
	static bool unshared;
	int ncpu = libbpf_num_possible_cpus(), ifindex, cpu = sched_getcpu();
	cpu_set_t one;

	if (geteuid() != 0) {
		print_message("skipped: needs root (BPF, a network namespace)\n");
		skip();
	}
	if (!unshared) {
		assert_int_equal(unshare(CLONE_NEWNET), 0);
		unshared = true;
		/* Interfaces made from here on send nothing by themselves. */
		write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
		write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	}
	/* One CPU: a frame's way through the pair (the peer's ingress runs in
	 * the sender's softirq) ends before the next frame is sent. */
	assert_true(cpu >= 0);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(system("ip link add " TAP " mtu " MTU " type veth peer name " PEER
				" mtu " MTU " && ip link set " TAP " up && ip link set " PEER " up"),
			 0);
	e->veth = true;
	ifindex = (int)if_nametoindex(TAP);
	assert_true(ifindex > 0);
	e->skel = kn_bypass__open();
	assert_non_null(e->skel);
	assert_true(ncpu >= 1);
	assert_int_equal(bpf_map__set_max_entries(e->skel->maps.scratch, (uint32_t)ncpu), 0);
	assert_int_equal(kn_bypass__load(e->skel), 0);
	for (int i = 0; i < 2; i++) {
		struct bpf_program *p = i ? e->skel->progs.kn_capture_out
					  : e->skel->progs.kn_capture_in;

		e->links[i] = bpf_link_create(bpf_program__fd(p), ifindex,
					      (enum bpf_attach_type)types[i], NULL);
		if (e->links[i] < 0) {
			int err = e->links[i];

			e->links[i] = -1;
			if (i == 0 && (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP)) {
				print_message("skipped: no tcx in this kernel (6.6 and later): %s\n",
					      strerror(-err));
				skip();
			}
			fail_msg("bpf_link_create(%s): %s", i ? "egress" : "ingress",
				 strerror(-err));
		}
	}
	assert_int_equal(kr_bpfring_map(&e->ring, bpf_map__fd(e->skel->maps.ring), KB_RING_SIZE),
			 0);
	e->mapped = true;
	for (int end = AT_TAP; end <= AT_PEER; end++) {
		const char *name = end == AT_TAP ? TAP : PEER;

		e->tx[end] = packet_socket(name, 0);
		for (int i = 0; i < 3; i++)
			e->rx[end][i] = packet_socket(name, rx_protos[i]);
	}
	/* Nothing of the kernel's own: the ring is empty. */
	check_ring(e, realtime_usec());
}

static int teardown(void **state)
{
	struct env *e = *state;

	for (int i = 0; i < 2; i++) {
		if (e->links[i] >= 0)
			close(e->links[i]);
		if (e->tx[i] >= 0)
			close(e->tx[i]);
		for (int j = 0; j < 3; j++)
			if (e->rx[i][j] >= 0)
				close(e->rx[i][j]);
	}
	if (e->mapped)
		kr_bpfring_unmap(&e->ring);
	kn_bypass__destroy(e->skel);
	if (e->veth && system("ip link del " TAP) != 0)
		print_message("cannot delete " TAP " (it goes with the namespace)\n");
	forget(e);
	return 0;
}

/* Frames of each size class both ways, in turn; tagged frames. */
static void test_capture(void **state)
{
	static const size_t sizes[] = { 14, 60, 255, 256, 257, 1000, 1514, 1536, 1537, 4000, 65000 };
	struct env *e = *state;
	uint64_t t0;

	env_up(e);
	t0 = realtime_usec();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int from = AT_PEER; from >= AT_TAP; from--) {
			size_t n = build(e->f, sizes[i], 0, sizes[i] < 60 ? 0 : 17, O4, S4, 5000,
					 5001, 0, ++e->marker);

			xfer(e, from, n, true);
		}
	check_ring(e, t0);

	/* Tagged: at ingress the kernel holds the outer tag aside (the reader
	 * puts it back, 802.1Q or 802.1ad), at egress it is in the bytes. */
	t0 = realtime_usec();
	for (int tags = 1; tags <= 2; tags++)
		for (size_t len = 100; len <= 4000; len += 3900)
			for (int from = AT_PEER; from >= AT_TAP; from--) {
				size_t n = build(e->f, len, tags, 17, O4, S4, 5000, 5001, 0,
						 ++e->marker);

				xfer(e, from, n, true);
			}
	check_ring(e, t0);
}

/* The flows map: what kernort asked to leave out is not captured, and
 * nothing else. Client C4:40000, server (behind the TAP) S4:80. */
static void test_bypass(void **state)
{
	struct env *e = *state;
	struct kb_key k[2];
	uint64_t t0;

	env_up(e);
	kb_flow_keys(k, 4, C4, S4, 40000, 80);

	/* The control: without the keys the flow's data is captured. */
	t0 = realtime_usec();
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_ACK | TCP_PSH, 0, true);
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_ACK | TCP_PSH, 0, true);
	check_ring(e, t0);

	/* The keys in: its data both ways is left out, and counted. */
	put_keys(e, k);
	t0 = realtime_usec();
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_ACK | TCP_PSH, 0, false);
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_ACK | TCP_PSH, 0, false);
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_ACK, 0, false);
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_ACK, 0, false);
	/* Other flows are captured: another client port, another client. */
	seg(e, AT_TAP, C4, S4, 40001, 80, TCP_ACK | TCP_PSH, 0, true);
	seg(e, AT_PEER, S4, C4, 80, 40001, TCP_ACK | TCP_PSH, 0, true);
	seg(e, AT_TAP, O4, S4, 40000, 80, TCP_ACK | TCP_PSH, 0, true);
	/* Its FIN is captured and leaves the keys; its tagged frames are. */
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_FIN | TCP_ACK, 0, true);
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_FIN | TCP_ACK, 0, true);
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_ACK, 0, false);
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_ACK, 1, true);
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_ACK, 1, true);
	check_ring(e, t0);
	assert_int_equal(flow_hits(e, &k[0]), 3);
	assert_int_equal(flow_hits(e, &k[1]), 2);

	/* A RST from the server is captured and takes both keys out. */
	t0 = realtime_usec();
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_RST, 0, true);
	assert_false(flow_present(e, &k[0]));
	assert_false(flow_present(e, &k[1]));
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_ACK | TCP_PSH, 0, true);
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_ACK | TCP_PSH, 0, true);
	check_ring(e, t0);

	/* So does a SYN from the client (a new connection, same ports). */
	put_keys(e, k);
	t0 = realtime_usec();
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_ACK, 0, false);
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_SYN, 0, true);
	assert_false(flow_present(e, &k[0]));
	assert_false(flow_present(e, &k[1]));
	seg(e, AT_TAP, C4, S4, 40000, 80, TCP_ACK, 0, true);
	seg(e, AT_PEER, S4, C4, 80, 40000, TCP_ACK, 0, true);
	check_ring(e, t0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bypass, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
