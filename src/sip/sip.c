/* sip: the user agent (see sip.h) — sofia-sip's nua run single-threaded on one thread.
 *
 * Design: fx_sip_start creates a thread that owns every sofia object (su_root with
 * threading off, nua with its own offer/answer engine off: faxd writes and parses SDP in
 * sdp.c). Other threads never touch sofia: they queue a command (dial, answer, T.38,
 * hang up) under `mu` and write to an eventfd registered in the root, which wakes the
 * loop. A 100 ms su_timer_run tick enforces ring timeouts and rewrites the trunk state
 * file when something changed. Call events go out through the owner's callback on this
 * thread. A call is shared by the SIP thread and its owner (refcount under `mu`): the
 * SIP side drops its reference when the dialog is over and the handle destroyed, the
 * owner with fx_sip_call_release. */
/* What faxd answers; replaces nua's longer default list. */
#define ALLOW_METHODS "INVITE, ACK, BYE, CANCEL, OPTIONS"
#define SU_ROOT_MAGIC_T struct fx_sip
#define SU_WAKEUP_ARG_T void
#define SU_TIMER_ARG_T struct fx_sip
#define NUA_MAGIC_T struct fx_sip
#define NUA_HMAGIC_T struct hmagic

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/su_wait.h>

#include "sip/sip_priv.h"

/* A nua handle's magic is a call or a registration; the tag tells which. */
enum hkind { H_CALL = 1, H_REG };
struct hmagic {
    enum hkind kind;
};

struct net {
    uint32_t addr, mask; /* host order */
};

struct trunk {
    const struct fx_conf_trunk *cf;
    int laws[2], n_laws;
    enum fx_sip_t38_mode t38;
    struct net nets[16];
    int n_nets;
    char host_ip[64];
    /* under fx_sip.mu */
    int in_use;
    char reg_state[8]; /* yes | no | off */
    char last_error[96];
    /* SIP thread */
    struct hmagic reg_magic;
    nua_handle_t *reg;
    bool reg_auth_tried;
    int64_t reg_retry_at; /* after a failed REGISTER: when to try again, 0 = not due */
};

enum call_state { ST_NEW, ST_CALLING, ST_ANSWERED, ST_ENDING, ST_DONE };

struct fx_sip_call {
    struct hmagic hm; /* first: the handle's magic */
    struct fx_sip *s;
    int refs; /* under s->mu */
    int trunk;
    bool incoming, counted;
    fx_sip_call_cb cb;
    void *arg;
    /* SIP thread only from here */
    nua_handle_t *nh;
    enum call_state st;
    bool got_response, cancelled, auth_tried, reinvite, remote_bye, auth_failed, ended;
    bool glare_retried;
    bool late_offer; /* incoming INVITE without SDP: our offer goes in the 200 */
    bool acked;      /* incoming: the ACK to our 200 came (the INVITE is complete) */
    bool ack_waited; /* a T.38 switch waited for that ACK (logged once) */
    enum { ACK_NONE, ACK_CALL, ACK_REINVITE } await_ack; /* our offer's answer is due in
                                                          * the ACK of that (re-)INVITE */
    int64_t ring_deadline, t38_retry_at;
    int local_port, final_code, q850;
    char reason[96];
    bool t38_first;
    uint64_t sdp_id, sdp_ver;
    struct fx_sip_media media;
    struct fx_sdp offer; /* incoming: the INVITE's offer, kept until answered */
    char to[64], from[64];
    struct fx_sip_call *next; /* live list */
};

enum cmd_op { CMD_DIAL, CMD_ANSWER, CMD_T38, CMD_HANGUP, CMD_REJECT };
struct cmd {
    struct cmd *next;
    enum cmd_op op;
    struct fx_sip_call *call; /* holds a reference until run */
    int port;                 /* CMD_ANSWER: media port; CMD_REJECT: the SIP status */
};

struct fx_sip {
    const struct fx_conf *conf;
    char state_path[4200];
    char sdp_ip[64];
    fx_sip_incoming_cb incoming;
    void *arg;
    struct trunk *trunks;
    int n_trunks;
    pthread_t thread;
    int efd;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct cmd *cmds, **cmds_tail; /* under mu */
    bool stop, state_dirty;        /* under mu */
    int start_result;              /* under mu: -1 pending, else enum fx_err */
    /* SIP thread */
    su_home_t home[1];
    su_root_t *root;
    nua_t *nua;
    struct fx_sip_auth *auth; /* NULL: no trunk takes authenticated callers */
    su_timer_t *tick;
    su_wait_t wait[1];
    struct fx_sip_call *calls;
    bool shutting_down;
    int64_t shutdown_deadline;
};

static int64_t now_ms(void)
{
    return fx_clock_mono_ms();
}

/* ---- references ---- */

static void call_unref(struct fx_sip_call *c)
{
    pthread_mutex_lock(&c->s->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->s->mu);
    if (last) free(c);
}

static void push_cmd(struct fx_sip *s, enum cmd_op op, struct fx_sip_call *c, int port)
{
    struct cmd *k = calloc(1, sizeof *k);
    if (!k) {
        fx_error("sip command lost: out of memory");
        return;
    }
    k->op = op;
    k->call = c;
    k->port = port;
    pthread_mutex_lock(&s->mu);
    c->refs++;
    *s->cmds_tail = k;
    s->cmds_tail = &k->next;
    pthread_mutex_unlock(&s->mu);
    uint64_t one = 1;
    if (write(s->efd, &one, sizeof one) < 0) { /* the counter cannot overflow here */
    }
}

static void mark_dirty(struct fx_sip *s)
{
    pthread_mutex_lock(&s->mu);
    s->state_dirty = true;
    pthread_mutex_unlock(&s->mu);
}

static void trunk_error(struct fx_sip *s, int t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void trunk_error(struct fx_sip *s, int t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s->mu);
    vsnprintf(s->trunks[t].last_error, sizeof s->trunks[t].last_error, fmt, ap);
    s->state_dirty = true;
    pthread_mutex_unlock(&s->mu);
    va_end(ap);
}

/* ---- events to the owner ---- */

/* Under mu, so an owner releasing the call (which clears cb under mu) never sees a
 * callback afterwards; owners must not call into sip while holding their own locks. */
static void emit(struct fx_sip_call *c, struct fx_sip_event *ev)
{
    pthread_mutex_lock(&c->s->mu);
    if (c->cb) c->cb(ev, c->arg);
    pthread_mutex_unlock(&c->s->mu);
}

