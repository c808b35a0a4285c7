/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A real QEMU guest (the libvirt backend) on the soda switch next to a UML
 * guest, in a network namespace the test makes (tests/network/net_common):
 *
 *   - the QEMU guest boots the same busybox image as the UML guest, its
 *     agent as PID 1, and soda_server_start(WAIT_READY) returns once the
 *     agent said "ready" on its serial line;
 *   - one policy, enforced both ways: UML -> QEMU ICMP and QEMU -> UML TCP
 *     port 80 allowed and passing; QEMU -> UML ICMP and UML -> QEMU TCP
 *     port 80 refused; with "allow from any to any" (the control) the
 *     refused flows pass, so the refusals are the policy's;
 *   - statistics: libvirt's (CPU time, bytes through the NIC) and the
 *     switch's policy drops at the QEMU guest's port;
 *   - freeze (no answer to a ping) and thaw (answers again); stop;
 *   - its blackbox, sealed in the guest by its agent to a tenant key the
 *     test makes, relayed by soda-bbrelay (backends/libvirt/relay.c) into
 *     the store soda_server_get_blackbox_dir() names: a marker written to
 *     /dev/blackbox is read back exactly once with the tenant's key, the
 *     keyless verification finds the store intact, the landlord finds the
 *     marker nowhere in the store's bytes and cannot read it (its public
 *     key is refused, another key decrypts nothing), the relay ends with
 *     the guest and the store outlives the server's definition; a byte
 *     flipped in a segment is found as damage (the control that the
 *     verification can fail).
 *
 * libvirt is the embedded QEMU driver (qemu:///embed?root=STATE/lvroot):
 * QEMU runs as this process's child in the test's namespace, where the
 * switch made its TAP (a libvirtd would open the TAP in its own namespace),
 * and no daemon of the machine is used or disturbed. The driver code is the
 * one of qemu:///system. Without KVM that works here, QEMU emulates (TCG).
 * Skips (77) where QEMU, a guest kernel or the libvirt plugin is missing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <sched.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "../network/net_common.h"
#include "it_bb_common.h"

#define QM_IP "198.51.100.20"
#define UM_IP "198.51.100.10"
#define MARKER "SODA-QBB-MARKER-7f3e"

static soda_context *lv_ctx;

/* Where a ping must pass: up to three tries of 2 s (net_common; ARP, a
 * busy host, TCG). */
static bool reach_ok(soda_server *from, const char *ip)
{
	return reach_ok_within(from, ip, 2);
}

/* A TCP connection from the QEMU guest (busybox nc) to @ip port 80. */
static bool qm_tcp_ok(soda_server *qm, const char *ip)
{
	return guest_sh(qm, NULL, "echo x | nc -w 2 %s 80 >/dev/null 2>&1", ip) == 0;
}

/* Policies go through the libvirt context's network "lan" (the same
 * switch: the uml context's state directory and namespace), whose servers
 * are the ones its rules can name; the UML guest is "any" there. */
static void lv_apply(const char *text)
{
	soda_network *net = NULL;
	soda_policy *p = NULL;
	soda_error *err = NULL;

	assert_soda_ok(soda_network_lookup(&net, lv_ctx, "lan", &err), err);
	assert_soda_ok(soda_policy_parse(&p, text, strlen(text), "test", 0, &err), err);
	assert_soda_ok(soda_network_apply_policy(net, p, 0, &err), err);
	soda_policy_free(p);
	soda_network_unref(net);
}

static soda_server *start_qemu_guest(net_env *ne)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error **err = &ne->env.err;
	uint8_t box[32];

	assert_soda_ok(soda_server_config_new(&cfg, "qm", err), *err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 256 << 20, err), *err);
	assert_soda_ok(soda_server_config_add_nic(cfg, "lan", NULL, 0, err), *err);
	assert_soda_ok(soda_server_config_add_nic_address(cfg, 0, QM_IP "/24", err), *err);
	assert_soda_ok(soda_server_config_add_label(cfg, "qemu", err), *err);
	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, err), *err);
	/* open: the tenant may make device nodes, as one who owns its guest
	 * kernel can reach any port (the agent line's bound below) */
	assert_soda_ok(soda_server_config_set_guest_profile(cfg, SODA_GUEST_PROFILE_OPEN, err),
		       *err);
	assert_soda_ok(soda_server_define(&srv, lv_ctx, cfg, 0, err), *err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, err), *err);
	return srv;
}

