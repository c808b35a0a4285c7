/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The IDS at a server's switch port (include/soda/ids.h), with real
 * guests: a victim and its neighbour on network "lan" in a namespace the
 * test made, the Lion rule set (examples/ids/lion.rules), Lion-like
 * traffic from the neighbour (tests/tools/liongen.c).
 *
 *  - benign DNS raises nothing (negative control); the TSIG overflow over
 *    UDP raises sid 314 in the tenant's blackbox, readable within 100 ms
 *    of the packet's capture time; over TCP sid 303 (flow:established);
 *    the backdoor port and a scan raise theirs;
 *  - the landlord's stream has the metadata (no payload) when the tenant
 *    allows it, and nothing when not;
 *    (frames the test writes: see "the neighbour's traffic"); and from a
 *    real neighbour guest through both TCP stacks (tests/tools/liongen.c):
 *    303 to a real listener, the 60008 backdoor;
 *  - the freeze response freezes the server on a priority-1 alert and not
 *    on a priority-2 one;
 *  - a reload under traffic drops no packet (the capture's counters) and
 *    keeps flow state: a TCP connection made before the reload matches a
 *    flow:established rule after it;
 *  - soda-kernort runs as an unprivileged uid of its own, without
 *    capabilities, with no_new_privs, under seccomp, in a network
 *    namespace that is neither the switch's nor the monitor's.
 */
#include "net_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <soda/blackbox.h>
#include <soda/ids.h>

#define VICTIM_IP "198.51.100.1"
#define NEIGH_IP "198.51.100.2"

static soda_blackbox_key *tenant;
static char vars_path[64], bad_rules_path[64];

static const char *rules_path(void)
{
	return SODA_TEST_SRCDIR "/examples/ids/lion.rules";
}

/* A server on "lan" at @ip with a blackbox for the tenant's key (the
 * neighbour has one too: its console then runs as the victim's does). */
static soda_server *guest_bp(net_env *ne, const char *name, const char *ip, uint32_t landlord,
			     uint32_t response, bool start, uint64_t bypass)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error **err = &ne->env.err;
	uint8_t box[32];

	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_new(&cfg, name, err), *err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 48 << 20, err), *err);
	assert_soda_ok(soda_server_config_add_nic(cfg, "lan", NULL, 0, err), *err);
	assert_soda_ok(soda_server_config_add_nic_address(cfg, 0, ip, err), *err);
	assert_soda_ok(soda_server_config_add_share(cfg, ne->tools, "/tools", SODA_SHARE_READONLY,
						    err),
		       *err);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, err), *err);
	assert_soda_ok(soda_server_config_set_ids_landlord_alerts(cfg, landlord, err), *err);
	assert_soda_ok(soda_server_config_set_ids_response(cfg, response, 1, err), *err);
	assert_soda_ok(soda_server_config_set_ids_bypass(cfg, bypass, err), *err);
	assert_soda_ok(soda_server_define(&srv, ne->env.ctx, cfg, 0, err), *err);
	soda_server_config_free(cfg);
	if (start)
		assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, err), *err);
	return srv;
}

static soda_server *guest(net_env *ne, const char *name, const char *ip, uint32_t landlord,
			  uint32_t response, bool start)
{
	return guest_bp(ne, name, ip, landlord, response, start, 0);
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t stat_of(net_env *ne, soda_server *srv, uint32_t key)
{
	soda_ids_stats *st = NULL;
	uint64_t v = 0;

	assert_soda_ok(soda_server_ids_stats(&st, srv, 0, &ne->env.err), ne->env.err);
	assert_int_equal(soda_ids_stats_get(st, key, &v), 0);
	soda_ids_stats_free(st);
	return v;
}

/* Waits until the IDS has raised at least @n alerts (3 s at most). */
static uint64_t wait_alerts(net_env *ne, soda_server *srv, uint64_t n)
{
	uint64_t v = 0;

	for (int i = 0; i < 300 && (v = stat_of(ne, srv, SODA_IDS_STAT_ALERTS)) < n; i++)
		usleep(10000);
	return v;
}

/* The body of the first ids-alert record holding @needle, or NULL. */
static char *find_record(const char *dir, uint32_t type, const char *needle)
{
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *err = NULL;
	char *found = NULL;

	if (soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &err) < 0) {
		soda_error_free(err);
		return NULL;
	}
	while (!found && soda_blackbox_reader_next(rd, &rec, 0, &err) == 1) {
		size_t n;
		const uint8_t *body = soda_blackbox_record_get_data(rec, &n);

		if (soda_blackbox_record_get_type(rec) == type &&
		    memmem(body, n, needle, strlen(needle)))
			found = strndup((const char *)body, n);
	}
	soda_error_free(err);
	soda_blackbox_reader_close(rd);
	return found;
}

static char *find_alert(const char *dir, const char *needle)
{
	return find_record(dir, SODA_BLACKBOX_IDS_ALERT, needle);
}

