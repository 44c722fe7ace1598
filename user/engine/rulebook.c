// SPDX-License-Identifier: GPL-2.0
/* Where requests are carried out: rules added, removed and shown. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/clock.h"
#include "agent.h"
#include "kernel/passes.h"
#include "kernel/flows.h"
#include "kernel/rule_maps.h"
#include "sys/owner.h"
#include "base/parse.h"
#include "sys/sock_diag.h"
#include "engine/journal.h"

/* Long ttls are checked at least this often (epoll takes an int of ms). */
#define EXPIRY_CHECK_MAX_MS	60000

static json_t *stats_to_json(const struct rule_stats *s)
{
	json_t *closed = json_object();

	for (int o = 0; o < NR_CLOSE_OUTCOMES; o++)
		json_object_set_new(closed, close_outcome_name(o),
				    json_integer((json_int_t)s->closed[o]));
	return json_pack("{s:I, s:I, s:o, s:I, s:I}",
			 "matched", (json_int_t)s->matched,
			 "new_matches", (json_int_t)s->new_matches,
			 "closed", closed,
			 "ended", (json_int_t)s->ended,
			 "pending", (json_int_t)s->pending);
}

static json_t *rule_entry_to_json(const struct rule_entry *e, uint64_t now)
{
	json_t *obj = rule_spec_to_json(&e->spec);
	uint64_t expires = e->spec.rule.expires_ns;

	if (expires)
		json_object_set_new(obj, "expires_in_ms",
				    json_integer(expires > now ?
						 (json_int_t)((expires - now) / NSEC_PER_MSEC) : 0));
	if (e->spec.rule.flags & CONNCTL_RULE_FROM_DIR)
		json_object_set_new(obj, "from_rules_dir", json_true());
	json_object_set_new(obj, "stats", stats_to_json(&e->stats));
	return obj;
}

static int rule_install(struct agent *agent, const struct rule_spec *spec)
{
	int err;

	if (!rule_table_insert(&agent->rules, spec))
		return -ENOMEM;
	err = kernel_rule_add(&agent->dp, &spec->rule);
	if (err)
		rule_table_remove(&agent->rules, spec->rule.id);
	return err;
}

static void publish_removed(struct agent *agent, uint32_t id, enum rule_removal why)
{
	agent->metrics.rules_removed[why]++;
	if (server_watching(agent, id))
		server_publish(agent, id, json_pack("{s:s, s:I, s:I, s:s}", "event", "rule.removed",
				"time_ms", (json_int_t)(realtime_ns() / NSEC_PER_MSEC),
				"rule", (json_int_t)id, "reason", rule_removal_name(why)));
}

static void rule_uninstall(struct agent *agent, uint32_t id)
{
	struct rule_entry *e = rule_table_find(&agent->rules, id);
	struct connctl_rule rule;

	if (!e)
		return;
	rule = e->spec.rule;
	rule_table_remove(&agent->rules, id);
	kernel_rule_del(&agent->dp, &agent->rules, &rule);
}

/* Deleted, not expired: what it tagged is left alone, not closed later. */
static void rule_cancel_pending(struct agent *agent, uint32_t id)
{
	struct pass_result res;

	if (closer_untag(&agent->dp, id, &res))
		return;
	drain_forget_rule(agent, id);
	if (res.matched)
		pr_info("rule %u: %llu connections no longer wait to close", id,
			(unsigned long long)res.matched);
}

/* A failing state file is logged when it starts failing, then this often. */
#define STATE_FAIL_LOG_NS	(60 * NSEC_PER_SEC)

/*
 * What changed reaches the disk (the state file's journal, with one
 * fdatasync for every change since the last commit). 0, or -errno when the
 * changes are not durable: then nothing that needs them may be acknowledged.
 */
