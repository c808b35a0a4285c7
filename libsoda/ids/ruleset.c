/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: a ruleset, built once from rule text and then only read.
 *
 * Loading splits the text into logical rules (a trailing backslash joins
 * lines; '#' comments and blank lines are skipped), parses each, drops a
 * duplicate gid:sid (the higher rev stays, with a warning), orders the
 * rules as Suricata evaluates them (action: pass, drop, reject, alert;
 * then flowbits setters before readers; then priority) and compiles the
 * prefilter: one Vectorscan literal database of every rule's fast
 * pattern, plus per-protocol lists of the rules that have none.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hs.h>

#include "rule.h"
#include "../util.h"

#define KN_RULES_MAX_FILE (256u << 20)

static int action_rank(enum kn_action a)
{
	switch (a) {
	case KN_ACTION_PASS: return 0;
	case KN_ACTION_DROP: return 1;
	case KN_ACTION_REJECT: return 2;
	default: return 3;
	}
}

static int flowbits_rank(const struct kn_rule *r)
{
	bool set = false, read = false;

	for (size_t i = 0; i < r->n_fbs; i++) {
		if (r->fbs[i].cmd == KN_FB_ISSET || r->fbs[i].cmd == KN_FB_ISNOTSET)
			read = true;
		else
			set = true;
	}
	if (set && !read)
		return 0;
	if (set)
		return 1;
	if (read)
		return 2;
	return 3;
}

static uint32_t prio(const struct kn_rule *r)
{
	if (r->priority > 0)
		return (uint32_t)r->priority;
	return r->classtype ? r->classtype->priority : 3;
}

static int cmp_order(const void *a, const void *b)
{
	const struct kn_rule *x = *(struct kn_rule *const *)a, *y = *(struct kn_rule *const *)b;
	int d = action_rank(x->action) - action_rank(y->action);

	if (d)
		return d;
	d = flowbits_rank(x) - flowbits_rank(y);
	if (d)
		return d;
	if (prio(x) != prio(y))
		return prio(x) < prio(y) ? -1 : 1;
	return x->load_order < y->load_order ? -1 : x->load_order > y->load_order;
}

static int cmp_sid(const void *a, const void *b)
{
	const struct kn_rule *x = *(struct kn_rule *const *)a, *y = *(struct kn_rule *const *)b;

	if (x->gid != y->gid)
		return x->gid < y->gid ? -1 : 1;
	if (x->sid != y->sid)
		return x->sid < y->sid ? -1 : 1;
	return x->load_order < y->load_order ? -1 : x->load_order > y->load_order;
}

size_t kn_ruleset_count(const kn_ruleset *rs)
{
	return rs ? rs->n_rules : 0;
}

void kn_ruleset_free(kn_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_rules; i++)
		kn_rule_free(rs->rules[i]);
	free(rs->rules);
	for (int i = 0; i < 5; i++)
		free(rs->always[i]);
	for (size_t i = 0; i < rs->n_pats; i++)
		free(rs->pat_rules[i]);
	free(rs->pat_rules);
	free(rs->pat_n);
	if (rs->hs_db)
		hs_free_database(rs->hs_db);
	pcre2_match_context_free(rs->mctx);
	free(rs);
}

/* ---- the prefilter ---- */

