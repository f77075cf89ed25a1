/*
 * An open-loop HTTP load generator for `python -m bench.intake`.
 *
 * Request i is due at start + i / rate, whatever happened to the requests before it. At its due
 * time it goes out on an idle keep-alive connection; when none is idle a new connection is opened
 * (up to --max-conns), and only beyond that does it wait in a queue. Latency is measured from the
 * due time, so waiting for a connection or a slow server is counted (no coordinated omission);
 * the latency from the moment the request was written is reported too.
 *
 * Bodies come from a file of lines `<Tally-Signature>\t<JSON body>`, one per request, each used
 * at most once. After --duration seconds nothing new is sent; requests still waiting for a
 * connection are counted as unsent, and the requests in flight are waited for (--drain-timeout),
 * so that every request sent is answered before the figures are printed (JSON on stdout).
 * The knock ids of 202 answers can be written to a file (--ids-out) for the caller to check.
 * A request not answered within --timeout seconds of its due time (answered later, or still
 * unanswered that long after it was due when the run ended: unsent, lost with its connection)
 * counts as timed out: a sender that gives up after that long would have given up on it. The
 * generator itself waits for every answer, so this counts latencies beyond the time-out, not
 * connections it closed.
 *
 *   cc -O2 -o openloop bench/openloop.c
 *   ./openloop --port 8000 --rate 1000 --duration 10 --bodies bodies.txt
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { IDLE, CONNECTING, BUSY };

typedef struct {
    int fd;
    int state;
    long req;       /* request index in flight (or waiting for the connect), or -1 */
    int idle_pos;   /* place in the idle stack, or -1 */
    char *out;      /* the request being written */
    size_t out_len, out_done;
    char *in;       /* the response read so far */
    size_t in_len, in_cap;
} conn;

static const char *host = "127.0.0.1";
static int port = 8000;
static const char *path = "/invite_from_form";
static double rate = 100, duration = 10, drain_timeout = 60, timeout = 10;
static int max_conns = 1000, initial_conns = 32;
static const char *bodies_file, *ids_out;

static char **sigs, **bodies;
static long n_bodies;
static uint64_t *t_due, *t_sent, *t_done;
static int *status_of;
static char (*knock_ids)[40];
static conn *conns;
static int n_conns, epfd;
static int *idle_stack, n_idle;
static long *waiting, wait_head, wait_tail;
static long in_flight, max_in_flight, reconnects, failed;
static int stopped; /* past --duration: nothing more is sent */
static struct sockaddr_in addr;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void load_bodies(long wanted) {
    FILE *f = fopen(bodies_file, "r");
    if (!f) die(bodies_file);
    sigs = calloc(wanted, sizeof(char *));
    bodies = calloc(wanted, sizeof(char *));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (n_bodies < wanted && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n') line[--len] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        sigs[n_bodies] = strdup(line);
        bodies[n_bodies] = strdup(tab + 1);
        n_bodies++;
    }
    free(line);
    fclose(f);
}

