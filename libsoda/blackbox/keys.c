/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tenant and factory keys, and their files (docs/blackbox-format.md, "Key
 * files"): a record file (libsoda/kv.h) "soda-blackbox-key 1" with hex keys.
 * Secret parts live in sodium_malloc() memory (guarded, locked) and are
 * wiped when freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kv.h"
#include "internal.h"

#define KEY_MAGIC "soda-blackbox-key"
#define KEY_FILE_MAX (64u << 10)

struct soda_blackbox_key {
	uint32_t type;
	bool secret;
	uint8_t box_pk[32];
	uint8_t sign_pk[32];
	bool has_box, has_sign;
	uint8_t *sec; /* sodium_malloc: box_sk[32] then sign_sk[64] */
	char id[2 * SBX_KEY_ID_BYTES + 1];
	uint64_t created;
	char *comment;
};

#define SEC_BYTES (32 + 64)
#define BOX_SK(k) ((k)->sec)
#define SIGN_SK(k) ((k)->sec + 32)

static void set_id(soda_blackbox_key *k)
{
	uint8_t id[SBX_KEY_ID_BYTES];

	sbx_key_id(id, k->type == SODA_BLACKBOX_KEY_TENANT ? k->box_pk : k->sign_pk);
	sbb_hex(k->id, id, sizeof(id));
}

static soda_blackbox_key *key_new(uint32_t type, bool secret)
{
	soda_blackbox_key *k;

	if (sodium_init() < 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->type = type;
	if (secret) {
		k->sec = sodium_malloc(SEC_BYTES);
		if (!k->sec) {
			free(k);
			return NULL;
		}
		sodium_memzero(k->sec, SEC_BYTES);
		k->secret = true;
	}
	return k;
}

SODA_EXPORT void soda_blackbox_key_free(soda_blackbox_key *k)
{
	if (!k)
		return;
	if (k->sec)
		sodium_free(k->sec); /* wipes */
	free(k->comment);
	free(k);
}

static bool type_ok(uint32_t type)
{
	return type == SODA_BLACKBOX_KEY_TENANT || type == SODA_BLACKBOX_KEY_FACTORY;
}

SODA_EXPORT int soda_blackbox_key_generate(soda_blackbox_key **ret, uint32_t type,
					   unsigned int flags, soda_error **error)
{
	soda_blackbox_key *k;

	if (!ret)
		return su_errorf(error, -EINVAL, "no key to return");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!type_ok(type))
		return su_errorf(error, -EINVAL, "unknown key type %u", type);
	k = key_new(type, true);
	if (!k)
		return su_errorf(error, -ENOMEM, "out of memory");
	if (type == SODA_BLACKBOX_KEY_TENANT) {
		crypto_box_keypair(k->box_pk, BOX_SK(k));
		k->has_box = true;
	}
	crypto_sign_keypair(k->sign_pk, SIGN_SK(k));
	k->has_sign = true;
	k->created = su_now_usec();
	set_id(k);
	*ret = k;
	return 0;
}

SODA_EXPORT int soda_blackbox_key_from_public(soda_blackbox_key **ret, uint32_t type,
					      const uint8_t *box_public, const uint8_t *sign_public,
					      unsigned int flags, soda_error **error)
{
	soda_blackbox_key *k;

	if (!ret)
		return su_errorf(error, -EINVAL, "no key to return");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!type_ok(type))
		return su_errorf(error, -EINVAL, "unknown key type %u", type);
	if (type == SODA_BLACKBOX_KEY_TENANT && !box_public)
		return su_errorf(error, -EINVAL, "a tenant key needs its X25519 public key");
	if (type == SODA_BLACKBOX_KEY_FACTORY && !sign_public)
		return su_errorf(error, -EINVAL, "a factory key needs its Ed25519 public key");
	if (type == SODA_BLACKBOX_KEY_FACTORY && box_public)
		return su_errorf(error, -EINVAL, "a factory key has no X25519 key");
	k = key_new(type, false);
	if (!k)
		return su_errorf(error, -ENOMEM, "out of memory");
	if (box_public) {
		memcpy(k->box_pk, box_public, 32);
		k->has_box = true;
	}
	if (sign_public) {
		memcpy(k->sign_pk, sign_public, 32);
		k->has_sign = true;
	}
	set_id(k);
	*ret = k;
	return 0;
}

