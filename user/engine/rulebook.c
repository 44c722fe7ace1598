// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/clock.h"
#include "base/log.h"
#include "base/loop.h"
#include "engine/rulebook.h"
#include "kernel/loader.h"
#include "kernel/rule_maps.h"

/* Long ttls are checked at least this often (epoll takes an int of ms). */
#define EXPIRY_CHECK_MAX_MS	60000
/* A failing state file is logged when it starts failing, then this often. */
#define STATE_FAIL_LOG_NS	(60 * NSEC_PER_SEC)

/* --- per-rule counts, from the bus --- */

static void pending_done(struct rule_entry *e)
{
	struct rule_stats *s = e->extra ? &e->extra->stats : NULL;

	if (s && s->pending)
		s->pending--;
}

static void count(struct bus_sink *sink, const struct bus_event *ev)
{
	struct rulebook *rb = container_of(sink, struct rulebook, sink);
	struct rule_entry *e = rule_table_find(&rb->rules, ev->rule_id);
	struct rule_stats *s;

	if (!e)
		return;
	switch (ev->kind) {
	case BUS_RULE_ADDED:
		/* Most rules match nothing: they keep no counts. */
		if (!ev->added.matched && !ev->added.reset && !ev->added.shut && !e->extra)
			break;
		s = rule_stats_edit(&rb->rules, e);
		if (!s)
			break;
		s->matched = ev->added.matched;
		s->closed[CLOSE_RST] += ev->added.reset;
		s->closed[CLOSE_FIN] += ev->added.shut;
		break;
	case BUS_MATCHED_NEW:
		s = rule_stats_edit(&rb->rules, e);
		if (s)
			s->new_matches++;
		break;
	case BUS_TAGGED:
		s = rule_stats_edit(&rb->rules, e);
		if (s)
			s->pending++;
		break;
	case BUS_CLOSED:
		s = rule_stats_edit(&rb->rules, e);
		if (s && ev->closed.rec->outcome < NR_CLOSE_OUTCOMES)
			s->closed[ev->closed.rec->outcome]++;
		if (ev->closed.was_waiting)
			pending_done(e);
		break;
	case BUS_ENDED:
		s = rule_stats_edit(&rb->rules, e);
		if (s)
			s->ended++;
		pending_done(e);
		break;
	case BUS_FORGOTTEN:
		pending_done(e);
		break;
	default:
		break;
	}
}

static bool counts(struct bus_sink *s, enum bus_kind kind, uint32_t rule_id)
{
	return kind != BUS_RULE_REMOVED && kind != BUS_STATE_FILE && kind != BUS_EVENTS_LOST;
}

void rulebook_init(struct rulebook *rb, struct datapath *dp, struct netns_set *netns,
		   struct bus *bus, const char *state_file, uint32_t max_rules)
{
	memset(rb, 0, sizeof(*rb));
	rb->sink = (struct bus_sink){ .wants = counts, .emit = count };
	rb->dp = dp;
	rb->netns = netns;
	rb->bus = bus;
	rb->state_file = state_file;
	rb->max_rules = max_rules;
	state_journal_init(&rb->journal);
	bus_subscribe(bus, &rb->sink);
}

void rulebook_close(struct rulebook *rb)
{
	bus_unsubscribe(rb->bus, &rb->sink);
	rule_table_free(&rb->rules);
	path_pool_free(&rb->paths);
	free(rb->batch.by_netns);
	rb->batch.by_netns = NULL;
	state_journal_close(&rb->journal);
}

/* --- the state file --- */

int rulebook_spec(const struct rulebook *rb, const struct rule_entry *e, struct rule_spec *spec)
{
	int err = kernel_rule_get(rb->dp, e->id, &spec->rule);

	if (err) {
		pr_warn("rule %u: cannot read it from the rules map: %s", e->id, strerror(-err));
		return err;
	}
	rule_entry_spec(e, spec);
	return 0;
}

static int spec_at(void *ctx, size_t i, struct rule_spec *spec)
{
	const struct rulebook *rb = ctx;

	return rulebook_spec(rb, &rb->rules.v[i], spec);
}

/*
 * What changed reaches the disk (the state file's journal, with one
 * fdatasync for every change since the last commit). 0, or -errno when the
 * changes are not durable: then nothing that needs them may be acknowledged.
 */
