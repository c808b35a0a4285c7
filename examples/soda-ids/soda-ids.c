/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-ids: Kernort, the signature IDS engine, over a capture.
 *
 *   soda-ids --rules FILE [--vars FILE] --pcap FILE --eve FILE
 *            [--skip-unsupported] [--validate-checksums] [--midstream]
 *            [--stats] [--rule-counts]
 *   soda-ids --check FILE [--vars FILE] [--skip-unsupported]
 *
 * Reads pcap and pcapng files (libpcap), decodes every frame (decode.h),
 * runs the rules on each packet (detect.h) and writes one EVE JSON line
 * per alert to --eve ("-": standard output). pcap_cnt is the frame's
 * number in the capture, from 1.
 *
 * Exit codes: 0 done (alerts or not; --check: the rules are sound);
 * 1 the work could not be done (a rule file that does not load, a capture
 * that does not open or breaks off, an unwritable EVE file); 2 bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include <soda/common.h>

#include "decode.h"
#include "detect.h"
#include "../common/cli.h"

#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static void print_error(const char *what, soda_error *e)
{
	if (!e) {
		fprintf(stderr, "soda-ids: %s\n", what);
		return;
	}
	const char *src = soda_error_source(e);
	const char *msg = soda_error_message(e);
	char at[512];
	if (src && soda_error_line(e)) {
		snprintf(at, sizeof(at), "%s:%" PRIu32 ":", src, soda_error_line(e));
		/* The message may already say where (FILE:LINE:COLUMN: ...). */
		if (!strncmp(msg, at, strlen(at)))
			fprintf(stderr, "%s\n", msg);
		else
			fprintf(stderr, "%s:%" PRIu32 ":%" PRIu32 ": %s\n", src, soda_error_line(e),
				soda_error_column(e), msg);
	} else
		fprintf(stderr, "soda-ids: %s: %s\n", what, soda_error_message(e));
	soda_error_free(e);
}

static void on_warn(void *userdata, const char *message)
{
	fprintf(stderr, "soda-ids: warning: %s\n", message);
}

struct run {
	kn_detector *det;
	FILE *eve;
	uint64_t alerts;
	int error;
};

static void on_alert(void *userdata, const struct kn_alert *alert, const struct kn_packet *p)
{
	struct run *r = userdata;
	char *line = NULL;
	int e = kn_eve_alert(&line, alert, p);
	if (e < 0) {
		r->error = e;
		return;
	}
	if (fprintf(r->eve, "%s\n", line) < 0)
		r->error = -errno;
	free(line);
	r->alerts++;
}

static void on_packet(void *userdata, struct kn_packet *p)
{
	struct run *r = userdata;
	int e = kn_detect(r->det, p, on_alert, r);
	if (e < 0 && !r->error)
		r->error = e;
}

static void on_count(void *userdata, uint32_t gid, uint32_t sid, uint64_t count)
{
	fprintf(stderr, "  rule %" PRIu32 ":%" PRIu32 "  %" PRIu64 "\n", gid, sid, count);
}

static int load_rules(kn_ruleset **ret, const char *rules, const char *vars_path,
		      unsigned int flags)
{
	kn_vars *vars = NULL;
	soda_error *e = NULL;
	int r = kn_vars_new(&vars);
	if (r < 0) {
		print_error("variables", NULL);
		return r;
	}
	if (vars_path && (r = kn_vars_load(vars, vars_path, &e)) < 0) {
		print_error(vars_path, e);
		kn_vars_free(vars);
		return r;
	}
	r = kn_ruleset_load_file(ret, rules, vars, flags, on_warn, NULL, &e);
	kn_vars_free(vars);
	if (r < 0)
		print_error(rules, e);
	return r;
}

static int check_cmd(struct cli_call *c)
{
	const char *path = c->argc ? c->argv[0] : cli_get(c, "check");
	unsigned int flags = cli_has(c, "skip-unsupported") ? KN_LOAD_SKIP_UNSUPPORTED : 0;
	kn_ruleset *rs = NULL;

	if (load_rules(&rs, path, cli_get(c, "vars"), flags) < 0)
		return EXIT_RUNTIME;
	printf("%s: %zu rules\n", path, kn_ruleset_count(rs));
	kn_ruleset_free(rs);
	return EXIT_OK;
}

