/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /dev/blackbox.ring: lines for the blackbox through shared memory, without
 * the FIFO's two copies in the guest kernel.
 *
 * A producer connects to the agent's stream socket /dev/blackbox.ring; the
 * agent makes a ring (a memfd sealed against shrinking and growing, so the
 * producer cannot pull its pages from under the agent) and passes it with
 * SCM_RIGHTS. The producer reads its input straight into the ring and
 * publishes it by moving `head`; the agent copies what is published into
 * memory of its own (the producer may change the ring at any time: nothing
 * is parsed or sealed in place) and moves `tail`. Each side sets a waiting
 * flag before it sleeps, and the other sends one byte on the socket when it
 * finds the flag set: under load neither makes a system call per piece.
 * The records are SBX_R_TEXT lines, as from /dev/blackbox.
 *
 * The agent trusts nothing in the ring's header: a head behind its tail or
 * more than the ring's size ahead of it is a broken protocol, and the agent
 * closes that producer's connection (and says so in the stream). Its own
 * tail it keeps to itself; the copy in the header is for the producer.
 *
 * Producer: `/soda/init log [FILE...]` (stdin without FILE), or any program
 * that speaks this protocol.
 */
#ifndef SODA_AGENT_BBRING_H
#define SODA_AGENT_BBRING_H

#include <stddef.h>
#include <stdint.h>

#define BBRING_PATH "/dev/blackbox.ring"
#define BBRING_MAGIC 0x52424253u /* "SBBR" */
#define BBRING_VERSION 1
#define BBRING_DATA_OFFSET 4096
#define BBRING_SIZE (1u << 20) /* data bytes, a power of two */

/* The header at the start of the ring's memfd; the data follow at
 * BBRING_DATA_OFFSET. head and tail count bytes since the start. */
struct bbring_hdr {
	uint32_t magic, version;
	uint32_t size;	  /* data bytes, a power of two */
	uint32_t reserved;
	uint64_t head;	  /* producer: bytes published */
	uint64_t tail;	  /* agent: bytes taken */
	uint32_t agent_waiting;	 /* the agent sleeps until told */
	uint32_t writer_waiting; /* the producer waits for room */
};

/* Takes up to @max published bytes from the ring (@data of @size bytes)
 * into @out, from the consumer's own @tail (moved on). Returns the number
 * of bytes, or -EPROTO if the header's head is not between *tail and *tail
 * + size, modulo 2^64 (nothing taken). Does not touch the header's tail. */
long bbring_take(const struct bbring_hdr *h, const uint8_t *data, uint32_t size, uint64_t *tail,
		 uint8_t *out, size_t max);

/* Publishes what the producer has put into the ring up to @head, and tells a
 * sleeping agent (one byte on @sock) when @tell says so. */
void bbring_publish(struct bbring_hdr *h, int sock, uint64_t head, int tell);

/* Connects to the agent's socket and receives a ring: returns its memfd
 * (and the connection in @ret_sock), or -1 after saying why on stderr. */
int bbring_connect(int *ret_sock);

/* The producer: `log [FILE...]` copies the files (or stdin) into the ring.
 * Returns an exit status. */
int bbring_log_main(int argc, char **argv);

#endif
