/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The core's objects. */
#ifndef SODA_PRIVATE_H
#define SODA_PRIVATE_H

#include <soda/sys/backend.h>

#include "util.h"

typedef struct su_handler {
	uint64_t id;
	soda_event_fn fn;
	void *userdata;
	soda_destroy_fn destroy;
} su_handler;

struct soda_context {
	unsigned refs;
	char *uri;
	const soda_backend_driver *drv;
	void *priv;
	soda_log_fn log_fn;
	void *log_userdata;
	int log_level;
	su_handler *handlers;
	size_t n_handlers;
	uint64_t next_handler_id;
	bool has_netdev;
	soda_netdev_ops netdev;
	void *netdev_userdata;
	bool processing;
	/* Per-context state of feature modules (owned by them). */
	void *network;
	void *shares;
	void *blackbox;
};

struct soda_server {
	unsigned refs;
	soda_context *ctx;
	char *name;
};

struct soda_event {
	int kind;
	const char *server;
	int state;
	int previous;
	const char *reason;
};

struct soda_server_info {
	soda_backend_status st;
};

/* Logging with printf formats, for the core and built-in backends. */
void su_log(soda_context *ctx, int level, const char *fmt, ...) SU_PRINTF(3, 4);

/* Hooks of optional feature modules, declared weak so that the core links
 * without them. The network module (libsoda/network) provides the default
 * network attachment hooks and is told when a context closes. */
extern const soda_netdev_ops *su_switch_netdev_ops(soda_context *ctx, void **ret_userdata)
	__attribute__((weak));
extern void su_switch_context_closed(soda_context *ctx) __attribute__((weak));

/* Built-in drivers. */
extern const soda_backend_driver su_uml_driver;
extern const soda_backend_driver su_test_driver;

#endif
