/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sodactl stats --prometheus and --listen: the platform's numbers in the
 * Prometheus text exposition format (version 0.0.4), on standard output
 * or over HTTP at /metrics for a scraper.
 *
 * Every family comes with its HELP and TYPE lines before its samples, in
 * base units (seconds, bytes), counters ending in _total, and labels for
 * what a sample belongs to (server, network, rule, reason): what
 * `promtool check metrics` and prometheus_client's parser accept
 * (tests/network/it_metrics.c runs both on the output).
 *
 * The server is deliberately small: one thread, one connection at a time,
 * a request of at most 8 KiB read within 5 seconds, the answer written
 * within 5 seconds, then the connection is closed. A client that stalls
 * costs the scraper one scrape, never the server's life.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>

#include "commands.h"

/* ---- the exposition ---- */

/* A label value or HELP text, escaped as the format asks (backslash and
 * newline; a double quote too inside label values). */
static void put_escaped(FILE *out, const char *s, bool label)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' && label)
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s ", name);
	put_escaped(out, help, false);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

/* One sample: @labels are name/value pairs, NULL-terminated. */
static void sample(FILE *out, const char *name, const char *const *labels, double scale,
		   uint64_t value)
{
	fputs(name, out);
	for (size_t i = 0; labels && labels[i]; i += 2) {
		fprintf(out, "%s%s=\"", i ? "," : "{", labels[i]);
		put_escaped(out, labels[i + 1], true);
		fputc('"', out);
		if (!labels[i + 2])
			fputc('}', out);
	}
	if (scale == 1.0)
		fprintf(out, " %" PRIu64 "\n", value);
	else
		fprintf(out, " %.6f\n", (double)value * scale);
}

static const struct server_metric {
	int key;
	const char *name, *type, *help;
	double scale;
} server_metrics[] = {
	{ SODA_STAT_CPU_USEC, "soda_server_cpu_seconds_total", "counter",
	  "CPU time the server used in this run.", 1e-6 },
	{ SODA_STAT_CPU_THROTTLED_USEC, "soda_server_cpu_throttled_seconds_total", "counter",
	  "Time the server was held back by its CPU cap.", 1e-6 },
	{ SODA_STAT_CPU_THROTTLED_PERIODS, "soda_server_cpu_throttled_periods_total", "counter",
	  "Scheduling periods in which the CPU cap held the server back.", 1.0 },
	{ SODA_STAT_MEMORY_BYTES, "soda_server_memory_bytes", "gauge",
	  "Host memory charged to the server now.", 1.0 },
	{ SODA_STAT_MEMORY_PEAK_BYTES, "soda_server_memory_peak_bytes", "gauge",
	  "Most host memory charged to the server in this run.", 1.0 },
	{ SODA_STAT_MEMORY_MAX_BYTES, "soda_server_memory_limit_bytes", "gauge",
	  "The host memory backstop of the server.", 1.0 },
	{ SODA_STAT_MEMORY_LIMIT_HITS, "soda_server_memory_limit_hits_total", "counter",
	  "Times the server reached its memory backstop.", 1.0 },
	{ SODA_STAT_MEMORY_OOM_KILLS, "soda_server_memory_oom_kills_total", "counter",
	  "Host OOM kills inside the server.", 1.0 },
	{ SODA_STAT_PIDS, "soda_server_pids", "gauge", "Host processes of the server now.", 1.0 },
	{ SODA_STAT_PIDS_MAX, "soda_server_pids_limit", "gauge",
	  "The most host processes the server may have.", 1.0 },
	{ SODA_STAT_PIDS_LIMIT_HITS, "soda_server_pids_limit_hits_total", "counter",
	  "Process creations refused by the server's process limit.", 1.0 },
	{ SODA_STAT_NET_OUT_BYTES, "soda_server_network_transmit_bytes_total", "counter",
	  "Bytes the server sent.", 1.0 },
	{ SODA_STAT_NET_OUT_PACKETS, "soda_server_network_transmit_packets_total", "counter",
	  "Packets the server sent.", 1.0 },
	{ SODA_STAT_NET_OUT_DROPS, "soda_server_network_transmit_drops_total", "counter",
	  "Packets the server sent that its bandwidth share dropped.", 1.0 },
	{ SODA_STAT_NET_IN_BYTES, "soda_server_network_receive_bytes_total", "counter",
	  "Bytes sent to the server.", 1.0 },
	{ SODA_STAT_NET_IN_PACKETS, "soda_server_network_receive_packets_total", "counter",
	  "Packets sent to the server.", 1.0 },
	{ SODA_STAT_NET_IN_DROPS, "soda_server_network_receive_drops_total", "counter",
	  "Packets sent to the server that were dropped on the way.", 1.0 },
};

