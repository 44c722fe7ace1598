/* SPDX-License-Identifier: GPL-2.0 */
/* Buffers and arrays grown by doubling: output queues, journals, tables. */
#ifndef CONNCTL_BUF_H
#define CONNCTL_BUF_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * n bytes of data onto *buf (*len used of *cap), and a newline after them
 * if line; -ENOMEM leaves the buffer as it was.
 */
static inline int buf_append(char **buf, size_t *len, size_t *cap, const char *data,
			     size_t n, bool line)
{
	size_t need = *len + n + line;

	if (need > *cap) {
		char *grown = realloc(*buf, 2 * need);

		if (!grown)
			return -ENOMEM;
		*buf = grown;
		*cap = 2 * need;
	}
	memcpy(*buf + *len, data, n);
	if (line)
		(*buf)[*len + n] = '\n';
	*len = need;
	return 0;
}

/*
 * Room for one more element in an array *v of n (*cap allocated) elements
 * of size bytes, by doubling (first 16); -ENOMEM leaves it as it was.
 */
static inline int array_grow(void *v, size_t *cap, size_t n, size_t size)
{
	void **p = v;
	size_t want;
	void *grown;

	if (n < *cap)
		return 0;
	want = *cap ? 2 * *cap : 16;
	grown = realloc(*p, want * size);
	if (!grown)
		return -ENOMEM;
	*p = grown;
	*cap = want;
	return 0;
}

#endif /* CONNCTL_BUF_H */
