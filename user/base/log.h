/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CONNCTL_LOG_H
#define CONNCTL_LOG_H

enum log_level {
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_LIBBPF,	/* libbpf's own debug output too (-vv) */
};

#include <stdarg.h>

void log_init(const char *prog, enum log_level level);
/* prefix, then fmt as it is (no newline added): for libraries' own lines. */
void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* CONNCTL_LOG_H */
