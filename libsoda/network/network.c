/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The software switch: networks as named objects of the context, the
 * attachment hooks a guest backend calls for every NIC, policies and
 * counters. The kernel side is the bridge and TAPs (rtnetlink, libmnl, from
 * the host facilities in host/) and the nftables tables, built by the GPL
 * plugin libsoda-nft.so through the table of nft_ops.h, loaded with
 * dlopen().
 *
 * Every change goes the same way, under the networks' lock:
 *   1. read the record (finishing or discarding a change a crash cut short);
 *   2. compute what the kernel should hold before and after (cached);
 *   3. write the new record as "network.pending" (and a new policy file);
 *   4. send the difference in one nftables batch that also moves the
 *      kernel's generation from the old number to the new one, and fails
 *      unless the kernel had the old one;
 *   5. rename the pending record over the record.
 * A crash between 4 and 5 is settled at the next read: the kernel's
 * generation says whether the batch went through. When the kernel does not
 * hold what the record says (tables removed by hand, a crash long ago),
 * the whole ruleset is replaced in one batch instead.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/netlink.h"
#include "host/shape.h"
#include "host/tap.h"
#include "../config.h"
#include "../kv.h"
#include "../private.h"
#include "net.h"

#ifndef SODA_NFT_PLUGIN_DEFAULT
#define SODA_NFT_PLUGIN_DEFAULT "/usr/local/lib/libsoda-nft.so"
#endif
#define PLUGIN_NAME "libsoda-nft.so"
#define RECORD_MAX (64u << 20)

#define OOM(error) su_errorf(error, -ENOMEM, "out of memory")

/* ---- the plugin ---- */

static pthread_once_t plugin_once = PTHREAD_ONCE_INIT;
static const su_nft_ops *plugin;
static char plugin_why[1024];

static bool try_plugin(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	su_nft_plugin_fn fn;
	const su_nft_ops *ops;
	size_t used = strlen(plugin_why);

	if (!h) {
		snprintf(plugin_why + used, sizeof(plugin_why) - used, "%s%s", used ? "; " : "",
			 dlerror());
		return false;
	}
	fn = (su_nft_plugin_fn)dlsym(h, SU_NFT_PLUGIN_SYMBOL);
	ops = fn ? fn(SU_NFT_OPS_VERSION) : NULL;
	if (!ops || ops->version != SU_NFT_OPS_VERSION || !ops->install || !ops->update ||
	    !ops->remove || !ops->generation) {
		snprintf(plugin_why + used, sizeof(plugin_why) - used,
			 "%s%s: not a libsoda nftables plugin of interface version %u",
			 used ? "; " : "", path, SU_NFT_OPS_VERSION);
		dlclose(h);
		return false;
	}
	plugin = ops; /* the handle stays open for the life of the process */
	return true;
}

static void plugin_load(void)
{
	const char *env = secure_getenv("SODA_NFT_PLUGIN");
	Dl_info info;

	if (env && *env) {
		/* An explicit choice is not second-guessed. */
		try_plugin(env);
		return;
	}
	if (dladdr((void *)soda_network_create, &info) && info.dli_fname &&
	    strchr(info.dli_fname, '/')) {
		char *copy = strdup(info.dli_fname), *path;

		if (copy) {
			path = su_strdup_printf("%s/%s", dirname(copy), PLUGIN_NAME);
			free(copy);
			if (path && access(path, R_OK) == 0 && try_plugin(path)) {
				free(path);
				return;
			}
			free(path);
		}
	}
	try_plugin(SODA_NFT_PLUGIN_DEFAULT);
}

static const su_nft_ops *nft_ops(soda_error **error)
{
	pthread_once(&plugin_once, plugin_load);
	if (!plugin)
		su_errorf(error, -EOPNOTSUPP,
			  "the firewall needs the nftables plugin " PLUGIN_NAME
			  " (set SODA_NFT_PLUGIN or install it): %s",
			  plugin_why[0] ? plugin_why : "not found");
	return plugin;
}

static int nft_fail(soda_error **error, const su_nft_err *e, int r)
{
	return su_errorf(error, r, "%s", e->message[0] ? e->message : strerror(-r));
}

/* ---- the module's per-context state ---- */

typedef struct cache_ent {
	char *network;
	uint32_t generation;
	char *policy_file;
	soda_policy *policy;
	su_model model;
	su_compile_cache *cc; /* the compiler's memory for this network */
} cache_ent;

typedef struct netmod {
	soda_context *ctx;
	char *state_dir;
	char *dir; /* <state>/networks */
	const char *netns;
	char prefix[32]; /* table names */
	char alias[32];  /* "soda:<hash>:" */
	int lock_fd;
	int lock_depth;
	int nfnl_fd; /* the nftables socket in the context's namespace, kept open */
	bool reconciled;
	cache_ent *cache;
	size_t n_cache;
} netmod;

static void cache_drop(cache_ent *c)
{
	free(c->network);
	free(c->policy_file);
	soda_policy_free(c->policy);
	su_model_free(&c->model);
	su_compile_cache_free(c->cc);
	memset(c, 0, sizeof(*c));
}

static void netmod_free(netmod *nm)
{
	if (!nm)
		return;
	for (size_t i = 0; i < nm->n_cache; i++)
		cache_drop(&nm->cache[i]);
	free(nm->cache);
	su_close(nm->lock_fd);
	su_close(nm->nfnl_fd);
	free(nm->state_dir);
	free(nm->dir);
	free(nm);
}

static int reconcile(netmod *nm, soda_error **error);

static int nm_lock(netmod *nm, soda_error **error)
{
	if (nm->lock_depth++ > 0)
		return 0;
	while (flock(nm->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			nm->lock_depth--;
			return su_errorf(error, su_neg_errno(), "cannot lock %s/.lock: %s", nm->dir,
					 strerror(errno));
		}
	}
	return 0;
}

static void nm_unlock(netmod *nm)
{
	if (--nm->lock_depth == 0)
		flock(nm->lock_fd, LOCK_UN);
}

/* The module's state for @ctx, made on first use. */
static int netmod_get(soda_context *ctx, netmod **ret, soda_error **error)
{
	netmod *nm = ctx->network;
	const char *sd;
	char *lock;
	int r;

	if (nm) {
		*ret = nm;
		return 0;
	}
	/* Hooks can be called while the backend is still opening (its crash
	 * recovery), before the context can answer questions. */
	if (!ctx->priv)
		return su_errorf(error, -EAGAIN, "the context is not open yet");
	sd = soda_context_get_state_dir(ctx);
	if (!sd)
		return su_errorf(error, -EOPNOTSUPP,
				 "the %s backend keeps no state directory; networks need one",
				 ctx->drv->scheme);
	nm = calloc(1, sizeof(*nm));
	if (!nm)
		return OOM(error);
	nm->ctx = ctx;
	nm->lock_fd = -1;
	nm->nfnl_fd = -1;
	nm->netns = soda_context_get_netns(ctx);
	nm->state_dir = strdup(sd);
	nm->dir = su_strdup_printf("%s/networks", sd);
	if (!nm->state_dir || !nm->dir) {
		netmod_free(nm);
		return OOM(error);
	}
	su_net_table_prefix(sd, nm->prefix);
	snprintf(nm->alias, sizeof(nm->alias), "soda:%016llx:",
		 (unsigned long long)su_net_hash(sd, NULL));
	r = su_mkdir_p(nm->dir, 0700);
	lock = su_strdup_printf("%s/.lock", nm->dir);
	if (r == 0 && !lock)
		r = -ENOMEM;
	if (r == 0) {
		nm->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (nm->lock_fd < 0)
			r = su_neg_errno();
	}
	free(lock);
	if (r < 0) {
		netmod_free(nm);
		return su_errorf(error, r, "cannot use %s: %s", sd, strerror(-r));
	}
	ctx->network = nm;
	*ret = nm;
	return 0;
}

/* netmod_get + lock + first-use reconciliation. */
static int enter(soda_context *ctx, netmod **ret, soda_error **error)
{
	netmod *nm = NULL;
	int r = netmod_get(ctx, &nm, error);

	if (r < 0)
		return r;
	r = nm_lock(nm, error);
	if (r < 0)
		return r;
	if (!nm->reconciled) {
		soda_error *e = NULL;

		nm->reconciled = true;
		if (reconcile(nm, &e) < 0)
			su_log(ctx, SODA_LOG_WARNING, "network recovery: %s", soda_error_message(e));
		soda_error_free(e);
	}
	*ret = nm;
	return 0;
}

static void switch_context_closed(soda_context *ctx)
{
	netmod_free(ctx->network);
	ctx->network = NULL;
}

/* ---- paths and records ---- */

static char *net_path(const netmod *nm, const char *name, const char *file)
{
	return file ? su_strdup_printf("%s/%s/%s", nm->dir, name, file)
		    : su_strdup_printf("%s/%s", nm->dir, name);
}

static int read_record(const char *path, su_netstate *st, soda_error **error)
{
	char *text = NULL;
	size_t len = 0;
	int r = su_read_file(path, RECORD_MAX, &text, &len);

	if (r < 0)
		return r == -ENOENT ? -ENOENT
				    : su_errorf(error, r, "cannot read %s: %s", path, strerror(-r));
	r = su_netstate_parse(st, text, len, path, error);
	free(text);
	return r;
}

