/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soda/ids.h>

#include "config.h"
#include "kv.h"

#define KERNEL_ARG_MAX 256
#define PATH_MAX_SHARE 1024

SODA_EXPORT uint64_t soda_memory_min(void)
{
	return SODA_MEMORY_MIN;
}

SODA_EXPORT uint32_t soda_name_max(void)
{
	return SODA_NAME_MAX;
}

static const char *describe_byte(unsigned char c, char buf[24])
{
	if (c == '/')
		return "'/'";
	if (c < 0x20 || c == 0x7f)
		snprintf(buf, 24, "control byte 0x%02x", c);
	else if (c >= 0x80)
		snprintf(buf, 24, "byte 0x%02x", c);
	else
		snprintf(buf, 24, "'%c'", c);
	return buf;
}

int su_check_name(const char *what, const char *name, soda_error **error)
{
	size_t len;
	char desc[24];

	if (!name)
		return su_errorf(error, -EINVAL, "%s name is missing", what);
	len = strlen(name);
	if (len == 0)
		return su_errorf(error, -EINVAL, "%s name is empty", what);
	if (len > SODA_NAME_MAX)
		return su_errorf(error, -EINVAL, "%s name is %zu bytes long; at most %d are allowed",
				 what, len, SODA_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		bool ok = isascii(c) && (isalnum(c) || c == '.' || c == '_' || c == '-');

		if (!ok)
			return su_errorf_at(error, -EINVAL, "name", 1, (uint32_t)i + 1,
					    "%s name has %s at position %zu; only letters, digits, "
					    "'.', '_' and '-' are allowed",
					    what, describe_byte(c, desc), i + 1);
		if (i == 0 && !isalnum(c))
			return su_errorf_at(error, -EINVAL, "name", 1, 1,
					    "%s name must start with a letter or digit, not %s",
					    what, describe_byte(c, desc));
	}
	return 0;
}

SODA_EXPORT int soda_name_check(const char *name, soda_error **error)
{
	return su_check_name("server", name, error);
}

int su_check_abs_path(const char *what, const char *path, size_t max, soda_error **error)
{
	size_t len;
	char desc[24];

	if (!path || !*path)
		return su_errorf(error, -EINVAL, "%s is empty", what);
	len = strlen(path);
	if (len > max)
		return su_errorf(error, -ENAMETOOLONG, "%s is %zu bytes long; at most %zu are allowed",
				 what, len, max);
	if (path[0] != '/')
		return su_errorf(error, -EINVAL, "%s '%s' is not an absolute path", what, path);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c == 0x7f)
			return su_errorf_at(error, -EINVAL, what, 1, (uint32_t)i + 1,
					    "%s has %s at position %zu", what,
					    describe_byte(c, desc), i + 1);
	}
	if (len > 1 && path[len - 1] == '/')
		return su_errorf(error, -EINVAL, "%s '%s' ends with '/'", what, path);
	for (const char *p = path; *p;) {
		const char *seg = p + 1, *next = strchr(seg, '/');
		size_t seglen = next ? (size_t)(next - seg) : strlen(seg);

		if (len > 1 && seglen == 0)
			return su_errorf(error, -EINVAL, "%s '%s' has an empty component ('//')",
					 what, path);
		if ((seglen == 1 && seg[0] == '.') ||
		    (seglen == 2 && seg[0] == '.' && seg[1] == '.'))
			return su_errorf(error, -EINVAL, "%s '%s' has a '.' or '..' component", what,
					 path);
		if (!next)
			break;
		p = next;
	}
	return 0;
}

uint64_t su_host_memory(void)
{
	char *text = NULL, *p;
	uint64_t kb = 0;

	if (su_read_file("/proc/meminfo", 65536, &text, NULL) < 0)
		return 0;
	p = strstr(text, "MemTotal:");
	if (p && sscanf(p + 9, " %" SCNu64, &kb) != 1)
		kb = 0;
	free(text);
	return kb * 1024;
}

void su_derive_mac(const char *server, size_t index, char out[18])
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)server; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ (index & 0xff)) * 1099511628211ULL;
	/* 02:...: locally administered, unicast. */
	snprintf(out, 18, "02:%02x:%02x:%02x:%02x:%02x", (unsigned)(h >> 32) & 0xff,
		 (unsigned)(h >> 24) & 0xff, (unsigned)(h >> 16) & 0xff,
		 (unsigned)(h >> 8) & 0xff, (unsigned)h & 0xff);
}

