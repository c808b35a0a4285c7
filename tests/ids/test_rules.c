/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort rule language: what loads, what is refused and how the refusal
 * reads (source, line, column, keyword), unsupported keywords with and
 * without KN_LOAD_SKIP_UNSUPPORTED, variables, files.
 */
#include <errno.h>
#include <unistd.h>

#include "detect_util.h"

struct warns {
	size_t n;
	char last[512];
};

static void on_warn(void *userdata, const char *msg)
{
	struct warns *w = userdata;

	w->n++;
	snprintf(w->last, sizeof(w->last), "%s", msg);
}

/* Loads text expecting failure; checks line, column and that the message
 * names each of the words. */
static void expect_error(const char *text, int code, uint32_t line, const char *at,
			 const char *word1, const char *word2)
{
	uint32_t col = 0;
	const char *l = text;
	kn_ruleset *rs = NULL;
	soda_error *err = NULL;
	int r = kn_ruleset_load_text(&rs, "bad.rules", text, strlen(text), NULL, 0, NULL, NULL, &err);

	if (r >= 0)
		fail_msg("loaded, expected an error: %s", text);
	for (uint32_t k = 1; k < line; k++)
		l = strchr(l, '\n') + 1;
	if (at)
		col = (uint32_t)(strstr(l, at) - l + 1);
	assert_null(rs);
	assert_non_null(err);
	if (code)
		assert_int_equal(r, code);
	if (line != soda_error_line(err) || (at && col != soda_error_column(err)) ||
	    !strstr(soda_error_message(err), "bad.rules") ||
	    (word1 && !strstr(soda_error_message(err), word1)) ||
	    (word2 && !strstr(soda_error_message(err), word2)))
		fail_msg("for %s\n got %u:%u \"%s\"\n want %u:%u with '%s' '%s'", text,
			 soda_error_line(err), soda_error_column(err), soda_error_message(err), line,
			 col, word1 ? word1 : "", word2 ? word2 : "");
	assert_string_equal(soda_error_source(err), "bad.rules");
	soda_error_free(err);
}

static void test_loads(void **state)
{
	static const char text[] =
		"# a comment\n"
		"\n"
		"   # an indented comment\n"
		"alert tcp any any -> any any (msg:\"one\"; content:\"a\"; sid:1; rev:2;)\n"
		"ALERT UDP any any -> any any (msg:\"two\"; sid:2;)\r\n"
		"drop icmp any any <> any any (sid:3;)\n"
		"reject tcp [1.2.3.4, 5.6.7.0/24] [80, 8000:8100] -> !$HOME_NET :1023 (sid:4;)\n"
		"pass ip any any -> any any (sid:5; gid:3; priority:1; classtype:trojan-activity;)\n"
		"log icmpv6 any any -> any any (sid:6; \\\n"
		"   msg:\"continued\"; \\\n"
		"   reference:url,example.com/a\\;b; metadata: policy balanced; )\n"
		"alert tcp any any -> any any (sid:7; content:\"x\"; fast_pattern; nocase; depth:4; offset:1; "
		"content:\"y\"; distance:-1; within:4; pcre:\"/z/Ri\"; isdataat:!2,relative; "
		"byte_test:1,>,3,0,relative,little; byte_jump:2,0,relative,align,post_offset 2; "
		"dsize:<100; flow:established,to_server; flowbits:set,a; ttl:>1; flags:AP+,U; "
		"window:>10; ack:1; seq:2; id:3; sameip; ip_proto:6; target:dest_ip; "
		"threshold: type both, track by_dst, count 2, seconds 5;)\n"
		"alert tcp any any -> any any (sid:8)\n"
		"alert tcp any any -> any any (Content:\"a\"; NOCASE; SID:9;)\n";
	kn_ruleset *rs = load_rules(text, NULL);

	assert_int_equal(kn_ruleset_count(rs), 9);
	kn_ruleset_free(rs);
	/* an empty text is an empty ruleset */
	rs = load_rules("", NULL);
	assert_int_equal(kn_ruleset_count(rs), 0);
	kn_ruleset_free(rs);
}

