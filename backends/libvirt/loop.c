/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt's event loop, run by the context's own get_fd + process instead
 * of a hidden thread. libvirt asks for watches on descriptors and for
 * timers (virEventRegisterImpl); here each watch is a duplicate of its
 * descriptor in one epoll set and all timers share one timerfd armed for
 * the nearest deadline, so the epoll descriptor is readable exactly when
 * something is due. lv_loop_dispatch() runs what is due without blocking.
 *
 * libvirt takes one implementation per process: it is installed once, when
 * the plugin is initialised, before any connection opens. Callbacks run
 * with the lock released (they add and remove watches themselves); a
 * removed entry's free function runs later, at a dispatch or a reap, as
 * libvirt requires.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "lv.h"

#define TIMER_KEY 0u /* watch ids start at 1 */

typedef struct lv_watch {
	int id;
	int fd;  /* libvirt's */
	int dup; /* ours, in the epoll set */
	int events;
	virEventHandleCallback cb;
	void *opaque;
	virFreeCallback ff;
	bool deleted;
} lv_watch;

typedef struct lv_timer {
	int id;
	int freq_ms; /* -1: off; 0: at every dispatch */
	uint64_t due_usec;
	virEventTimeoutCallback cb;
	void *opaque;
	virFreeCallback ff;
	bool deleted;
} lv_timer;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_error;
static int epfd = -1, tfd = -1;
static lv_watch *watches;
static size_t n_watches;
static lv_timer *timers;
static size_t n_timers;
static int next_id = 1;

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t to_epoll(int events)
{
	uint32_t e = 0;

	if (events & VIR_EVENT_HANDLE_READABLE)
		e |= EPOLLIN;
	if (events & VIR_EVENT_HANDLE_WRITABLE)
		e |= EPOLLOUT;
	return e;
}

static int from_epoll(uint32_t e)
{
	return (e & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
	       (e & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
	       (e & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) |
	       (e & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static lv_watch *find_watch(int id)
{
	for (size_t i = 0; i < n_watches; i++)
		if (watches[i].id == id && !watches[i].deleted)
			return &watches[i];
	return NULL;
}

static lv_timer *find_timer(int id)
{
	for (size_t i = 0; i < n_timers; i++)
		if (timers[i].id == id && !timers[i].deleted)
			return &timers[i];
	return NULL;
}

/* With the lock held: arms the timerfd for the nearest due timer. */
static void rearm(void)
{
	struct itimerspec its = { 0 };
	uint64_t due = UINT64_MAX;

	for (size_t i = 0; i < n_timers; i++)
		if (!timers[i].deleted && timers[i].freq_ms >= 0 && timers[i].due_usec < due)
			due = timers[i].due_usec;
	if (due != UINT64_MAX) {
		/* An absolute time in the past (or 0) would disarm: 1 ns at least. */
		its.it_value.tv_sec = (time_t)(due / 1000000u);
		its.it_value.tv_nsec = (long)(due % 1000000u) * 1000;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
		      virFreeCallback ff)
{
	struct epoll_event ev = { .events = to_epoll(events) };
	lv_watch *w;
	int dup, id;

	dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0)
		return -1;
	pthread_mutex_lock(&lock);
	w = realloc(watches, (n_watches + 1) * sizeof(*w));
	if (!w) {
		pthread_mutex_unlock(&lock);
		close(dup);
		return -1;
	}
	watches = w;
	id = next_id++;
	ev.data.u32 = (uint32_t)id;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, dup, &ev) < 0) {
		pthread_mutex_unlock(&lock);
		close(dup);
		return -1;
	}
	watches[n_watches++] = (lv_watch){ id, fd, dup, events, cb, opaque, ff, false };
	pthread_mutex_unlock(&lock);
	return id;
}

static void update_handle(int id, int events)
{
	lv_watch *w;

	pthread_mutex_lock(&lock);
	w = find_watch(id);
	if (w) {
		struct epoll_event ev = { .events = to_epoll(events), .data.u32 = (uint32_t)id };

		w->events = events;
		epoll_ctl(epfd, EPOLL_CTL_MOD, w->dup, &ev);
	}
	pthread_mutex_unlock(&lock);
}

static int remove_handle(int id)
{
	lv_watch *w;

	pthread_mutex_lock(&lock);
	w = find_watch(id);
	if (w) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, w->dup, NULL);
		close(w->dup);
		w->dup = -1;
		w->deleted = true;
	}
	pthread_mutex_unlock(&lock);
	return w ? 0 : -1;
}

