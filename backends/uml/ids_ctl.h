/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's side of the monitor's IDS socket (monitor/ids.h): one
 * request with up to two descriptors, one reply ("ok[ DATA]" or "err ERRNO
 * MESSAGE"); and the landlord's alert stream in the run directory.
 */
#ifndef SODA_UML_IDS_CTL_H
#define SODA_UML_IDS_CTL_H

#include <stddef.h>

#include <soda/common.h>

#define SU_IDS_SOCK "ids.sock"                 /* MIDS_SOCK */
#define SU_IDS_LANDLORD_FILE "ids-alerts.jsonl" /* MIDS_LANDLORD_FILE */

int su_ids_request(const char *run_dir, const char *request, const int *fds, size_t n_fds,
		   char **ret_data, int timeout_ms, soda_error **error);
/* Opens the landlord's alert stream (JSON lines) read-only; it is created
 * empty when no alert has come yet, so a follower can wait on it. */
int su_ids_open_alerts(const char *run_dir, int *ret_fd, soda_error **error);

#endif
