/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Export: records as JSON lines, console sessions as asciicast v2
 * (docs/blackbox-format.md, "JSON lines" and "asciicast").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- UTF-8 and JSON ---- */

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF); 0 if p holds the valid start of a sequence
 * cut by the end of the data; -1 if invalid. */
static int utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	int len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return -1;
	}
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n) {
			return 0;
		}
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		cp = cp << 6 | (p[i] & 0x3F);
		/* Reject early what can no longer become valid. */
		if (i == 1 && ((len == 3 && c == 0xE0 && p[1] < 0xA0) || (len == 3 && c == 0xED && p[1] > 0x9F) ||
			       (len == 4 && c == 0xF0 && p[1] < 0x90) || (len == 4 && c == 0xF4 && p[1] > 0x8F)))
			return -1;
	}
	(void)cp;
	return len;
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		int l = utf8_len(p + i, n - i);

		if (l <= 0)
			return false;
		i += (size_t)l;
	}
	return true;
}

/* Appends the JSON string of @s: escapes what JSON needs, replaces bytes
 * that are no UTF-8 by U+FFFD. */
void sbb_json_string(su_buf *b, const uint8_t *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	su_buf_append(b, "\"", 1);
	while (i < len) {
		uint8_t c = s[i];
		int l;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			su_buf_append(b, e, 2);
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			if (c == '\n')
				su_buf_append(b, "\\n", 2);
			else if (c == '\r')
				su_buf_append(b, "\\r", 2);
			else if (c == '\t')
				su_buf_append(b, "\\t", 2);
			else
				su_buf_append(b, e, 6);
			i++;
			continue;
		}
		l = utf8_len(s + i, len - i);
		if (l <= 0) {
			su_buf_append(b, "\xEF\xBF\xBD", 3);
			i++;
			continue;
		}
		su_buf_append(b, s + i, (size_t)l);
		i += (size_t)l;
	}
	su_buf_append(b, "\"", 1);
}

static void json_time(su_buf *b, uint64_t usec)
{
	time_t t = (time_t)(usec / 1000000u);
	struct tm tm;
	char s[64];

	if (!gmtime_r(&t, &tm) || strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		su_buf_puts(b, "null");
		return;
	}
	su_buf_printf(b, "\"%s.%06uZ\"", s, (unsigned)(usec % 1000000u));
}

static void json_data(su_buf *b, const uint8_t *p, size_t len)
{
	if (utf8_valid(p, len)) {
		su_buf_puts(b, ",\"data\":");
		sbb_json_string(b, p, len);
	} else {
		size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
		char *s = malloc(n);

		if (!s) {
			b->oom = true;
			return;
		}
		sodium_bin2base64(s, n, p, len, sodium_base64_VARIANT_ORIGINAL);
		su_buf_printf(b, ",\"data_b64\":\"%s\"", s);
		free(s);
	}
}

SODA_EXPORT int soda_blackbox_record_to_json(char **ret, const soda_blackbox_record *rec,
					     unsigned int flags, soda_error **error)
{
	uint32_t type = soda_blackbox_record_get_type(rec);
	const char *name = soda_blackbox_type_name(type);
	const char *label;
	const uint8_t *d;
	size_t len;
	su_buf b = { 0 };
	char *s;

	if (!ret || !rec)
		return su_errorf(error, -EINVAL, "no record");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	d = soda_blackbox_record_get_data(rec, &len);
	su_buf_puts(&b, "{\"time\":");
	json_time(&b, soda_blackbox_record_get_realtime(rec));
	su_buf_printf(&b, ",\"realtime_us\":%" PRIu64 ",\"mono_us\":%" PRIu64 ",\"origin\":\"%s\"",
		      soda_blackbox_record_get_realtime(rec), soda_blackbox_record_get_monotonic(rec),
		      soda_blackbox_record_get_origin(rec));
	label = soda_blackbox_record_get_label(rec);
	if (label && *label) {
		su_buf_puts(&b, ",\"label\":");
		sbb_json_string(&b, (const uint8_t *)label, strlen(label));
	}
	su_buf_printf(&b, ",\"stream\":\"%s\",\"seq\":%" PRIu64 ",\"type\":\"%s\",\"aux\":%u",
		      soda_blackbox_record_get_stream(rec), soda_blackbox_record_get_seq(rec),
		      name ? name : "unknown", soda_blackbox_record_get_aux(rec));
	if (soda_blackbox_record_get_flags(rec) & SODA_BLACKBOX_RECORD_F_CONTINUED)
		su_buf_puts(&b, ",\"continued\":true");
	if (soda_blackbox_record_get_received(rec)) {
		su_buf_puts(&b, ",\"received\":");
		json_time(&b, soda_blackbox_record_get_received(rec));
		su_buf_printf(&b, ",\"received_us\":%" PRIu64, soda_blackbox_record_get_received(rec));
	}
	if (soda_blackbox_record_get_flags(rec) & SODA_BLACKBOX_RECORD_F_FOREIGN)
		su_buf_puts(&b, ",\"foreign\":true");
	if (soda_blackbox_record_get_flags(rec) & SODA_BLACKBOX_RECORD_F_TIME_FAR)
		su_buf_puts(&b, ",\"time_far_from_receipt\":true");
	if (soda_blackbox_record_get_flags(rec) & SODA_BLACKBOX_RECORD_F_TIME_BACK)
		su_buf_puts(&b, ",\"time_backwards\":true");
	if (type == SODA_BLACKBOX_HEARTBEAT && len == SBX_HEARTBEAT_BODY_BYTES)
		su_buf_printf(&b, ",\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"lost_records\":%" PRIu64
			      ",\"epoch\":%u,\"interval_ms\":%u",
			      sbx_get64(d), sbx_get64(d + 8), sbx_get64(d + 16), sbx_get32(d + 24),
			      sbx_get32(d + 28));
	else if (type == SODA_BLACKBOX_END && len == SBX_END_BODY_BYTES)
		su_buf_printf(&b, ",\"reason\":%u,\"records\":%" PRIu64 ",\"bytes\":%" PRIu64
			      ",\"lost_records\":%" PRIu64,
			      sbx_get32(d), sbx_get64(d + 8), sbx_get64(d + 16), sbx_get64(d + 24));
	else if (type == SODA_BLACKBOX_LOSS && len == SBX_WLOSS_BODY_BYTES &&
		 strcmp(soda_blackbox_record_get_origin(rec), "store") != 0)
		su_buf_printf(&b, ",\"lost_records\":%" PRIu64 ",\"lost_bytes\":%" PRIu64 ",\"reason\":%u",
			      sbx_get64(d), sbx_get64(d + 8), sbx_get32(d + 16));
	else if (type == SODA_BLACKBOX_CONSOLE_SIZE && len == 4)
		su_buf_printf(&b, ",\"columns\":%u,\"rows\":%u", sbx_get16(d), sbx_get16(d + 2));
	else
		json_data(&b, d, len);
	su_buf_puts(&b, "}");
	s = su_buf_steal(&b);
	if (!s)
		return su_errorf(error, -ENOMEM, "out of memory");
	*ret = s;
	return 0;
}

