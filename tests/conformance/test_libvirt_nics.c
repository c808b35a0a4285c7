/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend's NICs (libvirt+test:///default): at start each NIC
 * gets its TAP from the context's netdev hooks and the domain is put on it
 * as <interface type='ethernet'> with <target dev=TAP managed='no'/>; at
 * stop and at kill the TAPs are detached, once. Hooks recorded here stand
 * in for the switch; the domain XML is read from libvirt itself (the test
 * driver's default connection is shared in the process).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "testhelp.h"

typedef struct hooks {
	int attached, detached;
	char last_detached[16];
} hooks;

static int fake_attach(void *userdata, const char *server, uint32_t index, const char *network,
		       const char *mac, uint32_t uid, char ret_ifname[16], soda_error **error)
{
	hooks *h = userdata;

	(void)server;
	(void)network;
	(void)mac;
	(void)uid;
	(void)error;
	snprintf(ret_ifname, 16, "cftap%u", index);
	h->attached++;
	return 0;
}

static int fake_detach(void *userdata, const char *server, uint32_t index, const char *ifname,
		       soda_error **error)
{
	hooks *h = userdata;

	(void)server;
	(void)index;
	(void)error;
	snprintf(h->last_detached, sizeof(h->last_detached), "%s", ifname);
	h->detached++;
	return 0;
}

static const soda_netdev_ops ops = { SODA_BACKEND_VERSION, fake_attach, fake_detach };

static char *domain_xml(const char *name)
{
	virConnectPtr conn = virConnectOpen("test:///default");
	virDomainPtr dom;
	char *xml = NULL;

	assert_non_null(conn);
	dom = virDomainLookupByName(conn, name);
	assert_non_null(dom);
	xml = virDomainGetXMLDesc(dom, 0);
	virDomainFree(dom);
	virConnectClose(conn);
	return xml;
}

static void test_nics_on_switch_taps(void **state)
{
	soda_context *ctx = NULL;
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error *err = NULL;
	hooks h = { 0 };
	char *xml;

	(void)state;
	assert_soda_ok(soda_context_open(&ctx, "libvirt+test:///default", NULL, 0, &err), err);
	assert_soda_ok(soda_server_config_new(&cfg, "cfnic", &err), err);
	assert_soda_ok(soda_server_config_add_nic(cfg, "lan", "02:00:00:00:00:07", 0, &err), err);
	assert_soda_ok(soda_server_config_add_nic(cfg, "wan", NULL, 0, &err), err);
	assert_soda_ok(soda_server_define(&srv, ctx, cfg, 0, &err), err);
	soda_server_config_free(cfg);

	/* no hooks, no switch: the start fails and nothing runs */
	assert_soda_ok(soda_context_set_netdev_ops(ctx, NULL, NULL, &err), err);
	if (soda_context_get_netdev_ops(ctx, NULL) == NULL) {
		int st = 0;

		assert_int_equal(soda_server_start(srv, 0, &err), -ENOTSUP);
		soda_error_free(err);
		err = NULL;
		assert_soda_ok(soda_server_get_state(&st, srv, &err), err);
		assert_int_equal(st, SODA_STATE_SHUTOFF);
	}

	assert_soda_ok(soda_context_set_netdev_ops(ctx, &ops, &h, &err), err);
	assert_soda_ok(soda_server_start(srv, 0, &err), err);
	assert_int_equal(h.attached, 2);
	xml = domain_xml("cfnic");
	assert_non_null(strstr(xml, "<interface type='ethernet'>"));
	assert_non_null(strstr(xml, "<target dev='cftap0' managed='no'/>"));
	assert_non_null(strstr(xml, "<target dev='cftap1' managed='no'/>"));
	assert_non_null(strstr(xml, "<mac address='02:00:00:00:00:07'/>"));
	free(xml);
	assert_int_equal(h.detached, 0);
	assert_soda_ok(soda_server_stop(srv, 1000, 0, &err), err);
	/* and the stop event after it detaches nothing twice */
	while (soda_context_process(ctx, 0, &err) > 0)
		;
	assert_int_equal(h.detached, 2);
	assert_string_equal(h.last_detached, "cftap1");

	assert_soda_ok(soda_server_start(srv, 0, &err), err);
	assert_int_equal(h.attached, 4);
	assert_soda_ok(soda_server_kill(srv, 0, &err), err);
	while (soda_context_process(ctx, 0, &err) > 0)
		;
	assert_int_equal(h.detached, 4);

	assert_soda_ok(soda_server_undefine(srv, 0, &err), err);
	soda_server_unref(srv);
	soda_context_unref(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nics_on_switch_taps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
