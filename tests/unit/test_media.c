/* Tests for media/ (RTP/UDPTL legs on the worker pool), over real UDP sockets on 127.0.0.1.
 *
 * Two legs in one process carry a fax back to back (a sender calling, a receiver answering)
 * and both received pages must decode to exactly the sent bitmaps (the 2-page fine fixture
 * fax_g3_fine.tif, G3 2-D, received as G4): PCMA, PCMU, T.38 without
 * error correction and with redundancy 3, all at once on a 2-thread pool; with 2 % of the
 * datagrams dropped and 1 % reordered, T.38 with redundancy still succeeds (IFPs recovered)
 * and G.711 ends (either way) without crashing; an audio call switches to T.38 when the
 * answering leg hears CNG (FX_MEDIA_EV_FAX_TONE) and then succeeds; a hang-up ends a call
 * with 49 and one EV_DONE; T38MaxBitRate 9600 gives a 9600 bit/s call and T38FaxMaxDatagram
 * 120 bounds every datagram sent (version 3, transferredTCF). Stray datagrams (random
 * bytes, telephone-event packets, RTP of another SSRC) are sent to the legs during the
 * clean calls and must not break them.
 * The calls run accelerated (a 0.5 ms tick instead of 20 ms): the same packets, faster.
 * The RTP/UDPTL parsers get random and mutated datagrams; the jitter buffer and UDPTL
 * build/parse round trips are checked directly. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "fax_page.h"
#include "core/core.h"
#include "fax/fax.h"
#include "media/jitter.h"
#include "media/media.h"
#include "media/wire.h"

#define W 1728
#define STRIDE (W / 8)
#define DOC_PAGES 2 /* fixtures/fax_g3_fine.tif */

static char g_dir[256], g_doc[300];

static uint32_t lcg(uint32_t *st)
{
    *st = *st * 1103515245u + 12345u;
    return *st >> 4;
}

/* ---- the document: the 2-page fine fixture; pages compared decoded ---- */

/* True when every page of the received file decodes to exactly the sent page. */
static bool pages_equal(const char *got_path, int pages)
{
    bool ok = true;
    for (int i = 0; i < pages && ok; i++) {
        uint32_t hs = 0, hg = 0;
        uint8_t *sent = fx_test_read_page(g_doc, i, &hs);
        uint8_t *got = fx_test_read_page(got_path, i, &hg);
        ok = sent && got && hs == hg && memcmp(sent, got, (size_t)hs * STRIDE) == 0;
        free(sent);
        free(got);
    }
    uint32_t h;
    uint8_t *extra = fx_test_read_page(got_path, pages, &h);
    free(extra);
    return ok && !extra;
}

/* ---- a call: two legs back to back ---- */

struct side {
    struct fx_media_leg *leg;
    atomic_int done_events, tone_events;
};

struct call {
    const char *name;
    enum fx_media_kind kind;
    enum fx_media_t38_ec ec;
    bool switch_to_t38; /* start in PCMA, switch when the answerer hears CNG */
    bool hangup;        /* the receiver's side hangs up a few seconds in */
    bool stray;         /* send stray datagrams to both legs while the call runs */
    int max_bitrate, max_datagram, version; /* T.38 SDP values; 0 = 14400, 400, 0 */
    bool transferred_tcf;
    struct side tx, rx;
    char rx_path[320];
    bool switched, hung;
    struct fx_fax_result tres, rres;
    bool tdone, rdone;
    struct fx_media_stats rx_stats, tx_stats; /* the legs' counters at the end */
};

static void on_event(struct fx_media_leg *leg, enum fx_media_event ev, void *arg)
{
    (void)leg;
    struct side *s = arg;
    if (ev == FX_MEDIA_EV_DONE) atomic_fetch_add(&s->done_events, 1);
    if (ev == FX_MEDIA_EV_FAX_TONE) atomic_fetch_add(&s->tone_events, 1);
}

static struct fx_media_peer peer_of(const struct call *c, const struct side *to,
                                    enum fx_media_kind kind)
{
    struct fx_media_peer p = {.port = fx_media_leg_port(to->leg),
                              .kind = kind,
                              .payload_type = kind == FX_MEDIA_PCMA ? 8 : 0,
                              .t38_version = c->version,
                              .t38_max_bitrate = c->max_bitrate ? c->max_bitrate : 14400,
                              .t38_max_datagram = c->max_datagram ? c->max_datagram : 400,
                              .t38_transferred_tcf = c->transferred_tcf,
                              .t38_ec = c->ec};
    snprintf(p.ip, sizeof p.ip, "127.0.0.1");
    return p;
}

