/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exec frames and requests (exec_proto.h). Shared by soda-monitor, the
 * guest's agent (a static binary: libc only) and the library. Everything
 * that arrives is checked here before anyone acts on it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exec_proto.h"

void sx_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

uint32_t sx_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void sx_put_header(uint8_t out[SX_HDR], uint32_t len, uint32_t id, uint16_t type)
{
	sx_put_u32(out, len);
	sx_put_u32(out + 4, id);
	out[8] = (uint8_t)type;
	out[9] = (uint8_t)(type >> 8);
	out[10] = out[11] = 0;
}

static int put_word(uint8_t *out, size_t max, size_t *pos, char key, const char *value)
{
	size_t n = strlen(value);

	if (*pos + 2 + n + 1 > max)
		return -E2BIG;
	out[(*pos)++] = (uint8_t)key;
	out[(*pos)++] = '=';
	memcpy(out + *pos, value, n + 1);
	*pos += n + 1;
	return 0;
}

int sx_request_encode(const sx_request *req, uint8_t *out, size_t max, char *err, size_t errlen)
{
	size_t pos = 0;
	char num[16];

	if (req->argc == 0 || req->argc > SX_ARGS_MAX || req->envc > SX_ARGS_MAX) {
		snprintf(err, errlen, "%s", req->argc == 0 ? "no command" : "too many words");
		return -EINVAL;
	}
	for (size_t i = 0; i < req->envc; i++) {
		const char *eq = strchr(req->env[i], '=');

		if (!eq || eq == req->env[i]) {
			snprintf(err, errlen, "environment entry %zu ('%.40s') is not NAME=VALUE", i,
				 req->env[i]);
			return -EINVAL;
		}
	}
	if (req->argv[0][0] == '\0') {
		snprintf(err, errlen, "the command is empty");
		return -EINVAL;
	}
	for (size_t i = 0; i < req->argc; i++)
		if (put_word(out, max, &pos, 'a', req->argv[i]) < 0)
			goto big;
	for (size_t i = 0; i < req->envc; i++)
		if (put_word(out, max, &pos, 'e', req->env[i]) < 0)
			goto big;
	if (req->user && (req->user[0] == '\0' || put_word(out, max, &pos, 'u', req->user) < 0))
		goto bad_or_big;
	if (req->cwd && (req->cwd[0] != '/' || put_word(out, max, &pos, 'd', req->cwd) < 0))
		goto bad_or_big;
	snprintf(num, sizeof(num), "%u", req->timeout_ms);
	if (req->timeout_ms && put_word(out, max, &pos, 't', num) < 0)
		goto big;
	if (req->has_stdin && put_word(out, max, &pos, 'i', "1") < 0)
		goto big;
	return (int)pos;
bad_or_big:
	if ((req->user && req->user[0] == '\0') || (req->cwd && req->cwd[0] != '/')) {
		snprintf(err, errlen, "%s", req->user && req->user[0] == '\0'
						    ? "the user is empty"
						    : "the working directory is not absolute");
		return -EINVAL;
	}
big:
	snprintf(err, errlen, "the command, its environment, user and directory take more than "
			      "%zu bytes",
		 max);
	return -E2BIG;
}

int sx_request_decode(sx_request *req, uint8_t *buf, size_t len, char *err, size_t errlen)
{
	size_t pos = 0;

	memset(req, 0, sizeof(*req));
	if (len == 0 || buf[len - 1] != '\0') {
		snprintf(err, errlen, "request: %s", len ? "not NUL-terminated" : "empty");
		return -EINVAL;
	}
	while (pos < len) {
		char *w = (char *)buf + pos, *v = w + 2;
		size_t wl = strlen(w);

		if (wl < 2 || w[1] != '=') {
			snprintf(err, errlen, "request: bad word at byte %zu", pos);
			return -EINVAL;
		}
		switch (w[0]) {
		case 'a':
			if (req->argc >= SX_ARGS_MAX || (req->argc == 0 && !*v))
				goto bad;
			req->argv[req->argc++] = v;
			break;
		case 'e':
			if (req->envc >= SX_ARGS_MAX || !strchr(v, '=') || *v == '=')
				goto bad;
			req->env[req->envc++] = v;
			break;
		case 'u':
			if (req->user || !*v)
				goto bad;
			req->user = v;
			break;
		case 'd':
			if (req->cwd || *v != '/')
				goto bad;
			req->cwd = v;
			break;
		case 't': {
			unsigned long long t = 0;

			if (req->timeout_ms || !*v || strlen(v) > 10)
				goto bad;
			for (const char *c = v; *c; c++) {
				if (*c < '0' || *c > '9')
					goto bad;
				t = t * 10 + (unsigned)(*c - '0');
			}
			if (t == 0 || t > UINT32_MAX)
				goto bad;
			req->timeout_ms = (uint32_t)t;
			break;
		}
		case 'i':
			if (req->has_stdin || strcmp(v, "1") != 0)
				goto bad;
			req->has_stdin = true;
			break;
		default:
			goto bad;
		}
		pos += wl + 1;
		continue;
bad:
		snprintf(err, errlen, "request: bad or repeated '%c' word at byte %zu", w[0], pos);
		return -EINVAL;
	}
	if (req->argc == 0) {
		snprintf(err, errlen, "request: no command");
		return -EINVAL;
	}
	req->argv[req->argc] = NULL;
	req->env[req->envc] = NULL;
	return 0;
}

int sx_feed(sx_reader *r, const uint8_t *data, size_t n, sx_frame_fn fn, void *ctx, char *err,
	    size_t errlen)
{
	while (n > 0) {
		size_t want, take;
		uint32_t len;

		want = r->have < SX_HDR ? SX_HDR : SX_HDR + sx_get_u32(r->buf);
		take = want - r->have < n ? want - r->have : n;
		memcpy(r->buf + r->have, data, take);
		r->have += take;
		data += take;
		n -= take;
		if (r->have < SX_HDR)
			return 0;
		len = sx_get_u32(r->buf);
		if (r->have == SX_HDR) {
			if (len > SX_PAYLOAD_MAX) {
				snprintf(err, errlen, "frame of %u bytes (at most %u)", len,
					 SX_PAYLOAD_MAX);
				return -EPROTO;
			}
			if (r->buf[10] || r->buf[11]) {
				snprintf(err, errlen, "frame header's reserved bytes are not zero");
				return -EPROTO;
			}
		}
		if (r->have == SX_HDR + len) {
			int rc = fn(ctx, sx_get_u32(r->buf + 4),
				    (uint16_t)(r->buf[8] | r->buf[9] << 8), r->buf + SX_HDR, len);

			r->have = 0;
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}
