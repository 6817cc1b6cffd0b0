/* media_bench: how many simultaneous real-time fax calls media/'s worker pool carries.
 *
 *   media_bench TIFF CALLS pcma|t38 [THREADS [PORT_BASE]]
 *
 * Runs CALLS calls at once in this process, each a pair of media legs on 127.0.0.1 (a
 * sender calling, a receiver answering, ECM on) carrying TIFF (a TIFF/F, e.g.
 * tests/data/fixtures/fax_g3_fine.tif) in real time: 20 ms ticks, real UDP sockets, the
 * jitter buffer, UDPTL with redundancy 3 — everything a SIP call's media does. Calls start
 * BENCH_STAGGER_MS (20) apart, as real traffic is spread, so page boundaries do not all
 * fall in one tick. THREADS (default 2) media workers; ports from PORT_BASE (default
 * 20000) upwards, 4 per call.
 *
 * Measured: every call's outcome on both ends (success = code 0 and every page confirmed
 * and received); CPU (getrusage, all threads) from the first start to the last end, per
 * channel-second of line time (a channel = one fax endpoint: two per call); RSS (VmRSS)
 * before the calls and its peak while they run, per call. Received files are unlinked.
 *
 * Output: one line per failed call, then `RESULT key=value …`.
 * Environment: BENCH_WORK (scratch base, default /tmp), BENCH_PAGES, BENCH_STAGGER_MS,
 * BENCH_JITTER_MS (60), BENCH_LOG_LEVEL (warn), BENCH_RT_PRIORITY (10, as faxd's
 * sip.media_priority; 0 = normal scheduling).
 * Exit status: 0 every call succeeded, 1 a call failed, 2 could not run. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "fax/fax.h"
#include "media/media.h"

struct call {
    struct fx_media_leg *tx, *rx;
    char rx_path[300];
    struct fx_fax_result tres, rres;
    bool tdone, rdone;
};

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static struct fx_media_peer peer_to(struct fx_media_leg *leg, bool t38)
{
    struct fx_media_peer p = {.port = fx_media_leg_port(leg),
                              .kind = t38 ? FX_MEDIA_T38 : FX_MEDIA_PCMA,
                              .payload_type = 8,
                              .t38_max_bitrate = 14400,
                              .t38_max_datagram = 400,
                              .t38_ec = FX_MEDIA_EC_REDUNDANCY};
    snprintf(p.ip, sizeof p.ip, "127.0.0.1");
    return p;
}

static bool call_start(struct fx_media *m, struct call *c, const char *tiff, bool t38, int pages)
{
    if (fx_media_leg_new(m, NULL, NULL, &c->tx) != FX_OK ||
        fx_media_leg_new(m, NULL, NULL, &c->rx) != FX_OK)
        return false;
    struct fx_fax_config ft = {.calling = true,
                               .sending = true,
                               .tiff_path = tiff,
                               .start_page = 0,
                               .stop_page = pages - 1,
                               .ident = "+1 555 0100",
                               .ecm = true,
                               .no_media_timeout_ms = 30000,
                               .max_duration_ms = 600000,
                               .log_tag = "bench=tx"};
    struct fx_fax_config fr = ft;
    fr.calling = fr.sending = false;
    fr.tiff_path = c->rx_path;
    fr.ident = "+44 20 7946 0999";
    fr.log_tag = "bench=rx";
    struct fx_media_peer to_rx = peer_to(c->rx, t38), to_tx = peer_to(c->tx, t38);
    return fx_media_leg_start(c->rx, &to_tx, &fr) == FX_OK &&
           fx_media_leg_start(c->tx, &to_rx, &ft) == FX_OK;
}

/* Polls until every call ended; returns how many ended. */
static int wait_all(struct call *calls, int n, long *peak_rss)
{
    int ended = 0;
    while (ended < n) {
        usleep(100000);
        long r = rss_kb();
        if (r > *peak_rss) *peak_rss = r;
        ended = 0;
        for (int i = 0; i < n; i++) {
            struct call *c = &calls[i];
            if (!c->tdone) c->tdone = fx_media_leg_result(c->tx, &c->tres);
            if (!c->rdone) c->rdone = fx_media_leg_result(c->rx, &c->rres);
            ended += c->tdone && c->rdone;
        }
    }
    return ended;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: media_bench TIFF CALLS pcma|t38 [THREADS [PORT_BASE]]\n");
        return 2;
    }
    const char *tiff = argv[1];
    int n = atoi(argv[2]), threads = argc > 4 ? atoi(argv[4]) : 2;
    int base = argc > 5 ? atoi(argv[5]) : 20000;
    bool t38 = strcmp(argv[3], "t38") == 0;
    enum fx_log_level lvl = FX_LOG_WARN;
    if (getenv("BENCH_LOG_LEVEL")) fx_log_level_parse(getenv("BENCH_LOG_LEVEL"), &lvl);
    fx_log_set_level(lvl);
    int pages = 0;
    char why[160];
    int send = env_int("BENCH_PAGES", 1);
    if (n < 1 || fx_fax_tiff_check(tiff, &pages, why, sizeof why) != FX_OK || send < 1 ||
        send > pages) {
        fprintf(stderr, "media_bench: bad arguments or TIFF\n");
        return 2;
    }
    pages = send;
    struct fx_media_cfg cfg = {.bind_ip = "127.0.0.1",
                               .port_min = base,
                               .port_max = base + 4 * n + 8,
                               .threads = threads,
                               .jitter_ms = env_int("BENCH_JITTER_MS", 60),
                               .t38_redundancy = 3,
                               .rt_priority = env_int("BENCH_RT_PRIORITY", 10)};
    struct fx_media *m = NULL;
    struct call *calls = calloc((size_t)n, sizeof *calls);
    if (!calls || fx_media_new(&cfg, &m) != FX_OK) return 2;
    const char *work = getenv("BENCH_WORK") ? getenv("BENCH_WORK") : "/tmp";
    long rss0 = rss_kb(), peak = rss0;
    double cpu0 = cpu_s();
    int64_t t0 = fx_clock_mono_ms();
    int stagger = env_int("BENCH_STAGGER_MS", 20);
    for (int i = 0; i < n; i++) {
        snprintf(calls[i].rx_path, sizeof calls[i].rx_path, "%s/media-bench-%d-%d.tif", work,
                 (int)getpid(), i);
        if (!call_start(m, &calls[i], tiff, t38, pages)) {
            fprintf(stderr, "media_bench: call %d could not start\n", i);
            return 2;
        }
        if (stagger > 0) usleep((useconds_t)stagger * 1000);
    }
    wait_all(calls, n, &peak);
    double cpu = cpu_s() - cpu0, wall = (double)(fx_clock_mono_ms() - t0) / 1000;
    int ok = 0;
    double line_s = 0;
    for (int i = 0; i < n; i++) {
        struct call *c = &calls[i];
        bool good = c->tres.t30_code == 0 && c->rres.t30_code == 0 &&
                    c->tres.pages_confirmed == pages && c->rres.pages_confirmed == pages;
        ok += good;
        line_s += (double)(c->tres.duration_ms + c->rres.duration_ms) / 1000;
        if (!good) {
            struct fx_media_stats a, b;
            fx_media_leg_stats(c->tx, &a);
            fx_media_leg_stats(c->rx, &b);
            printf("call %d failed: tx=%d (%s) pages=%d rx=%d (%s) pages=%d | underrun tx=%llu "
                   "rx=%llu catchup tx=%llu rx=%llu lost tx=%llu rx=%llu\n",
                   i, c->tres.t30_code, c->tres.t30_text, c->tres.pages_confirmed, c->rres.t30_code,
                   c->rres.t30_text, c->rres.pages_confirmed, (unsigned long long)a.rx_underrun,
                   (unsigned long long)b.rx_underrun, (unsigned long long)a.rx_catchup,
                   (unsigned long long)b.rx_catchup, (unsigned long long)a.rx_lost,
                   (unsigned long long)b.rx_lost);
        }
        fx_media_leg_free(c->tx);
        fx_media_leg_free(c->rx);
        unlink(c->rx_path);
    }
    struct fx_media_pool_stats ps;
    fx_media_pool_stats(m, &ps);
    fx_media_free(m);
    printf("POOL passes=%llu late_passes=%llu max_late_ms=%.1f max_pass_ms=%.1f\n",
           (unsigned long long)ps.passes, (unsigned long long)ps.late_passes,
           (double)ps.max_late_us / 1000, (double)ps.max_pass_us / 1000);
    printf("RESULT kind=%s calls=%d pages=%d ok=%d threads=%d wall_s=%.1f cpu_s=%.2f "
           "channel_line_s=%.0f "
           "cpu_ms_per_channel_s=%.3f cpu_pct=%.0f rss_base_kb=%ld rss_peak_kb=%ld "
           "rss_per_call_kb=%.0f\n",
           t38 ? "t38" : "pcma", n, pages, ok, threads, wall, cpu, line_s,
           line_s > 0 ? cpu * 1000 / line_s : 0, wall > 0 ? cpu * 100 / wall : 0, rss0, peak,
           (double)(peak - rss0) / n);
    free(calls);
    return ok == n ? 0 : 1;
}
