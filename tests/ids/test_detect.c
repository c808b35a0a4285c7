/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort detection: each keyword's semantics on hand-built packets that
 * must and must not alert (Suricata's documented behaviour), the
 * prefilter, the stream buffer, flowbits, thresholds, pass, EVE.
 */
#include <errno.h>

#include "detect_util.h"

/* ---- content and its modifiers ---- */

static void test_content_basic(void **state)
{
	MATCH("content:\"evil\";", "an evil payload");
	NOMATCH("content:\"evil\";", "an EVIL payload");
	MATCH("content:\"|65 76|il\";", "an evil payload");
	MATCH("content:\"|6576 696c|\";", "an evil payload");
	MATCH("content:\"a\\;b\";", "xa;bx");
	MATCH("content:\"q\\\"q\";", "q\"q");
	MATCH("content:\"x\\\\y\";", "x\\y");
	NOMATCH("content:\"a\\;b\";", "a\\;b");
	MATCH("content:\"|00|\";", "a\0b");
	/* alert once per rule per packet */
	MATCH("content:\"xx\";", "xx xx xx");
}

static void test_nocase(void **state)
{
	MATCH("content:\"evil\"; nocase;", "an EvIl payload");
	NOMATCH("content:\"evil\"; nocase;", "an evl payload");
	/* nocase binds to the content before it only */
	NOMATCH("content:\"AB\"; content:\"cd\"; nocase;", "ab CD");
	MATCH("content:\"ab\"; content:\"cd\"; nocase;", "ab CD");
}

static void test_offset_depth(void **state)
{
	MATCH("content:\"cd\"; offset:2; depth:2;", "abcdef");
	NOMATCH("content:\"cd\"; offset:3;", "abcdef");
	NOMATCH("content:\"cd\"; depth:3;", "abcdef");
	MATCH("content:\"cd\"; depth:4;", "abcdef");
	/* depth counts from offset */
	MATCH("content:\"ef\"; offset:3; depth:3;", "abcdef");
	NOMATCH("content:\"ef\"; offset:1; depth:3;", "abcdef");
	MATCH("content:\"GET\"; startswith;", "GET / HTTP/1.0");
	NOMATCH("content:\"GET\"; startswith;", " GET / HTTP/1.0");
	MATCH("content:\".php\"; endswith;", "/index.php");
	NOMATCH("content:\".php\"; endswith;", "/index.php?x=1");
	/* endswith finds the last occurrence, not the first */
	MATCH("content:\"ab\"; endswith;", "ab-ab");
	MATCH("content:\"x\"; rawbytes;", "xyz");
}

static void test_distance_within(void **state)
{
	MATCH("content:\"abc\"; content:\"def\"; distance:2; within:3;", "abcXXdef");
	NOMATCH("content:\"abc\"; content:\"def\"; distance:3;", "abcXXdef");
	NOMATCH("content:\"abc\"; content:\"def\"; within:4;", "abcXXdef");
	MATCH("content:\"abc\"; content:\"def\"; within:5;", "abcXXdef");
	MATCH("content:\"abc\"; content:\"def\"; distance:0;", "abcXXdef");
	/* relative to the previous match: "def" before "abc" does not count */
	NOMATCH("content:\"abc\"; content:\"def\"; distance:0;", "defXXabc");
	/* negative distance reaches back before the cursor */
	MATCH("content:\"def\"; content:\"cd\"; distance:-4; within:2;", "abcdef");
	NOMATCH("content:\"def\"; content:\"cd\"; distance:-3; within:2;", "abcdef");
	MATCH("content:\"def\"; content:\"abc\"; distance:-6; within:3;", "abcdef");
}

static void test_backtracking(void **state)
{
	/* the first "a" is followed by X: the engine must try the second */
	MATCH("content:\"a\"; content:\"Y\"; distance:0; within:1;", "aXb aYb");
	NOMATCH("content:\"a\"; content:\"Z\"; distance:0; within:1;", "aXb aYb");
	/* three levels */
	MATCH("content:\"k=\"; content:\"1\"; distance:0; within:1; content:\"|3b|\"; distance:0; within:1;",
	      "k=2; k=1x k=1;");
	/* pcre R retried at the next content occurrence */
	MATCH("content:\"id=\"; pcre:\"/^[0-9]+&/R\";", "id=abc& id=42&");
	/* byte_test relative after a content, retried */
	MATCH("content:\"T\"; byte_test:1,=,0x42,0,relative;", "TA TB");
}

static void test_negation(void **state)
{
	MATCH("content:!\"evil\";", "a good payload");
	NOMATCH("content:!\"evil\";", "an evil payload");
	MATCH("content:\"GET\"; content:!\"admin\"; distance:0;", "GET /index");
	NOMATCH("content:\"GET\"; content:!\"admin\"; distance:0;", "GET /admin");
	/* the negated content's window: only after the first */
	MATCH("content:\"GET\"; content:!\"admin\"; distance:0;", "admin GET /index");
	MATCH("content:\"GET\"; content:!\"ad\"; distance:0; within:3;", "GET xxad");
}

static void test_fast_pattern(void **state)
{
	/* every content is still checked, whichever feeds the prefilter */
	NOMATCH("content:\"abc\"; content:\"longerpattern\"; fast_pattern;", "longerpattern");
	MATCH("content:\"abc\"; content:\"longerpattern\"; fast_pattern;", "abc longerpattern");
	MATCH("content:\"zzz\"; fast_pattern:only;", "..zzz..");
	NOMATCH("content:\"zzz\"; fast_pattern:only;", "..zz..");
	/* a chopped fast pattern: the whole content must still be there */
	NOMATCH("content:\"abcd\"; fast_pattern:1,2;", "xbcx");
	MATCH("content:\"abcd\"; fast_pattern:1,2;", "xabcdx");
	MATCH("content:\"AbCd\"; nocase; fast_pattern:1,2;", "xaBcDx");
	/* only negated contents: no fast pattern, always evaluated */
	MATCH("content:!\"abc\"; fast_pattern;", "xyz");
}

static void test_pcre(void **state)
{
	MATCH("pcre:\"/fo+bar/i\";", "xxFOOOBARxx");
	NOMATCH("pcre:\"/fo+bar/\";", "xxFOOOBARxx");
	MATCH("pcre:!\"/admin/\";", "user");
	NOMATCH("pcre:!\"/admin/\";", "admin");
	MATCH("content:\"user=\"; pcre:\"/^[a-z]+$/R\";", "user=abc");
	NOMATCH("content:\"user=\"; pcre:\"/^[a-z]+$/R\";", "user=ab1");
	/* without R the expression sees the whole buffer */
	NOMATCH("content:\"user=\"; pcre:\"/^[a-z]+$/\";", "user=abc");
	MATCH("pcre:\"/a.b/s\";", "a\nb");
	NOMATCH("pcre:\"/a.b/\";", "a\nb");
	MATCH("pcre:\"/^two/m\";", "one\ntwo");
	NOMATCH("pcre:\"/^two/\";", "one\ntwo");
	MATCH("pcre:\"/a b c/x\";", "abc");
	/* pcre moves the cursor: a relative content after it */
	MATCH("pcre:\"/k=[0-9]+/\"; content:\"|3b|\"; distance:0; within:1;", "k=12;");
	NOMATCH("pcre:\"/k=[0-9]+/\"; content:\"|3b|\"; distance:0; within:1;", "k=12 ;");
	MATCH("pcre:\"/a\\;b/\";", "a;b");
}

static void test_isdataat(void **state)
{
	MATCH("isdataat:7;", "abcdefgh");
	NOMATCH("isdataat:8;", "abcdefgh");
	MATCH("isdataat:7,relative;", "abcdefgh");
	MATCH("isdataat:8,relative;", "abcdefgh");
	NOMATCH("isdataat:9,relative;", "abcdefgh");
	MATCH("content:\"c\"; isdataat:4,relative;", "abcdefgh");
	MATCH("content:\"c\"; isdataat:5,relative;", "abcdefgh");
	NOMATCH("content:\"c\"; isdataat:6,relative;", "abcdefgh");
	MATCH("isdataat:!8;", "abcdefgh");
	NOMATCH("isdataat:!7;", "abcdefgh");
	MATCH("content:\"gh\"; isdataat:!1,relative;", "abcdefgh");
	NOMATCH("content:\"fg\"; isdataat:!1,relative;", "abcdefgh");
}

static void test_byte_test(void **state)
{
	MATCH("byte_test:2,=,1,0;", "\x00\x01\x00\x02");
	MATCH("byte_test:2,=,0x01,0;", "\x00\x01\x00\x02");
	MATCH("byte_test:2,>,1,2;", "\x00\x01\x00\x02");
	NOMATCH("byte_test:2,<,1,2;", "\x00\x01\x00\x02");
	NOMATCH("byte_test:2,!=,2,2;", "\x00\x01\x00\x02");
	MATCH("byte_test:2,!=,3,2;", "\x00\x01\x00\x02");
	MATCH("byte_test:2,<=,2,2;", "\x00\x01\x00\x02");
	MATCH("byte_test:2,>=,2,2;", "\x00\x01\x00\x02");
	MATCH("byte_test:2,=,256,0,little;", "\x00\x01\x00\x02");
	MATCH("byte_test:4,=,0x00010002,0,big;", "\x00\x01\x00\x02");
	NOMATCH("byte_test:4,=,0,2;", "\x00\x01\x00\x02");
	MATCH("content:\"|00 01|\"; byte_test:2,=,2,0,relative;", "\x00\x01\x00\x02");
	MATCH("content:\"len=\"; byte_test:4,=,1337,0,relative,string,dec;", "len=1337;");
	NOMATCH("content:\"len=\"; byte_test:4,>,1337,0,relative,string,dec;", "len=1337;");
	MATCH("byte_test:2,=,255,0,string,hex;", "ff");
	MATCH("byte_test:3,=,8,0,string,oct;", "010");
	/* string without a base is decimal */
	MATCH("byte_test:3,=,10,0,string;", "010");
	MATCH("byte_test:1,=,15,0,bitmask 0xf0;", "\xf0");
	MATCH("byte_test:1,&,0x10,0;", "\xf0");
	NOMATCH("byte_test:1,&,0x10,0;", "\x0f");
	MATCH("byte_test:1,^,0x10,0;", "\x0f");
	/* a negative offset relative to the cursor */
	MATCH("content:\"XY\"; byte_test:1,=,0x41,-3,relative;", "AXY");
}

static void test_byte_jump(void **state)
{
	/* 2 bytes at 0 say 3: jump from the end of the read bytes */
	MATCH("byte_jump:2,0; content:\"XYZ\"; distance:0; within:3;", "\x00\x03" "abcXYZ");
	NOMATCH("byte_jump:2,0; content:\"abc\"; distance:0; within:3;", "\x00\x03" "abcXYZ");
	MATCH("byte_jump:1,1,from_beginning; content:\"bcX\"; distance:0; within:3;",
	      "\x00\x03" "abcXYZ");
	MATCH("byte_jump:2,0,post_offset -1; content:\"cXY\"; distance:0; within:3;",
	      "\x00\x03" "abcXYZ");
	MATCH("byte_jump:1,0,multiplier 2; content:\"XYZ\"; distance:0; within:3;", "\x02" "abcdXYZ");
	MATCH("byte_jump:1,0,align; content:\"XYZ\"; distance:0; within:3;", "\x01" "abcdXYZ");
	NOMATCH("byte_jump:1,0; content:\"XYZ\"; distance:0; within:3;", "\x01" "abcdXYZ");
	MATCH("byte_jump:2,0,string,dec; content:\"ABC\"; distance:0; within:3;", "03xyzABC");
	MATCH("byte_jump:1,0,little; content:\"X\"; distance:0; within:1;", "\x01" "aX");
	/* landing on or past the end fails */
	NOMATCH("byte_jump:1,0;", "\x02" "ab");
	MATCH("byte_jump:1,0;", "\x01" "ab");
	MATCH("byte_jump:0,0,from_end,post_offset -3; content:\"XYZ\"; distance:0; within:3;",
	      "....XYZ");
	/* relative to a content */
	MATCH("content:\"L\"; byte_jump:1,0,relative; content:\"Q\"; distance:0; within:1;", "zL\x02" "abQ");
	NOMATCH("content:\"L\"; byte_jump:1,0,relative; content:\"Q\"; distance:0; within:1;", "zL\x01" "abQ");
	MATCH("byte_jump:1,0,bitmask 0x0f; content:\"Z\"; distance:0; within:1;", "\xf1" "aZ");
}

static void test_byte_extract(void **state)
{
	MATCH("byte_extract:2,0,len; content:\"XYZ\"; distance:len; within:3;", "\x00\x03" "abcXYZ");
	NOMATCH("byte_extract:2,0,len; content:\"XYZ\"; distance:len; within:3;", "\x00\x04" "abcXYZ");
	NOMATCH("byte_extract:2,0,len; content:\"XYZ\"; distance:len; within:3;", "\x00\x02" "abcXYZ");
	MATCH("byte_extract:1,0,a; byte_test:1,=,a,1;", "\x05\x05");
	NOMATCH("byte_extract:1,0,a; byte_test:1,=,a,1;", "\x05\x06");
	MATCH("byte_extract:1,0,n; isdataat:n,relative;", "\x03" "abc");
	NOMATCH("byte_extract:1,0,n; isdataat:n,relative;", "\x04" "abc");
	MATCH("byte_extract:1,0,d; content:\"ab\"; depth:d;", "\x03" "ab");
	NOMATCH("byte_extract:1,0,d; content:\"ab\"; depth:d;", "\x02" "ab");
	MATCH("content:\"len=\"; byte_extract:2,0,n,relative,string,dec; content:\"Z\"; distance:n; within:1;",
	      "len=03abcZ");
	NOMATCH("content:\"len=\"; byte_extract:2,0,n,relative,string,dec; content:\"Z\"; distance:n; within:1;",
		"len=02abcZ");
	MATCH("byte_extract:1,0,n,multiplier 2; content:\"Q\"; distance:n; within:1;", "\x02" "abcdQ");
	MATCH("byte_extract:1,0,n,align 4; content:\"Q\"; distance:n; within:1;", "\x01" "abcdQ");
	MATCH("byte_extract:2,0,n,little; byte_jump:1,n; content:\"Q\"; distance:0; within:1;",
	      "\x02\x00" "\x01" "aQ");
	/* retried with the content before it */
	MATCH("content:\"T\"; byte_extract:1,0,v,relative; byte_test:1,=,v,0,relative;", "TAB TCC");
}

/* The forms real rules use, with Suricata's meaning. */
static void test_real_shapes(void **state)
{
	/* relative and caseless: ^ is the cursor */
	MATCH("content:\"abc\"; pcre:\"/^de+f/Ri\";", "xxabcDEEF");
	NOMATCH("content:\"abc\"; pcre:\"/^de+f/Ri\";", "xxabcxDEEF");
	NOMATCH("content:\"abc\"; pcre:\"/^de+f/Ri\";", "DEEFabc");
	/* 4 bytes little-endian after the content: 1001 > 1000, 1000 not */
	MATCH("content:\"abc\"; byte_test:4,>,1000,0,relative,little;", "abc\xe9\x03\x00\x00");
	NOMATCH("content:\"abc\"; byte_test:4,>,1000,0,relative,little;", "abc\xe8\x03\x00\x00");
	NOMATCH("content:\"abc\"; byte_test:4,>,1000,0,relative,little;", "abc\xe9\x03\x00");
	/* negated content: anywhere in the buffer */
	MATCH("content:\"abc\"; content:!\"x\";", "abcdef");
	NOMATCH("content:\"abc\"; content:!\"x\";", "xabcdef");
	NOMATCH("content:\"abc\"; content:!\"x\";", "abcdefx");
}

static void test_dsize(void **state)
{
	MATCH("dsize:5;", "12345");
	NOMATCH("dsize:4;", "12345");
	NOMATCH("dsize:<5;", "12345");
	MATCH("dsize:<=5;", "12345");
	MATCH("dsize:>4;", "12345");
	MATCH("dsize:3<>6;", "12345");
	NOMATCH("dsize:5<>6;", "12345");
	MATCH("dsize:1-10;", "12345");
	NOMATCH("dsize:!5;", "12345");
	MATCH("dsize:!4;", "12345");
}

/* ---- the header ---- */

static bool hdr_match(const char *header, struct kn_packet *p, const kn_vars *vars)
{
	char rule[1024];
	kn_ruleset *rs;
	struct sink s = { 0 };

	snprintf(rule, sizeof(rule), "%s (msg:\"h\"; sid:1;)", header);
	rs = load_rules(rule, vars);
	run_pkt(rs, p, &s);
	kn_ruleset_free(rs);
	free(s.eve);
	return s.n == 1;
}

static void test_addresses(void **state)
{
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80, "x", 1);
	struct kn_packet p2 = mkpkt(KN_IPPROTO_TCP, "198.51.100.2", 40000, "203.0.113.2", 80, "x", 1);
	struct kn_packet p6 = mkpkt(KN_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8:1::2", 80, "x", 1);

	assert_true(hdr_match("alert tcp 198.51.100.0/24 any -> 203.0.113.2 80", &p, NULL));
	assert_false(hdr_match("alert tcp 198.51.101.0/24 any -> 203.0.113.2 80", &p, NULL));
	assert_true(hdr_match("alert tcp 198.51.100.0/255.255.255.0 any -> any any", &p, NULL));
	assert_true(hdr_match("alert tcp 198.51.100.0-198.51.100.1 any -> any any", &p, NULL));
	assert_false(hdr_match("alert tcp 198.51.100.0-198.51.100.1 any -> any any", &p2, NULL));
	assert_false(hdr_match("alert tcp [198.51.100.0/24,!198.51.100.1] any -> any any", &p, NULL));
	assert_true(hdr_match("alert tcp [198.51.100.0/24,!198.51.100.1] any -> any any", &p2, NULL));
	assert_false(hdr_match("alert tcp !198.51.100.1 any -> any any", &p, NULL));
	assert_true(hdr_match("alert tcp !198.51.100.1 any -> any any", &p2, NULL));
	assert_true(hdr_match("alert tcp [!198.51.100.9] any -> any any", &p, NULL));
	assert_false(hdr_match("alert tcp [198.51.100.0/24,![198.51.100.1,198.51.100.2]] any -> any any",
			       &p2, NULL));
	assert_true(hdr_match("alert tcp ![198.51.100.5, 198.51.100.6] any -> any any", &p2, NULL));
	assert_true(hdr_match("alert tcp any any -> [203.0.113.0/25, 198.51.100.0/24] any", &p, NULL));
	/* families */
	assert_true(hdr_match("alert tcp 2001:db8::/32 any -> any any", &p6, NULL));
	assert_false(hdr_match("alert tcp 2001:db8:1::/48 any -> any any", &p6, NULL));
	assert_true(hdr_match("alert tcp any any -> 2001:db8:1::/48 any", &p6, NULL));
	assert_false(hdr_match("alert tcp 198.51.100.0/24 any -> any any", &p6, NULL));
	assert_false(hdr_match("alert tcp 2001:db8::/32 any -> any any", &p, NULL));
	assert_true(hdr_match("alert tcp [2001:db8::/32,198.51.100.0/24] any -> any any", &p, NULL));
}

static void test_ports(void **state)
{
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80, "x", 1);

	assert_true(hdr_match("alert tcp any 1024: -> any :80", &p, NULL));
	assert_false(hdr_match("alert tcp any any -> any :79", &p, NULL));
	assert_true(hdr_match("alert tcp any any -> any [80,443]", &p, NULL));
	assert_false(hdr_match("alert tcp any any -> any [443,8080]", &p, NULL));
	assert_false(hdr_match("alert tcp any any -> any !80", &p, NULL));
	assert_true(hdr_match("alert tcp any any -> any !81", &p, NULL));
	assert_false(hdr_match("alert tcp any any -> any [1:100,!80]", &p, NULL));
	assert_true(hdr_match("alert tcp any any -> any [1:100,!50]", &p, NULL));
	assert_true(hdr_match("alert tcp any any -> any [[70:90],![81:85]]", &p, NULL));
	assert_true(hdr_match("alert tcp any 30000:50000 -> any 80:80", &p, NULL));
	/* direction */
	assert_false(hdr_match("alert tcp 203.0.113.2 80 -> 198.51.100.1 any", &p, NULL));
	assert_true(hdr_match("alert tcp 203.0.113.2 80 <> 198.51.100.1 any", &p, NULL));
	assert_true(hdr_match("alert tcp 198.51.100.1 any <> 203.0.113.2 80", &p, NULL));
	/* a port-less protocol matches only "any" ports */
	{
		struct kn_packet ic = mkpkt(KN_IPPROTO_ICMP, "198.51.100.1", 0, "203.0.113.2", 0, "x", 1);

		assert_true(hdr_match("alert ip any any -> any any", &ic, NULL));
		assert_false(hdr_match("alert ip any any -> any 80", &ic, NULL));
	}
}

