/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend, a plugin (libsoda-libvirt.so) for URIs
 * "libvirt+DRIVER://[HOST]/PATH[?QUERY]": everything after "libvirt+" is
 * the libvirt connection URI (test:///default, qemu:///system,
 * qemu+tcp://HOST/system...). A server is a persistent domain that carries
 * the soda configuration in its metadata (meta.c); domains without it are
 * not this backend's and are invisible to it.
 *
 * The core checks names, flags and configurations; here the rules of the
 * state machine are the test backend's (the same errors for the same
 * misuse: -ENOENT, -EEXIST, -EBUSY), checked against the domain's state
 * before libvirt is asked, and libvirt's own errors come back as -errno
 * with libvirt's message. Lifecycle events arrive through libvirt's event
 * loop (loop.c), run by soda_context_process(). A QEMU guest booting an
 * image of the store (boot.c) seals its blackbox in the guest; the host's
 * end of its line is soda-bbrelay (relay.c, bbrelay.c), which feeds the
 * tenant's store in STATE/blackbox/NAME. Images and the IDS are not
 * supported (NULL entries: -EOPNOTSUPP). docs/backends/libvirt.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lv.h"

#define SCHEME "libvirt"
#define STOP_POLL_USEC 20000
/* How long a stop or kill waits for the blackbox relay to read the line to
 * its end before it ends the relay (SIGTERM: it reads what is left). */
#define RELAY_END_MS 5000

typedef struct lv_event {
	int kind;
	char *server;
	int state;
	int previous;
	char reason[32];
} lv_event;

typedef struct lv_known {
	char *name;
	int state;   /* last reported, for "previous" */
	char **taps; /* the switch's TAPs while it runs, to detach at its end */
} lv_known;

typedef struct lv_backend {
	soda_context *ctx;
	virConnectPtr conn;
	char *virt_uri;
	char *state_dir; /* the image store's (a uml context's state directory), or NULL */
	char *netns;     /* the switch's (the context's option), or NULL */
	int efd;  /* queued events pending */
	int epfd; /* efd + the loop's descriptor */
	int cb_id;
	lv_event *events;
	size_t n_events;
	lv_known *known;
	size_t n_known;
} lv_backend;

/* ---- errors ---- */

