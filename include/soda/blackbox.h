/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: the blackbox — encrypted, tamper-evident log streams per tenant.
 *
 * A tenant's records (console input and output, syslog, kernel log, exec and
 * audit events, IDS alerts, lifecycle...) are sealed where they are born
 * with a key the host never holds, pushed at once to an append-only store on
 * the host, and read only with the tenant's secret key. The host (landlord)
 * can prove, without any key, that a store is intact and complete.
 *
 * Who does what:
 *  - keys: the tenant generates a key pair (soda_blackbox_key_generate) and
 *    gives the host only the public key file;
 *  - writers (producers) seal records into frames: in the guest, soda-agent
 *    does it (libsoda/blackbox/writer.h, libc + libsodium only); in a program,
 *    soda_blackbox_writer_*;
 *  - the host store (soda-monitor) takes the raw bytes of the guest's
 *    write-only serial line (soda_blackbox_store_feed), keeps frames in
 *    hash-chained segment files, and seals its own events to the tenant's
 *    public key (soda_blackbox_store_host_event);
 *  - anyone verifies a store without a key (soda_blackbox_verify);
 *  - the tenant reads (soda_blackbox_reader_*) and exports (JSON lines,
 *    asciicast v2) with the secret key.
 * The format is specified in docs/blackbox-format.md.
 *
 * Findings: the verifier and the reader report every problem as a finding
 * with a kind, a severity and its position: segment number, byte offset in
 * that segment file, entry number in the store, stream and sequence number.
 *
 * Thread model: as everywhere in libsoda, one object is used by one thread
 * at a time; nothing here starts threads. The store is driven from the
 * caller's event loop: soda_blackbox_store_get_deadline() and
 * soda_blackbox_store_process().
 */
#ifndef SODA_BLACKBOX_H
#define SODA_BLACKBOX_H

#include <soda/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- record types (docs/blackbox-format.md, "Records") ---- */

#define SODA_BLACKBOX_CONSOLE_OUT 1  /* bytes the console printed; aux = session */
#define SODA_BLACKBOX_CONSOLE_IN 2   /* bytes typed on the console; aux = session */
#define SODA_BLACKBOX_SYSLOG 3       /* aux = syslog priority (facility * 8 + severity) */
#define SODA_BLACKBOX_KERNEL 4       /* kernel log line; aux = level */
#define SODA_BLACKBOX_EXEC 5         /* a program started; aux = pid */
#define SODA_BLACKBOX_AUDIT 6        /* audit event */
#define SODA_BLACKBOX_IDS_ALERT 7    /* intrusion detection alert; aux = rule id */
#define SODA_BLACKBOX_LIFECYCLE 8    /* server started, stopped, frozen...; usually from the host */
#define SODA_BLACKBOX_SNAPSHOT 9     /* a disk or memory snapshot was taken */
#define SODA_BLACKBOX_HEARTBEAT 10   /* written by writers when idle */
#define SODA_BLACKBOX_LOSS 11        /* records were lost; written by writers and readers */
#define SODA_BLACKBOX_END 12         /* the stream's last record */
#define SODA_BLACKBOX_CONSOLE_SIZE 13 /* console size: body = le16 columns, le16 rows; aux = session */
#define SODA_BLACKBOX_TEXT 14        /* free text */
#define SODA_BLACKBOX_TYPE_MAX 14

/** Returns: the type's name ("console-out", "syslog"...), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_blackbox_type_name(uint32_t type);
/** Returns: the type with that name, or 0. @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_type_from_name(const char *name);

/* ---- keys ---- */

#define SODA_BLACKBOX_KEY_TENANT 1  /* X25519 (sealing) + Ed25519 (signatures) */
#define SODA_BLACKBOX_KEY_FACTORY 2 /* Ed25519: the trusted factory signs images */

/* soda_blackbox_key_save_*() flags */
#define SODA_BLACKBOX_KEY_NO_CLOBBER (1u << 0) /* fail with -EEXIST if the file exists */

#define SODA_BLACKBOX_PUBLIC_KEY_BYTES 32
#define SODA_BLACKBOX_SIGNATURE_BYTES 64

/**
 * soda_blackbox_key:
 * A tenant or factory key: public only, or public and secret. Secrets are
 * kept in locked memory and wiped when the key is freed.
 * @since 0.1
 */
typedef struct soda_blackbox_key soda_blackbox_key;

