/* queue: the converter workers (see queue.h for the design).
 *
 * A worker's loop: run a waiting preview if any; else claim the oldest record waiting
 * for conversion (store lease, renewed by lease.c), convert it, record the outcome; else
 * sleep until kicked or for a second. Every state change is a store transaction, so a
 * kill -9 at any point leaves a record that the next start (leases released), or another
 * node once the lease has run out, converts again. */
#include "queue/queue_priv.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often idle workers look for due work (send_time is honoured within this). */
#define POLL_MS 250

struct preview {
    struct fx_convert_job job;
    struct fx_convert_doc *docs;
    struct fx_cover cover;
    char *strings[16]; /* owned copies behind job/docs/cover */
    int n_strings;
    fx_queue_preview_cb cb;
    void *arg;
    struct preview *next;
};

enum fx_paper fx_queue_paper(const char *s)
{
    return s && strcmp(s, "letter") == 0 ? FX_PAPER_LETTER : FX_PAPER_A4;
}

enum fx_res fx_queue_res(const char *s)
{
    return s && strcmp(s, "normal") == 0 ? FX_RES_NORMAL : FX_RES_FINE;
}

/* ---- converting one outbox record ---- */

struct docs {
    struct fx_store *store;
    struct fx_convert_doc *v;
    char (*paths)[4400];
    char (*names)[256];
    int n, cap;
};

static enum fx_err add_doc(const struct fx_upload *u, void *arg)
{
    struct docs *d = arg;
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        void *v = realloc(d->v, (size_t)cap * sizeof *d->v);
        void *p = realloc(d->paths, (size_t)cap * sizeof *d->paths);
        void *nm = realloc(d->names, (size_t)cap * sizeof *d->names);
        if (v) d->v = v;
        if (p) d->paths = p;
        if (nm) d->names = nm;
        if (!v || !p || !nm) return FX_ERR_NOMEM;
        d->cap = cap;
    }
    enum fx_err e = fx_blob_path(d->store, u->blob, d->paths[d->n], sizeof d->paths[0]);
    if (e) return e;
    fx_strlcpy(d->names[d->n], u->name, sizeof d->names[0]);
    d->n++;
    return FX_OK;
}

struct numbers {
    char text[256];
    int n;
};

static enum fx_err add_number(const struct fx_dest *dest, void *arg)
{
    struct numbers *nb = arg;
    size_t used = strlen(nb->text);
    if (nb->n < 3)
        snprintf(nb->text + used, sizeof nb->text - used, "%s%s", nb->n ? ", " : "",
                 dest->number);
    nb->n++;
    return FX_OK;
}

/* Writes the outcome of a conversion of record o to the store. */
static void record_outcome(struct worker_ctx *w, const struct fx_outbox *o, enum fx_err e,
                           const struct fx_convert_result *res, const char *tiff,
                           const struct docs *d)
{
    struct fx_store *s = w->q->store;
    int64_t now = fx_clock_now();
    if (!e && !res->status) {
        char key[96], sha[65];
        int64_t size = 0;
        e = fx_blob_put_file(s, tiff, ".tiff", key, sha, &size);
        if (!e) fx_crash_point("convert_stored");
        if (!e) e = fx_store_outbox_converted(s, o->id, w->owner, key, res->pages, now);
        if (e == FX_ERR_NOT_FOUND) fx_blob_remove(s, key); /* cancelled meanwhile */
        if (!e)
            fx_info("queue fax converted outbox=%s pages=%d bytes=%lld", o->id, res->pages,
                    (long long)size);
        if (!e || e == FX_ERR_NOT_FOUND) return;
    }
    char desc[512];
    const char *status = res->status ? res->status : "failed_internal_process_error";
    if (res->status && res->failed_doc >= 0 && res->failed_doc < d->n)
        snprintf(desc, sizeof desc, "%s: %s", d->names[res->failed_doc], res->detail);
    else if (res->status)
        snprintf(desc, sizeof desc, "%s", res->detail);
    else
        snprintf(desc, sizeof desc, "faxd could not prepare the fax (%s)", fx_err_code(e));
    int n = 0;
    enum fx_err fe = fx_store_outbox_fail_all(s, o->id, w->owner, status, desc, now, &n);
    if (fe && fe != FX_ERR_NOT_FOUND)
        fx_error("queue failure not recorded outbox=%s error=%s", o->id, fx_err_code(fe));
    else
        fx_info("queue fax failed outbox=%s status=%s destinations=%d why=\"%s\"", o->id, status,
                n, desc);
}