static struct fx_fax_config fax_of(struct call *c, bool sending)
{
    struct fx_fax_config f = {
        .calling = sending,
        .sending = sending,
        .tiff_path = sending ? g_doc : c->rx_path,
        .start_page = -1,
        .stop_page = -1,
        .ident = sending ? "+1 555 0100" : "+44 20 7946 0999",
        .ecm = true,
        .no_media_timeout_ms = 30000,
        .max_duration_ms = 600000,
        .log_tag = c->name,
    };
    return f;
}

static bool call_start(struct fx_media *m, struct call *c, enum fx_media_kind kind)
{
    snprintf(c->rx_path, sizeof c->rx_path, "%s/rx-%s.tif", g_dir, c->name);
    if (!c->tx.leg && (fx_media_leg_new(m, on_event, &c->tx, &c->tx.leg) != FX_OK ||
                       fx_media_leg_new(m, on_event, &c->rx, &c->rx.leg) != FX_OK))
        return false;
    struct fx_media_peer to_rx = peer_of(c, &c->rx, kind), to_tx = peer_of(c, &c->tx, kind);
    struct fx_fax_config ft = fax_of(c, true), fr = fax_of(c, false);
    return fx_media_leg_start(c->rx.leg, &to_tx, &fr) == FX_OK &&
           fx_media_leg_start(c->tx.leg, &to_rx, &ft) == FX_OK;
}

/* Random datagrams, a telephone-event packet and RTP of a foreign SSRC at both legs. */
static void stray(int fd, const struct call *c, uint32_t *st)
{
    int ports[2] = {fx_media_leg_port(c->tx.leg), fx_media_leg_port(c->rx.leg)};
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[i])};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        uint8_t buf[200], pay[160] = {0};
        size_t n = 1 + lcg(st) % sizeof buf;
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)lcg(st);
        struct fx_udptl u;
        if (!fx_udptl_parse(buf, n, &u)) /* a valid forged UDPTL packet cannot be told apart */
            sendto(fd, buf, n, 0, (struct sockaddr *)&a, sizeof a);
        n = fx_rtp_build(buf, sizeof buf, false, 101, (uint16_t)lcg(st), 0, 1, pay, 4);
        sendto(fd, buf, n, 0, (struct sockaddr *)&a, sizeof a);
        uint8_t pt = c->kind == FX_MEDIA_PCMA ? 8 : 0;
        n = fx_rtp_build(buf, sizeof buf, false, pt, (uint16_t)lcg(st), 0, 0xDEAD, pay, 160);
        sendto(fd, buf, n, 0, (struct sockaddr *)&a, sizeof a);
    }
}

/* What the test does for a call while it runs: the switch, the hang-up, stray packets. */
static void call_poll(struct fx_media *m, struct call *c, int fd, uint32_t *st)
{
    if (c->switch_to_t38 && !c->switched && atomic_load(&c->rx.tone_events) > 0) {
        c->switched = true; /* as a re-INVITE would: both legs move to T.38 */
        CHECK(call_start(m, c, FX_MEDIA_T38));
    }
    struct fx_media_stats s;
    fx_media_leg_stats(c->rx.leg, &s);
    if (c->hangup && !c->hung && s.rx_packets > 50) {
        c->hung = true;
        fx_media_leg_hangup(c->rx.leg);
        fx_media_leg_hangup(c->tx.leg);
    }
    if (c->stray && !c->tdone) stray(fd, c, st);
    if (!c->tdone) c->tdone = fx_media_leg_result(c->tx.leg, &c->tres);
    if (!c->rdone) c->rdone = fx_media_leg_result(c->rx.leg, &c->rres);
}

