/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/mount.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../../libsoda/blackbox/writer.h"
#include "agent_blackbox.h"
#include "bbring.h"

#define BB_LINE "/dev/ttyS1"
#define BB_FIFO "/dev/blackbox"
#define BB_SYSLOG "/dev/log"
#define LINE_MAX_BYTES 4096 /* longer lines go in parts */
#define FIFO_BUF_BYTES (256 * 1024)
#define FIFO_PIPE_BYTES (1024 * 1024)
/* Frames of one pass of the event loop go to the line in one write: every
 * write is a system call of the guest kernel, which costs. */
#define OUT_BUF_BYTES (512 * 1024)
/* /dev/blackbox.ring: producers at once, the agent's copy of each one's
 * ring, and how many copies it takes of one ring per pass (the others
 * wait meanwhile). */
#define RING_MAX 8
#define RING_BUF_BYTES (256 * 1024)
#define RING_ROUNDS 4
/* Endpoints the agent put back keep serving whoever still holds them:
 * this many old descriptors per endpoint kind at most. */
#define RETIRED_MAX 4
/* The audit record that says who touched an endpoint may come after the
 * agent noticed: it waits this long for it... */
#define WHO_WAIT_MS 200
/* ...and takes one whose own time is at most this much before it noticed. */
#define WHO_MAX_AGE_MS 2000
/* An intruder in a loop (rm, mount, rm...) gets this many endpoint records
 * a second per endpoint; past that the agent still repairs, and says how
 * many more there were once the second is over. */
#define EP_EVENTS_PER_S 10
/* What an impostor in an endpoint's place holds, sealed at most. */
#define SALVAGE_MAX (64 * 1024)

/* Who touched: the last SYSCALL record of the endpoints' rules, and of the
 * mounts' rule. */
enum { WHO_ENDPOINT, WHO_MOUNT, WHO_KINDS };

struct who {
	char text[256]; /* " pid=... uid=... comm=... exe=... syscall=... key=..." */
	uint64_t ms;	/* the record's own time, ms since the epoch */
	bool used;	/* a check pass has seen it already */
};

/* The agent's named endpoints in the guest's /dev. */
enum { EP_FIFO, EP_SYSLOG, EP_RING, EP_COUNT };

struct endpoint {
	const char *path;
	mode_t mode; /* type and permissions as the agent made it */
	dev_t dev;
	ino_t ino;
	bool known;
	char reported[1000]; /* the trouble last reported and not put right */
	uint64_t window;     /* the second (CLOCK_MONOTONIC) events are counted in */
	unsigned events;     /* events of that second */
	unsigned unsaid;     /* past EP_EVENTS_PER_S: repaired, counted, not described */
};

struct retired {
	int fd; /* -1: free */
	int kind;
};

struct ring_conn {
	int fd; /* the producer's connection; -1: a free slot */
	struct bbring_hdr *hdr;
	uint8_t *data;
	uint64_t tail; /* ours: the header's copy is the producer's to spoil */
	char *buf;     /* taken, not yet sealed (the start of a line) */
	size_t len;
	bool eof;
};

