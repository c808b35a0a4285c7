/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: addresses and ports of the rule header.
 *
 *   spec := '!' spec | '[' spec (',' spec)* ']' | '$' NAME | 'any' | value
 *
 * A value is an IPv4 or IPv6 address, a CIDR (prefix length or dotted
 * mask), an address range a-b, or a port, N:M, N: or :M. Variables are
 * expanded where they are used (depth limited, so a loop is an error).
 * A list matches what its positive items match (everything when it has
 * none) less what its negated items match, as Suricata computes it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

#define KN_VAR_DEPTH 16

struct hp {
	const char *s;
	size_t i, n;
	const kn_vars *vars;
	char *msg;
	size_t msglen;
	int depth;
	bool port;
};

static int fail(struct hp *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct hp *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->msg, h->msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void skip_ws(struct hp *h)
{
	while (h->i < h->n && isspace((unsigned char)h->s[h->i]))
		h->i++;
}


void kn_addr_list_clear(struct kn_addr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].sub) {
			kn_addr_list_clear(l->items[i].sub);
			free(l->items[i].sub);
		}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void kn_port_list_clear(struct kn_port_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].sub) {
			kn_port_list_clear(l->items[i].sub);
			free(l->items[i].sub);
		}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Appends a zeroed item to a list of either kind. */
static void *push_item(void *list, bool port)
{
	if (port) {
		struct kn_port_list *l = list;
		struct kn_port_item *n = realloc(l->items, (l->n + 1) * sizeof(*n));

		if (!n)
			return NULL;
		l->items = n;
		memset(&n[l->n], 0, sizeof(*n));
		return &n[l->n++];
	} else {
		struct kn_addr_list *l = list;
		struct kn_addr_item *n = realloc(l->items, (l->n + 1) * sizeof(*n));

		if (!n)
			return NULL;
		l->items = n;
		memset(&n[l->n], 0, sizeof(*n));
		return &n[l->n++];
	}
}

static int parse_item(struct hp *h, void *list);

static int parse_ip(const char *text, uint8_t *family, uint8_t out[16])
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		*family = 4;
		memset(out, 0, 16);
		memcpy(out, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		*family = 6;
		memcpy(out, &a6, 16);
		return 0;
	}
	return -EINVAL;
}

static int parse_addr_value(struct hp *h, struct kn_addr_item *it, char *tok)
{
	char *slash = strchr(tok, '/'), *dash = strchr(tok, '-');
	uint8_t fam2, hi[16];
	size_t alen;

	if (slash)
		*slash = '\0';
	else if (dash)
		*dash = '\0';
	if (parse_ip(tok, &it->family, it->lo) < 0)
		return fail(h, "'%s' is not an IP address", tok);
	alen = it->family == 4 ? 4 : 16;
	memcpy(it->hi, it->lo, 16);
	if (slash) {
		char *end;
		long bits;
		uint8_t mask[16] = { 0 };

		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1) {
			/* a dotted netmask (IPv4 only) */
			if (it->family != 4 || parse_ip(slash + 1, &fam2, mask) < 0 || fam2 != 4)
				return fail(h, "bad netmask '%s'", slash + 1);
			bits = 0;
			for (size_t i = 0; i < 4; i++)
				for (int b = 7; b >= 0; b--)
					bits += (mask[i] >> b) & 1;
		} else if (bits < 0 || (size_t)bits > alen * 8) {
			return fail(h, "bad prefix length '/%s'", slash + 1);
		}
		for (size_t i = 0; i < alen; i++) {
			long keep = bits - (long)i * 8;
			uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

			it->lo[i] &= m;
			it->hi[i] = it->lo[i] | (uint8_t)~m;
		}
	} else if (dash) {
		if (parse_ip(dash + 1, &fam2, hi) < 0 || fam2 != it->family)
			return fail(h, "bad address range end '%s'", dash + 1);
		if (memcmp(hi, it->lo, alen) < 0)
			return fail(h, "address range '%s' ends before it starts", tok);
		memcpy(it->hi, hi, 16);
	}
	return 0;
}