static int commit_state(struct rulebook *rb)
{
	struct bus_event ev = { .kind = BUS_STATE_FILE };
	bool was_failing = rb->state_logged_ns != 0;
	uint64_t now;
	int err;

	if (!rb->state_file[0] || !rb->journal.dirty)
		return 0;
	err = state_commit(&rb->journal, rb->state_file, &(struct rule_source){
		.n = rb->rules.n, .last_id = rb->rules.last_id, .get = spec_at, .ctx = rb });
	ev.state_ok = !err;
	bus_emit(rb->bus, &ev);
	if (!err) {
		if (was_failing)
			pr_info("state file %s: written again", rb->state_file);
		rb->state_logged_ns = 0;
		return 0;
	}
	now = monotonic_ns();
	if (!was_failing || now - rb->state_logged_ns >= STATE_FAIL_LOG_NS) {
		pr_warn("cannot write the state file %s: %s; changes are refused "
			"(not_durable) until it can be written", rb->state_file,
			strerror(-err));
		rb->state_logged_ns = now;
	}
	return err;
}

_Static_assert(NR_CLOSE_OUTCOMES == sizeof(((struct connctl_rule_tally *)0)->closed) /
	       sizeof(((struct connctl_rule_tally *)0)->closed[0]),
	       "connctl_rule_tally.closed has one count per close outcome");

static void tally_from_stats(struct connctl_rule_tally *t, const struct rule_stats *s)
{
	t->matched = s->matched;
	t->new_matches = s->new_matches;
	for (int o = 0; o < NR_CLOSE_OUTCOMES; o++)
		t->closed[o] = s->closed[o];
	t->ended = s->ended;
}

static void stats_from_tally(struct rule_stats *s, const struct connctl_rule_tally *t)
{
	s->matched = t->matched;
	s->new_matches = t->new_matches;
	for (int o = 0; o < NR_CLOSE_OUTCOMES; o++)
		s->closed[o] = t->closed[o];
	s->ended = t->ended;
}

/* The counts that changed, into the pinned rule_tally: a restarted agent carries on. */
static void save_tallies(struct rulebook *rb)
{
	struct rule_table *t = &rb->rules;
	struct connctl_rule_tally tally;

	/* Most turns change no count: skip the walk of up to 131,072 rules. */
	if (!t->stats_dirty)
		return;
	t->stats_dirty = false;
	for (size_t i = 0; i < t->n; i++) {
		struct rule_entry *e = &t->v[i];

		if (!e->stats_dirty)
			continue;
		tally_from_stats(&tally, rule_stats_of(e));
		if (kernel_tally_write(rb->dp, e->id, &tally))
			t->stats_dirty = true;	/* try again next turn */
		else
			e->stats_dirty = false;
	}
}

void rulebook_save(struct rulebook *rb)
{
	save_tallies(rb);
	commit_state(rb);
}

/* --- in and out of force --- */

static void publish_removed(struct rulebook *rb, const struct connctl_rule *rule,
			    enum rule_removal why)
{
	struct bus_event ev = { .kind = BUS_RULE_REMOVED, .rule_id = rule->id,
				.action = rule->action, .rule = rule, .removed = why };

	bus_emit(rb->bus, &ev);
}

static int rule_install(struct rulebook *rb, const struct rule_spec *spec)
{
	int err;

	if (!rule_table_insert(&rb->rules, spec, kernel_rule_listing(&spec->rule)))
		return -ENOMEM;
	err = kernel_rule_add(rb->dp, &spec->rule);
	if (err)
		rule_table_remove(&rb->rules, spec->rule.id);
	return err;
}

/* The standing rules listed where a leaving one was: those of its listing hash. */
struct listing_peers {
	const struct rule_table	*rules;
	uint32_t		listing;
	size_t			next;
};

static bool next_peer(void *ctx, uint32_t *id)
{
	struct listing_peers *p = ctx;

	for (; p->next < p->rules->n; p->next++) {
		if (p->rules->v[p->next].listing != p->listing)
			continue;
		*id = p->rules->v[p->next++].id;
		return true;
	}
	return false;
}

