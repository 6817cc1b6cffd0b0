/* fax_engine_bench: the fax engine's ceiling — two bare fx_fax sessions back to back.
 *
 *   fax_engine_bench TIFF [CALLS [THREADS]]
 *
 * Runs CALLS loopback calls of TIFF (a TIFF/F, e.g. the one faxd stored for a sent fax),
 * each one sender session against one receiver session, built with fx_fax_new exactly as
 * src/line/loopback.c builds them for a call to one of faxd's own numbers: G.711 A-law,
 * ECM on, caller = sender, the page header "Page n of M", faxd's default watchdogs
 * (30 s no media, 3600 s per call), the receiver writing the pages to a file that is
 * unlinked after the call. Each 20 ms tick moves the sender's frame to the receiver and
 * back, back to back (the accelerated loopback: no sleeping), until both sessions are done.
 * Nothing else of faxd runs: no store, no queue, no HTTP, no blob copy of the received
 * pages. This is what faxd's accelerated loopback could reach if everything around the
 * engine cost nothing.
 *
 * THREADS (default 1) run the calls in that many threads at once, each taking the next
 * call; 1 is the ceiling bench/fax_loopback.sh compares faxd against. One call is run
 * first as a warm-up and not counted. CPU time is getrusage(RUSAGE_SELF) over the counted
 * calls (all threads), wall time is CLOCK_MONOTONIC.
 *
 * Output: one line per call, then `RESULT key=value …` (read by bench/fax_loopback.sh):
 * pages (sent and confirmed), cpu_s, wall_s, audio_s (the calls' own sample-clock time),
 * pages_per_cpu_s, cpu_ms_per_call, and rt_calls_per_core = audio_s / cpu_s: how many
 * real-time calls one core could carry if the engine were all there is.
 * Environment: BENCH_WORK (scratch base, default /tmp), BENCH_LOG_LEVEL (faxd's log
 * level for the sessions' own lines, default info as in faxd; they go to stderr).
 * Exit status: 0 every call succeeded with every page, 1 a call failed, 2 could not run. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "fax/fax.h"

/* What faxd's dialer passes for a call from +12025550001 on an account without a company
 * (queue/dial.c: ident = the first from number, header = "<company>  <from>"). */
#define BENCH_FROM "+12025550001"
#define NO_MEDIA_MS (30 * 1000)    /* line.no_media_timeout default, as loopback.c gets it */
#define MAX_CALL_MS (3600 * 1000)  /* line.max_call default */

static const char *tiff;
static int pages;
static char work[1024];
static atomic_int next_call;
static int n_calls;
static atomic_int failures;
static atomic_llong audio_ms_total;
static atomic_int pages_total;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* loopback.c's session(): the same fields, audio A-law, ECM on. */
static enum fx_err session(bool sending, const char *path, const char *tag,
                           struct fx_fax_session **s)
{
    struct fx_fax_config fc = {
        .calling = sending,
        .sending = sending,
        .mode = FX_FAX_ALAW,
        .tiff_path = path,
        .start_page = sending ? 0 : -1,
        .stop_page = -1,
        .ident = sending ? BENCH_FROM : "",
        .header_info = sending ? BENCH_FROM : NULL,
        .header_total_pages = sending ? pages : 0,
        .ecm = true,
        .no_media_timeout_ms = NO_MEDIA_MS,
        .max_duration_ms = MAX_CALL_MS,
        .log_tag = tag,
        .t38_tx = NULL, /* audio: loopback.c passes its packet queue, never used */
        .t38_arg = NULL,
        .t38_version = 0,
        .t38_max_datagram = 400,
        .t38_max_rate = 14400,
    };
    return fx_fax_new(&fc, s);
}

/* loopback.c's tick() and run() for an audio call to a receiving far end, accelerated. */
static void run(struct fx_fax_session *a, struct fx_fax_session *b)
{
    int64_t samples = 0;
    int64_t limit = (int64_t)MAX_CALL_MS * 8 + 8000 * 60;
    while (!fx_fax_done(a) || !fx_fax_done(b)) {
        uint8_t ab[FX_FAX_FRAME], ba[FX_FAX_FRAME];
        fx_fax_audio_tx(a, ab, sizeof ab);
        fx_fax_audio_tx(b, ba, sizeof ba);
        fx_fax_audio_rx(b, ab, sizeof ab);
        fx_fax_audio_rx(a, ba, sizeof ba);
        fx_fax_tick(a, FX_FAX_FRAME);
        fx_fax_tick(b, FX_FAX_FRAME);
        samples += FX_FAX_FRAME;
        if (samples > limit) {
            fx_fax_hangup(a);
            fx_fax_hangup(b);
            if (samples > limit + 8000 * 10) break;
        }
    }
}

