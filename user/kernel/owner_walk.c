// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "base/log.h"
#include "kernel/loader.h"
#include "kernel/owner_walk.h"
#include "owners.skel.h"
#include "sys/owner.h"

/* Records a read: the iterator writes whole ones, a read may end mid-record. */
#define OWNER_READ_RECORDS	4096

/* The level of our pid namespace: the count of NSpid numbers, less one. */
static unsigned int own_pid_level(void)
{
	char line[256];
	unsigned int level = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		for (char *p = strtok(line + 6, " \t\n"); p; p = strtok(NULL, " \t\n"))
			level++;
		break;
	}
	fclose(f);
	return level ? level - 1 : 0;
}

struct owner_walker {
	struct owners_bpf	*obj;
	struct bpf_link		*link;
};

struct owner_walker *owner_walker_open(void)
{
	struct owner_walker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->obj = owners_bpf__open();
	if (!w->obj)
		goto fail;
	w->obj->rodata->pid_level = own_pid_level();
	if (owners_bpf__load(w->obj))
		goto fail;
	w->link = bpf_program__attach_iter(w->obj->progs.connctl_owners, NULL);
	if (!w->link)
		goto fail;
	return w;
fail:
	pr_warn("cannot load the owners iterator: %s; owners are found in /proc",
		strerror(errno));
	owner_walker_close(w);
	return NULL;
}

void owner_walker_close(struct owner_walker *w)
{
	if (!w)
		return;
	bpf_link__destroy(w->link);
	owners_bpf__destroy(w->obj);
	free(w);
}

static int take_records(struct owner_index *idx, const struct connctl_owner_record *recs,
			size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = owner_index_add(idx, recs[i].inode, (pid_t)recs[i].pid, recs[i].fd);
	return err;
}

/* One pass of the iterator behind link into idx. */
static int walk_link(struct owner_index *idx, const struct bpf_link *link)
{
	const size_t size = OWNER_READ_RECORDS * sizeof(struct connctl_owner_record);
	struct connctl_owner_record *recs;
	size_t have = 0;
	int fd, err = 0;

	recs = malloc(size);
	if (!recs)
		return -ENOMEM;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, (char *)recs + have, size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n ? -errno : 0;
			break;
		}
		have += (size_t)n;
		err = take_records(idx, recs, have / sizeof(recs[0]));
		if (err)
			break;
		/* A record cut by the read: kept for the next. */
		memmove(recs, (char *)recs + have - have % sizeof(recs[0]), have % sizeof(recs[0]));
		have %= sizeof(recs[0]);
	}
	close(fd);
out:
	free(recs);
	return err;
}

/* One process's file table: the iterator bound to its pid, not walking the others. */
static int walk_process(struct owner_walker *w, struct owner_index *idx, pid_t pid)
{
	union bpf_iter_link_info info = { .task.pid = (__u32)pid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info,
		    .link_info_len = sizeof(info));
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_iter(w->obj->progs.connctl_owners, &opts);
	if (!link)
		return -errno;
	err = walk_link(idx, link);
	bpf_link__destroy(link);
	return err;
}

static int walk(void *ctx, struct owner_index *idx)
{
	struct owner_walker *w = ctx;
	int err = 0;

	if (!idx->narrowed)
		return walk_link(idx, w->link);
	for (size_t i = 0; i < idx->n_only && !err; i++)
		err = walk_process(w, idx, idx->only[i]);
	return err;
}

void owner_walker_use(struct owner_walker *w, struct owner_index *idx)
{
	idx->walk = w ? walk : NULL;
	idx->walk_ctx = w;
}

void datapath_owner_index_init(struct datapath *dp, struct owner_index *idx)
{
	owner_walker_use(dp->owners, idx);
}