static void test_header_errors(void **state)
{
	expect_error("alrt tcp any any -> any any (sid:1;)", -EINVAL, 1, "alrt", "alrt", NULL);
	expect_error("alert tcp any any => any any (sid:1;)", -EINVAL, 1, "=>", "direction", NULL);
	expect_error("\n\nalert tcp 1.2.3.400 any -> any any (sid:1;)", -EINVAL, 3, "1.2.3.400",
		     "source address", "1.2.3.400");
	expect_error("alert tcp any 70000 -> any any (sid:1;)", -EINVAL, 1, "70000", "source port", "70000");
	expect_error("alert tcp any any -> any 90:80 (sid:1;)", -EINVAL, 1, "90:80", "destination port", NULL);
	expect_error("alert tcp any any -> $NOPE any (sid:1;)", -EINVAL, 1, "$NOPE", "undefined variable",
		     "NOPE");
	expect_error("alert tcp [1.2.3.4 any -> any any (sid:1;)", -EINVAL, 1, NULL, "missing", NULL);
	expect_error("alert tcp !any any -> any any (sid:1;)", -EINVAL, 1, "!any", "!any", NULL);
	expect_error("alert tcp 1.2.3.4/33 any -> any any (sid:1;)", -EINVAL, 1, "1.2.3.4", "prefix", NULL);
	expect_error("alert tcp any any -> any any sid:1;", -EINVAL, 1, NULL, NULL, NULL);
	expect_error("alert tcp any any -> any any (sid:1;", -EINVAL, 1, NULL, "not closed", NULL);
	expect_error("alert tcp any any", -EINVAL, 1, NULL, "missing", NULL);
}

