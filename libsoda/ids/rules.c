/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: one rule, text to struct kn_rule.
 *
 *   action proto src sport dir dst dport (keyword[:value]; ...)
 *
 * The supported subset of Snort 2 / Suricata (docs/ids.md) and its
 * semantics follow Suricata's documentation. A keyword outside the subset
 * refuses the rule naming the keyword, or with KN_LOAD_SKIP_UNSUPPORTED
 * skips it with a warning naming its sid. Every error names the source,
 * the line and column of the keyword (or header field) and the keyword.
 * Content modifiers bind to the content before them.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "events.h"
#include "rule.h"
#include "../util.h"

#define KN_MAX_OFFSET 1048576
/* Payload keywords per rule: inspection recurses once per keyword, so this
 * bounds its stack (the engine runs in the guest agent). */
#define KN_MAX_OPS 128

struct pstate {
	const struct kn_parse_ctx *ctx;
	const char *text;
	size_t len;
	const struct kn_srcpos *pos;
	soda_error **error;
	struct kn_rule *r;
	int last_content;           /* index in ops, -1 none */
	char unsupported[64];       /* the first keyword outside the subset */
	size_t unsup_at;            /* where it is */
	bool have_sid, have_fp, have_threshold, have_filter;
	char vars[KN_MAX_BYTE_VARS][32];  /* byte_extract names */
	size_t n_vars;
	const char *kw;             /* the keyword being parsed */
	uint8_t field;              /* event rules: the field keyword in force + 1 */
	size_t kw_at;               /* its offset in text */
};

static int perr(struct pstate *s, size_t at, const char *fmt, ...) SU_PRINTF(3, 4);

/* "source:line:col: keyword 'kw': message" */
static int perr(struct pstate *s, size_t at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct kn_srcpos p = { 0, 0 };

	if (at >= s->len && s->len)
		at = s->len - 1;
	if (s->len)
		p = s->pos[at];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->kw)
		return su_errorf_at(s->error, -EINVAL, s->ctx->source, p.line, p.col,
				    "%s:%" PRIu32 ":%" PRIu32 ": keyword '%s': %s", s->ctx->source,
				    p.line, p.col, s->kw, msg);
	return su_errorf_at(s->error, -EINVAL, s->ctx->source, p.line, p.col,
			    "%s:%" PRIu32 ":%" PRIu32 ": %s", s->ctx->source, p.line, p.col, msg);
}

static int oom(struct pstate *s)
{
	if (s->r && s->r->n_ops >= KN_MAX_OPS)
		return perr(s, s->kw_at, "more than %d payload keywords in one rule", KN_MAX_OPS);
	return su_errorf(s->error, -ENOMEM, "out of memory");
}

uint64_t kn_flowbit_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

/* ---- small parsers over a NUL-terminated value ---- */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *ret)
{
	char *end;
	long long v;

	s = s ? s : "";
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 0);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || v < lo || v > hi)
		return false;
	*ret = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t hi, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	s = s ? s : "";
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || v > hi)
		return false;
	*ret = v;
	return true;
}

/* Splits v at commas (in place) into at most max trimmed fields. */
static size_t split(char *v, char **out, size_t max)
{
	size_t n = 0;

	for (char *p = v; n < max; ) {
		/* the last field keeps any further commas: callers refuse it */
		char *c = n + 1 < max ? strchr(p, ',') : NULL;

		if (c)
			*c = '\0';
		out[n++] = trim(p);
		if (!c)
			break;
		p = c + 1;
	}
	return n;
}

/* Integer comparisons: N, =N, !N, <N, <=N, >N, >=N, N<>M, N-M (ranges
 * exclusive, as Suricata's integer keywords). */
static int parse_intcmp(struct pstate *s, char *v, uint64_t max, struct kn_intcmp *c)
{
	char *p = trim(v), *sep;
	uint64_t a, b;

	memset(c, 0, sizeof(*c));
	if ((sep = strstr(p, "<>")) || (isdigit((unsigned char)*p) && (sep = strchr(p + 1, '-')))) {
		size_t w = sep[0] == '<' ? 2 : 1;

		sep[0] = '\0';
		if (!parse_u64(p, max, &a) || !parse_u64(sep + w, max, &b))
			return perr(s, s->kw_at, "bad range '%s'", v);
		if (a >= b)
			return perr(s, s->kw_at, "empty range (%" PRIu64 " to %" PRIu64 ")", a, b);
		c->op = KN_RANGE;
		c->a = a;
		c->b = b;
		return 0;
	}
	if (p[0] == '<' && p[1] == '=') {
		c->op = KN_LE;
		p += 2;
	} else if (p[0] == '>' && p[1] == '=') {
		c->op = KN_GE;
		p += 2;
	} else if (p[0] == '<') {
		c->op = KN_LT;
		p++;
	} else if (p[0] == '>') {
		c->op = KN_GT;
		p++;
	} else if (p[0] == '!') {
		c->op = KN_NE;
		p++;
		if (*p == '=')
			p++;
	} else {
		c->op = KN_EQ;
		if (*p == '=')
			p++;
	}
	if (!parse_u64(p, max, &a))
		return perr(s, s->kw_at, "'%s' is not a number from 0 to %" PRIu64, v, max);
	c->a = a;
	return 0;
}

/* ---- content ---- */

static struct kn_op *push_op(struct pstate *s, enum kn_op_type t)
{
	struct kn_op *n;

	if (s->r->n_ops >= KN_MAX_OPS) {
		errno = E2BIG;
		return NULL;
	}
	n = realloc(s->r->ops, (s->r->n_ops + 1) * sizeof(*n));

	if (!n)
		return NULL;
	s->r->ops = n;
	memset(&n[s->r->n_ops], 0, sizeof(*n));
	n[s->r->n_ops].type = t;
	n[s->r->n_ops].field = s->field;
	return &n[s->r->n_ops++];
}

/* A quoted string with \" \; \\ \: \| \, \# escapes and |hex| runs
 * (content: hex is true). For msg (hex false) a backslash just keeps the
 * character after it, as Suricata reads messages. */
static int parse_bytes(struct pstate *s, char *v, bool hex, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(v), k = 0;
	uint8_t *out;
	bool in_hex = false;

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		v++;
		n -= 2;
	} else if (v[0] == '"') {
		return perr(s, s->kw_at, "unterminated string");
	}
	out = malloc(n + 1);
	if (!out)
		return oom(s);
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (in_hex) {
			int h1, h2;

			if (c == '|') {
				in_hex = false;
				continue;
			}
			if (isspace((unsigned char)c))
				continue;
			h1 = su_hexval(c);
			h2 = i + 1 < n ? su_hexval(v[i + 1]) : -1;
			if (h1 < 0 || h2 < 0) {
				free(out);
				return perr(s, s->kw_at, "bad hex byte at '%.8s'", v + i);
			}
			out[k++] = (uint8_t)(h1 << 4 | h2);
			i++;
			continue;
		}
		if (c == '|' && hex) {
			in_hex = true;
			continue;
		}
		if (c == '\\') {
			char e = i + 1 < n ? v[i + 1] : '\0';

			if (hex && e != '"' && e != ';' && e != '\\' && e != ':' && e != '|' &&
			    e != ',' && e != '#') {
				free(out);
				return perr(s, s->kw_at, "bad escape '\\%c' (only \\\" \\; \\\\ \\: "
					    "\\| \\, \\#)", e ? e : ' ');
			}
			if (!e)
				break; /* a trailing backslash (msg) */
			out[k++] = (uint8_t)e;
			i++;
			continue;
		}
		if (c == '"') {
			free(out);
			return perr(s, s->kw_at, "unescaped '\"' inside the string");
		}
		out[k++] = (uint8_t)c;
	}
	if (in_hex) {
		free(out);
		return perr(s, s->kw_at, "hex run not closed with '|'");
	}
	*ret = out;
	*ret_len = k;
	return 0;
}

