// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include "sys/sock_diag.h"

int sock_diag_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * The socket's id: src its own end, dst its peer's. UDP's lookup (not its
 * destroy) reads them the other way round, as a packet's: the kernel says
 * "swapped for historical reasons".
 */
static void fill_id(struct inet_diag_sockid *id, const struct connctl_tuple *t,
		    uint64_t cookie, bool swapped)
{
	const __u8 *src = swapped ? t->raddr : t->laddr, *dst = swapped ? t->laddr : t->raddr;

	id->idiag_sport = htons(swapped ? t->rport : t->lport);
	id->idiag_dport = htons(swapped ? t->lport : t->rport);
	if (t->sk_family == AF_INET) {
		memcpy(&id->idiag_src[0], src + 12, 4);
		memcpy(&id->idiag_dst[0], dst + 12, 4);
	} else {
		memcpy(id->idiag_src, src, 16);
		memcpy(id->idiag_dst, dst, 16);
	}
	/* The kernel checks the cookie: a reused 4-tuple is never hit by mistake. */
	id->idiag_cookie[0] = (uint32_t)cookie;
	id->idiag_cookie[1] = (uint32_t)(cookie >> 32);
}

/*
 * The attributes after the message: INET_DIAG_INFO if asked for, and the
 * cgroup id, which the kernel always sends (5.9 on).
 */
static void read_attrs(struct sock_diag_info *info, const struct inet_diag_msg *diag,
		       size_t msg_len)
{
	const struct rtattr *rta = (const void *)(diag + 1);
	size_t len = msg_len - NLMSG_LENGTH(sizeof(*diag));

	memset(&info->tcp_info, 0, sizeof(info->tcp_info));
	info->has_tcp_info = false;
	info->cgroup_id = 0;
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		size_t got = RTA_PAYLOAD(rta);

		if (rta->rta_type == INET_DIAG_CGROUP_ID && got >= sizeof(uint64_t)) {
			memcpy(&info->cgroup_id, RTA_DATA(rta), sizeof(uint64_t));
			continue;
		}
		if (rta->rta_type != INET_DIAG_INFO)
			continue;
		/* An older kernel's is shorter: the rest reads 0. */
		memcpy(&info->tcp_info, RTA_DATA(rta),
		       got < sizeof(info->tcp_info) ? got : sizeof(info->tcp_info));
		info->has_tcp_info = true;
	}
}

static int sock_diag_request(int fd, uint16_t type, const struct connctl_tuple *t,
			     uint64_t cookie, struct sock_diag_info *info)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	} msg = {
		.nlh = {
			.nlmsg_len	= sizeof(msg),
			.nlmsg_type	= type,
			/* A lookup answers with the socket or an error, never both. */
			.nlmsg_flags	= NLM_F_REQUEST |
					  (type == SOCK_DESTROY ? NLM_F_ACK : 0),
		},
		.req = {
			.sdiag_family	= (uint8_t)t->sk_family,
			.sdiag_protocol	= t->proto == CONNCTL_PROTO_UDP ? IPPROTO_UDP :
									  IPPROTO_TCP,
			.idiag_states	= ~0u,
			/* A TCP lookup brings the socket's tcp_info along. */
			.idiag_ext	= type == SOCK_DIAG_BY_FAMILY &&
					  t->proto != CONNCTL_PROTO_UDP ?
					  1 << (INET_DIAG_INFO - 1) : 0,
		},
	};
	union {
		struct nlmsghdr	nlh;
		char		buf[1024];
	} ack;
	struct inet_diag_msg *diag;
	struct nlmsgerr *nle;
	ssize_t n;

	fill_id(&msg.req.id, t, cookie,
		t->proto == CONNCTL_PROTO_UDP && type == SOCK_DIAG_BY_FAMILY);
	if (send(fd, &msg, sizeof(msg), 0) < 0)
		return -errno;
	n = recv(fd, &ack, sizeof(ack), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(struct nlmsghdr))
		return -EPROTO;
	if (ack.nlh.nlmsg_type == NLMSG_ERROR) {
		if ((size_t)n < sizeof(struct nlmsghdr) + sizeof(*nle))
			return -EPROTO;
		nle = NLMSG_DATA(&ack.nlh);
		return nle->error;
	}
	if (type != SOCK_DIAG_BY_FAMILY || ack.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    (size_t)n < NLMSG_LENGTH(sizeof(*diag)))
		return -EPROTO;
	diag = NLMSG_DATA(&ack.nlh);
	info->inode = diag->idiag_inode;
	info->state = diag->idiag_state;
	info->rqueue = diag->idiag_rqueue;
	info->wqueue = diag->idiag_wqueue;
	read_attrs(info, diag, (size_t)n < ack.nlh.nlmsg_len ? (size_t)n : ack.nlh.nlmsg_len);
	return 0;
}

int sock_diag_destroy(int fd, const struct connctl_tuple *t, uint64_t cookie)
{
	/* No socket for its namespace: the namespace, and the connection, are gone. */
	if (fd < 0)
		return fd;
	return sock_diag_request(fd, SOCK_DESTROY, t, cookie, NULL);
}

int sock_diag_lookup(int fd, const struct connctl_tuple *t, uint64_t cookie,
		     struct sock_diag_info *info)
{
	if (fd < 0)
		return fd;
	return sock_diag_request(fd, SOCK_DIAG_BY_FAMILY, t, cookie, info);
}
