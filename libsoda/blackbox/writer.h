/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The blackbox writer: turns records into encrypted frames for one stream.
 *
 * It runs where the records are born (soda-agent, PID 1 in the guest) and
 * needs only libc and libsodium: compile writer.c, aead.c and frame.c with
 * this directory on the include path and link libsodium (libsodium.a for a
 * static binary). Records of 1 KiB or more are sealed where they lie, with
 * ChaCha20 on AVX-512 where the CPU has it: libsodium's bytes (aead.h). The library's public wrapper is soda_blackbox_writer_*
 * in <soda/blackbox.h>; the host store uses this writer for host events.
 *
 * What it guarantees: each stream gets a fresh random key K0, sealed to the
 * tenant's public key (crypto_box_seal) in the START frame and then wiped:
 * whoever holds the writer cannot read back what it wrote. Records are
 * secretstream messages; every `rekey_ms` or `rekey_bytes` a new epoch
 * begins with a key ratcheted one-way from the previous one, which is wiped
 * (forward secrecy: an intruder who takes the guest later cannot read
 * earlier epochs). Every frame carries a sequence number authenticated as
 * additional data; an idle stream sends a heartbeat every `heartbeat_ms`;
 * sbw_end() closes the stream with secretstream's final tag.
 *
 * Frames go out whole through the output callback (the agent writes them to
 * /dev/ttyS1). If the callback fails, the record is counted as lost, the
 * next record opens a new epoch (the lost message broke the secretstream
 * chain for the reader) and a LOSS record says how much was lost.
 *
 * Not thread-safe; no hidden threads, no signals, no printing.
 */
#ifndef SODA_BLACKBOX_WRITER_H
#define SODA_BLACKBOX_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

typedef struct sbw_writer sbw_writer;

/* Writes one whole frame. Returns 0 when all @len bytes were written, a
 * negative errno otherwise (the frame then counts as lost). */
typedef int (*sbw_output_fn)(const void *frame, size_t len, void *userdata);
/* Optional: a place of at least @len bytes where the writer builds the next
 * frame, so that an output that gathers frames needs no copy; the frame is
 * then handed to the output callback at that place (or never, if sealing
 * fails). NULL lets the writer build it in its own buffer. */
typedef void *(*sbw_reserve_fn)(size_t len, void *userdata);
/* Returns microseconds of CLOCK_REALTIME (@realtime != 0) or
 * CLOCK_MONOTONIC. For tests and test vectors; NULL uses clock_gettime. */
typedef uint64_t (*sbw_clock_fn)(int realtime, void *userdata);

#define SBW_HEARTBEAT_MS_DEFAULT 5000
#define SBW_REKEY_MS_DEFAULT 30000
#define SBW_REKEY_BYTES_DEFAULT (4ull << 20)
#define SBW_DISABLED UINT32_MAX /* heartbeat_ms: no heartbeats */

typedef struct sbw_options {
	uint8_t origin;        /* SBX_ORIGIN_GUEST (0 means that) or SBX_ORIGIN_HOST */
	uint32_t heartbeat_ms; /* 0: default; SBW_DISABLED: none */
	uint32_t rekey_ms;     /* 0: default */
	uint64_t rekey_bytes;  /* plaintext bytes per epoch; 0: default */
	const char *label;     /* who writes (the server's name); at most 32 bytes */
	sbw_clock_fn clock;
	void *clock_userdata;
	sbw_reserve_fn reserve; /* called with the output's userdata */
} sbw_options;

/* Creates a writer for a new stream sealed to @tenant_box_pk (the tenant's
 * X25519 public key). Nothing is written yet. Returns 0, -EINVAL (bad
 * options, label too long), -ENOMEM, or -EIO if libsodium cannot start. */
int sbw_new(sbw_writer **ret, const uint8_t tenant_box_pk[32], const sbw_options *opts,
	    sbw_output_fn out, void *userdata);

/* Emits START and the first EPOCH if not done yet (appends do it too). */
int sbw_start(sbw_writer *w);

