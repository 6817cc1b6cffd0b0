/* media: RTP/UDPTL legs ticked by a fixed pool of worker threads (contract in media.h).
 *
 * Design:
 * - Workers: each has a mutex-protected singly linked list of legs and one absolute
 *   deadline clock (CLOCK_MONOTONIC, clock_nanosleep TIMER_ABSTIME) advancing by the tick
 *   period. A pass ticks every leg of the worker in list order. If a pass overruns, the next
 *   one starts at once (the deadline stays on the grid, so legs get their 50 ticks a second
 *   on average) and a stalled leg sends its backlog as a burst, which the far end's jitter
 *   buffer absorbs; only after falling more than MAX_BEHIND_US behind (the process was
 *   stopped) does the grid restart from now, skipping the lost ticks.
 * - Locks: worker->mu (the list) is taken before leg->mu (the leg's state). A pass holds
 *   worker->mu throughout, so fx_media_leg_free waits for the pass to end before unlinking;
 *   fx_media_leg_start/hangup/result/stats take only leg->mu, for as long as one leg's tick.
 *   Events are collected under leg->mu and delivered after it is released (still inside the
 *   pass): a callback may call fx_media_leg_result, never fx_media_leg_free.
 * - One leg tick: drain the socket (non-blocking recvfrom until EAGAIN, at most RX_BURST),
 *   then audio: jitter buffer → fx_fax_audio_rx, fx_fax_audio_tx → one RTP packet; T.38:
 *   the UDPTL packets of this tick sorted by sequence, lost IFPs recovered from the
 *   redundancy of later ones, delivered in order; fx_fax_tick paces spandsp's T.38 output,
 *   which arrives through t38_tx() and is sent at once with the last `redundancy` IFPs as
 *   secondaries. The RTCP port is drained every RTCP_EVERY ticks and ignored.
 * - Test hooks (drop/reorder) act on what we send, with a per-worker rand_r state.
 * - Ports: a counter walks the range in even steps under m->port_mu; a pair is taken when
 *   both binds succeed (no SO_REUSEADDR), so legs and other programs never share a port. */
#include "media/media.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "media/jitter.h"
#include "media/wire.h"

#define TICK_US_DEFAULT 20000
#define RX_BURST 64           /* datagrams read per socket per tick at most */
#define DGRAM_MAX 2048        /* larger datagrams are malformed here */
#define RTCP_EVERY 50         /* ticks between RTCP drains */
#define MAX_BEHIND_US 2000000 /* a worker this late skips ticks instead of catching up */
#define T38_HISTORY 16        /* IFPs kept for redundancy (≥ max depth) */
#define T38_IFP_MAX 1024      /* largest IFP we keep for redundancy */
#define T38_DGRAM_DEFAULT 400
#define UDPTL_OVERHEAD 8  /* seq, lengths, the recovery choice and count */
#define UDPTL_RESYNC 1000 /* sequence jump that means a new numbering */

struct worker;

struct ifp_hist {
    uint8_t data[T38_IFP_MAX];
    size_t len;
};

struct fx_media_leg {
    struct fx_media *m;
    struct worker *w;
    struct fx_media_leg *next; /* in w's list */
    fx_media_event_cb cb;
    void *cb_arg;
    int fd, fd_rtcp, port;

    pthread_mutex_t mu; /* everything below */
    struct fx_fax_session *fax;
    struct fx_media_peer peer;
    struct sockaddr_storage dst;
    socklen_t dst_len;
    bool hungup, done, done_sent, tone_sent;
    int pages; /* pages the session confirmed (sent) or completed (received) so far */
    bool mute; /* a session being freed: its last T.38 output is not ours to send */
    struct fx_fax_result result;
    struct fx_media_stats st;
    unsigned ticks;
    /* RTP */
    uint32_t ssrc, ts;
    uint16_t seq;
    bool first_sent;
    struct jb jb;
    int paused; /* consecutive ticks the receive side waited for a late frame */
    /* UDPTL */
    uint16_t useq;   /* next sequence number we send */
    unsigned n_sent; /* IFPs sent since start (history fill) */
    struct ifp_hist hist[T38_HISTORY];
    int depth, max_dgram;
    bool rx_started;
    uint16_t rx_next;
    bool resync_seen;    /* a packet far off the numbering arrived: */
    uint16_t resync_seq; /* its number (a second one close after it confirms a restart) */
    /* test hook: one datagram held back to the end of the next tick */
    uint8_t held[DGRAM_MAX];
    size_t held_len;
    unsigned held_tick;
};