/* Runs the calls concurrently until all ended (a 5-minute guard against a hang). */
static void run_calls(const struct fx_media_cfg *cfg, struct call *calls, int n)
{
    struct fx_media *m = NULL;
    CHECK(fx_media_new(cfg, &m) == FX_OK);
    if (!m) return;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    uint32_t st = 99;
    for (int i = 0; i < n; i++) {
        bool ok = call_start(m, &calls[i], calls[i].switch_to_t38 ? FX_MEDIA_PCMA : calls[i].kind);
        CHECK(ok);
        if (!ok) calls[i].tdone = calls[i].rdone = true; /* nothing to wait for */
    }
    int64_t guard = fx_clock_mono_ms() + 300000;
    for (bool all = false; !all && fx_clock_mono_ms() < guard;) {
        usleep(5000);
        all = true;
        for (int i = 0; i < n; i++) {
            call_poll(m, &calls[i], fd, &st);
            all = all && calls[i].tdone && calls[i].rdone;
        }
    }
    usleep(20000); /* an EV_DONE counted after the result was read */
    for (int i = 0; i < n; i++) {
        struct call *c = &calls[i];
        struct fx_media_stats b;
        fx_media_leg_stats(c->rx.leg, &b);
        fx_media_leg_stats(c->tx.leg, &c->tx_stats);
        c->rx_stats = b;
        printf("  %-12s tx=%d rx=%d pages=%d/%d rate=%d ecm=%d line=%.1fs | rx leg: pkts=%llu "
               "lost=%llu recovered=%llu late=%llu dup=%llu malformed=%llu ignored=%llu\n",
               c->name, c->tres.t30_code, c->rres.t30_code, c->tres.pages_confirmed,
               c->rres.pages_confirmed, c->tres.bit_rate, (int)c->tres.ecm,
               (double)c->tres.duration_ms / 1000, (unsigned long long)b.rx_packets,
               (unsigned long long)b.rx_lost, (unsigned long long)b.rx_recovered,
               (unsigned long long)b.rx_late, (unsigned long long)b.rx_duplicate,
               (unsigned long long)b.rx_malformed, (unsigned long long)b.rx_ignored);
        CHECK(c->tdone && c->rdone);
        CHECK(atomic_load(&c->tx.done_events) == 1 && atomic_load(&c->rx.done_events) == 1);
        fx_media_leg_free(c->tx.leg);
        fx_media_leg_free(c->rx.leg);
    }
    close(fd);
    fx_media_free(m);
}

static void check_success(const struct call *c)
{
    CHECK(c->tres.t30_code == 0 && c->rres.t30_code == 0);
    CHECK(c->tres.pages_confirmed == DOC_PAGES && c->rres.pages_confirmed == DOC_PAGES);
    CHECK_STR(c->rres.remote_ident, "+1 555 0100");
    CHECK(pages_equal(c->rx_path, DOC_PAGES));
    if (c->stray) CHECK(c->rx_stats.rx_malformed > 0);
    if (c->stray && c->kind != FX_MEDIA_T38) CHECK(c->rx_stats.rx_ignored > 0);
    if (c->tres.t30_code || !pages_equal(c->rx_path, DOC_PAGES))
        fprintf(stderr, "%s failed\n", c->name);
}

static struct fx_media_cfg media_cfg(int port_min)
{
    struct fx_media_cfg cfg = {.bind_ip = "127.0.0.1",
                               .port_min = port_min,
                               .port_max = port_min + 199,
                               .threads = 2,
                               .jitter_ms = 60,
                               .t38_redundancy = 3,
                               .tick_us = 500,
                               .test_seed = 1};
    return cfg;
}

/* Audio runs on one worker: accelerated 40 times, two workers drift apart by more than
 * the 60 ms playout delay whenever the machine is busy (that is 1.5 ms here), which real
 * time never sees. T.38 runs on two workers, legs of one call on different threads. */
static void test_audio_calls(void)
{
    struct call calls[] = {
        {.name = "pcma", .kind = FX_MEDIA_PCMA, .stray = true},
        {.name = "pcmu", .kind = FX_MEDIA_PCMU, .stray = true},
        {.name = "switch",
         .kind = FX_MEDIA_T38,
         .ec = FX_MEDIA_EC_REDUNDANCY,
         .switch_to_t38 = true},
    };
    struct fx_media_cfg cfg = media_cfg(31000);
    cfg.threads = 1;
    run_calls(&cfg, calls, 3);
    for (int i = 0; i < 3; i++)
        check_success(&calls[i]);
    CHECK(calls[2].switched);
    CHECK(atomic_load(&calls[2].rx.tone_events) == 1);
}

