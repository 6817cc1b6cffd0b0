/* bench/ceiling: the most a faxd-shaped libmicrohttpd server can do on this machine.
 *
 * Starts libmicrohttpd with exactly the daemon flags and options of fx_api_start
 * (src/api/server.c): internal polling thread + epoll, a thread pool of <threads>,
 * the same connection timeout, per-connection memory limit (computed as faxd computes
 * it from the default http.max_header_bytes), connection limit, completion callback,
 * unescape callback (the same percent-decoding) and external logger. Keep this file in
 * step with fx_api_start when its options change. It
 * answers every request with the same fixed JSON body (1 KiB by default), carrying the headers
 * faxd adds to every JSON reply, and does no other work. The request lifecycle
 * mirrors faxd's: the first call (headers only) returns MHD_YES, the final call
 * queues the reply.
 *
 * Usage: ceiling PORT [THREADS [BODY_BYTES]]
 *   THREADS defaults to 4 (faxd's http.threads); BODY_BYTES defaults to 1024. Other sizes
 *   (64..16777216) serve to separate the cost of moving a larger reply, such as faxd's
 *   ~30 KB page of 50 faxes, from the cost of producing it.
 * Listens on 127.0.0.1 only and runs until SIGINT or SIGTERM. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

/* faxd's defaults: http.connection_timeout 30 s, http.max_header_bytes 16384. */
#define CONN_TIMEOUT 30u
#define MAX_HEADER_BYTES 16384u

/* fx_api_start's connection memory limit: http.max_header_bytes + 16 KiB. */
static size_t connection_memory(void)
{
    return (size_t)MAX_HEADER_BYTES + 16384;
}
#define DEFAULT_BODY_BYTES 1024

static char *body;
static size_t body_len;
static int marker; /* con_cls value that says "headers seen" */

/* A valid JSON document of exactly n bytes: {"data":{"records":[]},"pad":"xxx…"} */
static int make_body(size_t n)
{
    static const char head[] = "{\"data\":{\"records\":[]},\"pad\":\"";
    static const char tail[] = "\"}";
    size_t h = sizeof head - 1, t = sizeof tail - 1;
    body = malloc(n + 1);
    if (!body) return -1;
    memcpy(body, head, h);
    memset(body + h, 'x', n - h - t);
    memcpy(body + n - t, tail, t);
    body[n] = 0;
    body_len = n;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (!*con_cls) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* discard any body */
        return MHD_YES;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    *con_cls = NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The same in-place percent-decoding as faxd's (which keeps %00 as it is). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap; /* faxd logs these at debug level only */
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s PORT [THREADS [BODY_BYTES]]\n", argv[0]);
        return 2;
    }
    long port = strtol(argv[1], NULL, 10);
    long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 4;
    long bytes = argc > 3 ? strtol(argv[3], NULL, 10) : DEFAULT_BODY_BYTES;
    if (port < 1 || port > 65535 || threads < 1 || threads > 64 || bytes < 64 ||
        bytes > 16777216) {
        fprintf(stderr, "ceiling: bad port, thread count or body size\n");
        return 2;
    }
    if (make_body((size_t)bytes)) return 1;

    /* Block the stop signals before libmicrohttpd starts its threads so that only
     * sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    size_t mem = connection_memory();
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL,
        on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT,
        CONN_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_CONNECTION_LIMIT,
        1000u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "ceiling: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    fprintf(stderr, "ceiling: listening on 127.0.0.1:%ld threads=%ld body=%zu bytes\n", port,
            threads, body_len);
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    free(body);
    return 0;
}
