/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest profiles, attacked: an intruder who is root in the guest's
 * userland loads a module, reads and writes /dev/mem, makes a memory device
 * node, reads /proc/kcore, traces PID 1 and reads its memory, stops and
 * kills PID 1, turns kptr_restrict off, tries iopl, ioperm, kexec, bpf and
 * perf_event_open, turns audit off or takes it over, floods audit's backlog
 * and floods the agent. Under the locked profile (the default) each is
 * refused or recorded, and logging goes on; under the open profile (the
 * positive control) the same attacks get through. One guest per profile
 * runs all of them.
 *
 * Two protections do not depend on the profile, so their attacks fail under
 * both and their positive controls are other: the tenant's PID namespace
 * (the agent has no PID there, so signals to "PID 1" reach the tenant's own
 * init; the control is the same signals reaching a process of the tenant's)
 * and the audit configuration, which the kernel refuses to any process
 * outside the initial PID namespace and which the agent has locked
 * (enabled=2; the control is a user message, which the kernel takes from
 * the tenant: audit is there and answers). A flood of audit records that
 * the kernel drops is not refused but declared: a LOSS record in the
 * blackbox, and exec records arrive again afterwards.
 */
#include "it_bb_common.h"

/* The guest's /tools: the attack tool, a real module of the guest's kernel
 * (if the host has Debian's UML modules), a file that is not a module. */
static char *make_tools(th_env *env)
{
	char *tools = NULL;

	assert_true(asprintf(&tools, "%s/tools", env->state_dir) > 0);

	assert_int_equal(th_sh("mkdir -p '%s' && cp '%s' '%s/guestattack' && "
			       "printf 'not a module' > '%s/crafted.ko' && "
			       "m=$(ls /usr/lib/uml/modules/*/kernel/net/x25/x25.ko 2>/dev/null | "
			       "head -n1) && { [ -z \"$m\" ] || cp \"$m\" '%s/real.ko'; } && "
			       "chmod -R a+rX '%s'",
			       tools, SODA_TEST_GUESTATTACK, tools, tools, tools, tools),
			 0);
	return tools;
}

/* Its guests get 128 MiB instead of bb_start_server()'s 48: a full audit
 * backlog (8192 records of about 2 KiB of kernel memory each) leaves a 48
 * MiB guest out of memory, and the OOM killer takes the console's shell
 * that runs the flood (the agent, PID 1, is never chosen). */
#define GUEST_MEMORY (128u << 20)

/* Runs "/tools/guestattack @args" in the guest; returns its "name: result"
 * answer's result (freed by the caller). */
static char *attack(soda_server *srv, const char *args)
{
	char cmd[256], *out = NULL, *colon, *res;

	snprintf(cmd, sizeof(cmd), "/tools/guestattack %s", args);
	assert_int_equal(th_exec(srv, cmd, &out), 0);
	colon = strstr(out, ": ");
	assert_non_null(colon);
	res = strndup(colon + 2, strcspn(colon + 2, "\r\n"));
	print_message("  %-28s %s\n", args, res);
	free(out);
	return res;
}

static void expect(soda_server *srv, const char *args, const char *want)
{
	char *got = attack(srv, args);

	if (strcmp(got, want) != 0)
		fail_msg("guestattack %s: %s, not %s", args, got, want);
	free(got);
}

static void expect_not(soda_server *srv, const char *args, const char *unwanted)
{
	char *got = attack(srv, args);

	if (strcmp(got, unwanted) == 0)
		fail_msg("guestattack %s: %s", args, got);
	free(got);
}

/* The first line of the output of @cmd in the guest. */
static char *guest_line(soda_server *srv, const char *cmd)
{
	char *out = NULL, *line;

	assert_int_equal(th_exec(srv, cmd, &out), 0);
	line = strndup(out, strcspn(out, "\r\n"));
	free(out);
	return line;
}

static void expect_line(soda_server *srv, const char *cmd, const char *want)
{
	char *got = guest_line(srv, cmd);

	if (strcmp(got, want) != 0)
		fail_msg("%s: '%s', not '%s'", cmd, got, want);
	free(got);
}

static bool have_real_module(th_env *env)
{
	char *mod = NULL;
	bool have;

	assert_true(asprintf(&mod, "%s/tools/real.ko", env->state_dir) > 0);
	have = path_exists(mod);
	free(mod);
	return have;
}

#define FLOOD_LINES 65536 /* 2^16 */
#define SYSLOG_FLOOD_LINES 2000

/* After the attacks: the agent takes a flood of lines on all three ways in,
 * and what comes after it still arrives. */
static void flood_then_mark(soda_server *srv)
{
	/* The lines doubled 16 times: quicker than yes | head in a guest. */
	assert_int_equal(th_exec(srv,
				 "printf 'SODA-BB-%s\\n' FLOOD > /tmp/f && i=0 && "
				 "while [ $i -lt 16 ]; do cat /tmp/f /tmp/f > /tmp/g && "
				 "mv /tmp/g /tmp/f; i=$((i+1)); done && "
				 "sed 's/FLOOD/RFLOD/' /tmp/f > /tmp/r && "
				 "sed 's/FLOOD/SFLOD/' /tmp/f | head -n 2000 > /tmp/s",
				 NULL),
			 0);
	assert_int_equal(th_exec(srv,
				 "cat /tmp/f > /dev/blackbox & /soda/init log /tmp/r & "
				 "logger -t flood < /tmp/s & wait",
				 NULL),
			 0);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' AFTER > /dev/blackbox", NULL), 0);
}


/* Stop or kill PID 1, from root in the tenant's PID namespace (the
 * console's shell). The agent has no PID there: PID 1 is the tenant's own
 * init, which the kernel shields from SIGKILL and SIGSTOP sent from inside
 * its namespace and from signals it does not handle. SIGINT and SIGPWR are
 * what the agent takes for a stop of the guest (ctrl-alt-del, power): were
 * the agent PID 1 here, they would end the guest and its logging. The
 * control, under either profile: the same signals stop and kill a process
 * of the tenant's. */
static void signal_pid1(soda_server *srv)
{
	char *start = guest_line(srv, "cut -d' ' -f22 /proc/1/stat"), *now;

	expect_line(srv,
		    "sleep 600 & v=$!; sleep 0.3; kill -STOP $v; sleep 0.3; "
		    "a=$(cut -d' ' -f3 /proc/$v/stat); kill -9 $v; sleep 0.3; "
		    "b=$(cut -d' ' -f3 /proc/$v/stat 2>/dev/null); case $b in Z|'') b=dead;; esac; "
		    "echo $a $b",
		    "T dead");
	assert_int_equal(th_exec(srv, "kill -STOP 1 && kill -INT 1 && kill -PWR 1 && kill -HUP 1", NULL),
			 0);
	expect_line(srv, "sleep 0.3; [ $(cut -d' ' -f3 /proc/1/stat) != T ] && echo running", "running");
	assert_int_equal(th_exec(srv, "kill -9 1", NULL), 0);
	/* Every process the tenant may signal: stopped, then killed (the
	 * console's shell sending it is spared, as kill(-1) spares its caller). */
	th_exec(srv, "kill -STOP -1; sleep 0.3; kill -CONT -1; kill -9 -1; echo done", NULL);
	sleep(1);
	/* The same init, running; the agent answers and still records. */
	now = guest_line(srv, "cut -d' ' -f22 /proc/1/stat");
	if (strcmp(start, now) != 0)
		fail_msg("PID 1 of the tenant started again (%s, then %s)", start, now);
	expect_line(srv, "[ $(cut -d' ' -f3 /proc/1/stat) != T ] && echo running", "running");
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' SIGNALLED > /dev/blackbox", NULL), 0);
	free(now);
	free(start);
}

/* Turn audit off, take it over, or delete or hide the agent's rules, as
 * auditctl would (-e 0, becoming the audit daemon, -r 1, -b 1, -l and -D,
 * -d of the exec rule, -A exit,never): refused under both profiles (the
 * kernel refuses audit's configuration outside the initial PID namespace,
 * and the agent locked it with enabled=2), so there is no control under
 * open. What shows that the refusals are the kernel's answers and not an
 * audit that is missing: a user message (CAP_AUDIT_WRITE) goes through. */
static void audit_attacks(soda_server *srv)
{
	static const char *const refused[] = { "audit-get",	"audit-off", "audit-pid",
					       "audit-rate",	"audit-backlog", "audit-list",
					       "audit-del",	"audit-never" };

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		expect(srv, refused[i], "EPERM");
	expect(srv, "audit-user", "ok");
}


/* Runs @cmd in the guest as th_exec() does, with 2 minutes to answer: after
 * the flood the agent works through audit's full backlog and the kernel
 * log's lines before the console's reply, which takes long under load. */
static int exec_slow(soda_server *srv, const char *cmd, char **out)
{
	soda_error *err = NULL;
	int status = -1;

	assert_soda_ok(soda_console_exec(srv, cmd, 120000, out, &status, &err), err);
	return status;
}

/* Flood audit's backlog for 3 s with records the kernel makes without
 * waiting (promiscuous mode of lo turned on and off by 4 processes), so
 * that it drops some; then wait for the agent's check of the kernel's
 * count (every second) and exec a marker, whose record must arrive after
 * the declared loss. */
static void audit_flood(soda_server *srv)
{
	char *out = NULL;

	assert_int_equal(exec_slow(srv, "/tools/guestattack audit-flood 3 4", &out), 0);
	print_message("  %s", out);
	assert_non_null(strstr(out, "audit-flood: ok"));
	free(out);
	sleep(2);
	assert_int_equal(exec_slow(srv, "/tools/guestattack audit-get after-flood", &out), 0);
	assert_non_null(strstr(out, "audit-get: EPERM"));
	free(out);
}

/* The records lost as the LOSS records of @all with @reason declare. */
static unsigned long long declared_loss(const char *all, unsigned reason, const char **first)
{
	unsigned long long sum = 0, rc, by;
	unsigned why;

	*first = NULL;
	for (const char *p = all; (p = strstr(p, "guest loss: ")); p++)
		if ((p == all || p[-1] == '\n') &&
		    sscanf(p, "guest loss: records=%llu bytes=%llu reason=%u", &rc, &by, &why) == 3 &&
		    why == reason) {
			sum += rc;
			if (!*first)
				*first = p;
		}
	return sum;
}

/* Lines of @all that start with @prefix and hold @needle. */
static long count_with(const char *all, const char *prefix, const char *needle)
{
	long n = 0;

	for (const char *p = all; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (strncmp(p, prefix, strlen(prefix)) == 0 && memmem(p, len, needle, strlen(needle)))
			n++;
		p = end ? end + 1 : NULL;
	}
	return n;
}

static void check_store(th_env *env, const char *name, const char *dir, bool locked)
{
	uint32_t status;
	char *all = bb_read_all(dir, &status), *clog, *console;

	assert_int_not_equal(status, SODA_BLACKBOX_DAMAGED);
	/* The profile is in the stream. */
	assert_non_null(strstr(all, locked ? "guest lifecycle: guest profile locked: "
					     "modules_disabled=1, ptrace_scope=3,"
					   : "guest lifecycle: guest profile open: "));
	if (locked) {
		/* root turned kptr_restrict off: set back and recorded. */
		assert_non_null(strstr(all, "guest lifecycle: guest profile locked: kptr_restrict "
					    "was 0, set back to 2"));
		/* The module load was audited as the agent's rules see it: the
		 * exec of the insmod at least. */
		assert_non_null(strstr(all, "guest exec: /tools/guestattack module /tools/crafted.ko"));
	} else {
		assert_null(strstr(all, "set back to"));
	}
	/* The flood, every line of it, and what came after. */
	assert_int_equal(bb_count_lines(all, "guest text: SODA-BB-FLOOD"), FLOOD_LINES);
	assert_int_equal(bb_count_lines(all, "guest text: SODA-BB-RFLOD"), FLOOD_LINES);
	assert_int_equal(count_with(all, "guest syslog: ", "SODA-BB-SFLOD"), SYSLOG_FLOOD_LINES);
	/* The audit flood: a loss declared (reason 5, the kernel dropped
	 * events), no more than the kernel said it dropped where it said so,
	 * and exec records after it. Kernel log lines overwritten by the flood's
	 * messages (reason 4) may be declared too; nothing else was lost. */
	{
		const char *first, *k, *after;
		unsigned long long events = declared_loss(all, 5, &first), klost = 0, v;

		declared_loss(all, 4, &k);
		if (events == 0)
			fail_msg("the audit flood's loss was not declared");
		for (const char *p = all; (p = strstr(p, "audit_lost=")); p++)
			if (sscanf(p, "audit_lost=%llu", &v) == 1 && v > klost)
				klost = v;
		print_message("  audit records lost, declared %llu (the kernel's log says %llu)\n",
			      events, klost);
		assert_true(klost <= events);
		after = strstr(all, "guest exec: /tools/guestattack audit-get after-flood");
		assert_non_null(after);
		assert_true(first < after);
		for (const char *p = all; (p = strstr(p, "guest loss: ")); p++)
			if (p == all || p[-1] == '\n')
				assert_true(strncmp(strstr(p, " reason="), " reason=4\n", 10) == 0 ||
					    strncmp(strstr(p, " reason="), " reason=5\n", 10) == 0);
	}
	/* The flood took no process with it (see GUEST_MEMORY). */
	assert_null(strstr(all, "Out of memory"));
	/* After the signals to PID 1 the agent still recorded. */
	assert_int_equal(bb_count_lines(all, "guest text: SODA-BB-SIGNALLED"), 1);
	/* The write to the console past the recording: on the host's console
	 * under open, nowhere under locked; in the blackbox under neither. */
	assert_true(asprintf(&clog, "%s/servers/%s/console.log", env->state_dir, name) > 0);
	console = th_read_file(clog);
	assert_non_null(console);
	if (locked)
		assert_null(strstr(console, "SODA-BB-DIRECT"));
	else
		assert_non_null(strstr(console, "SODA-BB-DIRECT"));
	assert_null(strstr(all, "SODA-BB-DIRECT"));
	free(console);
	free(clog);
	assert_int_equal(bb_count_lines(all, "guest text: SODA-BB-AFTER"), 1);
	assert_true(strstr(all, "SODA-BB-FLOOD") < strstr(all, "SODA-BB-AFTER"));
	free(all);
}

static void test_locked(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char *tools, *dir;

	th_require_root();
	th_build_image(env);
	tools = make_tools(env);
	srv = bb_start_server_mem(env, "locked", tools, SODA_GUEST_PROFILE_LOCKED,
				  GUEST_MEMORY);
	dir = bb_store_dir(env, srv);

	expect_line(srv, "cat /proc/sys/kernel/modules_disabled", "1");
	expect_line(srv, "cat /proc/sys/kernel/yama/ptrace_scope", "3");
	expect_line(srv, "cat /proc/sys/kernel/kptr_restrict", "2");
	expect_line(srv, "cat /proc/sys/kernel/dmesg_restrict", "1");
	/* Modules: a file that is not one is refused before the kernel
	 * parses it (EPERM, not ENOEXEC); a real one too. */
	expect(srv, "module /tools/crafted.ko", "EPERM");
	expect(srv, "init_module", "EPERM");
	expect(srv, "delete_module x25", "EPERM");
	if (have_real_module(env)) {
		expect(srv, "module /tools/real.ko", "EPERM");
		expect_line(srv, "insmod /tools/real.ko 2>&1 | grep -c 'not permitted'", "1");
	}
	/* Memory: the nodes are gone, none can be made, and even a fresh
	 * devtmpfs or an old node would not open (no CAP_SYS_RAWIO). */
	expect(srv, "read /dev/mem", "ENOENT");
	expect(srv, "write /dev/mem", "ENOENT");
	expect(srv, "read /dev/kmem", "ENOENT");
	expect(srv, "read /dev/port", "ENOENT");
	expect(srv, "mknod /root/mem 1 1", "EPERM");
	expect_line(srv, "mknod /root/mem2 c 1 1 2>&1 | head -n1 | grep -c 'not permitted'", "1");
	expect_line(srv, "mkdir -p /mnt/dt && mount -t devtmpfs none /mnt/dt && "
			 "ls /mnt/dt/mem 2>&1 | grep -c 'No such file'; umount /mnt/dt",
		    "1");
	expect(srv, "read /proc/kcore", "EPERM");
	/* The real console: its nodes are gone, the tenant's console is
	 * the agent's pty bound over empty files; unbound, nothing reaches
	 * the console past the recording (and the host's line is gone too). */
	expect_line(srv, "umount /dev/console && [ ! -c /dev/console ] && echo gone", "gone");
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' DIRECT > /dev/console", NULL), 0);
	expect_line(srv, "[ -e /dev/ttyS2 ] || echo noline", "noline");
	/* FIFOs are still the tenant's to make. */
	expect_line(srv, "mkfifo /tmp/tenantfifo && [ -p /tmp/tenantfifo ] && echo fifo", "fifo");
	/* PID 1 of the tenant's namespace (the agent has no PID there). */
	expect(srv, "ptrace 1", "EPERM");
	expect(srv, "vmread 1", "EPERM");
	expect(srv, "vmwrite 1", "EPERM");
	expect(srv, "iopl", "EPERM");
	expect(srv, "ioperm", "EPERM");
	expect(srv, "kexec", "EPERM");
	expect(srv, "bpf", "EPERM");
	expect(srv, "perf", "EPERM");
	/* Root may write kptr_restrict: the agent sets it back within a second
	 * and records it. */
	assert_int_equal(th_exec(srv, "echo 0 > /proc/sys/kernel/kptr_restrict", NULL), 0);
	assert_int_equal(th_exec(srv,
				 "( i=0; until [ $(cat /proc/sys/kernel/kptr_restrict) = 2 ]; do "
				 "i=$((i+1)); [ $i -gt 30 ] && exit 1; sleep 0.1; done )",
				 NULL),
			 0);
	signal_pid1(srv);
	audit_attacks(srv);
	audit_flood(srv);
	flood_then_mark(srv);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
	check_store(env, "locked", dir, true);
	soda_server_unref(srv);
	free(dir);
	free(tools);
}

/* The positive control: the same attacks get through. */
static void test_open(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char *tools, *dir;

	th_require_root();
	th_build_image(env);
	tools = make_tools(env);
	srv = bb_start_server_mem(env, "open", tools, SODA_GUEST_PROFILE_OPEN, GUEST_MEMORY);
	dir = bb_store_dir(env, srv);

	expect_line(srv, "cat /proc/sys/kernel/modules_disabled", "0");
	expect_line(srv, "cat /proc/sys/kernel/yama/ptrace_scope", "0");
	/* The kernel parses the file, and says it is not a module. */
	expect(srv, "module /tools/crafted.ko", "ENOEXEC");
	if (have_real_module(env)) {
		expect(srv, "module /tools/real.ko", "ok");
		expect_line(srv, "grep -c '^x25 ' /proc/modules", "1");
		expect(srv, "delete_module x25", "ok");
	}
	expect(srv, "read /dev/mem", "ok");
	expect(srv, "write /dev/mem", "ok");
	/* (/tmp is nodev: the node goes on the root file system.) */
	expect(srv, "mknod /root/mem 1 1", "ok");
	expect(srv, "read /root/mem", "ok");
	expect(srv, "read /proc/kcore", "ok");
	/* Unbound, with a node of its own, the console takes writes past the
	 * recording. */
	assert_int_equal(th_exec(srv,
				 "umount /dev/console && mknod /root/con c 5 1 && "
				 "printf 'SODA-BB-%s\\n' DIRECT > /root/con",
				 NULL),
			 0);
	expect(srv, "ptrace 1", "ok");
	expect(srv, "vmread 1", "ok");
	expect(srv, "vmwrite 1", "ok");
	/* UML has no port I/O nor kexec, and may lack perf: whatever the
	 * kernel says, it is not the profile's EPERM. */
	expect_not(srv, "iopl", "EPERM");
	expect_not(srv, "ioperm", "EPERM");
	expect_not(srv, "kexec", "EPERM");
	expect_not(srv, "bpf", "EPERM");
	expect_not(srv, "perf", "EPERM");
	assert_int_equal(th_exec(srv, "echo 0 > /proc/sys/kernel/kptr_restrict && sleep 1.5", NULL),
			 0);
	expect_line(srv, "cat /proc/sys/kernel/kptr_restrict", "0");
	/* The profile does not open the PID namespace nor audit's lock: the
	 * same results as under locked (see signal_pid1, audit_attacks). */
	signal_pid1(srv);
	audit_attacks(srv);
	audit_flood(srv);
	flood_then_mark(srv);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
	check_store(env, "open", dir, false);
	soda_server_unref(srv);
	free(dir);
	free(tools);
}

static void test_config(void **state)
{
	th_env *env = *state;
	soda_server_config *cfg = NULL;
	uint32_t p = 99;

	assert_soda_ok(soda_server_config_new(&cfg, "prof", &env->err), env->err);
	assert_int_equal(soda_server_config_get_guest_profile(cfg), SODA_GUEST_PROFILE_LOCKED);
	assert_soda_fails(soda_server_config_set_guest_profile(cfg, 2, &env->err), -EINVAL,
			  env->err);
	assert_soda_ok(soda_server_config_set_guest_profile(cfg, SODA_GUEST_PROFILE_OPEN, &env->err),
		       env->err);
	assert_int_equal(soda_server_config_get_guest_profile(cfg), SODA_GUEST_PROFILE_OPEN);
	assert_soda_fails(soda_guest_profile_from_name(&p, "lockd", &env->err), -EINVAL, env->err);
	assert_int_equal(p, 99);
	assert_soda_ok(soda_guest_profile_from_name(&p, "open", &env->err), env->err);
	assert_int_equal(p, SODA_GUEST_PROFILE_OPEN);
	assert_string_equal(soda_guest_profile_name(SODA_GUEST_PROFILE_LOCKED), "locked");
	assert_null(soda_guest_profile_name(7));
	soda_server_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_locked, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_open, env_setup, env_teardown),
	};
	int r;

	th_become_subreaper();
	if (bb_setup_tenant() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	soda_blackbox_key_free(tenant);
	return r;
}