static void test_t38_calls(void)
{
    struct call calls[] = {
        {.name = "t38-noec", .kind = FX_MEDIA_T38, .ec = FX_MEDIA_EC_NONE, .stray = true},
        {.name = "t38-red3", .kind = FX_MEDIA_T38, .ec = FX_MEDIA_EC_REDUNDANCY, .stray = true},
        {.name = "hangup", .kind = FX_MEDIA_T38, .ec = FX_MEDIA_EC_REDUNDANCY, .hangup = true},
        {.name = "t38-sdp",
         .kind = FX_MEDIA_T38,
         .ec = FX_MEDIA_EC_REDUNDANCY,
         .max_bitrate = 9600,
         .max_datagram = 120,
         .version = 3,
         .transferred_tcf = true},
    };
    struct fx_media_cfg cfg = media_cfg(31200);
    run_calls(&cfg, calls, 4);
    /* T38MaxBitRate 9600 keeps V.17 out; T38FaxMaxDatagram bounds every datagram. */
    check_success(&calls[3]);
    CHECK(calls[3].tres.bit_rate == 9600 && calls[3].rres.bit_rate == 9600);
    CHECK(calls[3].tx_stats.tx_largest > 0 && calls[3].tx_stats.tx_largest <= 120);
    CHECK(calls[3].rx_stats.tx_largest <= 120);
    CHECK(calls[1].tx_stats.tx_largest > 120 && calls[1].tx_stats.tx_largest <= 400);
    check_success(&calls[0]);
    check_success(&calls[1]);
    CHECK(calls[2].hung && calls[2].tres.t30_code == 49 && calls[2].rres.t30_code == 49);
    CHECK(calls[2].tres.pages_confirmed == 0);
}

static void test_lossy_calls(void)
{
    struct call calls[] = {
        {.name = "lossy-t38a", .kind = FX_MEDIA_T38, .ec = FX_MEDIA_EC_REDUNDANCY},
        {.name = "lossy-t38b", .kind = FX_MEDIA_T38, .ec = FX_MEDIA_EC_REDUNDANCY},
        {.name = "lossy-pcma", .kind = FX_MEDIA_PCMA},
    };
    struct fx_media_cfg cfg = media_cfg(31400);
    cfg.threads = 1;
    cfg.test_drop_permille = 20;
    cfg.test_reorder_permille = 10;
    cfg.test_seed = 5;
    run_calls(&cfg, calls, 3);
    check_success(&calls[0]);
    check_success(&calls[1]);
    /* G.711 through 2 % loss: any outcome, but an outcome. */
    CHECK(calls[2].tdone && calls[2].rdone);
    CHECK(calls[0].rx_stats.rx_recovered + calls[1].rx_stats.rx_recovered > 0);
    CHECK(calls[2].rx_stats.rx_lost > 0); /* the audio leg filled gaps in */
}

/* ---- parsers and building blocks ---- */

static void test_udptl_roundtrip(void)
{
    uint8_t a[3] = {1, 2, 3}, b[200], c[2] = {9, 9}, buf[512];
    memset(b, 0x5A, sizeof b);
    const uint8_t *sec[2] = {b, c};
    size_t sec_len[2] = {sizeof b, sizeof c};
    size_t n = fx_udptl_build(buf, sizeof buf, 0xBEEF, a, sizeof a, sec, sec_len, 2);
    struct fx_udptl u;
    CHECK(n > 0 && fx_udptl_parse(buf, n, &u));
    CHECK(u.seq == 0xBEEF && u.ifp_len == 3 && memcmp(u.ifp, a, 3) == 0 && !u.fec);
    CHECK(u.n_secondary == 2 && u.sec_len[0] == 200 && u.sec[0][199] == 0x5A);
    CHECK(u.sec_len[1] == 2);
    /* A small datagram limit keeps the primary and drops what does not fit. */
    n = fx_udptl_build(buf, 64, 1, a, sizeof a, sec, sec_len, 2);
    CHECK(n > 0 && n <= 64 && fx_udptl_parse(buf, n, &u) && u.n_secondary == 0);
    /* A peer sending no redundancy: count 0. And the FEC form parses (primary only). */
    uint8_t plain[] = {0, 7, 2, 0xAA, 0xBB, 0x00, 0x00};
    CHECK(fx_udptl_parse(plain, sizeof plain, &u) && u.seq == 7 && u.n_secondary == 0);
    uint8_t fec[] = {0, 8, 1, 0xAA, 0x80, 1, 3, 1, 2, 0x11, 0x22};
    CHECK(fx_udptl_parse(fec, sizeof fec, &u) && u.fec && u.ifp_len == 1);
    CHECK(!fx_udptl_parse(plain, sizeof plain - 1, &u)); /* cut short */
    uint8_t trailing[] = {0, 7, 1, 0xAA, 0x00, 0x00, 0x00};
    CHECK(!fx_udptl_parse(trailing, sizeof trailing, &u));
}