/* Polls the store from another thread while the test makes traffic: the
 * time a record is first readable. */
struct watch {
	const char *dir, *needle;
	uint64_t seen_usec;
	char *body;
};

static void *watch_thread(void *arg)
{
	struct watch *w = arg;

	for (uint64_t until = realtime_usec() + 10000000u; realtime_usec() < until;) {
		char *b = find_alert(w->dir, w->needle);

		if (b) {
			w->seen_usec = realtime_usec();
			w->body = b;
			break;
		}
		usleep(2000);
	}
	return NULL;
}

/* EVE's "timestamp":"2026-12-07T04:03:11.123456+0000" in microseconds. */
static uint64_t eve_time(const char *eve)
{
	const char *p = strstr(eve, "\"timestamp\":\"");
	struct tm tm = { 0 };
	unsigned long frac = 0;
	char *end;

	assert_non_null(p);
	end = strptime(p + 13, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_non_null(end);
	if (*end == '.')
		frac = strtoul(end + 1, NULL, 10);
	return (uint64_t)timegm(&tm) * 1000000u + frac;
}

static char *landlord_text(net_env *ne, soda_server *srv)
{
	char *text = calloc(1, 65536);
	int fd = -1;
	ssize_t n;

	assert_non_null(text);
	assert_soda_ok(soda_server_ids_open_alerts(srv, &fd, 0, &ne->env.err), ne->env.err);
	n = read(fd, text, 65535);
	assert_true(n >= 0);
	close(fd);
	return text;
}

/* kill(@pid, SIGKILL) from a child running as @uid: 0 or the errno. */
static int kill_as(uid_t uid, pid_t pid)
{
	pid_t c = fork();
	int status;

	assert_true(c >= 0);
	if (c == 0) {
		if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(100);
		_exit(kill(pid, SIGKILL) == 0 ? 0 : errno);
	}
	assert_int_equal(waitpid(c, &status, 0), c);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 100);
	return WEXITSTATUS(status);
}

static void check_kernort_jail(net_env *ne, soda_server *srv)
{
	uint64_t pid = stat_of(ne, srv, SODA_IDS_STAT_PID);
	char path[64], self_ns[64], k_ns[64], *status;
	soda_server_info *info = NULL;
	unsigned uid = 0;
	ssize_t n;

	assert_true(pid > 0);
	/* The capture it reads (kproto.h, descriptor 4): the BPF ring of the
	 * programs at the TAP's tcx hooks, or with SODA_KERNORT_CAPTURE=packet
	 * (it-portids-packet) the packet socket of kernels without tcx. */
	{
		const char *force = getenv("SODA_KERNORT_CAPTURE");
		char target[64] = "";

		snprintf(path, sizeof(path), "/proc/%llu/fd/4", (unsigned long long)pid);
		assert_true(readlink(path, target, sizeof(target) - 1) > 0);
		assert_non_null(strstr(target, force && strcmp(force, "packet") == 0
							? "socket:"
							: "anon_inode:bpf-map"));
	}
	snprintf(path, sizeof(path), "/proc/%llu/status", (unsigned long long)pid);
	status = th_read_file(path);
	assert_non_null(status);
	assert_non_null(strstr(status, "CapEff:\t0000000000000000"));
	assert_non_null(strstr(status, "CapPrm:\t0000000000000000"));
	assert_non_null(strstr(status, "NoNewPrivs:\t1"));
	assert_non_null(strstr(status, "Seccomp:\t2"));
	assert_int_equal(sscanf(strstr(status, "Uid:\t"), "Uid:\t%u", &uid), 1);
	free(status);
	assert_soda_ok(soda_server_get_info(&info, srv, 0, &ne->env.err), ne->env.err);
	assert_true(uid != 0 && uid != soda_server_info_get_uid(info));
	/* The attack: a process of the guest's uid (what an owned
	 * linux.uml runs as) signals kernort. Refused; the positive control,
	 * the same signal to a process of that uid, is delivered. */
	assert_int_equal(kill_as(soda_server_info_get_uid(info), (pid_t)pid), EPERM);
	{
		pid_t victim_pid = fork();

		assert_true(victim_pid >= 0);
		if (victim_pid == 0) {
			uid_t g = soda_server_info_get_uid(info);

			if (setresgid(g, g, g) < 0 || setresuid(g, g, g) < 0)
				_exit(1);
			pause();
			_exit(0);
		}
		usleep(50000);
		assert_int_equal(kill_as(soda_server_info_get_uid(info), victim_pid), 0);
		waitpid(victim_pid, NULL, 0);
	}
	assert_int_equal(kill((pid_t)pid, 0), 0); /* still there */
	soda_server_info_free(info);
	/* Its own network namespace: neither the switch's nor the test's. */
	snprintf(path, sizeof(path), "/proc/%llu/ns/net", (unsigned long long)pid);
	n = readlink(path, k_ns, sizeof(k_ns) - 1);
	assert_true(n > 0);
	k_ns[n] = '\0';
	n = readlink("/proc/self/ns/net", self_ns, sizeof(self_ns) - 1);
	assert_true(n > 0);
	self_ns[n] = '\0';
	assert_string_not_equal(k_ns, self_ns);
	{
		struct stat a, b;

		assert_int_equal(stat(path, &a), 0);
		assert_int_equal(stat(ne->netns_path, &b), 0);
		assert_false(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	}
}

/* ---- the neighbour's traffic, frame by frame ----
 *
 * The neighbour is a port of its own on the switch (a "fake guest": the
 * test holds its TAP). Its datagrams cross the bridge and the firewall to
 * the victim's port as a guest's would. TCP needs both sides of a
 * handshake and a victim that does not answer with a RST of its own: those
 * frames (both directions) are written onto the victim's TAP from the
 * switch's side, addressed to a MAC no one has, so the IDS sees them (it
 * takes both directions) and the victim's kernel drops them. */
#define NOBODY_MAC "02:00:5e:00:53:99"

struct lane {
	int nfd;          /* the neighbour's TAP */
	int vfd;          /* a packet socket on the victim's TAP */
	char nmac[18], vmac[18];
	uint16_t ip_id;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void mac_bytes(const char *s, uint8_t *out)
{
	unsigned v[6];

	assert_int_equal(sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
			 6);
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)v[i];
}

/* An IPv4 frame with a TCP (@proto 6) or UDP (17) header and @data. */
static size_t frame(uint8_t *f, struct lane *l, bool from_neigh, uint8_t proto, uint16_t sport,
		    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
		    size_t len)
{
	uint8_t *ip = f + 14, *t = f + 34;
	size_t th = proto == 6 ? 20 : 8;
	const char *sip = from_neigh ? NEIGH_IP : VICTIM_IP, *dip = from_neigh ? VICTIM_IP : NEIGH_IP;
	uint32_t s;

	memset(f, 0, 34 + th);
	mac_bytes(from_neigh && proto == 17 ? l->vmac : NOBODY_MAC, f);
	mac_bytes(from_neigh ? l->nmac : l->vmac, f + 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + th + len));
	put16(ip + 4, l->ip_id++);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, sip, ip + 12);
	inet_pton(AF_INET, dip, ip + 16);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
	put16(t, sport);
	put16(t + 2, dport);
	if (proto == 6) {
		put32(t + 4, seq);
		put32(t + 8, ack);
		t[12] = 5 << 4;
		t[13] = flags;
		put16(t + 14, 64240);
	} else {
		put16(t + 4, (uint16_t)(8 + len));
	}
	if (len)
		memcpy(t + th, data, len);
	s = sum16(ip + 12, 8, 0) + proto + (uint32_t)(th + len);
	put16(t + (proto == 6 ? 16 : 6), fold(sum16(t, th + len, s)));
	return 34 + th + len;
}