static int commit_state(struct agent *agent)
{
	struct metrics *m = &agent->metrics;
	uint64_t now;
	int err;

	if (!agent->cfg.state_file[0])
		return 0;
	err = state_commit(&agent->journal, agent->cfg.state_file, &agent->rules);
	if (!err) {
		if (m->state_failing)
			pr_info("state file %s: written again", agent->cfg.state_file);
		m->state_failing = false;
		return 0;
	}
	m->state_errors++;
	now = monotonic_ns();
	if (!m->state_failing || now - agent->state_logged_ns >= STATE_FAIL_LOG_NS) {
		pr_warn("cannot write the state file %s: %s; changes are refused "
			"(not_durable) until it can be written", agent->cfg.state_file,
			strerror(-err));
		agent->state_logged_ns = now;
	}
	m->state_failing = true;
	return err;
}

/*
 * Once per turn of the event loop, before its responses leave: what the
 * turn changed on its own (a ttl run out) reaches the disk; the counts
 * reach the pinned rule_tally.
 */
void agent_save_state(struct agent *agent)
{
	kernel_rules_save_tallies(&agent->dp, &agent->rules);
	commit_state(agent);
}

/*
 * A rule into force, in two steps: standing at once (a `once` rule never
 * stands), then applied to the connections that exist now by one walk for
 * every rule added in this turn of the event loop (agent_apply_adds). New
 * connections meet the standing rule in sockops, so none slips between.
 */
static int rule_stand(struct agent *agent, const struct rule_spec *spec)
{
	if (spec->rule.flags & CONNCTL_RULE_ONCE) {
		rule_table_claim_id(&agent->rules, spec->rule.id);
		return 0;
	}
	return rule_install(agent, spec);
}

/* With --netns: where a rule of the batch matched, namespace by namespace. */
static json_t *matches_by_netns(struct agent *agent, const struct pending_add *add)
{
	const struct apply_batch *b = &agent->adds.batch;
	json_t *arr = json_array();

	for (size_t i = 0; i < b->n_by_netns; i++) {
		json_t *obj;

		if (b->by_netns[i].rule != add->slot)
			continue;
		obj = json_pack("{s:I}", "matched", (json_int_t)b->by_netns[i].matched);
		netns_to_json(obj, &agent->netns, b->by_netns[i].netns_ino);
		json_array_append_new(arr, obj);
	}
	return arr;
}

/* The walk's outcome for one rule of the batch: its counts, its response. */
static json_t *rule_applied(struct agent *agent, const struct pending_add *add,
			    const struct connctl_apply_result *res)
{
	const struct connctl_rule *rule = &add->spec.rule;
	bool once = rule->flags & CONNCTL_RULE_ONCE;
	uint64_t matched = res->matched - res->failed;
	struct rule_entry *e;
	json_t *resp;

	if (res->failed)
		pr_warn("rule %u: %llu matched connections could not be closed",
			rule->id, (unsigned long long)res->failed);
	if (rule->action < NR_ACTIONS) {
		agent->metrics.matched_existing[rule->action] += matched;
		if (rule->action == CONNCTL_ACTION_RESET)
			agent->metrics.closed[rule->action][CLOSE_RST] += res->applied - res->failed;
	}
	if (!add->restored)
		agent->metrics.rules_added++;
	e = once ? NULL : rule_table_find(&agent->rules, rule->id);
	if (e) {
		e->stats.matched = matched;
		if (rule->action == CONNCTL_ACTION_RESET)
			e->stats.closed[CLOSE_RST] += res->applied - res->failed;
		rule_stats_changed(&agent->rules, e);
	}
	if (add->restored)
		pr_debug("rule %u restored: matched %llu", rule->id,
			 (unsigned long long)matched);
	else if (rule->flags & CONNCTL_RULE_FROM_DIR)
		pr_info("rule %u added (%s) from --rules-dir: matched %llu", rule->id,
			action_name(rule->action), (unsigned long long)matched);
	else
		pr_info("rule %u added (%s%s) by pid %d uid %u: matched %llu", rule->id,
			action_name(rule->action), once ? ", once" : "", add->peer.pid,
			add->peer.uid, (unsigned long long)matched);
	if (server_watching(agent, rule->id))
		server_publish(agent, rule->id, json_pack("{s:s, s:I, s:I, s:I, s:o}", "event", "rule.added",
				 "time_ms", (json_int_t)(realtime_ns() / NSEC_PER_MSEC),
				 "rule", (json_int_t)rule->id, "matched", (json_int_t)matched,
				 "spec", rule_spec_to_json(&add->spec)));
	resp = json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "id", (json_int_t)rule->id,
			 "matched", (json_int_t)matched,
			 "rule", rule_spec_to_json(&add->spec));
	if (netns_many(&agent->netns))
		json_object_set_new(resp, "namespaces", matches_by_netns(agent, add));
	if (res->failed)
		json_object_set_new(resp, "failed", json_integer((json_int_t)res->failed));
	return resp;
}