static int errno_of(const virError *e)
{
	if (!e)
		return -EIO;
	switch (e->code) {
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_DOM_EXIST:
		return -EEXIST;
	case VIR_ERR_OPERATION_INVALID:
		return -EBUSY;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_CONFIG_UNSUPPORTED:
		return -EINVAL;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_ACCESS_DENIED:
		return -EACCES;
	case VIR_ERR_NO_CONNECT:
		return -ECONNREFUSED;
	case VIR_ERR_OPERATION_TIMEOUT:
		return -ETIMEDOUT;
	case VIR_ERR_NO_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Fills @error from libvirt's last error in this thread; returns -errno. */
static int fail(soda_error **error, const char *what, const char *name)
{
	virErrorPtr e = virGetLastError();
	char msg[1024];
	int r = errno_of(e);

	snprintf(msg, sizeof(msg), "%s%s%s%s: %s", what, name ? " '" : "", name ? name : "",
		 name ? "'" : "", e && e->message ? e->message : "libvirt failed");
	virResetLastError();
	return soda_error_set(error, r, msg);
}

static int failf(soda_error **error, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int failf(soda_error **error, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return soda_error_set(error, code, msg);
}

/* libvirt would print errors to stderr; a library does not. */
static void quiet(void *userdata, virErrorPtr e)
{
	(void)userdata;
	(void)e;
}

/* ---- events ---- */

static lv_known *known(lv_backend *b, const char *name)
{
	for (size_t i = 0; i < b->n_known; i++)
		if (strcmp(b->known[i].name, name) == 0)
			return &b->known[i];
	return NULL;
}

static lv_known *remember(lv_backend *b, const char *name, int state)
{
	lv_known *k = known(b, name);

	if (k)
		return k;
	k = realloc(b->known, (b->n_known + 1) * sizeof(*k));
	if (!k)
		return NULL;
	b->known = k;
	k = &b->known[b->n_known];
	k->name = strdup(name);
	if (!k->name)
		return NULL;
	k->state = state;
	k->taps = NULL;
	b->n_known++;
	return k;
}

static void detach_nics(lv_backend *b, const char *name, char **taps);

/* The server ended: its TAPs go. */
static void release_nics(lv_backend *b, const char *name)
{
	lv_known *k = known(b, name);

	if (k && k->taps) {
		detach_nics(b, name, k->taps);
		soda_strv_free(k->taps);
		k->taps = NULL;
	}
}

static void forget(lv_backend *b, const char *name)
{
	lv_known *k = known(b, name);

	if (k) {
		release_nics(b, name);
		free(k->name);
		*k = b->known[--b->n_known];
	}
}

static void queue(lv_backend *b, int kind, const char *server, int state, int previous,
		  const char *reason)
{
	lv_event *ev = realloc(b->events, (b->n_events + 1) * sizeof(*ev));
	uint64_t one = 1;

	if (!ev)
		return;
	b->events = ev;
	ev = &b->events[b->n_events];
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->server = strdup(server);
	if (!ev->server)
		return;
	ev->state = state;
	ev->previous = previous;
	snprintf(ev->reason, sizeof(ev->reason), "%s", reason);
	b->n_events++;
	if (write(b->efd, &one, sizeof(one)) < 0) {
		/* an eventfd counter does not overflow here */
	}
}

static bool is_ours(virDomainPtr dom)
{
	char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, LV_META_NS, 0);

	virResetLastError();
	free(xml);
	return xml != NULL;
}

static void state_event(lv_backend *b, const char *name, int state, const char *reason)
{
	lv_known *k = remember(b, name, 0);
	int prev = k ? k->state : 0;

	if (k)
		k->state = state;
	queue(b, SODA_EVENT_STATE, name, state, prev, reason);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
			void *opaque)
{
	lv_backend *b = opaque;
	const char *name = virDomainGetName(dom);

	(void)conn;
	if (!name)
		return 0;
	if (event == VIR_DOMAIN_EVENT_UNDEFINED) {
		if (known(b, name)) {
			queue(b, SODA_EVENT_UNDEFINED, name, 0, known(b, name)->state, "undefined");
			forget(b, name);
		}
		return 0;
	}
	if (!known(b, name) && !is_ours(dom))
		return 0;
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		if (detail == VIR_DOMAIN_EVENT_DEFINED_ADDED) {
			remember(b, name, SODA_STATE_SHUTOFF);
			queue(b, SODA_EVENT_DEFINED, name, SODA_STATE_SHUTOFF, 0, "defined");
		}
		break;
	case VIR_DOMAIN_EVENT_STARTED:
		state_event(b, name, lv_boot_ready(name) == 0 ? SODA_STATE_STARTING
							     : SODA_STATE_RUNNING,
			    "started");
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
		state_event(b, name, SODA_STATE_PAUSED, "frozen");
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		state_event(b, name, SODA_STATE_RUNNING, "thawed");
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		release_nics(b, name);
		if (detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ||
		    detail == VIR_DOMAIN_EVENT_STOPPED_FAILED)
			state_event(b, name, SODA_STATE_CRASHED, "crashed");
		else
			state_event(b, name, SODA_STATE_SHUTOFF,
				    detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED ? "killed"
										 : "stopped");
		break;
	case VIR_DOMAIN_EVENT_CRASHED:
		release_nics(b, name);
		state_event(b, name, SODA_STATE_CRASHED, "crashed");
		break;
	default:
		break;
	}
	return 0;
}

static int lv_get_fd(void *priv)
{
	return ((lv_backend *)priv)->epfd;
}

static int lv_process(void *priv, soda_backend_emit_fn emit, void *emit_data,
		      soda_error **error)
{
	lv_backend *b = priv;
	uint64_t v;
	size_t i;
	int r = 0;

	(void)error;
	lv_loop_dispatch();
	if (read(b->efd, &v, sizeof(v)) < 0) {
		/* nothing queued */
	}
	for (i = 0; i < b->n_events && r >= 0; i++)
		r = emit(emit_data, b->events[i].kind, b->events[i].server, b->events[i].state,
			 b->events[i].previous, b->events[i].reason);
	for (size_t j = 0; j < i; j++)
		free(b->events[j].server);
	memmove(b->events, b->events + i, (b->n_events - i) * sizeof(lv_event));
	b->n_events -= i;
	if (b->n_events) {
		uint64_t one = 1;

		if (write(b->efd, &one, sizeof(one)) < 0) {
			/* see queue() */
		}
	}
	return r < 0 ? r : 0;
}

/* ---- context ---- */

static void lv_close(void *priv)
{
	lv_backend *b = priv;

	if (b->conn) {
		if (b->cb_id >= 0)
			virConnectDomainEventDeregisterAny(b->conn, b->cb_id);
		virConnectClose(b->conn);
	}
	lv_loop_reap();
	for (size_t i = 0; i < b->n_events; i++)
		free(b->events[i].server);
	free(b->events);
	/* Servers outlive the context: their TAPs stay. */
	for (size_t i = 0; i < b->n_known; i++) {
		free(b->known[i].name);
		soda_strv_free(b->known[i].taps);
	}
	free(b->known);
	if (b->epfd >= 0)
		close(b->epfd);
	if (b->efd >= 0)
		close(b->efd);
	free(b->virt_uri);
	free(b->state_dir);
	free(b->netns);
	free(b);
}

static int lv_open(void **ret_priv, soda_context *ctx, const char *path,
		   const char *const *query, const char *state_dir,
		   const soda_context_options *opts, soda_error **error)
{
	const char *uri = soda_context_get_uri(ctx);
	struct epoll_event ev = { .events = EPOLLIN };
	lv_backend *b;
	int r;

	(void)path;
	if (!uri || strncmp(uri, SCHEME "+", strlen(SCHEME) + 1) != 0)
		return failf(error, -EINVAL,
			     "URI '%s': the libvirt backend takes libvirt+DRIVER://..., "
			     "e.g. libvirt+qemu:///system",
			     uri ? uri : "");
	/* libvirt's URI, query and all, is libvirt's; @query holds only the
	 * options' driver_options, of which this backend has none. */
	if (query[0])
		return failf(error, -EINVAL, "unknown driver option '%.*s' (the libvirt backend "
			     "takes none)", (int)strcspn(query[0], "="), query[0]);
	r = lv_loop_init();
	if (r < 0)
		return failf(error, r, "libvirt event loop: %s", strerror(-r));
	b = calloc(1, sizeof(*b));
	if (!b)
		return failf(error, -ENOMEM, "out of memory");
	b->ctx = ctx;
	b->cb_id = -1;
	b->epfd = -1;
	b->virt_uri = strdup(uri + strlen(SCHEME) + 1);
	b->state_dir = state_dir ? strdup(state_dir) : NULL;
	b->netns = opts && opts->netns ? strdup(opts->netns) : NULL;
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!b->virt_uri || (state_dir && !b->state_dir) || b->efd < 0) {
		r = failf(error, b->virt_uri && (!state_dir || b->state_dir) ? -errno : -ENOMEM,
			  "eventfd: %s", strerror(errno));
		goto out;
	}
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0 || epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->efd, &ev) < 0 ||
	    epoll_ctl(b->epfd, EPOLL_CTL_ADD, lv_loop_fd(), &ev) < 0) {
		r = failf(error, -errno, "epoll: %s", strerror(errno));
		goto out;
	}
	b->conn = virConnectOpen(b->virt_uri);
	if (!b->conn) {
		virErrorPtr e = virGetLastError();

		/* Not -EIO: no hypervisor answering is a refused connection. */
		r = errno_of(e);
		r = failf(error, r == -EACCES || r == -EINVAL ? r : -ECONNREFUSED,
			  "cannot connect to libvirt at '%s': %s", b->virt_uri,
			  e && e->message ? e->message : "libvirt failed");
		virResetLastError();
		goto out;
	}
	virConnSetErrorFunc(b->conn, NULL, quiet);
	b->cb_id = virConnectDomainEventRegisterAny(b->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
						    VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), b,
						    NULL);
	if (b->cb_id < 0) {
		r = fail(error, "cannot watch domain events at", b->virt_uri);
		goto out;
	}
	*ret_priv = b;
	return 0;
out:
	lv_close(b);
	return r;
}

/* ---- servers ---- */

/* The domain of server @name, or -ENOENT if there is none or it is not ours. */
static int get_dom(lv_backend *b, const char *name, virDomainPtr *ret, soda_error **error)
{
	virDomainPtr dom = virDomainLookupByName(b->conn, name);

	if (!dom) {
		virErrorPtr e = virGetLastError();

		if (!e || e->code == VIR_ERR_NO_DOMAIN) {
			virResetLastError();
			return failf(error, -ENOENT, "no server named '%s'", name);
		}
		return fail(error, "cannot look up", name);
	}
	if (!is_ours(dom)) {
		virDomainFree(dom);
		return failf(error, -ENOENT,
			     "no server named '%s' (a domain of that name is not libsoda's)", name);
	}
	*ret = dom;
	return 0;
}

static int soda_state(virDomainPtr dom, int *ret_reason_code, soda_error **error)
{
	int st, reason;

	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		return fail(error, "cannot read the state of", virDomainGetName(dom));
	if (ret_reason_code)
		*ret_reason_code = reason;
	switch (st) {
	case VIR_DOMAIN_RUNNING:
		return SODA_STATE_RUNNING;
	case VIR_DOMAIN_BLOCKED:
		return SODA_STATE_RUNNING;
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		return SODA_STATE_PAUSED;
	case VIR_DOMAIN_SHUTDOWN:
		return SODA_STATE_STOPPING;
	case VIR_DOMAIN_CRASHED:
		return SODA_STATE_CRASHED;
	case VIR_DOMAIN_SHUTOFF:
		return reason == VIR_DOMAIN_SHUTOFF_CRASHED || reason == VIR_DOMAIN_SHUTOFF_FAILED
			       ? SODA_STATE_CRASHED
			       : SODA_STATE_SHUTOFF;
	default:
		return SODA_STATE_SHUTOFF;
	}
}