/* ---- export ---- */

SODA_EXPORT int soda_blackbox_export_options_init(soda_blackbox_export_options *opts,
						  uint32_t version)
{
	if (!opts || version != SODA_BLACKBOX_EXPORT_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? su_neg_errno() : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int emit(int fd, su_buf *b, soda_error **error)
{
	int r;

	if (b->oom) {
		su_buf_free(b);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	r = b->len ? write_all(fd, b->data, b->len) : 0;
	su_buf_free(b);
	if (r < 0)
		return su_errorf(error, r, "cannot write the export: %s", strerror(-r));
	return 0;
}

static int export_jsonl(soda_blackbox_reader *rd, int fd, soda_error **error)
{
	const soda_blackbox_record *rec;
	const soda_blackbox_report *rep;
	int r;

	while ((r = soda_blackbox_reader_next(rd, &rec, 0, error)) > 0) {
		su_buf b = { 0 };
		char *j = NULL;

		r = soda_blackbox_record_to_json(&j, rec, 0, error);
		if (r < 0)
			return r;
		su_buf_puts(&b, j);
		su_buf_puts(&b, "\n");
		free(j);
		r = emit(fd, &b, error);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	rep = soda_blackbox_reader_get_report(rd);
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++) {
		su_buf b = { 0 };
		char *j = NULL;

		r = soda_blackbox_finding_to_json(&j, soda_blackbox_report_get_finding(rep, i), 0, error);
		if (r < 0)
			return r;
		su_buf_puts(&b, j);
		su_buf_puts(&b, "\n");
		free(j);
		r = emit(fd, &b, error);
		if (r < 0)
			return r;
	}
	return 0;
}

typedef struct cast {
	bool started;
	char stream[33];
	uint32_t session;
	uint64_t mono0, last_usec;
	uint32_t cols, rows;
	uint8_t carry[2][4]; /* an incomplete UTF-8 sequence per direction */
	size_t carry_len[2];
} cast;

static void cast_event(su_buf *b, cast *c, uint64_t mono, const char *code, const uint8_t *p,
		       size_t n, int dir)
{
	uint8_t *joined = NULL;
	size_t total = c->carry_len[dir] + n, keep = 0;
	uint64_t t;

	if (dir >= 0) {
		joined = malloc(total ? total : 1);
		if (!joined) {
			b->oom = true;
			return;
		}
		memcpy(joined, c->carry[dir], c->carry_len[dir]);
		memcpy(joined + c->carry_len[dir], p, n);
		/* Hold back a sequence cut at the end for the next event. */
		for (size_t back = 1; back <= 3 && back <= total; back++) {
			size_t i = total - back;

			if ((joined[i] & 0xC0) != 0x80) {
				if (joined[i] >= 0xC2 && utf8_len(joined + i, back) == 0)
					keep = back;
				break;
			}
		}
		memcpy(c->carry[dir], joined + total - keep, keep);
		c->carry_len[dir] = keep;
		p = joined;
		n = total - keep;
		if (n == 0) {
			free(joined);
			return;
		}
	}
	t = mono > c->mono0 ? mono - c->mono0 : 0;
	if (t < c->last_usec)
		t = c->last_usec; /* times never go back in a cast */
	c->last_usec = t;
	su_buf_printf(b, "[%" PRIu64 ".%06u, \"%s\", ", t / 1000000u, (unsigned)(t % 1000000u), code);
	sbb_json_string(b, p, n);
	su_buf_puts(b, "]\n");
	free(joined);
}

static int export_cast(soda_blackbox_reader *rd, int fd, const soda_blackbox_export_options *o,
		       soda_error **error)
{
	const soda_blackbox_record *rec;
	cast c = { 0 };
	int r;

	c.cols = 80;
	c.rows = 24;
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, error)) > 0) {
		uint32_t type = soda_blackbox_record_get_type(rec);
		uint32_t aux = soda_blackbox_record_get_aux(rec);
		const char *stream = soda_blackbox_record_get_stream(rec);
		const uint8_t *d;
		size_t len;
		su_buf b = { 0 };

		if (type != SODA_BLACKBOX_CONSOLE_OUT && type != SODA_BLACKBOX_CONSOLE_IN &&
		    type != SODA_BLACKBOX_CONSOLE_SIZE)
			continue;
		if (o->has_session && aux != o->session)
			continue;
		if (c.started && (aux != c.session || strcmp(stream, c.stream) != 0))
			continue;
		d = soda_blackbox_record_get_data(rec, &len);
		if (type == SODA_BLACKBOX_CONSOLE_SIZE) {
			if (len != 4 || !sbx_get16(d) || !sbx_get16(d + 2))
				continue;
			if (!c.started) {
				c.cols = sbx_get16(d);
				c.rows = sbx_get16(d + 2);
			} else {
				char sz[32];
				int n = snprintf(sz, sizeof(sz), "%ux%u", sbx_get16(d), sbx_get16(d + 2));

				cast_event(&b, &c, soda_blackbox_record_get_monotonic(rec), "r",
					   (const uint8_t *)sz, (size_t)n, -1);
			}
		} else {
			if (type == SODA_BLACKBOX_CONSOLE_IN && !o->with_input)
				continue;
			if (!c.started) {
				c.started = true;
				c.session = aux;
				snprintf(c.stream, sizeof(c.stream), "%s", stream);
				c.mono0 = soda_blackbox_record_get_monotonic(rec);
				su_buf_printf(&b, "{\"version\": 2, \"width\": %u, \"height\": %u, \"timestamp\": %" PRIu64,
					      c.cols, c.rows, soda_blackbox_record_get_realtime(rec) / 1000000u);
				if (o->title) {
					su_buf_puts(&b, ", \"title\": ");
					sbb_json_string(&b, (const uint8_t *)o->title, strlen(o->title));
				}
				su_buf_puts(&b, "}\n");
			}
			cast_event(&b, &c, soda_blackbox_record_get_monotonic(rec),
				   type == SODA_BLACKBOX_CONSOLE_OUT ? "o" : "i", d, len,
				   type == SODA_BLACKBOX_CONSOLE_OUT ? 0 : 1);
		}
		r = emit(fd, &b, error);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (!c.started)
		return su_errorf(error, -ENOENT, "no console session%s in the store",
				 o->has_session ? " with that number" : "");
	/* Bytes held back at the very end are no UTF-8: show them replaced. */
	for (int dir = 0; dir < 2; dir++)
		if (c.carry_len[dir]) {
			su_buf b = { 0 };
			uint8_t tail[4];
			size_t n = c.carry_len[dir];

			memcpy(tail, c.carry[dir], n);
			c.carry_len[dir] = 0;
			cast_event(&b, &c, c.mono0 + c.last_usec, dir ? "i" : "o", tail, n, -1);
			r = emit(fd, &b, error);
			if (r < 0)
				return r;
		}
	return 0;
}

SODA_EXPORT int soda_blackbox_export(soda_blackbox_reader *rd, int fd,
				     const soda_blackbox_export_options *opts, unsigned int flags,
				     soda_error **error)
{
	soda_blackbox_export_options o = SODA_BLACKBOX_EXPORT_OPTIONS_INIT;

	if (!rd || fd < 0)
		return su_errorf(error, -EINVAL, "no reader or no file descriptor");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (opts) {
		if (opts->version != SODA_BLACKBOX_EXPORT_OPTIONS_VERSION)
			return su_errorf(error, -EINVAL, "unknown export options version %u", opts->version);
		o = *opts;
	}
	if (sbb_reader_follows(rd))
		return su_errorf(error, -EINVAL, "cannot export from a reader that follows the store");
	switch (o.format ? o.format : SODA_BLACKBOX_EXPORT_JSONL) {
	case SODA_BLACKBOX_EXPORT_JSONL:
		return export_jsonl(rd, fd, error);
	case SODA_BLACKBOX_EXPORT_ASCIICAST:
		return export_cast(rd, fd, &o, error);
	default:
		return su_errorf(error, -EINVAL, "unknown export format %u", o.format);
	}
}
