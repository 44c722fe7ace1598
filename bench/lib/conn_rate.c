// SPDX-License-Identifier: GPL-2.0
/*
 * New TCP connections per second to a listener of its own on
 * 127.0.0.1:PORT for SECONDS: connect, one byte each way, close (an RST, so
 * no TIME_WAIT piles up). The listener is a child process; run both on one
 * CPU (taskset) and the rate is that CPU's cost of a connection, with little
 * of the client's own (conn_rate.py spends most of its loop in Python).
 * Prints JSON: connections, seconds, per second, failures.
 *
 *     conn_rate PORT SECONDS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listen_on(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) || listen(fd, 1024)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void serve(int lfd)
{
	char b;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			_exit(0);
		if (recv(fd, &b, 1, 0) == 1)
			send(fd, "y", 1, MSG_NOSIGNAL);
		close(fd);
	}
}

/* One connection: 0, or -1 when it failed (refused, reset, short). */
static int one_connection(const struct sockaddr_in *sa)
{
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
	char b;

	if (fd < 0)
		return -1;
	ok = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) &&
	     send(fd, "x", 1, MSG_NOSIGNAL) == 1 && recv(fd, &b, 1, 0) == 1 && b == 'y';
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(fd);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	long done = 0, failed = 0;
	double seconds, t0, secs;
	int lfd;
	pid_t server;

	if (argc != 3) {
		fprintf(stderr, "usage: conn_rate PORT SECONDS\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	seconds = atof(argv[2]);
	lfd = listen_on(&sa);
	if (lfd < 0) {
		fprintf(stderr, "conn_rate: 127.0.0.1:%s: %s\n", argv[1], strerror(-lfd));
		return 1;
	}
	server = fork();
	if (server < 0)
		return 1;
	if (!server)
		serve(lfd);
	t0 = now_s();
	do {
		if (one_connection(&sa))
			failed++;
		else
			done++;
	} while (now_s() - t0 < seconds);
	secs = now_s() - t0;
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	printf("{\"connections\": %ld, \"seconds\": %.3f, \"per_second\": %.0f, \"failed\": %ld}\n",
	       done, secs, (double)done / secs, failed);
	return 0;
}
