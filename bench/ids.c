/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-ids: Kernort's throughput on one core, against a bare Vectorscan
 * scan of the same bytes.
 *
 *   bench-ids [TRACE_MB (default 64)] [PASSES (default 3)]
 *
 * A mixed trace is generated in memory (Ethernet/IPv4): HTTP-like TCP
 * flows, short and long, DNS-like UDP exchanges and TCP flows of random
 * bytes, 64 flows interleaved at a time. For 10, 1,000 and 10,000
 * generated content rules (random literals, one in a thousand a pair of
 * words the trace holds, one in ten nocase), it measures:
 *  - the engine: kn_decode (flows, reassembly) and kn_detect on every
 *    packet, in CPU seconds over the trace (best of PASSES);
 *  - the baseline: hs_scan, in block mode, of every packet's transport
 *    payload with one database of the same literals (single match, as the
 *    engine's prefilter compiles them);
 * and prints both as Gbit/s of captured frame bytes, and their ratio
 * (baseline time / engine time; target >= 0.5, and >= 1 Gbit/s at 1,000
 * rules). Then decoding alone (no rules), and memory per flow: the flow
 * entry, and what 10,000 open TCP flows with 1 KB each way and 10,000 UDP
 * flows take from malloc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#include "libsoda/ids/decode_int.h"
#include "libsoda/ids/detect.h"
#include "tests/ids/test_pktbuild.h"

/* ---- the trace ---- */

struct frame {
	uint32_t off, len;
	uint32_t pl_off, pl_len; /* the transport payload inside the frame */
};

struct trace {
	uint8_t *buf;
	size_t len, cap;
	struct frame *f;
	size_t n, fcap;
	uint64_t payload_bytes;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t rnd_in(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd() % (hi - lo + 1));
}

static const char *words[] = {
	"the", "server", "content", "page", "index", "html", "script", "style", "login",
	"account", "image", "update", "session", "cookie", "data", "value", "table",
	"window", "document", "function", "return", "private", "network", "system",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* One flow's frames, before interleaving. */
struct gen {
	uint8_t *buf;
	size_t len, cap;
	struct frame *f;
	size_t n, fcap, next;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "bench-ids: out of memory\n");
		exit(1);
	}
	return p;
}

static void gen_frame(struct gen *g, const uint8_t *l4, size_t l4len, size_t hdr, uint8_t proto,
		      const uint8_t *src, const uint8_t *dst)
{
	static uint8_t l3[70000];
	if (g->len + l4len + 100 > g->cap) {
		g->cap = (g->len + l4len + 100) * 2;
		g->buf = xrealloc(g->buf, g->cap);
	}
	if (g->n == g->fcap) {
		g->fcap = g->fcap ? g->fcap * 2 : 16;
		g->f = xrealloc(g->f, g->fcap * sizeof(*g->f));
	}
	size_t n = tb_ip4(l3, src, dst, proto, (uint16_t)rnd(), 0x4000, 0, l4, l4len);
	n = tb_eth(g->buf + g->len, 0x0800, NULL, NULL, 0, l3, n);
	g->f[g->n++] = (struct frame){ (uint32_t)g->len, (uint32_t)n, (uint32_t)(g->len + 34 + hdr),
				       (uint32_t)(l4len - hdr) };
	g->len += n;
}

struct conn {
	uint8_t c[4], s[4];
	uint16_t cp, sp;
	uint32_t cseq, sseq;
};

static void tcp(struct gen *g, struct conn *k, bool to_server, uint8_t flags, const void *data,
		size_t len)
{
	static uint8_t l4[2000];
	uint32_t *seq = to_server ? &k->cseq : &k->sseq, ack = to_server ? k->sseq : k->cseq;
	size_t n = to_server ? tb_tcp(l4, 4, k->c, k->s, k->cp, k->sp, *seq, ack, flags, data, len) :
		tb_tcp(l4, 4, k->s, k->c, k->sp, k->cp, *seq, ack, flags, data, len);
	gen_frame(g, l4, n, 20, 6, to_server ? k->c : k->s, to_server ? k->s : k->c);
	*seq += (uint32_t)len + ((flags & (KN_TCP_SYN | KN_TCP_FIN)) ? 1 : 0);
}

static void tcp_data(struct gen *g, struct conn *k, bool to_server, const uint8_t *data, size_t len)
{
	for (size_t o = 0; o < len; o += 1460) {
		size_t n = len - o < 1460 ? len - o : 1460;
		tcp(g, k, to_server, KN_TCP_ACK | KN_TCP_PSH, data + o, n);
	}
}