static int write_record(const char *path, const su_netstate *st, soda_error **error)
{
	char *text = su_netstate_serialize(st);
	int r;

	if (!text)
		return OOM(error);
	r = su_write_file_atomic(path, text, strlen(text), 0600);
	free(text);
	if (r < 0)
		return su_errorf(error, r, "cannot write %s: %s", path, strerror(-r));
	return 0;
}

/* ---- the kernel side of one network ---- */

typedef struct knet {
	su_nft_net n;
	char comment[128];
} knet;

/* The socket stays open for the context's life: closing an nftables socket
 * waits for the kernel to finish freeing what earlier transactions deleted
 * (about 20 ms here), which would be paid on every change. */
static int knet_open(netmod *nm, const su_netstate *st, knet *k, soda_error **error)
{
	int r;

	memset(k, 0, sizeof(*k));
	k->n.fd = -1;
	if (nm->nfnl_fd < 0) {
		r = su_nfnl_open(nm->netns, &nm->nfnl_fd, error);
		if (r < 0)
			return r;
	}
	k->n.fd = nm->nfnl_fd;
	k->n.table = st->table;
	k->n.bridge = st->bridge;
	k->n.uplink = st->uplink;
	k->n.flood_rate = st->flood_rate;
	k->n.flood_burst = st->flood_burst;
	snprintf(k->comment, sizeof(k->comment), "libsoda network %s (%s)", st->name, nm->alias);
	k->n.comment = k->comment;
	return 0;
}

static void knet_close(knet *k)
{
	k->n.fd = -1; /* the netmod's */
}

/* The kernel's generation: 0 when the tables are missing. */
static int kernel_generation(const su_nft_ops *ops, knet *k, uint32_t *ret, soda_error **error)
{
	su_nft_err e = { 0 };
	int r = ops->generation(&k->n, ret, &e);

	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	return r < 0 ? nft_fail(error, &e, r) : 0;
}

