/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource shares: the object, its text form and its place in a server's
 * configuration. Applying them is the backend's job. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "private.h"

#define BACKSTOP_ROOM_MIN (16ULL << 20)

static const soda_shares defaults = { SODA_CPU_WEIGHT_DEFAULT, 0, NULL, 0, 0, { 0, 0 }, { 0, 0 } };

SODA_EXPORT int soda_shares_new(soda_shares **ret, soda_error **error)
{
	soda_shares *s;

	if (!ret)
		return su_errorf(error, -EINVAL, "ret is NULL");
	s = malloc(sizeof(*s));
	if (!s)
		return su_errorf(error, -ENOMEM, "out of memory");
	*s = defaults;
	*ret = s;
	return 0;
}

SODA_EXPORT void soda_shares_free(soda_shares *s)
{
	if (!s)
		return;
	free(s->cpus);
	free(s);
}

SODA_EXPORT int soda_shares_copy(soda_shares **ret, const soda_shares *s, soda_error **error)
{
	soda_shares *c;

	if (!ret || !s)
		return su_errorf(error, -EINVAL, "ret or shares is NULL");
	c = malloc(sizeof(*c));
	if (!c)
		return su_errorf(error, -ENOMEM, "out of memory");
	*c = *s;
	c->cpus = s->cpus ? strdup(s->cpus) : NULL;
	if (s->cpus && !c->cpus) {
		free(c);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

SODA_EXPORT int soda_shares_set_cpu_weight(soda_shares *s, uint32_t weight, soda_error **error)
{
	if (!s)
		return su_errorf(error, -EINVAL, "shares is NULL");
	if (weight < SODA_CPU_WEIGHT_MIN || weight > SODA_CPU_WEIGHT_MAX)
		return su_errorf(error, -EINVAL, "CPU weight %u is outside %d..%d", weight,
				 SODA_CPU_WEIGHT_MIN, SODA_CPU_WEIGHT_MAX);
	s->cpu_weight = weight;
	return 0;
}

SODA_EXPORT int soda_shares_set_cpu_max(soda_shares *s, uint32_t percent, soda_error **error)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!s)
		return su_errorf(error, -EINVAL, "shares is NULL");
	if (percent > SODA_CPU_MAX_PERCENT_MAX)
		return su_errorf(error, -EINVAL, "CPU cap %u%% is above %d%%", percent,
				 SODA_CPU_MAX_PERCENT_MAX);
	if (ncpu > 0 && percent > (uint64_t)ncpu * 100)
		return su_errorf(error, -EINVAL,
				 "CPU cap %u%% is more than the %ld CPUs of this host (%ld%%)", percent,
				 ncpu, ncpu * 100);
	s->cpu_max = percent;
	return 0;
}

/* Reads the host's online CPUs as a bitmap (up to 1024). */
static int online_cpus(unsigned char map[128])
{
	char *text = NULL;
	int r;

	memset(map, 0, 128);
	r = su_read_file("/sys/devices/system/cpu/online", 4096, &text, NULL);
	if (r < 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		for (long i = 0; i < n && i < 1024; i++)
			map[i / 8] |= (unsigned char)(1u << (i % 8));
		return 0;
	}
	su_cpulist_parse(text, map);
	free(text);
	return 0;
}

/* Parses "0-3,6" into a bitmap, checking every CPU is online. */
static int parse_cpus(const char *text, unsigned char out[128], soda_error **error)
{
	unsigned char online[128];
	const char *p = text;

	online_cpus(online);
	memset(out, 0, 128);
	while (*p) {
		char *end;
		unsigned long a, b;

		if (!isdigit((unsigned char)*p))
			return su_errorf_at(error, -EINVAL, "cpus", 1, (uint32_t)(p - text) + 1,
					    "CPU list '%s': expected a number at position %zu", text,
					    (size_t)(p - text) + 1);
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			if (!isdigit((unsigned char)p[1]))
				return su_errorf_at(error, -EINVAL, "cpus", 1,
						    (uint32_t)(p - text) + 2,
						    "CPU list '%s': expected a number after '-'", text);
			b = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (b >= 1024)
			return su_errorf(error, -EINVAL, "CPU list '%s': CPU %lu is past 1023", text, b);
		if (b < a)
			return su_errorf(error, -EINVAL, "CPU list '%s': bad range %lu-%lu", text, a,
					 b);
		for (unsigned long i = a; i <= b; i++) {
			if (!(online[i / 8] & (1u << (i % 8))))
				return su_errorf(error, -EINVAL,
						 "CPU list '%s': this host has no online CPU %lu", text,
						 i);
			out[i / 8] |= (unsigned char)(1u << (i % 8));
		}
		if (*p == ',')
			p++;
		else if (*p)
			return su_errorf_at(error, -EINVAL, "cpus", 1, (uint32_t)(p - text) + 1,
					    "CPU list '%s': unexpected '%c'", text, *p);
	}
	return 0;
}

