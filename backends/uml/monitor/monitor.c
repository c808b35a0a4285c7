/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor: one per running server (the conmon model).
 *
 *   soda-monitor run LAUNCH-FILE SYNC-FD
 *   soda-monitor calibrate UML-BINARY
 *
 * "run" forks once so that the process the library started (and waits for)
 * exits as soon as the guest kernel is running, while the real monitor lives
 * on in its own session, reparented away from the caller: the server
 * survives the program that started it. The monitor jails and execs
 * linux.uml, holds its console and agent line, answers a control socket,
 * writes the status file, and when the guest ends removes everything the
 * run made (cgroup, uml_dir entry, run directory).
 *
 * It is a separate program so that the library never forks without exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <soda/context.h>
#include <soda/server.h>

#include "host/cgroup.h"
#include "../proto.h"
#include "blackbox.h"
#include "jail.h"
#include "mconsole.h"
#include "seccomp.h"
#include "ids.h"
#include "ids_guest.h"
#include "exec.h"

#define CONSOLE_RING (64 * 1024)
#define CONSOLE_LOG_MAX (1024 * 1024)
#define MONITOR_LOG_MAX (256 * 1024)
#define MAX_CLIENTS 16
#define SIGTERM_STOP_MS 10000

enum fd_kind {
	K_SIGNAL = 1,
	K_CONTROL,
	K_CONSOLE_LISTEN,
	K_GUEST_CONSOLE,
	K_AGENT,
	K_UML_OUTPUT,
	K_STOP_TIMER,
	K_CONSOLE_CLIENT,
	K_BLACKBOX,
	K_SECCOMP,
	K_IDS,          /* the IDS at the port (ids.c) */
	K_EXEC,         /* the exec line and exec connections (exec.c) */
};

struct monitor {
	su_launch l;
	su_status st;
	su_cg_layout layout;
	su_cgroup cg;
	int epfd;
	int sigfd;
	int ctl_fd;
	int con_listen_fd;
	int guest_con_fd;
	int agent_fd;
	int output_fd;
	int bb_fd;
	int exec_fd;              /* the exec line (exec.c) */
	int timer_fd;
	int log_fd;
	int console_log_fd;
	int clients[MAX_CLIENTS];
	char ring[CONSOLE_RING];
	size_t ring_len;
	size_t ring_start;
	char agent_line[512];
	size_t agent_len;
	pid_t guest;
	uint64_t started_mono;
	bool stop_requested;
	bool forced;
	bool kill_requested;
	uint32_t stop_timeout_ms;
	int state_before_freeze;
	int seccomp_fd;            /* the filter's listener */
	enum su_seccomp_mode seccomp_mode;
	char seccomp_reason[128]; /* set when the filter killed the server */
	int own_netns;            /* the monitor's (the switch's) network namespace */
	int guest_netns;          /* linux.uml's own */
};

static struct monitor M;

/* ---- logging ---- */

static void mlog(const char *fmt, ...) SU_PRINTF(1, 2);
static void mlog(const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	va_list ap;
	int n;
	struct stat st;

	if (M.log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld.%03ld soda-monitor[%d]: ", (long long)ts.tv_sec,
		     ts.tv_nsec / 1000000, (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (fstat(M.log_fd, &st) == 0 && st.st_size > MONITOR_LOG_MAX)
		if (ftruncate(M.log_fd, 0) < 0) {
			/* nothing better to do than keep appending */
		}
	if (write(M.log_fd, line, (size_t)n) < 0) {
		/* a full disk must not stop the monitor */
	}
}

/* ---- status ---- */

static void write_status(void)
{
	int r = su_status_write(&M.st, M.l.status_path);

	if (r < 0)
		mlog("cannot write %s: %s", M.l.status_path, strerror(-r));
}

/* The blackbox's anchor or quota warning changed: the status carries it to
 * every context (SODA_EVENT_BLACKBOX_*). */
static void on_blackbox_status(const char *anchor, unsigned usage)
{
	snprintf(M.st.bb_anchor, sizeof(M.st.bb_anchor), "%s", anchor);
	M.st.bb_usage = usage;
	write_status();
}

static void set_state(int state, const char *fmt, ...) SU_PRINTF(2, 3);
static void set_state(int state, const char *fmt, ...)
{
	va_list ap;

	M.st.state = state;
	va_start(ap, fmt);
	vsnprintf(M.st.reason, sizeof(M.st.reason), fmt, ap);
	va_end(ap);
	mlog("state %s: %s", soda_state_name(state), M.st.reason);
	write_status();
	/* The tenant's blackbox hears of it too, sealed to the tenant's key. */
	if (mbb_active()) {
		char text[160];

		snprintf(text, sizeof(text), "%s: %s", soda_state_name(state), M.st.reason);
		mbb_lifecycle(state, text);
	}
}

static void mlog_text(const char *msg)
{
	mlog("%s", msg);
}

/* ---- epoll plumbing ---- */

static int ep_add(int fd, enum fd_kind kind, int slot)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = (uint64_t)kind << 32 | (uint32_t)slot;
	return epoll_ctl(M.epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_client(int slot)
{
	if (M.clients[slot] >= 0) {
		epoll_ctl(M.epfd, EPOLL_CTL_DEL, M.clients[slot], NULL);
		close(M.clients[slot]);
		M.clients[slot] = -1;
	}
}

/* ---- console ---- */

static void console_log_append(const char *buf, size_t n)
{
	struct stat st;

	if (M.console_log_fd < 0)
		return;
	if (fstat(M.console_log_fd, &st) == 0 && st.st_size + (off_t)n > CONSOLE_LOG_MAX) {
		char *old = su_strdup_printf("%s.1", M.l.console_log);

		if (old) {
			rename(M.l.console_log, old);
			free(old);
		}
		close(M.console_log_fd);
		M.console_log_fd = open(M.l.console_log,
					O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
					0600);
		if (M.console_log_fd < 0)
			return;
	}
	if (write(M.console_log_fd, buf, n) < 0) {
		/* keep going without the log */
	}
}

static void ring_append(const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t pos = (M.ring_start + M.ring_len) % CONSOLE_RING;

		M.ring[pos] = buf[i];
		if (M.ring_len < CONSOLE_RING)
			M.ring_len++;
		else
			M.ring_start = (M.ring_start + 1) % CONSOLE_RING;
	}
}

static void send_all_or_drop(int slot, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(M.clients[slot], buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* A reader that cannot keep up loses its seat rather than
			 * stalling the guest's console for everyone. */
			close_client(slot);
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
}

static void on_guest_console(void)
{
	char buf[16384];
	ssize_t n = read(M.guest_con_fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			epoll_ctl(M.epfd, EPOLL_CTL_DEL, M.guest_con_fd, NULL);
		}
		return;
	}
	ring_append(buf, (size_t)n);
	console_log_append(buf, (size_t)n);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (M.clients[i] >= 0)
			send_all_or_drop(i, buf, (size_t)n);
}

static void on_console_accept(void)
{
	int fd = accept4(M.con_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int slot = -1;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		close(fd);
		return;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (M.clients[i] < 0) {
			slot = i;
			break;
		}
	if (slot < 0) {
		close(fd);
		return;
	}
	M.clients[slot] = fd;
	ep_add(fd, K_CONSOLE_CLIENT, slot);
	/* Recent history first, so a client sees the prompt it joins at. */
	if (M.ring_len) {
		size_t first = CONSOLE_RING - M.ring_start;

		if (first > M.ring_len)
			first = M.ring_len;
		send_all_or_drop(slot, M.ring + M.ring_start, first);
		if (M.clients[slot] >= 0 && M.ring_len > first)
			send_all_or_drop(slot, M.ring, M.ring_len - first);
	}
}

static void on_console_client(int slot)
{
	char buf[4096];
	ssize_t n = read(M.clients[slot], buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			close_client(slot);
		return;
	}
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(M.guest_con_fd, buf + off, (size_t)(n - off));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { M.guest_con_fd, POLLOUT, 0 };

				poll(&p, 1, 100);
				continue;
			}
			return;
		}
		off += w;
	}
}