typedef struct server_stats {
	const char *name;
	soda_stats *st;
} server_stats;

/* Statistics of @names; with @listed (every server), those not running
 * are left out. Errors go to stderr and count in *errors. */
static size_t gather_servers(soda_context *ctx, char **names, bool listed, server_stats **ret,
			     int *errors)
{
	server_stats *v;
	size_t n = 0, cap;
	soda_error *e = NULL;

	for (cap = 0; names && names[cap]; cap++)
		;
	v = calloc(cap + 1, sizeof(*v));
	if (!v)
		(*errors)++;
	for (size_t i = 0; v && names && names[i]; i++) {
		soda_server *srv = NULL;
		soda_stats *st = NULL;

		if (soda_server_lookup(&srv, ctx, names[i], &e) < 0 ||
		    soda_server_get_stats(&st, srv, 0, &e) < 0) {
			/* Shut-off servers have no statistics. */
			if (!(listed && soda_error_code(e) == -EBUSY)) {
				fprintf(stderr, "sodactl: %s: %s\n", names[i], soda_error_message(e));
				(*errors)++;
			}
			soda_error_free(e);
			e = NULL;
			soda_server_unref(srv);
			continue;
		}
		soda_server_unref(srv);
		v[n].name = names[i];
		v[n].st = st;
		n++;
	}
	*ret = v;
	return n;
}

static void free_servers(server_stats *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		soda_stats_free(v[i].st);
	free(v);
}

static void write_servers(FILE *out, const server_stats *v, size_t n)
{
	for (size_t m = 0; m < sizeof(server_metrics) / sizeof(server_metrics[0]); m++) {
		const struct server_metric *sm = &server_metrics[m];

		family(out, sm->name, sm->type, sm->help);
		for (size_t i = 0; i < n; i++) {
			const char *labels[] = { "server", v[i].name, NULL };
			uint64_t x;

			/* -ENODATA: this host cannot tell; no sample. */
			if (soda_stats_get(v[i].st, sm->key, &x) == 0)
				sample(out, sm->name, labels, sm->scale, x);
		}
	}
}

#ifdef SODA_HAVE_NETWORK
typedef struct net_data {
	char *name;
	soda_network_info *info;
	soda_net_counters *c; /* NULL: no firewall */
} net_data;

static size_t gather_networks(soda_context *ctx, net_data **ret, int *errors)
{
	char **names = NULL;
	net_data *v;
	size_t n = 0, cap;
	soda_error *e = NULL;

	*ret = NULL;
	if (soda_context_list_networks(&names, NULL, ctx, 0, &e) < 0) {
		/* A backend without a state directory has no networks. */
		if (soda_error_code(e) != -EOPNOTSUPP) {
			fprintf(stderr, "sodactl: stats: networks: %s\n", soda_error_message(e));
			(*errors)++;
		}
		soda_error_free(e);
		return 0;
	}
	for (cap = 0; names[cap]; cap++)
		;
	v = calloc(cap + 1, sizeof(*v));
	for (size_t i = 0; v && names[i]; i++) {
		soda_network *net = NULL;
		soda_network_info *info = NULL;
		soda_net_counters *c = NULL;

		if (soda_network_lookup(&net, ctx, names[i], &e) < 0 ||
		    soda_network_get_info(&info, net, 0, &e) < 0 ||
		    (soda_network_info_get_firewall(info) &&
		     soda_network_get_counters(&c, net, 0, &e) < 0)) {
			fprintf(stderr, "sodactl: network %s: %s\n", names[i], soda_error_message(e));
			soda_error_free(e);
			e = NULL;
			(*errors)++;
			soda_network_info_free(info);
			soda_network_unref(net);
			continue;
		}
		soda_network_unref(net);
		v[n].name = strdup(names[i]);
		v[n].info = info;
		v[n].c = c;
		n++;
	}
	if (!v)
		(*errors)++;
	soda_strv_free(names);
	*ret = v;
	return n;
}

