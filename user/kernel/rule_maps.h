/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's copy of the rules: the pinned rules hash (what bpftool shows
 * and where programs read a rule's fields), the packed index of ids, the ids
 * by remote prefix that sockops and tc look up, and the pinned per-rule
 * tallies. Only this file writes them.
 */
#ifndef CONNCTL_RULE_MAPS_H
#define CONNCTL_RULE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "connctl.h"
#include "kernel/loader.h"

/*
 * The next standing rule the kernel may list beside one that leaves (by
 * kernel_rule_listing), into *id; false after the last.
 */
typedef bool rule_peer_fn(void *ctx, uint32_t *id);

int kernel_rules_open(struct datapath *dp);
/* The links (LINKS_*) its matches need on the cgroup. */
unsigned int kernel_rule_links(const struct connctl_rule *rule);
void kernel_rules_close(struct datapath *dp);
int kernel_rule_add(struct datapath *dp, const struct connctl_rule *rule);
/*
 * Rule id out of the maps, its body into *rule; -ENOENT when the rules map
 * did not hold it. peers are asked only when its bucket must list the rules
 * beside it again.
 */
int kernel_rule_del(struct datapath *dp, uint32_t id, rule_peer_fn *peers, void *ctx,
		    struct connctl_rule *rule);
/* A standing rule's body, from the rules map. */
int kernel_rule_get(struct datapath *dp, uint32_t id, struct connctl_rule *rule);
/*
 * Where the maps list a rule (its remote prefix, its one local port or its
 * cgroup), hashed: rules listed together have the same.
 */
uint32_t kernel_rule_listing(const struct connctl_rule *rule);

/* Each pinned rule, with its pinned tally (NULL: none); fn's error stops the walk. */
typedef int pinned_rule_fn(void *ctx, const struct connctl_rule *rule,
			   const struct connctl_rule_tally *tally);
int kernel_rules_read(struct datapath *dp, pinned_rule_fn *fn, void *ctx);
/* Make the index and the prefix trie list exactly the rules of the rules map. */
int kernel_rules_reindex(struct datapath *dp);
/* A rule's counts into the pinned rule_tally, so a restarted agent carries on. */
int kernel_tally_write(struct datapath *dp, uint32_t id, const struct connctl_rule_tally *tally);

#endif /* CONNCTL_RULE_MAPS_H */
