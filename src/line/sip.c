/* line: the SIP line — fax calls over the configured trunks (see line.h, sip/, media/).
 *
 * One call is three parties: the SIP dialog (sip/, on the SIP thread), the media leg
 * running the fax session (media/, on a media worker) and the thread that owns the call
 * here — a dialer worker for outgoing calls, a thread started per incoming call. SIP and
 * media callbacks only queue their event into the call (`mu` + `cv`); the owning thread
 * takes them in order and makes every decision: start or switch the fax session when
 * media is agreed, ask for T.38 on fax tones (trunk.t38 = prefer), hang up when T.30 is
 * done, and turn the outcome into a struct fx_call_result with the tables below
 * (Q.850 cause first, then the SIP code; SIP.md and STATUS.md). The owning thread never
 * holds `mu` while calling into sip/ or media/, so their callbacks can always queue.
 *
 * Channels: sip/ counts this node's calls per trunk (inbound ones refused with 503 when
 * full); with cfg->channel_take the owning thread also claims a channel in the store
 * before dialling (the trunk's `channels` then holds across all nodes, a full trunk
 * failing over like a locally full one) and counts an inbound call once its thread runs
 * (never refused: the carrier placed it, and its channels cover both directions). The
 * claim's lease is renewed while the call lasts and the channel freed at its end. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "line/line_priv.h"
#include "media/media.h"
#include "sip/sip.h"

struct fx_sipline {
    const struct fx_lines_cfg *cfg; /* the owner's copy */
    const struct fx_lines *lines;
    const struct fx_conf *conf;
    struct fx_sip *sip;
    struct fx_media *media;
    char state_path[4200];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inbound_threads; /* under mu */
};

/* ---- outcome tables (STATUS.md, SIP.md) ---- */

static const struct {
    int cause;
    enum fx_call_end end;
} q850_map[] = {
    {1, FX_CALL_UNALLOCATED}, {16, FX_CALL_CLEARED}, {17, FX_CALL_BUSY},
    {18, FX_CALL_NO_ANSWER},  {19, FX_CALL_NO_ANSWER}, {38, FX_CALL_TEMPORARY},
    {41, FX_CALL_TEMPORARY},  {42, FX_CALL_TEMPORARY},
};

static const struct {
    int code;
    enum fx_call_end end;
} sip_map[] = {
    {486, FX_CALL_BUSY},        {600, FX_CALL_BUSY},        {408, FX_CALL_NO_ANSWER},
    {480, FX_CALL_NO_ANSWER},   {487, FX_CALL_NO_ANSWER},   {404, FX_CALL_UNALLOCATED},
    {604, FX_CALL_UNALLOCATED}, {484, FX_CALL_BAD_NUMBER},  {403, FX_CALL_REFUSED},
    {603, FX_CALL_REFUSED},     {503, FX_CALL_CONGESTION},  {500, FX_CALL_TEMPORARY},
    {502, FX_CALL_TEMPORARY},   {504, FX_CALL_TEMPORARY},
};

enum fx_call_end fx_line_sip_outcome(int code, int q850, bool local, bool cancelled)
{
    if (local && (code == 408 || code == 503)) return FX_CALL_CONGESTION; /* unreachable */
    if (cancelled) return FX_CALL_NO_ANSWER; /* our ring timeout */
    for (size_t i = 0; i < sizeof q850_map / sizeof *q850_map; i++)
        if (q850_map[i].cause == q850) return q850_map[i].end;
    for (size_t i = 0; i < sizeof sip_map / sizeof *sip_map; i++)
        if (sip_map[i].code == code) return sip_map[i].end;
    return FX_CALL_FAILED;
}

/* ---- one call ---- */

#define MAX_EV 32

struct scall {
    struct fx_sipline *sl;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fx_sip_event ev[MAX_EV]; /* under mu: a ring of SIP events */
    unsigned ev_head, ev_tail;
    bool tone, done;                /* under mu: media events */
    /* the owning thread */
    struct fx_sip_call *call;
    struct fx_media_leg *leg;
    int trunk;
    bool incoming, answered, ended, t38_asked, hung, media_on;
    enum fx_sip_kind kind;
    struct fx_fax_config fc;
    struct fx_sip_event end;
    int64_t tone_at, done_at, ended_at, begun;
    char rx_path[4300];
    char id[FX_ID_LEN + 1]; /* incoming: the fax record's id, chosen at the call's start */
    const struct fx_dial *d; /* outgoing: what is dialled */
    bool page;               /* a page event is waiting */
    int pages_told;          /* pages reported through d->progress, or (incoming) cfg->rx */
    const struct fx_inbound *rx_in; /* incoming: what cfg->rx is told about */
    char to[64], from[64];
    int64_t started;
    char claim[FX_ID_LEN + 1]; /* the trunk channel held in the store, "" = none */
    int64_t claim_renewed;     /* mono ms */
};

