/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soda/sys/backend.h>

#include "util.h"

struct soda_error {
	int code;
	char *message;
	char *source;
	uint32_t line;
	uint32_t column;
};

/* Returned when even the error cannot be allocated: static, never freed. */
static struct soda_error oom_error = { -ENOMEM, (char *)"out of memory", NULL, 0, 0 };

SODA_EXPORT void soda_error_free(soda_error *error)
{
	if (!error || error == &oom_error)
		return;
	free(error->message);
	free(error->source);
	free(error);
}

SODA_EXPORT int soda_error_code(const soda_error *error)
{
	return error ? error->code : 0;
}

SODA_EXPORT const char *soda_error_message(const soda_error *error)
{
	return error ? error->message : NULL;
}

SODA_EXPORT const char *soda_error_source(const soda_error *error)
{
	return error ? error->source : NULL;
}

SODA_EXPORT uint32_t soda_error_line(const soda_error *error)
{
	return error ? error->line : 0;
}

SODA_EXPORT uint32_t soda_error_column(const soda_error *error)
{
	return error ? error->column : 0;
}

int su_verrorf(soda_error **error, int code, const char *source, uint32_t line,
	       uint32_t column, const char *fmt, va_list ap)
{
	struct soda_error *e;

	if (code >= 0)
		code = -EIO;
	if (!error || *error)
		return code;
	e = calloc(1, sizeof(*e));
	if (!e) {
		*error = &oom_error;
		return code;
	}
	e->code = code;
	e->line = line;
	e->column = column;
	e->message = su_strdup_vprintf(fmt, ap);
	e->source = source ? strdup(source) : NULL;
	if (!e->message || (source && !e->source)) {
		free(e->message);
		free(e->source);
		free(e);
		*error = &oom_error;
		return code;
	}
	*error = e;
	return code;
}

int su_errorf(soda_error **error, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = su_verrorf(error, code, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return r;
}

int su_errorf_at(soda_error **error, int code, const char *source, uint32_t line,
		 uint32_t column, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = su_verrorf(error, code, source, line, column, fmt, ap);
	va_end(ap);
	return r;
}

void su_error_prefix(soda_error **error, const char *fmt, ...)
{
	va_list ap;
	char *prefix, *joined;

	if (!error || !*error || *error == &oom_error)
		return;
	va_start(ap, fmt);
	prefix = su_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!prefix)
		return;
	joined = su_strdup_printf("%s: %s", prefix, (*error)->message);
	free(prefix);
	if (!joined)
		return;
	free((*error)->message);
	(*error)->message = joined;
}

SODA_EXPORT int soda_error_set(soda_error **error, int code, const char *message)
{
	return su_errorf(error, code, "%s", message ? message : "unknown error");
}
