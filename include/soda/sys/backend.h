/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda for backend writers: the versioned guest-backend driver table and
 * the network attachment hooks.
 *
 * A backend fills a soda_backend_driver and registers it for a URI scheme.
 * The core validates names, flags and configurations before calling it, so a
 * driver sees only well-formed input. Any entry left NULL means "not
 * supported": the core answers -EOPNOTSUPP without calling the driver.
 * Drivers report failures as -errno plus a message through soda_error_set().
 */
#ifndef SODA_SYS_BACKEND_H
#define SODA_SYS_BACKEND_H

#include <soda/soda.h>
#include <soda/shares.h>
#include <soda/exec.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2 (0.2): open() gets the URI's query, validate() and blackbox_dir()
 * entries, soda_backend_status.helper_pid (was monitor_pid). */
#define SODA_BACKEND_VERSION 2

/**
 * soda_backend_status:
 * What a driver reports about one server. Strings are copied by the core.
 * @since 0.1
 */
typedef struct soda_backend_status {
	uint32_t version; /* SODA_BACKEND_VERSION */
	int32_t state;    /* SODA_STATE_* */
	int32_t ready;
	/* The host process that supervises the running guest for the backend
	 * (uml: its soda-monitor), 0 if there is none or it is not running;
	 * soda_server_info_get_monitor_pid() returns it. */
	int32_t helper_pid;
	int32_t guest_pid;
	uint32_t uid;
	uint64_t started_usec;
	uint64_t ready_usec;
	int32_t exit_code;
	int32_t exit_signal;
	char reason[128];
} soda_backend_status;

/**
 * soda_backend_emit_fn:
 * Given to a driver's process(): the driver calls it once per change it saw.
 * @kind: SODA_EVENT_*; @state/@previous: SODA_STATE_* or 0.
 */
typedef int (*soda_backend_emit_fn)(void *emit_data, int kind, const char *server, int state,
				    int previous, const char *reason);

typedef struct soda_backend_driver {
	uint32_t version; /* SODA_BACKEND_VERSION */
	const char *scheme;

	/* Context. @path is the URI's path (the whole URI, unparsed, for a
	 * NAME+TRANSPORT scheme: soda_backend_plugin_init_fn). @query holds the
	 * URI's query as "key=value" strings, values percent-decoded, in the
	 * URI's order, then the options' driver_options, NULL-terminated,
	 * never NULL: every key but "state", which the core reads itself, each
	 * key once. The driver refuses each key it does not know with an error
	 * naming it. @state_dir is the chosen state dir
	 * (NULL if the URI and options named none). */
	int (*open)(void **ret_priv, soda_context *ctx, const char *path,
		    const char *const *query, const char *state_dir,
		    const soda_context_options *opts, soda_error **error);
	void (*close)(void *priv);
	const char *(*state_dir)(void *priv);
	const char *(*netns)(void *priv);
	int (*recover)(void *priv, unsigned int flags, soda_error **error);
	int (*get_fd)(void *priv);
	int (*process)(void *priv, soda_backend_emit_fn emit, void *emit_data, soda_error **error);

	/* Servers, by validated name. validate() (since 0.2; may be NULL) is
	 * the backend's own rules on a configuration the core found well-formed
	 * (kernel arguments it reserves, room it needs): the core calls it
	 * before define(), and its error reaches the caller unchanged. */
	int (*validate)(void *priv, const soda_server_config *cfg, soda_error **error);
	int (*define)(void *priv, const soda_server_config *cfg, unsigned int flags,
		      soda_error **error);
	int (*undefine)(void *priv, const char *name, unsigned int flags, soda_error **error);
	int (*lookup)(void *priv, const char *name, soda_server_config **ret_cfg,
		      soda_error **error);
	int (*list)(void *priv, char ***ret_names, soda_error **error);
	int (*status)(void *priv, const char *name, soda_backend_status *ret, soda_error **error);
	int (*start)(void *priv, const char *name, unsigned int flags, soda_error **error);
	int (*stop)(void *priv, const char *name, uint32_t timeout_ms, unsigned int flags,
		    soda_error **error);
	int (*kill)(void *priv, const char *name, unsigned int flags, soda_error **error);
	int (*freeze)(void *priv, const char *name, unsigned int flags, soda_error **error);
	int (*thaw)(void *priv, const char *name, unsigned int flags, soda_error **error);
	int (*dump)(void *priv, const char *name, const char *dir, unsigned int flags,
		    soda_error **error);
	int (*open_console)(void *priv, const char *name, int *ret_fd, unsigned int flags,
			    soda_error **error);
	/* The host directory of the server's blackbox store (since 0.2):
	 * *ret_path is malloc()ed; for soda_server_get_blackbox_dir(). */
	int (*blackbox_dir)(void *priv, const char *name, char **ret_path, soda_error **error);
	/* Shares (validated by the core) and statistics: @value and @have have
	 * SODA_STAT_MAX + 1 entries indexed by SODA_STAT_*; set have[k] = 1 for
	 * each value filled. */
	int (*set_shares)(void *priv, const char *name, const soda_shares *shares,
			  unsigned int flags, soda_error **error);
	int (*stats)(void *priv, const char *name, uint64_t *value, uint8_t *have,
		     soda_error **error);

	/* Images. */
	int (*image_build)(void *priv, const char *name, int source_kind, const char *source,
			   uint64_t size_bytes, unsigned int flags, soda_error **error);
	int (*image_list)(void *priv, char ***ret_names, soda_error **error);
	int (*image_remove)(void *priv, const char *name, unsigned int flags, soda_error **error);
	int (*image_path)(void *priv, const char *name, char **ret_path, soda_error **error);

	/* The IDS at a running server's port (since 0.2): @request is one of
	 * the monitor's ("enable L R P", "reload", "policy L R P", "stats",
	 * "disable"; docs/ids.md) with up to two descriptors (rules, vars);
	 * *ret_reply (may be NULL) gets what follows "ok". ids_alerts opens the
	 * landlord's alert stream (JSON lines) for reading. */
	int (*ids)(void *priv, const char *name, const char *request, const int *fds,
		   size_t n_fds, char **ret_reply, soda_error **error);
	int (*ids_alerts)(void *priv, const char *name, int *ret_fd, soda_error **error);

	/* A command in a running server (since 0.2; include/soda/exec.h): the
	 * core checked @argv and @opts (version, flags, non-NULL). */
	int (*exec)(void *priv, const char *name, const char *const *argv,
		    const soda_exec_options *opts, int *ret_status, soda_error **error);
} soda_backend_driver;

