/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: rule variables ($HOME_NET, $HTTP_PORTS...). A kn_vars starts
 * with the address and port groups of Suricata's shipped suricata.yaml;
 * set() overrides or adds. Values are kept as text and parsed where they
 * are used (an address or a port position), so one name space serves
 * both and a value may name other variables.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"
#include "../util.h"

struct kn_var {
	char *name;
	char *value;
};

struct kn_vars {
	struct kn_var *v;
	size_t n, cap;
};

static const char *const defaults[][2] = {
	{ "HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]" },
	{ "EXTERNAL_NET", "!$HOME_NET" },
	{ "HTTP_SERVERS", "$HOME_NET" },
	{ "SMTP_SERVERS", "$HOME_NET" },
	{ "SQL_SERVERS", "$HOME_NET" },
	{ "DNS_SERVERS", "$HOME_NET" },
	{ "TELNET_SERVERS", "$HOME_NET" },
	{ "AIM_SERVERS", "$EXTERNAL_NET" },
	{ "DC_SERVERS", "$HOME_NET" },
	{ "DNP3_SERVER", "$HOME_NET" },
	{ "DNP3_CLIENT", "$HOME_NET" },
	{ "MODBUS_CLIENT", "$HOME_NET" },
	{ "MODBUS_SERVER", "$HOME_NET" },
	{ "ENIP_CLIENT", "$HOME_NET" },
	{ "ENIP_SERVER", "$HOME_NET" },
	{ "HTTP_PORTS", "80" },
	{ "SHELLCODE_PORTS", "!80" },
	{ "ORACLE_PORTS", "1521" },
	{ "SSH_PORTS", "22" },
	{ "DNP3_PORTS", "20000" },
	{ "MODBUS_PORTS", "502" },
	{ "FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]" },
	{ "FTP_PORTS", "21" },
	{ "GENEVE_PORTS", "6081" },
	{ "VXLAN_PORTS", "4789" },
	{ "TEREDO_PORTS", "3544" },
};

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static struct kn_var *find(const kn_vars *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i].name, name) == 0)
			return &v->v[i];
	return NULL;
}

static int put(kn_vars *v, const char *name, const char *value)
{
	struct kn_var *e = find(v, name);
	char *val = strdup(value);

	if (!val)
		return -ENOMEM;
	if (e) {
		free(e->value);
		e->value = val;
		return 0;
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 32;
		struct kn_var *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv) {
			free(val);
			return -ENOMEM;
		}
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n].name = strdup(name);
	if (!v->v[v->n].name) {
		free(val);
		return -ENOMEM;
	}
	v->v[v->n++].value = val;
	return 0;
}

int kn_vars_new(kn_vars **ret)
{
	kn_vars *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < SU_ARRAY_SIZE(defaults); i++) {
		if (put(v, defaults[i][0], defaults[i][1]) < 0) {
			kn_vars_free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	return 0;
}

void kn_vars_free(kn_vars *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i].name);
		free(v->v[i].value);
	}
	free(v->v);
	free(v);
}

const char *kn_vars_get(const kn_vars *v, const char *name)
{
	const struct kn_var *e;

	if (!v)
		return NULL;
	e = find(v, name);
	return e ? e->value : NULL;
}

int kn_vars_set(kn_vars *v, const char *name, const char *value, soda_error **error)
{
	if (!v || !name || !value)
		return su_errorf(error, -EINVAL, "kn_vars_set: missing argument");
	if (name[0] == '$')
		name++;
	if (!valid_name(name))
		return su_errorf(error, -EINVAL, "variable name '%s' is not valid", name);
	if (!*value)
		return su_errorf(error, -EINVAL, "variable %s: empty value", name);
	if (put(v, name, value) < 0)
		return su_errorf(error, -ENOMEM, "out of memory");
	return 0;
}

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

/* "NAME VALUE", "NAME: VALUE", "NAME = VALUE"; values may be quoted;
 * lines ending in ':' (YAML section names) and '#' comments are skipped. */
int kn_vars_load(kn_vars *v, const char *path, soda_error **error)
{
	char *text, *line;
	size_t len;
	uint32_t lineno = 0;
	int r;

	if (!v || !path)
		return su_errorf(error, -EINVAL, "kn_vars_load: missing argument");
	r = su_read_file(path, 16 << 20, &text, &len);
	if (r < 0)
		return su_errorf(error, r, "%s: %s", path, strerror(-r));
	for (char *p = text; p; ) {
		char *nl = strchr(p, '\n'), *name, *value, *sep;

		line = p;
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
		lineno++;
		line = trim(line);
		if (!*line || *line == '#' || *line == '%' || strcmp(line, "---") == 0)
			continue;
		sep = line + strcspn(line, ":= \t");
		if (!*sep) {
			r = su_errorf_at(error, -EINVAL, path, lineno, 1, "%s:%u: no value for '%s'",
					 path, lineno, line);
			goto out;
		}
		value = sep + 1;
		*sep = '\0';
		name = trim(line);
		value = trim(value);
		if (*value == ':' || *value == '=')
			value = trim(value + 1);
		if (!*value)
			continue; /* a YAML section ("vars:", "address-groups:") */
		if (value[0] == '"' || value[0] == '\'') {
			/* quoted: up to the closing quote (a comment may follow) */
			char *q = strchr(value + 1, value[0]);

			if (!q) {
				r = su_errorf_at(error, -EINVAL, path, lineno, 1,
						 "%s:%u: unterminated quote in the value of %s", path,
						 lineno, name);
				goto out;
			}
			*q = '\0';
			value++;
		} else {
			char *hash = strstr(value, " #");

			if (hash) {
				*hash = '\0';
				value = trim(value);
			}
		}
		if (name[0] == '$')
			name++;
		if (!valid_name(name)) {
			r = su_errorf_at(error, -EINVAL, path, lineno, 1,
					 "%s:%u: variable name '%s' is not valid", path, lineno, name);
			goto out;
		}
		if (put(v, name, value) < 0) {
			r = su_errorf(error, -ENOMEM, "out of memory");
			goto out;
		}
	}
	r = 0;
out:
	free(text);
	return r;
}
