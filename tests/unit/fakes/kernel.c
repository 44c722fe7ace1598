// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel layer, faked for the engines' unit tests: rule maps kept in a
 * list, passes that return what the test set. What the engines asked of the
 * kernel is recorded for the test to check.
 */
#include <errno.h>
#include <string.h>
#include "fakes.h"
#include "kernel/owner_walk.h"

struct fake_kernel fake_kernel;

int kernel_rule_add(struct datapath *dp, const struct connctl_rule *rule)
{
	if (fake_kernel.n_rules == FAKE_RULES_MAX)
		return -E2BIG;
	fake_kernel.rules[fake_kernel.n_rules++] = *rule;
	return 0;
}

int kernel_rule_get(struct datapath *dp, uint32_t id, struct connctl_rule *rule)
{
	for (size_t i = 0; i < fake_kernel.n_rules; i++) {
		if (fake_kernel.rules[i].id == id) {
			*rule = fake_kernel.rules[i];
			return 0;
		}
	}
	return -ENOENT;
}

int kernel_rule_del(struct datapath *dp, uint32_t id, rule_peer_fn *peers, void *ctx,
		    struct connctl_rule *rule)
{
	for (size_t i = 0; i < fake_kernel.n_rules; i++) {
		if (fake_kernel.rules[i].id == id) {
			*rule = fake_kernel.rules[i];
			fake_kernel.rules[i] = fake_kernel.rules[--fake_kernel.n_rules];
			return 0;
		}
	}
	return -ENOENT;
}

uint32_t kernel_rule_listing(const struct connctl_rule *rule)
{
	return 0;
}

int kernel_rules_read(struct datapath *dp, pinned_rule_fn *fn, void *ctx)
{
	return 0;
}

int kernel_rules_reindex(struct datapath *dp)
{
	return 0;
}

int kernel_tally_write(struct datapath *dp, uint32_t id, const struct connctl_rule_tally *tally)
{
	return 0;
}

bool fake_kernel_has(uint32_t id)
{
	for (size_t i = 0; i < fake_kernel.n_rules; i++)
		if (fake_kernel.rules[i].id == id)
			return true;
	return false;
}

int passes_apply_batch(struct datapath *dp, struct apply_batch *batch, struct pass_result *res)
{
	fake_kernel.walks++;
	memset(res, 0, sizeof(*res));
	for (uint32_t i = 0; i < batch->n; i++)
		batch->results[i] = (struct connctl_apply_result){
			.matched = fake_kernel.matched, .applied = fake_kernel.matched,
		};
	return fake_kernel.walk_err;
}

int passes_sweep(struct datapath *dp, struct pass_result *res)
{
	memset(res, 0, sizeof(*res));
	return 0;
}

int passes_sweep_in(struct datapath *dp, const uint32_t *inos, size_t n,
		    struct pass_result *res)
{
	memset(res, 0, sizeof(*res));
	fake_kernel.walked += n;
	return 0;
}

int passes_untag(struct datapath *dp, const struct connctl_rule *rule, struct pass_result *res)
{
	memset(res, 0, sizeof(*res));
	fake_kernel.untagged = rule->id;
	return 0;
}

int tags_hold_peer(struct datapath *dp, int sock_fd, bool hold)
{
	fake_kernel.held = hold;
	return 0;
}

bool datapath_watches_recv(const struct datapath *dp)
{
	return true;
}

/* No iterator: an owner index walks /proc. */
void datapath_owner_index_init(struct datapath *dp, struct owner_index *idx)
{
}