/* ---- the guest's agent line ---- */

static void on_agent_line(const char *line)
{
	if (strcmp(line, "ready") == 0) {
		if (!M.st.ready) {
			M.st.ready = true;
			M.st.ready_usec = su_mono_usec() - M.started_mono;
			if (M.st.state == SODA_STATE_STARTING)
				set_state(SODA_STATE_RUNNING, "ready");
			else
				write_status();
		}
		return;
	}
	if (midg_on_line(line)) /* Kernort inside the guest (ids_guest.h) */
		return;
	if (strcmp(line, "exec 1") == 0) { /* the agent holds the exec line */
		mex_set_available();
		return;
	}
	mlog("agent: %.200s", line);
}

static void on_agent(void)
{
	char buf[4096];
	ssize_t n = read(M.agent_fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0)
			epoll_ctl(M.epfd, EPOLL_CTL_DEL, M.agent_fd, NULL);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char c = buf[i];

		if (c == '\r')
			continue;
		if (c == '\n') {
			M.agent_line[M.agent_len] = '\0';
			on_agent_line(M.agent_line);
			M.agent_len = 0;
		} else if (M.agent_len < sizeof(M.agent_line) - 1) {
			M.agent_line[M.agent_len++] = c;
		}
	}
}

static void on_uml_output(void)
{
	char buf[2048];
	ssize_t n = read(M.output_fd, buf, sizeof(buf) - 1);

	if (n <= 0) {
		if (n == 0)
			epoll_ctl(M.epfd, EPOLL_CTL_DEL, M.output_fd, NULL);
		return;
	}
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		mlog("linux.uml: %s", line);
}

/* ---- lifecycle ---- */

static void arm_timer(uint32_t ms)
{
	struct itimerspec its = { .it_value = { ms / 1000, (long)(ms % 1000) * 1000000 } };

	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	timerfd_settime(M.timer_fd, 0, &its, NULL);
}

static int do_freeze(bool frozen, char *msg, size_t msglen)
{
	soda_error *e = NULL;
	int r;

	if (frozen && M.st.state != SODA_STATE_RUNNING && M.st.state != SODA_STATE_STARTING) {
		snprintf(msg, msglen, "server is %s, not running", soda_state_name(M.st.state));
		return -EBUSY;
	}
	if (!frozen && M.st.state != SODA_STATE_PAUSED) {
		snprintf(msg, msglen, "server is %s, not paused", soda_state_name(M.st.state));
		return -EBUSY;
	}
	r = su_cg_freeze(&M.cg, frozen, &e);
	if (r < 0) {
		snprintf(msg, msglen, "%s", soda_error_message(e));
		soda_error_free(e);
		return r;
	}
	if (frozen) {
		M.state_before_freeze = M.st.state;
		set_state(SODA_STATE_PAUSED, "frozen");
	} else {
		set_state(M.state_before_freeze ? M.state_before_freeze : SODA_STATE_RUNNING,
			  "thawed");
	}
	return 0;
}

/* The IDS's automatic response (ids.c). */
static int ids_freeze(char *msg, size_t msglen)
{
	return do_freeze(true, msg, msglen);
}

/* The IDS's dump response holds the guest still while it copies (ids.c):
 * 1 when it froze it, 0 when the operator had already frozen it. */
static int ids_hold(bool frozen, char *msg, size_t msglen)
{
	if (frozen && M.st.state == SODA_STATE_PAUSED)
		return 0;
	return do_freeze(frozen, msg, msglen) < 0 ? -EBUSY : frozen ? 1 : 0;
}

static void force_kill(const char *why)
{
	soda_error *e = NULL;

	mlog("killing the guest: %s", why);
	if (su_cg_kill(&M.cg, &e) < 0) {
		mlog("cgroup kill: %s", soda_error_message(e));
		soda_error_free(e);
		kill(M.guest, SIGKILL);
	}
}

static int do_stop(uint32_t timeout_ms, char *msg, size_t msglen)
{
	char reply[MCONSOLE_MAX_DATA];
	char uml_sock[96];
	int r;

	if (M.st.state == SODA_STATE_STOPPING)
		return 0;
	if (!su_state_is_live(M.st.state)) {
		snprintf(msg, msglen, "server is %s", soda_state_name(M.st.state));
		return -EBUSY;
	}
	if (M.st.state == SODA_STATE_PAUSED)
		su_cg_freeze(&M.cg, false, NULL);
	M.stop_requested = true;
	M.stop_timeout_ms = timeout_ms;
	set_state(SODA_STATE_STOPPING, "stop requested (timeout %u ms)", timeout_ms);
	/* ctrl-alt-del: the guest's init gets SIGINT and shuts down cleanly. */
	/* The socket is in the jail's own tmpfs, under linux.uml's working
	 * directory; its reply comes to an abstract address, which lives in
	 * linux.uml's network namespace. */
	snprintf(uml_sock, sizeof(uml_sock), "/proc/%d/cwd%s/%s/mconsole", (int)M.guest,
		 SU_JAIL_UMLDIR, SU_UMID);
	r = su_mconsole_request(uml_sock, M.guest_netns, M.own_netns, "cad", reply,
				sizeof(reply), 1000);
	if (r < 0) {
		mlog("mconsole cad failed (%s); will force at the timeout", strerror(-r));
	}
	arm_timer(timeout_ms);
	return 0;
}

