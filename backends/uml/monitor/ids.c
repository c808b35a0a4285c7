/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The IDS at the server's port, monitor side (ids.h). The packet socket is
 * made here, as root in the switch's network namespace, because that is
 * the only place the TAP can be found and AF_PACKET needs CAP_NET_RAW;
 * everything that reads what the socket yields, and the rules, runs in
 * soda-kernort without either. So is the flow bypass's socket filter
 * (kernort/bypass.bpf.c): loaded and attached here, its map filled here
 * on kernort's word (kproto.h, struct kp_bypass).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../libsoda/kv.h"
#include "../kernort/bypass.h"
#include "../proto.h"
#include "ids.h"
#include "ids_route.h"

#ifdef SODA_MONITOR_BYPASS
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kn_bypass.skel.h"
#endif

#define SEALED_TYPE 7 /* SODA_BLACKBOX_IDS_ALERT */
#define SNAPSHOT_TYPE 9 /* SODA_BLACKBOX_SNAPSHOT (blackbox.h SU_BB_SNAPSHOT) */
#define LANDLORD_MAX (4 << 20)
#define LOAD_TIMEOUT_MS 60000
#define STATS_TIMEOUT_MS 3000
/* kernort's uid: the server's jail uid moved past every range a context
 * allocates, so it is nobody else's and the guest (which owns its jail
 * uid) can neither signal nor trace it. */
#define KERNORT_UID_OFFSET (1u << 20)
/* kernort's address space: the ring (32 MiB), rule sets compiled from up
 * to 16 MiB of text, flows and streams within the decoder's memcaps. */
#define KERNORT_AS_MAX (4ull << 30)

static struct {
	struct mids_config c;
	int listen_fd;
	int k_fd;          /* kernort's control socket, -1 when off */
	pid_t k_pid;
	int pkt_fd;        /* the capture socket, -1 when off */
#ifdef SODA_MONITOR_BYPASS
	/* The BPF object: with tcx_capture, the capture programs at the TAP
	 * and their ring, for as long as kernort runs; otherwise the socket
	 * filter on the AF_PACKET socket, while the bypass is on. NULL when
	 * neither. */
	struct kn_bypass *bypass;
	int links[2];      /* the tcx links, ingress and egress */
#endif
	bool tcx_capture;  /* kernort reads the BPF ring (kproto.h) */
	uint64_t bypass_packets, bypass_bytes; /* this enable's, of filters since detached */
	uint64_t bypass_map_full;
	struct mids_policy policy;
	char tap[16];      /* NIC 0's TAP, "" when the server has none */
	uint64_t alerts, sealed, landlord, responses, bad_messages;
	bool responded;
} I = { .listen_fd = -1, .k_fd = -1, .pkt_fd = -1,
#ifdef SODA_MONITOR_BYPASS
	.links = { -1, -1 },
#endif
};

static void ilog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ilog(const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (I.c.log)
		I.c.log(buf);
}

int mids_init(const struct mids_config *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	I.c = *cfg;
	for (size_t i = 0; cfg->netdevs && cfg->netdevs[i]; i++) {
		unsigned idx;

		if (sscanf(cfg->netdevs[i], "%u %15s", &idx, I.tap) == 2 && idx == 0)
			break;
		I.tap[0] = '\0';
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", MIDS_SOCK);
	unlink(MIDS_SOCK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(MIDS_SOCK, 0600) < 0 ||
	    listen(fd, 8) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	ev.data.u64 = I.c.ep_tag;
	if (epoll_ctl(I.c.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	I.listen_fd = fd;
	return 0;
}

/* ---- alerts ---- */

static void landlord_append(const char *line)
{
	struct stat st;
	int fd = open(MIDS_LANDLORD_FILE, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		      0600);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > LANDLORD_MAX) {
		close(fd);
		rename(MIDS_LANDLORD_FILE, MIDS_LANDLORD_FILE ".1");
		fd = open(MIDS_LANDLORD_FILE, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd < 0)
			return;
	}
	if (write(fd, line, strlen(line)) < 0) {
		/* a full disk loses the landlord's copy, never the tenant's */
	}
	close(fd);
}

/* ---- the dump response ---- */

/* Copies @src (open) into a new file @name under @dirfd. */
static int dump_copy(int src, int dirfd, const char *name)
{
	int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (out < 0)
		return -errno;
	r = su_copy_fd(src, out);
	if (close(out) < 0 && r == 0)
		r = -errno;
	return r;
}

/* The guest's memory file: the unlinked file linux.uml made in its jail's
 * TMPDIR, still reachable through /proc/PID/fd (as uml.c's dump finds it).
 * Returns an open descriptor or -errno. */
static int memory_fd(int pid)
{
	char dir[64];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char link[320], target[512];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, SU_JAIL_TMP "/", strlen(SU_JAIL_TMP) + 1) == 0 &&
		    strstr(target, "(deleted)")) {
			int fd = open(link, O_RDONLY | O_CLOEXEC);

			closedir(d);
			return fd < 0 ? -errno : fd;
		}
	}
	closedir(d);
	return -ENOENT;
}

