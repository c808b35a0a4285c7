/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: virtual servers — their configuration and their lifecycle.
 */
#ifndef SODA_SERVER_H
#define SODA_SERVER_H

#include <soda/common.h>
#include <soda/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration --------------------------------------------------- */

typedef struct soda_server_config soda_server_config;

/* Limits that every backend enforces. */
#define SODA_NAME_MAX 63                       /* bytes in a server or image name */
#define SODA_MEMORY_MIN (32ULL * 1024 * 1024)  /* smallest guest memory that boots */
#define SODA_MEMORY_DEFAULT (64ULL * 1024 * 1024)
#define SODA_KERNEL_ARGS_MAX 64
#define SODA_SHARES_MAX 16
#define SODA_NICS_MAX 8

/** Functions for FFIs that cannot read macros. @since 0.1 */
SODA_EXPORT uint64_t soda_memory_min(void);
/** @since 0.1 */
SODA_EXPORT uint32_t soda_name_max(void);

/**
 * soda_name_check:
 * Checks a server or image name: 1 to SODA_NAME_MAX bytes of [A-Za-z0-9._-],
 * starting with a letter or digit (so never "." or ".." nor path-like).
 * Returns: 0, or -EINVAL with a message naming the offending byte.
 * @since 0.1
 */
SODA_EXPORT int soda_name_check(const char *name, soda_error **error);

/**
 * soda_server_config_new:
 * @ret: receives a new configuration (free with soda_server_config_free()).
 * @name: checked with soda_name_check().
 * Defaults: image "busybox", memory SODA_MEMORY_DEFAULT, no shares, no NICs.
 * @since 0.1
 */
SODA_EXPORT int soda_server_config_new(soda_server_config **ret, const char *name,
				       soda_error **error);
/** Returns: a deep copy, or -ENOMEM. @since 0.1 */
SODA_EXPORT int soda_server_config_copy(soda_server_config **ret, const soda_server_config *cfg,
					soda_error **error);
/** Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_server_config_free(soda_server_config *cfg);

/** @image: an image name in the context's image store. @since 0.1 */
SODA_EXPORT int soda_server_config_set_image(soda_server_config *cfg, const char *image,
					     soda_error **error);
/** @bytes: guest memory, at least SODA_MEMORY_MIN, a multiple of 1 MiB,
 * at most the host's memory. @since 0.1 */
SODA_EXPORT int soda_server_config_set_memory(soda_server_config *cfg, uint64_t bytes,
					      soda_error **error);
/**
 * soda_server_config_add_kernel_arg:
 * Appends one guest kernel command-line word, such as "loglevel=4": at
 * most 256 printable bytes without spaces or quotes, SODA_KERNEL_ARGS_MAX
 * words. The backend's own rules apply when the server is defined: words
 * it sets itself are refused there, as is a command line longer than it
 * has room for (uml: mem=, root=, init=, ubd*, umid=, uml_dir=, con*,
 * ssl*, eth*, vec*, hostfs*, initcall_blacklist=... and 2048 bytes in
 * all; docs/backends/uml.md).
 * @since 0.1
 */
SODA_EXPORT int soda_server_config_add_kernel_arg(soda_server_config *cfg, const char *arg,
						  soda_error **error);

/* Share flags. */
#define SODA_SHARE_READONLY (1u << 0)
/* Shares of /, /proc, /sys, /dev, /boot, /etc, /root (or beneath them), of
 * the state directory, of its parents or of the library's own files in it
 * (servers, images, blackbox stores...) are refused (-EPERM) unless this
 * flag asks for one on purpose. @since 0.2 */
#define SODA_SHARE_ALLOW_SENSITIVE (1u << 1)

/**
 * soda_server_config_add_share:
 * Makes the host directory @host_dir (absolute, existing when the server
 * starts) visible in the guest at @guest_dir (absolute), read-only with
 * SODA_SHARE_READONLY. The guest reaches nothing of the host beyond it: the
 * server's jail holds only its own files and its shares.
 * @since 0.1
 */