static bool live(int state)
{
	return state == SODA_STATE_RUNNING || state == SODA_STATE_PAUSED ||
	       state == SODA_STATE_STARTING || state == SODA_STATE_STOPPING;
}

/* The domain of @name in a state @ok accepts, else -ENOENT or -EBUSY. */
static int get_dom_in(lv_backend *b, const char *name, bool (*ok)(int), virDomainPtr *ret,
		      soda_error **error)
{
	virDomainPtr dom = NULL;
	int r = get_dom(b, name, &dom, error), st;

	if (r < 0)
		return r;
	st = soda_state(dom, NULL, error);
	if (st < 0 || !ok(st)) {
		virDomainFree(dom);
		return st < 0 ? st
			      : failf(error, -EBUSY, "server '%s' is %s", name,
				      soda_state_name(st));
	}
	*ret = dom;
	return 0;
}

static bool dead(int st)
{
	return !live(st);
}

static bool running(int st)
{
	return st == SODA_STATE_RUNNING;
}

static bool paused(int st)
{
	return st == SODA_STATE_PAUSED;
}

static const char *domain_type(lv_backend *b)
{
	const char *t = virConnectGetType(b->conn);

	if (t && strcasecmp(t, "test") == 0)
		return "test";
	return "qemu";
}

/* Boot words as under UML (backends/uml/cmdline.c), for the agent. */
static int boot_cmdline(const soda_server_config *cfg, char **buf, size_t *len)
{
	uint8_t box[32];
	int r = lv_buf_printf(buf, len, "console=ttyS0 quiet panic=-1 soda.name=");

	if (r == 0)
		r = lv_buf_escaped(buf, len, soda_server_config_get_name(cfg));
	for (size_t i = 0; r == 0 && i < soda_server_config_get_nic_count(cfg); i++)
		for (size_t a = 0; r == 0 && a < soda_server_config_get_nic_address_count(cfg, i);
		     a++) {
			r = lv_buf_printf(buf, len, " soda.addr=%zu,", i);
			if (r == 0)
				r = lv_buf_escaped(buf, len,
						   soda_server_config_get_nic_address(cfg, i, a));
		}
	/* The guest seals to the tenant's X25519 key (the agent's
	 * soda.blackbox, as under UML); the profile is what the agent locks. */
	if (r == 0 && soda_server_config_get_blackbox(cfg, box)) {
		r = lv_buf_printf(buf, len, " soda.blackbox=");
		for (size_t i = 0; r == 0 && i < 32; i++)
			r = lv_buf_printf(buf, len, "%02x", box[i]);
	}
	if (r == 0)
		r = lv_buf_printf(buf, len, " soda.profile=%s",
				  soda_guest_profile_name(soda_server_config_get_guest_profile(cfg)));
	for (size_t i = 0; r == 0 && i < soda_server_config_get_kernel_arg_count(cfg); i++) {
		r = lv_buf_printf(buf, len, " ");
		if (r == 0)
			r = lv_buf_escaped(buf, len, soda_server_config_get_kernel_arg(cfg, i));
	}
	return r;
}

/* A QEMU guest booting image @bt->image: kernel, initramfs and command line
 * (boot.c), the image read-only on virtio, the console on ttyS0 (a pty for
 * virDomainOpenConsole), the blackbox line on ttyS1 (with a blackbox, a
 * pipe chardev on the FIFOs soda-bbrelay reads, relay.c; without, a null
 * one: nothing the guest writes there reaches the host) and the agent line
 * on ttyS2 (a file QEMU writes in the server's run directory, a tmpfs of
 * LV_RUN_DIR_BYTES: boot.c). QEMU runs as root without relabelling:
 * the image store, /boot and LV_RUN_DIR keep their owners. */
static int boot_xml(const soda_server_config *cfg, const lv_boot *bt, char **buf, size_t *len)
{
	int r = lv_buf_printf(buf, len, "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n"
					"    <kernel>");

	if (r == 0)
		r = lv_buf_escaped(buf, len, bt->kernel);
	if (r == 0)
		r = lv_buf_printf(buf, len, "</kernel>\n    <initrd>");
	if (r == 0)
		r = lv_buf_escaped(buf, len, bt->initrd);
	if (r == 0)
		r = lv_buf_printf(buf, len, "</initrd>\n    <cmdline>");
	if (r == 0)
		r = boot_cmdline(cfg, buf, len);
	if (r == 0)
		r = lv_buf_printf(buf, len,
				  "</cmdline>\n  </os>\n"
				  "  <seclabel type='static' model='dac' relabel='no'>"
				  "<label>+0:+0</label></seclabel>\n"
				  "  <on_poweroff>destroy</on_poweroff>\n"
				  "  <on_reboot>destroy</on_reboot>\n"
				  "  <on_crash>destroy</on_crash>\n  <devices>\n"
				  "    <disk type='file' device='disk'>\n"
				  "      <driver name='qemu' type='raw'/>\n      <source file='");
	if (r == 0)
		r = lv_buf_escaped(buf, len, bt->image);
	if (r == 0)
		r = lv_buf_printf(buf, len,
				  "'/>\n      <target dev='vda' bus='virtio'/>\n      <readonly/>\n"
				  "    </disk>\n"
				  "    <serial type='pty'><target port='0'/></serial>\n");
	if (r == 0 && soda_server_config_get_blackbox(cfg, NULL)) {
		r = lv_buf_printf(buf, len, "    <serial type='pipe'><source path='");
		if (r == 0)
			r = lv_buf_escaped(buf, len, bt->blackbox_line);
		if (r == 0)
			r = lv_buf_printf(buf, len, "'/><target port='1'/></serial>\n");
	} else if (r == 0) {
		r = lv_buf_printf(buf, len, "    <serial type='null'><target port='1'/></serial>\n");
	}
	if (r == 0)
		r = lv_buf_printf(buf, len, "    <serial type='file'><source path='");
	if (r == 0)
		r = lv_buf_escaped(buf, len, bt->agent_line);
	if (r == 0)
		r = lv_buf_printf(buf, len, "' append='off'/><target port='2'/></serial>\n"
					    "    <console type='pty'><target type='serial' port='0'/>"
					    "</console>\n");
	return r;
}

/* The domain XML of @cfg; NIC i is on TAP @taps[i] when @taps is given;
 * @uuid (or NULL) is the domain's, when it is redefined. */
