/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The agent's endpoints (/dev/blackbox, /dev/log, /dev/blackbox.ring) kept
 * where writers find them: noticed when removed, replaced, re-moded or
 * hidden by a mount in the userland's mount namespace (inotify on /dev,
 * the userland's mountinfo, a check a second), put back, and written down
 * with who did it as audit saw it (docs/blackbox-format.md, "The guest
 * agent's records"; docs/security.md, "Inside the guest").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent_blackbox_int.h"

static int *ep_fd(bb_agent *bb, int kind)
{
	return kind == EP_FIFO ? &bb->fifo : kind == EP_SYSLOG ? &bb->syslog : &bb->ring_listen;
}

/* Makes the endpoint again under a name of its own, notes it, and renames
 * it into its place: it appears whole, and the agent knows it before an
 * intruder in a loop can remove it again (each removal is then one the
 * agent sees). Returns the descriptor, or -1 with errno. */
static int ep_open(bb_agent *bb, int kind)
{
	struct endpoint *ep = &bb->ep[kind];
	char tmp[64];
	struct stat st;
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.%u-%lu", ep->path, (unsigned)getpid(),
		 (unsigned long)(bb->now_mono & 0xffffffffu));
	fd = kind == EP_FIFO	 ? bb_open_fifo(tmp)
	     : kind == EP_SYSLOG ? bb_open_syslog(tmp)
				 : bb_open_ring_socket(tmp);
	if (fd < 0)
		return -1;
	if (lstat(tmp, &st) < 0 || rename(tmp, ep->path) < 0) {
		err = errno;
		unlink(tmp);
		close(fd);
		errno = err;
		return -1;
	}
	ep->dev = st.st_dev;
	ep->ino = st.st_ino;
	return fd;
}

/* What the agent made at the endpoint's path, to know it again. An
 * endpoint the agent had at its start stays known: if the node is gone
 * again already (an intruder in a loop), the next check makes it again. */
void ep_note(bb_agent *bb, int kind)
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
		bb_on_ring_connect(bb); /* who waits in its backlog gets a ring */
		bb->ring_listen = now;
		close(fd);
		return;
	}
	if (kind == EP_FIFO) {
		char self[40];
		int ro;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		ro = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		bb_on_fifo(bb, fd);
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
			bb_on_fifo(bb, slot->fd);
		else
			bb_on_syslog(bb, slot->fd);
		close(slot->fd);
	}
	slot->fd = fd;
	slot->kind = kind;
}

bool ep_on_retired(bb_agent *bb, int fd)
{
	for (int i = 0; i < RETIRED_MAX; i++) {
		struct retired *r = &bb->retired[i];

		if (r->fd != fd)
			continue;
		if (r->kind == EP_SYSLOG) {
			bb_on_syslog(bb, fd);
		} else if (bb_on_fifo(bb, fd) == 0) {
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
			bb_on_audit(bb);
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
	bool unresolved;

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
		fd = ep_open(bb, kind);
		if (fd < 0) {
			snprintf(fixed, sizeof(fixed), "could not make it again: %s", strerror(errno));
		} else {
			*ep_fd(bb, kind) = fd;
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
	/* The same trouble again, still not put right: once is enough. What
	 * was put right and happens again is news. */
	snprintf(what, sizeof(what), "%s; %s", seen, fixed);
	unresolved = strstr(fixed, "could not") != NULL;
	if (unresolved && strcmp(what, ep->reported) == 0) {
		free(kept);
		return;
	}
	snprintf(ep->reported, sizeof(ep->reported), "%s", unresolved ? what : "");
	ep_say_unsaid(bb, ep);
	if (++ep->events > EP_EVENTS_PER_S) {
		ep->unsaid++;
		if (rest)
			bb_declare_loss(bb, 0, rest, BB_LOSS_IMPOSTOR, NULL);
		if (found) {
			size_t done = bb_seal_lines(bb, kept, found, bb->now_rt, bb->now_mono);

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
	if (found) {
		size_t done = bb_seal_lines(bb, kept, found, bb->now_rt, bb->now_mono);

		if (done < found)
			sbw_append_at(bb->w, SBX_R_TEXT, 0, kept + done, found - done, bb->now_rt,
				      bb->now_mono);
	}
	if (rest)
		bb_declare_loss(bb, 0, rest, BB_LOSS_IMPOSTOR, NULL);
	free(kept);
}

void ep_check_all(bb_agent *bb)
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
void ep_on_dev_change(bb_agent *bb)
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
	bb_read_clocks(bb);
	ep_check_all(bb);
	bb_check_audit_lost(bb);
	bb_flush_frames(bb);
}

void ep_start(bb_agent *bb)
{
	for (int i = 0; i < RETIRED_MAX; i++)
		bb->retired[i].fd = -1;
	bb->ep[EP_FIFO].path = BB_FIFO;
	bb->ep[EP_SYSLOG].path = BB_SYSLOG;
	bb->ep[EP_RING].path = BBRING_PATH;
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
}

void ep_end(bb_agent *bb)
{
	for (int i = 0; i < RETIRED_MAX; i++)
		if (bb->retired[i].fd >= 0)
			ep_on_retired(bb, bb->retired[i].fd);
	for (int i = 0; i < EP_COUNT; i++) {
		bb->ep[i].window = 0; /* said now, if anything is left unsaid */
		ep_say_unsaid(bb, &bb->ep[i]);
	}
}
