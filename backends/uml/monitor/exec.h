/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor's side of exec through the agent (issue 20): the exec line
 * to the guest's agent (UML ssl3, a socketpair; frames in
 * backends/uml/exec_proto.h) and the library's exec connections (a control
 * connection that asked "exec").
 *
 * The line comes from the guest: hostile (the tenant is root there, and in
 * an open guest may make itself a node for the line). Every byte is
 * parsed strictly: a frame longer than SX_PAYLOAD_MAX, reserved bits set, a
 * type the agent does not send, an id soda-monitor did not issue or that
 * ended, data past the window the monitor granted, credit past the window,
 * a malformed exit: the line is broken for good. The commands running
 * then fail with EPROTO, later ones are refused, and whatever else comes
 * on the line is read and thrown away (so that the guest's writer never
 * blocks the guest). What the monitor holds is bounded whatever the guest
 * does: one frame being read, and per command at most SX_WINDOW bytes of
 * output for a client that reads slowly (the agent may send no more before
 * the monitor gives credit back, which it does only as the client takes
 * them).
 */
#ifndef SODA_MONITOR_EXEC_H
#define SODA_MONITOR_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mex_config {
	int epfd;	     /* -1: none (the fuzz target) */
	uint64_t ep_tag;     /* OR'ed into epoll data; the low 32 bits are ours */
	int line_fd;	     /* the monitor's end of the exec line */
	void (*log)(const char *msg);
};

int mex_init(const struct mex_config *c);
/* The agent said "exec 1" on the agent line. */
void mex_set_available(void);
bool mex_available(void);
/* Takes over an accepted control connection that asked "exec": answers
 * "ok" and runs the exchange, or "err ..." and closes. */
void mex_client(int fd);
void mex_on_event(uint64_t data, uint32_t events);
void mex_close(void);

/* For tests and the fuzz target: @n commands with ids 1..@n that run, whose
 * clients take everything at once; then the agent's bytes. */
void mex_test_setup(unsigned n);
/* ...and command @slot's client is @fd (a socket the test reads, or not). */
void mex_test_set_client(unsigned slot, int fd);
int mex_line_input(const uint8_t *buf, size_t n);
bool mex_line_broken(void);
/* Bytes held for commands and the line now (the bound the fuzz checks). */
size_t mex_held_bytes(void);

#endif