static void test_option_errors(void **state)
{
	/* the column is the keyword's; continuation lines keep their own numbers */
	expect_error("# c\nalert tcp any any -> any any (content:\"x\"; depth:abc; sid:1;)", -EINVAL, 2,
		     "depth", "'depth'", "abc");
	expect_error("alert tcp any any -> any any (sid:1; \\\n  content:\"a\"; \\\n    within:0;)",
		     -EINVAL, 3, "within", "'within'", NULL);
	expect_error("alert tcp any any -> any any (nocase; content:\"a\"; sid:1;)", -EINVAL, 1,
		     "nocase", "'nocase'", "no content");
	expect_error("alert tcp any any -> any any (content:\"abc\"; depth:2; sid:1;)", -EINVAL, 1,
		     "depth", "'depth'", "smaller");
	expect_error("alert tcp any any -> any any (content:\"a\"; offset:1; distance:1; sid:1;)",
		     -EINVAL, 1, "distance", "'distance'", "absolute");
	expect_error("alert tcp any any -> any any (content:\"a|4|\"; sid:1;)", -EINVAL, 1, "content",
		     "'content'", "hex");
	expect_error("alert tcp any any -> any any (content:\"a|41\"; sid:1;)", -EINVAL, 1, "content",
		     "'content'", "not closed");
	expect_error("alert tcp any any -> any any (content:\"a\\qb\"; sid:1;)", -EINVAL, 1, "content",
		     "'content'", "escape");
	/* an unescaped ';' ends the option, as in Suricata */
	expect_error("alert tcp any any -> any any (content:\";\"; sid:1;)", -EINVAL, 1, "content",
		     "'content'", "unterminated");
	expect_error("alert tcp any any -> any any (content:\"\"; sid:1;)", -EINVAL, 1, "content",
		     "'content'", "empty");
	expect_error("alert tcp any any -> any any (pcre:\"/a(/\"; sid:1;)", -EINVAL, 1, "pcre",
		     "'pcre'", NULL);
	expect_error("alert tcp any any -> any any (pcre:\"/a/q\"; sid:1;)", -EINVAL, 1, "pcre",
		     "'pcre'", "flag 'q'");
	expect_error("alert tcp any any -> any any (byte_test:2,~,1,0; sid:1;)", -EINVAL, 1, "byte_test",
		     "'byte_test'", "operator");
	expect_error("alert tcp any any -> any any (byte_test:9,=,1,0; sid:1;)", -EINVAL, 1, "byte_test",
		     "'byte_test'", "9 bytes");
	expect_error("alert tcp any any -> any any (byte_jump:2,0,jump; sid:1;)", -EINVAL, 1, "byte_jump",
		     "'byte_jump'", "jump");
	expect_error("alert tcp any any -> any any (byte_jump:2,x; sid:1;)", -EINVAL, 1, "byte_jump",
		     "'byte_jump'", "byte_extract");
	expect_error("alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:nope; sid:1;)",
		     -EINVAL, 1, "distance", "'distance'", "'nope'");
	expect_error("alert tcp any any -> any any (byte_extract:1,0,v; byte_extract:1,1,v; sid:1;)",
		     -EINVAL, 1, "byte_extract:1,1", "'byte_extract'", "twice");
	expect_error("alert tcp any any -> any any (byte_extract:1,0,v,align 3; sid:1;)",
		     -EINVAL, 1, "byte_extract", "'byte_extract'", "align");
	expect_error("alert tcp any any -> any any (dsize:6<>2; sid:1;)", -EINVAL, 1, "dsize",
		     "'dsize'", "range");
	/* an empty value (found by fuzz-ids-rules: read past the end) */
	expect_error("alert icmp any any -> any any (itype:; sid:1;)", -EINVAL, 1, "itype",
		     "'itype'", NULL);
	expect_error("alert tcp any any -> any any (flow:to_server,to_client; sid:1;)", -EINVAL, 1,
		     "flow", "'flow'", NULL);
	expect_error("alert tcp any any -> any any (flowbits:set,a|b; sid:1;)", -EINVAL, 1, "flowbits",
		     "'flowbits'", NULL);
	expect_error("alert tcp any any -> any any (flowbits:isset; sid:1;)", -EINVAL, 1, "flowbits",
		     "'flowbits'", "name");
	expect_error("alert tcp any any -> any any (flags:SX; sid:1;)", -EINVAL, 1, "flags",
		     "'flags'", "'X'");
	expect_error("alert tcp any any -> any any (threshold: type limit, count 1; sid:1;)", -EINVAL,
		     1, "threshold", "'threshold'", NULL);
	expect_error("alert tcp any any -> any any (threshold: type x, track by_src, count 1, seconds 1; "
		     "sid:1;)", -EINVAL, 1, "threshold", "'threshold'", "type 'x'");
	expect_error("alert tcp any any -> any any (detection_filter: track by_src, count 1, seconds 1; "
		     "threshold: type limit, track by_src, count 1, seconds 1; sid:1;)", -EINVAL, 1,
		     "threshold", "'threshold'", "combined");
	expect_error("alert tcp any any -> any any (classtype:nonesuch; sid:1;)", -EINVAL, 1,
		     "classtype", "'classtype'", "nonesuch");
	expect_error("alert tcp any any -> any any (msg:\"x\";)", -EINVAL, 1, "alert", "no sid", NULL);
	expect_error("alert tcp any any -> any any (sid:0;)", -EINVAL, 1, "sid", "'sid'", NULL);
	expect_error("alert tcp any any -> any any (sid:1; nocase:1; content:\"a\";)", -EINVAL, 1,
		     "nocase", "'nocase'", NULL);
	expect_error("alert tcp any any -> any any (sid:1; ; msg:\"a\";)", -EINVAL, 1, "; msg", "empty",
		     NULL);
	expect_error("alert tcp any any -> any any (sid:1 msg:\"a\";)", -EINVAL, 1, "sid", "not a number",
		     NULL);
	expect_error("alert tcp any any -> any any (content:\"a\"; fast_pattern; content:\"b\"; "
		     "fast_pattern; sid:1;)", -EINVAL, 1, "fast_pattern; sid", "'fast_pattern'", "only one");
	expect_error("alert tcp any any -> any any (content:\"ab\"; fast_pattern:1,2; sid:1;)", -EINVAL,
		     1, "fast_pattern", "'fast_pattern'", "past");
}

