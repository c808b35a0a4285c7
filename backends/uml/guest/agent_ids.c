/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort in the guest agent (agent_ids.h): events from what the agent
 * sees, the tenant's rules on them, alerts sealed at once.
 *
 * Everything here runs in the agent's one thread, inside its event loop:
 * the blackbox side hands over records as it reads them (audit, console
 * input, syslog, kernel log) and this file reads its own sources (inotify,
 * /proc/net) when poll() says so or its timer is due. Event fields point
 * into buffers of this file; nothing outlives one kn_detect_event() call.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "agent_blackbox_int.h"
#include "agent_ids.h"
#include "decode.h"
#include "events.h"

#define RULES_MAX (16u << 20)
#define NET_POLL_MS 250
/* After file events woke the agent, the next ones wait this long and come
 * together: a burst of writes in /etc costs the guest one wakeup of the
 * agent per FILE_BATCH_MS, not one per event. */
#define FILE_BATCH_MS 100
#define TTY_LINE_MAX 4096
#define FIELD_MAX 4096
/* The landlord's lines: at most this many a second (the rest counted). */
#define LANDLORD_PER_SEC 20

struct watch {
	int wd;
	const char *dir;
	const char *const *only; /* names to report, NULL: all */
};

static struct {
	bool on;
	bool landlord;
	bb_agent *bb;
	int line;
	kn_ruleset *rs;
	kn_evdetector *det;
	/* exec: the audit event being gathered */
	uint64_t serial;
	bool have_argv, sent;
	char exe[FIELD_MAX], cwd[FIELD_MAX], uid[16], argv[FIELD_MAX], parent[FIELD_MAX];
	size_t argv_len;
	bool parent_done;
	uint32_t ppid, uid_n;
	/* tty */
	char tty[TTY_LINE_MAX];
	size_t tty_len;
	/* file */
	int inotify;
	uint64_t file_quiet_until; /* monotonic ms: inotify out of poll() until then */
	struct watch watches[8];
	size_t n_watches;
	/* net */
	uint64_t *inodes;
	size_t n_inodes;
	bool net, net_primed; /* net: some rule on net events */
	uint64_t next_net_ms;
	/* packets (",packets"): AF_PACKET in the guest, the packet rules */
	int pkt;
	kn_decoder *dec;
	kn_detector *pdet;
	uint8_t *frame;
	/* the landlord's rate */
	uint64_t ll_sec;
	uint32_t ll_count, ll_dropped;
	uint64_t alerts;
} K = { .inotify = -1, .line = -1, .pkt = -1 };

/* The blackbox's clocks, read once per pass of the agent's loop
 * (bb_handle(), bb_timeout_ms()): in UML a clock_gettime() is a system
 * call (7.5 us, "null" in bench-kernort), and the loop runs several
 * times for each exec's audit records: reading clocks of our own there
 * was a cost that every exec paid as soon as rules were loaded. The
 * pass's time is the one the blackbox stamps its records with anyway. */
static uint64_t mono_ms(void)
{
	return K.bb->now_mono / 1000;
}

static uint64_t now_usec(void)
{
	return K.bb->now_rt;
}

static void set_field(struct kn_event *ev, int f, const char *s, size_t len)
{
	ev->f[f].data = s;
	ev->f[f].len = len;
}

static void set_str(struct kn_event *ev, int f, const char *s)
{
	set_field(ev, f, s, s ? strlen(s) : 0);
}

static const char *exec_parent(void);

/* ---- alerts ---- */

static const char *kind_word(enum kn_event_kind k)
{
	const char *n = kn_event_kind_name(k);

	return n ? n : "none";
}