/** @type: SODA_BLACKBOX_KEY_TENANT or _FACTORY. @flags: 0. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_generate(soda_blackbox_key **ret, uint32_t type,
					   unsigned int flags, soda_error **error);
/**
 * soda_blackbox_key_load:
 * Reads a key file (docs/blackbox-format.md, "Key files"), public or secret.
 * A secret key file must be a regular file that neither group nor others may
 * read or write.
 * Returns: 0; -ENOENT; -EACCES for a secret key file with unsafe
 * permissions (the message says which and how to fix it); -EBADMSG for a file
 * that is not a valid key file (message with line and column).
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_key_load(soda_blackbox_key **ret, const char *path,
				       unsigned int flags, soda_error **error);
/** Parses a key file's text; @source names it in errors (may be NULL). No
 * permission check. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_parse(soda_blackbox_key **ret, const char *text, size_t len,
					const char *source, unsigned int flags, soda_error **error);
/** A key from raw public parts: @box_public (32 bytes, tenant keys) and
 * @sign_public (32 bytes; may be NULL for a tenant key that only seals).
 * @since 0.1 */
SODA_EXPORT int soda_blackbox_key_from_public(soda_blackbox_key **ret, uint32_t type,
					      const uint8_t *box_public, const uint8_t *sign_public,
					      unsigned int flags, soda_error **error);
/** Writes the secret key file (mode 0600, atomically: a temporary file,
 * fsync, rename). Returns -EINVAL for a public-only key. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_save_secret(const soda_blackbox_key *key, const char *path,
					      unsigned int flags, soda_error **error);
/** Writes the public key file (mode 0644, atomically). @since 0.1 */
SODA_EXPORT int soda_blackbox_key_save_public(const soda_blackbox_key *key, const char *path,
					      unsigned int flags, soda_error **error);
/** @ret: the public key file's text (soda_free()). @since 0.1 */
SODA_EXPORT int soda_blackbox_key_format_public(char **ret, const soda_blackbox_key *key,
						unsigned int flags, soda_error **error);
/** @ret: a public-only copy. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_get_public(soda_blackbox_key **ret, const soda_blackbox_key *key,
					     soda_error **error);
/** Returns: SODA_BLACKBOX_KEY_TENANT or _FACTORY. @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_key_get_type(const soda_blackbox_key *key);
/** Returns: 1 if the key holds its secret part, else 0. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_has_secret(const soda_blackbox_key *key);
/** Returns: the key's id, 16 hex digits (borrowed). Streams name the id of
 * the key they are sealed to. @since 0.1 */
SODA_EXPORT const char *soda_blackbox_key_get_id(const soda_blackbox_key *key);
/** Copies the 32-byte X25519 public key (tenant keys) to @out. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_get_box_public(const soda_blackbox_key *key, uint8_t *out,
						 size_t out_len);
/** Signs @data with the key's Ed25519 secret: 64 bytes to @sig. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_sign(uint8_t *sig, size_t sig_len, const soda_blackbox_key *key,
				       const void *data, size_t len, unsigned int flags,
				       soda_error **error);
/** Returns: 0 if @sig is the key's signature of @data, -EBADMSG if not. @since 0.1 */
SODA_EXPORT int soda_blackbox_key_verify(const soda_blackbox_key *key, const void *data,
					 size_t len, const uint8_t *sig, size_t sig_len,
					 unsigned int flags, soda_error **error);
/** Wipes and frees. Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_blackbox_key_free(soda_blackbox_key *key);

/* ---- writers ---- */

typedef struct soda_blackbox_writer soda_blackbox_writer;

/** Receives one whole frame; returns 0 when all of it was written, a
 * negative errno otherwise. @since 0.1 */
typedef int (*soda_blackbox_output_fn)(const void *frame, size_t len, void *userdata);

#define SODA_BLACKBOX_WRITER_OPTIONS_VERSION 1
typedef struct soda_blackbox_writer_options {
	uint32_t version;
	uint32_t heartbeat_ms; /* idle heartbeat period; 0: 5000; UINT32_MAX: none */
	uint32_t rekey_ms;     /* new epoch (forward secrecy) at least this often; 0: 30000 */
	uint32_t reserved;
	uint64_t rekey_bytes;  /* ... or after this much plaintext; 0: 4 MiB */
	const char *label;     /* who writes, e.g. the server's name; at most 32 bytes */
} soda_blackbox_writer_options;
#define SODA_BLACKBOX_WRITER_OPTIONS_INIT { SODA_BLACKBOX_WRITER_OPTIONS_VERSION, 0, 0, 0, 0, NULL }
/** @since 0.1 */
SODA_EXPORT int soda_blackbox_writer_options_init(soda_blackbox_writer_options *opts,
						  uint32_t version);

