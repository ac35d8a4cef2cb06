/*
 * A closed-loop load generator for line protocols, in C so that the client costs what
 * redis-benchmark costs (a Node client was measured to be the bottleneck: ~28k GET/s against
 * Redis at 50 connections, where redis-benchmark made ~61k on the same machine). One thread,
 * epoll, N connections; each sends one request and waits for its whole reply (compared byte
 * for byte) before the next, as redis-benchmark does without -P. bench/kv.ts compiles it with
 * `cc -O2` into a temp folder.
 *
 *   kv-load PORT CONNECTIONS WARMUP_S DURATION_S REQUEST REPLY
 *
 * REQUEST and REPLY take \r and \n escapes; `{c}` in REQUEST becomes the connection's number
 * (so each connection can write its own key). Prints one JSON line:
 * {"ops":…,"opsPerSec":…,"p50Ms":…,"p99Ms":…,"wrong":…}
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  size_t reqlen;
  char req[4096];
  double sent_at;
  size_t have;
  char buf[4096];
} conn_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static size_t unescape(const char *in, char *out) {
  size_t n = 0;
  for (; *in; in++) {
    if (in[0] == '\\' && in[1] == 'r') { out[n++] = '\r'; in++; }
    else if (in[0] == '\\' && in[1] == 'n') { out[n++] = '\n'; in++; }
    else out[n++] = *in;
  }
  return n;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *s, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)((p / 100.0) * n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return s[rank - 1];
}

int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: kv-load PORT CONNECTIONS WARMUP_S DURATION_S REQUEST REPLY\n"); return 2; }
  int port = atoi(argv[1]), conns = atoi(argv[2]);
  double warmup = atof(argv[3]) * 1e3, duration = atof(argv[4]) * 1e3;
  char request[4096], reply[4096];
  size_t reqlen = unescape(argv[5], request), replen = unescape(argv[6], reply);
  request[reqlen] = 0;
  int ep = epoll_create1(0);
  conn_t *c = calloc(conns, sizeof(conn_t));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  for (int i = 0; i < conns; i++) {
    char *mark = strstr(request, "{c}");
    if (mark) c[i].reqlen = (size_t)snprintf(c[i].req, sizeof c[i].req, "%.*s%d%s", (int)(mark - request), request, i, mark + 3);
    else { memcpy(c[i].req, request, reqlen); c[i].reqlen = reqlen; }
    c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c[i].fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
  }
  size_t cap = 1 << 20, n = 0;
  double *samples = malloc(cap * sizeof(double));
  long wrong = 0;
  double start = now_ms(), timed_from = start + warmup, timed_to = timed_from + duration;
  for (int i = 0; i < conns; i++) { c[i].sent_at = now_ms(); if (write(c[i].fd, c[i].req, c[i].reqlen) != (ssize_t)c[i].reqlen) return 1; }
  struct epoll_event events[256];
  for (;;) {
    double t = now_ms();
    if (t >= timed_to) break;
    int ready = epoll_wait(ep, events, 256, 100);
    for (int e = 0; e < ready; e++) {
      conn_t *k = &c[events[e].data.u32];
      ssize_t got = read(k->fd, k->buf + k->have, sizeof k->buf - k->have);
      if (got <= 0) { if (got < 0 && errno == EAGAIN) continue; fprintf(stderr, "connection closed\n"); return 1; }
      k->have += (size_t)got;
      if (k->have < replen) continue;
      double done = now_ms();
      if (k->have != replen || memcmp(k->buf, reply, replen) != 0) wrong++;
      k->have = 0;
      if (done >= timed_from && done < timed_to) {
        if (n == cap) { cap *= 2; samples = realloc(samples, cap * sizeof(double)); }
        samples[n++] = done - k->sent_at;
      }
      k->sent_at = now_ms();
      if (write(k->fd, k->req, k->reqlen) != (ssize_t)k->reqlen) return 1;
    }
  }
  qsort(samples, n, sizeof(double), cmp);
  printf("{\"ops\":%zu,\"opsPerSec\":%.1f,\"p50Ms\":%.4f,\"p99Ms\":%.4f,\"wrong\":%ld}\n", n, n / (duration / 1e3),
         pct(samples, n, 50), pct(samples, n, 99), wrong);
  return 0;
}