/**
 * soda_backend_register:
 * Makes @driver (which must outlive its use; normally static) available for
 * URIs of its scheme. Built-in: those the build lists (cmake/backends.cmake).
 * Returns: 0; -EEXIST if the scheme is taken; -EINVAL for a bad table.
 * @since 0.1
 */
SODA_EXPORT int soda_backend_register(const soda_backend_driver *driver, soda_error **error);

/**
 * soda_backend_plugin_init_fn:
 * The entry of a backend plugin, libsoda-NAME.so, exported under the name
 * SODA_BACKEND_PLUGIN_SYMBOL. libsoda loads the plugin when a context is
 * opened for a URI of scheme NAME or NAME+TRANSPORT that no registered
 * driver has: from $SODA_BACKEND_PLUGIN_DIR alone if that is set, else
 * from the directory of libsoda.so, then from the install's libdir (NAME:
 * lower-case letters and digits). The entry registers the driver of scheme
 * NAME with soda_backend_register() (-EEXIST counts as done). For a
 * NAME+TRANSPORT URI the driver's open() receives the whole URI as @path,
 * unparsed, @query only from the options' driver_options and @state_dir
 * only from the options. Plugins need the shared
 * libsoda and stay loaded.
 * @version: SODA_BACKEND_VERSION of the loading library.
 * Returns: 0 or -errno (with @error filled).
 * @since 0.2
 */
typedef int (*soda_backend_plugin_init_fn)(uint32_t version, soda_error **error);
#define SODA_BACKEND_PLUGIN_SYMBOL "soda_backend_plugin_init"

/**
 * soda_error_set:
 * For drivers and hooks: fills *@error (if @error is non-NULL and empty)
 * with @code and @message. Returns: @code, so `return soda_error_set(...)`.
 * @since 0.1
 */
SODA_EXPORT int soda_error_set(soda_error **error, int code, const char *message);

/**
 * soda_netdev_ops:
 * Network attachment hooks. At start, for each NIC of a server, the backend
 * calls attach(), which makes a host interface the guest will use (a TAP the
 * jailed @uid may open) and writes its name to @ret_ifname (at most 15
 * bytes and NUL). At stop, and in crash recovery, detach() undoes it.
 * @since 0.1
 */
typedef struct soda_netdev_ops {
	uint32_t version; /* SODA_BACKEND_VERSION */
	int (*attach)(void *userdata, const char *server, uint32_t index, const char *network,
		      const char *mac, uint32_t uid, char ret_ifname[16], soda_error **error);
	int (*detach)(void *userdata, const char *server, uint32_t index, const char *ifname,
		      soda_error **error);
} soda_netdev_ops;

/**
 * soda_context_set_netdev_ops:
 * Installs @ops (copied) for the context; NULL removes them. Servers with
 * NICs fail to start with -ENOTSUP while no hooks are installed.
 * @since 0.1
 */
SODA_EXPORT int soda_context_set_netdev_ops(soda_context *ctx, const soda_netdev_ops *ops,
					    void *userdata, soda_error **error);

/** For drivers: the context's netdev hooks (those installed, else the
 * built-in switch's), or NULL. @since 0.1 */
SODA_EXPORT const soda_netdev_ops *soda_context_get_netdev_ops(soda_context *ctx,
							       void **ret_userdata);

/**
 * soda_netdev_shape:
 * For drivers: shapes the host interface @ifname (a TAP that the netdev
 * hooks made) in the network namespace @netns (a path; NULL: the caller's)
 * to the bandwidth shares of @s, as the uml backend shapes its TAPs: HTB on
 * the TAP's egress for what goes to the guest, an IFB for what comes from
 * it, queueing rather than dropping. Replaces the shaping the interface
 * had. @s NULL or without bandwidth removes it (and the IFB; a missing
 * interface is fine): a driver calls that before detach(). @flags: 0.
 * Needs CAP_NET_ADMIN in @netns.
 * Returns: 0; -EOPNOTSUPP if this build cannot shape.
 * @since 0.2
 */
SODA_EXPORT int soda_netdev_shape(const char *netns, const char *ifname, const soda_shares *s,
				  unsigned int flags, soda_error **error);

/** For drivers: logs through the context's log hook. @since 0.1 */
SODA_EXPORT void soda_context_log(soda_context *ctx, int level, const char *message);

#ifdef __cplusplus
}
#endif

#endif