static void on_stop_timer(void)
{
	uint64_t expirations;

	if (read(M.timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	if (M.stop_requested && M.guest > 0) {
		M.forced = true;
		force_kill("stop timeout");
	}
}

static void handle_control(int fd)
{
	char req[256], reply[SU_CTL_MAX], msg[200] = "";
	struct ucred cred;
	socklen_t len = sizeof(cred);
	ssize_t n;
	int r = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		close(fd);
		return;
	}
	{
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 1000) <= 0) {
			close(fd);
			return;
		}
	}
	n = recv(fd, req, sizeof(req) - 1, 0);
	if (n <= 0) {
		close(fd);
		return;
	}
	req[n] = '\0';
	snprintf(reply, sizeof(reply), "ok");
	if (strcmp(req, "ping") == 0) {
		/* ok */
	} else if (strcmp(req, "status") == 0) {
		char *text = su_status_serialize(&M.st);

		if (text)
			snprintf(reply, sizeof(reply), "ok %s", text);
		free(text);
	} else if (strcmp(req, "freeze") == 0) {
		r = do_freeze(true, msg, sizeof(msg));
	} else if (strcmp(req, "thaw") == 0) {
		r = do_freeze(false, msg, sizeof(msg));
	} else if (strncmp(req, "stop ", 5) == 0) {
		uint64_t ms;

		if (su_parse_u64(req + 5, &ms) < 0 || ms > 24u * 3600 * 1000) {
			r = -EINVAL;
			snprintf(msg, sizeof(msg), "bad timeout '%.40s'", req + 5);
		} else {
			r = do_stop((uint32_t)ms, msg, sizeof(msg));
		}
	} else if (strncmp(req, "snapshot ", 9) == 0) {
		/* A forensic dump was taken: the tenant's blackbox hears of it. */
		mlog("snapshot: %.200s", req + 9);
		mbb_host_event(SU_BB_SNAPSHOT, 0, req + 9);
	} else if (strcmp(req, "kill") == 0) {
		M.kill_requested = true;
		force_kill("kill requested");
	} else if (strcmp(req, "exec") == 0) {
		/* The connection becomes the command's stream (exec.h). */
		if (M.st.state == SODA_STATE_RUNNING && M.st.ready) {
			mex_client(fd);
			return;
		}
		r = -EAGAIN;
		snprintf(msg, sizeof(msg), "server is %s%s", soda_state_name(M.st.state),
			 M.st.state == SODA_STATE_RUNNING ? " but not ready" : ", not running");
	} else {
		r = -EINVAL;
		snprintf(msg, sizeof(msg), "unknown request '%.40s'", req);
	}
	if (r < 0)
		snprintf(reply, sizeof(reply), "err %d %s", -r, msg[0] ? msg : strerror(-r));
	send(fd, reply, strlen(reply), MSG_NOSIGNAL);
	close(fd);
}

static void on_control(void)
{
	int fd = accept4(M.ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0)
		handle_control(fd);
}

static bool memory_file_made(pid_t pid);
static void fsize_lower_now(pid_t pid);

/* The answer to a notification: a thread gate goes ahead once the file size
 * limit is down (linux.uml makes its memory file before its first helper
 * thread, and runs its guest after: that limit is in force before the
 * guest's first instruction); a call outside the allowlist fails (log
 * mode: goes ahead). */
static bool seccomp_decide(const su_seccomp_event *ev)
{
	if (su_seccomp_is_gate(ev)) {
		if (M.l.fsize_run && M.guest > 0 && memory_file_made(M.guest))
			fsize_lower_now(M.guest);
		return true;
	}
	return M.seccomp_mode == SU_SECCOMP_LOG;
}

/* The filter's listener: a thread gate, or a call outside linux.uml's
 * allowlist. */
static void on_seccomp(void)
{
	bool log_only = M.seccomp_mode == SU_SECCOMP_LOG, allowed = false;
	su_seccomp_event ev;
	int r = su_seccomp_handle(M.seccomp_fd, seccomp_decide, &allowed, &ev);

	if (r == -EAGAIN)
		return;
	if (r < 0 && r != -ENOENT) {
		/* The listener broke: without it a denied call would fail with
		 * ENOSYS instead of ending the server. Safer to end it now. */
		mlog("seccomp listener: %s", strerror(-r));
		epoll_ctl(M.epfd, EPOLL_CTL_DEL, M.seccomp_fd, NULL);
		if (!log_only && M.guest > 0) {
			snprintf(M.seccomp_reason, sizeof(M.seccomp_reason),
				 "seccomp listener failed: %s", strerror(-r));
			force_kill(M.seccomp_reason);
		}
		return;
	}
	if (su_seccomp_is_gate(&ev))
		return;
	/* SODA_SECCOMP_REPORT=FILE: every call outside the allowlist also goes
	 * to FILE (the server's own log goes when its state directory does:
	 * for tracing linux.uml over a test suite). */
	if (getenv("SODA_SECCOMP_REPORT")) {
		int fd = open(getenv("SODA_SECCOMP_REPORT"),
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd >= 0) {
			dprintf(fd, "%s %s %s(0x%llx, 0x%llx, 0x%llx)\n", M.l.name,
				log_only ? "logged" : "denied", ev.name,
				(unsigned long long)ev.args[0], (unsigned long long)ev.args[1],
				(unsigned long long)ev.args[2]);
			close(fd);
		}
	}
	if (log_only) {
		mlog("seccomp (log only): pid %d called %s(0x%llx, 0x%llx, 0x%llx)", (int)ev.pid,
		     ev.name, (unsigned long long)ev.args[0], (unsigned long long)ev.args[1],
		     (unsigned long long)ev.args[2]);
		return;
	}
	if (M.seccomp_reason[0])
		return;
	snprintf(M.seccomp_reason, sizeof(M.seccomp_reason),
		 "seccomp: linux.uml called %s (pid %d), denied", ev.name, (int)ev.pid);
	mlog("%s (arguments 0x%llx, 0x%llx, 0x%llx)", M.seccomp_reason,
	     (unsigned long long)ev.args[0], (unsigned long long)ev.args[1],
	     (unsigned long long)ev.args[2]);
	if (M.guest > 0)
		force_kill(M.seccomp_reason);
}

static void cleanup_run(void)
{
	soda_error *e = NULL;

	/* uml_dir was the jail's tmpfs: it went with the last process. */
	if (su_cg_destroy(&M.cg, &e) < 0) {
		mlog("cgroup cleanup: %s", soda_error_message(e));
		soda_error_free(e);
	}
}