struct fp {
	const uint8_t *pat;
	size_t len;
	bool nocase;
	uint32_t rule;
};

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int cmp_fp(const void *a, const void *b)
{
	const struct fp *x = a, *y = b;

	if (x->nocase != y->nocase)
		return x->nocase ? 1 : -1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	for (size_t i = 0; i < x->len; i++) {
		int cx = x->nocase ? lc(x->pat[i]) : x->pat[i];
		int cy = y->nocase ? lc(y->pat[i]) : y->pat[i];

		if (cx != cy)
			return cx - cy;
	}
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static bool same_pat(const struct fp *x, const struct fp *y)
{
	if (x->nocase != y->nocase || x->len != y->len)
		return false;
	for (size_t i = 0; i < x->len; i++)
		if (x->nocase ? lc(x->pat[i]) != lc(y->pat[i]) : x->pat[i] != y->pat[i])
			return false;
	return true;
}

static int push_u32(uint32_t **a, size_t *n, uint32_t v)
{
	uint32_t *na = realloc(*a, (*n + 1) * sizeof(**a));

	if (!na)
		return -ENOMEM;
	*a = na;
	na[(*n)++] = v;
	return 0;
}

static int build_prefilter(kn_ruleset *rs, soda_error **error)
{
	struct fp *fps = NULL;
	size_t n = 0;
	const char **exprs = NULL;
	unsigned int *flags = NULL, *ids = NULL;
	size_t *lens = NULL;
	hs_compile_error_t *cerr = NULL;
	hs_database_t *db = NULL;
	int r = -ENOMEM;

	fps = calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*fps));
	if (!fps)
		goto oom;
	for (uint32_t i = 0; i < rs->n_rules; i++) {
		const struct kn_rule *ru = rs->rules[i];
		static const int cls[][5] = {
			[KN_RP_IP] = { KN_PC_TCP, KN_PC_UDP, KN_PC_ICMP, KN_PC_ICMPV6, KN_PC_OTHER },
			[KN_RP_TCP] = { KN_PC_TCP, -1 },
			[KN_RP_UDP] = { KN_PC_UDP, -1 },
			[KN_RP_ICMP] = { KN_PC_ICMP, KN_PC_ICMPV6, -1 },
			[KN_RP_ICMPV4] = { KN_PC_ICMP, -1 },
			[KN_RP_ICMPV6] = { KN_PC_ICMPV6, -1 },
		};

		if (ru->event)
			continue; /* guest event rules: events.c */
		if (ru->fp_content >= 0) {
			const struct kn_content *c = &ru->ops[ru->fp_content].u.c;

			fps[n].pat = c->pat;
			fps[n].len = c->len;
			if (c->flags & KN_C_FAST_CHOP) {
				fps[n].pat += c->fp_off;
				fps[n].len = c->fp_len;
			}
			/* Vectorscan's literal API refuses a leading NUL: a
			 * substring prefilters as well */
			while (fps[n].len && fps[n].pat[0] == '\0') {
				fps[n].pat++;
				fps[n].len--;
			}
			if (fps[n].len) {
				fps[n].nocase = c->flags & KN_C_NOCASE;
				fps[n].rule = i;
				n++;
				continue;
			}
		}
		for (int k = 0; k < 5; k++) {
			int pc = cls[ru->proto][k];

			if (pc < 0 || (k > 0 && pc == 0))
				break;
			if (push_u32(&rs->always[pc], &rs->n_always[pc], i) < 0)
				goto oom;
		}
	}
	if (!n) {
		free(fps);
		return 0;
	}
	qsort(fps, n, sizeof(*fps), cmp_fp);
	exprs = calloc(n, sizeof(*exprs));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	lens = calloc(n, sizeof(*lens));
	rs->pat_rules = calloc(n, sizeof(*rs->pat_rules));
	rs->pat_n = calloc(n, sizeof(*rs->pat_n));
	if (!exprs || !flags || !ids || !lens || !rs->pat_rules || !rs->pat_n)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		size_t np;

		if (i == 0 || !same_pat(&fps[i], &fps[i - 1])) {
			np = rs->n_pats++;
			exprs[np] = (const char *)fps[i].pat;
			lens[np] = fps[i].len;
			if (fps[i].len > rs->max_pat_len)
				rs->max_pat_len = fps[i].len;
			flags[np] = HS_FLAG_SINGLEMATCH | (fps[i].nocase ? HS_FLAG_CASELESS : 0);
			ids[np] = (unsigned int)np;
		}
		np = rs->n_pats - 1;
		{
			size_t cnt = rs->pat_n[np];

			if (push_u32(&rs->pat_rules[np], &cnt, fps[i].rule) < 0)
				goto oom;
			rs->pat_n[np] = (uint32_t)cnt;
		}
	}
	if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned int)rs->n_pats, HS_MODE_BLOCK,
				 NULL, &db, &cerr) != HS_SUCCESS) {
		r = su_errorf(error, -EINVAL, "prefilter: Vectorscan could not compile the fast "
			      "patterns: %s", cerr && cerr->message ? cerr->message : "unknown error");
		hs_free_compile_error(cerr);
		goto out;
	}
	rs->hs_db = db;
	r = 0;
	goto out;
