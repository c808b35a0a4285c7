/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Findings and reports; names of record types and finding kinds. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void sbb_hex(char *out, const uint8_t *in, size_t n)
{
	su_hex(out, in, n);
}

int sbb_unhex(uint8_t *out, size_t n, const char *in, size_t in_len)
{
	return in_len == 2 * n ? su_unhex(out, n, in) : -EINVAL;
}

bool sbb_is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ---- names ---- */

static const char *const type_names[] = {
	[SODA_BLACKBOX_CONSOLE_OUT] = "console-out", [SODA_BLACKBOX_CONSOLE_IN] = "console-in",
	[SODA_BLACKBOX_SYSLOG] = "syslog",           [SODA_BLACKBOX_KERNEL] = "kernel",
	[SODA_BLACKBOX_EXEC] = "exec",               [SODA_BLACKBOX_AUDIT] = "audit",
	[SODA_BLACKBOX_IDS_ALERT] = "ids-alert",     [SODA_BLACKBOX_LIFECYCLE] = "lifecycle",
	[SODA_BLACKBOX_SNAPSHOT] = "snapshot",       [SODA_BLACKBOX_HEARTBEAT] = "heartbeat",
	[SODA_BLACKBOX_LOSS] = "loss",               [SODA_BLACKBOX_END] = "end",
	[SODA_BLACKBOX_CONSOLE_SIZE] = "console-size", [SODA_BLACKBOX_TEXT] = "text",
};

SODA_EXPORT const char *soda_blackbox_type_name(uint32_t type)
{
	return type < SU_ARRAY_SIZE(type_names) ? type_names[type] : NULL;
}

SODA_EXPORT uint32_t soda_blackbox_type_from_name(const char *name)
{
	for (uint32_t i = 1; name && i < SU_ARRAY_SIZE(type_names); i++)
		if (type_names[i] && strcmp(type_names[i], name) == 0)
			return i;
	return 0;
}

static const char *const kind_names[] = {
	[SODA_BLACKBOX_F_BAD_FILE] = "bad-file",
	[SODA_BLACKBOX_F_CORRUPT_FRAME] = "corrupt-frame",
	[SODA_BLACKBOX_F_GARBAGE] = "garbage",
	[SODA_BLACKBOX_F_FOREIGN_SEGMENT] = "foreign-segment",
	[SODA_BLACKBOX_F_SEGMENT_MISSING] = "segment-missing",
	[SODA_BLACKBOX_F_CHAIN_BREAK] = "chain-break",
	[SODA_BLACKBOX_F_UNKNOWN_STREAM] = "unknown-stream",
	[SODA_BLACKBOX_F_SEQ_GAP] = "seq-gap",
	[SODA_BLACKBOX_F_SEQ_REORDER] = "seq-reorder",
	[SODA_BLACKBOX_F_SEQ_DUPLICATE] = "seq-duplicate",
	[SODA_BLACKBOX_F_PROTOCOL] = "protocol",
	[SODA_BLACKBOX_F_TRUNCATED] = "truncated",
	[SODA_BLACKBOX_F_TORN_TAIL] = "torn-tail",
	[SODA_BLACKBOX_F_DECLARED_LOSS] = "declared-loss",
	[SODA_BLACKBOX_F_NO_END] = "no-end",
	[SODA_BLACKBOX_F_STALE] = "stale",
	[SODA_BLACKBOX_F_ANCHOR] = "anchor",
	[SODA_BLACKBOX_F_DECRYPT_FAILED] = "decrypt-failed",
	[SODA_BLACKBOX_F_BAD_RECORD] = "bad-record",
	[SODA_BLACKBOX_F_WRONG_KEY] = "wrong-key",
	[SODA_BLACKBOX_F_FOREIGN_STREAM] = "foreign-stream",
	[SODA_BLACKBOX_F_UNREADABLE] = "unreadable",
	[SODA_BLACKBOX_F_RECOVERED] = "recovered",
	[SODA_BLACKBOX_F_CLOCK] = "clock",
};

SODA_EXPORT const char *soda_blackbox_finding_kind_name(uint32_t kind)
{
	return kind < SU_ARRAY_SIZE(kind_names) ? kind_names[kind] : NULL;
}