/* Appends a record of @type (SBX_R_*, not HEARTBEAT or END) with the current
 * time. Data longer than SBX_RECORD_MAX_BODY is split into several records
 * flagged SBX_RECORD_F_CONTINUED but the last. Returns 0; -EINVAL for a bad
 * type; -EPIPE after sbw_end(); the output callback's error if a frame was
 * lost (the writer stays usable). */
int sbw_append(sbw_writer *w, unsigned type, uint32_t aux, const void *data, size_t len);
/* The same with the record's own times (0 takes the current time), e.g. the
 * moment console bytes were read rather than the moment they are sealed. */
int sbw_append_at(sbw_writer *w, unsigned type, uint32_t aux, const void *data, size_t len,
		  uint64_t realtime_usec, uint64_t mono_usec);
/* Lines of text that arrived together (/dev/blackbox), as one TEXT record
 * flagged SBX_RECORD_F_LINES, sealed once: @data is whole lines, each ended
 * by '\n', at most SBX_RECORD_MAX_BODY bytes in all. Readers hand them out
 * one record per line, without the newline. A single line is sealed as an
 * ordinary record (without its newline). The writer's counters (heartbeat,
 * end) count lines. Returns as sbw_append_at(); -EINVAL if @data is empty,
 * too long or does not end with a newline. */
int sbw_append_lines_at(sbw_writer *w, const void *data, size_t len, uint64_t realtime_usec,
			uint64_t mono_usec);
/* One record with the given SBX_RECORD_F_* @flags, sealed as it is: no split,
 * no check of the flags against the body (for the functions above, and for
 * tests that need records a correct writer never makes). -EINVAL if @len is
 * over SBX_RECORD_MAX_BODY. Times as sbw_append_at(). */
int sbw_append_record(sbw_writer *w, unsigned type, unsigned flags, uint32_t aux,
		      const void *data, size_t len, uint64_t realtime_usec, uint64_t mono_usec);

/* Sends a heartbeat if the stream has been silent for heartbeat_ms (and
 * starts the stream if needed). *ret_next_usec (optional) receives the
 * CLOCK_MONOTONIC time at which to call again. */
int sbw_tick(sbw_writer *w, uint64_t *ret_next_usec);

/* Begins a new epoch before the next record. */
void sbw_rekey(sbw_writer *w);

/* Frames the output callback accepted but could not deliver after all (an
 * output that gathers frames found out when it sent them): @frames frames of
 * @bytes bytes in all. The next record opens a new epoch and is preceded by
 * a LOSS record that tells them (as records and bytes: here frames and
 * frame bytes). */
void sbw_output_lost(sbw_writer *w, uint64_t frames, uint64_t bytes);

/* Loss the writer's user saw before anything reached the writer (a
 * producer it refused, a message the kernel cut short): a LOSS record now,
 * with @reason (docs/blackbox-format.md; 1 is the writer's own) and what
 * is known of the loss (0: unknown). Counts in the heartbeat's and END's
 * lost records. Returns as sbw_append_at(). */
int sbw_declare_loss(sbw_writer *w, uint64_t records, uint64_t bytes, uint32_t reason,
		     uint64_t realtime_usec, uint64_t mono_usec);

/* Ends the stream: an END record with secretstream's final tag. Later
 * appends fail with -EPIPE. */
int sbw_end(sbw_writer *w, uint32_t reason);

/* Wipes the keys and frees. Accepts NULL. Does not end the stream. */
void sbw_free(sbw_writer *w);

const uint8_t *sbw_stream_id(const sbw_writer *w);

typedef struct sbw_stats {
	uint64_t records;      /* records sealed and written */
	uint64_t bytes;        /* body bytes of those */
	uint64_t frames;       /* frames written */
	uint64_t frame_bytes;  /* their bytes */
	uint64_t lost_records; /* records whose frame the output refused */
	uint64_t lost_bytes;
	uint32_t epoch;
} sbw_stats;
void sbw_get_stats(const sbw_writer *w, sbw_stats *ret);

#endif