/**
 * soda_blackbox_writer_new:
 * A writer for a new stream sealed to @tenant_key (its public part is used;
 * a public-only key is enough). Frames go to @out; @destroy (may be NULL) is
 * called with @userdata when the writer is freed. @flags: 0.
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_writer_new(soda_blackbox_writer **ret,
					 const soda_blackbox_key *tenant_key,
					 const soda_blackbox_writer_options *opts,
					 soda_blackbox_output_fn out, void *userdata,
					 soda_destroy_fn destroy, unsigned int flags,
					 soda_error **error);
/**
 * soda_blackbox_writer_append:
 * Seals a record. @realtime_usec and @mono_usec are the record's times
 * (CLOCK_REALTIME and CLOCK_MONOTONIC microseconds); 0 takes the current
 * time. Bodies longer than 65520 bytes become several records.
 * Returns: 0; -EINVAL for a type writers may not append (heartbeat, loss,
 * end); -EPIPE after the end; the output's error when a frame was lost (the
 * writer stays usable and reports the loss in the stream).
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_writer_append(soda_blackbox_writer *w, uint32_t type, uint32_t aux,
					    const void *data, size_t len, uint64_t realtime_usec,
					    uint64_t mono_usec, unsigned int flags,
					    soda_error **error);
/** Sends a heartbeat when idle; *ret_next_usec (optional): when to call
 * again, CLOCK_MONOTONIC microseconds. @since 0.1 */
SODA_EXPORT int soda_blackbox_writer_tick(soda_blackbox_writer *w, uint64_t *ret_next_usec,
					  unsigned int flags, soda_error **error);
/** Ends the stream (final tag). @reason: 0 for a normal end. @since 0.1 */
SODA_EXPORT int soda_blackbox_writer_end(soda_blackbox_writer *w, uint32_t reason,
					 unsigned int flags, soda_error **error);
/** Returns: the stream id, 32 hex digits (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_blackbox_writer_get_stream_id(const soda_blackbox_writer *w);
/** Wipes the keys and frees (without ending the stream). Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_blackbox_writer_free(soda_blackbox_writer *w);

/* ---- the host store ---- */

typedef struct soda_blackbox_store soda_blackbox_store;

/* Durability: what a commit does. A commit writes the frames gathered since
 * the last one (group commit), a checkpoint when due, and the head file. */
#define SODA_BLACKBOX_DURABILITY_GROUP 1 /* commit every group_ms / group_bytes, with fdatasync */
#define SODA_BLACKBOX_DURABILITY_FRAME 2 /* commit and fdatasync after every frame */
#define SODA_BLACKBOX_DURABILITY_WRITE 3 /* as GROUP, without fdatasync: survives a crash of
					    the process, not of the host */

#define SODA_BLACKBOX_STORE_OPTIONS_VERSION 1
typedef struct soda_blackbox_store_options {
	uint32_t version;
	uint32_t durability;        /* 0: GROUP */
	uint32_t group_ms;          /* longest wait of a frame before its commit; 0: 20 */
	uint32_t checkpoint_ms;     /* at most one checkpoint this often; 0: 1000 */
	uint64_t group_bytes;       /* commit when this many bytes wait; 0: 1 MiB */
	uint64_t segment_bytes;     /* start a new segment file beyond this; 0: 64 MiB */
	uint64_t quota_bytes;       /* the store never grows beyond this; 0: 1 GiB */
	uint64_t retention_bytes;   /* delete the oldest segments beyond this; 0: never.
				       A flooding guest can then push out old records. */
	uint64_t retention_seconds; /* delete segments older than this; 0: never */
	const char *label;          /* the server's name, in host streams; at most 32 bytes */
} soda_blackbox_store_options;
#define SODA_BLACKBOX_STORE_OPTIONS_INIT \
	{ SODA_BLACKBOX_STORE_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, NULL }
/** @since 0.1 */
SODA_EXPORT int soda_blackbox_store_options_init(soda_blackbox_store_options *opts,
						 uint32_t version);

/**
 * soda_blackbox_store_open:
 * Opens (creating it, mode 0700) the store in @dir for writing: one writer
 * per store, enforced by a lock file. Recovers after a crash: a partial
 * frame at the end of the last segment is cut off and the cut is recorded
 * in the store; data found damaged in the middle is never touched (a new
 * segment is started). @tenant_key: the tenant's PUBLIC key, to seal host
 * events; NULL if the store will get none. A key holding its secret part is
 * refused (-EINVAL): the tenant's secret key must never be on the host.
 * @flags: 0 or these:
 * SODA_BLACKBOX_STORE_CHAIN_V1: new segments chain their bytes with
 * BLAKE2b-256 (segment version 1, which readers of libsoda 0.1
 * understand) instead of BLAKE3-256 (version 2). A segment already begun
 * goes on in its own hash; readers take each segment's hash from its
 * header.
 * SODA_BLACKBOX_STORE_PARALLEL: the chain is hashed on a helper thread
 * (started here, ended by the close; it takes no signals) while the
 * caller's thread parses and writes. For producers faster than one core;
 * soda-monitor does not ask for it. Without a thread to spare, the store
 * works as without the flag. The store stays single-caller: the thread
 * only ever touches the chain.
 * Returns: 0; -EBUSY if another process has the store open; -EBADMSG if
 * @dir holds a store that cannot be recognised; -errno of the file system.
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_store_open(soda_blackbox_store **ret, const char *dir,
					 const soda_blackbox_key *tenant_key,
					 const soda_blackbox_store_options *opts,
					 unsigned int flags, soda_error **error);

/* soda_blackbox_store_open() flags */
#define SODA_BLACKBOX_STORE_CHAIN_V1 (1u << 0) /* new segments in BLAKE2b (version 1) */
#define SODA_BLACKBOX_STORE_PARALLEL (1u << 1) /* the chain on a helper thread */
/* Since 0.2: the retention policy drop-oldest. At the quota, whole oldest
 * segments are deleted (never the one being written) to make room for new
 * data, down to 3/4 of the quota, and a RETENTION notice in the chain
 * commits to the last deleted segment's final digest, so that the verifier
 * still proves everything kept. Segments are then at most 1/8 of the
 * quota. Without it (the policy stop), the store keeps what it has and
 * refuses new data at the quota, with loss notices. */