static const char *severity_name(uint32_t s)
{
	switch (s) {
	case SODA_BLACKBOX_SEVERITY_INFO:
		return "info";
	case SODA_BLACKBOX_SEVERITY_WARNING:
		return "warning";
	case SODA_BLACKBOX_SEVERITY_LOSS:
		return "loss";
	default:
		return "error";
	}
}

/* ---- reports ---- */

soda_blackbox_report *sbb_report_new(void)
{
	return calloc(1, sizeof(soda_blackbox_report));
}

void sbb_report_add(soda_blackbox_report *r, uint32_t kind, uint32_t severity, uint32_t basis,
		    const sbb_pos *pos, const uint8_t *stream, uint64_t seq, const char *fmt, ...)
{
	soda_blackbox_finding *f;
	char *msg, *where;
	va_list ap;

	if (!r)
		return;
	if (r->n >= SBB_MAX_FINDINGS) {
		r->counters[SODA_BLACKBOX_REPORT_DROPPED]++;
		return;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		soda_blackbox_finding *nf = realloc(r->f, cap * sizeof(*nf));

		if (!nf) {
			r->counters[SODA_BLACKBOX_REPORT_DROPPED]++;
			return;
		}
		r->f = nf;
		r->cap = cap;
	}
	va_start(ap, fmt);
	msg = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!pos || pos->segment == 0)
		where = su_strdup_printf("store");
	else if (pos->entry != SBB_NO_ENTRY)
		where = su_strdup_printf("segment %" PRIu64 " offset %" PRIu64 " (entry %" PRIu64 ")",
					 pos->segment, pos->offset, pos->entry);
	else
		where = su_strdup_printf("segment %" PRIu64 " offset %" PRIu64, pos->segment,
					 pos->offset);
	f = &r->f[r->n];
	memset(f, 0, sizeof(*f));
	f->message = msg && where ? su_strdup_printf("%s: %s", where, msg) : NULL;
	free(msg);
	free(where);
	if (!f->message) {
		r->counters[SODA_BLACKBOX_REPORT_DROPPED]++;
		return;
	}
	f->kind = kind;
	f->severity = severity;
	f->basis = basis;
	if (pos)
		f->pos = *pos;
	else
		f->pos.entry = SBB_NO_ENTRY;
	f->seq = seq;
	f->order = r->n;
	if (stream) {
		f->has_stream = true;
		sbb_hex(f->stream, stream, 16);
	}
	r->n++;
	r->sorted = false;
}

static int cmp_finding(const void *a, const void *b)
{
	const soda_blackbox_finding *x = a, *y = b;

	if (x->pos.segment != y->pos.segment)
		return x->pos.segment < y->pos.segment ? -1 : 1;
	if (x->pos.offset != y->pos.offset)
		return x->pos.offset < y->pos.offset ? -1 : 1;
	/* Ties keep the order of detection. */
	return x->order < y->order ? -1 : x->order > y->order;
}

void sbb_report_sort(soda_blackbox_report *r)
{
	if (!r || r->sorted)
		return;
	if (r->n > 1)
		qsort(r->f, r->n, sizeof(*r->f), cmp_finding);
	r->sorted = true;
}

int sbb_report_error(const soda_blackbox_report *r, uint32_t severity, soda_error **error)
{
	const soda_blackbox_finding *f = soda_blackbox_report_get_first(r, severity);

	if (!f)
		return 0;
	return su_errorf(error, -EBADMSG, "%s", f->message);
}

SODA_EXPORT uint32_t soda_blackbox_report_get_status(const soda_blackbox_report *r)
{
	uint32_t worst = SODA_BLACKBOX_INTACT;

	for (size_t i = 0; r && i < r->n; i++) {
		if (r->f[i].severity == SODA_BLACKBOX_SEVERITY_ERROR)
			return SODA_BLACKBOX_DAMAGED;
		if (r->f[i].severity != SODA_BLACKBOX_SEVERITY_INFO)
			worst = SODA_BLACKBOX_INCOMPLETE;
	}
	if (r && r->counters[SODA_BLACKBOX_REPORT_DROPPED])
		worst = SODA_BLACKBOX_INCOMPLETE;
	return worst;
}

SODA_EXPORT size_t soda_blackbox_report_get_finding_count(const soda_blackbox_report *r)
{
	return r ? r->n : 0;
}

