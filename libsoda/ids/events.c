/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort on guest events (events.h): the kinds and their fields, the
 * detector, the EVE line.
 *
 * An event rule is parsed by rules.c like any other: its header's protocol
 * is an event kind (kn_rule.event), and each payload keyword carries the
 * field it inspects (kn_op.field, set by the last field keyword before it).
 * The ruleset builder leaves event rules out of the packet prefilter and
 * out of every packet class, so kn_detect() never sees them; here they are
 * grouped by kind, prefiltered per field (a Vectorscan literal database
 * of the fast patterns on that field) and matched with detect.c's
 * inspection, one run per field: the keywords of one field see that field with a cursor of their
 * own (relative keywords are relative within the field), and the rule
 * matches when every field's run matches.
 */
#include <errno.h>
#include <hs.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "events.h"
#include "rule.h"
#include "../util.h"

struct kind_def {
	const char *name;
	const char *fields[KN_EV_MAX_FIELDS];
	const char *list;
};

static const struct kind_def kinds[KN_EV_KINDS] = {
	[KN_EV_EXEC] = { "exec", { "exec.path", "exec.argv", "exec.uid", "exec.cwd", "exec.parent" },
			 "exec.path, exec.argv, exec.uid, exec.cwd, exec.parent" },
	[KN_EV_TTY] = { "tty", { "tty.input", "tty.session" }, "tty.input, tty.session" },
	[KN_EV_FILE] = { "file", { "file.path", "file.op" }, "file.path, file.op" },
	[KN_EV_NET] = { "net", { "net.op", "net.proto", "net.addr", "net.port" },
			"net.op, net.proto, net.addr, net.port" },
	[KN_EV_SYSLOG] = { "syslog", { "syslog.message", "syslog.priority" },
			   "syslog.message, syslog.priority" },
	[KN_EV_KLOG] = { "klog", { "klog.message", "klog.level" }, "klog.message, klog.level" },
};

enum kn_event_kind kn_event_kind_lookup(const char *name)
{
	for (int k = 1; k < KN_EV_KINDS; k++)
		if (name && strcasecmp(name, kinds[k].name) == 0)
			return (enum kn_event_kind)k;
	return KN_EV_NONE;
}

const char *kn_event_kind_name(enum kn_event_kind kind)
{
	return kind > KN_EV_NONE && kind < KN_EV_KINDS ? kinds[kind].name : NULL;
}

int kn_event_field_lookup(enum kn_event_kind kind, const char *name)
{
	int other = 0;

	for (int k = 1; k < KN_EV_KINDS; k++)
		for (int f = 0; f < KN_EV_MAX_FIELDS && kinds[k].fields[f]; f++)
			if (strcasecmp(name, kinds[k].fields[f]) == 0) {
				if (k == (int)kind)
					return f + 1;
				other = -1;
			}
	return other;
}

const char *kn_event_field_name(enum kn_event_kind kind, unsigned int field)
{
	if (kind <= KN_EV_NONE || kind >= KN_EV_KINDS || field >= KN_EV_MAX_FIELDS)
		return NULL;
	return kinds[kind].fields[field];
}

const char *kn_event_fields_of(enum kn_event_kind kind)
{
	return kind > KN_EV_NONE && kind < KN_EV_KINDS ? kinds[kind].list : "";
}

bool kn_event_keyword_ok(const char *kw)
{
	static const char *const ok[] = {
		"msg", "sid", "rev", "gid", "classtype", "priority", "reference", "metadata",
		"target", "content", "nocase", "rawbytes", "depth", "offset", "distance", "within",
		"fast_pattern", "startswith", "endswith", "pcre", "isdataat", "byte_test",
		"byte_jump", "byte_extract", "noalert", "threshold", "detection_filter",
	};

	for (size_t i = 0; i < SU_ARRAY_SIZE(ok); i++)
		if (strcmp(kw, ok[i]) == 0)
			return true;
	return false;
}

/* ---- the detector ---- */

/* The prefilter of one field: a Vectorscan literal database of the fast
 * patterns that rules of the kind have on that field (pattern id: the
 * rule's position in the kind's list); rules without one are in always. */
struct kn_evfield {
	hs_database_t *db;
};

struct kn_evdetector {
	const kn_ruleset *rs;
	uint32_t *rules[KN_EV_KINDS];   /* indices into rs->rules, ascending */
	size_t n_rules[KN_EV_KINDS];
	uint32_t *always[KN_EV_KINDS];  /* positions in rules[k] without a fast pattern */
	size_t n_always[KN_EV_KINDS];
	uint32_t wanted[KN_EV_KINDS];   /* per kind, the fields some rule inspects (bit f) */
	struct kn_evfield fields[KN_EV_KINDS][KN_EV_MAX_FIELDS];
	hs_scratch_t *scratch;
	uint32_t *stamp, gen;           /* per position, the largest kind's size */
	uint32_t *cand;
	size_t n_cand;
	size_t total;
	pcre2_match_data *md;
	struct kn_thstate *th;
};