SODA_EXPORT int soda_server_config_add_share(soda_server_config *cfg, const char *host_dir,
					     const char *guest_dir, unsigned int flags,
					     soda_error **error);

/**
 * soda_server_config_add_nic:
 * Adds a network interface attached to @network (a switch of the context).
 * @mac: "02:xx:xx:xx:xx:xx" or NULL to derive a stable locally administered
 *       address from the server name and NIC index.
 * @since 0.1
 */
SODA_EXPORT int soda_server_config_add_nic(soda_server_config *cfg, const char *network,
					   const char *mac, unsigned int flags,
					   soda_error **error);

/** Returns: borrowed strings and values, valid until the config changes. @since 0.1 */
SODA_EXPORT const char *soda_server_config_get_name(const soda_server_config *cfg);
/** @since 0.1 */
SODA_EXPORT const char *soda_server_config_get_image(const soda_server_config *cfg);
/** @since 0.1 */
SODA_EXPORT uint64_t soda_server_config_get_memory(const soda_server_config *cfg);
/** @since 0.1 */
SODA_EXPORT size_t soda_server_config_get_kernel_arg_count(const soda_server_config *cfg);
/** Returns: the argument at @index, or NULL. @since 0.1 */
SODA_EXPORT const char *soda_server_config_get_kernel_arg(const soda_server_config *cfg,
							  size_t index);
/** @since 0.1 */
SODA_EXPORT size_t soda_server_config_get_share_count(const soda_server_config *cfg);
/** Returns: 0 or -ENOENT; strings borrowed. @since 0.1 */
SODA_EXPORT int soda_server_config_get_share(const soda_server_config *cfg, size_t index,
					     const char **ret_host_dir, const char **ret_guest_dir,
					     unsigned int *ret_flags);
/** @since 0.1 */
SODA_EXPORT size_t soda_server_config_get_nic_count(const soda_server_config *cfg);
/** Returns: 0 or -ENOENT; strings borrowed. @since 0.1 */
SODA_EXPORT int soda_server_config_get_nic(const soda_server_config *cfg, size_t index,
					   const char **ret_network, const char **ret_mac);

#define SODA_NIC_ADDRESSES_MAX 8
#define SODA_LABELS_MAX 32

/**
 * soda_server_config_add_nic_address:
 * Gives NIC @index an address, "198.51.100.7/24" or "2001:db8::7/64". The
 * guest configures it at boot, and the switch lets the NIC send only from
 * its addresses (anti-spoofing).
 * Returns: 0; -ENOENT for a bad index; -EINVAL for a malformed address;
 * -EEXIST if the NIC has it already.
 * @since 0.1
 */
SODA_EXPORT int soda_server_config_add_nic_address(soda_server_config *cfg, size_t index,
						   const char *cidr, soda_error **error);
/** @since 0.1 */
SODA_EXPORT size_t soda_server_config_get_nic_address_count(const soda_server_config *cfg,
							    size_t index);
/** Returns: the address in CIDR form (borrowed), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_server_config_get_nic_address(const soda_server_config *cfg,
							   size_t index, size_t addr_index);

/**
 * soda_server_config_add_label:
 * Tags the server with @label (a name as soda_name_check() allows), which
 * firewall policies use as a group.
 * @since 0.1
 */
SODA_EXPORT int soda_server_config_add_label(soda_server_config *cfg, const char *label,
					     soda_error **error);
/**
 * soda_server_config_set_blackbox:
 * Gives the server a blackbox sealed to its tenant's key: the guest's
 * records (console, syslog, kernel log, exec events) are encrypted inside
 * the guest to @box_public (32 bytes, X25519) and kept by the host in an
 * append-only store the host cannot read (include/soda/blackbox.h). The
 * host's own events about the server are sealed to the same key.
 * @sign_public: the tenant's Ed25519 key (32 bytes), or NULL. Only public
 * keys ever reach libsoda: soda_blackbox_key_get_box_public() gives them
 * from a key file. An all-zero key gives -EINVAL.
 * @since 0.1
 */
SODA_EXPORT int soda_server_config_set_blackbox(soda_server_config *cfg,
						const uint8_t *box_public,
						const uint8_t *sign_public, soda_error **error);
