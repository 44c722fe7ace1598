/* SPDX-License-Identifier: GPL-2.0 */
/* Bytes appended to a buffer grown by doubling: output queues, journals. */
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

#endif /* CONNCTL_BUF_H */