static void on_guest_exit(int status)
{
	int state;
	char reason[128];

	if (WIFEXITED(status)) {
		M.st.exit_code = WEXITSTATUS(status);
		M.st.exit_signal = 0;
	} else {
		M.st.exit_code = -1;
		M.st.exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
	M.guest = 0;
	cleanup_run();
	/* The cgroup is empty now; reap the helpers it held (we are their
	 * subreaper) so none lingers as a zombie. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (M.seccomp_reason[0]) {
		/* Before a stop or kill that came at the same time: the guest
		 * broke out of its allowlist. */
		state = SODA_STATE_CRASHED;
		snprintf(reason, sizeof(reason), "%s", M.seccomp_reason);
	} else if (M.kill_requested) {
		state = SODA_STATE_SHUTOFF;
		snprintf(reason, sizeof(reason), "killed");
	} else if (M.stop_requested) {
		state = SODA_STATE_SHUTOFF;
		if (M.forced)
			snprintf(reason, sizeof(reason), "stopped by force after %u ms",
				 M.stop_timeout_ms);
		else
			snprintf(reason, sizeof(reason), "stopped");
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		state = SODA_STATE_SHUTOFF;
		snprintf(reason, sizeof(reason), "guest shut down");
	} else if (WIFSIGNALED(status)) {
		state = SODA_STATE_CRASHED;
		snprintf(reason, sizeof(reason), "linux.uml killed by signal %d", WTERMSIG(status));
	} else {
		state = SODA_STATE_CRASHED;
		snprintf(reason, sizeof(reason), "linux.uml exited with code %d",
			 WEXITSTATUS(status));
	}
	M.st.monitor_pid = 0;
	M.st.monitor_start = 0;
	M.st.guest_pid = 0;
	set_state(state, "%s", reason);
}

static bool on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(M.sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int status;
			pid_t p;

			while ((p = waitpid(-1, &status, WNOHANG)) > 0)
				if (p == M.guest) {
					on_guest_exit(status);
					return true;
				}
		} else if (si.ssi_signo == SIGTERM) {
			char msg[100];

			do_stop(SIGTERM_STOP_MS, msg, sizeof(msg));
		}
	}
	return false;
}

/* ---- start-up ---- */

static int listen_unix(const char *name, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
	unlink(name);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(name, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		su_close(fd);
		return -1;
	}
	return fd;
}

static void report(int fd, const char *fmt, ...) SU_PRINTF(2, 3);
static void report(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (write(fd, buf, (size_t)n) < 0) {
		/* the starter is gone; nothing to tell */
	}
}

static void child_fail(int errfd, int code, const char *msg)
{
	char buf[600];
	int n = snprintf(buf, sizeof(buf), "%d %s", code < 0 ? -code : code, msg);

	if (write(errfd, buf, (size_t)n) < 0) {
		/* nobody to tell */
	}
	_exit(127);
}

/* LD_LIBRARY_PATH for linux.uml: the directories of its libraries,
 * relative to its working directory (its root, the hostfs root, holds none
 * of them). */
static char *library_path(void)
{
	su_buf b = { 0 };
	char *out;

	su_buf_append(&b, ":", 1);
	for (size_t i = 0; i < M.l.n_mounts; i++) {
		const su_mount *m = &M.l.mounts[i];
		const char *slash = strrchr(m->dst, '/');
		char dir[300];

		if (m->kind != SU_MNT_BIND_RO || !strstr(m->dst, ".so") ||
		    strncmp(m->dst, SU_JAIL_HOSTFS "/", strlen(SU_JAIL_HOSTFS) + 1) == 0 ||
		    (M.l.preload && strcmp(m->dst, M.l.preload) == 0) || slash == m->dst)
			continue;
		/* ":DIR:" marks a directory listed already. */
		snprintf(dir, sizeof(dir), ":%.*s:", (int)(slash - m->dst - 1), m->dst + 1);
		if (b.data && strstr(b.data, dir))
			continue;
		su_buf_append(&b, dir + 1, strlen(dir) - 1);
	}
	if (!b.data)
		return NULL;
	/* Without the outer colons (an empty entry would mean "."). */
	b.data[b.len - 1] = '\0';
	out = strdup(b.data + 1);
	su_buf_free(&b);
	return out;
}

/* The jail's child hands the monitor three descriptors: the filter's
 * listener, the jail's network and mount namespaces. */
#define JAIL_FDS 3

static int send_fds(int sock, const int fds[JAIL_FDS])
{
	char byte = 's';
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(JAIL_FDS * sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(JAIL_FDS * sizeof(int));
	memcpy(CMSG_DATA(c), fds, JAIL_FDS * sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

static int recv_fds(int sock, int fds[JAIL_FDS])
{
	char byte;
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(JAIL_FDS * sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) != 1)
		return errno ? -errno : -EPROTO;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(JAIL_FDS * sizeof(int)))
		return -EPROTO;
	memcpy(fds, CMSG_DATA(c), JAIL_FDS * sizeof(int));
	return 0;
}

#ifdef SODA_MONITOR_TEST_EXEC
/*
 * Test builds only (soda-monitor-test, never installed): SODA_TEST_EXEC
 * names a static program that runs in linux.uml's place, under exactly its
 * confinement (the same jail, uid, namespaces, limits, filter and cgroup),
 * with the words of SODA_TEST_EXEC_ARGS as arguments: tests/tools/
 * escapekit.c. Its file size limit is the running server's (the disk
 * layer's size): it has no memory file to wait for.
 */
#define TEST_EXEC_JAIL "/escapekit"
static char **test_argv;

static int test_exec_setup(void)
{
	const char *path = getenv("SODA_TEST_EXEC"), *args = getenv("SODA_TEST_EXEC_ARGS");
	char *copy, *save = NULL;

	if (!path)
		return 0;
	if (path[0] != '/' || su_strv_push(&test_argv, "escapekit") < 0)
		return -EINVAL;
	copy = args ? strdup(args) : NULL;
	for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save))
		if (su_strv_push(&test_argv, w) < 0) {
			free(copy);
			return -ENOMEM;
		}
	free(copy);
	if (M.l.fsize_run) {
		M.l.fsize = M.l.fsize_run;
		M.l.fsize_run = 0;
	}
	mlog("test build: running %s in linux.uml's place", path);
	return su_launch_add_mount(&M.l, SU_MNT_BIND_RO, TEST_EXEC_JAIL, path, 0, 0, 0);
}
#endif

/* The descriptors linux.uml inherits (beyond 0-2). */
struct guest_fds {
	int con, agent, out, null, bb, exec;
	int taps[SODA_NICS_MAX];
	size_t n_taps;
};

/* In the child: jail, wire the fds, install the filter, exec linux.uml
 * (relative to the jail's top, its working directory). Never returns. */