/* The walk failed, or the state file: the rule does not stand. */
static json_t *rule_not_applied(struct agent *agent, const struct pending_add *add, int err)
{
	const struct connctl_rule *rule = &add->spec.rule;

	if (!(rule->flags & CONNCTL_RULE_ONCE)) {
		rule_uninstall(agent, rule->id);
		state_note_del(&agent->journal, rule->id);
	}
	return error_response(PROTO_INTERNAL, "cannot put rule %u in force: %s",
			      rule->id, strerror(-err));
}

/* A rule the state file must hold before it is acknowledged. */
static bool add_needs_disk(const struct pending_add *add)
{
	return !add->error && !add->restored &&
	       !(add->spec.rule.flags & (CONNCTL_RULE_ONCE | CONNCTL_RULE_FROM_DIR));
}

/*
 * The batch's rules into the state file before the walk acts on anything:
 * those that cannot be made durable are refused and taken out of force,
 * and no connection is touched for them.
 */
static void commit_adds(struct agent *agent)
{
	struct add_queue *q = &agent->adds;
	int err = commit_state(agent);

	if (!err)
		return;
	for (uint32_t i = 0; i < q->n; i++) {
		struct pending_add *add = &q->v[i];

		if (!add_needs_disk(add))
			continue;
		rule_uninstall(agent, add->spec.rule.id);
		add->error = error_response(PROTO_NOT_DURABLE, "rule %u not added: the state "
					    "file %s cannot be written (%s); nothing changed",
					    add->spec.rule.id, agent->cfg.state_file,
					    strerror(-err));
	}
}

int agent_apply_adds(struct agent *agent)
{
	struct add_queue *q = &agent->adds;
	struct apply_batch *batch = &q->batch;
	struct pass_result res;
	int err = 0;

	if (!q->n)
		return 0;
	commit_adds(agent);
	batch->n = 0;
	for (uint32_t i = 0; i < q->n; i++) {
		if (q->v[i].error)
			continue;
		q->v[i].slot = batch->n;
		batch->rules[batch->n++] = q->v[i].spec.rule;
	}
	if (batch->n)
		err = closer_apply_batch(&agent->dp, batch, &res);
	for (uint32_t i = 0; i < q->n; i++) {
		struct pending_add *add = &q->v[i];
		json_t *resp = add->error;

		if (!resp)
			resp = err ? rule_not_applied(agent, add, err) :
				     rule_applied(agent, add, &batch->results[add->slot]);
		if (add->client)
			server_deliver(add->client, resp);
		else
			json_decref(resp);
	}
	q->n = 0;
	/* Drains already at a boundary, and cancels, close now. */
	events_poll(agent);
	return err;
}

void agent_forget_client(struct agent *agent, const void *client)
{
	for (uint32_t i = 0; i < agent->adds.n; i++)
		if (agent->adds.v[i].client == client)
			agent->adds.v[i].client = NULL;
}

bool agent_adds_full(const struct agent *agent)
{
	return agent->adds.n >= CONNCTL_APPLY_BATCH;
}

