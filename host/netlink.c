/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"

/* ---- namespaces ---- */

int su_netns_enter(const char *netns, int *saved, soda_error **error)
{
	int fd, r;

	*saved = -1;
	if (!netns)
		return 0;
	fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "network namespace %s: %s", netns,
				 strerror(errno));
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || setns(fd, CLONE_NEWNET) < 0) {
		r = su_neg_errno();
		close(fd);
		su_close(*saved);
		*saved = -1;
		return su_errorf(error, r, "cannot enter network namespace %s: %s", netns,
				 strerror(-r));
	}
	close(fd);
	return 0;
}

int su_netns_leave(int saved)
{
	int r = 0;

	if (saved < 0)
		return 0;
	if (setns(saved, CLONE_NEWNET) < 0)
		r = su_neg_errno();
	close(saved);
	return r;
}

static int netlink_socket_in(const char *netns, int protocol, int *ret_fd, soda_error **error)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int saved, fd, r, e;

	r = su_netns_enter(netns, &saved, error);
	if (r < 0)
		return r;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	e = fd < 0 ? su_neg_errno() : 0;
	r = su_netns_leave(saved);
	if (r < 0) {
		su_close(fd);
		return su_errorf(error, r, "cannot return from network namespace %s: %s", netns,
				 strerror(-r));
	}
	if (fd < 0)
		return su_errorf(error, e, "netlink socket: %s", strerror(-e));
	/* Bound now so that the port id is known to whoever wraps the fd. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = su_neg_errno();
		close(fd);
		return su_errorf(error, r, "netlink bind: %s", strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}

int su_nfnl_open(const char *netns, int *ret_fd, soda_error **error)
{
	return netlink_socket_in(netns, NETLINK_NETFILTER, ret_fd, error);
}

/* ---- rtnetlink ---- */

struct su_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char buf[32768]; /* at least a page, as libmnl asks for dumps */
};

int su_nl_open(su_nl **ret, const char *netns, soda_error **error)
{
	su_nl *nl;
	int fd, r;

	r = netlink_socket_in(netns, NETLINK_ROUTE, &fd, error);
	if (r < 0)
		return r;
	nl = calloc(1, sizeof(*nl));
	if (!nl) {
		close(fd);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	nl->sock = mnl_socket_fdopen(fd);
	if (!nl->sock) {
		r = su_neg_errno();
		close(fd);
		free(nl);
		return su_errorf(error, r, "rtnetlink: %s", strerror(-r));
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	*ret = nl;
	return 0;
}

void su_nl_close(su_nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

static struct nlmsghdr *nl_msg(su_nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(nl->buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++nl->seq;
	return h;
}

/* Sends and reads until the ACK, the error or the end of the dump. */
static int nl_talk(su_nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
	unsigned int seq = h->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(nl->sock, h, h->nlmsg_len) < 0)
		return su_neg_errno();
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return su_neg_errno();
		}
		r = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
		if (r < 0)
			return su_neg_errno();
		if (r <= MNL_CB_STOP)
			return 0;
	}
}

struct link_parse {
	su_link *one;      /* get: the answer */
	su_link *list;     /* dump */
	size_t n, cap;
	bool oom;
};

static void parse_link(const struct nlmsghdr *h, su_link *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;

	memset(l, 0, sizeof(*l));
	l->index = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	mnl_attr_for_each(a, h, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
				snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_IFALIAS:
			if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
				snprintf(l->alias, sizeof(l->alias), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_MASTER:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->master = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == 6)
				memcpy(l->mac, mnl_attr_get_payload(a), 6);
			break;
		case IFLA_LINKINFO: {
			const struct nlattr *b;

			mnl_attr_for_each_nested(b, a)
				if (mnl_attr_get_type(b) == IFLA_INFO_KIND &&
				    mnl_attr_validate(b, MNL_TYPE_STRING) == 0)
					snprintf(l->kind, sizeof(l->kind), "%s",
						 mnl_attr_get_str(b));
			break;
		}
		default:
			break;
		}
	}
}