/* Builds the prefilter of (kind, field) from the rules whose fast pattern
 * is on that field; 0, or -ENOMEM / -EINVAL. */
static int build_field(kn_evdetector *d, unsigned int k, unsigned int f, soda_error **error)
{
	size_t n = 0, cap = d->n_rules[k];
	const char **exprs = calloc(cap ? cap : 1, sizeof(*exprs));
	unsigned int *flags = calloc(cap ? cap : 1, sizeof(*flags));
	unsigned int *ids = calloc(cap ? cap : 1, sizeof(*ids));
	size_t *lens = calloc(cap ? cap : 1, sizeof(*lens));
	hs_compile_error_t *cerr = NULL;
	int r = 0;

	if (!exprs || !flags || !ids || !lens) {
		r = su_errorf(error, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t pos = 0; pos < d->n_rules[k]; pos++) {
		const struct kn_rule *ru = d->rs->rules[d->rules[k][pos]];
		const struct kn_content *c;
		const uint8_t *pat;
		size_t len;

		if (ru->fp_content < 0 || ru->ops[ru->fp_content].field != f + 1)
			continue;
		c = &ru->ops[ru->fp_content].u.c;
		pat = c->pat;
		len = c->len;
		if (c->flags & KN_C_FAST_CHOP) {
			pat += c->fp_off;
			len = c->fp_len;
		}
		/* Vectorscan's literal API refuses a leading NUL */
		while (len && pat[0] == '\0')
			pat++, len--;
		if (!len)
			continue; /* stays in always (added by the caller) */
		exprs[n] = (const char *)pat;
		lens[n] = len;
		flags[n] = HS_FLAG_SINGLEMATCH | (c->flags & KN_C_NOCASE ? HS_FLAG_CASELESS : 0);
		ids[n] = (unsigned int)pos;
		n++;
	}
	if (!n)
		goto out;
	if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned int)n, HS_MODE_BLOCK, NULL,
				 &d->fields[k][f].db, &cerr) != HS_SUCCESS) {
		r = su_errorf(error, -EINVAL, "guest events' prefilter: Vectorscan: %s",
			      cerr && cerr->message ? cerr->message : "unknown error");
		hs_free_compile_error(cerr);
		goto out;
	}
	if (hs_alloc_scratch(d->fields[k][f].db, &d->scratch) != HS_SUCCESS)
		r = su_errorf(error, -ENOMEM, "Vectorscan: cannot allocate scratch space");
out:
	free(exprs);
	free(flags);
	free(ids);
	free(lens);
	return r;
}

/* Whether the rule at @pos of kind @k is in a field's prefilter. */
static bool prefiltered(const kn_evdetector *d, unsigned int k, size_t pos)
{
	const struct kn_rule *ru = d->rs->rules[d->rules[k][pos]];
	const struct kn_content *c;
	size_t len;

	if (ru->fp_content < 0)
		return false;
	c = &ru->ops[ru->fp_content].u.c;
	len = c->flags & KN_C_FAST_CHOP ? c->fp_len : c->len;
	for (size_t i = 0; i < len; i++)
		if ((c->flags & KN_C_FAST_CHOP ? c->pat[c->fp_off + i] : c->pat[i]) != '\0')
			return true;
	return false;
}