static void test_protocols(void **state)
{
	struct kn_packet t = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2, "x", 1);
	struct kn_packet u = mkpkt(KN_IPPROTO_UDP, "198.51.100.1", 1, "203.0.113.2", 2, "x", 1);
	struct kn_packet i4 = mkpkt(KN_IPPROTO_ICMP, "198.51.100.1", 0, "203.0.113.2", 0, "x", 1);
	struct kn_packet i6 = mkpkt(KN_IPPROTO_ICMPV6, "2001:db8::1", 0, "2001:db8::2", 0, "x", 1);

	assert_true(hdr_match("alert TCP any any -> any any", &t, NULL));
	assert_false(hdr_match("alert tcp any any -> any any", &u, NULL));
	assert_true(hdr_match("alert udp any any -> any any", &u, NULL));
	assert_true(hdr_match("alert ip any any -> any any", &u, NULL));
	assert_true(hdr_match("alert icmp any any -> any any", &i4, NULL));
	assert_true(hdr_match("alert icmp any any -> any any", &i6, NULL));
	assert_false(hdr_match("alert icmpv4 any any -> any any", &i6, NULL));
	assert_true(hdr_match("alert icmpv6 any any -> any any", &i6, NULL));
	assert_false(hdr_match("alert icmpv6 any any -> any any", &i4, NULL));
	assert_false(hdr_match("alert udp any any -> any any", &i4, NULL));
}