static void exec_guest(int go_fd, int errfd, int sc_fd, const struct guest_fds *g,
		       const char *root)
{
	char preload[600], *libpath, *ldpath;
	char *env[] = { "TMPDIR=tmp" /* SU_JAIL_TMP, relative */, "PATH=/usr/bin:/bin", "HOME=/", NULL, NULL,
			NULL };
	sigset_t none;
	char err[512], go;
	int keep_from, r, listener, taps[SODA_NICS_MAX], con, agent, null, out, bb, ns[2], exec;

	libpath = library_path();
	ldpath = libpath ? su_strdup_printf("LD_LIBRARY_PATH=%s", libpath) : NULL;
	if (!ldpath)
		child_fail(errfd, ENOMEM, "out of memory");
	env[3] = ldpath;
	if (M.l.preload) {
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", SU_JAIL_REL(M.l.preload));
		env[4] = preload;
	}

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Wait until the monitor has put us in the cgroup. */
	if (read(go_fd, &go, 1) != 1)
		child_fail(errfd, EPIPE, "monitor went away before the jail was built");
	close(go_fd);
	r = su_jail_enter(&M.l, root, ns, err, sizeof(err));
	if (r < 0)
		child_fail(errfd, r, err);
	/* The error pipe and the filter's socket go above every fd linux.uml
	 * keeps, out of dup2's way. */
	keep_from = SU_FD_TAP0 + (int)g->n_taps;
	errfd = fcntl(errfd, F_DUPFD_CLOEXEC, keep_from + 2);
	sc_fd = fcntl(sc_fd, F_DUPFD_CLOEXEC, keep_from + 2);
	ns[0] = fcntl(ns[0], F_DUPFD_CLOEXEC, keep_from + 2);
	ns[1] = fcntl(ns[1], F_DUPFD_CLOEXEC, keep_from + 2);
	if (errfd < 0 || sc_fd < 0 || ns[0] < 0 || ns[1] < 0)
		_exit(127);
	for (size_t i = 0; i < g->n_taps; i++)
		if ((taps[i] = fcntl(g->taps[i], F_DUPFD_CLOEXEC, keep_from + 2)) < 0)
			child_fail(errfd, errno, "dup TAP");
	/* The sources too, so that no dup2 below overwrites one not yet
	 * placed. */
	con = fcntl(g->con, F_DUPFD_CLOEXEC, keep_from + 2);
	agent = fcntl(g->agent, F_DUPFD_CLOEXEC, keep_from + 2);
	null = fcntl(g->null, F_DUPFD_CLOEXEC, keep_from + 2);
	out = fcntl(g->out, F_DUPFD_CLOEXEC, keep_from + 2);
	bb = g->bb >= 0 ? fcntl(g->bb, F_DUPFD_CLOEXEC, keep_from + 2) : -1;
	exec = fcntl(g->exec, F_DUPFD_CLOEXEC, keep_from + 2);
	if (con < 0 || agent < 0 || null < 0 || out < 0 || (g->bb >= 0 && bb < 0) || exec < 0)
		child_fail(errfd, errno, "dup");
	if (dup2(con, SU_FD_CONSOLE) < 0 || dup2(agent, SU_FD_READY) < 0 || dup2(null, 0) < 0 ||
	    dup2(out, 1) < 0 || dup2(out, 2) < 0 || (bb >= 0 && dup2(bb, SU_FD_BLACKBOX) < 0) ||
	    dup2(exec, SU_FD_EXEC) < 0)
		child_fail(errfd, errno, "dup2");
	/* The TAPs (opened in the switch's namespace) at SU_FD_TAP0 + i; the
	 * copies made above sit beyond the error pipe. */
	for (size_t i = 0; i < g->n_taps; i++)
		if (dup2(taps[i], SU_FD_TAP0 + (int)i) < 0)
			child_fail(errfd, errno, "dup2 TAP");
	/* Keep only 0-4 (5: the blackbox line), the TAPs, the error pipe and
	 * the filter's socket (both close-on-exec) across exec. */
	for (int fd = g->bb >= 0 ? SU_FD_BLACKBOX + 1 : SU_FD_BLACKBOX; fd < 1024; fd++)
		if (fd != errfd && fd != sc_fd && fd != ns[0] && fd != ns[1] && fd != SU_FD_EXEC &&
		    !(fd >= SU_FD_TAP0 && fd < SU_FD_TAP0 + (int)g->n_taps))
			close(fd);
	/* The filter last: from here on only linux.uml's calls are allowed
	 * (the listener goes to the monitor, the exec is one of them). */
	listener = su_seccomp_install(M.seccomp_mode, M.l.fsize_run != 0, err, sizeof(err));
	if (listener < 0)
		child_fail(errfd, listener, err);
	r = send_fds(sc_fd, (int[JAIL_FDS]){ listener, ns[0], ns[1] });
	if (r < 0)
		child_fail(errfd, r, "cannot hand over the seccomp listener");
	close(listener);
	close(ns[0]);
	close(ns[1]);
	close(sc_fd);
#ifdef SODA_MONITOR_TEST_EXEC
	if (test_argv)
		execve(SU_JAIL_REL(TEST_EXEC_JAIL), test_argv, env);
#endif
	execve(SU_JAIL_REL(M.l.argv[0]), M.l.argv, env);
	snprintf(err, sizeof(err), "exec %s: %s", M.l.argv[0], strerror(errno));
	child_fail(errfd, errno, err);
}

/* Is linux.uml's memory file (an unlinked file in its TMPDIR, as large as
 * the guest's memory) there yet? */
static bool memory_file_made(pid_t pid)
{
	char dir[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char link[320], target[256];
		struct stat st;
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = strncmp(target, SU_JAIL_TMP "/", strlen(SU_JAIL_TMP) + 1) == 0 &&
			stat(link, &st) == 0 && (uint64_t)st.st_size >= M.l.memory;
	}
	closedir(d);
	return found;
}

/* RLIMIT_FSIZE down to the disk layer's size once the memory file exists:
 * linux.uml's main process first (what it starts from then on inherits
 * it), then every process of the server that it started before. Done as
 * the server's uid (lowering a limit needs no privilege, and a host
 * without CAP_SYS_RESOURCE, a container, could not do it as root). */
static void fsize_lower_now(pid_t pid)
{
	struct rlimit lim = { M.l.fsize_run, M.l.fsize_run };
	pid_t *pids = NULL, child;
	size_t n = 0;
	int status;

	if (su_cg_pids(&M.cg, &pids, &n) < 0)
		n = 0;
	child = fork();
	if (child == 0) {
		int bad = 0;

		if (setgroups(0, NULL) < 0 || setresgid(M.l.gid, M.l.gid, M.l.gid) < 0 ||
		    setresuid(M.l.uid, M.l.uid, M.l.uid) < 0)
			_exit(100);
		if (prlimit(pid, RLIMIT_FSIZE, &lim, NULL) < 0)
			_exit(101);
		for (size_t i = 0; i < n; i++)
			if (prlimit(pids[i], RLIMIT_FSIZE, &lim, NULL) < 0 && errno != ESRCH)
				bad++;
		_exit(bad ? 102 : 0);
	}
	free(pids);
	if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		mlog("cannot lower linux.uml's file size limit (%d)",
		     child < 0 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status));
		return;
	}
	M.l.fsize_run = 0;
}

