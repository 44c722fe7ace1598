// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel side's logic, run by the kernel on crafted inputs with
 * bpf_prog_test_run, beside the end-to-end tests: the rule match (prefixes,
 * port ranges, cgroup ancestry, namespace, family), the drain boundary
 * judgement, and tc's classification of crafted packets (a flow counted and
 * marked, one no rule matches cached as a miss, a reset flow's strays
 * dropped). Nothing is pinned: the objects' maps are their own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "connctl.h"
#include "logic_test.skel.h"
#include "tc.skel.h"

#define DRAIN_BUSY	(~0ULL)
#define MS		1000000ULL
#define TCP_ESTABLISHED	1
#define TCP_FIN_WAIT1	4
#define TCP_CLOSE_WAIT	8

/* As tests/bpf/logic_test.bpf.c has them. */
struct match_case {
	struct connctl_rule	rule;
	struct connctl_tuple	tuple;
	__u32			matched;
};

struct drain_view {
	__u32	snd_una, write_seq, copied_seq, rcv_nxt, snd_wl1, peer_seq, state;
	__u64	idle_ns;
};

struct judge_case {
	struct drain_view	view;
	struct connctl_sk_tag	tag;
	__u64			wait;
};

/* No pins: a test's maps must not meet the agent's. */
static void unpin(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
}

static int run_syscall(struct bpf_program *prog, void *ctx, size_t size)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx, .ctx_size_in = (__u32)size);

	return bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
}

static void v4(__u8 addr[16], const char *s)
{
	memset(addr, 0, 16);
	addr[10] = addr[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, s, addr + 12), 1);
}

static void v6(__u8 addr[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, addr), 1);
}

static struct logic_test_bpf *logic;

static int load_logic(void **state)
{
	logic = logic_test_bpf__open();
	if (!logic)
		return -1;
	unpin(logic->obj);
	return logic_test_bpf__load(logic);
}

static int unload_logic(void **state)
{
	logic_test_bpf__destroy(logic);
	return 0;
}

static bool matches(const struct connctl_rule *rule, const struct connctl_tuple *tuple)
{
	struct match_case c = { .rule = *rule, .tuple = *tuple };

	assert_int_equal(run_syscall(logic->progs.match_rule_case, &c, sizeof(c)), 0);
	return c.matched;
}

static void test_match_ports_and_prefixes(void **state)
{
	struct connctl_rule r = { .id = 1, .action = CONNCTL_ACTION_RESET,
				  .match = CONNCTL_MATCH_LPORT | CONNCTL_MATCH_REMOTE,
				  .family = CONNCTL_FAMILY_IPV4,
				  .lport = { 8000, 8100 }, .remote = { .len = 96 + 8 } };
	struct connctl_tuple t = { .lport = 8080, .rport = 40000 };

	v4(r.remote.addr, "10.0.0.0");
	v4(t.laddr, "10.9.9.9");
	v4(t.raddr, "10.1.2.3");
	assert_true(matches(&r, &t));
	t.lport = 8100;
	assert_true(matches(&r, &t));		/* a range is inclusive */
	t.lport = 8101;
	assert_false(matches(&r, &t));
	t.lport = 8000;
	v4(t.raddr, "11.0.0.1");
	assert_false(matches(&r, &t));		/* outside 10/8 */
	/* An IPv4 rule never matches an IPv6 connection. */
	v6(t.laddr, "2001:db8::1");
	v6(t.raddr, "2001:db8::2");
	assert_false(matches(&r, &t));

	r = (struct connctl_rule){ .id = 2, .action = CONNCTL_ACTION_DRAIN,
				   .match = CONNCTL_MATCH_REMOTE, .family = CONNCTL_FAMILY_IPV6,
				   .remote = { .len = 32 } };
	v6(r.remote.addr, "2001:db8::");
	assert_true(matches(&r, &t));
	v6(t.raddr, "2001:db9::2");
	assert_false(matches(&r, &t));
}

static void test_match_cgroup_and_netns(void **state)
{
	struct connctl_rule r = { .id = 3, .action = CONNCTL_ACTION_RESET,
				  .match = CONNCTL_MATCH_CGROUP | CONNCTL_MATCH_NETNS,
				  .cgroup_id = 77, .cgroup_level = 2, .netns_ino = 5 };
	struct connctl_tuple t = { .netns_ino = 5, .cgroup_ids = { 1, 20, 77, 301 } };

	v4(t.laddr, "127.0.0.1");
	v4(t.raddr, "127.0.0.1");
	/* A socket below cgroup 77 (at level 3): in its subtree. */
	assert_true(matches(&r, &t));
	t.cgroup_ids[2] = 78;
	assert_false(matches(&r, &t));		/* a sibling's subtree */
	t.cgroup_ids[2] = 0;
	assert_false(matches(&r, &t));		/* cgroups not read */
	t.cgroup_ids[2] = 77;
	t.netns_ino = 6;
	assert_false(matches(&r, &t));		/* another namespace */
}

