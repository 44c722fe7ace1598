// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include "base/clock.h"
#include "base/buf.h"
#include "base/log.h"
#include "sys/cgroup.h"
#include "sys/owner.h"

/* A cgroup's walk this young is not redone for a miss. */
#define CGROUP_FRESH_NS		(1000 * 1000ULL)
/* A cgroup not looked in for this long gives its memory back. */
#define CGROUP_IDLE_NS		(1000 * 1000 * 1000ULL)

void owner_index_free(struct owner_index *idx)
{
	struct owner_index keep = { .walk = idx->walk, .walk_ctx = idx->walk_ctx,
				    .walks_all = idx->walks_all,
				    .walks_cgroup = idx->walks_cgroup };

	for (size_t i = 0; i < idx->n_cgroups; i++) {
		owner_index_free(&idx->cgroups[i].idx);
		free(idx->cgroups[i].pids);
	}
	free(idx->cgroups);
	free(idx->v);
	*idx = keep;
}

int owner_index_add(struct owner_index *idx, uint64_t inode, pid_t pid, int fd)
{
	if (array_grow(&idx->v, &idx->cap, idx->n, sizeof(*idx->v)))
		return -ENOMEM;
	idx->v[idx->n++] = (struct owner_fd){ .inode = inode, .pid = pid, .fd = fd };
	return 0;
}

/* "socket:[12345]" -> 12345; 0 for anything that is not a socket. */
static uint64_t socket_inode(int dirfd, const char *name)
{
	char link[64];
	ssize_t n;

	n = readlinkat(dirfd, name, link, sizeof(link) - 1);
	if (n < 9 || strncmp(link, "socket:[", 8))
		return 0;
	link[n] = '\0';
	return strtoull(link + 8, NULL, 10);
}

static int scan_process(struct owner_index *idx, int proc_fd, const char *pid_name)
{
	char path[64];
	struct dirent *de;
	pid_t pid = atoi(pid_name);
	int dirfd, err = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%.32s/fd", pid_name);
	dirfd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return 0;	/* gone, or a kernel thread */
	dir = fdopendir(dirfd);
	if (!dir) {
		close(dirfd);
		return 0;
	}
	while (!err && (de = readdir(dir))) {
		uint64_t inode;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		inode = socket_inode(dirfd, de->d_name);
		if (inode)
			err = owner_index_add(idx, inode, pid, atoi(de->d_name));
	}
	closedir(dir);
	return err;
}

static int cmp_inode(const void *a, const void *b)
{
	const struct owner_fd *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int proc_walk(struct owner_index *idx)
{
	struct dirent *de;
	int proc_fd, err = 0;
	DIR *proc;

	proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return -errno;
	if (idx->narrowed) {
		for (size_t i = 0; i < idx->n_only && !err; i++) {
			char name[16];

			snprintf(name, sizeof(name), "%d", (int)idx->only[i]);
			err = scan_process(idx, proc_fd, name);
		}
		close(proc_fd);
		return err;
	}
	proc = fdopendir(dup(proc_fd));
	if (!proc) {
		err = -errno;
		close(proc_fd);
		return err;
	}
	while (!err && (de = readdir(proc))) {
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			err = scan_process(idx, proc_fd, de->d_name);
	}
	closedir(proc);
	close(proc_fd);
	return err;
}

/*
 * The kernel layer's walk, else /proc. A walk that failed once is not tried
 * again: what breaks an iterator read stays broken, and a warning at every
 * batch of closes would say nothing new.
 */
static int walk_owners(struct owner_index *idx)
{
	int err;

	if (!idx->walk)
		return proc_walk(idx);
	err = idx->walk(idx->walk_ctx, idx);
	if (!err)
		return 0;
	pr_warn("cannot walk the owners in the kernel: %s; reading /proc from now on",
		strerror(-err));
	idx->walk = NULL;
	idx->n = 0;
	return proc_walk(idx);
}

static int index_build(struct owner_index *idx)
{
	int err;

	if (!idx->narrowed)
		idx->walks_all++;
	idx->n = 0;
	err = walk_owners(idx);
	qsort(idx->v, idx->n, sizeof(*idx->v), cmp_inode);
	idx->built_ns = monotonic_ns();
	return err;
}

/* The fd may have been closed, or reused for another file, since the walk. */
static int dup_checked(const struct owner_fd *o)
{
	struct stat st;
	int pidfd, fd;

	pidfd = pidfd_open(o->pid, 0);
	if (pidfd < 0)
		return -errno;
	fd = pidfd_getfd(pidfd, o->fd, 0);
	close(pidfd);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode) || st.st_ino != o->inode) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static int take_from_index(const struct owner_index *idx, uint64_t inode)
{
	struct owner_fd key = { .inode = inode };
	const struct owner_fd *o;
	int fd = -ENOENT;

	o = bsearch(&key, idx->v, idx->n, sizeof(*idx->v), cmp_inode);
	if (!o)
		return -ENOENT;
	/* bsearch lands on any entry of the inode: walk back to the first. */
	while (o > idx->v && (o - 1)->inode == inode)
		o--;
	for (; o < idx->v + idx->n && o->inode == inode; o++) {
		fd = dup_checked(o);
		if (fd >= 0)
			return fd;
	}
	return fd;
}

int owner_index_warm(struct owner_index *idx, uint64_t fresh_ns)
{
	if (idx->built_ns && monotonic_ns() - idx->built_ns < fresh_ns)
		return 0;
	return index_build(idx);
}