static char *format_cpus(const unsigned char map[128])
{
	su_buf b = { 0 };

	for (int i = 0; i < 1024; i++) {
		int j = i;

		if (!(map[i / 8] & (1u << (i % 8))))
			continue;
		while (j + 1 < 1024 && (map[(j + 1) / 8] & (1u << ((j + 1) % 8))))
			j++;
		if (b.len)
			su_buf_puts(&b, ",");
		if (j > i)
			su_buf_printf(&b, "%d-%d", i, j);
		else
			su_buf_printf(&b, "%d", i);
		i = j;
	}
	return su_buf_steal(&b);
}

SODA_EXPORT int soda_shares_set_cpus(soda_shares *s, const char *cpus, soda_error **error)
{
	unsigned char map[128];
	char *norm;
	int r;

	if (!s)
		return su_errorf(error, -EINVAL, "shares is NULL");
	if (!cpus || !*cpus) {
		free(s->cpus);
		s->cpus = NULL;
		return 0;
	}
	r = parse_cpus(cpus, map, error);
	if (r < 0)
		return r;
	norm = format_cpus(map);
	if (!norm)
		return su_errorf(error, -ENOMEM, "out of memory");
	free(s->cpus);
	s->cpus = norm;
	return 0;
}

SODA_EXPORT int soda_shares_set_memory_max(soda_shares *s, uint64_t bytes, soda_error **error)
{
	uint64_t host = su_host_memory();

	if (!s)
		return su_errorf(error, -EINVAL, "shares is NULL");
	if (bytes && bytes < SODA_MEMORY_MIN + BACKSTOP_ROOM_MIN)
		return su_errorf(error, -EINVAL,
				 "memory backstop %" PRIu64 " MiB is below the %llu MiB a guest needs",
				 bytes >> 20, (SODA_MEMORY_MIN + BACKSTOP_ROOM_MIN) >> 20);
	if (bytes && host && bytes > host)
		return su_errorf(error, -EINVAL,
				 "memory backstop %" PRIu64 " MiB is more than the host's %" PRIu64
				 " MiB",
				 bytes >> 20, host >> 20);
	s->memory_max = bytes;
	return 0;
}

SODA_EXPORT int soda_shares_set_pids_max(soda_shares *s, uint32_t n, soda_error **error)
{
	if (!s)
		return su_errorf(error, -EINVAL, "shares is NULL");
	if (n && (n < SODA_PIDS_MIN || n > SODA_PIDS_MAX))
		return su_errorf(error, -EINVAL, "process limit %u is outside %d..%d", n,
				 SODA_PIDS_MIN, SODA_PIDS_MAX);
	s->pids_max = n;
	return 0;
}

SODA_EXPORT int soda_shares_set_bandwidth(soda_shares *s, int direction, uint64_t rate_bps,
					  uint64_t burst_bytes, soda_error **error)
{
	int d = direction - 1;

	if (!s)
		return su_errorf(error, -EINVAL, "shares is NULL");
	if (direction != SODA_DIRECTION_OUT && direction != SODA_DIRECTION_IN)
		return su_errorf(error, -EINVAL, "unknown direction %d", direction);
	if (rate_bps && (rate_bps < SODA_RATE_MIN || rate_bps > SODA_RATE_MAX))
		return su_errorf(error, -EINVAL,
				 "rate %" PRIu64 " bit/s is outside %llu bit/s .. %llu Gbit/s",
				 rate_bps, SODA_RATE_MIN, SODA_RATE_MAX / 1000000000ULL);
	if (!rate_bps && burst_bytes)
		return su_errorf(error, -EINVAL, "a burst needs a rate");
	if (burst_bytes && (burst_bytes < 3028 || burst_bytes > (1ULL << 30)))
		return su_errorf(error, -EINVAL,
				 "burst %" PRIu64 " bytes is outside 3028 (two frames) .. 1 GiB",
				 burst_bytes);
	s->rate[d] = rate_bps;
	s->burst[d] = burst_bytes;
	return 0;
}

