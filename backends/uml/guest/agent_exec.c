/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Commands the landlord runs in the guest (agent_exec.h).
 *
 * The agent is PID 1 and single-threaded: nothing here blocks for long. A
 * write to the line waits for room at most LINE_WRITE_MS (soda-monitor
 * always reads; if it does not, the line is given up, never the agent).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent_exec.h"
#include "lockdown.h"

#define EXEC_LINE "/dev/ttyS3"
#define LINE_WRITE_MS 5000
#define DRAIN_GRACE_MS 1000 /* after the command ended, for its pipes' last bytes */

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct ex {
	bool used;
	uint32_t id;
	pid_t pid;
	bool reaped;
	int status;
	long reaped_at;
	int in_fd, out_fd, err_fd;
	uint8_t *in_buf; /* SX_WINDOW bytes at most */
	size_t in_len;
	bool in_eof;
	uint32_t credit; /* stdout and stderr bytes we may still send */
	long deadline;
	bool timed_out;
	char label[48];
};

static int chan = -1;
static int own_pidns = -1;
static int profile;
static pid_t userland;
static void (*record_fn)(const char *text);
static struct ex execs[SX_MAX_EXECS];
static sx_reader reader;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void line_lost(const char *why)
{
	say("exec line given up: %s", why);
	close_fd(&chan);
}

static void line_write(const uint8_t *p, size_t n)
{
	long until = now_ms() + LINE_WRITE_MS;

	while (n > 0 && chan >= 0) {
		ssize_t w = write(chan, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			line_lost(strerror(errno));
			return;
		}
		{
			struct pollfd pfd = { chan, POLLOUT, 0 };
			long left = until - now_ms();

			if (left <= 0) {
				line_lost("the host does not read it");
				return;
			}
			poll(&pfd, 1, (int)left);
		}
	}
}

static void send_frame(uint32_t id, uint16_t type, const void *payload, size_t len)
{
	uint8_t hdr[SX_HDR];

	sx_put_header(hdr, (uint32_t)len, id, type);
	line_write(hdr, sizeof(hdr));
	if (len)
		line_write(payload, len);
}

static void send_u32s(uint32_t id, uint16_t type, uint32_t a, uint32_t b, const char *text,
		      size_t nwords)
{
	uint8_t buf[8 + 200];
	size_t len = 4 * nwords, tl = text ? strnlen(text, 200) : 0;

	sx_put_u32(buf, a);
	sx_put_u32(buf + 4, b);
	memcpy(buf + len, text ? text : "", tl);
	send_frame(id, type, buf, len + tl);
}

static void record(const char *text)
{
	if (record_fn)
		record_fn(text);
}

/* Printable ASCII stays, the rest (and the quote and backslash) as \xNN. */
static void add_escaped(char *out, size_t max, size_t *pos, const char *s)
{
	for (; *s && *pos + 5 < max; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
			*pos += (size_t)snprintf(out + *pos, max - *pos, "\\x%02x", c);
		else
			out[(*pos)++] = (char)c;
	}
	out[*pos] = '\0';
}

static void record_start(const struct ex *e, const sx_request *req)
{
	char text[2048];
	size_t pos = 0;

	pos += (size_t)snprintf(text, sizeof(text), "landlord exec %s: user ", e->label);
	add_escaped(text, sizeof(text), &pos, req->user ? req->user : "root");
	pos += (size_t)snprintf(text + pos, sizeof(text) - pos, ", cwd ");
	add_escaped(text, sizeof(text), &pos, req->cwd ? req->cwd : "(home)");
	pos += (size_t)snprintf(text + pos, sizeof(text) - pos, ", timeout %u ms, stdin %s, argv",
				req->timeout_ms, req->has_stdin ? "yes" : "no");
	for (size_t i = 0; i < req->argc && pos + 8 < sizeof(text); i++) {
		text[pos++] = ' ';
		text[pos++] = '\'';
		add_escaped(text, sizeof(text) - 1, &pos, req->argv[i]);
		text[pos++] = '\'';
		text[pos] = '\0';
	}
	if (req->envc && pos + 16 < sizeof(text)) {
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, ", environment");
		for (size_t i = 0; i < req->envc && pos + 8 < sizeof(text); i++) {
			const char *eq = strchr(req->env[i], '=');
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - req->env[i]), req->env[i]);
			text[pos++] = ' ';
			add_escaped(text, sizeof(text), &pos, name);
		}
	}
	record(text);
}

