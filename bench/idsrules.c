/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-ids-rules: how long Kernort takes to load a generated file of
 * 10,000 rules (parse, variables, PCRE2 compile, Vectorscan prefilter),
 * against a baseline measured in the same run: the same rules with their
 * payload options taken out (header and meta only, no prefilter). Then
 * packets through a detector over the full set, against the same packets
 * through an empty ruleset.
 *
 *   bench-ids-rules [N]      (default 10000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libsoda/ids/detect.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: the machine may be shared, wall time is not ours alone */
static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void word(char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (char)('a' + rnd() % 26);
	out[n] = '\0';
}

/* Rule i, with payload options or without. */
static int gen(char *buf, size_t cap, int i, int full)
{
	static const char *const hdr[] = {
		"alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS",
		"alert tcp $HOME_NET any -> $EXTERNAL_NET [80,443,8000:8100]",
		"alert udp any any -> $HOME_NET 53",
		"alert tcp any [1024:,!3389] -> 10.0.0.0/8 any",
		"drop tcp !$HOME_NET any <> $HOME_NET 445",
	};
	char w1[16], w2[16], w3[16];
	int n;

	word(w1, 6 + rnd() % 8);
	word(w2, 4 + rnd() % 6);
	word(w3, 3 + rnd() % 4);
	n = snprintf(buf, cap, "%s (msg:\"bench rule %d %s\"; flow:established,to_server; ",
		     hdr[i % 5], i, w1);
	if (full) {
		switch (i % 10) {
		case 0:
			n += snprintf(buf + n, cap - n, "content:\"%s\"; nocase; pcre:\"/%s[0-9]{2,}/Ri\"; ",
				      w1, w3);
			break;
		case 1:
			n += snprintf(buf + n, cap - n, "content:\"|%02x %02x|%s\"; depth:20; "
				      "byte_test:1,>,3,0,relative; ", rnd() & 0xff, rnd() & 0xff, w1);
			break;
		case 2:
			n += snprintf(buf + n, cap - n, "content:\"%s\"; flowbits:set,fb%d; "
				      "flowbits:noalert; ", w1, i);
			break;
		default:
			n += snprintf(buf + n, cap - n, "content:\"%s\"; offset:%d; content:\"%s\"; "
				      "distance:0; within:64; ", w1, (int)(rnd() % 8), w2);
		}
	}
	n += snprintf(buf + n, cap - n, "classtype:trojan-activity; sid:%d; rev:1;)\n", 1000000 + i);
	return n;
}

static char *gen_file(int count, int full, size_t *len)
{
	size_t cap = (size_t)count * 400, n = 0;
	char *text = malloc(cap);

	rnd_state = 12345;
	for (int i = 0; i < count; i++)
		n += (size_t)gen(text + n, cap - n, i, full);
	*len = n;
	return text;
}

static double load_cpu;

static double load(const char *text, size_t len, kn_ruleset **ret)
{
	soda_error *err = NULL;
	double t0 = now(), c0 = cpu();

	if (kn_ruleset_load_text(ret, "bench.rules", text, len, NULL, 0, NULL, NULL, &err) < 0) {
		fprintf(stderr, "bench-ids-rules: %s\n", soda_error_message(err));
		exit(1);
	}
	load_cpu = cpu() - c0;
	return now() - t0;
}

static void count_alert(void *userdata, const struct kn_alert *a, const struct kn_packet *p)
{
	(*(size_t *)userdata)++;
}

static double run_packets(const kn_ruleset *rs, int npkts, size_t *alerts)
{
	static uint8_t payload[1400];
	struct kn_flow flow = { .id = 1 };
	kn_detector *d;
	double t0;

	if (kn_detector_new(&d, rs, NULL) < 0)
		exit(1);
	rnd_state = 999;
	t0 = cpu();
	for (int i = 0; i < npkts; i++) {
		struct kn_packet p = { 0 };

		for (size_t k = 0; k < sizeof(payload); k++)
			payload[k] = (uint8_t)('a' + rnd() % 26);
		p.family = 4;
		memcpy(p.src, "\xc6\x33\x64\x01", 4);
		memcpy(p.dst, "\x0a\x00\x00\x02", 4);
		p.ip_proto = 6;
		p.sport = 40000;
		p.dport = 80;
		p.payload = payload;
		p.payload_len = sizeof(payload);
		p.flow = &flow;
		p.to_server = p.established = true;
		p.ts_usec = (uint64_t)i * 1000;
		kn_detect(d, &p, count_alert, alerts);
	}
	t0 = cpu() - t0;
	kn_detect_flow_free(flow.detect_state);
	kn_detector_free(d);
	return t0;
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 10000, npkts = 20000;
	size_t len_full, len_base, alerts = 0, alerts0 = 0;
	char *full = gen_file(count, 1, &len_full), *base = gen_file(count, 0, &len_base);
	kn_ruleset *rs_full, *rs_base, *rs_empty;
	double t_full, t_base, c_full, c_base, p_full, p_empty;

	t_base = load(base, len_base, &rs_base);
	c_base = load_cpu;
	t_full = load(full, len_full, &rs_full);
	c_full = load_cpu;
	printf("rules: %d (%zu KiB of text)\n", count, len_full / 1024);
	printf("load, full rules:            %8.3f s wall, %.3f s CPU (%.1f us/rule)\n", t_full,
	       c_full, c_full * 1e6 / count);
	printf("load, header and meta only:  %8.3f s wall, %.3f s CPU (baseline)\n", t_base, c_base);
	printf("ratio full/baseline (CPU):   %8.2f\n", c_full / c_base);
	rs_empty = NULL;
	load("", 0, &rs_empty);
	p_empty = run_packets(rs_empty, npkts, &alerts0);
	p_full = run_packets(rs_full, npkts, &alerts);
	printf("packets: %d x 1400 B random text\n", npkts);
	printf("detect, %d rules:        %8.3f s CPU (%.0f packets/s, %.0f MB/s, %zu alerts)\n", count,
	       p_full, npkts / p_full, npkts * 1400.0 / p_full / 1e6, alerts);
	printf("detect, empty ruleset:       %8.3f s CPU (baseline: packet generation and the call)\n",
	       p_empty);
	printf("ratio full/baseline:         %8.2f\n", p_full / p_empty);
	kn_ruleset_free(rs_full);
	kn_ruleset_free(rs_base);
	kn_ruleset_free(rs_empty);
	free(full);
	free(base);
	return 0;
}