SODA_EXPORT uint32_t soda_shares_get_cpu_weight(const soda_shares *s)
{
	return s ? s->cpu_weight : SODA_CPU_WEIGHT_DEFAULT;
}

SODA_EXPORT uint32_t soda_shares_get_cpu_max(const soda_shares *s)
{
	return s ? s->cpu_max : 0;
}

SODA_EXPORT const char *soda_shares_get_cpus(const soda_shares *s)
{
	return s ? s->cpus : NULL;
}

SODA_EXPORT uint64_t soda_shares_get_memory_max(const soda_shares *s)
{
	return s ? s->memory_max : 0;
}

SODA_EXPORT uint32_t soda_shares_get_pids_max(const soda_shares *s)
{
	return s ? s->pids_max : 0;
}

SODA_EXPORT int soda_shares_get_bandwidth(const soda_shares *s, int direction,
					  uint64_t *ret_rate_bps, uint64_t *ret_burst_bytes)
{
	if (direction != SODA_DIRECTION_OUT && direction != SODA_DIRECTION_IN)
		return -EINVAL;
	if (ret_rate_bps)
		*ret_rate_bps = s ? s->rate[direction - 1] : 0;
	if (ret_burst_bytes)
		*ret_burst_bytes = s ? s->burst[direction - 1] : 0;
	return 0;
}

uint64_t su_shares_memory_max(const soda_shares *s, uint64_t guest_memory)
{
	return s && s->memory_max ? s->memory_max : guest_memory + SODA_MEMORY_OVERHEAD_DEFAULT;
}

uint32_t su_shares_pids_max(const soda_shares *s)
{
	return s && s->pids_max ? s->pids_max : SODA_PIDS_DEFAULT;
}

bool su_shares_have_bandwidth(const soda_shares *s)
{
	return s && (s->rate[0] || s->rate[1]);
}

int su_shares_check_memory(const soda_shares *s, uint64_t guest_memory, soda_error **error)
{
	/* The room a backend needs above it is the backend's to check. */
	if (s && s->memory_max && s->memory_max <= guest_memory)
		return su_errorf(error, -EINVAL,
				 "memory backstop %" PRIu64 " MiB leaves no room above the guest's %"
				 PRIu64 " MiB",
				 s->memory_max >> 20, guest_memory >> 20);
	return 0;
}

/* ---- text form ---- */

struct unit {
	const char *name;
	uint64_t factor;
};

static const struct unit size_units[] = {
	{ "B", 1 },          { "K", 1ULL << 10 }, { "KiB", 1ULL << 10 }, { "M", 1ULL << 20 },
	{ "MiB", 1ULL << 20 }, { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 }, { NULL, 0 },
};

static const struct unit rate_units[] = {
	{ "bit", 1 },           { "kbit", 1000 },          { "Kbit", 1000 },
	{ "Mbit", 1000000 },    { "Gbit", 1000000000ULL }, { "bps", 1 },
	{ NULL, 0 },
};

