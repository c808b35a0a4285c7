/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy language (docs/policy.md): a lexer, a recursive-descent
 * parser that reports the line and column of the first error, and the
 * check of the names a policy uses.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"

/* ---- tokens ---- */

enum { T_EOF, T_NEWLINE, T_COMMA, T_WORD };

typedef struct tok {
	int type;
	const char *s;
	size_t len;
	uint32_t line, col;
} tok;

typedef struct lexer {
	const char *p, *end;
	uint32_t line, col;
	const char *source;
	soda_error **error;
	tok cur;
} lexer;

static bool word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == ':' || c == '/';
}

static int lex_error(lexer *lx, uint32_t line, uint32_t col, const char *fmt, ...)
	SU_PRINTF(4, 5);
static int lex_error(lexer *lx, uint32_t line, uint32_t col, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int r;

	va_start(ap, fmt);
	msg = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	r = su_errorf_at(lx->error, -EINVAL, lx->source, line, col, "%s:%u:%u: %s", lx->source,
			 line, col, msg ? msg : "syntax error");
	free(msg);
	return r;
}

/* Reads the next token into lx->cur. */
static int next(lexer *lx)
{
	for (;;) {
		unsigned char c;

		if (lx->p >= lx->end) {
			lx->cur = (tok){ T_EOF, lx->p, 0, lx->line, lx->col };
			return 0;
		}
		c = (unsigned char)*lx->p;
		if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
			lx->col++;
			continue;
		}
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n') {
				if (*lx->p == '\0')
					return lex_error(lx, lx->line, lx->col,
							 "NUL byte in a comment");
				lx->p++;
				lx->col++;
			}
			continue;
		}
		if (c == '\n') {
			lx->cur = (tok){ T_NEWLINE, lx->p, 1, lx->line, lx->col };
			lx->p++;
			lx->line++;
			lx->col = 1;
			return 0;
		}
		if (c == ',') {
			lx->cur = (tok){ T_COMMA, lx->p, 1, lx->line, lx->col };
			lx->p++;
			lx->col++;
			return 0;
		}
		if (word_char(c)) {
			const char *s = lx->p;

			while (lx->p < lx->end && word_char((unsigned char)*lx->p))
				lx->p++;
			lx->cur = (tok){ T_WORD, s, (size_t)(lx->p - s), lx->line, lx->col };
			lx->col += (uint32_t)(lx->p - s);
			return 0;
		}
		if (c >= 0x21 && c < 0x7f)
			return lex_error(lx, lx->line, lx->col, "unexpected character '%c'", c);
		return lex_error(lx, lx->line, lx->col, "unexpected byte 0x%02x", c);
	}
}

