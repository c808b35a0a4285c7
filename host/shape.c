/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/gen_stats.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <soda/shares.h>
#include "shape.h"
#include "soda_shape.skel.h"

#define HTB_HANDLE 0x00010000u /* 1: */
#define HTB_CLASS 0x00010010u  /* 1:10 */
#define IFB_TXQLEN 1000
#define TC_PRIORITY 1
#define TC_HANDLE 1

bool su_shape_available(void)
{
	return true;
}

uint64_t su_shape_default_burst(uint64_t bps)
{
	uint64_t b = bps / 8 / 100; /* 10 ms */

	return b < 3028 ? 3028 : b;
}

void su_shape_ifb_name(const char *tap, char out[16])
{
	/* The TAP's name with a 'b' in its last place: unique where the TAP
	 * names are, and found again from the TAP name alone. */
	snprintf(out, 16, "%.14s", tap);
	size_t len = strlen(out);

	if (len < 15) {
		out[len] = 'b';
		out[len + 1] = '\0';
	} else {
		out[14] = 'b';
	}
}

/* ---- network namespaces ---- */

static int enter_netns(const char *netns, int *saved, soda_error **error)
{
	int fd, r;

	*saved = -1;
	if (!netns)
		return 0;
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		r = su_neg_errno();
		su_close(fd);
		su_close(*saved);
		*saved = -1;
		return su_errorf(error, r, "cannot enter network namespace %s: %s", netns,
				 strerror(-r));
	}
	close(fd);
	return 0;
}

static void leave_netns(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET) < 0) {
		/* Nothing sane to do; the thread stays where it is. */
	}
	close(saved);
}

/* ---- rtnetlink ---- */

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char buf[32768]; /* at least a page, as libmnl asks */
};

static int nl_open(struct nl *nl, soda_error **error)
{
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = su_neg_errno();

		if (nl->sock)
			mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return su_errorf(error, r, "rtnetlink: %s", strerror(-r));
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

static struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(nl->buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++nl->seq;
	return h;
}

/* Sends and waits for the ACK (or the dump's end, calling cb per message). */
static int nl_talk(struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
	int r;

	if (mnl_socket_sendto(nl->sock, h, h->nlmsg_len) < 0)
		return su_neg_errno();
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));

		if (n < 0)
			return su_neg_errno();
		r = mnl_cb_run(nl->buf, (size_t)n, h->nlmsg_seq, nl->portid, cb, data);
		if (r < 0)
			return su_neg_errno();
		if (r <= MNL_CB_STOP)
			return 0;
	}
}

static int link_index(const char *name)
{
	unsigned idx = if_nametoindex(name);

	return idx ? (int)idx : -ENODEV;
}

static int ifb_create(struct nl *nl, const char *name, soda_error **error)
{
	struct nlmsghdr *h;
	struct ifinfomsg *ifi;
	struct nlattr *info;
	int idx, r;

	idx = link_index(name);
	if (idx < 0) {
		h = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
		ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		mnl_attr_put_strz(h, IFLA_IFNAME, name);
		mnl_attr_put_u32(h, IFLA_TXQLEN, IFB_TXQLEN);
		info = mnl_attr_nest_start(h, IFLA_LINKINFO);
		mnl_attr_put_strz(h, IFLA_INFO_KIND, "ifb");
		mnl_attr_nest_end(h, info);
		r = nl_talk(nl, h, NULL, NULL);
		if (r < 0 && r != -EEXIST)
			return su_errorf(error, r, "cannot create IFB %s: %s", name, strerror(-r));
		idx = link_index(name);
		if (idx < 0)
			return su_errorf(error, idx, "IFB %s vanished", name);
	}
	h = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK);
	ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = idx;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	r = nl_talk(nl, h, NULL, NULL);
	if (r < 0)
		return su_errorf(error, r, "cannot bring IFB %s up: %s", name, strerror(-r));
	return idx;
}

static int link_delete(struct nl *nl, const char *name)
{
	struct nlmsghdr *h;
	struct ifinfomsg *ifi;
	int idx = link_index(name);

	if (idx < 0)
		return 0;
	h = nl_msg(nl, RTM_DELLINK, NLM_F_ACK);
	ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = idx;
	return nl_talk(nl, h, NULL, NULL);
}

static struct tcmsg *tc_header(struct nlmsghdr *h, int ifindex, uint32_t handle, uint32_t parent)
{
	struct tcmsg *t = mnl_nlmsg_put_extra_header(h, sizeof(*t));

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_handle = handle;
	t->tcm_parent = parent;
	return t;
}

struct root_kind {
	int ifindex;
	bool htb;
};