static int kw_content(struct pstate *s, char *v)
{
	struct kn_op *op;
	bool neg = false;
	uint8_t *pat;
	size_t len;
	int r;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	v = trim(v);
	if (*v == '!') {
		neg = true;
		v = trim(v + 1);
	}
	r = parse_bytes(s, v, true, &pat, &len);
	if (r < 0)
		return r;
	if (!len) {
		free(pat);
		return perr(s, s->kw_at, "empty content");
	}
	op = push_op(s, KN_OP_CONTENT);
	if (!op) {
		free(pat);
		return oom(s);
	}
	op->u.c.pat = pat;
	op->u.c.len = len;
	op->u.c.flags = neg ? KN_C_NEGATED : 0;
	s->last_content = (int)(s->r->n_ops - 1);
	return 0;
}

static struct kn_content *last_content(struct pstate *s)
{
	if (s->last_content < 0) {
		perr(s, s->kw_at, "no content before it to modify");
		return NULL;
	}
	return &s->r->ops[s->last_content].u.c;
}

/* A byte_extract variable of this rule: its index + 1, or 0. */
static uint8_t var_ref(struct pstate *s, const char *name)
{
	for (size_t i = 0; i < s->n_vars; i++)
		if (strcmp(s->vars[i], name) == 0)
			return (uint8_t)(i + 1);
	return 0;
}

/* A number in [lo, hi], or (when var is given) a byte_extract variable. */
static int num_or_var(struct pstate *s, const char *what, char *v, int64_t lo, int64_t hi,
		      int64_t *ret, uint8_t *var)
{
	char *t = trim(v ? v : (char *)"");

	if (var)
		*var = 0;
	if (parse_i64(t, lo, hi, ret))
		return 0;
	if (isalpha((unsigned char)*t) || *t == '_') {
		uint8_t ref = var ? var_ref(s, t) : 0;

		if (ref) {
			*var = ref;
			*ret = 0;
			return 0;
		}
		return perr(s, s->kw_at, "%s '%s' is neither a number nor a byte_extract variable "
			    "of this rule", what, t);
	}
	return perr(s, s->kw_at, "%s '%s' is not a number from %" PRId64 " to %" PRId64, what, t,
		    lo, hi);
}

static int kw_modifier(struct pstate *s, char *v)
{
	struct kn_content *c = last_content(s);
	const char *kw = s->kw;
	int64_t n;
	int r;

	if (!c)
		return -EINVAL;
	if (strcmp(kw, "nocase") == 0) {
		c->flags |= KN_C_NOCASE;
		return 0;
	}
	if (strcmp(kw, "rawbytes") == 0) {
		c->flags |= KN_C_RAWBYTES;
		return 0;
	}
	if (strcmp(kw, "startswith") == 0 || strcmp(kw, "endswith") == 0) {
		bool start = kw[0] == 's';

		if (c->flags & (KN_C_OFFSET | KN_C_DEPTH | KN_C_DISTANCE | KN_C_WITHIN) && start)
			return perr(s, s->kw_at, "cannot be mixed with depth, offset, distance or within");
		if (c->flags & KN_C_NEGATED && !start)
			return perr(s, s->kw_at, "cannot modify a negated content");
		c->flags |= start ? KN_C_STARTSWITH : KN_C_ENDSWITH;
		if (start) {
			c->flags |= KN_C_OFFSET | KN_C_DEPTH;
			c->offset = 0;
			c->depth = (int32_t)c->len;
		}
		return 0;
	}
	if (strcmp(kw, "offset") == 0 || strcmp(kw, "depth") == 0) {
		bool depth = kw[0] == 'd';

		if (c->flags & (KN_C_DISTANCE | KN_C_WITHIN))
			return perr(s, s->kw_at, "cannot mix the absolute %s with a relative "
				    "distance or within on one content", kw);
		if (c->flags & KN_C_STARTSWITH)
			return perr(s, s->kw_at, "cannot be mixed with startswith");
		if (c->flags & (depth ? KN_C_DEPTH : KN_C_OFFSET))
			return perr(s, s->kw_at, "given twice for one content");
		if (!v)
			return perr(s, s->kw_at, "needs a number");
		r = num_or_var(s, "value", v, depth ? 1 : 0, KN_MAX_OFFSET, &n,
			       depth ? &c->v_depth : &c->v_offset);
		if (r < 0)
			return r;
		if (depth && !c->v_depth && (size_t)n < c->len)
			return perr(s, s->kw_at, "depth %" PRId64 " is smaller than the content (%zu bytes)",
				    n, c->len);
		if (depth) {
			c->depth = (int32_t)n;
			c->flags |= KN_C_DEPTH;
		} else {
			c->offset = (int32_t)n;
			c->flags |= KN_C_OFFSET;
		}
		return 0;
	}
	if (strcmp(kw, "distance") == 0 || strcmp(kw, "within") == 0) {
		bool within = kw[0] == 'w';
		struct kn_op *op = &s->r->ops[s->last_content];

		if (c->flags & (KN_C_OFFSET | KN_C_DEPTH))
			return perr(s, s->kw_at, "cannot mix the relative %s with an absolute "
				    "offset or depth on one content", kw);
		if (c->flags & (within ? KN_C_WITHIN : KN_C_DISTANCE))
			return perr(s, s->kw_at, "given twice for one content");
		if (!v)
			return perr(s, s->kw_at, "needs a number");
		r = num_or_var(s, "value", v, within ? 1 : -KN_MAX_OFFSET, KN_MAX_OFFSET, &n,
			       within ? &c->v_within : &c->v_distance);
		if (r < 0)
			return r;
		if (within && !c->v_within && (size_t)n < c->len)
			return perr(s, s->kw_at, "within %" PRId64 " is smaller than the content (%zu bytes)",
				    n, c->len);
		if (within) {
			c->within = (int32_t)n;
			c->flags |= KN_C_WITHIN;
		} else {
			c->distance = (int32_t)n;
			c->flags |= KN_C_DISTANCE;
		}
		op->relative = true;
		return 0;
	}
	if (strcmp(kw, "fast_pattern") == 0) {
		if (s->have_fp)
			return perr(s, s->kw_at, "only one fast_pattern per rule");
		s->have_fp = true;
		c->flags |= KN_C_FAST;
		if (!v)
			return 0;
		v = trim(v);
		if (strcmp(v, "only") == 0) {
			if (c->flags & KN_C_NEGATED)
				return perr(s, s->kw_at, "'only' cannot be used on a negated content");
			c->flags |= KN_C_FAST_ONLY;
			return 0;
		}
		{
			char *f[3];
			int64_t o, l;

			if (split(v, f, 3) != 2 || !parse_i64(f[0], 0, 65535, &o) ||
			    !parse_i64(f[1], 1, 65535, &l))
				return perr(s, s->kw_at, "value must be 'only' or '<offset>,<length>'");
			if ((size_t)(o + l) > c->len)
				return perr(s, s->kw_at, "%" PRId64 ",%" PRId64 " reaches past the content "
					    "(%zu bytes)", o, l, c->len);
			c->flags |= KN_C_FAST_CHOP;
			c->fp_off = (uint32_t)o;
			c->fp_len = (uint32_t)l;
		}
		return 0;
	}
	return perr(s, s->kw_at, "internal: unknown modifier");
}

/* ---- pcre ---- */