static void test_variables(void **state)
{
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80, "x", 1);
	struct kn_packet q = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 8080, "x", 1);
	struct kn_packet h = mkpkt(KN_IPPROTO_TCP, "192.168.1.1", 40000, "203.0.113.2", 80, "x", 1);
	kn_vars *v;

	/* Suricata's defaults: HOME_NET the private ranges, EXTERNAL_NET the rest */
	assert_true(hdr_match("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS", &h, NULL));
	assert_false(hdr_match("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS", &p, NULL));
	assert_true(hdr_match("alert tcp $EXTERNAL_NET any -> $EXTERNAL_NET $HTTP_PORTS", &p, NULL));
	assert_true(hdr_match("alert tcp any any -> any $SHELLCODE_PORTS", &q, NULL));
	assert_false(hdr_match("alert tcp any any -> any $SHELLCODE_PORTS", &p, NULL));
	assert_true(hdr_match("alert tcp any any -> any $FILE_DATA_PORTS", &p, NULL));

	assert_int_equal(kn_vars_new(&v), 0);
	assert_int_equal(kn_vars_set(v, "HOME_NET", "[198.51.100.0/24]", NULL), 0);
	assert_int_equal(kn_vars_set(v, "$HTTP_PORTS", "[80,8080]", NULL), 0);
	assert_int_equal(kn_vars_set(v, "MY_SERVERS", "[203.0.113.2,$HOME_NET]", NULL), 0);
	assert_true(hdr_match("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS", &p, v));
	assert_true(hdr_match("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS", &q, v));
	assert_false(hdr_match("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS", &h, v));
	assert_false(hdr_match("alert tcp $EXTERNAL_NET any -> $HOME_NET any", &p, v));
	assert_true(hdr_match("alert tcp any any -> $MY_SERVERS any", &p, v));
	assert_true(hdr_match("alert tcp any any -> !$HOME_NET any", &p, v));
	assert_true(hdr_match("alert tcp [$HOME_NET,!198.51.100.9] any -> any any", &p, v));
	assert_false(hdr_match("alert tcp [$HOME_NET,!198.51.100.1] any -> any any", &p, v));
	kn_vars_free(v);
}

/* ---- packet tests ---- */

static bool pkt_match(const char *opts, struct kn_packet *p, const char *proto)
{
	char rule[1024];
	kn_ruleset *rs;
	struct sink s = { 0 };

	snprintf(rule, sizeof(rule), "alert %s any any -> any any (%s sid:1;)", proto, opts);
	rs = load_rules(rule, NULL);
	run_pkt(rs, p, &s);
	kn_ruleset_free(rs);
	free(s.eve);
	return s.n == 1;
}

