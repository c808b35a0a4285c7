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
/* The file's bytes are not aligned for the ELF structures: copy them out. */
static Elf64_Phdr phdr_at(const char *data, uint64_t phoff, unsigned i)
{
	Elf64_Phdr ph;

	memcpy(&ph, data + phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
	return ph;
}

static Elf64_Dyn dyn_at(const char *data, uint64_t off, size_t i)
{
	Elf64_Dyn d;

	memcpy(&d, data + off + i * sizeof(d), sizeof(d));
	return d;
}

/* Reads the ELF64 little-endian file at path. Every offset is bounds-checked:
 * the file may be anything. */
static int elf_read(const char *path, struct elf_info *out, soda_error **error)
{
	char *data = NULL;
	size_t size;
	Elf64_Ehdr eh;
	uint64_t dyn_off = 0, dyn_size = 0, strtab_addr = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = su_read_file(path, ELF_MAX, &data, &size);
	if (r < 0)
		return su_errorf(error, r, "cannot read %s: %s", path, strerror(-r));
	if (size >= sizeof(eh))
		memcpy(&eh, data, sizeof(eh));
	if (size < sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(size, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr))) {
		free(data);
		return su_errorf(error, -ENOEXEC, "%s is not a 64-bit little-endian ELF file", path);
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph = phdr_at(data, eh.e_phoff, i);

		if ((ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC) &&
		    !in_file(size, ph.p_offset, ph.p_filesz)) {
			free(data);
			free(out->interp);
			out->interp = NULL;
			return su_errorf(error, -ENOEXEC,
					 "%s is truncated or corrupt: a segment lies past its end", path);
		}
		/* Only the first PT_INTERP counts (a forged file may have more). */
		if (ph.p_type == PT_INTERP && !out->interp && ph.p_filesz > 1) {
			out->interp = strndup(data + ph.p_offset, ph.p_filesz);
		} else if (ph.p_type == PT_DYNAMIC) {
			dyn_off = ph.p_offset;
			dyn_size = ph.p_filesz;
		}
	}
	if (dyn_size) {
		size_t nd = dyn_size / sizeof(Elf64_Dyn);
		uint64_t strtab_off = 0;
		bool have_str = false;

		for (size_t i = 0; i < nd; i++) {
			Elf64_Dyn d = dyn_at(data, dyn_off, i);

			if (d.d_tag == DT_NULL)
				break;
			if (d.d_tag == DT_STRTAB)
				strtab_addr = d.d_un.d_ptr;
		}
		/* DT_STRTAB is a virtual address: map it through PT_LOAD. */
		for (unsigned i = 0; i < eh.e_phnum && strtab_addr; i++) {
			Elf64_Phdr ph = phdr_at(data, eh.e_phoff, i);

			if (ph.p_type == PT_LOAD && strtab_addr >= ph.p_vaddr &&
			    strtab_addr - ph.p_vaddr < ph.p_filesz) {
				strtab_off = ph.p_offset + (strtab_addr - ph.p_vaddr);
				have_str = strtab_off < size;
			}
		}
		for (size_t i = 0; have_str && i < nd; i++) {
			Elf64_Dyn d = dyn_at(data, dyn_off, i);
			const char *str;
			size_t max;

			if (d.d_tag == DT_NULL)
				break;
			if (d.d_tag != DT_NEEDED && d.d_tag != DT_RUNPATH && d.d_tag != DT_RPATH)
				continue;
			if (d.d_un.d_val >= size - strtab_off)
				continue;
			str = data + strtab_off + d.d_un.d_val;
			max = size - strtab_off - d.d_un.d_val;
			if (!memchr(str, '\0', max))
				continue;
			if (d.d_tag == DT_NEEDED) {
				if (su_strv_len(out->needed) < MAX_LIBS)
					su_strv_push(&out->needed, str);
			} else {
				char *copy = strdup(str), *save = NULL;

				for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir;
				     dir = strtok_r(NULL, ":", &save))
					if (dir[0] == '/' && su_strv_len(out->search) < MAX_LIBS)
						su_strv_push(&out->search, dir);
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