/* Freezes the server, copies its disk layer and memory file into
 * STATE/dumps/NAME-ids-TIME/, thaws it, writes the manifest. The copy is
 * bounded (the layer and the memory file only) and made here, in the event
 * loop, while the guest is frozen anyway. @dir gets the directory's path. */
static int ids_dump(const struct kp_alert *a, char *dir, size_t dirlen, char *msg,
		    size_t msglen)
{
	char path[PATH_MAX], stamp[32], sub[128];
	int dumps = -1, dfd = -1, src = -1, mem = -1, held = 0, r;
	uint64_t t0 = 0, frozen_usec = 0;
	time_t now = time(NULL);
	su_buf man = { 0 };
	struct tm tm;

	dir[0] = '\0';
	if (!I.c.state_dir || !I.c.hold) {
		snprintf(msg, msglen, "no state directory");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/dumps", I.c.state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(msg, msglen, "cannot make %.200s: %s", path, strerror(-r));
		return r;
	}
	dumps = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dumps < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open %.200s: %s", path, strerror(-r));
		return r;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(sub, sizeof(sub), "%.64s-ids-%s", I.c.server, stamp);
	snprintf(dir, dirlen, "%.3800s/%s", path, sub);
	if (mkdirat(dumps, sub, 0700) < 0 ||
	    (dfd = openat(dumps, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot make %.200s: %s", dir, strerror(-r));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/servers/%s/disk.cow", I.c.state_dir, I.c.server);
	src = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open %.200s: %s", path, strerror(-r));
		goto out;
	}
	t0 = su_mono_usec();
	held = I.c.hold(true, msg, msglen);
	if (held < 0) {
		r = held;
		goto out;
	}
	r = dump_copy(src, dfd, "disk.cow");
	if (r < 0) {
		snprintf(msg, msglen, "cannot copy the disk layer: %s", strerror(-r));
	} else if ((mem = memory_fd(I.c.guest_pid)) < 0) {
		r = mem;
		snprintf(msg, msglen, "cannot find the guest's memory file: %s", strerror(-r));
	} else if ((r = dump_copy(mem, dfd, "memory")) < 0) {
		snprintf(msg, msglen, "cannot copy the memory file: %s", strerror(-r));
	}
	if (held == 1) {
		char tmsg[160] = "";

		frozen_usec = su_mono_usec() - t0;
		if (I.c.hold(false, tmsg, sizeof(tmsg)) < 0 && r == 0) {
			r = -EIO;
			snprintf(msg, msglen, "thaw after dump: %s", tmsg);
		}
	}
	if (r < 0)
		goto out;
	{
		char rule[48];
		int fd;

		snprintf(rule, sizeof(rule), "%u:%u:%u", a->gid, a->sid, a->rev);
		su_kv_header(&man, "soda-dump", 1);
		su_kv_add(&man, "server", I.c.server);
		su_kv_add_u64(&man, "time-usec", su_now_usec());
		su_kv_add(&man, "trigger", "ids-alert");
		su_kv_add(&man, "rule", rule);
		su_kv_add_u64(&man, "priority", a->priority);
		su_kv_add_u64(&man, "frozen-usec", frozen_usec);
		su_kv_add(&man, "disk", "disk.cow");
		su_kv_add(&man, "memory", "memory");
		fd = openat(dfd, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (man.oom || fd < 0 || write(fd, man.data, man.len) != (ssize_t)man.len ||
		    fsync(fd) < 0)
			r = man.oom ? -ENOMEM : -errno;
		if (fd >= 0)
			close(fd);
		if (r < 0)
			snprintf(msg, msglen, "cannot write the manifest: %s", strerror(-r));
	}
out:
	su_buf_free(&man);
	if (mem >= 0)
		close(mem);
	if (src >= 0)
		close(src);
	if (dfd >= 0)
		close(dfd);
	close(dumps);
	return r;
}

static void on_alert(const char *buf, size_t len)
{
	const struct kp_alert *a = (const void *)buf;
	long eve_len = kp_alert_check(buf, len);
	struct mids_route route;
	char *eve;

	if (eve_len < 0) {
		I.bad_messages++;
		return;
	}
	I.alerts++;
	route = mids_route_alert(&I.policy, a->priority);
	eve = strndup(buf + sizeof(*a), (size_t)eve_len);
	if (!eve)
		return;
	/* EVE text is kernort's; a NUL inside it would cut the record, which
	 * is kernort lying about itself, not about the tenant. */
	if (route.seal && I.c.seal) {
		I.c.seal(SEALED_TYPE, a->sid, eve);
		I.sealed++;
	}
	free(eve);
	if (route.landlord) {
		char line[1200];
		int n = mids_landlord_line(line, sizeof(line) - 1, a, I.c.server);

		if (n > 0) {
			line[n] = '\n';
			line[n + 1] = '\0';
			landlord_append(line);
			I.landlord++;
		}
	}
	if (route.response == MIDS_RESPONSE_FREEZE && !I.responded && I.c.freeze) {
		char msg[200] = "";
		int r = I.c.freeze(msg, sizeof(msg));

		I.responded = true;
		I.responses++;
		ilog("ids: alert %u:%u priority %u: freeze %s%s", a->gid, a->sid, a->priority,
		     r < 0 ? "failed: " : "done", r < 0 ? msg : "");
	}
	if (route.response == MIDS_RESPONSE_DUMP && !I.responded) {
		char msg[300] = "", dir[PATH_MAX], note[PATH_MAX + 200];
		int r = ids_dump(a, dir, sizeof(dir), msg, sizeof(msg));

		I.responded = true;
		I.responses++;
		if (r < 0) {
			ilog("ids: alert %u:%u priority %u: dump failed: %s", a->gid, a->sid,
			     a->priority, msg);
			snprintf(note, sizeof(note),
				 "forensic dump on ids-alert %u:%u priority %u failed: %.300s", a->gid,
				 a->sid, a->priority, msg);
		} else {
			ilog("ids: alert %u:%u priority %u: dump (disk and memory) in %s", a->gid,
			     a->sid, a->priority, dir);
			snprintf(note, sizeof(note),
				 "forensic dump on ids-alert %u:%u priority %u (disk and memory) to %s",
				 a->gid, a->sid, a->priority, dir);
		}
		if (I.c.seal)
			I.c.seal(SNAPSHOT_TYPE, a->sid, note);
	}
}

/* ---- the flow bypass ---- */

#ifdef SODA_MONITOR_BYPASS
/* Adds slot 0 of a per-CPU array map, summed over the CPUs, to @sum: a
 * value of @n 64-bit counters (struct kb_totals, struct kb_capstats). */
static void percpu_sum(const struct bpf_map *map, uint64_t *sum, size_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t zero = 0;
	uint64_t *v;

	if (ncpu <= 0 || ncpu > 4096)
		return;
	v = calloc((size_t)ncpu * n, sizeof(*v));
	if (v && bpf_map__lookup_elem(map, &zero, sizeof(zero), v, (size_t)ncpu * n * sizeof(*v),
				      0) == 0)
		for (size_t i = 0; i < (size_t)ncpu * n; i++)
			sum[i % n] += v[i];
	free(v);
}
#endif

/* What the filter has dropped so far, in all (*packets, *bytes). */
static void bypass_totals(uint64_t *packets, uint64_t *bytes)
{
	*packets = I.bypass_packets;
	*bytes = I.bypass_bytes;
#ifdef SODA_MONITOR_BYPASS
	if (I.bypass) {
		struct kb_totals t = { 0, 0 };

		_Static_assert(sizeof(t) == 2 * sizeof(uint64_t), "kb_totals: two counters");
		percpu_sum(I.bypass->maps.totals, (uint64_t *)&t, 2);
		*packets += t.packets;
		*bytes += t.bytes;
	}
#endif
}

/* The capture's own counters (tcx capture): frames the ring had no room
 * for, and frames cut at KB_SNAP_MAX. */
static void capture_totals(uint64_t *drops, uint64_t *truncated)
{
	*drops = *truncated = 0;
#ifdef SODA_MONITOR_BYPASS
	if (I.bypass && I.tcx_capture) {
		struct kb_capstats c = { 0, 0, 0, 0 };

		_Static_assert(sizeof(c) == 4 * sizeof(uint64_t), "kb_capstats: four counters");
		percpu_sum(I.bypass->maps.capstats, (uint64_t *)&c, 4);
		*drops = c.drops;
		*truncated = c.truncated;
	}
#endif
}

/* Empties the flows map (the tcx capture keeps its programs when the
 * bypass is turned off). */
static void bypass_clear(void)
{
#ifdef SODA_MONITOR_BYPASS
	struct kb_key k;

	if (!I.bypass)
		return;
	while (bpf_map__get_next_key(I.bypass->maps.flows, NULL, &k, sizeof(k)) == 0)
		if (bpf_map__delete_elem(I.bypass->maps.flows, &k, sizeof(k), 0) < 0)
			break;
#endif
}

/* Takes the BPF object away: the tcx links (the kernel detaches the
 * programs), the socket filter, the maps. */
static void bpf_off(void)
{
#ifdef SODA_MONITOR_BYPASS
	if (!I.bypass)
		return;
	bypass_totals(&I.bypass_packets, &I.bypass_bytes);
	for (int i = 0; i < 2; i++)
		if (I.links[i] >= 0) {
			close(I.links[i]);
			I.links[i] = -1;
		}
	if (!I.tcx_capture && I.pkt_fd >= 0)
		setsockopt(I.pkt_fd, SOL_SOCKET, SO_DETACH_BPF, NULL, 0);
	kn_bypass__destroy(I.bypass);
	I.bypass = NULL;
#endif
}

#ifdef SODA_MONITOR_BYPASS
/* The BPF object, opened and loaded; NULL with errno set. */
static struct kn_bypass *bpf_load(void)
{
	struct kn_bypass *o = kn_bypass__open();
	int ncpu = libbpf_num_possible_cpus(), e;

	if (!o)
		return NULL;
	if (ncpu < 1 || bpf_map__set_max_entries(o->maps.scratch, (uint32_t)ncpu) < 0 ||
	    kn_bypass__load(o) < 0) {
		e = errno ? errno : EIO;
		kn_bypass__destroy(o);
		errno = e;
		return NULL;
	}
	return o;
}
#endif

/* Makes the filter match the policy's depth and tells kernort. */
static int bypass_apply(char *err, size_t errlen)
{
	struct kp_config c = { { KP_CONFIG, sizeof(c) }, I.policy.bypass_depth };

	if (!I.policy.bypass_depth) {
		if (I.tcx_capture)
			bypass_clear();
		else
			bpf_off();
	} else if (!I.tcx_capture) {
#ifdef SODA_MONITOR_BYPASS
		if (!I.bypass) {
			int prog;

			I.bypass = bpf_load();
			if (!I.bypass) {
				int e = errno ? -errno : -EIO;

				snprintf(err, errlen, "cannot load the bypass filter: %s", strerror(-e));
				return e;
			}
			prog = bpf_program__fd(I.bypass->progs.kn_bypass);
			if (setsockopt(I.pkt_fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0) {
				int e = -errno;

				kn_bypass__destroy(I.bypass);
				I.bypass = NULL;
				snprintf(err, errlen, "cannot attach the bypass filter: %s",
					 strerror(-e));
				return e;
			}
		}
#else
		snprintf(err, errlen, "this soda-monitor was built without the flow bypass "
				      "(libbpf, clang, bpftool)");
		return -ENOTSUP;
#endif
	}
	if (send(I.k_fd, &c, sizeof(c), MSG_NOSIGNAL) != (ssize_t)sizeof(c)) {
		int e = -errno;

		snprintf(err, errlen, "cannot configure soda-kernort: %s", strerror(-e));
		return e;
	}
	return 0;
}

/* kernort's KP_BYPASS: both directions' entries in or out of the map. */
static void on_bypass(const void *buf, size_t len)
{
	const struct kp_bypass *b = buf;
	struct kb_key k[2];

	if (kp_bypass_check(buf, len) < 0) {
		I.bad_messages++;
		return;
	}
	kb_flow_keys(k, b->family, b->client, b->server, b->client_port, b->server_port);
#ifdef SODA_MONITOR_BYPASS
	if (!I.bypass)
		return; /* turned off meanwhile */
	for (int i = 0; i < 2; i++) {
		uint64_t zero = 0;

		if (b->op == KP_BYPASS_REMOVE)
			bpf_map__delete_elem(I.bypass->maps.flows, &k[i], sizeof(k[i]), 0);
		else if (bpf_map__update_elem(I.bypass->maps.flows, &k[i], sizeof(k[i]), &zero,
					      sizeof(zero), BPF_ANY) < 0)
			I.bypass_map_full++;
	}
#endif
}

static void kernort_gone(const char *why)
{
	struct epoll_event ev;

	if (I.k_fd < 0)
		return;
	ilog("ids: soda-kernort ended (%s)", why);
	/* Not asked for: the tenant's record says the watch stopped (an
	 * ids-alert record with no rule, aux 0). */
	if (strcmp(why, "disabled") != 0 && strcmp(why, "the server ended") != 0 &&
	    strcmp(why, "start failed") != 0 && I.c.seal) {
		char note[160];

		snprintf(note, sizeof(note), "{\"event\":\"port-ids-ended\",\"reason\":\"%s\"}",
			 why);
		I.c.seal(SEALED_TYPE, 0, note);
	}
	epoll_ctl(I.c.epfd, EPOLL_CTL_DEL, I.k_fd, &ev);
	close(I.k_fd);
	I.k_fd = -1;
	bpf_off();
	if (I.pkt_fd >= 0)
		close(I.pkt_fd);
	I.pkt_fd = -1;
	I.tcx_capture = false;
	if (I.k_pid > 0) {
		kill(I.k_pid, SIGKILL);
		/* The monitor's SIGCHLD handler reaps it. */
	}
	I.k_pid = 0;
}

/* Reads one message from kernort into @buf. Returns its length, 0 when
 * kernort is gone, -EAGAIN when nothing is there. */
static long k_recv(char *buf, size_t len)
{
	ssize_t n = recv(I.k_fd, buf, len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : 0;
	return n;
}

/* Takes every message that is there; alerts are handled, anything else
 * is a protocol error outside a request. */
static void on_kernort(void)
{
	char buf[sizeof(struct kp_alert) + KP_EVE_MAX + 16];

	while (I.k_fd >= 0) {
		long n = k_recv(buf, sizeof(buf));

		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			kernort_gone("its socket closed");
			return;
		}
		if ((size_t)n >= sizeof(struct kp_header) &&
		    ((const struct kp_header *)buf)->kind == KP_ALERT)
			on_alert(buf, (size_t)n);
		else if ((size_t)n >= sizeof(struct kp_header) &&
			 ((const struct kp_header *)buf)->kind == KP_BYPASS)
			on_bypass(buf, (size_t)n);
		else
			I.bad_messages++;
	}
}

/* Waits up to @timeout_ms for kernort's message of @kind (handling alerts
 * meanwhile) into @out (@len bytes exactly). Returns 0 or -errno. */
static int k_wait(uint32_t kind, void *out, size_t len, int timeout_ms)
{
	char buf[sizeof(struct kp_alert) + KP_EVE_MAX + 16];
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (I.k_fd >= 0) {
		struct pollfd p = { I.k_fd, POLLIN, 0 };
		long n, left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = k_recv(buf, sizeof(buf));
		if (n == -EAGAIN)
			continue;
		if (n <= 0) {
			kernort_gone("its socket closed");
			return -EPIPE;
		}
		if ((size_t)n < sizeof(struct kp_header)) {
			I.bad_messages++;
			continue;
		}
		if (((const struct kp_header *)buf)->kind == KP_ALERT) {
			on_alert(buf, (size_t)n);
			continue;
		}
		if (((const struct kp_header *)buf)->kind == KP_BYPASS) {
			on_bypass(buf, (size_t)n);
			continue;
		}
		if (((const struct kp_header *)buf)->kind == kind && (size_t)n == len &&
		    ((const struct kp_header *)buf)->len == len) {
			memcpy(out, buf, len);
			return 0;
		}
		I.bad_messages++;
	}
	return -EPIPE;
}

static int send_with_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n_fds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

/* ---- starting kernort ---- */

static int kernort_path(char *buf, size_t len)
{
	const char *env = getenv("SODA_KERNORT");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/soda-kernort", self) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* The packet socket on the TAP: bound last, so that it never sees a frame
 * of another interface. */
static int open_capture(const char *tap, char *err, size_t errlen)
{
	struct tpacket_req3 req = {
		.tp_block_size = KP_BLOCK_SIZE,
		.tp_block_nr = KP_BLOCK_COUNT,
		.tp_frame_size = KP_FRAME_SIZE,
		.tp_frame_nr = (KP_BLOCK_SIZE / KP_FRAME_SIZE) * KP_BLOCK_COUNT,
		.tp_retire_blk_tov = KP_BLOCK_TIMEOUT_MS,
	};
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int version = TPACKET_V3, fd, e;

	sll.sll_ifindex = (int)if_nametoindex(tap);
	if (sll.sll_ifindex == 0) {
		e = -errno;
		snprintf(err, errlen, "no interface %s in the switch's namespace: %s", tap,
			 strerror(-e));
		return e;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		e = -errno;
		snprintf(err, errlen, "packet socket on %s: %s", tap, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	return fd;
}

/* The capture at the TAP's tcx hooks (bypass.bpf.c): the BPF object loaded
 * and its two programs linked, or -errno (no tcx before Linux 6.6: the
 * caller falls back on the packet socket). Returns a descriptor of the
 * ring for kernort. SODA_KERNORT_CAPTURE=packet in the monitor's
 * environment skips it (the tests of the fallback). */
static int open_capture_tcx(const char *tap, char *err, size_t errlen)
{
#ifdef SODA_MONITOR_BYPASS
	static const int types[2] = { 46 /* BPF_TCX_INGRESS */, 47 /* BPF_TCX_EGRESS */ };
	const char *force = getenv("SODA_KERNORT_CAPTURE");
	int ifindex = (int)if_nametoindex(tap), fd, e;

	if (force && strcmp(force, "packet") == 0)
		return -ENOTSUP;
	if (ifindex == 0) {
		e = -errno;
		snprintf(err, errlen, "no interface %s in the switch's namespace: %s", tap,
			 strerror(-e));
		return e;
	}
	I.bypass = bpf_load();
	if (!I.bypass) {
		e = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot load the capture programs: %s", strerror(-e));
		return e;
	}
	I.tcx_capture = true;
	for (int i = 0; i < 2; i++) {
		struct bpf_program *p = i ? I.bypass->progs.kn_capture_out
					  : I.bypass->progs.kn_capture_in;

		I.links[i] = bpf_link_create(bpf_program__fd(p), ifindex,
					     (enum bpf_attach_type)types[i], NULL);
		if (I.links[i] < 0) {
			e = I.links[i];
			I.links[i] = -1;
			snprintf(err, errlen, "cannot attach the capture to %s: %s", tap,
				 strerror(-e));
			goto fail;
		}
	}
	fd = fcntl(bpf_map__fd(I.bypass->maps.ring), F_DUPFD_CLOEXEC, 3);
	if (fd >= 0)
		return fd;
	e = -errno;
	snprintf(err, errlen, "dup: %s", strerror(-e));
fail:
	bpf_off();
	I.tcx_capture = false;
	return e;
#else
	(void)tap;
	snprintf(err, errlen, "built without libbpf");
	return -ENOTSUP;
#endif
}

/* In the child: the jail, then exec. Never returns. */
static void exec_kernort(const char *path, int ctl, int pkt, int rules, int vars)
{
	uid_t uid = I.c.jail_uid + KERNORT_UID_OFFSET;
	struct rlimit nofile = { 16, 16 }, core = { 0, 0 }, nproc = { 0, 0 };
	char *argv[] = { "soda-kernort", I.tcx_capture ? KP_CAPTURE_BPF : NULL, NULL },
	     *envp[] = { NULL };
	sigset_t none;
	int null_fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	/* Above the slots first, then into them. */
	ctl = fcntl(ctl, F_DUPFD, 20);
	pkt = fcntl(pkt, F_DUPFD, 20);
	rules = fcntl(rules, F_DUPFD, 20);
	vars = vars >= 0 ? fcntl(vars, F_DUPFD, 20) : -1;
	null_fd = open("/dev/null", O_RDWR);
	if (ctl < 0 || pkt < 0 || rules < 0 || null_fd < 0 || dup2(null_fd, 0) < 0 ||
	    dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0 || dup2(ctl, KP_FD_CONTROL) < 0 ||
	    dup2(pkt, KP_FD_PACKET) < 0 || dup2(rules, KP_FD_RULES) < 0 ||
	    (vars >= 0 && dup2(vars, KP_FD_VARS) < 0))
		_exit(126);
	for (int fd = vars >= 0 ? KP_FD_VARS + 1 : KP_FD_VARS; fd < 1024; fd++)
		close(fd);
	/* An empty network namespace: the packet socket is its only view of
	 * any network, and it cannot make another. */
	if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		_exit(125);
#if !defined(__SANITIZE_ADDRESS__)
	{
		/* Hostile rules must not compile into all of the host's memory
		 * (the decoder's own tables are bounded by its memcaps). */
		struct rlimit as = { KERNORT_AS_MAX, KERNORT_AS_MAX };

		if (setrlimit(RLIMIT_AS, &as) < 0)
			_exit(123);
	}
#endif
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0 ||
	    setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || setrlimit(RLIMIT_NPROC, &nproc) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(124);
	execve(path, argv, envp);
	_exit(127);
}

static int k_start(int rules, int vars, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct kp_result res;
	char path[PATH_MAX] = "";
	int sp[2], pkt, r, sndbuf = 4 << 20;
	pid_t pid;

	if (!I.tap[0]) {
		snprintf(err, errlen, "server %s has no network interface", I.c.server);
		return -ENODEV;
	}
	r = kernort_path(path, sizeof(path));
	if (r < 0 || access(path, X_OK) < 0) {
		snprintf(err, errlen, "no soda-kernort at %.400s", path);
		return -ENOENT;
	}
	pkt = open_capture_tcx(I.tap, err, errlen);
	if (pkt < 0) {
		if (pkt != -ENOTSUP)
			ilog("ids: %s; a packet socket instead", err);
		pkt = open_capture(I.tap, err, errlen);
	}
	if (pkt < 0)
		return pkt;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		close(pkt);
		bpf_off();
		I.tcx_capture = false;
		snprintf(err, errlen, "socketpair: %s", strerror(-r));
		return r;
	}
	/* Room for a burst of alerts while the monitor is busy; beyond it
	 * kernort counts them as lost. */
	setsockopt(sp[1], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	setsockopt(sp[0], SOL_SOCKET, SO_RCVBUFFORCE, &sndbuf, sizeof(sndbuf));
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pkt);
		bpf_off();
		I.tcx_capture = false;
		close(sp[0]);
		close(sp[1]);
		snprintf(err, errlen, "fork: %s", strerror(-r));
		return r;
	}
	if (pid == 0)
		exec_kernort(path, sp[1], pkt, rules, vars);
	close(sp[1]);
	I.pkt_fd = pkt; /* kept: the bypass filter is attached to it (packet socket) */
	I.bypass_packets = I.bypass_bytes = I.bypass_map_full = 0; /* per enable */
	I.k_fd = sp[0];
	I.k_pid = pid;
	r = k_wait(KP_RESULT, &res, sizeof(res), LOAD_TIMEOUT_MS);
	if (r == 0 && res.code < 0)
		r = res.code;
	if (r < 0) {
		res.message[sizeof(res.message) - 1] = '\0';
		snprintf(err, errlen, "%s", r == res.code ? res.message
					    : r == -EPIPE ? "soda-kernort died while starting"
							  : "soda-kernort did not answer");
		kernort_gone("start failed");
		return r;
	}
	r = bypass_apply(err, errlen);
	if (r < 0) {
		kernort_gone("start failed");
		return r;
	}
	ev.data.u64 = I.c.ep_tag | 1;
	epoll_ctl(I.c.epfd, EPOLL_CTL_ADD, I.k_fd, &ev);
	res.message[sizeof(res.message) - 1] = '\0';
	snprintf(err, errlen, "%u rules%s%s", res.rules, res.message[0] ? "; " : "", res.message);
	ilog("ids: soda-kernort %d on %s (%s): %s", (int)pid, I.tap,
	     I.tcx_capture ? "tcx capture" : "packet socket", err);
	return 0;
}

/* ---- requests ---- */

static const char *const stat_names[KP_ST_MAX] = {
	[KP_ST_PACKETS] = "packets",         [KP_ST_BYTES] = "bytes",
	[KP_ST_DROPS] = "drops",             [KP_ST_FREEZES] = "ring-full",
	[KP_ST_ALERTS] = "alerts",           [KP_ST_ALERTS_LOST] = "alerts-lost",
	[KP_ST_RULES] = "rules",             [KP_ST_RELOADS] = "reloads",
	[KP_ST_FLOWS_ACTIVE] = "flows",      [KP_ST_DECODE_ERRORS] = "decode-errors",
	[KP_ST_BYPASSED_FLOWS] = "bypassed-flows",
};

static int handle(const char *req, const int *fds, size_t n_fds, char *reply, size_t len)
{
	char msg[900] = "";
	int r = 0;

	if (strncmp(req, "enable ", 7) == 0) {
		struct mids_policy p;

		if (mids_policy_parse(&p, req + 7) < 0 || n_fds < 1) {
			r = -EINVAL;
			snprintf(msg, sizeof(msg), "bad enable request");
		} else if (I.k_fd >= 0) {
			r = -EALREADY;
			snprintf(msg, sizeof(msg), "the IDS is on already (reload changes its rules)");
		} else {
			I.policy = p;
			I.responded = false;
			r = k_start(fds[0], n_fds > 1 ? fds[1] : -1, msg, sizeof(msg));
		}
	} else if (strncmp(req, "policy ", 7) == 0) {
		struct mids_policy p;

		if (mids_policy_parse(&p, req + 7) < 0) {
			r = -EINVAL;
			snprintf(msg, sizeof(msg), "bad policy");
		} else {
			I.policy = p;
			I.responded = false;
			if (I.k_fd >= 0)
				r = bypass_apply(msg, sizeof(msg));
		}
	} else if (I.k_fd < 0) {
		r = -ENOTCONN;
		snprintf(msg, sizeof(msg), "the IDS is off");
	} else if (strcmp(req, "disable") == 0) {
		kernort_gone("disabled");
	} else if (strcmp(req, "reload") == 0) {
		struct kp_header h = { KP_RELOAD, sizeof(h) };
		struct kp_result res;

		if (n_fds < 1) {
			r = -EINVAL;
			snprintf(msg, sizeof(msg), "reload without a rule file");
		} else {
			r = send_with_fds(I.k_fd, &h, sizeof(h), fds, n_fds > 1 ? 2 : 1);
			if (r == 0)
				r = k_wait(KP_RESULT, &res, sizeof(res), LOAD_TIMEOUT_MS);
			if (r == 0) {
				res.message[sizeof(res.message) - 1] = '\0';
				r = res.code < 0 ? res.code : 0;
				snprintf(msg, sizeof(msg), "%s", res.message);
				if (r == 0)
					snprintf(msg, sizeof(msg), "%u rules%s%s", res.rules,
						 res.message[0] ? "; " : "", res.message);
			} else {
				snprintf(msg, sizeof(msg), "soda-kernort: %s", strerror(-r));
			}
		}
	} else if (strcmp(req, "stats") == 0) {
		struct kp_header h = { KP_STATS, sizeof(h) };
		struct kp_stats s;
		uint64_t bp, bb, cdrops, ctrunc;
		size_t pos = 0;

		r = send_with_fds(I.k_fd, &h, sizeof(h), NULL, 0);
		if (r == 0)
			r = k_wait(KP_STATS_REPLY, &s, sizeof(s), STATS_TIMEOUT_MS);
		if (r < 0) {
			snprintf(msg, sizeof(msg), "soda-kernort: %s", strerror(-r));
		} else {
			capture_totals(&cdrops, &ctrunc);
			s.v[KP_ST_DROPS] += cdrops;
			for (int i = 0; i < KP_ST_MAX; i++)
				pos += (size_t)snprintf(msg + pos, sizeof(msg) - pos, "%s%s=%llu",
							i ? " " : "", stat_names[i],
							(unsigned long long)s.v[i]);
			bypass_totals(&bp, &bb);
			snprintf(msg + pos, sizeof(msg) - pos,
				 " bypassed-packets=%llu bypassed-bytes=%llu bypass-map-full=%llu"
				 " truncated=%llu capture=%s sealed=%llu landlord=%llu responses=%llu"
				 " bad-messages=%llu pid=%d",
				 (unsigned long long)bp, (unsigned long long)bb,
				 (unsigned long long)I.bypass_map_full, (unsigned long long)ctrunc,
				 I.tcx_capture ? "tcx" : "packet", (unsigned long long)I.sealed,
				 (unsigned long long)I.landlord, (unsigned long long)I.responses,
				 (unsigned long long)I.bad_messages, (int)I.k_pid);
		}
	} else {
		r = -EINVAL;
		snprintf(msg, sizeof(msg), "unknown request '%.40s'", req);
	}
	if (r < 0)
		snprintf(reply, len, "err %d %s", -r, msg[0] ? msg : strerror(-r));
	else
		snprintf(reply, len, "ok%s%s", msg[0] ? " " : "", msg);
	return r;
}

static void on_request(void)
{
	int fd = accept4(I.listen_fd, NULL, NULL, SOCK_CLOEXEC), fds[2] = { -1, -1 };
	char req[256], reply[1000];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct iovec iov = { req, sizeof(req) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct pollfd p;
	size_t n_fds = 0;
	ssize_t n;

	if (fd < 0)
		return;
	p = (struct pollfd){ fd, POLLIN, 0 };
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != 0 ||
	    poll(&p, 1, 1000) <= 0) {
		close(fd);
		return;
	}
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0) {
		close(fd);
		return;
	}
	req[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int tmp[4];

			if (k > 4)
				k = 4;
			memcpy(tmp, CMSG_DATA(c), k * sizeof(int));
			for (size_t i = 0; i < k; i++) {
				if (n_fds < 2)
					fds[n_fds++] = tmp[i];
				else
					close(tmp[i]);
			}
		}
	handle(req, fds, n_fds, reply, sizeof(reply));
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	send(fd, reply, strlen(reply), MSG_NOSIGNAL);
	close(fd);
}

void mids_on_event(uint64_t tag)
{
	if (tag == I.c.ep_tag)
		on_request();
	else if (tag == (I.c.ep_tag | 1))
		on_kernort();
}

void mids_close(void)
{
	if (I.k_fd >= 0) {
		/* Alerts still in the socket go where they belong first. */
		on_kernort();
		kernort_gone("the server ended");
	}
	if (I.listen_fd >= 0) {
		close(I.listen_fd);
		I.listen_fd = -1;
	}
}
