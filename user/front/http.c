// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/log.h"
#include "front/http.h"

#define HTTP_HEADER_MAX	8192

struct http_conn {
	struct watch		w;
	struct http_server	*srv;
	struct http_conn	*next;
	uint64_t		since_ns;
	char			in[HTTP_HEADER_MAX];
	size_t			in_len;
	char			*out;		/* the whole response */
	size_t			out_len, out_off;
};

static void conn_free(struct http_conn *c)
{
	struct http_server *s = c->srv;

	for (struct http_conn **p = &s->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	s->n_conns--;
	watch_del(s->loop, &c->w);
	close(c->w.fd);
	free(c->out);
	free(c);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	default: return "Internal Server Error";
	}
}

/* The response, whole, into c->out: status line, headers, the body unless HEAD. */
static int respond(struct http_conn *c, const struct http_reply *r, bool head)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return -ENOMEM;
	fprintf(f, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n", r->status, reason(r->status), r->type, r->len);
	if (!head && r->len)
		fwrite(r->body, 1, r->len, f);
	if (fclose(f)) {
		free(out);
		return -ENOMEM;
	}
	c->out = out;
	c->out_len = len;
	return watch_mod(c->srv->loop, &c->w, EPOLLOUT);
}

static void text_reply(struct http_reply *r, int status, const char *text)
{
	r->status = status;
	r->type = "text/plain";
	r->body = strdup(text);
	r->len = r->body ? strlen(r->body) : 0;
}

/* A whole header is in: the request line read, the handler asked. */
static int serve(struct http_conn *c)
{
	struct http_reply r = { 0 };
	/* Read below even when the request line does not parse. */
	char method[8] = "", path[256];
	bool head;

	c->in[c->in_len] = '\0';
	if (sscanf(c->in, "%7s %255s HTTP/1.%*1[01]", method, path) != 2) {
		text_reply(&r, 400, "bad request\n");
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		text_reply(&r, 405, "GET /metrics\n");
	} else if (c->srv->handle(c->srv->ctx, path, &r)) {
		free(r.body);
		text_reply(&r, 500, "internal error\n");
	}
	head = !strcmp(method, "HEAD");
	respond(c, &r, head);
	free(r.body);
	return 0;
}

static void conn_read(struct http_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->w.fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_free(c);
			return;
		}
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		/* Over what was read: a NUL in it must not hide the header's end. */
		if (memmem(c->in, c->in_len, "\r\n\r\n", 4) || memmem(c->in, c->in_len, "\n\n", 2)) {
			serve(c);
			return;
		}
		if (c->in_len == sizeof(c->in) - 1) {
			struct http_reply r;

			text_reply(&r, 431, "header too large\n");
			respond(c, &r, false);
			free(r.body);
			return;
		}
	}
}

static void conn_write(struct http_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	conn_free(c);
}

static void on_conn(struct watch *w, uint32_t events)
{
	struct http_conn *c = container_of(w, struct http_conn, w);

	if (c->out)
		conn_write(c);
	else
		conn_read(c);
}

static void on_accept(struct watch *w, uint32_t events)
{
	struct http_server *s = container_of(w, struct http_server, w);

	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct http_conn *c;

		if (fd < 0)
			return;
		/* Past the bound, a scraper waits in the backlog no more: it is closed. */
		c = s->n_conns < s->max_conns ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->w.fd = fd;
		c->w.handle = on_conn;
		c->srv = s;
		c->since_ns = monotonic_ns();
		if (watch_add(s->loop, &c->w, EPOLLIN)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
	}
}

int http_open(struct http_server *s, struct loop *loop, int fd, size_t max_conns,
	      uint64_t timeout_ns, http_handler_fn *handle, void *ctx)
{
	int err;

	*s = (struct http_server){ .loop = loop, .handle = handle, .ctx = ctx,
				   .max_conns = max_conns, .timeout_ns = timeout_ns };
	s->w.fd = fd;
	s->w.handle = on_accept;
	err = watch_add(loop, &s->w, EPOLLIN);
	if (err) {
		close(fd);
		s->w.fd = -1;
	}
	return err;
}

void http_tick(struct http_server *s)
{
	uint64_t now = monotonic_ns();
	struct http_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (now - c->since_ns >= s->timeout_ns)
			conn_free(c);
	}
}

void http_close(struct http_server *s)
{
	while (s->conns)
		conn_free(s->conns);
	if (s->w.fd >= 0) {
		watch_del(s->loop, &s->w);
		close(s->w.fd);
	}
	s->w.fd = -1;
}
