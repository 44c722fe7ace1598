/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The event loop's watches: every epoll entry points to a struct watch, and
 * the loop calls its handler. Subsystems embed a watch and find themselves
 * again with container_of.
 */
#ifndef CONNCTL_LOOP_H
#define CONNCTL_LOOP_H

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

struct watch {
	int	fd;
	void	(*handle)(struct watch *w, uint32_t events);
};

struct loop {
	int	epoll_fd;
};

int loop_open(struct loop *l);
void loop_close(struct loop *l);
/* 0, or -errno. */
int watch_add(struct loop *l, struct watch *w, uint32_t events);
int watch_mod(struct loop *l, struct watch *w, uint32_t events);
void watch_del(struct loop *l, struct watch *w);
/* Wait up to timeout_ms and call the handlers of what is ready; -errno. */
int loop_run_once(struct loop *l, int timeout_ms);

#endif /* CONNCTL_LOOP_H */
