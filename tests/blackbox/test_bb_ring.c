/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ring of /dev/blackbox.ring (backends/uml/guest/bbring.c), on the
 * host: bbring_take() hands out exactly what was published, in order,
 * across the ring's end, and refuses a header that lies (a head behind the
 * agent's tail, or more than a ring ahead of it) without taking anything;
 * bbring_publish() tells the agent only when it said it sleeps. The whole
 * protocol runs in a real guest in it-blackbox test_ring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/uml/guest/bbring.h"

#define SIZE 4096u

static uint8_t ring[SIZE], out[2 * SIZE + 1];

/* The producer's side, by hand: @n bytes of a counting pattern from @head. */
static void put(struct bbring_hdr *h, uint64_t *head, size_t n)
{
	for (size_t i = 0; i < n; i++, (*head)++)
		ring[*head & (SIZE - 1)] = (uint8_t)(*head * 7 + 3);
	__atomic_store_n(&h->head, *head, __ATOMIC_RELEASE);
}

static void test_take_in_order_across_the_end(void **state)
{
	struct bbring_hdr h = { .size = SIZE };
	uint64_t head = 0, tail = 0, want = 0;

	srandom(1);
	for (int round = 0; round < 5000; round++) {
		size_t room = SIZE - (size_t)(head - tail), n = (size_t)random() % (room + 1);
		size_t max = (size_t)random() % (SIZE + 2);
		long got;

		put(&h, &head, n);
		memset(out, 0xee, sizeof(out));
		got = bbring_take(&h, ring, SIZE, &tail, out, max);
		assert_true(got >= 0);
		assert_int_equal((size_t)got, (size_t)(head - want) < max ? (size_t)(head - want) : max);
		for (long i = 0; i < got; i++, want++)
			assert_int_equal(out[i], (uint8_t)(want * 7 + 3));
		assert_int_equal(out[got], 0xee); /* nothing past what it took */
		assert_int_equal(tail, want);
	}
	assert_true(head > 100 * SIZE); /* it went round many times */
}

static void test_take_refuses_a_lying_head(void **state)
{
	const uint64_t tails[] = { 0, 12345, (uint64_t)1 << 40, UINT64_MAX - 10 };
	struct bbring_hdr h = { .size = SIZE };

	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		const uint64_t lies[] = { tails[t] - 1,	   tails[t] + SIZE + 1, tails[t] + 3ull * SIZE,
					  tails[t] - SIZE, tails[t] ^ (1ull << 63) };

		for (size_t l = 0; l < sizeof(lies) / sizeof(lies[0]); l++) {
			uint64_t tail = tails[t];

			h.head = lies[l];
			memset(out, 0xee, sizeof(out));
			assert_int_equal(bbring_take(&h, ring, SIZE, &tail, out, sizeof(out)), -EPROTO);
			assert_int_equal(tail, tails[t]);
			assert_int_equal(out[0], 0xee);
		}
		/* A full ring is no lie. */
		{
			uint64_t tail = tails[t];

			h.head = tails[t] + SIZE;
			assert_int_equal(bbring_take(&h, ring, SIZE, &tail, out, sizeof(out)), SIZE);
			assert_int_equal(tail, tails[t] + SIZE);
		}
	}
}

static void test_publish_tells_a_sleeping_agent(void **state)
{
	struct bbring_hdr h = { .size = SIZE };
	char buf[8];
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	/* Awake: no byte. */
	bbring_publish(&h, sv[0], 10, 1);
	assert_int_equal(__atomic_load_n(&h.head, __ATOMIC_ACQUIRE), 10);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EAGAIN);
	/* Asleep, but the producer does not want to tell yet: no byte. */
	h.agent_waiting = 1;
	bbring_publish(&h, sv[0], 20, 0);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), -1);
	assert_int_equal(h.agent_waiting, 1);
	/* Asleep and told: one byte, and the flag taken down. */
	bbring_publish(&h, sv[0], 30, 1);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 1);
	assert_int_equal(h.agent_waiting, 0);
	bbring_publish(&h, sv[0], 40, 1);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), -1);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_in_order_across_the_end),
		cmocka_unit_test(test_take_refuses_a_lying_head),
		cmocka_unit_test(test_publish_tells_a_sleeping_agent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