static void free_networks(net_data *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		soda_network_info_free(v[i].info);
		soda_net_counters_free(v[i].c);
	}
	free(v);
}

/* Per-server drop reasons: SODA_NET_* kind and label value. */
static const struct {
	int kind;
	const char *reason;
} drop_reasons[] = {
	{ SODA_NET_DROP_MAC, "spoofed_mac" },
	{ SODA_NET_DROP_IP, "spoofed_ip" },
	{ SODA_NET_DROP_ARP, "spoofed_arp" },
	{ SODA_NET_DROP_ND, "spoofed_nd" },
	{ SODA_NET_DROP_OTHER, "other_type" },
	{ SODA_NET_DROP_HOST, "to_host" },
	{ SODA_NET_DROP_FLOOD, "broadcast_limit" },
	{ SODA_NET_DROP_POLICY_OUT, "policy_out" },
	{ SODA_NET_DROP_POLICY_IN, "policy_in" },
};

static const struct {
	int kind;
	const char *reason;
} total_reasons[] = {
	{ SODA_NET_TOTAL_DEFAULT, "default" },
	{ SODA_NET_TOTAL_INVALID, "invalid" },
	{ SODA_NET_TOTAL_HOST, "to_host" },
	{ SODA_NET_TOTAL_UPLINK, "uplink_spoofed" },
};

static void write_networks(FILE *out, const net_data *v, size_t n)
{
	static const char *const unit_name[2] = { "packets", "bytes" };

	family(out, "soda_network_ports", "gauge", "Server ports on the network's switch.");
	for (size_t i = 0; i < n; i++) {
		const char *labels[] = { "network", v[i].name, NULL };

		sample(out, "soda_network_ports", labels, 1.0,
		       soda_network_info_get_port_count(v[i].info));
	}
	family(out, "soda_network_broadcast_limit_packets_per_second", "gauge",
	       "Broadcast and multicast frames each port may send per second (0: no limit).");
	for (size_t i = 0; i < n; i++) {
		const char *labels[] = { "network", v[i].name, NULL };
		uint32_t rate = 0;

		if (!v[i].c)
			continue;
		soda_network_info_get_flood_limit(v[i].info, &rate, NULL);
		sample(out, "soda_network_broadcast_limit_packets_per_second", labels, 1.0, rate);
	}
	family(out, "soda_network_broadcast_limit_burst_packets", "gauge",
	       "Broadcast and multicast frames each port may send at once above the rate.");
	for (size_t i = 0; i < n; i++) {
		const char *labels[] = { "network", v[i].name, NULL };
		uint32_t burst = 0;

		if (!v[i].c)
			continue;
		soda_network_info_get_flood_limit(v[i].info, NULL, &burst);
		sample(out, "soda_network_broadcast_limit_burst_packets", labels, 1.0, burst);
	}

	for (int u = 0; u < 2; u++) {
		char name[96], help[256];

		snprintf(name, sizeof(name), "soda_firewall_rule_%s_total", unit_name[u]);
		snprintf(help, sizeof(help),
			 "%s of the connections each policy rule decided (allow rules: accepted, "
			 "deny rules: dropped).",
			 u ? "Bytes" : "Packets");
		family(out, name, "counter", help);
		for (size_t i = 0; i < n; i++)
			for (size_t r = 0; v[i].c && r < soda_net_counters_get_rule_count(v[i].c);
			     r++) {
				char idx[24];
				const char *labels[] = { "network", v[i].name, "rule", idx, "text",
							 soda_net_counters_get_rule_text(v[i].c, r),
							 NULL };
				uint64_t x[2] = { 0, 0 };

				snprintf(idx, sizeof(idx), "%zu", r + 1);
				soda_net_counters_get_rule(v[i].c, r, &x[0], &x[1]);
				sample(out, name, labels, 1.0, x[u]);
			}
	}
	for (int u = 0; u < 2; u++) {
		char name[96], help[256];

		snprintf(name, sizeof(name), "soda_firewall_accepted_%s_total", unit_name[u]);
		snprintf(help, sizeof(help), "%s from the server the switch forwarded.",
			 u ? "Bytes of frames" : "Frames");
		family(out, name, "counter", help);
		for (size_t i = 0; i < n; i++)
			for (size_t s = 0; v[i].c && s < soda_net_counters_get_server_count(v[i].c);
			     s++) {
				const char *labels[] = { "network", v[i].name, "server",
							 soda_net_counters_get_server(v[i].c, s), NULL };
				uint64_t x[2] = { 0, 0 };

				soda_net_counters_get_server_value(v[i].c, s, SODA_NET_ACCEPTED, &x[0],
								   &x[1]);
				sample(out, name, labels, 1.0, x[u]);
			}
	}
	for (int u = 0; u < 2; u++) {
		char name[96], help[512];

		snprintf(name, sizeof(name), "soda_firewall_dropped_%s_total", unit_name[u]);
		snprintf(help, sizeof(help),
			 "%s from or to the server the switch dropped, by reason: spoofed_* "
			 "(anti-spoofing), other_type, to_host, broadcast_limit (over the port's "
			 "broadcast limit), policy_out and policy_in (refused by the policy).",
			 u ? "Bytes of frames and packets" : "Frames and packets");
		family(out, name, "counter", help);
		for (size_t i = 0; i < n; i++)
			for (size_t s = 0; v[i].c && s < soda_net_counters_get_server_count(v[i].c);
			     s++)
				for (size_t d = 0; d < sizeof(drop_reasons) / sizeof(drop_reasons[0]);
				     d++) {
					const char *labels[] = {
						"network", v[i].name,
						"server", soda_net_counters_get_server(v[i].c, s),
						"reason", drop_reasons[d].reason,
						NULL
					};
					uint64_t x[2] = { 0, 0 };

					if (soda_net_counters_get_server_value(
						    v[i].c, s, drop_reasons[d].kind, &x[0], &x[1]) == 0)
						sample(out, name, labels, 1.0, x[u]);
				}
	}
	for (int u = 0; u < 2; u++) {
		char name[96], help[256];

		snprintf(name, sizeof(name), "soda_firewall_network_dropped_%s_total",
			 unit_name[u]);
		snprintf(help, sizeof(help),
			 "%s the network's switch dropped, by reason: default (no rule allowed "
			 "them), invalid, to_host, uplink_spoofed.",
			 u ? "Bytes of frames and packets" : "Frames and packets");
		family(out, name, "counter", help);
		for (size_t i = 0; i < n; i++)
			for (size_t t = 0; v[i].c && t < sizeof(total_reasons) / sizeof(total_reasons[0]);
			     t++) {
				const char *labels[] = { "network", v[i].name, "reason",
							 total_reasons[t].reason, NULL };
				uint64_t x[2] = { 0, 0 };

				soda_net_counters_get_total(v[i].c, total_reasons[t].kind, &x[0], &x[1]);
				sample(out, name, labels, 1.0, x[u]);
			}
	}
}
#endif

