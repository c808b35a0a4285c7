/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the policy language and its compilation: parsing, errors
 * with line and column, names, the compiled set elements (golden file),
 * the interval decomposition (checked point by point against the rules),
 * diffs, and the network record.
 *
 * SODA_REGENERATE_GOLDEN=1 rewrites the golden files.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "testhelp.h"
#include "libsoda/config.h"
#include "libsoda/network/net.h"

static soda_policy *parse_ok(const char *text)
{
	soda_policy *p = NULL;
	soda_error *e = NULL;
	int r = soda_policy_parse(&p, text, strlen(text), "t", 0, &e);

	if (r < 0)
		fail_msg("parse failed: %s", soda_error_message(e));
	return p;
}

/* Parsing @text fails at @line:@col with a message containing @words. */
static void parse_fails(const char *text, uint32_t line, uint32_t col, const char *words)
{
	soda_policy *p = NULL;
	soda_error *e = NULL;
	int r = soda_policy_parse(&p, text, strlen(text), "pol", 0, &e);

	if (r != -EINVAL || !e)
		fail_msg("'%s' parsed (%d)", text, r);
	if (soda_error_line(e) != line || soda_error_column(e) != col ||
	    !strstr(soda_error_message(e), words))
		fail_msg("'%s': got %u:%u '%s', expected %u:%u '...%s...'", text,
			 soda_error_line(e), soda_error_column(e), soda_error_message(e), line, col,
			 words);
	assert_string_equal(soda_error_source(e), "pol");
	assert_null(p);
	soda_error_free(e);
}