static bool id_pending(const struct agent *agent, uint32_t id)
{
	for (uint32_t i = 0; i < agent->adds.n; i++)
		if (agent->adds.v[i].spec.rule.id == id)
			return true;
	return false;
}

/*
 * A rule.add takes its place in the queue even when it fails here, so the
 * client's responses keep the order of its requests.
 */
static json_t *rule_add_check(struct agent *agent, struct rule_spec *spec)
{
	struct connctl_rule *rule = &spec->rule;
	int err;

	if (rule->id && (rule_table_find(&agent->rules, rule->id) || id_pending(agent, rule->id)))
		return error_response(PROTO_DUPLICATE_ID, "rule %u exists already", rule->id);
	if (!(rule->flags & CONNCTL_RULE_ONCE) && agent->rules.n >= agent->cfg.max_rules)
		return error_response(PROTO_TOO_MANY_RULES, "%zu rules stand already, the limit "
			    "(--max-rules)", agent->rules.n);
	if (!rule->id)
		rule->id = rule_table_next_id(&agent->rules);
	if (!rule->id)
		return error_response(PROTO_TOO_MANY_RULES, "rule ids are exhausted");
	if (spec->ttl_ns)
		rule->expires_ns = realtime_ns() + spec->ttl_ns;
	err = rule_stand(agent, spec);
	if (err)
		return error_response(err == -E2BIG ? PROTO_TOO_MANY_RULES : PROTO_INTERNAL,
			    "cannot put rule %u in force: %s", rule->id, strerror(-err));
	/* The directory, not the state file, brings its rules back. */
	if (rule->flags & (CONNCTL_RULE_ONCE | CONNCTL_RULE_FROM_DIR))
		state_note_last_id(&agent->journal, rule->id);
	else
		state_note_add(&agent->journal, spec);
	return NULL;
}

uint32_t agent_queue_add(struct agent *agent, const struct rule_spec *spec)
{
	struct pending_add *add = &agent->adds.v[agent->adds.n];

	*add = (struct pending_add){ .spec = *spec };
	add->error = rule_add_check(agent, &add->spec);
	agent->adds.n++;
	if (add->error) {
		const char *msg = json_string_value(json_object_get(
			json_object_get(add->error, "error"), "message"));

		pr_warn("--rules-dir: a rule not added: %s", msg ? msg : "?");
		return 0;
	}
	return add->spec.rule.id;
}

/* NULL: the response follows from agent_apply_adds, to client. */
static json_t *rule_add(struct agent *agent, const struct request *req,
			const struct peer *peer, void *client)
{
	struct pending_add *add;

	if (agent_adds_full(agent))
		return error_response(PROTO_INTERNAL, "too many rules added at once");
	add = &agent->adds.v[agent->adds.n];
	*add = (struct pending_add){ .spec = req->spec, .peer = *peer, .client = client };
	add->error = rule_add_check(agent, &add->spec);
	agent->adds.n++;
	return NULL;
}

/* The rule out of force; its removal is in the journal already when noted. */
static void remove_rule(struct agent *agent, uint32_t id, enum rule_removal why, bool noted)
{
	const struct rule_entry *e = rule_table_find(&agent->rules, id);
	enum connctl_action action;
	bool from_dir;

	if (!e)
		return;
	action = e->spec.rule.action;
	from_dir = e->spec.rule.flags & CONNCTL_RULE_FROM_DIR;
	rule_uninstall(agent, id);
	if (!from_dir && !noted)
		state_note_del(&agent->journal, id);
	/* Only drain and cancel leave tags that wait; a pass for others is wasted. */
	if (action == CONNCTL_ACTION_DRAIN || action == CONNCTL_ACTION_CANCEL)
		rule_cancel_pending(agent, id);
	publish_removed(agent, id, why);
}

