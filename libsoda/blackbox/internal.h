/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal to the blackbox module (host side): findings and reports, the
 * store's file formats (segment header, head file, notices), and the store
 * scanner that the verifier and the reader share. Prefix sbb_.
 */
#ifndef SODA_BLACKBOX_INTERNAL_H
#define SODA_BLACKBOX_INTERNAL_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include <soda/blackbox.h>

#include "../util.h"
#include "chain.h"
#include "frame.h"

/* ---- small helpers ---- */

void sbb_hex(char *out, const uint8_t *in, size_t n); /* out: 2n+1 bytes */
/* Exactly 2n hex digits to n bytes. Returns 0 or -EINVAL. */
int sbb_unhex(uint8_t *out, size_t n, const char *in, size_t in_len);
bool sbb_is_zero(const uint8_t *p, size_t n);

/* ---- findings ---- */

#define SBB_MAX_FINDINGS 10000
#define SBB_NO_ENTRY UINT64_MAX
#define SBB_NO_SEQ UINT64_MAX

typedef struct sbb_pos {
	uint64_t segment; /* 0: the store as a whole */
	uint64_t offset;
	uint64_t entry; /* SBB_NO_ENTRY if unknown */
} sbb_pos;

struct soda_blackbox_finding {
	uint32_t kind;
	uint32_t severity;
	uint32_t basis;
	sbb_pos pos;
	uint64_t seq;
	bool has_stream;
	char stream[33];
	char *message;
	size_t order; /* of detection */
};

struct soda_blackbox_report {
	soda_blackbox_finding *f;
	size_t n, cap;
	uint64_t counters[8];
	bool sorted;
	char anchor[128];
};

soda_blackbox_report *sbb_report_new(void);
/* Adds a finding; the message is prefixed with the position. Out of memory
 * or over SBB_MAX_FINDINGS, the finding is only counted. */
void sbb_report_add(soda_blackbox_report *r, uint32_t kind, uint32_t severity, uint32_t basis,
		    const sbb_pos *pos, const uint8_t *stream, uint64_t seq, const char *fmt, ...)
	SU_PRINTF(8, 9);
/* Sorts findings by position (stable). */
void sbb_report_sort(soda_blackbox_report *r);
/* Makes a soda_error from the first finding of at least @severity (if any). */
int sbb_report_error(const soda_blackbox_report *r, uint32_t severity, soda_error **error);

/* ---- the store's files ---- */

#define SBB_STORE_META "store"
#define SBB_STORE_META_MAGIC "soda-blackbox-store"
#define SBB_HEAD_FILE "head"
#define SBB_LOCK_FILE "lock"
#define SBB_SEG_PREFIX "seg-"
#define SBB_SEG_SUFFIX ".sbx"

#define SBB_SEG_HEADER_BYTES 128
typedef struct sbb_seg_header {
	uint32_t version; /* 1 or 2: the chain's hash (SBX_CHAIN_BLAKE2B or SBX_CHAIN_BLAKE3) */
	uint8_t store[16];
	uint64_t number;
	uint64_t first_entry;
	uint8_t prev[SBX_DIGEST_BYTES]; /* digest of the whole previous segment; zeros for the first */
	uint64_t created_usec;
} sbb_seg_header;
void sbb_seg_header_encode(uint8_t out[SBB_SEG_HEADER_BYTES], const sbb_seg_header *h);
/* Returns 0, -EBADMSG (not a segment header, or damaged). */
int sbb_seg_header_decode(sbb_seg_header *h, const uint8_t in[SBB_SEG_HEADER_BYTES]);
/* "seg-0000000001.sbx"; out: at least 32 bytes. */
void sbb_seg_name(char *out, size_t size, uint64_t number);
/* Parses a segment file name; 0 and *ret, or -EINVAL. */
int sbb_seg_parse_name(const char *name, uint64_t *ret);
/* Sorted segment numbers in @dirfd. */
int sbb_list_segments(int dirfd, uint64_t **ret, size_t *ret_n);