static void test_unsupported(void **state)
{
	static const char text[] =
		"alert tcp any any -> any any (content:\"a\"; sid:1;)\n"
		"alert http any any -> any any (msg:\"app layer\"; sid:2;)\n"
		"alert tcp any any -> any any (msg:\"x\"; http_uri; content:\"b\"; sid:3;)\n"
		"alert tcp any any -> any any (content:\"c\"; sid:4;)\n"
		"alert tcp any any -> any any (pcre:\"/x/U\"; sid:5;)\n"
		"alert tcp any any -> any any (byte_test:2,=,1,0,dce; sid:6;)\n";
	kn_ruleset *rs = NULL;
	soda_error *err = NULL;
	struct warns w = { 0 };

	/* refused by name, with its sid and where */
	assert_int_equal(kn_ruleset_load_text(&rs, "bad.rules", text, strlen(text), NULL, 0, on_warn,
					      &w, &err), -EOPNOTSUPP);
	assert_null(rs);
	assert_non_null(strstr(soda_error_message(err), "protocol 'http'"));
	assert_non_null(strstr(soda_error_message(err), "sid 2"));
	assert_int_equal(soda_error_line(err), 2);
	assert_int_equal(soda_error_column(err), 7);
	soda_error_free(err);
	err = NULL;
	expect_error("alert tcp any any -> any any (msg:\"x\"; http_uri; content:\"b\"; sid:3;)",
		     -EOPNOTSUPP, 1, "http_uri", "'http_uri'", "sid 3");
	/* skipped with a warning naming each sid */
	assert_int_equal(kn_ruleset_load_text(&rs, "bad.rules", text, strlen(text), NULL,
					      KN_LOAD_SKIP_UNSUPPORTED, on_warn, &w, &err), 0);
	assert_null(err);
	assert_int_equal(kn_ruleset_count(rs), 2);
	assert_int_equal(w.n, 4);
	assert_non_null(strstr(w.last, "sid 6"));
	assert_non_null(strstr(w.last, "dce"));
	kn_ruleset_free(rs);
	/* an undefined variable: an error, or a skipped rule */
	expect_error("alert tcp any any -> $SIP_SERVERS $SIP_PORTS (sid:11;)", -EINVAL, 1, "$SIP_SERVERS",
		     "undefined variable", "SIP_SERVERS");
	w.n = 0;
	assert_int_equal(kn_ruleset_load_text(&rs, "bad.rules",
					      "alert tcp any any -> any $SIP_PORTS (sid:11;)\n"
					      "alert tcp any any -> any any (sid:12;)\n", 84, NULL,
					      KN_LOAD_SKIP_UNSUPPORTED, on_warn, &w, NULL), 0);
	assert_int_equal(kn_ruleset_count(rs), 1);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.last, "sid 11"));
	assert_non_null(strstr(w.last, "$SIP_PORTS"));
	kn_ruleset_free(rs);
	/* a real error is still an error when skipping */
	assert_true(kn_ruleset_load_text(&rs, "bad.rules", "alert tcp any any -> any any (depth:1; sid:1;)",
					 47, NULL, KN_LOAD_SKIP_UNSUPPORTED, on_warn, &w, NULL) < 0);
	/* unknown flags */
	assert_int_equal(kn_ruleset_load_text(&rs, "x", "", 0, NULL, 0x80, NULL, NULL, NULL), -EINVAL);
}

/* Rules in the style of public rule feeds (written for this test): what a
 * real file mixes, and which of it this engine takes. */