void agent_remove_rule(struct agent *agent, uint32_t id, enum rule_removal why)
{
	remove_rule(agent, id, why, false);
}

static json_t *rule_del(struct agent *agent, const struct request *req,
			const struct peer *peer)
{
	const struct rule_entry *e = rule_table_find(&agent->rules, req->id);
	int err;

	if (!e)
		return error_response(PROTO_UNKNOWN_RULE, "no rule with id %u", req->id);
	if (e->spec.rule.flags & CONNCTL_RULE_FROM_DIR)
		return error_response(PROTO_BAD_REQUEST, "rule %u comes from --rules-dir %s: "
				      "remove it from the files there", req->id,
				      agent->cfg.rules_dir ? agent->cfg.rules_dir : "");
	/* On disk first: a deletion that would not survive a reboot is refused. */
	state_note_del(&agent->journal, req->id);
	err = commit_state(agent);
	if (err)
		return error_response(PROTO_NOT_DURABLE, "rule %u not deleted: the state file "
				      "%s cannot be written (%s); it stands", req->id,
				      agent->cfg.state_file, strerror(-err));
	remove_rule(agent, req->id, REMOVED_DELETED, true);
	pr_info("rule %u deleted by pid %d uid %u", req->id, peer->pid, peer->uid);
	return json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)req->id);
}

/* A dry run lists this many connections at most; it counts them all. */
#define DRY_RUN_LIST_MAX	1000
#define DRY_RUN_OWNERS_MAX	8

static const char *tcp_state_name(uint32_t state)
{
	static const char *const names[] = {
		[1] = "established", [2] = "syn-sent", [3] = "syn-recv",
		[4] = "fin-wait-1", [5] = "fin-wait-2", [6] = "time-wait", [7] = "close",
		[8] = "close-wait", [9] = "last-ack", [10] = "listen", [11] = "closing",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "?";
}

static json_t *owner_to_json(pid_t pid)
{
	char path[64], comm[64] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, sizeof(comm) - 1);
		comm[n > 0 ? n : 0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		close(fd);
	}
	return json_pack("{s:i, s:s}", "pid", (int)pid, "command", comm);
}

/* Who holds the socket: as a drain or cancel would find its owner. */
static json_t *owners_to_json(struct agent *agent, const struct connctl_listed *l)
{
	pid_t pids[DRY_RUN_OWNERS_MAX];
	struct sock_diag_info info;
	json_t *owners = json_array();
	size_t n;

	if (sock_diag_lookup(agent_diag_fd(agent, l->tuple.netns_ino), &l->tuple, l->cookie, &info) || !info.inode)
		return owners;
	n = owner_pids(&agent->drain.owners, info.inode, pids, DRY_RUN_OWNERS_MAX);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(owners, owner_to_json(pids[i]));
	return owners;
}

static json_t *listed_to_json(struct agent *agent, const struct connctl_listed *l)
{
	char local[PREFIX_STRLEN], remote[PREFIX_STRLEN];

	format_addr(l->tuple.laddr, local, sizeof(local));
	format_addr(l->tuple.raddr, remote, sizeof(remote));
	json_t *obj = json_pack("{s:s, s:i, s:s, s:i, s:s, s:o}", "local", local,
				"lport", l->tuple.lport, "remote", remote, "rport", l->tuple.rport,
				"state", tcp_state_name(l->state),
				"owners", owners_to_json(agent, l));

	netns_to_json(obj, &agent->netns, l->tuple.netns_ino);
	return obj;
}

bool token_take(struct token_bucket *b, uint64_t now_ns, uint32_t *retry_ms)
{
	if (b->last_ns && now_ns > b->last_ns)
		b->tokens += (double)(now_ns - b->last_ns) / NSEC_PER_SEC * b->per_s;
	if (!b->last_ns || b->tokens > b->burst)
		b->tokens = b->burst;
	b->last_ns = now_ns;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	*retry_ms = (uint32_t)((1 - b->tokens) / b->per_s * 1000) + 1;
	return false;
}