/* Out of the table and the kernel's maps; its body into *rule. */
static int rule_uninstall(struct rulebook *rb, uint32_t id, struct connctl_rule *rule)
{
	struct rule_entry *e = rule_table_find(&rb->rules, id);
	struct listing_peers peers = { .rules = &rb->rules };

	if (!e)
		return -ENOENT;
	peers.listing = e->listing;
	rule_table_remove(&rb->rules, id);
	return kernel_rule_del(rb->dp, id, next_peer, &peers, rule);
}

/*
 * A rule into force, in two steps: standing at once (a `once` rule never
 * stands), then applied to the connections that exist now by one walk for
 * every rule added in this turn of the event loop (rulebook_apply). New
 * connections meet the standing rule in sockops, so none slips between.
 */
static int rule_stand(struct rulebook *rb, const struct rule_spec *spec)
{
	if (spec->rule.flags & CONNCTL_RULE_ONCE) {
		rule_table_claim_id(&rb->rules, spec->rule.id);
		return 0;
	}
	return rule_install(rb, spec);
}

/* The rule out of force; its removal is in the journal already when noted. */
static void remove_rule(struct rulebook *rb, uint32_t id, enum rule_removal why, bool noted)
{
	const struct rule_entry *e = rule_table_find(&rb->rules, id);
	struct connctl_rule rule;

	if (!e)
		return;
	if (rule_cgroup_path(e))
		rb->paths_kept = SIZE_MAX;	/* its path may be free now */
	if (!(e->flags & CONNCTL_RULE_FROM_DIR) && !noted)
		state_note_del(&rb->journal, id);
	if (!rule_uninstall(rb, id, &rule))
		publish_removed(rb, &rule, why);
}

void rulebook_remove(struct rulebook *rb, uint32_t id, enum rule_removal why)
{
	remove_rule(rb, id, why, false);
}

int rulebook_delete(struct rulebook *rb, uint32_t id, const struct requester *who,
		    struct proto_error *err)
{
	const struct rule_entry *e = rule_table_find(&rb->rules, id);
	int ret;

	if (!e)
		return proto_fail(err, PROTO_UNKNOWN_RULE, "no rule with id %u", id);
	if (e->flags & CONNCTL_RULE_FROM_DIR)
		return proto_fail(err, PROTO_BAD_REQUEST, "rule %u comes from --rules-dir: "
				  "remove it from the files there", id);
	/* On disk first: a deletion that would not survive a reboot is refused. */
	state_note_del(&rb->journal, id);
	ret = commit_state(rb);
	if (ret)
		return proto_fail(err, PROTO_NOT_DURABLE, "rule %u not deleted: the state file "
				  "%s cannot be written (%s); it stands", id, rb->state_file,
				  strerror(-ret));
	remove_rule(rb, id, REMOVED_DELETED, true);
	pr_info("rule %u deleted by pid %d uid %u", id, who->pid, who->uid);
	return 0;
}

