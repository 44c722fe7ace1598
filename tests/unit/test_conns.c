// SPDX-License-Identifier: GPL-2.0
/*
 * The connection index against a plain array under random churn: what it
 * holds, and where a rule matches (the namespaces, and each connection it
 * lists once), beside a match of every rule against every connection.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "connctl_match.h"
#include "kernel/conns.h"

#define CONNS		4000
#define NETNS		5

struct ref_conn {
	bool			live;
	uint64_t		cookie;
	struct connctl_tuple	tuple;
};

static struct ref_conn ref[CONNS];

static void v4(uint8_t *addr, uint32_t host)
{
	uint32_t *w = (uint32_t *)addr;

	w[0] = 0;
	w[1] = 0;
	w[2] = htonl(0xffff);
	w[3] = htonl(host);
}

/* Few ports and addresses, so that rules match often and chains are long. */
static void random_tuple(struct connctl_tuple *t, unsigned int *seed)
{
	memset(t, 0, sizeof(*t));
	v4(t->laddr, 0x0a000000 | (rand_r(seed) % 64));
	v4(t->raddr, 0x0a000100 | (rand_r(seed) % 64));
	t->lport = 9000 + rand_r(seed) % 8;
	t->rport = 40000 + rand_r(seed) % 3000;
	t->sk_family = 2;
	t->netns_ino = 100 + rand_r(seed) % NETNS;
}

static void random_rule(struct connctl_rule *r, unsigned int *seed)
{
	memset(r, 0, sizeof(*r));
	r->action = rand_r(seed) % 2 ? CONNCTL_ACTION_RESET : CONNCTL_ACTION_OBSERVE;
	while (!r->match) {
		if (rand_r(seed) % 2) {
			r->match |= CONNCTL_MATCH_LPORT;
			r->lport.min = 8998 + rand_r(seed) % 12;
			r->lport.max = r->lport.min + (rand_r(seed) % 3 ? 0 : 3000);
		}
		if (rand_r(seed) % 3 == 0) {
			r->match |= CONNCTL_MATCH_RPORT;
			r->rport.min = 40000 + rand_r(seed) % 3000;
			r->rport.max = r->rport.min + rand_r(seed) % 40;
		}
		if (rand_r(seed) % 3 == 0) {
			r->match |= CONNCTL_MATCH_REMOTE;
			v4(r->remote.addr, 0x0a000100 | (rand_r(seed) % 64));
			r->remote.len = rand_r(seed) % 2 ? 128 : 124;
			((uint32_t *)r->remote.addr)[3] &=
				htonl(r->remote.len == 128 ? ~0u : ~0xfu);
		}
		if (rand_r(seed) % 4 == 0) {
			r->match |= CONNCTL_MATCH_NETNS;
			r->netns_ino = 100 + rand_r(seed) % NETNS;
		}
	}
}

static void check_match(struct conn_index *ci, const struct connctl_rule *r)
{
	struct netns_hits hits = { 0 };
	size_t per_ns[NETNS] = { 0 }, listed[NETNS] = { 0 };

	assert_int_equal(conn_index_match(ci, r, 1, &hits), 0);
	for (int i = 0; i < CONNS; i++)
		if (ref[i].live && rule_matches(r, &ref[i].tuple))
			per_ns[ref[i].tuple.netns_ino - 100]++;
	for (int k = 0; k < NETNS; k++) {
		const struct netns_hit *h = netns_hits_find(&hits, 100 + k);

		if (!per_ns[k]) {
			assert_null(h);
			continue;
		}
		assert_non_null(h);
		/* Its own connections side by side, each once (sorted within). */
		for (size_t i = h->first; i < h->first + h->n_slots; i++) {
			uint64_t cookie;
			const struct connctl_tuple *t = conn_index_tuple(ci, hits.slots[i], &cookie);

			assert_true(rule_matches(r, t));
			assert_true(ref[cookie - 1].live);
			assert_int_equal(t->netns_ino, 100 + k);
			assert_true(i == h->first || hits.slots[i] > hits.slots[i - 1]);
			listed[k]++;
		}
		/* Up to CONN_DIRECT_MAX listed, every one; beyond, a walk. */
		if (per_ns[k] <= CONN_DIRECT_MAX) {
			assert_false(h->walk);
			assert_int_equal(listed[k], per_ns[k]);
		} else {
			assert_true(h->walk);
		}
	}
	netns_hits_free(&hits);
}

