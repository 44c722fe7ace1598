// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "base/log.h"

static const char *log_prog = "connctl";
static enum log_level log_max = LOG_INFO;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && log_max < LOG_LIBBPF)
		return 0;
	if (level == LIBBPF_INFO && log_max < LOG_DEBUG)
		return 0;
	fprintf(stderr, "%s: libbpf: ", log_prog);
	return vfprintf(stderr, fmt, ap);
}

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_max = level;
	libbpf_set_print(libbpf_print);
}

enum log_level log_level(void)
{
	return log_max;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max)
		return;
	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
