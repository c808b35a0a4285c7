/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A network's record (<state>/networks/NAME/network, kv.h format):
 *
 *   soda-network 1
 *   name lan
 *   bridge sb1f2e3d4c5b6a
 *   table soda-0123456789abcdef-lan
 *   uplink veth-out            (optional)
 *   netns /run/netns/tenants   (optional: where the bridge lives)
 *   firewall 1
 *   generation 12
 *   flood-rate 100             (broadcast and multicast frames per second
 *   flood-burst 200             a port may send, and its burst; rate 0:
 *                               no limit; absent: the defaults)
 *   policy policy.12           (optional: the file holding the policy text)
 *   port st0a1b2c3d4e5f0       (each port starts with its interface name,
 *   port-server web1            and the lines after it describe it)
 *   port-nic 0
 *   port-mac 02:00:00:00:00:01
 *   port-address 198.51.100.10/24
 *   port-label web
 *
 * And the names everything gets, derived so that another process (or one
 * after a crash) finds them again from the state directory alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config.h"
#include "../kv.h"
#include "net.h"

uint64_t su_net_hash(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */

	for (const unsigned char *p = (const unsigned char *)a; p && *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL; /* separator: no byte of a name */
	for (const unsigned char *p = (const unsigned char *)b; p && *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* "sb" + 12 hex digits: 14 bytes. */
void su_net_bridge_name(const char *state_dir, const char *network, char out[16])
{
	snprintf(out, 16, "sb%012llx",
		 (unsigned long long)(su_net_hash(state_dir, network) & 0xffffffffffffULL));
}

/* "st" + 11 hex digits + the NIC index: 14 bytes, leaving the 15th for the
 * shaping IFB (the TAP name plus 'b', see host/shape.c), which
 * therefore never collides with a TAP. */
void su_net_tap_name(const char *state_dir, const char *server, uint32_t nic, char out[16])
{
	snprintf(out, 16, "st%011llx%u",
		 (unsigned long long)(su_net_hash(state_dir, server) & 0xfffffffffffULL),
		 nic % 10);
}

void su_net_table_prefix(const char *state_dir, char out[32])
{
	snprintf(out, 32, "soda-%016llx-", (unsigned long long)su_net_hash(state_dir, NULL));
}

void su_netstate_done(su_netstate *st)
{
	free(st->name);
	free(st->bridge);
	free(st->table);
	free(st->uplink);
	free(st->netns);
	free(st->policy_file);
	for (size_t i = 0; i < st->n_ports; i++)
		su_port_done(&st->ports[i]);
	free(st->ports);
	memset(st, 0, sizeof(*st));
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int su_netstate_copy(su_netstate *to, const su_netstate *from)
{
	bool oom = false;

	memset(to, 0, sizeof(*to));
	to->name = dup_or_null(from->name, &oom);
	to->bridge = dup_or_null(from->bridge, &oom);
	to->table = dup_or_null(from->table, &oom);
	to->uplink = dup_or_null(from->uplink, &oom);
	to->netns = dup_or_null(from->netns, &oom);
	to->policy_file = dup_or_null(from->policy_file, &oom);
	to->firewall = from->firewall;
	to->generation = from->generation;
	to->flood_rate = from->flood_rate;
	to->flood_burst = from->flood_burst;
	if (from->n_ports) {
		to->ports = calloc(from->n_ports, sizeof(*to->ports));
		if (!to->ports)
			oom = true;
		for (size_t i = 0; !oom && i < from->n_ports; i++) {
			if (su_port_copy(&to->ports[i], &from->ports[i]) < 0)
				oom = true;
			else
				to->n_ports++;
		}
	}
	if (oom) {
		su_netstate_done(to);
		return -ENOMEM;
	}
	return 0;
}

char *su_netstate_serialize(const su_netstate *st)
{
	su_buf b = { 0 };

	su_kv_header(&b, SU_NETSTATE_MAGIC, SU_NETSTATE_VERSION);
	su_kv_add(&b, "name", st->name);
	su_kv_add(&b, "bridge", st->bridge);
	su_kv_add(&b, "table", st->table);
	if (st->uplink)
		su_kv_add(&b, "uplink", st->uplink);
	if (st->netns)
		su_kv_add(&b, "netns", st->netns);
	su_kv_add_u64(&b, "firewall", st->firewall ? 1 : 0);
	su_kv_add_u64(&b, "generation", st->generation);
	su_kv_add_u64(&b, "flood-rate", st->flood_rate);
	su_kv_add_u64(&b, "flood-burst", st->flood_burst);
	if (st->policy_file)
		su_kv_add(&b, "policy", st->policy_file);
	for (size_t i = 0; i < st->n_ports; i++) {
		const su_port *p = &st->ports[i];

		su_kv_add(&b, "port", p->ifname);
		su_kv_add(&b, "port-server", p->server);
		su_kv_add_u64(&b, "port-nic", p->nic);
		su_kv_add(&b, "port-mac", p->mac);
		for (size_t j = 0; p->addresses && p->addresses[j]; j++)
			su_kv_add(&b, "port-address", p->addresses[j]);
		for (size_t j = 0; p->labels && p->labels[j]; j++)
			su_kv_add(&b, "port-label", p->labels[j]);
	}
	return su_buf_steal(&b);
}

struct parse {
	su_netstate *st;
	const char *source;
	soda_error **error;
};

static int bad(struct parse *ps, uint32_t line, const char *key, const char *why)
{
	return su_errorf_at(ps->error, -EINVAL, ps->source, line, 1, "%s:%u: %s: %s", ps->source,
			    line, key, why);
}

static int set_once(struct parse *ps, uint32_t line, const char *key, char **field,
		    const char *value)
{
	if (*field)
		return bad(ps, line, key, "given twice");
	*field = strdup(value);
	return *field ? 0 : su_errorf(ps->error, -ENOMEM, "out of memory");
}

static int kv_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	struct parse *ps = userdata;
	su_netstate *st = ps->st;
	su_port *p = st->n_ports ? &st->ports[st->n_ports - 1] : NULL;
	uint64_t v;
	char norm[64];

	if (strcmp(key, "name") == 0) {
		if (su_check_name("network", value, NULL) < 0)
			return bad(ps, line, key, "not a valid network name");
		return set_once(ps, line, key, &st->name, value);
	}
	if (strcmp(key, "bridge") == 0 || strcmp(key, "uplink") == 0) {
		if (!*value || strlen(value) >= 16 || strpbrk(value, "/: "))
			return bad(ps, line, key, "not an interface name");
		return set_once(ps, line, key, key[0] == 'b' ? &st->bridge : &st->uplink, value);
	}
	if (strcmp(key, "table") == 0) {
		if (!*value || strlen(value) > 200)
			return bad(ps, line, key, "not a table name");
		return set_once(ps, line, key, &st->table, value);
	}
	if (strcmp(key, "netns") == 0) {
		if (value[0] != '/' || strlen(value) > 512)
			return bad(ps, line, key, "not an absolute path");
		return set_once(ps, line, key, &st->netns, value);
	}
	if (strcmp(key, "policy") == 0) {
		if (strncmp(value, "policy.", 7) != 0 || strchr(value, '/'))
			return bad(ps, line, key, "not a policy file name");
		return set_once(ps, line, key, &st->policy_file, value);
	}
	if (strcmp(key, "firewall") == 0 || strcmp(key, "generation") == 0) {
		if (su_parse_u64(value, &v) < 0 || v > UINT32_MAX ||
		    (key[0] == 'f' && v > 1))
			return bad(ps, line, key, "not a valid number");
		if (key[0] == 'f')
			st->firewall = v == 1;
		else
			st->generation = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "flood-rate") == 0 || strcmp(key, "flood-burst") == 0) {
		if (su_parse_u64(value, &v) < 0 || v > SU_FLOOD_MAX)
			return bad(ps, line, key, "not a number of frames (0 to 1000000)");
		*(key[6] == 'r' ? &st->flood_rate : &st->flood_burst) = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "port") == 0) {
		su_port *np;

		if (!*value || strlen(value) >= 16 || strpbrk(value, "/: "))
			return bad(ps, line, key, "not an interface name");
		np = realloc(st->ports, (st->n_ports + 1) * sizeof(*np));
		if (!np)
			return su_errorf(ps->error, -ENOMEM, "out of memory");
		st->ports = np;
		memset(&np[st->n_ports], 0, sizeof(*np));
		np[st->n_ports].ifname = strdup(value);
		st->n_ports++;
		return np[st->n_ports - 1].ifname ? 0 : su_errorf(ps->error, -ENOMEM, "out of memory");
	}
	if (strncmp(key, "port-", 5) == 0 && !p)
		return bad(ps, line, key, "comes before any 'port'");
	if (strcmp(key, "port-server") == 0) {
		if (soda_name_check(value, NULL) < 0)
			return bad(ps, line, key, "not a server name");
		return set_once(ps, line, key, &p->server, value);
	}
	if (strcmp(key, "port-nic") == 0) {
		if (su_parse_u64(value, &v) < 0 || v >= SODA_NICS_MAX)
			return bad(ps, line, key, "not a NIC index");
		p->nic = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "port-mac") == 0) {
		unsigned m[6];
		char end;

		if (sscanf(value, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4],
			   &m[5], &end) != 6)
			return bad(ps, line, key, "not a MAC address");
		return set_once(ps, line, key, &p->mac, value);
	}
	if (strcmp(key, "port-address") == 0) {
		if (su_parse_cidr(value, NULL, NULL, NULL, norm, NULL) < 0)
			return bad(ps, line, key, "not an address");
		if (su_strv_len(p->addresses) >= SODA_NIC_ADDRESSES_MAX)
			return bad(ps, line, key, "too many addresses");
		return su_strv_push(&p->addresses, norm) < 0
			       ? su_errorf(ps->error, -ENOMEM, "out of memory")
			       : 0;
	}
	if (strcmp(key, "port-label") == 0) {
		if (su_check_name("label", value, NULL) < 0)
			return bad(ps, line, key, "not a label");
		if (su_strv_len(p->labels) >= SODA_LABELS_MAX)
			return bad(ps, line, key, "too many labels");
		return su_strv_push(&p->labels, value) < 0
			       ? su_errorf(ps->error, -ENOMEM, "out of memory")
			       : 0;
	}
	/* Newer writers may add keys; ignore what we do not know. */
	return 0;
}