/* ---- starting a command ---- */

struct who {
	uid_t uid;
	gid_t gid;
	char home[256];
	char name[64];
};

/* @user (a name, or a decimal uid) in the userland's /etc/passwd; a uid
 * that is not there runs with gid = uid and home /. */
static int find_user(const char *user, struct who *w)
{
	char line[1024];
	bool numeric = user[strspn(user, "0123456789")] == '\0';
	unsigned long want = numeric ? strtoul(user, NULL, 10) : 0;
	FILE *f = fopen("/etc/passwd", "re");

	while (f && fgets(line, sizeof(line), f)) {
		char *field[7], *save = NULL, *p = line;
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		for (char *tok; n < 7 && (tok = strsep(&p, ":"));)
			field[n++] = tok;
		(void)save;
		if (n < 6)
			continue;
		if (numeric ? strtoul(field[2], NULL, 10) != want : strcmp(field[0], user) != 0)
			continue;
		w->uid = (uid_t)strtoul(field[2], NULL, 10);
		w->gid = (gid_t)strtoul(field[3], NULL, 10);
		snprintf(w->home, sizeof(w->home), "%s", field[5][0] == '/' ? field[5] : "/");
		snprintf(w->name, sizeof(w->name), "%s", field[0]);
		fclose(f);
		return 0;
	}
	if (f)
		fclose(f);
	if (!numeric || want > 0xfffffffeUL)
		return -ENOENT;
	w->uid = (uid_t)want;
	w->gid = (gid_t)want;
	snprintf(w->home, sizeof(w->home), "/");
	snprintf(w->name, sizeof(w->name), "%lu", want);
	return 0;
}

static void child_fail(int errfd, int err, const char *what)
{
	char buf[240];
	int n = snprintf(buf, sizeof(buf), "%d %s: %s", err, what, strerror(err));

	if (write(errfd, buf, (size_t)n) < 0) {
		/* the agent will see the status */
	}
	_exit(127);
}

/* In the child: never returns. */
static void run_child(const sx_request *req, int mntns, int in, int out, int err, int errfd)
{
	static char *envp[SX_ARGS_MAX + 8];
	char home[300], user[80], logname[80], path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	struct who w = { 0 };
	sigset_t none;
	size_t n = 0;
	int r;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	if (mntns >= 0 && setns(mntns, CLONE_NEWNS) < 0)
		child_fail(errfd, errno, "cannot enter the userland's mount namespace");
	setsid();
	if (in < 0)
		in = open("/dev/null", O_RDONLY);
	if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		child_fail(errfd, errno ? errno : EBADF, "cannot set up stdin, stdout and stderr");
	r = find_user(req->user ? req->user : "0", &w);
	if (r < 0)
		child_fail(errfd, -r, req->user ? req->user : "root");
	if (chdir(req->cwd ? req->cwd : w.home) < 0) {
		if (req->cwd)
			child_fail(errfd, errno, req->cwd);
		if (chdir("/") < 0)
			child_fail(errfd, errno, "/");
	}
	r = lockdown_userland(profile);
	if (r < 0)
		child_fail(errfd, -r, "cannot lock the command down as the userland is");
	if (setgroups(0, NULL) < 0 || setresgid(w.gid, w.gid, w.gid) < 0 ||
	    setresuid(w.uid, w.uid, w.uid) < 0)
		child_fail(errfd, errno, "cannot become the user");
	snprintf(home, sizeof(home), "HOME=%s", w.home);
	snprintf(user, sizeof(user), "USER=%s", w.name);
	snprintf(logname, sizeof(logname), "LOGNAME=%s", w.name);
	envp[n++] = path;
	envp[n++] = home;
	envp[n++] = user;
	envp[n++] = logname;
	/* The caller's entries replace ours (and earlier ones) of the same name. */
	for (size_t i = 0; i < req->envc; i++) {
		size_t kl = (size_t)(strchr(req->env[i], '=') - req->env[i]) + 1, j;

		for (j = 0; j < n && strncmp(envp[j], req->env[i], kl) != 0; j++)
			;
		envp[j] = (char *)req->env[i];
		if (j == n)
			n++;
	}
	envp[n] = NULL;
	environ = envp;
	execvp(req->argv[0], (char *const *)req->argv);
	child_fail(errfd, errno, req->argv[0]);
}

