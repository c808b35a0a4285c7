/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "console_exec.h"

static unsigned long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static char *strip_cr(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++)
		if (*p != '\r')
			*o++ = *p;
	*o = '\0';
	return s;
}

int soda_console_exec(soda_server *srv, const char *command, int timeout_ms, char **ret_output,
		      int *ret_status, soda_error **error)
{
	static unsigned counter;
	char nonce[48], begin[80], endmark[80], *line = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	unsigned long long deadline = mono_ms() + (unsigned long long)timeout_ms;
	int fd = -1, r;

	r = soda_server_open_console(&fd, srv, 0, error);
	if (r < 0)
		return r;
	snprintf(nonce, sizeof(nonce), "%d_%u_%llu", (int)getpid(), counter++, mono_ms());
	/* The markers are split by quotes in what we type, so the terminal's
	 * echo of the command line never matches them; only the output does. */
	snprintf(begin, sizeof(begin), "__SODA_%s_BEGIN\n", nonce);
	snprintf(endmark, sizeof(endmark), "__SODA_%s_END_", nonce);
	/* One line: its echo comes before the begin marker's output. A command
	 * that ends in '&' is already terminated. */
	{
		size_t cl = strlen(command);

		while (cl && (command[cl - 1] == ' ' || command[cl - 1] == '\n'))
			cl--;
		/* Nothing to run is ':' (an empty command between ';' is a syntax
		 * error the shell would wait on). */
		if (cl == 0) {
			command = ":";
			cl = 1;
		}
		if (asprintf(&line,
			     "\necho \"__SODA_\"\"%s_BEGIN\"; %.*s%s echo \"__SODA_\"\"%s_END_$?\"\n",
			     nonce, (int)cl, command, cl && command[cl - 1] == '&' ? "" : ";",
			     nonce) < 0)
			line = NULL;
	}
	if (!line) {
		close(fd);
		return -ENOMEM;
	}
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		r = -errno;
		free(line);
		close(fd);
		return r;
	}
	free(line);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		unsigned long long now = mono_ms();
		char chunk[4096], *b, *e;
		ssize_t n;

		if (now >= deadline) {
			r = -ETIMEDOUT;
			if (error && !*error)
				soda_error_set(error, r, "the command did not finish in time");
			break;
		}
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n <= 0) {
			r = n == 0 ? -ECONNRESET : -errno;
			if (error && !*error)
				soda_error_set(error, r, "the console closed (did the server stop?)");
			break;
		}
		if (len + (size_t)n + 1 > cap) {
			char *nb;

			cap = (len + (size_t)n + 1) * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
		strip_cr(buf);
		len = strlen(buf);
		b = strstr(buf, begin);
		e = b ? strstr(b, endmark) : NULL;
		if (e && strchr(e + strlen(endmark), '\n')) {
			int status = atoi(e + strlen(endmark));

			if (ret_status)
				*ret_status = status;
			if (ret_output) {
				b += strlen(begin);
				*ret_output = strndup(b, (size_t)(e - b));
			}
			r = 0;
			break;
		}
	}
	free(buf);
	close(fd);
	return r;
}