struct worker {
    struct fx_media *m;
    pthread_t th;
    pthread_mutex_t mu;
    struct fx_media_leg *legs;
    atomic_int n_legs; /* read without mu to pick the least loaded worker */
    unsigned rng;
    bool started;
    struct fx_media_pool_stats st; /* under mu */
};

struct fx_media {
    struct fx_media_cfg cfg;
    char bind_ip[64];
    struct sockaddr_storage bind;
    socklen_t bind_len;
    int tick_us, jitter_frames;
    atomic_bool stop;
    pthread_mutex_t port_mu;
    int next_port;
    int n_workers;
    struct worker *workers;
    bool realtime; /* every worker runs under SCHED_RR */
};

/* ---- sending ------------------------------------------------------------------- */

static bool roll(struct worker *w, int permille)
{
    return permille > 0 && (int)(rand_r(&w->rng) % 1000) < permille;
}

static void send_raw(struct fx_media_leg *l, const uint8_t *buf, size_t len)
{
    if (sendto(l->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&l->dst,
               l->dst_len) == (ssize_t)len) {
        l->st.tx_packets++;
        if (len > l->st.tx_largest) l->st.tx_largest = len;
    }
}

static void send_dgram(struct fx_media_leg *l, const uint8_t *buf, size_t len)
{
    const struct fx_media_cfg *c = &l->m->cfg;
    if (roll(l->w, c->test_drop_permille)) return;
    if (l->held_len == 0 && len <= sizeof l->held && roll(l->w, c->test_reorder_permille)) {
        memcpy(l->held, buf, len);
        l->held_len = len;
        l->held_tick = l->ticks;
        return;
    }
    send_raw(l, buf, len);
}

static void flush_held(struct fx_media_leg *l)
{
    if (l->held_len && l->held_tick != l->ticks) {
        send_raw(l, l->held, l->held_len);
        l->held_len = 0;
    }
}

/* spandsp's T.38 output (called inside fx_fax_t38_rx / fx_fax_tick, under l->mu). */
static void t38_tx(const uint8_t *ifp, size_t len, int count, void *arg)
{
    struct fx_media_leg *l = arg;
    if (l->hungup || l->mute || len == 0 || len > T38_IFP_MAX) return;
    const uint8_t *sec[T38_HISTORY];
    size_t sec_len[T38_HISTORY];
    int n = l->depth < (int)l->n_sent ? l->depth : (int)l->n_sent;
    for (int i = 0; i < n; i++) {
        const struct ifp_hist *h = &l->hist[(l->useq - 1 - i) % T38_HISTORY];
        sec[i] = h->data;
        sec_len[i] = h->len;
    }
    uint8_t buf[DGRAM_MAX];
    size_t cap = (size_t)l->max_dgram < sizeof buf ? (size_t)l->max_dgram : sizeof buf;
    size_t k = fx_udptl_build(buf, cap, l->useq, ifp, len, sec, sec_len, n);
    if (k == 0) k = fx_udptl_build(buf, sizeof buf, l->useq, ifp, len, NULL, NULL, 0);
    struct ifp_hist *h = &l->hist[l->useq % T38_HISTORY];
    memcpy(h->data, ifp, len);
    h->len = len;
    l->useq++;
    l->n_sent++;
    /* Without redundancy, spandsp's repeat count (indicators 3×) is the only protection:
     * copies carry the same sequence number, so the receiver keeps one. */
    int copies = l->depth == 0 && count > 1 ? (count > 4 ? 4 : count) : 1;
    for (int i = 0; i < copies && k > 0; i++)
        send_dgram(l, buf, k);
}