/* The whole exposition into a string (free()); NULL only without memory.
 * *ret_errors counts what could not be read (reported on stderr). */
static char *exposition(soda_context *ctx, char **names, size_t *ret_len, int *ret_errors)
{
	server_stats *sv = NULL;
	size_t ns = 0, len = 0;
	char *text = NULL, **all = NULL;
	soda_error *e = NULL;
	FILE *out;
	int errors = 0;

	out = open_memstream(&text, &len);
	if (!out)
		return NULL;
	if (!names && soda_context_list_servers(&all, NULL, ctx, 0, &e) < 0) {
		fprintf(stderr, "sodactl: stats: %s\n", soda_error_message(e));
		soda_error_free(e);
		errors++;
	}
	ns = gather_servers(ctx, names ? names : all, !names, &sv, &errors);
	write_servers(out, sv, ns);
	free_servers(sv, ns);
	soda_strv_free(all);
#ifdef SODA_HAVE_NETWORK
	{
		net_data *nv = NULL;
		size_t nn = gather_networks(ctx, &nv, &errors);

		write_networks(out, nv, nn);
		free_networks(nv, nn);
	}
#endif
	family(out, "soda_scrape_errors", "gauge",
	       "Servers and networks whose numbers could not be read in this scrape.");
	sample(out, "soda_scrape_errors", NULL, 1.0, (uint64_t)errors);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	*ret_len = len;
	*ret_errors = errors;
	return text;
}

int sodactl_metrics_print(soda_context *ctx, char **names)
{
	size_t len = 0;
	int errors = 0;
	char *text = exposition(ctx, names, &len, &errors);

	if (!text) {
		fprintf(stderr, "sodactl: stats: out of memory\n");
		return 1;
	}
	fwrite(text, 1, len, stdout);
	free(text);
	return errors ? 1 : 0;
}

