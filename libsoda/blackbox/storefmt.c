/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's file formats: segment headers, the head file, notices. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static const uint8_t seg_magic[8] = { 0xAB, 'S', 'B', 'X', '-', 'S', 'E', 'G' };
static const uint8_t head_magic[8] = { 0xAB, 'S', 'B', 'X', '-', 'H', 'E', 'D' };

/* ---- segment header ---- */

void sbb_seg_header_encode(uint8_t out[SBB_SEG_HEADER_BYTES], const sbb_seg_header *h)
{
	memset(out, 0, SBB_SEG_HEADER_BYTES);
	memcpy(out, seg_magic, 8);
	sbx_put32(out + 8, h->version);
	sbx_put32(out + 12, SBB_SEG_HEADER_BYTES);
	memcpy(out + 16, h->store, 16);
	sbx_put64(out + 32, h->number);
	sbx_put64(out + 40, h->first_entry);
	memcpy(out + 48, h->prev, 32);
	sbx_put64(out + 80, h->created_usec);
	crypto_generichash(out + 96, 32, out, 96, NULL, 0);
}

int sbb_seg_header_decode(sbb_seg_header *h, const uint8_t in[SBB_SEG_HEADER_BYTES])
{
	uint32_t version = sbx_get32(in + 8);
	uint8_t d[32];

	if (memcmp(in, seg_magic, 8) != 0 ||
	    (version != SBX_CHAIN_BLAKE2B && version != SBX_CHAIN_BLAKE3) ||
	    sbx_get32(in + 12) != SBB_SEG_HEADER_BYTES)
		return -EBADMSG;
	crypto_generichash(d, 32, in, 96, NULL, 0);
	if (sodium_memcmp(d, in + 96, 32) != 0 || !sbb_is_zero(in + 88, 8))
		return -EBADMSG;
	h->version = version;
	memcpy(h->store, in + 16, 16);
	h->number = sbx_get64(in + 32);
	h->first_entry = sbx_get64(in + 40);
	memcpy(h->prev, in + 48, 32);
	h->created_usec = sbx_get64(in + 80);
	return h->number == 0 ? -EBADMSG : 0;
}

void sbb_seg_name(char *out, size_t size, uint64_t number)
{
	snprintf(out, size, SBB_SEG_PREFIX "%010" PRIu64 SBB_SEG_SUFFIX, number);
}

