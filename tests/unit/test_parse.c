// SPDX-License-Identifier: GPL-2.0
/* Prefix, port range and duration parsing, and their formatting back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "base/parse.h"

static void prefix_roundtrip(const char *in, const char *out, enum connctl_family fam,
			     unsigned int len)
{
	struct connctl_prefix p;
	enum connctl_family f;
	char err[ERRLEN], buf[PREFIX_STRLEN];

	assert_int_equal(parse_prefix(in, &p, &f, err), 0);
	assert_int_equal(f, fam);
	assert_int_equal(p.len, len);
	format_prefix(&p, f, buf, sizeof(buf));
	assert_string_equal(buf, out);
}

static void test_prefix_ipv4(void **state)
{
	prefix_roundtrip("10.0.0.0/8", "10.0.0.0/8", CONNCTL_FAMILY_IPV4, 96 + 8);
	prefix_roundtrip("192.0.2.7", "192.0.2.7/32", CONNCTL_FAMILY_IPV4, 128);
	prefix_roundtrip("0.0.0.0/0", "0.0.0.0/0", CONNCTL_FAMILY_IPV4, 96);
}

static void test_prefix_ipv4_is_mapped(void **state)
{
	static const uint8_t want[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	struct connctl_prefix p;
	enum connctl_family f;
	char err[ERRLEN];

	assert_int_equal(parse_prefix("127.0.0.1", &p, &f, err), 0);
	assert_memory_equal(p.addr, want, 16);
}

static void test_prefix_ipv6(void **state)
{
	prefix_roundtrip("2001:db8::/32", "2001:db8::/32", CONNCTL_FAMILY_IPV6, 32);
	prefix_roundtrip("::1", "::1/128", CONNCTL_FAMILY_IPV6, 128);
	prefix_roundtrip("::/0", "::/0", CONNCTL_FAMILY_IPV6, 0);
	prefix_roundtrip("fe80::/10", "fe80::/10", CONNCTL_FAMILY_IPV6, 10);
}

static void test_prefix_bad(void **state)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
		"10.0.0.0/ 8", "10.0.0.256", "10.0.0", "10.0.0.1/8", "2001:db8::/129",
		"2001:db8::1/64", "::g", "host.example", "10.0.0.0/8/8", "10.0.0.0/08x",
		"1:2:3:4:5:6:7:8:9",
	};
	struct connctl_prefix p;
	enum connctl_family f;
	char err[ERRLEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse_prefix(bad[i], &p, &f, err) == 0)
			fail_msg("prefix '%s' was accepted", bad[i]);
		assert_non_null(strstr(err, "bad prefix"));
	}
}

static void test_ports(void **state)
{
	struct connctl_port_range r;
	char err[ERRLEN];

	assert_int_equal(parse_port_range("80", &r, err), 0);
	assert_int_equal(r.min, 80);
	assert_int_equal(r.max, 80);
	assert_int_equal(parse_port_range("8000-8100", &r, err), 0);
	assert_int_equal(r.min, 8000);
	assert_int_equal(r.max, 8100);
	assert_int_equal(parse_port_range("1-65535", &r, err), 0);
	assert_int_equal(r.max, 65535);
}

static void test_ports_bad(void **state)
{
	static const char *const bad[] = {
		"", "0", "65536", "-80", "80-", "-", "90-80", "8o", " 80", "80 ",
		"+80", "1-2-3", "99999999999999999999999",
	};
	struct connctl_port_range r;
	char err[ERRLEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_port_range(bad[i], &r, err) == 0)
			fail_msg("port '%s' was accepted", bad[i]);
}

static void test_durations(void **state)
{
	char err[ERRLEN], buf[DURATION_STRLEN];
	uint64_t ns;

	assert_int_equal(parse_duration("500ms", &ns, false, err), 0);
	assert_int_equal(ns, 500 * NSEC_PER_MSEC);
	assert_int_equal(parse_duration("30s", &ns, false, err), 0);
	assert_int_equal(ns, 30 * NSEC_PER_SEC);
	assert_int_equal(parse_duration("5m", &ns, false, err), 0);
	assert_int_equal(ns, 300 * NSEC_PER_SEC);
	assert_int_equal(parse_duration("2h", &ns, false, err), 0);
	format_duration(ns, buf, sizeof(buf));
	assert_string_equal(buf, "2h");
	format_duration(1500 * NSEC_PER_MSEC, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	format_duration(120 * NSEC_PER_SEC, buf, sizeof(buf));
	assert_string_equal(buf, "2m");
}

/* Only where zero is allowed (a drain's quiet): 0, with or without a unit. */
static void test_durations_zero(void **state)
{
	static const char *const bad[] = { "", "0x", "00 ", "-0", "1", "ms" };
	char err[ERRLEN], buf[DURATION_STRLEN];
	uint64_t ns = 1;

	assert_int_equal(parse_duration("0", &ns, true, err), 0);
	assert_int_equal(ns, 0);
	ns = 1;
	assert_int_equal(parse_duration("0ms", &ns, true, err), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(parse_duration("250ms", &ns, true, err), 0);
	assert_int_equal(ns, 250 * NSEC_PER_MSEC);
	assert_int_not_equal(parse_duration("0", &ns, false, err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_duration(bad[i], &ns, true, err) == 0)
			fail_msg("duration '%s' was accepted", bad[i]);
	format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0");
}

static void test_durations_bad(void **state)
{
	static const char *const bad[] = {
		"", "30", "s", "0s", "-1s", "1.5s", "30 s", "30S", "30sec", "1d",
		"9999999h", "18446744073709551616ms",
	};
	char err[ERRLEN];
	uint64_t ns;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_duration(bad[i], &ns, false, err) == 0)
			fail_msg("duration '%s' was accepted", bad[i]);
}

static void test_actions(void **state)
{
	enum connctl_action a;

	assert_int_equal(action_parse("reset", &a), 0);
	assert_int_equal(a, CONNCTL_ACTION_RESET);
	assert_int_equal(action_parse("drain", &a), 0);
	assert_int_equal(action_parse("cancel", &a), 0);
	assert_int_not_equal(action_parse("none", &a), 0);
	assert_int_not_equal(action_parse("RESET", &a), 0);
	assert_string_equal(action_name(CONNCTL_ACTION_DRAIN), "drain");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_ipv4),
		cmocka_unit_test(test_prefix_ipv4_is_mapped),
		cmocka_unit_test(test_prefix_ipv6),
		cmocka_unit_test(test_prefix_bad),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ports_bad),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_durations_bad),
		cmocka_unit_test(test_durations_zero),
		cmocka_unit_test(test_actions),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