struct bb_agent {
	sbw_writer *w;
	int line;      /* the blackbox line to the host */
	int kmsg;      /* kernel log */
	int syslog;    /* /dev/log */
	int fifo;      /* /dev/blackbox */
	int audit;     /* the audit netlink socket (exec events) */
	int cn;        /* or the proc connector, where there is no audit */
	uint32_t audit_pid;     /* pid of the last execve audited... */
	uint64_t audit_serial;  /* ...in the event with this serial */
	int con_real;  /* the real console */
	int con_master; /* the userland's console, a pty */
	int ring_listen; /* /dev/blackbox.ring */
	struct ring_conn rings[RING_MAX];
	struct endpoint ep[EP_COUNT];
	struct retired retired[RETIRED_MAX];
	int inotify;	   /* /dev, where the endpoints are */
	int mountinfo;	   /* the userland's mount table: POLLPRI on a change */
	int own_ns;	   /* the agent's mount namespace */
	pid_t userland;	   /* the userland's first process, 0 if none */
	struct who who[WHO_KINDS];
	uint64_t kmsg_seq; /* the kernel log's next sequence number, 0 unknown */
	char slave[64];
	char fifo_buf[FIFO_BUF_BYTES];
	size_t fifo_len;
	char *out;        /* frames not yet on the line */
	size_t out_len;
	uint64_t out_frames; /* frames in out */
	/* The clocks, read once per pass of the event loop (every reading is
	 * a system call of the guest), for the writer and the agent alike. */
	uint64_t now_rt, now_mono;
	bool clock_fresh; /* read after the last poll */
};

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static uint64_t now_usec(int realtime)
{
	struct timespec ts;

	clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void read_clocks(bb_agent *bb)
{
	bb->now_rt = now_usec(1);
	bb->now_mono = now_usec(0);
	bb->clock_fresh = true;
}

/* The writer's clock: the pass's reading. Records that arrive together
 * carry one time; a pass takes a millisecond or two at most. */
static uint64_t pass_clock(int realtime, void *userdata)
{
	const bb_agent *bb = userdata;

	return realtime ? bb->now_rt : bb->now_mono;
}

/* Writes all of @len bytes to the line: a short write would break a frame
 * for the host. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends the gathered frames. What the line refuses is lost: the writer is
 * told, so that its next record opens a new epoch (the reader's chain is
 * broken) behind a LOSS record that says how much went missing. */
static void flush_frames(bb_agent *bb)
{
	size_t len = bb->out_len;
	uint64_t frames = bb->out_frames;

	if (!len)
		return;
	bb->out_len = 0;
	bb->out_frames = 0;
	if (write_all(bb->line, bb->out, len) < 0)
		sbw_output_lost(bb->w, frames, len);
}

/* The writer builds each frame at the end of the gathered ones (no copy);
 * they go to the line at the end of the event loop's pass, or when the
 * buffer is full. */
static void *reserve_frame(size_t len, void *userdata)
{
	bb_agent *bb = userdata;

	if (len > OUT_BUF_BYTES)
		return NULL;
	if (bb->out_len + len > OUT_BUF_BYTES) {
		flush_frames(bb);
		read_clocks(bb); /* the line may have made us wait */
	}
	return bb->out + bb->out_len;
}

static int write_frame(const void *frame, size_t len, void *userdata)
{
	bb_agent *bb = userdata;

	if ((const char *)frame == bb->out + bb->out_len && bb->out_len + len <= OUT_BUF_BYTES) {
		bb->out_len += len;
		bb->out_frames++;
		return 0;
	}
	/* Built in the writer's own buffer (START, EPOCH): copied after what
	 * is gathered. */
	if (len > OUT_BUF_BYTES) {
		flush_frames(bb);
		return write_all(bb->line, frame, len);
	}
	if (bb->out_len + len > OUT_BUF_BYTES)
		flush_frames(bb);
	memcpy(bb->out + bb->out_len, frame, len);
	bb->out_len += len;
	bb->out_frames++;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_key(const char *hex, uint8_t pk[32])
{
	if (strlen(hex) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		pk[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int open_line(void)
{
	struct termios t;
	int fd;

	if (access(BB_LINE, F_OK) < 0)
		mknod(BB_LINE, S_IFCHR | 0600, makedev(4, 65));
	fd = open(BB_LINE, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Raw: the frames are binary; no newline translation. */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	/* Userland cannot open it again by name (it could still make a node
	 * and write noise, which the host store detects and drops). */
	unlink(BB_LINE);
	return fd;
}

/* A socket of @type anyone in the guest may reach at @path (nonblocking). */
static int open_unix_socket(int type, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int open_syslog(void)
{
	int fd = open_unix_socket(SOCK_DGRAM, BB_SYSLOG), size = 1 << 20;

	/* Room for bursts: a datagram the socket cannot take is refused to
	 * its sender (who may retry or count it), not lost unseen by us. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return fd;
}

static int open_fifo(void)
{
	int fd;

	unlink(BB_FIFO);
	if (mkfifo(BB_FIFO, 0622) < 0 || chmod(BB_FIFO, 0622) < 0)
		return -1;
	/* Read and write: the agent itself keeps a writer, so no EOF ever. */
	fd = open(BB_FIFO, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	/* A roomy pipe: writers seldom wait for the agent, and the agent
	 * reads more per system call. Not fatal if refused. */
	if (fd >= 0)
		fcntl(fd, F_SETPIPE_SZ, FIFO_PIPE_BYTES);
	return fd;
}

/* Subscribes to the kernel's process events (needs CONFIG_PROC_EVENTS). */
static int open_proc_connector(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC,
				  .nl_pid = (uint32_t)getpid() };
	struct {
		struct nlmsghdr nh;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) msg;
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	msg.nh.nlmsg_len = sizeof(msg);
	msg.nh.nlmsg_type = NLMSG_DONE;
	msg.nh.nlmsg_pid = (uint32_t)getpid();
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = sizeof(enum proc_cn_mcast_op);
	msg.op = PROC_CN_MCAST_LISTEN;
	if (send(fd, &msg, sizeof(msg), 0) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Audit netlink requests, acknowledged. */
static int audit_request(int fd, uint16_t type, const void *data, size_t len)
{
	struct {
		struct nlmsghdr nh;
		char body[2048];
	} __attribute__((aligned(8))) msg;
	char reply[8192] __attribute__((aligned(8)));
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (len > sizeof(msg.body))
		return -EINVAL;
	memset(&msg, 0, sizeof(msg));
	msg.nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	msg.nh.nlmsg_type = type;
	msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	msg.nh.nlmsg_seq = type;
	memcpy(NLMSG_DATA(&msg.nh), data, len);
	if (sendto(fd, &msg, msg.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (int tries = 0; tries < 16; tries++) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, reply, sizeof(reply), 0);
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)reply; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n))
			if (nh->nlmsg_type == NLMSG_ERROR && nh->nlmsg_seq == type)
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	}
	return -EPROTO;
}

static void set_syscall(struct audit_rule_data *rule, int nr)
{
	rule->mask[nr / 32] |= 1u << (nr % 32);
}

/* A field of @rule compared with @op: a number, or (@str) a string the
 * rule's buffer carries. */
static void add_field(struct audit_rule_data *rule, uint32_t field, uint32_t op, uint32_t value,
		      const char *str)
{
	uint32_t i = rule->field_count++;

	rule->fields[i] = field;
	rule->fieldflags[i] = op;
	if (str) {
		rule->values[i] = (uint32_t)strlen(str);
		memcpy(rule->buf + rule->buflen, str, strlen(str));
		rule->buflen += (uint32_t)strlen(str);
	} else {
		rule->values[i] = value;
	}
}

/* Who touches the endpoints: the calls that remove, rename or replace
 * them (not the opens of every writer), and every mount, by anyone but
 * the agent. Their SYSCALL records carry key="soda-endpoint" or
 * key="soda-mount" (on_audit remembers the last one). */
static void add_watch_rules(int fd)
{
	static const char *const paths[] = { BB_FIFO, BB_SYSLOG, BBRING_PATH };
	static const int dir_calls[] = { __NR_unlink,	__NR_unlinkat, __NR_rename, __NR_renameat,
					 __NR_renameat2, __NR_chmod,   __NR_fchmodat, __NR_chown,
					 __NR_fchownat, __NR_lchown };
	static const int mount_calls[] = { __NR_mount,	    __NR_umount2,    __NR_pivot_root,
					   __NR_move_mount, __NR_open_tree,  __NR_fsmount,
					   __NR_mount_setattr };
	struct {
		struct audit_rule_data r;
		char buf[256];
	} m;
	int r;

	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		memset(&m, 0, sizeof(m));
		m.r.flags = AUDIT_FILTER_EXIT;
		m.r.action = AUDIT_ALWAYS;
		for (size_t i = 0; i < sizeof(dir_calls) / sizeof(dir_calls[0]); i++)
			set_syscall(&m.r, dir_calls[i]);
		add_field(&m.r, AUDIT_WATCH, AUDIT_EQUAL, 0, paths[p]);
		add_field(&m.r, AUDIT_FILTERKEY, AUDIT_EQUAL, 0, "soda-endpoint");
		add_field(&m.r, AUDIT_PID, AUDIT_NOT_EQUAL, 1, NULL);
		r = audit_request(fd, AUDIT_ADD_RULE, &m, sizeof(m.r) + m.r.buflen);
		if (r < 0)
			say("blackbox: no audit rule for %s: %s", paths[p], strerror(-r));
	}
	memset(&m, 0, sizeof(m));
	m.r.flags = AUDIT_FILTER_EXIT;
	m.r.action = AUDIT_ALWAYS;
	for (size_t i = 0; i < sizeof(mount_calls) / sizeof(mount_calls[0]); i++)
		set_syscall(&m.r, mount_calls[i]);
	add_field(&m.r, AUDIT_FILTERKEY, AUDIT_EQUAL, 0, "soda-mount");
	add_field(&m.r, AUDIT_PID, AUDIT_NOT_EQUAL, 1, NULL);
	r = audit_request(fd, AUDIT_ADD_RULE, &m, sizeof(m.r) + m.r.buflen);
	if (r < 0)
		say("blackbox: no audit rule for mounts: %s", strerror(-r));
}

/* Makes the agent the guest's audit daemon with one rule, "every execve at
 * its exit" (and the endpoints' rules above), then locks the audit configuration until the guest reboots
 * (enabled=2), so that root in the guest cannot turn it off. */
static int open_audit(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct audit_status st;
	struct audit_rule_data rule;
	const char *step = "socket";
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT), r = -errno;

	if (fd < 0)
		goto fail;
	step = "bind";
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	if (r < 0)
		goto fail;
	memset(&st, 0, sizeof(st));
	st.mask = AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID | AUDIT_STATUS_BACKLOG_LIMIT |
		  AUDIT_STATUS_FAILURE;
	st.enabled = 1;
	st.pid = (uint32_t)getpid();
	st.backlog_limit = 8192;
	st.failure = AUDIT_FAIL_PRINTK;
	step = "set";
	r = audit_request(fd, AUDIT_SET, &st, sizeof(st));
	if (r < 0)
		goto fail;
	memset(&rule, 0, sizeof(rule));
	rule.flags = AUDIT_FILTER_EXIT;
	rule.action = AUDIT_ALWAYS;
	rule.mask[__NR_execve / 32] |= 1u << (__NR_execve % 32);
	rule.mask[__NR_execveat / 32] |= 1u << (__NR_execveat % 32);
	step = "add rule";
	r = audit_request(fd, AUDIT_ADD_RULE, &rule, sizeof(rule));
	if (r < 0)
		goto fail;
	memset(&st, 0, sizeof(st));
	st.mask = AUDIT_STATUS_ENABLED;
	st.enabled = 2;
	add_watch_rules(fd);
	step = "lock";
	r = audit_request(fd, AUDIT_SET, &st, sizeof(st));
	if (r < 0)
		goto fail;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
fail:
	say("blackbox: no audit (%s: %s)", step, strerror(-r));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void declare_loss(bb_agent *bb, uint64_t records, uint64_t bytes, uint32_t reason,
			 const char *what);

/* Copies ' NAME=VALUE' from an audit record's @text to @out, if there. */
static size_t audit_field(const char *text, const char *name, char *out, size_t max)
{
	char pat[16];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), " %s=", name);
	p = strstr(text, pat);
	if (!p || max < 2)
		return 0;
	p++;
	n = strcspn(p, " ");
	if (n > max - 2)
		n = max - 2;
	out[0] = ' ';
	memcpy(out + 1, p, n);
	out[n + 1] = '\0';
	return n + 1;
}

/* A SYSCALL record of the endpoints' or mounts' rules: who it was. */
static void remember_who(bb_agent *bb, const char *text)
{
	static const char *const names[] = { "pid", "uid", "comm", "exe", "syscall", "key" };
	struct who *w = &bb->who[strstr(text, " key=\"soda-mount\"") ? WHO_MOUNT : WHO_ENDPOINT];
	const char *stamp = strstr(text, "audit(");
	unsigned long long sec = 0, ms = 0;
	size_t off = 0;

	w->text[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		off += audit_field(text, names[i], w->text + off, sizeof(w->text) - off);
	if (stamp)
		sscanf(stamp, "audit(%llu.%llu", &sec, &ms);
	w->ms = sec * 1000 + ms;
	w->used = false;
}

/* "audit(SECONDS.MILLIS:SERIAL): ..." -> SERIAL */
static uint64_t audit_serial(const char *text)
{
	const char *colon = strchr(text, ':');

	return colon ? strtoull(colon + 1, NULL, 10) : 0;
}

/* AUDIT_EXECVE's 'argc=2 a0="ls" a1=2F7661722F6C6F67' -> "ls /var/log".
 * Values with spaces or quotes come hex-encoded. */
static size_t audit_argv(const char *text, char *out, size_t max)
{
	size_t len = 0;

	for (const char *p = text; (p = strstr(p, " a")) && len + 1 < max;) {
		const char *v = p + 2;

		while (*v >= '0' && *v <= '9')
			v++;
		if (v == p + 2 || *v != '=') {
			p += 2;
			continue;
		}
		v++;
		if (len)
			out[len++] = ' ';
		if (*v == '"') {
			for (v++; *v && *v != '"' && len + 1 < max; v++)
				out[len++] = *v;
		} else {
			for (; isxdigit((unsigned char)v[0]) && isxdigit((unsigned char)v[1]) &&
			       len + 1 < max;
			     v += 2)
				out[len++] = (char)(hexval(v[0]) * 16 + hexval(v[1]));
		}
		p = v;
	}
	return len;
}

static void on_audit(bb_agent *bb)
{
	char buf[8960] __attribute__((aligned(8)));

	/* kauditd sends one record per datagram, and its nlmsg_len does not
	 * always cover the text: take the datagram's length. */
	for (;;) {
		ssize_t n = recv(bb->audit, buf, sizeof(buf) - 1, 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		char *text = buf + NLMSG_HDRLEN, argv[2048];
		size_t tlen, alen;
		const char *pid;

		if (n < 0 && errno == ENOBUFS) {
			declare_loss(bb, 0, 0, BB_LOSS_EVENTS, "audit");
			continue;
		}
		if (n <= 0)
			return;
		if ((size_t)n < NLMSG_HDRLEN)
			continue;
		tlen = (size_t)n - NLMSG_HDRLEN;
		text[tlen] = '\0';
		tlen = strlen(text);
		while (tlen > 0 && text[tlen - 1] == '\n')
			text[--tlen] = '\0';
		if (nh->nlmsg_type == AUDIT_SYSCALL) {
			pid = strstr(text, " pid=");
			bb->audit_pid = pid ? (uint32_t)strtoul(pid + 5, NULL, 10) : 0;
			bb->audit_serial = audit_serial(text);
			if (strstr(text, " key=\"soda-"))
				remember_who(bb, text);
		}
		if (nh->nlmsg_type == AUDIT_EXECVE) {
			alen = audit_argv(text, argv, sizeof(argv));
			sbw_append(bb->w, SBX_R_EXEC,
				   audit_serial(text) == bb->audit_serial ? bb->audit_pid : 0, argv,
				   alen);
		} else if (nh->nlmsg_type >= AUDIT_FIRST_USER_MSG && nh->nlmsg_type != AUDIT_EOE) {
			/* The event's other parts as the kernel wrote them (SYSCALL
			 * with comm= and exe=, CWD, PATH...). */
			sbw_append(bb->w, SBX_R_AUDIT, nh->nlmsg_type, text, tlen);
		}
	}
}

/* A pty for the userland's console, relayed to the real one. */
static int open_console(bb_agent *bb)
{
	struct termios t;
	struct winsize ws = { 24, 80, 0, 0 };
	char *name;

	bb->con_real = open("/dev/tty0", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	bb->con_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (bb->con_real < 0 || bb->con_master < 0 || grantpt(bb->con_master) < 0 ||
	    unlockpt(bb->con_master) < 0 || !(name = ptsname(bb->con_master)))
		return -1;
	snprintf(bb->slave, sizeof(bb->slave), "%s", name);
	fcntl(bb->con_master, F_SETFL, O_NONBLOCK);
	/* The pty does the line discipline; the real console only carries bytes. */
	if (tcgetattr(bb->con_real, &t) == 0) {
		struct winsize real;

		cfmakeraw(&t);
		tcsetattr(bb->con_real, TCSANOW, &t);
		if (ioctl(bb->con_real, TIOCGWINSZ, &real) == 0 && real.ws_row && real.ws_col)
			ws = real;
	}
	ioctl(bb->con_master, TIOCSWINSZ, &ws);
	{
		char size[32];
		int n = snprintf(size, sizeof(size), "%u %u", ws.ws_col, ws.ws_row);

		sbw_append(bb->w, SBX_R_CONSOLE_SIZE, 0, size, (size_t)n);
	}
	return 0;
}

static int open_ring_socket(void);
static void ep_note(bb_agent *bb, int kind);

bb_agent *bb_start(const char *hex_pk, const char *label)
{
	sbw_options opts = { .origin = SBX_ORIGIN_GUEST,
			     .label = label,
			     .reserve = reserve_frame,
			     .clock = pass_clock };
	uint8_t pk[32];
	bb_agent *bb;
	int r;

	if (parse_key(hex_pk, pk) < 0) {
		say("blackbox: soda.blackbox is not a 64-digit hex key; no blackbox");
		return NULL;
	}
	bb = calloc(1, sizeof(*bb));
	if (!bb)
		return NULL;
	bb->line = bb->kmsg = bb->syslog = bb->fifo = bb->cn = bb->con_real = bb->con_master = -1;
	bb->ring_listen = bb->inotify = bb->mountinfo = bb->own_ns = -1;
	for (int i = 0; i < RING_MAX; i++)
		bb->rings[i].fd = -1;
	for (int i = 0; i < RETIRED_MAX; i++)
		bb->retired[i].fd = -1;
	bb->ep[EP_FIFO].path = BB_FIFO;
	bb->ep[EP_SYSLOG].path = BB_SYSLOG;
	bb->ep[EP_RING].path = BBRING_PATH;
	bb->out = malloc(OUT_BUF_BYTES);
	bb->audit = -1;
	bb->line = bb->out ? open_line() : -1;
	if (bb->line < 0) {
		say("blackbox: cannot open %s: %s; no blackbox", BB_LINE, strerror(errno));
		free(bb->out);
		free(bb);
		return NULL;
	}
	opts.clock_userdata = bb;
	read_clocks(bb);
	r = sbw_new(&bb->w, pk, &opts, write_frame, bb);
	if (r < 0) {
		say("blackbox: cannot start the writer: %s", strerror(-r));
		close(bb->line);
		free(bb->out);
		free(bb);
		return NULL;
	}
	sbw_start(bb->w);
	bb->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	bb->syslog = open_syslog();
	bb->fifo = open_fifo();
	bb->ring_listen = open_ring_socket();
	for (int i = 0; i < EP_COUNT; i++)
		ep_note(bb, i);
	bb->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (bb->inotify >= 0 &&
	    inotify_add_watch(bb->inotify, "/dev",
			      IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
				      IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		close(bb->inotify);
		bb->inotify = -1;
	}
	/* PID 1 shares its root and working directory with the kernel's
	 * threads, and setns() into a mount namespace wants them its own. */
	if (unshare(CLONE_FS) < 0)
		say("blackbox: unshare(CLONE_FS): %s", strerror(errno));
	bb->own_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	bb->audit = open_audit();
	if (bb->audit < 0)
		bb->cn = open_proc_connector();
	if (open_console(bb) < 0) {
		say("blackbox: cannot relay the console: %s", strerror(errno));
		bb->slave[0] = '\0';
	}
	{
		char what[200];
		int n = snprintf(what, sizeof(what),
				 "agent started: kernel log %s, syslog %s, %s %s, %s %s, exec events %s, "
				 "console %s",
				 bb->kmsg >= 0 ? "on" : "off", bb->syslog >= 0 ? "on" : "off", BB_FIFO,
				 bb->fifo >= 0 ? "on" : "off", BBRING_PATH,
				 bb->ring_listen >= 0 ? "on" : "off",
				 bb->audit >= 0	 ? "on (audit)"
				 : bb->cn >= 0 ? "on (proc connector)"
					       : "off",
				 bb->slave[0] ? "on" : "off");

		read_clocks(bb); /* opening the audit may have taken a while */
		sbw_append(bb->w, SBX_R_LIFECYCLE, 0, what, (size_t)n);
	}
	flush_frames(bb);
	return bb;
}

const char *bb_console_slave(const bb_agent *bb)
{
	return bb && bb->slave[0] ? bb->slave : NULL;
}

int bb_poll_fds(bb_agent *bb, struct pollfd *pfd, int max)
{
	int n = 0;

	if (!bb)
		return 0;
	const int fds[] = { bb->kmsg,  bb->syslog,   bb->fifo,	    bb->cn,
			    bb->audit, bb->con_real, bb->con_master };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]) && n < max; i++)
		if (fds[i] >= 0)
			pfd[n++] = (struct pollfd){ fds[i], POLLIN, 0 };
	if (bb->ring_listen >= 0 && n < max)
		pfd[n++] = (struct pollfd){ bb->ring_listen, POLLIN, 0 };
	for (int i = 0; i < RING_MAX && n < max; i++)
		if (bb->rings[i].fd >= 0 && !bb->rings[i].eof)
			pfd[n++] = (struct pollfd){ bb->rings[i].fd, POLLIN, 0 };
	if (bb->inotify >= 0 && n < max)
		pfd[n++] = (struct pollfd){ bb->inotify, POLLIN, 0 };
	if (bb->mountinfo >= 0 && n < max)
		pfd[n++] = (struct pollfd){ bb->mountinfo, POLLPRI, 0 };
	for (int i = 0; i < RETIRED_MAX && n < max; i++)
		if (bb->retired[i].fd >= 0)
			pfd[n++] = (struct pollfd){ bb->retired[i].fd, POLLIN, 0 };
	return n;
}

int bb_timeout_ms(bb_agent *bb)
{
	uint64_t next = 0, now;

	if (!bb)
		return -1;
	/* Fresh unless bb_handle() has just read them. */
	if (!bb->clock_fresh)
		read_clocks(bb);
	bb->clock_fresh = false;
	/* A ring's producer tells us only when we said we sleep; if it
	 * published meanwhile, no sleep. */
	for (int i = 0; i < RING_MAX; i++) {
		struct ring_conn *rc = &bb->rings[i];

		if (rc->fd < 0)
			continue;
		__atomic_store_n(&rc->hdr->agent_waiting, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (rc->eof || __atomic_load_n(&rc->hdr->head, __ATOMIC_ACQUIRE) != rc->tail)
			return 0;
	}
	sbw_tick(bb->w, &next);
	flush_frames(bb); /* a heartbeat, if one was due */
	now = bb->now_mono;
	if (!next || next <= now)
		return 1000;
	return (int)((next - now) / 1000) + 1;
}

static void on_kmsg(bb_agent *bb)
{
	char buf[8192];

	for (;;) {
		ssize_t n = read(bb->kmsg, buf, sizeof(buf) - 1);
		char *semi;
		unsigned pri = 6;

		unsigned long long seq;

		/* Overwritten before we read it: the next record's number tells
		 * how many. */
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			return;
		buf[n] = '\0';
		semi = strchr(buf, ';');
		if (!semi)
			continue;
		if (sscanf(buf, "%u,%llu", &pri, &seq) == 2) {
			if (bb->kmsg_seq && seq > bb->kmsg_seq)
				declare_loss(bb, seq - bb->kmsg_seq, 0, BB_LOSS_KERNEL_LOG, NULL);
			bb->kmsg_seq = seq + 1;
		}
		n -= semi + 1 - buf;
		if (n > 0 && semi[n] == '\n')
			n--;
		sbw_append(bb->w, SBX_R_KERNEL, pri & 7, semi + 1, (size_t)(n > 0 ? n : 0));
	}
}

static void on_syslog(bb_agent *bb, int fd)
{
	char buf[8192];

	for (;;) {
		/* MSG_TRUNC: the datagram's whole length, to declare the cut. */
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_TRUNC);
		unsigned pri = 13; /* user.notice */
		char *msg = buf;

		if (n <= 0)
			return;
		if ((size_t)n > sizeof(buf) - 1) {
			declare_loss(bb, 0, (uint64_t)n - (sizeof(buf) - 1), BB_LOSS_SYSLOG_CUT, NULL);
			n = sizeof(buf) - 1;
		}
		buf[n] = '\0';
		if (buf[0] == '<') {
			char *end = strchr(buf, '>');

			if (end) {
				sscanf(buf + 1, "%u", &pri);
				msg = end + 1;
			}
		}
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
			buf[--n] = '\0';
		sbw_append(bb->w, SBX_R_SYSLOG, pri, msg, strlen(msg));
	}
}

/* Seals the whole lines at the start of @buf (@len bytes), as many as one
 * record holds each (the reader hands them out one record per line):
 * sealing costs per record, and 64 records of a KiB cost the guest's only
 * CPU about twice what one of 64 KiB does. A line longer than
 * LINE_MAX_BYTES goes in parts of its own. Returns the bytes sealed; the
 * rest is the start of a line. */
static size_t seal_lines(bb_agent *bb, const char *buf, size_t len, uint64_t rt, uint64_t mono)
{
	size_t off = 0;

	for (;;) {
		const char *start = buf + off;
		size_t avail = len - off, lines = 0;

		for (;;) {
			size_t left = avail - lines;
			const char *nl = memchr(start + lines, '\n',
						left < LINE_MAX_BYTES ? left : LINE_MAX_BYTES);

			if (!nl || (size_t)(nl + 1 - start) > SBX_RECORD_MAX_BODY)
				break;
			lines = (size_t)(nl + 1 - start);
		}
		if (lines) {
			sbw_append_lines_at(bb->w, start, lines, rt, mono);
			off += lines;
		} else if (avail >= LINE_MAX_BYTES) {
			sbw_append_at(bb->w, SBX_R_TEXT, 0, start, LINE_MAX_BYTES, rt, mono);
			off += LINE_MAX_BYTES;
		} else {
			return off;
		}
	}
}

/* Returns 0 when the FIFO has no writer left (only an old one the agent
 * no longer holds open for writing can). */
static int on_fifo(bb_agent *bb, int fd)
{
	for (bool first = true;; first = false) {
		ssize_t n = read(fd, bb->fifo_buf + bb->fifo_len, sizeof(bb->fifo_buf) - bb->fifo_len);
		size_t off;
		bool drained;

		if (n <= 0)
			return n == 0 ? 0 : 1;
		/* A busy writer keeps the pipe full: past the pass's first read,
		 * the time has moved on. */
		if (!first)
			read_clocks(bb);
		/* A read that did not fill the buffer emptied the pipe: no need
		 * to ask again (each read is a system call of the guest). */
		drained = (size_t)n < sizeof(bb->fifo_buf) - bb->fifo_len;
		bb->fifo_len += (size_t)n;
		/* The lines of one read arrived together; what is left of a line
		 * moves down once per read. */
		off = seal_lines(bb, bb->fifo_buf, bb->fifo_len, bb->now_rt, bb->now_mono);
		memmove(bb->fifo_buf, bb->fifo_buf + off, bb->fifo_len - off);
		bb->fifo_len -= off;
		if (drained)
			return 1;
	}
}

/* /dev/blackbox.ring (bbring.h): a producer connects, the agent hands it a
 * ring of its own. */
static int open_ring_socket(void)
{
	int fd = open_unix_socket(SOCK_STREAM, BBRING_PATH);

	if (fd >= 0 && listen(fd, RING_MAX) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void ring_close(bb_agent *bb, struct ring_conn *rc, const char *why)
{
	if (why) {
		char what[160];
		int n = snprintf(what, sizeof(what), "%s: producer's connection closed: %s",
				 BBRING_PATH, why);

		sbw_append_at(bb->w, SBX_R_LIFECYCLE, 0, what, (size_t)n, bb->now_rt, bb->now_mono);
		/* What it published before the lie is not sealed. */
		if (rc->len)
			declare_loss(bb, 0, rc->len, BB_LOSS_RING_BROKEN, NULL);
	}
	munmap(rc->hdr, BBRING_DATA_OFFSET + BBRING_SIZE);
	close(rc->fd);
	free(rc->buf);
	memset(rc, 0, sizeof(*rc));
	rc->fd = -1;
}

/* A producer the agent gives no ring: its lines are lost, and the stream
 * says so (with its pid, as the socket tells). */
static void refuse_producer(bb_agent *bb, int fd, const char *why)
{
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	char what[160];

	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	snprintf(what, sizeof(what), "%s: producer pid %d uid %u refused: %s", BBRING_PATH,
		 (int)cred.pid, (unsigned)cred.uid, why);
	declare_loss(bb, 0, 0, BB_LOSS_RING_REFUSED, what);
}

static void on_ring_connect(bb_agent *bb)
{
	for (;;) {
		int fd = accept4(bb->ring_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), mfd;
		struct ring_conn *rc = NULL;
		char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { "", 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		void *map;

		if (fd < 0)
			return;
		for (int i = 0; i < RING_MAX && !rc; i++)
			if (bb->rings[i].fd < 0)
				rc = &bb->rings[i];
		if (!rc)
			refuse_producer(bb, fd, "all rings are taken");
		/* Sealed: the producer can neither shrink the file under our
		 * mapping (SIGBUS for PID 1) nor grow it. */
		mfd = rc ? memfd_create("blackbox-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING) : -1;
		if (mfd < 0 || ftruncate(mfd, BBRING_DATA_OFFSET + BBRING_SIZE) < 0 ||
		    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
		    (map = mmap(NULL, BBRING_DATA_OFFSET + BBRING_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED, mfd, 0)) == MAP_FAILED) {
			/* No room, or no memory: the producer finds no ring. */
			if (rc)
				refuse_producer(bb, fd, "no memory for a ring");
			if (mfd >= 0)
				close(mfd);
			close(fd);
			continue;
		}
		rc->fd = fd;
		rc->hdr = map;
		rc->data = (uint8_t *)map + BBRING_DATA_OFFSET;
		rc->tail = 0;
		rc->len = 0;
		rc->buf = malloc(RING_BUF_BYTES);
		*rc->hdr = (struct bbring_hdr){ .magic = BBRING_MAGIC,
						.version = BBRING_VERSION,
						.size = BBRING_SIZE };
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &mfd, sizeof(int));
		if (!rc->buf || sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
			ring_close(bb, rc, NULL);
		close(mfd);
	}
}

/* Takes what the producer published, seals its whole lines; at its end,
 * the rest too. */
static void ring_take(bb_agent *bb, struct ring_conn *rc, bool eof)
{
	for (int round = 0; round < RING_ROUNDS; round++) {
		long n = bbring_take(rc->hdr, rc->data, BBRING_SIZE, &rc->tail,
				     (uint8_t *)rc->buf + rc->len, RING_BUF_BYTES - rc->len);
		size_t off;

		if (n < 0) {
			ring_close(bb, rc, "it broke the ring's protocol");
			return;
		}
		if (n == 0)
			break;
		if (round)
			read_clocks(bb);
		__atomic_store_n(&rc->hdr->tail, rc->tail, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_exchange_n(&rc->hdr->writer_waiting, 0, __ATOMIC_ACQ_REL))
			send(rc->fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		rc->len += (size_t)n;
		off = seal_lines(bb, rc->buf, rc->len, bb->now_rt, bb->now_mono);
		memmove(rc->buf, rc->buf + off, rc->len - off);
		rc->len -= off;
	}
	if (!eof)
		return;
	/* The producer is gone: what it published is all there is. */
	if (__atomic_load_n(&rc->hdr->head, __ATOMIC_ACQUIRE) != rc->tail)
		return; /* more next pass */
	if (rc->len)
		sbw_append_at(bb->w, SBX_R_TEXT, 0, rc->buf, rc->len, bb->now_rt, bb->now_mono);
	ring_close(bb, rc, NULL);
}

static void on_ring(bb_agent *bb, struct ring_conn *rc)
{
	char buf[64];
	ssize_t n;

	/* Wake-up bytes; none (the end) means the producer closed. */
	while ((n = recv(rc->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		rc->eof = true;
}

static void on_proc_event(bb_agent *bb)
{
	char buf[4096] __attribute__((aligned(8)));

	for (;;) {
		ssize_t n = recv(bb->cn, buf, sizeof(buf), 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;

		if (n < 0 && errno == ENOBUFS) {
			declare_loss(bb, 0, 0, BB_LOSS_EVENTS, "proc connector");
			continue;
		}
		if (n <= 0)
			return;
		for (; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			struct cn_msg *cn = NLMSG_DATA(nh);
			struct proc_event *ev = (struct proc_event *)cn->data;
			char path[64], argv[1024];
			int pid, fd;
			ssize_t len;

			if (ev->what != PROC_EVENT_EXEC)
				continue;
			pid = ev->event_data.exec.process_pid;
			snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			len = fd >= 0 ? read(fd, argv, sizeof(argv) - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (len <= 0) {
				len = snprintf(argv, sizeof(argv), "(exited)");
			} else {
				for (ssize_t i = 0; i < len; i++)
					if (argv[i] == '\0')
						argv[i] = ' ';
				while (len > 0 && argv[len - 1] == ' ')
					len--;
			}
			sbw_append(bb->w, SBX_R_EXEC, (uint32_t)pid, argv, (size_t)len);
		}
	}
}

/* Console bytes both ways, recorded with the time they passed. */
static void relay(bb_agent *bb, int from, int to, unsigned type)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));

		if (n <= 0)
			return;
		sbw_append(bb->w, type, 0, buf, (size_t)n);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, (size_t)(n - off));

			if (w < 0) {
				if (errno == EAGAIN) {
					struct pollfd p = { to, POLLOUT, 0 };

					poll(&p, 1, 100);
					continue;
				}
				if (errno != EINTR)
					break;
				continue;
			}
			off += w;
		}
	}
}

/* ---- no silent loss: declared losses, the endpoints kept in place ---- */

/* A LOSS record (reason BB_LOSS_*), after a lifecycle record of @what if
 * given (who was refused, which socket overflowed). */
static void declare_loss(bb_agent *bb, uint64_t records, uint64_t bytes, uint32_t reason,
			 const char *what)
{
	if (what)
		sbw_append_at(bb->w, SBX_R_LIFECYCLE, BB_EV_LOSS, what, strlen(what), bb->now_rt,
			      bb->now_mono);
	sbw_declare_loss(bb->w, records, bytes, reason, bb->now_rt, bb->now_mono);
}

static int *ep_fd(bb_agent *bb, int kind)
{
	return kind == EP_FIFO ? &bb->fifo : kind == EP_SYSLOG ? &bb->syslog : &bb->ring_listen;
}

static int ep_open(int kind)
{
	return kind == EP_FIFO ? open_fifo() : kind == EP_SYSLOG ? open_syslog() : open_ring_socket();
}

/* What the agent made at the endpoint's path, to know it again. An
 * endpoint the agent had at its start stays known: if the node is gone
 * again already (an intruder in a loop), the next check makes it again. */
static void ep_note(bb_agent *bb, int kind)
{
	struct endpoint *ep = &bb->ep[kind];
	struct stat st;

	if (*ep_fd(bb, kind) < 0)
		return;
	if (lstat(ep->path, &st) < 0) {
		ep->dev = 0;
		ep->ino = 0;
		return;
	}
	if (!ep->known)
		ep->mode = st.st_mode;
	ep->known = true;
	ep->dev = st.st_dev;
	ep->ino = st.st_ino;
}

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFIFO:
		return "another FIFO";
	case S_IFSOCK:
		return "another socket";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	}
	return "something else";
}

static bool ep_same(const struct endpoint *ep, const struct stat *st)
{
	return st->st_dev == ep->dev && st->st_ino == ep->ino;
}

/* An old endpoint's descriptor: writers that opened (or connected to) it
 * before it went keep writing into it, so the agent keeps reading it. A
 * FIFO is kept for reading only, so that it ends with its last writer; a
 * socket until more are retired than there is room for. */
static void retire(bb_agent *bb, int kind, int fd)
{
	struct retired *slot = NULL;

	if (fd < 0)
		return;
	if (kind == EP_RING) {
		int now = bb->ring_listen;

		bb->ring_listen = fd;
		on_ring_connect(bb); /* who waits in its backlog gets a ring */
		bb->ring_listen = now;
		close(fd);
		return;
	}
	if (kind == EP_FIFO) {
		char self[40];
		int ro;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		ro = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		on_fifo(bb, fd);
		close(fd);
		fd = ro;
		if (fd < 0)
			return;
	}
	for (int i = 0; i < RETIRED_MAX && !slot; i++)
		if (bb->retired[i].fd < 0)
			slot = &bb->retired[i];
	if (!slot) {
		slot = &bb->retired[0];
		if (slot->kind == EP_FIFO)
			on_fifo(bb, slot->fd);
		else
			on_syslog(bb, slot->fd);
		close(slot->fd);
	}
	slot->fd = fd;
	slot->kind = kind;
}

static bool on_retired(bb_agent *bb, int fd)
{
	for (int i = 0; i < RETIRED_MAX; i++) {
		struct retired *r = &bb->retired[i];

		if (r->fd != fd)
			continue;
		if (r->kind == EP_SYSLOG) {
			on_syslog(bb, fd);
		} else if (on_fifo(bb, fd) == 0) {
			close(fd);
			r->fd = -1;
		}
		return true;
	}
	return false;
}

/* The mount that hides @path in the userland's view: "TYPE on MOUNTPOINT"
 * of the last mount whose mount point is @path or a directory above it. */
static void hiding_mount(bb_agent *bb, const char *path, char *out, size_t len)
{
	char file[48], *text = NULL;
	size_t size = 0, best = 0;
	FILE *f;
	char *line = NULL;

	snprintf(out, len, "a mount");
	snprintf(file, sizeof(file), "/proc/%d/mountinfo", (int)bb->userland);
	f = fopen(file, "re");
	if (!f)
		return;
	while (getline(&line, &size, f) > 0) {
		char mnt[256], type[64], src[128];
		const char *dash = strstr(line, " - ");
		size_t n;

		if (!dash || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s %127s", type, src) != 2)
			continue;
		n = strlen(mnt);
		if (n < best || strncmp(path, mnt, n) != 0 ||
		    (path[n] != '/' && path[n] != '\0' && strcmp(mnt, "/") != 0))
			continue;
		best = n;
		free(text);
		text = NULL;
		if (asprintf(&text, "a mount of %s (%s) on %s", type, src, mnt) < 0)
			text = NULL;
	}
	free(line);
	fclose(f);
	if (text)
		snprintf(out, len, "%s", text);
	free(text);
}

/* Puts the agent's endpoint over whatever the userland sees at its path:
 * a clone of the agent's node, attached in the userland's mount
 * namespace. Returns 0 or -errno. */
static int put_back_in_userland(bb_agent *bb, const struct endpoint *ep)
{
	char nsfile[48];
	int tree, ns, r = 0;
	struct stat st;

	if (bb->own_ns < 0)
		return -ENOTSUP;
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, ep->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return -errno;
	snprintf(nsfile, sizeof(nsfile), "/proc/%d/ns/mnt", (int)bb->userland);
	ns = open(nsfile, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNS) < 0) {
		r = -errno;
		goto out;
	}
	/* In the userland's namespace now: a place to mount on. */
	mkdir("/dev", 0755);
	if (lstat(ep->path, &st) == 0 && S_ISLNK(st.st_mode))
		unlink(ep->path);
	if (lstat(ep->path, &st) < 0) {
		int fd = open(ep->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd >= 0)
			close(fd);
	} else if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
	}
	if (r == 0 && syscall(SYS_move_mount, tree, "", AT_FDCWD, ep->path,
			      MOVE_MOUNT_F_EMPTY_PATH) < 0)
		r = -errno;
	if (setns(bb->own_ns, CLONE_NEWNS) < 0) {
		say("blackbox: cannot return to the agent's mount namespace: %s", strerror(errno));
		if (r == 0)
			r = -EIO;
	}
out:
	if (ns >= 0)
		close(ns);
	close(tree);
	return r;
}

/* Who did it, as far as audit says: the last record of @kind that no
 * earlier check pass saw and that is at most WHO_MAX_AGE_MS older than
 * @since_ms (when the agent noticed). kauditd sends when it will: the
 * agent waits a little for it. */
static void who_did_it(bb_agent *bb, int kind, char *out, size_t len, uint64_t since_ms)
{
	const struct who *w = &bb->who[kind];

#define WHO_FRESH (w->text[0] && !w->used && w->ms + WHO_MAX_AGE_MS >= since_ms)
	for (int waited = 0; bb->audit >= 0 && waited < WHO_WAIT_MS && !WHO_FRESH; waited += 20) {
		struct pollfd p = { bb->audit, POLLIN, 0 };

		if (poll(&p, 1, 20) > 0)
			on_audit(bb);
	}
	if (bb->audit < 0)
		snprintf(out, len, "by: unknown (no audit in this guest)");
	else if (WHO_FRESH)
		snprintf(out, len, "by (audit):%s", w->text);
	else
		snprintf(out, len, "by: unknown (no audit record of it)");
#undef WHO_FRESH
}

/* What writers put into an impostor (a regular file or a FIFO in the
 * endpoint's place) before the agent put the endpoint back: up to
 * SALVAGE_MAX bytes, sealed as text after the event; the rest of a larger
 * file is declared lost. Returns the bytes in *@ret (malloc'd) or 0. */
static size_t salvage(bb_agent *bb, const char *path, const struct stat *st, char **ret,
		      uint64_t *ret_rest)
{
	int fd;
	struct stat now;
	char *buf;
	ssize_t n;

	*ret = NULL;
	*ret_rest = 0;
	if (!S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	buf = malloc(SALVAGE_MAX);
	if (!buf || fstat(fd, &now) < 0 || now.st_ino != st->st_ino || now.st_dev != st->st_dev ||
	    (n = read(fd, buf, SALVAGE_MAX)) <= 0) {
		free(buf);
		close(fd);
		return 0;
	}
	if (S_ISREG(now.st_mode) && now.st_size > n)
		*ret_rest = (uint64_t)now.st_size - (uint64_t)n;
	close(fd);
	(void)bb;
	*ret = buf;
	return (size_t)n;
}

/* Starts a new second of @ep's events if the last is over, first saying
 * how many of the last went undescribed. */
static void ep_say_unsaid(bb_agent *bb, struct endpoint *ep)
{
	uint64_t second = bb->now_mono / 1000000u;
	char what[160];
	int n;

	if (second == ep->window)
		return;
	if (ep->unsaid) {
		n = snprintf(what, sizeof(what),
			     "endpoint %s: %u more changes in a second, each put right, not "
			     "described one by one",
			     ep->path, ep->unsaid);
		sbw_append_at(bb->w, SBX_R_LIFECYCLE, BB_EV_ENDPOINT, what, (size_t)n, bb->now_rt,
			      bb->now_mono);
	}
	ep->window = second;
	ep->events = 0;
	ep->unsaid = 0;
}

/* Checks one endpoint in the agent's /dev and in the userland's view;
 * puts back what is not the agent's, and seals an event for it. */
static void ep_check(bb_agent *bb, int kind)
{
	struct endpoint *ep = &bb->ep[kind];
	char seen[400] = "", fixed[200] = "", who[300], what[1000];
	uint64_t since_ms = bb->now_rt / 1000;
	int who_kind = WHO_ENDPOINT;
	struct stat st;
	size_t off = 0, found = 0;
	uint64_t rest = 0;
	char *kept = NULL;

	if (!ep->known)
		return;
	if (lstat(ep->path, &st) < 0 || !ep_same(ep, &st)) {
		int old = *ep_fd(bb, kind), fd;
		bool gone = lstat(ep->path, &st) < 0;

		snprintf(seen, sizeof(seen), "%s",
			 gone ? "removed" : "replaced by ");
		if (!gone) {
			strncat(seen, type_name(st.st_mode), sizeof(seen) - strlen(seen) - 1);
			found = salvage(bb, ep->path, &st, &kept, &rest);
			if (found)
				snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen),
					 " holding %zu bytes (sealed as text after this record)",
					 found);
			if (unlink(ep->path) < 0 && errno == EISDIR) {
				char aside[64];

				snprintf(aside, sizeof(aside), "%s.displaced", ep->path);
				rename(ep->path, aside);
			}
		}
		fd = ep_open(kind);
		if (fd < 0) {
			snprintf(fixed, sizeof(fixed), "could not make it again: %s", strerror(errno));
		} else {
			*ep_fd(bb, kind) = fd;
			ep_note(bb, kind);
			retire(bb, kind, old);
			snprintf(fixed, sizeof(fixed), "made again");
		}
	} else if ((st.st_mode & 07777) != (ep->mode & 07777) || st.st_uid != 0 || st.st_gid != 0) {
		snprintf(seen, sizeof(seen), "mode or owner changed (mode %o, uid %u)",
			 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		if (chown(ep->path, 0, 0) < 0 || chmod(ep->path, ep->mode & 07777) < 0)
			snprintf(fixed, sizeof(fixed), "could not set it back: %s", strerror(errno));
		else
			snprintf(fixed, sizeof(fixed), "set back to mode %o",
				 (unsigned)(ep->mode & 07777));
	}
	/* (Gone again already: the next check makes it again first.) */
	if (ep->known && ep->ino && bb->userland > 0) {
		char upath[96];

		snprintf(upath, sizeof(upath), "/proc/%d/root%s", (int)bb->userland, ep->path);
		if (lstat(upath, &st) < 0 || !ep_same(ep, &st)) {
			char mount[200];
			int r;

			hiding_mount(bb, ep->path, mount, sizeof(mount));
			if (!seen[0])
				who_kind = WHO_MOUNT;
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen),
				 "%shidden from the tenant by %s", seen[0] ? "; " : "", mount);
			r = put_back_in_userland(bb, ep);
			snprintf(fixed + strlen(fixed), sizeof(fixed) - strlen(fixed), "%s%s%s",
				 fixed[0] ? "; " : "",
				 r < 0 ? "could not put it back in the tenant's view: "
				       : "put back in the tenant's view",
				 r < 0 ? strerror(-r) : "");
		}
	}
	if (!seen[0]) {
		ep->reported[0] = '\0';
		return;
	}
	/* The same trouble again, not put right: once is enough. */
	snprintf(what, sizeof(what), "%s; %s", seen, fixed);
	if (strcmp(what, ep->reported) == 0) {
		free(kept);
		return;
	}
	snprintf(ep->reported, sizeof(ep->reported), "%s", what);
	ep_say_unsaid(bb, ep);
	if (++ep->events > EP_EVENTS_PER_S) {
		ep->unsaid++;
		if (rest)
			declare_loss(bb, 0, rest, BB_LOSS_IMPOSTOR, NULL);
		if (found) {
			size_t done = seal_lines(bb, kept, found, bb->now_rt, bb->now_mono);

			if (done < found)
				sbw_append_at(bb->w, SBX_R_TEXT, 0, kept + done, found - done,
					      bb->now_rt, bb->now_mono);
		}
		free(kept);
		return;
	}
	who_did_it(bb, who_kind, who, sizeof(who), since_ms);
	off = (size_t)snprintf(what, sizeof(what), "endpoint %s: %s; %s; %s", ep->path, seen, who,
			       fixed);
	/* The blackbox only: the console is the landlord's to read. */
	sbw_append_at(bb->w, SBX_R_LIFECYCLE, BB_EV_ENDPOINT, what,
		      off < sizeof(what) ? off : sizeof(what) - 1, bb->now_rt, bb->now_mono);
	/* Put right: the same again later is news. */
	if (!strstr(fixed, "could not"))
		ep->reported[0] = '\0';
	if (found) {
		size_t done = seal_lines(bb, kept, found, bb->now_rt, bb->now_mono);

		if (done < found)
			sbw_append_at(bb->w, SBX_R_TEXT, 0, kept + done, found - done, bb->now_rt,
				      bb->now_mono);
	}
	if (rest)
		declare_loss(bb, 0, rest, BB_LOSS_IMPOSTOR, NULL);
	free(kept);
}

static void ep_check_all(bb_agent *bb)
{
	for (int i = 0; i < EP_COUNT; i++) {
		ep_check(bb, i);
		ep_say_unsaid(bb, &bb->ep[i]);
	}
	/* What audit said so far belongs to this pass (the userland's own
	 * mounts at its start, too). */
	for (int i = 0; i < WHO_KINDS; i++)
		bb->who[i].used = true;
}

/* Something changed in /dev: only the endpoints matter. */
static void on_dev_change(bb_agent *bb)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool check = false;
	ssize_t n;

	while ((n = read(bb->inotify, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				check = true;
			for (int i = 0; i < EP_COUNT && ev->len; i++)
				if (strcmp(ev->name, strrchr(bb->ep[i].path, '/') + 1) == 0)
					check = true;
			p += sizeof(*ev) + ev->len;
		}
	if (check)
		ep_check_all(bb);
}

void bb_set_userland(bb_agent *bb, pid_t pid)
{
	char file[48];

	if (!bb)
		return;
	if (bb->mountinfo >= 0)
		close(bb->mountinfo);
	bb->mountinfo = -1;
	bb->userland = pid;
	if (pid <= 0)
		return;
	snprintf(file, sizeof(file), "/proc/%d/mountinfo", (int)pid);
	bb->mountinfo = open(file, O_RDONLY | O_CLOEXEC);
}

void bb_periodic(bb_agent *bb)
{
	if (!bb)
		return;
	read_clocks(bb);
	ep_check_all(bb);
	flush_frames(bb);
}

void bb_event(bb_agent *bb, uint32_t aux, const char *what)
{
	if (!bb)
		return;
	read_clocks(bb);
	sbw_append(bb->w, SBX_R_LIFECYCLE, aux, what, strlen(what));
	flush_frames(bb);
}

void bb_handle(bb_agent *bb, const struct pollfd *pfd, int n)
{
	if (!bb)
		return;
	read_clocks(bb);
	for (int i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		if (pfd[i].fd == bb->kmsg)
			on_kmsg(bb);
		else if (pfd[i].fd == bb->syslog)
			on_syslog(bb, bb->syslog);
		else if (pfd[i].fd == bb->fifo)
			on_fifo(bb, bb->fifo);
		else if (pfd[i].fd == bb->cn)
			on_proc_event(bb);
		else if (pfd[i].fd == bb->audit)
			on_audit(bb);
		else if (pfd[i].fd == bb->con_master)
			relay(bb, bb->con_master, bb->con_real, SBX_R_CONSOLE_OUT);
		else if (pfd[i].fd == bb->con_real)
			relay(bb, bb->con_real, bb->con_master, SBX_R_CONSOLE_IN);
		else if (pfd[i].fd == bb->ring_listen)
			on_ring_connect(bb);
		else if (pfd[i].fd == bb->inotify)
			on_dev_change(bb);
		else if (pfd[i].fd == bb->mountinfo)
			ep_check_all(bb);
		else if (on_retired(bb, pfd[i].fd))
			;
		else
			for (int r = 0; r < RING_MAX; r++)
				if (pfd[i].fd == bb->rings[r].fd)
					on_ring(bb, &bb->rings[r]);
	}
	/* Every ring, told or not: producers under load do not tell. */
	for (int r = 0; r < RING_MAX; r++)
		if (bb->rings[r].fd >= 0)
			ring_take(bb, &bb->rings[r], bb->rings[r].eof);
	sbw_tick(bb->w, NULL);
	flush_frames(bb);
}

void bb_lifecycle(bb_agent *bb, const char *what)
{
	if (!bb)
		return;
	read_clocks(bb);
	sbw_append(bb->w, SBX_R_LIFECYCLE, 0, what, strlen(what));
	flush_frames(bb);
}

void bb_end(bb_agent *bb)
{
	if (!bb)
		return;
	read_clocks(bb);
	/* What is still queued goes in before the end. */
	if (bb->kmsg >= 0)
		on_kmsg(bb);
	if (bb->fifo >= 0)
		on_fifo(bb, bb->fifo);
	for (int r = 0; r < RING_MAX; r++)
		if (bb->rings[r].fd >= 0)
			ring_take(bb, &bb->rings[r], false);
	if (bb->syslog >= 0)
		on_syslog(bb, bb->syslog);
	for (int i = 0; i < RETIRED_MAX; i++)
		if (bb->retired[i].fd >= 0)
			on_retired(bb, bb->retired[i].fd);
	if (bb->audit >= 0)
		on_audit(bb);
	for (int i = 0; i < EP_COUNT; i++) {
		bb->ep[i].window = 0; /* said now, if anything is left unsaid */
		ep_say_unsaid(bb, &bb->ep[i]);
	}
	sbw_end(bb->w, 0);
	flush_frames(bb);
	sbw_free(bb->w);
	bb->w = NULL;
}
