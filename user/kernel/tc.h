/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tc clsact programs on the interfaces the operator names (--iface), each
 * recorded in the pinned tc_ifaces map so that a later agent, or
 * --uninstall, finds every interface that carries our filters.
 */
#ifndef CONNCTL_TC_H
#define CONNCTL_TC_H

#include <stddef.h>
#include "kernel/loader.h"

#define MAX_IFACES	CONNCTL_MAX_TC_IFACES

/*
 * Attach to these interfaces; detach from recorded ones no longer named.
 * XDP goes on them only while a block rule stands (LINKS_XDP): an earlier
 * agent's is kept until the rules say otherwise.
 */
int tc_attach(struct datapath *dp, char *const *ifnames, size_t n);
/* XDP on every interface tc_attach was given, or off them all. */
int tc_xdp_set(struct datapath *dp, bool on);
/*
 * Detach from every recorded interface (the tc_ifaces map at its pin path)
 * the filters that are ours (they use the flows map pinned at flows_pin).
 */
int tc_detach_recorded(const char *tc_ifaces_pin, const char *flows_pin);

#endif /* CONNCTL_TC_H */