static void test_parse(void **state)
{
	soda_policy *p;

	(void)state;
	p = parse_ok("# a comment\n"
		     "\n"
		     "allow from group web to server db tcp port 5432   # trailing\r\n"
		     "allow from any to group web tcp port 80,443, 8000-8080\n"
		     "deny  from server web1 to any\n"
		     "allow from 203.0.113.0/24, 2001:db8::/32 to server web1 udp\n"
		     "allow from server a to 198.51.100.7 icmp\n"
		     "allow from server a to server b any");
	assert_int_equal(soda_policy_get_rule_count(p), 6);
	assert_string_equal(soda_policy_get_rule(p, 0),
			    "allow from group web to server db tcp port 5432");
	assert_int_equal(soda_policy_get_rule_line(p, 0), 3);
	assert_string_equal(soda_policy_get_rule(p, 1),
			    "allow from any to group web tcp port 80, 443, 8000-8080");
	assert_string_equal(soda_policy_get_rule(p, 2), "deny from server web1 to any");
	assert_string_equal(soda_policy_get_rule(p, 3),
			    "allow from 203.0.113.0/24, 2001:db8::/32 to server web1 udp");
	assert_string_equal(soda_policy_get_rule(p, 4), "allow from server a to 198.51.100.7 icmp");
	assert_string_equal(soda_policy_get_rule(p, 5), "allow from server a to server b");
	assert_null(soda_policy_get_rule(p, 6));
	assert_non_null(strstr(soda_policy_get_text(p), "# trailing"));
	soda_policy_free(p);

	/* Canonical text parses back to itself. */
	p = parse_ok("allow   from server a,group b to 2001:0db8:0::0/48  tcp port 1-2,3\n");
	{
		soda_policy *q = parse_ok(soda_policy_get_rule(p, 0));

		assert_string_equal(soda_policy_get_rule(q, 0), soda_policy_get_rule(p, 0));
		assert_string_equal(soda_policy_get_rule(q, 0),
				    "allow from server a, group b to 2001:db8::/48 tcp port 1-2, 3");
		soda_policy_free(q);
	}
	soda_policy_free(p);

	/* Empty text, only comments: no rules. */
	p = parse_ok("");
	assert_int_equal(soda_policy_get_rule_count(p), 0);
	soda_policy_free(p);
	p = parse_ok("# nothing\n\n   \t\n# at all");
	assert_int_equal(soda_policy_get_rule_count(p), 0);
	soda_policy_free(p);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("permit from any to any\n", 1, 1, "expected 'allow' or 'deny'");
	parse_fails("allow any to any\n", 1, 7, "expected 'from'");
	parse_fails("\n\nallow from any any\n", 3, 16, "expected ',' or 'to'");
	parse_fails("allow from any to\n", 1, 18, "found the end of the line");
	parse_fails("allow from any to any tcp port\n", 1, 31, "a port or a range");
	parse_fails("allow from any to any tcp port 0\n", 1, 32, "not from 1 to 65535");
	parse_fails("allow from any to any tcp port 65536\n", 1, 32, "not from 1 to 65535");
	parse_fails("allow from any to any udp port 90-80\n", 1, 32, "runs backwards");
	parse_fails("allow from any to any tcp port 80-\n", 1, 35, "port number");
	parse_fails("allow from any to any tcp port 8a\n", 1, 33, "port number");
	parse_fails("allow from any to any icmp port 5\n", 1, 28, "needs the protocol tcp or udp");
	parse_fails("allow from any to any port 5\n", 1, 23, "needs a protocol first");
	parse_fails("allow from any to any sctp\n", 1, 23, "a protocol");
	parse_fails("allow from any to any tcp 80\n", 1, 27, "the end of the line");
	parse_fails("allow from server to any\n", 1, 19, "expected a server name");
	parse_fails("allow from server -x to any\n", 1, 19, "names are letters");
	parse_fails("allow from group a/b to any\n", 1, 19, "has '/' at position 2");
	parse_fails("allow from 198.51.100.7/24 to any\n", 1, 12,
		    "host bits set (did you mean 198.51.100.0/24?)");
	parse_fails("allow from 198.51.100.0/33 to any\n", 1, 25, "prefix length '33'");
	parse_fails("allow from 300.1.1.1 to any\n", 1, 12, "not an IPv4 address");
	parse_fails("allow from 2001:db8::/129 to any\n", 1, 23, "prefix length");
	parse_fails("allow from 2001:zz8:: to any\n", 1, 12, "not an IPv6 address");
	parse_fails("allow from web to any\n", 1, 12, "'any', 'server NAME', 'group NAME'");
	parse_fails("allow from any, to any\n", 1, 17, "'any', 'server NAME'");
	parse_fails("allow from any to any ; rm -rf /\n", 1, 23, "unexpected character ';'");
	parse_fails("allow from any to any\xc3\xa9\n", 1, 22, "unexpected byte 0xc3");
	{
		/* A NUL inside the text is an error where it is, not an end. */
		const char text[] = "allow from any to any\n\0deny from any to any\n";
		soda_policy *p = NULL;
		soda_error *e = NULL;

		assert_int_equal(soda_policy_parse(&p, text, sizeof(text) - 1, NULL, 0, &e), -EINVAL);
		assert_int_equal(soda_error_line(e), 2);
		assert_int_equal(soda_error_column(e), 1);
		assert_string_equal(soda_error_source(e), "policy");
		soda_error_free(e);
	}
	{
		char *big = NULL;
		soda_policy *p = NULL;
		soda_error *e = NULL;

		assert_int_equal(soda_policy_parse(&p, big, (size_t)SU_POLICY_TEXT_MAX + 1, "x", 0, &e),
				 -EINVAL); /* NULL text with a length */
		soda_error_free(e);
		e = NULL;
		big = calloc(1, (size_t)SU_POLICY_TEXT_MAX + 2);
		assert_non_null(big);
		assert_int_equal(soda_policy_parse(&p, big, (size_t)SU_POLICY_TEXT_MAX + 1, "x", 0, &e),
				 -EFBIG);
		soda_error_free(e);
		free(big);
	}
	{
		soda_policy *p = NULL;

		assert_int_equal(soda_policy_parse(&p, "", 0, NULL, 1, NULL), -EINVAL);
	}
}

static void test_resolve(void **state)
{
	char *web[] = { "web", NULL }, *none[] = { NULL };
	const su_dirent dir[] = {
		{ "web1", web, true },
		{ "db", none, true },
		{ "elsewhere", web, false },
	};
	soda_policy *p;
	soda_error *e = NULL;

	(void)state;
	p = parse_ok("allow from group web to server db tcp port 5432\n");
	assert_int_equal(su_policy_resolve(p, dir, 3, "lan", &e), 0);
	soda_policy_free(p);

	p = parse_ok("allow from group web to server db\nallow from server nosuch to any\n");
	assert_int_equal(su_policy_resolve(p, dir, 3, "lan", &e), -ENOENT);
	assert_int_equal(soda_error_line(e), 2);
	assert_int_equal(soda_error_column(e), 19);
	assert_non_null(strstr(soda_error_message(e), "unknown server 'nosuch'"));
	soda_error_free(e);
	e = NULL;
	soda_policy_free(p);

	p = parse_ok("allow from any to server elsewhere\n");
	assert_int_equal(su_policy_resolve(p, dir, 3, "lan", &e), -ENOENT);
	assert_int_equal(soda_error_column(e), 26);
	assert_non_null(strstr(soda_error_message(e), "has no NIC on network 'lan'"));
	soda_error_free(e);
	e = NULL;
	soda_policy_free(p);

	/* A label only servers of other networks carry is no group here. */
	p = parse_ok("allow from any to group db\n");
	assert_int_equal(su_policy_resolve(p, dir, 3, "lan", &e), -ENOENT);
	assert_non_null(strstr(soda_error_message(e), "unknown group 'db'"));
	soda_error_free(e);
	soda_policy_free(p);
}