/* A number with a unit from @units; @col is the value's column. */
static int parse_quantity(const char *v, size_t len, const struct unit *units, const char *what,
			  const char *text, uint32_t col, uint64_t *ret, soda_error **error)
{
	char num[32], unit[16];
	size_t i = 0;
	uint64_t n;

	while (i < len && i < sizeof(num) - 1 && isdigit((unsigned char)v[i])) {
		num[i] = v[i];
		i++;
	}
	num[i] = '\0';
	if (i == 0 || su_parse_u64(num, &n) < 0)
		return su_errorf_at(error, -EINVAL, "shares", 1, col,
				    "shares '%s', column %u: %s needs a number", text, col, what);
	if (len - i >= sizeof(unit))
		return su_errorf_at(error, -EINVAL, "shares", 1, col + (uint32_t)i,
				    "shares '%s', column %u: unknown unit", text, col + (uint32_t)i);
	memcpy(unit, v + i, len - i);
	unit[len - i] = '\0';
	if (!unit[0]) {
		*ret = n;
		return 0;
	}
	for (const struct unit *u = units; u->name; u++)
		if (strcmp(u->name, unit) == 0) {
			if (n > UINT64_MAX / u->factor)
				return su_errorf_at(error, -ERANGE, "shares", 1, col,
						    "shares '%s', column %u: %s is too large", text,
						    col, what);
			*ret = n * u->factor;
			return 0;
		}
	return su_errorf_at(error, -EINVAL, "shares", 1, col + (uint32_t)i,
			    "shares '%s', column %u: unknown unit '%s' for %s", text,
			    col + (uint32_t)i, unit, what);
}

static int parse_item(soda_shares *s, const char *text, const char *item, size_t len,
		      soda_error **error)
{
	uint32_t col = (uint32_t)(item - text) + 1;
	const char *eq = memchr(item, '=', len);
	const char *v;
	size_t klen, vlen;
	uint64_t n = 0;
	soda_error *inner = NULL;
	int r;

	if (!eq)
		return su_errorf_at(error, -EINVAL, "shares", 1, col,
				    "shares '%s', column %u: expected KEY=VALUE", text, col);
	klen = (size_t)(eq - item);
	v = eq + 1;
	vlen = len - klen - 1;
#define KEY(k) (klen == strlen(k) && strncmp(item, k, klen) == 0)
	if (KEY("cpu.weight")) {
		r = parse_quantity(v, vlen, size_units, "cpu.weight", text, col + (uint32_t)klen + 1,
				   &n, error);
		if (r == 0 && (vlen == 0 || !isdigit((unsigned char)v[vlen - 1])))
			r = su_errorf_at(error, -EINVAL, "shares", 1, col,
					 "shares '%s', column %u: cpu.weight takes a plain number",
					 text, col);
		if (r == 0)
			r = soda_shares_set_cpu_weight(s, n > UINT32_MAX ? 0 : (uint32_t)n, &inner);
	} else if (KEY("cpu.max")) {
		if (vlen == 3 && strncmp(v, "max", 3) == 0) {
			r = soda_shares_set_cpu_max(s, 0, &inner);
		} else if (vlen < 2 || v[vlen - 1] != '%') {
			r = su_errorf_at(error, -EINVAL, "shares", 1, col + (uint32_t)klen + 1,
					 "shares '%s', column %u: cpu.max takes a percentage such as "
					 "'20%%' (or 'max')",
					 text, col + (uint32_t)klen + 1);
		} else {
			r = parse_quantity(v, vlen - 1, size_units, "cpu.max", text,
					   col + (uint32_t)klen + 1, &n, error);
			if (r == 0 && (n == 0 || !isdigit((unsigned char)v[vlen - 2])))
				r = su_errorf_at(error, -EINVAL, "shares", 1, col,
						 "shares '%s', column %u: cpu.max must be at least 1%%",
						 text, col);
			if (r == 0)
				r = soda_shares_set_cpu_max(s, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n,
							    &inner);
		}
	} else if (KEY("cpus")) {
		char *copy = strndup(v, vlen);

		if (!copy)
			return su_errorf(error, -ENOMEM, "out of memory");
		r = soda_shares_set_cpus(s, strcmp(copy, "all") == 0 ? NULL : copy, &inner);
		free(copy);
	} else if (KEY("memory.max")) {
		if (vlen == 7 && strncmp(v, "default", 7) == 0)
			r = soda_shares_set_memory_max(s, 0, &inner);
		else {
			r = parse_quantity(v, vlen, size_units, "memory.max", text,
					   col + (uint32_t)klen + 1, &n, error);
			if (r == 0)
				r = soda_shares_set_memory_max(s, n, &inner);
		}
	} else if (KEY("pids.max")) {
		r = parse_quantity(v, vlen, size_units, "pids.max", text, col + (uint32_t)klen + 1,
				   &n, error);
		if (r == 0)
			r = soda_shares_set_pids_max(s, n > UINT32_MAX ? 1 : (uint32_t)n, &inner);
	} else if (KEY("net.out") || KEY("net.in")) {
		const char *slash = memchr(v, '/', vlen);
		size_t rlen = slash ? (size_t)(slash - v) : vlen;
		uint64_t burst = 0;

		if (rlen == 4 && strncmp(v, "none", 4) == 0 && !slash) {
			n = 0;
			r = 0;
		} else {
			r = parse_quantity(v, rlen, rate_units, "a rate", text,
					   col + (uint32_t)klen + 1, &n, error);
			if (r == 0 && rlen > 0 && isdigit((unsigned char)v[rlen - 1]))
				r = su_errorf_at(error, -EINVAL, "shares", 1,
						 col + (uint32_t)klen + 1,
						 "shares '%s', column %u: a rate needs a unit (bit, kbit, "
						 "Mbit, Gbit)",
						 text, col + (uint32_t)klen + 1);
		}
		if (r == 0 && slash)
			r = parse_quantity(slash + 1, vlen - rlen - 1, size_units, "a burst", text,
					   col + (uint32_t)(klen + rlen) + 2, &burst, error);
		if (r == 0)
			r = soda_shares_set_bandwidth(s, item[4] == 'o' ? SODA_DIRECTION_OUT
									: SODA_DIRECTION_IN,
						      n, burst, &inner);
	} else {
		r = su_errorf_at(error, -EINVAL, "shares", 1, col,
				 "shares '%s', column %u: unknown key '%.*s' (known: cpu.weight, "
				 "cpu.max, cpus, memory.max, pids.max, net.out, net.in)",
				 text, col, (int)klen, item);
	}
#undef KEY
	if (inner) {
		su_errorf_at(error, soda_error_code(inner), "shares", 1, col,
			     "shares '%s', column %u: %s", text, col, soda_error_message(inner));
		soda_error_free(inner);
	}
	return r;
}

