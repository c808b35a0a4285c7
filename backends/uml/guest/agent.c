/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-agent: PID 1 of every libsoda guest (installed in images as
 * /soda/init, a static binary).
 *
 * It mounts the kernel file systems and the server's shares, sets the NICs'
 * addresses, tells the host the guest is ready on the agent line
 * (/dev/ttyS2: UML's ssl2, write-only for the guest, a pipe to soda-monitor
 * on the host), and then runs the guest's userland in a child PID and mount
 * namespace: the image's own /sbin/init if it has one, else a root shell on
 * the console that is respawned when it exits.
 *
 * Keeping the userland in its own PID namespace means nothing in it, root
 * included, can see, signal or trace the agent, which is what lets the agent
 * go on (for instance writing the tenant's blackbox) after an intruder took
 * the guest's userland.
 *
 * Kernel command line it reads (set by libsoda):
 *   soda.name=NAME         hostname
 *   soda.share=I,DIR,MODE  mount hostfs /share/I of the jail at DIR (ro|rw)
 *   soda.addr=I,CIDR       add CIDR to ethI and bring it up
 *   soda.profile=P         locked (the default) or open: what root in the
 *                          userland may do to the guest kernel (lockdown.h)
 *
 * Ctrl-alt-del from the host (a graceful stop) arrives as SIGINT: the agent
 * ends the userland (SIGTERM, then SIGKILL after 3 s), syncs, unmounts and
 * powers off. It only uses libc, so it links statically.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_exec.h"
#include "agent_ids.h"
#include "lockdown.h"

#ifdef SODA_AGENT_BLACKBOX
#include "agent_blackbox.h"
#include "bbring.h"
#else
#define BB_MAX_FDS 8
/* Built without libsodium.a: no blackbox, and the agent says so. */
typedef struct bb_agent bb_agent;
static bb_agent *bb_start(const char *hex_pk, const char *label)
{
	(void)hex_pk;
	(void)label;
	return NULL;
}
static const char *bb_console_slave(const bb_agent *bb)
{
	(void)bb;
	return NULL;
}
static int bb_poll_fds(bb_agent *bb, struct pollfd *pfd, int max)
{
	(void)bb, (void)pfd, (void)max;
	return 0;
}
static void bb_handle(bb_agent *bb, const struct pollfd *pfd, int n)
{
	(void)bb, (void)pfd, (void)n;
}
static int bb_timeout_ms(bb_agent *bb)
{
	(void)bb;
	return -1;
}
static void bb_lifecycle(bb_agent *bb, const char *what)
{
	(void)bb, (void)what;
}
static void bb_event(bb_agent *bb, uint32_t aux, const char *what)
{
	(void)bb, (void)aux, (void)what;
}
static void bb_set_userland(bb_agent *bb, pid_t pid)
{
	(void)bb, (void)pid;
}
static void bb_periodic(bb_agent *bb)
{
	(void)bb;
}
#define BB_EV_PROFILE 1
static void bb_end(bb_agent *bb)
{
	(void)bb;
}
#endif

#define AGENT_LINE "/dev/ttyS2"
#define MAX_WORDS 128
#define STOP_GRACE_MS 3000
#define CHECK_MS 1000 /* the endpoints and the profile's sysctls, at least this often */
/* The userland's first process could not lock itself down: the guest
 * must not run the tenant without its profile. */
#define EXIT_NO_LOCKDOWN 126

/* The real console, kept open: with a blackbox its node goes (see
 * hide_real_console()). */
static int say_fd = -1;

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (say_fd < 0)
		say_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (say_fd >= 0 &&
	    (write(say_fd, "soda-agent: ", 12) < 0 || write(say_fd, buf, (size_t)n) < 0)) {
		/* nothing to do about a broken console */
	}
}

static bb_agent *blackbox;
static int profile = PROFILE_LOCKED;

/* ---- kernel file systems ---- */

