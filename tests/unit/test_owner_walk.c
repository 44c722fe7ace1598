// SPDX-License-Identifier: GPL-2.0
/*
 * The owners iterator (bpf/owners.bpf.c, kernel/owner_walk.c) against a
 * walk of /proc: the socket fds of this process and of a child, each found
 * by both walks with the same inode, pid and fd; a walk of one process,
 * and of one cgroup's. Needs root and BPF.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "kernel/owner_walk.h"
#include "sys/cgroup.h"
#include "sys/owner.h"

#define PAIRS	3

struct held {
	pid_t		pid;
	int		fd;
	uint64_t	inode;
};

static uint64_t inode_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

/* Whether the index lists exactly this pid, fd and inode. */
static bool lists(const struct owner_index *idx, const struct held *h)
{
	for (size_t i = 0; i < idx->n; i++)
		if (idx->v[i].inode == h->inode && idx->v[i].pid == h->pid &&
		    idx->v[i].fd == h->fd)
			return true;
	return false;
}

/* The entries of these pids, as a count: both walks must agree on it. */
static size_t entries_of(const struct owner_index *idx, pid_t a, pid_t b)
{
	size_t n = 0;

	for (size_t i = 0; i < idx->n; i++)
		n += idx->v[i].pid == a || idx->v[i].pid == b;
	return n;
}

/* A child holding a socket pair of its own until told to go (go[1] closed). */
static pid_t child_holding(int go[2], struct held *held)
{
	int sv[2];
	pid_t child;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		char c;

		close(go[1]);
		_exit(read(go[0], &c, 1) < 0);
	}
	close(go[0]);
	for (int k = 0; k < 2; k++) {
		held[k] = (struct held){ child, sv[k], inode_of(sv[k]) };
		close(sv[k]);
	}
	return child;
}

static void test_finds_what_proc_finds(void **state)
{
	struct owner_index by_iter = {}, by_proc = {};
	struct held held[2 * PAIRS + 2];
	struct owner_walker *w;
	int sv[2], go[2], n = 0;
	pid_t child;

	(void)state;
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		for (int k = 0; k < 2; k++)
			held[n++] = (struct held){ getpid(), sv[k], inode_of(sv[k]) };
	}
	child = child_holding(go, &held[n]);
	n += 2;

	w = owner_walker_open();
	assert_non_null(w);
	owner_walker_use(w, &by_iter);
	/* The iterator itself, not /proc after a failure. */
	assert_int_equal(by_iter.walk(by_iter.walk_ctx, &by_iter), 0);
	assert_int_equal(owner_index_warm(&by_proc, 0), 0);
	for (int i = 0; i < n; i++) {
		assert_true(lists(&by_iter, &held[i]));
		assert_true(lists(&by_proc, &held[i]));
	}
	assert_int_equal(entries_of(&by_iter, getpid(), child),
			 entries_of(&by_proc, getpid(), child));

	/* Through the index: a duplicate of the child's fd, the same socket. */
	owner_index_free(&by_iter);
	assert_int_equal(owner_index_warm(&by_iter, 0), 0);
	{
		int fd = owner_take_fd(&by_iter, held[n - 1].inode, 0);

		assert_true(fd >= 0);
		assert_int_equal(inode_of(fd), held[n - 1].inode);
		close(fd);
	}

	close(go[1]);
	waitpid(child, NULL, 0);
	owner_index_free(&by_iter);
	owner_index_free(&by_proc);
	owner_walker_close(w);
}

/* A walk of one process: its sockets, none of another's, by both walks. */
static void test_walks_one_process(void **state)
{
	struct owner_index by_iter = {}, by_proc = {};
	struct held held[2], mine;
	struct owner_walker *w;
	int go[2], sv[2];
	pid_t child;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	mine = (struct held){ getpid(), sv[0], inode_of(sv[0]) };
	child = child_holding(go, held);
	w = owner_walker_open();
	assert_non_null(w);
	owner_walker_use(w, &by_iter);
	by_iter.narrowed = by_proc.narrowed = true;
	by_iter.only = by_proc.only = &child;
	by_iter.n_only = by_proc.n_only = 1;
	assert_int_equal(by_iter.walk(by_iter.walk_ctx, &by_iter), 0);
	assert_int_equal(owner_index_warm(&by_proc, 0), 0);
	for (int k = 0; k < 2; k++) {
		assert_true(lists(&by_iter, &held[k]));
		assert_true(lists(&by_proc, &held[k]));
	}
	/* The child holds what it inherited too, but nothing is ours. */
	assert_true(lists(&by_proc, &(struct held){ child, mine.fd, mine.inode }));
	assert_int_equal(by_iter.n, by_proc.n);
	for (size_t i = 0; i < by_iter.n; i++) {
		assert_int_equal(by_iter.v[i].pid, child);
		assert_int_equal(by_proc.v[i].pid, child);
	}

	close(go[1]);
	waitpid(child, NULL, 0);
	close(sv[0]);
	close(sv[1]);
	owner_index_free(&by_iter);
	owner_index_free(&by_proc);
	owner_walker_close(w);
}