static void nostart(uint32_t id, int err, const char *text)
{
	send_u32s(id, SX_EXIT, SX_NOSTART, (uint32_t)err, text, 2);
}

static struct ex *find(uint32_t id)
{
	for (int i = 0; i < SX_MAX_EXECS; i++)
		if (execs[i].used && execs[i].id == id)
			return &execs[i];
	return NULL;
}

static void start(uint32_t id, uint8_t *payload, uint32_t len)
{
	static sx_request req;
	char err[200];
	struct ex *e = NULL;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int pidns = -1, mntns = -1;
	char path[64];
	ssize_t n;

	if (find(id)) {
		nostart(id, EEXIST, "an exec of that id runs");
		return;
	}
	for (int i = 0; i < SX_MAX_EXECS && !e; i++)
		if (!execs[i].used)
			e = &execs[i];
	if (!e) {
		nostart(id, EBUSY, "too many commands run");
		return;
	}
	if (sx_request_decode(&req, payload, len, err, sizeof(err)) < 0) {
		nostart(id, EINVAL, err);
		return;
	}
	if (userland <= 0) {
		nostart(id, EAGAIN, "the guest's userland is not running");
		return;
	}
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->in_fd = e->out_fd = e->err_fd = -1;
	snprintf(e->label, sizeof(e->label), "#%u", id);
	record_start(e, &req);
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)userland);
	pidns = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)userland);
	mntns = open(path, O_RDONLY | O_CLOEXEC);
	if (pidns < 0 || mntns < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0 || (req.has_stdin && pipe2(in, O_CLOEXEC) < 0)) {
		int x = errno;

		nostart(id, x, "cannot prepare the command");
		goto fail;
	}
	/* Its children in the userland's PID namespace (ours is back at once). */
	if (setns(pidns, CLONE_NEWPID) < 0) {
		int x = errno;

		nostart(id, x, "cannot enter the userland's PID namespace");
		goto fail;
	}
	e->pid = fork();
	if (e->pid == 0)
		run_child(&req, mntns, in[0], out[1], errp[1], ep[1]);
	if (setns(own_pidns, CLONE_NEWPID) < 0)
		say("exec: cannot return to the agent's PID namespace: %s", strerror(errno));
	if (e->pid < 0) {
		int x = errno;

		nostart(id, x, "fork");
		goto fail;
	}
	close_fd(&ep[1]);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	/* The error pipe closes at the exec, or carries why not. */
	do
		n = read(ep[0], err, sizeof(err) - 1);
	while (n < 0 && errno == EINTR);
	close_fd(&ep[0]);
	if (n > 0) {
		char *msg = NULL;
		long code;

		err[n] = '\0';
		code = strtol(err, &msg, 10);
		waitpid(e->pid, NULL, 0);
		nostart(id, code > 0 && code < 4096 ? (int)code : EIO,
			msg && *msg ? msg + 1 : "cannot start the command");
		{
			char text[300];

			snprintf(text, sizeof(text), "landlord exec %s did not start: %s", e->label,
				 msg && *msg ? msg + 1 : "?");
			record(text);
		}
		goto fail;
	}
	e->used = true;
	e->in_fd = in[1];
	e->out_fd = out[0];
	e->err_fd = errp[0];
	if (e->in_fd >= 0) {
		fcntl(e->in_fd, F_SETFL, O_NONBLOCK);
		e->in_buf = malloc(SX_WINDOW);
		if (!e->in_buf)
			close_fd(&e->in_fd);
	}
	fcntl(e->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(e->err_fd, F_SETFL, O_NONBLOCK);
	e->credit = SX_WINDOW;
	e->deadline = req.timeout_ms ? now_ms() + (long)req.timeout_ms : 0;
	close(pidns);
	close(mntns);
	return;
fail:
	close_fd(&pidns);
	close_fd(&mntns);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&ep[0]);
	close_fd(&ep[1]);
	memset(e, 0, sizeof(*e));
}

/* ---- running commands ---- */

