// Small HTTP/1.1 client for the socket API benchmark (Unix sockets only).
//
//   loadgen capture SOCK PATH OUT         one GET, the whole response (head + body) written to OUT
//   loadgen load SOCK PATH CONNS SECONDS [WARMUP_SECONDS]
//       closed-loop keep-alive load: CONNS connections, one request in flight on each; prints
//       one line "conns=.. requests=.. seconds=.. rps=.. p50_us=.. p90_us=.. p99_us=.. max_us=..
//       errors=.. all=.." (all: answers read, warm-up included). Latency = from writing a
//       request to having read its whole answer.
//   loadgen ready SOCK PATH TIMEOUT_MS ANSWER_OUT LOG -- COMMAND [ARGS...]
//       starts COMMAND (stdout/stderr to LOG), polls SOCK with GET PATH until an answer with
//       status 200 arrives, prints "ready_us=N cpu_us=N runq_wait_us=N" (ready_us: from just
//       before fork to that answer; cpu_us and runq_wait_us: what COMMAND's threads had spent
//       on a CPU and waiting for one until then, from /proc/PID/task/*/schedstat), writes the
//       answer to ANSWER_OUT, then stops COMMAND with SIGTERM (SIGKILL after 5 s).
//
// Every loop is bounded in time. Answers must carry Content-Length (fleetflagd's do).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF_CAP (1 << 20)

static char request[1024];
static size_t request_len;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int connect_unix(const char* path, int nonblock) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  if (nonblock) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Length of the complete response at the start of buf, 0 if incomplete, -1 if malformed.
// *status gets the status code.
static long response_size(const char* buf, size_t len, int* status) {
  const char* end = memmem(buf, len, "\r\n\r\n", 4);
  if (end == NULL) return len >= BUF_CAP ? -1 : 0;
  if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(buf + 9);
  long body = -1;
  for (const char* p = buf; p < end; ++p) {
    if (*p == '\n' && strncasecmp(p + 1, "content-length:", 15) == 0) body = atol(p + 16);
  }
  if (body < 0) return -1;
  long total = (long)(end - buf) + 4 + body;
  return (size_t)total <= len ? total : 0;
}

// Blocking: sends the request, reads one whole response into buf. Returns its size or -1.
static long roundtrip(int fd, char* buf, int* status) {
  if (write(fd, request, request_len) != (ssize_t)request_len) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, BUF_CAP - len);
    if (n <= 0) return -1;
    len += (size_t)n;
    long r = response_size(buf, len, status);
    if (r != 0) return r;
  }
}

static int cmp_u32(const void* a, const void* b) {
  uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
  return x < y ? -1 : x > y;
}

struct conn {
  int fd;
  size_t len;
  int64_t sent_at;
  char* buf;
};

struct stats {
  uint32_t* lat_ns;
  size_t n, cap;
  long errors;
  long all;  // answers read, warm-up included
};

