/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The soda configuration of a domain, kept in the domain's metadata: what
 * the domain XML cannot say (the image name, kernel words, the switch each
 * NIC is on, labels). The text is read back from libvirt, which anyone
 * with access to the hypervisor may have edited: it is parsed strictly and
 * every value goes through the public setters, which check it again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../libsoda/hexval.h"
#include "lv.h"

#define META_MAX 65536

int lv_buf_printf(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *add = NULL, *n;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&add, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	n = realloc(*buf, *len + (size_t)r + 1);
	if (!n) {
		free(add);
		return -ENOMEM;
	}
	memcpy(n + *len, add, (size_t)r + 1);
	*buf = n;
	*len += (size_t)r;
	free(add);
	return 0;
}

int lv_buf_escaped(char **buf, size_t *len, const char *s)
{
	for (; *s; s++) {
		int r;

		switch (*s) {
		case '<': r = lv_buf_printf(buf, len, "&lt;"); break;
		case '>': r = lv_buf_printf(buf, len, "&gt;"); break;
		case '&': r = lv_buf_printf(buf, len, "&amp;"); break;
		case '\'': r = lv_buf_printf(buf, len, "&apos;"); break;
		case '"': r = lv_buf_printf(buf, len, "&quot;"); break;
		default: r = lv_buf_printf(buf, len, "%c", *s); break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static bool plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == ':' || c == '/';
}

static int put(char **buf, size_t *len, const char *key, const char *value)
{
	int r = lv_buf_printf(buf, len, " %s=", key);

	for (const char *v = value; r == 0 && *v; v++)
		r = plain(*v) ? lv_buf_printf(buf, len, "%c", *v)
			      : lv_buf_printf(buf, len, "%%%02X", (unsigned char)*v);
	return r;
}

int lv_meta_format(char **ret, const soda_server_config *cfg, soda_error **error)
{
	char *buf = NULL, num[48], hex[65];
	uint8_t box[32];
	size_t len = 0;
	int r;

	snprintf(num, sizeof(num), "%llu",
		 (unsigned long long)soda_server_config_get_memory(cfg));
	r = lv_buf_printf(&buf, &len, "v1");
	if (r == 0)
		r = put(&buf, &len, "image", soda_server_config_get_image(cfg));
	if (r == 0)
		r = put(&buf, &len, "memory", num);
	for (size_t i = 0; r == 0 && i < soda_server_config_get_kernel_arg_count(cfg); i++)
		r = put(&buf, &len, "arg", soda_server_config_get_kernel_arg(cfg, i));
	for (size_t i = 0; r == 0 && i < soda_server_config_get_nic_count(cfg); i++) {
		const char *network = NULL, *mac = NULL;
		char *both = NULL;

		r = soda_server_config_get_nic(cfg, i, &network, &mac);
		if (r == 0 && asprintf(&both, "%s,%s", network, mac ? mac : "") < 0)
			r = -ENOMEM;
		if (r == 0)
			r = put(&buf, &len, "nic", both);
		free(both);
		for (size_t a = 0; r == 0 && a < soda_server_config_get_nic_address_count(cfg, i);
		     a++) {
			both = NULL;
			if (asprintf(&both, "%zu,%s", i,
				     soda_server_config_get_nic_address(cfg, i, a)) < 0)
				r = -ENOMEM;
			if (r == 0)
				r = put(&buf, &len, "addr", both);
			free(both);
		}
	}
	for (size_t i = 0; r == 0 && i < soda_server_config_get_label_count(cfg); i++)
		r = put(&buf, &len, "label", soda_server_config_get_label(cfg, i));
	if (r == 0 && soda_server_config_get_blackbox(cfg, box)) {
		uint64_t quota = 0;
		uint32_t policy = soda_server_config_get_blackbox_retention(cfg, &quota);

		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", box[i]);
		r = put(&buf, &len, "blackbox", hex);
		/* stop without a quota of its own is the default */
		if (r == 0 && (policy != SODA_BLACKBOX_RETENTION_STOP || quota)) {
			snprintf(num, sizeof(num), "%s,%llu", soda_blackbox_retention_name(policy),
				 (unsigned long long)quota);
			r = put(&buf, &len, "retention", num);
		}
	}
	if (r == 0 && soda_server_config_get_guest_profile(cfg) != SODA_GUEST_PROFILE_LOCKED)
		r = put(&buf, &len, "profile",
			soda_guest_profile_name(soda_server_config_get_guest_profile(cfg)));
	if (r < 0) {
		free(buf);
		return soda_error_set(error, r, "cannot describe the server's configuration");
	}
	*ret = buf;
	return 0;
}

/* Decodes @len bytes of @s; NULL if an escape is broken or decodes to NUL. */
static char *decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			if (!plain(s[i]))
				goto bad;
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= len || su_hexval(s[i + 1]) < 0 || su_hexval(s[i + 2]) < 0 ||
		    (su_hexval(s[i + 1]) == 0 && su_hexval(s[i + 2]) == 0))
			goto bad;
		*o++ = (char)(su_hexval(s[i + 1]) << 4 | su_hexval(s[i + 2]));
		i += 2;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static int bad(soda_error **error, const char *name, size_t at, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "domain '%s': soda metadata at byte %zu: %s", name, at, what);
	return soda_error_set(error, -EINVAL, msg);
}