static __u64 judge(const struct drain_view *v, enum connctl_role role, __u64 quiet_ns)
{
	struct judge_case c = { .view = *v, .tag = { .action = CONNCTL_ACTION_DRAIN,
						    .role = role, .quiet_ns = quiet_ns } };

	assert_int_equal(run_syscall(logic->progs.judge_drain_case, &c, sizeof(c)), 0);
	return c.wait;
}

static void test_drain_judgement(void **state)
{
	/* A server whose response is acked, request read, its peer quiet. */
	struct drain_view v = { .snd_una = 500, .write_seq = 500, .copied_seq = 100,
				.rcv_nxt = 100, .snd_wl1 = 100, .peer_seq = 100,
				.state = TCP_ESTABLISHED, .idle_ns = 600 * MS };
	struct drain_view w;

	assert_int_equal(judge(&v, CONNCTL_ROLE_PASSIVE, 500 * MS), 0);
	w = v;
	w.idle_ns = 100 * MS;
	assert_int_equal(judge(&w, CONNCTL_ROLE_PASSIVE, 500 * MS), 400 * MS);
	assert_int_equal(judge(&w, CONNCTL_ROLE_PASSIVE, 0), 0);	/* quiet 0 */
	w = v;
	w.snd_una = 400;		/* response not all acked */
	assert_true(judge(&w, CONNCTL_ROLE_PASSIVE, 500 * MS) == DRAIN_BUSY);
	w = v;
	w.rcv_nxt = 150;		/* a request not read yet */
	w.snd_wl1 = 150;
	assert_true(judge(&w, CONNCTL_ROLE_PASSIVE, 500 * MS) == DRAIN_BUSY);
	w = v;
	w.peer_seq = 140;		/* the final ACK carries the next request */
	assert_true(judge(&w, CONNCTL_ROLE_PASSIVE, 0) == DRAIN_BUSY);
	w.peer_seq = 60;		/* old data seen again: no request */
	assert_int_equal(judge(&w, CONNCTL_ROLE_PASSIVE, 500 * MS), 0);
	w = v;
	w.snd_wl1 = 60;			/* the peer spoke after our response */
	assert_true(judge(&w, CONNCTL_ROLE_PASSIVE, 500 * MS) == DRAIN_BUSY);
	/* A client is the mirror: the response came after its request. */
	assert_int_equal(judge(&w, CONNCTL_ROLE_ACTIVE, 500 * MS), 0);
	assert_true(judge(&v, CONNCTL_ROLE_ACTIVE, 500 * MS) == DRAIN_BUSY);
	w = v;
	w.state = TCP_CLOSE_WAIT;	/* the peer is done: at once */
	w.idle_ns = 0;
	assert_int_equal(judge(&w, CONNCTL_ROLE_PASSIVE, 500 * MS), 0);
	w.state = TCP_FIN_WAIT1;	/* closing already */
	assert_true(judge(&w, CONNCTL_ROLE_PASSIVE, 500 * MS) == DRAIN_BUSY);
}

struct settle_case {
	struct connctl_sk_tag	tag;		/* in and out */
	__u32			type;		/* in and out */
	__u64			due_ns;		/* in and out */
};

static struct settle_case settle(enum connctl_role role, bool turned, bool paused,
				 enum connctl_event_type type, __u64 due_ns)
{
	struct settle_case c = { .tag = { .action = CONNCTL_ACTION_DRAIN, .role = role,
					  .first_turn_ns = turned ? 1 : 0, .paused = paused },
				 .type = type, .due_ns = due_ns };

	assert_int_equal(run_syscall(logic->progs.settle_drain_case, &c, sizeof(c)), 0);
	return c;
}