static void landlord_line(const struct kn_alert *a, const char *kind)
{
	uint64_t sec = mono_ms() / 1000;
	char line[128];
	int n;

	if (!K.landlord || K.line < 0)
		return;
	if (sec != K.ll_sec) {
		if (K.ll_dropped) {
			n = snprintf(line, sizeof(line), "ids-dropped %" PRIu32 "\n", K.ll_dropped);
			if (write(K.line, line, (size_t)n) < 0) {
				/* the host's copy only; the tenant's is sealed */
			}
		}
		K.ll_sec = sec;
		K.ll_count = K.ll_dropped = 0;
	}
	if (++K.ll_count > LANDLORD_PER_SEC) {
		K.ll_dropped++;
		return;
	}
	n = snprintf(line, sizeof(line), "ids-alert %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32
		     " %s\n", a->gid, a->sid, a->rev, a->priority, kind);
	if (n > 0 && write(K.line, line, (size_t)n) < 0) {
		/* as above */
	}
}

static void on_alert(void *userdata, const struct kn_alert *a, const struct kn_event *ev)
{
	struct kn_event full;
	char *eve = NULL;

	(void)userdata;
	K.alerts++;
	if (ev->kind == KN_EV_EXEC && !ev->f[KN_F_EXEC_PARENT].len) {
		/* the record has the parent whether or not a rule wanted it */
		full = *ev;
		set_str(&full, KN_F_EXEC_PARENT, exec_parent());
		ev = &full;
	}
	if (kn_eve_event_alert(&eve, a, ev) == 0) {
		size_t len = strlen(eve);

		if (len > SBX_RECORD_MAX_BODY)
			len = SBX_RECORD_MAX_BODY;
		sbw_append(K.bb->w, SBX_R_IDS_ALERT, a->sid, eve, len);
		free(eve);
	}
	landlord_line(a, kind_word(ev->kind));
}

static void detect(struct kn_event *ev)
{
	if (!K.on)
		return;
	ev->ts_usec = now_usec();
	kn_detect_event(K.det, ev, on_alert, NULL);
}

/* ---- exec (audit) ---- */

/* An audit value: "quoted", hex-encoded (when it has spaces or quotes), or
 * a bare word. */
static void audit_value(const char *text, const char *name, char *out, size_t max)
{
	char pat[24];
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), " %s=", name);
	p = strstr(text, pat);
	if (!p)
		return;
	p += strlen(pat);
	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < max; p++)
			out[n++] = *p;
	} else if (isxdigit((unsigned char)p[0]) && strncmp(p, "(null)", 6)) {
		const char *q = p;
		bool hex = true;

		while (*q && *q != ' ')
			hex = hex && isxdigit((unsigned char)*q++);
		if (hex && (q - p) % 2 == 0 && strcmp(name, "uid") && strcmp(name, "ppid")) {
			for (; p + 1 < q && n + 1 < max; p += 2) {
				unsigned v;

				sscanf(p, "%2x", &v);
				out[n++] = (char)v;
			}
		} else {
			for (; p < q && n + 1 < max; p++)
				out[n++] = *p;
		}
	} else {
		for (; *p && *p != ' ' && n + 1 < max; p++)
			out[n++] = *p;
	}
	out[n] = '\0';
}

static uint64_t serial_of(const char *text)
{
	const char *colon = strchr(text, ':');

	return colon ? strtoull(colon + 1, NULL, 10) : 0;
}

/* The parent's program: a path walk in /proc, a system call the guest pays
 * for on every exec; done only if a rule reads exec.parent, or for an
 * alert's record (on_alert()), while the parent is still the one that
 * exec'd. */
static const char *exec_parent(void)
{
	char link[64];
	ssize_t n;

	if (K.parent_done)
		return K.parent;
	K.parent_done = true;
	snprintf(link, sizeof(link), "/proc/%" PRIu32 "/exe", K.ppid);
	n = readlink(link, K.parent, sizeof(K.parent) - 1);
	if (n > 0) {
		K.parent[n] = '\0';
	} else {
		/* a kernel thread, or the parent already gone: its name if any */
		int fd;

		snprintf(link, sizeof(link), "/proc/%" PRIu32 "/comm", K.ppid);
		fd = open(link, O_RDONLY | O_CLOEXEC);
		K.parent[0] = '\0';
		if (fd >= 0) {
			n = read(fd, K.parent, sizeof(K.parent) - 1);
			K.parent[n > 0 ? n : 0] = '\0';
			K.parent[strcspn(K.parent, "\n")] = '\0';
			close(fd);
		}
	}
	return K.parent;
}

