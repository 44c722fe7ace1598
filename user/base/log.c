// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include "base/log.h"

static const char *log_prog = "connctl";
static enum log_level log_max = LOG_INFO;

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_max = level;
}

/*
 * One line, one write: stderr is unbuffered, and a line written in pieces
 * costs a system call each and can interleave with another process's.
 */
static void log_line(const char *prefix, const char *fmt, va_list ap, bool newline)
{
	char line[2048];
	size_t max = sizeof(line) - 2, n;
	int len;

	len = snprintf(line, max, "%s: %s", log_prog, prefix);
	n = len < 0 ? 0 : (size_t)len < max ? (size_t)len : max - 1;
	len = vsnprintf(line + n, max - n, fmt, ap);
	if (len > 0)
		n = n + (size_t)len < max ? n + (size_t)len : max - 1;
	if (newline)
		line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
	if (level > log_max)
		return;
	log_line(prefix, fmt, ap, false);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	log_line("", fmt, ap, true);
	va_end(ap);
}