/* What a boundary means for a server, by the turns it has taken. */
static void test_drain_turns(void **state)
{
	struct settle_case c;

	/* A server that took turns and never paused: closed now (the agent decides). */
	c = settle(CONNCTL_ROLE_PASSIVE, true, false, CONNCTL_EV_BOUNDARY, 400 * MS);
	assert_int_equal(c.type, CONNCTL_EV_READY);
	assert_int_equal(c.due_ns, 0);
	assert_true(c.tag.at_boundary && !c.tag.closing_ns);
	/* No turn yet, or a pause seen mid-answer: the quiet rule holds. */
	c = settle(CONNCTL_ROLE_PASSIVE, false, false, CONNCTL_EV_BOUNDARY, 400 * MS);
	assert_int_equal(c.type, CONNCTL_EV_BOUNDARY);
	assert_int_equal(c.due_ns, 400 * MS);
	assert_true(c.tag.at_boundary && !c.tag.closing_ns);
	c = settle(CONNCTL_ROLE_PASSIVE, true, true, CONNCTL_EV_BOUNDARY, 400 * MS);
	assert_int_equal(c.type, CONNCTL_EV_BOUNDARY);
	assert_false(c.tag.closing_ns);
	c = settle(CONNCTL_ROLE_PASSIVE, false, false, CONNCTL_EV_READY, 0);
	assert_int_equal(c.type, CONNCTL_EV_READY);
	/* Busy: nothing changes. A client's drain keeps the quiet rule. */
	c = settle(CONNCTL_ROLE_PASSIVE, true, false, CONNCTL_EV_TAGGED, 0);
	assert_int_equal(c.type, CONNCTL_EV_TAGGED);
	assert_false(c.tag.closing_ns || c.tag.at_boundary);
	c = settle(CONNCTL_ROLE_ACTIVE, true, false, CONNCTL_EV_BOUNDARY, 400 * MS);
	assert_int_equal(c.type, CONNCTL_EV_BOUNDARY);
	assert_false(c.tag.closing_ns);
}

/* --- tc on crafted packets --- */

struct pkt {
	struct ethhdr	eth;
	struct iphdr	ip;
	struct tcphdr	tcp;
	char		payload[10];
} __attribute__((packed));

static struct pkt packet(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			 bool rst)
{
	struct pkt p = { 0 };

	p.eth.h_proto = htons(ETH_P_IP);
	p.ip.version = 4;
	p.ip.ihl = 5;
	p.ip.ttl = 64;
	p.ip.protocol = IPPROTO_TCP;
	p.ip.tot_len = htons(sizeof(p) - sizeof(p.eth));
	inet_pton(AF_INET, src, &p.ip.saddr);
	inet_pton(AF_INET, dst, &p.ip.daddr);
	p.tcp.source = htons(sport);
	p.tcp.dest = htons(dport);
	p.tcp.doff = 5;
	p.tcp.ack = 1;
	p.tcp.rst = rst;
	return p;
}

/* Ingress through connctl_tc_in: the verdict, and the skb mark it left. */
static int ingress(struct tc_bpf *tc, struct pkt *p, __u32 *mark)
{
	struct __sk_buff skb = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p, .data_size_in = sizeof(*p),
		    .ctx_in = &skb, .ctx_size_in = sizeof(skb),
		    .ctx_out = &skb, .ctx_size_out = sizeof(skb));

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(tc->progs.connctl_tc_in),
						&opts), 0);
	*mark = skb.mark;
	return (int)opts.retval;
}

/*
 * A standing rule, as the agent puts it in the maps: the rules map, the
 * index, and its listing: by local port for one port and no remote prefix,
 * else under ::/0.
 */
static void stand(struct tc_bpf *tc, struct connctl_rule_index *index,
		  const struct connctl_rule *rule)
{
	struct connctl_lpm_key key = { .prefixlen = 0 };
	struct connctl_rule_bucket b = { .prefixlen = 0 };
	bool by_port = (rule->match & CONNCTL_MATCH_LPORT) && rule->lport.min == rule->lport.max;
	__u32 id = rule->id, port = rule->lport.min;
	struct bpf_map *map = by_port ? tc->maps.rule_ports : tc->maps.rule_lpm;
	const void *k = by_port ? (const void *)&port : (const void *)&key;
	size_t ksize = by_port ? sizeof(port) : sizeof(key);

	assert_int_equal(bpf_map__update_elem(tc->maps.rules, &id, sizeof(id), rule,
					      sizeof(*rule), BPF_ANY), 0);
	bpf_map__lookup_elem(map, k, ksize, &b, sizeof(b), 0);
	if (b.count < CONNCTL_BUCKET_IDS)
		b.ids[b.count] = id;
	b.count++;
	assert_int_equal(bpf_map__update_elem(map, k, ksize, &b, sizeof(b), BPF_ANY), 0);
	index->ids[index->count++] = id;
	index->gen++;
}

