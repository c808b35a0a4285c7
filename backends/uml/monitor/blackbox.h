/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-monitor's side of the server's blackbox: the guest's write-only
 * serial line (ssl1=null,fd:5) is a pipe whose far end the monitor reads and
 * feeds to the host store (include/soda/blackbox.h); the monitor's own
 * events about the server are sealed to the tenant's public key in the same
 * store. The monitor never holds a key that opens the guest's records.
 */
#ifndef SODA_MONITOR_BLACKBOX_H
#define SODA_MONITOR_BLACKBOX_H

#include <stddef.h>
#include <stdint.h>

typedef void (*mbb_log_fn)(const char *msg);

/* Opens the store in @dir for the tenant key @key ("BOXHEX[/SIGNHEX]") with
 * the retention @retention ("stop|drop-oldest QUOTA", NULL: stop, the
 * default quota) and makes the line's pipe. *ret_read_fd: the monitor's end
 * (non-blocking), *ret_write_fd: the guest's (blocking; close it once the
 * guest has it). Returns 0 or -errno with a message in @err.
 * While open, the monitor's log gets the store's usage when it passes 80 %
 * and 95 % of the quota, a line for each foreign stream on the line, and
 * the store's committed head as an anchor every MBB_ANCHOR_SECONDS when it
 * moved ("blackbox anchor SEG:OFF:DIGEST"), for orchestrators to ship off
 * the host. */
#define MBB_ANCHOR_SECONDS 10
/* Called when the anchor or the quota warning level (0, 80, 95) changed. */
typedef void (*mbb_status_fn)(const char *anchor, unsigned usage);
void mbb_set_status_fn(mbb_status_fn fn);
int mbb_open(const char *dir, const char *key, const char *retention, const char *label,
	     mbb_log_fn log, int *ret_read_fd, int *ret_write_fd, char *err, size_t errlen);
/* True once mbb_open() succeeded and until mbb_close(). */
int mbb_active(void);
/* The line is readable: reads what is there (bounded) and stores it.
 * Returns 1 while the line is open, 0 at its end (the fd is closed). */
int mbb_on_line(void);
/* Milliseconds until the store needs mbb_process(), or -1 (none). */
int mbb_timeout_ms(void);
void mbb_process(void);
/* A lifecycle record from the host (@state: SODA_STATE_*). */
void mbb_lifecycle(int state, const char *text);
/* Another record from the host: SU_BB_SNAPSHOT (a dump was taken). */
#define SU_BB_SNAPSHOT 9 /* SODA_BLACKBOX_SNAPSHOT */
void mbb_host_event(uint32_t type, uint32_t aux, const char *text);
/* Reads the rest of the line (the guest is gone), then closes the store:
 * everything is synced. */
void mbb_close(void);

#endif