#define SBB_HEAD_SLOT_BYTES 128
#define SBB_HEAD_F_CLOSED 1
typedef struct sbb_head {
	uint32_t flags;
	uint8_t store[16];
	uint64_t commit;
	uint64_t segment;
	uint64_t offset;
	uint64_t entries;
	uint8_t digest[SBX_DIGEST_BYTES]; /* of the segment's bytes [0, offset) */
	uint64_t time_usec;
	uint64_t session; /* number of the writer's session */
} sbb_head;
void sbb_head_encode(uint8_t out[SBB_HEAD_SLOT_BYTES], const sbb_head *h);
/* Reads both slots, returns the valid one with the highest commit: 0,
 * -ENOENT (no file), -EBADMSG (no valid slot). */
int sbb_head_read(int dirfd, sbb_head *ret);

/* Notice payloads (docs/blackbox-format.md, "Store notices"). */
#define SBB_OPEN_BYTES 112
#define SBB_OPEN_F_PREV_UNCLEAN 1
#define SBB_OPEN_F_TORN 2
#define SBB_OPEN_F_HEAD_AHEAD 4
#define SBB_OPEN_F_DAMAGED_TAIL 8
typedef struct sbb_open {
	uint8_t store[16];
	uint64_t session;
	uint32_t flags;
	uint64_t torn_segment, torn_offset, torn_bytes;
	uint64_t head_segment, head_offset, head_entries;
	uint64_t found_entries;
	uint64_t quota_bytes, segment_bytes;
} sbb_open;
void sbb_open_encode(uint8_t out[SBB_OPEN_BYTES], const sbb_open *o);
int sbb_open_decode(sbb_open *o, const uint8_t *in, size_t len);

#define SBB_CHECKPOINT_BYTES 96
#define SBB_CHECKPOINT_F_FINAL 1
typedef struct sbb_checkpoint {
	uint64_t segment, offset;
	uint8_t digest[SBX_DIGEST_BYTES];
	uint64_t entry;
	uint64_t dropped_frames, dropped_bytes, garbage_bytes, rejected_frames;
	uint32_t flags;
} sbb_checkpoint;
void sbb_checkpoint_encode(uint8_t out[SBB_CHECKPOINT_BYTES], const sbb_checkpoint *c);
int sbb_checkpoint_decode(sbb_checkpoint *c, const uint8_t *in, size_t len);

#define SBB_LOSS_BYTES 72
#define SBB_LOSS_QUOTA 1
#define SBB_LOSS_GARBAGE 2
#define SBB_LOSS_REJECTED 3
#define SBB_LOSS_LINE_GAP 4
#define SBB_LOSS_WRITE_ERROR 5
#define SBB_LOSS_F_STREAM 1 /* stream, first and last seq are meaningful */
/* Garbage or refused frames that came after the server's stream began on
 * the line: bytes someone other than the agent wrote (or tore). */
#define SBB_LOSS_F_FOREIGN 2
typedef struct sbb_loss {
	uint32_t reason, flags;
	uint8_t stream[16];
	uint64_t first_seq, last_seq;
	uint64_t frames, bytes;
	uint64_t first_usec, last_usec;
} sbb_loss;
void sbb_loss_encode(uint8_t out[SBB_LOSS_BYTES], const sbb_loss *l);
int sbb_loss_decode(sbb_loss *l, const uint8_t *in, size_t len);
const char *sbb_loss_reason_name(uint32_t reason);

#define SBB_EOF_ENTRY_BYTES 32
#define SBB_EOF_F_ENDED 1
#define SBB_EOF_MAX 4096

#define SBB_RETENTION_BYTES 64
#define SBB_RETENTION_AGE 1
#define SBB_RETENTION_SIZE 2
#define SBB_RETENTION_QUOTA 3 /* drop-oldest: room for new data within the quota */
typedef struct sbb_retention {
	uint64_t first, last;
	uint32_t reason;
	uint64_t bytes;
	uint8_t last_digest[SBX_DIGEST_BYTES];
} sbb_retention;
void sbb_retention_encode(uint8_t out[SBB_RETENTION_BYTES], const sbb_retention *r);
int sbb_retention_decode(sbb_retention *r, const uint8_t *in, size_t len);

/* LINE: the first stream on the line in a session is the server's (the
 * agent's, opened before any tenant program runs); any later one is not. */