static size_t text(uint8_t *out, size_t len)
{
	size_t o = 0;
	while (o < len) {
		const char *w = words[rnd() % NWORDS];
		size_t n = strlen(w);
		if (o + n + 1 > len)
			break;
		memcpy(out + o, w, n);
		o += n;
		out[o++] = rnd() % 8 ? ' ' : '\n';
	}
	memset(out + o, ' ', len - o);
	return len;
}

static void new_conn(struct conn *k, uint16_t sp)
{
	k->c[0] = 198, k->c[1] = 51, k->c[2] = 100, k->c[3] = (uint8_t)rnd_in(1, 254);
	k->s[0] = 203, k->s[1] = 0, k->s[2] = 113, k->s[3] = (uint8_t)rnd_in(1, 254);
	k->cp = (uint16_t)rnd_in(1024, 65000);
	k->sp = sp;
	k->cseq = (uint32_t)rnd();
	k->sseq = (uint32_t)rnd();
}

static void gen_flow(struct gen *g)
{
	static uint8_t body[1 << 20];
	struct conn k;
	uint32_t kind = rnd_in(0, 99);
	if (kind < 40) { /* DNS-like */
		new_conn(&k, 53);
		uint8_t q[512], l4[600];
		size_t ql = rnd_in(30, 60), al = rnd_in(80, 300);
		text(q, ql);
		size_t n = tb_udp(l4, 4, k.c, k.s, k.cp, 53, q, ql);
		gen_frame(g, l4, n, 8, 17, k.c, k.s);
		text(q, al);
		n = tb_udp(l4, 4, k.s, k.c, 53, k.cp, q, al);
		gen_frame(g, l4, n, 8, 17, k.s, k.c);
		return;
	}
	bool random_bytes = kind >= 90;
	new_conn(&k, random_bytes ? 443 : 80);
	tcp(g, &k, true, KN_TCP_SYN, NULL, 0);
	tcp(g, &k, false, KN_TCP_SYN | KN_TCP_ACK, NULL, 0);
	tcp(g, &k, true, KN_TCP_ACK, NULL, 0);
	size_t resp = kind < 80 ? rnd_in(2000, 20000) : rnd_in(200000, 1000000);
	if (random_bytes) {
		for (size_t i = 0; i < resp; i++)
			body[i] = (uint8_t)rnd();
		tcp_data(g, &k, true, body, 200);
		tcp_data(g, &k, false, body + 200, resp - 200);
	} else {
		char req[512];
		int n = snprintf(req, sizeof(req),
				 "GET /%s/%s.html HTTP/1.1\r\nHost: www.example%u.com\r\n"
				 "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n"
				 "Cookie: session=%08x\r\n\r\n",
				 words[rnd() % NWORDS], words[rnd() % NWORDS], (unsigned)rnd_in(1, 99),
				 (unsigned)rnd());
		tcp_data(g, &k, true, (const uint8_t *)req, (size_t)n);
		int h = snprintf((char *)body, 256,
				 "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
				 "Content-Length: %zu\r\n\r\n", resp);
		text(body + h, resp - (size_t)h);
		tcp_data(g, &k, false, body, resp);
	}
	tcp(g, &k, true, KN_TCP_FIN | KN_TCP_ACK, NULL, 0);
	tcp(g, &k, false, KN_TCP_FIN | KN_TCP_ACK, NULL, 0);
	tcp(g, &k, true, KN_TCP_ACK, NULL, 0);
}

static void build_trace(struct trace *t, size_t bytes)
{
	enum { ACTIVE = 64 };
	struct gen g[ACTIVE];
	memset(g, 0, sizeof(g));
	for (int i = 0; i < ACTIVE; i++)
		gen_flow(&g[i]);
	while (t->len < bytes) {
		struct gen *x = &g[rnd() % ACTIVE];
		if (x->next == x->n) {
			x->len = x->n = x->next = 0;
			gen_flow(x);
		}
		struct frame fr = x->f[x->next++];
		if (t->len + fr.len > t->cap) {
			t->cap = t->cap ? t->cap * 2 : bytes + (1 << 20);
			t->buf = xrealloc(t->buf, t->cap);
		}
		if (t->n == t->fcap) {
			t->fcap = t->fcap ? t->fcap * 2 : 1 << 16;
			t->f = xrealloc(t->f, t->fcap * sizeof(*t->f));
		}
		memcpy(t->buf + t->len, x->buf + fr.off, fr.len);
		t->f[t->n++] = (struct frame){ (uint32_t)t->len, fr.len,
					       (uint32_t)(t->len + fr.pl_off - fr.off), fr.pl_len };
		t->len += fr.len;
		t->payload_bytes += fr.pl_len;
	}
	for (int i = 0; i < ACTIVE; i++) {
		free(g[i].buf);
		free(g[i].f);
	}
}

/* ---- rules ---- */

struct lits {
	char **s;
	bool *nocase;
	size_t n;
};