static void exec_emit(void)
{
	struct kn_event ev = { .kind = KN_EV_EXEC };

	if (K.sent || !K.have_argv)
		return;
	K.sent = true;
	K.parent_done = false;
	ev.uid = K.uid_n;
	set_str(&ev, KN_F_EXEC_PATH, K.exe);
	set_field(&ev, KN_F_EXEC_ARGV, K.argv, K.argv_len);
	set_str(&ev, KN_F_EXEC_UID, K.uid);
	set_str(&ev, KN_F_EXEC_CWD, K.cwd);
	if (kn_evdetector_wants(K.det, KN_EV_EXEC, KN_F_EXEC_PARENT))
		set_str(&ev, KN_F_EXEC_PARENT, exec_parent());
	detect(&ev);
}

void ids_on_audit(uint16_t type, const char *text)
{
	uint64_t serial;
	char v[32];

	if (!K.on)
		return;
	serial = serial_of(text);
	if (type == AUDIT_SYSCALL) {
		if (serial != K.serial)
			exec_emit(); /* the last event's EOE never came */
		K.serial = serial;
		K.have_argv = K.sent = false;
		K.argv_len = 0;
		K.cwd[0] = '\0';
		audit_value(text, "exe", K.exe, sizeof(K.exe));
		audit_value(text, "uid", K.uid, sizeof(K.uid));
		K.uid_n = (uint32_t)strtoul(K.uid, NULL, 10);
		audit_value(text, "ppid", v, sizeof(v));
		K.ppid = (uint32_t)strtoul(v, NULL, 10);
	} else if (serial == K.serial && type == AUDIT_CWD) {
		audit_value(text, "cwd", K.cwd, sizeof(K.cwd));
	} else if (serial == K.serial && (type == AUDIT_EOE || type == AUDIT_PROCTITLE)) {
		exec_emit();
	}
}

void ids_on_exec_argv(uint64_t serial, const char *argv, size_t len)
{
	if (!K.on || serial != K.serial)
		return;
	if (len > sizeof(K.argv))
		len = sizeof(K.argv);
	memcpy(K.argv, argv, len);
	K.argv_len = len;
	K.have_argv = true;
}

/* ---- tty ---- */

void ids_on_tty(const char *buf, size_t len)
{
	if (!K.on)
		return;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\r' || c == '\n') {
			if (K.tty_len) {
				struct kn_event ev = { .kind = KN_EV_TTY };

				set_field(&ev, KN_F_TTY_INPUT, K.tty, K.tty_len);
				set_str(&ev, KN_F_TTY_SESSION, "console");
				detect(&ev);
			}
			K.tty_len = 0;
		} else if (c == 0x7f || c == 0x08) {
			if (K.tty_len)
				K.tty_len--; /* what the line discipline would erase */
		} else if (c == 0x15) {
			K.tty_len = 0; /* ^U */
		} else if (K.tty_len < sizeof(K.tty)) {
			K.tty[K.tty_len++] = c;
		}
	}
}

/* ---- logs ---- */

void ids_on_syslog(unsigned int pri, const char *msg, size_t len)
{
	struct kn_event ev = { .kind = KN_EV_SYSLOG };
	char p[16];

	if (!K.on)
		return;
	snprintf(p, sizeof(p), "%u", pri);
	set_field(&ev, KN_F_SYSLOG_MESSAGE, msg, len);
	set_str(&ev, KN_F_SYSLOG_PRIORITY, p);
	detect(&ev);
}

void ids_on_klog(unsigned int level, const char *msg, size_t len)
{
	struct kn_event ev = { .kind = KN_EV_KLOG };
	char p[16];

	if (!K.on)
		return;
	snprintf(p, sizeof(p), "%u", level);
	set_field(&ev, KN_F_KLOG_MESSAGE, msg, len);
	set_str(&ev, KN_F_KLOG_LEVEL, p);
	detect(&ev);
}

/* ---- file (inotify) ---- */

static const char *const dev_names[] = { "blackbox", "log", "blackbox.ring", NULL };