static uint64_t stat_of(soda_server *srv, int key)
{
	soda_stats *st = NULL;
	soda_error *err = NULL;
	uint64_t v = 0;

	assert_soda_ok(soda_server_get_stats(&st, srv, 0, &err), err);
	assert_int_equal(soda_stats_get(st, key, &v), 0);
	soda_stats_free(st);
	return v;
}


/* ---- the QEMU guest's blackbox ---- */

#define RELAY_PID_FILE "/run/libsoda-libvirt/qm/bbrelay.pid"

/* The relay's PID from its pid file, 0 if there is none. */
static pid_t relay_pid(void)
{
	FILE *f = fopen(RELAY_PID_FILE, "re");
	int pid = 0;

	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

/* The store's bytes as the landlord has them: does any file hold @needle? */
static bool store_bytes_hold(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		char path[512], *text = NULL;
		size_t len = 0;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || !(f = fopen(path, "re")))
			continue;
		text = malloc(1 << 24);
		assert_non_null(text);
		len = fread(text, 1, 1 << 24, f);
		fclose(f);
		found = memmem(text, len, needle, strlen(needle)) != NULL;
		free(text);
	}
	closedir(d);
	return found;
}

static bool has_kind(const soda_blackbox_report *rep, uint32_t kind)
{
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++)
		if (soda_blackbox_finding_get_kind(soda_blackbox_report_get_finding(rep, i)) == kind)
			return true;
	return false;
}

/* The landlord holds the tenant's public key (the server's configuration)
 * and may make keys of its own: neither reads the tenant's records. */
static void landlord_cannot_read(const char *dir)
{
	soda_blackbox_key *pub = NULL, *own = NULL;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *err = NULL;
	long records = 0;
	int r;

	assert_soda_ok(soda_blackbox_key_get_public(&pub, tenant, &err), err);
	assert_int_equal(soda_blackbox_reader_open(&rd, dir, pub, NULL, 0, &err), -EINVAL);
	soda_error_free(err);
	err = NULL;
	soda_blackbox_key_free(pub);
	assert_int_equal(soda_blackbox_key_generate(&own, SODA_BLACKBOX_KEY_TENANT, 0, NULL), 0);
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, own, NULL, 0, &err), err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &err)) == 1) {
		size_t n;
		const uint8_t *body = soda_blackbox_record_get_data(rec, &n);

		assert_null(memmem(body, n, MARKER, strlen(MARKER)));
		records++;
	}
	assert_soda_ok(r, err);
	print_message("the landlord's own key: %ld records (store notices), status %u\n", records,
		      soda_blackbox_report_get_status(soda_blackbox_reader_get_report(rd)));
	assert_true(has_kind(soda_blackbox_reader_get_report(rd), SODA_BLACKBOX_F_WRONG_KEY) ||
		    has_kind(soda_blackbox_reader_get_report(rd), SODA_BLACKBOX_F_DECRYPT_FAILED));
	soda_blackbox_reader_close(rd);
	soda_blackbox_key_free(own);
}

/* Flips one byte in the middle of the store's first segment. */
static void flip_segment_byte(const char *dir)
{
	char path[512];
	struct stat st;
	uint8_t byte;
	int fd;

	snprintf(path, sizeof(path), "%s/seg-0000000001.sbx", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size > 256);
	assert_int_equal(pread(fd, &byte, 1, st.st_size / 2), 1);
	byte ^= 0x40;
	assert_int_equal(pwrite(fd, &byte, 1, st.st_size / 2), 1);
	close(fd);
}