static void test_rtp_parse(void)
{
    uint8_t pay[160], buf[200];
    memset(pay, 0xD5, sizeof pay);
    size_t n = fx_rtp_build(buf, sizeof buf, true, 8, 65535, 0xFFFFFF60u, 0x12345678u, pay, 160);
    struct fx_rtp r;
    CHECK(n == 172 && fx_rtp_parse(buf, n, &r));
    CHECK(r.marker && r.pt == 8 && r.seq == 65535 && r.ts == 0xFFFFFF60u && r.ssrc == 0x12345678u);
    CHECK(r.len == 160 && r.payload == buf + 12);
    buf[0] = 0x81; /* one CSRC */
    CHECK(fx_rtp_parse(buf, n, &r) && r.len == 156);
    buf[0] = 0xA0; /* padding of 0xD5 octets: more than the payload */
    CHECK(!fx_rtp_parse(buf, n, &r));
    buf[0] = 0x40; /* version 1 */
    CHECK(!fx_rtp_parse(buf, n, &r));
    CHECK(!fx_rtp_parse(buf, 11, &r));
}

/* Random and mutated datagrams: the parsers must stay inside the buffer (ASan watches) and
 * whatever they return must point inside it. */
static void test_fuzz(void)
{
    uint32_t st = 12345;
    uint8_t valid[600], pay[160] = {0};
    const uint8_t *sec[3] = {pay, pay, pay};
    size_t sec_len[3] = {100, 150, 20};
    size_t vu = fx_udptl_build(valid, sizeof valid, 3, pay, 120, sec, sec_len, 3);
    int accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t n = lcg(&st) % 700;
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf) break;
        if (i % 2 && n <= vu) { /* a valid packet, truncated and with bytes flipped */
            memcpy(buf, valid, n);
            for (int k = 0; k < 3 && n; k++)
                buf[lcg(&st) % n] = (uint8_t)lcg(&st);
        } else {
            for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t)lcg(&st);
        }
        struct fx_udptl u;
        if (fx_udptl_parse(buf, n, &u)) {
            accepted++;
            CHECK(u.ifp >= buf && u.ifp + u.ifp_len <= buf + n);
            for (int k = 0; k < u.n_secondary; k++)
                CHECK(u.sec[k] >= buf && u.sec[k] + u.sec_len[k] <= buf + n);
        }
        struct fx_rtp r;
        if (fx_rtp_parse(buf, n, &r)) CHECK(r.payload >= buf && r.payload + r.len <= buf + n);
        free(buf);
    }
    CHECK(accepted > 0); /* the mutations keep some packets valid */
}

static void test_jitter(void)
{
    struct jb b;
    struct jb_out o;
    uint8_t p[160] = {1};
    jb_init(&b, 2);
    CHECK(jb_put(&b, 7, 100, p, 160) == JB_PUT_OK);
    jb_get(&b, &o);
    CHECK(o.frames == 0);                           /* playout delay */
    CHECK(jb_put(&b, 7, 102, p, 160) == JB_PUT_OK); /* 101 comes after 102 */
    CHECK(jb_put(&b, 7, 101, p, 160) == JB_PUT_OK);
    CHECK(jb_put(&b, 7, 101, p, 160) == JB_PUT_DUPLICATE);
    CHECK(jb_put(&b, 9, 500, p, 160) == JB_PUT_FOREIGN);
    jb_get(&b, &o);
    CHECK(o.frames == 0);
    for (int s = 100; s <= 102; s++) {
        jb_get(&b, &o);
        CHECK(o.frames == 1 && o.data[0] != NULL && o.lost == 0);
    }
    CHECK(jb_put(&b, 7, 101, p, 160) == JB_PUT_LATE);
    jb_get(&b, &o);
    CHECK(o.frames == 0 && o.underrun);             /* nothing newer buffered: hold, not loss */
    CHECK(jb_put(&b, 7, 104, p, 160) == JB_PUT_OK); /* 103 lost */
    jb_get(&b, &o);
    CHECK(o.frames == 1 && o.data[0] == NULL && o.lost == 1);
    jb_get(&b, &o);
    CHECK(o.frames == 1 && o.data[0] != NULL);
    /* A burst after a stall: two frames a tick until the backlog is depth + 1 again. */
    for (int s = 105; s < 115; s++)
        CHECK(jb_put(&b, 7, (uint16_t)s, p, 160) == JB_PUT_OK);
    int ticks = 0, played = 0;
    for (; played < 10 && ticks < 20; ticks++) {
        jb_get(&b, &o);
        played += o.frames;
        CHECK(o.lost == 0);
    }
    CHECK(played == 10 && ticks < 10);
}

