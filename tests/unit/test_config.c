/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configuration validation and its record format. */
#include <string.h>
#include <stdlib.h>

#include "testhelp.h"
#include "libsoda/config.h"

static void expect_bad_name(const char *name, const char *needle)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;

	assert_int_equal(soda_server_config_new(&cfg, name, &err), -EINVAL);
	assert_null(cfg);
	assert_non_null(err);
	if (needle && !strstr(soda_error_message(err), needle))
		fail_msg("message '%s' lacks '%s'", soda_error_message(err), needle);
	soda_error_free(err);
}

static void test_names(void **state)
{
	char long_name[SODA_NAME_MAX + 2];
	soda_server_config *cfg = NULL;

	(void)state;
	expect_bad_name("", "empty");
	expect_bad_name(NULL, "missing");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	expect_bad_name(long_name, "64 bytes");
	expect_bad_name("/", "'/'");
	expect_bad_name("a/b", "'/' at position 2");
	expect_bad_name("..", "start with a letter");
	expect_bad_name(".", "start with a letter");
	expect_bad_name("-x", "start with a letter");
	expect_bad_name("web\n1", "control byte 0x0a at position 4");
	expect_bad_name("web\x01", "control byte 0x01");
	expect_bad_name("caf\xc3\xa9", "byte 0xc3");
	expect_bad_name("a b", "' '");
	long_name[SODA_NAME_MAX] = '\0';
	assert_int_equal(soda_server_config_new(&cfg, long_name, NULL), 0);
	soda_server_config_free(cfg);
	assert_int_equal(soda_server_config_new(&cfg, "web-1.example_A", NULL), 0);
	assert_string_equal(soda_server_config_get_name(cfg), "web-1.example_A");
	assert_string_equal(soda_server_config_get_image(cfg), "busybox");
	assert_int_equal(soda_server_config_get_memory(cfg), SODA_MEMORY_DEFAULT);
	soda_server_config_free(cfg);
}

static void test_memory(void **state)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "m", NULL), 0);
	assert_soda_fails(soda_server_config_set_memory(cfg, SODA_MEMORY_MIN - (1 << 20), &err),
			  -EINVAL, err);
	assert_soda_fails(soda_server_config_set_memory(cfg, 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_set_memory(cfg, SODA_MEMORY_MIN + 1, &err), -EINVAL,
			  err);
	assert_soda_fails(soda_server_config_set_memory(cfg, UINT64_MAX & ~((1ULL << 20) - 1), &err),
			  -EINVAL, err);
	/* Failures leave the old value. */
	assert_int_equal(soda_server_config_get_memory(cfg), SODA_MEMORY_DEFAULT);
	assert_int_equal(soda_server_config_set_memory(cfg, SODA_MEMORY_MIN, NULL), 0);
	assert_int_equal(soda_server_config_get_memory(cfg), SODA_MEMORY_MIN);
	assert_int_equal(soda_memory_min(), SODA_MEMORY_MIN);
	soda_server_config_free(cfg);
}

/* The core checks each word's form and the count; the words a backend
 * reserves are its own rules, checked at define (test_cmdline.c has uml's):
 * the core lets "mem=1G" through to them. */
static void test_kernel_args(void **state)
{
	char big[258]; /* 257 bytes: one too many */
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "k", NULL), 0);
	assert_soda_fails(soda_server_config_add_kernel_arg(cfg, "a b", &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_kernel_arg(cfg, "x=\"y\"", &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_kernel_arg(cfg, "", &err), -EINVAL, err);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_soda_fails(soda_server_config_add_kernel_arg(cfg, big, &err), -EINVAL, err);
	assert_int_equal(soda_server_config_get_kernel_arg_count(cfg), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "loglevel=4", NULL), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "rootdelay=1", NULL), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "mem=1G", NULL), 0);
	assert_int_equal(soda_server_config_get_kernel_arg_count(cfg), 3);
	assert_string_equal(soda_server_config_get_kernel_arg(cfg, 2), "mem=1G");
	assert_null(soda_server_config_get_kernel_arg(cfg, 3));
	for (size_t i = 3; i < SODA_KERNEL_ARGS_MAX; i++)
		assert_int_equal(soda_server_config_add_kernel_arg(cfg, "quiet", NULL), 0);
	assert_soda_fails(soda_server_config_add_kernel_arg(cfg, "quiet", &err), -E2BIG, err);
	soda_server_config_free(cfg);
}