static void convert_record(struct worker_ctx *w, struct fx_outbox *o)
{
    struct fx_queue *q = w->q;
    struct docs d = {.store = q->store};
    struct numbers nb = {"", 0};
    struct fx_convert_result res = {.failed_doc = -1};
    char tiff[4400];
    snprintf(tiff, sizeof tiff, "%s/%s.tiff", q->work_dir, o->id);
    enum fx_err e = fx_store_outbox_uploads(q->store, o->id, add_doc, &d);
    if (!e) e = fx_store_outbox_dests(q->store, o->id, add_number, &nb);
    if (!e && nb.n > 3) {
        size_t used = strlen(nb.text);
        snprintf(nb.text + used, sizeof nb.text - used, " (+%d more)", nb.n - 3);
    }
    for (int i = 0; !e && i < d.n; i++) {
        d.v[i].path = d.paths[i];
        d.v[i].name = d.names[i];
    }
    bool has_cover = o->cover_page && o->cover_page[0];
    char logo[4400];
    bool has_logo = o->logo_blob[0] && !fx_blob_path(q->store, o->logo_blob, logo, sizeof logo);
    struct fx_cover cover = {.name_to = o->cover_to, .name_from = o->cover_from,
                             .subject = o->cover_subject, .message = o->cover_message,
                             .flags = (unsigned)o->cover_flags, .company = o->company,
                             .logo_path = has_logo ? logo : NULL,
                             .from_number = strcmp(o->src, "no_number") ? o->src : "",
                             .to_numbers = nb.text, .date = o->submit_time};
    struct fx_convert_job job = {.docs = d.v, .n_docs = d.n, .cover = has_cover ? &cover : NULL,
                                 .paper = fx_queue_paper(o->paper),
                                 .res = fx_queue_res(o->resolution),
                                 .enhance = o->should_enhance, .out_path = tiff};
    if (!e && d.n == 0) e = FX_ERR_NOT_FOUND; /* its uploads vanished: cannot happen */
    if (!e) e = fx_convert_run(w->conv, &job, &res);
    record_outcome(w, o, e, &res, tiff, &d);
    unlink(tiff);
    free(d.v);
    free(d.paths);
    free(d.names);
}

/* ---- previews ---- */

static char *keep(struct preview *p, const char *s)
{
    if (!s || p->n_strings == (int)(sizeof p->strings / sizeof *p->strings)) return NULL;
    return p->strings[p->n_strings++] = strdup(s);
}

static void preview_free(struct preview *p)
{
    for (int i = 0; i < p->n_strings; i++) free(p->strings[i]);
    for (int i = 0; i < p->job.n_docs; i++) {
        free((char *)p->docs[i].path);
        free((char *)p->docs[i].name);
    }
    free(p->docs);
    free(p);
}