static int root_kind_cb(const struct nlmsghdr *h, void *data)
{
	struct root_kind *rk = data;
	struct tcmsg *t = mnl_nlmsg_get_payload(h);
	struct nlattr *a;

	if (t->tcm_ifindex != rk->ifindex || t->tcm_parent != TC_H_ROOT ||
	    t->tcm_handle != HTB_HANDLE)
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(*t))
		if (mnl_attr_get_type(a) == TCA_KIND && strcmp(mnl_attr_get_str(a), "htb") == 0)
			rk->htb = true;
	return MNL_CB_OK;
}

static bool root_is_htb(struct nl *nl, int ifindex)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_GETQDISC, NLM_F_DUMP);
	struct root_kind rk = { ifindex, false };

	tc_header(h, ifindex, 0, 0);
	nl_talk(nl, h, root_kind_cb, &rk);
	return rk.htb;
}

/* An HTB root, or the one already there (only its class changes later). */
static int htb_root(struct nl *nl, int ifindex)
{
	struct tc_htb_glob glob = { .version = TC_HTB_PROTOVER, .rate2quantum = 10,
				    .defcls = HTB_CLASS & 0xffff };
	struct tc_sizespec size = { .overhead = -ETH_HLEN };
	struct nlmsghdr *h;
	struct nlattr *opts, *stab;

	/* Asked first: the question and the request share the buffer. */
	if (root_is_htb(nl, ifindex))
		return 0;
	h = nl_msg(nl, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	tc_header(h, ifindex, HTB_HANDLE, TC_H_ROOT);
	mnl_attr_put_strz(h, TCA_KIND, "htb");
	opts = mnl_attr_nest_start(h, TCA_OPTIONS);
	mnl_attr_put(h, TCA_HTB_INIT, sizeof(glob), &glob);
	mnl_attr_nest_end(h, opts);
	/* Rates count IP packets: a size table takes the Ethernet header off
	 * every frame's length before HTB accounts for it. */
	stab = mnl_attr_nest_start(h, TCA_STAB);
	mnl_attr_put(h, TCA_STAB_BASE, sizeof(size), &size);
	mnl_attr_nest_end(h, stab);
	return nl_talk(nl, h, NULL, NULL);
}

static int htb_class(struct nl *nl, int ifindex, uint64_t bps, uint64_t burst)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_NEWTCLASS, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct tc_htb_opt opt;
	uint64_t bytes_per_s = bps / 8, ticks;
	struct nlattr *opts;

	memset(&opt, 0, sizeof(opt));
	if (!burst)
		burst = su_shape_default_burst(bps);
	/* Rates above 4 GiB/s go in the 64-bit attribute. */
	opt.rate.rate = bytes_per_s > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes_per_s;
	opt.ceil.rate = opt.rate.rate;
	opt.rate.linklayer = TC_LINKLAYER_ETHERNET;
	opt.ceil.linklayer = TC_LINKLAYER_ETHERNET;
	/* The burst as time at the rate, in 64 ns scheduler ticks. */
	ticks = burst * 1000000000ull / (bytes_per_s ? bytes_per_s : 1) / 64;
	opt.buffer = ticks > UINT32_MAX ? UINT32_MAX : (uint32_t)ticks;
	opt.cbuffer = opt.buffer;
	/* One class: the quantum only has to be sane (HTB warns above 200000). */
	opt.quantum = 60000;
	tc_header(h, ifindex, HTB_CLASS, HTB_HANDLE);
	mnl_attr_put_strz(h, TCA_KIND, "htb");
	opts = mnl_attr_nest_start(h, TCA_OPTIONS);
	mnl_attr_put(h, TCA_HTB_PARMS, sizeof(opt), &opt);
	if (bytes_per_s > UINT32_MAX) {
		mnl_attr_put_u64(h, TCA_HTB_RATE64, bytes_per_s);
		mnl_attr_put_u64(h, TCA_HTB_CEIL64, bytes_per_s);
	}
	mnl_attr_nest_end(h, opts);
	return nl_talk(nl, h, NULL, NULL);
}

static int qdisc_delete(struct nl *nl, int ifindex, uint32_t parent)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_DELQDISC, NLM_F_ACK);
	int r;

	tc_header(h, ifindex, parent == TC_H_CLSACT ? TC_H_MAKE(TC_H_CLSACT, 0) : 0, parent);
	r = nl_talk(nl, h, NULL, NULL);
	/* None there is no error: the default qdisc cannot be deleted. */
	return r == -ENOENT || r == -EINVAL ? 0 : r;
}

