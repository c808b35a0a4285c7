/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: the context, one per host (or per state directory).
 *
 * Thread model: a context and every object made from it are used by one
 * thread at a time; the caller serialises. Different contexts may be used
 * from different threads in parallel. The library starts no threads of its
 * own: events are delivered from soda_context_process(), which the caller
 * runs when soda_context_get_fd() is readable.
 *
 * Several processes may open contexts on the same state directory at once:
 * changes are serialised by a lock file and written with atomic renames.
 */
#ifndef SODA_CONTEXT_H
#define SODA_CONTEXT_H

#include <soda/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct soda_context soda_context;

#define SODA_CONTEXT_OPTIONS_VERSION 2

/**
 * soda_context_options:
 * Settings for soda_context_open(). Initialise with SODA_CONTEXT_OPTIONS_INIT
 * or soda_context_options_init(); every field left 0/NULL takes its default.
 * Strings are copied by soda_context_open().
 * Version 2 (0.2): the uml backend's fields (uml_binary, monitor_path,
 * agent_path, uid_base, uid_count, cgroup_parent) became its driver
 * options binary, monitor, agent, uid_base, uid_count, cgroup_parent.
 * @since 0.1
 */
typedef struct soda_context_options {
	uint32_t version;
	/* State directory; default from the URI's "state" query, else the
	 * backend's (uml: /var/lib/soda). */
	const char *state_dir;
	/* Network namespace the guests (and the context's switch) live in: a
	 * name under /run/netns or an absolute path; NULL: the caller's. */
	const char *netns;
	soda_log_fn log_fn;
	void *log_userdata;
	/* Highest level passed to log_fn; default SODA_LOG_INFO. */
	int32_t log_level;
	/* Settings of the URI's backend (since 0.2): "key=value" strings,
	 * NULL-terminated; NULL for none. The keys are the backend's URI
	 * query keys (docs/backends/NAME.md; uml: binary, monitor, agent,
	 * uid_base, uid_count, cgroup_parent), given here or in the URI, not
	 * in both; "state" is state_dir's. The backend refuses a key it does
	 * not know, naming it. */
	const char *const *driver_options;
} soda_context_options;

#define SODA_CONTEXT_OPTIONS_INIT { SODA_CONTEXT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL }

/**
 * soda_context_options_init:
 * Fills @opts with defaults for structure version @version.
 * Returns: 0, or -EINVAL if @version is unknown to this library.
 * @since 0.1
 */
SODA_EXPORT int soda_context_options_init(soda_context_options *opts, uint32_t version);

/**
 * soda_context_open:
 * @ret: receives the new context (caller owns one reference).
 * @uri: "uml:///" (default when NULL), "uml:///?state=/some/dir", or
 *       "test:///default" for the in-memory test backend. Query keys other
 *       than "state" are the backend's (see driver_options above).
 * @opts: NULL for defaults.
 * @flags: 0.
 *
 * Opens (creating if needed) the state directory and reconciles it with the
 * kernel: servers whose monitor died are cleaned up and read as crashed.
 *
 * Returns: 0; -EINVAL for a bad URI or options; -ENOENT for an unknown
 * backend; -EACCES/-EPERM when the state directory cannot be used.
 * @since 0.1
 */
SODA_EXPORT int soda_context_open(soda_context **ret, const char *uri,
				  const soda_context_options *opts, unsigned int flags,
				  soda_error **error);

/** Adds a reference. Accepts NULL. Returns: @ctx. @since 0.1 */
SODA_EXPORT soda_context *soda_context_ref(soda_context *ctx);
/** Drops a reference; the last one closes the context (servers keep running).
 * Accepts NULL. Returns: NULL. @since 0.1 */
SODA_EXPORT soda_context *soda_context_unref(soda_context *ctx);

/** Returns: the URI the context was opened with (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_context_get_uri(const soda_context *ctx);
/** Returns: the state directory (borrowed), or NULL for backends without one. @since 0.1 */
SODA_EXPORT const char *soda_context_get_state_dir(const soda_context *ctx);
/** Returns: the path of the guests' network namespace (borrowed), or NULL
 * when they share the caller's. @since 0.1 */
SODA_EXPORT const char *soda_context_get_netns(const soda_context *ctx);

/**
 * soda_context_list_servers:
 * @ret_names: receives a NULL-terminated, sorted array of server names
 *             (free with soda_strv_free()).
 * @ret_count: optional; receives the number of names.
 * Returns: 0 or -errno.
 * @since 0.1
 */
SODA_EXPORT int soda_context_list_servers(char ***ret_names, size_t *ret_count,
					  soda_context *ctx, unsigned int flags,
					  soda_error **error);