static void watch_dirs(void)
{
	static const struct {
		const char *dir;
		const char *const *only;
	} dirs[] = { { "/etc", NULL },	     { "/etc/ssh", NULL },   { "/etc/cron.d", NULL },
		     { "/root", NULL },	     { "/root/.ssh", NULL }, { "/dev", dev_names } };

	K.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (K.inotify < 0)
		return;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int wd = inotify_add_watch(K.inotify, dirs[i].dir,
					   IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
						   IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR);

		if (wd < 0)
			continue;
		K.watches[K.n_watches++] = (struct watch){ wd, dirs[i].dir, dirs[i].only };
	}
}

static void on_inotify(void)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(K.inotify, buf, sizeof(buf));

		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ie = (const struct inotify_event *)p;
			const struct watch *w = NULL;
			const char *op = NULL;
			char path[FIELD_MAX];

			p += sizeof(*ie) + ie->len;
			if (ie->mask & IN_Q_OVERFLOW) {
				bb_declare_loss(K.bb, 0, 0, BB_LOSS_EVENTS, "kernort: file events");
				continue;
			}
			for (size_t i = 0; i < K.n_watches; i++)
				if (K.watches[i].wd == ie->wd)
					w = &K.watches[i];
			if (!w || !ie->len || !ie->name[0])
				continue;
			if (w->only) {
				bool listed = false;

				for (size_t i = 0; w->only[i]; i++)
					listed = listed || strcmp(w->only[i], ie->name) == 0;
				if (!listed)
					continue;
			}
			if (ie->mask & IN_CLOSE_WRITE)
				op = "write";
			else if (ie->mask & IN_CREATE)
				op = "create";
			else if (ie->mask & IN_DELETE)
				op = "unlink";
			else if (ie->mask & (IN_MOVED_FROM | IN_MOVED_TO))
				op = "rename";
			else if (ie->mask & IN_ATTRIB)
				op = "attrib";
			if (!op)
				continue;
			snprintf(path, sizeof(path), "%s/%s", w->dir, ie->name);
			{
				struct kn_event ev = { .kind = KN_EV_FILE };

				set_str(&ev, KN_F_FILE_PATH, path);
				set_str(&ev, KN_F_FILE_OP, op);
				detect(&ev);
			}
		}
	}
}

/* ---- net (/proc/net polling) ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct sock {
	bool v6, udp;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	unsigned st;
	uint32_t uid;
	uint64_t inode;
};

static bool parse_addr(const char *s, bool v6, uint8_t *addr, uint16_t *port)
{
	size_t hex = v6 ? 32 : 8;

	if (strlen(s) < hex + 2 || s[hex] != ':')
		return false;
	for (size_t w = 0; w < hex / 8; w++) {
		char word[9];
		uint32_t v;

		memcpy(word, s + w * 8, 8);
		word[8] = '\0';
		v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(addr + w * 4, &v, 4); /* the kernel printed the word as held */
	}
	*port = (uint16_t)strtoul(s + hex + 1, NULL, 16);
	return true;
}

/* Reads the socket tables; calls fn for each socket. */
static size_t read_socks(struct sock **ret)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp",
					     "/proc/net/udp6" };
	struct sock *v = NULL;
	size_t n = 0, cap = 0;

	for (int f = 0; f < 4; f++) {
		FILE *fp = fopen(files[f], "re");
		char line[512];

		if (!fp)
			continue;
		if (!fgets(line, sizeof(line), fp)) { /* the header */
			fclose(fp);
			continue;
		}
		while (fgets(line, sizeof(line), fp)) {
			char la[64], ra[64];
			unsigned st, uid;
			unsigned long long inode;
			struct sock s = { .v6 = f % 2 == 1, .udp = f >= 2 };

			if (sscanf(line, " %*u: %63s %63s %x %*s %*s %*s %u %*d %llu", la, ra, &st,
				   &uid, &inode) != 5 ||
			    !inode || !parse_addr(la, s.v6, s.laddr, &s.lport) ||
			    !parse_addr(ra, s.v6, s.raddr, &s.rport))
				continue;
			s.st = st;
			s.uid = uid;
			s.inode = inode;
			if (n == cap) {
				struct sock *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*nv));

				if (!nv)
					break;
				v = nv;
				cap = cap ? cap * 2 : 64;
			}
			v[n++] = s;
		}
		fclose(fp);
	}
	*ret = v;
	return n;
}

