/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the benchmarks share: the mean of paired ratios and how sure it is. */
#ifndef SODA_BENCH_STATS_H
#define SODA_BENCH_STATS_H

#include <math.h>

/* Student's t for a two-sided 95 % interval with @df degrees of freedom. */
static double bench_t95(int df) __attribute__((unused));
static double bench_t95(int df)
{
	static const double t[] = { 0,	    12.706, 4.303, 3.182, 2.776, 2.571, 2.447,
				    2.365,  2.306,  2.262, 2.228, 2.201, 2.179, 2.160,
				    2.145,  2.131,  2.120, 2.110, 2.101, 2.093, 2.086,
				    2.080,  2.074,  2.069, 2.064, 2.060, 2.056, 2.052,
				    2.048,  2.045,  2.042 };

	if (df < 1)
		return INFINITY;
	if (df < (int)(sizeof(t) / sizeof(t[0])))
		return t[df];
	/* beyond the table, the next tabulated smaller df's: a little wide */
	return df <= 40 ? 2.042 : df <= 60 ? 2.021 : 2.000;
}

/* The mean of @x[0..n) and the half-width of its 95 % confidence interval
 * (Student's t; infinite for fewer than two values). */
static void bench_mean_ci(const double *x, int n, double *mean, double *half)
	__attribute__((unused));
static void bench_mean_ci(const double *x, int n, double *mean, double *half)
{
	double m = 0, ss = 0;

	for (int i = 0; i < n; i++)
		m += x[i];
	m = n > 0 ? m / n : 0;
	for (int i = 0; i < n; i++)
		ss += (x[i] - m) * (x[i] - m);
	*mean = m;
	*half = n > 1 ? bench_t95(n - 1) * sqrt(ss / (n - 1)) / sqrt((double)n) : INFINITY;
}

#endif
