/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The jail attacked from linux.uml's own seat. Every tenant is root in its
 * guest and owns Debian's guest kernel, so tenant code can run inside the
 * linux.uml host process as the jailed uid: tests/tools/escapekit.c plays
 * that code. soda-monitor-test (soda-monitor built with the test-only
 * SODA_TEST_EXEC) runs it in linux.uml's place under exactly linux.uml's
 * confinement: the same jail, uid, namespaces, limits, seccomp filter and
 * cgroup. Each attack fails there; the same kit run unconfined (root, in the
 * test's namespace) succeeds at each: the positive control.
 *
 * Networking stays in the namespace the test made (the context's, which
 * stands for the host's: without a namespace of its own linux.uml lived in
 * it), addresses from 198.51.100.0/24.
 */
#include "it_common.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define TCP_PORT 7391
#define ABSTRACT "soda-it-escape-listener"
#define TAP_NAME "sodaesc0"

typedef struct esc {
	th_env env;
	soda_context *kitctx;   /* same state directory, soda-monitor-test */
	soda_server *kit;       /* the kit's server */
	soda_server *victim;    /* another tenant's real server */
	pid_t listener;         /* TCP and abstract listeners in the namespace */
	int victim_pid;
	char victim_disk[256];
	char tmp[64];           /* the positive control's own scratch directory */
} esc;

static int enter_netns(const char *name)
{
	char path[96];
	int fd, r;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r;
}

/* A child in the test's namespace accepting on 127.0.0.1 and on an
 * abstract unix socket until killed. */
static pid_t start_listener(const char *netns)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(TCP_PORT) };
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		int t, u, one = 1;

		if (enter_netns(netns) < 0)
			_exit(1);
		if (system("ip link set lo up") != 0)
			_exit(1);
		inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
		memcpy(un.sun_path + 1, ABSTRACT, strlen(ABSTRACT));
		t = socket(AF_INET, SOCK_STREAM, 0);
		u = socket(AF_UNIX, SOCK_STREAM, 0);
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(t, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(t, 64) < 0 ||
		    bind(u, (struct sockaddr *)&un,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ABSTRACT))) <
			    0 ||
		    listen(u, 64) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return pid;
}