static void mount_basics(void)
{
	static const struct {
		const char *src, *dst, *type, *opts;
		unsigned long flags;
	} m[] = {
		{ "proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID },
		{ "tmpfs", "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
		{ "tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV },
		{ "devpts", "/dev/pts", "devpts", "mode=0620,ptmxmode=0666", MS_NOSUID | MS_NOEXEC },
		{ "tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		mkdir(m[i].dst, 0755);
		if (mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].opts) < 0 &&
		    errno != EBUSY)
			say("cannot mount %s: %s", m[i].dst, strerror(errno));
	}
	{
		static const char *const links[][2] = { { "/proc/self/fd", "/dev/fd" },
							 { "/proc/self/fd/0", "/dev/stdin" },
							 { "/proc/self/fd/1", "/dev/stdout" },
							 { "/proc/self/fd/2", "/dev/stderr" } };

		for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
			if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
				say("cannot link %s: %s", links[i][1], strerror(errno));
	}
}

static int read_cmdline(char *buf, size_t len, char *words[MAX_WORDS])
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t got;

	if (fd < 0)
		return 0;
	got = read(fd, buf, len - 1);
	close(fd);
	if (got <= 0)
		return 0;
	buf[got] = '\0';
	for (char *save = NULL, *w = strtok_r(buf, " \n", &save); w && n < MAX_WORDS;
	     w = strtok_r(NULL, " \n", &save))
		words[n++] = w;
	return n;
}

static void mkdir_p(const char *path)
{
	char tmp[256];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return;
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
}

/* soda.share=I,DIR,MODE: the host bound the shared directory at /share/I
 * in the server's jail; hostfs takes that path as its data. */
static void mount_share(const char *spec)
{
	char copy[256], *dir, *mode, data[32];
	unsigned long flags = MS_NOSUID | MS_NODEV;
	unsigned idx;

	if (snprintf(copy, sizeof(copy), "%s", spec) >= (int)sizeof(copy))
		return;
	dir = strchr(copy, ',');
	mode = dir ? strrchr(dir + 1, ',') : NULL;
	if (!dir || !mode || sscanf(copy, "%u,", &idx) != 1 || dir[1] != '/') {
		say("bad share '%s'", spec);
		return;
	}
	*dir++ = '\0';
	*mode++ = '\0';
	if (strcmp(mode, "ro") == 0)
		flags |= MS_RDONLY;
	snprintf(data, sizeof(data), "/share/%u", idx);
	mkdir_p(dir);
	if (mount("none", dir, "hostfs", flags, data) < 0)
		say("cannot mount share %u at %s: %s", idx, dir, strerror(errno));
}

/* ---- network: a few rtnetlink requests ---- */

struct nlreq {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
	};
	char attrs[64];
};

static void add_attr(struct nlreq *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int nl_talk(struct nlreq *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[1024];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), err = -EIO;
	ssize_t n;

	if (fd < 0)
		return -errno;
	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (h->nlmsg_type == NLMSG_ERROR)
			err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	close(fd);
	return err;
}

static int link_up(int ifindex)
{
	struct nlreq r;

	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.nh.nlmsg_type = RTM_NEWLINK;
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	r.ifi.ifi_flags = IFF_UP;
	r.ifi.ifi_change = IFF_UP;
	return nl_talk(&r);
}

/* linux.uml's vector driver names its NICs vecN (the host hands it the
 * TAPs as descriptors, which only that driver takes); the guest knows them
 * as ethN. */
static void name_vector_nics(void)
{
	for (unsigned i = 0; i < 8; i++) {
		char vec[IFNAMSIZ], eth[IFNAMSIZ];
		struct nlreq r;
		int ifindex, err;

		snprintf(vec, sizeof(vec), "vec%u", i);
		snprintf(eth, sizeof(eth), "eth%u", i);
		ifindex = (int)if_nametoindex(vec);
		if (!ifindex || if_nametoindex(eth))
			continue;
		memset(&r, 0, sizeof(r));
		r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
		r.nh.nlmsg_type = RTM_NEWLINK;
		r.ifi.ifi_family = AF_UNSPEC;
		r.ifi.ifi_index = ifindex;
		add_attr(&r, IFLA_IFNAME, eth, strlen(eth) + 1);
		err = nl_talk(&r);
		if (err < 0)
			say("cannot name %s %s: %s", vec, eth, strerror(-err));
	}
}

/* soda.addr=I,CIDR */
static void add_address(const char *spec)
{
	char ifname[IFNAMSIZ], host[64];
	unsigned idx, prefix;
	unsigned char addr[16];
	const char *comma = strchr(spec, ','), *slash;
	struct nlreq r;
	int family, ifindex, err;

	if (!comma || sscanf(spec, "%u,", &idx) != 1 || !(slash = strchr(comma, '/')) ||
	    (size_t)(slash - comma - 1) >= sizeof(host) || sscanf(slash + 1, "%u", &prefix) != 1) {
		say("bad address '%s'", spec);
		return;
	}
	memcpy(host, comma + 1, (size_t)(slash - comma - 1));
	host[slash - comma - 1] = '\0';
	family = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, host, addr) != 1) {
		say("bad address '%s'", spec);
		return;
	}
	snprintf(ifname, sizeof(ifname), "eth%u", idx);
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		say("no interface %s for %s", ifname, spec);
		return;
	}
	link_up(ifindex);
	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.nh.nlmsg_type = RTM_NEWADDR;
	r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.ifa.ifa_family = (unsigned char)family;
	r.ifa.ifa_prefixlen = (unsigned char)prefix;
	r.ifa.ifa_index = (unsigned)ifindex;
	if (family == AF_INET6)
		r.ifa.ifa_flags = IFA_F_NODAD; /* usable at once */
	add_attr(&r, IFA_LOCAL, addr, family == AF_INET ? 4 : 16);
	add_attr(&r, IFA_ADDRESS, addr, family == AF_INET ? 4 : 16);
	err = nl_talk(&r);
	if (err < 0)
		say("cannot add %s to %s: %s", host, ifname, strerror(-err));
}