static void test_config(void)
{
    struct fx_media *m = NULL;
    struct fx_media_cfg cfg = media_cfg(31800);
    cfg.threads = 0;
    CHECK(fx_media_new(&cfg, &m) == FX_ERR_INVALID);
    cfg = media_cfg(31800);
    cfg.bind_ip = "not-an-address";
    CHECK(fx_media_new(&cfg, &m) == FX_ERR_IO);
    cfg = media_cfg(31800);
    cfg.rt_priority = 100;
    CHECK(fx_media_new(&cfg, &m) == FX_ERR_INVALID);
    /* Real-time workers exactly where the system allows SCHED_RR (root here). */
    struct sched_param rr = {.sched_priority = 5}, other = {.sched_priority = 0};
    bool allowed = pthread_setschedparam(pthread_self(), SCHED_RR, &rr) == 0;
    CHECK(pthread_setschedparam(pthread_self(), SCHED_OTHER, &other) == 0);
    for (int prio = 0; prio <= 5; prio += 5) {
        cfg.rt_priority = prio;
        CHECK(fx_media_new(&cfg, &m) == FX_OK);
        CHECK(fx_media_realtime(m) == (prio > 0 && allowed));
        fx_media_free(m);
    }
    cfg = media_cfg(31800);
    cfg.port_max = 31803; /* two pairs */
    CHECK(fx_media_new(&cfg, &m) == FX_OK);
    struct fx_media_leg *a = NULL, *b = NULL, *c = NULL;
    CHECK(fx_media_leg_new(m, NULL, NULL, &a) == FX_OK && fx_media_leg_port(a) == 31800);
    CHECK(fx_media_leg_new(m, NULL, NULL, &b) == FX_OK && fx_media_leg_port(b) == 31802);
    CHECK(fx_media_leg_new(m, NULL, NULL, &c) == FX_ERR_UNAVAILABLE);
    struct fx_media_peer p = {.ip = "::1", .port = 4000, .kind = FX_MEDIA_PCMA, .payload_type = 8};
    struct call dummy = {.name = "cfg"};
    snprintf(dummy.rx_path, sizeof dummy.rx_path, "%s/rx-cfg.tif", g_dir);
    struct fx_fax_config f = fax_of(&dummy, false);
    CHECK(fx_media_leg_start(a, &p, &f) == FX_ERR_INVALID); /* IPv6 peer on an IPv4 bind */
    snprintf(p.ip, sizeof p.ip, "127.0.0.1");
    p.port = 0;
    CHECK(fx_media_leg_start(a, &p, &f) == FX_ERR_INVALID);
    struct fx_fax_result r;
    CHECK(!fx_media_leg_result(a, &r));
    fx_media_leg_free(a);
    CHECK(fx_media_leg_new(m, NULL, NULL, &c) == FX_OK && fx_media_leg_port(c) == 31800);
    fx_media_leg_free(b);
    fx_media_leg_free(c);
    fx_media_free(m);
}

int main(void)
{
    fx_log_set_level(FX_LOG_WARN);
    snprintf(g_dir, sizeof g_dir, "/tmp/fx-test-media-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    const char *data = getenv("FAXD_TEST_DATA"); /* CTest sets it; else next to this file */
    if (data)
        snprintf(g_doc, sizeof g_doc, "%s/fixtures/fax_g3_fine.tif", data);
    else
        snprintf(g_doc, sizeof g_doc, "%.*s/../data/fixtures/fax_g3_fine.tif",
                 (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
                 strrchr(__FILE__, '/') ? __FILE__ : ".");
    int pages = 0;
    char why[160];
    CHECK(fx_fax_tiff_check(g_doc, &pages, why, sizeof why) == FX_OK && pages == DOC_PAGES);
    test_rtp_parse();
    test_udptl_roundtrip();
    test_fuzz();
    test_jitter();
    test_config();
    test_audio_calls();
    test_t38_calls();
    test_lossy_calls();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return fx_check_result("test_media");
}