static int link_cb(const struct nlmsghdr *h, void *data)
{
	struct link_parse *lp = data;

	if (h->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	if (lp->one) {
		parse_link(h, lp->one);
		return MNL_CB_OK;
	}
	if (lp->n == lp->cap) {
		size_t cap = lp->cap ? lp->cap * 2 : 16;
		su_link *l = realloc(lp->list, cap * sizeof(*l));

		if (!l) {
			lp->oom = true;
			return MNL_CB_OK;
		}
		lp->list = l;
		lp->cap = cap;
	}
	parse_link(h, &lp->list[lp->n++]);
	return MNL_CB_OK;
}

int su_nl_link_get(su_nl *nl, const char *name, su_link *ret)
{
	/* The ACK after the answer ends the exchange. */
	struct nlmsghdr *h = nl_msg(nl, RTM_GETLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	struct link_parse lp = { .one = ret };
	int r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	ret->index = 0;
	r = nl_talk(nl, h, link_cb, &lp);
	if (r < 0)
		return r;
	return ret->index > 0 ? 0 : -ENODEV;
}

int su_nl_link_list(su_nl *nl, su_link **ret, size_t *ret_count)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	struct link_parse lp = { 0 };
	int r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	r = nl_talk(nl, h, link_cb, &lp);
	if (r == 0 && lp.oom)
		r = -ENOMEM;
	if (r < 0) {
		free(lp.list);
		return r;
	}
	*ret = lp.list;
	*ret_count = lp.n;
	return 0;
}

static struct nlmsghdr *setlink_msg(su_nl *nl, int ifindex)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return h;
}

/* No IPv6 address generation: the host must not get a link-local address
 * on the switch (it would send neighbour discovery from it). Without IPv6
 * in the kernel there is nothing to switch off. */
static int no_addrgen(su_nl *nl, int ifindex)
{
	struct nlmsghdr *h = setlink_msg(nl, ifindex);
	struct nlattr *spec, *inet6;
	int r;

	spec = mnl_attr_nest_start(h, IFLA_AF_SPEC);
	inet6 = mnl_attr_nest_start(h, AF_INET6);
	mnl_attr_put_u8(h, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(h, inet6);
	mnl_attr_nest_end(h, spec);
	r = nl_talk(nl, h, NULL, NULL);
	return r == -EAFNOSUPPORT ? 0 : r;
}

static int set_up(su_nl *nl, int ifindex)
{
	struct nlmsghdr *h = setlink_msg(nl, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(nl, h, NULL, NULL);
}

static int set_alias(su_nl *nl, int ifindex, const char *alias)
{
	struct nlmsghdr *h = setlink_msg(nl, ifindex);

	mnl_attr_put_strz(h, IFLA_IFALIAS, alias);
	return nl_talk(nl, h, NULL, NULL);
}

static int set_master(su_nl *nl, int ifindex, int master)
{
	struct nlmsghdr *h = setlink_msg(nl, ifindex);

	mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t)master);
	return nl_talk(nl, h, NULL, NULL);
}

int su_nl_bridge_create(su_nl *nl, const char *name, const char *alias, soda_error **error)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	struct nlattr *info, *data;
	su_link l;
	int r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
	data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
	mnl_attr_put_u32(h, IFLA_BR_STP_STATE, 0);
	mnl_attr_put_u32(h, IFLA_BR_FORWARD_DELAY, 0);
	mnl_attr_put_u8(h, IFLA_BR_MCAST_SNOOPING, 0);
	/* Stateful policies see bridged packets through br_netfilter. */
	mnl_attr_put_u8(h, IFLA_BR_NF_CALL_IPTABLES, 1);
	mnl_attr_put_u8(h, IFLA_BR_NF_CALL_IP6TABLES, 1);
	mnl_attr_nest_end(h, data);
	mnl_attr_nest_end(h, info);
	r = nl_talk(nl, h, NULL, NULL);
	if (r < 0)
		return su_errorf(error, r, "cannot create bridge %s: %s", name, strerror(-r));
	r = su_nl_link_get(nl, name, &l);
	if (r == 0)
		r = no_addrgen(nl, l.index);
	if (r == 0 && alias)
		r = set_alias(nl, l.index, alias);
	if (r == 0)
		r = set_up(nl, l.index);
	if (r < 0) {
		su_nl_link_del(nl, name, NULL);
		return su_errorf(error, r, "cannot set up bridge %s: %s", name, strerror(-r));
	}
	return 0;
}

int su_nl_port_set(su_nl *nl, int ifindex, int master, const char *alias, soda_error **error)
{
	int r = no_addrgen(nl, ifindex);

	if (r == 0 && alias)
		r = set_alias(nl, ifindex, alias);
	if (r == 0)
		r = set_master(nl, ifindex, master);
	if (r == 0)
		r = set_up(nl, ifindex);
	if (r < 0)
		return su_errorf(error, r, "cannot attach interface %d to the bridge: %s", ifindex,
				 strerror(-r));
	return 0;
}