#define SODA_BLACKBOX_STORE_DROP_OLDEST (1u << 2)

/* soda_blackbox_store_feed() flags */
#define SODA_BLACKBOX_FEED_EOF (1u << 0) /* the line closed after these bytes */

/**
 * soda_blackbox_store_feed:
 * Takes raw bytes read from the guest's line, in pieces of any size: frames
 * may be cut anywhere and mixed with garbage. Whole valid frames are
 * appended; garbage, frames that break their stream's rules and frames
 * refused by the quota are dropped, counted and recorded as loss notices,
 * never silently. With SODA_BLACKBOX_FEED_EOF, a partial frame at the end
 * counts as garbage and the streams of the line are recorded as closed.
 * Returns: 0 (bytes dropped by policy are not an error); -EIO and friends
 * when the store cannot write (the frames are counted as lost).
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_store_feed(soda_blackbox_store *store, const void *data, size_t len,
					 unsigned int flags, soda_error **error);
/**
 * soda_blackbox_store_host_event:
 * Seals a record from the host (lifecycle, IDS alert, snapshot...) to the
 * tenant's public key, in the store's own host stream. The stream's key is
 * wiped from memory when the store closes (and is ratcheted on).
 * Returns: 0; -ENOKEY if the store was opened without a tenant key;
 * -EINVAL for a type writers may not append.
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_store_host_event(soda_blackbox_store *store, uint32_t type,
					       uint32_t aux, const void *data, size_t len,
					       unsigned int flags, soda_error **error);
/** *ret_usec: the CLOCK_MONOTONIC time (microseconds) by which
 * soda_blackbox_store_process() must run, or UINT64_MAX. @since 0.1 */
SODA_EXPORT int soda_blackbox_store_get_deadline(const soda_blackbox_store *store,
						 uint64_t *ret_usec);
/** Does what is due: commits, checkpoints, retention. @since 0.1 */
SODA_EXPORT int soda_blackbox_store_process(soda_blackbox_store *store, unsigned int flags,
					    soda_error **error);
/** Commits now (with fdatasync unless the durability is WRITE). @since 0.1 */
SODA_EXPORT int soda_blackbox_store_flush(soda_blackbox_store *store, unsigned int flags,
					  soda_error **error);
/**
 * soda_blackbox_store_close:
 * Ends the host stream, records the line's streams as closed, writes loss
 * notices still owed and a final checkpoint, syncs, wipes keys and frees
 * (always, even when it returns an error). Accepts NULL.
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_store_close(soda_blackbox_store *store, unsigned int flags,
					  soda_error **error);

/* Counters of soda_blackbox_store_get_counter() */
#define SODA_BLACKBOX_STAT_FRAMES 1         /* frames stored (all kinds) */
#define SODA_BLACKBOX_STAT_BYTES 2          /* bytes stored */
#define SODA_BLACKBOX_STAT_DROPPED_FRAMES 3 /* refused by the quota */
#define SODA_BLACKBOX_STAT_DROPPED_BYTES 4
#define SODA_BLACKBOX_STAT_GARBAGE_BYTES 5  /* bytes on the line that were no frame */
#define SODA_BLACKBOX_STAT_REJECTED_FRAMES 6 /* valid frames that broke their stream's rules */
#define SODA_BLACKBOX_STAT_COMMITS 7
#define SODA_BLACKBOX_STAT_SEGMENTS 8       /* segment files now in the store */
#define SODA_BLACKBOX_STAT_STORE_BYTES 9    /* bytes now in the store's files */
/* Streams the line carried after the server's own (the first on the line):
 * someone else in the guest wrote to the line. @since 0.2 */
