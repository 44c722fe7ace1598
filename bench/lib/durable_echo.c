// SPDX-License-Identifier: GPL-2.0
/*
 * The disk's ceiling for a client that waits for each reply, where each
 * reply promises its request is on disk: a Unix-socket server that writes
 * each request line over blank lines of a file (as the agent's journal
 * does, so no write changes the file's size), calls fdatasync, and answers
 * {"ok":true}. Nothing else: no parsing, no BPF, no log. bench/lib/rule_adds
 * against it, beside the same client against the agent, says how much of
 * a durable add is the disk's.
 *
 *     durable_echo SOCKET FILE
 *
 * Serves one client, then exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Blank lines written once; each request overwrites the next of them, around. */
#define BLANK_BYTES	(64 * 1024)

static int write_all_at(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int open_blank(const char *path)
{
	static char blank[BLANK_BYTES];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	memset(blank, '\n', sizeof(blank));
	if (write_all_at(fd, blank, sizeof(blank), 0) || fsync(fd)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Each whole line read: written, synced, answered. 0 when the client leaves. */
static int serve(int conn, int file)
{
	static const char ok[] = "{\"ok\":true}\n";
	char buf[65536];
	size_t have = 0;
	off_t at = 0;

	for (;;) {
		ssize_t n = read(conn, buf + have, sizeof(buf) - have);
		char *line = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : 0;
		have += (size_t)n;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			size_t len = (size_t)(nl - line) + 1;

			if (at + (off_t)len > BLANK_BYTES)
				at = 0;
			if (write_all_at(file, line, len, at) || fdatasync(file))
				return -EIO;
			at += (off_t)len;
			if (write(conn, ok, sizeof(ok) - 1) != (ssize_t)sizeof(ok) - 1)
				return -errno;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf))
			return -EMSGSIZE;
	}
}

int main(int argc, char **argv)
{
	int lfd, conn, file, err;

	if (argc != 3) {
		fprintf(stderr, "usage: durable_echo SOCKET FILE\n");
		return 2;
	}
	file = open_blank(argv[2]);
	if (file < 0) {
		fprintf(stderr, "durable_echo: %s: %s\n", argv[2], strerror(-file));
		return 1;
	}
	lfd = listen_on(argv[1]);
	if (lfd < 0) {
		fprintf(stderr, "durable_echo: %s: %s\n", argv[1], strerror(-lfd));
		return 1;
	}
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		fprintf(stderr, "durable_echo: accept: %s\n", strerror(errno));
		return 1;
	}
	err = serve(conn, file);
	if (err)
		fprintf(stderr, "durable_echo: %s\n", strerror(-err));
	unlink(argv[1]);
	unlink(argv[2]);
	return err ? 1 : 0;
}