static int domain_xml(lv_backend *b, const soda_server_config *cfg, const char *uuid,
		      char **taps, const lv_boot *bt, char **ret, soda_error **error)
{
	char *buf = NULL, *meta = NULL;
	size_t len = 0;
	int r;

	r = lv_meta_format(&meta, cfg, error);
	if (r < 0)
		return r;
	r = lv_buf_printf(&buf, &len, "<domain type='%s'>\n  <name>", domain_type(b));
	if (r == 0)
		r = lv_buf_escaped(&buf, &len, soda_server_config_get_name(cfg));
	if (r == 0)
		r = lv_buf_printf(&buf, &len, "</name>\n");
	if (r == 0 && uuid)
		r = lv_buf_printf(&buf, &len, "  <uuid>%s</uuid>\n", uuid);
	if (r == 0)
		r = lv_buf_printf(&buf, &len,
				  "  <memory unit='b'>%llu</memory>\n"
				  "  <vcpu>1</vcpu>\n",
				  (unsigned long long)soda_server_config_get_memory(cfg));
	if (r == 0 && bt && bt->kernel)
		r = boot_xml(cfg, bt, &buf, &len);
	else if (r == 0)
		r = lv_buf_printf(&buf, &len,
				  "  <os><type arch='x86_64'>hvm</type></os>\n"
				  "  <on_poweroff>destroy</on_poweroff>\n"
				  "  <on_reboot>restart</on_reboot>\n"
				  "  <on_crash>destroy</on_crash>\n  <devices>\n");
	for (size_t i = 0; r == 0 && i < soda_server_config_get_nic_count(cfg); i++) {
		const char *network = NULL, *mac = NULL;

		soda_server_config_get_nic(cfg, i, &network, &mac);
		r = lv_buf_printf(&buf, &len, "    <interface type='ethernet'>\n");
		if (r == 0 && mac)
			r = lv_buf_printf(&buf, &len, "      <mac address='%s'/>\n", mac);
		if (r == 0 && taps && taps[i])
			r = lv_buf_printf(&buf, &len,
					  "      <target dev='%s' managed='no'/>\n", taps[i]);
		if (r == 0)
			r = lv_buf_printf(&buf, &len,
					  "      <model type='virtio'/>\n    </interface>\n");
	}
	if (r == 0)
		r = lv_buf_printf(&buf, &len,
				  "  </devices>\n  <metadata>\n    <" LV_META_PREFIX
				  ":server xmlns:" LV_META_PREFIX "='" LV_META_NS "'>%s</" LV_META_PREFIX
				  ":server>\n  </metadata>\n</domain>\n",
				  meta);
	free(meta);
	if (r < 0) {
		free(buf);
		return failf(error, r, "cannot build the domain XML");
	}
	*ret = buf;
	return 0;
}

/* What boots @cfg's image; nothing (bt->kernel NULL) for the test driver,
 * a context that names no state directory (whose images/ is the image
 * store) or an image the store does not have. */
static int boot_for(lv_backend *b, const soda_server_config *cfg, lv_boot *bt,
		    soda_error **error)
{
	memset(bt, 0, sizeof(*bt));
	if (strcmp(domain_type(b), "test") == 0 || !b->state_dir)
		return 0;
	return lv_boot_prepare(bt, b->state_dir, soda_server_config_get_name(cfg),
			       soda_server_config_get_image(cfg), error);
}

/* The tenant's store: the context's state directory's blackbox/NAME, as
 * under UML (root's; it outlives the server's definition). */
static int bb_dir(lv_backend *b, const char *name, char **ret, soda_error **error)
{
	if (!b->state_dir)
		return failf(error, -EOPNOTSUPP, "server '%s': no blackbox store without the "
			     "context's state directory (soda_context_options.state_dir)", name);
	if (asprintf(ret, "%s/blackbox/%s", b->state_dir, name) < 0)
		return failf(error, -ENOMEM, "out of memory");
	return 0;
}

static int lv_blackbox_dir(void *priv, const char *name, char **ret_path, soda_error **error)
{
	return bb_dir(priv, name, ret_path, error);
}

/* The relay of @cfg's blackbox line, before its domain starts. */
static int start_relay(lv_backend *b, const soda_server_config *cfg, soda_error **error)
{
	const char *name = soda_server_config_get_name(cfg);
	char *dir = NULL;
	lv_boot bt = { 0 };
	int r = boot_for(b, cfg, &bt, error);

	if (r == 0 && !bt.kernel)
		r = failf(error, -EOPNOTSUPP, "server '%s': its blackbox needs its image '%s' in "
			  "the store (STATE/images), which this host does not have", name,
			  soda_server_config_get_image(cfg));
	lv_boot_free(&bt);
	if (r == 0)
		r = bb_dir(b, name, &dir, error);
	if (r == 0)
		r = lv_relay_start(name, dir, cfg, error);
	free(dir);
	return r;
}

static int lv_define(void *priv, const soda_server_config *cfg, unsigned int flags,
		     soda_error **error)
{
	lv_backend *b = priv;
	const char *name = soda_server_config_get_name(cfg);
	virDomainPtr dom = NULL;
	lv_boot bt = { 0 };
	char *xml = NULL;
	int r;

	(void)flags;
	dom = virDomainLookupByName(b->conn, name);
	if (dom) {
		virDomainFree(dom);
		return failf(error, -EEXIST, "a server named '%s' already exists", name);
	}
	virResetLastError();
	if (soda_server_config_get_share_count(cfg) > 0)
		return failf(error, -EOPNOTSUPP,
			     "server '%s': the libvirt backend has no shared directories yet", name);
	r = boot_for(b, cfg, &bt, error);
	if (r < 0)
		return r;
	if (!bt.kernel && soda_server_config_get_blackbox(cfg, NULL))
		return failf(error, -EOPNOTSUPP, "server '%s': a blackbox needs a QEMU guest "
			     "booting an image of the store (STATE/images/IMAGE.img), whose agent "
			     "seals it; this one boots nothing", name);
	r = domain_xml(b, cfg, NULL, NULL, &bt, &xml, error);
	lv_boot_free(&bt);
	if (r < 0)
		return r;
	dom = virDomainDefineXMLFlags(b->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
	free(xml);
	if (!dom)
		return fail(error, "cannot define", name);
	remember(b, name, SODA_STATE_SHUTOFF);
	virDomainFree(dom);
	return 0;
}

static int lv_undefine(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	virDomainPtr dom = NULL;
	int r = get_dom_in(priv, name, dead, &dom, error);

	(void)flags;
	if (r < 0)
		return r;
	r = virDomainUndefine(dom) < 0 ? fail(error, "cannot undefine", name) : 0;
	virDomainFree(dom);
	/* The relay ended with the domain; the tenant's store stays. */
	if (r == 0) {
		lv_relay_end(name, 0);
		lv_boot_forget(name);
	}
	return r;
}

static int config_of(virDomainPtr dom, const char *name, soda_server_config **ret,
		     soda_error **error)
{
	char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, LV_META_NS, 0);
	char *text;
	int r;

	if (!xml)
		return fail(error, "cannot read the soda metadata of", name);
	text = lv_meta_text(xml);
	free(xml);
	if (!text)
		return failf(error, -EINVAL, "domain '%s': malformed soda metadata", name);
	r = lv_meta_parse(ret, name, text, error);
	free(text);
	return r;
}