SODA_EXPORT int soda_shares_parse(soda_shares **ret, const char *text, soda_error **error)
{
	soda_shares *s = NULL;
	const char *p;
	int r;

	if (!ret || !text)
		return su_errorf(error, -EINVAL, "ret or text is NULL");
	r = soda_shares_new(&s, error);
	if (r < 0)
		return r;
	for (p = text; *p;) {
		size_t len;

		if (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') {
			p++;
			continue;
		}
		len = strcspn(p, " ,\t\n");
		r = parse_item(s, text, p, len, error);
		if (r < 0) {
			soda_shares_free(s);
			return r;
		}
		p += len;
	}
	*ret = s;
	return 0;
}

static void format_rate(su_buf *b, uint64_t bps)
{
	if (bps % 1000000000ULL == 0)
		su_buf_printf(b, "%" PRIu64 "Gbit", bps / (uint64_t)1000000000);
	else if (bps % 1000000 == 0)
		su_buf_printf(b, "%" PRIu64 "Mbit", bps / 1000000);
	else if (bps % 1000 == 0)
		su_buf_printf(b, "%" PRIu64 "kbit", bps / 1000);
	else
		su_buf_printf(b, "%" PRIu64 "bit", bps);
}

static void format_size(su_buf *b, uint64_t bytes)
{
	if (bytes % (1ULL << 30) == 0)
		su_buf_printf(b, "%" PRIu64 "GiB", bytes >> 30);
	else if (bytes % (1ULL << 20) == 0)
		su_buf_printf(b, "%" PRIu64 "MiB", bytes >> 20);
	else if (bytes % 1024 == 0)
		su_buf_printf(b, "%" PRIu64 "KiB", bytes >> 10);
	else
		su_buf_printf(b, "%" PRIu64 "B", bytes);
}