static void send_frame(struct lane *l, bool from_neigh, uint8_t proto, uint16_t sport,
		       uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
		       size_t len)
{
	uint8_t f[1600];
	size_t n = frame(f, l, from_neigh, proto, sport, dport, seq, ack, flags, data, len);

	if (from_neigh && proto == 17)
		fake_send(l->nfd, f, n);
	else
		assert_int_equal(send(l->vfd, f, n, 0), (ssize_t)n);
}

static void udp_to_victim(struct lane *l, uint16_t dport, const void *data, size_t len)
{
	send_frame(l, true, 17, 40000, dport, 0, 0, 0, data, len);
}

/* A handshake and @data on a TCP connection from the neighbour. Returns
 * the next sequence number of the neighbour's side. */
static uint32_t tcp_open(struct lane *l, uint16_t sport, uint16_t dport, uint32_t iss)
{
	send_frame(l, true, 6, sport, dport, iss, 0, 0x02, NULL, 0);
	send_frame(l, false, 6, dport, sport, 7000, iss + 1, 0x12, NULL, 0);
	send_frame(l, true, 6, sport, dport, iss + 1, 7001, 0x10, NULL, 0);
	return iss + 1;
}

static uint32_t tcp_data(struct lane *l, uint16_t sport, uint16_t dport, uint32_t seq,
			 const void *data, size_t len)
{
	send_frame(l, true, 6, sport, dport, seq, 7001, 0x18, data, len);
	return seq + (uint32_t)len;
}

/* A packet socket on the victim's TAP, made in the switch's namespace:
 * the namespace holds two TAPs, the victim's and the neighbour's. */
