/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A process recorded by PID and start time, so that a PID used again by
 * another process is not taken for it (the relay's pid file, relay.c and
 * bbrelay.c). */
#ifndef SODA_LV_PIDREC_H
#define SODA_LV_PIDREC_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The start time of process @pid (clock ticks since boot, field 22 of
 * /proc/PID/stat), 0 if there is no such process. */
static inline unsigned long long lv_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the name (field 2) may hold anything but ends at the last ')' */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

#endif
