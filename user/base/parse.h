/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing and formatting of the values a rule is made of: prefixes, port
 * ranges, durations. Each parser returns 0 or -EINVAL and, on error, a
 * message for the operator in err (ERRLEN bytes).
 */
#ifndef CONNCTL_PARSE_H
#define CONNCTL_PARSE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "connctl.h"

#define ERRLEN		256
#define PREFIX_STRLEN	64	/* "ffff:...:ffff/128" and more */
#define DURATION_STRLEN	32

#define NSEC_PER_MSEC	1000000ull
#define NSEC_PER_SEC	1000000000ull
#define DURATION_MAX_NS	(366ull * 24 * 3600 * NSEC_PER_SEC)

int parse_prefix(const char *s, struct connctl_prefix *p,
		 enum connctl_family *family, char *err);
int parse_port_range(const char *s, struct connctl_port_range *r, char *err);
/* A whole number and a unit; 0 (unit optional) only where zero_ok. */
int parse_duration(const char *s, uint64_t *ns, bool zero_ok, char *err);

void format_prefix(const struct connctl_prefix *p, enum connctl_family family,
		   char *buf, size_t len);
void format_port_range(const struct connctl_port_range *r, char *buf,
		       size_t len);
void format_duration(uint64_t ns, char *buf, size_t len);
/* The n characters at s as a number of at most max: 0, or -EINVAL. */
int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out);
void format_addr(const uint8_t addr[16], char *buf, size_t len);

const char *action_name(enum connctl_action action);
int action_parse(const char *s, enum connctl_action *action);
const char *proto_name(enum connctl_proto proto);
int proto_parse(const char *s, enum connctl_proto *proto);

#endif /* CONNCTL_PARSE_H */