/* ---- receiving ------------------------------------------------------------------ */

struct rx_pkt {
    uint8_t data[DGRAM_MAX];
    size_t len;
};

/* Reads what waits on fd into pkts (at most RX_BURST); returns how many. */
static int drain(struct fx_media_leg *l, int fd, struct rx_pkt *pkts, int max)
{
    int n = 0;
    while (n < max) {
        ssize_t k = recv(fd, pkts[n].data, sizeof pkts[n].data, MSG_DONTWAIT | MSG_TRUNC);
        if (k < 0) break; /* EAGAIN, or an ICMP error reported on the socket */
        if ((size_t)k > sizeof pkts[n].data) {
            l->st.rx_malformed++;
            continue;
        }
        pkts[n++].len = (size_t)k;
    }
    return n;
}

static void drain_rtcp(struct fx_media_leg *l)
{
    uint8_t buf[DGRAM_MAX];
    for (int i = 0; i < RX_BURST; i++) {
        if (recv(l->fd_rtcp, buf, sizeof buf, MSG_DONTWAIT) < 0) break;
        l->st.rx_ignored++;
    }
}

static void audio_rx(struct fx_media_leg *l, const struct rx_pkt *pkts, int n)
{
    for (int i = 0; i < n; i++) {
        struct fx_rtp r;
        if (!fx_rtp_parse(pkts[i].data, pkts[i].len, &r)) {
            l->st.rx_malformed++;
            continue;
        }
        if (r.pt != (uint8_t)l->peer.payload_type || r.len == 0) {
            l->st.rx_ignored++; /* telephone-event, CN, RTCP on the RTP port, … */
            continue;
        }
        l->st.rx_packets++;
        enum jb_put p = jb_put(&l->jb, r.ssrc, r.seq, r.payload, r.len);
        if (p == JB_PUT_LATE) l->st.rx_late++;
        if (p == JB_PUT_DUPLICATE) l->st.rx_duplicate++;
        if (p == JB_PUT_FOREIGN) l->st.rx_ignored++;
    }
    struct jb_out o;
    jb_get(&l->jb, &o);
    l->st.rx_lost += (uint64_t)o.lost;
    l->st.rx_underrun += o.underrun;
    l->st.rx_catchup += o.frames > 1;
    if (o.frames > 0) {
        l->paused = 0;
    } else if (o.underrun && l->paused < JB_MAX_PAUSE) {
        /* The peer's next frame is late (its sender or our worker stalled): feed nothing,
         * so the demodulator later sees the signal continue where it stopped. */
        l->paused++;
    } else {
        fx_fax_audio_rx(l->fax, NULL, 0); /* before the stream, or a long silence */
    }
    for (int i = 0; i < o.frames; i++)
        fx_fax_audio_rx(l->fax, o.data[i], o.len[i]);
}

static void audio_tx(struct fx_media_leg *l)
{
    uint8_t pcm[FX_FAX_FRAME], buf[12 + FX_FAX_FRAME];
    fx_fax_audio_tx(l->fax, pcm, sizeof pcm);
    size_t k = fx_rtp_build(buf, sizeof buf, !l->first_sent, (uint8_t)l->peer.payload_type, l->seq,
                            l->ts, l->ssrc, pcm, sizeof pcm);
    l->first_sent = true;
    l->seq++;
    l->ts += FX_FAX_FRAME;
    if (!l->hungup) send_dgram(l, buf, k);
}

static void ifp_deliver(struct fx_media_leg *l, const uint8_t *p, size_t len, uint16_t seq)
{
    fx_fax_t38_rx(l->fax, p, len, seq);
}