static void emit_kind(struct fx_sip_call *c, enum fx_sip_ev_kind k)
{
    struct fx_sip_event ev = {.kind = k, .media = c->media};
    emit(c, &ev);
}

/* The call is over (dialog terminated or never created): ENDED once, channel freed,
 * handle destroyed, the SIP side's reference dropped. */
static void call_done(struct fx_sip_call *c)
{
    struct fx_sip *s = c->s;
    if (c->st == ST_DONE) return;
    c->st = ST_DONE;
    struct fx_sip_event ev = {.kind = FX_SIP_EV_ENDED, .code = c->final_code, .q850 = c->q850,
                              .local = c->final_code >= 300 && !c->got_response,
                              .cancelled = c->cancelled, .remote_bye = c->remote_bye,
                              .auth_failed = c->auth_failed};
    fx_strlcpy(ev.reason, c->reason, sizeof ev.reason);
    fx_info("sip call ended trunk=%s to=%s code=%d q850=%d local=%d cancelled=%d bye=%d %s",
            s->trunks[c->trunk].cf->name, c->to, ev.code, ev.q850, ev.local, ev.cancelled,
            ev.remote_bye, ev.reason);
    /* The channel is free before the owner hears of the end, so its next call (a
     * failover, the next fax) finds it free. */
    pthread_mutex_lock(&s->mu);
    if (c->counted) s->trunks[c->trunk].in_use--;
    c->counted = false;
    s->state_dirty = true;
    pthread_mutex_unlock(&s->mu);
    emit(c, &ev);
    if (c->nh) {
        nua_handle_bind(c->nh, NULL);
        nua_handle_destroy(c->nh);
        c->nh = NULL;
    }
    for (struct fx_sip_call **p = &s->calls; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    call_unref(c);
}

/* ---- SDP ---- */

static void sdp_common(struct fx_sip_call *c, struct fx_sdp_out *o)
{
    struct fx_sip *s = c->s;
    memset(o, 0, sizeof *o);
    o->session_id = c->sdp_id;
    o->version = ++c->sdp_ver; /* grows with every offer or answer we send */
    o->ip = s->sdp_ip;
    o->t38 = (struct fx_sdp_t38){.version = 0, .max_bitrate = 14400, .max_datagram = 400,
                                 .ec = s->conf->sip_t38_redundancy > 0};
}

/* Our offer: T.38 alone, or the trunk's G.711 laws. */
static enum fx_err offer_sdp(struct fx_sip_call *c, bool t38, char *buf, size_t len)
{
    struct fx_sdp_out o;
    sdp_common(c, &o);
    struct trunk *t = &c->s->trunks[c->trunk];
    o.n_lines = 1;
    o.lines[0].port = c->local_port;
    o.lines[0].type = t38 ? FX_SDP_T38 : FX_SDP_AUDIO;
    memcpy(o.lines[0].laws, t->laws, sizeof t->laws);
    o.lines[0].n_laws = t->n_laws;
    return fx_sdp_write(&o, buf, len);
}

/* Our answer to `offer`: the chosen line (index `pick`) at our port, every other line
 * mirrored with port 0. */
static enum fx_err answer_sdp(struct fx_sip_call *c, const struct fx_sdp *offer, int pick,
                              char *buf, size_t len)
{
    struct fx_sdp_out o;
    sdp_common(c, &o);
    o.n_lines = offer->n_m;
    for (int i = 0; i < offer->n_m; i++) {
        const struct fx_sdp_m *m = &offer->m[i];
        struct fx_sdp_line *l = &o.lines[i];
        l->type = m->type;
        l->port = i == pick ? c->local_port : 0;
        l->other_media = m->media;
        l->other_rest = m->rest;
        if (m->type == FX_SDP_AUDIO) {
            /* Answer with the one law chosen, or a refused line with the first offered. */
            l->laws[0] = i == pick ? (int)c->media.kind : FX_SIP_PCMA;
            l->n_laws = 1;
        }
        if (m->type == FX_SDP_T38 && i == pick) {
            o.t38.version = m->t38_version < o.t38.version ? m->t38_version : o.t38.version;
            o.t38.transferred_tcf = m->t38_transferred_tcf;
            o.t38.ec = m->t38_ec && o.t38.ec;
        }
    }
    return fx_sdp_write(&o, buf, len);
}

/* The media to use from an offer: T.38 if offered and allowed, else the trunk's laws. */
static int choose(struct fx_sip_call *c, const struct fx_sdp *offer, struct fx_sip_media *m)
{
    struct trunk *t = &c->s->trunks[c->trunk];
    int idx = -1;
    if (t->t38 != FX_SIP_T38_OFF && fx_sdp_pick_t38(offer, m, &idx)) return idx;
    if (fx_sdp_pick_audio(offer, t->laws, t->n_laws, m, &idx)) return idx;
    return -1;
}

static bool payload(const sip_t *sip, const char **body, size_t *len)
{
    if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data || !sip->sip_payload->pl_len)
        return false;
    *body = sip->sip_payload->pl_data;
    *len = sip->sip_payload->pl_len;
    return true;
}

static void respond_sdp(nua_handle_t *nh, int code, const char *phrase, const char *sdp)
{
    nua_respond(nh, code, phrase, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                SIPTAG_PAYLOAD_STR(sdp), TAG_END());
}

/* ---- outgoing ---- */

static void run_dial(struct fx_sip *s, struct fx_sip_call *c)
{
    struct trunk *t = &s->trunks[c->trunk];
    const struct fx_conf_trunk *cf = t->cf;
    char uri[256], to[256], from[320], sdp[1024], pai[300] = "";
    const char *tr = strcmp(cf->transport, "tcp") ? "" : ";transport=tcp";
    const char *user = c->to[0] == '+' && !strcmp(cf->number_plus, "off") ? c->to + 1 : c->to;
    snprintf(uri, sizeof uri, "sip:%s@%s:%lld%s", user, cf->host, (long long)cf->port, tr);
    snprintf(to, sizeof to, "<sip:%s@%s:%lld>", user, cf->host, (long long)cf->port);
    const char *fu = cf->from_user[0] ? cf->from_user : c->from[0] ? c->from : "anonymous";
    if (cf->display_name[0])
        snprintf(from, sizeof from, "\"%s\" <sip:%s@%s>", cf->display_name, fu, cf->host);
    else
        snprintf(from, sizeof from, "<sip:%s@%s>", fu, cf->host);
    if (cf->pai[0]) snprintf(pai, sizeof pai, "P-Asserted-Identity: <sip:%s@%s>", cf->pai, cf->host);
    if (offer_sdp(c, c->t38_first, sdp, sizeof sdp)) {
        snprintf(c->reason, sizeof c->reason, "SDP offer too long");
        c->final_code = 500;
        call_done(c);
        return;
    }
    c->nh = nua_handle(s->nua, &c->hm, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(from), TAG_END());
    if (!c->nh) {
        snprintf(c->reason, sizeof c->reason, "cannot create a SIP handle");
        c->final_code = 500;
        call_done(c);
        return;
    }
    c->st = ST_CALLING;
    c->ring_deadline = now_ms() + s->conf->sip_ring_timeout * 1000;
    fx_info("sip dialling trunk=%s to=%s port=%d t38=%d", cf->name, c->to, c->local_port,
            c->t38_first);
    nua_invite(c->nh, NUTAG_URL(uri), SIPTAG_CONTENT_TYPE_STR("application/sdp"),
               SIPTAG_PAYLOAD_STR(sdp), TAG_IF(pai[0], SIPTAG_HEADER_STR(pai)), TAG_END());
}