static int open_conn(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

static void watch(conn *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static conn *new_conn(void) {
    conn *c = &conns[n_conns++];
    c->fd = open_conn();
    c->state = CONNECTING;
    c->req = -1;
    c->idle_pos = -1;
    c->in_cap = 4096;
    c->in = malloc(c->in_cap);
    watch(c, EPOLLOUT | EPOLLIN, EPOLL_CTL_ADD);
    return c;
}

static void flush_out(conn *c) {
    while (c->out_done < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_done, c->out_len - c->out_done);
        if (n < 0) {
            if (errno == EAGAIN) {
                watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                return;
            }
            return; /* the read side will see the error */
        }
        c->out_done += (size_t)n;
    }
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

static void start_request(conn *c, long i) {
    const char *body = bodies[i];
    size_t blen = strlen(body);
    size_t cap = blen + strlen(sigs[i]) + 512;
    c->out = realloc(c->out, cap);
    c->out_len = (size_t)snprintf(c->out, cap,
        "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
        "Tally-Signature: %s\r\nContent-Length: %zu\r\n\r\n%s",
        path, host, port, sigs[i], blen, body);
    c->out_done = 0;
    c->req = i;
    c->state = BUSY;
    c->in_len = 0;
    t_sent[i] = now_ns();
    flush_out(c);
}

static void assigned(void) {
    if (++in_flight > max_in_flight) max_in_flight = in_flight;
}

static conn *pop_idle(void) {
    conn *c = &conns[idle_stack[--n_idle]];
    c->idle_pos = -1;
    return c;
}

static void drop_idle(conn *c) {
    if (c->idle_pos < 0) return;
    int last = idle_stack[--n_idle];
    idle_stack[c->idle_pos] = last;
    conns[last].idle_pos = c->idle_pos;
    c->idle_pos = -1;
}

static void dispatch(long i) {
    if (n_idle > 0) {
        assigned();
        start_request(pop_idle(), i);
    } else if (n_conns < max_conns) {
        assigned();
        conn *c = new_conn();
        c->req = i; /* sent once connected */
    } else {
        waiting[wait_tail++] = i;
    }
}

static void became_idle(conn *c) {
    c->state = IDLE;
    c->req = -1;
    if (wait_head < wait_tail && !stopped) {
        assigned();
        start_request(c, waiting[wait_head++]);
    } else {
        c->idle_pos = n_idle;
        idle_stack[n_idle++] = (int)(c - conns);
    }
}

/* Length of a complete response at the start of c->in, or 0 when more is needed. */
static size_t complete_response(conn *c, int *status, int *close_after) {
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - c->in) + 4;
    *status = atoi(c->in + 9);
    size_t length = 0;
    *close_after = 0;
    for (char *p = c->in; p < end; p++) {
        if (*p != '\n') continue;
        if (!strncasecmp(p + 1, "content-length:", 15)) length = strtoul(p + 16, NULL, 10);
        if (!strncasecmp(p + 1, "connection: close", 17)) *close_after = 1;
        if (!strncasecmp(p + 1, "transfer-encoding:", 18)) {
            fprintf(stderr, "chunked responses are not supported\n");
            exit(2);
        }
    }
    return c->in_len >= head + length ? head + length : 0;
}

static void record_id(long i, const char *body, size_t len) {
    const char *key = memmem(body, len, "\"knock_id\":\"", 12);
    if (!key) return;
    key += 12;
    size_t n = 0;
    while (key + n < body + len && key[n] != '"' && n < sizeof(knock_ids[0]) - 1) n++;
    memcpy(knock_ids[i], key, n);
    knock_ids[i][n] = '\0';
}

static void reconnect(conn *c) {
    drop_idle(c);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = open_conn();
    c->state = CONNECTING;
    c->in_len = 0;
    reconnects++;
    watch(c, EPOLLOUT | EPOLLIN, EPOLL_CTL_ADD);
}

static void on_readable(conn *c) {
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            c->in_cap *= 2;
            c->in = realloc(c->in, c->in_cap);
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            /* Closed or failed: a request in flight is lost (counted), the connection replaced. */
            long lost = c->state == BUSY ? c->req : -1;
            reconnect(c);
            c->req = -1;
            if (lost >= 0) {
                failed++;
                in_flight--;
                status_of[lost] = -1;
            }
            return;
        }
        c->in_len += (size_t)n;
        int status, close_after;
        size_t used = complete_response(c, &status, &close_after);
        if (!used || c->state != BUSY) continue;
        long i = c->req;
        t_done[i] = now_ns();
        status_of[i] = status;
        if (status == 202 && ids_out) {
            char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
            record_id(i, end + 4, used - (size_t)(end + 4 - c->in));
        }
        in_flight--;
        if (close_after) {
            reconnect(c);
            c->req = -1;
            return;
        }
        became_idle(c);
        return;
    }
}

static void on_event(conn *c, uint32_t events) {
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fprintf(stderr, "connect: %s\n", strerror(err));
            exit(2);
        }
        watch(c, EPOLLIN, EPOLL_CTL_MOD);
        long pending = c->req;
        if (pending >= 0) {
            start_request(c, pending);
        } else {
            became_idle(c);
        }
        return;
    }
    if (events & EPOLLOUT) flush_out(c);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *sorted, long n, double q) {
    if (n == 0) return 0;
    long rank = (long)(q * n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1] / 1000.0; /* microseconds */
}

