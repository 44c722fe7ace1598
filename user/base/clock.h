/* SPDX-License-Identifier: GPL-2.0 */
/* Clock readings in nanoseconds, as the kernel's stamps are. */
#ifndef CONNCTL_CLOCK_H
#define CONNCTL_CLOCK_H

#include <stdint.h>
#include <time.h>
#include "base/parse.h"

static inline uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Comparable with bpf_ktime_get_ns(). */
static inline uint64_t monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Wall time: what ttl deadlines are kept in, so they hold across reboots. */
static inline uint64_t realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

#endif /* CONNCTL_CLOCK_H */