static bool is(const tok *t, const char *word)
{
	return t->type == T_WORD && t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

/* How a token reads in a message. */
static void describe(const tok *t, char out[64])
{
	switch (t->type) {
	case T_EOF:
		snprintf(out, 64, "the end of the text");
		break;
	case T_NEWLINE:
		snprintf(out, 64, "the end of the line");
		break;
	case T_COMMA:
		snprintf(out, 64, "','");
		break;
	default:
		if (t->len > 40)
			snprintf(out, 64, "'%.40s...'", t->s);
		else
			snprintf(out, 64, "'%.*s'", (int)t->len, t->s);
		break;
	}
}

static int expected(lexer *lx, const char *what)
{
	char found[64];

	describe(&lx->cur, found);
	return lex_error(lx, lx->cur.line, lx->cur.col, "expected %s, found %s", what, found);
}

/* ---- parsing ---- */

static void rule_done(su_prule *r)
{
	for (size_t i = 0; i < r->n_src; i++)
		free(r->src[i].name);
	for (size_t i = 0; i < r->n_dst; i++)
		free(r->dst[i].name);
	free(r->src);
	free(r->dst);
	free(r->ports);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

static int parse_name(lexer *lx, const char *what, char **ret)
{
	const tok *t = &lx->cur;
	char desc[64];

	static const char *const keywords[] = { "allow", "any",  "deny", "from", "group", "icmp",
						"port",	 "server", "tcp", "to",	  "udp" };

	if (t->type != T_WORD)
		return expected(lx, what);
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (is(t, keywords[i]))
			return lex_error(lx, t->line, t->col,
					 "expected %s, found the keyword '%s' (keywords are not "
					 "names)",
					 what, keywords[i]);
	if (t->len > SODA_NAME_MAX)
		return lex_error(lx, t->line, t->col, "%s is %zu bytes long; at most %d are allowed",
				 what, t->len, SODA_NAME_MAX);
	for (size_t i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (i > 0 && (c == '.' || c == '_' || c == '-'));

		if (!ok) {
			describe(t, desc);
			return lex_error(lx, t->line, t->col + (uint32_t)i,
					 "%s %s has '%c' at position %zu; names are letters, digits, "
					 "'.', '_' and '-', starting with a letter or digit",
					 what, desc, c, i + 1);
		}
	}
	*ret = strndup(t->s, t->len);
	return *ret ? 0 : su_errorf(lx->error, -ENOMEM, "out of memory");
}

static int parse_address(lexer *lx, su_ep *ep)
{
	const tok *t = &lx->cur;
	char text[80], host[64];
	const char *slash;
	unsigned char a[16] = { 0 };
	unsigned prefix, max;
	size_t hl;
	int family;

	if (t->len >= sizeof(text))
		return lex_error(lx, t->line, t->col, "address is too long");
	memcpy(text, t->s, t->len);
	text[t->len] = '\0';
	slash = strchr(text, '/');
	hl = slash ? (size_t)(slash - text) : t->len;
	if (hl == 0 || hl >= sizeof(host))
		return lex_error(lx, t->line, t->col, "'%s' is not an address", text);
	memcpy(host, text, hl);
	host[hl] = '\0';
	family = strchr(host, ':') ? AF_INET6 : AF_INET;
	max = family == AF_INET ? 32 : 128;
	if (inet_pton(family, host, a) != 1)
		return lex_error(lx, t->line, t->col, "'%s' is not an IPv%c address", host,
				 family == AF_INET ? '4' : '6');
	prefix = max;
	if (slash) {
		uint64_t v;

		if (su_parse_u64(slash + 1, &v) < 0 || v > max)
			return lex_error(lx, t->line, t->col + (uint32_t)hl + 1,
					 "prefix length '%s' is not a number from 0 to %u", slash + 1,
					 max);
		prefix = (unsigned)v;
	}
	/* Host bits must be clear: "198.51.100.7/24" is more likely a mistake
	 * than a way to write 198.51.100.0/24. */
	for (unsigned bit = prefix; bit < max; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8))) {
			char net[INET6_ADDRSTRLEN];
			unsigned char n[16];

			memcpy(n, a, 16);
			for (unsigned b = prefix; b < max; b++)
				n[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
			inet_ntop(family, n, net, sizeof(net));
			return lex_error(lx, t->line, t->col,
					 "'%s' has host bits set (did you mean %s/%u?)", text, net,
					 prefix);
		}
	ep->kind = SU_EP_CIDR;
	ep->family = family;
	memcpy(ep->addr, a, 16);
	ep->prefix = prefix;
	return 0;
}

static int parse_endpoint(lexer *lx, su_ep *ep)
{
	int r;

	memset(ep, 0, sizeof(*ep));
	ep->line = lx->cur.line;
	ep->col = lx->cur.col;
	if (is(&lx->cur, "any")) {
		ep->kind = SU_EP_ANY;
		return next(lx);
	}
	if (is(&lx->cur, "server") || is(&lx->cur, "group")) {
		bool server = is(&lx->cur, "server");

		r = next(lx);
		if (r < 0)
			return r;
		ep->line = lx->cur.line;
		ep->col = lx->cur.col;
		r = parse_name(lx, server ? "a server name" : "a group name", &ep->name);
		if (r < 0)
			return r;
		ep->kind = server ? SU_EP_SERVER : SU_EP_GROUP;
		return next(lx);
	}
	if (lx->cur.type == T_WORD && lx->cur.len > 0 &&
	    (memchr(lx->cur.s, ':', lx->cur.len) ||
	     (lx->cur.s[0] >= '0' && lx->cur.s[0] <= '9'))) {
		r = parse_address(lx, ep);
		return r < 0 ? r : next(lx);
	}
	return expected(lx, "'any', 'server NAME', 'group NAME' or an address");
}

static int parse_endpoints(lexer *lx, su_ep **ret, size_t *ret_n)
{
	su_ep *eps = NULL;
	size_t n = 0;
	int r;

	for (;;) {
		su_ep *e;

		if (n >= SU_POLICY_LIST_MAX) {
			r = lex_error(lx, lx->cur.line, lx->cur.col, "more than %u endpoints",
				      SU_POLICY_LIST_MAX);
			goto fail;
		}
		e = realloc(eps, (n + 1) * sizeof(*e));
		if (!e) {
			r = su_errorf(lx->error, -ENOMEM, "out of memory");
			goto fail;
		}
		eps = e;
		r = parse_endpoint(lx, &eps[n]);
		if (r < 0) {
			free(eps[n].name);
			goto fail;
		}
		n++;
		if (lx->cur.type != T_COMMA)
			break;
		r = next(lx);
		if (r < 0)
			goto fail;
	}
	*ret = eps;
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(eps[i].name);
	free(eps);
	return r;
}

static int parse_port_number(lexer *lx, const char *s, size_t len, uint32_t col, uint16_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 5)
		return lex_error(lx, lx->cur.line, col, "expected a port number from 1 to 65535");
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return lex_error(lx, lx->cur.line, col + (uint32_t)i,
					 "expected a port number from 1 to 65535");
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return lex_error(lx, lx->cur.line, col, "port %.*s is not from 1 to 65535",
				 (int)len, s);
	*ret = (uint16_t)v;
	return 0;
}