/* One UDPTL packet in sequence order: recover what is missing before it, then deliver it. */
static void udptl_one(struct fx_media_leg *l, const struct fx_udptl *u)
{
    if (!l->rx_started) {
        l->rx_started = true;
        l->rx_next = u->seq;
    }
    int16_t d = (int16_t)(uint16_t)(u->seq - l->rx_next);
    if (d < -UDPTL_RESYNC || d > UDPTL_RESYNC) {
        /* The peer restarted its numbering, or a stray packet: restart only when a second
         * packet follows the first one closely. */
        int16_t r = (int16_t)(uint16_t)(u->seq - l->resync_seq);
        bool confirmed = l->resync_seen && r > 0 && r <= 8;
        l->resync_seen = true;
        l->resync_seq = u->seq;
        if (!confirmed) {
            l->st.rx_ignored++;
            return;
        }
        l->rx_next = u->seq;
        d = 0;
    }
    l->resync_seen = false;
    if (d < 0) {
        l->st.rx_duplicate++;
        return;
    }
    for (int k = d; k >= 1; k--) {
        uint16_t s = (uint16_t)(u->seq - k);
        if (k - 1 < u->n_secondary && u->sec_len[k - 1] > 0) {
            ifp_deliver(l, u->sec[k - 1], u->sec_len[k - 1], s);
            l->st.rx_recovered++;
        } else {
            l->st.rx_lost++;
        }
    }
    ifp_deliver(l, u->ifp, u->ifp_len, u->seq);
    l->st.rx_packets++;
    l->rx_next = (uint16_t)(u->seq + 1);
}

static void t38_rx(struct fx_media_leg *l, const struct rx_pkt *pkts, int n)
{
    struct fx_udptl u[RX_BURST];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (fx_udptl_parse(pkts[i].data, pkts[i].len, &u[k]))
            k++;
        else
            l->st.rx_malformed++;
    }
    /* Sort this tick's packets by sequence relative to the next expected (insertion sort:
     * a handful per tick), so reordering within a tick costs nothing. */
    for (int i = 1; i < k; i++) {
        struct fx_udptl t = u[i];
        int16_t key = (int16_t)(uint16_t)(t.seq - l->rx_next);
        int j = i - 1;
        while (j >= 0 && (int16_t)(uint16_t)(u[j].seq - l->rx_next) > key) {
            u[j + 1] = u[j];
            j--;
        }
        u[j + 1] = t;
    }
    for (int i = 0; i < k && !fx_fax_done(l->fax); i++)
        udptl_one(l, &u[i]);
}

/* ---- one tick of one leg ---------------------------------------------------------- */

static struct rx_pkt *rx_scratch(void)
{
    static _Thread_local struct rx_pkt *pkts;
    if (!pkts) pkts = malloc(sizeof *pkts * RX_BURST); /* per worker, freed at thread exit */
    return pkts;
}

/* Returns the events to deliver once l->mu is released (bit per enum fx_media_event). */
static unsigned leg_tick(struct fx_media_leg *l, struct rx_pkt *pkts)
{
    unsigned ev = 0;
    l->ticks++;
    if (l->ticks % RTCP_EVERY == 0) drain_rtcp(l);
    int n = pkts ? drain(l, l->fd, pkts, RX_BURST) : 0;
    if (!l->fax) {
        l->st.rx_ignored += (uint64_t)n;
        return 0;
    }
    if (l->peer.kind == FX_MEDIA_T38) {
        t38_rx(l, pkts, n);
    } else {
        audio_rx(l, pkts, n);
        audio_tx(l);
        if (!l->tone_sent && fx_fax_tone_heard(l->fax) != FX_FAX_TONE_NONE) {
            l->tone_sent = true;
            ev |= 1u << FX_MEDIA_EV_FAX_TONE;
        }
    }
    fx_fax_tick(l->fax, FX_FAX_FRAME);
    flush_held(l);
    int pages = fx_fax_result(l->fax)->pages_confirmed;
    if (pages > l->pages) {
        l->pages = pages;
        ev |= 1u << FX_MEDIA_EV_PAGE;
    }
    if (fx_fax_done(l->fax) && !l->done_sent) {
        l->result = *fx_fax_result(l->fax);
        l->done = l->done_sent = true;
        ev |= 1u << FX_MEDIA_EV_DONE;
    }
    return ev;
}

