/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resource shares on real guests: a 1:3 CPU split on one CPU, a hard cap, a
 * live change, memory and process limits that contain a guest, a
 * neighbour that keeps its share while another server attacks, and a
 * pinned guest whose monitor stays off its CPU.
 */
#include "it_common.h"

static soda_server *start_shared(th_env *env, const char *name, unsigned mem_mib,
				 const char *spec)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_shares *sh = NULL;

	assert_int_equal(soda_server_config_new(&cfg, name, NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, (uint64_t)mem_mib << 20, NULL), 0);
	assert_soda_ok(soda_shares_parse(&sh, spec, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_shares(cfg, sh, &env->err), env->err);
	soda_shares_free(sh);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

static uint64_t stat_of(th_env *env, soda_server *srv, int key)
{
	soda_stats *st = NULL;
	uint64_t v = 0;

	assert_soda_ok(soda_server_get_stats(&st, srv, 0, &env->err), env->err);
	assert_int_equal(soda_stats_get(st, key, &v), 0);
	soda_stats_free(st);
	return v;
}

static void burn(soda_server *srv)
{
	assert_int_equal(th_exec(srv, "(while :; do :; done) >/dev/null 2>&1 &", NULL), 0);
}

static void test_cpu_split_and_cap(void **state)
{
	th_env *env = *state;
	soda_server *a, *b, *c;
	uint64_t a0, b0, c0, a1, b1, c1, t0, t1;
	double share_a, share_b, cap_c, secs;

	th_require_root();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	th_build_image(env);
	/* a and b compete for CPU 0 with weights 1:3; c runs alone on CPU 1
	 * capped at 20 %. */
	a = start_shared(env, "light", 48, "cpu.weight=100 cpus=0");
	b = start_shared(env, "heavy", 48, "cpu.weight=300 cpus=0");
	c = start_shared(env, "capped", 48, "cpu.max=20% cpus=1");
	burn(a);
	burn(b);
	burn(c);
	sleep(1);
	a0 = stat_of(env, a, SODA_STAT_CPU_USEC);
	b0 = stat_of(env, b, SODA_STAT_CPU_USEC);
	c0 = stat_of(env, c, SODA_STAT_CPU_USEC);
	t0 = th_mono_ms();
	sleep(10);
	a1 = stat_of(env, a, SODA_STAT_CPU_USEC);
	b1 = stat_of(env, b, SODA_STAT_CPU_USEC);
	c1 = stat_of(env, c, SODA_STAT_CPU_USEC);
	t1 = th_mono_ms();
	secs = (double)(t1 - t0) / 1000.0;
	share_a = 100.0 * (double)(a1 - a0) / (double)((a1 - a0) + (b1 - b0));
	share_b = 100.0 - share_a;
	cap_c = 100.0 * (double)(c1 - c0) / 1e6 / secs;
	print_message("over %.1f s: weight 100 got %.1f %%, weight 300 got %.1f %% of CPU 0 "
		      "(%.2f + %.2f CPU-s); the 20 %% cap used %.1f %% of CPU 1\n",
		      secs, share_a, share_b, (double)(a1 - a0) / 1e6, (double)(b1 - b0) / 1e6,
		      cap_c);
	/* Together they keep CPU 0 busy. */
	assert_true((double)((a1 - a0) + (b1 - b0)) / 1e6 > 0.85 * secs);
	assert_true(share_a >= 22.0 && share_a <= 28.0);
	assert_true(share_b >= 72.0 && share_b <= 78.0);
	assert_true(cap_c >= 17.0 && cap_c <= 23.0);
	assert_true(stat_of(env, c, SODA_STAT_CPU_THROTTLED_PERIODS) > 0);

	/* A live change takes effect within a second: raise the cap to 60 %. */
	{
		soda_shares *sh = NULL;

		assert_soda_ok(soda_shares_parse(&sh, "cpu.max=60% cpus=1", &env->err), env->err);
		assert_soda_ok(soda_server_set_shares(c, sh, 0, &env->err), env->err);
		soda_shares_free(sh);
		c0 = stat_of(env, c, SODA_STAT_CPU_USEC);
		t0 = th_mono_ms();
		sleep(1);
		c1 = stat_of(env, c, SODA_STAT_CPU_USEC);
		t1 = th_mono_ms();
		cap_c = 100.0 * (double)(c1 - c0) / 1e3 / (double)(t1 - t0);
		print_message("first second after raising the cap to 60 %%: %.1f %%\n", cap_c);
		assert_true(cap_c >= 52.0 && cap_c <= 68.0);
	}
	/* It is on record too: a restart keeps it. */
	{
		soda_server_config *cfg = NULL;
		soda_shares *sh = NULL;

		assert_soda_ok(soda_server_get_config(&cfg, c, &env->err), env->err);
		assert_soda_ok(soda_server_config_get_shares(&sh, cfg, &env->err), env->err);
		assert_int_equal(soda_shares_get_cpu_max(sh), 60);
		soda_shares_free(sh);
		soda_server_config_free(cfg);
	}
	soda_server_unref(a);
	soda_server_unref(b);
	soda_server_unref(c);
}

static void test_bad_live_change(void **state)
{
	th_env *env = *state;
	soda_server *srv, *ghost = NULL;
	soda_shares *sh = NULL;
	uint64_t before;

	th_require_root();
	th_build_image(env);
	srv = start_shared(env, "steady", 64, "cpu.max=30% pids.max=100");
	before = stat_of(env, srv, SODA_STAT_MEMORY_MAX_BYTES);
	/* A backstop below what the guest needs, and bandwidth shaping this
	 * build lacks: refused, and nothing changes. */
	assert_int_equal(soda_shares_parse(&sh, "cpu.max=90% memory.max=70MiB", NULL), 0);
	assert_soda_fails(soda_server_set_shares(srv, sh, 0, &env->err), -EINVAL, env->err);
	soda_shares_free(sh);
	assert_int_equal(stat_of(env, srv, SODA_STAT_MEMORY_MAX_BYTES), before);
	assert_int_equal(stat_of(env, srv, SODA_STAT_PIDS_MAX), 100);
	{
		soda_server_config *cfg = NULL;

		assert_soda_ok(soda_server_get_config(&cfg, srv, &env->err), env->err);
		assert_soda_ok(soda_server_config_get_shares(&sh, cfg, &env->err), env->err);
		assert_int_equal(soda_shares_get_cpu_max(sh), 30);
		soda_shares_free(sh);
		soda_server_config_free(cfg);
	}
	/* Shares on a server that does not exist (any more). */
	assert_soda_fails(soda_server_lookup(&ghost, env->ctx, "ghost", &env->err), -ENOENT,
			  env->err);
	{
		soda_server_config *cfg = NULL;

		assert_int_equal(soda_server_config_new(&cfg, "gone", NULL), 0);
		assert_soda_ok(soda_server_define(&ghost, env->ctx, cfg, 0, &env->err), env->err);
		soda_server_config_free(cfg);
		assert_soda_ok(soda_server_undefine(ghost, 0, &env->err), env->err);
		assert_int_equal(soda_shares_parse(&sh, "cpu.weight=500", NULL), 0);
		assert_soda_fails(soda_server_set_shares(ghost, sh, 0, &env->err), -ENOENT, env->err);
		soda_shares_free(sh);
		soda_server_unref(ghost);
	}
	soda_server_unref(srv);
}

/* A guest allocating past its memory is stopped by its own OOM killer (or
 * the host backstop), and a neighbour does not notice. */
static void test_memory_contained(void **state)
{
	th_env *env = *state;
	soda_server *hog, *neighbour;
	char *out = NULL;
	uint64_t limit, peak;

	th_require_root();
	th_build_image(env);
	hog = start_shared(env, "hog", 48, "");
	neighbour = start_shared(env, "neighbour", 48, "");
	assert_int_equal(th_exec(neighbour, "echo 1234 > /root/state", NULL), 0);
	/* awk doubles a string until the guest runs out of memory. */
	th_exec(hog, "awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo status=$?", &out);
	print_message("hog: %s\n", out);
	assert_non_null(strstr(out, "status="));
	assert_null(strstr(out, "status=0"));
	free(out);
	limit = stat_of(env, hog, SODA_STAT_MEMORY_MAX_BYTES);
	peak = stat_of(env, hog, SODA_STAT_MEMORY_PEAK_BYTES);
	print_message("hog peak %.1f MiB, backstop %.1f MiB\n", peak / 1048576.0, limit / 1048576.0);
	assert_true(peak <= limit);
	/* Both servers still run, the hog answers, the neighbour's state is
	 * intact and it used no more than an idle guest. */
	assert_int_equal(state_of(hog), SODA_STATE_RUNNING);
	assert_int_equal(th_exec(hog, "echo recovered", NULL), 0);
	assert_int_equal(th_exec(neighbour, "cat /root/state", &out), 0);
	assert_non_null(strstr(out, "1234"));
	free(out);
	assert_true(stat_of(env, neighbour, SODA_STAT_MEMORY_BYTES) < 24ULL << 20);
	assert_int_equal(stat_of(env, neighbour, SODA_STAT_MEMORY_LIMIT_HITS), 0);
	soda_server_unref(hog);
	soda_server_unref(neighbour);
}

static void test_fork_bomb(void **state)
{
	th_env *env = *state;
	soda_server *bomber, *neighbour;
	uint64_t t0;

	th_require_root();
	th_build_image(env);
	bomber = start_shared(env, "bomber", 48, "pids.max=48");
	neighbour = start_shared(env, "calm", 48, "");
	assert_int_equal(th_exec(bomber, "(b() { b | b & }; b) >/dev/null 2>&1 &", NULL), 0);
	sleep(3);
	/* The host refuses the bomber's forks beyond its limit... */
	assert_true(stat_of(env, bomber, SODA_STAT_PIDS) <= 48);
	assert_true(stat_of(env, bomber, SODA_STAT_PIDS_LIMIT_HITS) > 0);
	/* ...and the neighbour forks and answers as usual. */
	t0 = th_mono_ms();
	assert_int_equal(th_exec(neighbour, "for i in 1 2 3 4 5 6 7 8; do true & done; wait; echo ok",
				 NULL),
			 0);
	print_message("neighbour answered in %llu ms during the bomb\n",
		      (unsigned long long)(th_mono_ms() - t0));
	assert_true(th_mono_ms() - t0 < 5000);
	assert_soda_ok(soda_server_kill(bomber, 0, &env->err), env->err);
	soda_server_unref(bomber);
	soda_server_unref(neighbour);
}

/* One server attacks with CPU, memory and processes at once; its neighbour
 * with the same weight keeps half of the CPU they share, and answers fast. */
static void test_noisy_neighbour(void **state)
{
	th_env *env = *state;
	soda_server *attacker, *victim;
	uint64_t v0, v1, a0, a1, t0;
	double share;

	th_require_root();
	th_build_image(env);
	attacker = start_shared(env, "attacker", 48, "cpus=0 pids.max=64");
	victim = start_shared(env, "victim", 48, "cpus=0");
	burn(victim);
	for (int i = 0; i < 4; i++)
		burn(attacker);
	th_exec(attacker, "(awk 'BEGIN { s = \"x\"; while (1) s = s s }' &) ; "
			  "(b() { b | b & }; b) >/dev/null 2>&1 &",
		NULL);
	sleep(2);
	v0 = stat_of(env, victim, SODA_STAT_CPU_USEC);
	a0 = stat_of(env, attacker, SODA_STAT_CPU_USEC);
	sleep(8);
	v1 = stat_of(env, victim, SODA_STAT_CPU_USEC);
	a1 = stat_of(env, attacker, SODA_STAT_CPU_USEC);
	share = 100.0 * (double)(v1 - v0) / (double)((v1 - v0) + (a1 - a0));
	print_message("victim got %.1f %% of the shared CPU under attack\n", share);
	assert_true(share >= 45.0);
	t0 = th_mono_ms();
	assert_int_equal(th_exec(victim, "echo responsive", NULL), 0);
	print_message("victim answered in %llu ms\n", (unsigned long long)(th_mono_ms() - t0));
	assert_true(th_mono_ms() - t0 < 3000);
	assert_int_equal(stat_of(env, victim, SODA_STAT_MEMORY_LIMIT_HITS), 0);
	assert_int_equal(stat_of(env, victim, SODA_STAT_PIDS_LIMIT_HITS), 0);
	soda_server_unref(attacker);
	soda_server_unref(victim);
}

/* Cpus_allowed_list of /proc/PID/status. */
static void allowed_cpus(pid_t pid, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Cpus_allowed_list: %63s", out) == 1)
			break;
	fclose(f);
	assert_true(out[0] != '\0');
}

static pid_t monitor_of(th_env *env, soda_server *srv)
{
	soda_server_info *info = NULL;
	pid_t pid;

	assert_soda_ok(soda_server_get_info(&info, srv, 0, &env->err), env->err);
	pid = soda_server_info_get_monitor_pid(info);
	soda_server_info_free(info);
	assert_true(pid > 0);
	return pid;
}

/* Changes the server's shares live to @spec; its monitor may then use
 * @want. */
static void expect_monitor_cpus(th_env *env, soda_server *srv, pid_t monitor, const char *spec,
				const char *want)
{
	soda_shares *sh = NULL;
	char mon[64];

	if (spec) {
		assert_soda_ok(soda_shares_parse(&sh, spec, &env->err), env->err);
		assert_soda_ok(soda_server_set_shares(srv, sh, 0, &env->err), env->err);
		soda_shares_free(sh);
	}
	allowed_cpus(monitor, mon, sizeof(mon));
	print_message("%s: the monitor may use CPUs %s\n", spec ? spec : "at the start", mon);
	assert_string_equal(mon, want);
}

/* A pinned guest keeps its CPU: its monitor, which stores the guest's
 * blackbox and relays its console, runs on the others, at the start and
 * after live changes; an unpinned guest's monitor may run anywhere. */
static void test_monitor_beside_pinned_guest(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char all[64], guest[64], path[64], *kids;
	pid_t pid;

	th_require_root();
	if (sysconf(_SC_NPROCESSORS_ONLN) != 2)
		skip(); /* the expected lists below are for two CPUs */
	th_build_image(env);
	allowed_cpus(getpid(), all, sizeof(all));
	assert_string_equal(all, "0-1");
	srv = start_shared(env, "pinned", 48, "cpus=1");
	pid = monitor_of(env, srv);
	expect_monitor_cpus(env, srv, pid, NULL, "0");
	/* The guest (linux.uml, the monitor's child) is on CPU 1. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	kids = th_read_file(path);
	assert_non_null(kids);
	assert_true(atoi(kids) > 0);
	allowed_cpus(atoi(kids), guest, sizeof(guest));
	free(kids);
	assert_string_equal(guest, "1");
	expect_monitor_cpus(env, srv, pid, "cpus=0", "1");
	/* On every CPU: nothing is left to keep the monitor off. */
	expect_monitor_cpus(env, srv, pid, "cpus=0-1", "0-1");
	expect_monitor_cpus(env, srv, pid, "cpus=1", "0");
	expect_monitor_cpus(env, srv, pid, "cpu.weight=100", "0-1");
	soda_server_unref(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cpu_split_and_cap, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_bad_live_change, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_memory_contained, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_fork_bomb, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_noisy_neighbour, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_monitor_beside_pinned_guest, env_setup,
						env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