/* An HTB class at @bps on @ifindex, or no shaping for 0. */
static int shape_dev(struct nl *nl, int ifindex, const char *dev, uint64_t bps, uint64_t burst,
		     soda_error **error)
{
	int r;

	if (!bps) {
		r = qdisc_delete(nl, ifindex, TC_H_ROOT);
		return r < 0 ? su_errorf(error, r, "cannot remove shaping from %s: %s", dev,
					 strerror(-r))
			     : 0;
	}
	r = htb_root(nl, ifindex);
	if (r == 0)
		r = htb_class(nl, ifindex, bps, burst);
	if (r < 0)
		return su_errorf(error, r, "cannot shape %s to %llu bit/s: %s", dev,
				 (unsigned long long)bps, strerror(-r));
	return 0;
}

/* ---- BPF ---- */

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int attach_bpf(int tap_index, int ifb_index, soda_error **error)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, ingress, .ifindex = tap_index,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, egress, .ifindex = tap_index,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, in_opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
			    .flags = BPF_TC_F_REPLACE);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, out_opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
			    .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t old = libbpf_set_print(quiet_libbpf);
	struct soda_shape *skel = soda_shape__open();
	int r;

	if (!skel) {
		r = su_neg_errno();
		libbpf_set_print(old);
		return su_errorf(error, r, "cannot open the shaping BPF object: %s", strerror(-r));
	}
	skel->rodata->ifb_ifindex = (uint32_t)ifb_index;
	r = soda_shape__load(skel);
	if (r < 0) {
		su_errorf(error, r, "cannot load the shaping BPF programs: %s", strerror(-r));
		goto out;
	}
	r = bpf_tc_hook_create(&ingress);
	if (r < 0 && r != -EEXIST) {
		su_errorf(error, r, "cannot add clsact to the TAP: %s", strerror(-r));
		goto out;
	}
	in_opts.prog_fd = bpf_program__fd(skel->progs.soda_from_guest);
	out_opts.prog_fd = bpf_program__fd(skel->progs.soda_to_guest);
	r = bpf_tc_attach(&ingress, &in_opts);
	if (r == 0)
		r = bpf_tc_attach(&egress, &out_opts);
	if (r < 0)
		su_errorf(error, r, "cannot attach the shaping BPF programs: %s", strerror(-r));
out:
	/* tc holds the programs (and they the map) from here on. */
	soda_shape__destroy(skel);
	libbpf_set_print(old);
	return r;
}

static int counters_fd_quiet(int tap_index);

static int counters_fd(int tap_index)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet_libbpf);
	int r = counters_fd_quiet(tap_index);

	libbpf_set_print(old);
	/* No clsact, no filter: not shaped. */
	return r == -EINVAL ? -ENOENT : r;
}

static int counters_fd_quiet(int tap_index)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, ingress, .ifindex = tap_index,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	struct bpf_prog_info info;
	uint32_t map_ids[4], len = sizeof(info);
	int prog, r;

	r = bpf_tc_query(&ingress, &opts);
	if (r < 0)
		return r;
	prog = bpf_prog_get_fd_by_id(opts.prog_id);
	if (prog < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 4;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	r = bpf_obj_get_info_by_fd(prog, &info, &len);
	close(prog);
	if (r < 0)
		return -errno;
	for (uint32_t i = 0; i < info.nr_map_ids && i < 4; i++) {
		struct bpf_map_info mi;
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 &&
		    strcmp(mi.name, "soda_counters") == 0)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* ---- the interface ---- */

struct shape_ctx {
	int saved_ns;
	struct nl nl;
	int tap;
	char ifb[16];
};

static int begin(struct shape_ctx *c, const char *netns, const char *tap, bool need_tap,
		 soda_error **error)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->saved_ns = -1;
	if (strlen(tap) == 0 || strlen(tap) >= IFNAMSIZ)
		return su_errorf(error, -EINVAL, "bad interface name '%s'", tap);
	su_shape_ifb_name(tap, c->ifb);
	r = enter_netns(netns, &c->saved_ns, error);
	if (r < 0)
		return r;
	r = nl_open(&c->nl, error);
	if (r < 0) {
		leave_netns(c->saved_ns);
		return r;
	}
	c->tap = link_index(tap);
	if (c->tap < 0 && need_tap) {
		nl_close(&c->nl);
		leave_netns(c->saved_ns);
		return su_errorf(error, -ENODEV, "no interface %s to shape", tap);
	}
	return 0;
}

static void end(struct shape_ctx *c)
{
	nl_close(&c->nl);
	leave_netns(c->saved_ns);
}