static bool is_listening_port(const struct sock *v, size_t n, const struct sock *s)
{
	for (size_t i = 0; i < n; i++)
		if (!v[i].udp && v[i].st == 0x0A && v[i].lport == s->lport)
			return true;
	return false;
}

static void poll_net(void)
{
	struct sock *v = NULL;
	size_t n = read_socks(&v);
	uint64_t *inodes = n ? calloc(n, sizeof(*inodes)) : NULL;

	for (size_t i = 0; i < n && (inodes || !n); i++) {
		const struct sock *s = &v[i];
		const char *op = NULL;
		bool old;

		inodes[i] = s->inode;
		old = K.inodes && bsearch(&s->inode, K.inodes, K.n_inodes, sizeof(uint64_t),
					  cmp_u64);
		if (old || !K.net_primed)
			continue;
		if (!s->udp && s->st == 0x0A)
			op = "listen";
		else if (!s->udp && (s->st == 0x01 || s->st == 0x02) &&
			 !is_listening_port(v, n, s))
			op = "connect";
		else if (s->udp && s->st == 0x07)
			op = s->rport ? "connect" : "listen";
		if (op) {
			struct kn_event ev = { .kind = KN_EV_NET, .uid = s->uid };
			char addr[INET6_ADDRSTRLEN] = "", port[8];
			const uint8_t *a = !strcmp(op, "connect") ? s->raddr : s->laddr;

			inet_ntop(s->v6 ? AF_INET6 : AF_INET, a, addr, sizeof(addr));
			snprintf(port, sizeof(port), "%u",
				 !strcmp(op, "connect") ? s->rport : s->lport);
			set_str(&ev, KN_F_NET_OP, op);
			set_str(&ev, KN_F_NET_PROTO, s->udp ? "udp" : "tcp");
			set_str(&ev, KN_F_NET_ADDR, addr);
			set_str(&ev, KN_F_NET_PORT, port);
			detect(&ev);
		}
	}
	free(v);
	if (inodes || !n) {
		if (inodes)
			qsort(inodes, n, sizeof(*inodes), cmp_u64);
		free(K.inodes);
		K.inodes = inodes;
		K.n_inodes = n;
		K.net_primed = true;
	}
}

/* ---- packets (AF_PACKET in the guest) ---- */

static void on_packet_alert(void *userdata, const struct kn_alert *a, const struct kn_packet *p)
{
	char *eve = NULL;

	(void)userdata;
	K.alerts++;
	if (kn_eve_alert(&eve, a, p) == 0) {
		size_t len = strlen(eve);

		if (len > SBX_RECORD_MAX_BODY)
			len = SBX_RECORD_MAX_BODY;
		sbw_append(K.bb->w, SBX_R_IDS_ALERT, a->sid, eve, len);
		free(eve);
	}
	landlord_line(a, "packet");
}

static void on_packet(void *userdata, struct kn_packet *p)
{
	(void)userdata;
	kn_detect(K.pdet, p, on_packet_alert, NULL);
}

/* The frames the guest receives (a loopback frame twice: only the copy
 * that arrives), at most 64 a pass so that a flood does not starve the
 * agent's other sources. */
static void on_packets(void)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		ssize_t n = recvfrom(K.pkt, K.frame, 65536, MSG_DONTWAIT, (struct sockaddr *)&sll,
				     &sl);

		if (n <= 0)
			return;
		if (sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		kn_decode(K.dec, KN_LINK_ETHERNET, now_usec(), 0, K.frame, (size_t)n, on_packet, NULL);
	}
}

static void start_packets(void)
{
	struct kn_decode_config cfg;
	soda_error *err = NULL;

	kn_decode_config_init(&cfg);
	cfg.flow_state_free = kn_detect_flow_free;
	cfg.max_flows = 4096;
	K.frame = malloc(65536);
	if (!K.frame || kn_decoder_new(&K.dec, &cfg) < 0 || kn_detector_new(&K.pdet, K.rs, &err) < 0) {
		soda_error_free(err);
		say("kernort: no packet inspection: out of memory");
		return;
	}
	K.pkt = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (K.pkt < 0)
		say("kernort: no packet inspection: %s", strerror(errno));
}

