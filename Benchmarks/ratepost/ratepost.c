/*
 * ratepost: a constant-rate HTTP/1.1 POST load generator for Benchmarks/run.sh server.
 *
 * hey, the Go client the server benchmark used first, took a third of this two-core
 * machine at 15k requests/s, and its own scheduling was most of the p99 it reported for
 * any server, an empty one too. ratepost is one thread on epoll: it keeps CONNECTIONS
 * keep-alive connections, sends request k at START + k / RATE on whichever connection is
 * idle, and measures each latency from the time the request was due, not from when it was
 * sent (as wrk2 does), so a server that falls behind cannot hide its queue ("coordinated
 * omission"). A request that finds every connection busy waits, and its wait is counted.
 *
 *   ratepost HOST PORT PATH BODY_FILE RATE CONNECTIONS SECONDS WARMUP_SECONDS
 *
 * Prints one line of key=value pairs: the achieved rate, p50/p90/p99/p99.9/max latency in
 * milliseconds, the count of non-200 answers and of connection errors, and the CPU
 * ratepost itself used as a share of one core. With RATEPOST_TIMELINE set, it also prints to
 * standard error, for every 100 ms of the run, the slowest answer to a request due in it:
 * a stall shows as a spike.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct connection {
    int fd;
    int busy;          /* a request is outstanding */
    int64_t due;       /* when the outstanding request was due (ns) */
    size_t sent;       /* bytes of the request written so far */
    char buffer[65536];
    size_t filled;
};

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void fail(const char *what) {
    fprintf(stderr, "ratepost: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int compare(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static struct sockaddr_in address;
static char *request;
static size_t request_length;

static int open_connection(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) fail("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0 && errno != EINPROGRESS) fail("connect");
    return fd;
}

static void watch(int epoll, struct connection *c, uint32_t events, int op) {
    struct epoll_event event = {.events = events, .data.ptr = c};
    if (epoll_ctl(epoll, op, c->fd, &event) < 0) fail("epoll_ctl");
}

/* Writes what is left of the request; returns 0 when it is all written. */
static int push(struct connection *c) {
    while (c->sent < request_length) {
        ssize_t n = write(c->fd, request + c->sent, request_length - c->sent);
        if (n < 0) return errno == EAGAIN ? 1 : -1;
        c->sent += (size_t)n;
    }
    return 0;
}

/* Whether the buffer holds one whole response; its status in *status. */
static int complete(struct connection *c, int *status) {
    c->buffer[c->filled < sizeof c->buffer ? c->filled : sizeof c->buffer - 1] = 0;
    char *end = strstr(c->buffer, "\r\n\r\n");
    if (!end) return 0;
    size_t header = (size_t)(end + 4 - c->buffer);
    long length = 0;
    char *field = strcasestr(c->buffer, "\r\ncontent-length:");
    if (field && field < end) length = strtol(field + 17, NULL, 10);
    if (c->filled < header + (size_t)length) return 0;
    *status = (int)strtol(c->buffer + 9, NULL, 10);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: ratepost HOST PORT PATH BODY_FILE RATE CONNECTIONS SECONDS WARMUP_SECONDS\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    double rate = atof(argv[5]);
    int count = atoi(argv[6]);
    double seconds = atof(argv[7]), warmup = atof(argv[8]);
    if (port <= 0 || rate <= 0 || count <= 0 || count > 4096 || seconds <= 0 || warmup < 0) {
        fprintf(stderr, "ratepost: bad arguments\n");
        return 2;
    }
    FILE *file = fopen(argv[4], "rb");
    if (!file) fail(argv[4]);
    static char body[1 << 20];
    size_t body_length = fread(body, 1, sizeof body, file);
    fclose(file);
    request = malloc(body_length + 1024);
    if (!request) fail("malloc");
    request_length = (size_t)snprintf(request, 1024, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                                      argv[3], host, port, body_length);
    memcpy(request + request_length, body, body_length);
    request_length += body_length;

    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "ratepost: HOST must be an IPv4 address\n");
        return 2;
    }
    int epoll = epoll_create1(0);
    if (epoll < 0) fail("epoll_create1");
    struct connection *connections = calloc((size_t)count, sizeof *connections);
    if (!connections) fail("calloc");
    for (int i = 0; i < count; i++) {
        connections[i].fd = open_connection();
        watch(epoll, &connections[i], EPOLLIN, EPOLL_CTL_ADD);
    }

    size_t capacity = (size_t)(rate * seconds) + 16;
    int64_t *latencies = malloc(capacity * sizeof *latencies);
    if (!latencies) fail("malloc");
    size_t measured = 0;
    size_t slots = (size_t)(seconds * 10) + 1;
    int64_t *slowest = calloc(slots, sizeof *slowest);
    if (!slowest) fail("calloc");
    long non200 = 0, errors = 0;
    int64_t interval = (int64_t)(1e9 / rate);
    int64_t start = now_ns() + 100000000;  /* 100 ms for the connections to open */
    int64_t measure_from = start + (int64_t)(warmup * 1e9);
    int64_t stop = measure_from + (int64_t)(seconds * 1e9);
    int64_t next = start;  /* when the next request is due */
    struct rusage usage_start;
    int64_t clock_start = 0;
    int started = 0;
    struct epoll_event events[256];

    for (;;) {
        int64_t now = now_ns();
        if (!started && now >= measure_from) {
            getrusage(RUSAGE_SELF, &usage_start);
            clock_start = now;
            started = 1;
        }
        if (now >= stop) break;
        /* Send every request that is due, on idle connections. */
        for (int i = 0; i < count && next <= now && next < stop; i++) {
            struct connection *c = &connections[i];
            if (c->busy) continue;
            c->busy = 1;
            c->due = next;
            c->sent = 0;
            c->filled = 0;
            next += interval;
            int pushed = push(c);
            if (pushed < 0) { errors++; c->busy = 0; continue; }
            if (pushed > 0) watch(epoll, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        }
        int64_t wait = next > now ? next - now : 0;
        int idle = 0;
        for (int i = 0; i < count; i++) idle |= !connections[i].busy;
        if (!idle) wait = 5000000;  /* everything busy: wait for an answer */
        struct timespec timeout = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
        int ready = epoll_pwait2(epoll, events, 256, &timeout, NULL);
        if (ready < 0 && errno != EINTR) fail("epoll_pwait2");
        for (int e = 0; e < ready; e++) {
            struct connection *c = events[e].data.ptr;
            if (events[e].events & EPOLLOUT) {
                int pushed = push(c);
                if (pushed == 0) watch(epoll, c, EPOLLIN, EPOLL_CTL_MOD);
                else if (pushed < 0) errors++;
            }
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t n = read(c->fd, c->buffer + c->filled, sizeof c->buffer - 1 - c->filled);
            if (n <= 0) {
                if (n < 0 && errno == EAGAIN) continue;
                /* The server closed the connection: count it and open another. */
                errors++;
                epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = open_connection();
                c->busy = 0;
                c->filled = 0;
                watch(epoll, c, EPOLLIN, EPOLL_CTL_ADD);
                continue;
            }
            c->filled += (size_t)n;
            int status;
            if (!c->busy || !complete(c, &status)) continue;
            int64_t done = now_ns();
            if (c->due >= measure_from && measured < capacity) {
                latencies[measured++] = done - c->due;
                size_t slot = (size_t)((c->due - measure_from) / 100000000);
                if (slot < slots && done - c->due > slowest[slot]) slowest[slot] = done - c->due;
                if (status != 200) non200++;
            }
            c->busy = 0;
            c->filled = 0;
        }
    }
    struct rusage usage_end;
    getrusage(RUSAGE_SELF, &usage_end);
    double elapsed = (double)(now_ns() - clock_start) / 1e9;
    double cpu = (double)(usage_end.ru_utime.tv_sec - usage_start.ru_utime.tv_sec + usage_end.ru_stime.tv_sec - usage_start.ru_stime.tv_sec)
               + (double)(usage_end.ru_utime.tv_usec - usage_start.ru_utime.tv_usec + usage_end.ru_stime.tv_usec - usage_start.ru_stime.tv_usec) / 1e6;
    if (measured == 0) {
        fprintf(stderr, "ratepost: no answer was measured\n");
        return 1;
    }
    if (getenv("RATEPOST_TIMELINE"))
        for (size_t slot = 0; slot < slots; slot++) fprintf(stderr, "%.1f s: slowest %.3f ms\n", (double)slot / 10, (double)slowest[slot] / 1e6);
    qsort(latencies, measured, sizeof *latencies, compare);
#define AT(q) ((double)latencies[(size_t)((double)(measured - 1) * (q))] / 1e6)
    printf("achieved=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f non200=%ld errors=%ld cpu_of_one_core=%.3f\n",
           (double)measured / seconds, AT(0.5), AT(0.9), AT(0.99), AT(0.999), (double)latencies[measured - 1] / 1e6, non200, errors,
           cpu / elapsed);
    return 0;
}