static void lower_fsize(pid_t pid)
{
	for (int i = 0; i < 5000 && !memory_file_made(pid); i++)
		usleep(1000);
	if (!memory_file_made(pid)) {
		mlog("no memory file after 5 s: the file size limit stays at %" PRIu64
		     " until linux.uml starts a thread",
		     M.l.fsize);
		return;
	}
	fsize_lower_now(pid);
}

/* The server's TAPs, opened here in the switch's namespace: linux.uml, in a
 * network namespace of its own, could not find them by name. */
static int open_taps(struct guest_fds *g, char *err, size_t errlen)
{
	for (size_t i = 0; M.l.netdevs && M.l.netdevs[i]; i++) {
		struct ifreq ifr;
		unsigned idx;
		char name[IFNAMSIZ + 1];
		int fd;

		if (sscanf(M.l.netdevs[i], "%u %16s", &idx, name) != 2 || idx != i ||
		    strlen(name) >= IFNAMSIZ || i >= SODA_NICS_MAX) {
			snprintf(err, errlen, "bad network device '%s'", M.l.netdevs[i]);
			return -EINVAL;
		}
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;

			snprintf(err, errlen, "open /dev/net/tun: %s", strerror(e));
			return -e;
		}
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
		memcpy(ifr.ifr_name, name, strlen(name));
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int e = errno;

			close(fd);
			snprintf(err, errlen, "attach to TAP %s: %s", name, strerror(e));
			return -e;
		}
		g->taps[g->n_taps++] = fd;
	}
	return 0;
}

