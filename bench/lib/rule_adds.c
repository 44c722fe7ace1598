// SPDX-License-Identifier: GPL-2.0
/*
 * One client adding COUNT rules over the control socket, each request sent
 * once the reply to the one before has come: what the agent answers in,
 * with next to nothing spent in the client (rule_adds.py spends about
 * 70 us a request in Python). Rules as rule_adds.py makes them,
 * `reset remote 198.18.x.y/32 lport 8080` from FIRST on, matching nothing.
 * Prints JSON: adds, seconds, adds per second.
 *
 *     rule_adds SOCKET COUNT [FIRST]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The agent's control socket, connected; -errno. */
static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	if (!err)
		return fd;
	close(fd);
	return err;
}

/* One reply line into buf; -errno, or -EPROTO if it says the add failed. */
static int read_reply(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (!got || buf[got - 1] != '\n') {
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		got += (size_t)n;
		if (got == size - 1)
			return -EMSGSIZE;
	}
	buf[got] = '\0';
	return strstr(buf, "\"ok\":true") ? 0 : -EPROTO;
}

static int add_one(int fd, long i, char *reply, size_t size)
{
	char req[256];
	int len;

	len = snprintf(req, sizeof(req), "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\","
		       "\"remote\":\"198.%ld.%ld.%ld\",\"lport\":8080}}\n",
		       18 + i / 65536, i / 256 % 256, i % 256);
	if (write(fd, req, (size_t)len) != len)
		return -errno;
	return read_reply(fd, reply, size);
}

int main(int argc, char **argv)
{
	char reply[4096];
	long count, first, i;
	double t0, secs;
	int fd, err = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: rule_adds SOCKET COUNT [FIRST]\n");
		return 2;
	}
	count = strtol(argv[2], NULL, 10);
	first = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
	fd = connect_to(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "rule_adds: %s: %s\n", argv[1], strerror(-fd));
		return 1;
	}
	t0 = now_s();
	for (i = first; i < first + count && !err; i++)
		err = add_one(fd, i, reply, sizeof(reply));
	secs = now_s() - t0;
	close(fd);
	if (err) {
		fprintf(stderr, "rule_adds: rule.add failed: %s\n",
			err == -EPROTO ? reply : strerror(-err));
		return 1;
	}
	printf("{\"adds\": %ld, \"seconds\": %f, \"per_second\": %f}\n", count, secs,
	       (double)count / secs);
	return 0;
}