static int victim_socket(net_env *ne, const char *neigh_tap)
{
	char *names = ns_out(ne, "ls /sys/class/net"), *save = NULL, tap[16] = "";
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = open(ne->netns_path, O_RDONLY | O_CLOEXEC), fd;

	assert_non_null(names);
	assert_true(own >= 0 && ns >= 0);
	for (char *tok = strtok_r(names, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
		if (strncmp(tok, "st", 2) == 0 && strcmp(tok, neigh_tap) != 0)
			snprintf(tap, sizeof(tap), "%s", tok);
	free(names);
	assert_true(tap[0]);
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	sll.sll_ifindex = (int)if_nametoindex(tap);
	assert_true(fd >= 0 && sll.sll_ifindex > 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	assert_int_equal(setns(own, CLONE_NEWNET), 0);
	close(own);
	close(ns);
	return fd;
}

/* The victim (started) and the neighbour (defined; the test holds its
 * port), the policy letting them talk. */
static soda_server *setup_pair(net_env *ne, struct lane *l, const char *vname, const char *nname,
			       uint32_t landlord, uint32_t response, char ntap[16])
{
	soda_server *v = guest(ne, vname, VICTIM_IP "/24", landlord, response, true);
	soda_server *n = guest(ne, nname, NEIGH_IP "/24", 0, SODA_IDS_RESPONSE_NONE, false);

	memset(l, 0, sizeof(*l));
	server_mac(v, l->vmac);
	server_mac(n, l->nmac);
	soda_server_unref(n);
	net_apply(ne, "allow from any to any\n");
	l->nfd = fake_attach(ne, nname, ntap);
	l->vfd = victim_socket(ne, ntap);
	l->ip_id = 1;
	return v;
}

static const uint8_t tsig_udp[] = {
	0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x01, 0x00, 0x01,
	0x80, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, '?', 0x00, 0x01, 0x02,
	0x90, 0x90, 0x90, 0x90,
};
static const uint8_t tsig_tcp[] = {
	0x00, 0x1f, 0xab, 0xcd, 0x09, 0x80, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x20, 0x20, 0x20, 0x20, 0x02, 'a',
	0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
};
static const uint8_t version_bind[] = {
	0x13, 0x37, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 4, 'b', 'i', 'n', 'd', 0, 0x00, 0x10, 0x00, 0x03,
};
static const uint8_t benign_query[] = {
	0x42, 0x42, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	0x00, 0x01, 0x00, 0x01,
};

/* Datagrams from the neighbour while a reload runs. */
struct flood {
	struct lane *l;
	int count;
	int sent;
};

static void *flood_thread(void *arg)
{
	struct flood *fl = arg;
	uint8_t f[200];
	struct lane copy = *fl->l;

	for (int i = 0; i < fl->count; i++) {
		size_t n = frame(f, &copy, true, 17, 41000, 9999, 0, 0, 0, "soda-portids-load", 17);

		fake_send(copy.nfd, f, n);
		fl->sent++;
		if (i % 50 == 49)
			usleep(1000);
	}
	return NULL;
}

/* The tenant allows landlord alerts; no automatic response. */
static void test_alerts(void **state)
{
	net_env *ne = *state;
	struct lane l;
	char ntap[16];
	soda_server *v = setup_pair(ne, &l, "idsv", "idsn", 1, SODA_IDS_RESPONSE_NONE, ntap);
	struct watch w = { 0 };
	struct flood fl = { &l, 4000, 0 };
	pthread_t th;
	char *dir = NULL, *ll, *eve;
	uint64_t latency, packets_before;
	uint32_t seq;
	int state_now;

	assert_soda_ok(soda_server_ids_enable(v, rules_path(), vars_path, 0, &ne->env.err),
		       ne->env.err);
	assert_int_equal(soda_server_ids_enable(v, rules_path(), vars_path, 0, NULL), -EALREADY);
	check_kernort_jail(ne, v);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_RULES), 9);

	/* Negative control: a benign query is seen and raises nothing. */
	packets_before = stat_of(ne, v, SODA_IDS_STAT_PACKETS);
	udp_to_victim(&l, 53, benign_query, sizeof(benign_query));
	usleep(300000);
	assert_true(stat_of(ne, v, SODA_IDS_STAT_PACKETS) > packets_before);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_ALERTS), 0);

	/* The TSIG overflow over UDP: sealed, readable within 100 ms. */
	assert_soda_ok(soda_server_get_blackbox_dir(&dir, v, &ne->env.err), ne->env.err);
	w.dir = dir;
	w.needle = "\"signature_id\":314";
	assert_int_equal(pthread_create(&th, NULL, watch_thread, &w), 0);
	usleep(20000);
	udp_to_victim(&l, 53, tsig_udp, sizeof(tsig_udp));
	pthread_join(th, NULL);
	assert_non_null(w.body);
	latency = w.seen_usec - eve_time(w.body);
	print_message("sid 314: readable in the tenant's blackbox %.1f ms after capture\n",
		      (double)latency / 1000.0);
	assert_true(latency < 100000);
	free(w.body);

	/* The landlord's metadata: rule, addresses, ports; no payload. */
	ll = landlord_text(ne, v);
	assert_non_null(strstr(ll, "\"sid\":314"));
	assert_non_null(strstr(ll, "\"server\":\"idsv\""));
	assert_non_null(strstr(ll, "\"src_ip\":\"" NEIGH_IP "\""));
	assert_non_null(strstr(ll, "\"dest_port\":53"));
	assert_null(strstr(ll, "payload"));
	assert_null(strstr(ll, "packet"));
	free(ll);

	/* Over TCP (flow:established), the backdoor, a scan. */
	seq = tcp_open(&l, 41001, 53, 1000);
	tcp_data(&l, 41001, 53, seq, tsig_tcp, sizeof(tsig_tcp));
	send_frame(&l, true, 6, 41002, 60008, 5000, 0, 0x02, NULL, 0);
	for (uint16_t port = 1000; port < 1020; port++)
		send_frame(&l, true, 6, 41003, port, 9000, 0, 0x02, NULL, 0);
	wait_alerts(ne, v, 4);
	usleep(100000);
	for (size_t i = 0; i < 3; i++) {
		static const char *const sids[] = { "\"signature_id\":303",
						    "\"signature_id\":2170010",
						    "\"signature_id\":2170002" };

		eve = find_alert(dir, sids[i]);
		if (!eve)
			fail_msg("no alert with %s in the tenant's blackbox", sids[i]);
		free(eve);
	}
	/* The TCP rule needs the handshake: the same bytes without one do
	 * not match (the positive control of the flow test below). */
	packets_before = stat_of(ne, v, SODA_IDS_STAT_ALERTS);
	tcp_data(&l, 41004, 53, 3000, tsig_tcp, sizeof(tsig_tcp));
	usleep(200000);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_ALERTS), packets_before);

	/* Reload under traffic: a connection made before it, its marker
	 * sent after it; a stream of datagrams throughout. */
	seq = tcp_open(&l, 41005, 7000, 20000);
	seq = tcp_data(&l, 41005, 7000, seq, "hello\n", 6);
	packets_before = stat_of(ne, v, SODA_IDS_STAT_PACKETS);
	assert_int_equal(pthread_create(&th, NULL, flood_thread, &fl), 0);
	usleep(10000);
	assert_soda_ok(soda_server_ids_reload(v, rules_path(), vars_path, 0, &ne->env.err),
		       ne->env.err);
	pthread_join(th, NULL);
	tcp_data(&l, 41005, 7000, seq, "LION-FLOW-MARKER\n", 17);
	usleep(300000);
	eve = find_alert(dir, "\"signature_id\":2170090");
	assert_non_null(eve);
	free(eve);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_RELOADS), 1);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_DROPS), 0);
	print_message("reload under %d datagrams: %llu packets seen meanwhile, 0 dropped\n",
		      fl.sent,
		      (unsigned long long)(stat_of(ne, v, SODA_IDS_STAT_PACKETS) - packets_before));
	assert_true(stat_of(ne, v, SODA_IDS_STAT_PACKETS) - packets_before >= (uint64_t)fl.sent + 1);

	/* The same through sodactl. */
	{
		char *argv_stats[] = { SODA_TEST_SODACTL, "--state-dir", ne->env.state_dir,
				       "--netns", ne->env.netns, "ids", "stats", "idsv", "--json",
				       NULL };
		char *argv_alerts[] = { SODA_TEST_SODACTL, "--state-dir", ne->env.state_dir,
					"--netns", ne->env.netns, "ids", "alerts", "idsv", NULL };
		char *out = NULL;

		assert_int_equal(th_run(argv_stats, &out), 0);
		assert_non_null(strstr(out, "\"reloads\":1"));
		assert_non_null(strstr(out, "\"drops\":0"));
		free(out);
		out = NULL;
		assert_int_equal(th_run(argv_alerts, &out), 0);
		assert_non_null(strstr(out, "[314:9] [priority 1] DNS EXPLOIT named tsig overflow "
					    "attempt {UDP} " NEIGH_IP ":40000 -> " VICTIM_IP ":53"));
		free(out);
	}

	/* No response was configured: still running. */
	assert_soda_ok(soda_server_get_state(&state_now, v, &ne->env.err), ne->env.err);
	assert_int_equal(state_now, SODA_STATE_RUNNING);

	/* kernort ending unasked (root kills it here; a crash would do the
	 * same) is written into the tenant's record; the IDS is off and can
	 * be enabled again. */
	kill((pid_t)stat_of(ne, v, SODA_IDS_STAT_PID), SIGKILL);
	for (int i = 0; i < 200 && !(eve = find_alert(dir, "\"event\":\"port-ids-ended\"")); i++)
		usleep(10000);
	assert_non_null(eve);
	free(eve);
	assert_int_equal(soda_server_ids_stats(&(soda_ids_stats *){ NULL }, v, 0, NULL),
			 -ENOTCONN);
	assert_soda_ok(soda_server_ids_enable(v, rules_path(), vars_path, 0, &ne->env.err),
		       ne->env.err);
	assert_soda_ok(soda_server_ids_disable(v, 0, &ne->env.err), ne->env.err);
	assert_int_equal(soda_server_ids_stats(&(soda_ids_stats *){ NULL }, v, 0, NULL),
			 -ENOTCONN);
	close(l.vfd);
	fake_detach(ne, "idsn", ntap, l.nfd);
	free(dir);
	soda_server_unref(v);
}