/* Milliseconds from now until at, rounded up, at most EXPIRY_CHECK_MAX_MS. */
static int expiry_timeout_ms(uint64_t at, uint64_t now)
{
	/* Round up: waking a little late beats spinning on an early wake. */
	uint64_t ms = (at - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;

	return ms > EXPIRY_CHECK_MAX_MS ? EXPIRY_CHECK_MAX_MS : (int)ms;
}

/* Every turn of the loop: the rules are looked at only when one may expire. */
int rulebook_expire(struct rulebook *rb)
{
	uint64_t now = realtime_ns(), next = 0;

	if (!rb->rules.expiry_bound_ns)
		return -1;
	if (now < rb->rules.expiry_bound_ns)
		return expiry_timeout_ms(rb->rules.expiry_bound_ns, now);
	for (size_t i = rb->rules.n; i-- > 0;) {
		uint64_t expires_ns = rule_expires_ns(&rb->rules.v[i]);

		if (!expires_ns)
			continue;
		if (expires_ns <= now) {
			uint32_t id = rb->rules.v[i].id;

			pr_info("rule %u expired (ttl)", id);
			/* Expired, not deleted: what it tagged still drains. */
			remove_rule(rb, id, REMOVED_EXPIRED, false);
		} else if (!next || expires_ns < next) {
			next = expires_ns;
		}
	}
	rb->rules.expiry_bound_ns = next;
	if (!next)
		return -1;
	return expiry_timeout_ms(next, now);
}

/* --- adds: queued, made durable, applied by one walk --- */

bool rulebook_adds_full(const struct rulebook *rb)
{
	return rb->n_adds >= CONNCTL_APPLY_BATCH;
}

static bool id_pending(const struct rulebook *rb, uint32_t id)
{
	for (uint32_t i = 0; i < rb->n_adds; i++)
		if (rb->adds[i].spec.rule.id == id)
			return true;
	return false;
}

static bool refused(const struct pending_add *add)
{
	return add->error.code != PROTO_OK;
}

/* Checks, an id, standing: 0, or -EINVAL with the answer in err. */
static int add_check(struct rulebook *rb, struct rule_spec *spec, struct proto_error *err)
{
	struct connctl_rule *rule = &spec->rule;
	int ret;

	if (rule->id && (rule_table_find(&rb->rules, rule->id) || id_pending(rb, rule->id)))
		return proto_fail(err, PROTO_DUPLICATE_ID, "rule %u exists already", rule->id);
	if (!(rule->flags & CONNCTL_RULE_ONCE) && rb->rules.n >= rb->max_rules)
		return proto_fail(err, PROTO_TOO_MANY_RULES, "%zu rules stand already, the "
				  "limit (--max-rules)", rb->rules.n);
	if (!rule->id)
		rule->id = rule_table_next_id(&rb->rules);
	if (!rule->id)
		return proto_fail(err, PROTO_TOO_MANY_RULES, "rule ids are exhausted");
	if (spec->ttl_ns)
		rule->expires_ns = realtime_ns() + spec->ttl_ns;
	ret = rule_stand(rb, spec);
	if (ret)
		return proto_fail(err, ret == -E2BIG ? PROTO_TOO_MANY_RULES : PROTO_INTERNAL,
				  "cannot put rule %u in force: %s", rule->id, strerror(-ret));
	/* The directory, not the state file, brings its rules back. */
	if (rule->flags & (CONNCTL_RULE_ONCE | CONNCTL_RULE_FROM_DIR))
		state_note_last_id(&rb->journal, rule->id);
	else
		state_note_add(&rb->journal, spec);
	return 0;
}

uint32_t rulebook_queue_add(struct rulebook *rb, const struct rule_spec *spec,
			    const struct requester *who, add_done_fn *done, void *ctx)
{
	struct pending_add *add = &rb->adds[rb->n_adds];
	int err;

	*add = (struct pending_add){ .spec = *spec, .done = done, .ctx = ctx };
	if (who)
		add->who = *who;
	/* Checked before it is queued: it must not find itself pending. */
	err = add_check(rb, &add->spec, &add->error);
	rb->n_adds++;
	return err ? 0 : add->spec.rule.id;
}

void rulebook_forget_waiter(struct rulebook *rb, const void *ctx)
{
	for (uint32_t i = 0; i < rb->n_adds; i++)
		if (rb->adds[i].ctx == ctx)
			rb->adds[i].done = NULL;
}

/* A rule the state file must hold before it is acknowledged. */
static bool add_needs_disk(const struct pending_add *add)
{
	return !refused(add) && !add->restored &&
	       !(add->spec.rule.flags & (CONNCTL_RULE_ONCE | CONNCTL_RULE_FROM_DIR));
}

/*
 * The batch's rules into the state file before the walk acts on anything:
 * those that cannot be made durable are refused and taken out of force,
 * and no connection is touched for them.
 */
static void commit_adds(struct rulebook *rb)
{
	int err = commit_state(rb);

	if (!err)
		return;
	for (uint32_t i = 0; i < rb->n_adds; i++) {
		struct pending_add *add = &rb->adds[i];

		if (!add_needs_disk(add))
			continue;
		rule_uninstall(rb, add->spec.rule.id, &(struct connctl_rule){});
		proto_fail(&add->error, PROTO_NOT_DURABLE, "rule %u not added: the state file "
			   "%s cannot be written (%s); nothing changed", add->spec.rule.id,
			   rb->state_file, strerror(-err));
	}
}

static void log_added(const struct pending_add *add, uint64_t matched)
{
	const struct connctl_rule *rule = &add->spec.rule;

	if (add->restored)
		pr_debug("rule %u restored: matched %llu", rule->id,
			 (unsigned long long)matched);
	else if (rule->flags & CONNCTL_RULE_FROM_DIR)
		pr_info("rule %u added (%s) from --rules-dir: matched %llu", rule->id,
			rule_action_name(rule->action, rule->flags), (unsigned long long)matched);
	else
		pr_info("rule %u added (%s%s) by pid %d uid %u: matched %llu", rule->id,
			rule_action_name(rule->action, rule->flags), rule->flags & CONNCTL_RULE_ONCE ? ", once" : "",
			add->who.pid, add->who.uid, (unsigned long long)matched);
}

/* The walk's outcome for one rule of the batch: published, and its answer. */
static void applied(struct rulebook *rb, struct pending_add *add,
		    const struct connctl_apply_result *res, struct add_result *out)
{
	const struct connctl_rule *rule = &add->spec.rule;
	uint64_t matched = res->matched - res->failed;
	struct bus_event ev = {
		.kind = BUS_RULE_ADDED, .rule_id = rule->id, .action = rule->action,
		.added = { .spec = &add->spec, .matched = matched,
			   .restored = add->restored },
	};

	if (res->failed)
		pr_warn("rule %u: %llu matched connections could not be closed",
			rule->id, (unsigned long long)res->failed);
	if (rule->action == CONNCTL_ACTION_RESET)
		ev.added.reset = res->applied - res->failed;
	/* A TCP cancel closes through the drainer, which reports each close. */
	else if (rule->action == CONNCTL_ACTION_CANCEL && rule->proto == CONNCTL_PROTO_UDP)
		ev.added.shut = res->applied - res->failed;
	bus_emit(rb->bus, &ev);
	log_added(add, matched);
	out->matched = matched;
	out->failed = res->failed;
	out->by_netns = rb->batch.by_netns;
	out->n_by_netns = rb->batch.n_by_netns;
	out->slot = add->slot;
}

/* The walk failed: the rule does not stand. */
static void not_applied(struct rulebook *rb, struct pending_add *add, int err)
{
	const struct connctl_rule *rule = &add->spec.rule;

	if (!(rule->flags & CONNCTL_RULE_ONCE)) {
		rule_uninstall(rb, rule->id, &(struct connctl_rule){});
		state_note_del(&rb->journal, rule->id);
	}
	proto_fail(&add->error, PROTO_INTERNAL, "cannot put rule %u in force: %s", rule->id,
		   strerror(-err));
}

int rulebook_apply(struct rulebook *rb)
{
	struct apply_batch *batch = &rb->batch;
	struct pass_result res;
	int err = 0;

	if (!rb->n_adds)
		return 0;
	commit_adds(rb);
	batch->n = 0;
	for (uint32_t i = 0; i < rb->n_adds; i++) {
		if (refused(&rb->adds[i]))
			continue;
		rb->adds[i].slot = batch->n;
		batch->rules[batch->n++] = rb->adds[i].spec.rule;
	}
	if (batch->n)
		err = passes_apply_batch(rb->dp, batch, &res);
	for (uint32_t i = 0; i < rb->n_adds; i++) {
		struct pending_add *add = &rb->adds[i];
		struct add_result out = { .spec = &add->spec };

		if (!refused(add) && err)
			not_applied(rb, add, err);
		if (!refused(add))
			applied(rb, add, &batch->results[add->slot], &out);
		out.error = add->error;
		if (add->done)
			add->done(add->ctx, &out);
	}
	rb->n_adds = 0;
	return err;
}

static int ptr_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;

	return x < y ? -1 : x > y;
}