/** Copies the tenant's X25519 public key to @box_public (32 bytes).
 * Returns: 1 if the server has a blackbox, 0 if not. @since 0.1 */
SODA_EXPORT int soda_server_config_get_blackbox(const soda_server_config *cfg,
						uint8_t *box_public);

/* What a server's blackbox store does at its quota. @since 0.2 */
#define SODA_BLACKBOX_RETENTION_STOP 0        /* keep the old records, refuse new ones (declared) */
#define SODA_BLACKBOX_RETENTION_DROP_OLDEST 1 /* delete whole oldest segments, with a deletion
						 record the verifier checks */
/**
 * soda_server_config_set_blackbox_retention:
 * The blackbox store's quota (@quota_bytes, at least 1 MiB; 0: the
 * default, 1 GiB) and what it does when the quota is reached (@policy:
 * SODA_BLACKBOX_RETENTION_*; docs/blackbox-format.md, "Retention policies
 * and anchors"). Usage warnings at 80 % and 95 % of the quota come as
 * SODA_EVENT_BLACKBOX_QUOTA events (and in the monitor's log).
 * Returns: 0; -EINVAL for an unknown policy or a quota below 1 MiB.
 * @since 0.2
 */
SODA_EXPORT int soda_server_config_set_blackbox_retention(soda_server_config *cfg, uint32_t policy,
							  uint64_t quota_bytes, soda_error **error);
/** Returns: the SODA_BLACKBOX_RETENTION_* policy; *@ret_quota_bytes (optional)
 * the quota, 0 for the default. @since 0.2 */
SODA_EXPORT uint32_t soda_server_config_get_blackbox_retention(const soda_server_config *cfg,
							       uint64_t *ret_quota_bytes);
/** Returns: "stop", "drop-oldest", or NULL. @since 0.2 */
SODA_EXPORT const char *soda_blackbox_retention_name(uint32_t policy);
/** Sets *@ret to the policy named @name. Returns 0 or -EINVAL. @since 0.2 */
SODA_EXPORT int soda_blackbox_retention_from_name(uint32_t *ret, const char *name,
						  soda_error **error);

#define SODA_GUEST_PROFILE_LOCKED 0 /* the default: root in the guest cannot blind it */
#define SODA_GUEST_PROFILE_OPEN 1   /* modules, /dev/mem, ptrace as the guest kernel allows */
/**
 * soda_server_config_set_guest_profile:
 * What root in the guest's userland may do to the guest kernel (read by
 * the guest's agent at boot, written down in the blackbox). LOCKED: no
 * modules, no /dev/mem, /dev/kmem, /dev/port or /proc/kcore, no ptrace
 * or process_vm_readv/writev, no kexec, perf_event_open, bpf, iopl or
 * ioperm, no device nodes made; OPEN: none of that, for tenants who need
 * modules or debuggers. docs/security.md says what each leaves open.
 * Returns: 0, or -EINVAL for an unknown @profile.
 * @since 0.2
 */
SODA_EXPORT int soda_server_config_set_guest_profile(soda_server_config *cfg, uint32_t profile,
						     soda_error **error);
/** Returns: the server's SODA_GUEST_PROFILE_* (LOCKED unless set). @since 0.2 */
SODA_EXPORT uint32_t soda_server_config_get_guest_profile(const soda_server_config *cfg);
/** Returns: "locked", "open", or NULL for an unknown profile. @since 0.2 */
SODA_EXPORT const char *soda_guest_profile_name(uint32_t profile);
/** Sets *@ret to the profile named @name ("locked" or "open").
 * Returns: 0, or -EINVAL naming @name. @since 0.2 */
SODA_EXPORT int soda_guest_profile_from_name(uint32_t *ret, const char *name, soda_error **error);
/** @since 0.1 */
SODA_EXPORT size_t soda_server_config_get_label_count(const soda_server_config *cfg);
/** Returns: the label (borrowed), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_server_config_get_label(const soda_server_config *cfg, size_t index);

/* ---- servers ----------------------------------------------------------- */