/* rule.add with dry_run: what the rule would match now; nothing changes. */
static json_t *rule_dry_run(struct agent *agent, const struct request *req,
			    const struct peer *peer)
{
	struct connctl_listed *listed;
	json_t *conns, *resp;
	uint32_t retry_ms;
	size_t n;
	int err;

	if (peer->uid != 0 && !token_take(&agent->reader_dry_runs, monotonic_ns(), &retry_ms))
		return error_response(PROTO_RATE_LIMITED, "dry runs of readers are limited to "
				      "%g a second; try again in %u ms",
				      agent->reader_dry_runs.per_s, retry_ms);

	err = closer_list(&agent->dp, &req->spec.rule, &listed, &n);
	if (err)
		return error_response(PROTO_INTERNAL, "cannot walk the connections: %s",
				      strerror(-err));
	/* Owners as they are now, not as a drain saw them a while ago. */
	if (n)
		owner_index_warm(&agent->drain.owners, 0);
	conns = json_array();
	for (size_t i = 0; i < n && i < DRY_RUN_LIST_MAX; i++)
		json_array_append_new(conns, listed_to_json(agent, &listed[i]));
	free(listed);
	resp = json_pack("{s:b, s:b, s:I, s:o, s:o}", "ok", 1, "dry_run", 1,
			 "matched", (json_int_t)n, "connections", conns,
			 "rule", rule_spec_to_json(&req->spec));
	if (n > DRY_RUN_LIST_MAX)
		json_object_set_new(resp, "listed", json_integer(DRY_RUN_LIST_MAX));
	return resp;
}

static json_t *rule_show(struct agent *agent, const struct request *req)
{
	uint64_t now = realtime_ns();
	json_t *rules = json_array();

	if (req->has_id) {
		const struct rule_entry *e = rule_table_find(&agent->rules, req->id);

		if (!e) {
			json_decref(rules);
			return error_response(PROTO_UNKNOWN_RULE, "no rule with id %u", req->id);
		}
		json_array_append_new(rules, rule_entry_to_json(e, now));
	} else {
		for (size_t i = 0; i < agent->rules.n; i++)
			json_array_append_new(rules,
					      rule_entry_to_json(&agent->rules.v[i], now));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "rules", rules);
}

json_t *agent_refuse(const struct agent *agent, const struct peer *peer)
{
	if (agent->cfg.reader_group)
		return error_response(PROTO_PERMISSION_DENIED,
				      "needs root, or group %s to read (peer uid %u)",
				      agent->cfg.reader_group, peer->uid);
	return error_response(PROTO_PERMISSION_DENIED,
			      "needs root (peer uid %u); connctld --group lets a group read",
			      peer->uid);
}

json_t *agent_handle(struct agent *agent, const struct request *req,
		     const struct peer *peer, void *client)
{
	if (!peer->reader)
		return agent_refuse(agent, peer);
	switch (req->op) {
	case REQ_RULE_SHOW:
		return rule_show(agent, req);
	case REQ_EVENTS_SHOW:
		return json_pack("{s:b, s:o}", "ok", 1,
				 "events", drain_records_to_json(agent));
	case REQ_EVENTS_WATCH:
		if (req->has_id && !rule_table_find(&agent->rules, req->id))
			return error_response(PROTO_UNKNOWN_RULE, "no rule with id %u", req->id);
		return json_pack("{s:b, s:b}", "ok", 1, "watching", 1);
	case REQ_FLOW_SHOW:
		if (req->has_id && !rule_table_find(&agent->rules, req->id))
			return error_response(PROTO_UNKNOWN_RULE, "no rule with id %u", req->id);
		return json_pack("{s:b, s:o}", "ok", 1,
				 "flows", flows_to_json(agent, req->has_id, req->id));
	case REQ_STATS_SHOW: {
		json_t *resp = tc_stats_to_json(agent);

		json_object_set_new(resp, "ok", json_true());
		return resp;
	}
	case REQ_RULE_ADD:
	case REQ_RULE_DEL:
		/* A dry run changes nothing: whoever may read may ask. */
		if (req->op == REQ_RULE_ADD && req->dry_run)
			return rule_dry_run(agent, req, peer);
		if (peer->uid != 0)
			return error_response(PROTO_PERMISSION_DENIED,
				    "changing rules needs root (peer uid %u)", peer->uid);
		return req->op == REQ_RULE_ADD ? rule_add(agent, req, peer, client) :
						 rule_del(agent, req, peer);
	}
	return error_response(PROTO_INTERNAL, "unhandled request");
}