static void print_percentiles(const char *name, uint64_t *v, long n) {
    qsort(v, (size_t)n, sizeof(uint64_t), cmp_u64);
    printf("\"%s\": {\"n\": %ld, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
           "\"p999_us\": %.1f, \"max_us\": %.1f}",
           name, n, pct(v, n, 0.50), pct(v, n, 0.90), pct(v, n, 0.99), pct(v, n, 0.999),
           n ? v[n - 1] / 1000.0 : 0.0);
}

int main(int argc, char **argv) {
    static struct option opts[] = {
        {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
        {"path", required_argument, 0, 'P'},     {"rate", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 'd'}, {"bodies", required_argument, 0, 'b'},
        {"max-conns", required_argument, 0, 'm'}, {"initial-conns", required_argument, 0, 'i'},
        {"drain-timeout", required_argument, 0, 't'}, {"ids-out", required_argument, 0, 'o'},
        {"timeout", required_argument, 0, 'T'},
        {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
            case 'h': host = optarg; break;
            case 'p': port = atoi(optarg); break;
            case 'P': path = optarg; break;
            case 'r': rate = atof(optarg); break;
            case 'd': duration = atof(optarg); break;
            case 'b': bodies_file = optarg; break;
            case 'm': max_conns = atoi(optarg); break;
            case 'i': initial_conns = atoi(optarg); break;
            case 't': drain_timeout = atof(optarg); break;
            case 'o': ids_out = optarg; break;
            case 'T': timeout = atof(optarg); break;
            default: fprintf(stderr, "bad option\n"); return 2;
        }
    }
    if (!bodies_file || rate <= 0 || duration <= 0) {
        fprintf(stderr, "usage: openloop --bodies FILE --rate R --duration S [--port P]\n");
        return 2;
    }
    if (initial_conns > max_conns) initial_conns = max_conns;
    long total = (long)(rate * duration);
    load_bodies(total);
    if (n_bodies < total) {
        fprintf(stderr, "%s holds %ld bodies, the run needs %ld\n", bodies_file, n_bodies, total);
        return 2;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("host");

    t_due = calloc(total, sizeof(uint64_t));
    t_sent = calloc(total, sizeof(uint64_t));
    t_done = calloc(total, sizeof(uint64_t));
    status_of = calloc(total, sizeof(int));
    knock_ids = calloc(total, sizeof(knock_ids[0]));
    conns = calloc(max_conns, sizeof(conn));
    idle_stack = calloc(max_conns, sizeof(int));
    waiting = calloc(total, sizeof(long));
    epfd = epoll_create1(0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

    /* Open the first connections before the clock starts. */
    for (int k = 0; k < initial_conns; k++) new_conn();
    struct epoll_event events[256];
    uint64_t ready_by = now_ns() + 5000000000ull;
    while (n_idle < initial_conns && now_ns() < ready_by) {
        int n = epoll_wait(epfd, events, 256, 100);
        for (int k = 0; k < n; k++)
            if (events[k].data.ptr) on_event(events[k].data.ptr, events[k].events);
    }

    uint64_t start = now_ns() + 1000000; /* 1 ms from now */
    double interval = 1e9 / rate;
    for (long i = 0; i < total; i++) t_due[i] = start + (uint64_t)(i * interval);
    uint64_t stop_at = start + (uint64_t)(duration * 1e9);
    long next = 0;
    int armed = 0;
    uint64_t drain_deadline = 0;
    for (;;) {
        uint64_t now = now_ns();
        while (next < total && t_due[next] <= now) dispatch(next++);
        if (next >= total || now >= stop_at) {
            stopped = now >= stop_at;
            if (!drain_deadline) drain_deadline = now + (uint64_t)(drain_timeout * 1e9);
            if (in_flight == 0 || now >= drain_deadline) break;
        }
        if (next < total && now < stop_at && !armed) {
            struct itimerspec its = {0};
            its.it_value.tv_sec = (time_t)(t_due[next] / 1000000000ull);
            its.it_value.tv_nsec = (long)(t_due[next] % 1000000000ull);
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
            armed = 1;
        }
        int n = epoll_wait(epfd, events, 256, drain_deadline ? 100 : -1);
        for (int k = 0; k < n; k++) {
            if (!events[k].data.ptr) {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                    die("timerfd");
                armed = 0;
                continue;
            }
            on_event(events[k].data.ptr, events[k].events);
        }
    }
    uint64_t end = now_ns();

    /* Figures. Unsent: due but still waiting for a connection when the run stopped. */
    long scheduled = next, sent = 0, answered = 0, unsent = wait_tail - wait_head;
    long s2xx = 0, s202 = 0, other = 0, unanswered = 0, timed_out = 0;
    uint64_t timeout_ns = (uint64_t)(timeout * 1e9);
    uint64_t last_sent = 0, last_done = 0;
    uint64_t *from_due = calloc(total, sizeof(uint64_t));
    uint64_t *from_send = calloc(total, sizeof(uint64_t));
    uint64_t *with_unsent = calloc(total, sizeof(uint64_t));
    uint64_t *send_lag = calloc(total, sizeof(uint64_t));
    long n_due = 0, n_send = 0, n_all = 0, n_lag = 0;
    for (long i = 0; i < scheduled; i++) {
        if (t_sent[i]) {
            sent++;
            send_lag[n_lag++] = t_sent[i] - t_due[i];
            if (t_sent[i] > last_sent) last_sent = t_sent[i];
        }
        if (t_done[i]) {
            answered++;
            if (status_of[i] == 202) s202++;
            if (status_of[i] >= 200 && status_of[i] < 300) s2xx++;
            else other++;
            from_due[n_due++] = t_done[i] - t_due[i];
            from_send[n_send++] = t_done[i] - t_sent[i];
            with_unsent[n_all++] = t_done[i] - t_due[i];
            if (t_done[i] > last_done) last_done = t_done[i];
            if (t_done[i] - t_due[i] > timeout_ns) timed_out++;
        } else {
            if (t_sent[i]) unanswered++;
            with_unsent[n_all++] = end - t_due[i]; /* a lower bound */
            if (end - t_due[i] > timeout_ns) timed_out++; /* never answered, or lost */
        }
    }
    long answered_in_window = 0;
    for (long i = 0; i < scheduled; i++)
        if (t_done[i] && t_done[i] <= stop_at) answered_in_window++;
    printf("{\"target_rate\": %.1f, \"duration_s\": %.3f, \"scheduled\": %ld, \"sent\": %ld, "
           "\"unsent\": %ld, \"answered\": %ld, \"unanswered\": %ld, \"failed\": %ld, "
           "\"status_2xx\": %ld, \"status_202\": %ld, \"status_other\": %ld, "
           "\"sent_rate\": %.1f, \"answered_in_window_rate\": %.1f, \"connections\": %d, "
           "\"max_in_flight\": %ld, \"reconnects\": %ld, \"drain_s\": %.3f, "
           "\"timeout_s\": %.3f, \"timed_out\": %ld, ",
           rate, duration, scheduled, sent, unsent, answered, unanswered, failed, s2xx, s202,
           other, last_sent > start ? (sent - 1) * 1e9 / (double)(last_sent - start) : 0.0,
           answered_in_window / duration, n_conns, max_in_flight, reconnects,
           last_done > stop_at ? (last_done - stop_at) / 1e9 : 0.0, timeout, timed_out);
    print_percentiles("latency_from_due", from_due, n_due);
    printf(", ");
    print_percentiles("latency_from_send", from_send, n_send);
    printf(", ");
    print_percentiles("latency_with_unsent", with_unsent, n_all);
    printf(", ");
    print_percentiles("send_lag", send_lag, n_lag);
    printf("}\n");

    if (ids_out) {
        FILE *f = fopen(ids_out, "w");
        if (!f) die(ids_out);
        for (long i = 0; i < scheduled; i++)
            if (status_of[i] == 202 && knock_ids[i][0]) fprintf(f, "%s\n", knock_ids[i]);
        fclose(f);
    }
    return 0;
}