static int add_timeout(int freq_ms, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff)
{
	lv_timer *t;
	int id;

	pthread_mutex_lock(&lock);
	t = realloc(timers, (n_timers + 1) * sizeof(*t));
	if (!t) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	timers = t;
	id = next_id++;
	timers[n_timers++] = (lv_timer){ id, freq_ms,
					 now_usec() + (uint64_t)(freq_ms > 0 ? freq_ms : 0) * 1000u,
					 cb, opaque, ff, false };
	rearm();
	pthread_mutex_unlock(&lock);
	return id;
}

static void update_timeout(int id, int freq_ms)
{
	lv_timer *t;

	pthread_mutex_lock(&lock);
	t = find_timer(id);
	if (t) {
		t->freq_ms = freq_ms;
		t->due_usec = now_usec() + (uint64_t)(freq_ms > 0 ? freq_ms : 0) * 1000u;
		rearm();
	}
	pthread_mutex_unlock(&lock);
}

static int remove_timeout(int id)
{
	lv_timer *t;

	pthread_mutex_lock(&lock);
	t = find_timer(id);
	if (t) {
		t->deleted = true;
		rearm();
	}
	pthread_mutex_unlock(&lock);
	return t ? 0 : -1;
}

static void init(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TIMER_KEY };

	epfd = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (epfd < 0 || tfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) < 0) {
		init_error = -errno;
		return;
	}
	virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout,
			     update_timeout, remove_timeout);
}

int lv_loop_init(void)
{
	pthread_once(&once, init);
	return init_error;
}

int lv_loop_fd(void)
{
	return epfd;
}

/* Runs the free functions of removed entries, outside the lock. */
void lv_loop_reap(void)
{
	for (;;) {
		virFreeCallback ff = NULL;
		void *opaque = NULL;

		pthread_mutex_lock(&lock);
		for (size_t i = 0; i < n_watches && !ff; i++)
			if (watches[i].deleted) {
				ff = watches[i].ff;
				opaque = watches[i].opaque;
				watches[i] = watches[--n_watches];
				if (!ff)
					i--, ff = NULL;
			}
		for (size_t i = 0; i < n_timers && !ff; i++)
			if (timers[i].deleted) {
				ff = timers[i].ff;
				opaque = timers[i].opaque;
				timers[i] = timers[--n_timers];
				if (!ff)
					i--, ff = NULL;
			}
		pthread_mutex_unlock(&lock);
		if (!ff)
			return;
		ff(opaque);
	}
}

void lv_loop_dispatch(void)
{
	struct epoll_event evs[32];
	uint64_t expirations, now;
	int n;

	n = epoll_wait(epfd, evs, 32, 0);
	for (int i = 0; i < n; i++) {
		virEventHandleCallback cb = NULL;
		void *opaque = NULL;
		int fd = -1, events = 0;
		lv_watch *w;

		if (evs[i].data.u32 == TIMER_KEY) {
			if (read(tfd, &expirations, sizeof(expirations)) < 0) {
				/* not due after all; the timers are checked below */
			}
			continue;
		}
		pthread_mutex_lock(&lock);
		w = find_watch((int)evs[i].data.u32);
		if (w) {
			cb = w->cb;
			opaque = w->opaque;
			fd = w->fd;
			events = from_epoll(evs[i].events);
		}
		pthread_mutex_unlock(&lock);
		if (cb)
			cb((int)evs[i].data.u32, fd, events, opaque);
	}
	/* Timers due now; each runs at most once per dispatch. */
	now = now_usec();
	for (size_t i = 0;; i++) {
		virEventTimeoutCallback cb = NULL;
		void *opaque = NULL;
		int id = 0;

		pthread_mutex_lock(&lock);
		if (i >= n_timers) {
			rearm();
			pthread_mutex_unlock(&lock);
			break;
		}
		if (!timers[i].deleted && timers[i].freq_ms >= 0 && timers[i].due_usec <= now) {
			id = timers[i].id;
			cb = timers[i].cb;
			opaque = timers[i].opaque;
			timers[i].due_usec = now + (uint64_t)timers[i].freq_ms * 1000u;
		}
		pthread_mutex_unlock(&lock);
		if (cb)
			cb(id, opaque);
	}
	lv_loop_reap();
}