static int kw_pcre(struct pstate *s, char *v)
{
	struct kn_op *op;
	uint32_t opts = 0, flags = 0;
	char *end, *re;
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *code;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	v = trim(v);
	if (*v == '!') {
		flags |= KN_PCRE_NEGATED;
		v = trim(v + 1);
	}
	if (*v != '"' || strlen(v) < 2 || v[strlen(v) - 1] != '"')
		return perr(s, s->kw_at, "the expression must be quoted: \"/re/flags\"");
	v[strlen(v) - 1] = '\0';
	v++;
	if (*v != '/')
		return perr(s, s->kw_at, "the expression must start with '/'");
	end = strrchr(v, '/');
	if (end == v)
		return perr(s, s->kw_at, "the expression has no closing '/'");
	*end = '\0';
	re = v + 1;
	for (char *f = end + 1; *f; f++) {
		switch (*f) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'A': opts |= PCRE2_ANCHORED; break;
		case 'E': opts |= PCRE2_DOLLAR_ENDONLY; break;
		case 'G': opts |= PCRE2_UNGREEDY; break;
		case 'R': flags |= KN_PCRE_RELATIVE; break;
		case 'B': /* Snort's rawbytes: there is no normalised buffer here */
		case 'O': /* Snort/Suricata: override the match limits; ours stand */
			break;
		case 'U': case 'I': case 'P': case 'Q': case 'H': case 'D': case 'M':
		case 'C': case 'K': case 'S': case 'Y': case 'V': case 'W': case 'Z':
			if (!s->unsupported[0])
				snprintf(s->unsupported, sizeof(s->unsupported), "pcre flag '%c'", *f);
			return 1;
		default:
			return perr(s, s->kw_at, "unknown flag '%c'", *f);
		}
	}
	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &errcode, &erroff, NULL);
	if (!code) {
		PCRE2_UCHAR msg[128];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		return perr(s, s->kw_at, "/%s/: %s at offset %zu", re, (char *)msg, (size_t)erroff);
	}
	/* JIT is an optimisation: the interpreter runs what it refuses. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	{
		uint32_t all = 0;

		/* PCRE2 reports a pattern anchored by its content (^ without
		 * m, \A) as compiled with PCRE2_ANCHORED */
		if (pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &all) == 0 &&
		    (all & PCRE2_ANCHORED))
			flags |= KN_PCRE_ANCHORED;
	}
	op = push_op(s, KN_OP_PCRE);
	if (!op) {
		pcre2_code_free(code);
		return oom(s);
	}
	op->u.re.code = code;
	op->u.re.flags = flags;
	op->relative = flags & KN_PCRE_RELATIVE;
	return 0;
}

/* ---- isdataat, byte_test, byte_jump ---- */

static int kw_isdataat(struct pstate *s, char *v)
{
	char *f[4];
	size_t n;
	struct kn_op *op;
	int64_t pos;
	bool neg = false, rel = false;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	v = trim(v);
	if (*v == '!') {
		neg = true;
		v++;
	}
	uint8_t vpos;

	n = split(v, f, 4);
	if (num_or_var(s, "position", f[0], 0, 65535, &pos, &vpos) < 0)
		return -EINVAL;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(f[i], "relative") == 0)
			rel = true;
		else if (strcmp(f[i], "rawbytes") != 0)
			return perr(s, s->kw_at, "unknown option '%s'", f[i]);
	}
	op = push_op(s, KN_OP_ISDATAAT);
	if (!op)
		return oom(s);
	op->u.b.offset = (int32_t)pos;
	op->u.b.v_offset = vpos;
	op->u.b.flags = (neg ? KN_B_NEGATED : 0) | (rel ? KN_B_RELATIVE : 0);
	op->relative = rel;
	return 0;
}

/* Modifiers shared by byte_test and byte_jump; returns 1 if f[*i] was one. */
static int byte_common(struct pstate *s, struct kn_bytes *b, char *f)
{
	if (strcmp(f, "relative") == 0)
		b->flags |= KN_B_RELATIVE;
	else if (strcasecmp(f, "big") == 0)
		b->flags &= ~KN_B_LITTLE;
	else if (strcasecmp(f, "little") == 0)
		b->flags |= KN_B_LITTLE;
	else if (strcasecmp(f, "string") == 0)
		b->flags |= KN_B_STRING;
	else if (strcasecmp(f, "hex") == 0)
		b->base = 16;
	else if (strcasecmp(f, "dec") == 0)
		b->base = 10;
	else if (strcasecmp(f, "oct") == 0)
		b->base = 8;
	else if (strncasecmp(f, "bitmask", 7) == 0 && (f[7] == ' ' || f[7] == '\t')) {
		uint64_t m;

		if (!parse_u64(f + 8, UINT32_MAX, &m) || !m)
			return perr(s, s->kw_at, "bad bitmask '%s'", f + 8);
		b->bitmask = m;
		b->flags |= KN_B_BITMASK;
	} else if (strcasecmp(f, "dce") == 0) {
		if (!s->unsupported[0])
			snprintf(s->unsupported, sizeof(s->unsupported), "%s option 'dce'", s->kw);
		return 2;
	} else
		return 0;
	return 1;
}

static int check_nbytes(struct pstate *s, struct kn_bytes *b, int64_t nb, bool zero_ok)
{
	if (nb == 0 && zero_ok)
		return 0;
	if (nb < 1 || (b->flags & KN_B_STRING ? nb > 23 : nb > 8))
		return perr(s, s->kw_at, "cannot convert %" PRId64 " bytes (1 to 8, or to 23 "
			    "with string)", nb);
	if (b->base && !(b->flags & KN_B_STRING))
		return perr(s, s->kw_at, "hex, dec and oct need 'string'");
	if ((b->flags & KN_B_STRING) && !b->base)
		b->base = 10;
	return 0;
}

/* "multiplier M" (1 to 65535): 1 taken, 0 not this option, <0 error. */
static int byte_multiplier(struct pstate *s, struct kn_bytes *b, char *f)
{
	int64_t x;

	if (strncasecmp(f, "multiplier", 10) != 0 || !isspace((unsigned char)f[10]))
		return 0;
	if (!parse_i64(f + 11, 1, 65535, &x))
		return perr(s, s->kw_at, "bad multiplier '%s'", trim(f + 11));
	b->multiplier = (uint32_t)x;
	return 1;
}

/* The op of a byte_* keyword, from its parsed fields. */
static int push_bytes_op(struct pstate *s, enum kn_op_type kind, struct kn_bytes *b, int64_t nb,
			 int64_t off)
{
	struct kn_op *op;

	if ((b->flags & KN_B_STRING) && !b->base)
		b->base = 10;
	op = push_op(s, kind);
	if (!op)
		return oom(s);
	b->nbytes = (uint32_t)nb;
	b->offset = (int32_t)off;
	op->u.b = *b;
	op->relative = b->flags & KN_B_RELATIVE;
	return 0;
}

static int kw_byte_test(struct pstate *s, char *v)
{
	char *f[16], *o;
	size_t n;
	struct kn_bytes b = { 0 };
	int64_t nb, off;
	uint64_t val;
	int r;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	n = split(v, f, 16);
	if (n < 4)
		return perr(s, s->kw_at, "needs <bytes>, <operator>, <value>, <offset>");
	if (num_or_var(s, "byte count", f[0], 0, 64, &nb, &b.v_nbytes) < 0)
		return -EINVAL;
	o = f[1];
	if (*o == '!') {
		b.flags |= KN_B_NEGATED;
		o++;
	}
	if (strcmp(o, "<") == 0)
		b.op = KN_BT_LT;
	else if (strcmp(o, ">") == 0)
		b.op = KN_BT_GT;
	else if (strcmp(o, "=") == 0 || (*o == '\0' && b.flags & KN_B_NEGATED))
		b.op = KN_BT_EQ;
	else if (strcmp(o, "&") == 0)
		b.op = KN_BT_AND;
	else if (strcmp(o, "^") == 0)
		b.op = KN_BT_OR;
	else if (strcmp(o, "<=") == 0)
		b.op = KN_BT_LE;
	else if (strcmp(o, ">=") == 0)
		b.op = KN_BT_GE;
	else
		return perr(s, s->kw_at, "unknown operator '%s'", f[1]);
	if (!parse_u64(f[2], UINT64_MAX, &val)) {
		b.v_value = var_ref(s, f[2]);
		if (!b.v_value)
			return perr(s, s->kw_at, "value '%s' is neither a number nor a byte_extract "
				    "variable of this rule", f[2]);
		val = 0;
	}
	if (num_or_var(s, "offset", f[3], -65535, 65535, &off, &b.v_offset) < 0)
		return -EINVAL;
	for (size_t i = 4; i < n; i++) {
		r = byte_common(s, &b, f[i]);
		if (r < 0)
			return r;
		if (r == 2)
			return 1;
		if (r == 0)
			return perr(s, s->kw_at, "unknown option '%s'", f[i]);
	}
	r = b.v_nbytes ? 0 : check_nbytes(s, &b, nb, false);
	if (r < 0)
		return r;
	b.value = val;
	return push_bytes_op(s, KN_OP_BYTE_TEST, &b, nb, off);
}

