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
 *     verification can fail);
 *   - shares: bandwidth on the switch's TAP (the host's shaping, as under
 *     UML): the QEMU guest's TCP goodput to the UML guest and the bytes it
 *     takes in from it, uncapped (the control: far above the cap) and
 *     capped at 5 Mbit/s out and 20 in (within 20 %), uncapped again;
 *     cpus pins every thread of the QEMU process, its vCPU's and the
 *     emulator's (/proc's Cpus_allowed_list), and unpins; pids is refused
 *     with its reason;
 *   - dump: memory.elf (an ELF core), disk.img byte for byte the image the
 *     guest boots, a manifest naming both; a dump directory planted in
 *     advance (a link named disk.img in it) is refused and its link's
 *     target untouched.
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
static char lv_root[160]; /* the embedded driver's root */

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

/* The UML neighbour, with tcpblast (tests/tools) shared in at /blast. */
static soda_server *start_uml_guest(net_env *ne)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error **err = &ne->env.err;
	char blast[256];

	snprintf(blast, sizeof(blast), "%s", SODA_TEST_TCPBLAST);
	*strrchr(blast, '/') = '\0';
	assert_soda_ok(soda_server_config_new(&cfg, "um", err), *err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 40 << 20, err), *err);
	assert_soda_ok(soda_server_config_add_nic(cfg, "lan", NULL, 0, err), *err);
	assert_soda_ok(soda_server_config_add_nic_address(cfg, 0, UM_IP "/24", err), *err);
	assert_soda_ok(soda_server_config_add_label(cfg, "uml", err), *err);
	assert_soda_ok(soda_server_config_add_share(cfg, ne->tools, "/tools", SODA_SHARE_READONLY,
						    err),
		       *err);
	assert_soda_ok(soda_server_config_add_share(cfg, blast, "/blast", SODA_SHARE_READONLY, err),
		       *err);
	assert_soda_ok(soda_server_define(&srv, ne->env.ctx, cfg, 0, err), *err);
	soda_server_config_free(cfg);
	ne->n_defined++;
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


/* ---- shares and dump ---- */

static int set_shares(soda_server *srv, const char *text, soda_error **err)
{
	soda_shares *sh = NULL;
	int r;

	assert_soda_ok(soda_shares_parse(&sh, text, err), *err);
	r = soda_server_set_shares(srv, sh, 0, err);
	soda_shares_free(sh);
	return r;
}

/* TCP goodput QEMU guest -> UML guest (busybox nc into tcpblast, which
 * measures from its first second on, for 4 s). */
static double qm_to_um_mbit(soda_server *qm, soda_server *um, int port)
{
	char *out = NULL;
	const char *p;
	double mbit;

	assert_int_equal(guest_sh(um, NULL, "(/blast/tcpblast recv %d 4 >/tmp/blast.%d 2>&1 &) ; "
					    "sleep 0.3", port, port),
			 0);
	guest_sh(qm, NULL, "cat /dev/zero | nc %s %d & p=$! ; sleep 6 ; kill $p ; wait", UM_IP,
		 port);
	guest_sh(um, &out, "sleep 1 ; cat /tmp/blast.%d", port);
	p = out ? strstr(out, "goodput_mbit=") : NULL;
	mbit = p ? atof(p + 13) : -1;
	free(out);
	return mbit;
}

/* What the QEMU guest takes in from the UML guest's tcpblast, in Mbit/s of
 * its NIC's bytes (libvirt's counter) over 3 s after the first 2. */
static double um_to_qm_mbit(soda_server *qm, soda_server *um, int port)
{
	uint64_t b0, b1, t0, t1;

	assert_int_equal(guest_sh(qm, NULL, "(nc -l -p %d >/dev/null 2>&1 &) ; sleep 0.3", port),
			 0);
	assert_int_equal(guest_sh(um, NULL, "(/blast/tcpblast send %s %d 6 >/dev/null 2>&1 &)",
				  QM_IP, port),
			 0);
	sleep(2);
	b0 = stat_of(qm, SODA_STAT_NET_IN_BYTES);
	t0 = th_mono_ms();
	sleep(3);
	b1 = stat_of(qm, SODA_STAT_NET_IN_BYTES);
	t1 = th_mono_ms();
	sleep(2); /* the sender's end */
	return (double)(b1 - b0) * 8 / 1000.0 / (double)(t1 - t0);
}

/* The QEMU process of the guest (its command line names the embedded
 * driver's root), 0 if there is none. */
static pid_t qemu_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		char path[300], cmd[8192];
		size_t n;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (strstr(cmd, "qemu-system") && strstr(cmd, "guest=qm") && strstr(cmd, lv_root))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* Asserts that every thread of QEMU (its vCPU thread "CPU 0/TCG", its
 * main thread and the emulator's others) may run on @list only. */
static void expect_pinned(pid_t pid, const char *list)
{
	char dir[64];
	DIR *d;
	struct dirent *e;
	int vcpus = 0, main_seen = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[384], *st, *comm, *cpus;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", dir, e->d_name);
		st = th_read_file(path);
		snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
		comm = th_read_file(path);
		if (!st || !comm) { /* a thread that ended meanwhile */
			free(st);
			free(comm);
			continue;
		}
		comm[strcspn(comm, "\n")] = '\0';
		cpus = strstr(st, "Cpus_allowed_list:");
		assert_non_null(cpus);
		cpus += strlen("Cpus_allowed_list:");
		cpus += strspn(cpus, " \t");
		cpus[strcspn(cpus, "\n")] = '\0';
		print_message("  thread %s (%s): CPUs %s\n", e->d_name, comm, cpus);
		assert_string_equal(cpus, list);
		vcpus += strncmp(comm, "CPU ", 4) == 0;
		main_seen |= atoi(e->d_name) == (int)pid;
		free(st);
		free(comm);
	}
	closedir(d);
	assert_int_equal(vcpus, 1);
	assert_true(main_seen);
}