SODA_EXPORT int soda_blackbox_key_get_public(soda_blackbox_key **ret, const soda_blackbox_key *key,
					     soda_error **error)
{
	soda_blackbox_key *k;
	int r;

	if (!key)
		return su_errorf(error, -EINVAL, "no key");
	r = soda_blackbox_key_from_public(&k, key->type, key->has_box ? key->box_pk : NULL,
					  key->has_sign ? key->sign_pk : NULL, 0, error);
	if (r < 0)
		return r;
	k->created = key->created;
	if (key->comment && !(k->comment = strdup(key->comment))) {
		soda_blackbox_key_free(k);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	*ret = k;
	return 0;
}

SODA_EXPORT uint32_t soda_blackbox_key_get_type(const soda_blackbox_key *key)
{
	return key ? key->type : 0;
}

SODA_EXPORT int soda_blackbox_key_has_secret(const soda_blackbox_key *key)
{
	return key && key->secret ? 1 : 0;
}

SODA_EXPORT const char *soda_blackbox_key_get_id(const soda_blackbox_key *key)
{
	return key ? key->id : NULL;
}

SODA_EXPORT int soda_blackbox_key_get_box_public(const soda_blackbox_key *key, uint8_t *out,
						 size_t out_len)
{
	if (!key || !out || out_len < 32 || !key->has_box)
		return -EINVAL;
	memcpy(out, key->box_pk, 32);
	return 0;
}

/* Internal: the X25519 secret for the reader (NULL for public keys). */
const uint8_t *sbb_key_box_secret(const soda_blackbox_key *key)
{
	return key && key->secret && key->has_box ? BOX_SK(key) : NULL;
}

const uint8_t *sbb_key_box_public(const soda_blackbox_key *key)
{
	return key && key->has_box ? key->box_pk : NULL;
}

/* ---- signatures ---- */

SODA_EXPORT int soda_blackbox_key_sign(uint8_t *sig, size_t sig_len, const soda_blackbox_key *key,
				       const void *data, size_t len, unsigned int flags,
				       soda_error **error)
{
	if (!sig || sig_len < crypto_sign_BYTES || !key || (len && !data))
		return su_errorf(error, -EINVAL, "bad arguments");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!key->secret || !key->has_sign)
		return su_errorf(error, -EINVAL, "key %s has no secret signing key", key->id);
	crypto_sign_detached(sig, NULL, data, len, SIGN_SK(key));
	return 0;
}

SODA_EXPORT int soda_blackbox_key_verify(const soda_blackbox_key *key, const void *data,
					 size_t len, const uint8_t *sig, size_t sig_len,
					 unsigned int flags, soda_error **error)
{
	if (!key || !sig || (len && !data))
		return su_errorf(error, -EINVAL, "bad arguments");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (!key->has_sign)
		return su_errorf(error, -EINVAL, "key %s has no signing key", key->id);
	if (sig_len != crypto_sign_BYTES ||
	    crypto_sign_verify_detached(sig, data, len, key->sign_pk) != 0)
		return su_errorf(error, -EBADMSG, "the signature is not key %s's", key->id);
	return 0;
}

/* ---- files ---- */

static void add_hex(su_buf *b, const char *name, const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];

	sbb_hex(hex, p, n);
	su_kv_add(b, name, hex);
	sodium_memzero(hex, sizeof(hex));
}

static int format_key(char **ret, size_t *ret_len, const soda_blackbox_key *k, bool secret,
		      soda_error **error)
{
	su_buf b = { 0 };

	su_kv_header(&b, KEY_MAGIC, 1);
	su_kv_add(&b, "type", k->type == SODA_BLACKBOX_KEY_TENANT ? "tenant" : "factory");
	su_kv_add(&b, "part", secret ? "secret" : "public");
	su_kv_add(&b, "id", k->id);
	if (k->has_box)
		add_hex(&b, "box-public", k->box_pk, 32);
	if (k->has_sign)
		add_hex(&b, "sign-public", k->sign_pk, 32);
	if (secret) {
		if (k->has_box)
			add_hex(&b, "box-secret", BOX_SK(k), 32);
		if (k->has_sign)
			add_hex(&b, "sign-seed", SIGN_SK(k), 32); /* libsodium's sk = seed || pk */
	}
	if (k->created)
		su_kv_add_u64(&b, "created", k->created);
	if (k->comment)
		su_kv_add(&b, "comment", k->comment);
	if (b.oom) {
		if (b.data)
			sodium_memzero(b.data, b.cap);
		su_buf_free(&b);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	*ret_len = b.len;
	*ret = su_buf_steal(&b);
	return 0;
}

static int save(const soda_blackbox_key *k, const char *path, bool secret, unsigned flags,
		soda_error **error)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!k || !path || !*path)
		return su_errorf(error, -EINVAL, "no key or no path");
	if (flags & ~SODA_BLACKBOX_KEY_NO_CLOBBER)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (secret && !k->secret)
		return su_errorf(error, -EINVAL, "key %s is public only", k->id);
	if ((flags & SODA_BLACKBOX_KEY_NO_CLOBBER) && access(path, F_OK) == 0)
		return su_errorf(error, -EEXIST, "%s exists already", path);
	r = format_key(&text, &len, k, secret, error);
	if (r < 0)
		return r;
	r = su_write_file_atomic(path, text, len, secret ? 0600 : 0644);
	sodium_memzero(text, len);
	free(text);
	if (r < 0)
		return su_errorf(error, r, "cannot write %s: %s", path, strerror(-r));
	return 0;
}