#define SODA_BLACKBOX_STAT_FOREIGN_STREAMS 10
/* The quota in effect, bytes (for usage warnings). @since 0.2 */
#define SODA_BLACKBOX_STAT_QUOTA_BYTES 11
/** Returns: 0, or -EINVAL for an unknown counter. @since 0.1 */
SODA_EXPORT int soda_blackbox_store_get_counter(const soda_blackbox_store *store, uint32_t counter,
						uint64_t *ret);
/** @ret: the store's head as an anchor "SEGMENT:OFFSET:DIGEST" (soda_free()):
 * published elsewhere, it lets a later verification prove that nothing up
 * to that point was rewritten. Covers what is committed. @since 0.1 */
SODA_EXPORT int soda_blackbox_store_get_anchor(const soda_blackbox_store *store, char **ret,
					       soda_error **error);

/**
 * soda_blackbox_store_read_anchor:
 * @ret: the anchor "SEGMENT:OFFSET:DIGEST" of what the store's head file
 * says is committed (soda_free()), read without the lock, while a writer
 * may have the store open. Collected at intervals and kept off the host
 * (`soda-blackbox follow --anchors`), such anchors let soda_blackbox_verify()
 * prove that nothing up to each was cut off, replaced by an older copy or
 * rewritten. @flags: 0.
 * Returns: 0; -ENOENT (no store, or no head yet); -EBADMSG (a damaged head).
 * @since 0.2
 */
SODA_EXPORT int soda_blackbox_store_read_anchor(char **ret, const char *dir, unsigned int flags,
						soda_error **error);

/* ---- findings and reports ---- */

#define SODA_BLACKBOX_SEVERITY_INFO 0
#define SODA_BLACKBOX_SEVERITY_WARNING 1 /* not proven wrong, not proven complete */
#define SODA_BLACKBOX_SEVERITY_LOSS 2    /* data missing, and the host said so */
#define SODA_BLACKBOX_SEVERITY_ERROR 3   /* tampering or damage */

/* How it was found: from the store's structure and chain (anyone can check)
 * or by the tenant's key (cannot be forged by the host). */
#define SODA_BLACKBOX_BASIS_STRUCTURE 1
#define SODA_BLACKBOX_BASIS_CRYPTO 2

#define SODA_BLACKBOX_F_BAD_FILE 1        /* a file of the store is unreadable or not ours */
#define SODA_BLACKBOX_F_CORRUPT_FRAME 2   /* a frame fails its checksum or header checks */
#define SODA_BLACKBOX_F_GARBAGE 3         /* bytes that are no frame inside a segment */
#define SODA_BLACKBOX_F_FOREIGN_SEGMENT 4 /* a segment of another store */
#define SODA_BLACKBOX_F_SEGMENT_MISSING 5
#define SODA_BLACKBOX_F_CHAIN_BREAK 6     /* the hash chain does not continue */
#define SODA_BLACKBOX_F_UNKNOWN_STREAM 7  /* frames of a stream that never started here */
#define SODA_BLACKBOX_F_SEQ_GAP 8         /* frames missing */
#define SODA_BLACKBOX_F_SEQ_REORDER 9     /* frames out of order */
#define SODA_BLACKBOX_F_SEQ_DUPLICATE 10  /* a frame twice */
#define SODA_BLACKBOX_F_PROTOCOL 11       /* a frame its stream's state does not allow */
#define SODA_BLACKBOX_F_TRUNCATED 12      /* data cut off at the end */
#define SODA_BLACKBOX_F_TORN_TAIL 13      /* a partial frame at the end */
#define SODA_BLACKBOX_F_DECLARED_LOSS 14  /* loss the store recorded (quota, garbage...) */
#define SODA_BLACKBOX_F_NO_END 15         /* a stream stopped without its end record */
#define SODA_BLACKBOX_F_STALE 16          /* a live stream silent beyond its heartbeats */
#define SODA_BLACKBOX_F_ANCHOR 17         /* an anchor given to the verifier does not hold */
#define SODA_BLACKBOX_F_DECRYPT_FAILED 18 /* authentication failed */
#define SODA_BLACKBOX_F_BAD_RECORD 19     /* authentic but malformed */
#define SODA_BLACKBOX_F_WRONG_KEY 20      /* sealed to another key */
/* A stream that is not this server's: an authentic stream of another
 * server (reader), or, since 0.2, a second stream on the guest's line after
 * the server's own, or bytes on the line that were not the server's stream
 * (someone else in the guest wrote to the line; verifier and reader). */
#define SODA_BLACKBOX_F_FOREIGN_STREAM 21
#define SODA_BLACKBOX_F_UNREADABLE 22     /* frames that cannot be decrypted after a loss */
#define SODA_BLACKBOX_F_RECOVERED 23      /* the store was recovered after a crash */
/* A record's claimed time is far from the host's time of receipt, or goes
 * backwards in its stream (the guest's clock was set); severity info: the
 * store is whole, the flagged records' times are in doubt. @since 0.2 */