struct paths_used {
	const char	**v;
	size_t		n;
};

static bool path_used(void *ctx, const char *path)
{
	const struct paths_used *u = ctx;

	return bsearch(&path, u->v, u->n, sizeof(*u->v), ptr_cmp) != NULL;
}

void rulebook_collect_paths(struct rulebook *rb)
{
	struct paths_used used = { 0 };

	/* Paths come with parses (requests, files, dry runs); only then is there any to free. */
	if (rb->paths.n == rb->paths_kept)
		return;
	used.v = malloc((rb->rules.n ? rb->rules.n : 1) * sizeof(*used.v));
	if (!used.v)
		return;
	for (size_t i = 0; i < rb->rules.n; i++)
		if (rule_cgroup_path(&rb->rules.v[i]))
			used.v[used.n++] = rule_cgroup_path(&rb->rules.v[i]);
	qsort(used.v, used.n, sizeof(*used.v), ptr_cmp);
	path_pool_collect(&rb->paths, path_used, &used);
	rb->paths_kept = rb->paths.n;
	free(used.v);
}

/* --- start: adopted from the pins, or restored from the state file --- */

/* One pinned rule into the table, its counts carried over. */
static int adopt_one(void *ctx, const struct connctl_rule *rule,
		     const struct connctl_rule_tally *tally)
{
	static const struct connctl_rule_tally zero;
	struct rulebook *rb = ctx;
	struct rule_spec spec = { .rule = *rule };
	struct rule_entry *e = rule_table_insert(&rb->rules, &spec, kernel_rule_listing(rule));
	struct rule_stats *s;

	if (!e)
		return -ENOMEM;
	if (!tally || !memcmp(tally, &zero, sizeof(zero)))
		return 0;
	s = rule_stats_edit(&rb->rules, e);
	if (!s)
		return -ENOMEM;
	stats_from_tally(s, tally);
	e->stats_dirty = false;		/* the tally holds them already */
	return 0;
}

