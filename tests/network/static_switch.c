/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program linked statically with libsoda that never names the switch
 * (no soda_network_* call) still gets it: the core's default netdev hooks
 * (soda_context_get_netdev_ops()) are the switch's, and attaching a NIC
 * runs the switch's code, which answers for a network that does not exist
 * with its own -ENOENT. That is how a static orchestrator's servers join
 * networks another process made; with the hooks as weak symbols, a static
 * link left the network module out and the hooks were NULL (every server
 * with a NIC then failed to start with -ENOTSUP).
 * Built twice (tests/network/CMakeLists.txt): against libsoda.a and against
 * an archive of the library's objects, one member per source file.
 * The context is uml:/// on a fresh state directory (networks need one;
 * the in-memory test backend keeps none); no server is defined or started
 * and no network exists, so nothing is made on the host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <soda/soda.h>
#include <soda/sys/backend.h>

#define NET "sodass-absent"

static int fail(const char *what, int r, soda_error *e)
{
	fprintf(stderr, "static-switch: FAIL: %s (%d: %s)\n", what, r,
		e ? soda_error_message(e) : "no error");
	soda_error_free(e);
	return 1;
}

int main(void)
{
	char dir[] = "/tmp/soda-ss-XXXXXX", uri[64];
	soda_context *ctx = NULL;
	soda_error *e = NULL;
	const soda_netdev_ops *ops;
	void *ud = NULL;
	char ifname[16] = "";
	int r, rc = 1;

	if (!mkdtemp(dir)) {
		perror("static-switch: mkdtemp");
		return 1;
	}
	snprintf(uri, sizeof(uri), "uml:///?state=%s", dir);
	r = soda_context_open(&ctx, uri, NULL, 0, &e);
	if (r < 0) {
		rc = fail("soda_context_open(uml:///?state=...)", r, e);
		e = NULL;
		goto out;
	}
	ops = soda_context_get_netdev_ops(ctx, &ud);
	if (!ops || !ops->attach || !ops->detach) {
		fprintf(stderr, "static-switch: FAIL: no default netdev hooks: the network "
				"module is not in the static link\n");
		goto out;
	}
	if (ops->version != SODA_BACKEND_VERSION) {
		fprintf(stderr, "static-switch: FAIL: hooks of version %u\n", ops->version);
		goto out;
	}
	r = ops->attach(ud, "ss0", 0, NET, NULL, 0, ifname, &e);
	if (r != -ENOENT || !e || !strstr(soda_error_message(e), "'" NET "', which does not exist")) {
		rc = fail("attach to a missing network: want the switch's -ENOENT naming it", r, e);
		e = NULL;
		goto out;
	}
	printf("static-switch: the switch's hooks answered: %s\n", soda_error_message(e));
	rc = 0;
out:
	soda_error_free(e);
	soda_context_unref(ctx);
	/* What the context and the switch made in the state directory. */
	snprintf(uri, sizeof(uri), "rm -rf '%s'", dir);
	if (system(uri) != 0)
		fprintf(stderr, "static-switch: could not remove %s\n", dir);
	return rc;
}