static int lv_lookup(void *priv, const char *name, soda_server_config **ret_cfg,
		     soda_error **error)
{
	virDomainPtr dom = NULL;
	int r = get_dom(priv, name, &dom, error);

	if (r < 0)
		return r;
	r = config_of(dom, name, ret_cfg, error);
	virDomainFree(dom);
	return r;
}

static int lv_list(void *priv, char ***ret_names, soda_error **error)
{
	lv_backend *b = priv;
	virDomainPtr *doms = NULL;
	char **names;
	size_t n = 0;
	int count;

	count = virConnectListAllDomains(b->conn, &doms, VIR_CONNECT_LIST_DOMAINS_PERSISTENT);
	if (count < 0)
		return fail(error, "cannot list the domains of", b->virt_uri);
	names = calloc((size_t)count + 1, sizeof(char *));
	for (int i = 0; i < count; i++) {
		if (names && is_ours(doms[i])) {
			names[n] = strdup(virDomainGetName(doms[i]));
			if (!names[n]) {
				soda_strv_free(names);
				names = NULL;
			} else {
				n++;
			}
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	if (!names)
		return failf(error, -ENOMEM, "out of memory");
	*ret_names = names;
	return 0;
}

static int lv_status(void *priv, const char *name, soda_backend_status *ret,
		     soda_error **error)
{
	virDomainPtr dom = NULL;
	int r = get_dom(priv, name, &dom, error), reason = 0;

	if (r < 0)
		return r;
	r = soda_state(dom, &reason, error);
	/* A guest booting an image runs once its agent said so. */
	if (r == SODA_STATE_RUNNING && lv_boot_ready(name) == 0)
		r = SODA_STATE_STARTING;
	if (r >= 0) {
		ret->state = r;
		ret->ready = r == SODA_STATE_RUNNING || r == SODA_STATE_PAUSED;
		ret->exit_code = -1;
		snprintf(ret->reason, sizeof(ret->reason), "libvirt state reason %d", reason);
		r = 0;
	}
	virDomainFree(dom);
	return r;
}

/* Detaches the NICs attach_nics() attached (@taps: NULL-terminated). */
static void detach_nics(lv_backend *b, const char *name, char **taps)
{
	void *userdata = NULL;
	const soda_netdev_ops *ops = soda_context_get_netdev_ops(b->ctx, &userdata);

	for (size_t i = 0; ops && taps && taps[i]; i++) {
		/* The shaping first (its IFB is not the hooks' to know). */
		soda_netdev_shape(b->netns, taps[i], NULL, 0, NULL);
		ops->detach(userdata, name, (uint32_t)i, taps[i], NULL);
	}
}

/* Makes the switch's TAP for each NIC and redefines the domain on them. */
static int attach_nics(lv_backend *b, virDomainPtr cur, const soda_server_config *cfg,
		       char ***ret_taps, soda_error **error)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	const char *name = soda_server_config_get_name(cfg);
	size_t n = soda_server_config_get_nic_count(cfg);
	void *userdata = NULL;
	const soda_netdev_ops *ops;
	char **taps, *xml = NULL;
	virDomainPtr dom = NULL;
	lv_boot bt = { 0 };
	int r = 0;

	*ret_taps = NULL;
	if (n == 0)
		return 0;
	if (virDomainGetUUIDString(cur, uuid) < 0)
		return fail(error, "cannot read the UUID of", name);
	ops = soda_context_get_netdev_ops(b->ctx, &userdata);
	if (!ops)
		return failf(error, -ENOTSUP, "server '%s' has NICs but the context has no switch",
			     name);
	taps = calloc(n + 1, sizeof(char *));
	if (!taps)
		return failf(error, -ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *network = NULL, *mac = NULL;
		char ifname[16] = "";

		soda_server_config_get_nic(cfg, i, &network, &mac);
		/* libvirt opens the TAP as root and hands the descriptor over. */
		r = ops->attach(userdata, name, (uint32_t)i, network, mac, 0, ifname, error);
		if (r == 0 && !(taps[i] = strdup(ifname)))
			r = failf(error, -ENOMEM, "out of memory");
	}
	if (r == 0)
		r = boot_for(b, cfg, &bt, error);
	if (r == 0)
		r = domain_xml(b, cfg, uuid, taps, &bt, &xml, error);
	lv_boot_free(&bt);
	if (r == 0) {
		dom = virDomainDefineXML(b->conn, xml);
		if (!dom)
			r = fail(error, "cannot put the NICs of", name);
		else
			virDomainFree(dom);
	}
	free(xml);
	if (r < 0) {
		detach_nics(b, name, taps);
		soda_strv_free(taps);
		return r;
	}
	*ret_taps = taps;
	return 0;
}

static int lv_start(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	lv_backend *b = priv;
	soda_server_config *cfg = NULL;
	char **taps = NULL;
	virDomainPtr dom = NULL;
	bool relay = false;
	int r = get_dom_in(b, name, dead, &dom, error);

	(void)flags;
	if (r < 0)
		return r;
	r = config_of(dom, name, &cfg, error);
	/* The relay first: it reads the line before the guest writes. */
	if (r == 0 && soda_server_config_get_blackbox(cfg, NULL)) {
		r = start_relay(b, cfg, error);
		relay = r == 0;
	}
	if (r == 0)
		r = attach_nics(b, dom, cfg, &taps, error);
	if (r == 0) {
		/* The agent line of a previous run must not say "ready". */
		char line[512];

		snprintf(line, sizeof(line), LV_RUN_DIR "/%s/agent.line", name);
		unlink(line);
	}
	if (r == 0 && virDomainCreate(dom) < 0) {
		r = fail(error, "cannot start", name);
		detach_nics(b, name, taps);
	}
	if (r < 0 && relay)
		lv_relay_end(name, 0);
	if (r == 0 && taps) {
		lv_known *k = remember(b, name, SODA_STATE_SHUTOFF);

		release_nics(b, name);
		if (k) {
			k->taps = taps;
			taps = NULL;
		}
	}
	soda_strv_free(taps);
	soda_server_config_free(cfg);
	virDomainFree(dom);
	return r;
}

static int lv_stop(void *priv, const char *name, uint32_t timeout_ms, unsigned int flags,
		   soda_error **error)
{
	virDomainPtr dom = NULL;
	struct timespec pause = { 0, STOP_POLL_USEC * 1000 };
	int r = get_dom_in(priv, name, live, &dom, error);

	(void)flags;
	if (r < 0)
		return r;
	/* The agent stops on ctrl-alt-del (SIGINT as PID 1); a domain that
	 * boots nothing gets ACPI's power button. */
	if (lv_boot_ready(name) >= 0) {
		unsigned int keys[] = { 29, 56, 111 }; /* KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE */

		if (virDomainSendKey(dom, VIR_KEYCODE_SET_LINUX, 100, keys, 3, 0) < 0) {
			r = fail(error, "cannot stop", name);
			virDomainFree(dom);
			return r;
		}
	} else if (virDomainShutdown(dom) < 0) {
		r = fail(error, "cannot stop", name);
		virDomainFree(dom);
		return r;
	}
	/* A guest that ignores the request is powered off at the deadline. */
	for (uint64_t waited = 0;; waited += STOP_POLL_USEC) {
		int st = soda_state(dom, NULL, error);

		if (st < 0 || !live(st)) {
			r = st < 0 ? st : 0;
			break;
		}
		if (waited >= (uint64_t)timeout_ms * 1000u) {
			r = virDomainDestroy(dom) < 0 ? fail(error, "cannot power off", name) : 0;
			break;
		}
		nanosleep(&pause, NULL);
	}
	if (r == 0) {
		release_nics(priv, name);
		/* QEMU is gone: the relay reads the line to its end and stops. */
		lv_relay_end(name, RELAY_END_MS);
	}
	virDomainFree(dom);
	return r;
}

#define SIMPLE(fn, ok, call, what)                                                          \
	static int fn(void *priv, const char *name, unsigned int flags, soda_error **error) \
	{                                                                                   \
		virDomainPtr dom = NULL;                                                    \
		int r = get_dom_in(priv, name, ok, &dom, error);                            \
		(void)flags;                                                                \
		if (r < 0)                                                                  \
			return r;                                                           \
		r = call(dom) < 0 ? fail(error, what, name) : 0;                            \
		virDomainFree(dom);                                                         \
		return r;                                                                   \
	}

SIMPLE(lv_kill_domain, live, virDomainDestroy, "cannot kill")
SIMPLE(lv_freeze, running, virDomainSuspend, "cannot freeze")
SIMPLE(lv_thaw, paused, virDomainResume, "cannot thaw")

static int lv_kill(void *priv, const char *name, unsigned int flags, soda_error **error)
{
	int r = lv_kill_domain(priv, name, flags, error);

	if (r == 0) {
		release_nics(priv, name);
		lv_relay_end(name, RELAY_END_MS);
	}
	return r;
}

/* ---- shares and statistics ---- */

static int set_sched(virDomainPtr dom, const char *name, const soda_shares *s,
		     soda_error **error)
{
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, nsched = 0, r = 0;
	char *type = virDomainGetSchedulerType(dom, &nsched);
	uint32_t weight = soda_shares_get_cpu_weight(s), max = soda_shares_get_cpu_max(s);

	if (!type)
		return fail(error, "cannot read the CPU scheduler of", name);
	if (weight && strcmp(type, "fair") == 0) /* the test driver's */
		r = virTypedParamsAddUInt(&params, &nparams, &maxparams, "weight", weight);
	else if (weight)
		r = virTypedParamsAddULLong(&params, &nparams, &maxparams,
					    VIR_DOMAIN_SCHEDULER_CPU_SHARES, weight);
	if (r == 0 && max) {
		if (strcmp(type, "posix") != 0) {
			r = failf(error, -EOPNOTSUPP, "server '%s': the '%s' scheduler has no CPU cap",
				  name, type);
			free(type);
			virTypedParamsFree(params, nparams);
			return r;
		}
		r = virTypedParamsAddULLong(&params, &nparams, &maxparams,
					    VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD, 100000);
		if (r == 0)
			r = virTypedParamsAddLLong(&params, &nparams, &maxparams,
						   VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA,
						   (long long)max * 1000);
	}
	free(type);
	if (r < 0)
		r = fail(error, "cannot build the CPU shares of", name);
	else if (nparams &&
		 virDomainSetSchedulerParametersFlags(dom, params, nparams,
						      VIR_DOMAIN_AFFECT_CURRENT) < 0)
		r = fail(error, "cannot set the CPU shares of", name);
	virTypedParamsFree(params, nparams);
	return r;
}

/* @cpus, a list the core normalised ("0-1,3"), as a libvirt CPU map of
 * @maplen bytes; -EINVAL past the map (CPUs the host does not have). */
static int cpu_map(const char *cpus, unsigned char *map, int maplen)
{
	const char *p = cpus;

	memset(map, 0, (size_t)maplen);
	while (*p) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p)
			return -EINVAL;
		if (*end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p || hi < lo)
				return -EINVAL;
		}
		if (hi >= (unsigned long)maplen * 8)
			return -EINVAL;
		for (unsigned long c = lo; c <= hi; c++)
			VIR_USE_CPU(map, c);
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -EINVAL;
	}
	return 0;
}