/* The Q.850 cause of a Reason header, if any. */
static int q850_of(const sip_t *sip)
{
    for (sip_reason_t *r = sip ? sip->sip_reason : NULL; r; r = r->re_next)
        if (r->re_protocol && !strcasecmp(r->re_protocol, "Q.850") && r->re_cause)
            return atoi(r->re_cause);
    return 0;
}

/* A 401/407: answer it once with the trunk's credentials. */
static bool authenticate(nua_handle_t *nh, const struct fx_conf_trunk *cf, const sip_t *sip)
{
    if (!cf->username[0] || !sip) return false;
    const msg_param_t *params = NULL;
    if (sip->sip_www_authenticate) params = sip->sip_www_authenticate->au_params;
    else if (sip->sip_proxy_authenticate) params = sip->sip_proxy_authenticate->au_params;
    const char *realm = params ? msg_params_find(params, "realm=") : NULL;
    if (!realm) return false;
    char auth[512];
    /* realm keeps its quotes: Digest:"realm":user:password */
    snprintf(auth, sizeof auth, "Digest:%s:%s:%s", realm, cf->username, cf->password);
    nua_authenticate(nh, NUTAG_AUTH(auth), TAG_END());
    return true;
}

static void answered(struct fx_sip *s, struct fx_sip_call *c, const sip_t *sip)
{
    const char *body;
    size_t len;
    struct fx_sdp ans;
    struct trunk *t = &s->trunks[c->trunk];
    bool ok = payload(sip, &body, &len) && !fx_sdp_parse(body, len, &ans);
    bool got = ok && (c->t38_first ? fx_sdp_pick_t38(&ans, &c->media, NULL)
                                   : fx_sdp_pick_audio(&ans, t->laws, t->n_laws, &c->media, NULL));
    if (!got) {
        /* Nothing we can carry a fax over: end it. */
        snprintf(c->reason, sizeof c->reason, "the answer's SDP has no usable media");
        c->final_code = 488;
        c->st = ST_ENDING;
        nua_bye(c->nh, TAG_END());
        return;
    }
    c->st = ST_ANSWERED;
    c->final_code = 200;
    emit_kind(c, FX_SIP_EV_ANSWERED);
}

/* The answer to our T.38 re-INVITE. */
static void reinvite_answered(struct fx_sip_call *c, int status, const sip_t *sip)
{
    c->reinvite = false;
    const char *body;
    size_t len;
    struct fx_sdp ans;
    struct fx_sip_media m;
    if (status < 300 && payload(sip, &body, &len) && !fx_sdp_parse(body, len, &ans) &&
        fx_sdp_pick_t38(&ans, &m, NULL)) {
        c->media = m;
        emit_kind(c, FX_SIP_EV_MEDIA);
        return;
    }
    if (status == 491 && !c->glare_retried) {
        /* Both ends re-INVITEd at once (glare): try once more after RFC 3261's
         * (14.1) random wait in 10 ms steps — 2.1-4 s for the side that placed the call
         * (it owns the Call-ID), 0-2 s for the other — so the two do not meet again;
         * the far end's own re-INVITE may well come first. */
        uint32_t r;
        fx_random_bytes(&r, sizeof r);
        c->glare_retried = true;
        c->t38_retry_at = now_ms() + (c->incoming ? (int64_t)(r % 201) * 10
                                                  : 2100 + (int64_t)(r % 191) * 10);
        fx_info("sip t38 glare (491) to=%s retry_in_ms=%lld", c->to,
                (long long)(c->t38_retry_at - now_ms()));
        return;
    }
    fx_info("sip t38 refused to=%s status=%d", c->to, status);
    emit_kind(c, FX_SIP_EV_T38_REFUSED);
}

static void r_invite(struct fx_sip *s, struct fx_sip_call *c, int status, const char *phrase,
                     const sip_t *sip)
{
    if (sip && status >= 100 && !(status == 408 || status == 503) ) c->got_response = true;
    if (sip && sip->sip_via && sip->sip_via->v_received) c->got_response = true;
    if (status < 200) {
        if (status == 180 || status == 183) emit_kind(c, FX_SIP_EV_RINGING);
        return;
    }
    if (c->st == ST_ANSWERED) {
        if (c->reinvite) reinvite_answered(c, status, sip);
        return;
    }
    if (c->st == ST_ENDING && !c->incoming && !c->final_code) {
        /* The final answer to an INVITE we cancelled (487), or one that crossed it. */
        if (status < 300) {
            c->final_code = 200;
            nua_bye(c->nh, TAG_END());
            return;
        }
        c->final_code = status;
        c->q850 = q850_of(sip);
        snprintf(c->reason, sizeof c->reason, "%d %s", status, phrase ? phrase : "");
        return;
    }
    if (c->st != ST_CALLING) return;
    const struct fx_conf_trunk *cf = s->trunks[c->trunk].cf;
    if ((status == 401 || status == 407) && !c->auth_tried) {
        c->auth_tried = true;
        if (authenticate(c->nh, cf, sip)) return;
    }
    if (status == 401 || status == 407) {
        /* Refused credentials (or none): the call would sit in "calling" forever. */
        c->auth_failed = true;
        c->final_code = status;
        snprintf(c->reason, sizeof c->reason, "authentication failed (%d)", status);
        trunk_error(s, c->trunk, "call authentication failed (%d %s)", status, phrase);
        call_done(c);
        return;
    }
    if (status < 300) {
        answered(s, c, sip);
        return;
    }
    c->final_code = status;
    c->q850 = q850_of(sip);
    snprintf(c->reason, sizeof c->reason, "%d %s", status, phrase ? phrase : "");
    if (!c->got_response && (status == 408 || status == 503))
        trunk_error(s, c->trunk, "no answer from %s (%d %s)", cf->host, status, phrase);
    c->st = ST_ENDING; /* the terminated state follows */
}

