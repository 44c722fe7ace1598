// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF logic of connctl, run by bpf_prog_test_run on crafted inputs
 * (tests/unit/test_bpf_logic.c): the rule match (prefixes, port ranges,
 * cgroup ancestry, namespace) and the drain boundary judgement, the very
 * functions sockops, the iterator and tc use. Syscall programs: their
 * context is the test's own struct, in and out.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "drain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct match_case {
	struct connctl_rule	rule;
	struct connctl_tuple	tuple;
	__u32			matched;	/* out */
};

struct judge_case {
	struct drain_view	view;
	struct connctl_sk_tag	tag;
	__u64			wait;		/* out */
};

/* The context is copied to the stack first: only fixed offsets may read it. */
SEC("syscall")
int match_rule_case(struct match_case *ctx)
{
	struct connctl_rule rule;
	struct connctl_tuple tuple;

	__builtin_memcpy(&rule, &ctx->rule, sizeof(rule));
	__builtin_memcpy(&tuple, &ctx->tuple, sizeof(tuple));
	ctx->matched = rule_matches(&rule, &tuple);
	return 0;
}

SEC("syscall")
int judge_drain_case(struct judge_case *ctx)
{
	struct drain_view view;
	struct connctl_sk_tag tag;

	__builtin_memcpy(&view, &ctx->view, sizeof(view));
	__builtin_memcpy(&tag, &ctx->tag, sizeof(tag));
	ctx->wait = drain_judge(&view, &tag);
	return 0;
}

struct settle_case {
	struct connctl_sk_tag	tag;
	__u32			type;
	__u64			due_ns;
};

SEC("syscall")
int settle_drain_case(struct settle_case *ctx)
{
	struct connctl_sk_tag tag;
	__u64 due = ctx->due_ns;

	__builtin_memcpy(&tag, &ctx->tag, sizeof(tag));
	ctx->type = drain_settle(&tag, ctx->type, &due);
	ctx->due_ns = due;
	__builtin_memcpy(&ctx->tag, &tag, sizeof(tag));
	return 0;
}