static int parse_ports(lexer *lx, su_prule *rule)
{
	int r;

	for (;;) {
		const tok t = lx->cur;
		const char *dash;
		su_prange pr, *p;

		if (t.type != T_WORD)
			return expected(lx, "a port or a range like 8000-8080");
		dash = memchr(t.s, '-', t.len);
		r = parse_port_number(lx, t.s, dash ? (size_t)(dash - t.s) : t.len, t.col, &pr.lo);
		if (r < 0)
			return r;
		pr.hi = pr.lo;
		if (dash) {
			r = parse_port_number(lx, dash + 1, t.len - (size_t)(dash - t.s) - 1,
					      t.col + (uint32_t)(dash - t.s) + 1, &pr.hi);
			if (r < 0)
				return r;
			if (pr.hi < pr.lo)
				return lex_error(lx, t.line, t.col,
						 "port range %.*s runs backwards", (int)t.len, t.s);
		}
		if (rule->n_ports >= SU_POLICY_LIST_MAX)
			return lex_error(lx, t.line, t.col, "more than %u port ranges",
					 SU_POLICY_LIST_MAX);
		p = realloc(rule->ports, (rule->n_ports + 1) * sizeof(*p));
		if (!p)
			return su_errorf(lx->error, -ENOMEM, "out of memory");
		rule->ports = p;
		p[rule->n_ports++] = pr;
		r = next(lx);
		if (r < 0)
			return r;
		if (lx->cur.type != T_COMMA)
			return 0;
		r = next(lx);
		if (r < 0)
			return r;
	}
}

static void format_ep(su_buf *b, const su_ep *e)
{
	char text[INET6_ADDRSTRLEN];

	switch (e->kind) {
	case SU_EP_ANY:
		su_buf_puts(b, "any");
		break;
	case SU_EP_SERVER:
		su_buf_printf(b, "server %s", e->name);
		break;
	case SU_EP_GROUP:
		su_buf_printf(b, "group %s", e->name);
		break;
	default:
		inet_ntop(e->family, e->addr, text, sizeof(text));
		if (e->prefix == (e->family == AF_INET ? 32u : 128u))
			su_buf_puts(b, text);
		else
			su_buf_printf(b, "%s/%u", text, e->prefix);
		break;
	}
}