int su_shape_attach(const char *netns, const char *tap, const su_shape_rates *rates,
		    soda_error **error)
{
	struct shape_ctx c;
	int ifb, r;

	r = begin(&c, netns, tap, true, error);
	if (r < 0)
		return r;
	ifb = ifb_create(&c.nl, c.ifb, error);
	r = ifb < 0 ? ifb : 0;
	if (r == 0)
		r = shape_dev(&c.nl, ifb, c.ifb, rates->out_bps, rates->out_burst, error);
	if (r == 0)
		r = shape_dev(&c.nl, c.tap, tap, rates->in_bps, rates->in_burst, error);
	if (r == 0)
		r = attach_bpf(c.tap, ifb, error);
	if (r < 0) {
		qdisc_delete(&c.nl, c.tap, TC_H_CLSACT);
		qdisc_delete(&c.nl, c.tap, TC_H_ROOT);
		link_delete(&c.nl, c.ifb);
	}
	end(&c);
	return r;
}

int su_shape_update(const char *netns, const char *tap, const su_shape_rates *rates,
		    soda_error **error)
{
	struct shape_ctx c;
	int ifb, r;

	r = begin(&c, netns, tap, true, error);
	if (r < 0)
		return r;
	ifb = link_index(c.ifb);
	r = ifb < 0 ? su_errorf(error, -ENODEV, "%s is not shaped (no %s)", tap, c.ifb) : 0;
	if (r == 0)
		r = shape_dev(&c.nl, ifb, c.ifb, rates->out_bps, rates->out_burst, error);
	if (r == 0)
		r = shape_dev(&c.nl, c.tap, tap, rates->in_bps, rates->in_burst, error);
	end(&c);
	return r;
}

int su_shape_detach(const char *netns, const char *tap, soda_error **error)
{
	struct shape_ctx c;
	int r;

	r = begin(&c, netns, tap, false, error);
	if (r < 0)
		return r;
	if (c.tap > 0) {
		qdisc_delete(&c.nl, c.tap, TC_H_CLSACT);
		qdisc_delete(&c.nl, c.tap, TC_H_ROOT);
	}
	r = link_delete(&c.nl, c.ifb);
	if (r < 0)
		su_errorf(error, r, "cannot delete %s: %s", c.ifb, strerror(-r));
	end(&c);
	return r;
}

struct drops {
	int ifindex;
	uint64_t drops;
	bool found;
};

static int qdisc_stats_cb(const struct nlmsghdr *h, void *data)
{
	struct drops *d = data;
	struct tcmsg *t = mnl_nlmsg_get_payload(h);
	struct nlattr *a, *s;

	if (t->tcm_ifindex != d->ifindex || t->tcm_parent != TC_H_ROOT)
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(*t)) {
		if (mnl_attr_get_type(a) != TCA_STATS2)
			continue;
		mnl_attr_for_each_nested(s, a) {
			if (mnl_attr_get_type(s) == TCA_STATS_QUEUE &&
			    mnl_attr_get_payload_len(s) >= sizeof(struct gnet_stats_queue)) {
				struct gnet_stats_queue q;

				memcpy(&q, mnl_attr_get_payload(s), sizeof(q));
				d->drops += q.drops;
				d->found = true;
			}
		}
	}
	return MNL_CB_OK;
}

static uint64_t root_drops(struct nl *nl, int ifindex)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_GETQDISC, NLM_F_DUMP);
	struct drops d = { ifindex, 0, false };

	tc_header(h, ifindex, 0, 0);
	nl_talk(nl, h, qdisc_stats_cb, &d);
	return d.drops;
}

int su_shape_counters_read(const char *netns, const char *tap, su_shape_counters *ret,
			   soda_error **error)
{
	struct shape_ctx c;
	int fd, ncpu, r, ifb;
	struct {
		uint64_t bytes, packets, drops;
	} *vals = NULL;

	r = begin(&c, netns, tap, true, error);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	fd = counters_fd(c.tap);
	ncpu = libbpf_num_possible_cpus();
	if (fd < 0 || ncpu <= 0) {
		r = su_errorf(error, fd < 0 ? fd : -EIO, "%s is not shaped: %s", tap,
			      strerror(fd < 0 ? -fd : EIO));
		goto out;
	}
	vals = calloc((size_t)ncpu, sizeof(*vals));
	for (uint32_t dir = 0; vals && dir < 2; dir++) {
		if (bpf_map_lookup_elem(fd, &dir, vals) < 0)
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++) {
			if (dir == 0) {
				ret->out_bytes += vals[cpu].bytes;
				ret->out_packets += vals[cpu].packets;
				ret->out_drops += vals[cpu].drops;
			} else {
				ret->in_bytes += vals[cpu].bytes;
				ret->in_packets += vals[cpu].packets;
				ret->in_drops += vals[cpu].drops;
			}
		}
	}
	free(vals);
	close(fd);
	/* Frames the HTB queues had to drop. */
	ifb = link_index(c.ifb);
	if (ifb > 0)
		ret->out_drops += root_drops(&c.nl, ifb);
	ret->in_drops += root_drops(&c.nl, c.tap);
	r = 0;
out:
	end(&c);
	return r;
}