/* ---- compilation ---- */

static su_port mkport(const char *ifname, const char *server, const char *mac, const char *a1,
		      const char *a2, const char *label)
{
	su_port p = { 0 };

	p.ifname = strdup(ifname);
	p.server = strdup(server);
	p.mac = strdup(mac);
	if (a1)
		su_strv_push(&p.addresses, a1);
	if (a2)
		su_strv_push(&p.addresses, a2);
	if (label)
		su_strv_push(&p.labels, label);
	return p;
}

static const char *golden_policy =
	"allow from group web to server db tcp port 5432\n"
	"allow from any to group web tcp port 80, 443\n"
	"deny from group web to any\n"
	"allow from 203.0.113.0/24 to server db icmp\n"
	"allow from server db to server web1 udp port 1000-2000\n"
	"allow from server db to server web2\n"
	"allow from 2001:db8::/32 to group web tcp port 22\n"
	"allow from server web1 to server db tcp port 5432\n"; /* duplicate of rule 1's key */

static void ports3(su_port p[3])
{
	p[0] = mkport("stweb1", "web1", "02:00:00:00:00:01", "198.51.100.10/24", "2001:db8::10/64",
		      "web");
	p[1] = mkport("stweb2", "web2", "02:00:00:00:00:02", "198.51.100.11/24", NULL, "web");
	p[2] = mkport("stdb", "db", "02:00:00:00:00:03", "198.51.100.20/24", "2001:db8::20/64",
		      NULL);
}

static void test_compile_golden(void **state)
{
	su_port ports[3];
	su_model m;
	soda_policy *p = parse_ok(golden_policy);
	soda_error *e = NULL;
	char *text, path[512], *want;

	(void)state;
	ports3(ports);
	assert_int_equal(su_model_build(&m, p, ports, 3, &e), 0);
	text = su_model_format(&m);
	assert_non_null(text);
	snprintf(path, sizeof(path), "%s/golden/compiled.txt", SODA_TEST_SRCDIR);
	if (getenv("SODA_REGENERATE_GOLDEN")) {
		FILE *f = fopen(path, "we");

		assert_non_null(f);
		fputs(text, f);
		fclose(f);
	}
	want = th_read_file(path);
	assert_non_null(want);
	assert_string_equal(text, want);
	/* The duplicate key is counted for the earlier rule. */
	assert_non_null(strstr(text, "allow4-port 198.51.100.10 . 198.51.100.20 . 6 . 5432 rule 1\n"));
	assert_int_equal(m.n_ports, 3);
	assert_string_equal(m.ports[0].ifname, "stdb"); /* sorted */
	assert_int_equal(m.ports[1].n_ip4, 1);
	assert_int_equal(m.ports[1].n_ip6, 1);
	/* fe80::(02^02):00:00ff:fe00:0001 */
	assert_int_equal(m.ports[1].ll6[0], 0xfe);
	assert_int_equal(m.ports[1].ll6[8], 0x00);
	assert_int_equal(m.ports[1].ll6[11], 0xff);
	assert_int_equal(m.ports[1].ll6[15], 0x01);
	free(text);
	free(want);
	su_model_free(&m);
	soda_policy_free(p);
	for (int i = 0; i < 3; i++)
		su_port_done(&ports[i]);
}

/* A tiny random generator, so runs repeat. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* The decision the policy's text implies for one packet (exact semantics:
 * deny overrides allow), computed directly from the rules. */
