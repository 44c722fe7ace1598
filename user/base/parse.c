// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/nsfs.h>
#include "base/parse.h"

#define V4_MAPPED_BITS	96

/* Decimal digits only, no sign, no spaces, at most max: strtoul accepts too much. */
int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static bool host_bits_zero(const uint8_t addr[16], unsigned int len)
{
	for (unsigned int bit = len; bit < 128; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int parse_prefix(const char *s, struct connctl_prefix *p,
		 enum connctl_family *family, char *err)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t len, max;
	bool v6;

	memset(p, 0, sizeof(*p));
	if (alen == 0 || alen >= sizeof(addr)) {
		snprintf(err, ERRLEN, "bad prefix '%.64s': expected ADDR[/LEN]", s);
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';

	v6 = strchr(addr, ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, addr, p->addr) != 1 :
		 inet_pton(AF_INET, addr, p->addr + 12) != 1) {
		snprintf(err, ERRLEN, "bad prefix '%.64s': '%s' is not an IPv%c address",
			 s, addr, v6 ? '6' : '4');
		return -EINVAL;
	}
	max = v6 ? 128 : 32;
	len = max;
	if (slash && parse_uint(slash + 1, strlen(slash + 1), max, &len)) {
		snprintf(err, ERRLEN, "bad prefix '%.64s': length must be 0 to %" PRIu64,
			 s, max);
		return -EINVAL;
	}
	if (!v6) {
		p->addr[10] = 0xff;
		p->addr[11] = 0xff;
		len += V4_MAPPED_BITS;
	}
	if (!host_bits_zero(p->addr, (unsigned int)len)) {
		snprintf(err, ERRLEN,
			 "bad prefix '%.64s': address has bits set past the prefix length", s);
		return -EINVAL;
	}
	p->len = (uint8_t)len;
	*family = v6 ? CONNCTL_FAMILY_IPV6 : CONNCTL_FAMILY_IPV4;
	return 0;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	uint64_t v;

	if (parse_uint(s, n, 65535, &v) || v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int parse_port_range(const char *s, struct connctl_port_range *r, char *err)
{
	const char *dash = strchr(s, '-');
	size_t n = dash ? (size_t)(dash - s) : strlen(s);

	if (parse_port(s, n, &r->min) ||
	    parse_port(dash ? dash + 1 : s, dash ? strlen(dash + 1) : n, &r->max)) {
		snprintf(err, ERRLEN,
			 "bad port '%.32s': expected P or P-Q, ports 1 to 65535", s);
		return -EINVAL;
	}
	if (r->min > r->max) {
		snprintf(err, ERRLEN, "bad port range '%.32s': %u is above %u",
			 s, r->min, r->max);
		return -EINVAL;
	}
	return 0;
}

static const struct {
	const char	*suffix;
	uint64_t	ns;
} duration_units[] = {
	{ "ms",	NSEC_PER_MSEC },
	{ "s",	NSEC_PER_SEC },
	{ "m",	60 * NSEC_PER_SEC },
	{ "h",	3600 * NSEC_PER_SEC },
};

int parse_duration(const char *s, uint64_t *ns, bool zero_ok, char *err)
{
	size_t n = 0;
	uint64_t v;

	while (isdigit((unsigned char)s[n]))
		n++;
	/* Zero needs no unit. */
	if (zero_ok && !s[n] && !parse_uint(s, n, UINT64_MAX, &v) && v == 0) {
		*ns = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		if (strcmp(s + n, duration_units[i].suffix))
			continue;
		if (parse_uint(s, n, DURATION_MAX_NS / duration_units[i].ns, &v))
			break;
		*ns = v * duration_units[i].ns;
		if (*ns == 0 && !zero_ok)
			break;
		return 0;
	}
	snprintf(err, ERRLEN,
		 "bad duration '%.32s': expected a %swhole number and a unit "
		 "(ms, s, m, h), e.g. 500ms, 30s, 5m; at most 366 days", s,
		 zero_ok ? "" : "positive ");
	return -EINVAL;
}

void format_addr(const uint8_t addr[16], char *buf, size_t len)
{
	static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(addr, v4_mapped, sizeof(v4_mapped)))
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}

void format_prefix(const struct connctl_prefix *p, enum connctl_family family,
		   char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned int bits = p->len;

	if (family == CONNCTL_FAMILY_IPV4) {
		inet_ntop(AF_INET, p->addr + 12, addr, sizeof(addr));
		bits -= V4_MAPPED_BITS;
	} else {
		inet_ntop(AF_INET6, p->addr, addr, sizeof(addr));
	}
	snprintf(buf, len, "%s/%u", addr, bits);
}

void format_port_range(const struct connctl_port_range *r, char *buf, size_t len)
{
	if (r->min == r->max)
		snprintf(buf, len, "%u", r->min);
	else
		snprintf(buf, len, "%u-%u", r->min, r->max);
}

/* The largest unit that divides the duration exactly, so it reads back the same. */
void format_duration(uint64_t ns, char *buf, size_t len)
{
	if (!ns) {
		snprintf(buf, len, "0");
		return;
	}
	for (int i = sizeof(duration_units) / sizeof(duration_units[0]) - 1; i >= 0; i--) {
		if (ns % duration_units[i].ns == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", ns / duration_units[i].ns,
				 duration_units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64 "ns", ns);
}

static const char *const action_names[] = {
	[CONNCTL_ACTION_NONE]	= "none",
	[CONNCTL_ACTION_OBSERVE] = "observe",
	[CONNCTL_ACTION_DRAIN]	= "drain",
	[CONNCTL_ACTION_CANCEL]	= "cancel",
	[CONNCTL_ACTION_RESET]	= "reset",
};

#define NAMES(t)	(t), sizeof(t) / sizeof((t)[0])

/* names[i], or "unknown" past the table or in a hole of it. */
static const char *name_at(const char *const *names, unsigned int n, unsigned int i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

/* The index of s in names, from first on; -EINVAL when it is none of them. */
static int name_index(const char *const *names, unsigned int n, unsigned int first,
		      const char *s)
{
	for (unsigned int i = first; i < n; i++)
		if (names[i] && !strcmp(s, names[i]))
			return (int)i;
	return -EINVAL;
}

const char *action_name(enum connctl_action action)
{
	return name_at(NAMES(action_names), action);
}

static const char *const proto_names[] = {
	[CONNCTL_PROTO_TCP]	= "tcp",
	[CONNCTL_PROTO_UDP]	= "udp",
};

const char *proto_name(enum connctl_proto proto)
{
	return name_at(NAMES(proto_names), proto);
}

int proto_parse(const char *s, enum connctl_proto *proto)
{
	int i = name_index(NAMES(proto_names), 0, s);

	if (i < 0)
		return i;
	*proto = (enum connctl_proto)i;
	return 0;
}

int action_parse(const char *s, enum connctl_action *action)
{
	/* "none" is no action a rule may take. */
	int i = name_index(NAMES(action_names), CONNCTL_ACTION_OBSERVE, s);

	if (i < 0)
		return i;
	*action = (enum connctl_action)i;
	return 0;
}