SODA_EXPORT int soda_shares_format(char **ret, const soda_shares *s, soda_error **error)
{
	su_buf b = { 0 };

	if (!ret || !s)
		return su_errorf(error, -EINVAL, "ret or shares is NULL");
	su_buf_printf(&b, "cpu.weight=%u", s->cpu_weight);
	if (s->cpu_max)
		su_buf_printf(&b, " cpu.max=%u%%", s->cpu_max);
	if (s->cpus)
		su_buf_printf(&b, " cpus=%s", s->cpus);
	if (s->memory_max) {
		su_buf_puts(&b, " memory.max=");
		format_size(&b, s->memory_max);
	}
	if (s->pids_max)
		su_buf_printf(&b, " pids.max=%u", s->pids_max);
	for (int d = 0; d < 2; d++) {
		if (!s->rate[d])
			continue;
		su_buf_puts(&b, d == 0 ? " net.out=" : " net.in=");
		format_rate(&b, s->rate[d]);
		if (s->burst[d]) {
			su_buf_puts(&b, "/");
			format_size(&b, s->burst[d]);
		}
	}
	*ret = su_buf_steal(&b);
	return *ret ? 0 : su_errorf(error, -ENOMEM, "out of memory");
}

/* ---- in the configuration ---- */

SODA_EXPORT int soda_server_config_set_shares(soda_server_config *cfg, const soda_shares *s,
					      soda_error **error)
{
	soda_shares *copy = NULL;
	int r;

	if (!cfg || !s)
		return su_errorf(error, -EINVAL, "cfg or shares is NULL");
	r = su_shares_check_memory(s, cfg->memory, error);
	if (r < 0)
		return r;
	r = soda_shares_copy(&copy, s, error);
	if (r < 0)
		return r;
	soda_shares_free(cfg->resources);
	cfg->resources = copy;
	return 0;
}

SODA_EXPORT int soda_server_config_get_shares(soda_shares **ret, const soda_server_config *cfg,
					      soda_error **error)
{
	if (!ret || !cfg)
		return su_errorf(error, -EINVAL, "ret or cfg is NULL");
	if (!cfg->resources)
		return soda_shares_new(ret, error);
	return soda_shares_copy(ret, cfg->resources, error);
}

SODA_EXPORT int soda_server_set_shares(soda_server *srv, const soda_shares *s, unsigned int flags,
				       soda_error **error)
{
	if (!srv || !s)
		return su_errorf(error, -EINVAL, "srv or shares is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!srv->ctx->drv->set_shares)
		return su_errorf(error, -EOPNOTSUPP, "the %s backend cannot change shares",
				 srv->ctx->drv->scheme);
	return srv->ctx->drv->set_shares(srv->ctx->priv, srv->name, s, 0, error);
}

/* ---- statistics ---- */

struct soda_stats {
	uint64_t value[SODA_STAT_MAX + 1];
	uint8_t have[SODA_STAT_MAX + 1];
};

static const char *const stat_names[SODA_STAT_MAX + 1] = {
	NULL,
	"cpu_usec",
	"cpu_throttled_usec",
	"cpu_throttled_periods",
	"memory_bytes",
	"memory_peak_bytes",
	"memory_max_bytes",
	"memory_limit_hits",
	"memory_oom_kills",
	"pids",
	"pids_max",
	"pids_limit_hits",
	"net_out_bytes",
	"net_out_packets",
	"net_out_drops",
	"net_in_bytes",
	"net_in_packets",
	"net_in_drops",
};

SODA_EXPORT const char *soda_stats_key_name(int key)
{
	return key >= 1 && key <= SODA_STAT_MAX ? stat_names[key] : NULL;
}

SODA_EXPORT int soda_server_get_stats(soda_stats **ret, soda_server *srv, unsigned int flags,
				      soda_error **error)
{
	soda_stats *st;
	int r;

	if (!ret || !srv)
		return su_errorf(error, -EINVAL, "ret or srv is NULL");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!srv->ctx->drv->stats)
		return su_errorf(error, -EOPNOTSUPP, "the %s backend has no statistics",
				 srv->ctx->drv->scheme);
	st = calloc(1, sizeof(*st));
	if (!st)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = srv->ctx->drv->stats(srv->ctx->priv, srv->name, st->value, st->have, error);
	if (r < 0) {
		free(st);
		return r;
	}
	*ret = st;
	return 0;
}

SODA_EXPORT void soda_stats_free(soda_stats *stats)
{
	free(stats);
}

SODA_EXPORT int soda_stats_get(const soda_stats *stats, int key, uint64_t *ret_value)
{
	if (!stats || key < 1 || key > SODA_STAT_MAX)
		return -ENOENT;
	if (!stats->have[key])
		return -ENODATA;
	if (ret_value)
		*ret_value = stats->value[key];
	return 0;
}