#define SODA_BLACKBOX_F_CLOCK 24
#define SODA_BLACKBOX_F_MAX 24

/** Returns: the finding kind's name ("seq-gap"...), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_blackbox_finding_kind_name(uint32_t kind);

typedef struct soda_blackbox_finding soda_blackbox_finding;
/** @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_finding_get_kind(const soda_blackbox_finding *f);
/** @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_finding_get_severity(const soda_blackbox_finding *f);
/** @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_finding_get_basis(const soda_blackbox_finding *f);
/** Returns: a sentence that names the position (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_blackbox_finding_get_message(const soda_blackbox_finding *f);
/** Returns: the segment number (1-based), 0 for the store as a whole. @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_finding_get_segment(const soda_blackbox_finding *f);
/** Returns: the byte offset in the segment file. @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_finding_get_offset(const soda_blackbox_finding *f);
/** Returns: the entry number in the store (0-based), UINT64_MAX if unknown. @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_finding_get_entry(const soda_blackbox_finding *f);
/** Returns: the stream id (32 hex digits, borrowed), or NULL. @since 0.1 */
SODA_EXPORT const char *soda_blackbox_finding_get_stream(const soda_blackbox_finding *f);
/** Returns: the sequence number in the stream, UINT64_MAX if none. @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_finding_get_seq(const soda_blackbox_finding *f);
/** @ret: the finding as one JSON object (soda_free()). @since 0.1 */
SODA_EXPORT int soda_blackbox_finding_to_json(char **ret, const soda_blackbox_finding *f,
					      unsigned int flags, soda_error **error);

#define SODA_BLACKBOX_INTACT 0     /* nothing missing, nothing wrong */
#define SODA_BLACKBOX_INCOMPLETE 1 /* losses the store declared, or warnings */
#define SODA_BLACKBOX_DAMAGED 2    /* at least one error */

typedef struct soda_blackbox_report soda_blackbox_report;
/** Returns: SODA_BLACKBOX_INTACT, _INCOMPLETE or _DAMAGED. @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_report_get_status(const soda_blackbox_report *r);
/** Findings, in store order (by segment, then offset). @since 0.1 */
SODA_EXPORT size_t soda_blackbox_report_get_finding_count(const soda_blackbox_report *r);
/** Returns: finding @i (borrowed, lives as long as the report), or NULL. @since 0.1 */
SODA_EXPORT const soda_blackbox_finding *soda_blackbox_report_get_finding(
	const soda_blackbox_report *r, size_t i);
/** Returns: the first finding of at least @min_severity, or NULL. @since 0.1 */
SODA_EXPORT const soda_blackbox_finding *soda_blackbox_report_get_first(
	const soda_blackbox_report *r, uint32_t min_severity);

#define SODA_BLACKBOX_REPORT_FRAMES 1   /* frames checked */
#define SODA_BLACKBOX_REPORT_BYTES 2    /* bytes of segment files read */
#define SODA_BLACKBOX_REPORT_STREAMS 3
#define SODA_BLACKBOX_REPORT_SEGMENTS 4
#define SODA_BLACKBOX_REPORT_RECORDS 5  /* records decrypted (readers) */
#define SODA_BLACKBOX_REPORT_DROPPED 6  /* findings not kept (over the limit) */
/** @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_report_get_counter(const soda_blackbox_report *r,
						      uint32_t counter);
/** Returns: an anchor "SEGMENT:OFFSET:DIGEST" of all the frames checked
 * (borrowed), for a later soda_blackbox_verify() to prove that nothing up to
 * there was rewritten; NULL for an empty store. @since 0.1 */
SODA_EXPORT const char *soda_blackbox_report_get_anchor(const soda_blackbox_report *r);
/** Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_blackbox_report_free(soda_blackbox_report *r);

/* ---- keyless verification ---- */

#define SODA_BLACKBOX_VERIFY_OPTIONS_VERSION 1
typedef struct soda_blackbox_verify_options {
	uint32_t version;
	uint32_t reserved;
	/* Anchors from soda_blackbox_store_get_anchor() taken earlier: the
	 * store must still contain exactly what each one covers. */
	const char *const *anchors;
	size_t n_anchors;
} soda_blackbox_verify_options;
#define SODA_BLACKBOX_VERIFY_OPTIONS_INIT { SODA_BLACKBOX_VERIFY_OPTIONS_VERSION, 0, NULL, 0 }
/** @since 0.1 */
SODA_EXPORT int soda_blackbox_verify_options_init(soda_blackbox_verify_options *opts,
						  uint32_t version);

