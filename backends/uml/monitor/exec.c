/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor: exec through the agent (exec.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../exec_proto.h"
#include "exec.h"

#define LINEQ_SOFT (1u << 20) /* no client's stdin is read while the line holds more */
#define CREDIT_BATCH (32 * 1024)
#define LINE_SLOT 0xffffffffu
#define SINK_FD (-2) /* tests: a client that takes everything at once */
#define CLIENT_MSG_MAX (SX_MSG_HDR + SX_PAYLOAD_MAX)

/* Bytes [head, head + len) of data. */
struct bq {
	uint8_t *data;
	size_t head, len, cap;
};

enum xstate { X_FREE, X_WAIT_START, X_RUNNING, X_ENDED };

struct mexec {
	enum xstate state;
	int fd; /* the client; -1 when it went away */
	uint32_t id;
	bool has_stdin, eof_sent;
	uint32_t out_window; /* output bytes the agent may still send */
	uint32_t in_credit;  /* stdin bytes we may still send */
	uint32_t ungranted;  /* output the client took that the agent has not been credited */
	struct bq out;	     /* messages for the client: u32 size, then the message */
	uint32_t events;
};

static struct {
	struct mex_config c;
	bool available, broken;
	uint32_t next_id;
	struct mexec x[SX_MAX_EXECS];
	struct bq lineq;
	uint32_t line_events;
	uint32_t line_unacked; /* written, not yet read by the agent (SX_LINE_WINDOW) */
	sx_reader rd;
} X = { .c = { .epfd = -1, .line_fd = -1 } };

static void mlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mlog(const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (!X.c.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	X.c.log(msg);
}

/* ---- byte queues ---- */

static int bq_push(struct bq *q, const void *a, size_t an, const void *b, size_t bn)
{
	size_t need = q->len + an + bn;

	if (q->head && q->head + need > q->cap) {
		memmove(q->data, q->data + q->head, q->len);
		q->head = 0;
	}
	if (need > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		uint8_t *d;

		while (cap < need)
			cap *= 2;
		d = realloc(q->data, cap);
		if (!d)
			return -ENOMEM;
		q->data = d;
		q->cap = cap;
	}
	memcpy(q->data + q->head + q->len, a, an);
	if (bn)
		memcpy(q->data + q->head + q->len + an, b, bn);
	q->len += an + bn;
	return 0;
}

static void bq_drop(struct bq *q, size_t n)
{
	q->head += n;
	q->len -= n;
	if (q->len == 0) {
		q->head = 0;
		/* An idle queue keeps no more than a page. */
		if (q->cap > 65536) {
			free(q->data);
			q->data = NULL;
			q->cap = 0;
		}
	}
}

static void bq_free(struct bq *q)
{
	free(q->data);
	memset(q, 0, sizeof(*q));
}

/* ---- epoll ---- */

static void set_events(int fd, uint32_t slot, uint32_t *have, uint32_t want)
{
	struct epoll_event ev = { .events = want, .data.u64 = X.c.ep_tag | slot };

	if (X.c.epfd < 0 || fd < 0 || *have == want)
		return;
	epoll_ctl(X.c.epfd, EPOLL_CTL_MOD, fd, &ev);
	*have = want;
}

/* ---- the line ---- */

static void line_flush(void)
{
	if (X.c.line_fd < 0 || X.broken) {
		bq_drop(&X.lineq, X.lineq.len);
		return;
	}
	while (X.lineq.len && X.line_unacked < SX_LINE_WINDOW) {
		size_t room = SX_LINE_WINDOW - X.line_unacked;
		ssize_t w = write(X.c.line_fd, X.lineq.data + X.lineq.head,
				  X.lineq.len < room ? X.lineq.len : room);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				mlog("exec line: write: %s", strerror(errno));
			break;
		}
		bq_drop(&X.lineq, (size_t)w);
		X.line_unacked += (uint32_t)w;
	}
	/* Waiting for the agent's acknowledgement is waiting for input. */
	set_events(X.c.line_fd, LINE_SLOT, &X.line_events,
		   EPOLLIN | (X.lineq.len && X.line_unacked < SX_LINE_WINDOW ? (uint32_t)EPOLLOUT
									 : 0));
}

static void line_push(uint32_t id, uint16_t type, const void *payload, size_t len)
{
	uint8_t hdr[SX_HDR];

	if (X.broken)
		return;
	sx_put_header(hdr, (uint32_t)len, id, type);
	if (bq_push(&X.lineq, hdr, sizeof(hdr), payload, len) < 0)
		mlog("exec line: out of memory");
}

/* ---- clients ---- */

static struct mexec *by_id(uint32_t id)
{
	for (int i = 0; i < SX_MAX_EXECS; i++)
		if ((X.x[i].state == X_RUNNING) && X.x[i].id == id)
			return &X.x[i];
	return NULL;
}

static void client_push(struct mexec *x, uint16_t type, const void *payload, size_t len)
{
	uint8_t h[4 + SX_MSG_HDR];

	if (x->fd == -1)
		return;
	sx_put_u32(h, (uint32_t)(SX_MSG_HDR + len));
	h[4] = (uint8_t)type;
	h[5] = (uint8_t)(type >> 8);
	h[6] = h[7] = 0;
	if (bq_push(&x->out, h, sizeof(h), payload, len) < 0)
		mlog("exec: out of memory");
}

static void client_error(struct mexec *x, int err, const char *text)
{
	uint8_t buf[4 + 200];
	size_t tl = strnlen(text, 200);

	sx_put_u32(buf, (uint32_t)err);
	memcpy(buf + 4, text, tl);
	client_push(x, SX_ERROR, buf, 4 + tl);
}

static void release(struct mexec *x)
{
	if (x->fd >= 0) {
		if (X.c.epfd >= 0)
			epoll_ctl(X.c.epfd, EPOLL_CTL_DEL, x->fd, NULL);
		close(x->fd);
	}
	bq_free(&x->out);
	memset(x, 0, sizeof(*x));
	x->fd = -1;
}

/* The client went away: a command still running is killed; its slot stays
 * until the agent says it ended (its id is still the agent's). */
static void client_gone(struct mexec *x)
{
	if (x->state != X_RUNNING) {
		release(x);
		return;
	}
	if (X.c.epfd >= 0 && x->fd >= 0)
		epoll_ctl(X.c.epfd, EPOLL_CTL_DEL, x->fd, NULL);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	bq_free(&x->out);
	line_push(x->id, SX_KILL, NULL, 0);
	/* What it still sends is thrown away: give its window back. */
	if (x->ungranted || x->out_window < SX_WINDOW) {
		uint8_t c[4];

		sx_put_u32(c, SX_WINDOW - x->out_window);
		line_push(x->id, SX_CREDIT, c, 4);
		x->out_window = SX_WINDOW;
		x->ungranted = 0;
	}
	line_flush();
}

static void give_credit(struct mexec *x, bool force)
{
	uint8_t c[4];

	if (!x->ungranted || (!force && x->ungranted < CREDIT_BATCH))
		return;
	sx_put_u32(c, x->ungranted);
	line_push(x->id, SX_CREDIT, c, 4);
	x->out_window += x->ungranted;
	x->ungranted = 0;
}

static void client_update(struct mexec *x);

static void client_flush(struct mexec *x)
{
	while (x->out.len) {
		const uint8_t *m = x->out.data + x->out.head;
		uint32_t size = sx_get_u32(m);
		uint16_t type = (uint16_t)(m[4] | m[5] << 8);

		if (x->fd >= 0) {
			ssize_t w = send(x->fd, m + 4, size, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN)
				break;
			if (w < 0) {
				client_gone(x);
				return;
			}
		}
		if (type == SX_STDOUT || type == SX_STDERR)
			x->ungranted += size - SX_MSG_HDR;
		bq_drop(&x->out, 4 + size);
		give_credit(x, x->out.len == 0);
	}
	if (x->state == X_ENDED && x->out.len == 0) {
		release(x);
		return;
	}
	client_update(x);
	line_flush();
}

static bool client_may_read(const struct mexec *x)
{
	if (x->state == X_WAIT_START)
		return true;
	if (x->state != X_RUNNING)
		return false;
	if (!x->has_stdin || x->eof_sent)
		return true; /* only to see what should not come */
	return x->in_credit >= SX_DATA_MAX && X.lineq.len < LINEQ_SOFT;
}

static void client_update(struct mexec *x)
{
	uint32_t want = (client_may_read(x) ? (uint32_t)EPOLLIN : 0) |
			(x->out.len ? (uint32_t)EPOLLOUT : 0);

	set_events(x->fd, (uint32_t)(x - X.x), &x->events, want);
}

static void update_all(void)
{
	for (int i = 0; i < SX_MAX_EXECS; i++)
		if (X.x[i].state != X_FREE && X.x[i].fd >= 0)
			client_update(&X.x[i]);
}

static void client_bad(struct mexec *x, const char *what)
{
	bool running = x->state == X_RUNNING;

	client_error(x, EPROTO, what);
	if (!running)
		x->state = X_ENDED;
	client_flush(x);
	/* A running command is killed; its end comes from the agent, but the
	 * client hears no more. */
	if (running && x->state == X_RUNNING && x->fd != -1)
		client_gone(x);
}

static void on_start(struct mexec *x, uint8_t *msg, size_t n)
{
	static sx_request req;
	static uint8_t copy[SX_PAYLOAD_MAX];
	char err[200];

	if (n < SX_MSG_HDR || (msg[0] | msg[1] << 8) != SX_START || msg[2] || msg[3] ||
	    n - SX_MSG_HDR > SX_PAYLOAD_MAX) {
		client_bad(x, "the first message is not a start");
		return;
	}
	memcpy(copy, msg + SX_MSG_HDR, n - SX_MSG_HDR);
	if (sx_request_decode(&req, copy, n - SX_MSG_HDR, err, sizeof(err)) < 0) {
		client_error(x, EINVAL, err);
		x->state = X_ENDED;
		client_flush(x);
		return;
	}
	if (X.broken) {
		client_error(x, EPROTO, "the guest's agent broke the exec protocol earlier");
		x->state = X_ENDED;
		client_flush(x);
		return;
	}
	x->id = ++X.next_id;
	x->state = X_RUNNING;
	x->has_stdin = req.has_stdin;
	x->out_window = SX_WINDOW;
	x->in_credit = SX_WINDOW;
	line_push(x->id, SX_START, msg + SX_MSG_HDR, n - SX_MSG_HDR);
	line_flush();
	client_update(x);
}

static void on_client_input(struct mexec *x)
{
	static uint8_t msg[CLIENT_MSG_MAX + 1];
	ssize_t n = recv(x->fd, msg, sizeof(msg), MSG_DONTWAIT);
	uint16_t type;
	size_t len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_gone(x);
		return;
	}
	if ((size_t)n > CLIENT_MSG_MAX) {
		client_bad(x, "message too long");
		return;
	}
	if (x->state == X_WAIT_START) {
		on_start(x, msg, (size_t)n);
		return;
	}
	if (x->state != X_RUNNING)
		return;
	type = (uint16_t)(msg[0] | msg[1] << 8);
	len = (size_t)n - SX_MSG_HDR;
	if (n < SX_MSG_HDR || msg[2] || msg[3]) {
		client_bad(x, "bad message header");
	} else if (type == SX_STDIN && x->has_stdin && !x->eof_sent && len > 0 &&
		   len <= SX_DATA_MAX && len <= x->in_credit) {
		x->in_credit -= (uint32_t)len;
		line_push(x->id, SX_STDIN, msg + SX_MSG_HDR, len);
		line_flush();
		client_update(x);
	} else if (type == SX_STDIN_EOF && x->has_stdin && !x->eof_sent && len == 0) {
		x->eof_sent = true;
		line_push(x->id, SX_STDIN_EOF, NULL, 0);
		line_flush();
		client_update(x);
	} else {
		client_bad(x, "unexpected message (stdin not announced, after its end, or "
			      "past its window)");
	}
}