static void test_feed_style(void **state)
{
	static const char text[] =
		"#alert tcp any any -> any any (msg:\"disabled\"; sid:100;)\n"
		"alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:\"FEED POLICY outbound "
		"request with an odd agent\"; flow:established,to_server; content:\"User-Agent|3a 20|"
		"Mozilla/4.0|0d 0a|\"; nocase; fast_pattern; content:!\"Referer|3a|\"; "
		"reference:url,example.org/x; classtype:policy-violation; sid:2000001; rev:3; "
		"metadata:created_at 2020_01_01, updated_at 2024_05_06;)\n"
		"alert http $HOME_NET any -> $EXTERNAL_NET any (msg:\"FEED app layer\"; "
		"flow:established,to_server; http.method; content:\"POST\"; sid:2000002; rev:1;)\n"
		"alert tcp $EXTERNAL_NET any -> $HOME_NET 445 (msg:\"FEED smb-ish\"; "
		"flow:established,to_server; content:\"|ff|SMB|72 00 00 00 00|\"; offset:4; depth:9; "
		"byte_test:1,&,128,6,relative; byte_jump:2,7,relative,little; "
		"content:\"|00 02|\"; within:2; distance:0; threshold:type limit, track by_src, "
		"count 1, seconds 120; classtype:attempted-admin; sid:2000003; rev:2;)\n"
		"alert udp $HOME_NET any -> any 53 (msg:\"FEED dns long label\"; content:\"|01 00 00 01|\"; "
		"offset:2; depth:4; isdataat:200,relative; pcre:\"/[a-z0-9]{60,}/i\"; "
		"classtype:bad-unknown; sid:2000004; rev:1;)\n"
		"alert tcp any any -> $HOME_NET 22 (msg:\"FEED ssh scan\"; flow:to_server; flags:S,12; "
		"detection_filter:track by_src, count 5, seconds 60; classtype:attempted-recon; "
		"sid:2000005; rev:1;)\n"
		"alert tcp $HOME_NET any -> any any (msg:\"FEED login seen\"; flow:established,to_server; "
		"content:\"LOGIN \"; depth:6; flowbits:set,feed.login; flowbits:noalert; sid:2000006; rev:1;)\n"
		"alert tcp any any -> $HOME_NET any (msg:\"FEED reply after login\"; "
		"flow:established,to_client; flowbits:isset,feed.login; content:\"OK\"; startswith; "
		"sid:2000007; rev:1;)\n"
		"alert icmp $EXTERNAL_NET any -> $HOME_NET any (msg:\"FEED large ping\"; itype:8; "
		"dsize:>800; classtype:icmp-event; sid:2000008; rev:1;)\n"
		"alert tcp any any -> any $HTTP_PORTS (msg:\"FEED uri\"; content:\"/cgi-bin/\"; http_uri; "
		"sid:2000009; rev:1;)\n"
		"alert tls any any -> any any (msg:\"FEED sni\"; tls.sni; content:\"bad.example\"; "
		"sid:2000010; rev:1;)\n"
		"drop tcp any any -> $HOME_NET [139,445] (msg:\"FEED multi-line\"; \\\n"
		"    flow:established,to_server; \\\n"
		"    content:\"|00|\"; depth:1; sid:2000011; rev:1;)\n";
	kn_ruleset *rs = NULL;
	struct warns w = { 0 };
	soda_error *err = NULL;

	assert_int_equal(kn_ruleset_load_text(&rs, "feed.rules", text, sizeof(text) - 1, NULL,
					      KN_LOAD_SKIP_UNSUPPORTED, on_warn, &w, &err), 0);
	assert_null(err);
	assert_int_equal(kn_ruleset_count(rs), 8);
	assert_int_equal(w.n, 3);
	assert_non_null(strstr(w.last, "sid 2000010"));
	kn_ruleset_free(rs);
	/* without the flag the first of them stops the load, by name */
	assert_int_equal(kn_ruleset_load_text(&rs, "feed.rules", text, sizeof(text) - 1, NULL, 0,
					      NULL, NULL, &err), -EOPNOTSUPP);
	assert_non_null(strstr(soda_error_message(err), "protocol 'http'"));
	assert_int_equal(soda_error_line(err), 3);
	soda_error_free(err);
}

/* Shapes from real rule files: each loads, or is skipped by sid. */
static void test_real_shapes(void **state)
{
	static const char text[] =
		"alert tcp any any -> any 80 (msg:\"m\"; flow:established,to_server; "
		"content:\"GET\"; http_method; sid:3000001; rev:1;)\n"
		"alert tcp any any -> any any (msg:\"x\"; content:\"abc\"; "
		"metadata:affected_product Any, attack_target Client_Endpoint, created_at 2024_01_01; "
		"reference:url,example.org/a; reference:cve,2024-0001; classtype:trojan-activity; "
		"sid:3000002; rev:2;)\n"
		"alert tcp any any -> any any (content:\"abc\"; content:!\"x\"; sid:3000003;)\n"
		"alert tcp any any -> any any (content:\"abc\"; pcre:\"/^de+f/Ri\"; sid:3000004;)\n"
		"alert tcp any any -> any any (content:\"abc\"; "
		"byte_test:4,>,1000,0,relative,little; sid:3000005;)\n"
		"alert tcp any any -> any any (dsize:>100; sid:3000006;)\n"
		"alert tcp any any -> any any (flags:S,12; sid:3000007;)\n"
		"alert tcp any any -> any any (content:\"abc\"; "
		"threshold: type both, track by_src, count 5, seconds 60; sid:3000008;)\n";
	kn_ruleset *rs = NULL;
	struct warns w = { 0 };
	soda_error *err = NULL;

	assert_int_equal(kn_ruleset_load_text(&rs, "real.rules", text, sizeof(text) - 1, NULL,
					      KN_LOAD_SKIP_UNSUPPORTED, on_warn, &w, &err), 0);
	assert_null(err);
	assert_int_equal(kn_ruleset_count(rs), 7);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.last, "sid 3000001"));
	assert_non_null(strstr(w.last, "http_method"));
	kn_ruleset_free(rs);
}