/* Sensitive host paths are refused by name, with a message naming them;
 * SODA_SHARE_ALLOW_SENSITIVE lets one through, and the record keeps it. */
static void test_sensitive_shares(void **state)
{
	static const char *const bad[] = { "/",        "/proc",     "/proc/1/root", "/sys",
					   "/sys/fs", "/dev",      "/dev/shm",     "/boot",
					   "/etc",    "/etc/ssh", "/root",     "/root/.ssh" };
	soda_server_config *cfg = NULL, *back = NULL;
	soda_error *err = NULL;
	char *text;

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "s", NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = soda_server_config_add_share(cfg, bad[i], "/mnt", 0, &err);

		if (r != -EPERM)
			fail_msg("share of %s: %d, not -EPERM", bad[i], r);
		assert_non_null(strstr(soda_error_message(err), bad[i]));
		assert_non_null(strstr(soda_error_message(err), "sensitive"));
		soda_error_free(err);
		err = NULL;
	}
	/* Near misses are fine. */
	assert_int_equal(soda_server_config_add_share(cfg, "/etcetera", "/a", 0, NULL), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/srv/proc", "/b", 0, NULL), 0);
	/* On purpose. */
	assert_int_equal(soda_server_config_add_share(cfg, "/etc", "/hostetc",
						      SODA_SHARE_READONLY | SODA_SHARE_ALLOW_SENSITIVE,
						      NULL),
			 0);
	/* The state directory: itself, its parents and the library's own
	 * files in it; a directory of the user's beside them is fine. */
	assert_int_equal(su_share_check_host_dir("/var/lib/soda", "/var/lib/soda", 0, &err), -EPERM);
	assert_non_null(strstr(soda_error_message(err), "/var/lib/soda"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(su_share_check_host_dir("/var/lib", "/var/lib/soda", 0, NULL), -EPERM);
	assert_int_equal(su_share_check_host_dir("/var", "/var/lib/soda/", 0, NULL), -EPERM);
	assert_int_equal(su_share_check_host_dir("/var/lib/soda/servers/x", "/var/lib/soda", 0,
						 NULL),
			 -EPERM);
	assert_int_equal(su_share_check_host_dir("/var/lib/soda/blackbox", "/var/lib/soda", 0,
						 NULL),
			 -EPERM);
	assert_int_equal(su_share_check_host_dir("/var/lib/soda/site", "/var/lib/soda", 0, NULL),
			 0);
	assert_int_equal(su_share_check_host_dir("/var/lib/sodas", "/var/lib/soda", 0, NULL), 0);
	assert_int_equal(su_share_check_host_dir("/var/lib", "/var/lib/soda",
						 SODA_SHARE_ALLOW_SENSITIVE, NULL),
			 0);
	/* The whole configuration, as define checks it. */
	assert_int_equal(su_config_check_shares(cfg, "/var/lib/soda", NULL), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/var/lib/soda/images", "/c", 0, NULL),
			 0);
	assert_int_equal(su_config_check_shares(cfg, "/var/lib/soda", &err), -EPERM);
	assert_non_null(strstr(soda_error_message(err), "share 3"));
	soda_error_free(err);
	err = NULL;
	/* The record keeps the flag; a record cannot smuggle an unflagged one. */
	text = su_config_serialize(cfg);
	assert_non_null(strstr(text, "share ro+sensitive:/hostetc:/etc\n"));
	assert_soda_ok(su_config_parse(&back, text, strlen(text), "t", &err), err);
	assert_int_equal(soda_server_config_get_share_count(back), 4);
	soda_server_config_free(back);
	back = NULL;
	free(text);
	text = strdup("soda-server 1\nname s\nimage busybox\nmemory 67108864\n"
		      "share rw:/mnt:/etc\n");
	assert_int_not_equal(su_config_parse(&back, text, strlen(text), "t", &err), 0);
	assert_non_null(strstr(soda_error_message(err), "/etc"));
	soda_error_free(err);
	free(text);
	soda_server_config_free(cfg);
}

static void test_shares(void **state)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;
	const char *h, *g;
	unsigned f;

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "s", NULL), 0);
	assert_soda_fails(soda_server_config_add_share(cfg, "relative", "/mnt", 0, &err), -EINVAL,
			  err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a/../etc", "/mnt", 0, &err), -EINVAL,
			  err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a//b", "/mnt", 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a/", "/mnt", 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a", "/", 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a", "/m nt", 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a", "/m,nt", 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a\n", "/mnt", 0, &err), -EINVAL, err);
	assert_soda_fails(soda_server_config_add_share(cfg, "/a", "/mnt", 0x80, &err), -EINVAL, err);
	assert_int_equal(soda_server_config_get_share_count(cfg), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/srv/with space", "/mnt/data",
						      SODA_SHARE_READONLY, NULL),
			 0);
	assert_soda_fails(soda_server_config_add_share(cfg, "/b", "/mnt/data", 0, &err), -EEXIST,
			  err);
	assert_int_equal(soda_server_config_get_share(cfg, 0, &h, &g, &f), 0);
	assert_string_equal(h, "/srv/with space");
	assert_string_equal(g, "/mnt/data");
	assert_int_equal(f, SODA_SHARE_READONLY);
	assert_int_equal(soda_server_config_get_share(cfg, 1, &h, &g, &f), -ENOENT);
	soda_server_config_free(cfg);
}