/* ---- incoming ---- */

static bool in_net(const struct trunk *t, uint32_t a)
{
    for (int i = 0; i < t->n_nets; i++)
        if ((a & t->nets[i].mask) == t->nets[i].addr) return true;
    return false;
}

/* The trunk an INVITE's source address belongs to, or -1. */
static int source_trunk(struct fx_sip *s, char *addr, size_t len)
{
    msg_t *msg = nua_current_request(s->nua);
    su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
    snprintf(addr, len, "?");
    if (!ai || !ai->ai_addr || ai->ai_family != AF_INET) return -1;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ai->ai_addr;
    inet_ntop(AF_INET, &sin->sin_addr, addr, (socklen_t)len);
    uint32_t a = ntohl(sin->sin_addr.s_addr);
    for (int i = 0; i < s->n_trunks; i++)
        if (in_net(&s->trunks[i], a)) return i;
    return -1;
}

/* The user part of a URL as a number: "+…" or digits, normalised to E.164; "" if not. */
static void url_number(const struct fx_sip *s, const url_t *u, char out[64])
{
    out[0] = 0;
    if (!u || !u->url_user) return;
    char e164[24];
    if (fx_e164_normalize(u->url_user, s->conf->default_country, e164))
        fx_strlcpy(out, e164, 64);
}

static void reject(nua_handle_t *nh, int code, const char *phrase)
{
    nua_respond(nh, code, phrase, TAG_END());
    nua_handle_destroy(nh);
}

static void i_invite_new(struct fx_sip *s, nua_handle_t *nh, const sip_t *sip)
{
    char addr[64];
    int t = source_trunk(s, addr, sizeof addr);
    if (t < 0 && s->auth) {
        /* Not a trunk's address: a peer with a trunk's inbound credentials may call. */
        t = fx_sip_auth_invite(s->auth, nh, sip, addr);
        if (t < 0) {
            nua_handle_destroy(nh);
            return;
        }
    } else if (t < 0) {
        fx_warn("sip incoming call refused: source %s is not a trunk", addr);
        reject(nh, 403, "Forbidden");
        return;
    }
    const char *body;
    size_t len;
    struct fx_sdp offer = {0};
    /* No SDP at all is a late offer (PBXs, some carriers): ours goes in the 200. */
    bool late = !payload(sip, &body, &len);
    if (!late && fx_sdp_parse(body, len, &offer)) {
        fx_warn("sip incoming call refused: malformed SDP offer source=%s", addr);
        reject(nh, 400, "Malformed SDP");
        return;
    }
    struct fx_sip_call *c = calloc(1, sizeof *c);
    if (!c) {
        reject(nh, 500, "Server Internal Error");
        return;
    }
    c->hm.kind = H_CALL;
    c->s = s;
    c->refs = 1; /* the SIP side */
    c->trunk = t;
    c->incoming = true;
    c->offer = offer;
    c->late_offer = late;
    c->t38_first = late && s->trunks[t].t38 == FX_SIP_T38_ONLY;
    c->sdp_id = (uint64_t)fx_clock_now();
    url_number(s, sip->sip_request ? sip->sip_request->rq_url : NULL, c->to);
    if (!c->to[0] && sip->sip_to) url_number(s, sip->sip_to->a_url, c->to);
    if (sip->sip_from) url_number(s, sip->sip_from->a_url, c->from);
    pthread_mutex_lock(&s->mu);
    bool full = s->trunks[t].in_use >= s->trunks[t].cf->channels || s->stop;
    if (!full) s->trunks[t].in_use++, c->counted = true, s->state_dirty = true;
    pthread_mutex_unlock(&s->mu);
    struct fx_sip_incoming in = {.trunk = t, .to = c->to, .from = c->from};
    int code = full ? 503 : s->incoming ? s->incoming(c, &in, s->arg) : 404;
    /* answer=0: taken; the owner answers or refuses it (e.g. 404) afterwards. */
    fx_info("sip incoming call trunk=%s source=%s to=%s from=%s late_offer=%d answer=%d",
            s->trunks[t].cf->name, addr, c->to, c->from, (int)late, code);
    if (code) {
        pthread_mutex_lock(&s->mu);
        if (c->counted) s->trunks[t].in_use--;
        pthread_mutex_unlock(&s->mu);
        reject(nh, code, sip_status_phrase(code) ? sip_status_phrase(code) : "Refused");
        call_unref(c);
        return;
    }
    c->nh = nh;
    nua_handle_bind(nh, &c->hm);
    c->st = ST_CALLING;
    c->ring_deadline = now_ms() + 10000; /* the owner must answer within 10 s */
    c->next = s->calls;
    s->calls = c;
}

/* The owner refuses an incoming call it has not answered (e.g. 404: not our number). */
static void run_reject(struct fx_sip_call *c, int code)
{
    if (c->st != ST_CALLING || !c->incoming) return;
    const char *phrase = sip_status_phrase(code);
    fx_info("sip incoming call refused to=%s code=%d", c->to, code);
    nua_respond(c->nh, code, phrase ? phrase : "Refused", TAG_END());
    c->final_code = code;
    snprintf(c->reason, sizeof c->reason, "refused with %d", code);
    c->st = ST_ENDING; /* the terminated state follows */
}

static void run_answer(struct fx_sip_call *c, int port)
{
    if (c->st != ST_CALLING || !c->incoming) return;
    c->local_port = port;
    if (c->late_offer) {
        /* Our offer in the 200; ANSWERED waits for the answer in the ACK (on_ack). */
        char offer[1024];
        if (offer_sdp(c, c->t38_first, offer, sizeof offer)) {
            run_reject(c, 500);
            return;
        }
        respond_sdp(c->nh, 200, "OK", offer);
        c->st = ST_ANSWERED;
        c->final_code = 200;
        c->await_ack = ACK_CALL;
        return;
    }
    int pick = choose(c, &c->offer, &c->media);
    char sdp[1024];
    if (pick < 0 || answer_sdp(c, &c->offer, pick, sdp, sizeof sdp)) {
        nua_respond(c->nh, 488, "Not Acceptable Here", TAG_END());
        c->final_code = 488;
        snprintf(c->reason, sizeof c->reason, "the offer has no usable media");
        c->st = ST_ENDING;
        return;
    }
    respond_sdp(c->nh, 200, "OK", sdp);
    c->st = ST_ANSWERED;
    c->final_code = 200;
    emit_kind(c, FX_SIP_EV_ANSWERED);
}