/* bb_read_all() not inlined here (GCC 12 took its memstream's buffer
 * for a dangling pointer). */
static __attribute__((noinline)) char *tenant_reads(const char *dir, uint32_t *ret_status)
{
	return bb_read_all(dir, ret_status);
}

/* After the guest stopped: the store, as tenant, landlord and verifier see it. */
static void check_blackbox(net_env *ne, const char *dir)
{
	soda_blackbox_report *vrep = NULL;
	uint32_t status = 0;
	char *all;

	/* Anyone, without a key: whole and complete. */
	assert_soda_ok(soda_blackbox_verify(&vrep, dir, NULL, 0, &ne->env.err), ne->env.err);
	if (soda_blackbox_report_get_status(vrep) != SODA_BLACKBOX_INTACT)
		bb_print_findings(vrep);
	assert_int_equal(soda_blackbox_report_get_status(vrep), SODA_BLACKBOX_INTACT);
	assert_true(soda_blackbox_report_get_counter(vrep, SODA_BLACKBOX_REPORT_FRAMES) > 5);
	soda_blackbox_report_free(vrep);

	/* The tenant: the marker once, the agent's records, the relay's. */
	all = tenant_reads(dir, &status);
	if (status != SODA_BLACKBOX_INTACT || bb_count_lines(all, "guest text: " MARKER) != 1)
		print_message("records:\n%s\n", all);
	assert_int_equal(status, SODA_BLACKBOX_INTACT);
	assert_int_equal(bb_count_lines(all, "guest text: " MARKER), 1);
	assert_non_null(strstr(all, "guest exec: "));
	assert_non_null(strstr(all, "host lifecycle: starting: soda-bbrelay holds the guest's line"));
	assert_non_null(strstr(all, "host lifecycle: shutoff: the guest's line closed"));
	free(all);

	/* The landlord: not in the bytes, not with the keys it has. */
	assert_false(store_bytes_hold(dir, MARKER));
	landlord_cannot_read(dir);
}