/* The cgroup test's own, and an empty one: removed, its child killed, pass or fail. */
static char test_cgroup[600], empty_cgroup[600];
static pid_t test_child;

static int remove_test_cgroup(void **state)
{
	(void)state;
	if (test_child > 0) {
		kill(test_child, SIGKILL);
		waitpid(test_child, NULL, 0);
	}
	if (empty_cgroup[0])
		rmdir(empty_cgroup);
	if (test_cgroup[0])
		rmdir(test_cgroup);
	return 0;
}

/*
 * By cgroup: the owner of a socket of a cgroup is found by a walk of that
 * cgroup's processes, and a socket none of them holds by a walk of all.
 */
static void test_walks_one_cgroup(void **state)
{
	char root[512], procs[640];
	struct owner_index idx = {};
	struct held held[2], mine;
	struct owner_walker *w;
	uint64_t cgroup_id;
	int go[2], sv[2], fd;
	pid_t child;
	FILE *f;

	(void)state;
	assert_int_equal(cgroup2_find_root(root, sizeof(root)), 0);
	snprintf(test_cgroup, sizeof(test_cgroup), "%s/cc-unit-owners-%d", root, (int)getpid());
	assert_int_equal(mkdir(test_cgroup, 0755), 0);
	assert_int_equal(cgroup2_id(test_cgroup, &cgroup_id), 0);
	child = test_child = child_holding(go, held);
	/* Made after the fork: the child does not hold it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	mine = (struct held){ getpid(), sv[0], inode_of(sv[0]) };
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", test_cgroup);
	f = fopen(procs, "w");
	assert_non_null(f);
	fprintf(f, "%d\n", (int)child);
	assert_int_equal(fclose(f), 0);

	w = owner_walker_open();
	assert_non_null(w);
	owner_walker_use(w, &idx);
	fd = owner_take_fd_in(&idx, held[1].inode, cgroup_id, 0);
	assert_true(fd >= 0);
	assert_int_equal(inode_of(fd), held[1].inode);
	close(fd);
	assert_int_equal(idx.walks_cgroup, 1);
	assert_int_equal(idx.walks_all, 0);
	/* Its pair's other end: the same walk serves, none more. */
	fd = owner_take_fd_in(&idx, held[0].inode, cgroup_id, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(idx.walks_cgroup, 1);
	/*
	 * Held outside the cgroup: found by a walk of every process, once the
	 * cgroup's walk is older than its freshness (1 ms) and is redone.
	 */
	usleep(2000);
	fd = owner_take_fd_in(&idx, mine.inode, cgroup_id, 0);
	assert_true(fd >= 0);
	assert_int_equal(inode_of(fd), mine.inode);
	close(fd);
	assert_int_equal(idx.walks_cgroup, 2);
	assert_int_equal(idx.walks_all, 1);
	/* A cgroup with no process: a walk of nobody, then of all. */
	owner_index_free(&idx);
	snprintf(empty_cgroup, sizeof(empty_cgroup), "%.580s/empty", test_cgroup);
	assert_int_equal(mkdir(empty_cgroup, 0755), 0);
	assert_int_equal(cgroup2_id(empty_cgroup, &cgroup_id), 0);
	fd = owner_take_fd_in(&idx, held[1].inode, cgroup_id, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(idx.walks_cgroup, 3);
	assert_int_equal(idx.walks_all, 2);
	assert_int_equal(rmdir(empty_cgroup), 0);
	empty_cgroup[0] = '\0';

	close(go[1]);
	waitpid(child, NULL, 0);
	test_child = 0;
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(rmdir(test_cgroup), 0);
	test_cgroup[0] = '\0';
	owner_index_free(&idx);
	owner_walker_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_what_proc_finds),
		cmocka_unit_test(test_walks_one_process),
		cmocka_unit_test_teardown(test_walks_one_cgroup, remove_test_cgroup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