static int scan_cmd(struct cli_call *c)
{
	const char *rules = cli_get(c, "rules"), *vars = cli_get(c, "vars");
	const char *pcap_path = cli_get(c, "pcap"), *eve_path = cli_get(c, "eve");
	bool stats = cli_has(c, "stats"), counts = cli_has(c, "rule-counts");
	unsigned int flags = cli_has(c, "skip-unsupported") ? KN_LOAD_SKIP_UNSUPPORTED : 0;
	struct kn_decode_config cfg;

	kn_decode_config_init(&cfg);
	cfg.validate_checksums = cli_has(c, "validate-checksums");
	cfg.midstream = cli_has(c, "midstream");
	if (cli_has(c, "check")) {
		if (rules || pcap_path || eve_path)
			return cli_usage_error(c, "--check takes no --rules, --pcap or --eve");
		return check_cmd(c);
	}
	if (!rules || !pcap_path || !eve_path)
		return cli_usage_error(c, "--rules, --pcap and --eve are needed (or check FILE)");

	int status = EXIT_RUNTIME;
	kn_ruleset *rs = NULL;
	kn_decoder *dec = NULL;
	pcap_t *pc = NULL;
	struct run run = { 0 };
	soda_error *e = NULL;
	char errbuf[PCAP_ERRBUF_SIZE] = "";

	if (load_rules(&rs, rules, vars, flags) < 0)
		goto out;
	if (kn_detector_new(&run.det, rs, &e) < 0) {
		print_error("detector", e);
		goto out;
	}
	cfg.flow_state_free = kn_detect_flow_free;
	if (kn_decoder_new(&dec, &cfg) < 0) {
		fprintf(stderr, "soda-ids: decoder: %s\n", strerror(ENOMEM));
		goto out;
	}
	pc = pcap_open_offline(pcap_path, errbuf);
	if (!pc) {
		fprintf(stderr, "soda-ids: %s: %s\n", pcap_path, errbuf);
		goto out;
	}
	int link = kn_link_from_dlt(pcap_datalink(pc));
	if (link < 0) {
		fprintf(stderr, "soda-ids: %s: link type %s (%d) not supported\n", pcap_path,
			pcap_datalink_val_to_name(pcap_datalink(pc)) ?: "?", pcap_datalink(pc));
		goto out;
	}
	if (!strcmp(eve_path, "-")) {
		run.eve = stdout;
	} else if (!(run.eve = fopen(eve_path, "we"))) {
		fprintf(stderr, "soda-ids: %s: %s\n", eve_path, strerror(errno));
		goto out;
	}

	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t cnt = 0;
	int r;
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		cnt++;
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		kn_decode(dec, (enum kn_link)link, ts, cnt, data, h->caplen, on_packet, &run);
		if (run.error) {
			fprintf(stderr, "soda-ids: packet %" PRIu64 ": %s\n", cnt, strerror(-run.error));
			goto out;
		}
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "soda-ids: %s: after packet %" PRIu64 ": %s\n", pcap_path, cnt,
			pcap_geterr(pc));
		goto out;
	}
	if (fflush(run.eve) != 0 || ferror(run.eve)) {
		fprintf(stderr, "soda-ids: %s: %s\n", eve_path, strerror(errno));
		goto out;
	}
	if (stats) {
		struct kn_decode_stats st;
		kn_decoder_stats(dec, &st);
		fprintf(stderr,
			"packets %" PRIu64 "  bytes %" PRIu64 "  flows %" PRIu64 "  alerts %" PRIu64 "\n"
			"decode errors %" PRIu64 "  not IP %" PRIu64 "  bad checksums %" PRIu64 "\n"
			"flow evictions %" PRIu64 "  flow timeouts %" PRIu64 "\n"
			"fragments %" PRIu64 "  reassembled %" PRIu64 "  overlapping %" PRIu64
			"  given up %" PRIu64 "\n"
			"tcp retransmissions %" PRIu64 "  overlaps %" PRIu64 "  out of order held %" PRIu64
			"  dropped %" PRIu64 "  gaps %" PRIu64 "  memcap drops %" PRIu64 "\n",
			st.packets, st.bytes, st.flows, run.alerts, st.decode_errors, st.not_ip,
			st.checksum_bad, st.flows_evicted, st.flows_timed_out, st.frag_fragments,
			st.frag_reassembled, st.frag_overlaps, st.frag_dropped, st.tcp_retransmits,
			st.tcp_overlaps, st.tcp_ooo_held, st.tcp_ooo_dropped, st.tcp_gaps,
			st.stream_memcap_drops);
	}
	if (counts) {
		fprintf(stderr, "rule matches:\n");
		kn_detector_counts(run.det, on_count, NULL);
	}
	status = EXIT_OK;