/**
 * soda_blackbox_verify:
 * Checks a store without any key: every frame's checksum, the hash chain
 * through segments and checkpoints against the head, the store's identity
 * in every segment, each stream's sequence, epochs and end, and the
 * store's own notices (declared losses, closed lines, crashes).
 * @ret: the report (soda_blackbox_report_free()), also when the store is
 * damaged: what is wrong is in the report, not in the return value.
 * @flags: SODA_BLACKBOX_VERIFY_PARALLEL: hash the chain on a helper thread
 * (started and joined within the call) while the caller's thread checks
 * the frames; the report is the same.
 * Returns: 0; -ENOENT if @dir does not exist; -EINVAL for a bad anchor.
 * @since 0.1
 */
#define SODA_BLACKBOX_VERIFY_PARALLEL (1u << 0)
SODA_EXPORT int soda_blackbox_verify(soda_blackbox_report **ret, const char *dir,
				     const soda_blackbox_verify_options *opts, unsigned int flags,
				     soda_error **error);

/* ---- the tenant's reader ---- */

typedef struct soda_blackbox_reader soda_blackbox_reader;
typedef struct soda_blackbox_record soda_blackbox_record;

/* soda_blackbox_reader_open() flags */
#define SODA_BLACKBOX_READ_FOLLOW (1u << 0) /* at the end, wait for more (-EAGAIN) */
#define SODA_BLACKBOX_READ_STRICT (1u << 1) /* fail (-EBADMSG) at the first error finding */
/* Decrypt on two threads: a helper that lives as long as the reader (it
 * takes no signals) decrypts half of each run of frames of one stream and
 * epoch while the caller's thread decrypts the other half and checks;
 * records and report are the same as without the flag. It spins up to 2 ms
 * for the next run before it sleeps. The reader is still used by one
 * thread at a time. */
#define SODA_BLACKBOX_READ_PARALLEL (1u << 2)

#define SODA_BLACKBOX_READER_OPTIONS_VERSION 1
typedef struct soda_blackbox_reader_options {
	uint32_t version;
	uint32_t reserved;
	uint64_t types;       /* bit (1 << type) per record type wanted; 0: all */
	uint64_t since_usec;  /* records at or after this CLOCK_REALTIME time; 0: from the start */
	uint64_t until_usec;  /* records before this time; 0: no end */
	const char *stream;   /* only this stream (32 hex digits); NULL: all */
} soda_blackbox_reader_options;
#define SODA_BLACKBOX_READER_OPTIONS_INIT { SODA_BLACKBOX_READER_OPTIONS_VERSION, 0, 0, 0, 0, NULL }
/** @since 0.1 */
SODA_EXPORT int soda_blackbox_reader_options_init(soda_blackbox_reader_options *opts,
						  uint32_t version);

/**
 * soda_blackbox_reader_open:
 * Reads the store in @dir with the tenant's secret @key (copied). The
 * reader checks everything the verifier checks and, with the key, that
 * every frame is authentic, in order and complete: secretstream
 * authentication with the frame's header as additional data, the final tag
 * on every finished stream, sequence numbers.
 * Returns: 0; -ENOENT; -EINVAL if @key has no secret part.
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_reader_open(soda_blackbox_reader **ret, const char *dir,
					  const soda_blackbox_key *key,
					  const soda_blackbox_reader_options *opts,
					  unsigned int flags, soda_error **error);
/**
 * soda_blackbox_reader_next:
 * @ret: the next record (borrowed: valid until the next call or the close).
 * Records come in store order; within a stream, in sequence.
 * Returns: 1 with *ret set; 0 at the end of the store (*ret set to NULL,
 * the report is complete); -EAGAIN in follow mode when there is nothing new
 * yet (call again later); -EBADMSG in strict mode at an error finding.
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_reader_next(soda_blackbox_reader *reader,
					  const soda_blackbox_record **ret, unsigned int flags,
					  soda_error **error);
/** Returns: the findings so far (borrowed; final once next() returned 0). @since 0.1 */
SODA_EXPORT const soda_blackbox_report *soda_blackbox_reader_get_report(
	const soda_blackbox_reader *reader);
/** Wipes keys and frees. Accepts NULL. @since 0.1 */
SODA_EXPORT void soda_blackbox_reader_close(soda_blackbox_reader *reader);

/** @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_record_get_type(const soda_blackbox_record *rec);
/** Returns: console session, syslog priority... (see the types). @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_record_get_aux(const soda_blackbox_record *rec);
/** Returns: SODA_BLACKBOX_RECORD_F_* bits. @since 0.1 */
SODA_EXPORT uint32_t soda_blackbox_record_get_flags(const soda_blackbox_record *rec);
#define SODA_BLACKBOX_RECORD_F_CONTINUED 0x01 /* the body goes on in the stream's next record */
/* Since 0.2: */
/* The record is not the server's: its stream came on the guest's line
 * after the server's own (written by someone else in the guest). Its origin
 * is "foreign". */