typedef struct soda_server soda_server;

/**
 * soda_server_define:
 * Records a new server from @cfg (copied) in the context. It starts shut off.
 * Returns: 0; -EEXIST if the name is taken; -ENOENT if the image is not in
 * the store; -EINVAL for a configuration the backend cannot run; -ENOSPC if
 * the jail uid range is used up. Nothing is recorded on failure.
 * @since 0.1
 */
SODA_EXPORT int soda_server_define(soda_server **ret, soda_context *ctx,
				   const soda_server_config *cfg, unsigned int flags,
				   soda_error **error);

/** Returns: 0, or -ENOENT if no server has that name. @since 0.1 */
SODA_EXPORT int soda_server_lookup(soda_server **ret, soda_context *ctx, const char *name,
				   soda_error **error);

/** Accepts NULL; returns @srv. @since 0.1 */
SODA_EXPORT soda_server *soda_server_ref(soda_server *srv);
/** Accepts NULL; returns NULL. @since 0.1 */
SODA_EXPORT soda_server *soda_server_unref(soda_server *srv);
/** Returns: the name (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_server_get_name(const soda_server *srv);
/** Returns: the context (borrowed). @since 0.1 */
SODA_EXPORT soda_context *soda_server_get_context(const soda_server *srv);

/** @ret: receives a copy of the server's configuration. @since 0.1 */
SODA_EXPORT int soda_server_get_config(soda_server_config **ret, soda_server *srv,
				       soda_error **error);

/** @ret_state: receives the current SODA_STATE_*. @since 0.1 */
SODA_EXPORT int soda_server_get_state(int *ret_state, soda_server *srv, soda_error **error);

typedef struct soda_server_info soda_server_info;

/** @ret: receives a snapshot of the server's run-time facts. @since 0.1 */
SODA_EXPORT int soda_server_get_info(soda_server_info **ret, soda_server *srv,
				     unsigned int flags, soda_error **error);
/** Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_server_info_free(soda_server_info *info);
/** @since 0.1 */
SODA_EXPORT int soda_server_info_get_state(const soda_server_info *info);
/** Returns: 1 once the guest reported it is ready during this run. @since 0.1 */
SODA_EXPORT int soda_server_info_get_ready(const soda_server_info *info);
/** Returns: the pid of the host process that supervises the guest (uml:
 * soda-monitor), or 0 when not running or the backend has none. @since 0.1 */
SODA_EXPORT int32_t soda_server_info_get_monitor_pid(const soda_server_info *info);
/** Returns: the guest's main host process (uml: linux.uml), or 0. @since 0.1 */
SODA_EXPORT int32_t soda_server_info_get_guest_pid(const soda_server_info *info);
/** Returns: the uid the guest runs as on the host. @since 0.1 */
SODA_EXPORT uint32_t soda_server_info_get_uid(const soda_server_info *info);
/** Returns: start time of this (or the last) run, microseconds since the epoch. @since 0.1 */
SODA_EXPORT uint64_t soda_server_info_get_started_usec(const soda_server_info *info);
/** Returns: microseconds from start to ready for this run, or 0. @since 0.1 */
SODA_EXPORT uint64_t soda_server_info_get_ready_usec(const soda_server_info *info);
/** Returns: exit code of the last run's linux.uml, or -1. @since 0.1 */
SODA_EXPORT int32_t soda_server_info_get_exit_code(const soda_server_info *info);
/** Returns: signal that ended the last run's linux.uml, or 0. @since 0.1 */
SODA_EXPORT int32_t soda_server_info_get_exit_signal(const soda_server_info *info);
/** Returns: why the last state change happened, or "" (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_server_info_get_reason(const soda_server_info *info);

/* Start flags. */
#define SODA_START_WAIT_READY (1u << 0) /* return once the guest says it is ready */

/**
 * soda_server_start:
 * Starts the server's monitor, which jails and boots the guest. Returns
 * when the guest kernel is running (state STARTING, or RUNNING with
 * SODA_START_WAIT_READY). The server keeps running after the caller exits.
 * Returns: 0; -EBUSY if it is not shut off or crashed; -ENOENT for a
 * missing image; -EINVAL for a corrupt image or bad share; -ETIMEDOUT if the
 * guest did not get ready within 30 s (it is then stopped).
 * @since 0.1
 */