static void test_nics(void **state)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;
	const char *net, *mac;

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "n", NULL), 0);
	assert_soda_fails(soda_server_config_add_nic(cfg, "lan", "01:00:5e:00:00:01", 0, &err),
			  -EINVAL, err); /* multicast */
	assert_soda_fails(soda_server_config_add_nic(cfg, "lan", "00:00:00:00:00:00", 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_server_config_add_nic(cfg, "lan", "02:00:00:00:00", 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_server_config_add_nic(cfg, "lan", "02:00:00:00:00:0g", 0, &err),
			  -EINVAL, err);
	assert_soda_fails(soda_server_config_add_nic(cfg, "bad/net", NULL, 0, &err), -EINVAL, err);
	assert_int_equal(soda_server_config_add_nic(cfg, "lan", NULL, 0, NULL), 0);
	assert_int_equal(soda_server_config_add_nic(cfg, "lan", "02:AA:bb:cc:dd:ee", 0, NULL), 0);
	assert_soda_fails(soda_server_config_add_nic(cfg, "wan", "02:aa:BB:cc:dd:ee", 0, &err),
			  -EEXIST, err);
	assert_int_equal(soda_server_config_get_nic(cfg, 0, &net, &mac), 0);
	assert_string_equal(net, "lan");
	/* Derived MACs are stable and locally administered unicast. */
	assert_int_equal(strncmp(mac, "02:", 3), 0);
	{
		char again[18];

		su_derive_mac("n", 0, again);
		assert_string_equal(mac, again);
		su_derive_mac("n", 1, again);
		assert_string_not_equal(mac, again);
	}
	assert_int_equal(soda_server_config_get_nic(cfg, 1, &net, &mac), 0);
	assert_string_equal(mac, "02:aa:bb:cc:dd:ee");
	/* Addresses. */
	assert_soda_fails(soda_server_config_add_nic_address(cfg, 2, "198.51.100.2/24", &err),
			  -ENOENT, err);
	assert_soda_fails(soda_server_config_add_nic_address(cfg, 0, "198.51.100.2", &err),
			  -EINVAL, err);
	assert_soda_fails(soda_server_config_add_nic_address(cfg, 0, "198.51.100.256/24", &err),
			  -EINVAL, err);
	assert_soda_fails(soda_server_config_add_nic_address(cfg, 0, "198.51.100.2/33", &err),
			  -EINVAL, err);
	assert_soda_fails(soda_server_config_add_nic_address(cfg, 0, "224.0.0.1/4", &err),
			  -EINVAL, err);
	assert_int_equal(soda_server_config_add_nic_address(cfg, 0, "198.51.100.2/24", NULL), 0);
	assert_int_equal(soda_server_config_add_nic_address(cfg, 0, "2001:DB8:0::2/64", NULL), 0);
	assert_soda_fails(soda_server_config_add_nic_address(cfg, 1, "198.51.100.2/25", &err),
			  -EEXIST, err);
	assert_string_equal(soda_server_config_get_nic_address(cfg, 0, 1), "2001:db8::2/64");
	assert_int_equal(soda_server_config_get_nic_address_count(cfg, 0), 2);
	/* Labels. */
	assert_int_equal(soda_server_config_add_label(cfg, "web", NULL), 0);
	assert_soda_fails(soda_server_config_add_label(cfg, "web", &err), -EEXIST, err);
	assert_soda_fails(soda_server_config_add_label(cfg, "a b", &err), -EINVAL, err);
	assert_int_equal(soda_server_config_get_label_count(cfg), 1);
	soda_server_config_free(cfg);
}

static soda_server_config *full_config(void)
{
	soda_server_config *cfg = NULL;

	assert_int_equal(soda_server_config_new(&cfg, "full", NULL), 0);
	assert_int_equal(soda_server_config_set_image(cfg, "img-2", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 96ULL << 20, NULL), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "loglevel=3", NULL), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/srv/a b%c:d", "/data", 0, NULL), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/srv/ro", "/ro", SODA_SHARE_READONLY,
						      NULL),
			 0);
	assert_int_equal(soda_server_config_add_nic(cfg, "lan", NULL, 0, NULL), 0);
	assert_int_equal(soda_server_config_add_nic_address(cfg, 0, "203.0.113.9/24", NULL), 0);
	assert_int_equal(soda_server_config_add_label(cfg, "db", NULL), 0);
	return cfg;
}