#define SODA_BLACKBOX_RECORD_F_FOREIGN 0x100
/* Its claimed time is more than SODA_BLACKBOX_CLOCK_BEHIND_USEC before the
 * host's time of receipt, or more than SODA_BLACKBOX_CLOCK_AHEAD_USEC after. */
#define SODA_BLACKBOX_RECORD_F_TIME_FAR 0x200
/* Its claimed time is more than SODA_BLACKBOX_CLOCK_BACK_USEC before the
 * previous record's of its stream. */
#define SODA_BLACKBOX_RECORD_F_TIME_BACK 0x400
#define SODA_BLACKBOX_CLOCK_BEHIND_USEC 10000000ull
#define SODA_BLACKBOX_CLOCK_AHEAD_USEC 2000000ull
#define SODA_BLACKBOX_CLOCK_BACK_USEC 1000000ull
/** Returns: the host's CLOCK_REALTIME (microseconds) when the record's frame
 * arrived on the guest's line (to 1 ms, chained in the store), or 0 if
 * unknown (host records, stores written before 0.2). @since 0.2 */
SODA_EXPORT uint64_t soda_blackbox_record_get_received(const soda_blackbox_record *rec);
/** CLOCK_REALTIME microseconds (authenticated). @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_record_get_realtime(const soda_blackbox_record *rec);
/** CLOCK_MONOTONIC microseconds of the writer's machine. @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_record_get_monotonic(const soda_blackbox_record *rec);
/** Returns: the body (borrowed); *ret_len its length. @since 0.1 */
SODA_EXPORT const uint8_t *soda_blackbox_record_get_data(const soda_blackbox_record *rec,
							 size_t *ret_len);
/** Returns: the stream id, 32 hex digits (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_blackbox_record_get_stream(const soda_blackbox_record *rec);
/** Returns: "guest" or "host". @since 0.1 */
SODA_EXPORT const char *soda_blackbox_record_get_origin(const soda_blackbox_record *rec);
/** Returns: the stream's label (the server's name; borrowed, may be ""). @since 0.1 */
SODA_EXPORT const char *soda_blackbox_record_get_label(const soda_blackbox_record *rec);
/** @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_record_get_seq(const soda_blackbox_record *rec);
/** Position of the record's frame. @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_record_get_segment(const soda_blackbox_record *rec);
/** @since 0.1 */
SODA_EXPORT uint64_t soda_blackbox_record_get_offset(const soda_blackbox_record *rec);
/** @ret: the record as one JSON object (soda_free()); see
 * docs/blackbox-format.md, "JSON lines". @since 0.1 */
SODA_EXPORT int soda_blackbox_record_to_json(char **ret, const soda_blackbox_record *rec,
					     unsigned int flags, soda_error **error);

/* ---- export ---- */

#define SODA_BLACKBOX_EXPORT_JSONL 1     /* one JSON object per record, then the findings */
#define SODA_BLACKBOX_EXPORT_ASCIICAST 2 /* a console session as asciicast v2 */

#define SODA_BLACKBOX_EXPORT_OPTIONS_VERSION 1
typedef struct soda_blackbox_export_options {
	uint32_t version;
	uint32_t format;      /* SODA_BLACKBOX_EXPORT_*; 0: JSONL */
	uint32_t session;     /* asciicast: the console session (record aux) to export... */
	uint32_t has_session; /* ...if 1; 0: the first console session met */
	uint32_t with_input;  /* asciicast: 1 adds console input as "i" events */
	uint32_t reserved;
	const char *title;    /* asciicast: the header's title; NULL: none */
} soda_blackbox_export_options;
#define SODA_BLACKBOX_EXPORT_OPTIONS_INIT \
	{ SODA_BLACKBOX_EXPORT_OPTIONS_VERSION, 0, 0, 0, 0, 0, NULL }
/** @since 0.1 */
SODA_EXPORT int soda_blackbox_export_options_init(soda_blackbox_export_options *opts,
						  uint32_t version);

/**
 * soda_blackbox_export:
 * Reads @reader to its end (it must not follow) and writes the records to
 * @fd as JSON lines or as an asciicast v2 recording whose event times come
 * from the records' monotonic times. JSON lines end with one line per
 * finding ({"finding": ...}). @flags: 0.
 * Returns: 0; -EINVAL for bad options or a following reader; -EIO
 * if @fd cannot be written.
 * @since 0.1
 */
SODA_EXPORT int soda_blackbox_export(soda_blackbox_reader *reader, int fd,
				     const soda_blackbox_export_options *opts, unsigned int flags,
				     soda_error **error);

#ifdef __cplusplus
}
#endif

#endif