/* The tenant does not allow landlord alerts; freeze at priority 1. */
static void test_private_and_freeze(void **state)
{
	net_env *ne = *state;
	struct lane l;
	char ntap[16];
	soda_server *v = setup_pair(ne, &l, "idsp", "idsq", 0, SODA_IDS_RESPONSE_FREEZE, ntap);
	char *dir = NULL, *eve, *ll;
	soda_error *err = NULL;
	int st;

	/* A bad rule set: refused with its file, line and column; the IDS
	 * stays off. */
	assert_int_equal(soda_server_ids_enable(v, bad_rules_path, vars_path, 0, &err), -EINVAL);
	print_message("bad rules: %s\n", soda_error_message(err));
	assert_non_null(strstr(soda_error_message(err), bad_rules_path));
	assert_int_equal(soda_error_line(err), 3);
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_server_ids_stats(&(soda_ids_stats *){ NULL }, v, 0, NULL),
			 -ENOTCONN);
	assert_soda_ok(soda_server_ids_enable(v, rules_path(), vars_path, 0, &ne->env.err),
		       ne->env.err);
	assert_soda_ok(soda_server_get_blackbox_dir(&dir, v, &ne->env.err), ne->env.err);
	/* A bad reload keeps the rules in force (the alerts below). */
	assert_int_equal(soda_server_ids_reload(v, bad_rules_path, vars_path, 0, NULL), -EINVAL);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_RULES), 9);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_RELOADS), 0);

	/* version.bind is priority 2: sealed, no freeze. */
	udp_to_victim(&l, 53, version_bind, sizeof(version_bind));
	assert_int_equal(wait_alerts(ne, v, 1), 1);
	usleep(100000);
	eve = find_alert(dir, "\"signature_id\":2170001");
	assert_non_null(eve);
	free(eve);
	assert_soda_ok(soda_server_get_state(&st, v, &ne->env.err), ne->env.err);
	assert_int_equal(st, SODA_STATE_RUNNING);

	/* The TSIG overflow is priority 1: frozen. */
	udp_to_victim(&l, 53, tsig_udp, sizeof(tsig_udp));
	assert_soda_ok(soda_server_wait_state(v, SODA_STATE_PAUSED, 3000, 0, &ne->env.err),
		       ne->env.err);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_RESPONSES), 1);
	usleep(100000);
	eve = find_alert(dir, "\"signature_id\":314");
	assert_non_null(eve);
	free(eve);

	/* Nothing reached the landlord. */
	ll = landlord_text(ne, v);
	assert_string_equal(ll, "");
	free(ll);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_LANDLORD), 0);
	close(l.vfd);
	fake_detach(ne, "idsq", ntap, l.nfd);
	free(dir);
	soda_server_unref(v);
}

