/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The jail, attacked from inside a guest: hostfs escapes through a share
 * reach nothing of the host, without a share hostfs is absent, and on the
 * host the guest's processes are unprivileged.
 */
#include "it_common.h"

/* A file only the host has: the guest must never read it. */
#define HOST_SECRET "host-secret-5d0c9e"

static soda_server *start_with_shares(th_env *env, const char *name, const char *rw_dir,
				      const char *ro_dir)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;

	assert_int_equal(soda_server_config_new(&cfg, name, NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
	if (rw_dir)
		assert_soda_ok(soda_server_config_add_share(cfg, rw_dir, "/mnt/rw", 0, &env->err),
			       env->err);
	if (ro_dir)
		assert_soda_ok(soda_server_config_add_share(cfg, ro_dir, "/mnt/ro",
							    SODA_SHARE_READONLY, &env->err),
			       env->err);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

static void test_no_share_no_hostfs(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char *out = NULL;

	th_require_root();
	th_build_image(env);
	srv = th_start_server(env, "noshare", 48);
	assert_int_equal(th_exec(srv, "grep -c hostfs /proc/filesystems", &out), 1);
	assert_non_null(strstr(out, "0"));
	free(out);
	assert_int_not_equal(th_exec(srv, "mkdir -p /h && mount -t hostfs none /h -o /", &out), 0);
	assert_non_null(strstr(out, "mount"));
	free(out);
	soda_server_unref(srv);
}

static void test_share_escape(void **state)
{
	th_env *env = *state;
	char rw[128], ro[128], secret[192], *out = NULL, *ls = NULL;
	soda_server *srv;
	soda_server_info *info;
	struct stat st;

	th_require_root();
	th_build_image(env);
	snprintf(rw, sizeof(rw), "%s/share-rw", env->state_dir);
	snprintf(ro, sizeof(ro), "%s/share-ro", env->state_dir);
	snprintf(secret, sizeof(secret), "%s/%s", env->state_dir, HOST_SECRET);
	assert_int_equal(th_sh("mkdir -p %s %s && echo shared-data > %s/file && "
			       "echo read-only-data > %s/file && echo TOPSECRET > %s && "
			       "chmod 777 %s",
			       rw, ro, rw, ro, secret, rw),
			 0);
	srv = start_with_shares(env, "jailed", rw, ro);
	info = info_of(srv);

	/* The shares work as configured. */
	assert_int_equal(th_exec(srv, "cat /mnt/rw/file /mnt/ro/file", &out), 0);
	assert_non_null(strstr(out, "shared-data"));
	assert_non_null(strstr(out, "read-only-data"));
	free(out);
	assert_int_equal(th_exec(srv, "echo from-guest > /mnt/rw/new", NULL), 0);
	snprintf(secret, sizeof(secret), "%s/new", rw);
	assert_int_equal(stat(secret, &st), 0);
	/* Files the guest makes belong to its jail uid, not root. */
	assert_int_equal(st.st_uid, soda_server_info_get_uid(info));
	assert_int_not_equal(th_exec(srv, "echo x > /mnt/ro/new", NULL), 0);
	assert_int_not_equal(th_exec(srv, "rm -f /mnt/ro/file && test ! -e /mnt/ro/file", NULL), 0);

	/* The attack: mount hostfs at the host's root through every escape. */
	assert_int_equal(th_exec(srv, "mkdir -p /esc && mount -t hostfs none /esc -o /../../.. "
				      "&& ls -a1 /esc",
				 &ls),
			 0);
	print_message("hostfs root seen by the guest: %s\n", ls);
	/* It sees its shares (and /dev/null), nothing of the jail (its disks,
	 * memory file, management console, kernel and libraries) and nothing
	 * of the host. */
	assert_non_null(strstr(ls, "\nshare\n"));
	assert_non_null(strstr(ls, "\ndev\n"));
	for (const char *const *bad =
		     (const char *const[]){ "etc", "root", "home", "var", "proc", "sys", "work",
					    "boot", "disk", "usr", "lib", "lib64", "tmp", "uml",
					    "soda", "hostfs", NULL };
	     *bad; bad++) {
		char word[32];

		snprintf(word, sizeof(word), "\n%s\n", *bad);
		if (strstr(ls, word))
			fail_msg("the guest sees the host's /%s", *bad);
	}
	free(ls);
	/* Nothing of the host's files: not /etc/shadow, not our secret. */
	assert_int_not_equal(th_exec(srv, "cat /esc/etc/shadow", NULL), 0);
	assert_int_not_equal(th_exec(srv, "find /esc -name '" HOST_SECRET "' | grep .", NULL), 0);
	assert_int_not_equal(th_exec(srv, "grep -r TOPSECRET /esc/share 2>/dev/null", NULL), 0);
	assert_int_equal(th_exec(srv, "ls -1 /esc/dev", &out), 0);
	assert_string_equal(out, "null\n");
	free(out);
	/* And nothing to write: the hostfs root is read-only, the kernel,
	 * the disks and the management console are not there at all. */
	assert_int_not_equal(th_exec(srv, "echo x > /esc/evil", NULL), 0);
	assert_int_not_equal(th_exec(srv, "echo x >> /esc/usr/bin/linux.uml", NULL), 0);
	assert_int_not_equal(th_exec(srv, "echo x >> /esc/disk/base.img", NULL), 0);
	assert_int_not_equal(th_exec(srv, "echo x >> /esc/disk/cow", NULL), 0);
	assert_int_not_equal(th_exec(srv, "ls /esc/uml/soda/mconsole", NULL), 0);
	assert_int_not_equal(th_exec(srv, "ls /esc/lib64 /esc/lib", NULL), 0);
	assert_int_not_equal(th_exec(srv, "echo x > /esc/share/1/evil", NULL), 0);
	/* Other escapes land in the same place. */
	assert_int_equal(th_exec(srv, "mkdir -p /esc2 && mount -t hostfs none /esc2 "
				      "-o /share/0/../../../.. && ls /esc2 | grep -c -e etc -e root",
				 &out),
			 1);
	free(out);
	assert_false(path_exists("/evil"));
	soda_server_info_free(info);
	soda_server_unref(srv);
}

static int status_field(int pid, const char *field, char *out, size_t outlen)
{
	char path[64], line[256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':') {
			snprintf(out, outlen, "%s", line + strlen(field) + 1);
			out[strcspn(out, "\n")] = '\0';
			found = 1;
		}
	fclose(f);
	return found;
}

static void test_unprivileged(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	soda_server_info *info;
	char *cg, *procs, *p, val[128];
	uid_t uid;
	int checked = 0;

	th_require_root();
	th_build_image(env);
	srv = th_start_server(env, "unpriv", 48);
	info = info_of(srv);
	uid = soda_server_info_get_uid(info);
	assert_true(uid != 0);
	soda_server_info_free(info);
	cg = th_cgroup_dir(env, "unpriv");
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		procs = th_read_file(path);
	}
	assert_non_null(procs);
	/* Every host process of the guest: its uid, no capabilities at all. */
	for (p = strtok(procs, "\n"); p; p = strtok(NULL, "\n")) {
		int pid = atoi(p);
		char want[64];

		snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
		assert_true(status_field(pid, "Uid", val, sizeof(val)));
		assert_string_equal(val + strspn(val, "\t "), want);
		assert_true(status_field(pid, "Gid", val, sizeof(val)));
		assert_string_equal(val + strspn(val, "\t "), want);
		for (const char *const *cap =
			     (const char *const[]){ "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
						    NULL };
		     *cap; cap++) {
			assert_true(status_field(pid, *cap, val, sizeof(val)));
			assert_string_equal(val + strspn(val, "\t "), "0000000000000000");
		}
		assert_true(status_field(pid, "NoNewPrivs", val, sizeof(val)));
		assert_string_equal(val + strspn(val, "\t "), "1");
		assert_true(status_field(pid, "Groups", val, sizeof(val)));
		assert_string_equal(val + strspn(val, "\t "), "");
		checked++;
	}
	assert_true(checked >= 2);
	/* The main process has address randomisation off (DESIGN.md). */
	{
		char path[64], *pers;

		info = info_of(srv);
		snprintf(path, sizeof(path), "/proc/%d/personality",
			 soda_server_info_get_guest_pid(info));
		pers = th_read_file(path);
		assert_non_null(pers);
		assert_int_equal(strtoul(pers, NULL, 16) & 0x0040000, 0x0040000);
		free(pers);
		soda_server_info_free(info);
	}
	free(procs);
	free(cg);
	soda_server_unref(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_share_no_hostfs, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_share_escape, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_unprivileged, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