static char *make_rules(size_t n, struct lits *l)
{
	size_t cap = n * 160 + 1, len = 0;
	char *out = xrealloc(NULL, cap);
	l->s = xrealloc(NULL, n * sizeof(*l->s));
	l->nocase = xrealloc(NULL, n * sizeof(*l->nocase));
	l->n = n;
	static const char *protos[] = { "tcp", "tcp", "tcp", "udp", "ip" };
	for (size_t i = 0; i < n; i++) {
		char lit[64];
		if (i % 1000 == 7) {
			/* a pair of words the trace holds: alerts now and then */
			snprintf(lit, sizeof(lit), "%s %s", words[rnd() % NWORDS], words[rnd() % NWORDS]);
		} else {
			size_t ln = rnd_in(6, 14);
			for (size_t j = 0; j < ln; j++)
				lit[j] = "abcdefghijklmnopqrstuvwxyz0123456789-_/."[rnd() % 40];
			lit[ln] = 0;
		}
		l->s[i] = strdup(lit);
		l->nocase[i] = i % 10 == 3;
		len += (size_t)snprintf(out + len, cap - len,
					"alert %s any any -> any any (msg:\"bench %zu\"; content:\"%s\";%s "
					"sid:%zu; rev:1;)\n",
					protos[i % 5], i, lit, l->nocase[i] ? " nocase;" : "", 100000 + i);
	}
	return out;
}

static void free_lits(struct lits *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
	free(l->nocase);
}

/* ---- measuring ---- */

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run {
	kn_detector *det;
	uint64_t alerts;
};

static void on_alert(void *userdata, const struct kn_alert *a, const struct kn_packet *p)
{
	((struct run *)userdata)->alerts++;
}

static void on_packet(void *userdata, struct kn_packet *p)
{
	struct run *r = userdata;
	if (r->det)
		kn_detect(r->det, p, on_alert, r);
}

static double engine_pass(const struct trace *t, struct run *r)
{
	struct kn_decode_config cfg;
	kn_decode_config_init(&cfg);
	cfg.flow_state_free = kn_detect_flow_free;
	kn_decoder *d = NULL;
	if (kn_decoder_new(&d, &cfg) < 0)
		exit(1);
	r->alerts = 0;
	double t0 = cpu_now();
	for (size_t i = 0; i < t->n; i++)
		kn_decode(d, KN_LINK_ETHERNET, 1700000000000000ull + i, i + 1, t->buf + t->f[i].off,
			  t->f[i].len, on_packet, r);
	double el = cpu_now() - t0;
	kn_decoder_free(d);
	return el;
}

static int on_hs(unsigned int id, unsigned long long from, unsigned long long to,
		 unsigned int flags, void *ctx)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

static double baseline_pass(const struct trace *t, const hs_database_t *db, hs_scratch_t *s,
			    uint64_t *matches)
{
	*matches = 0;
	double t0 = cpu_now();
	for (size_t i = 0; i < t->n; i++)
		if (t->f[i].pl_len)
			hs_scan(db, (const char *)t->buf + t->f[i].pl_off, t->f[i].pl_len, 0, s, on_hs,
				matches);
	return cpu_now() - t0;
}