/* The bridge's side of a server's port: no unknown unicast flooded out of
 * it, nothing learned from it (IFLA_PROTINFO of an AF_BRIDGE setlink,
 * which br_setlink reads), and the server's MAC as a static entry of the
 * forwarding database, so that frames for it go to this port and to no
 * other from the first frame on. */
static int port_flags(su_nl *nl, int ifindex)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_SETLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	struct nlattr *info;

	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = ifindex;
	info = mnl_attr_nest_start(h, IFLA_PROTINFO);
	mnl_attr_put_u8(h, IFLA_BRPORT_UNICAST_FLOOD, 0);
	mnl_attr_put_u8(h, IFLA_BRPORT_LEARNING, 0);
	mnl_attr_nest_end(h, info);
	return nl_talk(nl, h, NULL, NULL);
}

static int fdb_static(su_nl *nl, int ifindex, const uint8_t mac[6])
{
	struct nlmsghdr *h = nl_msg(nl, RTM_NEWNEIGH, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(h, sizeof(*nd));

	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_NOARP; /* "static": never ages, not local */
	nd->ndm_flags = NTF_MASTER;
	mnl_attr_put(h, NDA_LLADDR, 6, mac);
	return nl_talk(nl, h, NULL, NULL);
}

int su_nl_port_server(su_nl *nl, int ifindex, const uint8_t mac[6], soda_error **error)
{
	int r = port_flags(nl, ifindex);

	if (r == 0)
		r = fdb_static(nl, ifindex, mac);
	if (r < 0)
		return su_errorf(error, r, "cannot bind interface %d's MAC to its bridge port: %s",
				 ifindex, strerror(-r));
	return 0;
}

int su_nl_link_del(su_nl *nl, const char *name, soda_error **error)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_DELLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	int r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	r = nl_talk(nl, h, NULL, NULL);
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return su_errorf(error, r, "cannot delete interface %s: %s", name, strerror(-r));
	return 0;
}

struct addr_parse {
	int ifindex;
	su_addr *list;
	size_t n, cap;
	bool oom;
};

static int addr_cb(const struct nlmsghdr *h, void *data)
{
	struct addr_parse *ap = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;
	su_addr ad = { 0 };
	bool have = false;

	if (h->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != ap->ifindex ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return MNL_CB_OK;
	ad.family = ifa->ifa_family;
	ad.prefix = ifa->ifa_prefixlen;
	ad.scope = ifa->ifa_scope;
	mnl_attr_for_each(a, h, sizeof(*ifa)) {
		int t = mnl_attr_get_type(a);
		size_t want = ad.family == AF_INET ? 4 : 16;

		/* IFA_LOCAL is the address itself where it differs (peers). */
		if ((t == IFA_LOCAL || (t == IFA_ADDRESS && !have)) &&
		    mnl_attr_get_payload_len(a) == want) {
			memcpy(ad.addr, mnl_attr_get_payload(a), want);
			have = true;
		}
	}
	if (!have)
		return MNL_CB_OK;
	if (ap->n == ap->cap) {
		size_t cap = ap->cap ? ap->cap * 2 : 8;
		su_addr *l = realloc(ap->list, cap * sizeof(*l));

		if (!l) {
			ap->oom = true;
			return MNL_CB_OK;
		}
		ap->list = l;
		ap->cap = cap;
	}
	ap->list[ap->n++] = ad;
	return MNL_CB_OK;
}

int su_nl_addr_list(su_nl *nl, int ifindex, su_addr **ret, size_t *ret_count)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	struct addr_parse ap = { .ifindex = ifindex };
	int r;

	ifa->ifa_family = AF_UNSPEC;
	r = nl_talk(nl, h, addr_cb, &ap);
	if (r == 0 && ap.oom)
		r = -ENOMEM;
	if (r < 0) {
		free(ap.list);
		return r;
	}
	*ret = ap.list;
	*ret_count = ap.n;
	return 0;
}

int su_nl_addr_del(su_nl *nl, int ifindex, const su_addr *a, soda_error **error)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_DELADDR, NLM_F_ACK);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	size_t len = a->family == AF_INET ? 4 : 16;
	int r;

	ifa->ifa_family = (unsigned char)a->family;
	ifa->ifa_prefixlen = (unsigned char)a->prefix;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(h, IFA_LOCAL, len, a->addr);
	mnl_attr_put(h, IFA_ADDRESS, len, a->addr);
	r = nl_talk(nl, h, NULL, NULL);
	if (r < 0 && r != -EADDRNOTAVAIL)
		return su_errorf(error, r, "cannot remove an address from interface %d: %s",
				 ifindex, strerror(-r));
	return 0;
}
