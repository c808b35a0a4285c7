/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The UML command line and jail mounts a configuration turns into, pinned
 * against golden files. Regenerate after an intended change with
 *   SODA_REGENERATE=1 ./unit-cmdline
 * and review the diff.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhelp.h"
#include "backends/uml/cmdline.h"

static char *golden_path(const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/golden/%s", SODA_TEST_SRCDIR, name) < 0)
		return NULL;
	return p;
}

static void check_golden(const char *name, const char *text)
{
	char *path = golden_path(name), *want = NULL;
	size_t len;

	assert_non_null(path);
	if (getenv("SODA_REGENERATE")) {
		assert_int_equal(su_write_file_atomic(path, text, strlen(text), 0644), 0);
		print_message("regenerated %s\n", path);
	}
	if (su_read_file(path, 1 << 20, &want, &len) < 0)
		fail_msg("cannot read golden file %s (regenerate with SODA_REGENERATE=1)", path);
	if (strcmp(want, text) != 0)
		fail_msg("%s differs from the golden file:\n--- want\n%s\n--- got\n%s", name, want,
			 text);
	free(want);
	free(path);
}

static const su_uml_params base_params = {
	.state_dir = "/var/lib/soda",
	.run_dir = "/var/lib/soda/run/web",
	.status_path = "/var/lib/soda/status/web",
	.console_log = "/var/lib/soda/servers/web/console.log",
	.uml_binary = "/usr/bin/linux.uml",
	.image_path = "/var/lib/soda/images/busybox.img",
	.cow_path = "/var/lib/soda/servers/web/disk.cow",
	.cgroup = "soda/1234abcd/web",
	.monitor_cgroup = "soda/1234abcd/_monitors",
	.uid = 1000100001,
	.gid = 1000100001,
	.lpj = 35692544,
};

static char *render(const soda_server_config *cfg, const su_uml_params *p)
{
	su_launch l = { 0 };
	soda_error *err = NULL;
	char *text;

	assert_soda_ok(su_uml_build_launch(&l, cfg, p, &err), err);
	text = su_launch_serialize(&l);
	su_launch_free(&l);
	return text;
}

static void test_minimal(void **state)
{
	char *libs[] = { "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", NULL };
	char *none[] = { NULL };
	soda_server_config *cfg = NULL;
	su_uml_params p = base_params;
	char *text;

	(void)state;
	p.uml_libs = libs;
	p.share_dirs = none;
	p.ifnames = none;
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	text = render(cfg, &p);
	check_golden("minimal.launch", text);
	/* No share: no hostfs in the guest at all. */
	assert_non_null(strstr(text, "initcall_blacklist=raid6_select_algo,init_hostfs\n"));
	assert_null(strstr(text, "/share/"));
	assert_null(strstr(text, "/dev/net/tun"));
	free(text);
	soda_server_config_free(cfg);
}

static void test_full(void **state)
{
	char *libs[] = { "/lib64/ld-linux-x86-64.so.2", NULL };
	char *shares[] = { "/srv/web data", "/srv/static", NULL };
	char *ifnames[] = { "sd1234abcd0a", NULL };
	soda_server_config *cfg = NULL;
	su_uml_params p = base_params;
	char *text;

	(void)state;
	p.uml_libs = libs;
	p.share_dirs = shares;
	p.ifnames = ifnames;
	p.lpj = 0;
	p.netns = "/run/netns/soda-it-1";
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 128ULL << 20, NULL), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/srv/web data", "/var/www", 0, NULL), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/srv/static", "/static",
						      SODA_SHARE_READONLY, NULL),
			 0);
	assert_int_equal(soda_server_config_add_nic(cfg, "lan", "02:00:00:00:00:01", 0, NULL), 0);
	assert_int_equal(soda_server_config_add_nic_address(cfg, 0, "198.51.100.10/24", NULL), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "loglevel=3", NULL), 0);
	text = render(cfg, &p);
	check_golden("full.launch", text);
	/* With shares, hostfs stays; the read-only share is bound read-only. */
	assert_non_null(strstr(text, "initcall_blacklist=raid6_select_algo\n"));
	assert_non_null(strstr(text, "bind-ro /hostfs/share/1:/srv/static\n"));
	assert_non_null(strstr(text, "bind-rw /hostfs/share/0:/srv/web%20data\n"));
	assert_null(strstr(text, "lpj="));
	/* The TAP comes as a descriptor; no /dev/net/tun in the jail. */
	assert_non_null(strstr(text, "arg vec0:transport=fd,fd=8,vec=0,mac=02:00:00:00:00:01\n"));
	assert_null(strstr(text, "/dev/net/tun"));
	/* Without a disk layer's size the limit is the memory file's. */
	assert_non_null(strstr(text, "fsize 134217728\n"));
	assert_null(strstr(text, "fsize-run"));
	free(text);
	soda_server_config_free(cfg);
}

