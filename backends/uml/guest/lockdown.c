/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest's profile (lockdown.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lockdown.h"

int lockdown_profile_parse(const char *name)
{
	if (strcmp(name, "locked") == 0)
		return PROFILE_LOCKED;
	if (strcmp(name, "open") == 0)
		return PROFILE_OPEN;
	return -1;
}

const char *lockdown_profile_name(int profile)
{
	return profile == PROFILE_OPEN ? "open" : "locked";
}

/* A sysctl under /proc/sys/kernel that root may write again, and the value
 * the locked profile holds it at. */
static const struct {
	const char *path, *value;
	int recheck; /* root can change it back: checked every second */
} sysctls[] = {
	{ "/proc/sys/kernel/modules_disabled", "1", 0 }, /* one way until reboot */
	{ "/proc/sys/kernel/yama/ptrace_scope", "3", 0 }, /* 3 is fixed until reboot */
	{ "/proc/sys/kernel/kexec_load_disabled", "1", 0 }, /* one way */
	{ "/proc/sys/kernel/kptr_restrict", "2", 1 },
	{ "/proc/sys/kernel/dmesg_restrict", "1", 1 },
};

static const char *const mem_nodes[] = { "/dev/mem", "/dev/kmem", "/dev/port" };

static int write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int read_sysctl(const char *path, char *out, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, out, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static void addf(char *what, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void addf(char *what, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off + 1 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(what + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

void lockdown_guest(int profile, char *what, size_t len)
{
	size_t off = 0;

	what[0] = '\0';
	if (profile == PROFILE_OPEN) {
		addf(what, len, &off, "guest profile open: modules, /dev/mem, /proc/kcore and ptrace "
				      "as the kernel allows");
		return;
	}
	addf(what, len, &off, "guest profile locked:");
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
		const char *name = strrchr(sysctls[i].path, '/') + 1;
		int r = write_sysctl(sysctls[i].path, sysctls[i].value);

		if (r < 0)
			addf(what, len, &off, " %s not set (%s),", name, strerror(-r));
		else
			addf(what, len, &off, " %s=%s,", name, sysctls[i].value);
	}
	for (size_t i = 0; i < sizeof(mem_nodes) / sizeof(mem_nodes[0]); i++)
		if (unlink(mem_nodes[i]) == 0)
			addf(what, len, &off, " %s removed,", mem_nodes[i]);
	addf(what, len, &off, " the tenant without CAP_SYS_MODULE and CAP_SYS_RAWIO, seccomp: "
			      "no modules, kexec, perf, bpf, iopl/ioperm, ptrace, process_vm_*, "
			      "device nodes");
}

/* ---- the tenant's side ---- */

#define DENY BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define DENY_NR(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), DENY
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i)) /* little-endian */
/* mknod-like call @nr whose mode is argument @arg: character and block
 * devices refused, FIFOs, sockets and files allowed. */
#define NO_DEVICE_NODES(nr, arg)                                                   \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 6),                           \
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(arg)),                   \
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, S_IFMT),                       \
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_IFCHR, 2, 0),                \
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_IFBLK, 1, 0), ALLOW, DENY

static int install_filter(void)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* x32's numbers: UML has no x32, refuse them all the same. */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
		DENY,
		DENY_NR(__NR_init_module),
		DENY_NR(__NR_finit_module),
		DENY_NR(__NR_delete_module),
		DENY_NR(__NR_kexec_load),
		DENY_NR(__NR_kexec_file_load),
		DENY_NR(__NR_perf_event_open),
		DENY_NR(__NR_bpf),
		DENY_NR(__NR_iopl),
		DENY_NR(__NR_ioperm),
		DENY_NR(__NR_ptrace),
		DENY_NR(__NR_process_vm_readv),
		DENY_NR(__NR_process_vm_writev),
		NO_DEVICE_NODES(__NR_mknod, 1),
		NO_DEVICE_NODES(__NR_mknodat, 2),
		ALLOW,
	};
	struct sock_fprog fprog = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };

	/* Without no_new_privs: the tenant keeps setuid programs. Root with
	 * CAP_SYS_ADMIN may install a filter without it. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return -errno;
	return 0;
}

static int drop_caps(void)
{
	static const int gone[] = { CAP_SYS_MODULE, CAP_SYS_RAWIO };
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (prctl(PR_CAPBSET_DROP, gone[i], 0, 0, 0) < 0)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		uint32_t bit = 1u << (gone[i] % 32);

		d[gone[i] / 32].effective &= ~bit;
		d[gone[i] / 32].permitted &= ~bit;
		d[gone[i] / 32].inheritable &= ~bit;
	}
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

int lockdown_userland(int profile)
{
	int r;

	if (profile == PROFILE_OPEN)
		return 0;
	r = drop_caps();
	if (r == 0)
		r = install_filter();
	return r;
}

int lockdown_check(int profile, char *what, size_t len)
{
	size_t off = 0;
	int fixed = 0;

	what[0] = '\0';
	if (profile == PROFILE_OPEN)
		return 0;
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
		char now[32];

		if (!sysctls[i].recheck || read_sysctl(sysctls[i].path, now, sizeof(now)) < 0 ||
		    strcmp(now, sysctls[i].value) == 0)
			continue;
		if (write_sysctl(sysctls[i].path, sysctls[i].value) == 0) {
			addf(what, len, &off, "%s%s", fixed ? ", " : "guest profile locked: ",
			     strrchr(sysctls[i].path, '/') + 1);
			addf(what, len, &off, " was %s, set back to %s", now, sysctls[i].value);
			fixed++;
		}
	}
	return fixed;
}
