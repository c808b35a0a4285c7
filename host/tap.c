/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"
#include "tap.h"

/* The legacy ethtool commands still set each feature on every kernel, and
 * need no feature-name lookup. */
static const struct {
	unsigned get, set;
	const char *name;
} offloads[] = {
	{ ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM, "tx checksumming" },
	{ ETHTOOL_GSG, ETHTOOL_SSG, "scatter-gather" },
	{ ETHTOOL_GTSO, ETHTOOL_STSO, "TSO" },
	{ ETHTOOL_GGSO, ETHTOOL_SGSO, "GSO" },
};

static int ethtool_value(int sock, const char *ifname, unsigned cmd, uint32_t *value)
{
	struct ethtool_value ev = { .cmd = cmd, .data = value ? *value : 0 };
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(sock, SIOCETHTOOL, &ifr) < 0)
		return su_neg_errno();
	if (value)
		*value = ev.data;
	return 0;
}

static int offloads_off(int sock, const char *ifname, soda_error **error)
{
	/* GSO and TSO first: tx checksumming off drops them anyway, and some
	 * kernels refuse to touch features that depend on one already off. */
	for (size_t i = SU_ARRAY_SIZE(offloads); i-- > 0;) {
		uint32_t v = 0;
		int r = ethtool_value(sock, ifname, offloads[i].set, &v);

		if (r < 0 && r != -EOPNOTSUPP)
			return su_errorf(error, r, "%s: cannot switch %s off: %s", ifname,
					 offloads[i].name, strerror(-r));
	}
	return 0;
}

int su_tap_create(const char *netns, const char *ifname, uid_t owner, gid_t group,
		  soda_error **error)
{
	struct ifreq ifr;
	int saved, fd = -1, sock = -1, r, l;

	if (strlen(ifname) >= IFNAMSIZ)
		return su_errorf(error, -EINVAL, "interface name '%s' is too long", ifname);
	r = su_netns_enter(netns, &saved, error);
	if (r < 0)
		return r;
	/* Both the TUN file and the ethtool socket take the thread's namespace
	 * when they are opened. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = su_errorf(error, su_neg_errno(), "/dev/net/tun: %s", strerror(errno));
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	/* IFF_TUN_EXCL: fail rather than take over an interface of that name. */
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = su_neg_errno();
		r = su_errorf(error, r == -EBUSY ? -EEXIST : r, "cannot create TAP %s: %s", ifname,
			      strerror(-r));
		goto out;
	}
	if (ioctl(fd, TUNSETOWNER, (unsigned long)owner) < 0 ||
	    ioctl(fd, TUNSETGROUP, (unsigned long)group) < 0 ||
	    ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot make TAP %s persistent for uid %u: %s",
			      ifname, (unsigned)owner, strerror(errno));
		goto fail;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		r = su_errorf(error, su_neg_errno(), "socket: %s", strerror(errno));
		goto fail;
	}
	r = offloads_off(sock, ifname, error);
	if (r < 0)
		goto fail;
	goto out;
fail:
	ioctl(fd, TUNSETPERSIST, 0UL);
out:
	su_close(sock);
	su_close(fd);
	l = su_netns_leave(saved);
	if (l < 0 && r >= 0)
		r = su_errorf(error, l, "cannot return from network namespace %s: %s", netns,
			      strerror(-l));
	return r;
}

int su_tap_offloads_off(const char *netns, const char *ifname, soda_error **error)
{
	int saved, sock, r, l, off = 1;

	r = su_netns_enter(netns, &saved, error);
	if (r < 0)
		return r;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		r = su_errorf(error, su_neg_errno(), "socket: %s", strerror(errno));
	for (size_t i = 0; r >= 0 && i < SU_ARRAY_SIZE(offloads); i++) {
		uint32_t v = 0;

		r = ethtool_value(sock, ifname, offloads[i].get, &v);
		if (r < 0)
			r = su_errorf(error, r, "%s: %s", ifname, strerror(-r));
		else if (v)
			off = 0;
	}
	su_close(sock);
	l = su_netns_leave(saved);
	if (l < 0 && r >= 0)
		r = su_errorf(error, l, "cannot return from network namespace: %s", strerror(-l));
	return r < 0 ? r : off;
}