/* The ACK to our 200. After a late offer it carries the answer to ours: the call's
 * media is agreed only now, exactly as when an outgoing call is answered. After a
 * re-INVITE without an offer (ours went in the 200) the media may have moved. */
static void on_ack(struct fx_sip *s, struct fx_sip_call *c, const sip_t *sip)
{
    int what = c->await_ack;
    c->await_ack = ACK_NONE;
    c->acked = true;
    const char *body;
    size_t len;
    struct fx_sdp ans;
    struct fx_sip_media m, old = c->media;
    if (what == ACK_CALL) {
        answered(s, c, sip);
    } else if (what == ACK_REINVITE && payload(sip, &body, &len) &&
               !fx_sdp_parse(body, len, &ans) &&
               (old.kind == FX_SIP_T38 ? fx_sdp_pick_t38(&ans, &m, NULL)
                                       : fx_sdp_pick_audio(&ans, s->trunks[c->trunk].laws,
                                                           s->trunks[c->trunk].n_laws, &m,
                                                           NULL)) &&
               (m.kind != old.kind || m.port != old.port || strcmp(m.ip, old.ip))) {
        /* The far end re-INVITEd without an offer and moved in its answer. */
        c->media = m;
        fx_info("sip media changed by the peer's ACK to=%s kind=%d", c->to, (int)m.kind);
        emit_kind(c, FX_SIP_EV_MEDIA);
    }
}

/* A re-INVITE on an answered call: T.38 switch, codec change or a session refresh. */
static void i_reinvite(struct fx_sip_call *c, nua_handle_t *nh, const sip_t *sip)
{
    const char *body;
    size_t len;
    struct fx_sdp offer;
    char sdp[1024];
    if (!payload(sip, &body, &len)) { /* no offer: we offer the current media again */
        bool t38 = c->media.kind == FX_SIP_T38;
        if (!offer_sdp(c, t38, sdp, sizeof sdp)) {
            respond_sdp(nh, 200, "OK", sdp);
            c->await_ack = ACK_REINVITE; /* the answer comes in the ACK (on_ack) */
        }
        return;
    }
    if (fx_sdp_parse(body, len, &offer)) {
        nua_respond(nh, 400, "Malformed SDP", TAG_END());
        return;
    }
    struct fx_sip_media m, old = c->media;
    int pick = choose(c, &offer, &m);
    if (pick < 0) {
        nua_respond(nh, 488, "Not Acceptable Here", TAG_END());
        return;
    }
    c->media = m;
    if (answer_sdp(c, &offer, pick, sdp, sizeof sdp)) {
        c->media = old;
        nua_respond(nh, 488, "Not Acceptable Here", TAG_END());
        return;
    }
    respond_sdp(nh, 200, "OK", sdp);
    if (m.kind != old.kind || m.port != old.port || strcmp(m.ip, old.ip)) {
        fx_info("sip media changed by the peer to=%s kind=%d", c->to, (int)m.kind);
        emit_kind(c, FX_SIP_EV_MEDIA);
    }
}

static void run_t38(struct fx_sip_call *c)
{
    if (c->st != ST_ANSWERED || c->reinvite || c->media.kind == FX_SIP_T38) return;
    if (c->incoming && !c->acked) {
        /* No re-INVITE while the caller's INVITE is not complete (RFC 3261 14.1); nua
         * would send it, and a 491 then would end the whole call. Asked again at the
         * next tick; if the ACK never comes nua ends the call. */
        if (!c->ack_waited) fx_info("sip t38 waits for the ACK to=%s", c->to);
        c->ack_waited = true;
        c->t38_retry_at = now_ms() + 100;
        return;
    }
    char sdp[1024];
    if (offer_sdp(c, true, sdp, sizeof sdp)) return;
    c->reinvite = true;
    fx_info("sip asking for t38 to=%s", c->to);
    nua_invite(c->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
               TAG_END());
}

static void run_hangup(struct fx_sip_call *c)
{
    switch (c->st) {
    case ST_NEW: /* not dialled yet */
        c->final_code = 487;
        c->cancelled = true;
        call_done(c);
        break;
    case ST_CALLING:
        if (c->incoming) {
            nua_respond(c->nh, 480, "Temporarily Unavailable", TAG_END());
            c->final_code = 480;
        } else {
            c->cancelled = true;
            nua_cancel(c->nh, TAG_END());
        }
        c->st = ST_ENDING;
        break;
    case ST_ANSWERED:
        c->st = ST_ENDING;
        nua_bye(c->nh, TAG_END());
        break;
    default:
        break;
    }
}

/* ---- registrations ---- */

/* A trunk whose registration failed is not dialled (fx_sip_trunk_ready): nua gives up
 * after a failure, so faxd tries again this much later, until it succeeds. */
#define REG_RETRY_MS 30000

static void reg_send(struct trunk *t)
{
    const struct fx_conf_trunk *cf = t->cf;
    char registrar[300], expires[24];
    snprintf(registrar, sizeof registrar, "sip:%s:%lld%s", cf->host, (long long)cf->port,
             strcmp(cf->transport, "tcp") ? "" : ";transport=tcp");
    snprintf(expires, sizeof expires, "%lld", (long long)cf->register_expires);
    t->reg_auth_tried = false;
    /* nua refreshes the registration by itself before it expires. */
    nua_register(t->reg, NUTAG_REGISTRAR(registrar), SIPTAG_EXPIRES_STR(expires), TAG_END());
}

static void reg_start(struct fx_sip *s, int i)
{
    struct trunk *t = &s->trunks[i];
    const struct fx_conf_trunk *cf = t->cf;
    char aor[300];
    const char *user = cf->username[0] ? cf->username : cf->from_user[0] ? cf->from_user : "faxd";
    snprintf(aor, sizeof aor, "<sip:%s@%s>", user, cf->host);
    t->reg_magic.kind = H_REG;
    t->reg = nua_handle(s->nua, &t->reg_magic, SIPTAG_TO_STR(aor), SIPTAG_FROM_STR(aor), TAG_END());
    if (t->reg) reg_send(t);
}

static int reg_trunk(struct fx_sip *s, nua_handle_t *nh)
{
    for (int i = 0; i < s->n_trunks; i++)
        if (s->trunks[i].reg == nh) return i;
    return -1;
}