static bool files_equal(const char *a, const char *b)
{
	return th_sh("cmp -s '%s' '%s'", a, b) == 0;
}

static void check_shares_and_dump(net_env *ne, soda_server *qm, soda_server *um)
{
	soda_error **err = &ne->env.err;
	double out0, in0, out, in;
	char dir[300], p[400], victim[300], *man;
	uint8_t elf[4] = { 0 };
	pid_t pid;
	FILE *f;

	/* pids: refused, and why */
	assert_int_equal(set_shares(qm, "pids.max=64", err), -EOPNOTSUPP);
	print_message("pids: %s\n", soda_error_message(*err));
	assert_non_null(strstr(soda_error_message(*err), "inside QEMU"));
	soda_error_free(*err);
	*err = NULL;

	/* bandwidth: the control, then 5 Mbit/s out and 20 in (a mapping
	 * with the directions swapped fails both) */
	out0 = qm_to_um_mbit(qm, um, 5201);
	in0 = um_to_qm_mbit(qm, um, 5301);
	print_message("uncapped: QEMU -> UML TCP goodput %.1f Mbit/s, UML -> QEMU %.1f Mbit/s\n",
		      out0, in0);
	assert_soda_ok(set_shares(qm, "net.out=5Mbit net.in=20Mbit", err), *err);
	out = qm_to_um_mbit(qm, um, 5202);
	in = um_to_qm_mbit(qm, um, 5302);
	print_message("capped: QEMU -> UML TCP goodput %.1f Mbit/s (cap 5), UML -> QEMU %.1f "
		      "Mbit/s (cap 20)\n", out, in);
	assert_true(out0 > 2 * 5);
	assert_true(in0 > 2 * 20);
	assert_true(out >= 5 * 0.8 && out <= 5 * 1.2);
	assert_true(in >= 20 * 0.8 && in <= 20 * 1.2);

	/* cpus: the vCPU and the emulator; none: every CPU again (and the
	 * shaping goes) */
	pid = qemu_pid();
	assert_true(pid > 1);
	assert_soda_ok(set_shares(qm, "cpus=1", err), *err);
	expect_pinned(pid, "1");
	assert_soda_ok(set_shares(qm, "cpus=0", err), *err);
	expect_pinned(pid, "0");
	assert_soda_ok(set_shares(qm, "cpu.weight=100", err), *err);
	expect_pinned(pid, "0-1");
	out = qm_to_um_mbit(qm, um, 5203);
	print_message("shaping removed: QEMU -> UML %.1f Mbit/s\n", out);
	assert_true(out > 2 * 5);

	/* dump: memory, the disk as the image, a manifest */
	snprintf(dir, sizeof(dir), "%s/dump-qm", ne->env.state_dir);
	assert_soda_ok(soda_server_dump(qm, dir, SODA_DUMP_MEMORY, err), *err);
	snprintf(p, sizeof(p), "%s/memory.elf", dir);
	f = fopen(p, "re");
	assert_non_null(f);
	assert_int_equal(fread(elf, 1, 4, f), 4);
	fclose(f);
	assert_memory_equal(elf, "\177ELF", 4);
	snprintf(p, sizeof(p), "%s/disk.img", dir);
	snprintf(victim, sizeof(victim), "%s/images/busybox.img", ne->env.state_dir);
	assert_true(files_equal(p, victim));
	snprintf(p, sizeof(p), "%s/manifest", dir);
	man = th_read_file(p);
	assert_non_null(man);
	print_message("dump manifest:\n%s", man);
	assert_non_null(strstr(man, "soda-dump 1\nserver qm\n"));
	assert_non_null(strstr(man, "\ndisk disk.img\n"));
	assert_non_null(strstr(man, "\nmemory memory.elf\n"));
	snprintf(p, sizeof(p), "\nimage-path %s\n", victim);
	assert_non_null(strstr(man, p));
	free(man);
	assert_int_equal(th_sh("rm -rf '%s'", dir), 0);
	assert_true(reach_ok(um, QM_IP)); /* thawed after the memory dump */

	/* a directory planted in advance, disk.img a link to a file of the
	 * host's: refused, the file untouched */
	snprintf(victim, sizeof(victim), "%s/victim", ne->env.state_dir);
	assert_int_equal(th_sh("mkdir '%s' && echo precious > '%s' && ln -s '%s' '%s/disk.img'",
			       dir, victim, victim, dir),
			 0);
	assert_int_equal(soda_server_dump(qm, dir, 0, err), -EEXIST);
	soda_error_free(*err);
	*err = NULL;
	man = th_read_file(victim);
	assert_string_equal(man, "precious\n");
	free(man);
	assert_int_equal(th_sh("rm -rf '%s' '%s'", dir, victim), 0);
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
	um = start_uml_guest(ne);
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

	check_shares_and_dump(ne, qm, um);

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
	snprintf(lv_root, sizeof(lv_root), "%s", root);
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