static int verdict(const soda_policy *p, uint32_t src, uint32_t dst, int proto, int port,
		   const su_port *ports, size_t n_ports)
{
	int allow = 0;

	for (size_t i = 0; i < p->n_rules; i++) {
		const su_prule *r = &p->rules[i];
		bool s_ok = false, d_ok = false, svc = false;

		for (int side = 0; side < 2; side++) {
			const su_ep *eps = side ? r->dst : r->src;
			size_t n = side ? r->n_dst : r->n_src;
			uint32_t a = side ? dst : src;
			bool ok = false;

			for (size_t j = 0; j < n && !ok; j++) {
				const su_ep *ep = &eps[j];

				if (ep->kind == SU_EP_ANY) {
					ok = true;
				} else if (ep->kind == SU_EP_CIDR && ep->family == AF_INET) {
					uint32_t net, mask = ep->prefix ? ~0u << (32 - ep->prefix) : 0;

					memcpy(&net, ep->addr, 4);
					ok = (a & mask) == (ntohl(net) & mask);
				} else if (ep->kind == SU_EP_SERVER || ep->kind == SU_EP_GROUP) {
					for (size_t k = 0; k < n_ports && !ok; k++) {
						bool match = ep->kind == SU_EP_SERVER
								     ? strcmp(ports[k].server, ep->name) == 0
								     : ports[k].labels &&
									       strcmp(ports[k].labels[0],
										      ep->name) == 0;
						unsigned char x[16];
						int fam;

						if (match &&
						    su_parse_cidr(ports[k].addresses[0], &fam, x, NULL,
								  NULL, NULL) == 0 &&
						    fam == AF_INET) {
							uint32_t v;

							memcpy(&v, x, 4);
							ok = ntohl(v) == a;
						}
					}
				}
			}
			if (side)
				d_ok = ok;
			else
				s_ok = ok;
		}
		if (r->proto == SU_PROTO_ANY)
			svc = true;
		else if (proto == r->proto) {
			svc = !r->n_ports;
			for (size_t k = 0; k < r->n_ports && !svc; k++)
				svc = port >= r->ports[k].lo && port <= r->ports[k].hi;
		}
		if (s_ok && d_ok && svc) {
			if (r->deny)
				return 0;
			allow = 1;
		}
	}
	return allow;
}

static bool in_range(const uint8_t *lo, const uint8_t *hi, uint32_t v)
{
	uint32_t l, h;

	memcpy(&l, lo, 4);
	memcpy(&h, hi, 4);
	return v >= ntohl(l) && v <= ntohl(h);
}

/* What the compiled sets decide, as the kernel's rules walk them. */
static int verdict_compiled(const su_model *m, uint32_t src, uint32_t dst, int proto, int port)
{
	for (int deny = 1; deny >= 0; deny--)
		for (unsigned kind = 0; kind < 4; kind++) {
			unsigned set = SU_NFT_SET(0u, deny, kind);

			for (size_t i = 0; i < m->n_elems; i++) {
				const su_nft_elem *e = &m->elems[i];

				if (e->set != set || !in_range(e->src_lo, e->src_hi, src) ||
				    !in_range(e->dst_lo, e->dst_hi, dst))
					continue;
				if (kind != SU_NFT_KIND_ANY &&
				    (proto < e->proto_lo || proto > e->proto_hi))
					continue;
				if ((kind == SU_NFT_KIND_PORT || kind == SU_NFT_KIND_RANGE) &&
				    (port < e->port_lo || port > e->port_hi))
					continue;
				return !deny;
			}
		}
	return 0;
}