static int parse_port_num(struct hp *h, const char *s, uint16_t *ret)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return fail(h, "'%s' is not a port", s);
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 65535)
		return fail(h, "'%s' is not a port", s);
	*ret = (uint16_t)v;
	return 0;
}

static int parse_port_value(struct hp *h, struct kn_port_item *it, char *tok)
{
	char *colon = strchr(tok, ':');
	int r;

	if (!colon) {
		r = parse_port_num(h, tok, &it->lo);
		it->hi = it->lo;
		return r;
	}
	*colon = '\0';
	it->lo = 0;
	it->hi = 65535;
	if (*tok && (r = parse_port_num(h, tok, &it->lo)) < 0)
		return r;
	if (colon[1] && (r = parse_port_num(h, colon + 1, &it->hi)) < 0)
		return r;
	if (!*tok && !colon[1])
		return fail(h, "bad port range '%s'", ":");
	if (it->hi < it->lo)
		return fail(h, "port range '%s' ends before it starts", tok);
	return 0;
}

static int parse_var(struct hp *h, void *list, bool neg)
{
	char name[128];
	size_t k = 0;
	const char *value;
	struct hp sub;
	void *it;
	int r;

	h->i++; /* '$' */
	while (h->i < h->n && (isalnum((unsigned char)h->s[h->i]) || h->s[h->i] == '_' ||
			       h->s[h->i] == '-' || h->s[h->i] == '.')) {
		if (k + 1 >= sizeof(name))
			return fail(h, "variable name too long%s", "");
		name[k++] = h->s[h->i++];
	}
	name[k] = '\0';
	if (!k)
		return fail(h, "'$' without a variable name%s", "");
	value = kn_vars_get(h->vars, name);
	if (!value) {
		fail(h, "undefined variable $%s", name);
		return -ENOENT;
	}
	if (h->depth >= KN_VAR_DEPTH)
		return fail(h, "variables nest too deep (a loop?) at $%s", name);
	it = push_item(list, h->port);
	if (!it)
		return -ENOMEM;
	sub = *h;
	sub.s = value;
	sub.i = 0;
	sub.n = strlen(value);
	sub.depth = h->depth + 1;
	if (h->port) {
		struct kn_port_item *p = it;

		p->neg = neg;
		p->sub = calloc(1, sizeof(*p->sub));
		if (!p->sub)
			return -ENOMEM;
		r = parse_item(&sub, p->sub);
	} else {
		struct kn_addr_item *a = it;

		a->neg = neg;
		a->sub = calloc(1, sizeof(*a->sub));
		if (!a->sub)
			return -ENOMEM;
		r = parse_item(&sub, a->sub);
	}
	if (r < 0)
		return r;
	skip_ws(&sub);
	if (sub.i != sub.n)
		return fail(h, "trailing text in the value of $%s", name);
	return 0;
}

