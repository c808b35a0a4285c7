/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define KV_FILE_MAX (1u << 20)
#define KV_KEY_MAX 64

void su_kv_header(su_buf *b, const char *magic, unsigned version)
{
	su_buf_printf(b, "%s %u\n", magic, version);
}

void su_kv_add(su_buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	su_buf_puts(b, key);
	su_buf_puts(b, " ");
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '%') {
			char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			su_buf_append(b, esc, 3);
		} else {
			su_buf_append(b, p, 1);
		}
	}
	su_buf_puts(b, "\n");
}

void su_kv_add_u64(su_buf *b, const char *key, uint64_t value)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRIu64, value);
	su_kv_add(b, key, num);
}

void su_kv_add_i64(su_buf *b, const char *key, int64_t value)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, value);
	su_kv_add(b, key, num);
}


int su_kv_parse(const char *text, size_t len, const char *source, const char *magic,
		unsigned max_version, unsigned *ret_version, su_kv_fn fn, void *userdata,
		soda_error **error)
{
	const char *p = text, *end = text + len;
	uint32_t lineno = 0;
	unsigned version = 0;
	char *value = NULL;
	int r = 0;

	if (memchr(text, '\0', len))
		return su_errorf_at(error, -EINVAL, source, 0, 0, "%s: contains a NUL byte",
				    source);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *sp;
		size_t linelen, keylen;
		char key[KV_KEY_MAX + 1];

		lineno++;
		if (!nl) {
			r = su_errorf_at(error, -EINVAL, source, lineno, (uint32_t)(end - p) + 1,
					 "%s:%u: line is not terminated (file truncated?)",
					 source, lineno);
			break;
		}
		linelen = (size_t)(nl - p);
		if (lineno == 1) {
			size_t ml = strlen(magic);
			uint64_t v;
			char vbuf[16];

			if (linelen <= ml + 1 || memcmp(p, magic, ml) != 0 || p[ml] != ' ' ||
			    linelen - ml - 1 >= sizeof(vbuf)) {
				r = su_errorf_at(error, -EINVAL, source, 1, 1,
						 "%s:1: not a '%s' file", source, magic);
				break;
			}
			memcpy(vbuf, p + ml + 1, linelen - ml - 1);
			vbuf[linelen - ml - 1] = '\0';
			if (su_parse_u64(vbuf, &v) < 0 || v == 0 || v > max_version) {
				r = su_errorf_at(error, -EINVAL, source, 1, (uint32_t)ml + 2,
						 "%s:1: unsupported '%s' version '%s' (this library reads up to %u)",
						 source, magic, vbuf, max_version);
				break;
			}
			version = (unsigned)v;
			p = nl + 1;
			continue;
		}
		sp = memchr(p, ' ', linelen);
		keylen = sp ? (size_t)(sp - p) : linelen;
		if (!sp || keylen == 0 || keylen > KV_KEY_MAX) {
			r = su_errorf_at(error, -EINVAL, source, lineno, 1,
					 "%s:%u: expected 'key value'", source, lineno);
			break;
		}
		for (size_t i = 0; i < keylen; i++) {
			char c = p[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
				r = su_errorf_at(error, -EINVAL, source, lineno, (uint32_t)i + 1,
						 "%s:%u:%zu: bad character in key", source, lineno,
						 i + 1);
				goto out;
			}
		}
		memcpy(key, p, keylen);
		key[keylen] = '\0';
		value = malloc(linelen - keylen);
		if (!value) {
			r = su_errorf(error, -ENOMEM, "out of memory");
			break;
		}
		size_t o = 0;
		for (const char *q = sp + 1; q < nl; q++) {
			uint32_t col = (uint32_t)(q - p) + 1;
			unsigned char c = (unsigned char)*q;

			if (c == '%') {
				if (nl - q < 3 || su_hexval(q[1]) < 0 || su_hexval(q[2]) < 0) {
					r = su_errorf_at(error, -EINVAL, source, lineno, col,
							 "%s:%u:%u: bad %%-escape", source, lineno,
							 col);
					goto out;
				}
				value[o++] = (char)(su_hexval(q[1]) << 4 | su_hexval(q[2]));
				q += 2;
			} else if (c < 0x21 || c > 0x7e) {
				r = su_errorf_at(error, -EINVAL, source, lineno, col,
						 "%s:%u:%u: unescaped control or non-ASCII byte",
						 source, lineno, col);
				goto out;
			} else {
				value[o++] = (char)c;
			}
		}
		value[o] = '\0';
		if (memchr(value, '\0', o)) {
			r = su_errorf_at(error, -EINVAL, source, lineno, 1,
					 "%s:%u: value holds a NUL byte", source, lineno);
			goto out;
		}
		r = fn(key, value, lineno, userdata);
		free(value);
		value = NULL;
		if (r < 0)
			break;
		p = nl + 1;
	}
	if (r >= 0 && version == 0)
		r = su_errorf_at(error, -EINVAL, source, 1, 1, "%s: empty file, not a '%s' file",
				 source, magic);
out:
	free(value);
	if (r >= 0 && ret_version)
		*ret_version = version;
	return r < 0 ? r : 0;
}

int su_kv_parse_file(const char *path, const char *magic, unsigned max_version,
		     unsigned *ret_version, su_kv_fn fn, void *userdata, soda_error **error)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = su_read_file(path, KV_FILE_MAX, &text, &len);
	if (r < 0)
		return su_errorf(error, r, "cannot read %s: %s", path, strerror(-r));
	r = su_kv_parse(text, len, path, magic, max_version, ret_version, fn, userdata, error);
	free(text);
	return r;
}