static void record(struct stats* s, int64_t ns) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1 << 20;
    s->lat_ns = realloc(s->lat_ns, s->cap * sizeof *s->lat_ns);
    if (s->lat_ns == NULL) abort();
  }
  s->lat_ns[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int send_request(struct conn* c) {
  c->sent_at = now_ns();
  return write(c->fd, request, request_len) == (ssize_t)request_len ? 0 : -1;
}

static int cmd_load(const char* sock, int conns, double seconds, double warmup) {
  struct stats st = {0};
  struct conn* cs = calloc((size_t)conns, sizeof *cs);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < conns; ++i) {
    cs[i].fd = connect_unix(sock, conns > 1);
    cs[i].buf = malloc(BUF_CAP);
    if (cs[i].fd < 0 || cs[i].buf == NULL) {
      fprintf(stderr, "loadgen: connect %s: %s\n", sock, strerror(errno));
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    if (conns > 1) epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  const int64_t start = now_ns();
  const int64_t measure_from = start + (int64_t)(warmup * 1e9);
  const int64_t measure_to = measure_from + (int64_t)(seconds * 1e9);
  int64_t t = start;
  if (conns == 1) {  // blocking write/read: the cheapest client for one connection
    int status = 0;
    while (t < measure_to) {
      const int64_t t0 = now_ns();
      long r = roundtrip(cs[0].fd, cs[0].buf, &status);
      t = now_ns();
      if (r < 0) {
        fprintf(stderr, "loadgen: connection failed\n");
        return 1;
      }
      ++st.all;
      if (t0 >= measure_from) {
        if (status == 200)
          record(&st, t - t0);
        else
          ++st.errors;
      }
    }
  } else {
    for (int i = 0; i < conns; ++i) {
      if (send_request(&cs[i]) != 0) return 1;
    }
    struct epoll_event evs[256];
    while (t < measure_to) {
      int n = epoll_wait(ep, evs, 256, 1000);
      if (n <= 0) {
        fprintf(stderr, "loadgen: no answer for 1 s\n");
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        struct conn* c = evs[i].data.ptr;
        ssize_t r = read(c->fd, c->buf + c->len, BUF_CAP - c->len);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          fprintf(stderr, "loadgen: connection closed by the server\n");
          return 1;
        }
        c->len += (size_t)r;
        int status = 0;
        long size = response_size(c->buf, c->len, &status);
        if (size < 0) {
          fprintf(stderr, "loadgen: malformed answer\n");
          return 1;
        }
        if (size == 0) continue;
        t = now_ns();
        ++st.all;
        if (c->sent_at >= measure_from && t <= measure_to) {
          if (status == 200)
            record(&st, t - c->sent_at);
          else
            ++st.errors;
        }
        memmove(c->buf, c->buf + size, c->len - (size_t)size);
        c->len -= (size_t)size;
        if (t < measure_to && send_request(c) != 0) return 1;
      }
    }
  }
  if (st.n == 0) {
    fprintf(stderr, "loadgen: no successful request\n");
    return 1;
  }
  qsort(st.lat_ns, st.n, sizeof *st.lat_ns, cmp_u32);
  const double us = 1e-3;
  printf(
      "conns=%d requests=%zu seconds=%.3f rps=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f "
      "max_us=%.1f errors=%ld all=%ld\n",
      conns, st.n, seconds, (double)st.n / seconds, st.lat_ns[st.n / 2] * us,
      st.lat_ns[st.n * 90 / 100] * us, st.lat_ns[st.n * 99 / 100] * us, st.lat_ns[st.n - 1] * us,
      st.errors, st.all);
  return 0;
}

static int write_file(const char* path, const char* data, size_t len) {
  FILE* f = fopen(path, "wb");
  if (f == NULL) return -1;
  size_t w = fwrite(data, 1, len, f);
  return fclose(f) == 0 && w == len ? 0 : -1;
}

static int cmd_capture(const char* sock, const char* out) {
  char* buf = malloc(BUF_CAP);
  int fd = connect_unix(sock, 0), status = 0;
  long r = fd < 0 ? -1 : roundtrip(fd, buf, &status);
  if (r < 0 || write_file(out, buf, (size_t)r) != 0) {
    fprintf(stderr, "loadgen: capture from %s failed\n", sock);
    return 1;
  }
  fprintf(stderr, "loadgen: captured %ld bytes, status %d\n", r, status);
  return status == 200 ? 0 : 1;
}

// Sums /proc/PID/task/*/schedstat: nanoseconds on a CPU and waiting in a run queue, over the
// process's live threads. On a shared VM the second one says how much of a wall time was spent
// waiting for a CPU rather than working.
static void sched_times(pid_t pid, double* cpu_us, double* wait_us) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  *cpu_us = *wait_us = 0;
  DIR* d = opendir(path);
  if (d == NULL) return;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char file[384];
    snprintf(file, sizeof file, "%s/%s/schedstat", path, e->d_name);
    FILE* f = fopen(file, "r");
    unsigned long long run = 0, wait = 0;
    if (f != NULL && fscanf(f, "%llu %llu", &run, &wait) == 2) {
      *cpu_us += (double)run / 1000.0;
      *wait_us += (double)wait / 1000.0;
    }
    if (f != NULL) fclose(f);
  }
  closedir(d);
}

static int cmd_ready(const char* sock, int timeout_ms, const char* answer_out, const char* log,
                     char** argv) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // 20 us sleeps between polls, not 70
  char* buf = malloc(BUF_CAP);
  const int64_t t0 = now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  const int64_t deadline = t0 + (int64_t)timeout_ms * 1000000;
  int64_t ready = -1;
  long size = -1;
  while (now_ns() < deadline) {
    int fd = connect_unix(sock, 0), status = 0;
    if (fd >= 0) {
      struct timeval tv = {.tv_sec = 2};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      size = roundtrip(fd, buf, &status);
      close(fd);
      if (size > 0 && status == 200) {
        ready = now_ns() - t0;
        break;
      }
    }
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      fprintf(stderr, "loadgen: %s exited before answering (see %s)\n", argv[0], log);
      return 1;
    }
    struct timespec ts = {.tv_nsec = 20000};
    nanosleep(&ts, NULL);
  }
  double cpu_us = 0, wait_us = 0;
  if (ready >= 0) sched_times(pid, &cpu_us, &wait_us);
  kill(pid, SIGTERM);
  int waited = 0;
  for (int i = 0; i < 5000 && !waited; ++i) {
    waited = waitpid(pid, NULL, WNOHANG) == pid;
    if (!waited) usleep(1000);
  }
  if (!waited) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  if (ready < 0) {
    fprintf(stderr, "loadgen: no 200 answer on %s within %d ms\n", sock, timeout_ms);
    return 1;
  }
  write_file(answer_out, buf, (size_t)size);
  printf("ready_us=%.0f cpu_us=%.0f runq_wait_us=%.0f\n", (double)ready / 1000.0, cpu_us, wait_us);
  return 0;
}

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 4) {
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", argv[3]);
  }
  if (argc == 5 && strcmp(argv[1], "capture") == 0) return cmd_capture(argv[2], argv[4]);
  if ((argc == 6 || argc == 7) && strcmp(argv[1], "load") == 0) {
    return cmd_load(argv[2], atoi(argv[4]), atof(argv[5]), argc == 7 ? atof(argv[6]) : 0.5);
  }
  if (argc >= 9 && strcmp(argv[1], "ready") == 0 && strcmp(argv[7], "--") == 0) {
    return cmd_ready(argv[2], atoi(argv[4]), argv[5], argv[6], argv + 8);
  }
  fprintf(stderr,
          "usage: loadgen capture SOCK PATH OUT\n"
          "       loadgen load SOCK PATH CONNS SECONDS [WARMUP_SECONDS]\n"
          "       loadgen ready SOCK PATH TIMEOUT_MS ANSWER_OUT LOG -- COMMAND [ARGS...]\n");
  return 2;
}