/* Parses one spec into list (appending one item). */
static int parse_item(struct hp *h, void *list)
{
	bool neg = false;
	void *it;
	int r;

	skip_ws(h);
	while (h->i < h->n && h->s[h->i] == '!') {
		neg = !neg;
		h->i++;
		skip_ws(h);
	}
	if (h->i >= h->n)
		return fail(h, "missing %s", h->port ? "port" : "address");
	if (h->s[h->i] == '$')
		return parse_var(h, list, neg);
	if (h->s[h->i] == '[') {
		void *sub;

		if (++h->depth > 64)
			return fail(h, "lists nest too deep%s", "");
		h->i++;
		it = push_item(list, h->port);
		if (!it)
			return -ENOMEM;
		if (h->port) {
			((struct kn_port_item *)it)->neg = neg;
			sub = ((struct kn_port_item *)it)->sub = calloc(1, sizeof(struct kn_port_list));
		} else {
			((struct kn_addr_item *)it)->neg = neg;
			sub = ((struct kn_addr_item *)it)->sub = calloc(1, sizeof(struct kn_addr_list));
		}
		if (!sub)
			return -ENOMEM;
		for (;;) {
			r = parse_item(h, sub);
			if (r < 0)
				return r;
			skip_ws(h);
			if (h->i < h->n && h->s[h->i] == ',') {
				h->i++;
				continue;
			}
			if (h->i < h->n && h->s[h->i] == ']') {
				h->i++;
				break;
			}
			return fail(h, "list not closed with ']'%s", "");
		}
		h->depth--;
		return 0;
	}
	{
		char tok[128];
		size_t k = 0;

		while (h->i < h->n && h->s[h->i] != ',' && h->s[h->i] != ']' &&
		       !isspace((unsigned char)h->s[h->i])) {
			if (k + 1 >= sizeof(tok))
				return fail(h, "value too long%s", "");
			tok[k++] = h->s[h->i++];
		}
		tok[k] = '\0';
		if (!k)
			return fail(h, "missing %s", h->port ? "port" : "address");
		it = push_item(list, h->port);
		if (!it)
			return -ENOMEM;
		if (strcasecmp(tok, "any") == 0) {
			if (neg)
				return fail(h, "'!any' matches nothing%s", "");
			if (h->port)
				((struct kn_port_item *)it)->any = true;
			else
				((struct kn_addr_item *)it)->any = true;
			return 0;
		}
		if (h->port) {
			((struct kn_port_item *)it)->neg = neg;
			return parse_port_value(h, it, tok);
		}
		((struct kn_addr_item *)it)->neg = neg;
		return parse_addr_value(h, it, tok);
	}
}

static int parse_spec(void *list, const char *text, const kn_vars *vars, char *msg,
		      size_t msglen, bool port)
{
	struct hp h = { .s = text, .n = strlen(text), .vars = vars, .msg = msg,
			.msglen = msglen, .port = port };
	int r = parse_item(&h, list);

	if (r == -ENOMEM)
		snprintf(msg, msglen, "out of memory");
	if (r >= 0) {
		skip_ws(&h);
		if (h.i != h.n)
			r = fail(&h, "unexpected '%s'", h.s + h.i);
	}
	if (r < 0) {
		if (port)
			kn_port_list_clear(list);
		else
			kn_addr_list_clear(list);
	}
	return r;
}

int kn_addr_parse(struct kn_addr_list *ret, const char *text, const kn_vars *vars,
		  char *msg, size_t msglen)
{
	memset(ret, 0, sizeof(*ret));
	return parse_spec(ret, text, vars, msg, msglen, false);
}

int kn_port_parse(struct kn_port_list *ret, const char *text, const kn_vars *vars,
		  char *msg, size_t msglen)
{
	memset(ret, 0, sizeof(*ret));
	return parse_spec(ret, text, vars, msg, msglen, true);
}

bool kn_addr_match(const struct kn_addr_list *l, uint8_t family, const uint8_t *addr)
{
	bool any_pos = false, in_pos = false;
	size_t alen = family == 4 ? 4 : 16;

	for (size_t i = 0; i < l->n; i++) {
		const struct kn_addr_item *it = &l->items[i];
		bool m;

		if (it->any)
			m = true;
		else if (it->sub)
			m = kn_addr_match(it->sub, family, addr);
		else
			m = it->family == family && memcmp(addr, it->lo, alen) >= 0 &&
			    memcmp(addr, it->hi, alen) <= 0;
		if (it->neg) {
			if (m)
				return false;
		} else {
			any_pos = true;
			in_pos |= m;
		}
	}
	return !any_pos || in_pos;
}

bool kn_port_match(const struct kn_port_list *l, uint16_t port)
{
	bool any_pos = false, in_pos = false;

	for (size_t i = 0; i < l->n; i++) {
		const struct kn_port_item *it = &l->items[i];
		bool m;

		if (it->any)
			m = true;
		else if (it->sub)
			m = kn_port_match(it->sub, port);
		else
			m = port >= it->lo && port <= it->hi;
		if (it->neg) {
			if (m)
				return false;
		} else {
			any_pos = true;
			in_pos |= m;
		}
	}
	return !any_pos || in_pos;
}

bool kn_port_is_any(const struct kn_port_list *l)
{
	return l->n == 1 && l->items[0].any;
}