enum fx_err fx_queue_preview(struct fx_queue *q, const struct fx_convert_job *job,
                             fx_queue_preview_cb cb, void *arg)
{
    pthread_mutex_lock(&q->mu);
    bool stopped = q->stop;
    pthread_mutex_unlock(&q->mu);
    if (stopped) {
        struct fx_convert_result res = {.status = "failed_internal_process_error",
                                        .detail = "faxd is stopping", .failed_doc = -1};
        cb(&res, NULL, arg);
        return FX_OK;
    }
    struct preview *p = calloc(1, sizeof *p);
    if (!p) return FX_ERR_NOMEM;
    p->job = *job;
    p->docs = calloc((size_t)(job->n_docs ? job->n_docs : 1), sizeof *p->docs);
    if (!p->docs) {
        free(p);
        return FX_ERR_NOMEM;
    }
    for (int i = 0; i < job->n_docs; i++) {
        p->docs[i].path = strdup(job->docs[i].path);
        p->docs[i].name = strdup(job->docs[i].name ? job->docs[i].name : "");
    }
    p->job.docs = p->docs;
    if (job->cover) {
        const struct fx_cover *c = job->cover;
        p->cover = *c;
        p->cover.name_to = keep(p, c->name_to);
        p->cover.name_from = keep(p, c->name_from);
        p->cover.subject = keep(p, c->subject);
        p->cover.message = keep(p, c->message);
        p->cover.company = keep(p, c->company);
        p->cover.from_number = keep(p, c->from_number);
        p->cover.to_numbers = keep(p, c->to_numbers);
        p->cover.logo_path = keep(p, c->logo_path);
        p->job.cover = &p->cover;
    }
    p->cb = cb;
    p->arg = arg;
    pthread_mutex_lock(&q->mu);
    *q->previews_tail = p;
    q->previews_tail = &p->next;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
    return FX_OK;
}

static void run_preview(struct worker_ctx *w, struct preview *p)
{
    char tiff[4400];
    char id[FX_ID_LEN + 1];
    fx_id_new(id);
    snprintf(tiff, sizeof tiff, "%s/preview-%s.tiff", w->q->work_dir, id);
    p->job.out_path = tiff;
    struct fx_convert_result res = {.failed_doc = -1};
    enum fx_err e = fx_convert_run(w->conv, &p->job, &res);
    if (e && !res.status) {
        res.status = "failed_internal_process_error";
        snprintf(res.detail, sizeof res.detail, "faxd could not convert (%s)", fx_err_code(e));
    }
    p->cb(&res, res.status ? NULL : tiff, p->arg);
    unlink(tiff);
    preview_free(p);
}

/* ---- the worker loop ---- */

bool fx_queue_wait(struct fx_queue *q, struct worker_ctx *w, bool previews_wake)
{
    (void)w;
    pthread_mutex_lock(&q->mu);
    unsigned seen = q->kicks;
    if (!q->stop && !(previews_wake && q->previews)) {
        struct timespec ts;
        fx_deadline_ms(&ts, POLL_MS);
        while (!q->stop && !(previews_wake && q->previews) && q->kicks == seen)
            if (pthread_cond_timedwait(&q->cond, &q->mu, &ts) != 0) break;
    }
    bool stop = q->stop;
    pthread_mutex_unlock(&q->mu);
    return stop;
}

static void *worker_main(void *arg)
{
    struct worker_ctx *w = arg;
    struct fx_queue *q = w->q;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        struct preview *p = q->previews;
        if (p) {
            q->previews = p->next;
            if (!q->previews) q->previews_tail = &q->previews;
        }
        bool stop = q->stop, draining = q->draining;
        pthread_mutex_unlock(&q->mu);
        if (stop) break;
        if (p) {
            run_preview(w, p);
            continue;
        }
        if (draining) {
            if (fx_queue_wait(q, w, true)) break;
            continue;
        }
        struct fx_outbox o;
        int64_t now = fx_clock_now(), lease = fx_queue_lease_len(q);
        enum fx_err e = fx_store_outbox_claim_convert(q->store, w->owner, now, lease, &o);
        if (e == FX_OK) {
            /* Renewed while it converts; if this node dies, another converts it. */
            fx_queue_lease_hold(w, FX_STORE_LEASE_CONVERT, o.id, now + lease);
            fx_crash_point("convert_start");
            fx_queue_count(q, &q->converting, 1);
            convert_record(w, &o);
            fx_queue_count(q, &q->converting, -1);
            fx_queue_lease_drop(w);
            fx_store_outbox_clear(&o);
            fx_queue_kick(q); /* a converted fax may be due: wake the dialers */
            continue;
        }
        if (e != FX_ERR_NOT_FOUND) fx_warn("queue claim failed error=%s", fx_err_code(e));
        if (fx_queue_wait(q, w, true)) break;
    }
    return NULL;
}