static int setup(void **state)
{
	esc *e = calloc(1, sizeof(*e));
	static const char *const uml_options[] = { "monitor=" SODA_TEST_MONITOR_EXEC,
						   "agent=" SODA_TEST_AGENT, NULL };
	soda_context_options opts = SODA_CONTEXT_OPTIONS_INIT;

	if (!e || th_env_setup_netns(&e->env) < 0)
		return -1;
	*state = e;
	opts.state_dir = e->env.state_dir;
	opts.driver_options = uml_options;
	opts.netns = e->env.netns;
	if (soda_context_open(&e->kitctx, "uml:///", &opts, 0, &e->env.err) < 0)
		return -1;
	e->listener = start_listener(e->env.netns);
	snprintf(e->tmp, sizeof(e->tmp), "%s/escape-tmp", e->env.state_dir);
	/* The positive control's targets: an address to send to, a TAP of
	 * nobody's. */
	if (e->listener < 0 || mkdir(e->tmp, 0700) < 0 ||
	    th_sh("ip -n %s link add esc0 type veth peer name esc1 && ip -n %s addr add "
		  "198.51.100.1/24 dev esc0 && ip -n %s link set esc0 up && ip -n %s link set esc1 "
		  "up && ip -n %s tuntap add " TAP_NAME " mode tap user 12345",
		  e->env.netns, e->env.netns, e->env.netns, e->env.netns, e->env.netns) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	esc *e = *state;

	if (!e)
		return 0;
	if (e->listener > 0) {
		kill(e->listener, SIGKILL);
		waitpid(e->listener, NULL, 0);
	}
	soda_server_unref(e->kit);
	soda_server_unref(e->victim);
	soda_context_unref(e->kitctx);
	/* The namespace (with its veth pair and TAP) goes with the environment. */
	th_env_teardown(&e->env);
	free(e);
	return 0;
}

/* The kit's report in its server's monitor log, from its last run. */
static char *kit_line(esc *e)
{
	char *path = state_path(&e->env, "servers", "kit/monitor.log");
	char *log = path ? th_read_file(path) : NULL, *run, *line, *out = NULL;

	free(path);
	if (!log)
		return NULL;
	run = log;
	for (char *p = strstr(log, "test build: running"); p; p = strstr(p + 1, "test build: running"))
		run = p;
	line = strstr(run, "ESCAPE ");
	if (line)
		out = strndup(line, strcspn(line, "\n"));
	free(log);
	return out;
}

/* Runs one attack in linux.uml's seat; returns the server's end reason and
 * the kit's line ("" if it printed none). SODA_SECCOMP=log with @log. */
static void run_jailed(esc *e, const char *args, bool log, char *reason, size_t rlen,
		       char *line, size_t llen)
{
	soda_server_info *info = NULL;
	uint64_t until;
	char *l, *run;
	int state = SODA_STATE_STARTING;

	setenv("SODA_TEST_EXEC", SODA_TEST_ESCAPEKIT, 1);
	setenv("SODA_TEST_EXEC_ARGS", args, 1);
	if (log)
		setenv("SODA_SECCOMP", "log", 1);
	assert_soda_ok(soda_server_start(e->kit, 0, &e->env.err), e->env.err);
	unsetenv("SODA_TEST_EXEC");
	unsetenv("SODA_TEST_EXEC_ARGS");
	unsetenv("SODA_SECCOMP");
	for (until = th_mono_ms() + 20000; th_mono_ms() < until;) {
		assert_soda_ok(soda_server_get_info(&info, e->kit, 0, &e->env.err), e->env.err);
		state = soda_server_info_get_state(info);
		snprintf(reason, rlen, "%s", soda_server_info_get_reason(info));
		soda_server_info_free(info);
		if (state != SODA_STATE_STARTING && state != SODA_STATE_RUNNING &&
		    state != SODA_STATE_STOPPING)
			break;
		usleep(20000);
	}
	if (state == SODA_STATE_STARTING || state == SODA_STATE_RUNNING)
		fail_msg("the kit's server did not end (%s)", args);
	/* Its monitor removes the run directory last: the next start waits. */
	run = state_path(&e->env, "run", "kit");
	for (until = th_mono_ms() + 5000; run && path_exists(run) && th_mono_ms() < until;)
		usleep(10000);
	free(run);
	l = kit_line(e);
	snprintf(line, llen, "%s", l ? l : "");
	free(l);
	print_message("jailed%s  %-40s -> %s | %s\n", log ? " (log)" : "      ", args, reason,
		      line);
}

/* The same kit, unconfined: root, in the test's namespace. Returns its
 * exit status (1: the attack worked). */
static int run_free(esc *e, const char *args)
{
	char *argv[16] = { (char *)SODA_TEST_ESCAPEKIT }, *copy = strdup(args), *save = NULL;
	int n = 1, status;
	pid_t pid;

	for (char *w = strtok_r(copy, " ", &save); w && n < 15; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		if (enter_netns(e->env.netns) < 0)
			_exit(3);
		execv(argv[0], argv);
		_exit(3);
	}
	free(copy);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	print_message("free          %-40s -> exit %d\n", args, WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

static void prepare(esc *e)
{
	soda_server_config *cfg = NULL;
	soda_server_info *info = NULL;
	char *cow;

	th_require_root();
	if (!e->victim) {
		th_build_image(&e->env);
		e->victim = th_start_server(&e->env, "victim", 48);
		assert_soda_ok(soda_server_get_info(&info, e->victim, 0, &e->env.err),
			       e->env.err);
		e->victim_pid = soda_server_info_get_guest_pid(info);
		soda_server_info_free(info);
		cow = state_path(&e->env, "servers", "victim/disk.cow");
		snprintf(e->victim_disk, sizeof(e->victim_disk), "%s", cow);
		free(cow);
	}
	if (!e->kit) {
		assert_int_equal(soda_server_config_new(&cfg, "kit", NULL), 0);
		assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
		assert_soda_ok(soda_server_define(&e->kit, e->kitctx, cfg, 0, &e->env.err),
			       e->env.err);
		soda_server_config_free(cfg);
	}
}

/* A system call outside the allowlist: the server ends, crashed, with the
 * call named; the attack never reports success. */
static void expect_killed(esc *e, const char *args, const char *syscall)
{
	char reason[200], line[200], want[64];

	run_jailed(e, args, false, reason, sizeof(reason), line, sizeof(line));
	snprintf(want, sizeof(want), "called %s ", syscall);
	if (!strstr(reason, "seccomp") || !strstr(reason, want))
		fail_msg("%s: the server ended with '%s', not seccomp naming %s", args, reason,
			 syscall);
	assert_null(strstr(line, ": ok"));
}

/* An attack the kernel refuses (no such file, other namespace, EFBIG...):
 * the kit reports it blocked. */
static void expect_blocked(esc *e, const char *args, bool log)
{
	char reason[200], line[200];

	run_jailed(e, args, log, reason, sizeof(reason), line, sizeof(line));
	if (!strstr(line, ": blocked"))
		fail_msg("%s: '%s' (server: %s)", args, line, reason);
}

static void test_syscalls(void **state)
{
	esc *e = *state;
	char args[128];

	prepare(e);
	/* Positive control first: each works unconfined. */
	assert_int_equal(run_free(e, "userns"), 1);
	assert_int_equal(run_free(e, "clone-userns"), 1);
	assert_int_equal(run_free(e, "io_uring"), 1);
	assert_int_equal(run_free(e, "bpf"), 1);
	assert_int_equal(run_free(e, "perf"), 1);
	assert_int_equal(run_free(e, "userfaultfd"), 1);
	assert_int_equal(run_free(e, "keyctl"), 1);
	snprintf(args, sizeof(args), "mount %s", e->tmp);
	assert_int_equal(run_free(e, args), 1);
	snprintf(args, sizeof(args), "ptrace %d", e->victim_pid);
	assert_int_equal(run_free(e, args), 1);

	expect_killed(e, "userns", "unshare");
	expect_killed(e, "clone-userns", "clone");
	expect_killed(e, "io_uring", "io_uring_setup");
	expect_killed(e, "bpf", "bpf");
	expect_killed(e, "perf", "perf_event_open");
	expect_killed(e, "userfaultfd", "userfaultfd");
	expect_killed(e, "keyctl", "add_key");
	expect_killed(e, "mount /", "mount");
	snprintf(args, sizeof(args), "ptrace %d", e->victim_pid);
	expect_killed(e, args, "ptrace");
	/* The victim lives on. */
	assert_true(th_pid_alive(e->victim_pid));
}

static void test_network(void **state)
{
	esc *e = *state;
	char tcp[64];

	prepare(e);
	snprintf(tcp, sizeof(tcp), "tcp 127.0.0.1 %d", TCP_PORT);
	assert_int_equal(run_free(e, tcp), 1);
	assert_int_equal(run_free(e, "abstract " ABSTRACT), 1);
	assert_int_equal(run_free(e, "udp 198.51.100.2 9"), 1);
	/* The filter: no sockets but AF_UNIX. */
	expect_killed(e, tcp, "socket");
	expect_killed(e, "udp 198.51.100.2 9", "socket");
	/* And beneath it, the namespace: with the filter only logging, the
	 * same attacks still reach nothing (only lo, down). */
	expect_blocked(e, tcp, true);
	expect_blocked(e, "udp 198.51.100.2 9", true);
	/* Abstract sockets belong to a namespace: the host's is out of reach. */
	expect_blocked(e, "abstract " ABSTRACT, false);
}

static void test_files_and_processes(void **state)
{
	esc *e = *state;
	char args[1024], store[256], other[256];

	prepare(e);
	snprintf(store, sizeof(store), "%s/images/busybox.img", e->env.state_dir);
	snprintf(other, sizeof(other), "%s/servers/victim/config", e->env.state_dir);
	/* Positive control. */
	snprintf(args, sizeof(args), "signal %d", e->victim_pid);
	assert_int_equal(run_free(e, args), 1);
	snprintf(args, sizeof(args), "open %s %s %s", e->victim_disk, store, other);
	assert_int_equal(run_free(e, args), 1);
	assert_int_equal(run_free(e, "tap " TAP_NAME), 1);
	snprintf(args, sizeof(args), "fsize %s", e->tmp);
	assert_int_equal(run_free(e, args), 1);
	snprintf(args, sizeof(args), "write %s/outside", e->tmp);
	assert_int_equal(run_free(e, args), 1);
	snprintf(args, sizeof(args), "grow %s/outside", e->tmp);
	assert_int_equal(run_free(e, args), 1);

	/* Another server's processes: a different uid. */
	snprintf(args, sizeof(args), "signal %d", e->victim_pid);
	expect_blocked(e, args, false);
	/* Another server's disk, the image store, the state directory's
	 * records: not in the jail; nor a TAP (no /dev/net/tun, and another
	 * network namespace). */
	snprintf(args, sizeof(args), "open %s %s %s /disk/cow /dev/net/tun", e->victim_disk, store,
		 other);
	expect_blocked(e, args, false);
	expect_blocked(e, "tap " TAP_NAME, false);
	/* No file it writes grows past its limit: a file of its own in its
	 * TMPDIR, and its disk layer past its full size. */
	expect_blocked(e, "fsize tmp", false);
	expect_blocked(e, "grow disk/cow", false);
	/* Nothing outside its own files: the hostfs root, the jail's top, the
	 * kernel, the libraries, the shared base image. */
	expect_blocked(e,
		       "write /escape escape usr/bin/linux.uml disk/base.img "
		       "lib/x86_64-linux-gnu/libc.so.6 /dev/null/x",
		       false);
	assert_true(th_pid_alive(e->victim_pid));
}

/* The guest's own system calls never reach the filter: linux.uml runs its
 * processes under PTRACE_SYSEMU, which stops each call at its entry and
 * skips it before seccomp looks; the guest kernel emulates it. So a busy
 * guest (a fork and exec storm, file I/O, TCP) runs under the filter with
 * no kill, and calls the host filter denies (unshare, bpf, mount...) work
 * inside the guest as the guest kernel allows. */
static void test_guest_workload(void **state)
{
	esc *e = *state;
	soda_server *srv;
	soda_server_info *info = NULL;
	char *out = NULL;

	prepare(e);
	srv = th_start_server(&e->env, "busy", 64);
	assert_int_equal(th_exec(srv, "i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done; "
				      "for j in 1 2 3 4 5 6 7 8; do (sh -c 'ls / >/dev/null') & done; "
				      "wait; echo storm-done",
				 &out),
			 0);
	assert_non_null(strstr(out, "storm-done"));
	free(out);
	assert_int_equal(th_exec(srv, "dd if=/dev/zero of=/root/big bs=1M count=8 2>/dev/null && "
				      "sync && md5sum /root/big && rm /root/big && sync",
				 &out),
			 0);
	/* The md5 of 8 MiB of zeros: written and read back whole. */
	assert_non_null(strstr(out, "96995b58d4cbf6aaa9041b4f00c7f6ae"));
	free(out);
	/* TCP over the guest's loopback. */
	assert_int_equal(th_exec(srv, "ip link set lo up; (echo tcp-through | nc -l -p 7000 &) ; "
				      "sleep 0.3; nc 127.0.0.1 7000 </dev/null",
				 &out),
			 0);
	assert_non_null(strstr(out, "tcp-through"));
	free(out);
	/* In the guest, the guest kernel decides: a mount namespace and a
	 * tmpfs (what the host filter would kill linux.uml for). */
	assert_int_equal(th_exec(srv, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && "
				      "umount /mnt/t && echo mount-in-guest",
				 &out),
			 0);
	assert_non_null(strstr(out, "mount-in-guest"));
	free(out);
	assert_soda_ok(soda_server_get_info(&info, srv, 0, &e->env.err), e->env.err);
	assert_int_equal(soda_server_info_get_state(info), SODA_STATE_RUNNING);
	assert_null(strstr(soda_server_info_get_reason(info), "seccomp"));
	soda_server_info_free(info);
	assert_soda_ok(soda_server_kill(srv, 0, &e->env.err), e->env.err);
	soda_server_unref(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscalls),
		cmocka_unit_test(test_network),
		cmocka_unit_test(test_files_and_processes),
		cmocka_unit_test(test_guest_workload),
	};

	th_become_subreaper();
	return cmocka_run_group_tests(tests, setup, teardown);
}
