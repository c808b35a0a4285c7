/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small JSON writer for the example tools: objects and arrays nested to
 * a fixed depth, commas and escaping done here, so a tool's --json output
 * is valid by construction. Every member function takes the key (NULL
 * inside an array or at the top).
 */
#ifndef SODA_JSON_H
#define SODA_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

struct json {
	FILE *out;
	int depth;
	bool pretty;
	bool first[JSON_DEPTH_MAX + 1];
};

void json_init(struct json *j, FILE *out, bool pretty);
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_str(struct json *j, const char *key, const char *value);    /* NULL: null */
void json_strn(struct json *j, const char *key, const char *value, size_t len);
void json_int(struct json *j, const char *key, int64_t value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_double(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline. */
void json_finish(struct json *j);

/* Writes s as a JSON string (quotes included); bytes that are not valid
 * UTF-8 come out as \u00XX of their value, so the output stays valid. */
void json_write_string(FILE *out, const char *s, size_t len);

#endif