static void test_icmp_ttl_ip(void **state)
{
	struct kn_packet e = mkpkt(KN_IPPROTO_ICMP, "198.51.100.1", 0, "203.0.113.2", 0, "ping", 4);
	struct kn_packet t = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2, "x", 1);

	e.icmp_type = 8;
	e.icmp_code = 0;
	e.ttl = 5;
	e.ip_id = 4242;
	assert_true(pkt_match("itype:8; icode:0;", &e, "icmp"));
	assert_false(pkt_match("itype:0;", &e, "icmp"));
	assert_true(pkt_match("itype:>5;", &e, "icmp"));
	assert_true(pkt_match("itype:5<>10;", &e, "icmp"));
	assert_false(pkt_match("icode:>0;", &e, "icmp"));
	assert_false(pkt_match("itype:8;", &t, "ip")); /* not ICMP */
	assert_true(pkt_match("ttl:5;", &e, "ip"));
	assert_true(pkt_match("ttl:<10;", &e, "ip"));
	assert_false(pkt_match("ttl:>10;", &e, "ip"));
	assert_true(pkt_match("ttl:1-10;", &e, "ip"));
	assert_true(pkt_match("id:4242;", &e, "ip"));
	assert_false(pkt_match("id:4243;", &e, "ip"));
	assert_true(pkt_match("ip_proto:1;", &e, "ip"));
	assert_true(pkt_match("ip_proto:ICMP;", &e, "ip"));
	assert_false(pkt_match("ip_proto:tcp;", &e, "ip"));
	assert_true(pkt_match("ip_proto:!6;", &e, "ip"));
	assert_true(pkt_match("ip_proto:<2;", &e, "ip"));
	/* ICMP payload as Suricata's: after the 8-byte header (the decoder's
	 * starts after 4: the identifier and sequence come first) */
	{
		static const char echo[] = "\x12\x34\x00\x01" "abcdefgh";
		struct kn_packet q = mkpkt(KN_IPPROTO_ICMP, "198.51.100.1", 0, "203.0.113.2", 0,
					   echo, sizeof(echo) - 1);

		q.icmp_type = 8;
		assert_true(pkt_match("icmp_id:4660; icmp_seq:1;", &q, "icmp"));
		assert_false(pkt_match("icmp_id:4661;", &q, "icmp"));
		assert_false(pkt_match("icmp_seq:2;", &q, "icmp"));
		assert_true(pkt_match("dsize:8;", &q, "icmp"));
		assert_true(pkt_match("content:\"abc\"; depth:3;", &q, "icmp"));
		assert_false(pkt_match("content:\"|12 34|\";", &q, "icmp"));
		q.icmp_type = 3; /* unreachable: no identifier */
		assert_false(pkt_match("icmp_id:4660;", &q, "icmp"));
	}
	/* IPv4 header fields: tos, fragbits, fragoffset (from p->ip) */
	{
		uint8_t hdr[20] = { 0x45, 0x10, 0, 24, 0, 1, 0x20 | 0x01, 0x02, 64, 1 };
		struct kn_packet q = e;

		q.ip = hdr;
		q.ip_len = sizeof(hdr);
		assert_false(pkt_match("tos:16;", &e, "ip")); /* no header given */
		assert_true(pkt_match("tos:16;", &q, "ip"));
		assert_false(pkt_match("tos:!16;", &q, "ip"));
		assert_true(pkt_match("fragbits:M;", &q, "ip"));
		assert_false(pkt_match("fragbits:D;", &q, "ip"));
		assert_true(pkt_match("fragbits:!D;", &q, "ip"));
		assert_true(pkt_match("fragbits:*MD;", &q, "ip"));
		assert_false(pkt_match("fragbits:M+;", &q, "ip")); /* + wants another bit too */
		hdr[6] |= 0x40;
		assert_true(pkt_match("fragbits:M+;", &q, "ip"));
		assert_false(pkt_match("fragbits:M;", &q, "ip"));
		assert_true(pkt_match("fragoffset:258;", &q, "ip"));
		assert_true(pkt_match("fragoffset:>0;", &q, "ip"));
		assert_false(pkt_match("fragoffset:0;", &q, "ip"));
	}
	assert_false(pkt_match("noalert; tag:session,10,packets;", &e, "ip"));
	assert_false(pkt_match("sameip;", &e, "ip"));
	set_addr(&e, "198.51.100.1", "198.51.100.1");
	assert_true(pkt_match("sameip;", &e, "ip"));
}

static void test_tcp_fields(void **state)
{
	struct kn_packet t = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2, "", 0);

	t.tcp_flags = KN_TCP_SYN;
	t.tcp_seq = 12345;
	t.tcp_ack = 0;
	t.tcp_window = 1024;
	assert_true(pkt_match("flags:S;", &t, "tcp"));
	assert_false(pkt_match("flags:SA;", &t, "tcp"));
	assert_true(pkt_match("flags:S+;", &t, "tcp"));
	assert_true(pkt_match("flags:+S;", &t, "tcp"));
	assert_true(pkt_match("flags:*SF;", &t, "tcp"));
	assert_false(pkt_match("flags:*AF;", &t, "tcp"));
	assert_false(pkt_match("flags:!S;", &t, "tcp"));
	assert_true(pkt_match("flags:!A;", &t, "tcp"));
	assert_true(pkt_match("seq:12345;", &t, "tcp"));
	assert_false(pkt_match("seq:1;", &t, "tcp"));
	assert_true(pkt_match("ack:0;", &t, "tcp"));
	assert_true(pkt_match("window:1024;", &t, "tcp"));
	assert_true(pkt_match("window:!55808;", &t, "tcp"));
	assert_false(pkt_match("window:!1024;", &t, "tcp"));
	t.tcp_flags = KN_TCP_SYN | KN_TCP_ACK;
	assert_true(pkt_match("flags:S+;", &t, "tcp"));
	assert_false(pkt_match("flags:S;", &t, "tcp"));
	assert_true(pkt_match("flags:SA;", &t, "tcp"));
	assert_true(pkt_match("flags:AS;", &t, "tcp"));
	t.tcp_flags = KN_TCP_SYN | KN_TCP_ECE | KN_TCP_CWR;
	assert_false(pkt_match("flags:S;", &t, "tcp"));
	assert_true(pkt_match("flags:S,CE;", &t, "tcp"));
	assert_true(pkt_match("flags:S,12;", &t, "tcp"));
	t.tcp_flags = 0;
	assert_true(pkt_match("flags:0;", &t, "tcp"));
	assert_false(pkt_match("flags:S;", &t, "tcp"));
	{
		struct kn_packet u = mkpkt(KN_IPPROTO_UDP, "198.51.100.1", 1, "203.0.113.2", 2, "", 0);

		assert_false(pkt_match("flags:0;", &u, "ip"));
	}
}

static void test_flow(void **state)
{
	struct kn_flow f = { .id = 7 };
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80, "GET", 3);

	p.flow = &f;
	p.to_server = true;
	p.established = true;
	assert_true(pkt_match("flow:established,to_server;", &p, "tcp"));
	assert_true(pkt_match("flow:from_client;", &p, "tcp"));
	assert_false(pkt_match("flow:to_client;", &p, "tcp"));
	assert_false(pkt_match("flow:from_server;", &p, "tcp"));
	assert_false(pkt_match("flow:not_established;", &p, "tcp"));
	assert_true(pkt_match("flow:stateless;", &p, "tcp"));
	p.to_server = false;
	assert_true(pkt_match("flow:established,to_client;", &p, "tcp"));
	assert_false(pkt_match("flow:to_server;", &p, "tcp"));
	p.established = false;
	assert_false(pkt_match("flow:established;", &p, "tcp"));
	assert_true(pkt_match("flow:not_established;", &p, "tcp"));
	p.flow = NULL;
	assert_false(pkt_match("flow:to_client;", &p, "tcp"));
	assert_false(pkt_match("flow:established;", &p, "tcp"));
	assert_true(pkt_match("flow:stateless;", &p, "tcp"));
}

/* ---- the stream buffer ---- */