/* Every vCPU and the emulator's threads on @cpus (NULL: every online CPU
 * of the host, unpinned), live when the domain runs, else in its
 * definition (AFFECT_CURRENT, as set_sched). */
static int set_cpus(lv_backend *b, virDomainPtr dom, const char *name, const char *cpus,
		    soda_error **error)
{
	unsigned char *online = NULL, *map;
	int ncpus = virNodeGetCPUMap(b->conn, &online, NULL, 0), maplen, nvcpus, r = 0;

	if (ncpus <= 0)
		return fail(error, "cannot read the host's CPUs for", name);
	maplen = VIR_CPU_MAPLEN(ncpus);
	map = calloc(1, (size_t)maplen);
	if (!map) {
		free(online);
		return failf(error, -ENOMEM, "out of memory");
	}
	if (!cpus)
		memcpy(map, online, (size_t)maplen);
	else if (cpu_map(cpus, map, maplen) < 0)
		r = failf(error, -EINVAL, "server '%s': cpus '%s' names a CPU the host (%d CPUs) "
			  "does not have", name, cpus, ncpus);
	free(online);
	nvcpus = r == 0 ? virDomainGetVcpusFlags(dom, VIR_DOMAIN_AFFECT_CURRENT) : 0;
	if (r == 0 && nvcpus < 0)
		r = fail(error, "cannot count the vCPUs of", name);
	for (int i = 0; r == 0 && i < nvcpus; i++)
		if (virDomainPinVcpuFlags(dom, (unsigned int)i, map, maplen,
					  VIR_DOMAIN_AFFECT_CURRENT) < 0)
			r = fail(error, "cannot pin the vCPUs of", name);
	if (r == 0 && virDomainPinEmulator(dom, map, maplen, VIR_DOMAIN_AFFECT_CURRENT) < 0)
		r = fail(error, "cannot pin the emulator of", name);
	free(map);
	return r;
}

/* Bandwidth: the host's shaping (soda_netdev_shape(), as on the uml
 * backend's TAPs) on the TAPs this context made for a running server.
 * Not libvirt's <bandwidth>: for an ethernet interface it needs tc's sfq
 * qdisc and police action (an inbound policer, which collapses TCP), and
 * fails on a kernel without them (docs/backends/libvirt.md). */
static int set_bandwidth(lv_backend *b, const char *name, const soda_shares *s,
			 soda_error **error)
{
	lv_known *k = known(b, name);
	int r = 0;

	for (size_t i = 0; r == 0 && k && k->taps && k->taps[i]; i++)
		r = soda_netdev_shape(b->netns, k->taps[i], s, 0, error);
	return r;
}

