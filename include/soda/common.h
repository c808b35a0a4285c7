/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: versions, errors and memory shared by every part of the API.
 *
 * Conventions (see README "API conventions"):
 *  - every fallible call returns int: >= 0 on success, -errno on failure;
 *  - out-parameters come first and are written only on success;
 *  - the optional last argument `soda_error **error` receives a message the
 *    caller frees with soda_error_free(); pass NULL to ignore it;
 *  - every action takes `unsigned int flags`; unknown bits give -EINVAL before
 *    anything happens.
 */
#ifndef SODA_COMMON_H
#define SODA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SODA_BUILDING_LIBRARY)
#define SODA_EXPORT __attribute__((visibility("default")))
#else
#define SODA_EXPORT
#endif

#define SODA_VERSION_MAJOR 0
#define SODA_VERSION_MINOR 1
#define SODA_VERSION_PATCH 0

/**
 * soda_version:
 * Returns: the library's version as "MAJOR.MINOR.PATCH" (static storage).
 * @since 0.1
 */
SODA_EXPORT const char *soda_version(void);

/**
 * soda_version_number:
 * Returns: MAJOR << 16 | MINOR << 8 | PATCH of the library actually loaded,
 * which may be newer than the headers a program was built with.
 * @since 0.1
 */
SODA_EXPORT uint32_t soda_version_number(void);

/**
 * soda_free:
 * Frees memory the library returned as `char *` or `char **` out-parameters.
 * Accepts NULL.
 * @since 0.1
 */
SODA_EXPORT void soda_free(void *ptr);

/**
 * soda_strv_free:
 * Frees a NULL-terminated array of strings returned by the library, and the
 * strings in it. Accepts NULL.
 * @since 0.1
 */
SODA_EXPORT void soda_strv_free(char **strv);

/**
 * soda_error:
 * What went wrong, in words, with the -errno code and, for bad input, the
 * file (or other source name), line and column (1-based; 0 when unknown).
 * Owned by the caller once returned; free with soda_error_free().
 * @since 0.1
 */
typedef struct soda_error soda_error;

/** @since 0.1 */
SODA_EXPORT void soda_error_free(soda_error *error);
/** Returns: the negative errno of the failure. @since 0.1 */
SODA_EXPORT int soda_error_code(const soda_error *error);
/** Returns: the message (borrowed; valid until soda_error_free()). @since 0.1 */
SODA_EXPORT const char *soda_error_message(const soda_error *error);
/** Returns: the source of bad input, or NULL (borrowed). @since 0.1 */
SODA_EXPORT const char *soda_error_source(const soda_error *error);
/** Returns: 1-based line of bad input, or 0. @since 0.1 */
SODA_EXPORT uint32_t soda_error_line(const soda_error *error);
/** Returns: 1-based column of bad input, or 0. @since 0.1 */
SODA_EXPORT uint32_t soda_error_column(const soda_error *error);

/** Destroy callback paired with userdata given to the library. @since 0.1 */
typedef void (*soda_destroy_fn)(void *userdata);

/* Log levels, syslog numbering. */
#define SODA_LOG_ERR 3
#define SODA_LOG_WARNING 4
#define SODA_LOG_NOTICE 5
#define SODA_LOG_INFO 6
#define SODA_LOG_DEBUG 7

/**
 * soda_log_fn:
 * Receives the library's log messages. The library never prints to stderr;
 * without a log hook messages are dropped. Called on the thread that made
 * the call that logs.
 * @since 0.1
 */
typedef void (*soda_log_fn)(int level, const char *message, void *userdata);

#ifdef __cplusplus
}
#endif

#endif
