/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside the agent's blackbox (agent_blackbox.c: the line and the sources;
 * agent_endpoints.c: the endpoints kept in place): the state and what the
 * two share. Not for anything else.
 */
#ifndef SODA_AGENT_BLACKBOX_INT_H
#define SODA_AGENT_BLACKBOX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

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
	int audit_ctl;	     /* a second audit socket, for the kernel's counts */
	uint32_t audit_lost; /* records the kernel had dropped at the last look */
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

/* ---- agent_blackbox.c ---- */

/* The clocks, read once per pass of the event loop. */
void bb_read_clocks(bb_agent *bb);
/* Sends the gathered frames to the line. */
void bb_flush_frames(bb_agent *bb);
/* The endpoints, made (again) at @path: a descriptor, or -1. */
int bb_open_fifo(const char *path);
int bb_open_syslog(const char *path);
int bb_open_ring_socket(const char *path);
/* Take what is there. bb_on_fifo() returns 0 when the FIFO has no writer
 * left. */
int bb_on_fifo(bb_agent *bb, int fd);
void bb_on_syslog(bb_agent *bb, int fd);
void bb_on_ring_connect(bb_agent *bb);
void bb_on_audit(bb_agent *bb);
/* Seals the whole lines at the start of @buf; returns the bytes sealed. */
size_t bb_seal_lines(bb_agent *bb, const char *buf, size_t len, uint64_t rt, uint64_t mono);
/* Audit records the kernel dropped since the last look (its backlog was
 * full): a LOSS record. */
void bb_check_audit_lost(bb_agent *bb);
/* A LOSS record (reason BB_LOSS_*), after an aux BB_EV_LOSS lifecycle
 * record of @what if given. */
void bb_declare_loss(bb_agent *bb, uint64_t records, uint64_t bytes, uint32_t reason,
		     const char *what);

/* ---- agent_endpoints.c ---- */

/* At the blackbox's start, once the endpoints are open: what they are, the
 * watch on /dev. */
void ep_start(bb_agent *bb);
/* At the end: what retired endpoints still hold, the counts not said. */
void ep_end(bb_agent *bb);
/* What the agent made at an endpoint's path (EP_*), to know it again. */
void ep_note(bb_agent *bb, int kind);
/* Checks every endpoint, puts back what is not the agent's. */
void ep_check_all(bb_agent *bb);
/* inotify said something changed in /dev. */
void ep_on_dev_change(bb_agent *bb);
/* Reads a retired endpoint, if @fd is one; false if not. */
bool ep_on_retired(bb_agent *bb, int fd);

#endif