static int kw_byte_jump(struct pstate *s, char *v)
{
	char *f[16];
	size_t n;
	struct kn_bytes b = { 0 };
	int64_t nb, off, x;
	int r;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	n = split(v, f, 16);
	if (n < 2)
		return perr(s, s->kw_at, "needs <bytes>, <offset>");
	if (num_or_var(s, "byte count", f[0], 0, 64, &nb, &b.v_nbytes) < 0)
		return -EINVAL;
	if (num_or_var(s, "offset", f[1], -65535, 65535, &off, &b.v_offset) < 0)
		return -EINVAL;
	b.multiplier = 1;
	for (size_t i = 2; i < n; i++) {
		r = byte_common(s, &b, f[i]);
		if (r < 0)
			return r;
		if (r == 2)
			return 1;
		if (r == 1)
			continue;
		if (strcasecmp(f[i], "align") == 0)
			b.flags |= KN_B_ALIGN;
		else if (strcasecmp(f[i], "from_beginning") == 0)
			b.flags |= KN_B_BEGIN;
		else if (strcasecmp(f[i], "from_end") == 0)
			b.flags |= KN_B_END;
		else if ((r = byte_multiplier(s, &b, f[i])) != 0) {
			if (r < 0)
				return r;
		} else if (strncasecmp(f[i], "post_offset", 11) == 0 && isspace((unsigned char)f[i][11])) {
			if (!parse_i64(f[i] + 12, -65535, 65535, &x))
				return perr(s, s->kw_at, "bad post_offset '%s'", trim(f[i] + 12));
			b.post_offset = (int32_t)x;
		} else
			return perr(s, s->kw_at, "unknown option '%s'", f[i]);
	}
	if ((b.flags & KN_B_BEGIN) && (b.flags & KN_B_END))
		return perr(s, s->kw_at, "from_beginning and from_end together");
	r = b.v_nbytes ? 0 : check_nbytes(s, &b, nb, b.flags & (KN_B_END | KN_B_BEGIN));
	if (r < 0)
		return r;
	return push_bytes_op(s, KN_OP_BYTE_JUMP, &b, nb, off);
}

