/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "cmdline.h"

static int push(su_launch *l, int *r, const char *fmt, ...) SU_PRINTF(3, 4);
static int push(su_launch *l, int *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (*r < 0)
		return *r;
	va_start(ap, fmt);
	s = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	*r = su_strv_push_take(&l->argv, s);
	return *r;
}

static int dupto(char **dst, const char *src)
{
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

/* Kernel parameters the backend sets itself; a user's value would break the
 * jail, the disk layout or the monitor's channels. */
static const char *const reserved_args[] = {
	"mem=", "root=", "rootfstype=", "init=", "rw", "ro", "ubd", "umid=", "uml_dir=", "con",
	"ssl", "eth", "vec", "hostfs", "initcall_blacklist=", "lpj=", "soda.", "mconsole",
	"xterm=", "tty_log_dir=", "tty_log_fd=", "dsp=", "mixer=", "iomem=", "virtio_uml",
	"time-travel", "noreboot", "hostname=", NULL,
};

int su_uml_check_backstop(const soda_shares *s, uint64_t guest_memory, soda_error **error)
{
	uint64_t max = su_shares_memory_max(s, guest_memory);

	if (max < guest_memory + SU_UML_BACKSTOP_ROOM)
		return su_errorf(error, -EINVAL,
				 "memory backstop %" PRIu64 " MiB leaves less than %llu MiB above the "
				 "guest's %" PRIu64 " MiB for linux.uml itself",
				 max >> 20, SU_UML_BACKSTOP_ROOM >> 20, guest_memory >> 20);
	return 0;
}

int su_uml_validate(const soda_server_config *cfg, soda_error **error)
{
	size_t total = 0;

	for (size_t i = 0; cfg->kernel_args && cfg->kernel_args[i]; i++) {
		const char *arg = cfg->kernel_args[i];

		for (size_t k = 0; reserved_args[k]; k++) {
			const char *res = reserved_args[k];
			/* "rw"/"ro" are whole words; the others are prefixes of
			 * any word ("ubd0=", "con1=", "eth0="). */
			bool word = strcmp(res, "rw") == 0 || strcmp(res, "ro") == 0;

			if (word ? strcmp(arg, res) == 0 : strncmp(arg, res, strlen(res)) == 0)
				return su_errorf(error, -EINVAL,
						 "kernel argument '%s' is set by libsoda itself "
						 "(the uml backend) and cannot be given",
						 arg);
		}
		total += strlen(arg) + 1;
		if (total > SU_UML_CMDLINE_BUDGET)
			return su_errorf(error, -E2BIG,
					 "kernel arguments would take more than %d bytes of the "
					 "command line (at argument %zu)",
					 SU_UML_CMDLINE_BUDGET, i + 1);
	}
	return su_uml_check_backstop(cfg->resources, cfg->memory, error);
}

int su_uml_build_launch(su_launch *ret, const soda_server_config *cfg, const su_uml_params *p,
			soda_error **error)
{
	su_launch l = { 0 };
	int r = 0;

	if (su_strv_len(p->share_dirs) != cfg->n_shares || su_strv_len(p->ifnames) != cfg->n_nics)
		return su_errorf(error, -EINVAL, "internal error: shares or NICs do not match");
	/* Kernort in the guest seals its alerts: without a blackbox it would
	 * watch for nobody */
	if (cfg->ids_rules && !cfg->blackbox)
		return su_errorf(error, -EINVAL, "the guest's IDS rules need a blackbox "
				 "(soda_server_config_set_blackbox) to seal their alerts into");
	if (dupto(&l.name, cfg->name) < 0 || dupto(&l.state_dir, p->state_dir) < 0 ||
	    dupto(&l.run_dir, p->run_dir) < 0 || dupto(&l.status_path, p->status_path) < 0 ||
	    dupto(&l.console_log, p->console_log) < 0 || dupto(&l.cgroup, p->cgroup) < 0 ||
	    dupto(&l.monitor_cgroup, p->monitor_cgroup) < 0)
		goto oom;
	l.uid = p->uid;
	l.gid = p->gid;
	l.memory = cfg->memory;
	l.prefer_v2_core = p->prefer_v2_core;
	if (p->netns && dupto(&l.netns, p->netns) < 0)
		goto oom;
	if (p->cg_settings && !(l.cg_settings = su_strv_copy(p->cg_settings)))
		goto oom;
	if (cfg->blackbox) {
		if (!p->blackbox_dir) {
			su_launch_free(&l);
			return su_errorf(error, -EINVAL, "internal error: no blackbox directory");
		}
		if (dupto(&l.blackbox_dir, p->blackbox_dir) < 0 ||
		    !(l.blackbox_key = su_blackbox_key_text(cfg)) ||
		    !(l.blackbox_retention = su_blackbox_retention_text(cfg)))
			goto oom;
	}

	/* The jail. Its top (linux.uml's working directory) holds the kernel,
	 * its libraries, the disks, TMPDIR and uml_dir; linux.uml's root, all
	 * that hostfs reaches, is SU_JAIL_HOSTFS: the shares and /dev/null.
	 * The kernel and its libraries, read-only, at their own paths. */
	if (su_launch_add_mount(&l, SU_MNT_BIND_RO, SU_JAIL_UML, p->uml_binary, 0, 0, 0) < 0)
		goto oom;
	for (size_t i = 0; p->uml_libs && p->uml_libs[i]; i++) {
		char *dst;

		if (su_launch_add_mount(&l, SU_MNT_BIND_RO, p->uml_libs[i], p->uml_libs[i], 0, 0,
					0) < 0)
			goto oom;
		/* The ELF interpreter (elfdeps.h lists it first) is opened by
		 * the kernel at exec through the root: it is in the hostfs root
		 * only until linux.uml runs (soda-monitor detaches it). */
		if (i > 0)
			continue;
		dst = su_strdup_printf(SU_JAIL_HOSTFS "%s", p->uml_libs[i]);
		if (!dst || su_launch_add_mount(&l, SU_MNT_BIND_RO, dst, p->uml_libs[i], 0, 0, 0) <
				    0) {
			free(dst);
			goto oom;
		}
		free(dst);
	}
	/* The FPU-state shim for hosts whose XSAVE area outgrew linux.uml 6.1's
	 * (backends/uml/preload/xstate.c). */
	if (p->uml_preload &&
	    (su_launch_add_mount(&l, SU_MNT_BIND_RO, SU_JAIL_PRELOAD, p->uml_preload, 0, 0, 0) <
		     0 ||
	     dupto(&l.preload, SU_JAIL_PRELOAD) < 0))
		goto oom;
	/* The shared base image read-only, the server's own layer writable. */
	if (su_launch_add_mount(&l, SU_MNT_BIND_RO, SU_JAIL_BASE, p->image_path, 0, 0, 0) < 0 ||
	    su_launch_add_mount(&l, SU_MNT_BIND_RW, SU_JAIL_COW, p->cow_path, 0, 0, 0) < 0)
		goto oom;
	/* Kernort's rules for the guest, read-only (agent_ids.h). */
	if (p->ids_rules_path && su_launch_add_mount(&l, SU_MNT_BIND_RO, SU_JAIL_IDS_RULES,
						     p->ids_rules_path, 0, 0, 0) < 0)
		goto oom;
	/* UML keeps guest memory in a file under TMPDIR: a tmpfs just big enough. */
	if (su_launch_add_mount(&l, SU_MNT_TMPFS, SU_JAIL_TMP, NULL, cfg->memory + SU_TMP_SLACK,
				0700, p->uid) < 0)
		goto oom;
	/* uml_dir (pid file, management console socket) lives on a tmpfs of the
	 * jail's own: nothing of it is on the host's disk, and it vanishes with
	 * the jail, even when linux.uml is killed. */
	if (su_launch_add_mount(&l, SU_MNT_TMPFS, SU_JAIL_UMLDIR, NULL, 1 << 20, 0700, p->uid) < 0)
		goto oom;
	for (size_t i = 0; i < cfg->n_shares; i++) {
		char dst[48];

		snprintf(dst, sizeof(dst), SU_JAIL_SHARE_FMT, i);
		if (su_launch_add_mount(&l,
					cfg->shares[i].flags & SODA_SHARE_READONLY ? SU_MNT_BIND_RO
										   : SU_MNT_BIND_RW,
					dst, p->share_dirs[i], 0, 0, 0) < 0)
			goto oom;
	}
	/* linux.uml's "null" channels (ssl2=null,...) open /dev/null, by an
	 * absolute path. */
	if (su_launch_add_mount(&l, SU_MNT_BIND_DEV, SU_JAIL_DEVNULL, "/dev/null", 0, 0, 0) < 0)
		goto oom;
	/* No file linux.uml writes grows past the disk layer's full size
	 * (header, bitmap, data): its RLIMIT_FSIZE. Its memory file (as large
	 * as the guest's memory) is written once, at its start: when that is
	 * the larger, the limit starts there and soda-monitor lowers it as
	 * soon as the memory file exists, long before the guest's first
	 * instruction. */
	l.fsize = p->cow_max > cfg->memory ? p->cow_max : cfg->memory;
	if (p->cow_max && p->cow_max < cfg->memory)
		l.fsize_run = p->cow_max;

	/* linux.uml's command line. */
	push(&l, &r, "%s", SU_JAIL_UML);
	push(&l, &r, "mem=%" PRIu64 "M", cfg->memory >> 20);
	push(&l, &r, "ubd0=%s,%s", SU_JAIL_REL(SU_JAIL_COW), SU_JAIL_REL(SU_JAIL_BASE));
	push(&l, &r, "root=/dev/ubda");
	/* 'r': linux.uml opens it read-only, whatever the guest asks */
	if (p->ids_rules_path)
		push(&l, &r, "ubd1r=%s", SU_JAIL_REL(SU_JAIL_IDS_RULES));
	push(&l, &r, "rw");
	push(&l, &r, "init=/soda/init");
	push(&l, &r, "umid=%s", SU_UMID);
	push(&l, &r, "uml_dir=%s", SU_JAIL_REL(SU_JAIL_UMLDIR));
	push(&l, &r, "con=none");
	push(&l, &r, "con0=fd:%d,fd:%d", SU_FD_CONSOLE, SU_FD_CONSOLE);
	push(&l, &r, "ssl=none");
	/* The blackbox line: write-only for the guest (its input is /dev/null),
	 * a pipe to soda-monitor's store. */
	if (cfg->blackbox)
		push(&l, &r, "ssl1=null,fd:%d", SU_FD_BLACKBOX);
	push(&l, &r, "ssl2=null,fd:%d", SU_FD_READY);
	/* The exec line (backends/uml/exec_proto.h): both ways, raw. */
	push(&l, &r, "ssl3=fd:%d", SU_FD_EXEC);
	push(&l, &r, "quiet");
	if (p->lpj)
		push(&l, &r, "lpj=%" PRIu64, p->lpj);
	push(&l, &r, "pty.legacy_count=0");
	/* Without a share the guest gets no hostfs at all (it could otherwise
	 * reach whatever the jail holds, see DESIGN.md). */
	push(&l, &r, "initcall_blacklist=raid6_select_algo%s", cfg->n_shares ? "" : ",init_hostfs");
	push(&l, &r, "soda.name=%s", cfg->name);
	push(&l, &r, "soda.profile=%s", soda_guest_profile_name(cfg->guest_profile));
	if (cfg->blackbox) {
		/* The guest seals to the X25519 key; the rest of the text (the
		 * signing key) the guest does not need. */
		push(&l, &r, "soda.blackbox=%.64s", l.blackbox_key);
	}
	if (p->ids_rules_path) {
		push(&l, &r, "soda.ids=ubdb%s%s", cfg->ids_packets ? ",packets" : "",
		     cfg->ids_landlord ? ",landlord" : "");
		/* the monitor's own word on it: the guest's is worth nothing */
		l.ids_landlord = cfg->ids_landlord;
	}
	for (size_t i = 0; i < cfg->n_shares; i++)
		push(&l, &r, "soda.share=%zu,%s,%s", i, cfg->shares[i].guest_dir,
		     cfg->shares[i].flags & SODA_SHARE_READONLY ? "ro" : "rw");
	for (size_t i = 0; i < cfg->n_nics; i++) {
		/* The vector driver on a TAP descriptor soda-monitor opened in
		 * the switch's namespace (linux.uml has a network namespace of
		 * its own); vec=0: read/write, a TAP is not a socket. The
		 * guest's agent names vecN ethN. */
		push(&l, &r, "vec%zu:transport=fd,fd=%zu,vec=0,mac=%s", i, SU_FD_TAP0 + i,
		     cfg->nics[i].mac);
		for (size_t a = 0; cfg->nics[i].addresses && cfg->nics[i].addresses[a]; a++)
			push(&l, &r, "soda.addr=%zu,%s", i, cfg->nics[i].addresses[a]);
		if (r == 0) {
			char *nd = su_strdup_printf("%zu %s", i, p->ifnames[i]);

			r = su_strv_push_take(&l.netdevs, nd);
		}
	}
	for (size_t i = 0; cfg->kernel_args && cfg->kernel_args[i]; i++)
		push(&l, &r, "%s", cfg->kernel_args[i]);
	if (r < 0)
		goto oom;
	*ret = l;
	return 0;
oom:
	su_launch_free(&l);
	return su_errorf(error, -ENOMEM, "out of memory");
}