static void test_stream(void **state)
{
	static const char win[] = "GET /admin HTTP/1.0";
	struct kn_flow f = { .id = 9 };
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80,
				   "min HTTP/1.0", 12);

	p.flow = &f;
	p.to_server = p.established = true;
	p.stream = (const uint8_t *)win;
	p.stream_len = sizeof(win) - 1;
	p.stream_new_off = 7; /* "GET /ad" came before, "min HTTP/1.0" now */
	/* split across segments: whole in the stream, not in the packet */
	assert_true(pkt_match("content:\"/admin\";", &p, "tcp"));
	assert_false(pkt_match("flow:no_stream; content:\"/admin\";", &p, "tcp"));
	/* dsize makes a packet rule: the payload, not the stream */
	assert_true(pkt_match("dsize:12; content:\"min HTTP\";", &p, "tcp"));
	assert_false(pkt_match("dsize:12; content:\"/admin\";", &p, "tcp"));
	assert_true(pkt_match("flow:only_stream; content:\"/admin\";", &p, "tcp"));
	assert_true(pkt_match("content:\"GET\"; startswith; content:\"/admin\"; distance:1;", &p, "tcp"));
	/* wholly in old data: seen with an earlier packet, not again */
	assert_false(pkt_match("content:\"GET\";", &p, "tcp"));
	assert_true(pkt_match("content:\"GET\"; content:\"HTTP\"; distance:0;", &p, "tcp"));
	/* a later occurrence in the new bytes counts */
	p.stream_new_off = 4;
	assert_true(pkt_match("content:\"/\";", &p, "tcp"));
	p.stream_new_off = 11;
	assert_true(pkt_match("content:\"/\";", &p, "tcp")); /* "HTTP/1.0" */
	/* ending in the first new byte counts, ending just before does not */
	p.stream_new_off = 9;
	assert_true(pkt_match("content:\"/admin\";", &p, "tcp"));
	assert_true(pkt_match("content:\"/ad\"; content:\"min\"; distance:0;", &p, "tcp"));
	p.stream_new_off = 10;
	assert_false(pkt_match("content:\"/admin\";", &p, "tcp"));
	assert_true(pkt_match("content:\"/admin\"; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_false(pkt_match("content:\"/ad\"; content:\"min\"; distance:0;", &p, "tcp"));
	/* absolute positions count from the stream's start */
	p.stream_new_off = 7;
	assert_true(pkt_match("content:\"/admin\"; offset:4; depth:6;", &p, "tcp"));
	p.stream_off = 100; /* the window starts 100 bytes into the stream */
	assert_false(pkt_match("content:\"/admin\"; offset:4; depth:6;", &p, "tcp"));
	assert_true(pkt_match("content:\"/admin\"; offset:104; depth:6;", &p, "tcp"));
	assert_false(pkt_match("content:\"/admin\"; offset:105;", &p, "tcp"));
	assert_true(pkt_match("content:\"HTTP\"; isdataat:118;", &p, "tcp"));
	assert_false(pkt_match("content:\"HTTP\"; isdataat:119;", &p, "tcp"));
	assert_true(pkt_match("content:\"/admin\"; byte_test:1,=,0x2f,104;", &p, "tcp"));
	assert_false(pkt_match("content:\"/admin\"; byte_test:1,=,0x2f,4;", &p, "tcp"));
	/* "GET" opens the window, not the stream: startswith and offset 0
	 * with a depth do not see it (a relative match in the new bytes
	 * would otherwise make the rule fire) */
	assert_false(pkt_match("content:\"GET\"; startswith; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_false(pkt_match("content:\"GET\"; offset:0; depth:4; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_false(pkt_match("content:\"GET\"; depth:3; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_true(pkt_match("content:\"GET\"; offset:100; depth:3; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_true(pkt_match("content:\"GET\"; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_false(pkt_match("pcre:\"/^GET/\"; content:\"HTTP\";", &p, "tcp"));
	assert_false(pkt_match("pcre:\"/^GET/m\"; content:\"HTTP\";", &p, "tcp"));
	assert_false(pkt_match("pcre:\"/GET/A\"; content:\"HTTP\";", &p, "tcp"));
	assert_true(pkt_match("pcre:\"/GET/\"; content:\"HTTP\";", &p, "tcp"));
	assert_true(pkt_match("pcre:!\"/^GET/\"; content:\"HTTP\";", &p, "tcp"));
	assert_false(pkt_match("content:\"HTTP\"; byte_jump:0,0,from_beginning; content:\"GET\"; within:3;", &p, "tcp"));
	p.stream_off = 0;
	assert_true(pkt_match("content:\"GET\"; startswith; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_true(pkt_match("content:\"GET\"; offset:0; depth:4; content:\"HTTP\"; distance:0;", &p, "tcp"));
	assert_true(pkt_match("pcre:\"/^GET/\"; content:\"HTTP\";", &p, "tcp"));
	/* no positive content: the packet, not the stream (old data would alert again) */
	assert_true(pkt_match("content:!\"GET\";", &p, "tcp"));
	assert_false(pkt_match("flow:only_stream; content:!\"GET\";", &p, "tcp"));
	/* nothing new (a retransmission): no stream match */
	p.stream_new_off = p.stream_len;
	assert_false(pkt_match("content:\"HTTP\";", &p, "tcp"));
	assert_true(pkt_match("flow:no_stream; content:\"HTTP\";", &p, "tcp"));
	/* without a stream: the payload, and only_stream never matches */
	p.stream = NULL;
	p.stream_len = p.stream_new_off = 0;
	assert_true(pkt_match("content:\"min\";", &p, "tcp"));
	assert_false(pkt_match("flow:only_stream; content:\"min\";", &p, "tcp"));
	assert_false(pkt_match("content:\"/admin\";", &p, "tcp"));
	kn_detect_flow_free(f.detect_state);
}

/* A TCP stream fed segment by segment through one detector, each packet
 * with the window the decoder would give it (KN_STREAM_WINDOW bytes of
 * history before the new ones, stream_off where it starts). */
struct feed {
	kn_detector *d;
	struct kn_flow flow;
	uint8_t *all;
	size_t len;
	struct sink s;
};

static void feed_start(struct feed *f, const kn_ruleset *rs)
{
	memset(f, 0, sizeof(*f));
	f->flow.id = 7;
	f->all = malloc(1 << 20);
	assert_non_null(f->all);
	assert_int_equal(kn_detector_new(&f->d, rs, NULL), 0);
}

/* Sends data; returns how many alerts it raised. */
static size_t feed(struct feed *f, const void *data, size_t len)
{
	size_t before = f->s.n, skip = f->len > KN_STREAM_WINDOW ? f->len - KN_STREAM_WINDOW : 0;
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80,
				   data, len);

	assert_true(f->len + len <= 1 << 20);
	memcpy(f->all + f->len, data, len);
	p.flow = &f->flow;
	p.to_server = p.established = true;
	p.stream = f->all + skip;
	p.stream_off = skip;
	p.stream_new_off = f->len - skip;
	f->len += len;
	p.stream_len = f->len - skip;
	assert_true(kn_detect(f->d, &p, sink_alert, &f->s) >= 0);
	return f->s.n - before;
}

static void feed_end(struct feed *f)
{
	kn_detect_flow_free(f->flow.detect_state);
	kn_detector_free(f->d);
	free(f->all);
	free(f->s.eve);
}

static void fill(struct feed *f, size_t n)
{
	char *x = malloc(n);

	memset(x, '.', n);
	assert_int_equal(feed(f, x, n), 0);
	free(x);
}

/* The prefilter scans each stream byte once (detect.c): no match may be
 * lost at the boundary of two packets, nor when the fast pattern is
 * wholly in old bytes and the rest of the rule in the new ones. */