void mex_client(int fd)
{
	struct mexec *x = NULL;
	const char *why = NULL;

	if (!X.available)
		why = "err 95 the guest's agent has no exec line (an image older than libsoda "
		      "0.2's agent, or it could not open it)";
	else if (X.broken)
		why = "err 71 the guest's agent broke the exec protocol earlier";
	for (int i = 0; !why && i < SX_MAX_EXECS && !x; i++)
		if (X.x[i].state == X_FREE)
			x = &X.x[i];
	if (!why && !x)
		why = "err 16 too many commands run on this server";
	if (why) {
		send(fd, why, strlen(why), MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if (send(fd, "ok", 2, MSG_NOSIGNAL) != 2) {
		close(fd);
		return;
	}
	memset(x, 0, sizeof(*x));
	x->fd = fd;
	x->state = X_WAIT_START;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (X.c.epfd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u64 = X.c.ep_tag | (uint32_t)(x - X.x) };

		x->events = EPOLLIN;
		if (epoll_ctl(X.c.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			release(x);
	}
}

/* ---- what the agent sends ---- */

static int violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int violation(const char *fmt, ...)
{
	char why[200], text[260];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	X.broken = true;
	bq_drop(&X.lineq, X.lineq.len);
	mlog("exec line broken by the guest: %s; exec is off for this run", why);
	snprintf(text, sizeof(text), "the guest's agent broke the exec protocol: %s", why);
	for (int i = 0; i < SX_MAX_EXECS; i++) {
		struct mexec *x = &X.x[i];

		if (x->state == X_FREE)
			continue;
		if (x->fd == -1) {
			release(x);
			continue;
		}
		client_error(x, EPROTO, text);
		x->state = X_ENDED;
		client_flush(x);
	}
	return -EPROTO;
}

static int on_exit_frame(struct mexec *x, const uint8_t *p, uint32_t len)
{
	uint8_t msg[8 + 200];
	uint32_t kind, value;

	if (len < 8 || len > 8 + 200)
		return violation("exit frame of %u bytes for id %u", len, x->id);
	kind = sx_get_u32(p);
	value = sx_get_u32(p + 4);
	if ((kind == SX_EXITED && value > 255) ||
	    ((kind == SX_SIGNALED || kind == SX_TIMEDOUT) && (value < 1 || value > 64)) ||
	    (kind == SX_NOSTART && (value < 1 || value > 4095)) || kind > SX_NOSTART ||
	    (kind != SX_NOSTART && len != 8))
		return violation("exit frame for id %u: kind %u value %u", x->id, kind, value);
	memcpy(msg, p, len);
	/* The agent's words go to the landlord's screen: printable only. */
	for (uint32_t i = 8; i < len; i++)
		if (msg[i] < 0x20 || msg[i] >= 0x7f)
			msg[i] = '?';
	client_push(x, SX_EXIT, msg, len);
	x->state = X_ENDED;
	if (x->fd == -1)
		release(x);
	else
		client_flush(x);
	return 0;
}

static int on_line_frame(void *ctx, uint32_t id, uint16_t type, const uint8_t *p, uint32_t len)
{
	struct mexec *x = by_id(id);

	(void)ctx;
	if (id == 0 && type == SX_LINE_ACK) {
		uint32_t n = len == 4 ? sx_get_u32(p) : 0;

		if (len != 4 || n == 0 || n > X.line_unacked)
			return violation("line acknowledgement of %u bytes (%u unacknowledged)", n,
					 X.line_unacked);
		X.line_unacked -= n;
		line_flush();
		return 0;
	}
	if (!x)
		return violation("frame of type %u for id %u, which %s", type, id,
				 id && id <= X.next_id ? "ended" : "the monitor never issued");
	switch (type) {
	case SX_STDOUT:
	case SX_STDERR:
		if (len == 0 || len > x->out_window)
			return violation("%u bytes of output for id %u, %u allowed", len, id,
					 x->out_window);
		x->out_window -= len;
		if (x->fd == -1) {
			x->ungranted += len;
			give_credit(x, true);
			line_flush();
			return 0;
		}
		client_push(x, type, p, len);
		client_flush(x);
		return 0;
	case SX_CREDIT: {
		uint32_t c = len == 4 ? sx_get_u32(p) : 0;

		if (len != 4 || c == 0 || c > SX_WINDOW - x->in_credit)
			return violation("credit of %u for id %u (%u outstanding)", c, id,
					 SX_WINDOW - x->in_credit);
		x->in_credit += c;
		client_update(x);
		return 0;
	}
	case SX_EXIT:
		return on_exit_frame(x, p, len);
	default:
		return violation("frame of type %u (for id %u), which the agent does not send",
				 type, id);
	}
}

int mex_line_input(const uint8_t *buf, size_t n)
{
	char err[160];
	int r;

	if (X.broken)
		return -EPROTO;
	r = sx_feed(&X.rd, buf, n, on_line_frame, NULL, err, sizeof(err));
	if (r == -EPROTO && !X.broken)
		return violation("%s", err);
	return r;
}

static void on_line(uint32_t events)
{
	if (events & EPOLLOUT)
		line_flush();
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		uint8_t buf[65536];
		ssize_t n = read(X.c.line_fd, buf, sizeof(buf));

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			if (X.c.epfd >= 0)
				epoll_ctl(X.c.epfd, EPOLL_CTL_DEL, X.c.line_fd, NULL);
			X.available = false;
			return;
		}
		/* Broken: read on and throw away, so the guest never blocks. */
		if (!X.broken)
			mex_line_input(buf, (size_t)n);
	}
	update_all();
}

void mex_on_event(uint64_t data, uint32_t events)
{
	uint32_t slot = (uint32_t)data;
	struct mexec *x;

	if (slot == LINE_SLOT) {
		on_line(events);
		return;
	}
	if (slot >= SX_MAX_EXECS)
		return;
	x = &X.x[slot];
	if (x->state == X_FREE || x->fd < 0)
		return;
	if (events & EPOLLOUT)
		client_flush(x);
	if (x->state == X_FREE || x->fd < 0)
		return;
	if (events & EPOLLIN)
		on_client_input(x);
	else if (events & (EPOLLHUP | EPOLLERR))
		client_gone(x);
}

int mex_init(const struct mex_config *c)
{
	X.c = *c;
	for (int i = 0; i < SX_MAX_EXECS; i++)
		X.x[i].fd = -1;
	if (X.c.line_fd >= 0) {
		fcntl(X.c.line_fd, F_SETFL, fcntl(X.c.line_fd, F_GETFL) | O_NONBLOCK);
		if (X.c.epfd >= 0) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = X.c.ep_tag | LINE_SLOT };

			X.line_events = EPOLLIN;
			if (epoll_ctl(X.c.epfd, EPOLL_CTL_ADD, X.c.line_fd, &ev) < 0)
				return -errno;
		}
	}
	return 0;
}