static int64_t mono_us(void);

static void worker_pass(struct worker *w, int64_t late_us)
{
    struct rx_pkt *pkts = rx_scratch();
    int64_t t0 = mono_us();
    pthread_mutex_lock(&w->mu);
    w->st.passes++;
    if (late_us > w->m->tick_us) w->st.late_passes++;
    if (late_us > w->st.max_late_us) w->st.max_late_us = late_us;
    for (struct fx_media_leg *l = w->legs; l; l = l->next) {
        pthread_mutex_lock(&l->mu);
        unsigned ev = leg_tick(l, pkts);
        pthread_mutex_unlock(&l->mu);
        for (int e = FX_MEDIA_EV_FAX_TONE; e <= FX_MEDIA_EV_DONE; e++)
            if ((ev & (1u << e)) && l->cb) l->cb(l, (enum fx_media_event)e, l->cb_arg);
    }
    int64_t took = mono_us() - t0;
    if (took > w->st.max_pass_us) w->st.max_pass_us = took;
    pthread_mutex_unlock(&w->mu);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int64_t tick = w->m->tick_us, due = mono_us();
    while (!atomic_load(&w->m->stop)) {
        due += tick;
        struct timespec ts = {.tv_sec = due / 1000000, .tv_nsec = (due % 1000000) * 1000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        int64_t now = mono_us();
        worker_pass(w, now - due);
        if (now - due > MAX_BEHIND_US) due = now; /* far behind: restart the grid */
    }
    free(rx_scratch());
    return NULL;
}

/* ---- the pool ------------------------------------------------------------------- */

static bool addr_parse(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return true;
    }
    if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return true;
    }
    return false;
}

bool fx_media_realtime(const struct fx_media *m)
{
    return m->realtime;
}

static bool cfg_valid(const struct fx_media_cfg *c)
{
    return c && c->port_min > 0 && c->port_max <= 65535 && c->port_min + 1 <= c->port_max &&
           c->threads >= 1 && c->threads <= 64 && c->jitter_ms >= 0 && c->jitter_ms <= 200 &&
           c->t38_redundancy >= 0 && c->t38_redundancy <= 8 && c->tick_us >= 0 &&
           c->rt_priority >= 0 && c->rt_priority <= 99 &&
           c->test_drop_permille >= 0 && c->test_drop_permille <= 1000 &&
           c->test_reorder_permille >= 0 && c->test_reorder_permille <= 1000;
}