static void test_stream_prefilter(void **state)
{
	char rules[8192], big[601], text[64];
	kn_ruleset *rs;
	struct feed f;

	/* a 600-byte fast pattern split 599 / 1 over two segments (after
	 * 3000 bytes, so the window starts mid-stream) */
	for (int i = 0; i < 600; i++)
		big[i] = (char)('a' + (i * 7) % 26);
	big[600] = '\0';
	snprintf(rules, sizeof(rules),
		 "alert tcp any any -> any any (content:\"%s\"; sid:1;)\n"
		 "alert tcp any any -> any any (content:\"short\"; sid:2;)\n"
		 /* the fast pattern (the longest content) in old bytes, the
		  * match ending in new ones */
		 "alert tcp any any -> any any (content:\"long-fast-pattern-first\"; "
		 "content:\"Z\"; distance:0; sid:3;)\n"
		 "alert tcp any any -> any any (content:\"sh\"; content:\"pattern-in-new-bytes\"; "
		 "fast_pattern; sid:4;)\n", big);
	rs = load_rules(rules, NULL);
	feed_start(&f, rs);
	fill(&f, 3000);
	assert_int_equal(feed(&f, big, 599), 0);
	assert_int_equal(feed(&f, big + 599, 1), 1);
	assert_int_equal(f.s.last.sid, 1);
	/* split at every place, one byte at a time */
	for (int i = 0; i < 600; i++)
		assert_int_equal(feed(&f, big + i, 1), i == 599 ? 1 : 0);
	/* sid 3: its fast pattern, then 2000 bytes (beyond any look-back),
	 * then Z in another packet */
	assert_int_equal(feed(&f, "long-fast-pattern-first", 23), 0);
	fill(&f, 2000);
	assert_int_equal(feed(&f, "Z", 1), 1);
	assert_int_equal(f.s.last.sid, 3);
	assert_int_equal(feed(&f, "Z", 1), 1); /* still in the window */
	/* out of the window: no more */
	fill(&f, KN_STREAM_WINDOW);
	assert_int_equal(feed(&f, "Z", 1), 0);
	/* sid 2, one content: in old bytes only, it does not match again;
	 * new, it does */
	assert_int_equal(feed(&f, "short", 5), 1);
	assert_int_equal(feed(&f, "shor", 4), 0);
	assert_int_equal(feed(&f, "t", 1), 1);
	assert_int_equal(feed(&f, "xx", 2), 0);
	assert_int_equal(feed(&f, "short", 5), 1);
	/* sid 4: the fast pattern new, the first content old */
	assert_int_equal(feed(&f, "sh", 2), 0);
	fill(&f, 500);
	assert_int_equal(feed(&f, "pattern-in-new-bytes", 20), 1);
	assert_int_equal(f.s.last.sid, 4);
	feed_end(&f);
	kn_ruleset_free(rs);

	/* one content whose fast pattern is its head (the longest fast
	 * pattern: 4 bytes): the head in an older packet, the end in this one */
	rs = load_rules("alert tcp any any -> any any (content:\"0123456789abcdefghij\"; "
			"fast_pattern:0,4; sid:5;)", NULL);
	feed_start(&f, rs);
	assert_int_equal(feed(&f, "0123456789", 10), 0);
	assert_int_equal(feed(&f, "abcdefghij", 10), 1);
	assert_int_equal(f.s.last.sid, 5);
	feed_end(&f);
	kn_ruleset_free(rs);

	/* more patterns in the window than the memory holds: whole-window
	 * scans, still every rule */
	{
		size_t len = 0;
		char *t = malloc(300 * 100);

		for (int i = 0; i < 300; i++)
			len += (size_t)snprintf(t + len, 300 * 100 - len,
						"alert tcp any any -> any any (content:\"pattern-%03d\"; "
						"content:\"END\"; distance:0; sid:%d;)\n", i, 100 + i);
		rs = load_rules(t, NULL);
		free(t);
	}
	feed_start(&f, rs);
	for (int i = 0; i < 300; i++) {
		snprintf(text, sizeof(text), "pattern-%03d", i);
		assert_int_equal(feed(&f, text, strlen(text)), 0);
	}
	assert_int_equal(feed(&f, "END", 3), 300);
	assert_int_equal(feed(&f, "END", 3), 300);
	feed_end(&f);
	/* the flow's memory belongs to one detector: another one (a new
	 * ruleset) over the same flow starts afresh */
	{
		kn_ruleset *rs2 = load_rules("alert tcp any any -> any any (content:\"other\"; "
					     "content:\"END\"; distance:0; sid:1;)", NULL);
		struct feed g;

		feed_start(&g, rs);
		assert_int_equal(feed(&g, "pattern-007 other", 17), 0);
		kn_detector_free(g.d);
		assert_int_equal(kn_detector_new(&g.d, rs2, NULL), 0);
		assert_int_equal(feed(&g, "END", 3), 1);
		feed_end(&g);
		kn_ruleset_free(rs2);
	}
	kn_ruleset_free(rs);

	/* a payload that is not the stream's new bytes (its head overlapped
	 * old data, which won): the prefilter scans it too, for packet rules */
	{
		struct kn_flow fl = { .id = 3 };
		struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2",
					   80, "XYZghi", 6);

		p.flow = &fl;
		p.to_server = p.established = true;
		p.stream = (const uint8_t *)"abcdefghi";
		p.stream_len = 9;
		p.stream_new_off = 6;
		assert_true(pkt_match("flow:no_stream; content:\"XYZg\";", &p, "tcp"));
		assert_false(pkt_match("content:\"XYZg\";", &p, "tcp"));
		assert_true(pkt_match("content:\"defghi\";", &p, "tcp"));
		kn_detect_flow_free(fl.detect_state);
	}
}

static uint64_t drng = 0x2545f4914f6cdd1dull;

static uint32_t drand(uint32_t n)
{
	drng ^= drng << 13;
	drng ^= drng >> 7;
	drng ^= drng << 17;
	return (uint32_t)(drng % n);
}

static void rand_word(char *w, size_t len, const char *alpha)
{
	size_t na = strlen(alpha);

	for (size_t i = 0; i < len; i++)
		w[i] = alpha[drand((uint32_t)na)];
	w[len] = '\0';
}

/* n random rules over alpha: one to three contents (absolute or relative,
 * sometimes a chosen or partial fast pattern), sometimes a relative pcre
 * or byte_test. */
static kn_ruleset *rand_rules(int n, const char *alpha, size_t maxlen)
{
	size_t cap = (size_t)n * 400, len = 0;
	char *t = malloc(cap);
	kn_ruleset *rs;

	for (int i = 0; i < n; i++) {
		int nc = 1 + (int)drand(3);
		bool fp = false;

		len += (size_t)snprintf(t + len, cap - len, "alert tcp any any -> any any (");
		for (int k = 0; k < nc; k++) {
			char w[64];
			size_t wl = 1 + drand((uint32_t)maxlen);

			rand_word(w, wl, alpha);
			len += (size_t)snprintf(t + len, cap - len, "content:\"%s\"; ", w);
			if (k == 0 && drand(4) == 0)
				len += (size_t)snprintf(t + len, cap - len, "offset:%u; depth:%zu; ",
							drand(6000), wl + drand(3000));
			else if (k > 0 && drand(2))
				len += (size_t)snprintf(t + len, cap - len, "distance:%u; within:%zu; ",
							drand(4), wl + drand(200));
			else if (k > 0)
				len += (size_t)snprintf(t + len, cap - len, "distance:0; ");
			if (!fp && drand(6) == 0) {
				len += (size_t)snprintf(t + len, cap - len, "fast_pattern; ");
				fp = true;
			} else if (!fp && wl > 2 && drand(6) == 0) {
				len += (size_t)snprintf(t + len, cap - len, "fast_pattern:1,%zu; ",
							wl - 2);
				fp = true;
			}
		}
		if (drand(6) == 0)
			len += (size_t)snprintf(t + len, cap - len, "pcre:\"/%c.%c/R\"; ",
						alpha[0], alpha[1]);
		else if (drand(8) == 0)
			len += (size_t)snprintf(t + len, cap - len, "byte_test:1,>,%u,0,relative; ",
						(unsigned)alpha[0]);
		len += (size_t)snprintf(t + len, cap - len, "sid:%d;)\n", i + 1);
	}
	rs = load_rules(t, NULL);
	free(t);
	return rs;
}

/* The single stream scan against the reference (whole windows, no search
 * bound) on random rules and random streams cut at random: the same
 * alerts for every packet. */
static void test_stream_prefilter_differential(void **state)
{
	static const struct { int rules; const char *alpha; size_t maxlen, seg; } runs[] = {
		{ 60, "abc", 6, 700 },   /* frequent short matches */
		{ 60, "ab", 12, 90 },    /* small segments, longer patterns */
		{ 300, "abcd", 5, 1500 }, /* more patterns than the memory holds */
		{ 40, "abcdefgh", 40, 300 }, /* long fast patterns across packets */
	};
	size_t total = 0;

	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		kn_ruleset *rs = rand_rules(runs[r].rules, runs[r].alpha, runs[r].maxlen);
		struct feed a, b;
		size_t sent = 0;

		feed_start(&a, rs);
		feed_start(&b, rs);
		kn_detector_reference_mode(b.d, true);
		while (sent < 9000) {
			char seg[2048];
			size_t n = 1 + drand((uint32_t)runs[r].seg), na, nb;

			rand_word(seg, n, runs[r].alpha);
			na = feed(&a, seg, n);
			nb = feed(&b, seg, n);
			assert_int_equal(na, nb);
			if (a.s.n <= 64 && na)
				assert_memory_equal(a.s.sids + a.s.n - na, b.s.sids + b.s.n - nb,
						    na * sizeof(uint32_t));
			sent += n;
		}
		total += a.s.n;
		feed_end(&a);
		feed_end(&b);
		kn_ruleset_free(rs);
	}
	/* the streams did raise alerts to compare */
	printf("differential: %zu alerts compared\n", total);
	assert_true(total > 1000);
}

