/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/start: how fast a server is up, and how many fit.
 *
 *   bench-start [--runs N] [--density N] [--memory MIB] [--libvirt URI] [--no-uml]
 *
 * Latency: start-to-ready through libsoda (soda_server_start with
 * SODA_START_WAIT_READY: monitor, jail, cgroups, boot, the guest's ready
 * line) against a raw tuned linux.uml launch of the same image with the same
 * kernel command line and the same ready line, no jail and no monitor,
 * measured in the same run, runs interleaved. Targets: ratio <= 1.15, p50 <=
 * 0.3 s.
 *
 * Density: N idle servers started together; host memory charged to each
 * server's cgroup once all are ready, and the time until all are ready.
 * Targets: <= 10 MiB each, all ready within 45 s for N = 100.
 *
 * Libvirt (--libvirt qemu:///system): one domain defined through libsoda
 * (libvirt+URI) that boots the busybox image (built into a state directory
 * of the benchmark's, which the libvirt context shares as its image store),
 * started N times through libsoda (soda_server_start with
 * SODA_START_WAIT_READY: until the guest's agent says ready) and N times by
 * `virsh -c URI start` followed by soda_server_wait_state(RUNNING), which
 * the backend reports once the agent said ready: both sides measure start
 * to ready, with the same readiness check. Interleaved, killed through
 * libsoda after each. --no-uml leaves the UML rows out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>

static char state_dir[64];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, soda_error *e)
{
	fprintf(stderr, "bench-start: %s: %s\n", what, e ? soda_error_message(e) : strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[i < n ? i : n - 1];
}

static uint64_t read_lpj(void)
{
	char path[128], line[256];
	uint64_t lpj = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/host/lpj", state_dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "lpj ", 4) == 0)
			lpj = strtoull(line + 4, NULL, 10);
	fclose(f);
	return lpj;
}

static int run_cmd(const char *cmd)
{
	int r = system(cmd);

	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* One raw boot: fork, personality, exec linux.uml; time until the guest's
 * "ready" line arrives on its agent pipe. */
static double raw_boot(const char *image, uint64_t lpj, unsigned mem_mib, int run)
{
	char tmp[96], cow[128], args[16][160];
	char *argv[17];
	int con[2], ready[2], argc = 0;
	double t0, t1 = 0;
	pid_t pid;
	char buf[256];
	size_t got = 0;

	snprintf(tmp, sizeof(tmp), "%s/raw-%d", state_dir, run);
	mkdir(tmp, 0700);
	snprintf(cow, sizeof(cow), "%s/cow", tmp);
	snprintf(args[argc++], 160, "/usr/bin/linux.uml");
	snprintf(args[argc++], 160, "mem=%uM", mem_mib);
	snprintf(args[argc++], 160, "ubd0=%s,%s", cow, image);
	snprintf(args[argc++], 160, "root=/dev/ubda");
	snprintf(args[argc++], 160, "rw");
	snprintf(args[argc++], 160, "init=/soda/init");
	snprintf(args[argc++], 160, "umid=raw");
	snprintf(args[argc++], 160, "uml_dir=%s", tmp);
	snprintf(args[argc++], 160, "con=none");
	snprintf(args[argc++], 160, "con0=fd:3,fd:3");
	snprintf(args[argc++], 160, "ssl=none");
	snprintf(args[argc++], 160, "ssl2=null,fd:4");
	snprintf(args[argc++], 160, "quiet");
	snprintf(args[argc++], 160, "lpj=%" PRIu64, lpj);
	snprintf(args[argc++], 160, "pty.legacy_count=0");
	snprintf(args[argc++], 160, "initcall_blacklist=raid6_select_algo,init_hostfs");
	for (int i = 0; i < argc; i++)
		argv[i] = args[i];
	argv[argc] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0)
		die("pipes", NULL);
	t0 = now_s();
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		personality(ADDR_NO_RANDOMIZE);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("TMPDIR", tmp, 1);
#ifdef BENCH_XSTATE
		/* The same FPU-state shim libsoda gives its guests: without it
		 * linux.uml 6.1 cannot run init on a host with AMX. */
		setenv("LD_PRELOAD", BENCH_XSTATE, 1);
#endif
		dup2(con[1], 3);
		dup2(ready[1], 4);
		int null_fd = open("/dev/null", O_RDWR);
		dup2(null_fd, 0);
		dup2(null_fd, 1);
		dup2(null_fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(con[1]);
	close(ready[1]);
	for (;;) {
		struct pollfd p[2] = { { ready[0], POLLIN, 0 }, { con[0], POLLIN, 0 } };

		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[1].revents) { /* keep the console drained */
			char junk[4096];

			if (read(con[0], junk, sizeof(junk)) <= 0)
				p[1].fd = -1;
		}
		if (p[0].revents) {
			ssize_t n = read(ready[0], buf + got, sizeof(buf) - 1 - got);

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			if (strstr(buf, "ready")) {
				t1 = now_s();
				break;
			}
		}
	}
	kill(-pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	close(con[0]);
	close(ready[0]);
	snprintf(buf, sizeof(buf), "rm -rf '%s'", tmp);
	run_cmd(buf);
	if (t1 == 0)
		die("a raw boot did not get ready", NULL);
	return t1 - t0;
}

static soda_server *define(soda_context *ctx, const char *name, unsigned mem_mib)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error *e = NULL;

	if (soda_server_config_new(&cfg, name, &e) < 0 ||
	    soda_server_config_set_memory(cfg, (uint64_t)mem_mib << 20, &e) < 0 ||
	    soda_server_define(&srv, ctx, cfg, 0, &e) < 0)
		die("define", e);
	soda_server_config_free(cfg);
	return srv;
}

static uint64_t cgroup_memory(const char *server)
{
	unsigned h = 2166136261u;
	char path[256], line[64];
	uint64_t v = 0;
	FILE *f;

	for (const char *s = state_dir; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/soda/%08x/%s/memory.usage_in_bytes", h,
		 server);
	f = fopen(path, "re");
	if (!f) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/soda/%08x/%s/memory.current", h,
			 server);
		f = fopen(path, "re");
	}
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f))
		v = strtoull(line, NULL, 10);
	fclose(f);
	return v;
}