static int check_mac(const char *mac, soda_error **error)
{
	unsigned v[6];
	char tail;

	if (strlen(mac) != 17 ||
	    sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return su_errorf(error, -EINVAL, "MAC address '%s' is not of the form xx:xx:xx:xx:xx:xx",
				 mac);
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
			return su_errorf(error, -EINVAL, "MAC address '%s' is malformed at position %d",
					 mac, i + 1);
	if (v[0] & 1)
		return su_errorf(error, -EINVAL, "MAC address '%s' is a multicast address", mac);
	if (!(v[0] | v[1] | v[2] | v[3] | v[4] | v[5]))
		return su_errorf(error, -EINVAL, "MAC address '%s' is all zeros", mac);
	return 0;
}

SODA_EXPORT int soda_server_config_new(soda_server_config **ret, const char *name,
				       soda_error **error)
{
	soda_server_config *cfg;
	int r;

	if (!ret)
		return su_errorf(error, -EINVAL, "ret is NULL");
	r = soda_name_check(name, error);
	if (r < 0)
		return r;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return su_errorf(error, -ENOMEM, "out of memory");
	cfg->name = strdup(name);
	cfg->image = strdup("busybox");
	cfg->memory = SODA_MEMORY_DEFAULT;
	if (!cfg->name || !cfg->image) {
		soda_server_config_free(cfg);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	*ret = cfg;
	return 0;
}

SODA_EXPORT void soda_server_config_free(soda_server_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->name);
	free(cfg->image);
	free(cfg->ids_rules);
	su_strv_free(cfg->kernel_args);
	for (size_t i = 0; i < cfg->n_shares; i++) {
		free(cfg->shares[i].host_dir);
		free(cfg->shares[i].guest_dir);
	}
	free(cfg->shares);
	for (size_t i = 0; i < cfg->n_nics; i++) {
		free(cfg->nics[i].network);
		free(cfg->nics[i].mac);
		su_strv_free(cfg->nics[i].addresses);
	}
	free(cfg->nics);
	su_strv_free(cfg->labels);
	soda_shares_free(cfg->resources);
	free(cfg);
}

SODA_EXPORT int soda_server_config_copy(soda_server_config **ret, const soda_server_config *cfg,
					soda_error **error)
{
	soda_server_config *c;

	if (!ret || !cfg)
		return su_errorf(error, -EINVAL, "ret or cfg is NULL");
	c = calloc(1, sizeof(*c));
	if (!c)
		return su_errorf(error, -ENOMEM, "out of memory");
	c->name = strdup(cfg->name);
	c->image = strdup(cfg->image);
	c->memory = cfg->memory;
	if (cfg->kernel_args)
		c->kernel_args = su_strv_copy(cfg->kernel_args);
	c->shares = calloc(cfg->n_shares + 1, sizeof(su_share));
	c->nics = calloc(cfg->n_nics + 1, sizeof(su_nic));
	if (!c->name || !c->image || (cfg->kernel_args && !c->kernel_args) || !c->shares ||
	    !c->nics)
		goto oom;
	for (size_t i = 0; i < cfg->n_shares; i++) {
		c->shares[i].host_dir = strdup(cfg->shares[i].host_dir);
		c->shares[i].guest_dir = strdup(cfg->shares[i].guest_dir);
		c->shares[i].flags = cfg->shares[i].flags;
		c->n_shares++;
		if (!c->shares[i].host_dir || !c->shares[i].guest_dir)
			goto oom;
	}
	for (size_t i = 0; i < cfg->n_nics; i++) {
		c->nics[i].network = strdup(cfg->nics[i].network);
		c->nics[i].mac = strdup(cfg->nics[i].mac);
		c->nics[i].addresses = cfg->nics[i].addresses ? su_strv_copy(cfg->nics[i].addresses)
							       : NULL;
		c->n_nics++;
		if (!c->nics[i].network || !c->nics[i].mac ||
		    (cfg->nics[i].addresses && !c->nics[i].addresses))
			goto oom;
	}
	if (cfg->labels && !(c->labels = su_strv_copy(cfg->labels)))
		goto oom;
	if (cfg->resources && soda_shares_copy(&c->resources, cfg->resources, NULL) < 0)
		goto oom;
	c->blackbox = cfg->blackbox;
	c->blackbox_has_sign = cfg->blackbox_has_sign;
	memcpy(c->blackbox_box, cfg->blackbox_box, sizeof(c->blackbox_box));
	memcpy(c->blackbox_sign, cfg->blackbox_sign, sizeof(c->blackbox_sign));
	c->guest_profile = cfg->guest_profile;
	c->blackbox_retention = cfg->blackbox_retention;
	c->blackbox_quota = cfg->blackbox_quota;
	c->ids_landlord = cfg->ids_landlord;
	c->ids_response = cfg->ids_response;
	c->ids_response_priority = cfg->ids_response_priority;
	c->ids_bypass_depth = cfg->ids_bypass_depth;
	if (cfg->ids_rules && !(c->ids_rules = strdup(cfg->ids_rules)))
		goto oom;
	memcpy(c->ids_rules_sha256, cfg->ids_rules_sha256, sizeof(c->ids_rules_sha256));
	c->ids_packets = cfg->ids_packets;
	*ret = c;
	return 0;
oom:
	soda_server_config_free(c);
	return su_errorf(error, -ENOMEM, "out of memory");
}

SODA_EXPORT int soda_server_config_set_image(soda_server_config *cfg, const char *image,
					     soda_error **error)
{
	char *copy;
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	r = su_check_name("image", image, error);
	if (r < 0)
		return r;
	copy = strdup(image);
	if (!copy)
		return su_errorf(error, -ENOMEM, "out of memory");
	free(cfg->image);
	cfg->image = copy;
	return 0;
}

static int check_memory(uint64_t bytes, soda_error **error)
{
	uint64_t host = su_host_memory();

	if (bytes < SODA_MEMORY_MIN)
		return su_errorf(error, -EINVAL,
				 "memory %" PRIu64 " bytes (%" PRIu64 " MiB) is below the %llu MiB "
				 "a guest gets at least",
				 bytes, bytes >> 20, SODA_MEMORY_MIN >> 20);
	if (bytes % (1024 * 1024))
		return su_errorf(error, -EINVAL, "memory %" PRIu64 " bytes is not a whole number of MiB",
				 bytes);
	if (host && bytes > host)
		return su_errorf(error, -EINVAL,
				 "memory %" PRIu64 " MiB is more than the host's %" PRIu64 " MiB",
				 bytes >> 20, host >> 20);
	return 0;
}

SODA_EXPORT int soda_server_config_set_memory(soda_server_config *cfg, uint64_t bytes,
					      soda_error **error)
{
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	r = check_memory(bytes, error);
	if (r < 0)
		return r;
	cfg->memory = bytes;
	return 0;
}

static int check_kernel_arg(const char *arg, soda_error **error)
{
	size_t len;
	char desc[24];

	if (!arg || !*arg)
		return su_errorf(error, -EINVAL, "kernel argument is empty");
	len = strlen(arg);
	if (len > KERNEL_ARG_MAX)
		return su_errorf(error, -EINVAL, "kernel argument is %zu bytes long; at most %d",
				 len, KERNEL_ARG_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)arg[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
			return su_errorf_at(error, -EINVAL, "kernel argument", 1, (uint32_t)i + 1,
					    "kernel argument '%.40s' has %s at position %zu", arg,
					    describe_byte(c, desc), i + 1);
	}
	return 0;
}

SODA_EXPORT int soda_server_config_add_kernel_arg(soda_server_config *cfg, const char *arg,
						  soda_error **error)
{
	size_t n;
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	r = check_kernel_arg(arg, error);
	if (r < 0)
		return r;
	n = su_strv_len(cfg->kernel_args);
	if (n >= SODA_KERNEL_ARGS_MAX)
		return su_errorf(error, -E2BIG, "at most %d kernel arguments", SODA_KERNEL_ARGS_MAX);
	if (su_strv_push(&cfg->kernel_args, arg) < 0)
		return su_errorf(error, -ENOMEM, "out of memory");
	return 0;
}

static int check_guest_dir(const char *guest_dir, soda_error **error)
{
	int r = su_check_abs_path("guest directory", guest_dir, 255, error);
	char desc[24];

	if (r < 0)
		return r;
	if (strcmp(guest_dir, "/") == 0)
		return su_errorf(error, -EINVAL, "a share cannot be mounted over the guest's root");
	/* It goes on the guest kernel command line: keep it to plain bytes. */
	for (size_t i = 0; guest_dir[i]; i++) {
		unsigned char c = (unsigned char)guest_dir[i];

		if (!(isascii(c) && (isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-')))
			return su_errorf_at(error, -EINVAL, "guest directory", 1, (uint32_t)i + 1,
					    "guest directory '%s' has %s at position %zu; only "
					    "letters, digits, '/', '.', '_' and '-' are allowed",
					    guest_dir, describe_byte(c, desc), i + 1);
	}
	return 0;
}

/* @path with "//", "/./" and "/../" taken out by name (no symlink is
 * followed: the backend checks the resolved path again at start). Returns
 * NULL when out of memory. */
static char *lexical_path(const char *path)
{
	size_t len = strlen(path), o = 0;
	char *out = malloc(len + 2);

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n;

		while (path[i] == '/')
			i++;
		n = strcspn(path + i, "/");
		if (n == 0)
			break;
		if (n == 1 && path[i] == '.') {
			/* nothing */
		} else if (n == 2 && path[i] == '.' && path[i + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, path + i, n);
			o += n;
		}
		i += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

/* True if @path is @dir or lies beneath it (both lexical, absolute). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Host directories whose sharing hands the guest the host: its root, the
 * kernel's views of every process and device, its boot files, its
 * configuration and root's home. Beneath them too: /proc/1/root is the
 * host's root again. */
static const char *const sensitive_dirs[] = { "/proc", "/sys", "/dev", "/boot", "/etc", "/root" };
/* What libsoda keeps in the state directory (a directory of the user's
 * beside them, like a web site to share, is fine). */
static const char *const state_entries[] = { "servers", "images", "blackbox", "run", "status",
					     "host",    "lock",   "tmp",      "networks" };

int su_share_check_host_dir(const char *host_dir, const char *state_dir, unsigned int flags,
			    soda_error **error)
{
	char *path, *state = NULL;
	const char *why = NULL;
	int r = 0;

	if (flags & SODA_SHARE_ALLOW_SENSITIVE)
		return 0;
	path = lexical_path(host_dir);
	if (!path || (state_dir && !(state = lexical_path(state_dir)))) {
		free(path);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	if (strcmp(path, "/") == 0)
		why = "the host's root directory";
	for (size_t i = 0; !why && i < SU_ARRAY_SIZE(sensitive_dirs); i++)
		if (path_within(path, sensitive_dirs[i]))
			why = sensitive_dirs[i];
	if (!why && state && path_within(state, path))
		why = "the state directory or a directory holding it";
	for (size_t i = 0; !why && state && i < SU_ARRAY_SIZE(state_entries); i++) {
		char *own = su_strdup_printf("%s/%s", strcmp(state, "/") ? state : "",
					     state_entries[i]);

		if (!own) {
			free(path);
			free(state);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
		if (path_within(path, own))
			why = "the state directory's own files (every server's disks, stores "
			      "and keys)";
		free(own);
	}
	if (why)
		r = su_errorf(error, -EPERM,
			      "host directory '%s' is a sensitive path (%s); it is not shared "
			      "unless SODA_SHARE_ALLOW_SENSITIVE asks for it by name",
			      host_dir, why);
	free(path);
	free(state);
	return r;
}

int su_config_check_shares(const soda_server_config *cfg, const char *state_dir,
			   soda_error **error)
{
	for (size_t i = 0; cfg && i < cfg->n_shares; i++) {
		int r = su_share_check_host_dir(cfg->shares[i].host_dir, state_dir,
						cfg->shares[i].flags, error);

		if (r < 0) {
			su_error_prefix(error, "share %zu", i);
			return r;
		}
	}
	return 0;
}

static int check_share(const soda_server_config *cfg, const char *host_dir,
		       const char *guest_dir, unsigned int flags, soda_error **error)
{
	const unsigned int known = SODA_SHARE_READONLY | SODA_SHARE_ALLOW_SENSITIVE;
	int r;

	if (flags & ~known)
		return su_errorf(error, -EINVAL, "unknown share flags 0x%x", flags & ~known);
	r = su_check_abs_path("host directory", host_dir, PATH_MAX_SHARE, error);
	if (r < 0)
		return r;
	/* By name now; the state directory (the context's) at define, the
	 * resolved path at start. */
	r = su_share_check_host_dir(host_dir, NULL, flags, error);
	if (r < 0)
		return r;
	r = check_guest_dir(guest_dir, error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cfg->n_shares; i++)
		if (strcmp(cfg->shares[i].guest_dir, guest_dir) == 0)
			return su_errorf(error, -EEXIST, "guest directory '%s' is already shared",
					 guest_dir);
	return 0;
}

SODA_EXPORT int soda_server_config_add_share(soda_server_config *cfg, const char *host_dir,
					     const char *guest_dir, unsigned int flags,
					     soda_error **error)
{
	su_share *s;
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	r = check_share(cfg, host_dir, guest_dir, flags, error);
	if (r < 0)
		return r;
	if (cfg->n_shares >= SODA_SHARES_MAX)
		return su_errorf(error, -E2BIG, "at most %d shares", SODA_SHARES_MAX);
	s = realloc(cfg->shares, (cfg->n_shares + 1) * sizeof(*s));
	if (!s)
		return su_errorf(error, -ENOMEM, "out of memory");
	cfg->shares = s;
	s[cfg->n_shares].host_dir = strdup(host_dir);
	s[cfg->n_shares].guest_dir = strdup(guest_dir);
	s[cfg->n_shares].flags = flags;
	if (!s[cfg->n_shares].host_dir || !s[cfg->n_shares].guest_dir) {
		free(s[cfg->n_shares].host_dir);
		free(s[cfg->n_shares].guest_dir);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	cfg->n_shares++;
	return 0;
}

static int check_nic(const soda_server_config *cfg, const char *network, const char *mac,
		     unsigned int flags, soda_error **error)
{
	int r;

	if (flags)
		return su_errorf(error, -EINVAL, "unknown NIC flags 0x%x", flags);
	r = su_check_name("network", network, error);
	if (r < 0)
		return r;
	r = check_mac(mac, error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cfg->n_nics; i++)
		if (strcasecmp(cfg->nics[i].mac, mac) == 0)
			return su_errorf(error, -EEXIST, "MAC address %s is already used by NIC %zu",
					 mac, i);
	return 0;
}

SODA_EXPORT int soda_server_config_add_nic(soda_server_config *cfg, const char *network,
					   const char *mac, unsigned int flags,
					   soda_error **error)
{
	char derived[18];
	su_nic *n;
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	if (!mac) {
		su_derive_mac(cfg->name, cfg->n_nics, derived);
		mac = derived;
	}
	r = check_nic(cfg, network, mac, flags, error);
	if (r < 0)
		return r;
	if (cfg->n_nics >= SODA_NICS_MAX)
		return su_errorf(error, -E2BIG, "at most %d NICs", SODA_NICS_MAX);
	n = realloc(cfg->nics, (cfg->n_nics + 1) * sizeof(*n));
	if (!n)
		return su_errorf(error, -ENOMEM, "out of memory");
	cfg->nics = n;
	n[cfg->n_nics].network = strdup(network);
	n[cfg->n_nics].mac = strdup(mac);
	n[cfg->n_nics].addresses = NULL;
	if (!n[cfg->n_nics].network || !n[cfg->n_nics].mac) {
		free(n[cfg->n_nics].network);
		free(n[cfg->n_nics].mac);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	for (char *p = n[cfg->n_nics].mac; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	cfg->n_nics++;
	return 0;
}

int su_parse_cidr(const char *cidr, int *ret_family, unsigned char ret_addr[16],
		  unsigned *ret_prefix, char out[64], soda_error **error)
{
	char host[64], text[INET6_ADDRSTRLEN];
	const char *slash;
	unsigned char addr[16] = { 0 };
	uint64_t prefix;
	int family;

	if (!cidr || !*cidr)
		return su_errorf(error, -EINVAL, "address is empty");
	slash = strchr(cidr, '/');
	if (!slash)
		return su_errorf(error, -EINVAL, "address '%s' lacks a /prefix length", cidr);
	if ((size_t)(slash - cidr) >= sizeof(host))
		return su_errorf(error, -EINVAL, "address '%.40s...' is too long", cidr);
	memcpy(host, cidr, (size_t)(slash - cidr));
	host[slash - cidr] = '\0';
	family = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, host, addr) != 1)
		return su_errorf_at(error, -EINVAL, "address", 1, 1, "'%s' is not an IPv%c address",
				    host, family == AF_INET ? '4' : '6');
	if (su_parse_u64(slash + 1, &prefix) < 0 || prefix > (family == AF_INET ? 32u : 128u) ||
	    prefix == 0)
		return su_errorf_at(error, -EINVAL, "address", 1, (uint32_t)(slash - cidr) + 2,
				    "prefix length '%s' of '%s' is out of range", slash + 1, cidr);
	inet_ntop(family, addr, text, sizeof(text));
	if (ret_family)
		*ret_family = family;
	if (ret_addr)
		memcpy(ret_addr, addr, 16);
	if (ret_prefix)
		*ret_prefix = (unsigned)prefix;
	if (out)
		snprintf(out, 64, "%s/%u", text, (unsigned)prefix);
	return 0;
}

static int check_nic_address(const char *cidr, char out[64], soda_error **error)
{
	unsigned char a[16];
	int family, r;

	r = su_parse_cidr(cidr, &family, a, NULL, out, error);
	if (r < 0)
		return r;
	if (family == AF_INET && (a[0] == 0 || a[0] == 127 || a[0] >= 224))
		return su_errorf(error, -EINVAL, "'%s' is not a unicast host address", cidr);
	if (family == AF_INET6 && (a[0] == 0xff || (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15) == 0 && a[15] <= 1)))
		return su_errorf(error, -EINVAL, "'%s' is not a unicast host address", cidr);
	return 0;
}

SODA_EXPORT int soda_server_config_add_nic_address(soda_server_config *cfg, size_t index,
						   const char *cidr, soda_error **error)
{
	char norm[64];
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	if (index >= cfg->n_nics)
		return su_errorf(error, -ENOENT, "the server has no NIC %zu", index);
	r = check_nic_address(cidr, norm, error);
	if (r < 0)
		return r;
	if (su_strv_len(cfg->nics[index].addresses) >= SODA_NIC_ADDRESSES_MAX)
		return su_errorf(error, -E2BIG, "at most %d addresses per NIC", SODA_NIC_ADDRESSES_MAX);
	for (size_t n = 0; n < cfg->n_nics; n++)
		for (size_t i = 0; cfg->nics[n].addresses && cfg->nics[n].addresses[i]; i++) {
			const char *a = cfg->nics[n].addresses[i];
			size_t hl = strcspn(a, "/");

			if (strncmp(a, norm, hl) == 0 && norm[hl] == '/')
				return su_errorf(error, -EEXIST, "address %.*s is already on NIC %zu",
						 (int)hl, a, n);
		}
	if (su_strv_push(&cfg->nics[index].addresses, norm) < 0)
		return su_errorf(error, -ENOMEM, "out of memory");
	return 0;
}

SODA_EXPORT size_t soda_server_config_get_nic_address_count(const soda_server_config *cfg,
							    size_t index)
{
	if (!cfg || index >= cfg->n_nics)
		return 0;
	return su_strv_len(cfg->nics[index].addresses);
}

SODA_EXPORT const char *soda_server_config_get_nic_address(const soda_server_config *cfg,
							   size_t index, size_t addr_index)
{
	if (!cfg || index >= cfg->n_nics ||
	    addr_index >= su_strv_len(cfg->nics[index].addresses))
		return NULL;
	return cfg->nics[index].addresses[addr_index];
}

SODA_EXPORT int soda_server_config_add_label(soda_server_config *cfg, const char *label,
					     soda_error **error)
{
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	r = su_check_name("label", label, error);
	if (r < 0)
		return r;
	for (size_t i = 0; cfg->labels && cfg->labels[i]; i++)
		if (strcmp(cfg->labels[i], label) == 0)
			return su_errorf(error, -EEXIST, "the server already has label '%s'", label);
	if (su_strv_len(cfg->labels) >= SODA_LABELS_MAX)
		return su_errorf(error, -E2BIG, "at most %d labels", SODA_LABELS_MAX);
	if (su_strv_push(&cfg->labels, label) < 0)
		return su_errorf(error, -ENOMEM, "out of memory");
	return 0;
}

SODA_EXPORT size_t soda_server_config_get_label_count(const soda_server_config *cfg)
{
	return cfg ? su_strv_len(cfg->labels) : 0;
}

SODA_EXPORT const char *soda_server_config_get_label(const soda_server_config *cfg, size_t index)
{
	if (!cfg || index >= su_strv_len(cfg->labels))
		return NULL;
	return cfg->labels[index];
}

SODA_EXPORT const char *soda_server_config_get_name(const soda_server_config *cfg)
{
	return cfg ? cfg->name : NULL;
}

SODA_EXPORT const char *soda_server_config_get_image(const soda_server_config *cfg)
{
	return cfg ? cfg->image : NULL;
}

SODA_EXPORT uint64_t soda_server_config_get_memory(const soda_server_config *cfg)
{
	return cfg ? cfg->memory : 0;
}

SODA_EXPORT size_t soda_server_config_get_kernel_arg_count(const soda_server_config *cfg)
{
	return cfg ? su_strv_len(cfg->kernel_args) : 0;
}

SODA_EXPORT const char *soda_server_config_get_kernel_arg(const soda_server_config *cfg,
							  size_t index)
{
	if (!cfg || index >= su_strv_len(cfg->kernel_args))
		return NULL;
	return cfg->kernel_args[index];
}

SODA_EXPORT size_t soda_server_config_get_share_count(const soda_server_config *cfg)
{
	return cfg ? cfg->n_shares : 0;
}

SODA_EXPORT int soda_server_config_get_share(const soda_server_config *cfg, size_t index,
					     const char **ret_host_dir, const char **ret_guest_dir,
					     unsigned int *ret_flags)
{
	if (!cfg || index >= cfg->n_shares)
		return -ENOENT;
	if (ret_host_dir)
		*ret_host_dir = cfg->shares[index].host_dir;
	if (ret_guest_dir)
		*ret_guest_dir = cfg->shares[index].guest_dir;
	if (ret_flags)
		*ret_flags = cfg->shares[index].flags;
	return 0;
}

SODA_EXPORT size_t soda_server_config_get_nic_count(const soda_server_config *cfg)
{
	return cfg ? cfg->n_nics : 0;
}

SODA_EXPORT int soda_server_config_get_nic(const soda_server_config *cfg, size_t index,
					   const char **ret_network, const char **ret_mac)
{
	if (!cfg || index >= cfg->n_nics)
		return -ENOENT;
	if (ret_network)
		*ret_network = cfg->nics[index].network;
	if (ret_mac)
		*ret_mac = cfg->nics[index].mac;
	return 0;
}

int su_config_validate(const soda_server_config *cfg, soda_error **error)
{
	int r;

	if (!cfg)
		return su_errorf(error, -EINVAL, "configuration is NULL");
	r = soda_name_check(cfg->name, error);
	if (r < 0)
		return r;
	r = su_check_name("image", cfg->image, error);
	if (r < 0)
		return r;
	r = check_memory(cfg->memory, error);
	if (r < 0)
		return r;
	return su_shares_check_memory(cfg->resources, cfg->memory, error);
}

/* ---- blackbox ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

SODA_EXPORT int soda_server_config_set_blackbox(soda_server_config *cfg,
						const uint8_t *box_public,
						const uint8_t *sign_public, soda_error **error)
{
	if (!cfg || !box_public)
		return su_errorf(error, -EINVAL, "cfg or box_public is NULL");
	if (all_zero(box_public, 32) || (sign_public && all_zero(sign_public, 32)))
		return su_errorf(error, -EINVAL, "blackbox key is all zeros");
	memcpy(cfg->blackbox_box, box_public, 32);
	cfg->blackbox_has_sign = sign_public != NULL;
	if (sign_public)
		memcpy(cfg->blackbox_sign, sign_public, 32);
	else
		memset(cfg->blackbox_sign, 0, 32);
	cfg->blackbox = true;
	return 0;
}

SODA_EXPORT int soda_server_config_get_blackbox(const soda_server_config *cfg,
						uint8_t *box_public)
{
	if (!cfg || !cfg->blackbox)
		return 0;
	if (box_public)
		memcpy(box_public, cfg->blackbox_box, 32);
	return 1;
}

char *su_blackbox_key_text(const soda_server_config *cfg)
{
	char box[65], sign[65];

	su_hex(box, cfg->blackbox_box, 32);
	if (!cfg->blackbox_has_sign)
		return strdup(box);
	su_hex(sign, cfg->blackbox_sign, 32);
	return su_strdup_printf("%s/%s", box, sign);
}

int su_blackbox_key_parse_text(soda_server_config *cfg, const char *text, soda_error **error)
{
	uint8_t box[32], sign[32];
	size_t len = strlen(text);

	if ((len != 64 && len != 129) || su_unhex(box, 32, text) < 0 ||
	    (len == 129 && (text[64] != '/' || su_unhex(sign, 32, text + 65) < 0)))
		return su_errorf(error, -EINVAL,
				 "blackbox key '%.140s' is not BOXHEX or BOXHEX/SIGNHEX "
				 "(64 hex digits each)",
				 text);
	return soda_server_config_set_blackbox(cfg, box, len == 129 ? sign : NULL, error);
}

/* ---- the guest's profile ---- */

/* ---- the blackbox's retention policy ---- */

static const char *const retention_names[] = { [SODA_BLACKBOX_RETENTION_STOP] = "stop",
					       [SODA_BLACKBOX_RETENTION_DROP_OLDEST] = "drop-oldest" };

SODA_EXPORT int soda_server_config_set_blackbox_retention(soda_server_config *cfg, uint32_t policy,
							  uint64_t quota_bytes, soda_error **error)
{
	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	if (policy >= SU_ARRAY_SIZE(retention_names))
		return su_errorf(error, -EINVAL, "unknown blackbox retention policy %u", policy);
	if (quota_bytes && quota_bytes < (1ull << 20))
		return su_errorf(error, -EINVAL, "blackbox quota %llu is below 1 MiB",
				 (unsigned long long)quota_bytes);
	cfg->blackbox_retention = policy;
	cfg->blackbox_quota = quota_bytes;
	return 0;
}

SODA_EXPORT uint32_t soda_server_config_get_blackbox_retention(const soda_server_config *cfg,
							       uint64_t *ret_quota_bytes)
{
	if (ret_quota_bytes)
		*ret_quota_bytes = cfg ? cfg->blackbox_quota : 0;
	return cfg ? cfg->blackbox_retention : SODA_BLACKBOX_RETENTION_STOP;
}

SODA_EXPORT const char *soda_blackbox_retention_name(uint32_t policy)
{
	return policy < SU_ARRAY_SIZE(retention_names) ? retention_names[policy] : NULL;
}

SODA_EXPORT int soda_blackbox_retention_from_name(uint32_t *ret, const char *name,
						  soda_error **error)
{
	for (uint32_t i = 0; name && i < SU_ARRAY_SIZE(retention_names); i++)
		if (strcmp(name, retention_names[i]) == 0) {
			if (ret)
				*ret = i;
			return 0;
		}
	return su_errorf(error, -EINVAL, "unknown blackbox retention policy '%s' (stop or drop-oldest)",
			 name ? name : "");
}

char *su_blackbox_retention_text(const soda_server_config *cfg)
{
	return su_strdup_printf("%s %llu", retention_names[cfg->blackbox_retention],
				(unsigned long long)cfg->blackbox_quota);
}

int su_blackbox_retention_parse_text(soda_server_config *cfg, const char *text, soda_error **error)
{
	char name[32], *end;
	const char *sp = strchr(text, ' ');
	unsigned long long quota;
	uint32_t policy;
	int r;

	if (!sp || (size_t)(sp - text) >= sizeof(name))
		return su_errorf(error, -EINVAL, "blackbox retention '%.80s' is not 'POLICY QUOTA'", text);
	memcpy(name, text, (size_t)(sp - text));
	name[sp - text] = '\0';
	r = soda_blackbox_retention_from_name(&policy, name, error);
	if (r < 0)
		return r;
	errno = 0;
	quota = strtoull(sp + 1, &end, 10);
	if (errno || end == sp + 1 || *end || sp[1] == '-')
		return su_errorf(error, -EINVAL, "blackbox retention '%.80s': bad quota", text);
	return soda_server_config_set_blackbox_retention(cfg, policy, quota, error);
}

static const char *const guest_profiles[] = { [SODA_GUEST_PROFILE_LOCKED] = "locked",
					       [SODA_GUEST_PROFILE_OPEN] = "open" };

SODA_EXPORT int soda_server_config_set_guest_profile(soda_server_config *cfg, uint32_t profile,
						     soda_error **error)
{
	if (!cfg)
		return su_errorf(error, -EINVAL, "cfg is NULL");
	if (profile >= SU_ARRAY_SIZE(guest_profiles))
		return su_errorf(error, -EINVAL, "guest profile %u is neither locked (%d) nor open (%d)",
				 profile, SODA_GUEST_PROFILE_LOCKED, SODA_GUEST_PROFILE_OPEN);
	cfg->guest_profile = profile;
	return 0;
}

SODA_EXPORT uint32_t soda_server_config_get_guest_profile(const soda_server_config *cfg)
{
	return cfg ? cfg->guest_profile : SODA_GUEST_PROFILE_LOCKED;
}

SODA_EXPORT const char *soda_guest_profile_name(uint32_t profile)
{
	return profile < SU_ARRAY_SIZE(guest_profiles) ? guest_profiles[profile] : NULL;
}

SODA_EXPORT int soda_guest_profile_from_name(uint32_t *ret, const char *name, soda_error **error)
{
	for (uint32_t i = 0; name && i < SU_ARRAY_SIZE(guest_profiles); i++)
		if (strcmp(name, guest_profiles[i]) == 0) {
			*ret = i;
			return 0;
		}
	return su_errorf(error, -EINVAL, "guest profile '%.40s' is neither 'locked' nor 'open'",
			 name ? name : "(null)");
}

/* ---- record format ---- */

char *su_config_serialize(const soda_server_config *cfg)
{
	su_buf b = { 0 };

	su_kv_header(&b, SU_CONFIG_MAGIC, SU_CONFIG_VERSION);
	su_kv_add(&b, "name", cfg->name);
	su_kv_add(&b, "image", cfg->image);
	su_kv_add_u64(&b, "memory", cfg->memory);
	for (size_t i = 0; cfg->kernel_args && cfg->kernel_args[i]; i++)
		su_kv_add(&b, "kernel-arg", cfg->kernel_args[i]);
	for (size_t i = 0; i < cfg->n_shares; i++) {
		/* "ro" or "rw", "+sensitive" for a share allowed on purpose. */
		char *v = su_strdup_printf("%s%s:%s:%s",
					   cfg->shares[i].flags & SODA_SHARE_READONLY ? "ro" : "rw",
					   cfg->shares[i].flags & SODA_SHARE_ALLOW_SENSITIVE
						   ? "+sensitive"
						   : "",
					   cfg->shares[i].guest_dir, cfg->shares[i].host_dir);
		if (!v) {
			su_buf_free(&b);
			return NULL;
		}
		su_kv_add(&b, "share", v);
		free(v);
	}
	for (size_t i = 0; i < cfg->n_nics; i++) {
		char *v = su_strdup_printf("%s/%s", cfg->nics[i].network, cfg->nics[i].mac);
		if (!v) {
			su_buf_free(&b);
			return NULL;
		}
		su_kv_add(&b, "nic", v);
		free(v);
		for (size_t a = 0; cfg->nics[i].addresses && cfg->nics[i].addresses[a]; a++) {
			v = su_strdup_printf("%zu/%s", i, cfg->nics[i].addresses[a]);
			if (!v) {
				su_buf_free(&b);
				return NULL;
			}
			su_kv_add(&b, "nic-address", v);
			free(v);
		}
	}
	for (size_t i = 0; cfg->labels && cfg->labels[i]; i++)
		su_kv_add(&b, "label", cfg->labels[i]);
	if (cfg->resources) {
		char *text = NULL;

		if (soda_shares_format(&text, cfg->resources, NULL) < 0) {
			su_buf_free(&b);
			return NULL;
		}
		su_kv_add(&b, "shares", text);
		free(text);
	}
	if (cfg->blackbox) {
		char *text = su_blackbox_key_text(cfg);

		if (!text) {
			su_buf_free(&b);
			return NULL;
		}
		su_kv_add(&b, "blackbox", text);
		free(text);
		/* stop without a quota of its own is the default: records
		 * written before the policy existed read back as that. */
		if (cfg->blackbox_retention != SODA_BLACKBOX_RETENTION_STOP || cfg->blackbox_quota) {
			text = su_blackbox_retention_text(cfg);
			if (!text) {
				su_buf_free(&b);
				return NULL;
			}
			su_kv_add(&b, "blackbox-retention", text);
			free(text);
		}
	}
	/* Locked is the default: records written before profiles existed
	 * read back as locked. */
	if (cfg->guest_profile != SODA_GUEST_PROFILE_LOCKED)
		su_kv_add(&b, "guest-profile", soda_guest_profile_name(cfg->guest_profile));
	/* The port IDS (ids.h): written only when not the default. */
	if (cfg->ids_landlord)
		su_kv_add(&b, "ids-landlord-alerts", "yes");
	if (cfg->ids_response) {
		char v[32];

		snprintf(v, sizeof(v), "%s %u", cfg->ids_response == SODA_IDS_RESPONSE_DUMP ? "dump" : "freeze",
			 cfg->ids_response_priority ? cfg->ids_response_priority : 1);
		su_kv_add(&b, "ids-response", v);
	}
	if (cfg->ids_bypass_depth) {
		char v[32];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)cfg->ids_bypass_depth);
		su_kv_add(&b, "ids-bypass-depth", v);
	}
	/* Kernort in the guest: the rule text itself (kv escapes the lines) */
	if (cfg->ids_rules) {
		su_kv_add(&b, "ids-rules", cfg->ids_rules);
		su_kv_add(&b, "ids-rules-sha256", cfg->ids_rules_sha256);
		if (cfg->ids_packets)
			su_kv_add(&b, "ids-rules-packets", "yes");
	}
	return su_buf_steal(&b);
}

struct parse_state {
	soda_server_config *cfg;
	const char *source;
	soda_error **error;
	bool have_name, have_image, have_memory, have_profile;
};

static int parse_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	struct parse_state *ps = userdata;
	soda_error *inner = NULL;
	int r = 0;

	if (strcmp(key, "name") == 0) {
		if (ps->have_name)
			goto dup;
		r = soda_name_check(value, &inner);
		if (r == 0) {
			free(ps->cfg->name);
			ps->cfg->name = strdup(value);
			ps->have_name = true;
		}
	} else if (strcmp(key, "image") == 0) {
		if (ps->have_image)
			goto dup;
		r = soda_server_config_set_image(ps->cfg, value, &inner);
		ps->have_image = true;
	} else if (strcmp(key, "memory") == 0) {
		uint64_t v;

		if (ps->have_memory)
			goto dup;
		if (su_parse_u64(value, &v) < 0)
			r = su_errorf(&inner, -EINVAL, "memory '%s' is not a number", value);
		else
			r = check_memory(v, &inner);
		if (r == 0)
			ps->cfg->memory = v;
		ps->have_memory = true;
	} else if (strcmp(key, "kernel-arg") == 0) {
		r = soda_server_config_add_kernel_arg(ps->cfg, value, &inner);
	} else if (strcmp(key, "share") == 0) {
		char *v = strdup(value), *guest, *host;
		unsigned flags;

		if (!v)
			return su_errorf(ps->error, -ENOMEM, "out of memory");
		guest = strchr(v, ':');
		host = guest ? strchr(guest + 1, ':') : NULL;
		if (!host || (strncmp(v, "ro", 2) && strncmp(v, "rw", 2)) ||
		    (v + 2 != guest && (size_t)(guest - v) != strlen("ro+sensitive")) ||
		    (v + 2 != guest && strncmp(v + 2, "+sensitive", 10))) {
			r = su_errorf(&inner, -EINVAL,
				      "share '%s' is not 'ro|rw[+sensitive]:GUEST:HOST'", value);
		} else {
			*guest++ = '\0';
			*host++ = '\0';
			flags = strncmp(v, "ro", 2) == 0 ? SODA_SHARE_READONLY : 0;
			if (v[2] == '+')
				flags |= SODA_SHARE_ALLOW_SENSITIVE;
			r = soda_server_config_add_share(ps->cfg, host, guest, flags, &inner);
		}
		free(v);
	} else if (strcmp(key, "nic") == 0) {
		char *v = strdup(value), *mac;

		if (!v)
			return su_errorf(ps->error, -ENOMEM, "out of memory");
		mac = strchr(v, '/');
		if (!mac) {
			r = su_errorf(&inner, -EINVAL, "nic '%s' is not 'NETWORK/MAC'", value);
		} else {
			*mac++ = '\0';
			r = soda_server_config_add_nic(ps->cfg, v, mac, 0, &inner);
		}
		free(v);
	} else if (strcmp(key, "nic-address") == 0) {
		char *end;
		unsigned long idx = strtoul(value, &end, 10);

		if (end == value || *end != '/')
			r = su_errorf(&inner, -EINVAL, "nic-address '%s' is not 'INDEX/CIDR'", value);
		else
			r = soda_server_config_add_nic_address(ps->cfg, idx, end + 1, &inner);
	} else if (strcmp(key, "label") == 0) {
		r = soda_server_config_add_label(ps->cfg, value, &inner);
	} else if (strcmp(key, "shares") == 0) {
		soda_shares *sh = NULL;

		if (ps->cfg->resources)
			goto dup;
		r = soda_shares_parse(&sh, value, &inner);
		if (r == 0)
			ps->cfg->resources = sh;
	} else if (strcmp(key, "blackbox") == 0) {
		if (ps->cfg->blackbox)
			goto dup;
		r = su_blackbox_key_parse_text(ps->cfg, value, &inner);
	} else if (strcmp(key, "blackbox-retention") == 0) {
		r = su_blackbox_retention_parse_text(ps->cfg, value, &inner);
	} else if (strcmp(key, "guest-profile") == 0) {
		uint32_t profile;

		if (ps->have_profile)
			goto dup;
		ps->have_profile = true;
		r = soda_guest_profile_from_name(&profile, value, &inner);
		if (r == 0)
			r = soda_server_config_set_guest_profile(ps->cfg, profile, &inner);
	} else if (strcmp(key, "ids-landlord-alerts") == 0) {
		if (strcmp(value, "yes") != 0)
			r = su_errorf(&inner, -EINVAL, "ids-landlord-alerts '%s' is not 'yes'", value);
		ps->cfg->ids_landlord = true;
	} else if (strcmp(key, "ids-bypass-depth") == 0) {
		uint64_t depth;

		if (su_parse_u64(value, &depth) < 0 ||
		    (depth && (depth < SODA_IDS_BYPASS_MIN || depth > SODA_IDS_BYPASS_MAX)))
			r = su_errorf(&inner, -EINVAL,
				      "ids-bypass-depth '%s' is not 0 or %llu..%llu bytes", value,
				      SODA_IDS_BYPASS_MIN, SODA_IDS_BYPASS_MAX);
		else
			ps->cfg->ids_bypass_depth = depth;
	} else if (strcmp(key, "ids-rules") == 0) {
		free(ps->cfg->ids_rules);
		ps->cfg->ids_rules = strdup(value);
		if (!ps->cfg->ids_rules)
			r = su_errorf(&inner, -ENOMEM, "out of memory");
	} else if (strcmp(key, "ids-rules-packets") == 0) {
		if (strcmp(value, "yes") != 0)
			r = su_errorf(&inner, -EINVAL, "ids-rules-packets '%s' is not 'yes'", value);
		ps->cfg->ids_packets = true;
	} else if (strcmp(key, "ids-rules-sha256") == 0) {
		size_t n = strspn(value, "0123456789abcdef");

		if (n != 64 || value[n])
			r = su_errorf(&inner, -EINVAL, "ids-rules-sha256 is not 64 hex digits");
		else
			memcpy(ps->cfg->ids_rules_sha256, value, 65);
	} else if (strcmp(key, "ids-response") == 0) {
		unsigned prio = 1, resp = SODA_IDS_RESPONSE_FREEZE;
		int end = 0;

		if (strncmp(value, "dump ", 5) == 0) {
			resp = SODA_IDS_RESPONSE_DUMP;
			if (sscanf(value, "dump %u%n", &prio, &end) != 1)
				end = -1;
		} else if (sscanf(value, "freeze %u%n", &prio, &end) != 1) {
			end = -1;
		}
		if (end < 0 || value[end] || prio < 1 || prio > 255)
			r = su_errorf(&inner, -EINVAL,
				      "ids-response '%s' is not 'freeze PRIORITY' or 'dump PRIORITY'",
				      value);
		ps->cfg->ids_response = resp;
		ps->cfg->ids_response_priority = prio;
	} else {
		r = su_errorf(&inner, -EINVAL, "unknown key '%s'", key);
	}
	if (r < 0) {
		su_errorf_at(ps->error, r, ps->source, line, 1, "%s:%u: %s", ps->source, line,
			     soda_error_message(inner));
		soda_error_free(inner);
	}
	return r;
dup:
	return su_errorf_at(ps->error, -EINVAL, ps->source, line, 1, "%s:%u: '%s' given twice",
			    ps->source, line, key);
}

int su_config_parse(soda_server_config **ret, const char *text, size_t len, const char *source,
		    soda_error **error)
{
	struct parse_state ps = { .source = source, .error = error };
	int r;

	ps.cfg = calloc(1, sizeof(*ps.cfg));
	if (!ps.cfg)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = su_kv_parse(text, len, source, SU_CONFIG_MAGIC, SU_CONFIG_VERSION, NULL, parse_line,
			&ps, error);
	if (r == 0 && (!ps.have_name || !ps.have_image || !ps.have_memory))
		r = su_errorf_at(error, -EINVAL, source, 0, 0, "%s: lacks %s", source,
				 !ps.have_name ? "'name'" : !ps.have_image ? "'image'" : "'memory'");
	if (r == 0) {
		soda_error *inner = NULL;

		r = su_shares_check_memory(ps.cfg->resources, ps.cfg->memory, &inner);
		if (r < 0) {
			su_errorf_at(error, r, source, 0, 0, "%s: %s", source,
				     soda_error_message(inner));
			soda_error_free(inner);
		}
	}
	if (r < 0) {
		soda_server_config_free(ps.cfg);
		return r;
	}
	*ret = ps.cfg;
	return 0;
}