static void test_round_trip(void **state)
{
	soda_server_config *cfg = full_config(), *back = NULL, *copy = NULL;
	char *text = su_config_serialize(cfg), *again;
	soda_error *err = NULL;

	(void)state;
	assert_non_null(text);
	assert_soda_ok(su_config_parse(&back, text, strlen(text), "t", &err), err);
	again = su_config_serialize(back);
	assert_string_equal(text, again);
	assert_int_equal(soda_server_config_copy(&copy, back, NULL), 0);
	free(again);
	again = su_config_serialize(copy);
	assert_string_equal(text, again);
	/* The odd bytes of the share path survive the escaping. */
	{
		const char *h;

		assert_int_equal(soda_server_config_get_share(copy, 0, &h, NULL, NULL), 0);
		assert_string_equal(h, "/srv/a b%c:d");
	}
	free(text);
	free(again);
	soda_server_config_free(cfg);
	soda_server_config_free(back);
	soda_server_config_free(copy);
}

static void expect_parse_error(const char *text, uint32_t line, const char *needle)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;

	assert_true(su_config_parse(&cfg, text, strlen(text), "cfgfile", &err) < 0);
	assert_null(cfg);
	assert_non_null(err);
	if (soda_error_line(err) != line)
		fail_msg("line %u, expected %u: %s", soda_error_line(err), line,
			 soda_error_message(err));
	if (needle && !strstr(soda_error_message(err), needle))
		fail_msg("message '%s' lacks '%s'", soda_error_message(err), needle);
	if (line)
		assert_string_equal(soda_error_source(err), "cfgfile");
	soda_error_free(err);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse_error("", 1, "empty");
	expect_parse_error("garbage\n", 1, "not a 'soda-server' file");
	expect_parse_error("soda-server 9\n", 1, "unsupported");
	expect_parse_error("soda-server 1\nname a\nimage b\nmemory 67108864", 4, "not terminated");
	expect_parse_error("soda-server 1\nname a\nimage b\n", 0, "lacks 'memory'");
	expect_parse_error("soda-server 1\nname a\nname b\n", 3, "given twice");
	expect_parse_error("soda-server 1\nname a/b\n", 2, "'/'");
	expect_parse_error("soda-server 1\nname a\nimage b\nmemory 1\n", 4, "below");
	expect_parse_error("soda-server 1\nname a\nbogus x\n", 3, "unknown key");
	expect_parse_error("soda-server 1\nname a%zz\n", 2, "escape");
	expect_parse_error("soda-server 1\nname a\nimage b\nmemory 67108864\nshare xx\n", 5,
			   "ro|rw");
	expect_parse_error("soda-server 1\nName a\n", 2, "bad character");
	expect_parse_error("soda-server 1\nname a\x80\n", 2, "non-ASCII");
}

/* @cfg's text, which holds the line @line ("\nKEY VALUE\n") or, for
 * @absent, no KEY at all; parsed back. */
static soda_server_config *reparse(const soda_server_config *cfg, const char *line,
				   const char *absent)
{
	soda_server_config *back = NULL;
	soda_error *err = NULL;
	char *text = su_config_serialize(cfg);

	assert_non_null(text);
	if (line)
		assert_non_null(strstr(text, line));
	if (absent)
		assert_null(strstr(text, absent));
	assert_soda_ok(su_config_parse(&back, text, strlen(text), "t", &err), err);
	free(text);
	return back;
}