static char *format_rule(const su_prule *r)
{
	su_buf b = { 0 };

	su_buf_puts(&b, r->deny ? "deny from " : "allow from ");
	for (size_t i = 0; i < r->n_src; i++) {
		if (i)
			su_buf_puts(&b, ", ");
		format_ep(&b, &r->src[i]);
	}
	su_buf_puts(&b, " to ");
	for (size_t i = 0; i < r->n_dst; i++) {
		if (i)
			su_buf_puts(&b, ", ");
		format_ep(&b, &r->dst[i]);
	}
	switch (r->proto) {
	case SU_PROTO_TCP:
		su_buf_puts(&b, " tcp");
		break;
	case SU_PROTO_UDP:
		su_buf_puts(&b, " udp");
		break;
	case SU_PROTO_ICMP:
		su_buf_puts(&b, " icmp");
		break;
	default:
		break;
	}
	for (size_t i = 0; i < r->n_ports; i++) {
		su_buf_puts(&b, i ? ", " : " port ");
		if (r->ports[i].lo == r->ports[i].hi)
			su_buf_printf(&b, "%u", r->ports[i].lo);
		else
			su_buf_printf(&b, "%u-%u", r->ports[i].lo, r->ports[i].hi);
	}
	return su_buf_steal(&b);
}

static int parse_rule(lexer *lx, su_prule *rule)
{
	int r;

	memset(rule, 0, sizeof(*rule));
	rule->line = lx->cur.line;
	rule->col = lx->cur.col;
	if (is(&lx->cur, "allow"))
		rule->deny = false;
	else if (is(&lx->cur, "deny"))
		rule->deny = true;
	else
		return expected(lx, "'allow' or 'deny'");
	r = next(lx);
	if (r < 0)
		return r;
	if (!is(&lx->cur, "from"))
		return expected(lx, "'from'");
	r = next(lx);
	if (r < 0)
		return r;
	r = parse_endpoints(lx, &rule->src, &rule->n_src);
	if (r < 0)
		return r;
	if (!is(&lx->cur, "to"))
		return expected(lx, "',' or 'to'");
	r = next(lx);
	if (r < 0)
		return r;
	r = parse_endpoints(lx, &rule->dst, &rule->n_dst);
	if (r < 0)
		return r;
	rule->proto = SU_PROTO_ANY;
	if (is(&lx->cur, "tcp") || is(&lx->cur, "udp")) {
		rule->proto = is(&lx->cur, "tcp") ? SU_PROTO_TCP : SU_PROTO_UDP;
		r = next(lx);
		if (r < 0)
			return r;
		if (is(&lx->cur, "port")) {
			r = next(lx);
			if (r < 0)
				return r;
			r = parse_ports(lx, rule);
			if (r < 0)
				return r;
		}
	} else if (is(&lx->cur, "icmp") || is(&lx->cur, "any")) {
		rule->proto = is(&lx->cur, "icmp") ? SU_PROTO_ICMP : SU_PROTO_ANY;
		r = next(lx);
		if (r < 0)
			return r;
		if (is(&lx->cur, "port"))
			return lex_error(lx, lx->cur.line, lx->cur.col,
					 "'port' needs the protocol tcp or udp");
	} else if (is(&lx->cur, "port")) {
		return lex_error(lx, lx->cur.line, lx->cur.col,
				 "'port' needs a protocol first: tcp or udp");
	}
	if (lx->cur.type != T_NEWLINE && lx->cur.type != T_EOF)
		return expected(lx, rule->proto == SU_PROTO_ANY && !rule->n_ports
					    ? "',', a protocol (tcp, udp, icmp, any) or the end of the line"
					    : "the end of the line");
	rule->text = format_rule(rule);
	if (!rule->text)
		return su_errorf(lx->error, -ENOMEM, "out of memory");
	rule->hash = su_text_hash(rule->text);
	return 0;
}

soda_policy *su_policy_ref(soda_policy *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

SODA_EXPORT void soda_policy_free(soda_policy *p)
{
	if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < p->n_rules; i++)
		rule_done(&p->rules[i]);
	free(p->rules);
	free(p->text);
	free(p->source);
	free(p);
}