enum fx_err fx_media_new(const struct fx_media_cfg *cfg, struct fx_media **out)
{
    if (!out || !cfg_valid(cfg)) return FX_ERR_INVALID;
    struct fx_media *m = calloc(1, sizeof *m);
    if (!m) return FX_ERR_NOMEM;
    enum fx_err err = FX_ERR_IO;
    m->cfg = *cfg;
    fx_strlcpy(m->bind_ip, cfg->bind_ip ? cfg->bind_ip : "0.0.0.0", sizeof m->bind_ip);
    m->cfg.bind_ip = m->bind_ip;
    if (!addr_parse(m->bind_ip, 0, &m->bind, &m->bind_len)) goto out;
    m->tick_us = cfg->tick_us > 0 ? cfg->tick_us : TICK_US_DEFAULT;
    int jms = cfg->jitter_ms > 0 ? cfg->jitter_ms : 60;
    m->jitter_frames = (jms + 10) / 20 < 1 ? 1 : (jms + 10) / 20;
    m->next_port = cfg->port_min + (cfg->port_min & 1);
    pthread_mutex_init(&m->port_mu, NULL);
    err = FX_ERR_NOMEM;
    m->workers = calloc((size_t)cfg->threads, sizeof *m->workers);
    if (!m->workers) goto out;
    err = FX_ERR_INTERNAL;
    for (int i = 0; i < cfg->threads; i++) {
        struct worker *w = &m->workers[i];
        w->m = m;
        w->rng = cfg->test_seed * 7919u + (unsigned)i + 1;
        pthread_mutex_init(&w->mu, NULL);
        m->n_workers++;
        if (pthread_create(&w->th, NULL, worker_main, w) != 0) goto out;
        w->started = true;
    }
    m->realtime = cfg->rt_priority > 0;
    for (int i = 0; m->realtime && i < m->n_workers; i++) {
        /* A worker that misses its 20 ms ticks for a second breaks T.30's timing on every
         * call it carries, and other work on the machine (a conversion, a build) can
         * starve it that long. Real-time scheduling lets it preempt that work; its passes
         * are short and bounded, and the kernel keeps 5 % of each second for the rest. */
        struct sched_param sp = {.sched_priority = cfg->rt_priority};
        int rc = pthread_setschedparam(m->workers[i].th, SCHED_RR, &sp);
        if (rc) {
            fx_warn("media workers at normal priority: real-time scheduling refused (%s); "
                    "grant CAP_SYS_NICE or set sip.media_priority = 0",
                    strerror(rc));
            m->realtime = false;
        }
    }
    fx_info("media started threads=%d ports=%d-%d tick_us=%d jitter_ms=%d t38_redundancy=%d "
            "rt_priority=%d",
            cfg->threads, cfg->port_min, cfg->port_max, m->tick_us, m->jitter_frames * 20,
            cfg->t38_redundancy, m->realtime ? cfg->rt_priority : 0);
    *out = m;
    return FX_OK;
out:
    fx_media_free(m);
    return err;
}

void fx_media_free(struct fx_media *m)
{
    if (!m) return;
    atomic_store(&m->stop, true);
    for (int i = 0; i < m->n_workers; i++) {
        struct worker *w = &m->workers[i];
        if (w->started) pthread_join(w->th, NULL);
        if (w->legs)
            fx_error("media freed with %d legs still on worker %d", atomic_load(&w->n_legs), i);
        pthread_mutex_destroy(&w->mu);
    }
    if (m->workers) pthread_mutex_destroy(&m->port_mu);
    free(m->workers);
    free(m);
}

void fx_media_pool_stats(struct fx_media *m, struct fx_media_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; m && i < m->n_workers; i++) {
        struct worker *w = &m->workers[i];
        pthread_mutex_lock(&w->mu);
        out->passes += w->st.passes;
        out->late_passes += w->st.late_passes;
        if (w->st.max_late_us > out->max_late_us) out->max_late_us = w->st.max_late_us;
        if (w->st.max_pass_us > out->max_pass_us) out->max_pass_us = w->st.max_pass_us;
        pthread_mutex_unlock(&w->mu);
    }
}

/* ---- legs ---------------------------------------------------------------------- */