/* ---- the agent line ---- */

static int open_agent_line(void)
{
	int fd;

	/* devtmpfs may not have made the node yet this early in boot. */
	if (access(AGENT_LINE, F_OK) < 0)
		mknod(AGENT_LINE, S_IFCHR | 0600, makedev(4, 66));
	fd = open(AGENT_LINE, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		say("cannot open %s: %s", AGENT_LINE, strerror(errno));
	/* The host's notes are the agent's to write: userland cannot open
	 * the line by name (nor make a node for it under the locked
	 * profile). */
	unlink(AGENT_LINE);
	return fd;
}

/* With a blackbox the userland's console is the agent's pty, bound over
 * /dev/console and /dev/tty0 in the userland's mount namespace. Root there
 * could unmount those and write to (or read from) the real console past
 * the recording: the real nodes go, the userland binds its pty over empty
 * files, and the locked profile refuses new device nodes. The agent keeps
 * its own descriptors (say(), the relay). */
static void hide_real_console(void)
{
	static const char *const nodes[] = { "/dev/console", "/dev/tty0" };

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		struct stat st;

		if (lstat(nodes[i], &st) == 0 && S_ISCHR(st.st_mode) && unlink(nodes[i]) < 0)
			say("cannot remove %s: %s", nodes[i], strerror(errno));
	}
}

static void agent_send(int fd, const char *line)
{
	size_t len = strlen(line);

	if (fd >= 0 && write(fd, line, len) != (ssize_t)len)
		say("agent line write failed: %s", strerror(errno));
}

/* ---- the userland ---- */