/* ---- the HTTP side ---- */

#define REQUEST_MAX 8192
#define IO_TIMEOUT_MS 5000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses). */
static int listen_on(const char *spec)
{
	char host[256];
	const char *port, *colon = strrchr(spec, ':');
	struct addrinfo hints = { 0 }, *ai = NULL;
	int fd = -1, one = 1, r;

	if (!colon || colon == spec + strlen(spec) - 1) {
		fprintf(stderr, "sodactl: --listen %s: expected HOST:PORT\n", spec);
		return -1;
	}
	port = colon + 1;
	if (spec[0] == '[' && colon > spec && colon[-1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec - 2), spec + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (r != 0) {
		fprintf(stderr, "sodactl: --listen %s: %s\n", spec, gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 8) < 0) {
		fprintf(stderr, "sodactl: --listen %s: %s\n", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Reads the request head (up to the blank line) within the deadline.
 * Returns its length, 0 for a client that went away or stalled, -1 for
 * one too large. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
	int64_t deadline = now_ms() + IO_TIMEOUT_MS;
	size_t len = 0;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = deadline - now_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		k = recv(fd, buf + len, cap - 1 - len, 0);
		if (k <= 0)
			return 0;
		len += (size_t)k;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)len;
		if (len >= cap - 1)
			return -1;
	}
}

static void send_all(int fd, const char *p, size_t len)
{
	int64_t deadline = now_ms() + IO_TIMEOUT_MS;

	while (len) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		int64_t left = deadline - now_ms();
		ssize_t k;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return;
		k = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return;
		p += k;
		len -= (size_t)k;
	}
}

static void respond(int fd, int code, const char *reason, const char *type, const char *body,
		    size_t len, bool head_only)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, reason, type, len);

	send_all(fd, head, (size_t)n);
	if (!head_only)
		send_all(fd, body, len);
}

static void serve_one(soda_context *ctx, char **names, int fd)
{
	static const char *const text_type = "text/plain; charset=utf-8";
	char buf[REQUEST_MAX], method[16], target[256];
	ssize_t n = read_head(fd, buf, sizeof(buf));
	bool head_only;

	if (n == 0)
		return;
	if (n < 0) {
		respond(fd, 431, "Request Header Fields Too Large", text_type, "too large\n", 10,
			false);
		return;
	}
	if (sscanf(buf, "%15s %255s HTTP/1.%*c", method, target) != 2) {
		respond(fd, 400, "Bad Request", text_type, "bad request\n", 12, false);
		return;
	}
	head_only = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head_only) {
		respond(fd, 405, "Method Not Allowed", text_type, "GET only\n", 9, false);
		return;
	}
	if (strcmp(target, "/metrics") == 0 || strncmp(target, "/metrics?", 9) == 0) {
		size_t len = 0;
		int errors = 0;
		char *text = exposition(ctx, names, &len, &errors);

		if (!text)
			respond(fd, 500, "Internal Server Error", text_type, "out of memory\n", 14,
				false);
		else
			respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len,
				head_only);
		free(text);
		return;
	}
	if (strcmp(target, "/") == 0) {
		static const char page[] = "libsoda metrics: see /metrics\n";

		respond(fd, 200, "OK", text_type, page, sizeof(page) - 1, head_only);
		return;
	}
	respond(fd, 404, "Not Found", text_type, "not found\n", 10, head_only);
}

int sodactl_metrics_listen(soda_context *ctx, char **names, const char *spec, long count)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?", port[16] = "?";
	int lfd = listen_on(spec);

	if (lfd < 0)
		return 1;
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	/* The port chosen for ":0" is what a caller waits for. */
	printf("listening on %s%s%s:%s\n", strchr(host, ':') ? "[" : "", host,
	       strchr(host, ':') ? "]" : "", port);
	fflush(stdout);
	for (long served = 0; count <= 0 || served < count;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				if (errno != EINTR && errno != ECONNABORTED)
					usleep(100000);
				continue;
			}
			fprintf(stderr, "sodactl: accept: %s\n", strerror(errno));
			close(lfd);
			return 1;
		}
		serve_one(ctx, names, fd);
		close(fd);
		served++;
	}
	close(lfd);
	return 0;
}