static void r_register(struct fx_sip *s, nua_handle_t *nh, int status, const char *phrase,
                       const sip_t *sip, bool unregister)
{
    int i = reg_trunk(s, nh);
    if (i < 0 || status < 200) return;
    struct trunk *t = &s->trunks[i];
    if ((status == 401 || status == 407) && !t->reg_auth_tried && authenticate(nh, t->cf, sip)) {
        t->reg_auth_tried = true;
        return;
    }
    bool ok = status < 300;
    if (ok) t->reg_auth_tried = false; /* a refresh may be challenged again */
    if (unregister || s->shutting_down) return;
    if (!ok) t->reg_retry_at = now_ms() + REG_RETRY_MS;
    pthread_mutex_lock(&s->mu);
    fx_strlcpy(t->reg_state, ok ? "yes" : "no", sizeof t->reg_state);
    if (!ok)
        snprintf(t->last_error, sizeof t->last_error, "registration failed (%d %s)", status,
                 phrase ? phrase : "");
    else if (!strncmp(t->last_error, "registration failed", 19))
        t->last_error[0] = 0; /* that error is over */
    s->state_dirty = true;
    pthread_mutex_unlock(&s->mu);
    if (ok) fx_info("sip registered trunk=%s", t->cf->name);
    else fx_warn("sip registration failed trunk=%s status=%d %s (retry in %ds)", t->cf->name,
                 status, phrase, REG_RETRY_MS / 1000);
}

/* ---- the event callback ---- */

static void callstate(struct fx_sip_call *c, tagi_t tags[])
{
    int state = nua_callstate_init;
    tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
    if (state == nua_callstate_terminated) call_done(c);
}

static void on_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
                     struct fx_sip *s, nua_handle_t *nh, struct hmagic *hm, sip_t const *sip,
                     tagi_t tags[])
{
    (void)nua;
    struct fx_sip_call *c = hm && hm->kind == H_CALL ? (struct fx_sip_call *)hm : NULL;
    switch (event) {
    case nua_i_invite:
        if (c) i_reinvite(c, nh, sip);
        else if (!hm && s->shutting_down) reject(nh, 503, "Service Unavailable");
        else if (!hm) i_invite_new(s, nh, sip);
        break;
    case nua_r_invite:
        if (c) r_invite(s, c, status, phrase, sip);
        break;
    case nua_i_ack:
        if (c) on_ack(s, c, sip);
        break;
    case nua_i_options: {
        /* A dispatcher's probe: 503 while this node takes no calls, so it stops sending
         * them here; inside a dialog the call is alive and the answer is always 200. */
        int code = hm ? 0 : s->shutting_down ? 503 : s->incoming(NULL, NULL, s->arg);
        nua_respond(nh, code ? code : 200, code ? "Service Unavailable" : "OK",
                    NUTAG_WITH_THIS(s->nua), SIPTAG_ALLOW_STR(ALLOW_METHODS),
                    SIPTAG_SUPPORTED_STR("timer"), TAG_END());
        if (!hm) nua_handle_destroy(nh);
        break;
    }
    case nua_i_bye:
        if (c) c->remote_bye = true;
        if (c) c->q850 = q850_of(sip);
        break;
    case nua_i_cancel:
        if (c) snprintf(c->reason, sizeof c->reason, "the caller cancelled");
        break;
    case nua_i_state:
        if (c) callstate(c, tags);
        break;
    case nua_r_register:
    case nua_r_unregister:
        r_register(s, nh, status, phrase, sip, event == nua_r_unregister);
        break;
    case nua_r_shutdown:
        if (status >= 200) su_root_break(s->root);
        break;
    case nua_i_error:
        fx_warn("sip stack error status=%d %s", status, phrase ? phrase : "");
        break;
    default:
        /* Requests we do not handle (MESSAGE, INFO…): nua answers them itself, and a
         * handle nobody owns is released. */
        if (!hm && nh && event < nua_r_set_params) nua_handle_destroy(nh);
        break;
    }
}

/* ---- commands, ticks, the state file ---- */

static void run_cmds(struct fx_sip *s)
{
    pthread_mutex_lock(&s->mu);
    struct cmd *k = s->cmds;
    s->cmds = NULL;
    s->cmds_tail = &s->cmds;
    pthread_mutex_unlock(&s->mu);
    for (struct cmd *next; k; k = next) {
        next = k->next;
        struct fx_sip_call *c = k->call;
        if (k->op == CMD_DIAL) {
            c->next = s->calls;
            s->calls = c;
            if (s->shutting_down) run_hangup(c);
            else run_dial(s, c);
        } else if (c->st != ST_DONE) {
            if (k->op == CMD_ANSWER) run_answer(c, k->port);
            else if (k->op == CMD_REJECT) run_reject(c, k->port);
            else if (k->op == CMD_T38) run_t38(c);
            else run_hangup(c);
        }
        call_unref(c);
        free(k);
    }
}

static int on_wake(struct fx_sip *s, su_wait_t *w, void *arg)
{
    (void)w;
    (void)arg;
    uint64_t n;
    if (read(s->efd, &n, sizeof n) < 0) { /* EAGAIN: nothing pending */
    }
    run_cmds(s);
    return 0;
}