static int start_guest(int report_fd)
{
	int con[2] = { -1, -1 }, agent[2] = { -1, -1 }, out[2] = { -1, -1 };
	int go[2] = { -1, -1 }, errp[2] = { -1, -1 }, null_fd, bb[2] = { -1, -1 };
	int sc[2] = { -1, -1 }, ex[2] = { -1, -1 };
	struct guest_fds g = { .bb = -1 };
	soda_error *e = NULL;
	char *root, buf[600], cpus[64] = "";
	int jfds[JAIL_FDS];
	ssize_t n;
	pid_t pid;
	int r;

	root = su_strdup_printf("%s/root", M.l.run_dir);
	if (!root)
		return -ENOMEM;
#ifdef SODA_MONITOR_TEST_EXEC
	r = test_exec_setup();
	if (r < 0) {
		report(report_fd, "err %d bad SODA_TEST_EXEC", -r);
		free(root);
		return r;
	}
#endif
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con) < 0 ||
	    pipe2(agent, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sc) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ex) < 0) {
		r = su_neg_errno();
		report(report_fd, "err %d cannot make pipes: %s", -r, strerror(-r));
		return r;
	}
	{
		char err[300];

		r = open_taps(&g, err, sizeof(err));
		if (r < 0) {
			report(report_fd, "err %d %s", -r, err);
			return r;
		}
	}
	if (M.l.blackbox_dir) {
		char err[600];

		mbb_set_status_fn(on_blackbox_status);
		r = mbb_open(M.l.blackbox_dir, M.l.blackbox_key, M.l.blackbox_retention, M.l.name,
			     mlog_text, &bb[0], &bb[1],
			     err, sizeof(err));
		if (r < 0) {
			report(report_fd, "err %d %s", -r, err);
			return r;
		}
	}
	r = su_cg_create(&M.cg, &e);
	if (r < 0) {
		report(report_fd, "err %d %s", -r, soda_error_message(e));
		soda_error_free(e);
		return r;
	}
	/* The server's shares are in force before its first instruction. */
	for (size_t i = 0; M.l.cg_settings && M.l.cg_settings[i]; i++) {
		su_cg_setting set;

		if (su_cg_setting_parse(M.l.cg_settings[i], &set) < 0) {
			report(report_fd, "err %d bad cgroup setting '%s'", EINVAL, M.l.cg_settings[i]);
			return -EINVAL;
		}
		r = su_cg_write(&M.cg, set.ctrl, set.file, set.value, &e);
		if (r < 0) {
			report(report_fd, "err %d %s", -r, soda_error_message(e));
			soda_error_free(e);
			return r;
		}
		if (set.ctrl == SU_CG_CPUSET && strcmp(set.file, "cpuset.cpus") == 0)
			snprintf(cpus, sizeof(cpus), "%s", set.value);
	}
	M.started_mono = su_mono_usec();
	pid = fork();
	if (pid < 0) {
		r = su_neg_errno();
		report(report_fd, "err %d fork: %s", -r, strerror(-r));
		return r;
	}
	if (pid == 0) {
		g.con = con[1];
		g.agent = agent[1];
		g.out = out[1];
		g.null = null_fd;
		g.bb = bb[1];
		g.exec = ex[1];
		exec_guest(go[0], errp[1], sc[1], &g, root);
	}
	close(go[0]);
	close(errp[1]);
	close(sc[1]);
	for (size_t i = 0; i < g.n_taps; i++)
		close(g.taps[i]);
	close(con[1]);
	close(agent[1]);
	close(ex[1]);
	close(out[1]);
	close(null_fd);
	su_close(bb[1]);
	free(root);
	M.guest = pid;
	r = su_cg_attach(&M.cg, pid, &e);
	if (r < 0) {
		report(report_fd, "err %d %s", -r, soda_error_message(e));
		soda_error_free(e);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		M.guest = 0;
		close(go[1]);
		return r;
	}
	/* The monitor does the guest's blackbox store and console: beside a
	 * pinned guest, not in its CPU time (the scheduler would wake it on
	 * the CPU of the guest that wrote to it). The guest got its cpuset
	 * above; this is the monitor's own affinity. */
	if (cpus[0] && (r = su_affinity_avoid(getpid(), cpus)) < 0)
		mlog("cannot keep the monitor off CPUs %s: %s", cpus, strerror(-r));
	if (write(go[1], "g", 1) != 1) {
		r = su_neg_errno();
		report(report_fd, "err %d cannot release the guest", -r);
		return r;
	}
	close(go[1]);
	/* The error pipe closes on a successful exec, or carries why not. */
	do
		n = read(errp[0], buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(errp[0]);
	if (n > 0) {
		int status;

		buf[n] = '\0';
		waitpid(pid, &status, 0);
		M.guest = 0;
		report(report_fd, "err %s", buf);
		mlog("jail failed: %s", buf);
		close(sc[0]);
		return -EIO;
	}
	/* linux.uml runs: the filter's listener, its network namespace (for
	 * the management console), and its root rid of the loader. */
	r = recv_fds(sc[0], jfds);
	close(sc[0]);
	if (r == 0) {
		M.seccomp_fd = jfds[0];
		M.guest_netns = jfds[1];
		r = su_jail_after_exec(&M.l, jfds[2], buf, sizeof(buf));
		close(jfds[2]);
		if (r < 0)
			report(report_fd, "err %d %s", -r, buf);
		else if (M.l.fsize_run)
			lower_fsize(pid);
	} else {
		report(report_fd, "err %d cannot take linux.uml's seccomp listener or network "
				  "namespace: %s",
		       -r, strerror(-r));
	}
	if (r < 0) {
		kill(pid, SIGKILL);
		su_cg_kill(&M.cg, NULL);
		waitpid(pid, NULL, 0);
		M.guest = 0;
		return r;
	}
	M.guest_con_fd = con[0];
	M.agent_fd = agent[0];
	M.output_fd = out[0];
	M.bb_fd = bb[0];
	M.exec_fd = ex[0];
	fcntl(M.guest_con_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

static int setup_monitor(int report_fd)
{
	soda_error *e = NULL;
	sigset_t mask;
	char *logpath, *slash;
	int r;

	for (int i = 0; i < MAX_CLIENTS; i++)
		M.clients[i] = -1;
	logpath = strdup(M.l.console_log);
	if (!logpath)
		return -ENOMEM;
	slash = strrchr(logpath, '/');
	if (slash)
		strcpy(slash + 1, "monitor.log");
	M.log_fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(logpath);
	M.console_log_fd = open(M.l.console_log,
				O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	mlog("monitoring server %s", M.l.name);

	/* Guests live in the context's network namespace; so must we, for
	 * linux.uml's management console answers on an abstract socket. */
	if (M.l.netns) {
		int nfd = open(M.l.netns, O_RDONLY | O_CLOEXEC);

		if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0) {
			r = su_neg_errno();
			report(report_fd, "err %d cannot enter network namespace %s: %s", -r,
			       M.l.netns, strerror(-r));
			su_close(nfd);
			return r;
		}
		close(nfd);
	}
	M.own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (M.own_netns < 0) {
		r = su_neg_errno();
		report(report_fd, "err %d cannot open the monitor's network namespace: %s", -r,
		       strerror(-r));
		return r;
	}
	if (chdir(M.l.run_dir) < 0) {
		r = su_neg_errno();
		report(report_fd, "err %d cannot enter %s: %s", -r, M.l.run_dir, strerror(-r));
		return r;
	}
	r = su_cg_layout_detect(&M.layout, NULL, &e);
	if (r < 0) {
		report(report_fd, "err %d %s", -r, soda_error_message(e));
		soda_error_free(e);
		return r;
	}
	M.layout.prefer_v2_core = M.l.prefer_v2_core;
	r = su_cg_init(&M.cg, &M.layout, M.l.cgroup);
	if (r < 0) {
		report(report_fd, "err %d bad cgroup path %s", -r, M.l.cgroup);
		return r;
	}
	/* The monitor leaves the caller's cgroup, so that stopping the caller's
	 * service (systemd kills whole cgroups) does not stop the server. */
	{
		su_cgroup mcg;

		if (su_cg_init(&mcg, &M.layout, M.l.monitor_cgroup) == 0) {
			if (su_cg_create(&mcg, NULL) == 0)
				su_cg_attach(&mcg, getpid(), NULL);
			su_cg_done(&mcg);
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGINT);
	sigdelset(&mask, SIGHUP);
	sigdelset(&mask, SIGPIPE);
	M.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	M.epfd = epoll_create1(EPOLL_CLOEXEC);
	M.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	M.ctl_fd = listen_unix(SU_CTL_SOCK, SOCK_SEQPACKET);
	M.con_listen_fd = listen_unix(SU_CONSOLE_SOCK, SOCK_STREAM);
	if (M.sigfd < 0 || M.epfd < 0 || M.timer_fd < 0 || M.ctl_fd < 0 || M.con_listen_fd < 0) {
		r = su_neg_errno();
		report(report_fd, "err %d cannot set up the monitor's sockets: %s", -r,
		       strerror(-r));
		return r;
	}
	return 0;
}

static int run(const char *launch_path, int sync_fd)
{
	char *text = NULL;
	size_t len;
	soda_error *e = NULL;
	int pipefd[2], r;
	pid_t pid;

	r = su_read_file(launch_path, 1 << 20, &text, &len);
	if (r < 0) {
		report(sync_fd, "err %d cannot read %s: %s", -r, launch_path, strerror(-r));
		return 1;
	}
	r = su_launch_parse(&M.l, text, len, launch_path, &e);
	free(text);
	if (r < 0) {
		report(sync_fd, "err %d %s", -r, soda_error_message(e));
		soda_error_free(e);
		return 1;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		report(sync_fd, "err %d pipe: %s", errno, strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		report(sync_fd, "err %d fork: %s", errno, strerror(errno));
		return 1;
	}
	if (pid > 0) {
		/* The starter's child: relay the outcome, then exit so that the
		 * real monitor is nobody's child but init's. */
		char buf[1024];
		ssize_t n;

		close(pipefd[1]);
		do
			n = read(pipefd[0], buf, sizeof(buf) - 1);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			report(sync_fd, "err %d the monitor died while starting", EIO);
			return 1;
		}
		buf[n] = '\0';
		report(sync_fd, "%s", buf);
		return strncmp(buf, "ok", 2) == 0 ? 0 : 1;
	}
	close(pipefd[0]);
	close(sync_fd);
	setsid();
	/* Orphaned helpers of linux.uml come to us, not to init: we reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

	M.log_fd = -1;
	M.bb_fd = -1;
	M.exec_fd = -1;
	M.seccomp_fd = -1;
	M.guest_netns = -1;
	M.seccomp_mode = su_seccomp_mode_from_env();
	r = setup_monitor(pipefd[1]);
	if (r == 0)
		r = start_guest(pipefd[1]);
	if (r < 0) {
		mbb_close();
		su_cg_destroy(&M.cg, NULL);
		su_rm_rf(M.l.run_dir);
		return 1;
	}
	su_status_init(&M.st);
	M.st.monitor_pid = getpid();
	su_proc_starttime(getpid(), &M.st.monitor_start);
	M.st.guest_pid = M.guest;
	M.st.uid = M.l.uid;
	M.st.started_usec = su_now_usec();
	M.st.netdevs = su_strv_copy(M.l.netdevs);
	set_state(SODA_STATE_STARTING, "booting");
	report(pipefd[1], "ok %d", (int)M.guest);
	close(pipefd[1]);

	ep_add(M.sigfd, K_SIGNAL, 0);
	ep_add(M.ctl_fd, K_CONTROL, 0);
	ep_add(M.con_listen_fd, K_CONSOLE_LISTEN, 0);
	ep_add(M.guest_con_fd, K_GUEST_CONSOLE, 0);
	ep_add(M.agent_fd, K_AGENT, 0);
	ep_add(M.output_fd, K_UML_OUTPUT, 0);
	ep_add(M.timer_fd, K_STOP_TIMER, 0);
	if (M.bb_fd >= 0)
		ep_add(M.bb_fd, K_BLACKBOX, 0);
	ep_add(M.seccomp_fd, K_SECCOMP, 0);
	{
		struct mids_config ic = { .epfd = M.epfd, .ep_tag = (uint64_t)K_IDS << 32,
					  .server = M.l.name, .netdevs = M.l.netdevs,
					  .jail_uid = M.l.uid, .log = mlog_text,
					  .freeze = ids_freeze, .seal = mbb_host_event,
					  .state_dir = M.l.state_dir, .guest_pid = M.guest,
					  .hold = ids_hold };

		midg_init(M.l.name, M.l.ids_landlord, mlog_text);
		if ((r = mids_init(&ic)) < 0)
			mlog("ids: no %s: %s", MIDS_SOCK, strerror(-r));
	}
	{
		struct mex_config xc = { .epfd = M.epfd, .ep_tag = (uint64_t)K_EXEC << 32,
					 .line_fd = M.exec_fd, .log = mlog_text };

		if ((r = mex_init(&xc)) < 0)
			mlog("exec: %s", strerror(-r));
	}

	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(M.epfd, evs, 16, mbb_timeout_ms());

		if (n < 0 && errno != EINTR)
			break;
		if (mbb_timeout_ms() == 0)
			mbb_process();
		for (int i = 0; i < n; i++) {
			enum fd_kind kind = (enum fd_kind)(evs[i].data.u64 >> 32);
			int slot = (int)(uint32_t)evs[i].data.u64;

			switch (kind) {
			case K_SIGNAL:
				if (on_signal())
					goto done;
				break;
			case K_CONTROL:
				on_control();
				break;
			case K_CONSOLE_LISTEN:
				on_console_accept();
				break;
			case K_GUEST_CONSOLE:
				on_guest_console();
				break;
			case K_AGENT:
				on_agent();
				break;
			case K_UML_OUTPUT:
				on_uml_output();
				break;
			case K_STOP_TIMER:
				on_stop_timer();
				break;
			case K_CONSOLE_CLIENT:
				on_console_client(slot);
				break;
			case K_IDS:
				mids_on_event(evs[i].data.u64);
				break;
			case K_EXEC:
				mex_on_event(evs[i].data.u64, evs[i].events);
				break;
			case K_SECCOMP:
				on_seccomp();
				break;
			case K_BLACKBOX:
				/* At the line's end mbb closes the fd, which
				 * takes it out of the epoll set. */
				if (!mbb_on_line())
					M.bb_fd = -1;
				break;
			}
		}
	}
done:
	/* linux.uml's last words (why it failed to boot, often). */
	fcntl(M.output_fd, F_SETFL, O_NONBLOCK);
	on_uml_output();
	/* Drain what the guest said last into the log. */
	while (M.guest_con_fd >= 0) {
		char buf[4096];
		ssize_t k = read(M.guest_con_fd, buf, sizeof(buf));

		if (k <= 0)
			break;
		console_log_append(buf, (size_t)k);
	}
	/* The IDS's last alerts, the guest's last records, then the store's end. */
	mids_close();
	mex_close();
	mbb_close();
	for (int i = 0; i < MAX_CLIENTS; i++)
		close_client(i);
	close(M.ctl_fd);
	close(M.con_listen_fd);
	su_rm_rf(M.l.run_dir);
	mlog("monitor exits");
	su_cg_done(&M.cg);
	su_cg_layout_free(&M.layout);
	su_status_done(&M.st);
	su_launch_free(&M.l);
	return 0;
}