static void test_qemu_next_to_uml(void **state)
{
	net_env *ne = *state;
	soda_server *qm, *um;
	soda_blackbox_report *vrep = NULL;
	char *dir = NULL, want[512];
	int st = -1;
	pid_t relay;
	uint64_t drops;

	qm = start_qemu_guest(ne);
	um = net_guest(ne, "um", UM_IP "/24", "uml");
	assert_soda_ok(soda_server_get_state(&st, qm, NULL), NULL);
	assert_int_equal(st, SODA_STATE_RUNNING);

	/* Background listeners on port 80 in both guests, for a minute. */
	assert_int_equal(guest_sh(um, NULL,
				  "(/tools/nettool tcp-serve 80 60 >/dev/null 2>&1 &) ; sleep 0.2"),
			 0);
	/* nettool tcp-connect wants "ok" from the server. */
	assert_int_equal(guest_sh(qm, NULL,
				  "printf '#!/bin/sh\\necho ok\\n' >/tmp/ok && chmod 755 /tmp/ok && "
				  "(nc -ll -p 80 -e /tmp/ok >/dev/null 2>&1 &) ; sleep 0.2"),
			 0);

	lv_apply("allow from any to server qm icmp\n"
		 "allow from server qm to any tcp port 80\n");
	assert_true(reach_ok(um, QM_IP));                                  /* allowed, UML -> QEMU */
	assert_true(qm_tcp_ok(qm, UM_IP));                                 /* allowed, QEMU -> UML */
	drops = server_count(ne, "qm", SODA_NET_DROP_POLICY_OUT);
	assert_false(ping_ok(qm, UM_IP));                                  /* denied, QEMU -> UML */
	assert_true(server_count(ne, "qm", SODA_NET_DROP_POLICY_OUT) > drops);
	assert_int_not_equal(guest_sh(um, NULL, "/tools/nettool tcp-connect %s 80 1500", QM_IP),
			     0);                                               /* denied, UML -> QEMU */

	/* The control: the same flows pass when the policy allows them. */
	lv_apply("allow from any to any\n");
	assert_true(reach_ok(qm, UM_IP));
	assert_int_equal(guest_sh(um, NULL, "/tools/nettool tcp-connect %s 80 1500", QM_IP), 0);

	/* Statistics from libvirt. */
	assert_true(stat_of(qm, SODA_STAT_CPU_USEC) > 0);
	assert_true(stat_of(qm, SODA_STAT_NET_OUT_BYTES) > 0);
	assert_true(stat_of(qm, SODA_STAT_NET_IN_BYTES) > 0);

	/* Frozen, the QEMU guest answers nothing; thawed, it does again. */
	assert_soda_ok(soda_server_freeze(qm, 0, &ne->env.err), ne->env.err);
	assert_soda_ok(soda_server_get_state(&st, qm, NULL), NULL);
	assert_int_equal(st, SODA_STATE_PAUSED);
	assert_false(ping_ok(um, QM_IP));
	assert_soda_ok(soda_server_thaw(qm, 0, &ne->env.err), ne->env.err);
	assert_true(reach_ok(um, QM_IP));

	/* The agent line is the guest's to write (its root, open profile,
	 * makes a node for ttyS2; a guest kernel's owner needs none): 5 MiB
	 * written there stop at the server's run directory, a tmpfs of 4 MiB,
	 * and the guest goes on. */
	{
		char *said = NULL;
		struct statvfs vfs;
		struct stat line;

		assert_int_equal(guest_sh(qm, &said, "mknod /dev/soda-s2 c 4 66 && "
						     "head -c 5242880 /dev/zero >/dev/soda-s2 && "
						     "echo written"),
				 0);
		assert_non_null(strstr(said, "written"));
		free(said);
		assert_int_equal(stat("/run/libsoda-libvirt/qm/agent.line", &line), 0);
		print_message("the agent line after 5 MiB: %lld bytes\n", (long long)line.st_size);
		assert_true(line.st_size >= 1 << 20);
		assert_true(line.st_size <= 4 << 20);
		assert_int_equal(statvfs("/run/libsoda-libvirt/qm", &vfs), 0);
		assert_true((uint64_t)vfs.f_blocks * vfs.f_frsize <= 4u << 20);
		assert_true(reach_ok(um, QM_IP));
	}

	/* The blackbox: a line of the tenant's, sealed by the guest's agent,
	 * through the relay that runs as long as the guest. */
	relay = relay_pid();
	assert_true(relay > 1);
	assert_int_equal(kill(relay, 0), 0);
	assert_int_equal(guest_sh(qm, NULL, "echo %s > /dev/blackbox", MARKER), 0);
	assert_soda_ok(soda_server_get_blackbox_dir(&dir, qm, &ne->env.err), ne->env.err);
	snprintf(want, sizeof(want), "%s/blackbox/qm", ne->env.state_dir);
	assert_string_equal(dir, want);

	assert_soda_ok(soda_server_stop(qm, 10000, 0, &ne->env.err), ne->env.err);
	assert_soda_ok(soda_server_get_state(&st, qm, NULL), NULL);
	assert_int_equal(st, SODA_STATE_SHUTOFF);
	/* The relay ended with the guest (its PID is not ours to reap). */
	for (int i = 0; i < 100 && kill(relay, 0) == 0; i++)
		usleep(20 * 1000);
	assert_int_not_equal(kill(relay, 0), 0);
	assert_int_equal(relay_pid(), 0);
	check_blackbox(ne, dir);

	/* The tenant's store outlives the server's definition. */
	assert_soda_ok(soda_server_undefine(qm, 0, &ne->env.err), ne->env.err);
	assert_true(path_exists(dir));
	assert_false(path_exists("/run/libsoda-libvirt/qm"));

	/* The control: the verification can fail. */
	flip_segment_byte(dir);
	assert_soda_ok(soda_blackbox_verify(&vrep, dir, NULL, 0, &ne->env.err), ne->env.err);
	bb_print_findings(vrep);
	assert_int_equal(soda_blackbox_report_get_status(vrep), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(vrep);
	free(dir);
	soda_server_unref(qm);
	soda_server_unref(um);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int setup(void **state)
{
	soda_context_options o;
	net_env *ne;
	char root[160], path[224], uri[256];
	int fd;

	if (bb_setup_tenant() < 0 || net_env_setup(state) < 0)
		return -1;
	ne = *state;
	/* Not a subreaper (th_env_setup made us one): QEMU, which libvirt
	 * daemonizes, would stay our zombie, and libvirt waits for it to be
	 * gone when it kills it. */
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	/* QEMU, spawned by the embedded driver from this process, must be
	 * where the switch's TAPs are. */
	fd = open(ne->netns_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		print_error("cannot enter %s\n", ne->netns_path);
		goto fail;
	}
	close(fd);
	snprintf(root, sizeof(root), "%s/lvroot", ne->env.state_dir);
	/* QEMU's output to files, not to a virtlogd this test did not start. */
	static const char *const dirs[] = { "", "/etc", "/etc/qemu", "/etc/libvirt" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		mkdir(path, 0700);
	}
	static const char *const confs[] = { "/etc/qemu.conf", "/etc/qemu/qemu.conf",
					     "/etc/libvirt/qemu.conf" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", root, confs[i]);
		if (write_file(path, "stdio_handler = \"file\"\n") < 0)
			goto fail;
	}
	snprintf(uri, sizeof(uri), "libvirt+qemu:///embed?root=%s", root);
	soda_context_options_init(&o, SODA_CONTEXT_OPTIONS_VERSION);
	o.state_dir = ne->env.state_dir;
	o.netns = ne->netns_path;
	if (soda_context_open(&lv_ctx, uri, &o, 0, &ne->env.err) < 0) {
		print_error("cannot open %s: %s\n", uri, soda_error_message(ne->env.err));
		goto fail;
	}
	return 0;
fail:
	net_env_teardown(state);
	return -1;
}

static int teardown(void **state)
{
	soda_server *srv = NULL;

	if (lv_ctx && soda_server_lookup(&srv, lv_ctx, "qm", NULL) == 0) {
		soda_server_kill(srv, 0, NULL);
		soda_server_undefine(srv, 0, NULL);
		soda_server_unref(srv);
	}
	soda_context_unref(lv_ctx);
	lv_ctx = NULL;
	soda_blackbox_key_free(tenant);
	tenant = NULL;
	return net_env_teardown(state);
}

/* 77 with the reason where this machine cannot run the test. */
static void skip_unless_possible(void)
{
	static const char *const need[] = { "/usr/bin/qemu-system-x86_64", NULL };
	glob_t g;

	if (geteuid() != 0) {
		printf("SKIP: needs root (namespaces, TAPs, QEMU)\n");
		exit(77);
	}
	for (size_t i = 0; need[i]; i++)
		if (access(need[i], X_OK) < 0) {
			printf("SKIP: no %s (package qemu-system-x86)\n", need[i]);
			exit(77);
		}
	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0) {
		printf("SKIP: no guest kernel /boot/vmlinuz-* (package linux-image-amd64)\n");
		exit(77);
	}
	globfree(&g);
	if (access(SODA_TEST_LIBVIRT_PLUGIN, R_OK) < 0) {
		printf("SKIP: %s was not built (no libvirt-dev)\n", SODA_TEST_LIBVIRT_PLUGIN);
		exit(77);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_qemu_next_to_uml, setup, teardown),
	};

	skip_unless_possible();
	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