static void test_limits(void **state)
{
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof(text), "alert tcp any any -> any any (");

	for (int i = 0; i < 129; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "content:\"a\"; ");
	snprintf(text + n, sizeof(text) - n, "sid:1;)");
	expect_error(text, -EINVAL, 1, NULL, "more than 128", NULL);
}

static void test_duplicates(void **state)
{
	static const char text[] =
		"alert tcp any any -> any any (msg:\"old\"; sid:1; rev:1;)\n"
		"alert tcp any any -> any any (msg:\"new\"; sid:1; rev:2;)\n"
		"alert tcp any any -> any any (msg:\"other gid\"; sid:1; gid:2;)\n";
	kn_ruleset *rs = NULL;
	struct warns w = { 0 };
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2, "", 0);
	struct sink s = { 0 };

	assert_int_equal(kn_ruleset_load_text(&rs, "dup.rules", text, strlen(text), NULL, 0, on_warn,
					      &w, NULL), 0);
	assert_int_equal(kn_ruleset_count(rs), 2);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.last, "duplicate sid 1:1"));
	run_pkt(rs, &p, &s);
	assert_int_equal(s.n, 2);
	assert_true(strstr(s.eve, "\"new\"") || s.last.gid == 2);
	free(s.eve);
	kn_ruleset_free(rs);
}

static void test_vars(void **state)
{
	kn_vars *v;
	soda_error *err = NULL;
	char path[] = "/tmp/kn-vars-XXXXXX";
	int fd = mkstemp(path);
	static const char yaml[] =
		"vars:\n"
		"  address-groups:\n"
		"    HOME_NET: \"[198.51.100.0/24]\"  # ours\n"
		"    SMTP_SERVERS: 203.0.113.9 # trailing comment\n"
		"    # a comment\n"
		"  port-groups:\n"
		"    HTTP_PORTS: 8080\n"
		"MY_NET 203.0.113.0/24\n";
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 8080, "", 0);
	struct sink s = { 0 };
	kn_ruleset *rs;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, sizeof(yaml) - 1), (ssize_t)sizeof(yaml) - 1);
	close(fd);
	assert_int_equal(kn_vars_new(&v), 0);
	assert_int_equal(kn_vars_load(v, path, &err), 0);
	unlink(path);
	rs = load_rules("alert tcp $HOME_NET any -> [$MY_NET,$SMTP_SERVERS] $HTTP_PORTS (sid:1;)", v);
	run_pkt(rs, &p, &s);
	assert_int_equal(s.n, 1);
	free(s.eve);
	kn_ruleset_free(rs);
	/* bad names, loops */
	assert_int_equal(kn_vars_set(v, "BAD NAME", "1", &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "BAD NAME"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(kn_vars_set(v, "LOOP", "[$LOOP]", NULL), 0);
	assert_true(kn_ruleset_load_text(&rs, "v.rules", "alert tcp $LOOP any -> any any (sid:1;)", 39,
					 v, 0, NULL, NULL, &err) < 0);
	assert_non_null(strstr(soda_error_message(err), "LOOP"));
	soda_error_free(err);
	err = NULL;
	/* an address variable in a port position */
	assert_true(kn_ruleset_load_text(&rs, "v.rules", "alert tcp any $HOME_NET -> any any (sid:1;)",
					 43, v, 0, NULL, NULL, &err) < 0);
	assert_non_null(strstr(soda_error_message(err), "source port"));
	soda_error_free(err);
	assert_int_equal(kn_vars_load(v, "/nonexistent/vars", NULL), -ENOENT);
	kn_vars_free(v);
}

static void test_file(void **state)
{
	char path[] = "/tmp/kn-rules-XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "alert udp any any -> any any (sid:1;)\nalert udp any any -> any any (sid:1x;)\n";
	kn_ruleset *rs = NULL;
	soda_error *err = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(kn_ruleset_load_file(&rs, path, NULL, 0, NULL, NULL, &err), -EINVAL);
	assert_string_equal(soda_error_source(err), path);
	assert_int_equal(soda_error_line(err), 2);
	assert_int_equal(soda_error_column(err), 31);
	soda_error_free(err);
	unlink(path);
	err = NULL;
	assert_int_equal(kn_ruleset_load_file(&rs, path, NULL, 0, NULL, NULL, &err), -ENOENT);
	soda_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_feed_style),
		cmocka_unit_test(test_real_shapes),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_vars),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
