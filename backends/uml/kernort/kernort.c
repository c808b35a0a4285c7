/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-kernort: Kernort at a server's switch port.
 *
 * Started by the server's soda-monitor (never by hand), already jailed: an
 * unprivileged uid of its own, no capabilities, an empty network
 * namespace, no_new_privs. It gets the capture of the server's TAP in the
 * switch's namespace, both directions: the BPF ring buffer the monitor's
 * programs at the TAP's tcx hooks fill (argv[1] KP_CAPTURE_BPF; ring.h,
 * kr_bpfring), or on kernels without tcx an AF_PACKET socket the monitor
 * bound to the TAP (a TPACKET_V3 ring); the rule file and the variables
 * file as open descriptors, and a control socket (kproto.h). Before it
 * reads a byte of
 * the rules it makes itself undumpable and installs a seccomp filter that
 * leaves it reading and writing descriptors it holds and managing memory:
 * no open, socket, connect, exec, kill or ptrace. Rules and packets are
 * hostile; what a bug in their parsers could do stays in here.
 *
 * The loop: poll the ring and the control socket, walk what the kernel
 * handed over (decode, detect, one KP_ALERT per alert), give it back.
 * With the flow bypass on (kproto.h, struct kp_config), a TCP
 * flow whose stream passes the depth in either direction is handed to the
 * monitor for the kernel's programs to leave out, and taken back when it ends
 * here. A reload builds the new ruleset and detector first and then
 * swaps the pointers: the decoder (flows, TCP streams, flowbits) and the
 * ring stay as they are, and a failed reload keeps the old rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bypass.h"
#include "decode.h"
#include "detect.h"
#include "kproto.h"
#include "ring.h"
#include "util.h"

struct kernort {
	int ctl, pkt;
	bool bpf;            /* the capture is the BPF ring at the TAP (kproto.h) */
	struct kr_bpfring bring;
	uint8_t *ring;
	size_t block;        /* the next block to read */
	kn_decoder *dec;
	kn_ruleset *rs;
	kn_detector *det;
	uint64_t now_usec;   /* when the current block was taken */
	uint64_t bypass_depth; /* 0: no flow bypass */
	uint64_t st[KP_ST_MAX];
	char warnings[400];
};

static struct kernort K;

#if defined(__SANITIZE_ADDRESS__)
/* In sanitizer builds: LeakSanitizer's check at exit stops the world with
 * clone and ptrace, which the filter (rightly) kills. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the sandbox ---- */

static const int allowed[] = {
	__NR_read, __NR_write, __NR_readv, __NR_writev, __NR_poll, __NR_ppoll,
	__NR_recvmsg, __NR_sendmsg, __NR_sendto, __NR_recvfrom, __NR_getsockopt,
	__NR_close, __NR_mmap, __NR_munmap, __NR_mremap, __NR_mprotect, __NR_brk,
	__NR_madvise, __NR_futex, __NR_clock_gettime, __NR_gettimeofday, __NR_exit,
	__NR_exit_group, __NR_rt_sigreturn, __NR_rt_sigprocmask, __NR_getpid, __NR_gettid,
	__NR_getrandom, __NR_fstat, __NR_lseek, __NR_sched_yield, __NR_restart_syscall,
};