/* Boots linux.uml without a root file system just far enough to print the
 * delay-loop calibration, and prints the lpj value. */
static int calibrate(const char *uml)
{
	char tmpl[] = "/tmp/soda-calibrate-XXXXXX";
	char *umldir_arg, *argv[12];
	int out[2], status, argc = 0;
	pid_t pid;
	su_buf b = { 0 };
	char *p;

	/* UML's memory file and uml_dir go to a private temporary directory
	 * that is removed afterwards, so calibration leaves nothing behind. */
	if (!mkdtemp(tmpl))
		return 1;
	/* linux.uml's helpers are reparented to us when it dies: reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	umldir_arg = su_strdup_printf("uml_dir=%s", tmpl);
	if (!umldir_arg || pipe2(out, O_CLOEXEC) < 0) {
		rmdir(tmpl);
		return 1;
	}
	argv[argc++] = (char *)uml;
	argv[argc++] = "mem=32M";
	argv[argc++] = "con=none";
	argv[argc++] = "con0=null,fd:1";
	argv[argc++] = "ssl=none";
	argv[argc++] = "root=/dev/soda-none";
	argv[argc++] = "initcall_blacklist=init_hostfs";
	argv[argc++] = "pty.legacy_count=0";
	argv[argc++] = "umid=calibrate";
	argv[argc++] = umldir_arg;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0) {
		rmdir(tmpl);
		return 1;
	}
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);

		/* Its own process group, so that its helpers die with it. */
		setpgid(0, 0);
		personality(ADDR_NO_RANDOMIZE);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		setenv("TMPDIR", tmpl, 1);
		dup2(null_fd, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execv(uml, argv);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(out[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b.len < (1 << 20))
			su_buf_append(&b, chunk, (size_t)n);
		p = b.data ? strstr(b.data, "lpj=") : NULL;
		if (p && strchr(p, ')'))
			break;
	}
	/* linux.uml's helper processes outlive a SIGKILL of the main one:
	 * end the whole process group. */
	setpgid(pid, pid);
	kill(-pid, SIGKILL);
	while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
		;
	close(out[0]);
	su_rm_rf(tmpl);
	free(umldir_arg);
	p = b.data ? strstr(b.data, "lpj=") : NULL;
	if (!p) {
		fprintf(stderr, "soda-monitor: no calibration in linux.uml output\n");
		su_buf_free(&b);
		return 1;
	}
	printf("%llu\n", strtoull(p + 4, NULL, 10));
	su_buf_free(&b);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "run") == 0) {
		uint64_t fd;

		if (su_parse_u64(argv[3], &fd) < 0 || fd < 3 || fd > 1024)
			return 2;
		return run(argv[2], (int)fd);
	}
	if (argc == 3 && strcmp(argv[1], "calibrate") == 0)
		return calibrate(argv[2]);
	fprintf(stderr, "usage: soda-monitor run LAUNCH-FILE SYNC-FD\n"
			"       soda-monitor calibrate UML-BINARY\n"
			"soda-monitor is started by libsoda; it is not meant to be run by hand.\n");
	return 2;
}