SODA_EXPORT const soda_blackbox_finding *soda_blackbox_report_get_finding(
	const soda_blackbox_report *r, size_t i)
{
	if (!r || i >= r->n)
		return NULL;
	sbb_report_sort((soda_blackbox_report *)r);
	return &r->f[i];
}

SODA_EXPORT const soda_blackbox_finding *soda_blackbox_report_get_first(
	const soda_blackbox_report *r, uint32_t min_severity)
{
	if (!r)
		return NULL;
	sbb_report_sort((soda_blackbox_report *)r);
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].severity >= min_severity)
			return &r->f[i];
	return NULL;
}

SODA_EXPORT uint64_t soda_blackbox_report_get_counter(const soda_blackbox_report *r,
						      uint32_t counter)
{
	if (!r || counter == 0 || counter >= SU_ARRAY_SIZE(r->counters))
		return 0;
	return r->counters[counter];
}

SODA_EXPORT const char *soda_blackbox_report_get_anchor(const soda_blackbox_report *r)
{
	return r && r->anchor[0] ? r->anchor : NULL;
}

SODA_EXPORT void soda_blackbox_report_free(soda_blackbox_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i].message);
	free(r->f);
	free(r);
}

/* ---- findings ---- */

SODA_EXPORT uint32_t soda_blackbox_finding_get_kind(const soda_blackbox_finding *f)
{
	return f ? f->kind : 0;
}
SODA_EXPORT uint32_t soda_blackbox_finding_get_severity(const soda_blackbox_finding *f)
{
	return f ? f->severity : 0;
}
SODA_EXPORT uint32_t soda_blackbox_finding_get_basis(const soda_blackbox_finding *f)
{
	return f ? f->basis : 0;
}
SODA_EXPORT const char *soda_blackbox_finding_get_message(const soda_blackbox_finding *f)
{
	return f ? f->message : NULL;
}
SODA_EXPORT uint64_t soda_blackbox_finding_get_segment(const soda_blackbox_finding *f)
{
	return f ? f->pos.segment : 0;
}
SODA_EXPORT uint64_t soda_blackbox_finding_get_offset(const soda_blackbox_finding *f)
{
	return f ? f->pos.offset : 0;
}
SODA_EXPORT uint64_t soda_blackbox_finding_get_entry(const soda_blackbox_finding *f)
{
	return f ? f->pos.entry : SBB_NO_ENTRY;
}
SODA_EXPORT const char *soda_blackbox_finding_get_stream(const soda_blackbox_finding *f)
{
	return f && f->has_stream ? f->stream : NULL;
}
SODA_EXPORT uint64_t soda_blackbox_finding_get_seq(const soda_blackbox_finding *f)
{
	return f ? f->seq : SBB_NO_SEQ;
}

SODA_EXPORT int soda_blackbox_finding_to_json(char **ret, const soda_blackbox_finding *f,
					      unsigned int flags, soda_error **error)
{
	su_buf b = { 0 };
	char *s;

	if (!ret || !f)
		return su_errorf(error, -EINVAL, "no finding");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	su_buf_printf(&b, "{\"finding\":\"%s\",\"severity\":\"%s\",\"basis\":\"%s\",\"segment\":%" PRIu64
		      ",\"offset\":%" PRIu64,
		      soda_blackbox_finding_kind_name(f->kind) ? soda_blackbox_finding_kind_name(f->kind)
							       : "unknown",
		      severity_name(f->severity), f->basis == SODA_BLACKBOX_BASIS_CRYPTO ? "crypto" : "structure",
		      f->pos.segment, f->pos.offset);
	if (f->pos.entry != SBB_NO_ENTRY)
		su_buf_printf(&b, ",\"entry\":%" PRIu64, f->pos.entry);
	if (f->has_stream)
		su_buf_printf(&b, ",\"stream\":\"%s\"", f->stream);
	if (f->seq != SBB_NO_SEQ)
		su_buf_printf(&b, ",\"seq\":%" PRIu64, f->seq);
	su_buf_puts(&b, ",\"message\":");
	sbb_json_string(&b, (const uint8_t *)f->message, strlen(f->message));
	su_buf_puts(&b, "}");
	s = su_buf_steal(&b);
	if (!s)
		return su_errorf(error, -ENOMEM, "out of memory");
	*ret = s;
	return 0;
}
