// SPDX-License-Identifier: GPL-2.0
/*
 * One walk of every process's sockets, the agent's two ways: the owners
 * iterator (kernel/owner_walk.c) and /proc/PID/fd (sys/owner.c), while
 * PROCS child processes hold PER socket pairs each (AF_UNIX: no network).
 * Each way ROUNDS times, taking turns; prints JSON with the medians in ms
 * and the sockets each walk found.
 *
 *     owner_walk PROCS PER ROUNDS
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "kernel/owner_walk.h"
#include "sys/owner.h"

#define ROUNDS_MAX	99

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A child holding per pairs until killed; it says when it holds them. */
static pid_t holder(int per)
{
	int ready[2], sv[2];
	pid_t pid;
	char c = 0;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < per; i++)
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
				_exit(1);
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return pid;
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
	double iter_ms[ROUNDS_MAX], proc_ms[ROUNDS_MAX];
	struct owner_index by_iter = {}, by_proc = {};
	size_t iter_found = 0, proc_found = 0;
	struct owner_walker *w;
	int procs, per, rounds;
	pid_t pids[64];

	if (argc != 4) {
		fprintf(stderr, "usage: owner_walk PROCS PER ROUNDS\n");
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
	for (int i = 0; i < procs; i++) {
		pids[i] = holder(per);
		if (pids[i] < 0) {
			fprintf(stderr, "owner_walk: cannot start holder %d\n", i);
			procs = i;
			goto out;
		}
	}
	for (int r = 0; r < rounds; r++) {
		iter_ms[r] = walk_ms(&by_iter, &iter_found);
		proc_ms[r] = walk_ms(&by_proc, &proc_found);
	}
	qsort(iter_ms, (size_t)rounds, sizeof(double), cmp_double);
	qsort(proc_ms, (size_t)rounds, sizeof(double), cmp_double);
	printf("{\"sockets_held\": %d, \"iterator_ms\": %.2f, \"proc_ms\": %.2f, "
	       "\"iterator_found\": %zu, \"proc_found\": %zu}\n", 2 * procs * per,
	       iter_ms[rounds / 2], proc_ms[rounds / 2], iter_found, proc_found);
out:
	for (int i = 0; i < procs; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	owner_index_free(&by_iter);
	owner_index_free(&by_proc);
	owner_walker_close(w);
	return procs ? 0 : 1;
}