static bool same_netns(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Reads a network's record, settling a change a crash interrupted: the
 * pending record wins if the kernel already holds its generation. */
static int load_state(netmod *nm, const char *name, su_netstate *st, soda_error **error)
{
	char *path = net_path(nm, name, "network"), *pending = net_path(nm, name, "network.pending");
	su_netstate pst;
	int r;

	if (!path || !pending) {
		free(path);
		free(pending);
		return OOM(error);
	}
	r = read_record(pending, &pst, NULL);
	if (r == 0 && !same_netns(pst.netns, nm->netns)) {
		su_netstate_done(&pst);
		r = -EXDEV; /* settled by a process in its namespace */
	}
	if (r == 0) {
		bool keep = false;
		const su_nft_ops *ops = pst.firewall ? nft_ops(NULL) : NULL;
		knet k;
		uint32_t kgen = 0;

		if (ops && knet_open(nm, &pst, &k, NULL) == 0) {
			keep = kernel_generation(ops, &k, &kgen, NULL) == 0 && kgen == pst.generation;
			knet_close(&k);
		}
		if (keep) {
			if (rename(pending, path) == 0)
				su_fsync_dir_of(path);
		} else {
			su_netstate old;

			/* Its policy file is garbage unless the record uses it too. */
			if (pst.policy_file && read_record(path, &old, NULL) == 0) {
				if (!su_streq(old.policy_file, pst.policy_file)) {
					char *pf = net_path(nm, name, pst.policy_file);

					if (pf)
						unlink(pf);
					free(pf);
				}
				su_netstate_done(&old);
			}
			unlink(pending);
		}
		su_log(nm->ctx, SODA_LOG_NOTICE, "network %s: %s an interrupted change (generation %u)",
		       name, keep ? "completed" : "rolled back", pst.generation);
		su_netstate_done(&pst);
	}
	r = read_record(path, st, error);
	if (r == -ENOENT)
		r = su_errorf(error, -ENOENT, "no network named '%s'", name);
	else if (r == 0 && strcmp(st->name, name) != 0) {
		su_netstate_done(st);
		r = su_errorf(error, -EINVAL, "%s names network '%s'", path, st->name);
	} else if (r == 0 && !same_netns(st->netns, nm->netns)) {
		/* Never act on a namespace the network does not live in. */
		r = su_errorf(error, -EXDEV,
			      "network '%s' lives in network namespace %s, and this context uses %s",
			      name, st->netns ? st->netns : "(the initial one)",
			      nm->netns ? nm->netns : "the caller's");
		su_netstate_done(st);
	}
	free(path);
	free(pending);
	return r;
}

static int list_networks(netmod *nm, char ***ret)
{
	DIR *d = opendir(nm->dir);
	struct dirent *de;
	char **names = NULL;

	if (!d)
		return errno == ENOENT ? (*ret = NULL, 0) : su_neg_errno();
	while ((de = readdir(d))) {
		char *rec;
		bool ok;

		if (de->d_name[0] == '.' || su_check_name("network", de->d_name, NULL) < 0)
			continue;
		rec = net_path(nm, de->d_name, "network");
		ok = rec && su_path_exists(rec);
		free(rec);
		if (ok && su_strv_push(&names, de->d_name) < 0) {
			closedir(d);
			su_strv_free(names);
			return -ENOMEM;
		}
	}
	closedir(d);
	su_strv_sort(names);
	*ret = names;
	return 0;
}

/* ---- the model of a record ---- */

static int read_policy(netmod *nm, const su_netstate *st, soda_policy **ret, soda_error **error)
{
	char *path, *text = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	if (!st->policy_file)
		return 0;
	path = net_path(nm, st->name, st->policy_file);
	if (!path)
		return OOM(error);
	r = su_read_file(path, SU_POLICY_TEXT_MAX, &text, &len);
	if (r < 0)
		r = su_errorf(error, r, "cannot read %s: %s", path, strerror(-r));
	else
		r = soda_policy_parse(ret, text, len, path, 0, error);
	free(text);
	free(path);
	return r;
}

static cache_ent *cache_find(netmod *nm, const su_netstate *st)
{
	for (size_t i = 0; i < nm->n_cache; i++) {
		cache_ent *c = &nm->cache[i];

		if (su_streq(c->network, st->name) && c->generation == st->generation &&
		    (c->policy_file ? su_streq(c->policy_file, st->policy_file) : !st->policy_file))
			return c;
	}
	return NULL;
}

static void cache_forget(netmod *nm, const char *name)
{
	for (size_t i = 0; i < nm->n_cache; i++)
		if (su_streq(nm->cache[i].network, name)) {
			cache_drop(&nm->cache[i]);
			nm->cache[i] = nm->cache[--nm->n_cache];
			return;
		}
}

/* The compiler's cache of network @name, taken out of its entry (the
 * caller gives it back through cache_put()); NULL if there is none. */
static su_compile_cache *cache_take_cc(netmod *nm, const char *name)
{
	for (size_t i = 0; i < nm->n_cache; i++)
		if (su_streq(nm->cache[i].network, name)) {
			su_compile_cache *cc = nm->cache[i].cc;

			nm->cache[i].cc = NULL;
			return cc;
		}
	return NULL;
}

/* Takes @policy, @model and @cc (on success and on failure). */
static void cache_put(netmod *nm, const su_netstate *st, soda_policy *policy, su_model *model,
		      su_compile_cache *cc)
{
	cache_ent *c;

	if (!cc)
		cc = cache_take_cc(nm, st->name);
	cache_forget(nm, st->name);
	c = realloc(nm->cache, (nm->n_cache + 1) * sizeof(*c));
	if (!c) {
		soda_policy_free(policy);
		su_model_free(model);
		su_compile_cache_free(cc);
		return;
	}
	nm->cache = c;
	c = &nm->cache[nm->n_cache];
	memset(c, 0, sizeof(*c));
	c->network = strdup(st->name);
	c->policy_file = st->policy_file ? strdup(st->policy_file) : NULL;
	if (!c->network || (st->policy_file && !c->policy_file)) {
		free(c->network);
		free(c->policy_file);
		soda_policy_free(policy);
		su_model_free(model);
		su_compile_cache_free(cc);
		return;
	}
	c->generation = st->generation;
	c->policy = policy;
	c->cc = cc;
	c->model = *model;
	memset(model, 0, sizeof(*model));
	nm->n_cache++;
}

/* The policy and model of @st (borrowed from the cache). */
static int state_model(netmod *nm, const su_netstate *st, const soda_policy **ret_policy,
		       const su_model **ret_model, soda_error **error)
{
	cache_ent *c = cache_find(nm, st);
	soda_policy *p = NULL;
	su_model m;
	int r;

	if (!c) {
		su_compile_cache *cc;

		r = read_policy(nm, st, &p, error);
		if (r < 0)
			return r;
		cc = cache_take_cc(nm, st->name);
		r = su_model_build_cached(&m, &cc, p, st->ports, st->n_ports, error);
		if (r < 0) {
			soda_policy_free(p);
			su_compile_cache_free(cc);
			return r;
		}
		cache_put(nm, st, p, &m, cc);
		c = cache_find(nm, st);
		if (!c)
			return OOM(error);
	}
	if (ret_policy)
		*ret_policy = c->policy;
	if (ret_model)
		*ret_model = &c->model;
	return 0;
}

/* ---- changes ---- */

static bool desync(int r)
{
	/* What a batch computed from a stale picture of the kernel meets. */
	return r == -ENOENT || r == -EEXIST || r == -ENOTEMPTY || r == -EBUSY;
}

/*
 * Moves network @cur to @next. @next_policy is what @next's policy is
 * (taken; NULL: none); with @policy_text (non-NULL) the policy changes and
 * that text becomes the new policy file. SODA_POLICY_CHECK: the kernel
 * checks the change, nothing is kept.
 */
static int transition(netmod *nm, const su_netstate *cur, su_netstate *next,
		      soda_policy *next_policy, const char *policy_text, size_t policy_len,
		      unsigned int flags, soda_error **error)
{
	const su_nft_ops *ops = NULL;
	const su_model *old = NULL;
	char *record = NULL, *pending = NULL, *new_pf = NULL, *old_pf = NULL;
	su_nft_delta delta = { 0 };
	su_model model = { 0 };
	su_nft_err e = { 0 };
	uint32_t kgen = 0;
	knet k = { .n.fd = -1 };
	bool check = flags & SODA_POLICY_CHECK;
	int r;

	next->generation = cur->generation + 1;
	if (policy_text) {
		free(next->policy_file);
		next->policy_file = su_strdup_printf("policy.%u", next->generation);
		if (!next->policy_file) {
			soda_policy_free(next_policy);
			return OOM(error);
		}
	}
	record = net_path(nm, cur->name, "network");
	pending = net_path(nm, cur->name, "network.pending");
	if (!record || !pending) {
		r = OOM(error);
		goto out;
	}
	if (cur->firewall) {
		ops = nft_ops(error);
		if (!ops) {
			r = -EOPNOTSUPP;
			goto out;
		}
		r = knet_open(nm, next, &k, error);
		if (r == 0)
			r = kernel_generation(ops, &k, &kgen, error);
		if (r == 0)
			r = state_model(nm, cur, NULL, &old, error);
		if (r == 0) {
			/* Borrowed from the entry of @cur, which stays cached. */
			cache_ent *ce = cache_find(nm, cur);

			r = su_model_build_cached(&model, ce ? &ce->cc : NULL, next_policy,
						  next->ports, next->n_ports, error);
		}
		if (r < 0)
			goto out;
		if (kgen && kgen == cur->generation) {
			if (su_model_diff(old, &model, &delta) < 0) {
				r = OOM(error);
				goto out;
			}
			delta.elems = model.elems;
			delta.n_elems = model.n_elems;
			delta.generation_old = kgen;
			delta.generation_new = next->generation;
		}
	}
	if (check) {
		if (!ops)
			r = 0;
		else if (kgen && kgen == cur->generation)
			r = ops->update(&k.n, &delta, SU_NFT_CHECK, &e);
		else
			r = ops->install(&k.n,
					 &(su_nft_model){ model.ports, model.n_ports, model.elems,
							  model.n_elems, next->generation },
					 SU_NFT_CHECK, &e);
		if (r < 0)
			r = nft_fail(error, &e, r);
		goto out;
	}
	if (policy_text) {
		new_pf = net_path(nm, cur->name, next->policy_file);
		if (!new_pf) {
			r = OOM(error);
			goto out;
		}
		r = su_write_file_atomic(new_pf, policy_text, policy_len, 0600);
		if (r < 0) {
			r = su_errorf(error, r, "cannot write %s: %s", new_pf, strerror(-r));
			goto out;
		}
	}
	r = write_record(pending, next, error);
	if (r < 0)
		goto fail;
	if (ops) {
		if (kgen && kgen == cur->generation) {
			r = ops->update(&k.n, &delta, 0, &e);
			if (r < 0 && desync(r)) {
				su_log(nm->ctx, SODA_LOG_WARNING,
				       "network %s: the kernel's tables differ from the record (%s); "
				       "replacing them",
				       cur->name, e.message);
				memset(&e, 0, sizeof(e));
				r = 1;
			}
		} else {
			if (kgen)
				su_log(nm->ctx, SODA_LOG_WARNING,
				       "network %s: the kernel holds generation %u, the record %u; "
				       "replacing the tables",
				       cur->name, kgen, cur->generation);
			r = 1;
		}
		if (r == 1)
			r = ops->install(&k.n,
					 &(su_nft_model){ model.ports, model.n_ports, model.elems,
							  model.n_elems, next->generation },
					 0, &e);
		if (r < 0) {
			r = nft_fail(error, &e, r);
			goto fail;
		}
	}
	if (rename(pending, record) < 0) {
		/* The kernel moved on; the next reader settles it (the pending
		 * record matches the kernel's generation). */
		r = su_errorf(error, su_neg_errno(), "cannot rename %s: %s", pending, strerror(errno));
		cache_forget(nm, cur->name);
		goto out;
	}
	su_fsync_dir_of(record);
	if (cur->policy_file && !su_streq(cur->policy_file, next->policy_file)) {
		old_pf = net_path(nm, cur->name, cur->policy_file);
		if (old_pf)
			unlink(old_pf);
	}
	if (ops) {
		cache_put(nm, next, next_policy, &model, NULL);
		next_policy = NULL;
	}
	r = 0;
	goto out;
fail:
	unlink(pending);
	if (new_pf)
		unlink(new_pf);
out:
	knet_close(&k);
	su_delta_free(&delta);
	su_model_free(&model);
	soda_policy_free(next_policy);
	free(record);
	free(pending);
	free(new_pf);
	free(old_pf);
	return r;
}

/* A reference to @cur's policy for a change that keeps it. */
static int keep_policy(netmod *nm, const su_netstate *cur, soda_policy **ret, soda_error **error)
{
	const soda_policy *p = NULL;
	int r;

	*ret = NULL;
	if (!cur->firewall || !cur->policy_file)
		return 0;
	r = state_model(nm, cur, &p, NULL, error);
	if (r < 0 || !p)
		return r;
	*ret = su_policy_ref((soda_policy *)p);
	return 0;
}

/* ---- links ---- */

static void port_alias(const netmod *nm, const char *server, uint32_t nic, char out[256])
{
	snprintf(out, 256, "%sport:%s:%u", nm->alias, server, nic);
}

static void bridge_alias(const netmod *nm, const char *network, char out[256])
{
	snprintf(out, 256, "%sbridge:%s", nm->alias, network);
}

/* Removes a TAP of ours (and shaping left on it). */
static int tap_remove(netmod *nm, su_nl *nl, const char *ifname, soda_error **error)
{
	su_shape_detach(nm->netns, ifname, NULL);
	return su_nl_link_del(nl, ifname, error);
}

static int uplink_check(su_nl *nl, const char *uplink, su_link *ret, soda_error **error)
{
	su_addr *addrs = NULL;
	size_t n = 0;
	int r = su_nl_link_get(nl, uplink, ret);

	if (r == -ENODEV)
		return su_errorf(error, -ENODEV, "uplink %s does not exist in the network namespace",
				 uplink);
	if (r < 0)
		return su_errorf(error, r, "uplink %s: %s", uplink, strerror(-r));
	if (ret->master)
		return su_errorf(error, -EBUSY, "uplink %s is already a port of another device",
				 uplink);
	if (strcmp(ret->kind, "bridge") == 0)
		return su_errorf(error, -EINVAL, "uplink %s is a bridge", uplink);
	r = su_nl_addr_list(nl, ret->index, &addrs, &n);
	if (r < 0)
		return su_errorf(error, r, "uplink %s: %s", uplink, strerror(-r));
	for (size_t i = 0; i < n; i++) {
		char text[INET6_ADDRSTRLEN];
		bool ll = addrs[i].family == AF_INET6 && addrs[i].addr[0] == 0xfe &&
			  (addrs[i].addr[1] & 0xc0) == 0x80;

		if (ll)
			continue;
		inet_ntop(addrs[i].family, addrs[i].addr, text, sizeof(text));
		free(addrs);
		return su_errorf(error, -EBUSY,
				 "uplink %s has address %s; the host must have no address on the "
				 "switch",
				 uplink, text);
	}
	free(addrs);
	return 0;
}

static void uplink_strip_link_local(su_nl *nl, int ifindex)
{
	su_addr *addrs = NULL;
	size_t n = 0;

	if (su_nl_addr_list(nl, ifindex, &addrs, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		su_nl_addr_del(nl, ifindex, &addrs[i], NULL);
	free(addrs);
}

/* Makes sure the bridge (and the uplink on it) exist. */
static int bridge_ensure(netmod *nm, su_nl *nl, const su_netstate *st, soda_error **error)
{
	char alias[256];
	su_link br, up;
	int r;

	bridge_alias(nm, st->name, alias);
	r = su_nl_link_get(nl, st->bridge, &br);
	if (r == -ENODEV) {
		r = su_nl_bridge_create(nl, st->bridge, alias, error);
		if (r == 0)
			r = su_nl_link_get(nl, st->bridge, &br);
	}
	if (r < 0)
		return su_errorf(error, r, "bridge %s: %s", st->bridge, strerror(-r));
	if (strcmp(br.alias, alias) != 0)
		return su_errorf(error, -EEXIST, "interface %s exists and is not network %s's bridge",
				 st->bridge, st->name);
	if (st->uplink && su_nl_link_get(nl, st->uplink, &up) == 0 && up.master != br.index) {
		uplink_strip_link_local(nl, up.index);
		r = su_nl_port_set(nl, up.index, br.index, NULL, error);
	}
	return r;
}

/* ---- recovery ---- */

struct tables {
	char **names;
};

static int table_seen(const char *name, void *data)
{
	struct tables *t = data;

	for (size_t i = 0; t->names && t->names[i]; i++)
		if (strcmp(t->names[i], name) == 0)
			return 0;
	return su_strv_push(&t->names, name);
}

/* Under the lock: removes bridges, TAPs and tables of this context that no
 * record accounts for (a crash between making and recording them), and
 * brings back what records have and the kernel lacks. */
static int reconcile(netmod *nm, soda_error **error)
{
	char **names = NULL;
	su_netstate *states = NULL;
	size_t n = 0, n_links = 0, plen = strlen(nm->alias);
	su_link *links = NULL;
	su_nl *nl = NULL;
	const su_nft_ops *ops = NULL;
	int r;

	r = list_networks(nm, &names);
	if (r < 0)
		return su_errorf(error, r, "cannot list %s: %s", nm->dir, strerror(-r));
	n = su_strv_len(names);
	states = calloc(n + 1, sizeof(*states));
	if (!states) {
		su_strv_free(names);
		return OOM(error);
	}
	for (size_t i = 0; i < n; i++)
		if (load_state(nm, names[i], &states[i], NULL) < 0)
			memset(&states[i], 0, sizeof(states[i]));
	r = su_nl_open(&nl, nm->netns, error);
	if (r == 0)
		r = su_nl_link_list(nl, &links, &n_links);
	if (r < 0) {
		r = su_errorf(error, r, "cannot list interfaces: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < n_links; i++) {
		const char *a = links[i].alias, *what;
		bool known = false;

		if (strncmp(a, nm->alias, plen) != 0)
			continue;
		what = a + plen;
		for (size_t s = 0; s < n && !known; s++) {
			if (!states[s].name)
				continue;
			if (strncmp(what, "bridge:", 7) == 0)
				known = su_streq(states[s].name, what + 7) &&
					su_streq(states[s].bridge, links[i].name);
			else
				for (size_t p = 0; p < states[s].n_ports && !known; p++)
					known = su_streq(states[s].ports[p].ifname, links[i].name);
		}
		if (known)
			continue;
		su_log(nm->ctx, SODA_LOG_NOTICE, "removing %s (%s), left over by a crash",
		       links[i].name, what);
		if (strncmp(what, "port:", 5) == 0)
			tap_remove(nm, nl, links[i].name, NULL);
		else
			su_nl_link_del(nl, links[i].name, NULL);
	}
	ops = nft_ops(NULL);
	if (ops && ops->list_tables) {
		struct tables t = { NULL };
		su_nft_err e = { 0 };
		int fd;

		if (su_nfnl_open(nm->netns, &fd, NULL) == 0) {
			ops->list_tables(fd, nm->prefix, table_seen, &t, &e);
			for (size_t i = 0; t.names && t.names[i]; i++) {
				bool known = false;

				for (size_t s = 0; s < n && !known; s++)
					known = states[s].name && states[s].firewall &&
						su_streq(states[s].table, t.names[i]);
				if (!known) {
					su_nft_net net = { .fd = fd, .table = t.names[i], .bridge = "" };

					su_log(nm->ctx, SODA_LOG_NOTICE,
					       "removing nftables table %s, left over by a crash",
					       t.names[i]);
					memset(&e, 0, sizeof(e));
					ops->remove(&net, &e);
				}
			}
			su_strv_free(t.names);
			close(fd);
		}
	}
	/* What records have and the kernel lost (the namespace was made
	 * anew, tables removed by hand): bridges and rulesets come back. */
	for (size_t s = 0; s < n; s++) {
		soda_error *e = NULL;

		if (!states[s].name)
			continue;
		if (bridge_ensure(nm, nl, &states[s], &e) < 0)
			su_log(nm->ctx, SODA_LOG_WARNING, "network %s: %s", states[s].name,
			       soda_error_message(e));
		soda_error_free(e);
		e = NULL;
		if (states[s].firewall && ops) {
			knet k;
			uint32_t kgen = 0;

			if (knet_open(nm, &states[s], &k, NULL) < 0)
				continue;
			if (kernel_generation(ops, &k, &kgen, NULL) == 0 &&
			    kgen != states[s].generation) {
				const su_model *m = NULL;
				su_nft_err ne = { 0 };

				su_log(nm->ctx, SODA_LOG_NOTICE,
				       "network %s: reinstalling its firewall (kernel generation %u, "
				       "record %u)",
				       states[s].name, kgen, states[s].generation);
				if (state_model(nm, &states[s], NULL, &m, &e) == 0 &&
				    ops->install(&k.n,
						 &(su_nft_model){ m->ports, m->n_ports, m->elems,
								  m->n_elems, states[s].generation },
						 0, &ne) < 0)
					su_log(nm->ctx, SODA_LOG_WARNING, "network %s: %s",
					       states[s].name, ne.message);
				soda_error_free(e);
			}
			knet_close(&k);
		}
	}
	/* Policy files no record refers to. */
	for (size_t s = 0; s < n; s++) {
		char *dir = states[s].name ? net_path(nm, states[s].name, NULL) : NULL;
		DIR *d = dir ? opendir(dir) : NULL;
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char *p;

			if (strncmp(de->d_name, "policy.", 7) != 0 ||
			    su_streq(de->d_name, states[s].policy_file))
				continue;
			p = net_path(nm, states[s].name, de->d_name);
			if (p)
				unlink(p);
			free(p);
		}
		if (d)
			closedir(d);
		free(dir);
	}
	r = 0;
out:
	for (size_t i = 0; i < n; i++)
		su_netstate_done(&states[i]);
	free(states);
	su_strv_free(names);
	free(links);
	su_nl_close(nl);
	return r;
}

/* ---- attachment hooks ---- */

static bool same_host(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int fx, fy;

	return su_parse_cidr(a, &fx, x, NULL, NULL, NULL) == 0 &&
	       su_parse_cidr(b, &fy, y, NULL, NULL, NULL) == 0 && fx == fy &&
	       memcmp(x, y, fx == AF_INET ? 4 : 16) == 0;
}

static int sw_attach(void *userdata, const char *server, uint32_t index, const char *network,
		     const char *mac, uint32_t uid, char ret_ifname[16], soda_error **error)
{
	soda_context *ctx = userdata;
	soda_server_config *cfg = NULL;
	su_netstate cur = { 0 }, next = { 0 };
	soda_policy *policy = NULL;
	su_port port = { 0 }, *np;
	netmod *nm = NULL;
	su_nl *nl = NULL;
	su_link br, l;
	char ifname[16], alias[256];
	bool made = false;
	int r;

	r = enter(ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, network, &cur, error);
	if (r == -ENOENT) {
		soda_error_free(error ? *error : NULL);
		if (error)
			*error = NULL;
		r = su_errorf(error, -ENOENT,
			      "server '%s' NIC %u is on network '%s', which does not exist (create "
			      "it with soda_network_create() or 'sodactl network create')",
			      server, index, network);
	}
	if (r < 0)
		goto out;
	r = ctx->drv->lookup(ctx->priv, server, &cfg, error);
	if (r < 0)
		goto out;
	if (index >= cfg->n_nics || !su_streq(cfg->nics[index].network, network)) {
		r = su_errorf(error, -EINVAL, "server '%s' has no NIC %u on network '%s'", server,
			      index, network);
		goto out;
	}
	su_net_tap_name(nm->state_dir, server, index, ifname);
	port.ifname = strdup(ifname);
	port.server = strdup(server);
	port.nic = index;
	port.mac = strdup(mac ? mac : cfg->nics[index].mac);
	port.addresses = cfg->nics[index].addresses ? su_strv_copy(cfg->nics[index].addresses)
						    : NULL;
	port.labels = cfg->labels ? su_strv_copy(cfg->labels) : NULL;
	if (!port.ifname || !port.server || !port.mac ||
	    (cfg->nics[index].addresses && !port.addresses) || (cfg->labels && !port.labels)) {
		r = OOM(error);
		goto out;
	}
	/* Nobody else on the switch may have this MAC or these addresses. */
	for (size_t i = 0; i < cur.n_ports; i++) {
		const su_port *o = &cur.ports[i];

		if (su_streq(o->ifname, ifname))
			continue;
		if (strcasecmp(o->mac, port.mac) == 0) {
			r = su_errorf(error, -EADDRINUSE,
				      "MAC %s of server '%s' is in use on network '%s' by server '%s'",
				      port.mac, server, network, o->server);
			goto out;
		}
		for (size_t a = 0; port.addresses && port.addresses[a]; a++)
			for (size_t b = 0; o->addresses && o->addresses[b]; b++)
				if (same_host(port.addresses[a], o->addresses[b])) {
					r = su_errorf(error, -EADDRINUSE,
						      "address %s of server '%s' is in use on network "
						      "'%s' by server '%s'",
						      port.addresses[a], server, network, o->server);
					goto out;
				}
	}
	r = su_nl_open(&nl, nm->netns, error);
	if (r < 0)
		goto out;
	r = su_nl_link_get(nl, cur.bridge, &br);
	if (r < 0) {
		r = su_errorf(error, r, "the bridge %s of network '%s' is missing: %s", cur.bridge,
			      network, strerror(-r));
		goto out;
	}
	port_alias(nm, server, index, alias);
	if (su_nl_link_get(nl, ifname, &l) == 0) {
		if (strcmp(l.alias, alias) != 0) {
			r = su_errorf(error, -EEXIST, "interface %s exists and is not ours", ifname);
			goto out;
		}
		/* Left by a run that ended without its detach. */
		r = tap_remove(nm, nl, ifname, error);
		if (r < 0)
			goto out;
	}
	r = su_tap_create(nm->netns, ifname, (uid_t)uid, (gid_t)uid, error);
	if (r < 0)
		goto out;
	made = true;
	r = su_nl_link_get(nl, ifname, &l);
	if (r == 0)
		r = su_nl_port_set(nl, l.index, br.index, alias, error);
	else
		r = su_errorf(error, r, "TAP %s vanished", ifname);
	if (r == 0) {
		uint8_t mac_bytes[6];

		r = su_mac_parse(port.mac, mac_bytes);
		if (r < 0)
			r = su_errorf(error, r, "MAC '%s' of server '%s' is not a MAC", port.mac,
				      server);
		else
			r = su_nl_port_server(nl, l.index, mac_bytes, error);
	}
	if (r < 0)
		goto out;
	r = su_netstate_copy(&next, &cur);
	if (r < 0) {
		r = OOM(error);
		goto out;
	}
	/* Replace a stale entry of the same port; else add one. */
	np = NULL;
	for (size_t i = 0; i < next.n_ports; i++)
		if (su_streq(next.ports[i].ifname, ifname)) {
			su_port_done(&next.ports[i]);
			np = &next.ports[i];
		}
	if (!np) {
		np = realloc(next.ports, (next.n_ports + 1) * sizeof(*np));
		if (!np) {
			r = OOM(error);
			goto out;
		}
		next.ports = np;
		np = &next.ports[next.n_ports++];
	}
	*np = port;
	memset(&port, 0, sizeof(port));
	r = keep_policy(nm, &cur, &policy, error);
	if (r == 0) {
		r = transition(nm, &cur, &next, policy, NULL, 0, 0, error);
		policy = NULL;
	}
	if (r < 0)
		goto out;
	snprintf(ret_ifname, 16, "%s", ifname);
	su_log(ctx, SODA_LOG_INFO, "network %s: server %s NIC %u on port %s", network, server,
	       index, ifname);
	made = false;
out:
	if (made && nl)
		tap_remove(nm, nl, ifname, NULL);
	su_nl_close(nl);
	su_port_done(&port);
	su_netstate_done(&cur);
	su_netstate_done(&next);
	soda_server_config_free(cfg);
	nm_unlock(nm);
	return r;
}

static int sw_detach(void *userdata, const char *server, uint32_t index, const char *ifname,
		     soda_error **error)
{
	soda_context *ctx = userdata;
	char **names = NULL, alias[256];
	netmod *nm = NULL;
	su_nl *nl = NULL;
	su_link l;
	int r;

	r = enter(ctx, &nm, error);
	if (r < 0)
		return r;
	r = list_networks(nm, &names);
	if (r < 0) {
		r = su_errorf(error, r, "cannot list networks: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; names && names[i]; i++) {
		su_netstate cur, next;
		soda_policy *policy = NULL;
		size_t j, k;

		if (load_state(nm, names[i], &cur, NULL) < 0)
			continue;
		for (j = 0; j < cur.n_ports && !su_streq(cur.ports[j].ifname, ifname); j++)
			;
		if (j == cur.n_ports) {
			su_netstate_done(&cur);
			continue;
		}
		r = su_netstate_copy(&next, &cur);
		if (r < 0) {
			su_netstate_done(&cur);
			r = OOM(error);
			goto out;
		}
		su_port_done(&next.ports[j]);
		for (k = j; k + 1 < next.n_ports; k++)
			next.ports[k] = next.ports[k + 1];
		next.n_ports--;
		r = keep_policy(nm, &cur, &policy, error);
		if (r == 0)
			r = transition(nm, &cur, &next, policy, NULL, 0, 0, error);
		su_netstate_done(&cur);
		su_netstate_done(&next);
		if (r < 0)
			goto out;
		su_log(ctx, SODA_LOG_INFO, "network %s: port %s of server %s NIC %u removed",
		       names[i], ifname, server, index);
		break;
	}
	r = su_nl_open(&nl, nm->netns, error);
	if (r < 0)
		goto out;
	port_alias(nm, server, index, alias);
	if (su_nl_link_get(nl, ifname, &l) == 0 && strcmp(l.alias, alias) == 0)
		r = tap_remove(nm, nl, ifname, error);
out:
	su_nl_close(nl);
	su_strv_free(names);
	nm_unlock(nm);
	return r;
}

static const soda_netdev_ops switch_ops = {
	.version = SODA_BACKEND_VERSION,
	.attach = sw_attach,
	.detach = sw_detach,
};

static const soda_netdev_ops *switch_netdev_ops(soda_context *ctx, void **ret_userdata)
{
	if (ret_userdata)
		*ret_userdata = ctx;
	return &switch_ops;
}

/* The switch's hooks into the core, listed in su_features by the build
 * (module.cmake, cmake/features.cmake). */
const struct su_feature su_network_feature = {
	.name = "network",
	.netdev_ops = switch_netdev_ops,
	.context_closed = switch_context_closed,
};

/* ---- networks ---- */

struct soda_network {
	unsigned refs;
	soda_context *ctx;
	char *name;
};

static int network_new(soda_network **ret, soda_context *ctx, const char *name,
		       soda_error **error)
{
	soda_network *net = calloc(1, sizeof(*net));

	if (!net || !(net->name = strdup(name))) {
		free(net);
		return OOM(error);
	}
	net->refs = 1;
	net->ctx = soda_context_ref(ctx);
	*ret = net;
	return 0;
}

SODA_EXPORT int soda_network_options_init(soda_network_options *opts, uint32_t version)
{
	if (!opts || version != SODA_NETWORK_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

SODA_EXPORT soda_network *soda_network_ref(soda_network *net)
{
	if (net)
		net->refs++;
	return net;
}

SODA_EXPORT soda_network *soda_network_unref(soda_network *net)
{
	if (!net || --net->refs > 0)
		return NULL;
	soda_context_unref(net->ctx);
	free(net->name);
	free(net);
	return NULL;
}

SODA_EXPORT const char *soda_network_get_name(const soda_network *net)
{
	return net ? net->name : NULL;
}

SODA_EXPORT soda_context *soda_network_get_context(const soda_network *net)
{
	return net ? net->ctx : NULL;
}

SODA_EXPORT int soda_network_create(soda_network **ret, soda_context *ctx, const char *name,
				    const soda_network_options *opts, unsigned int flags,
				    soda_error **error)
{
	soda_network_options defaults = SODA_NETWORK_OPTIONS_INIT;
	const su_nft_ops *ops = NULL;
	su_netstate st = { 0 };
	char bridge[16], alias[256], *dir = NULL, *record = NULL;
	su_nl *nl = NULL;
	su_link l, up;
	netmod *nm = NULL;
	knet k = { .n.fd = -1 };
	bool made_bridge = false, made_tables = false, enslaved = false;
	int r;

	if (!ctx)
		return su_errorf(error, -EINVAL, "ctx is NULL");
	if (flags & ~SODA_NETWORK_NO_FIREWALL)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!opts)
		opts = &defaults;
	if (opts->version != SODA_NETWORK_OPTIONS_VERSION)
		return su_errorf(error, -EINVAL, "network options version %u is unknown (expected %u)",
				 opts->version, SODA_NETWORK_OPTIONS_VERSION);
	r = su_check_name("network", name, error);
	if (r < 0)
		return r;
	if (opts->uplink && (!*opts->uplink || strlen(opts->uplink) >= 16 ||
			     strpbrk(opts->uplink, "/: \t\n")))
		return su_errorf(error, -EINVAL, "'%s' is not an interface name", opts->uplink);
	if (!(flags & SODA_NETWORK_NO_FIREWALL)) {
		ops = nft_ops(error);
		if (!ops)
			return -EOPNOTSUPP;
	}
	r = enter(ctx, &nm, error);
	if (r < 0)
		return r;
	dir = net_path(nm, name, NULL);
	record = net_path(nm, name, "network");
	if (!dir || !record) {
		r = OOM(error);
		goto out;
	}
	if (su_path_exists(record)) {
		r = su_errorf(error, -EEXIST, "network '%s' exists", name);
		goto out;
	}
	su_net_bridge_name(nm->state_dir, name, bridge);
	bridge_alias(nm, name, alias);
	st.name = strdup(name);
	st.bridge = strdup(bridge);
	st.table = su_strdup_printf("%s%s", nm->prefix, name);
	st.uplink = opts->uplink ? strdup(opts->uplink) : NULL;
	st.netns = nm->netns ? strdup(nm->netns) : NULL;
	st.firewall = ops != NULL;
	st.generation = 1;
	st.flood_rate = SU_FLOOD_RATE_DEFAULT;
	st.flood_burst = SU_FLOOD_BURST_DEFAULT;
	if (!st.name || !st.bridge || !st.table || (opts->uplink && !st.uplink) ||
	    (nm->netns && !st.netns)) {
		r = OOM(error);
		goto out;
	}
	r = su_nl_open(&nl, nm->netns, error);
	if (r < 0)
		goto out;
	if (su_nl_link_get(nl, bridge, &l) == 0) {
		if (strcmp(l.alias, alias) != 0) {
			r = su_errorf(error, -EEXIST, "interface %s exists and is not ours", bridge);
			goto out;
		}
		su_nl_link_del(nl, bridge, NULL); /* ours, from a crash */
	}
	if (st.uplink) {
		r = uplink_check(nl, st.uplink, &up, error);
		if (r < 0)
			goto out;
	}
	r = su_nl_bridge_create(nl, bridge, alias, error);
	if (r < 0)
		goto out;
	made_bridge = true;
	r = su_nl_link_get(nl, bridge, &l);
	if (r < 0) {
		r = su_errorf(error, r, "bridge %s vanished", bridge);
		goto out;
	}
	if (ops) {
		su_nft_err e = { 0 };

		r = knet_open(nm, &st, &k, error);
		if (r < 0)
			goto out;
		r = ops->install(&k.n, &(su_nft_model){ NULL, 0, NULL, 0, st.generation }, 0, &e);
		if (r < 0) {
			r = nft_fail(error, &e, r);
			goto out;
		}
		made_tables = true;
	}
	/* The uplink joins last: until the tables are in, the switch is not
	 * safe to connect to the outside. */
	if (st.uplink) {
		uplink_strip_link_local(nl, up.index);
		r = su_nl_port_set(nl, up.index, l.index, NULL, error);
		if (r < 0)
			goto out;
		enslaved = true;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = su_errorf(error, su_neg_errno(), "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	r = write_record(record, &st, error);
	if (r < 0)
		goto out;
	if (ret) {
		r = network_new(ret, ctx, name, error);
		if (r < 0)
			goto out;
	}
	su_log(ctx, SODA_LOG_INFO, "network %s: bridge %s%s%s, %s", name, bridge,
	       st.uplink ? ", uplink " : "", st.uplink ? st.uplink : "",
	       ops ? "firewall on (default deny)" : "NO firewall");
	r = 0;
	made_bridge = made_tables = enslaved = false;
out:
	if (made_tables && ops) {
		su_nft_err e = { 0 };

		ops->remove(&k.n, &e);
	}
	if (enslaved)
		su_nl_port_set(nl, up.index, 0, NULL, NULL);
	if (made_bridge)
		su_nl_link_del(nl, bridge, NULL);
	if (r < 0 && dir && !su_path_exists(record))
		rmdir(dir);
	knet_close(&k);
	su_nl_close(nl);
	su_netstate_done(&st);
	free(dir);
	free(record);
	nm_unlock(nm);
	return r;
}

SODA_EXPORT int soda_network_lookup(soda_network **ret, soda_context *ctx, const char *name,
				    soda_error **error)
{
	su_netstate st;
	netmod *nm = NULL;
	int r;

	if (!ret || !ctx)
		return su_errorf(error, -EINVAL, "ret or ctx is NULL");
	r = su_check_name("network", name, error);
	if (r < 0)
		return r;
	r = enter(ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, name, &st, error);
	nm_unlock(nm);
	if (r < 0)
		return r;
	su_netstate_done(&st);
	return network_new(ret, ctx, name, error);
}

SODA_EXPORT int soda_context_list_networks(char ***ret_names, size_t *ret_count,
					   soda_context *ctx, unsigned int flags,
					   soda_error **error)
{
	char **names = NULL;
	netmod *nm = NULL;
	int r;

	if (!ret_names || !ctx)
		return su_errorf(error, -EINVAL, "ret_names or ctx is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	r = enter(ctx, &nm, error);
	if (r < 0)
		return r;
	r = list_networks(nm, &names);
	nm_unlock(nm);
	if (r < 0)
		return su_errorf(error, r, "cannot list networks: %s", strerror(-r));
	if (!names && !(names = calloc(1, sizeof(char *))))
		return OOM(error);
	if (ret_count)
		*ret_count = su_strv_len(names);
	*ret_names = names;
	return 0;
}

SODA_EXPORT int soda_network_destroy(soda_network *net, unsigned int flags, soda_error **error)
{
	const su_nft_ops *ops = NULL;
	su_netstate st;
	su_nl *nl = NULL;
	su_link up;
	netmod *nm = NULL;
	char *dir = NULL;
	int r;

	if (!net)
		return su_errorf(error, -EINVAL, "net is NULL");
	if (flags & ~SODA_NETWORK_DESTROY_FORCE)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	r = enter(net->ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, net->name, &st, error);
	if (r < 0)
		goto out_unlock;
	if (st.n_ports && !(flags & SODA_NETWORK_DESTROY_FORCE)) {
		r = su_errorf(error, -EBUSY, "network '%s' has %zu port%s (server %s%s); stop them "
					     "first or force",
			      net->name, st.n_ports, st.n_ports == 1 ? "" : "s", st.ports[0].server,
			      st.n_ports > 1 ? ", ..." : "");
		goto out;
	}
	if (st.firewall) {
		ops = nft_ops(error);
		if (!ops) {
			r = -EOPNOTSUPP;
			goto out;
		}
	}
	r = su_nl_open(&nl, nm->netns, error);
	if (r < 0)
		goto out;
	/* The switch goes dark first: the uplink leaves, then the ports. */
	if (st.uplink && su_nl_link_get(nl, st.uplink, &up) == 0)
		su_nl_port_set(nl, up.index, 0, NULL, NULL);
	for (size_t i = 0; i < st.n_ports; i++)
		tap_remove(nm, nl, st.ports[i].ifname, NULL);
	if (ops) {
		knet k;
		su_nft_err e = { 0 };

		r = knet_open(nm, &st, &k, error);
		if (r == 0) {
			r = ops->remove(&k.n, &e);
			if (r < 0)
				r = nft_fail(error, &e, r);
			knet_close(&k);
		}
		if (r < 0)
			goto out;
	}
	r = su_nl_link_del(nl, st.bridge, error);
	if (r < 0)
		goto out;
	dir = net_path(nm, net->name, NULL);
	if (!dir) {
		r = OOM(error);
		goto out;
	}
	/* The record goes first, so a crash cannot leave a half directory
	 * that still looks like a network. */
	{
		char *record = net_path(nm, net->name, "network");

		if (record)
			unlink(record);
		free(record);
	}
	su_rm_rf(dir);
	cache_forget(nm, net->name);
	su_log(net->ctx, SODA_LOG_INFO, "network %s destroyed", net->name);
out:
	free(dir);
	su_nl_close(nl);
	su_netstate_done(&st);
out_unlock:
	nm_unlock(nm);
	return r;
}

/* ---- the broadcast limit ---- */

SODA_EXPORT int soda_network_set_flood_limit(soda_network *net, uint32_t rate, uint32_t burst,
					     unsigned int flags, soda_error **error)
{
	const su_nft_ops *ops;
	su_netstate st = { 0 };
	su_nft_port *ports = NULL;
	su_nft_err e = { 0 };
	uint32_t old_rate, old_burst;
	netmod *nm = NULL;
	knet k = { .n.fd = -1 };
	char *record = NULL;
	int r;

	if (!net)
		return su_errorf(error, -EINVAL, "net is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (rate > SU_FLOOD_MAX || burst > SU_FLOOD_MAX)
		return su_errorf(error, -EINVAL, "broadcast limit %u/s burst %u: at most %u", rate,
				 burst, SU_FLOOD_MAX);
	if (rate && !burst)
		return su_errorf(error, -EINVAL, "broadcast limit %u/s: the burst must be at least 1",
				 rate);
	if (!rate)
		burst = 0;
	ops = nft_ops(error);
	if (!ops)
		return -EOPNOTSUPP;
	if (!ops->flood)
		return su_errorf(error, -EOPNOTSUPP, "the nftables plugin cannot set the limit");
	r = enter(net->ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, net->name, &st, error);
	if (r < 0)
		goto out;
	if (!st.firewall) {
		r = su_errorf(error, -EOPNOTSUPP, "network '%s' was made without a firewall",
			      net->name);
		goto out;
	}
	record = net_path(nm, net->name, "network");
	ports = calloc(st.n_ports + 1, sizeof(*ports));
	if (!record || !ports) {
		r = OOM(error);
		goto out;
	}
	for (size_t i = 0; i < st.n_ports; i++) {
		r = su_port_to_nft(&st.ports[i], &ports[i]);
		if (r < 0) {
			r = su_errorf(error, r, "port %s cannot be described", st.ports[i].ifname);
			goto out;
		}
	}
	/* The record first, as ports that join later take their limit from
	 * it; if the kernel refuses, the record is put back. The change is
	 * one batch: each port meets the old limit or the new one. */
	old_rate = st.flood_rate;
	old_burst = st.flood_burst;
	st.flood_rate = rate;
	st.flood_burst = burst;
	r = write_record(record, &st, error);
	if (r < 0)
		goto out;
	r = knet_open(nm, &st, &k, error);
	if (r == 0) {
		r = ops->flood(&k.n, ports, st.n_ports, &e);
		if (r < 0)
			r = nft_fail(error, &e, r);
	}
	if (r < 0) {
		st.flood_rate = old_rate;
		st.flood_burst = old_burst;
		write_record(record, &st, NULL);
		goto out;
	}
	if (rate)
		su_log(net->ctx, SODA_LOG_INFO, "network %s: broadcast limit %u/s burst %u per port",
		       net->name, rate, burst);
	else
		su_log(net->ctx, SODA_LOG_WARNING, "network %s: broadcast limit off", net->name);
out:
	knet_close(&k);
	free(ports);
	free(record);
	su_netstate_done(&st);
	nm_unlock(nm);
	return r;
}

/* ---- info ---- */

struct soda_network_info {
	su_netstate st;
	size_t n_rules;
};

SODA_EXPORT int soda_network_get_info(soda_network_info **ret, soda_network *net,
				      unsigned int flags, soda_error **error)
{
	soda_network_info *info;
	const soda_policy *p = NULL;
	netmod *nm = NULL;
	int r;

	if (!ret || !net)
		return su_errorf(error, -EINVAL, "ret or net is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	info = calloc(1, sizeof(*info));
	if (!info)
		return OOM(error);
	r = enter(net->ctx, &nm, error);
	if (r < 0) {
		free(info);
		return r;
	}
	r = load_state(nm, net->name, &info->st, error);
	if (r == 0 && info->st.policy_file) {
		if (state_model(nm, &info->st, &p, NULL, error) == 0 && p)
			info->n_rules = p->n_rules;
	}
	nm_unlock(nm);
	if (r < 0) {
		free(info);
		return r;
	}
	*ret = info;
	return 0;
}

SODA_EXPORT void soda_network_info_free(soda_network_info *info)
{
	if (!info)
		return;
	su_netstate_done(&info->st);
	free(info);
}

SODA_EXPORT const char *soda_network_info_get_bridge(const soda_network_info *info)
{
	return info ? info->st.bridge : NULL;
}

SODA_EXPORT int soda_network_info_get_flood_limit(const soda_network_info *info,
						 uint32_t *ret_rate, uint32_t *ret_burst)
{
	if (!info)
		return -EINVAL;
	if (ret_rate)
		*ret_rate = info->st.flood_rate;
	if (ret_burst)
		*ret_burst = info->st.flood_burst;
	return 0;
}

SODA_EXPORT const char *soda_network_info_get_uplink(const soda_network_info *info)
{
	return info ? info->st.uplink : NULL;
}

SODA_EXPORT const char *soda_network_info_get_table(const soda_network_info *info)
{
	return info ? info->st.table : NULL;
}

SODA_EXPORT int soda_network_info_get_firewall(const soda_network_info *info)
{
	return info && info->st.firewall ? 1 : 0;
}

SODA_EXPORT uint64_t soda_network_info_get_generation(const soda_network_info *info)
{
	return info ? info->st.generation : 0;
}

SODA_EXPORT size_t soda_network_info_get_rule_count(const soda_network_info *info)
{
	return info ? info->n_rules : 0;
}

SODA_EXPORT size_t soda_network_info_get_port_count(const soda_network_info *info)
{
	return info ? info->st.n_ports : 0;
}

SODA_EXPORT int soda_network_info_get_port(const soda_network_info *info, size_t index,
					   const char **ret_server, uint32_t *ret_nic,
					   const char **ret_ifname, const char **ret_mac)
{
	const su_port *p;

	if (!info || index >= info->st.n_ports)
		return -ENOENT;
	p = &info->st.ports[index];
	if (ret_server)
		*ret_server = p->server;
	if (ret_nic)
		*ret_nic = p->nic;
	if (ret_ifname)
		*ret_ifname = p->ifname;
	if (ret_mac)
		*ret_mac = p->mac;
	return 0;
}

SODA_EXPORT size_t soda_network_info_get_port_address_count(const soda_network_info *info,
							    size_t index)
{
	if (!info || index >= info->st.n_ports)
		return 0;
	return su_strv_len(info->st.ports[index].addresses);
}

SODA_EXPORT const char *soda_network_info_get_port_address(const soda_network_info *info,
							   size_t index, size_t addr_index)
{
	if (!info || index >= info->st.n_ports ||
	    addr_index >= su_strv_len(info->st.ports[index].addresses))
		return NULL;
	return info->st.ports[index].addresses[addr_index];
}

/* ---- policies ---- */

/* The servers a policy may name: those with a NIC on @network. */
static int directory(soda_context *ctx, const char *network, su_dirent **ret, size_t *ret_n,
		     soda_server_config ***ret_cfgs, soda_error **error)
{
	char **names = NULL;
	soda_server_config **cfgs = NULL;
	su_dirent *d = NULL;
	size_t n;
	int r;

	if (!ctx->drv->list || !ctx->drv->lookup)
		return su_errorf(error, -EOPNOTSUPP, "the %s backend cannot list servers",
				 ctx->drv->scheme);
	r = ctx->drv->list(ctx->priv, &names, error);
	if (r < 0)
		return r;
	n = su_strv_len(names);
	cfgs = calloc(n + 1, sizeof(*cfgs));
	d = calloc(n + 1, sizeof(*d));
	if (!cfgs || !d) {
		r = OOM(error);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		soda_error *e = NULL;

		/* A server undefined meanwhile simply is not there. */
		if (ctx->drv->lookup(ctx->priv, names[i], &cfgs[i], &e) < 0) {
			soda_error_free(e);
			cfgs[i] = NULL;
		}
	}
	n = 0;
	for (size_t i = 0; names && names[i]; i++) {
		if (!cfgs[i])
			continue;
		cfgs[n] = cfgs[i];
		if (n != i)
			cfgs[i] = NULL;
		d[n].name = cfgs[n]->name;
		d[n].labels = cfgs[n]->labels;
		for (size_t k = 0; k < cfgs[n]->n_nics; k++)
			if (su_streq(cfgs[n]->nics[k].network, network))
				d[n].on_network = true;
		n++;
	}
	su_strv_free(names);
	*ret = d;
	*ret_n = n;
	*ret_cfgs = cfgs;
	return 0;
fail:
	su_strv_free(names);
	free(cfgs);
	free(d);
	return r;
}

static void cfgs_free(soda_server_config **cfgs)
{
	for (size_t i = 0; cfgs && cfgs[i]; i++)
		soda_server_config_free(cfgs[i]);
	free(cfgs);
}

SODA_EXPORT int soda_network_apply_policy(soda_network *net, const soda_policy *policy,
					  unsigned int flags, soda_error **error)
{
	soda_server_config **cfgs = NULL;
	su_dirent *dir = NULL;
	su_netstate cur = { 0 }, next = { 0 };
	soda_policy *copy = NULL;
	size_t n_dir = 0;
	netmod *nm = NULL;
	int r;

	if (!net || !policy)
		return su_errorf(error, -EINVAL, "net or policy is NULL");
	if (flags & ~SODA_POLICY_CHECK)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	r = enter(net->ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, net->name, &cur, error);
	if (r < 0)
		goto out;
	if (!cur.firewall) {
		r = su_errorf(error, -EOPNOTSUPP, "network '%s' was made without a firewall",
			      net->name);
		goto out;
	}
	if (!nft_ops(error)) {
		r = -EOPNOTSUPP;
		goto out;
	}
	r = directory(net->ctx, net->name, &dir, &n_dir, &cfgs, error);
	if (r < 0)
		goto out;
	r = su_policy_resolve(policy, dir, n_dir, net->name, error);
	if (r < 0)
		goto out;
	/* Policies are immutable: the module keeps a reference, not a copy. */
	copy = su_policy_ref((soda_policy *)policy);
	r = su_netstate_copy(&next, &cur);
	if (r < 0) {
		r = OOM(error);
		goto out;
	}
	r = transition(nm, &cur, &next, copy, policy->text, policy->len, flags, error);
	copy = NULL;
	if (r == 0)
		su_log(net->ctx, SODA_LOG_INFO, "network %s: %s policy of %zu rule%s", net->name,
		       flags & SODA_POLICY_CHECK ? "checked" : "applied", policy->n_rules,
		       policy->n_rules == 1 ? "" : "s");
out:
	soda_policy_free(copy);
	su_netstate_done(&cur);
	su_netstate_done(&next);
	free(dir);
	cfgs_free(cfgs);
	nm_unlock(nm);
	return r;
}

SODA_EXPORT int soda_network_get_policy(soda_policy **ret, soda_network *net, soda_error **error)
{
	su_netstate st;
	const soda_policy *p = NULL;
	netmod *nm = NULL;
	int r;

	if (!ret || !net)
		return su_errorf(error, -EINVAL, "ret or net is NULL");
	r = enter(net->ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, net->name, &st, error);
	if (r == 0) {
		if (st.policy_file)
			r = state_model(nm, &st, &p, NULL, error);
		if (r == 0)
			r = p ? (*ret = su_policy_ref((soda_policy *)p), 0)
			      : soda_policy_parse(ret, "", 0, "policy", 0, error);
		su_netstate_done(&st);
	}
	nm_unlock(nm);
	return r;
}

SODA_EXPORT int soda_network_get_compiled(char **ret_text, soda_network *net,
					  unsigned int flags, soda_error **error)
{
	su_netstate st;
	const su_model *m = NULL;
	netmod *nm = NULL;
	char *text = NULL;
	int r;

	if (!ret_text || !net)
		return su_errorf(error, -EINVAL, "ret_text or net is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	r = enter(net->ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, net->name, &st, error);
	if (r == 0) {
		r = state_model(nm, &st, NULL, &m, error);
		if (r == 0 && !(text = su_model_format(m)))
			r = OOM(error);
		su_netstate_done(&st);
	}
	nm_unlock(nm);
	if (r == 0)
		*ret_text = text;
	return r;
}

/* ---- counters ---- */

struct soda_net_counters {
	size_t n_rules;
	uint64_t (*rules)[2];
	char **rule_text;
	size_t n_servers;
	char **servers;
	uint64_t (*values)[SODA_NET_COUNTER_MAX + 1][2];
	uint64_t totals[SODA_NET_TOTAL_MAX + 1][2];
};

SODA_EXPORT const char *soda_net_counter_name(int kind)
{
	static const char *const names[] = { "accepted",   "drop-mac",	  "drop-ip",
					     "drop-arp",   "drop-nd",	  "drop-other",
					     "drop-host",  "refused-out", "refused-in",
					     "dropped",	   "drop-flood" };

	return kind >= 0 && kind <= SODA_NET_COUNTER_MAX ? names[kind] : "unknown";
}

SODA_EXPORT int soda_net_counter_max(void)
{
	return SODA_NET_COUNTER_MAX;
}

SODA_EXPORT void soda_net_counters_free(soda_net_counters *c)
{
	if (!c)
		return;
	free(c->rules);
	su_strv_free(c->rule_text);
	su_strv_free(c->servers);
	free(c->values);
	free(c);
}

struct gather {
	soda_net_counters *c;
	const su_netstate *st;
	const su_model *m;
};

static ssize_t server_of_port(const struct gather *g, const char *ifname)
{
	for (size_t i = 0; i < g->st->n_ports; i++)
		if (su_streq(g->st->ports[i].ifname, ifname))
			for (size_t s = 0; s < g->c->n_servers; s++)
				if (su_streq(g->c->servers[s], g->st->ports[i].server))
					return (ssize_t)s;
	return -1;
}

static ssize_t server_of_addr(const struct gather *g, int family, const uint8_t *addr)
{
	for (size_t i = 0; i < g->st->n_ports; i++)
		for (size_t a = 0; g->st->ports[i].addresses && g->st->ports[i].addresses[a]; a++) {
			unsigned char x[16];
			int f;

			if (su_parse_cidr(g->st->ports[i].addresses[a], &f, x, NULL, NULL, NULL) == 0 &&
			    f == (family == 6 ? AF_INET6 : AF_INET) &&
			    memcmp(x, addr, family == 6 ? 16 : 4) == 0)
				for (size_t s = 0; s < g->c->n_servers; s++)
					if (su_streq(g->c->servers[s], g->st->ports[i].server))
						return (ssize_t)s;
		}
	return -1;
}

static void add2(uint64_t v[2], const su_nft_counter *k)
{
	v[0] += k->packets;
	v[1] += k->bytes;
}

static int gather_cb(const su_nft_counter *k, void *data)
{
	struct gather *g = data;
	soda_net_counters *c = g->c;
	ssize_t s;

	switch (k->kind) {
	case SU_NFT_C_ELEM: {
		ssize_t i = su_model_find(g->m, &k->elem);

		if (i >= 0 && g->m->owner[i] < c->n_rules)
			add2(c->rules[g->m->owner[i]], k);
		break;
	}
	case SU_NFT_C_PORT_DROP: {
		static const struct { const char *tag; int kind; } map[] = {
			{ "mac", SODA_NET_DROP_MAC },	  { "ip", SODA_NET_DROP_IP },
			{ "arp", SODA_NET_DROP_ARP },	  { "nd", SODA_NET_DROP_ND },
			{ "other", SODA_NET_DROP_OTHER }, { "flood", SODA_NET_DROP_FLOOD },
		};

		s = server_of_port(g, k->ifname);
		for (size_t i = 0; s >= 0 && i < SU_ARRAY_SIZE(map); i++)
			if (strcmp(map[i].tag, k->tag) == 0)
				add2(c->values[s][map[i].kind], k);
		break;
	}
	case SU_NFT_C_HOST:
	case SU_NFT_C_FORWARD:
		s = server_of_port(g, k->ifname);
		if (s >= 0)
			add2(c->values[s][k->kind == SU_NFT_C_HOST ? SODA_NET_DROP_HOST
								   : SODA_NET_ACCEPTED],
			     k);
		break;
	case SU_NFT_C_OUT:
	case SU_NFT_C_IN:
		s = server_of_addr(g, k->family, k->addr);
		if (s >= 0)
			add2(c->values[s][k->kind == SU_NFT_C_OUT ? SODA_NET_DROP_POLICY_OUT
								  : SODA_NET_DROP_POLICY_IN],
			     k);
		break;
	case SU_NFT_C_TOTAL: {
		static const struct { const char *tag; int kind; } map[] = {
			{ "default", SODA_NET_TOTAL_DEFAULT }, { "invalid", SODA_NET_TOTAL_INVALID },
			{ "host", SODA_NET_TOTAL_HOST },       { "uplink", SODA_NET_TOTAL_UPLINK },
		};

		for (size_t i = 0; i < SU_ARRAY_SIZE(map); i++)
			if (strcmp(map[i].tag, k->tag) == 0)
				add2(c->totals[map[i].kind], k);
		break;
	}
	default:
		break;
	}
	return 0;
}

SODA_EXPORT int soda_network_get_counters(soda_net_counters **ret, soda_network *net,
					  unsigned int flags, soda_error **error)
{
	const su_nft_ops *ops;
	const soda_policy *p = NULL;
	const su_model *m = NULL;
	soda_net_counters *c = NULL;
	su_netstate st = { 0 };
	su_nft_err e = { 0 };
	netmod *nm = NULL;
	knet k = { .n.fd = -1 };
	int r;

	if (!ret || !net)
		return su_errorf(error, -EINVAL, "ret or net is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	ops = nft_ops(error);
	if (!ops)
		return -EOPNOTSUPP;
	if (!ops->counters)
		return su_errorf(error, -EOPNOTSUPP, "the nftables plugin cannot read counters");
	r = enter(net->ctx, &nm, error);
	if (r < 0)
		return r;
	r = load_state(nm, net->name, &st, error);
	if (r < 0)
		goto out;
	if (!st.firewall) {
		r = su_errorf(error, -EOPNOTSUPP, "network '%s' was made without a firewall",
			      net->name);
		goto out;
	}
	r = state_model(nm, &st, &p, &m, error);
	if (r < 0)
		goto out;
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = OOM(error);
		goto out;
	}
	c->n_rules = p ? p->n_rules : 0;
	c->rules = calloc(c->n_rules + 1, sizeof(*c->rules));
	c->rule_text = calloc(c->n_rules + 1, sizeof(char *));
	if (!c->rules || !c->rule_text) {
		r = OOM(error);
		goto out;
	}
	for (size_t i = 0; i < c->n_rules; i++)
		if (!(c->rule_text[i] = strdup(p->rules[i].text))) {
			r = OOM(error);
			goto out;
		}
	for (size_t i = 0; i < st.n_ports; i++) {
		bool seen = false;

		for (size_t s = 0; s < c->n_servers && !seen; s++)
			seen = su_streq(c->servers[s], st.ports[i].server);
		if (!seen && su_strv_push(&c->servers, st.ports[i].server) < 0) {
			r = OOM(error);
			goto out;
		}
		if (!seen)
			c->n_servers++;
	}
	c->values = calloc(c->n_servers + 1, sizeof(*c->values));
	if (!c->values) {
		r = OOM(error);
		goto out;
	}
	r = knet_open(nm, &st, &k, error);
	if (r < 0)
		goto out;
	{
		struct gather g = { c, &st, m };

		r = ops->counters(&k.n, gather_cb, &g, &e);
		if (r < 0) {
			r = nft_fail(error, &e, r);
			goto out;
		}
	}
	for (size_t s = 0; s < c->n_servers; s++)
		for (int kind = SODA_NET_DROP_MAC; kind <= SODA_NET_DROP_FLOOD; kind++) {
			if (kind == SODA_NET_DROP_POLICY_IN || kind == SODA_NET_DROPPED)
				continue;
			c->values[s][SODA_NET_DROPPED][0] += c->values[s][kind][0];
			c->values[s][SODA_NET_DROPPED][1] += c->values[s][kind][1];
		}
	*ret = c;
	c = NULL;
out:
	knet_close(&k);
	soda_net_counters_free(c);
	su_netstate_done(&st);
	nm_unlock(nm);
	return r;
}

SODA_EXPORT size_t soda_net_counters_get_rule_count(const soda_net_counters *c)
{
	return c ? c->n_rules : 0;
}

SODA_EXPORT int soda_net_counters_get_rule(const soda_net_counters *c, size_t index,
					   uint64_t *ret_packets, uint64_t *ret_bytes)
{
	if (!c || index >= c->n_rules)
		return -ENOENT;
	if (ret_packets)
		*ret_packets = c->rules[index][0];
	if (ret_bytes)
		*ret_bytes = c->rules[index][1];
	return 0;
}

SODA_EXPORT const char *soda_net_counters_get_rule_text(const soda_net_counters *c,
							size_t index)
{
	return c && index < c->n_rules ? c->rule_text[index] : NULL;
}

SODA_EXPORT size_t soda_net_counters_get_server_count(const soda_net_counters *c)
{
	return c ? c->n_servers : 0;
}

SODA_EXPORT const char *soda_net_counters_get_server(const soda_net_counters *c, size_t index)
{
	return c && index < c->n_servers ? c->servers[index] : NULL;
}

SODA_EXPORT int soda_net_counters_get_server_value(const soda_net_counters *c, size_t index,
						   int kind, uint64_t *ret_packets,
						   uint64_t *ret_bytes)
{
	if (!c || index >= c->n_servers)
		return -ENOENT;
	if (kind < 0 || kind > SODA_NET_COUNTER_MAX)
		return -EINVAL;
	if (ret_packets)
		*ret_packets = c->values[index][kind][0];
	if (ret_bytes)
		*ret_bytes = c->values[index][kind][1];
	return 0;
}

SODA_EXPORT int soda_net_counters_find_server(const soda_net_counters *c, const char *server,
					      size_t *ret_index)
{
	for (size_t i = 0; c && i < c->n_servers; i++)
		if (su_streq(c->servers[i], server)) {
			if (ret_index)
				*ret_index = i;
			return 0;
		}
	return -ENOENT;
}

SODA_EXPORT int soda_net_counters_get_total(const soda_net_counters *c, int kind,
					    uint64_t *ret_packets, uint64_t *ret_bytes)
{
	if (!c || kind < 0 || kind > SODA_NET_TOTAL_MAX)
		return -EINVAL;
	if (ret_packets)
		*ret_packets = c->totals[kind][0];
	if (ret_bytes)
		*ret_bytes = c->totals[kind][1];
	return 0;
}