static int lv_set_shares(void *priv, const char *name, const soda_shares *s,
			 unsigned int flags, soda_error **error)
{
	lv_backend *b = priv;
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, r, st;
	uint64_t out = 0, in = 0, burst = 0;
	virDomainPtr dom = NULL;
	lv_known *k;

	(void)flags;
	/* QEMU runs the guest's processes: no host process limit counts them. */
	if (soda_shares_get_pids_max(s))
		return failf(error, -EOPNOTSUPP,
			     "server '%s': the libvirt backend has no pids share (the guest's "
			     "processes live inside QEMU, where no host limit sees them)",
			     name);
	r = get_dom(b, name, &dom, error);
	if (r < 0)
		return r;
	st = soda_state(dom, NULL, error);
	if (st < 0) {
		virDomainFree(dom);
		return st;
	}
	soda_shares_get_bandwidth(s, SODA_DIRECTION_OUT, &out, &burst);
	soda_shares_get_bandwidth(s, SODA_DIRECTION_IN, &in, &burst);
	k = known(b, name);
	if ((out || in) && (!live(st) || !k || !k->taps)) {
		virDomainFree(dom);
		return failf(error, live(st) ? -EOPNOTSUPP : -EBUSY,
			     "server '%s': bandwidth shares go on the TAPs of a running server "
			     "that this context started (%s)",
			     name, live(st) ? "another one started it" : "it is not running");
	}
	r = set_sched(dom, name, s, error);
	if (r == 0 && soda_shares_get_memory_max(s)) {
		r = virTypedParamsAddULLong(&params, &nparams, &maxparams,
					    VIR_DOMAIN_MEMORY_HARD_LIMIT,
					    soda_shares_get_memory_max(s) / 1024);
		if (r < 0 || virDomainSetMemoryParameters(dom, params, nparams,
							  VIR_DOMAIN_AFFECT_CURRENT) < 0)
			r = fail(error, "cannot set the memory backstop of", name);
		virTypedParamsFree(params, nparams);
	}
	if (r == 0)
		r = set_cpus(b, dom, name, soda_shares_get_cpus(s), error);
	if (r == 0)
		r = set_bandwidth(b, name, s, error);
	virDomainFree(dom);
	return r;
}

static void stat_ull(virTypedParameterPtr p, int n, const char *field, uint64_t mul,
		     uint64_t *value, uint8_t *have, int key)
{
	unsigned long long v;

	if (virTypedParamsGetULLong(p, n, field, &v) == 1) {
		value[key] += v * mul;
		have[key] = 1;
	}
}

static int lv_stats(void *priv, const char *name, uint64_t *value, uint8_t *have,
		    soda_error **error)
{
	virDomainStatsRecordPtr *recs = NULL;
	virDomainPtr doms[2] = { NULL, NULL };
	unsigned int nets = 0;
	int r = get_dom(priv, name, &doms[0], error), n;

	if (r < 0)
		return r;
	n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
						 VIR_DOMAIN_STATS_INTERFACE,
				  &recs, 0);
	virDomainFree(doms[0]);
	if (n < 0)
		return fail(error, "cannot read the statistics of", name);
	if (n > 0) {
		virTypedParameterPtr p = recs[0]->params;
		int np = recs[0]->nparams;

		stat_ull(p, np, "cpu.time", 1, value, have, SODA_STAT_CPU_USEC);
		if (have[SODA_STAT_CPU_USEC])
			value[SODA_STAT_CPU_USEC] /= 1000; /* ns */
		stat_ull(p, np, "balloon.rss", 1024, value, have, SODA_STAT_MEMORY_BYTES);
		virTypedParamsGetUInt(p, np, "net.count", &nets);
		for (unsigned int i = 0; i < nets && i < 64; i++) {
			char f[48];

			/* libvirt counts from the guest's side. */
			snprintf(f, sizeof(f), "net.%u.tx.bytes", i);
			stat_ull(p, np, f, 1, value, have, SODA_STAT_NET_OUT_BYTES);
			snprintf(f, sizeof(f), "net.%u.tx.pkts", i);
			stat_ull(p, np, f, 1, value, have, SODA_STAT_NET_OUT_PACKETS);
			snprintf(f, sizeof(f), "net.%u.tx.drop", i);
			stat_ull(p, np, f, 1, value, have, SODA_STAT_NET_OUT_DROPS);
			snprintf(f, sizeof(f), "net.%u.rx.bytes", i);
			stat_ull(p, np, f, 1, value, have, SODA_STAT_NET_IN_BYTES);
			snprintf(f, sizeof(f), "net.%u.rx.pkts", i);
			stat_ull(p, np, f, 1, value, have, SODA_STAT_NET_IN_PACKETS);
			snprintf(f, sizeof(f), "net.%u.rx.drop", i);
			stat_ull(p, np, f, 1, value, have, SODA_STAT_NET_IN_DROPS);
		}
	}
	virDomainStatsRecordListFree(recs);
	return 0;
}

static int lv_open_console(void *priv, const char *name, int *ret_fd, unsigned int flags,
			   soda_error **error)
{
	virDomainPtr dom = NULL;
	int r = get_dom_in(priv, name, live, &dom, error);

	(void)flags;
	if (r < 0)
		return r;
	r = lv_console_open(dom, ret_fd, error);
	virDomainFree(dom);
	return r;
}

/* Copies @from to @name in @dfd (made, never an existing file or a link
 * planted there): a reflink where the file system can, else
 * copy_file_range(), else read and write. */
static int copy_into(int dfd, const char *name, const char *from, struct stat *ret_st,
		     soda_error **error)
{
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1, r = 0;
	off_t left;

	if (in < 0 || fstat(in, ret_st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(ret_st->st_mode)) {
		r = -EINVAL;
		goto out;
	}
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		r = -errno;
		goto out;
	}
	if (ioctl(out, FICLONE, in) == 0)
		goto out;
	for (left = ret_st->st_size; left > 0 && r == 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n > 0) {
			left -= n;
		} else if (n == 0) {
			r = -EIO; /* the source shrank */
		} else if (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			   errno == EOPNOTSUPP) {
			char buf[1 << 16];
			ssize_t got = read(in, buf, sizeof(buf));

			if (got <= 0 || write(out, buf, (size_t)got) != got)
				r = got == 0 ? -EIO : -errno;
			else
				left -= got;
		} else if (errno != EINTR) {
			r = -errno;
		}
	}
out:
	if (r == 0 && out >= 0 && fsync(out) < 0)
		r = -errno;
	if (out >= 0 && close(out) < 0 && r == 0)
		r = -errno;
	if (in >= 0)
		close(in);
	if (r < 0)
		failf(error, r, "cannot copy %s to the dump's %s: %s", from, name, strerror(-r));
	return r;
}

/* "KEY VALUE\n" with the value percent-encoded, as the uml backend's
 * manifest (libsoda/kv.c). */
