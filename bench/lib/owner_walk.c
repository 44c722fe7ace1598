// SPDX-License-Identifier: GPL-2.0
/*
 * One walk of every process's sockets, the agent's two ways: the owners
 * iterator (kernel/owner_walk.c) and /proc/PID/fd (sys/owner.c), while
 * PROCS child processes hold PER socket pairs each (AF_UNIX: no network).
 * With CGROUP, the first of them is moved there, and a third way is timed:
 * a drain's lookup of one of its sockets by that cgroup, which walks its
 * processes alone (owner_take_fd_in). Each way ROUNDS times, taking turns;
 * prints JSON with the medians in ms and the sockets each walk found.
 *
 *     owner_walk PROCS PER ROUNDS [CGROUP]
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kernel/owner_walk.h"
#include "sys/cgroup.h"
#include "sys/owner.h"

#define ROUNDS_MAX	99

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * A child holding per pairs until killed; it says when it holds them, with
 * the inode of its last socket.
 */
static pid_t holder(int per, uint64_t *inode)
{
	int ready[2], sv[2];
	struct stat st;
	pid_t pid;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < per; i++)
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
				_exit(1);
		if (fstat(sv[1], &st) ||
		    write(ready[1], &st.st_ino, sizeof(uint64_t)) != sizeof(uint64_t))
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], inode, sizeof(*inode)) != sizeof(*inode)) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return pid;
}

static int move_to(const char *cgroup, pid_t pid)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)pid);
	return fclose(f);
}

/* A drain's lookup by cgroup, its walk of that cgroup afresh: -1 if it missed. */
static double by_cgroup_ms(struct owner_index *idx, uint64_t inode, uint64_t cgroup_id,
			   size_t *found)
{
	double t0 = now_ms();
	int fd;

	owner_index_free(idx);
	fd = owner_take_fd_in(idx, inode, cgroup_id, 0);
	if (fd < 0 || idx->walks_all)
		return -1;
	close(fd);
	*found = idx->n_cgroups ? idx->cgroups[0].idx.n : 0;
	return now_ms() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double walk_ms(struct owner_index *idx, size_t *found)
{
	double t0 = now_ms();

	owner_index_free(idx);
	if (owner_index_warm(idx, 0))
		return -1;
	*found = idx->n;
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	double iter_ms[ROUNDS_MAX], proc_ms[ROUNDS_MAX], cg_ms[ROUNDS_MAX];
	struct owner_index by_iter = {}, by_proc = {}, by_cg = {};
	size_t iter_found = 0, proc_found = 0, cg_found = 0;
	const char *cgroup = argc == 5 ? argv[4] : NULL;
	uint64_t inodes[64], cgroup_id = 0;
	struct owner_walker *w;
	int procs, per, rounds;
	pid_t pids[64];

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: owner_walk PROCS PER ROUNDS [CGROUP]\n");
		return 2;
	}
	procs = atoi(argv[1]);
	per = atoi(argv[2]);
	rounds = atoi(argv[3]);
	if (procs < 1 || procs > 64 || per < 1 || per > 9000 || rounds < 1 ||
	    rounds > ROUNDS_MAX) {
		fprintf(stderr, "owner_walk: PROCS 1-64, PER 1-9000, ROUNDS 1-%d\n", ROUNDS_MAX);
		return 2;
	}
	w = owner_walker_open();
	if (!w)
		return 1;
	owner_walker_use(w, &by_iter);
	owner_walker_use(w, &by_cg);
	for (int i = 0; i < procs; i++) {
		pids[i] = holder(per, &inodes[i]);
		if (pids[i] < 0) {
			fprintf(stderr, "owner_walk: cannot start holder %d\n", i);
			procs = i;
			goto out;
		}
	}
	if (cgroup && (move_to(cgroup, pids[0]) || cgroup2_id(cgroup, &cgroup_id))) {
		fprintf(stderr, "owner_walk: cannot move a holder to %s\n", cgroup);
		goto out;
	}
	for (int r = 0; r < rounds; r++) {
		iter_ms[r] = walk_ms(&by_iter, &iter_found);
		proc_ms[r] = walk_ms(&by_proc, &proc_found);
		cg_ms[r] = cgroup ? by_cgroup_ms(&by_cg, inodes[0], cgroup_id, &cg_found) : 0;
		if (cg_ms[r] < 0) {
			fprintf(stderr, "owner_walk: the lookup by cgroup missed\n");
			goto out;
		}
	}
	qsort(iter_ms, (size_t)rounds, sizeof(double), cmp_double);
	qsort(proc_ms, (size_t)rounds, sizeof(double), cmp_double);
	qsort(cg_ms, (size_t)rounds, sizeof(double), cmp_double);
	printf("{\"sockets_held\": %d, \"iterator_ms\": %.2f, \"proc_ms\": %.2f, "
	       "\"iterator_found\": %zu, \"proc_found\": %zu, \"cgroup_ms\": %.3f, "
	       "\"cgroup_found\": %zu}\n", 2 * procs * per, iter_ms[rounds / 2],
	       proc_ms[rounds / 2], iter_found, proc_found, cg_ms[rounds / 2], cg_found);
	rounds = 0;
out:
	for (int i = 0; i < procs; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	owner_index_free(&by_iter);
	owner_index_free(&by_proc);
	owner_index_free(&by_cg);
	owner_walker_close(w);
	return procs && !rounds ? 0 : 1;
}
