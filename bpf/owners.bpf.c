// SPDX-License-Identifier: GPL-2.0
/*
 * The owners of sockets: every socket fd of every process the agent sees,
 * from one in-kernel walk of the file tables (iter/task_file), written as
 * struct connctl_owner_record. The agent closes a drained connection
 * through its owner's fd; the walk replaces reading /proc/PID/fd/N links
 * one system call each, several times slower (see user/sys/owner.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "connctl.h"

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT		0170000
#define S_IFSOCK	0140000

/* The level of the agent's pid namespace: 0 is the host's. */
const volatile __u32 pid_level = 0;

/* The process's pid as the agent's namespace numbers it; 0 if it has none. */
static __always_inline __u32 pid_seen(struct task_struct *task)
{
	struct pid *pid;
	struct upid upid;
	__u64 at;

	if (!pid_level)
		return task->tgid;
	pid = task->group_leader->thread_pid;
	if (!pid || pid->level < pid_level)
		return 0;
	at = (__u64)pid + __builtin_offsetof(struct pid, numbers) +
	     (__u64)pid_level * sizeof(struct upid);
	if (bpf_probe_read_kernel(&upid, sizeof(upid), (void *)at))
		return 0;
	return upid.nr;
}

SEC("iter/task_file")
int connctl_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct connctl_owner_record rec;
	struct inode *inode;

	if (!task || !file)
		return 0;
	inode = file->f_inode;
	if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	rec.inode = inode->i_ino;
	rec.pid = pid_seen(task);
	rec.fd = (__s32)ctx->fd;
	if (rec.pid)
		bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