/* byte_extract:n,offset,name[,relative][,multiplier M][,big|little][,string[,hex|dec|oct]][,align 2|4] */
static int kw_byte_extract(struct pstate *s, char *v)
{
	char *f[16];
	size_t n;
	struct kn_bytes b = { 0 };
	int64_t nb, off, x;
	int r;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	n = split(v, f, 16);
	if (n < 3)
		return perr(s, s->kw_at, "needs <bytes>, <offset>, <name>");
	if (!parse_i64(f[0], 1, 64, &nb))
		return perr(s, s->kw_at, "'%s' is not a byte count", f[0]);
	if (!parse_i64(f[1], -65535, 65535, &off))
		return perr(s, s->kw_at, "'%s' is not an offset from -65535 to 65535", f[1]);
	if (!*f[2] || strlen(f[2]) >= sizeof(s->vars[0]) ||
	    !(isalpha((unsigned char)*f[2]) || *f[2] == '_'))
		return perr(s, s->kw_at, "'%s' is not a variable name", f[2]);
	for (const char *c = f[2]; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
			return perr(s, s->kw_at, "'%s' is not a variable name", f[2]);
	if (var_ref(s, f[2]))
		return perr(s, s->kw_at, "variable '%s' defined twice", f[2]);
	if (s->n_vars == KN_MAX_BYTE_VARS)
		return perr(s, s->kw_at, "more than %d variables in one rule", KN_MAX_BYTE_VARS);
	b.multiplier = 1;
	for (size_t i = 3; i < n; i++) {
		r = byte_common(s, &b, f[i]);
		if (r < 0)
			return r;
		if (r == 2)
			return 1;
		if (r == 1)
			continue;
		if ((r = byte_multiplier(s, &b, f[i])) != 0) {
			if (r < 0)
				return r;
		} else if (strncasecmp(f[i], "align", 5) == 0 && isspace((unsigned char)f[i][5])) {
			if (!parse_i64(f[i] + 6, 2, 4, &x) || x == 3)
				return perr(s, s->kw_at, "align must be 2 or 4, not '%s'", trim(f[i] + 6));
			b.align = (uint32_t)x;
		} else
			return perr(s, s->kw_at, "unknown option '%s'", f[i]);
	}
	if (b.flags & KN_B_BITMASK)
		return perr(s, s->kw_at, "no bitmask here");
	r = check_nbytes(s, &b, nb, false);
	if (r < 0)
		return r;
	b.var = (uint8_t)s->n_vars;
	r = push_bytes_op(s, KN_OP_BYTE_EXTRACT, &b, nb, off);
	if (r == 0)
		snprintf(s->vars[s->n_vars++], sizeof(s->vars[0]), "%s", f[2]);
	return r;
}

/* ---- packet tests ---- */

static int kw_test(struct pstate *s, char *v)
{
	struct kn_rule *r = s->r;
	const char *kw = s->kw;
	struct kn_intcmp *c = NULL;
	uint32_t bit = 0;
	uint64_t max = 255;

	if (strcmp(kw, "sameip") == 0) {
		r->tests |= KN_T_SAMEIP;
		return 0;
	}
	if (!v)
		return perr(s, s->kw_at, "needs a value");
	if (strcmp(kw, "dsize") == 0) {
		c = &r->dsize, bit = KN_T_DSIZE, max = 65535;
	} else if (strcmp(kw, "ttl") == 0) {
		c = &r->ttl, bit = KN_T_TTL;
	} else if (strcmp(kw, "itype") == 0) {
		c = &r->itype, bit = KN_T_ITYPE;
	} else if (strcmp(kw, "icode") == 0) {
		c = &r->icode, bit = KN_T_ICODE;
	} else if (strcmp(kw, "window") == 0) {
		c = &r->window, bit = KN_T_WINDOW, max = 65535;
	} else if (strcmp(kw, "id") == 0) {
		c = &r->ipid, bit = KN_T_ID, max = 65535;
	} else if (strcmp(kw, "tos") == 0) {
		c = &r->tos, bit = KN_T_TOS;
	} else if (strcmp(kw, "fragoffset") == 0) {
		c = &r->fragoffset, bit = KN_T_FRAGOFFSET, max = 8191;
	} else if (strcmp(kw, "icmp_id") == 0) {
		c = &r->icmp_id, bit = KN_T_ICMP_ID, max = 65535;
	} else if (strcmp(kw, "icmp_seq") == 0) {
		c = &r->icmp_seq, bit = KN_T_ICMP_SEQ, max = 65535;
	} else if (strcmp(kw, "ip_proto") == 0) {
		static const struct { const char *n; int v; } names[] = {
			{ "icmp", 1 }, { "igmp", 2 }, { "ipip", 4 }, { "tcp", 6 }, { "udp", 17 },
			{ "ipv6", 41 }, { "gre", 47 }, { "esp", 50 }, { "ah", 51 },
			{ "ipv6-icmp", 58 }, { "icmpv6", 58 }, { "sctp", 132 },
		};
		char *p = trim(v), *q = p;
		char buf[32];

		while (*q == '!' || *q == '<' || *q == '>' || *q == '=')
			q++;
		for (size_t i = 0; i < SU_ARRAY_SIZE(names); i++) {
			if (strcasecmp(q, names[i].n) == 0) {
				snprintf(buf, sizeof(buf), "%.*s%d", (int)(q - p), p, names[i].v);
				r->tests |= KN_T_IPPROTO;
				return parse_intcmp(s, buf, 255, &r->ipproto);
			}
		}
		c = &r->ipproto, bit = KN_T_IPPROTO;
	} else if (strcmp(kw, "ack") == 0 || strcmp(kw, "seq") == 0) {
		uint64_t x;

		if (!parse_u64(v, UINT32_MAX, &x))
			return perr(s, s->kw_at, "'%s' is not a 32-bit number", trim(v));
		if (kw[0] == 'a') {
			r->ack = (uint32_t)x;
			r->tests |= KN_T_ACK;
		} else {
			r->seq = (uint32_t)x;
			r->tests |= KN_T_SEQ;
		}
		return 0;
	}
	r->tests |= bit;
	return parse_intcmp(s, v, max, c);
}

static int kw_flags(struct pstate *s, char *v)
{
	struct kn_rule *r = s->r;
	char *f[3];
	size_t n;
	bool mod_seen = false;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	n = split(v, f, 3);
	if (n > 2)
		return perr(s, s->kw_at, "too many fields");
	r->flags = 0;
	r->flags_mod = KN_FLAGS_EXACT;
	for (const char *p = f[0]; *p; p++) {
		uint8_t bit;

		switch (*p) {
		case 'F': bit = KN_TCP_FIN; break;
		case 'S': bit = KN_TCP_SYN; break;
		case 'R': bit = KN_TCP_RST; break;
		case 'P': bit = KN_TCP_PSH; break;
		case 'A': bit = KN_TCP_ACK; break;
		case 'U': bit = KN_TCP_URG; break;
		case 'E': case '2': bit = KN_TCP_ECE; break;
		case 'C': case '1': bit = KN_TCP_CWR; break;
		case '0': bit = 0; break;
		case '+': case '*': case '!':
			if (mod_seen)
				return perr(s, s->kw_at, "more than one modifier in '%s'", f[0]);
			mod_seen = true;
			r->flags_mod = *p == '+' ? KN_FLAGS_PLUS : *p == '*' ? KN_FLAGS_ANY : KN_FLAGS_NOT;
			continue;
		case ' ': case '\t':
			continue;
		default:
			return perr(s, s->kw_at, "unknown flag '%c'", *p);
		}
		r->flags |= bit;
	}
	r->flags_mask = 0;
	if (n == 2) {
		for (const char *p = f[1]; *p; p++) {
			switch (*p) {
			case 'F': r->flags_mask |= KN_TCP_FIN; break;
			case 'S': r->flags_mask |= KN_TCP_SYN; break;
			case 'R': r->flags_mask |= KN_TCP_RST; break;
			case 'P': r->flags_mask |= KN_TCP_PSH; break;
			case 'A': r->flags_mask |= KN_TCP_ACK; break;
			case 'U': r->flags_mask |= KN_TCP_URG; break;
			case 'E': case '2': r->flags_mask |= KN_TCP_ECE; break;
			case 'C': case '1': r->flags_mask |= KN_TCP_CWR; break;
			case ' ': case '\t': break;
			default:
				return perr(s, s->kw_at, "unknown mask flag '%c'", *p);
			}
		}
	}
	r->tests |= KN_T_FLAGS;
	return 0;
}

/* fragbits:[+*!]<M D R> (IPv4) */
static int kw_fragbits(struct pstate *s, char *v)
{
	struct kn_rule *r = s->r;
	bool mod_seen = false;

	if (!v || !*trim(v))
		return perr(s, s->kw_at, "needs a value");
	r->fragbits = 0;
	r->fragbits_mod = KN_FLAGS_EXACT;
	for (const char *p = trim(v); *p; p++) {
		switch (*p) {
		case 'M': r->fragbits |= KN_FRAG_MF; break;
		case 'D': r->fragbits |= KN_FRAG_DF; break;
		case 'R': r->fragbits |= KN_FRAG_RB; break;
		case '+': case '*': case '!':
			if (mod_seen)
				return perr(s, s->kw_at, "more than one modifier in '%s'", v);
			mod_seen = true;
			r->fragbits_mod = *p == '+' ? KN_FLAGS_PLUS : *p == '*' ? KN_FLAGS_ANY
						    : KN_FLAGS_NOT;
			break;
		case ' ': case '\t':
			break;
		default:
			return perr(s, s->kw_at, "unknown bit '%c' (M, D, R)", *p);
		}
	}
	if (!r->fragbits)
		return perr(s, s->kw_at, "names no bit (M, D, R)");
	r->tests |= KN_T_FRAGBITS;
	return 0;
}

/* Keywords with no effect on matching here: accepted, ignored. */
static int kw_ignored(struct pstate *s, char *v)
{
	if (strcmp(s->kw, "noalert") == 0)
		s->r->noalert = true;
	return 0;
}

static int kw_flow(struct pstate *s, char *v)
{
	char *f[8];
	size_t n;
	uint32_t fl = 0;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	n = split(v, f, 8);
	for (size_t i = 0; i < n; i++) {
		const char *t = f[i];

		if (strcmp(t, "established") == 0)
			fl |= KN_FLOW_ESTABLISHED;
		else if (strcmp(t, "not_established") == 0)
			fl |= KN_FLOW_NOT_ESTABLISHED;
		else if (strcmp(t, "stateless") == 0)
			fl |= KN_FLOW_STATELESS;
		else if (strcmp(t, "to_server") == 0 || strcmp(t, "from_client") == 0)
			fl |= KN_FLOW_TO_SERVER;
		else if (strcmp(t, "to_client") == 0 || strcmp(t, "from_server") == 0)
			fl |= KN_FLOW_TO_CLIENT;
		else if (strcmp(t, "only_stream") == 0)
			fl |= KN_FLOW_ONLY_STREAM;
		else if (strcmp(t, "no_stream") == 0)
			fl |= KN_FLOW_NO_STREAM;
		else if (strcmp(t, "only_frag") == 0 || strcmp(t, "no_frag") == 0) {
			if (!s->unsupported[0])
				snprintf(s->unsupported, sizeof(s->unsupported), "flow option '%s'", t);
			return 1;
		} else
			return perr(s, s->kw_at, "unknown option '%s'", t);
	}
	if ((fl & KN_FLOW_TO_SERVER) && (fl & KN_FLOW_TO_CLIENT))
		return perr(s, s->kw_at, "to_server and to_client together");
	if ((fl & KN_FLOW_ESTABLISHED) && (fl & KN_FLOW_NOT_ESTABLISHED))
		return perr(s, s->kw_at, "established and not_established together");
	if ((fl & KN_FLOW_ONLY_STREAM) && (fl & KN_FLOW_NO_STREAM))
		return perr(s, s->kw_at, "only_stream and no_stream together");
	s->r->flow |= fl;
	s->r->tests |= KN_T_FLOW;
	return 0;
}

static int kw_flowbits(struct pstate *s, char *v)
{
	struct kn_flowbit fb = { 0 }, *n;
	char *cmd, *names, *comma;
	static const char *const cmds[] = { "set", "unset", "toggle", "isset", "isnotset" };
	size_t i, count = 1;
	char sep = 0;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	v = trim(v);
	comma = strchr(v, ',');
	if (comma)
		*comma = '\0';
	cmd = trim(v);
	names = comma ? trim(comma + 1) : NULL;
	if (strcmp(cmd, "noalert") == 0) {
		if (names && *names)
			return perr(s, s->kw_at, "noalert takes no name");
		s->r->noalert = true;
		return 0;
	}
	for (i = 0; i < SU_ARRAY_SIZE(cmds); i++)
		if (strcmp(cmd, cmds[i]) == 0)
			break;
	if (i == SU_ARRAY_SIZE(cmds))
		return perr(s, s->kw_at, "unknown command '%s'", cmd);
	fb.cmd = (enum kn_fb_cmd)i;
	if (!names || !*names)
		return perr(s, s->kw_at, "%s needs a name", cmd);
	for (char *p = names; *p; p++) {
		if (*p == '|' || *p == '&') {
			if (sep && sep != *p)
				return perr(s, s->kw_at, "cannot mix '|' and '&' in '%s'", names);
			sep = *p;
			count++;
		} else if (isspace((unsigned char)*p) || *p == ',') {
			return perr(s, s->kw_at, "bad name '%s'", names);
		}
	}
	if (sep == '|' && fb.cmd != KN_FB_ISSET && fb.cmd != KN_FB_ISNOTSET)
		return perr(s, s->kw_at, "'|' is only for isset and isnotset");
	fb.any = sep == '|';
	fb.names = calloc(count, sizeof(*fb.names));
	if (!fb.names)
		return oom(s);
	for (char *p = names; ; ) {
		size_t l = strcspn(p, "|&");

		if (!l) {
			free(fb.names);
			return perr(s, s->kw_at, "empty name in '%s'", names);
		}
		fb.names[fb.n++] = kn_flowbit_hash(p, l);
		if (!p[l])
			break;
		p += l + 1;
	}
	n = realloc(s->r->fbs, (s->r->n_fbs + 1) * sizeof(*n));
	if (!n) {
		free(fb.names);
		return oom(s);
	}
	s->r->fbs = n;
	n[s->r->n_fbs++] = fb;
	return 0;
}

static int kw_threshold(struct pstate *s, char *v)
{
	bool filter = strcmp(s->kw, "detection_filter") == 0;
	struct kn_threshold t = { .type = filter ? KN_TH_DETECTION : KN_TH_NONE };
	char *f[8];
	size_t n;
	bool have_track = false, have_count = false, have_seconds = false;

	if (!v)
		return perr(s, s->kw_at, "needs a value");
	if (filter ? s->have_filter : s->have_threshold)
		return perr(s, s->kw_at, "given twice");
	if (s->have_filter || s->have_threshold)
		return perr(s, s->kw_at, "threshold and detection_filter cannot be combined");
	n = split(v, f, 8);
	for (size_t i = 0; i < n; i++) {
		char *k = f[i], *val = k + strcspn(k, " \t");
		uint64_t x;

		if (*val)
			*val++ = '\0';
		val = trim(val);
		if (strcmp(k, "type") == 0 && !filter) {
			if (strcmp(val, "limit") == 0)
				t.type = KN_TH_LIMIT;
			else if (strcmp(val, "threshold") == 0)
				t.type = KN_TH_THRESHOLD;
			else if (strcmp(val, "both") == 0)
				t.type = KN_TH_BOTH;
			else if (strcmp(val, "backoff") == 0) {
				if (!s->unsupported[0])
					snprintf(s->unsupported, sizeof(s->unsupported),
						 "threshold type 'backoff'");
				return 1;
			} else
				return perr(s, s->kw_at, "unknown type '%s'", val);
		} else if (strcmp(k, "track") == 0) {
			if (strcmp(val, "by_src") == 0)
				t.track = KN_TRACK_SRC;
			else if (strcmp(val, "by_dst") == 0)
				t.track = KN_TRACK_DST;
			else if (strcmp(val, "by_rule") == 0)
				t.track = KN_TRACK_RULE;
			else if (strcmp(val, "by_both") == 0)
				t.track = KN_TRACK_BOTH;
			else if (strcmp(val, "by_flow") == 0)
				t.track = KN_TRACK_FLOW;
			else
				return perr(s, s->kw_at, "unknown track '%s'", val);
			have_track = true;
		} else if (strcmp(k, "count") == 0) {
			if (!parse_u64(val, UINT32_MAX, &x) || (!filter && x == 0))
				return perr(s, s->kw_at, "bad count '%s'", val);
			t.count = (uint32_t)x;
			have_count = true;
		} else if (strcmp(k, "seconds") == 0) {
			if (!parse_u64(val, UINT32_MAX, &x) || x == 0)
				return perr(s, s->kw_at, "bad seconds '%s'", val);
			t.seconds = (uint32_t)x;
			have_seconds = true;
		} else {
			return perr(s, s->kw_at, "unknown option '%s'", k);
		}
	}
	if (t.type == KN_TH_NONE)
		return perr(s, s->kw_at, "needs a type");
	if (!have_track || !have_count || !have_seconds)
		return perr(s, s->kw_at, "needs track, count and seconds");
	if (filter) {
		s->r->detection_filter = t;
		s->have_filter = true;
	} else {
		s->r->threshold = t;
		s->have_threshold = true;
	}
	return 0;
}

/* ---- meta ---- */

static int kw_meta(struct pstate *s, char *v)
{
	struct kn_rule *r = s->r;
	const char *kw = s->kw;
	uint64_t x;

	if (!v || !*trim(v))
		return perr(s, s->kw_at, "needs a value");
	if (strcmp(kw, "msg") == 0) {
		uint8_t *m;
		size_t len;
		int rc;

		v = trim(v);
		rc = parse_bytes(s, v, false, &m, &len);
		if (rc < 0)
			return rc;
		if (memchr(m, '\0', len)) {
			free(m);
			return perr(s, s->kw_at, "NUL in the message");
		}
		m[len] = '\0';
		free(r->msg);
		r->msg = (char *)m;
		return 0;
	}
	if (strcmp(kw, "sid") == 0 || strcmp(kw, "rev") == 0 || strcmp(kw, "gid") == 0) {
		if (!parse_u64(v, UINT32_MAX, &x) || (kw[0] == 's' && x == 0))
			return perr(s, s->kw_at, "'%s' is not a number from %d to 4294967295", trim(v),
				    kw[0] == 's' ? 1 : 0);
		if (kw[0] == 's') {
			r->sid = (uint32_t)x;
			s->have_sid = true;
		} else if (kw[0] == 'r') {
			r->rev = (uint32_t)x;
		} else {
			r->gid = (uint32_t)x;
		}
		return 0;
	}
	if (strcmp(kw, "priority") == 0) {
		if (!parse_u64(v, 255, &x) || x == 0)
			return perr(s, s->kw_at, "'%s' is not a number from 1 to 255", trim(v));
		r->priority = (int32_t)x;
		return 0;
	}
	if (strcmp(kw, "classtype") == 0) {
		v = trim(v);
		r->classtype = kn_classtype_find(v);
		if (!r->classtype)
			return perr(s, s->kw_at, "unknown classtype '%s'", v);
		return 0;
	}
	if (strcmp(kw, "target") == 0) {
		v = trim(v);
		if (strcmp(v, "src_ip") && strcmp(v, "dest_ip"))
			return perr(s, s->kw_at, "must be src_ip or dest_ip");
		return 0;
	}
	return 0; /* reference, metadata: kept out of the engine */
}

/* ---- guest event rules (events.h) ---- */

/* A keyword of an event rule: a field keyword sets the field the payload
 * keywords after it inspect (1: taken); packet keywords are errors;
 * payload keywords need a field first. 0: an ordinary keyword. */
static int kn_event_option(struct pstate *s, const char *kw, size_t at, bool has_value)
{
	const char *kind = kn_event_kind_name(s->r->event);
	int f = kn_event_field_lookup(s->r->event, kw);

	if (f > 0) {
		if (has_value)
			return perr(s, at, "takes no value");
		s->field = (uint8_t)f;
		return 1;
	}
	if (f < 0)
		return perr(s, at, "not a field of %s events (%s)", kind,
			    kn_event_fields_of(s->r->event));
	if (!kn_event_keyword_ok(kw))
		return perr(s, at, "does not apply to %s events", kind);
	if (!s->field && (!strcmp(kw, "content") || !strcmp(kw, "pcre") ||
			  !strcmp(kw, "isdataat") || !strncmp(kw, "byte_", 5)))
		return perr(s, at, "%s events: name the field first (%s)", kind,
			    kn_event_fields_of(s->r->event));
	return 0;
}

/* ---- the keyword table ---- */

typedef int (*kw_fn)(struct pstate *s, char *value);
static const struct {
	const char *name;
	kw_fn fn;
} keywords[] = {
	{ "msg", kw_meta }, { "sid", kw_meta }, { "rev", kw_meta }, { "gid", kw_meta },
	{ "classtype", kw_meta }, { "priority", kw_meta }, { "reference", kw_meta },
	{ "metadata", kw_meta }, { "target", kw_meta },
	{ "content", kw_content },
	{ "nocase", kw_modifier }, { "rawbytes", kw_modifier }, { "depth", kw_modifier },
	{ "offset", kw_modifier }, { "distance", kw_modifier }, { "within", kw_modifier },
	{ "fast_pattern", kw_modifier }, { "startswith", kw_modifier },
	{ "endswith", kw_modifier },
	{ "pcre", kw_pcre }, { "isdataat", kw_isdataat },
	{ "byte_test", kw_byte_test }, { "byte_jump", kw_byte_jump },
	{ "byte_extract", kw_byte_extract },
	{ "dsize", kw_test }, { "ttl", kw_test }, { "itype", kw_test }, { "icode", kw_test },
	{ "ip_proto", kw_test }, { "ack", kw_test }, { "seq", kw_test }, { "window", kw_test },
	{ "id", kw_test }, { "sameip", kw_test }, { "icmp_id", kw_test }, { "icmp_seq", kw_test },
	{ "flags", kw_flags }, { "flow", kw_flow }, { "flowbits", kw_flowbits },
	{ "tos", kw_test }, { "fragoffset", kw_test }, { "fragbits", kw_fragbits },
	{ "noalert", kw_ignored }, { "tag", kw_ignored }, { "prefilter", kw_ignored },
	{ "pkt_data", kw_ignored },
	{ "threshold", kw_threshold }, { "detection_filter", kw_threshold },
};

/* Keywords that take no value. */
static bool no_value(const char *kw)
{
	return !strcmp(kw, "nocase") || !strcmp(kw, "rawbytes") || !strcmp(kw, "startswith") ||
	       !strcmp(kw, "endswith") || !strcmp(kw, "sameip") || !strcmp(kw, "noalert") ||
	       !strcmp(kw, "prefilter") || !strcmp(kw, "pkt_data");
}

/* ---- the header ---- */

/* Reads a whitespace-separated header field; brackets may hold spaces. */
static bool next_field(struct pstate *s, size_t *i, size_t *start, size_t *end)
{
	int depth = 0;

	while (*i < s->len && isspace((unsigned char)s->text[*i]))
		(*i)++;
	*start = *i;
	while (*i < s->len) {
		char c = s->text[*i];

		if (c == '[')
			depth++;
		else if (c == ']')
			depth--;
		else if (depth <= 0 && (isspace((unsigned char)c) || c == '('))
			break;
		(*i)++;
	}
	*end = *i;
	return *end > *start;
}

/* An address or port that did not parse. An undefined variable is a
 * configuration this rule was not written for: with
 * KN_LOAD_SKIP_UNSUPPORTED the rule is skipped (as Suricata drops it),
 * otherwise an error. */
static int header_error(struct pstate *s, int rc, size_t at, const char *what, const char *msg)
{
	if (rc == -ENOMEM)
		return oom(s);
	if (rc == -ENOENT && (s->ctx->flags & KN_LOAD_SKIP_UNSUPPORTED)) {
		if (!s->unsupported[0]) {
			snprintf(s->unsupported, sizeof(s->unsupported), "%.40s (%s)", msg, what);
			s->unsup_at = at;
		}
		return 0;
	}
	return perr(s, at, "%s: %s", what, msg);
}

static int parse_header(struct pstate *s, size_t *i)
{
	static const char *const what[] = { "action", "protocol", "source address",
		"source port", "direction", "destination address", "destination port" };
	size_t st[7], en[7];
	char buf[4096], msg[256];
	struct kn_rule *r = s->r;
	int rc;

	for (int f = 0; f < 7; f++) {
		if (!next_field(s, i, &st[f], &en[f]))
			return perr(s, *i, "rule header: missing the %s", what[f]);
		if (en[f] - st[f] >= sizeof(buf))
			return perr(s, st[f], "rule header: the %s is too long", what[f]);
	}
#define FIELD(f) (memcpy(buf, s->text + st[f], en[f] - st[f]), buf[en[f] - st[f]] = '\0', buf)
	FIELD(0);
	if (!strcasecmp(buf, "alert"))
		r->action = KN_ACTION_ALERT;
	else if (!strcasecmp(buf, "pass"))
		r->action = KN_ACTION_PASS;
	else if (!strcasecmp(buf, "drop"))
		r->action = KN_ACTION_DROP;
	else if (!strcasecmp(buf, "reject") || !strcasecmp(buf, "rejectsrc") ||
		 !strcasecmp(buf, "rejectdst") || !strcasecmp(buf, "rejectboth"))
		r->action = KN_ACTION_REJECT;
	else if (!strcasecmp(buf, "log"))
		r->action = KN_ACTION_LOG;
	else
		return perr(s, st[0], "unknown action '%s' (alert, pass, drop, reject, log)", buf);
	FIELD(1);
	if (!strcasecmp(buf, "ip") || !strcasecmp(buf, "ipv4") || !strcasecmp(buf, "ipv6") ||
	    !strcasecmp(buf, "pkthdr"))
		r->proto = KN_RP_IP;
	else if (!strcasecmp(buf, "tcp") || !strcasecmp(buf, "tcp-pkt") || !strcasecmp(buf, "tcp-stream"))
		r->proto = KN_RP_TCP;
	else if (!strcasecmp(buf, "udp"))
		r->proto = KN_RP_UDP;
	else if (!strcasecmp(buf, "icmp"))
		r->proto = KN_RP_ICMP;
	else if (!strcasecmp(buf, "icmpv4"))
		r->proto = KN_RP_ICMPV4;
	else if (!strcasecmp(buf, "icmpv6"))
		r->proto = KN_RP_ICMPV6;
	else if (kn_event_kind_lookup(buf) != KN_EV_NONE)
		r->event = (uint8_t)kn_event_kind_lookup(buf); /* a guest event rule */
	else {
		snprintf(s->unsupported, sizeof(s->unsupported), "protocol '%.40s'", buf);
		s->unsup_at = st[1];
		r->proto = KN_RP_IP;
	}
	if (!strcasecmp(buf, "tcp-pkt"))
		r->flow |= KN_FLOW_NO_STREAM;
	else if (!strcasecmp(buf, "tcp-stream"))
		r->flow |= KN_FLOW_ONLY_STREAM;
	rc = kn_addr_parse(&r->src, FIELD(2), s->ctx->vars, msg, sizeof(msg));
	if (rc < 0 && (rc = header_error(s, rc, st[2], "source address", msg)) < 0)
		return rc;
	rc = kn_port_parse(&r->sport, FIELD(3), s->ctx->vars, msg, sizeof(msg));
	if (rc < 0 && (rc = header_error(s, rc, st[3], "source port", msg)) < 0)
		return rc;
	FIELD(4);
	if (!strcmp(buf, "->"))
		r->bidir = false;
	else if (!strcmp(buf, "<>"))
		r->bidir = true;
	else
		return perr(s, st[4], "direction must be '->' or '<>', not '%s'", buf);
	rc = kn_addr_parse(&r->dst, FIELD(5), s->ctx->vars, msg, sizeof(msg));
	if (rc < 0 && (rc = header_error(s, rc, st[5], "destination address", msg)) < 0)
		return rc;
	rc = kn_port_parse(&r->dport, FIELD(6), s->ctx->vars, msg, sizeof(msg));
	if (rc < 0 && (rc = header_error(s, rc, st[6], "destination port", msg)) < 0)
		return rc;
#undef FIELD
	return 0;
}

/* ---- the options ---- */

static int parse_options(struct pstate *s, size_t i)
{
	size_t close;
	char *val = NULL;
	int rc;

	while (i < s->len && isspace((unsigned char)s->text[i]))
		i++;
	if (i >= s->len || s->text[i] != '(')
		return perr(s, i, "expected '(' after the rule header");
	i++;
	close = s->len;
	while (close > i && isspace((unsigned char)s->text[close - 1]))
		close--;
	if (close <= i || s->text[close - 1] != ')')
		return perr(s, close ? close - 1 : 0, "the options are not closed with ')'");
	close--;
	while (i < close) {
		size_t ks, ke, vs = 0, ve = 0;
		char kw[64];
		bool has_value = false;

		while (i < close && isspace((unsigned char)s->text[i]))
			i++;
		if (i >= close)
			break;
		ks = i;
		while (i < close && s->text[i] != ':' && s->text[i] != ';')
			i++;
		ke = i;
		while (ke > ks && isspace((unsigned char)s->text[ke - 1]))
			ke--;
		if (ke == ks) {
			s->kw = NULL;
			return perr(s, ks, "empty option (a stray ';' or ':')");
		}
		if (ke - ks >= sizeof(kw)) {
			s->kw = NULL;
			return perr(s, ks, "option name too long");
		}
		memcpy(kw, s->text + ks, ke - ks);
		kw[ke - ks] = '\0';
		/* keywords are case-insensitive, as Suricata looks them up */
		for (size_t k = 0; kw[k]; k++)
			kw[k] = (char)tolower((unsigned char)kw[k]);
		s->kw = kw;
		s->kw_at = ks;
		for (size_t k = 0; kw[k]; k++)
			if (isspace((unsigned char)kw[k]))
				return perr(s, ks, "missing ';' before '%s'", kw + k + 1);
		if (i < close && s->text[i] == ':') {
			i++;
			vs = i;
			while (i < close && !(s->text[i] == ';' && s->text[i - 1] != '\\'))
				i++;
			/* "\\;" ends the option: the backslash is escaped */
			ve = i;
			has_value = true;
		}
		if (i < close && s->text[i] == ';')
			i++;
		if (has_value) {
			val = malloc(ve - vs + 1);
			if (!val)
				return oom(s);
			memcpy(val, s->text + vs, ve - vs);
			val[ve - vs] = '\0';
		}
		if (s->r->event) {
			/* guest event rules (events.h): field keywords, no packet keywords */
			rc = kn_event_option(s, kw, ks, has_value);
			if (rc != 0) {
				free(val);
				val = NULL;
				if (rc < 0)
					return rc;
				continue;
			}
		}
		{
			size_t k;

			for (k = 0; k < SU_ARRAY_SIZE(keywords); k++)
				if (strcmp(keywords[k].name, kw) == 0)
					break;
			if (k == SU_ARRAY_SIZE(keywords)) {
				if (!s->unsupported[0]) {
					snprintf(s->unsupported, sizeof(s->unsupported), "keyword '%.50s'", kw);
					s->unsup_at = ks;
				}
				free(val);
				val = NULL;
				continue;
			}
			if (has_value && no_value(kw)) {
				free(val);
				return perr(s, ks, "takes no value");
			}
			bool had = s->unsupported[0];

			rc = keywords[k].fn(s, val);
			if (!had && s->unsupported[0])
				s->unsup_at = ks;
		}
		free(val);
		val = NULL;
		if (rc < 0)
			return rc;
	}
	s->kw = NULL;
	return 0;
}

/* The fast pattern: the one the rule names, else the longest positive
 * content (the first of equals). None when every content is negated. */
static void choose_fast_pattern(struct kn_rule *r)
{
	size_t best = 0;

	r->fp_content = -1;
	for (size_t i = 0; i < r->n_ops; i++) {
		const struct kn_op *op = &r->ops[i];

		if (op->type != KN_OP_CONTENT)
			continue;
		if (op->u.c.flags & KN_C_FAST) {
			r->fp_content = op->u.c.flags & KN_C_NEGATED ? -1 : (int)i;
			break;
		}
		if (!(op->u.c.flags & KN_C_NEGATED) && op->u.c.len > best) {
			best = op->u.c.len;
			r->fp_content = (int)i;
		}
	}
	/* detect.c: such a rule cannot match where its fast pattern is not
	 * (the whole content, or its tail: a match ending in new bytes has
	 * its fast pattern end there too; not so for fast_pattern:o,l) */
	r->fp_alone = r->n_ops == 1 && r->fp_content == 0 &&
		      !(r->ops[0].u.c.flags & KN_C_FAST_CHOP);
}

void kn_rule_free(struct kn_rule *r)
{
	if (!r)
		return;
	kn_addr_list_clear(&r->src);
	kn_addr_list_clear(&r->dst);
	kn_port_list_clear(&r->sport);
	kn_port_list_clear(&r->dport);
	for (size_t i = 0; i < r->n_ops; i++) {
		if (r->ops[i].type == KN_OP_CONTENT)
			free(r->ops[i].u.c.pat);
		else if (r->ops[i].type == KN_OP_PCRE)
			pcre2_code_free(r->ops[i].u.re.code);
	}
	free(r->ops);
	for (size_t i = 0; i < r->n_fbs; i++)
		free(r->fbs[i].names);
	free(r->fbs);
	free(r->msg);
	free(r);
}

int kn_rule_parse(struct kn_rule **ret, const struct kn_parse_ctx *ctx, const char *text,
		  size_t len, const struct kn_srcpos *pos, soda_error **error)
{
	struct pstate s = { .ctx = ctx, .text = text, .len = len, .pos = pos, .error = error,
			    .last_content = -1 };
	size_t i = 0;
	int rc;

	s.r = calloc(1, sizeof(*s.r));
	if (!s.r)
		return oom(&s);
	s.r->gid = 1;
	s.r->priority = -1;
	s.r->line = len ? pos[0].line : 0;
	rc = parse_header(&s, &i);
	if (rc >= 0)
		rc = parse_options(&s, i);
	if (rc >= 0 && !s.have_sid)
		rc = perr(&s, 0, "rule has no sid");
	if (rc < 0) {
		kn_rule_free(s.r);
		return rc;
	}
	if (s.unsupported[0]) {
		if (!(ctx->flags & KN_LOAD_SKIP_UNSUPPORTED)) {
			struct kn_srcpos at = pos[s.unsup_at < len ? s.unsup_at : 0];

			rc = su_errorf_at(error, -EOPNOTSUPP, ctx->source, at.line, at.col,
					  "%s:%" PRIu32 ":%" PRIu32 ": sid %" PRIu32
					  ": unsupported %s", ctx->source, at.line, at.col,
					  s.r->sid, s.unsupported);
			kn_rule_free(s.r);
			return rc;
		}
		if (ctx->warn) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s:%" PRIu32 ": sid %" PRIu32
				 " skipped: unsupported %s", ctx->source, s.r->line,
				 s.r->sid, s.unsupported);
			ctx->warn(ctx->userdata, msg);
		}
		kn_rule_free(s.r);
		return 1;
	}
	for (size_t k = 0; k < s.r->n_ops; k++)
		if ((s.r->ops[k].type == KN_OP_CONTENT && !(s.r->ops[k].u.c.flags & KN_C_NEGATED)) ||
		    (s.r->ops[k].type == KN_OP_PCRE && !(s.r->ops[k].u.re.flags & KN_PCRE_NEGATED)))
			s.r->has_content = true;
	if (!s.r->msg) {
		s.r->msg = strdup("");
		if (!s.r->msg) {
			kn_rule_free(s.r);
			return oom(&s);
		}
	}
	choose_fast_pattern(s.r);
	*ret = s.r;
	return 0;
}