static void finish(struct ex *e)
{
	char text[120];
	const char *how;
	uint32_t kind, value;

	if (e->timed_out) {
		kind = SX_TIMEDOUT;
		value = SIGKILL;
		how = "timed out, killed";
	} else if (WIFSIGNALED(e->status)) {
		kind = SX_SIGNALED;
		value = (uint32_t)WTERMSIG(e->status);
		how = "killed by signal";
	} else {
		kind = SX_EXITED;
		value = (uint32_t)WEXITSTATUS(e->status);
		how = "exited";
	}
	send_u32s(e->id, SX_EXIT, kind, value, NULL, 2);
	snprintf(text, sizeof(text), "landlord exec %s ended: %s %u", e->label, how, value);
	record(text);
	close_fd(&e->in_fd);
	close_fd(&e->out_fd);
	close_fd(&e->err_fd);
	free(e->in_buf);
	memset(e, 0, sizeof(*e));
}

static void kill_command(struct ex *e)
{
	if (e->pid > 0 && !e->reaped) {
		kill(-e->pid, SIGKILL);
		kill(e->pid, SIGKILL);
	}
}

static void pump_out(struct ex *e, int *fd, uint16_t type)
{
	uint8_t buf[SX_DATA_MAX];
	size_t want = e->credit < sizeof(buf) ? e->credit : sizeof(buf);
	ssize_t n;

	if (want == 0)
		return;
	n = read(*fd, buf, want);
	if (n > 0) {
		e->credit -= (uint32_t)n;
		send_frame(e->id, type, buf, (size_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close_fd(fd);
	}
}

static void pump_in(struct ex *e)
{
	ssize_t n = write(e->in_fd, e->in_buf, e->in_len);
	size_t done;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* A command that stopped reading its stdin: the rest is dropped, and
	 * still given back as credit so that the sender is not stalled. */
	done = n < 0 ? e->in_len : (size_t)n;
	if (n < 0)
		close_fd(&e->in_fd);
	memmove(e->in_buf, e->in_buf + done, e->in_len - done);
	e->in_len -= done;
	send_u32s(e->id, SX_CREDIT, (uint32_t)done, 0, NULL, 1);
	if (e->in_len == 0 && e->in_eof)
		close_fd(&e->in_fd);
}

static int on_frame(void *ctx, uint32_t id, uint16_t type, const uint8_t *payload, uint32_t len)
{
	struct ex *e = find(id);

	(void)ctx;
	switch (type) {
	case SX_START:
		start(id, (uint8_t *)payload, len);
		break;
	case SX_STDIN:
		if (!e)
			break;
		if (e->in_fd < 0 || !e->in_buf) {
			/* nobody to give it to: back as credit at once */
			send_u32s(id, SX_CREDIT, len, 0, NULL, 1);
			break;
		}
		if (e->in_len + len > SX_WINDOW) {
			say("exec %s: stdin past its window; dropped", e->label);
			break;
		}
		memcpy(e->in_buf + e->in_len, payload, len);
		e->in_len += len;
		break;
	case SX_STDIN_EOF:
		if (!e)
			break;
		e->in_eof = true;
		if (e->in_len == 0)
			close_fd(&e->in_fd);
		break;
	case SX_KILL:
		if (e)
			kill_command(e);
		break;
	case SX_CREDIT:
		if (e && len == 4) {
			uint32_t c = sx_get_u32(payload);

			e->credit = c > SX_WINDOW - e->credit ? SX_WINDOW : e->credit + c;
		}
		break;
	default:
		say("exec line: unknown frame type %u", type);
		break;
	}
	return 0;
}

static void on_line(void)
{
	uint8_t buf[16384];
	char err[120];
	ssize_t n = read(chan, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		line_lost(n == 0 ? "end of file" : strerror(errno));
		return;
	}
	/* Room again in the tty's buffer (exec_proto.h). */
	send_u32s(0, SX_LINE_ACK, (uint32_t)n, 0, NULL, 1);
	if (sx_feed(&reader, buf, (size_t)n, on_frame, NULL, err, sizeof(err)) < 0) {
		/* Only soda-monitor writes here (or root in an open guest that
		 * made itself a node): start over at the next frame boundary is
		 * impossible to find; give the line up. */
		line_lost(err);
	}
}

int ex_open(int prof, void (*record_text)(const char *text))
{
	struct termios t;

	profile = prof;
	record_fn = record_text;
	for (int i = 0; i < SX_MAX_EXECS; i++)
		execs[i].in_fd = execs[i].out_fd = execs[i].err_fd = -1;
	if (access(EXEC_LINE, F_OK) < 0)
		mknod(EXEC_LINE, S_IFCHR | 0600, makedev(4, 67));
	chan = open(EXEC_LINE, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	unlink(EXEC_LINE);
	if (chan < 0)
		return -errno;
	/* Binary-safe: no echo, no line editing, no translation. */
	if (tcgetattr(chan, &t) == 0) {
		cfmakeraw(&t);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tcsetattr(chan, TCSANOW, &t);
	}

	own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_pidns < 0) {
		int r = -errno;

		close_fd(&chan);
		return r;
	}
	return 0;
}

void ex_set_userland(pid_t pid)
{
	userland = pid;
}

int ex_poll_fds(struct pollfd *pfd, int max)
{
	int n = 0;

	if (chan < 0 || max < EXEC_MAX_FDS)
		return 0;
	pfd[n++] = (struct pollfd){ chan, POLLIN, 0 };
	for (int i = 0; i < SX_MAX_EXECS; i++) {
		struct ex *e = &execs[i];

		if (!e->used)
			continue;
		if (e->out_fd >= 0 && e->credit > 0)
			pfd[n++] = (struct pollfd){ e->out_fd, POLLIN, 0 };
		if (e->err_fd >= 0 && e->credit > 0)
			pfd[n++] = (struct pollfd){ e->err_fd, POLLIN, 0 };
		if (e->in_fd >= 0 && e->in_len > 0)
			pfd[n++] = (struct pollfd){ e->in_fd, POLLOUT, 0 };
	}
	return n;
}

void ex_handle(const struct pollfd *pfd, int n)
{
	long now = now_ms();

	for (int k = 0; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		if (pfd[k].fd == chan) {
			on_line();
			continue;
		}
		for (int i = 0; i < SX_MAX_EXECS; i++) {
			struct ex *e = &execs[i];

			if (!e->used)
				continue;
			if (pfd[k].fd == e->out_fd)
				pump_out(e, &e->out_fd, SX_STDOUT);
			else if (pfd[k].fd == e->err_fd)
				pump_out(e, &e->err_fd, SX_STDERR);
			else if (pfd[k].fd == e->in_fd)
				pump_in(e);
		}
	}
	for (int i = 0; i < SX_MAX_EXECS; i++) {
		struct ex *e = &execs[i];

		if (!e->used)
			continue;
		if (e->deadline && now >= e->deadline && !e->reaped && !e->timed_out) {
			e->timed_out = true;
			kill_command(e);
		}
		/* Its pipes' last bytes; what a process it left behind keeps
		 * open does not hold the answer up past the grace (nor past a
		 * timeout). */
		if (e->reaped && (e->timed_out || now - e->reaped_at > DRAIN_GRACE_MS) &&
		    e->credit > 0) {
			close_fd(&e->out_fd);
			close_fd(&e->err_fd);
		}
		if (e->reaped && e->out_fd < 0 && e->err_fd < 0)
			finish(e);
	}
}

int ex_timeout_ms(void)
{
	long now = now_ms(), best = -1;

	for (int i = 0; i < SX_MAX_EXECS; i++) {
		const struct ex *e = &execs[i];
		long at = -1;

		if (!e->used)
			continue;
		if (e->reaped && (e->timed_out || (e->out_fd < 0 && e->err_fd < 0)))
			at = now;
		else if (e->reaped)
			at = e->reaped_at + DRAIN_GRACE_MS;
		else if (e->deadline)
			at = e->deadline;
		if (at >= 0 && (best < 0 || at < best))
			best = at;
	}
	if (best < 0)
		return -1;
	return best <= now ? 0 : (int)(best - now + 1);
}

bool ex_reaped(pid_t pid, int status)
{
	for (int i = 0; i < SX_MAX_EXECS; i++) {
		struct ex *e = &execs[i];

		if (e->used && e->pid == pid && !e->reaped) {
			e->reaped = true;
			e->status = status;
			e->reaped_at = now_ms();
			return true;
		}
	}
	return false;
}