SODA_EXPORT int soda_blackbox_key_save_secret(const soda_blackbox_key *key, const char *path,
					      unsigned int flags, soda_error **error)
{
	return save(key, path, true, flags, error);
}

SODA_EXPORT int soda_blackbox_key_save_public(const soda_blackbox_key *key, const char *path,
					      unsigned int flags, soda_error **error)
{
	return save(key, path, false, flags, error);
}

SODA_EXPORT int soda_blackbox_key_format_public(char **ret, const soda_blackbox_key *key,
						unsigned int flags, soda_error **error)
{
	size_t len;

	if (!ret || !key)
		return su_errorf(error, -EINVAL, "no key");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	return format_key(ret, &len, key, false, error);
}

typedef struct parse_ctx {
	const char *source;
	uint32_t type;
	int part; /* 0 unknown, 1 public, 2 secret */
	char id[64];
	uint8_t box_pk[32], sign_pk[32];
	uint8_t *sec; /* sodium_malloc: box_sk[32] seed[32] */
	bool have_box_pk, have_sign_pk, have_box_sk, have_seed, have_id;
	uint64_t created;
	char *comment;
	soda_error **error;
} parse_ctx;

static int hex_field(parse_ctx *c, uint8_t *out, const char *key, const char *value, uint32_t line,
		     bool *have)
{
	if (*have)
		return su_errorf_at(c->error, -EBADMSG, c->source, line, 1, "%s given twice", key);
	if (sbb_unhex(out, 32, value, strlen(value)) < 0)
		return su_errorf_at(c->error, -EBADMSG, c->source, line, (uint32_t)strlen(key) + 2,
				    "%s must be 64 hex digits", key);
	*have = true;
	return 0;
}

static int key_line(const char *key, const char *value, uint32_t line, void *userdata)
{
	parse_ctx *c = userdata;

	if (strcmp(key, "type") == 0) {
		if (strcmp(value, "tenant") == 0)
			c->type = SODA_BLACKBOX_KEY_TENANT;
		else if (strcmp(value, "factory") == 0)
			c->type = SODA_BLACKBOX_KEY_FACTORY;
		else
			return su_errorf_at(c->error, -EBADMSG, c->source, line, 6,
					    "unknown key type '%s'", value);
	} else if (strcmp(key, "part") == 0) {
		if (strcmp(value, "public") == 0)
			c->part = 1;
		else if (strcmp(value, "secret") == 0)
			c->part = 2;
		else
			return su_errorf_at(c->error, -EBADMSG, c->source, line, 6,
					    "part must be public or secret, not '%s'", value);
	} else if (strcmp(key, "id") == 0) {
		snprintf(c->id, sizeof(c->id), "%s", value);
		c->have_id = true;
	} else if (strcmp(key, "box-public") == 0) {
		return hex_field(c, c->box_pk, key, value, line, &c->have_box_pk);
	} else if (strcmp(key, "sign-public") == 0) {
		return hex_field(c, c->sign_pk, key, value, line, &c->have_sign_pk);
	} else if (strcmp(key, "box-secret") == 0) {
		return hex_field(c, c->sec, key, value, line, &c->have_box_sk);
	} else if (strcmp(key, "sign-seed") == 0) {
		return hex_field(c, c->sec + 32, key, value, line, &c->have_seed);
	} else if (strcmp(key, "created") == 0) {
		if (su_parse_u64(value, &c->created) < 0)
			return su_errorf_at(c->error, -EBADMSG, c->source, line, 9,
					    "created must be a number");
	} else if (strcmp(key, "comment") == 0) {
		free(c->comment);
		c->comment = strdup(value);
		if (!c->comment)
			return su_errorf(c->error, -ENOMEM, "out of memory");
	}
	/* Unknown keys are ignored: later versions may add some. */
	return 0;
}