static void write_state(struct fx_sip *s)
{
    char tmp[4300], text[8192];
    size_t used = 0;
    pthread_mutex_lock(&s->mu);
    bool dirty = s->state_dirty;
    s->state_dirty = false;
    for (int i = 0; dirty && i < s->n_trunks && used < sizeof text; i++) {
        struct trunk *t = &s->trunks[i];
        int n = snprintf(text + used, sizeof text - used, "%s\t%s\t%d/%lld\t%s\n", t->cf->name,
                         t->reg_state, t->in_use, (long long)t->cf->channels,
                         t->last_error[0] ? t->last_error : "-");
        if (n > 0) used += (size_t)n;
    }
    pthread_mutex_unlock(&s->mu);
    if (!dirty) return;
    if (used > sizeof text) used = sizeof text;
    snprintf(tmp, sizeof tmp, "%s.tmp", s->state_path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    bool ok = fwrite(text, 1, used, f) == used;
    ok = fclose(f) == 0 && ok;
    if (ok) rename(tmp, s->state_path);
    else unlink(tmp);
}

static void on_tick(struct fx_sip *s, su_timer_t *t, struct fx_sip *arg)
{
    (void)t;
    (void)arg;
    int64_t now = now_ms();
    for (struct fx_sip_call *c = s->calls, *next; c; c = next) {
        next = c->next;
        if (c->t38_retry_at && now >= c->t38_retry_at) {
            c->t38_retry_at = 0;
            run_t38(c); /* nothing to do if the far end's switch came meanwhile */
        }
        if (c->st == ST_CALLING && now >= c->ring_deadline) {
            fx_info("sip ring timeout to=%s", c->to);
            if (c->incoming) snprintf(c->reason, sizeof c->reason, "not answered by faxd");
            else snprintf(c->reason, sizeof c->reason, "no answer within %llds",
                          (long long)s->conf->sip_ring_timeout);
            run_hangup(c);
        }
    }
    for (int i = 0; i < s->n_trunks && !s->shutting_down; i++) {
        struct trunk *tr = &s->trunks[i];
        if (tr->reg && tr->reg_retry_at && now >= tr->reg_retry_at) {
            tr->reg_retry_at = 0;
            fx_info("sip registering again trunk=%s", tr->cf->name);
            reg_send(tr);
        }
    }
    write_state(s);
    if (s->shutting_down && now > s->shutdown_deadline) su_root_break(s->root);
}

static void begin_shutdown(struct fx_sip *s)
{
    if (s->shutting_down) return;
    s->shutting_down = true;
    s->shutdown_deadline = now_ms() + 5000;
    for (struct fx_sip_call *c = s->calls, *next; c; c = next) {
        next = c->next;
        run_hangup(c);
    }
    nua_shutdown(s->nua); /* unregisters, ends dialogs; nua_r_shutdown breaks the loop */
}

static int on_stop_check(struct fx_sip *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* sofia's own log lines become faxd debug lines. */
static void sofia_log(void *stream, char const *fmt, va_list ap)
{
    (void)stream;
    if (!fx_log_enabled(FX_LOG_DEBUG)) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    fx_debug("sofia %s", line);
}

static void set_start(struct fx_sip *s, int result)
{
    pthread_mutex_lock(&s->mu);
    s->start_result = result;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static int wake_cb(struct fx_sip *s, su_wait_t *w, void *arg)
{
    on_wake(s, w, arg);
    if (on_stop_check(s)) begin_shutdown(s);
    return 0;
}

static bool ua_create(struct fx_sip *s)
{
    const struct fx_conf *cf = s->conf;
    char url[128];
    snprintf(url, sizeof url, "sip:%s:%lld", cf->sip_address, (long long)cf->sip_port);
    s->nua = nua_create(
        s->root, on_event, s, NUTAG_URL(url), NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOANSWER(0),
        NUTAG_AUTOALERT(0), NUTAG_ENABLEINVITE(1), NUTAG_APPL_METHOD("OPTIONS"),
        SIPTAG_ALLOW_STR(ALLOW_METHODS), SIPTAG_SUPPORTED_STR("timer"),
        SIPTAG_USER_AGENT_STR(cf->sip_user_agent),
        TAG_IF(cf->sip_session_expires > 0,
               NUTAG_SESSION_TIMER((unsigned)cf->sip_session_expires)),
        TAG_END());
    if (!s->nua) return false;
    /* nua_create's defaults are appended to, not replaced: set them again. */
    nua_set_params(s->nua, SIPTAG_ALLOW_STR(ALLOW_METHODS),
                   SIPTAG_SUPPORTED_STR("timer"), TAG_END());
    return true;
}

static void *sip_main(void *arg)
{
    struct fx_sip *s = arg;
    su_init();
    su_log_redirect(NULL, sofia_log, NULL);
    su_home_init(s->home);
    s->root = su_root_create(s);
    bool ok = s->root && su_root_threading(s->root, 0) == 0 && ua_create(s);
    if (ok) {
        ok = su_wait_create(s->wait, s->efd, SU_WAIT_IN) == 0 &&
             su_root_register(s->root, s->wait, wake_cb, NULL, 0) >= 0;
        s->tick = ok ? su_timer_create(su_root_task(s->root), 100) : NULL;
        ok = s->tick && su_timer_run(s->tick, on_tick, s) == 0;
        ok = ok && fx_sip_auth_new(s->conf, s->root, &s->auth) == FX_OK;
    }
    if (!ok) {
        fx_error("sip cannot start the user agent on %s:%lld (port in use?)",
                 s->conf->sip_address, (long long)s->conf->sip_port);
        if (s->nua) {
            nua_shutdown(s->nua);
            su_root_step(s->root, 200);
            nua_destroy(s->nua);
        }
        if (s->root) su_root_destroy(s->root);
        su_home_deinit(s->home);
        su_deinit();
        set_start(s, FX_ERR_IO);
        return NULL;
    }
    for (int i = 0; i < s->n_trunks; i++)
        if (!strcmp(s->trunks[i].cf->registration, "on")) reg_start(s, i);
    mark_dirty(s);
    write_state(s);
    fx_info("sip started address=%s port=%lld trunks=%d", s->conf->sip_address,
            (long long)s->conf->sip_port, s->n_trunks);
    set_start(s, FX_OK);
    su_root_run(s->root);
    /* Calls that never saw their end (the peer did not answer our BYE/CANCEL in time). */
    while (s->calls) {
        if (!s->calls->final_code) s->calls->final_code = 200;
        call_done(s->calls);
    }
    for (int i = 0; i < s->n_trunks; i++)
        if (s->trunks[i].reg) nua_handle_destroy(s->trunks[i].reg);
    run_cmds(s); /* drop references still queued */
    su_timer_destroy(s->tick);
    nua_destroy(s->nua);
    fx_sip_auth_free(s->auth);
    su_root_unregister(s->root, s->wait, wake_cb, NULL);
    su_wait_destroy(s->wait);
    su_root_destroy(s->root);
    su_home_deinit(s->home);
    su_deinit();
    return NULL;
}

/* ---- start, stop ---- */

static void parse_nets(struct trunk *t)
{
    char buf[512];
    const char *src = t->cf->inbound[0] ? t->cf->inbound : t->host_ip;
    fx_strlcpy(buf, src, sizeof buf);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && t->n_nets < 16;
         tok = strtok_r(NULL, ",", &save)) {
        int bits = 32;
        char *slash = strchr(tok, '/');
        if (slash) *slash = 0, bits = atoi(slash + 1);
        struct in_addr a;
        if (inet_pton(AF_INET, tok, &a) != 1) continue;
        uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
        t->nets[t->n_nets++] = (struct net){ntohl(a.s_addr) & mask, mask};
    }
}

static enum fx_err trunk_init(struct trunk *t, const struct fx_conf_trunk *cf)
{
    t->cf = cf;
    t->t38 = !strcmp(cf->t38, "only") ? FX_SIP_T38_ONLY
             : !strcmp(cf->t38, "off") ? FX_SIP_T38_OFF : FX_SIP_T38_PREFER;
    const char *p = cf->codecs;
    while (*p && t->n_laws < 2) {
        t->laws[t->n_laws++] = !strncmp(p, "pcmu", 4) ? FX_SIP_PCMU : FX_SIP_PCMA;
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    fx_strlcpy(t->reg_state, strcmp(cf->registration, "on") ? "off" : "no", sizeof t->reg_state);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(cf->host, NULL, &hints, &res) == 0 && res) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, t->host_ip,
                  sizeof t->host_ip);
        freeaddrinfo(res);
    } else {
        fx_warn("sip trunk=%s host %s does not resolve", cf->name, cf->host);
    }
    parse_nets(t);
    return FX_OK;
}