out:
	if (run.eve && run.eve != stdout && fclose(run.eve) != 0 && status == EXIT_OK) {
		fprintf(stderr, "soda-ids: %s: %s\n", eve_path, strerror(errno));
		status = EXIT_RUNTIME;
	}
	if (pc)
		pcap_close(pc);
	kn_decoder_free(dec); /* before the detector: it frees the flows' state */
	if (run.det)
		kn_detector_free(run.det);
	if (rs)
		kn_ruleset_free(rs);
	return status;
}

static const struct cli_option scan_options[] = {
	{ "rules", 0, "FILE", 0, "Suricata-style rules", 'f' },
	{ "vars", 0, "FILE", 0, "variables (NAME VALUE per line) over the defaults", 'f' },
	{ "pcap", 0, "FILE", 0, "a pcap or pcapng capture", 'f' },
	{ "eve", 0, "FILE", 0, "EVE JSON alerts, one per line (- for standard output)", 'f' },
	{ "skip-unsupported", 0, NULL, 0, "skip rules with keywords Kernort lacks (warns, naming the sid)", 0 },
	{ "validate-checksums", 0, NULL, 0, "packets with bad checksums stay out of flow state and streams", 0 },
	{ "midstream", 0, NULL, 0, "TCP flows picked up without a handshake may be established", 0 },
	{ "stats", 0, NULL, 0, "counters at the end (standard error)", 0 },
	{ "rule-counts", 0, NULL, 0, "matches per rule at the end (standard error)", 0 },
	{ "check", 0, "FILE", 0, "the same as the check command", 'f' },
	{ NULL },
};
static const struct cli_option check_options[] = {
	{ "vars", 0, "FILE", 0, "variables (NAME VALUE per line) over the defaults", 'f' },
	{ "skip-unsupported", 0, NULL, 0, "skip rules with keywords Kernort lacks (warns)", 0 },
	{ NULL },
};
static const struct cli_command commands[] = {
	{ "scan", "", 0, 0, scan_options, scan_cmd, NULL,
	  "run the rules over a capture (the default: soda-ids --rules R --pcap P --eve E)",
	  "Reads a pcap or pcapng capture, decodes every frame, runs the rules on each packet\n"
	  "and writes one EVE JSON line per alert; pcap_cnt is the frame's number from 1.",
	  CLI_DEFAULT, NULL },
	{ "check", "FILE", 1, 1, check_options, check_cmd, NULL,
	  "load a rule file and report the first error (FILE:LINE:COLUMN)", NULL, 0, "f" },
	{ NULL },
};

int main(int argc, char **argv)
{
	static const struct cli_tool tool = {
		.name = "soda-ids",
		.version = SODA_VERSION_STRING,
		.synopsis = "--rules FILE [--vars FILE] --pcap FILE --eve FILE [OPTIONS] | check FILE",
		.commands = commands,
		.footer = "See soda-ids(1) and docs/ids.md.\n",
	};

	return cli_main(&tool, argc, argv, NULL);
}