SODA_EXPORT int soda_policy_parse(soda_policy **ret, const char *text, size_t len,
				  const char *source, unsigned int flags, soda_error **error)
{
	soda_policy *p;
	lexer lx;
	size_t cap = 0;
	int r;

	if (!ret || (!text && len))
		return su_errorf(error, -EINVAL, "ret or text is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!source)
		source = "policy";
	if (len > SU_POLICY_TEXT_MAX)
		return su_errorf(error, -EFBIG, "%s: %zu bytes of policy; at most %u are allowed",
				 source, len, SU_POLICY_TEXT_MAX);
	p = calloc(1, sizeof(*p));
	if (p)
		p->refs = 1;
	if (!p || !(p->source = strdup(source)) || !(p->text = malloc(len + 1))) {
		soda_policy_free(p);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	if (len)
		memcpy(p->text, text, len);
	p->text[len] = '\0';
	p->len = len;
	lx = (lexer){ p->text, p->text + len, 1, 1, p->source, error, { 0 } };
	r = next(&lx);
	while (r == 0 && lx.cur.type != T_EOF) {
		if (lx.cur.type == T_NEWLINE) {
			r = next(&lx);
			continue;
		}
		if (p->n_rules >= SU_POLICY_RULES_MAX) {
			r = lex_error(&lx, lx.cur.line, lx.cur.col, "more than %u rules",
				      SU_POLICY_RULES_MAX);
			break;
		}
		if (p->n_rules == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			su_prule *nr = realloc(p->rules, ncap * sizeof(*nr));

			if (!nr) {
				r = su_errorf(error, -ENOMEM, "out of memory");
				break;
			}
			p->rules = nr;
			cap = ncap;
		}
		r = parse_rule(&lx, &p->rules[p->n_rules]);
		if (r < 0) {
			rule_done(&p->rules[p->n_rules]);
			break;
		}
		p->n_rules++;
	}
	if (r < 0) {
		soda_policy_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

SODA_EXPORT size_t soda_policy_get_rule_count(const soda_policy *p)
{
	return p ? p->n_rules : 0;
}

SODA_EXPORT const char *soda_policy_get_rule(const soda_policy *p, size_t index)
{
	return p && index < p->n_rules ? p->rules[index].text : NULL;
}

SODA_EXPORT uint32_t soda_policy_get_rule_line(const soda_policy *p, size_t index)
{
	return p && index < p->n_rules ? p->rules[index].line : 0;
}

SODA_EXPORT const char *soda_policy_get_text(const soda_policy *p)
{
	return p ? p->text : NULL;
}

/* ---- names ---- */

static const su_dirent *find_server(const su_dirent *s, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

static bool group_exists(const su_dirent *s, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++) {
		if (!s[i].on_network)
			continue;
		for (size_t j = 0; s[i].labels && s[i].labels[j]; j++)
			if (strcmp(s[i].labels[j], label) == 0)
				return true;
	}
	return false;
}

static int resolve_ep(const soda_policy *p, const su_ep *e, const su_dirent *s, size_t n,
		      const char *network, soda_error **error)
{
	if (e->kind == SU_EP_SERVER) {
		const su_dirent *d = find_server(s, n, e->name);

		if (!d)
			return su_errorf_at(error, -ENOENT, p->source, e->line, e->col,
					    "%s:%u:%u: unknown server '%s'", p->source, e->line,
					    e->col, e->name);
		if (!d->on_network)
			return su_errorf_at(error, -ENOENT, p->source, e->line, e->col,
					    "%s:%u:%u: server '%s' has no NIC on network '%s'",
					    p->source, e->line, e->col, e->name, network);
	} else if (e->kind == SU_EP_GROUP && !group_exists(s, n, e->name)) {
		return su_errorf_at(error, -ENOENT, p->source, e->line, e->col,
				    "%s:%u:%u: unknown group '%s' (no server on network '%s' has "
				    "this label)",
				    p->source, e->line, e->col, e->name, network);
	}
	return 0;
}

int su_policy_resolve(const soda_policy *p, const su_dirent *servers, size_t n,
		      const char *network, soda_error **error)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		const su_prule *r = &p->rules[i];

		for (size_t j = 0; j < r->n_src; j++) {
			int k = resolve_ep(p, &r->src[j], servers, n, network, error);

			if (k < 0)
				return k;
		}
		for (size_t j = 0; j < r->n_dst; j++) {
			int k = resolve_ep(p, &r->dst[j], servers, n, network, error);

			if (k < 0)
				return k;
		}
	}
	return 0;
}