int su_netstate_parse(su_netstate *st, const char *text, size_t len, const char *source,
		      soda_error **error)
{
	struct parse ps = { st, source, error };
	int r;

	memset(st, 0, sizeof(*st));
	st->flood_rate = SU_FLOOD_RATE_DEFAULT;
	st->flood_burst = SU_FLOOD_BURST_DEFAULT;
	r = su_kv_parse(text, len, source, SU_NETSTATE_MAGIC, SU_NETSTATE_VERSION, NULL, kv_line,
			&ps, error);
	if (r == 0 && (!st->name || !st->bridge || !st->table))
		r = su_errorf_at(error, -EINVAL, source, 0, 0, "%s: name, bridge or table missing",
				 source);
	if (r == 0 && st->flood_rate && !st->flood_burst)
		r = su_errorf_at(error, -EINVAL, source, 0, 0,
				 "%s: a flood-rate needs a flood-burst of at least 1", source);
	for (size_t i = 0; r == 0 && i < st->n_ports; i++)
		if (!st->ports[i].server || !st->ports[i].mac)
			r = su_errorf_at(error, -EINVAL, source, 0, 0,
					 "%s: port %s lacks its server or MAC", source,
					 st->ports[i].ifname);
	if (r < 0)
		su_netstate_done(st);
	return r;
}
