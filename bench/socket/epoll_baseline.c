// Baseline for the socket API benchmark: a minimal single-threaded epoll HTTP/1.1 server on a
// Unix socket that answers every request with the same pre-recorded bytes (captured from
// fleetflagd's GET /v1/flags/{key} by `loadgen capture`). It parses nothing but the end of
// each request head ("\r\n\r\n"), so it is the floor any real server pays: accept, read, write.
//
// Usage: epoll_baseline SOCKET_PATH RESPONSE_FILE
// Keep-alive always; pipelined requests get one answer each; requests with a body are not
// supported (GET only). Exits on SIGTERM/SIGINT and removes the socket file.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define IN_CAP 16384

struct conn {
  int fd;
  size_t in_len;   // bytes of unanswered request data in `in`
  size_t out_off;  // bytes of `out` already written
  size_t out_len;  // bytes of `out` queued
  size_t out_cap;
  char* out;
  char in[IN_CAP];
};

static const char* response;
static size_t response_len;
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void close_conn(int ep, struct conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->out);
  free(c);
}

// Queues one response per complete request head in c->in. Returns 0, or -1 on an oversized head.
static int queue_answers(struct conn* c) {
  size_t start = 0;
  for (;;) {
    char* end = memmem(c->in + start, c->in_len - start, "\r\n\r\n", 4);
    if (end == NULL) break;
    start = (size_t)(end - c->in) + 4;
    if (c->out_len + response_len > c->out_cap) {
      c->out_cap = (c->out_len + response_len) * 2;
      c->out = realloc(c->out, c->out_cap);
      if (c->out == NULL) return -1;
    }
    memcpy(c->out + c->out_len, response, response_len);
    c->out_len += response_len;
  }
  memmove(c->in, c->in + start, c->in_len - start);
  c->in_len -= start;
  return c->in_len == IN_CAP ? -1 : 0;
}

// Writes what is queued. Returns 1 when all went out, 0 when the socket is full, -1 on error.
static int flush_out(struct conn* c) {
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->out_off += (size_t)n;
  }
  c->out_off = c->out_len = 0;
  return 1;
}

static int handle(int ep, struct conn* c, unsigned events) {
  if (events & (EPOLLERR | EPOLLHUP)) return -1;
  if (events & EPOLLIN) {
    for (;;) {
      ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
      if (n == 0) return -1;
      if (n < 0) {
        if (errno == EAGAIN) break;
        return -1;
      }
      c->in_len += (size_t)n;
      if (queue_answers(c) != 0) return -1;
      if ((size_t)n < IN_CAP) break;  // drained (level-triggered: more will be signalled)
    }
  }
  int r = flush_out(c);
  if (r < 0) return -1;
  struct epoll_event ev = {.events = EPOLLIN | (r == 0 ? EPOLLOUT : 0), .data.ptr = c};
  if (r == 0 || (events & EPOLLOUT)) epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  return 0;
}

static char* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char* buf = malloc(1 << 20);
  *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
  fclose(f);
  return buf;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SOCKET_PATH RESPONSE_FILE\n", argv[0]);
    return 2;
  }
  response = read_file(argv[2], &response_len);
  if (response == NULL || response_len == 0) {
    fprintf(stderr, "epoll_baseline: cannot read %s\n", argv[2]);
    return 2;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(lfd, 512) != 0) {
    perror("epoll_baseline: listen");
    return 1;
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  fprintf(stderr, "epoll_baseline: serving %zu bytes on %s\n", response_len, argv[1]);
  struct epoll_event events[MAX_EVENTS];
  while (!stop) {
    int n = epoll_wait(ep, events, MAX_EVENTS, 500);
    for (int i = 0; i < n; ++i) {
      struct conn* c = events[i].data.ptr;
      if (c != NULL) {
        if (handle(ep, c, events[i].events) != 0) close_conn(ep, c);
        continue;
      }
      int fd;
      while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        c = calloc(1, sizeof *c);
        if (c == NULL) {
          close(fd);
          continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      }
    }
  }
  unlink(argv[1]);
  return 0;
}
