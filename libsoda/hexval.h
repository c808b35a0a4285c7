/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One hex digit's value, inline: for the library (util.h), and for the
 * programs and plugins that cannot link its hidden functions.
 */
#ifndef SODA_HEXVAL_H
#define SODA_HEXVAL_H

/* 0-15, or -1 if @c is no hex digit (either case). */
static inline int su_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