static int sandbox(void)
{
	const size_t n = sizeof(allowed) / sizeof(allowed[0]);
	struct sock_filter f[4 + 2 * (sizeof(allowed) / sizeof(allowed[0])) + 1];
	struct sock_fprog prog = { .filter = f };
	size_t k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < n; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (uint32_t)allowed[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog.len = (unsigned short)k;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

/* ---- rules ---- */

static int read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *nb;

			if (cap >= max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > max ? max : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* The variables file, as kn_vars_load() reads one ("NAME VALUE", "NAME:
 * VALUE", a suricata.yaml vars block), from text: the sandbox opens no
 * path. */
static int vars_from_text(kn_vars *v, char *text, soda_error **error)
{
	uint32_t lineno = 0;

	for (char *p = text; p;) {
		char *nl = strchr(p, '\n'), *line = p, *sep, *name, *value;
		size_t len;
		int r;

		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
		lineno++;
		line = trim(line);
		if (!*line || *line == '#' || *line == '%' || strcmp(line, "---") == 0)
			continue;
		sep = line + strcspn(line, ":= \t");
		if (!*sep)
			return su_errorf(error, -EINVAL, "vars:%u: no value for '%.60s'", lineno, line);
		value = sep + 1;
		*sep = '\0';
		name = trim(line);
		value = trim(value);
		if (*value == ':' || *value == '=')
			value = trim(value + 1);
		if (!*value)
			continue;
		len = strlen(value);
		if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
			value[len - 1] = '\0';
			value++;
		}
		r = kn_vars_set(v, name, value, error);
		if (r < 0)
			return r;
	}
	return 0;
}

static void on_warn(void *userdata, const char *message)
{
	size_t have = strlen(K.warnings);

	(void)userdata;
	if (have + strlen(message) + 2 < sizeof(K.warnings))
		snprintf(K.warnings + have, sizeof(K.warnings) - have, "%s%s", have ? "; " : "",
			 message);
}

/* Builds a ruleset and a detector from the two descriptors (closes them). */
static int load(int rules_fd, int vars_fd, kn_ruleset **ret_rs, kn_detector **ret_det,
		soda_error **error)
{
	char *rules = NULL, *vars_text = NULL;
	size_t rules_len = 0, vars_len = 0;
	kn_vars *vars = NULL;
	int r;

	K.warnings[0] = '\0';
	r = read_fd(rules_fd, KP_RULES_MAX, &rules, &rules_len);
	if (r < 0) {
		su_errorf(error, r, "cannot read the rule file: %s", strerror(-r));
		goto out;
	}
	if (vars_fd >= 0) {
		r = read_fd(vars_fd, KP_VARS_MAX, &vars_text, &vars_len);
		if (r < 0) {
			su_errorf(error, r, "cannot read the variables file: %s", strerror(-r));
			goto out;
		}
	}
	r = kn_vars_new(&vars);
	if (r < 0) {
		su_errorf(error, r, "out of memory");
		goto out;
	}
	if (vars_text && (r = vars_from_text(vars, vars_text, error)) < 0)
		goto out;
	r = kn_ruleset_load_text(ret_rs, "rules", rules, rules_len, vars,
				 KN_LOAD_SKIP_UNSUPPORTED, on_warn, NULL, error);
	if (r < 0)
		goto out;
	r = kn_detector_new(ret_det, *ret_rs, error);
	if (r < 0) {
		kn_ruleset_free(*ret_rs);
		*ret_rs = NULL;
	}
out:
	kn_vars_free(vars);
	free(rules);
	free(vars_text);
	if (rules_fd >= 0)
		close(rules_fd);
	if (vars_fd >= 0)
		close(vars_fd);
	return r;
}

static void send_result(int code, const char *message)
{
	struct kp_result m;

	memset(&m, 0, sizeof(m));
	m.h.kind = KP_RESULT;
	m.h.len = sizeof(m);
	m.code = code;
	m.rules = K.rs ? (uint32_t)kn_ruleset_count(K.rs) : 0;
	snprintf(m.message, sizeof(m.message), "%s", message ? message : "");
	send(K.ctl, &m, sizeof(m), MSG_NOSIGNAL);
}

/* ---- packets ---- */

static void on_alert(void *userdata, const struct kn_alert *alert, const struct kn_packet *p)
{
	struct {
		struct kp_alert a;
		char eve[KP_EVE_MAX];
	} m;
	char *line = NULL;
	size_t eve_len = 0;

	(void)userdata;
	if (alert->action != KN_ACTION_ALERT)
		return;
	K.st[KP_ST_ALERTS]++;
	memset(&m.a, 0, sizeof(m.a));
	m.a.h.kind = KP_ALERT;
	m.a.ts_usec = p->ts_usec;
	m.a.recv_usec = K.now_usec;
	m.a.gid = alert->gid;
	m.a.sid = alert->sid;
	m.a.rev = alert->rev;
	m.a.priority = alert->priority;
	m.a.family = p->family;
	m.a.proto = p->ip_proto;
	m.a.sport = p->sport;
	m.a.dport = p->dport;
	memcpy(m.a.src, p->src, sizeof(m.a.src));
	memcpy(m.a.dst, p->dst, sizeof(m.a.dst));
	snprintf(m.a.msg, sizeof(m.a.msg), "%s", alert->msg ? alert->msg : "");
	if (kn_eve_alert(&line, alert, p) == 0 && line) {
		eve_len = strlen(line);
		if (eve_len > KP_EVE_MAX)
			eve_len = 0; /* a record without its EVE line beats a cut one */
		memcpy(m.eve, line, eve_len);
	}
	free(line);
	m.a.h.len = (uint32_t)(sizeof(m.a) + eve_len);
	if (send(K.ctl, &m, m.a.h.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		K.st[KP_ST_ALERTS_LOST]++;
}

/* ---- the flow bypass ---- */

#define FLOW_BYPASSED 1u

static bool bypass_send(uint32_t op, const struct kn_flow_tuple *t)
{
	struct kp_bypass m;

	memset(&m, 0, sizeof(m));
	m.h.kind = KP_BYPASS;
	m.h.len = sizeof(m);
	m.op = op;
	m.family = t->family;
	m.proto = t->proto;
	m.client_port = t->client_port;
	m.server_port = t->server_port;
	memcpy(m.client, t->client, sizeof(m.client));
	memcpy(m.server, t->server, sizeof(m.server));
	return send(K.ctl, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(m);
}

/* After detection: a TCP flow whose stream in this packet's direction has
 * reached the depth is bypassed. Not flows with VLAN tags (the kernel's
 * filter reads untagged frames only) nor before the handshake. */
static void maybe_bypass(const struct kn_packet *p)
{
	struct kn_flow_tuple t;

	if (!K.bypass_depth || !p->flow || (p->flow->app_flags & FLOW_BYPASSED) ||
	    p->ip_proto != KN_IPPROTO_TCP || !p->established || !p->stream || p->vlan[0] ||
	    p->stream_off + p->stream_len < K.bypass_depth)
		return;
	memset(&t, 0, sizeof(t));
	t.family = p->family;
	t.proto = p->ip_proto;
	memcpy(t.client, p->to_server ? p->src : p->dst, sizeof(t.client));
	memcpy(t.server, p->to_server ? p->dst : p->src, sizeof(t.server));
	t.client_port = p->to_server ? p->sport : p->dport;
	t.server_port = p->to_server ? p->dport : p->sport;
	/* A full control socket: try again on the flow's next packet. */
	if (bypass_send(KP_BYPASS_ADD, &t)) {
		p->flow->app_flags |= FLOW_BYPASSED;
		K.st[KP_ST_BYPASSED_FLOWS]++;
	}
}

/* The decoder ends a flow this process bypassed. */
static void on_flow_end(void *userdata, const struct kn_flow *flow, const struct kn_flow_tuple *t)
{
	(void)userdata;
	if (flow->app_flags & FLOW_BYPASSED)
		bypass_send(KP_BYPASS_REMOVE, t);
}

static void on_packet(void *userdata, struct kn_packet *p)
{
	(void)userdata;
	kn_detect(K.det, p, on_alert, NULL);
	maybe_bypass(p);
}

static void on_frame(void *userdata, const uint8_t *frame, size_t caplen, uint64_t ts_usec)
{
	(void)userdata;
	K.st[KP_ST_PACKETS]++;
	K.st[KP_ST_BYTES] += caplen;
	kn_decode(K.dec, KN_LINK_ETHERNET, ts_usec, 0, frame, caplen, on_packet, NULL);
}

static void drain_ring(void)
{
	if (K.bpf) {
		struct timespec mono, real;
		int n;

		clock_gettime(CLOCK_MONOTONIC, &mono);
		clock_gettime(CLOCK_REALTIME, &real);
		K.now_usec = (uint64_t)real.tv_sec * 1000000u + (uint64_t)real.tv_nsec / 1000u;
		n = kr_bpfring_drain(&K.bring,
				     ((int64_t)real.tv_sec - mono.tv_sec) * 1000000000 +
					     (real.tv_nsec - mono.tv_nsec),
				     on_frame, NULL);
		if (n < 0)
			K.st[KP_ST_DECODE_ERRORS]++;
		return;
	}
	for (;;) {
		uint8_t *b = K.ring + K.block * KP_BLOCK_SIZE;

		if (!kr_block_ready(b))
			return;
		K.now_usec = realtime_usec();
		kr_block_walk(b, KP_BLOCK_SIZE, on_frame, NULL);
		kr_block_release(b);
		K.block = (K.block + 1) % KP_BLOCK_COUNT;
	}
}

static void update_kernel_stats(void)
{
	struct tpacket_stats_v3 s;
	socklen_t len = sizeof(s);

	/* The kernel resets its counters on every read: add them up. With
	 * the BPF ring, the monitor reads the capture's own counters. */
	if (!K.bpf && getsockopt(K.pkt, SOL_PACKET, PACKET_STATISTICS, &s, &len) == 0) {
		K.st[KP_ST_DROPS] += s.tp_drops;
		K.st[KP_ST_FREEZES] += s.tp_freeze_q_cnt;
	}
}

/* ---- control ---- */

static int on_control(void)
{
	union {
		struct kp_header h;
		char buf[64];
	} m;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	int fds[2] = { -1, -1 };
	ssize_t n = recvmsg(K.ctl, &msg, MSG_CMSG_CLOEXEC);

	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds, CMSG_DATA(c), (k > 2 ? 2 : k) * sizeof(int));
		}
	if ((size_t)n < sizeof(m.h))
		goto out;
	if (m.h.kind == KP_CONFIG) {
		struct kp_config c;

		if ((size_t)n == sizeof(c) && m.h.len == sizeof(c)) {
			memcpy(&c, &m, sizeof(c));
			K.bypass_depth = c.bypass_depth;
		}
	} else if (m.h.kind == KP_STATS) {
		struct kp_stats s = { .h = { KP_STATS_REPLY, sizeof(s) } };
		struct kn_decode_stats ds;

		update_kernel_stats();
		kn_decoder_stats(K.dec, &ds);
		K.st[KP_ST_RULES] = K.rs ? kn_ruleset_count(K.rs) : 0;
		K.st[KP_ST_FLOWS_ACTIVE] = ds.flows_active;
		K.st[KP_ST_DECODE_ERRORS] = ds.decode_errors;
		memcpy(s.v, K.st, sizeof(s.v));
		send(K.ctl, &s, sizeof(s), MSG_NOSIGNAL);
	} else if (m.h.kind == KP_RELOAD) {
		kn_ruleset *rs = NULL;
		kn_detector *det = NULL;
		soda_error *e = NULL;
		int r;

		if (fds[0] < 0) {
			send_result(-EINVAL, "reload without a rule file");
			goto out;
		}
		/* Packets wait in the ring meanwhile (32 MiB of it). */
		r = load(fds[0], fds[1], &rs, &det, &e);
		fds[0] = fds[1] = -1;
		if (r < 0) {
			send_result(r, soda_error_message(e));
			soda_error_free(e);
			goto out;
		}
		kn_detector_free(K.det);
		kn_ruleset_free(K.rs);
		K.det = det;
		K.rs = rs;
		K.st[KP_ST_RELOADS]++;
		send_result(0, K.warnings);
	}
out:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

int main(int argc, char **argv)
{
	struct kn_decode_config cfg;
	soda_error *e = NULL;
	int r, vars_fd;

	if (argc == 2 && strcmp(argv[1], KP_CAPTURE_BPF) == 0)
		K.bpf = true;
	else if (argc != 1)
		argc = 0;
	if (argc < 1 || fcntl(KP_FD_CONTROL, F_GETFD) < 0 || fcntl(KP_FD_PACKET, F_GETFD) < 0) {
		fprintf(stderr, "soda-kernort is started by soda-monitor; it is not meant to be "
				"run by hand.\n");
		return 2;
	}
	K.ctl = KP_FD_CONTROL;
	K.pkt = KP_FD_PACKET;
	vars_fd = fcntl(KP_FD_VARS, F_GETFD) < 0 ? -1 : KP_FD_VARS;
	if (K.bpf) {
		r = kr_bpfring_map(&K.bring, K.pkt, KB_RING_SIZE);
		if (r < 0) {
			send_result(r, "cannot map the capture ring");
			return 1;
		}
	} else {
		K.ring = mmap(NULL, (size_t)KP_BLOCK_SIZE * KP_BLOCK_COUNT, PROT_READ | PROT_WRITE,
			      MAP_SHARED, K.pkt, 0);
		if (K.ring == MAP_FAILED) {
			K.ring = NULL;
			send_result(-errno, "cannot map the capture ring");
			return 1;
		}
	}
	/* gmtime_r() (EVE's timestamps) loads the time zone on first use,
	 * which opens a file: done here, before the filter forbids open. */
	{
		time_t t = 0;
		struct tm tm;

		tzset();
		gmtime_r(&t, &tm);
	}
	r = sandbox();
	if (r < 0) {
		send_result(r, "cannot install the seccomp filter");
		return 1;
	}
	kn_decode_config_init(&cfg);
	cfg.flow_state_free = kn_detect_flow_free;
	cfg.flow_end = on_flow_end;
	if (kn_decoder_new(&K.dec, &cfg) < 0) {
		send_result(-ENOMEM, "out of memory");
		return 1;
	}
	r = load(KP_FD_RULES, vars_fd, &K.rs, &K.det, &e);
	if (r < 0) {
		send_result(r, soda_error_message(e));
		return 1;
	}
	send_result(0, K.warnings);
	for (;;) {
		struct pollfd p[2] = { { K.ctl, POLLIN, 0 }, { K.pkt, POLLIN | POLLERR, 0 } };

		drain_ring();
		/* The BPF ring wakes the reader only when it is filling up
		 * (bypass.bpf.c): a trickle waits at most this long, as a
		 * TPACKET_V3 block does. */
		if (poll(p, 2, K.bpf ? (int)KP_BLOCK_TIMEOUT_MS : 1000) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & (POLLIN | POLLHUP)) {
			if (on_control() < 0)
				break;
		}
	}
	kn_decoder_free(K.dec);
	kn_detector_free(K.det);
	kn_ruleset_free(K.rs);
	return 0;
}
