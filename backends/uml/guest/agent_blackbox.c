/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest side of the blackbox (agent_blackbox.h): the line, the
 * sources, the rings. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#include "../../../libsoda/hexval.h"
#include "agent_blackbox_int.h"
#include "agent_ids.h"

static uint64_t now_usec(int realtime)
{
	struct timespec ts;

	clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void bb_read_clocks(bb_agent *bb)
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
void bb_flush_frames(bb_agent *bb)
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
		bb_flush_frames(bb);
		bb_read_clocks(bb); /* the line may have made us wait */
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
		bb_flush_frames(bb);
		return write_all(bb->line, frame, len);
	}
	if (bb->out_len + len > OUT_BUF_BYTES)
		bb_flush_frames(bb);
	memcpy(bb->out + bb->out_len, frame, len);
	bb->out_len += len;
	bb->out_frames++;
	return 0;
}

static int parse_key(const char *hex, uint8_t pk[32])
{
	if (strlen(hex) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		int hi = su_hexval(hex[2 * i]), lo = su_hexval(hex[2 * i + 1]);

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

int bb_open_syslog(const char *path)
{
	int fd = open_unix_socket(SOCK_DGRAM, path), size = 1 << 20;

	/* Room for bursts: a datagram the socket cannot take is refused to
	 * its sender (who may retry or count it), not lost unseen by us. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return fd;
}

int bb_open_fifo(const char *path)
{
	int fd;

	unlink(path);
	if (mkfifo(path, 0622) < 0 || chmod(path, 0622) < 0)
		return -1;
	/* Read and write: the agent itself keeps a writer, so no EOF ever. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
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
 * key="soda-mount" (bb_on_audit remembers the last one). */
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

/* The kernel's count of audit records it dropped (AUDIT_GET's lost), asked
 * on a socket of its own: the agent's audit socket carries the records,
 * whose replies audit_request() would eat. -1 if it cannot tell. */
static int64_t audit_lost_count(int fd)
{
	struct {
		struct nlmsghdr nh;
		char pad[16];
	} __attribute__((aligned(8))) req = { .nh = { .nlmsg_len = NLMSG_LENGTH(0),
						      .nlmsg_type = AUDIT_GET,
						      .nlmsg_flags = NLM_F_REQUEST } };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char reply[1024] __attribute__((aligned(8)));

	if (fd < 0 || sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
			     sizeof(kernel)) < 0)
		return -1;
	for (int tries = 0; tries < 4; tries++) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			return -1;
		n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
		for (struct nlmsghdr *nh = (struct nlmsghdr *)reply; n > 0 && NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n))
			if (nh->nlmsg_type == AUDIT_GET &&
			    nh->nlmsg_len >= NLMSG_LENGTH(offsetof(struct audit_status, lost) +
							  sizeof(uint32_t)))
				return ((struct audit_status *)NLMSG_DATA(nh))->lost;
	}
	return -1;
}

void bb_check_audit_lost(bb_agent *bb)
{
	int64_t lost = audit_lost_count(bb->audit_ctl);

	if (lost < 0 || (uint32_t)lost == bb->audit_lost)
		return;
	bb_declare_loss(bb, (uint32_t)lost - bb->audit_lost, 0, BB_LOSS_EVENTS,
			"audit: the kernel's backlog was full");
	bb->audit_lost = (uint32_t)lost;
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
				out[len++] = (char)(su_hexval(v[0]) * 16 + su_hexval(v[1]));
		}
		p = v;
	}
	return len;
}

void bb_on_audit(bb_agent *bb)
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
			bb_declare_loss(bb, 0, 0, BB_LOSS_EVENTS, "audit");
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
		ids_on_audit(nh->nlmsg_type, text); /* Kernort's exec events (agent_ids.h) */
		if (nh->nlmsg_type == AUDIT_EXECVE) {
			alen = audit_argv(text, argv, sizeof(argv));
			ids_on_exec_argv(audit_serial(text), argv, alen);
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
	bb->ring_listen = bb->inotify = bb->mountinfo = bb->own_ns = bb->audit_ctl = -1;
	for (int i = 0; i < RING_MAX; i++)
		bb->rings[i].fd = -1;
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
	bb_read_clocks(bb);
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
	bb->syslog = bb_open_syslog(BB_SYSLOG);
	bb->fifo = bb_open_fifo(BB_FIFO);
	bb->ring_listen = bb_open_ring_socket(BBRING_PATH);
	ep_start(bb);
	bb->audit = open_audit();
	if (bb->audit >= 0) {
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
		int64_t lost;

		bb->audit_ctl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
		if (bb->audit_ctl >= 0 && bind(bb->audit_ctl, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(bb->audit_ctl);
			bb->audit_ctl = -1;
		}
		lost = audit_lost_count(bb->audit_ctl);
		bb->audit_lost = lost > 0 ? (uint32_t)lost : 0;
	}
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

		bb_read_clocks(bb); /* opening the audit may have taken a while */
		sbw_append(bb->w, SBX_R_LIFECYCLE, 0, what, (size_t)n);
	}
	bb_flush_frames(bb);
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
		bb_read_clocks(bb);
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
	bb_flush_frames(bb); /* a heartbeat, if one was due */
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
				bb_declare_loss(bb, seq - bb->kmsg_seq, 0, BB_LOSS_KERNEL_LOG, NULL);
			bb->kmsg_seq = seq + 1;
		}
		n -= semi + 1 - buf;
		if (n > 0 && semi[n] == '\n')
			n--;
		sbw_append(bb->w, SBX_R_KERNEL, pri & 7, semi + 1, (size_t)(n > 0 ? n : 0));
		ids_on_klog(pri & 7, semi + 1, (size_t)(n > 0 ? n : 0));
	}
}

