// SPDX-License-Identifier: GPL-2.0
/*
 * The owners iterator (bpf/owners.bpf.c, kernel/owner_walk.c) against a
 * walk of /proc: the socket fds of this process and of a child, each found
 * by both walks with the same inode, pid and fd. Needs root and BPF.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "kernel/owner_walk.h"
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
	/* A child holding a pair of its own until told to go. */
	assert_int_equal(pipe(go), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		char c;

		close(go[1]);
		_exit(read(go[0], &c, 1) < 0);
	}
	for (int k = 0; k < 2; k++) {
		held[n++] = (struct held){ child, sv[k], inode_of(sv[k]) };
		close(sv[k]);	/* the child's now */
	}

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_what_proc_finds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