static void test_tc_classify(void **state)
{
	struct connctl_rule observe = { .id = 1, .action = CONNCTL_ACTION_OBSERVE,
					.match = CONNCTL_MATCH_LPORT, .lport = { 8080, 8080 },
					.mark = 42 };
	struct connctl_rule reset = { .id = 2, .action = CONNCTL_ACTION_RESET,
				      .match = CONNCTL_MATCH_LPORT, .lport = { 7070, 7070 } };
	struct connctl_flow_key key = { .lport = 8080, .rport = 40000 };
	size_t len = (sizeof(struct connctl_rule_index) + 4095) / 4096 * 4096;
	struct connctl_flow flow;
	struct connctl_rule_index *index;
	struct tc_bpf *tc;
	struct pkt p;
	__u32 mark, gen;

	tc = tc_bpf__open();
	assert_non_null(tc);
	unpin(tc->obj);
	assert_int_equal(tc_bpf__load(tc), 0);
	index = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     bpf_map__fd(tc->maps.rule_index), 0);
	assert_true(index != MAP_FAILED);
	stand(tc, index, &observe);
	stand(tc, index, &reset);

	/* A flow of the observe rule: passed, marked, counted. */
	p = packet("10.0.0.2", 40000, "10.0.0.1", 8080, false);
	assert_int_equal(ingress(tc, &p, &mark), 0);
	assert_int_equal(mark, 42);
	v4(key.laddr, "10.0.0.1");
	v4(key.raddr, "10.0.0.2");
	assert_int_equal(bpf_map__lookup_elem(tc->maps.flows, &key, sizeof(key), &flow,
					      sizeof(flow), 0), 0);
	assert_int_equal(flow.rule_id, 1);
	assert_int_equal(flow.packets_in, 1);

	/* No rule: passed unmarked, and remembered as a miss for this gen. */
	p = packet("10.0.0.2", 40001, "10.0.0.1", 9090, false);
	assert_int_equal(ingress(tc, &p, &mark), 0);
	assert_int_equal(mark, 0);
	key.lport = 9090;
	key.rport = 40001;
	assert_int_equal(bpf_map__lookup_elem(tc->maps.flow_miss, &key, sizeof(key), &gen,
					      sizeof(gen), 0), 0);
	assert_int_equal(gen, index->gen);

	/* A reset rule's flow: its RST passes, the strays after it are dropped. */
	p = packet("10.0.0.2", 40002, "10.0.0.1", 7070, true);
	assert_int_equal(ingress(tc, &p, &mark), 0);
	p = packet("10.0.0.2", 40002, "10.0.0.1", 7070, false);
	assert_int_equal(ingress(tc, &p, &mark), 2);	/* TC_ACT_SHOT */
	key.lport = 7070;
	key.rport = 40002;
	assert_int_equal(bpf_map__lookup_elem(tc->maps.flows, &key, sizeof(key), &flow,
					      sizeof(flow), 0), 0);
	assert_int_equal(flow.state, CONNCTL_FLOW_RESET);
	assert_int_equal(flow.dropped, 1);

	/*
	 * A thousand rules of one port each: each found through its port, so
	 * the right one marks its flow (a walk of all would find it too, but
	 * ::/0 lists none of them: no rule is under it).
	 */
	for (__u32 i = 0; i < 1000; i++) {
		struct connctl_rule r = { .id = 100 + i, .action = CONNCTL_ACTION_OBSERVE,
					  .match = CONNCTL_MATCH_LPORT,
					  .lport = { (__u16)(20000 + i), (__u16)(20000 + i) },
					  .mark = 5000 + i };

		stand(tc, index, &r);
	}
	p = packet("10.0.0.2", 40003, "10.0.0.1", 20777, false);
	assert_int_equal(ingress(tc, &p, &mark), 0);
	assert_int_equal(mark, 5777);
	p = packet("10.0.0.2", 40004, "10.0.0.1", 21000, false);
	assert_int_equal(ingress(tc, &p, &mark), 0);
	assert_int_equal(mark, 0);

	munmap(index, len);
	tc_bpf__destroy(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_ports_and_prefixes),
		cmocka_unit_test(test_match_cgroup_and_netns),
		cmocka_unit_test(test_drain_judgement),
		cmocka_unit_test(test_drain_turns),
		cmocka_unit_test(test_tc_classify),
	};

	return cmocka_run_group_tests_name("bpf_logic", tests, load_logic, unload_logic);
}