static int bind_port(const struct fx_media *m, int port)
{
    struct sockaddr_storage ss = m->bind;
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&ss, m->bind_len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Takes the next free even/odd pair of the range into l. */
static bool ports_take(struct fx_media *m, struct fx_media_leg *l)
{
    int lo = m->cfg.port_min + (m->cfg.port_min & 1);
    int pairs = (m->cfg.port_max - lo + 1) / 2;
    bool ok = false;
    pthread_mutex_lock(&m->port_mu);
    for (int i = 0; i < pairs && !ok; i++) {
        int p = m->next_port;
        m->next_port = p + 2 + 1 > m->cfg.port_max ? lo : p + 2;
        int a = bind_port(m, p);
        int b = a >= 0 ? bind_port(m, p + 1) : -1;
        if (a >= 0 && b >= 0) {
            l->fd = a, l->fd_rtcp = b, l->port = p;
            ok = true;
        } else if (a >= 0) {
            close(a);
        }
    }
    pthread_mutex_unlock(&m->port_mu);
    return ok;
}

static struct worker *least_loaded(struct fx_media *m)
{
    struct worker *best = &m->workers[0];
    for (int i = 1; i < m->n_workers; i++)
        if (atomic_load(&m->workers[i].n_legs) < atomic_load(&best->n_legs)) best = &m->workers[i];
    return best;
}

enum fx_err fx_media_leg_new(struct fx_media *m, fx_media_event_cb cb, void *arg,
                             struct fx_media_leg **out)
{
    if (!m || !out) return FX_ERR_INVALID;
    struct fx_media_leg *l = calloc(1, sizeof *l);
    if (!l) return FX_ERR_NOMEM;
    l->m = m;
    l->cb = cb;
    l->cb_arg = arg;
    l->fd = l->fd_rtcp = -1;
    if (!ports_take(m, l)) {
        free(l);
        return FX_ERR_UNAVAILABLE;
    }
    pthread_mutex_init(&l->mu, NULL);
    jb_init(&l->jb, m->jitter_frames);
    /* The worker is chosen and the leg linked under the list locks; counts are read
     * without them, which at worst unbalances by one leg. */
    struct worker *w = least_loaded(m);
    l->w = w;
    pthread_mutex_lock(&w->mu);
    l->next = w->legs;
    w->legs = l;
    w->n_legs++;
    pthread_mutex_unlock(&w->mu);
    *out = l;
    return FX_OK;
}

int fx_media_leg_port(const struct fx_media_leg *leg)
{
    return leg ? leg->port : 0;
}

static bool peer_valid(const struct fx_media_leg *l, const struct fx_media_peer *p,
                       struct sockaddr_storage *dst, socklen_t *len)
{
    if (!p || p->port <= 0 || p->port > 65535) return false;
    if (!memchr(p->ip, '\0', sizeof p->ip)) return false;
    if (!addr_parse(p->ip, p->port, dst, len) || dst->ss_family != l->m->bind.ss_family)
        return false;
    if (p->kind != FX_MEDIA_PCMU && p->kind != FX_MEDIA_PCMA && p->kind != FX_MEDIA_T38)
        return false;
    if (p->kind != FX_MEDIA_T38 && (p->payload_type < 0 || p->payload_type > 127)) return false;
    return p->t38_version >= 0 && p->t38_version <= 3 && p->t38_max_bitrate >= 0 &&
           p->t38_max_datagram >= 0;
}

/* The fax config media runs: the caller's, with the transport's fields filled in. */
static struct fx_fax_config fax_config(struct fx_media_leg *l, const struct fx_media_peer *p,
                                       const struct fx_fax_config *fax, int max_dgram)
{
    struct fx_fax_config c = *fax;
    c.mode = p->kind == FX_MEDIA_T38    ? FX_FAX_T38
             : p->kind == FX_MEDIA_PCMA ? FX_FAX_ALAW
                                        : FX_FAX_ULAW;
    c.detect_tones = p->kind != FX_MEDIA_T38;
    c.t38_tx = t38_tx;
    c.t38_arg = l;
    c.t38_version = p->t38_version;
    c.t38_max_rate = p->t38_max_bitrate;
    c.t38_rate_management = p->t38_transferred_tcf ? 2 : 1;
    /* The IFP must fit one datagram with the UDPTL framing around it. */
    c.t38_max_datagram = max_dgram - UDPTL_OVERHEAD;
    return c;
}

/* Resets the transport state for a new session (under l->mu). */
static void transport_reset(struct fx_media_leg *l, const struct fx_media_peer *p, int max_dgram)
{
    fx_random_bytes(&l->ssrc, sizeof l->ssrc);
    fx_random_bytes(&l->seq, sizeof l->seq);
    fx_random_bytes(&l->ts, sizeof l->ts);
    l->first_sent = false;
    jb_init(&l->jb, l->m->jitter_frames);
    l->paused = 0;
    l->useq = 0;
    l->n_sent = 0;
    l->rx_started = false;
    l->resync_seen = false;
    l->depth =
        p->kind == FX_MEDIA_T38 && p->t38_ec != FX_MEDIA_EC_NONE ? l->m->cfg.t38_redundancy : 0;
    l->max_dgram = max_dgram;
    l->held_len = 0;
    l->hungup = l->done = l->done_sent = l->tone_sent = false;
    l->pages = 0;
    memset(&l->st, 0, sizeof l->st);
}

enum fx_err fx_media_leg_start(struct fx_media_leg *leg, const struct fx_media_peer *peer,
                               const struct fx_fax_config *fax)
{
    struct sockaddr_storage dst;
    socklen_t dst_len;
    if (!leg || !fax || !peer_valid(leg, peer, &dst, &dst_len)) return FX_ERR_INVALID;
    int max_dgram = peer->t38_max_datagram > 0 ? peer->t38_max_datagram : T38_DGRAM_DEFAULT;
    if (max_dgram > DGRAM_MAX) max_dgram = DGRAM_MAX;
    if (peer->kind == FX_MEDIA_T38 && max_dgram < UDPTL_OVERHEAD + 16) return FX_ERR_INVALID;
    struct fx_fax_config c = fax_config(leg, peer, fax, max_dgram);
    struct fx_fax_session *s = NULL;
    enum fx_err e = fx_fax_new(&c, &s); /* file checks off the worker, outside the lock */
    if (e != FX_OK) return e;
    pthread_mutex_lock(&leg->mu);
    struct fx_fax_session *old = leg->fax;
    leg->fax = s;
    leg->peer = *peer;
    leg->dst = dst;
    leg->dst_len = dst_len;
    transport_reset(leg, peer, max_dgram);
    leg->mute = true; /* ends the previous session; its result is dropped */
    fx_fax_free(old);
    leg->mute = false;
    pthread_mutex_unlock(&leg->mu);
    fx_debug("media leg start port=%d peer=%s:%d kind=%s t38_ec=%d depth=%d max_datagram=%d",
             leg->port, peer->ip, peer->port,
             peer->kind == FX_MEDIA_T38    ? "t38"
             : peer->kind == FX_MEDIA_PCMA ? "pcma"
                                           : "pcmu",
             (int)peer->t38_ec, leg->depth, max_dgram);
    return FX_OK;
}

void fx_media_leg_hangup(struct fx_media_leg *leg)
{
    if (!leg) return;
    pthread_mutex_lock(&leg->mu);
    leg->hungup = true;
    if (leg->fax) fx_fax_hangup(leg->fax);
    pthread_mutex_unlock(&leg->mu);
}

int fx_media_leg_pages(struct fx_media_leg *leg)
{
    if (!leg) return 0;
    pthread_mutex_lock(&leg->mu);
    int pages = leg->pages;
    pthread_mutex_unlock(&leg->mu);
    return pages;
}

bool fx_media_leg_result(struct fx_media_leg *leg, struct fx_fax_result *out)
{
    if (!leg) return false;
    pthread_mutex_lock(&leg->mu);
    bool done = leg->done;
    if (done && out) *out = leg->result;
    pthread_mutex_unlock(&leg->mu);
    return done;
}

void fx_media_leg_stats(struct fx_media_leg *leg, struct fx_media_stats *out)
{
    if (!leg || !out) return;
    pthread_mutex_lock(&leg->mu);
    *out = leg->st;
    pthread_mutex_unlock(&leg->mu);
}

void fx_media_leg_free(struct fx_media_leg *leg)
{
    if (!leg) return;
    struct worker *w = leg->w;
    pthread_mutex_lock(&w->mu);
    for (struct fx_media_leg **p = &w->legs; *p; p = &(*p)->next)
        if (*p == leg) {
            *p = leg->next;
            w->n_legs--;
            break;
        }
    pthread_mutex_unlock(&w->mu);
    leg->mute = true; /* no worker sees the leg any more */
    fx_fax_free(leg->fax);
    close(leg->fd);
    close(leg->fd_rtcp);
    pthread_mutex_destroy(&leg->mu);
    free(leg);
}