#define SBB_LINE_BYTES 48
#define SBB_LINE_SERVER 1  /* the server's stream: the first on the line */
#define SBB_LINE_FOREIGN 2 /* another stream's START on the same line */
typedef struct sbb_line {
	uint32_t role;
	uint8_t stream[16];
	uint64_t received_usec; /* the host's CLOCK_REALTIME when its START arrived */
	uint64_t line_bytes;    /* bytes the line had carried before it */
} sbb_line;
void sbb_line_encode(uint8_t out[SBB_LINE_BYTES], const sbb_line *l);
int sbb_line_decode(sbb_line *l, const uint8_t *in, size_t len);

/* RECEIPT: the line's frames after it (until the next) were received at
 * this host time or within the next millisecond. */
#define SBB_RECEIPT_BYTES 16
#define SBB_RECEIPT_USEC 1000 /* a new receipt when the clock moved this far */
int sbb_receipt_decode(uint64_t *ret_usec, const uint8_t *in, size_t len);
void sbb_receipt_encode(uint8_t out[SBB_RECEIPT_BYTES], uint64_t usec);

/* ---- the scanner: reads a store in order and checks its structure ---- */

typedef struct sbb_scan sbb_scan;

/* What the scanner knows about a stream. */
typedef struct sbb_stream sbb_stream;

/* How a stream ended, as far as the store shows. */
enum {
	SBB_END_OPEN = 0,    /* no end yet; the store is live */
	SBB_END_ENDED,       /* END frame */
	SBB_END_EOF,         /* the host recorded that the line closed */
	SBB_END_CRASH,       /* the store's writer crashed */
	SBB_END_TRUNCATED,   /* the store was closed but the stream has no end */
	SBB_END_STALE,       /* live, but silent beyond its heartbeats */
};

typedef struct sbb_item {
	sbx_header h;
	const uint8_t *frame; /* header and payload; valid until the next call */
	size_t frame_len;
	sbb_pos pos;
	bool crc_ok;
	bool duplicate; /* a repeated sequence number: do not feed it to a decryptor */
	bool after_gap; /* frames of the stream are missing since its epoch began */
	bool adopted;   /* the stream is known from a START copy only (retention) */
	bool foreign;   /* a stream of the line that is not the server's */
	uint64_t received_usec; /* the host's receipt time (line frames of new stores), or 0 */
} sbb_item;

#define SBB_SCAN_FOLLOW 1
#define SBB_SCAN_THREAD 2 /* hash the chain on a helper thread */

int sbb_scan_open(sbb_scan **ret, const char *dir, unsigned flags, soda_blackbox_report *report,
		  soda_error **error);
/* Adds an anchor "SEGMENT:OFFSET:DIGEST" to check. -EINVAL if malformed. */
int sbb_scan_add_anchor(sbb_scan *s, const char *anchor, soda_error **error);
/* 1 and *item: a frame; 0: the end (final checks done); -EAGAIN: follow
 * mode, nothing new; <0: cannot read the store. */
int sbb_scan_next(sbb_scan *s, sbb_item *item, soda_error **error);
void sbb_scan_free(sbb_scan *s);
/* End classification of a stream after sbb_scan_next() returned 0. */
int sbb_scan_stream_end(const sbb_scan *s, const uint8_t stream[16]);
bool sbb_scan_is_live(const sbb_scan *s);

/* reader.c */
bool sbb_reader_follows(const soda_blackbox_reader *rd);
/* Frames decrypted in runs on two threads (SODA_BLACKBOX_READ_PARALLEL). */
uint64_t sbb_reader_batched(const soda_blackbox_reader *rd);
/* Detaches the reader's report (for tests); the reader must not be used after. */
soda_blackbox_report *sbb_reader_take_report(soda_blackbox_reader *rd);
/* export.c: a JSON string of any bytes (invalid UTF-8 becomes U+FFFD) */
void sbb_json_string(su_buf *b, const uint8_t *s, size_t len);

/* keys.c: raw parts for the reader and the store */
const uint8_t *sbb_key_box_secret(const soda_blackbox_key *key);
const uint8_t *sbb_key_box_public(const soda_blackbox_key *key);

#endif