int rulebook_adopt(struct rulebook *rb)
{
	int err = kernel_rules_read(rb->dp, adopt_one, rb);

	if (!err)
		err = kernel_rules_reindex(rb->dp);
	if (!err && rb->rules.n)
		pr_info("adopted %zu standing rules from the pins", rb->rules.n);
	return err;
}

/* One rule of the state file, standing again with its id and expiry. */
static int restore_rule(struct rulebook *rb, const struct rule_spec *spec)
{
	int err;

	if (rule_table_find(&rb->rules, spec->rule.id) || id_pending(rb, spec->rule.id))
		return -EEXIST;
	if (rulebook_adds_full(rb)) {
		err = rulebook_apply(rb);
		if (err)
			return err;
	}
	err = rule_stand(rb, spec);
	if (err)
		return err;
	rb->adds[rb->n_adds++] = (struct pending_add){ .spec = *spec, .restored = true };
	return 0;
}

/* The pins are what is in force: the file follows them. */
static void follow_pins(struct rulebook *rb, int err, const struct state_loaded *st,
			const char *msg)
{
	if (!err)
		rule_table_claim_id(&rb->rules, st->last_id);
	else if (err != -ENOENT)
		pr_warn("state file %s: rewritten from the pinned rules",
			err == -EINVAL ? msg : strerror(-err));
	state_note_rewrite(&rb->journal);
}

int rulebook_restore(struct rulebook *rb)
{
	const char *path = rb->state_file;
	uint64_t now = realtime_ns();
	struct state_loaded st;
	size_t restored = 0;
	char msg[512];
	int err;

	if (!path[0])
		return 0;
	err = state_load(path, &rb->paths, &st, msg, sizeof(msg));
	if (!err && st.torn)
		pr_warn("state file %s", msg);
	if (rb->rules.n) {
		follow_pins(rb, err, &st, msg);
		if (!err)
			free(st.specs);
		return 0;
	}
	if (err == -ENOENT)
		return 0;
	if (err == -EINVAL) {
		pr_warn("state file %s; fix or remove it (the rules in it are not in force)",
			msg);
		return err;
	}
	if (err) {
		pr_warn("cannot read the state file %s: %s", path, strerror(-err));
		return err;
	}
	rule_table_claim_id(&rb->rules, st.last_id);
	for (size_t i = 0; i < st.n && !err; i++) {
		const struct rule_spec *spec = &st.specs[i];

		if (spec->rule.expires_ns && spec->rule.expires_ns <= now) {
			pr_info("rule %u expired while the agent was down (ttl)", spec->rule.id);
			continue;
		}
		err = restore_rule(rb, spec);
		if (err)
			pr_warn("state file %s: cannot restore rule %u: %s", path,
				spec->rule.id, strerror(-err));
		else
			restored++;
	}
	free(st.specs);
	/* Applied to what exists now, as rules added over the socket are. */
	if (!err)
		err = rulebook_apply(rb);
	if (err)
		return err;
	if (restored)
		pr_info("restored %zu rules from %s", restored, path);
	state_note_rewrite(&rb->journal);
	return 0;
}