/* ---- start ---- */

static void ids_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ids_note(const char *fmt, ...)
{
	char what[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(what))
		n = sizeof(what) - 1;
	say("%s", what);
	bb_read_clocks(K.bb);
	sbw_append(K.bb->w, SBX_R_LIFECYCLE, IDS_EV_RULES, what, (size_t)n);
	bb_flush_frames(K.bb);
}

/* /dev/ubdX: the whole device, up to the first NUL (the host's padding). */
static char *read_rules(const char *dev, size_t *ret_len)
{
	char path[64];
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd;

	if (strncmp(dev, "ubd", 3) || strlen(dev) != 4 || dev[3] < 'a' || dev[3] > 'p') {
		errno = EINVAL;
		return NULL;
	}
	snprintf(path, sizeof(path), "/dev/%s", dev);
	if (access(path, F_OK) < 0)
		mknod(path, S_IFBLK | 0400, makedev(98, (unsigned)(dev[3] - 'a') * 16));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= RULES_MAX) {
				errno = EFBIG;
				goto fail;
			}
			nb = realloc(buf, cap ? cap * 2 : 65536);
			if (!nb)
				goto fail;
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		{
			char *nul = memchr(buf + len, '\0', (size_t)n);

			if (nul) {
				len = (size_t)(nul - buf);
				break;
			}
		}
		len += (size_t)n;
	}
	close(fd);
	/* the userland has no business with the device */
	unlink(path);
	*ret_len = len;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