static int apply(soda_server_config *cfg, const char *key, char *value, soda_error **error)
{
	char *end, *comma;
	unsigned long long n;

	if (strcmp(key, "image") == 0)
		return soda_server_config_set_image(cfg, value, error);
	if (strcmp(key, "memory") == 0) {
		errno = 0;
		n = strtoull(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-')
			return soda_error_set(error, -EINVAL, "soda metadata: memory is not a number");
		return soda_server_config_set_memory(cfg, n, error);
	}
	if (strcmp(key, "arg") == 0)
		return soda_server_config_add_kernel_arg(cfg, value, error);
	if (strcmp(key, "label") == 0)
		return soda_server_config_add_label(cfg, value, error);
	if (strcmp(key, "nic") == 0) {
		comma = strchr(value, ',');
		if (!comma)
			return soda_error_set(error, -EINVAL, "soda metadata: nic is not NETWORK,MAC");
		*comma = '\0';
		return soda_server_config_add_nic(cfg, value, comma[1] ? comma + 1 : NULL, 0, error);
	}
	if (strcmp(key, "blackbox") == 0) {
		uint8_t box[32];

		/* the tenant's X25519 public key, 64 hex digits */
		if (strlen(value) != 64)
			return soda_error_set(error, -EINVAL,
					      "soda metadata: blackbox is not 64 hex digits");
		for (size_t i = 0; i < 32; i++) {
			int hi = su_hexval(value[2 * i]), lo = su_hexval(value[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return soda_error_set(error, -EINVAL,
						      "soda metadata: blackbox is not 64 hex digits");
			box[i] = (uint8_t)(hi << 4 | lo);
		}
		return soda_server_config_set_blackbox(cfg, box, NULL, error);
	}
	if (strcmp(key, "retention") == 0) {
		uint32_t policy;
		int r;

		comma = strchr(value, ',');
		if (!comma)
			return soda_error_set(error, -EINVAL,
					      "soda metadata: retention is not POLICY,QUOTA");
		*comma = '\0';
		r = soda_blackbox_retention_from_name(&policy, value, error);
		if (r < 0)
			return r;
		errno = 0;
		n = strtoull(comma + 1, &end, 10);
		if (errno || end == comma + 1 || *end || comma[1] == '-')
			return soda_error_set(error, -EINVAL,
					      "soda metadata: the retention's quota is not a number");
		return soda_server_config_set_blackbox_retention(cfg, policy, n, error);
	}
	if (strcmp(key, "profile") == 0) {
		if (strcmp(value, soda_guest_profile_name(SODA_GUEST_PROFILE_OPEN)) == 0)
			return soda_server_config_set_guest_profile(cfg, SODA_GUEST_PROFILE_OPEN,
								    error);
		if (strcmp(value, soda_guest_profile_name(SODA_GUEST_PROFILE_LOCKED)) == 0)
			return soda_server_config_set_guest_profile(cfg, SODA_GUEST_PROFILE_LOCKED,
								    error);
		return soda_error_set(error, -EINVAL, "soda metadata: unknown guest profile");
	}
	if (strcmp(key, "addr") == 0) {
		errno = 0;
		n = strtoull(value, &end, 10);
		if (errno || end == value || *end != ',' || value[0] == '-')
			return soda_error_set(error, -EINVAL, "soda metadata: addr is not NIC,CIDR");
		return soda_server_config_add_nic_address(cfg, (size_t)n, end + 1, error);
	}
	return soda_error_set(error, -EINVAL, "soda metadata: unknown key");
}

int lv_meta_parse(soda_server_config **ret, const char *name, const char *text,
		  soda_error **error)
{
	soda_server_config *cfg = NULL;
	size_t len = strlen(text), pos;
	int r;

	if (len > META_MAX)
		return bad(error, name, META_MAX, "too long");
	if (strncmp(text, "v1", 2) != 0 || (text[2] != '\0' && text[2] != ' '))
		return bad(error, name, 0, "not version v1");
	r = soda_server_config_new(&cfg, name, error);
	if (r < 0)
		return r;
	for (pos = 2; r == 0 && text[pos];) {
		const char *word = text + pos + 1, *eq, *sp;
		char key[16], *value;
		size_t klen, wlen;

		if (text[pos] != ' ') {
			r = bad(error, name, pos, "words are separated by one space");
			break;
		}
		sp = strchr(word, ' ');
		wlen = sp ? (size_t)(sp - word) : strlen(word);
		eq = memchr(word, '=', wlen);
		klen = eq ? (size_t)(eq - word) : 0;
		if (!eq || klen == 0 || klen >= sizeof(key)) {
			r = bad(error, name, pos + 1, "a word is not key=value");
			break;
		}
		memcpy(key, word, klen);
		key[klen] = '\0';
		value = decode(eq + 1, wlen - klen - 1);
		if (!value) {
			r = bad(error, name, pos + 1 + klen + 1, "bad character or escape in a value");
			break;
		}
		r = apply(cfg, key, value, error);
		free(value);
		pos += 1 + wlen;
	}
	if (r < 0) {
		soda_server_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

char *lv_meta_text(const char *xml)
{
	const char *start = strchr(xml, '>'), *end;

	if (!start)
		return NULL;
	if (start > xml && start[-1] == '/') /* <element/> */
		return strdup("");
	start++;
	end = strchr(start, '<');
	if (!end)
		return NULL;
	return strndup(start, (size_t)(end - start));
}
