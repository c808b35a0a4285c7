/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The blackbox wire and file format, version 1: constants, the frame header
 * codec, the record header codec, CRC-32C and the key schedule.
 * docs/blackbox-format.md is the specification; this file must agree with it
 * (tests/blackbox/test_bb_format.c checks the document's test vectors).
 *
 * Depends on libc and libsodium only: soda-agent (a static PID 1 in the
 * guest) compiles this file and writer.c without the rest of libsoda.
 * Prefix sbx_ ("soda blackbox format").
 */
#ifndef SODA_BLACKBOX_FRAME_H
#define SODA_BLACKBOX_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- frames ---- */

#define SBX_MAGIC_0 0xAB
#define SBX_MAGIC_1 0x53 /* 'S' */
#define SBX_MAGIC_2 0x42 /* 'B' */
#define SBX_MAGIC_3 0x58 /* 'X' */
#define SBX_VERSION 1
#define SBX_HEADER_BYTES 52 /* fixed frame header */
#define SBX_AD_BYTES 48     /* header bytes authenticated as AEAD additional data */
#define SBX_MAX_PAYLOAD (1u << 20)
#define SBX_STREAM_ID_BYTES 16
#define SBX_KEY_ID_BYTES 8
#define SBX_LABEL_BYTES 32
#define SBX_DIGEST_BYTES 32

/* Frame kinds. 1..15: frames of encrypted streams (written by a writer, in
 * the guest or on the host); 16..31: store notices (written by the host
 * store, plaintext). */
enum {
	SBX_K_START = 1,
	SBX_K_EPOCH = 2,
	SBX_K_DATA = 3,
	SBX_K_HEARTBEAT = 4,
	SBX_K_END = 5,
	SBX_K_OPEN = 16,
	SBX_K_CHECKPOINT = 17,
	SBX_K_LOSS = 18,
	SBX_K_EOF = 19,
	SBX_K_STARTCOPY = 20,
	SBX_K_RETENTION = 21,
	SBX_K_LINE = 22,    /* which stream of the line is the server's, and which are not */
	SBX_K_RECEIPT = 23, /* the host's time of receipt of the line's frames that follow */
};

static inline bool sbx_kind_is_stream(unsigned k)
{
	return k >= SBX_K_START && k <= SBX_K_END;
}
static inline bool sbx_kind_is_notice(unsigned k)
{
	return k >= SBX_K_OPEN && k <= SBX_K_RECEIPT;
}
static inline bool sbx_kind_is_sealed(unsigned k) /* a secretstream message */
{
	return k == SBX_K_DATA || k == SBX_K_HEARTBEAT || k == SBX_K_END;
}

typedef struct sbx_header {
	uint8_t kind;
	uint16_t flags;
	uint32_t len; /* payload bytes after the header */
	uint32_t epoch;
	uint8_t stream[SBX_STREAM_ID_BYTES];
	uint64_t seq;
	uint64_t time_usec; /* the writer's CLOCK_REALTIME */
	uint32_t crc;       /* CRC-32C of header bytes [0,48) and the payload */
} sbx_header;

/* ---- little-endian codecs ---- */

static inline void sbx_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void sbx_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void sbx_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t sbx_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t sbx_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t sbx_get64(const uint8_t *p)
{
	return (uint64_t)sbx_get32(p) | (uint64_t)sbx_get32(p + 4) << 32;
}

/* CRC-32C (Castagnoli, reflected, init and final xor 0xffffffff), the
 * sse4.2 instruction where the CPU has it. Pass 0 to start. */
uint32_t sbx_crc32c(uint32_t crc, const void *data, size_t len);

/* Writes the 52-byte header, computing the CRC over the header and
 * @payload (of h->len bytes); h->crc is set. */
void sbx_header_encode(uint8_t out[SBX_HEADER_BYTES], sbx_header *h, const uint8_t *payload);
/* The same in two steps, for sealed frames whose first 48 header bytes are
 * the AEAD's additional data: bytes [0,48) first, then the CRC once the
 * payload sits right after the header in @frame. */
void sbx_header_encode_ad(uint8_t out[SBX_AD_BYTES], const sbx_header *h);
void sbx_header_finish_crc(uint8_t *frame, sbx_header *h);
/* Decodes a header and checks what can be checked without the payload:
 * magic, version, a known kind, flags 0, len <= SBX_MAX_PAYLOAD.
 * Returns 0 or -EBADMSG. */
int sbx_header_decode(sbx_header *h, const uint8_t *p);
/* CRC check of a complete frame whose header decoded. */
bool sbx_frame_crc_ok(const uint8_t *frame, const sbx_header *h);
static inline bool sbx_is_magic(const uint8_t *p)
{
	return p[0] == SBX_MAGIC_0 && p[1] == SBX_MAGIC_1 && p[2] == SBX_MAGIC_2 &&
	       p[3] == SBX_MAGIC_3;
}
/* First offset >= from where a magic begins, or len when none does (a
 * partial magic at the very end is reported so that callers keep it). */
size_t sbx_find_magic(const uint8_t *p, size_t len, size_t from);

/* ---- START ---- */

#define SBX_ORIGIN_GUEST 1
#define SBX_ORIGIN_HOST 2
#define SBX_SUITE_1 1 /* X25519 sealed box, XChaCha20-Poly1305 secretstream, BLAKE2b */
#define SBX_START_PARAMS_BYTES 56
#define SBX_SEALED_PLAIN_BYTES (32 + SBX_START_PARAMS_BYTES)
#define SBX_SEALED_BYTES (SBX_SEALED_PLAIN_BYTES + 48) /* + crypto_box_SEALBYTES */
#define SBX_START_PAYLOAD_BYTES (SBX_START_PARAMS_BYTES + SBX_SEALED_BYTES)

typedef struct sbx_start_params {
	uint8_t origin;
	uint8_t suite;
	uint32_t heartbeat_ms;
	uint32_t rekey_ms;
	uint8_t key_id[SBX_KEY_ID_BYTES];
	char label[SBX_LABEL_BYTES + 1]; /* NUL-terminated */
} sbx_start_params;

void sbx_start_params_encode(uint8_t out[SBX_START_PARAMS_BYTES], const sbx_start_params *p);
int sbx_start_params_decode(sbx_start_params *p, const uint8_t in[SBX_START_PARAMS_BYTES]);

/* ---- records (the plaintext of a secretstream message) ---- */

#define SBX_RECORD_HEADER_BYTES 16
#define SBX_RECORD_MAX_BODY (65536 - SBX_RECORD_HEADER_BYTES)
#define SBX_RECORD_F_CONTINUED 0x01 /* the body continues in the next record */
/* The body is whole lines of text, each ended by '\n', that arrived together
 * (TEXT only; never with CONTINUED). Readers hand out one record per line,
 * without its newline and without this flag. */
#define SBX_RECORD_F_LINES 0x02

enum {
	SBX_R_CONSOLE_OUT = 1,
	SBX_R_CONSOLE_IN = 2,
	SBX_R_SYSLOG = 3,
	SBX_R_KERNEL = 4,
	SBX_R_EXEC = 5,
	SBX_R_AUDIT = 6,
	SBX_R_IDS_ALERT = 7,
	SBX_R_LIFECYCLE = 8,
	SBX_R_SNAPSHOT = 9,
	SBX_R_HEARTBEAT = 10,
	SBX_R_LOSS = 11,
	SBX_R_END = 12,
	SBX_R_CONSOLE_SIZE = 13,
	SBX_R_TEXT = 14,
	SBX_R_MAX = 14,
};

typedef struct sbx_record_header {
	uint8_t type;
	uint8_t flags;
	uint32_t aux; /* console session, syslog priority, kernel log level... */
	uint64_t mono_usec;
} sbx_record_header;

void sbx_record_header_encode(uint8_t out[SBX_RECORD_HEADER_BYTES], const sbx_record_header *r);
int sbx_record_header_decode(sbx_record_header *r, const uint8_t *in, size_t len);

/* Heartbeat and END record bodies. */
#define SBX_HEARTBEAT_BODY_BYTES 32
#define SBX_END_BODY_BYTES 32
#define SBX_WLOSS_BODY_BYTES 24

/* ---- key schedule ---- */

/* First 8 bytes of BLAKE2b-256("soda-bb key id v1" || box_pk). */
void sbx_key_id(uint8_t out[SBX_KEY_ID_BYTES], const uint8_t box_pk[32]);
/* R_0 = BLAKE2b-256(key=K0, "soda-bb ratchet0" || stream id) */
void sbx_ratchet_first(uint8_t out[32], const uint8_t k0[32], const uint8_t stream[16]);
/* R_{e+1} = BLAKE2b-256(key=R_e, "soda-bb ratchet+"); in place, wiping R_e */
void sbx_ratchet_next(uint8_t r[32]);
/* S_e = BLAKE2b-256(key=R_e, "soda-bb stream  " || stream id || le64(e)) */
void sbx_epoch_key(uint8_t out[32], const uint8_t r[32], const uint8_t stream[16], uint64_t epoch);

#endif