/* The path of the one entry of STATE/dumps starting with @prefix, or NULL
 * (none there). */
static char *dump_dir(net_env *ne, const char *prefix)
{
	char path[600], *found = NULL;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/dumps", ne->env.state_dir);
	d = opendir(path);
	if (!d)
		return NULL;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			assert_null(found);
			found = malloc(strlen(path) + strlen(de->d_name) + 2);
			assert_non_null(found);
			sprintf(found, "%s/%s", path, de->d_name);
		}
	closedir(d);
	return found;
}

/* dump:1: a priority-2 alert takes no dump; the priority-1 alert takes one
 * (the disk layer, the memory file, a manifest naming the server) into
 * STATE/dumps/NAME-ids-TIME/, and the server runs on afterwards. */
static void test_dump(void **state)
{
	net_env *ne = *state;
	struct lane l;
	char ntap[16], path[700];
	soda_server *v = setup_pair(ne, &l, "idsd", "idse", 0, SODA_IDS_RESPONSE_DUMP, ntap);
	char *dir = NULL, *eve, *ddir = NULL, *man = NULL;
	struct stat sb;
	int st;

	assert_soda_ok(soda_server_ids_enable(v, rules_path(), vars_path, 0, &ne->env.err),
		       ne->env.err);
	assert_soda_ok(soda_server_get_blackbox_dir(&dir, v, &ne->env.err), ne->env.err);

	/* version.bind is priority 2: sealed, no dump. */
	udp_to_victim(&l, 53, version_bind, sizeof(version_bind));
	assert_int_equal(wait_alerts(ne, v, 1), 1);
	usleep(200000);
	assert_null(dump_dir(ne, "idsd-ids-"));
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_RESPONSES), 0);

	/* The TSIG overflow is priority 1: dumped, and running afterwards. */
	udp_to_victim(&l, 53, tsig_udp, sizeof(tsig_udp));
	assert_int_equal(wait_alerts(ne, v, 2), 2);
	for (int i = 0; i < 100 && stat_of(ne, v, SODA_IDS_STAT_RESPONSES) < 1; i++)
		usleep(50000);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_RESPONSES), 1);
	ddir = dump_dir(ne, "idsd-ids-");
	assert_non_null(ddir);
	print_message("dump in %s\n", ddir);
	assert_int_equal(stat(ddir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/disk.cow", ddir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > 0);
	snprintf(path, sizeof(path), "%s/memory", ddir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size >= (48 << 20));
	snprintf(path, sizeof(path), "%s/manifest", ddir);
	{
		FILE *f = fopen(path, "re");
		size_t n;

		assert_non_null(f);
		man = calloc(1, 65536);
		assert_non_null(man);
		n = fread(man, 1, 65535, f);
		fclose(f);
		assert_true(n > 0);
	}
	assert_non_null(strstr(man, "soda-dump"));
	assert_non_null(strstr(man, "server idsd\n"));
	assert_non_null(strstr(man, "trigger ids-alert\nrule 1:314:"));
	assert_non_null(strstr(man, "priority 1\n"));
	print_message("manifest frozen-usec %lld\n",
		      strstr(man, "frozen-usec ") ? atoll(strstr(man, "frozen-usec ") + 12) : -1LL);
	assert_soda_ok(soda_server_get_state(&st, v, &ne->env.err), ne->env.err);
	assert_int_equal(st, SODA_STATE_RUNNING);
	eve = find_alert(dir, "\"signature_id\":314");
	assert_non_null(eve);
	free(eve);
	/* The tenant's blackbox says where the dump is. */
	eve = find_record(dir, SODA_BLACKBOX_SNAPSHOT, ddir);
	assert_non_null(eve);
	print_message("sealed: %s\n", eve);
	assert_non_null(strstr(eve, "forensic dump on ids-alert 1:314 priority 1"));
	free(eve);

	close(l.vfd);
	fake_detach(ne, "idse", ntap, l.nfd);
	free(man);
	free(ddir);
	free(dir);
	soda_server_unref(v);
}

/* The same attack from a real neighbour guest, through both guests' TCP
 * stacks (tests/tools/liongen.c): the TSIG overflow over TCP to a real
 * listener, and a connection to the 60008 backdoor. */
static void test_real_neighbour(void **state)
{
	net_env *ne = *state;
	soda_server *v = guest(ne, "idsr", VICTIM_IP "/24", 0, SODA_IDS_RESPONSE_NONE, true);
	soda_server *n = net_guest(ne, "idss", NEIGH_IP "/24", NULL);
	char *dir = NULL, *eve = NULL, *out = NULL;

	net_apply(ne, "allow from any to any\n");
	assert_int_equal(guest_sh(v, NULL, "(/tools/liongen serve 53 60 >/dev/null 2>&1 &); sleep 0.2"),
			 0);
	assert_soda_ok(soda_server_ids_enable(v, rules_path(), vars_path, 0, &ne->env.err),
		       ne->env.err);
	assert_soda_ok(soda_server_get_blackbox_dir(&dir, v, &ne->env.err), ne->env.err);
	assert_int_equal(guest_sh(n, &out, "/tools/liongen tsig-tcp " VICTIM_IP), 0);
	assert_non_null(strstr(out, "sent_usec="));
	free(out);
	assert_int_equal(guest_sh(n, NULL, "/tools/liongen backdoor " VICTIM_IP " 60008"), 0);
	wait_alerts(ne, v, 2);
	for (int i = 0; i < 100 && !(eve = find_alert(dir, "\"signature_id\":303")); i++)
		usleep(10000);
	assert_non_null(eve);
	free(eve);
	for (int i = 0; i < 100 && !(eve = find_alert(dir, "\"signature_id\":2170010")); i++)
		usleep(10000);
	assert_non_null(eve);
	free(eve);
	free(dir);
	soda_server_unref(v);
	soda_server_unref(n);
}

/* The flow bypass (soda_server_config_set_ids_bypass) trades what a long
 * TCP flow carries past the depth for the guest's CPU: the TSIG overflow
 * sent after 1 MB of filler on one connection raises sid 303 with the
 * bypass off (the control) and nothing with it at 64 KiB, where the
 * kernel's filter kept most of the connection from the IDS; a new
 * connection is inspected again (303 on it). */
#define LATE_FILLER 1000000
#define VICTIM2_IP "198.51.100.3"

static void late_tsig(soda_server *v, const char *ip, soda_server *n, const char *dir,
		      bool alerts)
{
	char *out = NULL, *eve = NULL;

	assert_int_equal(guest_sh(v, NULL, "(/tools/liongen serve 53 60 >/dev/null 2>&1 &); sleep 0.2"),
			 0);
	if (guest_sh(n, &out, "/tools/liongen tsig-tcp-late %s %d 2>&1", ip, LATE_FILLER) != 0 ||
	    !strstr(out, "sent_usec="))
		fail_msg("liongen tsig-tcp-late: %s", out ? out : "(no output)");
	free(out);
	for (int i = 0; i < 100 && !(eve = find_alert(dir, "\"signature_id\":303")); i++)
		usleep(alerts ? 10000 : 20000);
	if (alerts)
		assert_non_null(eve);
	else if (eve)
		fail_msg("sid 303 past the bypass depth: %s", eve);
	free(eve);
}

static void test_bypass(void **state)
{
	net_env *ne = *state;
	soda_server *c = guest(ne, "idsc", VICTIM_IP "/24", 0, SODA_IDS_RESPONSE_NONE, true);
	soda_server *v = guest_bp(ne, "idsv", VICTIM2_IP "/24", 0, SODA_IDS_RESPONSE_NONE, true,
				  65536);
	soda_server *n = net_guest(ne, "idsn", NEIGH_IP "/24", NULL);
	char *dir = NULL, *eve = NULL, *out = NULL, vars2[96];
	FILE *f;

	snprintf(vars2, sizeof(vars2), "%s.2", vars_path);
	f = fopen(vars2, "w");
	assert_non_null(f);
	fprintf(f, "HOME_NET [%s,%s]\n", VICTIM_IP, VICTIM2_IP);
	fclose(f);
	net_apply(ne, "allow from any to any\n");
	/* The control: no bypass, every byte inspected. */
	assert_soda_ok(soda_server_ids_enable(c, rules_path(), vars2, 0, &ne->env.err),
		       ne->env.err);
	assert_soda_ok(soda_server_get_blackbox_dir(&dir, c, &ne->env.err), ne->env.err);
	late_tsig(c, VICTIM_IP, n, dir, true);
	assert_int_equal(stat_of(ne, c, SODA_IDS_STAT_BYPASSED_FLOWS), 0);
	assert_int_equal(stat_of(ne, c, SODA_IDS_STAT_BYPASSED_PACKETS), 0);
	assert_true(stat_of(ne, c, SODA_IDS_STAT_BYTES) > LATE_FILLER);
	free(dir);
	dir = NULL;

	/* The bypass at 64 KiB. */
	assert_soda_ok(soda_server_ids_enable(v, rules_path(), vars2, 0, &ne->env.err),
		       ne->env.err);
	assert_soda_ok(soda_server_get_blackbox_dir(&dir, v, &ne->env.err), ne->env.err);
	late_tsig(v, VICTIM2_IP, n, dir, false);
	assert_int_equal(stat_of(ne, v, SODA_IDS_STAT_BYPASSED_FLOWS), 1);
	assert_true(stat_of(ne, v, SODA_IDS_STAT_BYPASSED_PACKETS) > 100);
	assert_true(stat_of(ne, v, SODA_IDS_STAT_BYPASSED_BYTES) > LATE_FILLER / 2);
	assert_true(stat_of(ne, v, SODA_IDS_STAT_BYTES) < LATE_FILLER / 2);
	/* Other flows are still inspected. */
	assert_int_equal(guest_sh(n, &out, "/tools/liongen tsig-tcp " VICTIM2_IP), 0);
	free(out);
	for (int i = 0; i < 100 && !(eve = find_alert(dir, "\"signature_id\":303")); i++)
		usleep(10000);
	assert_non_null(eve);
	free(eve);
	free(dir);
	unlink(vars2);
	soda_server_unref(c);
	soda_server_unref(v);
	soda_server_unref(n);
}

static int group_setup(void **state)
{
	FILE *f;

	th_require_root();
	if (soda_blackbox_key_generate(&tenant, SODA_BLACKBOX_KEY_TENANT, 0, NULL) < 0)
		return -1;
	snprintf(vars_path, sizeof(vars_path), "/tmp/soda-it-portids-%d.vars", (int)getpid());
	f = fopen(vars_path, "w");
	if (!f)
		return -1;
	fprintf(f, "HOME_NET %s\n", VICTIM_IP);
	fclose(f);
	snprintf(bad_rules_path, sizeof(bad_rules_path), "/tmp/soda-it-portids-%d.rules",
		 (int)getpid());
	f = fopen(bad_rules_path, "w");
	if (!f)
		return -1;
	fprintf(f, "# line 1\nalert udp any any -> any 53 (msg:\"ok\"; sid:1;)\n"
		   "alert tcp any any -> any any (msg:\"bad\"; content:\"x\"; depth:abc; sid:2;)\n");
	fclose(f);
	(void)state;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(vars_path);
	unlink(bad_rules_path);
	soda_blackbox_key_free(tenant);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alerts, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_private_and_freeze, net_env_setup,
						net_env_teardown),
		cmocka_unit_test_setup_teardown(test_dump, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_real_neighbour, net_env_setup, net_env_teardown),
		cmocka_unit_test_setup_teardown(test_bypass, net_env_setup, net_env_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