/* ---- flowbits ---- */

static void test_flowbits(void **state)
{
	/* the reader comes first in the file; setters run first all the same */
	kn_ruleset *rs = load_rules(
		"alert tcp any any -> any any (content:\"secret\"; flowbits:isset,auth; sid:2;)\n"
		"alert tcp any any -> any any (content:\"login\"; flowbits:set,auth; flowbits:noalert; sid:1;)\n"
		"alert tcp any any -> any any (content:\"logout\"; flowbits:unset,auth; sid:3;)\n"
		"alert tcp any any -> any any (content:\"hello\"; flowbits:isnotset,auth; sid:4;)\n"
		"alert tcp any any -> any any (content:\"flip\"; flowbits:toggle,t; flowbits:noalert; sid:5;)\n"
		"alert tcp any any -> any any (content:\"q\"; flowbits:isset,t|auth; sid:6;)\n"
		"alert tcp any any -> any any (content:\"w\"; flowbits:isset,t&auth; sid:7;)\n", NULL);
	kn_detector *d;
	struct kn_flow f = { .id = 1 }, g = { .id = 2 };
	struct kn_packet p;
	struct sink s = { 0 };

	assert_int_equal(kn_detector_new(&d, rs, NULL), 0);
#define SEND(FL, str) (p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2, str, \
				  sizeof(str) - 1), p.flow = (FL), memset(&s, 0, sizeof(s)), \
			 kn_detect(d, &p, sink_alert, &s), free(s.eve), s.eve = NULL)
	SEND(&f, "secret");
	assert_int_equal(s.n, 0);
	SEND(&f, "hello");
	assert_true(sink_has(&s, 4));
	SEND(&f, "login");
	assert_int_equal(s.n, 0); /* noalert */
	SEND(&f, "secret");
	assert_int_equal(s.n, 1);
	assert_true(sink_has(&s, 2));
	SEND(&f, "hello");
	assert_int_equal(s.n, 0);
	SEND(&g, "secret"); /* another flow */
	assert_int_equal(s.n, 0);
	SEND(NULL, "secret"); /* no flow */
	assert_int_equal(s.n, 0);
	SEND(&f, "q");
	assert_true(sink_has(&s, 6)); /* auth */
	SEND(&f, "w");
	assert_int_equal(s.n, 0); /* auth but not t */
	SEND(&f, "flip");
	SEND(&f, "w");
	assert_true(sink_has(&s, 7));
	SEND(&f, "flip");
	SEND(&f, "logout");
	assert_true(sink_has(&s, 3));
	SEND(&f, "secret");
	assert_int_equal(s.n, 0);
	SEND(&f, "q");
	assert_int_equal(s.n, 0);
	/* the same packet: set by one rule, read by the next */
	SEND(&g, "login secret");
	assert_int_equal(s.n, 1);
	assert_true(sink_has(&s, 2));
#undef SEND
	kn_detect_flow_free(f.detect_state);
	kn_detect_flow_free(g.detect_state);
	kn_detector_free(d);
	kn_ruleset_free(rs);
}

/* ---- thresholds ---- */

/* Sends n matching packets from src at t0 + i * step seconds; alerts. */
static size_t burst(kn_detector *d, const char *src, const char *dst, int n, uint64_t t0,
		    uint64_t step)
{
	struct sink s = { 0 };

	for (int i = 0; i < n; i++) {
		struct kn_packet p = mkpkt(KN_IPPROTO_TCP, src, 1, dst, 2, "hit", 3);

		p.ts_usec = (t0 + (uint64_t)i * step) * 1000000u;
		kn_detect(d, &p, sink_alert, &s);
		free(s.eve);
		s.eve = NULL;
	}
	return s.n;
}

static size_t thr(const char *opt, const char *src2, const char *dst2, int n2)
{
	char rule[512];
	kn_ruleset *rs;
	kn_detector *d;
	size_t a;

	snprintf(rule, sizeof(rule), "alert tcp any any -> any any (content:\"hit\"; %s sid:1;)", opt);
	rs = load_rules(rule, NULL);
	assert_int_equal(kn_detector_new(&d, rs, NULL), 0);
	a = burst(d, "198.51.100.1", "203.0.113.2", 7, 1000, 1);
	if (src2)
		a = a * 100 + burst(d, src2, dst2, n2, 1010, 1);
	kn_detector_free(d);
	kn_ruleset_free(rs);
	return a;
}

static void test_threshold(void **state)
{
	const char *lim = "threshold: type limit, track by_src, count 2, seconds 60;";

	/* limit: the first 2 of 7 */
	assert_int_equal(thr(lim, NULL, NULL, 0), 2);
	/* a new source has its own count; the same source does not */
	assert_int_equal(thr(lim, "198.51.100.9", "203.0.113.2", 3), 202);
	assert_int_equal(thr(lim, "198.51.100.1", "203.0.113.2", 3), 200);
	/* by_dst counts per destination */
	assert_int_equal(thr("threshold: type limit, track by_dst, count 2, seconds 60;",
			     "198.51.100.9", "203.0.113.2", 3), 200);
	assert_int_equal(thr("threshold: type limit, track by_dst, count 2, seconds 60;",
			     "198.51.100.1", "203.0.113.9", 3), 202);
	/* threshold: every 3rd (3rd, 6th) */
	assert_int_equal(thr("threshold: type threshold, track by_src, count 3, seconds 60;",
			     NULL, NULL, 0), 2);
	/* both: once, at the 3rd */
	assert_int_equal(thr("threshold: type both, track by_src, count 3, seconds 60;",
			     NULL, NULL, 0), 1);
	/* detection_filter: every match after the 2nd (3rd to 7th) */
	assert_int_equal(thr("detection_filter: track by_src, count 2, seconds 60;", NULL, NULL, 0), 5);
	/* by_rule: every source counts together */
	assert_int_equal(thr("threshold: type limit, track by_rule, count 2, seconds 60;",
			     "198.51.100.9", "203.0.113.2", 3), 200);
	/* by_both: the pair, either way (Suricata: opposite directions
	 * between the same addresses are the same pair); another pair counts
	 * apart */
	assert_int_equal(thr("threshold: type limit, track by_both, count 2, seconds 60;",
			     "203.0.113.2", "198.51.100.1", 3), 200);
	assert_int_equal(thr("threshold: type limit, track by_both, count 2, seconds 60;",
			     "198.51.100.1", "203.0.113.9", 3), 202);
	/* type both with Suricata's form of the example rule: once at the
	 * 5th of 7 matches in 60 seconds */
	assert_int_equal(thr("threshold: type both, track by_src, count 5, seconds 60;",
			     NULL, NULL, 0), 1);
	assert_int_equal(thr("threshold: type both, track by_src, count 8, seconds 60;",
			     NULL, NULL, 0), 0);
}

/* One ruleset, two detectors: each keeps its own threshold state. */
static void test_two_detectors(void **state)
{
	kn_ruleset *rs = load_rules("alert tcp any any -> any any (content:\"hit\"; threshold: type "
				    "limit, track by_rule, count 1, seconds 60; sid:1;)", NULL);
	kn_detector *a, *b;

	assert_int_equal(kn_detector_new(&a, rs, NULL), 0);
	assert_int_equal(kn_detector_new(&b, rs, NULL), 0);
	assert_int_equal(burst(a, "198.51.100.1", "203.0.113.2", 3, 1000, 1), 1);
	assert_int_equal(burst(b, "198.51.100.1", "203.0.113.2", 3, 1000, 1), 1);
	assert_int_equal(burst(a, "198.51.100.1", "203.0.113.2", 3, 1010, 1), 0);
	assert_int_equal(kn_detect(NULL, NULL, NULL, NULL), -EINVAL);
	kn_detector_free(a);
	kn_detector_free(b);
	kn_ruleset_free(rs);
}