void bb_on_syslog(bb_agent *bb, int fd)
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
			bb_declare_loss(bb, 0, (uint64_t)n - (sizeof(buf) - 1), BB_LOSS_SYSLOG_CUT, NULL);
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
		ids_on_syslog(pri, msg, strlen(msg));
	}
}

/* Seals the whole lines at the start of @buf (@len bytes), as many as one
 * record holds each (the reader hands them out one record per line):
 * sealing costs per record, and 64 records of a KiB cost the guest's only
 * CPU about twice what one of 64 KiB does. A line longer than
 * LINE_MAX_BYTES goes in parts of its own. Returns the bytes sealed; the
 * rest is the start of a line. */
size_t bb_seal_lines(bb_agent *bb, const char *buf, size_t len, uint64_t rt, uint64_t mono)
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
int bb_on_fifo(bb_agent *bb, int fd)
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
			bb_read_clocks(bb);
		/* A read that did not fill the buffer emptied the pipe: no need
		 * to ask again (each read is a system call of the guest). */
		drained = (size_t)n < sizeof(bb->fifo_buf) - bb->fifo_len;
		bb->fifo_len += (size_t)n;
		/* The lines of one read arrived together; what is left of a line
		 * moves down once per read. */
		off = bb_seal_lines(bb, bb->fifo_buf, bb->fifo_len, bb->now_rt, bb->now_mono);
		memmove(bb->fifo_buf, bb->fifo_buf + off, bb->fifo_len - off);
		bb->fifo_len -= off;
		if (drained)
			return 1;
	}
}

/* /dev/blackbox.ring (bbring.h): a producer connects, the agent hands it a
 * ring of its own. */
int bb_open_ring_socket(const char *path)
{
	int fd = open_unix_socket(SOCK_STREAM, path);

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
			bb_declare_loss(bb, 0, rc->len, BB_LOSS_RING_BROKEN, NULL);
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
	bb_declare_loss(bb, 0, 0, BB_LOSS_RING_REFUSED, what);
}

void bb_on_ring_connect(bb_agent *bb)
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
			bb_read_clocks(bb);
		__atomic_store_n(&rc->hdr->tail, rc->tail, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_exchange_n(&rc->hdr->writer_waiting, 0, __ATOMIC_ACQ_REL))
			send(rc->fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		rc->len += (size_t)n;
		off = bb_seal_lines(bb, rc->buf, rc->len, bb->now_rt, bb->now_mono);
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
			bb_declare_loss(bb, 0, 0, BB_LOSS_EVENTS, "proc connector");
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
		if (type == SBX_R_CONSOLE_IN)
			ids_on_tty(buf, (size_t)n);
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
void bb_declare_loss(bb_agent *bb, uint64_t records, uint64_t bytes, uint32_t reason,
			 const char *what)
{
	if (what)
		sbw_append_at(bb->w, SBX_R_LIFECYCLE, BB_EV_LOSS, what, strlen(what), bb->now_rt,
			      bb->now_mono);
	sbw_declare_loss(bb->w, records, bytes, reason, bb->now_rt, bb->now_mono);
}

void bb_event(bb_agent *bb, uint32_t aux, const char *what)
{
	if (!bb)
		return;
	bb_read_clocks(bb);
	sbw_append(bb->w, SBX_R_LIFECYCLE, aux, what, strlen(what));
	bb_flush_frames(bb);
}

void bb_handle(bb_agent *bb, const struct pollfd *pfd, int n)
{
	if (!bb)
		return;
	bb_read_clocks(bb);
	for (int i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		if (pfd[i].fd == bb->kmsg)
			on_kmsg(bb);
		else if (pfd[i].fd == bb->syslog)
			bb_on_syslog(bb, bb->syslog);
		else if (pfd[i].fd == bb->fifo)
			bb_on_fifo(bb, bb->fifo);
		else if (pfd[i].fd == bb->cn)
			on_proc_event(bb);
		else if (pfd[i].fd == bb->audit)
			bb_on_audit(bb);
		else if (pfd[i].fd == bb->con_master)
			relay(bb, bb->con_master, bb->con_real, SBX_R_CONSOLE_OUT);
		else if (pfd[i].fd == bb->con_real)
			relay(bb, bb->con_real, bb->con_master, SBX_R_CONSOLE_IN);
		else if (pfd[i].fd == bb->ring_listen)
			bb_on_ring_connect(bb);
		else if (pfd[i].fd == bb->inotify)
			ep_on_dev_change(bb);
		else if (pfd[i].fd == bb->mountinfo)
			ep_check_all(bb);
		else if (ep_on_retired(bb, pfd[i].fd))
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
	bb_flush_frames(bb);
}

void bb_lifecycle(bb_agent *bb, const char *what)
{
	if (!bb)
		return;
	bb_read_clocks(bb);
	sbw_append(bb->w, SBX_R_LIFECYCLE, 0, what, strlen(what));
	bb_flush_frames(bb);
}

void bb_end(bb_agent *bb)
{
	if (!bb)
		return;
	bb_read_clocks(bb);
	/* What is still queued goes in before the end. */
	if (bb->kmsg >= 0)
		on_kmsg(bb);
	if (bb->fifo >= 0)
		bb_on_fifo(bb, bb->fifo);
	for (int r = 0; r < RING_MAX; r++)
		if (bb->rings[r].fd >= 0)
			ring_take(bb, &bb->rings[r], false);
	if (bb->syslog >= 0)
		bb_on_syslog(bb, bb->syslog);
	if (bb->audit >= 0)
		bb_on_audit(bb);
	ep_end(bb);
	sbw_end(bb->w, 0);
	bb_flush_frames(bb);
	sbw_free(bb->w);
	bb->w = NULL;
}