static bool boxes_overlap(const su_nft_elem *a, const su_nft_elem *b)
{
	size_t n = a->set & SU_NFT_SET_V6 ? 16 : 4;

	return a->set == b->set && memcmp(a->src_lo, b->src_hi, n) <= 0 &&
	       memcmp(b->src_lo, a->src_hi, n) <= 0 && memcmp(a->dst_lo, b->dst_hi, n) <= 0 &&
	       memcmp(b->dst_lo, a->dst_hi, n) <= 0 && a->proto_lo <= b->proto_hi &&
	       b->proto_lo <= a->proto_hi && a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

/* Random policies of prefixes, servers and port ranges: the compiled sets
 * decide every sampled packet as the rules say, and the kernel's interval
 * sets get no overlapping elements. */
static void test_compile_random(void **state)
{
	su_port ports[3];
	static const char *eps[] = { "any", "server web1", "server db", "group web",
				     "198.51.100.0/24", "198.51.100.0/25", "198.51.100.10",
				     "198.51.0.0/16", "198.51.100.128/26", "203.0.113.0/24" };
	static const char *svcs[] = { "", " tcp", " udp", " icmp", " tcp port 80", " tcp port 1-100",
				      " udp port 50-60, 70", " tcp port 90-200" };
	uint32_t addrs[] = { 0xc6336400, 0xc633640a, 0xc633640b, 0xc6336414, 0xc6336480,
			     0xc63364c0, 0xc6330001, 0xcb007105, 0x08080808 };
	int protos[] = { 1, 6, 17, 47 }, ports_[] = { 0, 1, 50, 55, 70, 80, 99, 100, 150, 5432 };

	(void)state;
	ports3(ports);
	for (int round = 0; round < 60; round++) {
		char text[4096] = "";
		soda_policy *p;
		su_model m;
		soda_error *e = NULL;
		int n = 1 + (int)(rnd() % 12);

		for (int i = 0; i < n; i++) {
			char line[256];

			snprintf(line, sizeof(line), "%s from %s to %s%s\n",
				 rnd() % 4 == 0 ? "deny" : "allow", eps[rnd() % 10], eps[rnd() % 10],
				 svcs[rnd() % 8]);
			strcat(text, line);
		}
		p = parse_ok(text);
		if (su_model_build(&m, p, ports, 3, &e) < 0)
			fail_msg("compile: %s", soda_error_message(e));
		for (size_t i = 0; i < m.n_elems; i++)
			for (size_t j = i + 1; j < m.n_elems; j++)
				if (SU_NFT_SET_KIND(m.elems[i].set) == SU_NFT_KIND_RANGE &&
				    boxes_overlap(&m.elems[i], &m.elems[j]))
					fail_msg("round %d: overlapping interval elements %zu and %zu in\n%s",
						 round, i, j, text);
		for (size_t s = 0; s < SU_ARRAY_SIZE(addrs); s++)
			for (size_t d = 0; d < SU_ARRAY_SIZE(addrs); d++)
				for (size_t pr = 0; pr < SU_ARRAY_SIZE(protos); pr++)
					for (size_t po = 0; po < SU_ARRAY_SIZE(ports_); po++) {
						int port = protos[pr] == 6 || protos[pr] == 17
								   ? ports_[po]
								   : 0;
						int want = verdict(p, addrs[s], addrs[d], protos[pr], port,
								   ports, 3);
						int got = verdict_compiled(&m, addrs[s], addrs[d],
									   protos[pr], port);

						if (want != got)
							fail_msg("round %d: %08x -> %08x proto %d port %d: "
								 "rules say %d, sets say %d\n%s",
								 round, addrs[s], addrs[d], protos[pr], port,
								 want, got, text);
					}
		su_model_free(&m);
		soda_policy_free(p);
	}
	for (int i = 0; i < 3; i++)
		su_port_done(&ports[i]);
}

/* The same model, element for element and owner for owner, whether built
 * afresh or through a compiler cache that has seen other policies and
 * other ports: random edits (a rule replaced, inserted, deleted, moved, the
 * ports changed) over many rounds. */
static void assert_same_model(const su_model *a, const su_model *b, const char *text)
{
	char *fa, *fb;

	if (a->n_elems != b->n_elems)
		fail_msg("cached build has %zu elements, fresh %zu, for\n%s", b->n_elems,
			 a->n_elems, text);
	assert_memory_equal(a->elems, b->elems, a->n_elems * sizeof(*a->elems));
	assert_memory_equal(a->owner, b->owner, a->n_elems * sizeof(*a->owner));
	assert_memory_equal(a->hash, b->hash, a->n_elems * sizeof(*a->hash));
	fa = su_model_format(a);
	fb = su_model_format(b);
	assert_non_null(fa);
	assert_non_null(fb);
	assert_string_equal(fa, fb);
	free(fa);
	free(fb);
}

static void test_compile_cached(void **state)
{
	static const char *eps[] = { "any", "server web1", "server db", "group web",
				     "198.51.100.0/24", "198.51.100.0/25", "198.51.100.10",
				     "2001:db8::/64", "198.51.100.128/26", "203.0.113.0/24" };
	static const char *svcs[] = { "", " tcp", " udp", " icmp", " tcp port 80", " tcp port 1-100",
				      " udp port 50-60, 70", " tcp port 90-200" };
	char lines[24][160];
	size_t n = 0;
	su_port ports[3];
	su_compile_cache *cc = NULL;
	size_t n_ports = 3;

	(void)state;
	ports3(ports);
	for (int round = 0; round < 300; round++) {
		char text[24 * 160] = "", line[160];
		soda_policy *p;
		su_model fresh, cached;
		int op = (int)(rnd() % 6);

		snprintf(line, sizeof(line), "%s from %s to %s%s\n",
			 rnd() % 4 == 0 ? "deny" : "allow", eps[rnd() % 10], eps[rnd() % 10],
			 svcs[rnd() % 8]);
		if (n == 0 || (op == 0 && n < 24)) {
			size_t at = n ? rnd() % (n + 1) : 0;

			memmove(lines[at + 1], lines[at], (n - at) * sizeof(lines[0]));
			strcpy(lines[at], line);
			n++;
		} else if (op == 1 && n > 1) {
			size_t at = rnd() % n;

			memmove(lines[at], lines[at + 1], (n - at - 1) * sizeof(lines[0]));
			n--;
		} else if (op == 2) {
			strcpy(lines[rnd() % n], line);
		} else if (op == 3 && n > 1) {
			size_t a = rnd() % n, b = rnd() % n;
			char t[160];

			memcpy(t, lines[a], sizeof(t));
			memmove(lines[a], lines[b], sizeof(t));
			memcpy(lines[b], t, sizeof(t));
		} else if (op == 4) {
			/* A server stops or starts: other ports. */
			n_ports = n_ports == 3 ? 2 : 3;
		} else {
			/* The same rule twice: one key, the earlier rule owns it. */
			if (n < 24) {
				char t[160];

				strcpy(t, lines[rnd() % n]);
				strcpy(lines[n++], t);
			}
		}
		for (size_t i = 0; i < n; i++)
			strcat(text, lines[i]);
		p = parse_ok(text);
		assert_int_equal(su_model_build(&fresh, p, ports, n_ports, NULL), 0);
		assert_int_equal(su_model_build_cached(&cached, &cc, p, ports, n_ports, NULL), 0);
		assert_same_model(&fresh, &cached, text);
		su_model_free(&fresh);
		su_model_free(&cached);
		soda_policy_free(p);
	}
	su_compile_cache_free(cc);
	for (int i = 0; i < 3; i++)
		su_port_done(&ports[i]);
}

static void test_diff(void **state)
{
	su_port ports[3];
	su_model a, b;
	su_nft_delta d;
	soda_policy *p1 = parse_ok("allow from group web to server db tcp port 5432\n"
				   "allow from any to group web tcp port 80\n"),
		    *p2 = parse_ok("allow from group web to server db tcp port 5432\n"
				   "allow from any to group web tcp port 81\n");

	(void)state;
	ports3(ports);
	assert_int_equal(su_model_build(&a, p1, ports, 3, NULL), 0);
	/* One port fewer and one rule changed. */
	assert_int_equal(su_model_build(&b, p2, ports, 2, NULL), 0);
	assert_int_equal(su_model_diff(&a, &b, &d), 0);
	assert_int_equal(d.n_port_del, 1);
	assert_string_equal(d.port_del[0].ifname, "stdb");
	assert_int_equal(d.n_port_add, 0);
	/* web1, web2 -> db 5432 (v4) and web1 -> db (v6) go with db; the any
	 * rule's 80 boxes become 81 boxes. */
	assert_true(d.n_elem_del >= 3);
	assert_true(d.n_elem_add >= 1);
	for (size_t i = 0; i < d.n_elem_add; i++)
		assert_int_equal(d.elem_add[i].port_lo, 81);
	su_delta_free(&d);
	/* No change, no delta. */
	assert_int_equal(su_model_diff(&a, &a, &d), 0);
	assert_int_equal(d.n_elem_add + d.n_elem_del + d.n_port_add + d.n_port_del, 0);
	su_delta_free(&d);
	su_model_free(&a);
	su_model_free(&b);
	soda_policy_free(p1);
	soda_policy_free(p2);
	for (int i = 0; i < 3; i++)
		su_port_done(&ports[i]);
}

static void test_record(void **state)
{
	su_netstate st = { 0 }, back;
	su_port ports[3];
	soda_error *e = NULL;
	char *text, *again;

	(void)state;
	ports3(ports);
	st.name = strdup("lan");
	st.bridge = strdup("sb0123456789ab");
	st.table = strdup("soda-0123456789abcdef-lan");
	st.uplink = strdup("veth up");
	st.netns = strdup("/run/netns/x y");
	st.firewall = true;
	st.generation = 42;
	st.flood_rate = 7;
	st.flood_burst = 9;
	st.policy_file = strdup("policy.42");
	st.ports = ports;
	st.n_ports = 3;
	text = su_netstate_serialize(&st);
	assert_non_null(text);
	/* A space in a value is escaped; the uplink check refuses it on read. */
	assert_int_equal(su_netstate_parse(&back, text, strlen(text), "rec", &e), -EINVAL);
	assert_non_null(strstr(soda_error_message(e), "uplink"));
	soda_error_free(e);
	e = NULL;
	free(text);
	free(st.uplink);
	st.uplink = strdup("vethup");
	text = su_netstate_serialize(&st);
	assert_int_equal(su_netstate_parse(&back, text, strlen(text), "rec", &e), 0);
	again = su_netstate_serialize(&back);
	assert_string_equal(text, again);
	assert_string_equal(back.netns, "/run/netns/x y");
	assert_int_equal(back.n_ports, 3);
	assert_string_equal(back.ports[1].labels[0], "web");
	assert_int_equal(back.generation, 42);
	assert_int_equal(back.flood_rate, 7);
	assert_int_equal(back.flood_burst, 9);
	free(again);
	su_netstate_done(&back);
	/* A record from before the broadcast limit gets the default one; a
	 * bad limit names its line. */
	{
		static const char *const bad[] = { "flood-rate -1", "flood-rate 2000000",
						   "flood-burst 1000001", "flood-rate 5x",
						   "flood-rate 1.5" };
		const char *old = "soda-network 1\nname lan\nbridge br\ntable t\n";
		char rec[256];

		assert_int_equal(su_netstate_parse(&back, old, strlen(old), "rec", &e), 0);
		assert_int_equal(back.flood_rate, SU_FLOOD_RATE_DEFAULT);
		assert_int_equal(back.flood_burst, SU_FLOOD_BURST_DEFAULT);
		su_netstate_done(&back);
		snprintf(rec, sizeof(rec), "%sflood-rate 0\nflood-burst 0\n", old);
		assert_int_equal(su_netstate_parse(&back, rec, strlen(rec), "rec", &e), 0);
		assert_int_equal(back.flood_rate, 0);
		su_netstate_done(&back);
		snprintf(rec, sizeof(rec), "%sflood-rate 5\nflood-burst 0\n", old);
		assert_int_equal(su_netstate_parse(&back, rec, strlen(rec), "rec", &e), -EINVAL);
		assert_non_null(strstr(soda_error_message(e), "flood-burst"));
		soda_error_free(e);
		e = NULL;
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(rec, sizeof(rec), "%s%s\n", old, bad[i]);
			assert_int_equal(su_netstate_parse(&back, rec, strlen(rec), "rec", &e),
					 -EINVAL);
			assert_int_equal(soda_error_line(e), 5);
			assert_non_null(strstr(soda_error_message(e), "flood-"));
			soda_error_free(e);
			e = NULL;
		}
	}
	st.ports = NULL;
	st.n_ports = 0;
	su_netstate_done(&st);
	for (int i = 0; i < 3; i++)
		su_port_done(&ports[i]);
	free(text);
}

static void test_names(void **state)
{
	char a[16], b[16], t[16], t2[16], prefix[32];

	(void)state;
	su_net_bridge_name("/var/lib/soda", "lan", a);
	su_net_bridge_name("/var/lib/soda", "lan2", b);
	assert_int_equal(strlen(a), 14);
	assert_string_not_equal(a, b);
	su_net_tap_name("/var/lib/soda", "web1", 0, t);
	su_net_tap_name("/var/lib/soda", "web1", 7, t2);
	assert_int_equal(strlen(t), 14);
	assert_int_equal(t[13], '0');
	assert_int_equal(t2[13], '7');
	assert_memory_equal(t, t2, 13);
	su_net_tap_name("/var/lib/other", "web1", 0, t2);
	assert_string_not_equal(t, t2);
	su_net_table_prefix("/var/lib/soda", prefix);
	assert_int_equal(strlen(prefix), 22);
	assert_true(strncmp(prefix, "soda-", 5) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	       cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_resolve),	       cmocka_unit_test(test_compile_golden),
		cmocka_unit_test(test_compile_random), cmocka_unit_test(test_compile_cached),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_record),	       cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