/* The guest's profile: locked unless set, written only when open, read
 * back; a bad or repeated value names its line. */
static void test_guest_profile(void **state)
{
	static const char base[] = "soda-server 1\nname a\nimage b\nmemory 67108864\n";
	soda_server_config *cfg = NULL, *back = NULL;
	char bad[160];

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	soda_server_config_free(reparse(cfg, NULL, "guest-profile"));
	assert_int_equal(soda_server_config_set_guest_profile(cfg, SODA_GUEST_PROFILE_OPEN, NULL), 0);
	back = reparse(cfg, "\nguest-profile open\n", NULL);
	assert_int_equal(soda_server_config_get_guest_profile(back), SODA_GUEST_PROFILE_OPEN);
	soda_server_config_free(back);
	soda_server_config_free(cfg);
	snprintf(bad, sizeof(bad), "%sguest-profile wide-open\n", base);
	expect_parse_error(bad, 5, "'wide-open' is neither 'locked' nor 'open'");
	snprintf(bad, sizeof(bad), "%sguest-profile open\nguest-profile locked\n", base);
	expect_parse_error(bad, 6, "given twice");
}

/* The port IDS's response: dump N is written and read back as dump (not
 * as freeze); a bad response or priority names its line. */
static void test_ids_response(void **state)
{
	static const char base[] = "soda-server 1\nname a\nimage b\nmemory 67108864\n";
	soda_server_config *cfg = NULL, *back = NULL;
	soda_error *err = NULL;
	uint32_t resp = 0, prio = 0;
	char *text, bad[160];

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	assert_int_equal(soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_DUMP, 3, NULL),
			 0);
	text = su_config_serialize(cfg);
	assert_non_null(strstr(text, "\nids-response dump%203\n"));
	assert_soda_ok(su_config_parse(&back, text, strlen(text), "t", &err), err);
	assert_int_equal(soda_server_config_get_ids_response(back, &resp, &prio), 0);
	assert_int_equal(resp, SODA_IDS_RESPONSE_DUMP);
	assert_int_equal(prio, 3);
	free(text);
	soda_server_config_free(back);
	back = NULL;
	assert_int_equal(soda_server_config_set_ids_response(cfg, SODA_IDS_RESPONSE_FREEZE, 2, NULL),
			 0);
	text = su_config_serialize(cfg);
	assert_soda_ok(su_config_parse(&back, text, strlen(text), "t", &err), err);
	assert_int_equal(soda_server_config_get_ids_response(back, &resp, &prio), 0);
	assert_int_equal(resp, SODA_IDS_RESPONSE_FREEZE);
	assert_int_equal(prio, 2);
	free(text);
	soda_server_config_free(back);
	soda_server_config_free(cfg);
	static const char *const bads[] = { "dump%200", "dump%20256", "dump", "dump%201x",
					    "explode%201", "freeze%200" };
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		snprintf(bad, sizeof(bad), "%sids-response %s\n", base, bads[i]);
		expect_parse_error(bad, 5, "is not 'freeze PRIORITY' or 'dump PRIORITY'");
	}
}

/* The port IDS's bypass depth: written only when set, read back, and a
 * bad value names its line. */
static void test_ids_bypass(void **state)
{
	static const char base[] = "soda-server 1\nname a\nimage b\nmemory 67108864\n";
	soda_server_config *cfg = NULL, *back = NULL;
	char bad[160];

	(void)state;
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	soda_server_config_free(reparse(cfg, NULL, "ids-bypass-depth"));
	assert_int_equal(soda_server_config_set_ids_bypass(cfg, 1048576, NULL), 0);
	back = reparse(cfg, "\nids-bypass-depth 1048576\n", NULL);
	assert_int_equal(soda_server_config_get_ids_bypass(back), 1048576);
	soda_server_config_free(back);
	soda_server_config_free(cfg);
	static const char *const bads[] = { "4095", "1099511627777", "x", "-1", "" };
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		snprintf(bad, sizeof(bad), "%sids-bypass-depth %s\n", base, bads[i]);
		expect_parse_error(bad, 5, "ids-bypass-depth");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),        cmocka_unit_test(test_memory),
		cmocka_unit_test(test_kernel_args),  cmocka_unit_test(test_shares),
		cmocka_unit_test(test_sensitive_shares),
		cmocka_unit_test(test_nics),         cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_guest_profile),
		cmocka_unit_test(test_ids_response), cmocka_unit_test(test_ids_bypass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
