/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the policy language. Whatever the bytes, parsing either
 * fails with a line and column or gives rules whose canonical text parses
 * back to itself; a parsed policy compiles (against three fixed ports)
 * without crashing, compiling twice gives the same elements, and so does
 * compiling through a cache that lives across inputs (so it holds the
 * rules of earlier policies, and of other ports every few inputs).
 */
#include <stdlib.h>
#include <string.h>

#include "libsoda/network/net.h"

static su_port mkport(const char *ifname, const char *server, const char *mac, const char *a1,
		      const char *a2, const char *label)
{
	su_port p = { 0 };

	p.ifname = (char *)ifname;
	p.server = (char *)server;
	p.mac = (char *)mac;
	p.addresses = calloc(3, sizeof(char *));
	p.addresses[0] = (char *)a1;
	p.addresses[1] = (char *)a2;
	p.labels = calloc(2, sizeof(char *));
	p.labels[0] = (char *)label;
	return p;
}

static su_compile_cache *cache;
static unsigned inputs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n_ports = ++inputs % 4 == 0 ? 2 : 3;
	soda_policy *p = NULL;
	soda_error *e = NULL;
	su_port ports[3];
	su_model a, b;

	if (soda_policy_parse(&p, (const char *)data, size, "fuzz", 0, &e) < 0) {
		/* Errors always point into the text. */
		if (soda_error_code(e) == -EINVAL && soda_error_line(e) == 0)
			abort();
		soda_error_free(e);
		return 0;
	}
	for (size_t i = 0; i < soda_policy_get_rule_count(p); i++) {
		const char *text = soda_policy_get_rule(p, i);
		soda_policy *q = NULL;

		if (soda_policy_parse(&q, text, strlen(text), "again", 0, NULL) < 0 ||
		    soda_policy_get_rule_count(q) != 1 ||
		    strcmp(soda_policy_get_rule(q, 0), text) != 0)
			abort();
		soda_policy_free(q);
	}
	ports[0] = mkport("st1", "web1", "02:00:00:00:00:01", "198.51.100.10/24", "2001:db8::10/64", "web");
	ports[1] = mkport("st2", "web2", "02:00:00:00:00:02", "198.51.100.11/24", NULL, "web");
	ports[2] = mkport("st3", "db", "02:00:00:00:00:03", "198.51.100.20/24", NULL, "db");
	if (su_model_build(&a, p, ports, n_ports, NULL) == 0) {
		char *t1 = su_model_format(&a), *t2;

		if (su_model_build_cached(&b, &cache, p, ports, n_ports, NULL) != 0)
			abort();
		t2 = su_model_format(&b);
		if (!t1 || !t2 || strcmp(t1, t2) != 0 || a.n_elems != b.n_elems ||
		    (a.n_elems && (memcmp(a.elems, b.elems, a.n_elems * sizeof(*a.elems)) != 0 ||
				   memcmp(a.owner, b.owner, a.n_elems * sizeof(*a.owner)) != 0)))
			abort();
		free(t1);
		free(t2);
		su_model_free(&a);
		su_model_free(&b);
	}
	for (int i = 0; i < 3; i++) {
		free(ports[i].addresses);
		free(ports[i].labels);
	}
	soda_policy_free(p);
	return 0;
}