SODA_EXPORT int soda_blackbox_key_parse(soda_blackbox_key **ret, const char *text, size_t len,
					const char *source, unsigned int flags, soda_error **error)
{
	parse_ctx c = { 0 };
	soda_blackbox_key *k = NULL;
	const char *src = source ? source : "key";
	int r;

	if (!ret || (len && !text))
		return su_errorf(error, -EINVAL, "no key text");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	if (sodium_init() < 0)
		return su_errorf(error, -EIO, "libsodium cannot start");
	c.source = src;
	c.error = error;
	c.sec = sodium_malloc(64);
	if (!c.sec)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = su_kv_parse(text, len, src, KEY_MAGIC, 1, NULL, key_line, &c, error);
	if (r < 0)
		goto out;
	r = -EBADMSG;
	if (!c.type) {
		su_errorf_at(error, r, src, 0, 0, "%s: no key type", src);
		goto out;
	}
	if (!c.part) {
		su_errorf_at(error, r, src, 0, 0, "%s: no 'part' (public or secret)", src);
		goto out;
	}
	if (c.type == SODA_BLACKBOX_KEY_TENANT && !c.have_box_pk) {
		su_errorf_at(error, r, src, 0, 0, "%s: a tenant key needs box-public", src);
		goto out;
	}
	if (c.type == SODA_BLACKBOX_KEY_FACTORY && (!c.have_sign_pk || c.have_box_pk || c.have_box_sk)) {
		su_errorf_at(error, r, src, 0, 0, "%s: a factory key has sign-public and no box key", src);
		goto out;
	}
	if (c.part == 1 && (c.have_box_sk || c.have_seed)) {
		su_errorf_at(error, r, src, 0, 0, "%s: a public key file holds secret keys", src);
		goto out;
	}
	if (c.part == 2 && ((c.type == SODA_BLACKBOX_KEY_TENANT && !c.have_box_sk) ||
			    (c.have_sign_pk && !c.have_seed))) {
		su_errorf_at(error, r, src, 0, 0, "%s: the secret key file misses a secret key", src);
		goto out;
	}
	k = key_new(c.type, c.part == 2);
	if (!k) {
		r = su_errorf(error, -ENOMEM, "out of memory");
		goto out;
	}
	if (c.have_box_pk) {
		memcpy(k->box_pk, c.box_pk, 32);
		k->has_box = true;
	}
	if (c.have_sign_pk) {
		memcpy(k->sign_pk, c.sign_pk, 32);
		k->has_sign = true;
	}
	if (c.part == 2) {
		uint8_t pk[32];

		if (k->has_box) {
			memcpy(BOX_SK(k), c.sec, 32);
			crypto_scalarmult_base(pk, BOX_SK(k));
			if (sodium_memcmp(pk, k->box_pk, 32) != 0) {
				su_errorf_at(error, r, src, 0, 0,
					     "%s: box-secret does not belong to box-public", src);
				goto out;
			}
		}
		if (k->has_sign) {
			crypto_sign_seed_keypair(pk, SIGN_SK(k), c.sec + 32);
			if (sodium_memcmp(pk, k->sign_pk, 32) != 0) {
				su_errorf_at(error, r, src, 0, 0,
					     "%s: sign-seed does not belong to sign-public", src);
				goto out;
			}
		}
	}
	set_id(k);
	if (c.have_id && strcmp(c.id, k->id) != 0) {
		su_errorf_at(error, r, src, 0, 0, "%s: id %s does not match the key (%s)", src, c.id, k->id);
		goto out;
	}
	k->created = c.created;
	k->comment = c.comment;
	c.comment = NULL;
	*ret = k;
	k = NULL;
	r = 0;
out:
	soda_blackbox_key_free(k);
	sodium_free(c.sec);
	free(c.comment);
	return r;
}

SODA_EXPORT int soda_blackbox_key_load(soda_blackbox_key **ret, const char *path,
				       unsigned int flags, soda_error **error)
{
	soda_blackbox_key *k = NULL;
	struct stat st;
	char *text;
	ssize_t n;
	int fd, r;

	if (!ret || !path)
		return su_errorf(error, -EINVAL, "no key file");
	if (flags)
		return su_errorf(error, -EINVAL, "unknown flags 0x%x", flags);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open the key file %s: %m", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return su_errorf(error, -EBADMSG, "%s is not a regular file", path);
	}
	if (st.st_size > KEY_FILE_MAX) {
		close(fd);
		return su_errorf(error, -EBADMSG, "%s is too large for a key file", path);
	}
	/* The first libsodium call of a program may be this one. */
	if (sodium_init() < 0) {
		close(fd);
		return su_errorf(error, -EIO, "libsodium cannot start");
	}
	text = sodium_malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		sodium_free(text);
		return su_errorf(error, -EIO, "cannot read %s", path);
	}
	r = soda_blackbox_key_parse(&k, text, (size_t)n, path, 0, error);
	sodium_free(text);
	if (r < 0)
		return r;
	if (k->secret && (st.st_mode & 077)) {
		soda_blackbox_key_free(k);
		return su_errorf(error, -EACCES,
				 "the secret key file %s is accessible to group or others (mode %04o); "
				 "refusing to use it: chmod 600 %s",
				 path, (unsigned)(st.st_mode & 07777), path);
	}
	*ret = k;
	return 0;
}