static void measure(const struct trace *t, size_t nrules, int passes)
{
	struct lits l;
	char *text_rules = make_rules(nrules, &l);
	kn_ruleset *rs = NULL;
	soda_error *e = NULL;
	if (kn_ruleset_load_text(&rs, "bench", text_rules, strlen(text_rules), NULL, 0, NULL, NULL,
				 &e) < 0) {
		fprintf(stderr, "bench-ids: rules: %s\n", soda_error_message(e));
		exit(1);
	}
	struct run r = { 0 };
	if (kn_detector_new(&r.det, rs, &e) < 0) {
		fprintf(stderr, "bench-ids: detector: %s\n", soda_error_message(e));
		exit(1);
	}
	unsigned int *flags = xrealloc(NULL, nrules * sizeof(*flags));
	unsigned int *ids = xrealloc(NULL, nrules * sizeof(*ids));
	size_t *lens = xrealloc(NULL, nrules * sizeof(*lens));
	for (size_t i = 0; i < nrules; i++) {
		flags[i] = HS_FLAG_SINGLEMATCH | (l.nocase[i] ? HS_FLAG_CASELESS : 0);
		ids[i] = (unsigned int)i;
		lens[i] = strlen(l.s[i]);
	}
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	hs_scratch_t *scratch = NULL;
	if (hs_compile_lit_multi((const char *const *)l.s, flags, ids, lens, (unsigned int)nrules,
				 HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS ||
	    hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
		fprintf(stderr, "bench-ids: hs_compile_lit_multi: %s\n", ce ? ce->message : "?");
		exit(1);
	}
	double best_e = 1e9, best_b = 1e9;
	uint64_t matches = 0;
	for (int p = 0; p < passes; p++) {
		double te = engine_pass(t, &r);
		double tb = baseline_pass(t, db, scratch, &matches);
		best_e = te < best_e ? te : best_e;
		best_b = tb < best_b ? tb : best_b;
	}
	double bits = (double)t->len * 8;
	printf("%6zu rules  engine %6.2f Gbit/s  hs_scan %6.2f Gbit/s  ratio %.2f  "
	       "(alerts %llu, hs matches %llu)\n",
	       nrules, bits / best_e / 1e9, bits / best_b / 1e9, best_b / best_e,
	       (unsigned long long)r.alerts, (unsigned long long)matches);
	fflush(stdout);
	hs_free_scratch(scratch);
	hs_free_database(db);
	free(flags);
	free(ids);
	free(lens);
	kn_detector_free(r.det);
	kn_ruleset_free(rs);
	free_lits(&l);
	free(text_rules);
}

static void flow_memory(void)
{
	enum { N = 10000 };
	static uint8_t l4[2000], l3[2100];
	uint8_t data[1000];
	memset(data, 'd', sizeof(data));
	for (int udp = 0; udp < 2; udp++) {
		kn_decoder *d = NULL;
		if (kn_decoder_new(&d, NULL) < 0)
			exit(1);
		size_t before = mallinfo2().uordblks;
		for (uint32_t i = 0; i < N; i++) {
			uint8_t c[4] = { 198, 51, 100, (uint8_t)(i % 250 + 1) }, s[4] = { 203, 0, 113, 1 };
			uint16_t cp = (uint16_t)(1024 + i / 250 * 50 + i % 50);
			struct {
				const uint8_t *src, *dst;
				uint16_t sp, dp;
				uint8_t flags;
				uint32_t seq;
				size_t len;
			} pk[] = {
				{ c, s, cp, 80, KN_TCP_SYN, 0, 0 },
				{ s, c, 80, cp, KN_TCP_SYN | KN_TCP_ACK, 0, 0 },
				{ c, s, cp, 80, KN_TCP_ACK, 1, 0 },
				{ c, s, cp, 80, KN_TCP_ACK | KN_TCP_PSH, 1, sizeof(data) },
				{ s, c, 80, cp, KN_TCP_ACK | KN_TCP_PSH, 1, sizeof(data) },
			};
			for (size_t k = udp ? 3 : 0; k < 5; k++) {
				size_t n = udp ? tb_udp(l4, 4, pk[k].src, pk[k].dst, pk[k].sp, pk[k].dp, data, 100) :
					tb_tcp(l4, 4, pk[k].src, pk[k].dst, pk[k].sp, pk[k].dp, pk[k].seq, 1,
					       pk[k].flags, data, pk[k].len);
				n = tb_ip4(l3, pk[k].src, pk[k].dst, udp ? 17 : 6, 1, 0, 0, l4, n);
				kn_decode(d, KN_LINK_RAW, 0, 0, l3, n, NULL, NULL);
			}
		}
		struct kn_decode_stats st;
		kn_decoder_stats(d, &st);
		size_t after = mallinfo2().uordblks;
		printf("memory per %s flow: %zu bytes from malloc (%llu flows; entry %zu bytes, "
		       "stream buffers %llu bytes per flow)\n",
		       udp ? "UDP" : "TCP (1 KB each way)", (after - before) / N,
		       (unsigned long long)st.flows_active, sizeof(struct kn_flow_entry),
		       (unsigned long long)(st.stream_bytes / (st.flows_active ? st.flows_active : 1)));
		kn_decoder_free(d);
	}
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	int passes = argc > 2 ? atoi(argv[2]) : 3;
	if (mb == 0 || passes <= 0) {
		fprintf(stderr, "usage: bench-ids [TRACE_MB] [PASSES]\n");
		return 2;
	}
	struct trace t = { 0 };
	build_trace(&t, mb << 20);
	printf("trace: %zu frames, %.1f MB, %.1f MB of transport payload, mean frame %zu bytes\n",
	       t.n, (double)t.len / 1e6, (double)t.payload_bytes / 1e6, t.len / t.n);
	struct run bare = { 0 };
	double best = 1e9;
	for (int p = 0; p < passes; p++) {
		double el = engine_pass(&t, &bare);
		best = el < best ? el : best;
	}
	printf("decoding alone (flows, reassembly, no rules): %.2f Gbit/s\n",
	       (double)t.len * 8 / best / 1e9);
	fflush(stdout);
	static const size_t counts[] = { 10, 1000, 10000 };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		measure(&t, counts[i], passes);
	flow_memory();
	free(t.buf);
	free(t.f);
	return 0;
}