void ids_start(struct bb_agent *bb, const char *spec)
{
	char dev[16], hex[2 * crypto_hash_sha256_BYTES + 1];
	unsigned char digest[crypto_hash_sha256_BYTES];
	soda_error *err = NULL;
	size_t len = 0, n;
	char *text;

	if (!bb) {
		say("kernort: needs the blackbox; off");
		return;
	}
	K.bb = bb;
	n = strcspn(spec, ",");
	snprintf(dev, sizeof(dev), "%.*s", (int)(n < sizeof(dev) ? n : sizeof(dev) - 1), spec);
	K.landlord = strstr(spec, ",landlord") != NULL;
	bool packets = strstr(spec, ",packets") != NULL;
	text = read_rules(dev, &len);
	if (!text) {
		ids_note("kernort: cannot read the rules on %s: %s; off", dev, strerror(errno));
		return;
	}
	crypto_hash_sha256(digest, (const unsigned char *)text, len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	if (kn_ruleset_load_text(&K.rs, "ids.rules", text, len, NULL, 0, NULL, NULL, &err) < 0 ||
	    kn_evdetector_new(&K.det, K.rs, &err) < 0) {
		ids_note("kernort: rules sha256=%s refused: %s; off", hex, soda_error_message(err));
		soda_error_free(err);
		kn_ruleset_free(K.rs);
		K.rs = NULL;
		free(text);
		return;
	}
	free(text);
	/* Only the sources some rule reads: each costs the guest (inotify on
	 * every write in /etc, /proc/net four times a second). */
	if (kn_evdetector_count_kind(K.det, KN_EV_FILE))
		watch_dirs();
	if (packets)
		start_packets();
	K.on = true;
	K.net = kn_evdetector_count_kind(K.det, KN_EV_NET) > 0;
	bb_read_clocks(bb);
	if (K.net)
		poll_net(); /* what is there before the userland: not its doing */
	K.next_net_ms = mono_ms() + NET_POLL_MS;
	ids_note("kernort: rules sha256=%s bytes=%zu rules=%zu event-rules=%zu file-watches=%zu "
		 "net-poll=%s packets=%s landlord=%s", hex, len, kn_ruleset_count(K.rs),
		 kn_evdetector_count(K.det), K.n_watches, K.net ? "yes" : "no",
		 K.pkt >= 0 ? "yes" : "no", K.landlord ? "yes" : "no");
}

void ids_set_line(int fd)
{
	K.line = fd;
}

int ids_poll_fds(struct pollfd *pfd, int max)
{
	int n = 0;

	if (!K.on)
		return 0;
	if (K.inotify >= 0 && n < max && mono_ms() >= K.file_quiet_until)
		pfd[n++] = (struct pollfd){ K.inotify, POLLIN, 0 };
	if (K.pkt >= 0 && n < max)
		pfd[n++] = (struct pollfd){ K.pkt, POLLIN, 0 };
	return n;
}

int ids_timeout_ms(void)
{
	uint64_t now;

	if (!K.on)
		return -1;
	now = mono_ms();
	/* the quiet time over (ids_poll_fds() may have looked at an older
	 * clock): ids_handle() reads what came meanwhile, at once */
	if (K.file_quiet_until && K.file_quiet_until <= now)
		return 0;
	if (K.file_quiet_until && (!K.net || K.file_quiet_until < K.next_net_ms))
		return (int)(K.file_quiet_until - now);
	if (!K.net)
		return -1;
	return K.next_net_ms > now ? (int)(K.next_net_ms - now) : 0;
}

void ids_handle(const struct pollfd *pfd, int n)
{
	bool any = false;

	if (!K.on)
		return;
	/* the clocks: bb_handle() has just read them */
	for (int i = 0; i < n; i++)
		if (pfd[i].fd == K.pkt && K.pkt >= 0 && pfd[i].revents) {
			on_packets();
			any = true;
		}
	for (int i = 0; i < n; i++)
		if (pfd[i].fd == K.inotify && pfd[i].revents) {
			on_inotify();
			K.file_quiet_until = mono_ms() + FILE_BATCH_MS;
			any = true;
		}
	/* the quiet time is over: what came meanwhile, at once */
	if (K.file_quiet_until && mono_ms() >= K.file_quiet_until) {
		K.file_quiet_until = 0;
		on_inotify();
		any = true;
	}
	if (K.net && mono_ms() >= K.next_net_ms) {
		poll_net();
		K.next_net_ms = mono_ms() + NET_POLL_MS;
		any = true;
	}
	if (any)
		bb_flush_frames(K.bb);
}

/* ---- the host's check (soda-agent ids-check NAME < RULES) ---- */

/* The same parser on the host, before a server is defined: one line on
 * stdout, "ok sha256=HEX rules=N event-rules=M" (exit 0) or
 * "err ERRNO LINE COLUMN MESSAGE" (exit 1). Rule text is hostile input: a
 * process of its own parses it, not the library. */
int ids_check_main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "rules";
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	unsigned char digest[crypto_hash_sha256_BYTES];
	soda_error *err = NULL;
	kn_evdetector *det = NULL;
	size_t len = 0, cap = 0;
	char *text = NULL;
	int r;

	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nt = cap >= RULES_MAX ? NULL : realloc(text, cap ? cap * 2 : 65536);

			if (!nt) {
				printf("err %d 0 0 %s: larger than %u bytes\n", EFBIG, name, RULES_MAX);
				return 1;
			}
			text = nt;
			cap = cap ? cap * 2 : 65536;
		}
		n = read(0, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("err %d 0 0 %s: %s\n", errno, name, strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (memchr(text ? text : "", '\0', len)) {
		printf("err %d 0 0 %s: a NUL byte in the rules\n", EINVAL, name);
		return 1;
	}
	crypto_hash_sha256(digest, (const unsigned char *)(text ? text : ""), len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	r = kn_ruleset_load_text(&K.rs, name, text ? text : "", len, NULL, 0, NULL, NULL, &err);
	if (r >= 0)
		r = kn_evdetector_new(&det, K.rs, &err);
	if (r < 0) {
		printf("err %d %u %u %s\n", -r, soda_error_line(err), soda_error_column(err),
		       soda_error_message(err));
		return 1;
	}
	printf("ok sha256=%s rules=%zu event-rules=%zu\n", hex, kn_ruleset_count(K.rs),
	       kn_evdetector_count(det));
	return 0;
}