/* The file size limit: the disk layer's full size, with the memory file's
 * size first while that is the larger. */
static void test_fsize(void **state)
{
	char *none[] = { NULL };
	soda_server_config *cfg = NULL;
	su_uml_params p = base_params;
	char *text;

	(void)state;
	p.share_dirs = none;
	p.ifnames = none;
	assert_int_equal(soda_server_config_new(&cfg, "f", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 64ULL << 20, NULL), 0);
	p.cow_max = 200ULL << 20;
	text = render(cfg, &p);
	assert_non_null(strstr(text, "fsize 209715200\n"));
	assert_null(strstr(text, "fsize-run"));
	free(text);
	p.cow_max = 25182208;
	text = render(cfg, &p);
	assert_non_null(strstr(text, "fsize 67108864\nfsize-run 25182208\n"));
	free(text);
	soda_server_config_free(cfg);
}

static void test_blackbox(void **state)
{
	char *none[] = { NULL };
	soda_server_config *cfg = NULL, *back = NULL;
	su_uml_params p = base_params;
	uint8_t box[32], got[32];
	char *text, *record;
	su_launch l = { 0 };
	soda_error *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(box); i++)
		box[i] = (uint8_t)(0xa0 + i);
	p.share_dirs = none;
	p.ifnames = none;
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	assert_int_equal(soda_server_config_set_blackbox(cfg, box, NULL, NULL), 0);
	/* A blackbox needs its store's directory. */
	assert_int_equal(su_uml_build_launch(&l, cfg, &p, &err), -EINVAL);
	soda_error_free(err);
	p.blackbox_dir = "/var/lib/soda/blackbox/web";
	text = render(cfg, &p);
	check_golden("blackbox.launch", text);
	/* The write-only line on fd 5, the key for the guest's agent. */
	assert_non_null(strstr(text, "arg ssl1=null,fd:5\n"));
	assert_non_null(strstr(text, "arg soda.blackbox=a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"
				     "b8b9babbbcbdbebf\n"));
	/* The launch spec round-trips the store and key. */
	assert_int_equal(su_launch_parse(&l, text, strlen(text), "test", &err), 0);
	assert_string_equal(l.blackbox_dir, "/var/lib/soda/blackbox/web");
	assert_int_equal(strlen(l.blackbox_key), 64);
	su_launch_free(&l);
	/* So does the server record. */
	record = su_config_serialize(cfg);
	assert_non_null(record);
	assert_soda_ok(su_config_parse(&back, record, strlen(record), "record", &err), err);
	assert_int_equal(soda_server_config_get_blackbox(back, got), 1);
	assert_memory_equal(got, box, 32);
	free(record);
	free(text);
	soda_server_config_free(back);
	soda_server_config_free(cfg);
}

/* Kernort's rules for the guest (agent_ids.h): bound read-only into the
 * jail, a read-only block device, soda.ids for the agent, the landlord's
 * consent in the spec (the monitor's word, not the guest's); the record
 * keeps the text and its digest; without a blackbox, refused. */