/* One call; true when the sender got every page confirmed and the receiver has them. */
static bool one_call(int idx, bool print)
{
    char rx[1200], tag[64], id[FX_ID_LEN + 1];
    fx_id_new(id);
    snprintf(rx, sizeof rx, "%s/rx-%s.tiff", work, id);
    snprintf(tag, sizeof tag, "bench=%d", idx);
    struct fx_fax_session *a = NULL, *b = NULL;
    double c0 = thread_cpu_s();
    enum fx_err e = session(true, tiff, tag, &a);
    if (!e) e = session(false, rx, tag, &b);
    if (e) {
        fprintf(stderr, "fax_engine_bench: fx_fax_new failed: %s\n", fx_err_code(e));
        fx_fax_free(a);
        fx_fax_free(b);
        exit(2);
    }
    run(a, b);
    struct fx_fax_result ra = *fx_fax_result(a), rb = *fx_fax_result(b);
    fx_fax_free(a);
    fx_fax_free(b);
    double cpu = thread_cpu_s() - c0;
    unlink(rx);
    bool ok = ra.t30_code == 0 && ra.pages_confirmed == pages && rb.t30_code == 0 &&
              rb.pages_confirmed == pages;
    if (print)
        printf("call %3d: send code=%d pages=%d/%d rate=%d ecm=%d | receive code=%d pages=%d"
               " | audio %.1f s, thread cpu %.3f s%s\n",
               idx, ra.t30_code, ra.pages_confirmed, pages, ra.bit_rate, (int)ra.ecm,
               rb.t30_code, rb.pages_confirmed, (double)ra.duration_ms / 1000.0, cpu,
               ok ? "" : "  FAILED");
    if (idx > 0) {
        atomic_fetch_add(&audio_ms_total, (long long)ra.duration_ms);
        atomic_fetch_add(&pages_total, ra.pages_confirmed);
        if (!ok) atomic_fetch_add(&failures, 1);
    }
    fflush(stdout);
    return ok;
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        int i = atomic_fetch_add(&next_call, 1);
        if (i >= n_calls) break;
        one_call(i + 1, true);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: fax_engine_bench TIFF [CALLS [THREADS]]\n");
        return 2;
    }
    tiff = argv[1];
    n_calls = argc > 2 ? atoi(argv[2]) : 10;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    if (n_calls < 1 || threads < 1 || threads > 64) {
        fprintf(stderr, "fax_engine_bench: CALLS >= 1, 1 <= THREADS <= 64\n");
        return 2;
    }
    enum fx_log_level lvl = FX_LOG_INFO;
    const char *ll = getenv("BENCH_LOG_LEVEL");
    if (ll && !fx_log_level_parse(ll, &lvl)) {
        fprintf(stderr, "fax_engine_bench: BENCH_LOG_LEVEL is debug|info|warn|error\n");
        return 2;
    }
    fx_log_set_level(lvl);
    char why[160];
    if (fx_fax_tiff_check(tiff, &pages, why, sizeof why) != FX_OK) {
        fprintf(stderr, "fax_engine_bench: %s: %s\n", tiff, why);
        return 2;
    }
    const char *base = getenv("BENCH_WORK");
    snprintf(work, sizeof work, "%s/fax-engine-bench.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(work)) {
        fprintf(stderr, "fax_engine_bench: mkdtemp %s: %s\n", work, strerror(errno));
        return 2;
    }
    printf("fax_engine_bench: %s, %d pages, %d calls in %d thread(s), A-law, ECM on\n", tiff,
           pages, n_calls, threads);
    if (!one_call(0, true)) { /* warm-up, not counted */
        fprintf(stderr, "fax_engine_bench: the warm-up call failed\n");
        rmdir(work);
        return 1;
    }
    double c0 = cpu_s(), w0 = now_s();
    pthread_t th[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, worker, NULL) != 0) {
            fprintf(stderr, "fax_engine_bench: pthread_create failed\n");
            return 2;
        }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double cpu = cpu_s() - c0, wall = now_s() - w0;
    rmdir(work);
    double audio = (double)atomic_load(&audio_ms_total) / 1000.0;
    int pg = atomic_load(&pages_total);
    printf("RESULT calls=%d threads=%d pages=%d cpu_s=%.3f wall_s=%.3f audio_s=%.1f "
           "pages_per_cpu_s=%.2f pages_per_wall_s=%.2f cpu_ms_per_call=%.1f "
           "rt_calls_per_core=%.1f failures=%d\n",
           n_calls, threads, pg, cpu, wall, audio, cpu > 0 ? pg / cpu : 0.0,
           wall > 0 ? pg / wall : 0.0, cpu * 1000.0 / n_calls, cpu > 0 ? audio / cpu : 0.0,
           atomic_load(&failures));
    return atomic_load(&failures) ? 1 : 0;
}