oom:
	r = su_errorf(error, -ENOMEM, "out of memory");
out:
	free(fps);
	free(exprs);
	free(flags);
	free(ids);
	free(lens);
	return r;
}

/* ---- loading ---- */

static int add_rule(kn_ruleset *rs, size_t *cap, struct kn_rule *r)
{
	if (rs->n_rules == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct kn_rule **n = realloc(rs->rules, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		rs->rules = n;
		*cap = nc;
	}
	r->load_order = rs->n_rules;
	rs->rules[rs->n_rules++] = r;
	return 0;
}

/* Keeps one rule per gid:sid, the highest rev (the first of equals). */
static void drop_duplicates(kn_ruleset *rs, kn_warn_fn warn, void *userdata, const char *source)
{
	size_t out = 0;

	if (rs->n_rules < 2)
		return;
	qsort(rs->rules, rs->n_rules, sizeof(*rs->rules), cmp_sid);
	for (size_t i = 0; i < rs->n_rules; i++) {
		struct kn_rule *r = rs->rules[i];

		if (out && rs->rules[out - 1]->gid == r->gid && rs->rules[out - 1]->sid == r->sid) {
			struct kn_rule *keep = rs->rules[out - 1], *drop = r;

			if (r->rev > keep->rev) {
				keep = r;
				drop = rs->rules[out - 1];
				rs->rules[out - 1] = keep;
			}
			if (warn) {
				char msg[256];

				snprintf(msg, sizeof(msg), "%s:%u: duplicate sid %u:%u (rev %u): the rule "
					 "of line %u (rev %u) stays", source, drop->line, drop->gid,
					 drop->sid, drop->rev, keep->line, keep->rev);
				warn(userdata, msg);
			}
			kn_rule_free(drop);
			continue;
		}
		rs->rules[out++] = r;
	}
	rs->n_rules = out;
}

int kn_ruleset_load_text(kn_ruleset **ret, const char *source_name, const char *text,
			 size_t len, const kn_vars *vars, unsigned int flags,
			 kn_warn_fn warn, void *userdata, soda_error **error)
{
	struct kn_parse_ctx ctx = { .source = source_name ? source_name : "<rules>",
				    .vars = vars, .flags = flags, .warn = warn,
				    .userdata = userdata };
	kn_ruleset *rs;
	kn_vars *defaults = NULL;
	char *buf = NULL;
	struct kn_srcpos *pos = NULL;
	size_t cap = 0, blen = 0, bcap = 0, i = 0;
	uint32_t line = 1;
	int r;

	if (!ret || (!text && len))
		return su_errorf(error, -EINVAL, "kn_ruleset_load_text: missing argument");
	if (flags & ~(unsigned int)KN_LOAD_SKIP_UNSUPPORTED)
		return su_errorf(error, -EINVAL, "kn_ruleset_load_text: unknown flags 0x%x", flags);
	if (!vars) {
		if (kn_vars_new(&defaults) < 0)
			return su_errorf(error, -ENOMEM, "out of memory");
		ctx.vars = defaults;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		kn_vars_free(defaults);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	while (i < len) {
		size_t ls = i, le;
		bool cont;

		while (i < len && text[i] != '\n')
			i++;
		le = i;
		if (i < len)
			i++;
		if (le > ls && text[le - 1] == '\r')
			le--;
		{
			size_t a = ls, b = le;

			while (a < b && (text[a] == ' ' || text[a] == '\t'))
				a++;
			while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t'))
				b--;
			if (blen == 0 && (a == b || text[a] == '#')) {
				line++;
				continue;
			}
			cont = b > a && text[b - 1] == '\\';
			if (cont)
				b--;
			if (blen + (b - ls) + 1 > bcap) {
				size_t nc = (blen + (b - ls) + 1) * 2;
				char *nb = realloc(buf, nc);
				struct kn_srcpos *np = realloc(pos, nc * sizeof(*np));

				if (nb)
					buf = nb;
				if (np)
					pos = np;
				if (!nb || !np) {
					r = su_errorf(error, -ENOMEM, "out of memory");
					goto fail;
				}
				bcap = nc;
			}
			for (size_t k = ls; k < b; k++) {
				if (text[k] == '\0') {
					r = su_errorf_at(error, -EINVAL, ctx.source, line,
							 (uint32_t)(k - ls + 1),
							 "%s:%u:%zu: NUL byte in a rule", ctx.source,
							 line, k - ls + 1);
					goto fail;
				}
				buf[blen] = text[k];
				pos[blen].line = line;
				pos[blen].col = (uint32_t)(k - ls + 1);
				blen++;
			}
			line++;
			if (cont && i < len)
				continue;
		}
		{
			struct kn_rule *rule = NULL;

			r = kn_rule_parse(&rule, &ctx, buf, blen, pos, error);
			blen = 0;
			if (r < 0)
				goto fail;
			if (r == 0 && add_rule(rs, &cap, rule) < 0) {
				kn_rule_free(rule);
				r = su_errorf(error, -ENOMEM, "out of memory");
				goto fail;
			}
		}
	}
	drop_duplicates(rs, warn, userdata, ctx.source);
	if (rs->n_rules)
		qsort(rs->rules, rs->n_rules, sizeof(*rs->rules), cmp_order);
	rs->mctx = pcre2_match_context_create(NULL);
	if (!rs->mctx) {
		r = su_errorf(error, -ENOMEM, "out of memory");
		goto fail;
	}
	/* Suricata's default match limits: a pathological expression gives up
	 * (no match) instead of running for seconds on one packet. */
	pcre2_set_match_limit(rs->mctx, 3500);
	pcre2_set_depth_limit(rs->mctx, 1500);
	rs->max_ovector = 1;
	for (size_t k = 0; k < rs->n_rules; k++) {
		struct kn_rule *ru = rs->rules[k];

		if (ru->threshold.type != KN_TH_NONE || ru->detection_filter.type != KN_TH_NONE)
			rs->n_thresholded++;
		for (size_t o = 0; o < ru->n_ops; o++) {
			uint32_t cc = 0;

			if (ru->ops[o].type != KN_OP_PCRE)
				continue;
			pcre2_pattern_info(ru->ops[o].u.re.code, PCRE2_INFO_CAPTURECOUNT, &cc);
			if (cc + 1 > rs->max_ovector)
				rs->max_ovector = cc + 1;
		}
	}
	r = build_prefilter(rs, error);
	if (r < 0)
		goto fail;
	free(buf);
	free(pos);
	kn_vars_free(defaults);
	*ret = rs;
	return 0;
fail:
	free(buf);
	free(pos);
	kn_vars_free(defaults);
	kn_ruleset_free(rs);
	return r;
}

int kn_ruleset_load_file(kn_ruleset **ret, const char *path, const kn_vars *vars,
			 unsigned int flags, kn_warn_fn warn, void *userdata,
			 soda_error **error)
{
	char *text;
	size_t len;
	int r;

	if (!ret || !path)
		return su_errorf(error, -EINVAL, "kn_ruleset_load_file: missing argument");
	r = su_read_file(path, KN_RULES_MAX_FILE, &text, &len);
	if (r < 0)
		return su_errorf(error, r, "%s: %s", path, strerror(-r));
	r = kn_ruleset_load_text(ret, path, text, len, vars, flags, warn, userdata, error);
	free(text);
	return r;
}
