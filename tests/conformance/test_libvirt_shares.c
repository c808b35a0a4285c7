/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend's shares and dump (libvirt+test:///default; the test
 * driver's node has 8 CPUs, its domains run nothing):
 *
 *   - cpus pins every vCPU and the emulator of a running server (read back
 *     from libvirt: virDomainGetVcpuPinInfo, virDomainGetEmulatorPinInfo;
 *     the test driver pins no vCPU of a shut-off domain); shares without
 *     cpus unpin;
 *   - pids is refused with -EOPNOTSUPP and a message that says why;
 *   - bandwidth on a server that does not run is -EBUSY (it goes on the
 *     running server's TAPs; it-qemu-shares measures it);
 *   - dump makes DIR: domain.xml and a manifest; no disk (the test driver
 *     boots no image) and no memory (it has no memory-only core dump; the
 *     QEMU guest's are in it-qemu-shares); an existing DIR is -EEXIST.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "testhelp.h"

#define NODE_CPUS 8 /* the test driver's node */

static soda_context *ctx;
static soda_server *srv;
static soda_error *err;

static int setup(void **state)
{
	soda_server_config *cfg = NULL;

	(void)state;
	if (soda_context_open(&ctx, "libvirt+test:///default", NULL, 0, &err) < 0 ||
	    soda_server_config_new(&cfg, "cfshares", &err) < 0 ||
	    soda_server_define(&srv, ctx, cfg, 0, &err) < 0) {
		print_error("setup: %s\n", soda_error_message(err));
		return -1;
	}
	soda_server_config_free(cfg);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	soda_server_kill(srv, 0, NULL);
	soda_server_undefine(srv, 0, NULL);
	soda_server_unref(srv);
	soda_context_unref(ctx);
	soda_error_free(err);
	err = NULL;
	return 0;
}

static int set_shares(const char *text)
{
	soda_shares *sh = NULL;
	int r;

	soda_error_free(err);
	err = NULL;
	assert_soda_ok(soda_shares_parse(&sh, text, &err), err);
	r = soda_server_set_shares(srv, sh, 0, &err);
	soda_shares_free(sh);
	return r;
}

/* The CPUs of vCPU 0 and of the emulator as bit masks, live or config. */
static void pins(unsigned int flags, unsigned *vcpu0, unsigned *emulator)
{
	virConnectPtr conn = virConnectOpen("test:///default");
	virDomainPtr dom;
	unsigned char maps[4 * VIR_CPU_MAPLEN(NODE_CPUS)] = { 0 }, emap[VIR_CPU_MAPLEN(NODE_CPUS)];

	assert_non_null(conn);
	dom = virDomainLookupByName(conn, "cfshares");
	assert_non_null(dom);
	assert_true(virDomainGetVcpuPinInfo(dom, 4, maps, VIR_CPU_MAPLEN(NODE_CPUS), flags) >= 1);
	assert_true(virDomainGetEmulatorPinInfo(dom, emap, VIR_CPU_MAPLEN(NODE_CPUS), flags) >= 0);
	*vcpu0 = maps[0];
	*emulator = emap[0];
	virDomainFree(dom);
	virConnectClose(conn);
}

static unsigned node_online(void)
{
	virConnectPtr conn = virConnectOpen("test:///default");
	unsigned char *map = NULL;
	unsigned m;

	assert_non_null(conn);
	assert_true(virNodeGetCPUMap(conn, &map, NULL, 0) > 0);
	m = map[0];
	free(map);
	virConnectClose(conn);
	assert_int_not_equal(m, 0xff); /* so that "unpinned" differs from "all" */
	return m;
}

static void test_cpus(void **state)
{
	unsigned v, e;
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	/* (the test driver pins no vCPU of a shut-off domain: -EBUSY) */
	assert_soda_ok(soda_server_start(srv, 0, &err), err);
	assert_soda_ok(set_shares("cpus=0"), err);
	pins(VIR_DOMAIN_AFFECT_LIVE, &v, &e);
	assert_int_equal(v, 0x1);
	assert_int_equal(e, 0x1);
	if (online >= 2) {
		assert_soda_ok(set_shares("cpus=1"), err);
		pins(VIR_DOMAIN_AFFECT_LIVE, &v, &e);
		assert_int_equal(v, 0x2);
		assert_int_equal(e, 0x2);
		assert_soda_ok(set_shares("cpus=0-1"), err);
		pins(VIR_DOMAIN_AFFECT_LIVE, &v, &e);
		assert_int_equal(v, 0x3);
		assert_int_equal(e, 0x3);
	}
	/* no cpus: every online CPU of the node (the test driver's are 0, 2
	 * and 4) */
	assert_soda_ok(set_shares("cpu.weight=200"), err);
	pins(VIR_DOMAIN_AFFECT_LIVE, &v, &e);
	assert_int_equal(v, node_online());
	assert_int_equal(e, node_online());
}

static void test_pids_refused(void **state)
{
	(void)state;
	assert_int_equal(set_shares("pids.max=64"), -EOPNOTSUPP);
	print_message("pids: %s\n", soda_error_message(err));
	assert_non_null(strstr(soda_error_message(err), "no pids share"));
	assert_non_null(strstr(soda_error_message(err), "inside QEMU"));
}

static void test_bandwidth_needs_running(void **state)
{
	(void)state;
	assert_int_equal(set_shares("net.out=20Mbit"), -EBUSY);
	assert_non_null(strstr(soda_error_message(err), "not running"));
	assert_int_equal(set_shares("net.in=20Mbit"), -EBUSY);
}

static bool file_has(const char *path, const char *text)
{
	char *s = th_read_file(path);
	bool yes = s && strstr(s, text);

	free(s);
	return yes;
}

static void test_dump(void **state)
{
	char dir[] = "/tmp/soda-cfdump-XXXXXX", sub[64], p[96];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_soda_ok(soda_server_start(srv, 0, &err), err);
	assert_soda_ok(soda_server_dump(srv, sub, 0, &err), err);
	snprintf(p, sizeof(p), "%s/domain.xml", sub);
	assert_true(file_has(p, "<name>cfshares</name>"));
	snprintf(p, sizeof(p), "%s/manifest", sub);
	assert_true(file_has(p, "soda-dump 1\nserver cfshares\n"));
	assert_true(file_has(p, "\nstate running\n"));
	assert_false(file_has(p, "\nmemory "));
	assert_false(file_has(p, "\ndisk "));
	snprintf(p, sizeof(p), "%s/disk.img", sub);
	assert_int_not_equal(stat(p, &st), 0);
	/* DIR exists: refused, nothing written into it */
	assert_int_equal(soda_server_dump(srv, sub, 0, &err), -EEXIST);
	soda_error_free(err);
	err = NULL;
	assert_int_equal(th_sh("rm -rf %s", dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pids_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bandwidth_needs_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