int kn_evdetector_new(kn_evdetector **ret, const kn_ruleset *rs, soda_error **error)
{
	kn_evdetector *d;

	if (!ret || !rs)
		return su_errorf(error, -EINVAL, "kn_evdetector_new: missing argument");
	d = calloc(1, sizeof(*d));
	if (!d)
		return su_errorf(error, -ENOMEM, "out of memory");
	d->rs = rs;
	d->md = pcre2_match_data_create(rs->max_ovector ? rs->max_ovector : 1, NULL);
	if (!d->md || kn_thstate_new(&d->th) < 0)
		goto oom;
	for (size_t i = 0; i < rs->n_rules; i++) {
		unsigned int k = rs->rules[i]->event;
		uint32_t *n;

		if (k == KN_EV_NONE || k >= KN_EV_KINDS)
			continue;
		n = realloc(d->rules[k], (d->n_rules[k] + 1) * sizeof(*n));
		if (!n)
			goto oom;
		d->rules[k] = n;
		n[d->n_rules[k]++] = (uint32_t)i;
		d->total++;
		for (size_t j = 0; j < rs->rules[i]->n_ops; j++) {
			unsigned int f = rs->rules[i]->ops[j].field;

			if (f >= 1 && f <= KN_EV_MAX_FIELDS)
				d->wanted[k] |= 1u << (f - 1);
		}
	}
	{
		size_t most = 1;

		for (unsigned int k = 1; k < KN_EV_KINDS; k++) {
			int r;

			if (d->n_rules[k] > most)
				most = d->n_rules[k];
			for (unsigned int f = 0; f < KN_EV_MAX_FIELDS; f++)
				if ((r = build_field(d, k, f, error)) < 0) {
					kn_evdetector_free(d);
					return r;
				}
			for (size_t pos = 0; pos < d->n_rules[k]; pos++) {
				uint32_t *na;

				if (prefiltered(d, k, pos))
					continue;
				na = realloc(d->always[k], (d->n_always[k] + 1) * sizeof(*na));
				if (!na)
					goto oom;
				d->always[k] = na;
				na[d->n_always[k]++] = (uint32_t)pos;
			}
		}
		d->stamp = calloc(most, sizeof(*d->stamp));
		d->cand = calloc(most, sizeof(*d->cand));
		if (!d->stamp || !d->cand)
			goto oom;
	}
	*ret = d;
	return 0;
oom:
	kn_evdetector_free(d);
	return su_errorf(error, -ENOMEM, "out of memory");
}

void kn_evdetector_free(kn_evdetector *d)
{
	if (!d)
		return;
	for (int k = 0; k < KN_EV_KINDS; k++) {
		free(d->rules[k]);
		free(d->always[k]);
		for (int f = 0; f < KN_EV_MAX_FIELDS; f++)
			if (d->fields[k][f].db)
				hs_free_database(d->fields[k][f].db);
	}
	if (d->scratch)
		hs_free_scratch(d->scratch);
	free(d->stamp);
	free(d->cand);
	pcre2_match_data_free(d->md);
	kn_thstate_free(d->th);
	free(d);
}

size_t kn_evdetector_count(const kn_evdetector *d)
{
	return d ? d->total : 0;
}

size_t kn_evdetector_count_kind(const kn_evdetector *d, enum kn_event_kind kind)
{
	return d && kind > KN_EV_NONE && kind < KN_EV_KINDS ? d->n_rules[kind] : 0;
}

bool kn_evdetector_wants(const kn_evdetector *d, enum kn_event_kind kind, unsigned int field)
{
	return d && kind > KN_EV_NONE && kind < KN_EV_KINDS && field < KN_EV_MAX_FIELDS &&
	       (d->wanted[kind] >> field & 1u);
}