int sbb_seg_parse_name(const char *name, uint64_t *ret)
{
	size_t n = strlen(name), pl = strlen(SBB_SEG_PREFIX), sl = strlen(SBB_SEG_SUFFIX);
	uint64_t v = 0;

	if (n != pl + 10 + sl || strncmp(name, SBB_SEG_PREFIX, pl) != 0 ||
	    strcmp(name + n - sl, SBB_SEG_SUFFIX) != 0)
		return -EINVAL;
	for (size_t i = pl; i < pl + 10; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int sbb_list_segments(int dirfd, uint64_t **ret, size_t *ret_n)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return su_neg_errno();
	d = fdopendir(fd);
	if (!d) {
		int r = su_neg_errno();

		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		uint64_t num;

		if (sbb_seg_parse_name(de->d_name, &num) < 0)
			continue;
		if (n == cap) {
			uint64_t *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[n++] = num;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- head ---- */

void sbb_head_encode(uint8_t out[SBB_HEAD_SLOT_BYTES], const sbb_head *h)
{
	memset(out, 0, SBB_HEAD_SLOT_BYTES);
	memcpy(out, head_magic, 8);
	sbx_put32(out + 8, 1);
	sbx_put32(out + 12, h->flags);
	memcpy(out + 16, h->store, 16);
	sbx_put64(out + 32, h->commit);
	sbx_put64(out + 40, h->segment);
	sbx_put64(out + 48, h->offset);
	sbx_put64(out + 56, h->entries);
	memcpy(out + 64, h->digest, 32);
	sbx_put64(out + 96, h->time_usec);
	sbx_put64(out + 104, h->session);
	crypto_generichash(out + 112, 16, out, 112, NULL, 0);
}

static int head_decode(sbb_head *h, const uint8_t *in)
{
	uint8_t d[16];

	if (memcmp(in, head_magic, 8) != 0 || sbx_get32(in + 8) != 1)
		return -EBADMSG;
	crypto_generichash(d, 16, in, 112, NULL, 0);
	if (sodium_memcmp(d, in + 112, 16) != 0)
		return -EBADMSG;
	h->flags = sbx_get32(in + 12);
	memcpy(h->store, in + 16, 16);
	h->commit = sbx_get64(in + 32);
	h->segment = sbx_get64(in + 40);
	h->offset = sbx_get64(in + 48);
	h->entries = sbx_get64(in + 56);
	memcpy(h->digest, in + 64, 32);
	h->time_usec = sbx_get64(in + 96);
	h->session = sbx_get64(in + 104);
	return 0;
}

int sbb_head_read(int dirfd, sbb_head *ret)
{
	uint8_t buf[2 * SBB_HEAD_SLOT_BYTES];
	sbb_head a, b;
	bool va, vb;
	ssize_t n;
	int fd;

	fd = openat(dirfd, SBB_HEAD_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return su_neg_errno();
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return -EIO;
	va = n >= SBB_HEAD_SLOT_BYTES && head_decode(&a, buf) == 0;
	vb = n >= 2 * SBB_HEAD_SLOT_BYTES && head_decode(&b, buf + SBB_HEAD_SLOT_BYTES) == 0;
	if (!va && !vb)
		return -EBADMSG;
	if (va && (!vb || a.commit >= b.commit))
		*ret = a;
	else
		*ret = b;
	return 0;
}

/* ---- notices ---- */

void sbb_open_encode(uint8_t out[SBB_OPEN_BYTES], const sbb_open *o)
{
	memset(out, 0, SBB_OPEN_BYTES);
	memcpy(out, o->store, 16);
	sbx_put64(out + 16, o->session);
	sbx_put32(out + 24, o->flags);
	sbx_put64(out + 32, o->torn_segment);
	sbx_put64(out + 40, o->torn_offset);
	sbx_put64(out + 48, o->torn_bytes);
	sbx_put64(out + 56, o->head_segment);
	sbx_put64(out + 64, o->head_offset);
	sbx_put64(out + 72, o->head_entries);
	sbx_put64(out + 80, o->found_entries);
	sbx_put64(out + 88, o->quota_bytes);
	sbx_put64(out + 96, o->segment_bytes);
}

int sbb_open_decode(sbb_open *o, const uint8_t *in, size_t len)
{
	if (len != SBB_OPEN_BYTES)
		return -EBADMSG;
	memcpy(o->store, in, 16);
	o->session = sbx_get64(in + 16);
	o->flags = sbx_get32(in + 24);
	o->torn_segment = sbx_get64(in + 32);
	o->torn_offset = sbx_get64(in + 40);
	o->torn_bytes = sbx_get64(in + 48);
	o->head_segment = sbx_get64(in + 56);
	o->head_offset = sbx_get64(in + 64);
	o->head_entries = sbx_get64(in + 72);
	o->found_entries = sbx_get64(in + 80);
	o->quota_bytes = sbx_get64(in + 88);
	o->segment_bytes = sbx_get64(in + 96);
	return 0;
}

void sbb_checkpoint_encode(uint8_t out[SBB_CHECKPOINT_BYTES], const sbb_checkpoint *c)
{
	memset(out, 0, SBB_CHECKPOINT_BYTES);
	sbx_put64(out, c->segment);
	sbx_put64(out + 8, c->offset);
	memcpy(out + 16, c->digest, 32);
	sbx_put64(out + 48, c->entry);
	sbx_put64(out + 56, c->dropped_frames);
	sbx_put64(out + 64, c->dropped_bytes);
	sbx_put64(out + 72, c->garbage_bytes);
	sbx_put64(out + 80, c->rejected_frames);
	sbx_put32(out + 88, c->flags);
}

int sbb_checkpoint_decode(sbb_checkpoint *c, const uint8_t *in, size_t len)
{
	if (len != SBB_CHECKPOINT_BYTES)
		return -EBADMSG;
	c->segment = sbx_get64(in);
	c->offset = sbx_get64(in + 8);
	memcpy(c->digest, in + 16, 32);
	c->entry = sbx_get64(in + 48);
	c->dropped_frames = sbx_get64(in + 56);
	c->dropped_bytes = sbx_get64(in + 64);
	c->garbage_bytes = sbx_get64(in + 72);
	c->rejected_frames = sbx_get64(in + 80);
	c->flags = sbx_get32(in + 88);
	return 0;
}

void sbb_loss_encode(uint8_t out[SBB_LOSS_BYTES], const sbb_loss *l)
{
	memset(out, 0, SBB_LOSS_BYTES);
	sbx_put32(out, l->reason);
	sbx_put32(out + 4, l->flags);
	memcpy(out + 8, l->stream, 16);
	sbx_put64(out + 24, l->first_seq);
	sbx_put64(out + 32, l->last_seq);
	sbx_put64(out + 40, l->frames);
	sbx_put64(out + 48, l->bytes);
	sbx_put64(out + 56, l->first_usec);
	sbx_put64(out + 64, l->last_usec);
}

int sbb_loss_decode(sbb_loss *l, const uint8_t *in, size_t len)
{
	if (len != SBB_LOSS_BYTES)
		return -EBADMSG;
	l->reason = sbx_get32(in);
	l->flags = sbx_get32(in + 4);
	memcpy(l->stream, in + 8, 16);
	l->first_seq = sbx_get64(in + 24);
	l->last_seq = sbx_get64(in + 32);
	l->frames = sbx_get64(in + 40);
	l->bytes = sbx_get64(in + 48);
	l->first_usec = sbx_get64(in + 56);
	l->last_usec = sbx_get64(in + 64);
	if (l->reason < SBB_LOSS_QUOTA || l->reason > SBB_LOSS_WRITE_ERROR)
		return -EBADMSG;
	if ((l->flags & SBB_LOSS_F_STREAM) && l->first_seq > l->last_seq)
		return -EBADMSG;
	return 0;
}

const char *sbb_loss_reason_name(uint32_t reason)
{
	switch (reason) {
	case SBB_LOSS_QUOTA:
		return "quota";
	case SBB_LOSS_GARBAGE:
		return "garbage";
	case SBB_LOSS_REJECTED:
		return "rejected";
	case SBB_LOSS_LINE_GAP:
		return "line-gap";
	case SBB_LOSS_WRITE_ERROR:
		return "write-error";
	default:
		return "unknown";
	}
}

void sbb_retention_encode(uint8_t out[SBB_RETENTION_BYTES], const sbb_retention *r)
{
	memset(out, 0, SBB_RETENTION_BYTES);
	sbx_put64(out, r->first);
	sbx_put64(out + 8, r->last);
	sbx_put32(out + 16, r->reason);
	sbx_put64(out + 24, r->bytes);
	memcpy(out + 32, r->last_digest, 32);
}

int sbb_retention_decode(sbb_retention *r, const uint8_t *in, size_t len)
{
	if (len != SBB_RETENTION_BYTES)
		return -EBADMSG;
	r->first = sbx_get64(in);
	r->last = sbx_get64(in + 8);
	r->reason = sbx_get32(in + 16);
	r->bytes = sbx_get64(in + 24);
	memcpy(r->last_digest, in + 32, 32);
	if (r->first == 0 || r->first > r->last)
		return -EBADMSG;
	return 0;
}

void sbb_line_encode(uint8_t out[SBB_LINE_BYTES], const sbb_line *l)
{
	memset(out, 0, SBB_LINE_BYTES);
	sbx_put32(out, l->role);
	memcpy(out + 8, l->stream, 16);
	sbx_put64(out + 24, l->received_usec);
	sbx_put64(out + 32, l->line_bytes);
}

int sbb_line_decode(sbb_line *l, const uint8_t *in, size_t len)
{
	if (len != SBB_LINE_BYTES)
		return -EBADMSG;
	l->role = sbx_get32(in);
	memcpy(l->stream, in + 8, 16);
	l->received_usec = sbx_get64(in + 24);
	l->line_bytes = sbx_get64(in + 32);
	if ((l->role != SBB_LINE_SERVER && l->role != SBB_LINE_FOREIGN) || sbx_get32(in + 4) != 0 ||
	    !sbb_is_zero(in + 40, 8))
		return -EBADMSG;
	return 0;
}

void sbb_receipt_encode(uint8_t out[SBB_RECEIPT_BYTES], uint64_t usec)
{
	memset(out, 0, SBB_RECEIPT_BYTES);
	sbx_put64(out, usec);
}

int sbb_receipt_decode(uint64_t *ret_usec, const uint8_t *in, size_t len)
{
	if (len != SBB_RECEIPT_BYTES || !sbb_is_zero(in + 8, 8) || sbx_get64(in) == 0)
		return -EBADMSG;
	*ret_usec = sbx_get64(in);
	return 0;
}