static void test_random_churn(void **state)
{
	struct conn_index *ci = conn_index_new(true);
	struct connctl_rule rule;
	unsigned int seed = 7;
	size_t live = 0, slots_at_peak;

	assert_non_null(ci);
	for (int round = 0; round < 300000; round++) {
		int i = rand_r(&seed) % CONNS;

		if (ref[i].live) {
			conn_index_remove(ci, ref[i].cookie);
			ref[i].live = false;
			live--;
		} else {
			/* A fresh cookie a connection, as the kernel gives them. */
			ref[i].cookie = (uint64_t)i + 1;
			random_tuple(&ref[i].tuple, &seed);
			assert_int_equal(conn_index_add(ci, ref[i].cookie, &ref[i].tuple), 0);
			ref[i].live = true;
			live++;
		}
		assert_int_equal(conn_index_count(ci), live);
		if (round % 997 == 0) {
			random_rule(&rule, &seed);
			check_match(ci, &rule);
		}
	}
	/* Churn below the peak reuses the slots the peak made. */
	slots_at_peak = conn_index_capacity(ci);
	for (int i = 0; i < CONNS; i++) {
		if (ref[i].live)
			conn_index_remove(ci, ref[i].cookie);
		ref[i].live = false;
	}
	assert_int_equal(conn_index_count(ci), 0);
	for (int round = 0; round < 100000; round++) {
		struct connctl_tuple t;

		random_tuple(&t, &seed);
		assert_int_equal(conn_index_add(ci, 1, &t), 0);
		conn_index_remove(ci, 1);
	}
	assert_int_equal(conn_index_capacity(ci), slots_at_peak);
	conn_index_free(ci);
}

static void check_random_rules(struct conn_index *ci, int n, unsigned int *seed)
{
	struct connctl_rule rule;

	for (int i = 0; i < n; i++) {
		random_rule(&rule, seed);
		check_match(ci, &rule);
	}
}

/*
 * A peak closed gives its memory back, once, and what is left is still
 * found, by cookie and through the port chains, and churns as before.
 */
static void test_settle_after_peak(void **state)
{
	struct conn_index *ci = conn_index_new(true);
	unsigned int seed = 11;
	size_t peak, kept = 0;

	assert_non_null(ci);
	for (int i = 0; i < CONNS; i++) {
		ref[i].cookie = (uint64_t)i + 1;
		random_tuple(&ref[i].tuple, &seed);
		assert_int_equal(conn_index_add(ci, ref[i].cookie, &ref[i].tuple), 0);
		ref[i].live = true;
	}
	peak = conn_index_capacity(ci);
	assert_true(peak >= CONNS);
	/* Settling a full index changes nothing. */
	assert_int_equal(conn_index_settle(ci), 0);
	assert_int_equal(conn_index_capacity(ci), peak);
	for (int i = 0; i < CONNS; i++) {
		if (i % 40 == 7) {
			kept++;
			continue;
		}
		conn_index_remove(ci, ref[i].cookie);
		ref[i].live = false;
	}
	assert_int_equal(conn_index_settle(ci), 0);
	assert_int_equal(conn_index_count(ci), kept);
	assert_true(conn_index_capacity(ci) <= peak / 4);
	assert_true(conn_index_capacity(ci) >= 8 * kept);
	check_random_rules(ci, 60, &seed);
	/* Each kept one is found by its cookie: a second add is no new one. */
	for (int i = 7; i < CONNS; i += 40)
		assert_int_equal(conn_index_add(ci, ref[i].cookie, &ref[i].tuple), 0);
	assert_int_equal(conn_index_count(ci), kept);
	/* Churn on the packed slots, settled as a read would. */
	for (int round = 0; round < 20000; round++) {
		int i = rand_r(&seed) % 400;

		if (ref[i].live) {
			conn_index_remove(ci, ref[i].cookie);
			ref[i].live = false;
		} else {
			random_tuple(&ref[i].tuple, &seed);
			assert_int_equal(conn_index_add(ci, ref[i].cookie, &ref[i].tuple), 0);
			ref[i].live = true;
		}
		if (round % 97 == 0)
			assert_int_equal(conn_index_settle(ci), 0);
		if (round % 1999 == 0)
			check_random_rules(ci, 3, &seed);
	}
	for (int i = 0; i < CONNS; i++) {
		if (ref[i].live)
			conn_index_remove(ci, ref[i].cookie);
		ref[i].live = false;
	}
	assert_int_equal(conn_index_settle(ci), 0);
	assert_int_equal(conn_index_count(ci), 0);
	/* Where it started: array_grow's first size. */
	assert_int_equal(conn_index_capacity(ci), 16);
	conn_index_free(ci);
}

/* A connection both listed and logged is one connection. */
static void test_listed_and_logged_once(void **state)
{
	struct conn_index *ci = conn_index_new(true);
	struct connctl_tuple t;
	unsigned int seed = 3;

	random_tuple(&t, &seed);
	assert_int_equal(conn_index_add(ci, 9, &t), 0);
	assert_int_equal(conn_index_add(ci, 9, &t), 0);
	assert_int_equal(conn_index_count(ci), 1);
	conn_index_remove(ci, 9);
	conn_index_remove(ci, 9);
	assert_int_equal(conn_index_count(ci), 0);
	conn_index_free(ci);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_churn),
		cmocka_unit_test(test_listed_and_logged_once),
		cmocka_unit_test(test_settle_after_peak),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