/* Each run of keywords on one field must match that field. */
static bool fields_match(kn_evdetector *d, const struct kn_rule *r, const struct kn_event *ev)
{
	size_t i = 0;

	while (i < r->n_ops) {
		unsigned int f = r->ops[i].field;
		size_t j = i + 1;

		while (j < r->n_ops && r->ops[j].field == f)
			j++;
		if (f == 0 || f > KN_EV_MAX_FIELDS)
			return false;
		if (kn_inspect_ops(r->ops + i, j - i, (const uint8_t *)ev->f[f - 1].data,
				   ev->f[f - 1].len, d->md, d->rs->mctx) != 1)
			return false;
		i = j;
	}
	return true;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	kn_evdetector *d = ctx;

	(void)from, (void)to, (void)flags;
	if (d->stamp[id] != d->gen) {
		d->stamp[id] = d->gen;
		d->cand[d->n_cand++] = id;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The positions of the rules of the event's kind worth evaluating, in
 * rule order: those whose fast pattern is in its field, and the rest. */
static size_t candidates(kn_evdetector *d, const struct kn_event *ev)
{
	unsigned int k = ev->kind;

	if (++d->gen == 0) {
		size_t most = 1;

		for (unsigned int i = 1; i < KN_EV_KINDS; i++)
			if (d->n_rules[i] > most)
				most = d->n_rules[i];
		memset(d->stamp, 0, most * sizeof(*d->stamp));
		d->gen = 1;
	}
	d->n_cand = 0;
	for (size_t i = 0; i < d->n_always[k]; i++) {
		d->stamp[d->always[k][i]] = d->gen;
		d->cand[d->n_cand++] = d->always[k][i];
	}
	for (unsigned int f = 0; f < KN_EV_MAX_FIELDS; f++)
		if (d->fields[k][f].db && ev->f[f].len && ev->f[f].len <= UINT32_MAX)
			hs_scan(d->fields[k][f].db, ev->f[f].data, (unsigned int)ev->f[f].len, 0,
				d->scratch, on_match, d);
	if (d->n_cand > 1)
		qsort(d->cand, d->n_cand, sizeof(*d->cand), cmp_u32);
	return d->n_cand;
}

int kn_detect_event(kn_evdetector *d, const struct kn_event *ev, kn_event_alert_fn alert,
		    void *userdata)
{
	int alerts = 0;
	size_t n_cand;
	/* thresholds track "by_src"/"by_dst" by the event's uid */
	struct kn_packet key = { .family = 4 };

	if (!d || !ev || ev->kind <= KN_EV_NONE || ev->kind >= KN_EV_KINDS)
		return -EINVAL;
	key.ts_usec = ev->ts_usec;
	key.src[0] = key.dst[0] = (uint8_t)(ev->uid >> 24);
	key.src[1] = key.dst[1] = (uint8_t)(ev->uid >> 16);
	key.src[2] = key.dst[2] = (uint8_t)(ev->uid >> 8);
	key.src[3] = key.dst[3] = (uint8_t)ev->uid;
	n_cand = candidates(d, ev);
	for (size_t c = 0; c < n_cand; c++) {
		uint32_t idx = d->rules[ev->kind][d->cand[c]];
		const struct kn_rule *r = d->rs->rules[idx];

		if (!fields_match(d, r, ev))
			continue;
		if (r->action == KN_ACTION_PASS)
			break;
		if (r->noalert)
			continue;
		if (r->threshold.type != KN_TH_NONE &&
		    !kn_threshold_check(d->th, idx, &r->threshold, &key))
			continue;
		if (r->detection_filter.type != KN_TH_NONE &&
		    !kn_threshold_check(d->th, idx, &r->detection_filter, &key))
			continue;
		if (alert) {
			struct kn_alert a = {
				.action = r->action, .gid = r->gid, .sid = r->sid, .rev = r->rev,
				.priority = r->priority > 0 ? (uint32_t)r->priority
					    : r->classtype ? r->classtype->priority : 3,
				.msg = r->msg,
				.classtype = r->classtype ? r->classtype->name : NULL,
				.category = r->classtype ? r->classtype->description : NULL,
			};

			alert(userdata, &a, ev);
		}
		alerts++;
	}
	return alerts;
}

/* ---- EVE ---- */

/* A JSON string of @len bytes: anything outside printable ASCII escaped
 * (guest bytes are hostile; the line must stay one valid line). */
static void json_bytes(su_buf *b, const char *s, size_t len)
{
	su_buf_puts(b, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			su_buf_append(b, e, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			su_buf_printf(b, "\\u%04x", c);
		} else {
			su_buf_append(b, &c, 1);
		}
	}
	su_buf_puts(b, "\"");
}

int kn_eve_event_alert(char **ret, const struct kn_alert *a, const struct kn_event *ev)
{
	su_buf b = { 0 };
	char ts[64];
	struct tm tm;
	time_t secs;
	char *s;

	if (!ret || !a || !ev || ev->kind <= KN_EV_NONE || ev->kind >= KN_EV_KINDS)
		return -EINVAL;
	secs = (time_t)(ev->ts_usec / 1000000u);
	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	su_buf_printf(&b, "{\"timestamp\":\"%s.%06" PRIu64 "+0000\",\"event_type\":\"alert\","
		      "\"guest_event\":{\"kind\":\"%s\"", ts, ev->ts_usec % 1000000u,
		      kinds[ev->kind].name);
	for (int f = 0; f < KN_EV_MAX_FIELDS && kinds[ev->kind].fields[f]; f++) {
		if (!ev->f[f].len)
			continue;
		su_buf_printf(&b, ",\"%s\":", kinds[ev->kind].fields[f]);
		json_bytes(&b, ev->f[f].data, ev->f[f].len);
	}
	su_buf_printf(&b, "},\"alert\":{\"action\":\"%s\",\"gid\":%" PRIu32 ",\"signature_id\":%"
		      PRIu32 ",\"rev\":%" PRIu32 ",\"signature\":",
		      a->action == KN_ACTION_REJECT ? "blocked" : "allowed", a->gid, a->sid, a->rev);
	json_bytes(&b, a->msg ? a->msg : "", a->msg ? strlen(a->msg) : 0);
	su_buf_puts(&b, ",\"category\":");
	json_bytes(&b, a->category ? a->category : "", a->category ? strlen(a->category) : 0);
	su_buf_printf(&b, ",\"severity\":%" PRIu32 "}}", a->priority);
	s = su_buf_steal(&b);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}