static uint64_t rss_kib(int pid)
{
	char path[64], line[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "RssAnon:", 8) == 0)
			v = strtoull(line + 8, NULL, 10);
	fclose(f);
	return v;
}

/* `virsh -c @virt_uri start @name`, its output discarded: seconds until it
 * has exited, successfully. */
static double virsh_start(const char *virt_uri, const char *name)
{
	char *argv[] = { "virsh", "-q", "-c", (char *)virt_uri, "start", (char *)name, NULL };
	posix_spawn_file_actions_t fa;
	double t0 = now_s();
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "virsh", &fa, NULL, argv, environ) != 0)
		die("virsh", NULL);
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("virsh start failed", NULL);
	return now_s() - t0;
}

/* The libvirt row's domain, removed at exit even when a step fails, and
 * its image store. */
static soda_server *lv_server;
static char lv_store[64];

static void lv_store_cleanup(void)
{
	char cmd[96];

	if (!lv_store[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lv_store);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-start: could not remove %s\n", lv_store);
	lv_store[0] = '\0';
}

static void lv_cleanup(void)
{
	if (!lv_server)
		return;
	soda_server_kill(lv_server, 0, NULL);
	soda_server_wait_state(lv_server, SODA_STATE_SHUTOFF, 30000, 0, NULL);
	soda_server_undefine(lv_server, 0, NULL);
	lv_server = NULL;
}

static void stop_now(soda_server *srv)
{
	soda_error *e = NULL;

	if (soda_server_kill(srv, 0, &e) < 0 ||
	    soda_server_wait_state(srv, SODA_STATE_SHUTOFF, 30000, 0, &e) < 0)
		die("kill (libvirt)", e);
}

/* The libvirt row: start through libsoda against `virsh start`, the same
 * domain, @runs each, interleaved. */
static void libvirt_row(const char *virt_uri, int runs, unsigned mem)
{
	double *raw = calloc((size_t)runs, sizeof(double));
	double *lib = calloc((size_t)runs, sizeof(double));
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	soda_context *ctx = NULL, *store = NULL;
	soda_error *e = NULL;
	soda_server *srv;
	char uri[256], name[64];

	if (!raw || !lib)
		die("calloc", NULL);
	snprintf(uri, sizeof(uri), "libvirt+%s", virt_uri);
	snprintf(name, sizeof(name), "soda-bench-%d", (int)getpid());
	/* The image store: a uml context's state directory. */
	snprintf(lv_store, sizeof(lv_store), "/tmp/soda-bench-lv-XXXXXX");
	if (!mkdtemp(lv_store))
		die("mkdtemp", NULL);
	atexit(lv_store_cleanup);
	copts.state_dir = lv_store;
	if (soda_context_open(&store, NULL, &copts, 0, &e) < 0 ||
	    soda_image_build(store, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0)
		die("the image store", e);
	if (soda_context_open(&ctx, uri, &copts, 0, &e) < 0)
		die(uri, e);
	srv = lv_server = define(ctx, name, mem);
	atexit(lv_cleanup);
	/* Warm-up: libvirtd's caches, QEMU's pages. */
	if (soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0)
		die("start (libvirt warm-up)", e);
	stop_now(srv);
	for (int i = 0; i < runs; i++) {
		double t0;

		t0 = now_s();
		virsh_start(virt_uri, name);
		if (soda_server_wait_state(srv, SODA_STATE_RUNNING, 120000, 0, &e) < 0)
			die("virsh start: ready", e);
		raw[i] = now_s() - t0;
		stop_now(srv);
		t0 = now_s();
		if (soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0)
			die("start (libvirt)", e);
		lib[i] = now_s() - t0;
		stop_now(srv);
	}
	lv_cleanup();
	soda_server_unref(srv);
	soda_context_unref(ctx);
	soda_context_unref(store);
	{
		double rp50 = pct(raw, runs, 0.5), rp90 = pct(raw, runs, 0.9);
		double lp50 = pct(lib, runs, 0.5), lp90 = pct(lib, runs, 0.9);

		printf("libvirt start to ready (%s, the busybox image, its agent's ready line), "
		       "%d runs each, %u MiB, interleaved\n",
		       virt_uri, runs, mem);
		printf("  virsh start + wait for ready  p50 %.3f s  p90 %.3f s\n", rp50, rp90);
		printf("  libsoda start (WAIT_READY)    p50 %.3f s  p90 %.3f s\n", lp50, lp90);
		printf("  ratio libsoda/virsh  p50 %.3f  p90 %.3f\n", lp50 / rp50, lp90 / rp90);
	}
	free(raw);
	free(lib);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "runs", required_argument, NULL, 'r' },
					      { "density", required_argument, NULL, 'd' },
					      { "memory", required_argument, NULL, 'm' },
					      { "libvirt", required_argument, NULL, 'l' },
					      { "no-uml", no_argument, NULL, 'n' },
					      { NULL, 0, NULL, 0 } };
	int runs = 20, density = 100, c;
	unsigned mem = 32;
	soda_context_options copts = SODA_CONTEXT_OPTIONS_INIT;
	soda_context *ctx = NULL;
	soda_error *e = NULL;
	char *image = NULL;
	const char *virt_uri = NULL;
	bool uml = true;
	uint64_t lpj;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r')
			runs = atoi(optarg);
		else if (c == 'd')
			density = atoi(optarg);
		else if (c == 'm')
			mem = (unsigned)atoi(optarg);
		else if (c == 'l')
			virt_uri = optarg;
		else if (c == 'n')
			uml = false;
		else
			return 2;
	}
	if (runs < 1 || density < 0 || mem < 32)
		return 2;
	if (virt_uri)
		libvirt_row(virt_uri, runs, mem);
	if (!uml)
		return 0;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(state_dir, sizeof(state_dir), "/tmp/soda-bench-XXXXXX");
	if (!mkdtemp(state_dir))
		die("mkdtemp", NULL);
	copts.state_dir = state_dir;
	if (soda_context_open(&ctx, NULL, &copts, 0, &e) < 0)
		die("open", e);
	if (soda_image_build(ctx, "busybox", SODA_IMAGE_SOURCE_BUSYBOX, NULL, 0, 0, &e) < 0 ||
	    soda_image_get_path(&image, ctx, "busybox", &e) < 0)
		die("image", e);

	/* Warm-up: the first start calibrates lpj and fills the page cache. */
	{
		soda_server *w = define(ctx, "warmup", mem);

		if (soda_server_start(w, SODA_START_WAIT_READY, &e) < 0 ||
		    soda_server_kill(w, 0, &e) < 0 || soda_server_undefine(w, 0, &e) < 0)
			die("warm-up", e);
		soda_server_unref(w);
	}
	lpj = read_lpj();
	raw_boot(image, lpj, mem, -1);

	{
		double *raw = calloc((size_t)runs, sizeof(double));
		double *lib = calloc((size_t)runs, sizeof(double));
		soda_server *srv = define(ctx, "lat", mem);

		for (int i = 0; i < runs; i++) {
			double t0;

			raw[i] = raw_boot(image, lpj, mem, i);
			t0 = now_s();
			if (soda_server_start(srv, SODA_START_WAIT_READY, &e) < 0)
				die("start", e);
			lib[i] = now_s() - t0;
			if (soda_server_kill(srv, 0, &e) < 0)
				die("kill", e);
		}
		soda_server_undefine(srv, 0, NULL);
		soda_server_unref(srv);
		{
			double rp50 = pct(raw, runs, 0.5), rp90 = pct(raw, runs, 0.9);
			double lp50 = pct(lib, runs, 0.5), lp90 = pct(lib, runs, 0.9);

			printf("start-to-ready, %d runs each, %u MiB guests, interleaved\n", runs, mem);
			printf("  raw linux.uml    p50 %.3f s  p90 %.3f s\n", rp50, rp90);
			printf("  libsoda start (WAIT_READY)    p50 %.3f s  p90 %.3f s\n", lp50, lp90);
			printf("  ratio libsoda/raw  p50 %.3f  p90 %.3f   (target <= 1.15; p50 target <= 0.300 s)\n",
			       lp50 / rp50, lp90 / rp90);
		}
		free(raw);
		free(lib);
	}

	if (density > 0) {
		soda_server **srv = calloc((size_t)density, sizeof(*srv));
		double t0, t_all;
		uint64_t total = 0, max = 0, monitors_kib = 0;
		int ready = 0;

		for (int i = 0; i < density; i++) {
			char name[32];

			snprintf(name, sizeof(name), "d%03d", i);
			srv[i] = define(ctx, name, mem);
		}
		t0 = now_s();
		for (int i = 0; i < density; i++)
			if (soda_server_start(srv[i], 0, &e) < 0)
				die("start (density)", e);
		for (int i = 0; i < density; i++) {
			if (soda_server_wait_state(srv[i], SODA_STATE_RUNNING, 120000, 0, &e) < 0)
				die("wait (density)", e);
			ready++;
		}
		t_all = now_s() - t0;
		sleep(2); /* idle */
		for (int i = 0; i < density; i++) {
			soda_server_info *info = NULL;
			uint64_t m = cgroup_memory(soda_server_get_name(srv[i]));

			total += m;
			if (m > max)
				max = m;
			if (soda_server_get_info(&info, srv[i], 0, NULL) == 0)
				monitors_kib += rss_kib(soda_server_info_get_monitor_pid(info));
			soda_server_info_free(info);
		}
		printf("density: %d idle %u MiB servers\n", ready, mem);
		printf("  all ready after %.1f s (target <= 45 s for 100)\n", t_all);
		printf("  host memory by cgroup accounting: mean %.2f MiB, max %.2f MiB per server (target <= 10 MiB)\n",
		       (double)total / density / 1048576.0, (double)max / 1048576.0);
		printf("  soda-monitor private memory (RssAnon): mean %.0f KiB per server (not in the cgroup)\n",
		       (double)monitors_kib / density);
		for (int i = 0; i < density; i++) {
			soda_server_kill(srv[i], 0, NULL);
			soda_server_undefine(srv[i], 0, NULL);
			soda_server_unref(srv[i]);
		}
		free(srv);
	}
	soda_free(image);
	soda_context_recover(ctx, 0, NULL);
	soda_context_unref(ctx);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
		run_cmd(cmd);
	}
	return 0;
}