static void test_threshold_window(void **state)
{
	kn_ruleset *rs = load_rules(
		"alert tcp any any -> any any (content:\"hit\"; threshold: type limit, track by_src, "
		"count 1, seconds 10; sid:1;)\n"
		"alert tcp any any -> any any (content:\"hit\"; flowbits:set,seen; "
		"detection_filter: track by_src, count 100, seconds 10; sid:2;)\n"
		"alert tcp any any -> any any (content:\"hit\"; flowbits:isset,seen; sid:3;)\n", NULL);
	kn_detector *d;
	struct kn_flow f = { .id = 3 };
	struct sink s = { 0 };

	assert_int_equal(kn_detector_new(&d, rs, NULL), 0);
	/* one alert per 10 s window: at 0, 10.5, 21 s; none at 5 or 15 */
	{
		static const uint64_t ts[] = { 0, 5000000, 10500000, 15000000, 21000000 };
		size_t n1 = 0;

		for (size_t i = 0; i < 5; i++) {
			struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2,
						   "hit", 3);

			p.ts_usec = 1000000000000ull + ts[i];
			p.flow = &f;
			memset(&s, 0, sizeof(s));
			kn_detect(d, &p, sink_alert, &s);
			free(s.eve);
			n1 += sink_has(&s, 1);
			/* sid 2 never alerts (detection_filter), yet its flowbit is set */
			assert_false(sink_has(&s, 2));
			assert_true(sink_has(&s, 3));
		}
		assert_int_equal(n1, 3);
	}
	kn_detect_flow_free(f.detect_state);
	kn_detector_free(d);
	kn_ruleset_free(rs);
}

/* ---- pass, counts, prefilter ---- */

static void test_pass(void **state)
{
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2, "xyz", 3);
	struct sink s = { 0 };
	kn_ruleset *rs = load_rules(
		"alert tcp any any -> any any (content:\"x\"; sid:2;)\n"
		"drop tcp any any -> any any (content:\"y\"; sid:3;)\n"
		"pass tcp 198.51.100.1 any -> any any (content:\"z\"; sid:1;)\n", NULL);

	assert_int_equal(run_pkt(rs, &p, &s), 0);
	assert_int_equal(s.n, 0);
	set_addr(&p, "198.51.100.5", "203.0.113.2");
	assert_int_equal(run_pkt(rs, &p, &s), 2);
	assert_int_equal(s.n, 2);
	/* drop before alert, as Suricata orders actions */
	assert_int_equal(s.sids[0], 3);
	assert_int_equal(s.sids[1], 2);
	free(s.eve);
	kn_ruleset_free(rs);
}

static void count_cb(void *userdata, uint32_t gid, uint32_t sid, uint64_t count)
{
	uint64_t *c = userdata;

	if (gid == 1 && sid < 8)
		c[sid] += count;
}

static void test_prefilter_many(void **state)
{
	/* 600 rules, 300 fast patterns (pairs share one, half caseless) */
	size_t cap = 600 * 120, len = 0;
	char *text = malloc(cap);
	kn_ruleset *rs;
	kn_detector *d;
	struct sink s = { 0 };
	uint64_t counts[8] = { 0 };

	for (int i = 0; i < 600; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"alert tcp any any -> any any (content:\"pat%03d-marker\";%s sid:%d;)\n",
					i / 2, (i / 2) % 2 ? " nocase;" : "", i + 1);
	rs = load_rules(text, NULL);
	free(text);
	assert_int_equal(kn_ruleset_count(rs), 600);
	assert_int_equal(kn_detector_new(&d, rs, NULL), 0);
	{
		struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2,
					   "..PAT123-MARKER..pat200-marker", 30);

		kn_detect(d, &p, sink_alert, &s);
	}
	/* 123 is caseless: sids 247, 248; 200 is exact: sids 401, 402 */
	assert_int_equal(s.n, 4);
	assert_true(sink_has(&s, 247) && sink_has(&s, 248) && sink_has(&s, 401) && sink_has(&s, 402));
	free(s.eve);
	memset(&s, 0, sizeof(s));
	{
		struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1, "203.0.113.2", 2,
					   "PAT200-MARKER pat003-marker", 27);

		kn_detect(d, &p, sink_alert, &s);
		kn_detect(d, &p, sink_alert, &s);
	}
	assert_int_equal(s.n, 4); /* 7, 8 twice */
	kn_detector_counts(d, count_cb, counts);
	assert_int_equal(counts[7], 2);
	assert_int_equal(counts[1], 0);
	free(s.eve);
	kn_detector_free(d);
	kn_ruleset_free(rs);
}

static void test_no_ip(void **state)
{
	struct kn_packet p;
	struct sink s = { 0 };
	kn_ruleset *rs = load_rules("alert ip any any -> any any (sid:1;)", NULL);

	memset(&p, 0, sizeof(p));
	assert_int_equal(run_pkt(rs, &p, &s), 0);
	p = mkpkt(KN_IPPROTO_UDP, "198.51.100.1", 1, "203.0.113.2", 2, "", 0);
	assert_int_equal(run_pkt(rs, &p, &s), 1);
	free(s.eve);
	kn_ruleset_free(rs);
}

/* ---- EVE ---- */

static void test_eve(void **state)
{
	struct kn_flow f = { .id = 1234567 };
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 40000, "203.0.113.2", 80, "evil", 4);
	struct sink s = { 0 };
	kn_ruleset *rs = load_rules(
		"alert tcp any any -> any any (msg:\"quote \\\" back \\\\ semi \\; tab\x01 é\"; "
		"content:\"evil\"; classtype:attempted-admin; rev:3; sid:1;)\n"
		"reject icmp any any -> any any (msg:\"v6\"; priority:4; sid:2;)\n", NULL);

	p.flow = &f;
	p.to_server = true;
	p.pcap_cnt = 5;
	run_pkt(rs, &p, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.eve,
		"{\"timestamp\":\"2026-12-07T03:24:31.123456+0000\",\"flow_id\":1234567,\"pcap_cnt\":5,"
		"\"event_type\":\"alert\",\"src_ip\":\"198.51.100.1\",\"src_port\":40000,"
		"\"dest_ip\":\"203.0.113.2\",\"dest_port\":80,\"proto\":\"TCP\",\"direction\":\"to_server\","
		"\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":1,\"rev\":3,"
		"\"signature\":\"quote \\\" back \\\\ semi ; tab\\u0001 é\","
		"\"category\":\"Attempted Administrator Privilege Gain\",\"severity\":1}}");
	free(s.eve);
	memset(&s, 0, sizeof(s));
	p = mkpkt(KN_IPPROTO_ICMPV6, "2001:db8::1", 0, "fe80::a:b", 0, "x", 1);
	p.icmp_type = 128;
	p.vlan[0] = 10;
	run_pkt(rs, &p, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.eve,
		"{\"timestamp\":\"2026-12-07T03:24:31.123456+0000\",\"event_type\":\"alert\",\"vlan\":[10],"
		"\"src_ip\":\"2001:0db8:0000:0000:0000:0000:0000:0001\","
		"\"dest_ip\":\"fe80:0000:0000:0000:0000:0000:000a:000b\",\"proto\":\"IPv6-ICMP\","
		"\"icmp_type\":128,\"icmp_code\":0,"
		"\"alert\":{\"action\":\"blocked\",\"gid\":1,\"signature_id\":2,\"rev\":0,"
		"\"signature\":\"v6\",\"category\":\"\",\"severity\":4}}");
	free(s.eve);
	kn_ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_basic),
		cmocka_unit_test(test_nocase),
		cmocka_unit_test(test_offset_depth),
		cmocka_unit_test(test_distance_within),
		cmocka_unit_test(test_backtracking),
		cmocka_unit_test(test_negation),
		cmocka_unit_test(test_fast_pattern),
		cmocka_unit_test(test_pcre),
		cmocka_unit_test(test_isdataat),
		cmocka_unit_test(test_byte_test),
		cmocka_unit_test(test_byte_jump),
		cmocka_unit_test(test_byte_extract),
		cmocka_unit_test(test_real_shapes),
		cmocka_unit_test(test_dsize),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_icmp_ttl_ip),
		cmocka_unit_test(test_tcp_fields),
		cmocka_unit_test(test_flow),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_prefilter),
		cmocka_unit_test(test_stream_prefilter_differential),
		cmocka_unit_test(test_flowbits),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_two_detectors),
		cmocka_unit_test(test_threshold_window),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_prefilter_many),
		cmocka_unit_test(test_no_ip),
		cmocka_unit_test(test_eve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