static int kv_add(char **buf, size_t *len, const char *key, const char *value)
{
	int r = lv_buf_printf(buf, len, "%s ", key);

	for (const unsigned char *p = (const unsigned char *)value; r == 0 && *p; p++)
		r = *p < 0x21 || *p > 0x7e || *p == '%' ? lv_buf_printf(buf, len, "%%%02X", *p)
							 : lv_buf_printf(buf, len, "%c", *p);
	return r == 0 ? lv_buf_printf(buf, len, "\n") : r;
}

static int write_at(int dfd, const char *name, const char *text, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = -EIO;
	if (fsync(fd) < 0 && r == 0)
		r = -errno;
	close(fd);
	return r;
}

/* A forensic dump in DIR, which it makes (as the uml backend's): the disk,
 * DIR/disk.img, a copy of the image the guest boots (read-only on its
 * virtio disk, so the copy is the disk as the guest sees it); with
 * SODA_DUMP_MEMORY and a live guest, its memory as an ELF core,
 * DIR/memory.elf (libvirt pauses it meanwhile); the domain's XML,
 * DIR/domain.xml; DIR/manifest ("soda-dump 1", then KEY VALUE lines:
 * server, time-usec, state, image, image-path, image-size, image-mtime,
 * disk, memory). A domain that boots no image has no disk. */
static int lv_dump(void *priv, const char *name, const char *dir, unsigned int flags,
		   soda_error **error)
{
	lv_backend *b = priv;
	soda_server_config *cfg = NULL;
	virDomainPtr dom = NULL;
	char *path = NULL, *man = NULL, *xml = NULL, num[32];
	size_t len = 0;
	lv_boot bt = { 0 };
	struct stat ist;
	struct timespec now;
	int r = get_dom(b, name, &dom, error), st = 0, dfd = -1;
	bool disk = false, memory = false;

	if (r < 0)
		return r;
	r = config_of(dom, name, &cfg, error);
	if (r == 0) {
		st = soda_state(dom, NULL, error);
		r = st < 0 ? st : 0;
	}
	if (r < 0)
		goto out;
	if (mkdir(dir, 0700) < 0) {
		r = failf(error, -errno, "cannot create dump directory %s: %s", dir,
			  strerror(errno));
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = failf(error, -errno, "cannot open dump directory %s: %s", dir, strerror(errno));
		goto out;
	}
	/* The image the guest boots, where boot_for() finds it. */
	if (strcmp(domain_type(b), "test") != 0 && b->state_dir) {
		if (lv_boot_paths(&bt, b->state_dir, name, soda_server_config_get_image(cfg)) < 0)
			r = failf(error, -ENOMEM, "out of memory");
		else if (stat(bt.image, &ist) == 0)
			disk = true;
	}
	if (r == 0 && disk)
		r = copy_into(dfd, "disk.img", bt.image, &ist, error);
	if (r == 0 && live(st) && (flags & SODA_DUMP_MEMORY)) {
		if (asprintf(&path, "%s/memory.elf", dir) < 0)
			r = failf(error, -ENOMEM, "out of memory");
		else if (virDomainCoreDumpWithFormat(dom, path, VIR_DOMAIN_CORE_DUMP_FORMAT_RAW,
						     VIR_DUMP_MEMORY_ONLY) < 0)
			r = fail(error, "cannot dump the memory of", name);
		memory = r == 0;
	}
	if (r == 0 && !(xml = virDomainGetXMLDesc(dom, 0)))
		r = fail(error, "cannot read the XML of", name);
	if (r == 0 && (r = write_at(dfd, "domain.xml", xml, strlen(xml))) < 0)
		r = failf(error, r, "cannot write the dump's domain.xml: %s", strerror(-r));
	if (r < 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	r = lv_buf_printf(&man, &len, "soda-dump 1\n");
	if (r == 0)
		r = kv_add(&man, &len, "server", name);
	snprintf(num, sizeof(num), "%llu",
		 (unsigned long long)now.tv_sec * 1000000ull + (unsigned long long)now.tv_nsec / 1000);
	if (r == 0)
		r = kv_add(&man, &len, "time-usec", num);
	if (r == 0)
		r = kv_add(&man, &len, "state", soda_state_name(st));
	if (r == 0)
		r = kv_add(&man, &len, "image", soda_server_config_get_image(cfg));
	if (r == 0 && disk) {
		r = kv_add(&man, &len, "image-path", bt.image);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)ist.st_size);
		if (r == 0)
			r = kv_add(&man, &len, "image-size", num);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)ist.st_mtime);
		if (r == 0)
			r = kv_add(&man, &len, "image-mtime", num);
		if (r == 0)
			r = kv_add(&man, &len, "disk", "disk.img");
	}
	if (r == 0 && memory)
		r = kv_add(&man, &len, "memory", "memory.elf");
	if (r < 0)
		r = failf(error, -ENOMEM, "out of memory");
	else if ((r = write_at(dfd, "manifest", man, len)) < 0)
		r = failf(error, r, "cannot write the dump manifest: %s", strerror(-r));
out:
	if (dfd >= 0)
		close(dfd);
	free(man);
	free(xml);
	free(path);
	lv_boot_free(&bt);
	soda_server_config_free(cfg);
	virDomainFree(dom);
	return r;
}

static const char *lv_state_dir(void *priv)
{
	return ((lv_backend *)priv)->state_dir;
}

static const char *lv_netns(void *priv)
{
	return ((lv_backend *)priv)->netns;
}

static const soda_backend_driver lv_driver = {
	.version = SODA_BACKEND_VERSION,
	.scheme = SCHEME,
	.open = lv_open,
	.close = lv_close,
	.get_fd = lv_get_fd,
	.state_dir = lv_state_dir,
	.netns = lv_netns,
	.process = lv_process,
	.define = lv_define,
	.undefine = lv_undefine,
	.lookup = lv_lookup,
	.list = lv_list,
	.status = lv_status,
	.start = lv_start,
	.stop = lv_stop,
	.kill = lv_kill,
	.freeze = lv_freeze,
	.thaw = lv_thaw,
	.set_shares = lv_set_shares,
	.stats = lv_stats,
	.dump = lv_dump,
	.open_console = lv_open_console,
	.blackbox_dir = lv_blackbox_dir,
	/* images, IDS: not yet (-EOPNOTSUPP from the core) */
};

__attribute__((visibility("default"))) int soda_backend_plugin_init(uint32_t version, soda_error **error)
{
	int r;

	if (version != SODA_BACKEND_VERSION)
		return failf(error, -EPROTO, "libsoda-libvirt.so has backend interface %u, not %u",
			     SODA_BACKEND_VERSION, version);
	r = lv_loop_init();
	if (r < 0)
		return failf(error, r, "libvirt event loop: %s", strerror(-r));
	/* libvirt prints errors without a handler, and errors of a failed
	 * connection reach only the global one; libsoda prints nothing. An
	 * application of its own libvirt calls sets its handler after this. */
	virSetErrorFunc(NULL, quiet);
	return soda_backend_register(&lv_driver, error);
}
