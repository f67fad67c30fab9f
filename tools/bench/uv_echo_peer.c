/* uv_echo_peer: a minimal single-threaded libuv echo server with netcore's
 * framing (LE u16 total length incl. header, LE u16 type, body).  Used only as
 * the reference peer of bench_echo; libuv is never a product dependency. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define HDR 4
#define MAX_PACKET 65535
/* A block holds a carried-over partial packet (< MAX_PACKET) plus one read. */
#define READ_SIZE 65536
#define BLOCK_SIZE (MAX_PACKET + READ_SIZE)
/* Stop reading a connection whose echoes the peer does not drain. */
#define MAX_QUEUED_WRITE (4u << 20)

typedef struct block_s {
    struct block_s *next;
    uv_write_t req; /* the echo of this block's complete packets */
    uint8_t data[BLOCK_SIZE];
} block_t;

typedef struct conn_s {
    uv_tcp_t tcp;
    block_t *cur;   /* block handed out by alloc_cb, NULL between reads */
    uint8_t *carry; /* partial packet kept between reads */
    size_t carry_len;
    int paused;
} conn_t;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigint_h, sigterm_h;
static block_t *free_blocks; /* single-threaded free list: no malloc churn */
static unsigned long live_conns;

static block_t *block_get(void)
{
    block_t *b = free_blocks;
    if (b) {
        free_blocks = b->next;
        return b;
    }
    b = malloc(sizeof(*b));
    if (!b) {
        fprintf(stderr, "uv_echo_peer: out of memory\n");
        abort();
    }
    return b;
}

static void block_put(block_t *b)
{
    b->next = free_blocks;
    free_blocks = b;
}

static void on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (c->cur)
        block_put(c->cur);
    free(c->carry);
    free(c);
    live_conns--;
}

static void conn_close(conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* The carried-over partial packet goes in front of the new bytes, so the
 * complete packets of a read are contiguous and leave in one uv_write. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    if (!c->cur)
        c->cur = block_get();
    if (c->carry_len)
        memcpy(c->cur->data, c->carry, c->carry_len);
    *buf = uv_buf_init((char *)c->cur->data + c->carry_len, READ_SIZE);
}

static void on_written(uv_write_t *req, int status)
{
    conn_t *c = req->handle->data;
    block_put(req->data);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->paused && uv_stream_get_write_queue_size(req->handle) < MAX_QUEUED_WRITE / 2) {
        c->paused = 0;
        uv_read_start(req->handle, on_alloc, NULL);
    }
}

/* Length of the complete packets at the start of buf, or -1 on a bad length. */
static long complete_prefix(const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (len - off >= 2) {
        size_t plen = (size_t)buf[off] | ((size_t)buf[off + 1] << 8);
        if (plen < HDR)
            return -1;
        if (len - off < plen)
            break;
        off += plen;
    }
    return (long)off;
}

static void keep_carry(conn_t *c, const uint8_t *p, size_t n)
{
    c->carry_len = n;
    if (!n)
        return;
    if (!c->carry) {
        c->carry = malloc(MAX_PACKET);
        if (!c->carry) {
            fprintf(stderr, "uv_echo_peer: out of memory\n");
            abort();
        }
    }
    memmove(c->carry, p, n);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (nread <= 0) {
        if (nread < 0)
            conn_close(c);
        return; /* 0 = EAGAIN; the block stays for the next read */
    }
    block_t *b = c->cur;
    size_t total = c->carry_len + (size_t)nread;
    long done = complete_prefix(b->data, total);
    if (done < 0) {
        conn_close(c);
        return;
    }
    keep_carry(c, b->data + done, total - (size_t)done);
    if (done == 0)
        return; /* keep the block: the next alloc reuses it */
    uv_buf_t out = uv_buf_init((char *)b->data, (unsigned)done);
    /* Write at once when nothing is queued (libuv's usual idiom): no request,
     * no callback, and the block is reused by the next read. */
    if (uv_stream_get_write_queue_size(s) == 0) {
        int n = uv_try_write(s, &out, 1);
        if (n == (int)done)
            return;
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        if (n > 0)
            out = uv_buf_init(out.base + n, out.len - (unsigned)n);
    }
    c->cur = NULL;
    b->req.data = b;
    if (uv_write(&b->req, s, &out, 1, on_written) < 0) {
        block_put(b);
        conn_close(c);
        return;
    }
    if (uv_stream_get_write_queue_size(s) > MAX_QUEUED_WRITE) {
        c->paused = 1;
        uv_read_stop(s);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    live_conns++;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&server ? on_closed : NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    uv_walk(loop, close_walk, NULL);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: uv_echo_peer [--host 127.0.0.1] [--port 0]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else
            return usage();
    }
    raise_nofile();
    loop = uv_default_loop();
    struct sockaddr_storage ss;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (rc < 0)
        return usage();
    uv_tcp_init(loop, &server);
    rc = uv_tcp_bind(&server, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (rc < 0) {
        fprintf(stderr, "uv_echo_peer: listen %s:%d: %s\n", host, port, uv_strerror(rc));
        return 1;
    }
    int len = sizeof(ss);
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    printf("READY port=%d\n", bound);
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    while (free_blocks) {
        block_t *b = free_blocks;
        free_blocks = b->next;
        free(b);
    }
    fprintf(stderr, "uv_echo_peer: stopped, %lu connections left\n", live_conns);
    return 0;
}