static void test_ids_rules(void **state)
{
	static const char rules[] = "alert exec any any -> any any (exec.path; content:\"x\"; "
				    "sid:1;)\n# a second line\n";
	char *none[] = { NULL };
	soda_server_config *cfg = NULL, *back = NULL;
	su_uml_params p = base_params;
	uint8_t box[32] = { 1 };
	char *text, *record;
	su_launch l = { 0 };
	soda_error *err = NULL;

	(void)state;
	p.share_dirs = none;
	p.ifnames = none;
	p.ids_rules_path = "/var/lib/soda/run/web/ids.rules";
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	cfg->ids_rules = strdup(rules);
	memset(cfg->ids_rules_sha256, 'a', 64);
	assert_int_equal(su_uml_build_launch(&l, cfg, &p, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "blackbox"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_server_config_set_blackbox(cfg, box, NULL, NULL), 0);
	p.blackbox_dir = "/var/lib/soda/blackbox/web";
	text = render(cfg, &p);
	assert_non_null(strstr(text, "\nbind-ro /disk/ids.rules:/var/lib/soda/run/web/ids.rules\n"));
	assert_non_null(strstr(text, "\narg ubd1r=disk/ids.rules\n"));
	assert_non_null(strstr(text, "\narg soda.ids=ubdb\n"));
	assert_null(strstr(text, "ids-landlord"));
	free(text);
	assert_int_equal(soda_server_config_set_ids_landlord_alerts(cfg, 1, NULL), 0);
	text = render(cfg, &p);
	assert_non_null(strstr(text, "\narg soda.ids=ubdb,landlord\n"));
	assert_int_equal(su_launch_parse(&l, text, strlen(text), "test", &err), 0);
	assert_true(l.ids_landlord);
	su_launch_free(&l);
	free(text);
	record = su_config_serialize(cfg);
	assert_non_null(record);
	assert_soda_ok(su_config_parse(&back, record, strlen(record), "record", &err), err);
	assert_string_equal(back->ids_rules, rules);
	assert_string_equal(soda_server_config_get_ids_rules_sha256(back), cfg->ids_rules_sha256);
	free(record);
	soda_server_config_free(back);
	/* no rules: no device, no soda.ids */
	p.ids_rules_path = NULL;
	text = render(cfg, &p);
	assert_null(strstr(text, "ubd1r="));
	assert_null(strstr(text, "soda.ids="));
	free(text);
	soda_server_config_free(cfg);
}

/* The FPU-state shim: bound read-only into the jail and named in the spec,
 * which round-trips it; a relative path is refused on parse. */
static void test_preload(void **state)
{
	char *none[] = { NULL };
	soda_server_config *cfg = NULL;
	su_uml_params p = base_params;
	su_launch l = { 0 };
	soda_error *err = NULL;
	char *text, *bad;

	(void)state;
	p.share_dirs = none;
	p.ifnames = none;
	p.uml_preload = "/usr/libexec/soda-uml-xstate.so";
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	text = render(cfg, &p);
	assert_non_null(strstr(text, "bind-ro /soda/uml-xstate.so:/usr/libexec/soda-uml-xstate.so\n"));
	assert_non_null(strstr(text, "preload /soda/uml-xstate.so\n"));
	assert_int_equal(su_launch_parse(&l, text, strlen(text), "test", &err), 0);
	assert_string_equal(l.preload, "/soda/uml-xstate.so");
	su_launch_free(&l);
	bad = strdup(text);
	assert_non_null(bad);
	memcpy(strstr(bad, "preload /soda") + 8, "xsoda", 5);
	assert_int_equal(su_launch_parse(&l, bad, strlen(bad), "test", &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "preload must be an absolute path"));
	soda_error_free(err);
	/* Without one, nothing of it appears. */
	free(text);
	p.uml_preload = NULL;
	text = render(cfg, &p);
	assert_null(strstr(text, "preload"));
	assert_null(strstr(text, "uml-xstate"));
	free(bad);
	free(text);
	soda_server_config_free(cfg);
}

/* The uml backend's own rules (its driver's validate(), called by the core
 * at define, and on the records it reads back): the kernel arguments it
 * sets itself, its share of UML's command line, the backstop's room for
 * linux.uml. The core's setters let all of these through. */
static void test_uml_rules(void **state)
{
	static const char *const reserved[] = { "mem=1G", "root=/dev/sda", "init=/bin/sh", "rw",
						"ubd1=/etc/passwd", "umid=x", "con0=fd:0",
						"ssl1=fd:2", "eth0=tuntap,,", "hostfs=/",
						"initcall_blacklist=x", "soda.share=0,/x,rw",
						"uml_dir=/", "hostname=x" };
	soda_server_config *cfg = NULL;
	soda_shares *sh = NULL;
	soda_error *err = NULL;
	char word[201];

	(void)state;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		assert_int_equal(soda_server_config_new(&cfg, "k", NULL), 0);
		assert_int_equal(soda_server_config_add_kernel_arg(cfg, "loglevel=4", NULL), 0);
		assert_int_equal(soda_server_config_add_kernel_arg(cfg, reserved[i], NULL), 0);
		assert_int_equal(su_uml_validate(cfg, &err), -EINVAL);
		if (!strstr(soda_error_message(err), "set by libsoda") ||
		    !strstr(soda_error_message(err), reserved[i]))
			fail_msg("%s: '%s'", reserved[i], soda_error_message(err));
		soda_error_free(err);
		err = NULL;
		soda_server_config_free(cfg);
	}
	/* "ro" and "rw" are reserved only as whole words, "root=" as a prefix. */
	assert_int_equal(soda_server_config_new(&cfg, "k", NULL), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "rootdelay=1", NULL), 0);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, "robust=1", NULL), 0);
	assert_soda_ok(su_uml_validate(cfg, &err), err);
	soda_server_config_free(cfg);
	/* 2048 bytes of the command line: ten words of 200 and a space fit
	 * (2010), an eleventh does not. */
	memset(word, 'w', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	assert_int_equal(soda_server_config_new(&cfg, "k", NULL), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(soda_server_config_add_kernel_arg(cfg, word, NULL), 0);
	assert_soda_ok(su_uml_validate(cfg, &err), err);
	assert_int_equal(soda_server_config_add_kernel_arg(cfg, word, NULL), 0);
	assert_int_equal(su_uml_validate(cfg, &err), -E2BIG);
	assert_non_null(strstr(soda_error_message(err), "2048 bytes"));
	soda_error_free(err);
	err = NULL;
	soda_server_config_free(cfg);
	/* The backstop: 130 MiB over a 128 MiB guest passes the core, not uml. */
	assert_int_equal(soda_server_config_new(&cfg, "m", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 128ULL << 20, NULL), 0);
	assert_int_equal(soda_shares_new(&sh, NULL), 0);
	assert_int_equal(soda_shares_set_memory_max(sh, 130ULL << 20, NULL), 0);
	assert_int_equal(soda_server_config_set_shares(cfg, sh, NULL), 0);
	assert_int_equal(su_uml_validate(cfg, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "for linux.uml itself"));
	soda_error_free(err);
	err = NULL;
	assert_int_equal(soda_shares_set_memory_max(sh, (128ULL + 16) << 20, NULL), 0);
	assert_int_equal(soda_server_config_set_shares(cfg, sh, NULL), 0);
	assert_soda_ok(su_uml_validate(cfg, &err), err);
	soda_shares_free(sh);
	soda_server_config_free(cfg);
}

/* uml's records are checked by the same rules when read back: a record
 * with a reserved word is refused, naming it. */
static void test_uml_rules_on_records(void **state)
{
	static const char rec[] = "soda-server 1\nname r\nimage busybox\nmemory 67108864\n"
				  "kernel-arg init=/bin/sh\n";
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;

	(void)state;
	/* the core's parser takes it (the word is well-formed) ... */
	assert_soda_ok(su_config_parse(&cfg, rec, strlen(rec), "rec", &err), err);
	/* ... uml's rules do not */
	assert_int_equal(su_uml_validate(cfg, &err), -EINVAL);
	assert_non_null(strstr(soda_error_message(err), "init=/bin/sh"));
	soda_error_free(err);
	soda_server_config_free(cfg);
}

static void test_mismatch(void **state)
{
	char *none[] = { NULL };
	soda_server_config *cfg = NULL;
	su_uml_params p = base_params;
	su_launch l = { 0 };
	soda_error *err = NULL;

	(void)state;
	p.share_dirs = none;
	p.ifnames = none;
	assert_int_equal(soda_server_config_new(&cfg, "web", NULL), 0);
	assert_int_equal(soda_server_config_add_share(cfg, "/a", "/b", 0, NULL), 0);
	assert_soda_fails(su_uml_build_launch(&l, cfg, &p, &err), -EINVAL, err);
	soda_server_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_fsize),
		cmocka_unit_test(test_blackbox),
		cmocka_unit_test(test_ids_rules),
		cmocka_unit_test(test_preload),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_uml_rules),
		cmocka_unit_test(test_uml_rules_on_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