static void sip_free(struct fx_sip *s)
{
    if (s->efd >= 0) close(s->efd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s->trunks);
    free(s);
}

enum fx_err fx_sip_start(const struct fx_conf *conf, const char *state_path,
                         fx_sip_incoming_cb incoming, void *arg, struct fx_sip **out)
{
    struct fx_sip *s = calloc(1, sizeof *s);
    if (!s) return FX_ERR_NOMEM;
    s->conf = conf;
    s->incoming = incoming;
    s->arg = arg;
    s->cmds_tail = &s->cmds;
    s->start_result = -1;
    fx_strlcpy(s->state_path, state_path, sizeof s->state_path);
    fx_strlcpy(s->sdp_ip, conf->sip_public_address[0] ? conf->sip_public_address
                                                      : conf->sip_address, sizeof s->sdp_ip);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->trunks = calloc((size_t)(conf->n_trunks ? conf->n_trunks : 1), sizeof *s->trunks);
    s->n_trunks = conf->n_trunks;
    if (s->efd < 0 || !s->trunks) {
        sip_free(s);
        return FX_ERR_NOMEM;
    }
    for (int i = 0; i < s->n_trunks; i++)
        trunk_init(&s->trunks[i], &conf->trunks[i]);
    if (pthread_create(&s->thread, NULL, sip_main, s) != 0) {
        sip_free(s);
        return FX_ERR_INTERNAL;
    }
    pthread_mutex_lock(&s->mu);
    while (s->start_result < 0)
        pthread_cond_wait(&s->cond, &s->mu);
    enum fx_err e = (enum fx_err)s->start_result;
    pthread_mutex_unlock(&s->mu);
    if (e) {
        pthread_join(s->thread, NULL);
        sip_free(s);
        return e;
    }
    *out = s;
    return FX_OK;
}

void fx_sip_stop(struct fx_sip *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    uint64_t one = 1;
    if (write(s->efd, &one, sizeof one) < 0) { /* cannot fail on a fresh eventfd */
    }
    pthread_join(s->thread, NULL);
    unlink(s->state_path);
    sip_free(s);
}

/* ---- calls, from any thread ---- */

enum fx_err fx_sip_dial(struct fx_sip *s, const struct fx_sip_dial *d, struct fx_sip_call **out)
{
    if (d->trunk < 0 || d->trunk >= s->n_trunks) return FX_ERR_INVALID;
    struct fx_sip_call *c = calloc(1, sizeof *c);
    if (!c) return FX_ERR_NOMEM;
    c->hm.kind = H_CALL;
    c->s = s;
    c->refs = 2; /* the owner and the SIP side */
    c->trunk = d->trunk;
    c->cb = d->cb;
    c->arg = d->arg;
    c->local_port = d->local_port;
    c->t38_first = d->t38_first;
    c->sdp_id = (uint64_t)fx_clock_now();
    fx_strlcpy(c->to, d->to, sizeof c->to);
    fx_strlcpy(c->from, d->from ? d->from : "", sizeof c->from);
    pthread_mutex_lock(&s->mu);
    struct trunk *t = &s->trunks[d->trunk];
    bool full = t->in_use >= t->cf->channels || s->stop;
    if (!full) t->in_use++, c->counted = true, s->state_dirty = true;
    pthread_mutex_unlock(&s->mu);
    if (full) {
        free(c);
        return FX_ERR_UNAVAILABLE;
    }
    push_cmd(s, CMD_DIAL, c, 0);
    *out = c;
    return FX_OK;
}

void fx_sip_call_bind(struct fx_sip_call *c, fx_sip_call_cb cb, void *arg)
{
    pthread_mutex_lock(&c->s->mu);
    c->cb = cb;
    c->arg = arg;
    c->refs++;
    pthread_mutex_unlock(&c->s->mu);
}

void fx_sip_call_answer(struct fx_sip_call *c, int local_port)
{
    push_cmd(c->s, CMD_ANSWER, c, local_port);
}

void fx_sip_call_reject(struct fx_sip_call *c, int code)
{
    push_cmd(c->s, CMD_REJECT, c, code);
}

bool fx_sip_trunk_ready(struct fx_sip *s, int trunk, char *why, size_t len)
{
    if (trunk < 0 || trunk >= s->n_trunks) return false;
    struct trunk *t = &s->trunks[trunk];
    pthread_mutex_lock(&s->mu);
    bool ready = strcmp(t->reg_state, "no") != 0; /* "off" (no registration) or "yes" */
    if (!ready)
        snprintf(why, len, "trunk %s is not registered%s%s", t->cf->name,
                 t->last_error[0] ? ": " : "", t->last_error);
    pthread_mutex_unlock(&s->mu);
    return ready;
}

void fx_sip_call_t38(struct fx_sip_call *c)
{
    push_cmd(c->s, CMD_T38, c, 0);
}

void fx_sip_call_hangup(struct fx_sip_call *c)
{
    if (c) push_cmd(c->s, CMD_HANGUP, c, 0);
}

void fx_sip_call_release(struct fx_sip_call *c)
{
    if (!c) return;
    /* The owner goes away: the callback must not be called any more. Hanging up is
     * queued before the reference is dropped, so the command keeps the call alive. */
    fx_sip_call_hangup(c);
    pthread_mutex_lock(&c->s->mu);
    c->cb = NULL;
    pthread_mutex_unlock(&c->s->mu);
    call_unref(c);
}

enum fx_err fx_sip_state_read(const char *state_path, char *buf, size_t len)
{
    FILE *f = fopen(state_path, "r");
    if (!f) return FX_ERR_NOT_FOUND;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
    return FX_OK;
}