void fx_queue_count(struct fx_queue *q, int *counter, int delta)
{
    pthread_mutex_lock(&q->mu);
    *counter += delta;
    pthread_mutex_unlock(&q->mu);
}

void fx_queue_drain(struct fx_queue *q, bool on)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->draining = on;
    q->kicks++;
    pthread_cond_broadcast(&q->cond); /* undrained: look for work now */
    pthread_mutex_unlock(&q->mu);
    fx_lines_drain(q->lines, on);
}

void fx_queue_load(struct fx_queue *q, struct fx_queue_load *out)
{
    *out = (struct fx_queue_load){0};
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    out->draining = q->draining;
    out->converting = q->converting;
    out->dialling = q->dialling;
    pthread_mutex_unlock(&q->mu);
    out->receiving = fx_lines_inbound_calls(q->lines);
}

void fx_queue_kick(struct fx_queue *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->kicks++;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

/* faxd-cover and lo_helper.py live next to the faxd binary (build tree), or in
 * ../lib/faxd (installed), unless convert.libexec_dir names the place. */
static void find_libexec(const struct fx_conf *conf, char *out, size_t len)
{
    if (conf->libexec_dir[0]) {
        fx_strlcpy(out, conf->libexec_dir, len);
        return;
    }
    char exe[3800];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/faxd-cover", exe);
    if (access(probe, X_OK) == 0) {
        fx_strlcpy(out, exe, len);
        return;
    }
    snprintf(out, len, "%s/../lib/faxd", exe);
}

/* The loopback line (and its sandbox numbers), and the SIP trunks when [sip] port is set. */
static enum fx_err start_lines(struct fx_queue *q)
{
    const struct fx_conf *c = q->conf;
    snprintf(q->line_dir, sizeof q->line_dir, "%s/tmp/line", c->data_dir);
    struct fx_lines_cfg lc = {
        .realtime = strcmp(c->line_speed, "realtime") == 0,
        .t38 = strcmp(c->line_transport, "t38") == 0,
        .ecm = strcmp(c->line_ecm, "on") == 0,
        .sandbox_prefix = c->line_sandbox_prefix,
        .work_dir = q->line_dir,
        .no_media_timeout_ms = (int)c->line_no_media * 1000,
        .max_call_ms = (int)c->line_max_call * 1000,
        .call_log = c->line_call_log,
        .conf = c,
        .is_local = fx_queue_is_local,
        .inbound = fx_queue_inbound,
        .rx = fx_queue_rx_event,
        .channel_take = fx_queue_channel_take,
        .channel_keep = fx_queue_channel_keep,
        .arg = q,
    };
    return fx_lines_new(&lc, &q->lines);
}

static void fill_convert_cfg(struct fx_queue *q)
{
    const struct fx_conf *c = q->conf;
    find_libexec(c, q->libexec, sizeof q->libexec);
    snprintf(q->work_dir, sizeof q->work_dir, "%s/tmp/convert", c->data_dir);
    q->ccfg = (struct fx_convert_cfg){
        .work_dir = q->work_dir,
        .libexec_dir = q->libexec,
        .timeout_s = (int)c->convert_timeout,
        .mem_limit = c->convert_mem,
        .lo_mem_limit = c->convert_lo_mem,
        .lo_max_docs = (int)c->convert_lo_docs,
        .max_pages = (int)c->convert_max_pages,
        .max_image_pixels = c->convert_max_pixels,
        .gs = c->prog_gs,
        .mutool = c->prog_mutool,
        .qpdf = c->prog_qpdf,
        .soffice = c->prog_soffice,
        .python = c->prog_python,
    };
}

enum fx_err fx_queue_start(const struct fx_conf *conf, struct fx_store *store,
                           struct fx_queue **out)
{
    struct fx_queue *q = calloc(1, sizeof *q);
    if (!q) return FX_ERR_NOMEM;
    q->conf = conf;
    q->store = store;
    q->previews_tail = &q->previews;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    pthread_mutex_init(&q->lease_mu, NULL);
    pthread_cond_init(&q->lease_cond, NULL);
    fill_convert_cfg(q);
    char why[160];
    fx_rates_parse(conf->billing_rates, &q->rates, why, sizeof why); /* validated by conf */
    q->enforce_credit = strcmp(conf->billing_enforce, "on") == 0;
    enum fx_err e = fx_mkdirs(q->work_dir);
    if (!e) e = fx_store_outbox_release_leases(store);
    if (!e) e = fx_store_dest_release_leases(store);
    if (!e) e = fx_queue_rx_new(q);
    if (!e) e = fx_store_channel_release_leases(store);
    if (!e) e = start_lines(q);
    if (!e) e = fx_lines_recover(q->lines);
    if (!e) e = fx_queue_rx_run(q);
    q->n_converters = (int)conf->convert_workers;
    q->n_workers = q->n_converters + (int)conf->line_channels;
    q->workers = calloc((size_t)q->n_workers, sizeof *q->workers);
    if (!e && !q->workers) e = FX_ERR_NOMEM;
    if (!e) e = fx_queue_keeper_start(q);
    for (int i = 0; !e && i < q->n_workers; i++) {
        struct worker_ctx *w = &q->workers[i];
        bool converter = i < q->n_converters;
        w->q = q;
        fx_store_lease_owner(store, w->owner);
        if (converter) e = fx_convert_new(&q->ccfg, &w->conv);
        if (!e && pthread_create(&w->thread, NULL, converter ? worker_main : fx_queue_dialer_main,
                                 w) != 0)
            e = FX_ERR_INTERNAL;
        w->started = !e;
    }
    if (e) {
        fx_queue_free(q);
        return e;
    }
    fx_info("queue started converters=%d dialers=%lld libexec=%s", q->n_converters,
            (long long)conf->line_channels, q->libexec);
    *out = q;
    return FX_OK;
}

void fx_queue_stop(struct fx_queue *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    bool was = q->stop;
    q->stop = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    if (was) return;
    fx_lines_stop(q->lines); /* calls in progress hang up instead of running to their end */
    for (int i = 0; q->workers && i < q->n_workers; i++) {
        if (q->workers[i].started) pthread_join(q->workers[i].thread, NULL);
        q->workers[i].started = false;
        fx_convert_free(q->workers[i].conv);
        q->workers[i].conv = NULL;
    }
    fx_queue_keeper_stop(q); /* last: the workers' final records need their leases */
    /* Previews nobody ran: tell their waiters. */
    struct fx_convert_result res = {.status = "failed_internal_process_error",
                                    .detail = "faxd is stopping", .failed_doc = -1};
    pthread_mutex_lock(&q->mu);
    struct preview *p = q->previews;
    q->previews = NULL;
    q->previews_tail = &q->previews;
    pthread_mutex_unlock(&q->mu);
    for (struct preview *next; p; p = next) {
        next = p->next;
        p->cb(&res, NULL, p->arg);
        preview_free(p);
    }
}

void fx_queue_free(struct fx_queue *q)
{
    if (!q) return;
    fx_queue_stop(q);
    fx_lines_free(q->lines);
    fx_queue_rx_free(q); /* after the lines: their last calls still tell it they ended */
    free(q->workers);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->lease_cond);
    pthread_mutex_destroy(&q->lease_mu);
    free(q);
}