int owner_take_fd(struct owner_index *idx, uint64_t inode, uint64_t fresh_ns)
{
	int fd, err;

	fd = take_from_index(idx, inode);
	if (fd >= 0 || (idx->built_ns && monotonic_ns() - idx->built_ns < fresh_ns))
		return fd;
	err = index_build(idx);
	if (err)
		return err;
	return take_from_index(idx, inode);
}

static void cgroup_release(struct owner_cgroup *c)
{
	owner_index_free(&c->idx);
	free(c->pids);
	*c = (struct owner_cgroup){ 0 };
}

/*
 * Its slot, a free one else, and one more else: a drain across a hundred
 * services keeps a walk of each for its batch, rather than walking one
 * again for every close. Slots idle for a second give their memory back.
 */
static struct owner_cgroup *cgroup_slot(struct owner_index *idx, uint64_t id)
{
	uint64_t now = monotonic_ns();
	struct owner_cgroup *c, *found = NULL, *spare = NULL;

	for (c = idx->cgroups; c < idx->cgroups + idx->n_cgroups; c++) {
		if (c->id == id)
			found = c;
		else if (c->id && now - c->used_ns >= CGROUP_IDLE_NS)
			cgroup_release(c);
		if (!c->id && !spare)
			spare = c;
	}
	if (found)
		return found;
	if (!spare) {
		if (array_grow(&idx->cgroups, &idx->cap_cgroups, idx->n_cgroups,
			       sizeof(*idx->cgroups)))
			return NULL;
		spare = &idx->cgroups[idx->n_cgroups++];
		*spare = (struct owner_cgroup){ 0 };
	}
	spare->id = id;
	return spare;
}

/* Its processes now, and their sockets: the walk the whole index would use. */
static int cgroup_build(struct owner_index *idx, struct owner_cgroup *c)
{
	int err;

	err = cgroup2_procs(c->id, &c->pids, &c->n_pids, &c->cap_pids);
	if (err)
		return err;
	c->idx.walk = idx->walk;
	c->idx.walk_ctx = idx->walk_ctx;
	c->idx.narrowed = true;
	c->idx.only = c->pids;
	c->idx.n_only = c->n_pids;
	idx->walks_cgroup++;
	err = index_build(&c->idx);
	/* The iterator broke there: it is given up here too. */
	if (!c->idx.walk)
		idx->walk = NULL;
	return err;
}

/* Its slot, marked in use now; NULL without memory. */
static struct owner_cgroup *cgroup_touch(struct owner_index *idx, uint64_t id)
{
	struct owner_cgroup *c = cgroup_slot(idx, id);

	if (c)
		c->used_ns = monotonic_ns();
	return c;
}

/* Its slot, walked again unless a walk at since_ns or later is there. */
static struct owner_cgroup *cgroup_walked(struct owner_index *idx, uint64_t id,
					  uint64_t since_ns)
{
	struct owner_cgroup *c = cgroup_touch(idx, id);

	if (c && (!c->idx.built_ns || c->idx.built_ns < since_ns))
		cgroup_build(idx, c);
	return c;
}

int owner_index_warm_in(struct owner_index *idx, uint64_t cgroup_id, uint64_t fresh_ns)
{
	uint64_t now = monotonic_ns();

	if (!cgroup_id)
		return owner_index_warm(idx, fresh_ns);
	return cgroup_walked(idx, cgroup_id, now > fresh_ns ? now - fresh_ns : 0) ? 0 : -ENOMEM;
}

int owner_take_fd_in(struct owner_index *idx, uint64_t inode, uint64_t cgroup_id,
		     uint64_t fresh_ns)
{
	uint64_t now = monotonic_ns();
	struct owner_cgroup *c;
	int fd;

	if (!cgroup_id)
		return owner_take_fd(idx, inode, fresh_ns);
	/* A walk of every process, for a batch of closes, may know it already. */
	fd = take_from_index(idx, inode);
	if (fd >= 0)
		return fd;
	c = cgroup_touch(idx, cgroup_id);
	if (!c)
		return owner_take_fd(idx, inode, fresh_ns);
	fd = take_from_index(&c->idx, inode);
	if (fd >= 0)
		return fd;
	if (c->idx.built_ns && now - c->idx.built_ns < CGROUP_FRESH_NS)
		return -ENOENT;
	if (!cgroup_build(idx, c)) {
		fd = take_from_index(&c->idx, inode);
		if (fd >= 0)
			return fd;
	}
	/* None of its cgroup's processes holds it (passed, or moved): all. */
	return owner_take_fd(idx, inode, fresh_ns);
}

size_t owner_pids(const struct owner_index *idx, uint64_t inode, pid_t *pids, size_t max)
{
	struct owner_fd key = { .inode = inode };
	const struct owner_fd *o;
	size_t n = 0;

	o = bsearch(&key, idx->v, idx->n, sizeof(*idx->v), cmp_inode);
	if (!o)
		return 0;
	while (o > idx->v && (o - 1)->inode == inode)
		o--;
	for (; o < idx->v + idx->n && o->inode == inode; o++) {
		/* One process may hold it by several fds: name it once. */
		if (n && pids[n - 1] == o->pid)
			continue;
		if (n == max)
			break;
		pids[n++] = o->pid;
	}
	return n;
}

size_t owner_pids_in(struct owner_index *idx, uint64_t inode, uint64_t cgroup_id,
		     uint64_t since_ns, pid_t *pids, size_t max)
{
	struct owner_cgroup *c = cgroup_id ? cgroup_walked(idx, cgroup_id, since_ns) : NULL;
	size_t n = c ? owner_pids(&c->idx, inode, pids, max) : 0;

	if (n)
		return n;
	if (idx->built_ns < since_ns && index_build(idx))
		return 0;
	return owner_pids(idx, inode, pids, max);
}
