// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include "base/log.h"

static const char *log_prog = "connctl";
static enum log_level log_max = LOG_INFO;

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_max = level;
}

void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
	if (level > log_max)
		return;
	fprintf(stderr, "%s: %s", log_prog, prefix);
	vfprintf(stderr, fmt, ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	log_vmsg(level, "", fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