SODA_EXPORT int soda_server_start(soda_server *srv, unsigned int flags, soda_error **error);

/**
 * soda_server_wait_state:
 * Waits until the server is in @state, or @timeout_ms (-1: no limit) passes.
 * Dispatches context events while waiting.
 * Returns: 0; -ETIMEDOUT; -ECHILD if the server ended while waiting for a
 * running state.
 * @since 0.1
 */
SODA_EXPORT int soda_server_wait_state(soda_server *srv, int state, int32_t timeout_ms,
				       unsigned int flags, soda_error **error);

/**
 * soda_server_stop:
 * Asks the guest to shut down (ctrl-alt-del) and waits up to @timeout_ms;
 * then ends it by force. Returns when it is shut off.
 * Returns: 0 (also when a force was needed; the event reason says so);
 * -EBUSY if it is not running.
 * @since 0.1
 */
SODA_EXPORT int soda_server_stop(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
				 soda_error **error);

/** Ends the server at once (every process in its cgroup). @since 0.1 */
SODA_EXPORT int soda_server_kill(soda_server *srv, unsigned int flags, soda_error **error);

/** Freezes every process of the server (the guest's clock and CPU time stop).
 * Returns: 0; -EBUSY unless running or starting. @since 0.1 */
SODA_EXPORT int soda_server_freeze(soda_server *srv, unsigned int flags, soda_error **error);

/** Resumes a frozen server. Returns: 0; -EBUSY unless paused. @since 0.1 */
SODA_EXPORT int soda_server_thaw(soda_server *srv, unsigned int flags, soda_error **error);

/** Stops (as soda_server_stop()) and starts again; @flags as for start. @since 0.1 */
SODA_EXPORT int soda_server_restart(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
				    soda_error **error);

/**
 * soda_server_undefine:
 * Forgets a shut-off or crashed server and deletes its disk layer.
 * Returns: 0; -EBUSY if it is running.
 * @since 0.1
 */
SODA_EXPORT int soda_server_undefine(soda_server *srv, unsigned int flags, soda_error **error);

/* Dump flags. */
#define SODA_DUMP_MEMORY (1u << 0) /* also write the guest's physical memory */

/**
 * soda_server_dump:
 * Forensic dump: freezes the server (unless already frozen), writes its
 * copy-on-write disk layer, the identity of its base image, its
 * configuration and run-time facts (and with SODA_DUMP_MEMORY its memory)
 * into @dir, which must not exist yet, then thaws it (if it was not frozen
 * before). Works on a shut-off server too (disk and metadata only).
 * Returns: 0; -EEXIST if @dir exists.
 * @since 0.1
 */
SODA_EXPORT int soda_server_dump(soda_server *srv, const char *dir, unsigned int flags,
				 soda_error **error);

/**
 * soda_server_open_console:
 * @ret_fd: receives a connected stream socket (O_CLOEXEC; caller closes):
 *          reading gives the guest console's output, starting with recent
 *          history; writing types into it.
 * Returns: 0; -EBUSY if the server is not running.
 * @since 0.1
 */
SODA_EXPORT int soda_server_open_console(int *ret_fd, soda_server *srv, unsigned int flags,
					 soda_error **error);

/**
 * soda_server_get_blackbox_dir:
 * @ret: the directory of the server's blackbox store (soda_free()), as
 *       its backend lays it out (uml: STATE_DIR/blackbox/NAME). It may
 *       not exist yet (the server never ran
 *       with a blackbox). The store outlives the server's definition:
 *       soda_server_undefine() leaves it, for it is the tenant's evidence.
 * Returns: 0; -EOPNOTSUPP for a backend without blackbox stores.
 * @since 0.1
 */
SODA_EXPORT int soda_server_get_blackbox_dir(char **ret, soda_server *srv, soda_error **error);

#ifdef __cplusplus
}
#endif

#endif