int agent_expire_rules(struct agent *agent)
{
	uint64_t now = realtime_ns(), next = 0;

	for (size_t i = agent->rules.n; i-- > 0;) {
		const struct connctl_rule *rule = &agent->rules.v[i].spec.rule;

		if (!rule->expires_ns)
			continue;
		if (rule->expires_ns <= now) {
			uint32_t id = rule->id;

			pr_info("rule %u expired (ttl)", id);
			state_note_del(&agent->journal, id);
			rule_uninstall(agent, id);
			publish_removed(agent, id, REMOVED_EXPIRED);
		} else if (!next || rule->expires_ns < next) {
			next = rule->expires_ns;
		}
	}
	if (!next)
		return -1;
	/* Round up: waking a little late beats spinning on an early wake. */
	next = (next - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return next > EXPIRY_CHECK_MAX_MS ? EXPIRY_CHECK_MAX_MS : (int)next;
}

/* One rule of the state file, standing again with its id and expiry. */
static int restore_rule(struct agent *agent, const struct rule_spec *spec)
{
	struct pending_add *add;
	int err;

	if (rule_table_find(&agent->rules, spec->rule.id) || id_pending(agent, spec->rule.id))
		return -EEXIST;
	if (agent_adds_full(agent)) {
		err = agent_apply_adds(agent);
		if (err)
			return err;
	}
	err = rule_stand(agent, spec);
	if (err)
		return err;
	add = &agent->adds.v[agent->adds.n++];
	*add = (struct pending_add){ .spec = *spec, .restored = true };
	return 0;
}

int agent_restore_rules(struct agent *agent)
{
	const char *path = agent->cfg.state_file;
	uint64_t now = realtime_ns();
	struct state_loaded st;
	size_t restored = 0;
	char msg[512];
	int err;

	if (!path[0])
		return 0;
	err = state_load(path, &st, msg, sizeof(msg));
	if (!err && st.torn)
		pr_warn("state file %s", msg);
	if (agent->rules.n) {
		/* The pins are what is in force: the file follows them. */
		if (!err) {
			rule_table_claim_id(&agent->rules, st.last_id);
			free(st.specs);
		} else if (err != -ENOENT) {
			pr_warn("state file %s: rewritten from the pinned rules",
				err == -EINVAL ? msg : strerror(-err));
		}
		state_note_rewrite(&agent->journal);
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
	rule_table_claim_id(&agent->rules, st.last_id);
	for (size_t i = 0; i < st.n && !err; i++) {
		const struct rule_spec *spec = &st.specs[i];

		if (spec->rule.expires_ns && spec->rule.expires_ns <= now) {
			pr_info("rule %u expired while the agent was down (ttl)", spec->rule.id);
			continue;
		}
		err = restore_rule(agent, spec);
		if (err)
			pr_warn("state file %s: cannot restore rule %u: %s", path,
				spec->rule.id, strerror(-err));
		else
			restored++;
	}
	free(st.specs);
	/* Applied to what exists now, as rules added over the socket are. */
	if (!err)
		err = agent_apply_adds(agent);
	if (err)
		return err;
	if (restored)
		pr_info("restored %zu rules from %s", restored, path);
	state_note_rewrite(&agent->journal);
	return 0;
}