void mex_set_available(void)
{
	X.available = true;
}

bool mex_available(void)
{
	return X.available && !X.broken;
}

void mex_close(void)
{
	for (int i = 0; i < SX_MAX_EXECS; i++)
		if (X.x[i].state != X_FREE)
			release(&X.x[i]);
	bq_free(&X.lineq);
	if (X.c.line_fd >= 0)
		close(X.c.line_fd);
	X.c.line_fd = -1;
}

/* ---- tests ---- */

void mex_test_setup(unsigned n)
{
	mex_close();
	memset(&X, 0, sizeof(X));
	X.c.epfd = -1;
	X.c.line_fd = -1;
	X.available = true;
	X.line_unacked = 1000; /* as if that much had gone to the guest */
	for (unsigned i = 0; i < SX_MAX_EXECS; i++) {
		X.x[i].fd = -1;
		if (i >= n)
			continue;
		X.x[i].state = X_RUNNING;
		X.x[i].fd = SINK_FD;
		X.x[i].id = ++X.next_id;
		X.x[i].has_stdin = true;
		X.x[i].out_window = SX_WINDOW;
		X.x[i].in_credit = SX_WINDOW / 2; /* half of it in flight */
	}
}

void mex_test_set_client(unsigned slot, int fd)
{
	if (slot < SX_MAX_EXECS && X.x[slot].state == X_RUNNING)
		X.x[slot].fd = fd;
}

bool mex_line_broken(void)
{
	return X.broken;
}

size_t mex_held_bytes(void)
{
	size_t n = X.lineq.cap;

	for (int i = 0; i < SX_MAX_EXECS; i++)
		n += X.x[i].out.cap;
	return n;
}
