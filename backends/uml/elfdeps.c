/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfdeps.h"

#define ELF_MAX (256u << 20)
#define MAX_LIBS 64

static const char *const std_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", NULL,
};

struct elf_info {
	char *interp;
	char **needed;
	char **search; /* from DT_RUNPATH / DT_RPATH */
};

static void elf_info_free(struct elf_info *e)
{
	free(e->interp);
	su_strv_free(e->needed);
	su_strv_free(e->search);
}

static bool in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/* Reads the ELF64 little-endian file at path. Every offset is bounds-checked:
 * the file may be anything. */
static int elf_read(const char *path, struct elf_info *out, soda_error **error)
{
	char *data = NULL;
	size_t size;
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph;
	uint64_t dyn_off = 0, dyn_size = 0, strtab_addr = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = su_read_file(path, ELF_MAX, &data, &size);
	if (r < 0)
		return su_errorf(error, r, "cannot read %s: %s", path, strerror(-r));
	eh = (const Elf64_Ehdr *)data;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(size, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))) {
		free(data);
		return su_errorf(error, -ENOEXEC, "%s is not a 64-bit little-endian ELF file", path);
	}
	ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if ((ph[i].p_type == PT_INTERP || ph[i].p_type == PT_DYNAMIC) &&
		    !in_file(size, ph[i].p_offset, ph[i].p_filesz)) {
			free(data);
			free(out->interp);
			out->interp = NULL;
			return su_errorf(error, -ENOEXEC, "%s is truncated or corrupt: a segment lies past its end",
					 path);
		}
		if (ph[i].p_type == PT_INTERP && in_file(size, ph[i].p_offset, ph[i].p_filesz) &&
		    ph[i].p_filesz > 1) {
			out->interp = strndup(data + ph[i].p_offset, ph[i].p_filesz);
		} else if (ph[i].p_type == PT_DYNAMIC &&
			   in_file(size, ph[i].p_offset, ph[i].p_filesz)) {
			dyn_off = ph[i].p_offset;
			dyn_size = ph[i].p_filesz;
		}
	}
	if (dyn_size) {
		const Elf64_Dyn *dyn = (const Elf64_Dyn *)(data + dyn_off);
		size_t nd = dyn_size / sizeof(Elf64_Dyn);
		uint64_t strtab_off = 0;
		bool have_str = false;

		for (size_t i = 0; i < nd && dyn[i].d_tag != DT_NULL; i++)
			if (dyn[i].d_tag == DT_STRTAB)
				strtab_addr = dyn[i].d_un.d_ptr;
		/* DT_STRTAB is a virtual address: map it through PT_LOAD. */
		for (unsigned i = 0; i < eh->e_phnum && strtab_addr; i++)
			if (ph[i].p_type == PT_LOAD && strtab_addr >= ph[i].p_vaddr &&
			    strtab_addr - ph[i].p_vaddr < ph[i].p_filesz) {
				strtab_off = ph[i].p_offset + (strtab_addr - ph[i].p_vaddr);
				have_str = strtab_off < size;
			}
		for (size_t i = 0; have_str && i < nd && dyn[i].d_tag != DT_NULL; i++) {
			const char *s;
			size_t max;

			if (dyn[i].d_tag != DT_NEEDED && dyn[i].d_tag != DT_RUNPATH &&
			    dyn[i].d_tag != DT_RPATH)
				continue;
			if (dyn[i].d_un.d_val >= size - strtab_off)
				continue;
			s = data + strtab_off + dyn[i].d_un.d_val;
			max = size - strtab_off - dyn[i].d_un.d_val;
			if (!memchr(s, '\0', max))
				continue;
			if (dyn[i].d_tag == DT_NEEDED) {
				if (su_strv_len(out->needed) < MAX_LIBS)
					su_strv_push(&out->needed, s);
			} else {
				char *copy = strdup(s), *save = NULL;

				for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d;
				     d = strtok_r(NULL, ":", &save))
					if (d[0] == '/')
						su_strv_push(&out->search, d);
				free(copy);
			}
		}
	}
	free(data);
	return 0;
}

static bool contains(char **v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static char *find_lib(const char *name, char **search)
{
	struct stat st;

	if (strchr(name, '/'))
		return name[0] == '/' && stat(name, &st) == 0 ? strdup(name) : NULL;
	for (size_t i = 0; search && search[i]; i++) {
		char *p = su_strdup_printf("%s/%s", search[i], name);

		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode))
			return p;
		free(p);
	}
	for (size_t i = 0; std_dirs[i]; i++) {
		char *p = su_strdup_printf("%s/%s", std_dirs[i], name);

		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode))
			return p;
		free(p);
	}
	return NULL;
}

int su_elf_deps(const char *program, char ***ret, soda_error **error)
{
	char **result = NULL, **queue = NULL;
	struct elf_info e;
	int r;

	r = elf_read(program, &e, error);
	if (r < 0)
		return r;
	if (e.interp && su_strv_push(&result, e.interp) < 0)
		goto oom;
	for (size_t i = 0; e.needed && e.needed[i]; i++) {
		char *p = find_lib(e.needed[i], e.search);

		if (!p) {
			r = su_errorf(error, -ENOENT, "%s needs %s, which is nowhere to be found",
				      program, e.needed[i]);
			goto fail;
		}
		if (!contains(result, p)) {
			if (su_strv_push(&queue, p) < 0 || su_strv_push(&result, p) < 0) {
				free(p);
				goto oom;
			}
		}
		free(p);
	}
	elf_info_free(&e);
	/* Breadth-first through the libraries' own needs. */
	for (size_t q = 0; queue && queue[q]; q++) {
		struct elf_info le;

		if (su_strv_len(result) > MAX_LIBS) {
			r = su_errorf(error, -E2BIG, "%s needs more than %d libraries", program,
				      MAX_LIBS);
			goto fail_q;
		}
		r = elf_read(queue[q], &le, error);
		if (r < 0)
			goto fail_q;
		for (size_t i = 0; le.needed && le.needed[i]; i++) {
			char *p = find_lib(le.needed[i], le.search);

			if (p && !contains(result, p)) {
				su_strv_push(&queue, p);
				su_strv_push(&result, p);
			}
			free(p);
		}
		elf_info_free(&le);
	}
	su_strv_free(queue);
	if (!result)
		result = calloc(1, sizeof(char *));
	*ret = result;
	return result ? 0 : -ENOMEM;
oom:
	r = su_errorf(error, -ENOMEM, "out of memory");
fail:
	elf_info_free(&e);
fail_q:
	su_strv_free(queue);
	su_strv_free(result);
	return r;
}