static bool is_self(const char *path)
{
	struct stat a, b;

	return stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* The image's own init, if it has one that is not us or busybox. */
static const char *foreign_init(void)
{
	struct stat a, b;

	if (access("/sbin/init", X_OK) < 0 || is_self("/sbin/init"))
		return NULL;
	if (stat("/sbin/init", &a) == 0 && stat("/bin/busybox", &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return NULL;
	return "/sbin/init";
}

static const char *shell(void)
{
	return access("/bin/sh", X_OK) == 0 ? "/bin/sh" : "/soda/busybox";
}

/* The console device behind /dev/console (UML's con0 is tty0), which unlike
 * /dev/console can be a controlling terminal. */
static void console_device(char *out, size_t len)
{
	char active[32] = "tty0";
	int fd = open("/sys/class/tty/console/active", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, active, sizeof(active) - 1);

		if (n > 0) {
			active[n] = '\0';
			active[strcspn(active, " \n")] = '\0';
		}
		close(fd);
	}
	snprintf(out, len, "/dev/%s", active);
}

static pid_t spawn_shell(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		char tty[48];
		sigset_t none;
		int fd;

		/* Our blocked signals are not the shell's: a shell with SIGCHLD
		 * blocked waits forever in 'wait'. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		console_device(tty, sizeof(tty));
		setsid();
		fd = open(tty, O_RDWR);
		if (fd < 0)
			fd = open("/dev/console", O_RDWR);
		if (fd >= 0) {
			ioctl(fd, TIOCSCTTY, 0);
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
		setenv("HOME", "/root", 1);
		setenv("TERM", "vt100", 1);
		if (chdir("/") < 0)
			_exit(127);
		if (strcmp(shell(), "/soda/busybox") == 0)
			execl("/soda/busybox", "sh", "-l", (char *)NULL);
		else
			execl(shell(), "-sh", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* PID 1 of the userland's namespace when the image has no init of its own:
 * keeps a shell on the console, reaps orphans, ends everything on SIGTERM. */
static int mini_init(void)
{
	sigset_t set;
	pid_t sh;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sh = spawn_shell();
	for (;;) {
		siginfo_t si;

		if (sigwaitinfo(&set, &si) < 0)
			continue;
		if (si.si_signo == SIGTERM) {
			kill(-1, SIGTERM);
			usleep(200000);
			kill(-1, SIGKILL);
			return 0;
		}
		for (pid_t p; (p = waitpid(-1, NULL, WNOHANG)) > 0;)
			if (p == sh) {
				usleep(200000);
				sh = spawn_shell();
			}
	}
}

/* Starts the userland in new PID and mount namespaces, with a /proc of its
 * own so it sees only its processes. */
static pid_t start_userland(void)
{
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, NULL, NULL,
				   NULL, 0);

	if (pid != 0)
		return pid;
	/* Child: PID 1 of the new namespace. */
	{
		sigset_t none;
		const char *init = foreign_init();

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
		umount2("/proc", MNT_DETACH);
		if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			say("cannot mount /proc for the userland: %s", strerror(errno));
		/* With a blackbox the userland's console is the agent's pty,
		 * bound over empty files where the real nodes were. */
		if (bb_console_slave(blackbox)) {
			const char *slave = bb_console_slave(blackbox);

			close(open("/dev/console", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
			close(open("/dev/tty0", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
			if (mount(slave, "/dev/console", NULL, MS_BIND, NULL) < 0 ||
			    mount(slave, "/dev/tty0", NULL, MS_BIND, NULL) < 0)
				say("cannot give the userland its console: %s", strerror(errno));
		}
		/* Last, so that the agent's own steps above are not refused. */
		{
			int r = lockdown_userland(profile);

			if (r < 0) {
				say("cannot lock the userland down (profile %s): %s; not starting it",
				    lockdown_profile_name(profile), strerror(-r));
				_exit(EXIT_NO_LOCKDOWN);
			}
		}
		if (init) {
			execl(init, init, (char *)NULL);
			say("cannot run %s: %s", init, strerror(errno));
		}
		_exit(mini_init());
	}
}

static void power_off(void)
{
	bb_end(blackbox);
	sync();
	umount2("/dev/pts", MNT_DETACH);
	mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* What the landlord ran, sealed (agent_exec.h); never on the console. */
static void exec_record(const char *text)
{
	bb_event(blackbox, EXEC_BB_AUX, text);
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	char cmdline[4096], *words[MAX_WORDS];
	sigset_t set;
	int n, sfd, line;
	pid_t userland;
	bool foreign, stopping = false;
	long stop_deadline = 0, next_check;

	if (getpid() != 1) {
#ifdef SODA_AGENT_BLACKBOX
		/* A producer for the blackbox: /soda/init log [FILE...]. */
		if (argc > 1 && strcmp(argv[1], "log") == 0)
			return bbring_log_main(argc - 1, argv + 1);
#endif
#ifdef SODA_AGENT_IDS
		/* The host's check of a rule file (agent_ids.h). */
		if (argc > 1 && strcmp(argv[1], "ids-check") == 0)
			return ids_check_main(argc - 1, argv + 1);
#endif
		(void)argc, (void)argv;
		fprintf(stderr, "soda-agent runs as PID 1 of a libsoda guest "
				"(or as '/soda/init log [FILE...]': lines into the blackbox)\n");
		return 2;
	}
	mount_basics();
	say_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	n = read_cmdline(cmdline, sizeof(cmdline), words);
	for (int i = 0; i < n; i++) {
		if (strncmp(words[i], "soda.name=", 10) == 0) {
			if (sethostname(words[i] + 10, strlen(words[i] + 10)) < 0)
				say("cannot set the hostname: %s", strerror(errno));
		} else if (strncmp(words[i], "soda.share=", 11) == 0) {
			mount_share(words[i] + 11);
		} else if (strncmp(words[i], "soda.profile=", 13) == 0) {
			profile = lockdown_profile_parse(words[i] + 13);
			if (profile < 0) {
				say("unknown profile '%s': locked", words[i] + 13);
				profile = PROFILE_LOCKED;
			}
		}
	}
	link_up((int)if_nametoindex("lo"));
	name_vector_nics();
	for (int i = 0; i < n; i++)
		if (strncmp(words[i], "soda.addr=", 10) == 0)
			add_address(words[i] + 10);

	/* Ctrl-alt-del must reach us as SIGINT, not reboot at once. */
	reboot(RB_DISABLE_CAD);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPWR);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);

	for (int i = 0; i < n; i++)
		if (strncmp(words[i], "soda.blackbox=", 14) == 0) {
			char host[65] = "";

			gethostname(host, sizeof(host) - 1);
			blackbox = bb_start(words[i] + 14, host);
		}
	/* Kernort on the guest's events (agent_ids.h): its rules' digest in the
	 * blackbox before anything of the tenant's runs. */
	for (int i = 0; i < n; i++)
		if (strncmp(words[i], "soda.ids=", 9) == 0)
			ids_start(blackbox, words[i] + 9);

	/* After the blackbox's audit set-up, before anything of the tenant's
	 * runs. */
	{
		char what[600];

		lockdown_guest(profile, what, sizeof(what));
		say("%s", what);
		bb_event(blackbox, BB_EV_PROFILE, what);
		if (bb_console_slave(blackbox))
			hide_real_console();
	}

	line = open_agent_line();
	ids_set_line(line);
	/* The exec line (agent_exec.h), announced before "ready" so that the
	 * host knows of it when it first may use it. */
	if (ex_open(profile, exec_record) == 0)
		agent_send(line, "exec 1\n");
	agent_send(line, "ready\n");

	foreign = foreign_init() != NULL;
	userland = start_userland();
	if (userland < 0)
		say("cannot start the userland: %s", strerror(errno));
	bb_set_userland(blackbox, userland > 0 ? userland : 0);
	ex_set_userland(userland > 0 ? userland : 0);
	next_check = mono_ms() + CHECK_MS;

	for (;;) {
		struct signalfd_siginfo si;
		struct pollfd pfd[1 + BB_MAX_FDS + IDS_MAX_FDS + EXEC_MAX_FDS];
		int nfd = 1, timeout, nbb, tids, nids, nex, tex;

		pfd[0] = (struct pollfd){ sfd, POLLIN, 0 };
		nfd += nbb = bb_poll_fds(blackbox, pfd + 1, BB_MAX_FDS);
		nfd += nids = ids_poll_fds(pfd + nfd, IDS_MAX_FDS);
		nfd += nex = ex_poll_fds(pfd + nfd, EXEC_MAX_FDS);
		timeout = blackbox ? bb_timeout_ms(blackbox) : -1;
		tids = ids_timeout_ms();
		if (tids >= 0 && (timeout < 0 || timeout > tids))
			timeout = tids;
		tex = ex_timeout_ms();
		if (tex >= 0 && (timeout < 0 || timeout > tex))
			timeout = tex;
		if (stopping && (timeout < 0 || timeout > 100))
			timeout = 100;
		{
			long until = next_check - mono_ms();

			if (until < 0)
				until = 0;
			if (timeout < 0 || timeout > until)
				timeout = (int)until;
		}
		if (poll(pfd, (nfds_t)nfd, timeout) < 0 && errno != EINTR)
			continue;
		if (blackbox)
			bb_handle(blackbox, pfd + 1, nbb);
		ids_handle(pfd + 1 + nbb, nids);
		ex_handle(pfd + 1 + nbb + nids, nex);
		if (mono_ms() >= next_check) {
			char what[300];

			next_check = mono_ms() + CHECK_MS;
			if (lockdown_check(profile, what, sizeof(what)) > 0) {
				if (!blackbox)
					say("%s", what);
				bb_event(blackbox, BB_EV_PROFILE, what);
			}
			bb_periodic(blackbox);
		}
		if ((pfd[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD) {
				int status;

				for (pid_t p; (p = waitpid(-1, &status, WNOHANG)) > 0;)
					if (ex_reaped(p, status)) {
						continue;
					} else if (p == userland) {
						userland = 0;
						bb_set_userland(blackbox, 0);
						ex_set_userland(0);
						/* A foreign init that ends means the guest is done;
						 * so does one that could not take its profile. */
						if (stopping || foreign ||
						    (WIFEXITED(status) &&
						     WEXITSTATUS(status) == EXIT_NO_LOCKDOWN)) {
							bb_lifecycle(blackbox, "the userland ended; "
									       "powering off");
							power_off();
						}
						userland = start_userland();
						bb_set_userland(blackbox, userland > 0 ? userland : 0);
						ex_set_userland(userland > 0 ? userland : 0);
					}
			} else if (!stopping) {
				say("shutting down");
				bb_lifecycle(blackbox, "shutting down");
				agent_send(line, "stopping\n");
				stopping = true;
				stop_deadline = mono_ms() + STOP_GRACE_MS;
				if (userland > 0)
					kill(userland, SIGTERM);
				else
					power_off();
			}
		}
		if (stopping && mono_ms() > stop_deadline && userland > 0) {
			/* Killing a namespace's init ends every process in it. */
			kill(userland, SIGKILL);
			stop_deadline = mono_ms() + 60000;
		}
	}
}