static void on_sip(const struct fx_sip_event *ev, void *arg)
{
    struct scall *c = arg;
    pthread_mutex_lock(&c->mu);
    if (c->ev_tail - c->ev_head < MAX_EV) c->ev[c->ev_tail++ % MAX_EV] = *ev;
    else if (ev->kind == FX_SIP_EV_ENDED) c->ev[(c->ev_tail - 1) % MAX_EV] = *ev; /* never lost */
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void on_media(struct fx_media_leg *leg, enum fx_media_event ev, void *arg)
{
    (void)leg;
    struct scall *c = arg;
    pthread_mutex_lock(&c->mu);
    if (ev == FX_MEDIA_EV_FAX_TONE) c->tone = true;
    if (ev == FX_MEDIA_EV_PAGE) c->page = true;
    if (ev == FX_MEDIA_EV_DONE) c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void scall_init(struct scall *c, struct fx_sipline *sl)
{
    memset(c, 0, sizeof *c);
    c->sl = sl;
    c->begun = fx_clock_mono_ms();
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

/* ---- channels across nodes (cfg->channel_take) ---- */

/* A channel claim is a lease like every other claim of the node (store.lease, renewed
 * every third of it): a dead node's calls stop counting once it has run out. */
static int channel_lease_s(const struct scall *c)
{
    return (int)c->sl->conf->store_lease;
}

static bool channel_take(struct scall *c, const char *trunk, int limit)
{
    const struct fx_lines_cfg *lc = c->sl->cfg;
    if (!lc->channel_take) return true;
    c->claim_renewed = fx_clock_mono_ms();
    return lc->channel_take(trunk, limit, channel_lease_s(c), c->claim, lc->arg);
}

/* up: renews the lease when due; else frees the channel (once). */
static void channel_keep(struct scall *c, bool up)
{
    const struct fx_lines_cfg *lc = c->sl->cfg;
    if (!c->claim[0] || !lc->channel_keep) return;
    int64_t now = fx_clock_mono_ms();
    if (up && now - c->claim_renewed < channel_lease_s(c) * 1000 / 3) return;
    c->claim_renewed = now;
    lc->channel_keep(c->claim, up ? channel_lease_s(c) : 0, lc->arg);
    if (!up) c->claim[0] = 0;
}

static void scall_destroy(struct scall *c)
{
    channel_keep(c, false);
    fx_sip_call_release(c->call); /* after this no SIP event arrives */
    fx_media_leg_free(c->leg);    /* nor a media event */
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static void to_peer(const struct fx_sip_media *m, struct fx_media_peer *p)
{
    memset(p, 0, sizeof *p);
    fx_strlcpy(p->ip, m->ip, sizeof p->ip);
    p->port = m->port;
    p->kind = m->kind == FX_SIP_T38 ? FX_MEDIA_T38
              : m->kind == FX_SIP_PCMU ? FX_MEDIA_PCMU : FX_MEDIA_PCMA;
    p->payload_type = m->payload_type;
    p->t38_version = m->t38_version;
    p->t38_max_bitrate = m->t38_max_bitrate;
    p->t38_max_datagram = m->t38_max_datagram;
    p->t38_transferred_tcf = m->t38_transferred_tcf;
    p->t38_ec = m->t38_ec == 2 ? FX_MEDIA_EC_FEC : m->t38_ec == 1 ? FX_MEDIA_EC_REDUNDANCY
                                                                  : FX_MEDIA_EC_NONE;
}

static void start_media(struct scall *c, const struct fx_sip_media *m)
{
    struct fx_media_peer p;
    to_peer(m, &p);
    enum fx_err e = fx_media_leg_start(c->leg, &p, &c->fc);
    if (e) {
        fx_warn("line sip media start failed to=%s error=%s", c->to, fx_err_code(e));
        fx_sip_call_hangup(c->call);
        return;
    }
    c->kind = m->kind;
    c->media_on = true;
    fx_info("line sip media to=%s kind=%s peer=%s:%d", c->to,
            m->kind == FX_SIP_T38 ? "t38" : m->kind == FX_SIP_PCMU ? "pcmu" : "pcma", m->ip,
            m->port);
}

static const struct fx_conf_trunk *trunk_cf(const struct scall *c)
{
    return &c->sl->conf->trunks[c->trunk];
}

/* One SIP event, on the owning thread. */
static void handle_sip(struct scall *c, const struct fx_sip_event *ev)
{
    switch (ev->kind) {
    case FX_SIP_EV_RINGING:
        break;
    case FX_SIP_EV_ANSWERED:
        c->answered = true;
        start_media(c, &ev->media);
        break;
    case FX_SIP_EV_MEDIA:
        start_media(c, &ev->media); /* a switch (to T.38): the session restarts */
        break;
    case FX_SIP_EV_T38_REFUSED:
        fx_info("line sip t38 refused, staying in G.711 to=%s", c->to);
        break;
    case FX_SIP_EV_ENDED:
        c->ended = true;
        c->ended_at = fx_clock_mono_ms();
        c->end = *ev;
        if (c->answered) fx_media_leg_hangup(c->leg); /* T.30 ends now, keeping pages */
        channel_keep(c, false); /* free for the next call on any node at once */
        break;
    }
}

/* Waits for and handles what happened; false once the call is over (ENDED, and the
 * fax session done if it ran). */
static bool step(struct scall *c)
{
    struct fx_sip_event ev;
    bool have = false, tone = false, done;
    pthread_mutex_lock(&c->mu);
    if (c->ev_head == c->ev_tail && !c->tone && !c->page && !(c->done && !c->done_at)) {
        struct timespec ts;
        fx_deadline_ms(&ts, 200);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    if (c->ev_head != c->ev_tail) {
        ev = c->ev[c->ev_head++ % MAX_EV];
        have = true;
    }
    tone = c->tone;
    c->tone = false;
    bool page = c->page;
    c->page = false;
    done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (have) handle_sip(c, &ev);
    if (page && c->incoming) {
        fx_crash_point("page_received");
        /* The complete pages are handed over to be kept beyond this node (cfg->rx). */
        int pages = fx_media_leg_pages(c->leg);
        const struct fx_lines_cfg *lc = c->sl->cfg;
        if (pages > c->pages_told && lc->rx && c->rx_in) {
            c->pages_told = pages;
            lc->rx(c->rx_in, FX_LINE_RX_PAGE, pages, lc->arg);
        }
    }
    if (page && c->d && c->d->progress) {
        /* A confirmed page is made durable at once (a crash then resumes after it). */
        int pages = fx_media_leg_pages(c->leg);
        if (pages > c->pages_told) {
            c->pages_told = pages;
            c->d->progress(pages, c->d->progress_arg);
        }
    }
    int64_t now = fx_clock_mono_ms();
    const struct fx_conf_trunk *t = trunk_cf(c);
    channel_keep(c, true);
    if (tone && c->kind != FX_SIP_T38 && !strcmp(t->t38, "prefer") && !c->tone_at)
        c->tone_at = now; /* fax tones heard: T.38 is worth asking for */
    /* The answerer asks at once; the caller waits a little, so both sides asking at
     * the same moment (glare, 491) is unlikely and the far end's re-INVITE wins. */
    if (c->tone_at && !c->t38_asked && c->kind != FX_SIP_T38 && !c->ended &&
        now - c->tone_at >= (c->incoming ? 0 : 3000)) {
        c->t38_asked = true;
        fx_sip_call_t38(c->call);
    }
    if (done && !c->done_at) {
        c->done_at = now;
        /* T.30 is over: the sender hangs up; a receiver gives the sender time to. */
        if (!c->incoming) fx_sip_call_hangup(c->call);
    }
    if (c->done_at && !c->ended && !c->hung && now - c->done_at > 5000) {
        c->hung = true;
        fx_sip_call_hangup(c->call);
    }
    if ((fx_lines_stopping(c->sl->lines) || !fx_line_kept(c->d)) && !c->hung && !c->ended) {
        c->hung = true;
        fx_sip_call_hangup(c->call);
    }
    /* A call that never ends (a bug, a lost event) is ended by force. */
    int64_t limit = (c->sl->conf->sip_ring_timeout + 60) * 1000 + c->sl->cfg->max_call_ms;
    if (now - c->begun > limit) {
        if (!c->hung) fx_error("line sip call overran its limits to=%s", c->to);
        if (!c->hung) fx_sip_call_hangup(c->call);
        c->hung = true;
        if (now - c->begun > limit + 40000) return false;
    }
    if (c->ended && c->media_on && !done && now - c->ended_at < 10000) {
        /* The media session was told to hang up; its DONE comes from the worker. */
        return true;
    }
    return !c->ended;
}

static void fax_config(struct scall *c, const struct fx_dial *d)
{
    const struct fx_lines_cfg *lc = c->sl->cfg;
    c->fc = (struct fx_fax_config){
        .calling = !c->incoming,
        .sending = !c->incoming,
        .mode = FX_FAX_ALAW,
        .tiff_path = c->incoming ? c->rx_path : d->tiff_path,
        .start_page = c->incoming ? -1 : d->start_page,
        .stop_page = -1,
        .ident = c->incoming ? c->to : d->ident,
        .header_info = c->incoming ? NULL : d->header,
        .header_total_pages = c->incoming ? 0 : d->total_pages,
        .ecm = lc->ecm,
        .no_media_timeout_ms = lc->no_media_timeout_ms,
        .max_duration_ms = lc->max_call_ms,
        .log_tag = c->incoming ? "inbound" : d->log_tag,
    };
}

/* ---- outgoing ---- */

static bool serves(const struct fx_conf_trunk *t, const char *to)
{
    if (!t->prefixes[0]) return true;
    const char *p = t->prefixes;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n && !strncmp(to, p, n)) return true;
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

bool fx_sipline_routes(const struct fx_sipline *sl, const char *to)
{
    for (int i = 0; sl && i < sl->conf->n_trunks; i++)
        if (serves(&sl->conf->trunks[i], to)) return true;
    return false;
}

/* One attempt on one trunk. *next: try the next trunk (503, timeout, full). */
static enum fx_err dial_trunk(struct fx_sipline *sl, int trunk, const struct fx_dial *d,
                              struct fx_call_result *out, bool *next)
{
    struct scall c;
    scall_init(&c, sl);
    c.trunk = trunk;
    c.d = d;
    fx_strlcpy(c.to, d->to, sizeof c.to);
    fax_config(&c, d);
    const struct fx_conf_trunk *t = &sl->conf->trunks[trunk];
    *next = false;
    fx_strlcpy(out->line, t->name, sizeof out->line);
    if (!fx_sip_trunk_ready(sl->sip, trunk, out->detail, sizeof out->detail)) {
        /* A trunk that must register and is not registered would refuse the call or
         * not route answers back: the next trunk serving the number is tried. */
        fx_info("line sip skipping trunk=%s to=%s: %s", t->name, d->to, out->detail);
        out->end = FX_CALL_CONGESTION;
        *next = true;
        scall_destroy(&c);
        return FX_OK;
    }
    /* Full on the nodes together: as if full here (sip/ answers UNAVAILABLE). */
    enum fx_err e = channel_take(&c, t->name, (int)t->channels) ? FX_OK : FX_ERR_UNAVAILABLE;
    if (!e) e = fx_media_leg_new(sl->media, on_media, &c, &c.leg);
    struct fx_sip_dial sd = {.trunk = trunk, .to = d->to, .from = d->from,
                             .t38_first = !strcmp(t->t38, "only"), .cb = on_sip, .arg = &c};
    if (!e) {
        sd.local_port = fx_media_leg_port(c.leg);
        fx_line_log_call(sl->cfg, d, t->name);
        e = fx_sip_dial(sl->sip, &sd, &c.call);
    }
    if (e == FX_ERR_UNAVAILABLE) { /* the trunk's channels (or media ports) are all busy */
        out->end = FX_CALL_CONGESTION;
        snprintf(out->detail, sizeof out->detail, "trunk %s has no free channel", t->name);
        out->no_channel = true;
        *next = true;
        scall_destroy(&c);
        return FX_OK;
    }
    if (e) {
        scall_destroy(&c);
        return e;
    }
    c.started = fx_clock_now();
    while (step(&c)) {
    }
    struct fx_fax_result fr;
    bool ran = c.media_on && fx_media_leg_result(c.leg, &fr);
    out->sip_code = c.end.code;
    fx_strlcpy(out->transport, c.kind == FX_SIP_T38 ? "t38" : "audio", sizeof out->transport);
    if (ran) {
        out->end = FX_CALL_ANSWERED;
        out->fax_ran = true;
        out->fax = fr;
        snprintf(out->detail, sizeof out->detail, "%s%.90s", c.end.remote_bye ? "far end hung up; " : "",
                 c.end.reason);
    } else {
        out->end = c.end.auth_failed ? FX_CALL_CONGESTION
                                     : fx_line_sip_outcome(c.end.code, c.end.q850, c.end.local,
                                                           c.end.cancelled);
        if (c.answered && out->end == FX_CALL_FAILED) out->end = FX_CALL_CLEARED;
        snprintf(out->detail, sizeof out->detail, "trunk %.31s: %s%.64s", t->name,
                 c.end.auth_failed ? "authentication failed: " : "", c.end.reason);
        *next = !c.answered && (c.end.code == 503 || (c.end.local && c.end.code == 408));
    }
    fx_info("line sip call ended to=%s trunk=%s code=%d q850=%d end=%s", d->to, t->name,
            c.end.code, c.end.q850, fx_call_end_name(out->end));
    scall_destroy(&c);
    return FX_OK;
}

enum fx_err fx_sipline_call(struct fx_sipline *sl, const struct fx_dial *d,
                            struct fx_call_result *out)
{
    bool tried = false, dialled = false;
    for (int i = 0; i < sl->conf->n_trunks; i++) {
        if (!serves(&sl->conf->trunks[i], d->to)) continue;
        if (tried) fx_info("line sip failing over to trunk=%s to=%s", sl->conf->trunks[i].name, d->to);
        tried = true;
        memset(out, 0, sizeof *out);
        bool next;
        enum fx_err e = dial_trunk(sl, i, d, out, &next);
        dialled = dialled || !out->no_channel;
        out->no_channel = !dialled;
        if (e || !next || fx_lines_stopping(sl->lines) || !fx_line_kept(d)) return e;
    }
    if (!tried) {
        out->end = FX_CALL_NO_ROUTE;
        snprintf(out->detail, sizeof out->detail, "no trunk serves %s", d->to);
    }
    return FX_OK;
}

/* ---- incoming ---- */

static void *inbound_main(void *arg)
{
    struct scall *c = arg;
    struct fx_sipline *sl = c->sl;
    struct fx_fax_result fr = {0};
    struct fx_inbound in = {.id = c->id, .to = c->to, .from = c->from,
                            .tiff_path = c->rx_path, .fax = &fr, .transport = "audio",
                            .line = trunk_cf(c)->name, .started = c->started};
    /* The called number is checked here, not on the SIP thread: the store may be a
     * network round trip away (PostgreSQL). The caller has had its 100 Trying. */
    bool ours = c->to[0] && sl->cfg->is_local && sl->cfg->is_local(c->to, sl->cfg->arg);
    if (ours) {
        /* Written before answering: a crash during the call leaves what
         * fx_lines_recover needs to keep the complete pages. */
        fx_line_meta_write(sl->cfg, c->id, &in);
        if (sl->cfg->rx) sl->cfg->rx(&in, FX_LINE_RX_BEGIN, 0, sl->cfg->arg);
        c->rx_in = &in;
        fx_sip_call_answer(c->call, fx_media_leg_port(c->leg));
        channel_take(c, in.line, 0); /* counted, never refused (see the top) */
    } else {
        fx_sip_call_reject(c->call, 404);
    }
    while (step(c)) {
    }
    if (!ours) {
        fx_info("line sip inbound call refused: not our number to=%s from=%s", c->to, c->from);
    } else if (c->media_on && fx_media_leg_result(c->leg, &fr) && sl->cfg->inbound) {
        in.transport = c->kind == FX_SIP_T38 ? "t38" : "audio";
        sl->cfg->inbound(&in, sl->cfg->arg);
    } else {
        fx_info("line sip inbound call ended without a fax to=%s from=%s code=%d", c->to,
                c->from, c->end.code);
    }
    if (ours && sl->cfg->rx) sl->cfg->rx(&in, FX_LINE_RX_END, c->pages_told, sl->cfg->arg);
    scall_destroy(c);
    unlink(c->rx_path);
    char meta[4300];
    fx_line_rx_path(sl->cfg, c->id, "meta", meta, sizeof meta);
    unlink(meta);
    free(c);
    pthread_mutex_lock(&sl->mu);
    sl->inbound_threads--;
    pthread_cond_broadcast(&sl->cv);
    pthread_mutex_unlock(&sl->mu);
    return NULL;
}

/* On the SIP thread: take the call (a thread runs it) or refuse it with a SIP code. */
static int on_incoming(struct fx_sip_call *call, const struct fx_sip_incoming *in, void *arg)
{
    struct fx_sipline *sl = arg;
    /* Stopping or draining: 503 makes a dispatcher in front (kamailio) try the next node,
     * and answered to its OPTIONS probes, stop sending calls here at all. */
    if (fx_lines_stopping(sl->lines) || fx_lines_draining(sl->lines)) return 503;
    if (!call) return 0; /* an OPTIONS probe: calls are welcome */
    if (!in->to[0]) return 404; /* no number at all; ours or not is asked off this thread */
    struct scall *c = malloc(sizeof *c);
    if (!c) return 503;
    scall_init(c, sl);
    c->incoming = true;
    c->trunk = in->trunk;
    c->started = fx_clock_now();
    fx_strlcpy(c->to, in->to, sizeof c->to);
    fx_strlcpy(c->from, in->from, sizeof c->from);
    fx_id_new(c->id);
    fx_line_rx_path(sl->cfg, c->id, "tiff", c->rx_path, sizeof c->rx_path);
    fax_config(c, NULL);
    if (fx_media_leg_new(sl->media, on_media, c, &c->leg)) {
        scall_destroy(c);
        free(c);
        return 503;
    }
    c->call = call;
    fx_sip_call_bind(call, on_sip, c);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    pthread_mutex_lock(&sl->mu);
    sl->inbound_threads++;
    pthread_mutex_unlock(&sl->mu);
    if (pthread_create(&th, &attr, inbound_main, c) != 0) {
        pthread_mutex_lock(&sl->mu);
        sl->inbound_threads--;
        pthread_mutex_unlock(&sl->mu);
        c->call = NULL; /* released below by the SIP side's refusal */
        fx_sip_call_release(call);
        fx_media_leg_free(c->leg);
        c->leg = NULL;
        scall_destroy(c);
        free(c);
        pthread_attr_destroy(&attr);
        return 503;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

/* ---- lifetime ---- */

enum fx_err fx_sipline_new(const struct fx_lines_cfg *cfg, const struct fx_lines *lines,
                           struct fx_sipline **out)
{
    const struct fx_conf *conf = cfg->conf;
    struct fx_sipline *sl = calloc(1, sizeof *sl);
    if (!sl) return FX_ERR_NOMEM;
    sl->cfg = cfg;
    sl->lines = lines;
    sl->conf = conf;
    pthread_mutex_init(&sl->mu, NULL);
    pthread_cond_init(&sl->cv, NULL);
    snprintf(sl->state_path, sizeof sl->state_path, "%s/trunks.state", conf->data_dir);
    struct fx_media_cfg mc = {.bind_ip = conf->sip_address,
                              .port_min = (int)conf->sip_rtp_min,
                              .port_max = (int)conf->sip_rtp_max,
                              .threads = (int)conf->sip_media_threads,
                              .rt_priority = (int)conf->sip_media_priority,
                              .jitter_ms = (int)conf->sip_jitter_ms,
                              .t38_redundancy = (int)conf->sip_t38_redundancy};
    enum fx_err e = fx_media_new(&mc, &sl->media);
    if (e) fx_error("line sip cannot start the media workers (%s)", fx_err_code(e));
    if (!e) e = fx_sip_start(conf, sl->state_path, on_incoming, sl, &sl->sip);
    if (e) {
        if (sl->media) fx_media_free(sl->media);
        pthread_mutex_destroy(&sl->mu);
        pthread_cond_destroy(&sl->cv);
        free(sl);
        return e;
    }
    *out = sl;
    return FX_OK;
}

int fx_sipline_inbound_calls(struct fx_sipline *sl)
{
    pthread_mutex_lock(&sl->mu);
    int n = sl->inbound_threads;
    pthread_mutex_unlock(&sl->mu);
    return n;
}

void fx_sipline_free(struct fx_sipline *sl)
{
    if (!sl) return;
    /* Inbound calls see fx_lines_stopping and hang up; wait for their threads. */
    pthread_mutex_lock(&sl->mu);
    while (sl->inbound_threads > 0)
        pthread_cond_wait(&sl->cv, &sl->mu);
    pthread_mutex_unlock(&sl->mu);
    fx_sip_stop(sl->sip);
    if (sl->media) fx_media_free(sl->media);
    pthread_mutex_destroy(&sl->mu);
    pthread_cond_destroy(&sl->cv);
    free(sl);
}