/**
 * soda_context_recover:
 * Reconciles state with the kernel now (soda_context_open() does this too):
 * for each server whose monitor is gone, ends what is left of its processes,
 * removes its cgroups, run directory and uml_dir entry, releases its
 * network attachments, and records it as crashed.
 * Returns: the number of servers cleaned up, or -errno.
 * @since 0.1
 */
SODA_EXPORT int soda_context_recover(soda_context *ctx, unsigned int flags, soda_error **error);

/* ---- events ---------------------------------------------------------- */

/* Server states. */
#define SODA_STATE_SHUTOFF 1  /* defined, not running */
#define SODA_STATE_STARTING 2 /* monitor up, guest booting */
#define SODA_STATE_RUNNING 3  /* guest said it is ready */
#define SODA_STATE_PAUSED 4   /* frozen */
#define SODA_STATE_STOPPING 5 /* graceful stop under way */
#define SODA_STATE_CRASHED 6  /* ended abnormally (guest, UML or monitor died) */

/** Returns: a static name for a SODA_STATE_* value ("unknown" otherwise). @since 0.1 */
SODA_EXPORT const char *soda_state_name(int state);

typedef struct soda_event soda_event;

/* Event kinds. */
#define SODA_EVENT_STATE 1     /* a server changed state */
#define SODA_EVENT_DEFINED 2   /* a server was defined */
#define SODA_EVENT_UNDEFINED 3 /* a server was undefined */
/* Since 0.2, from the server's blackbox store (soda-monitor), with the
 * server's state as both states: */
/* its usage passed 80 or 95 % of its quota; the reason says "80" or "95" */
#define SODA_EVENT_BLACKBOX_QUOTA 4
/* its committed head moved (at most every 10 s); the reason is the anchor
 * "SEGMENT:OFFSET:DIGEST": ship it off the host, and soda_blackbox_verify()
 * with it later proves nothing up to there was cut or rewritten */
#define SODA_EVENT_BLACKBOX_ANCHOR 5

/** Returns: SODA_EVENT_*. @since 0.1 */
SODA_EXPORT int soda_event_get_kind(const soda_event *ev);
/** Returns: the server's name (borrowed, valid during the callback). @since 0.1 */
SODA_EXPORT const char *soda_event_get_server(const soda_event *ev);
/** Returns: the new SODA_STATE_* (for SODA_EVENT_STATE). @since 0.1 */
SODA_EXPORT int soda_event_get_state(const soda_event *ev);
/** Returns: the previous SODA_STATE_*, or 0 if unknown. @since 0.1 */
SODA_EXPORT int soda_event_get_previous_state(const soda_event *ev);
/** Returns: a short reason ("ready", "exited", "killed by signal 9",
 * "monitor died", ...) or "" (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_event_get_reason(const soda_event *ev);

/**
 * soda_event_fn:
 * Called from soda_context_process() for each event. Return 0 to go on;
 * a negative value stops this round of processing and is returned by it.
 * @since 0.1
 */
typedef int (*soda_event_fn)(soda_context *ctx, const soda_event *ev, void *userdata);

/**
 * soda_context_add_event_handler:
 * @ret_id: optional; receives an id for soda_context_remove_event_handler().
 * @destroy: optional; called with @userdata when the handler is removed or
 *           the context closes.
 * Returns: 0 or -errno.
 * @since 0.1
 */
SODA_EXPORT int soda_context_add_event_handler(uint64_t *ret_id, soda_context *ctx,
					       soda_event_fn fn, void *userdata,
					       soda_destroy_fn destroy, unsigned int flags,
					       soda_error **error);

/** Returns: 0, or -ENOENT for an unknown id. @since 0.1 */
SODA_EXPORT int soda_context_remove_event_handler(soda_context *ctx, uint64_t id,
						  soda_error **error);

/**
 * soda_context_get_fd:
 * Returns: a file descriptor (owned by the context) that becomes readable
 * when soda_context_process() has work; add it to your event loop. -errno
 * on failure.
 * @since 0.1
 */
SODA_EXPORT int soda_context_get_fd(soda_context *ctx);

/**
 * soda_context_process:
 * Reads what changed (in this process or any other using the same state
 * directory), cleans up after dead monitors, and calls the event handlers.
 * Never blocks.
 * Returns: the number of events dispatched, or -errno.
 * @since 0.1
 */
SODA_EXPORT int soda_context_process(soda_context *ctx, unsigned int flags, soda_error **error);

/**
 * soda_context_wait:
 * Waits until the context's fd is readable or @timeout_ms passes (-1: no
 * limit), then runs soda_context_process().
 * Returns: as soda_context_process(); 0 on timeout.
 * @since 0.1
 */
SODA_EXPORT int soda_context_wait(soda_context *ctx, int32_t timeout_ms, unsigned int flags,
				  soda_error **error);

#ifdef __cplusplus
}
#endif

#endif
