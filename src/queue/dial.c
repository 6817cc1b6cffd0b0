/* queue: the dialer workers — they send converted faxes and store received ones.
 *
 * A dialer claims one due destination (store lease, renewed by lease.c while the call
 * is up; the attempt is counted at claim, so a crash mid-call — or a node's death, after
 * which another node takes the destination over once the lease has run out — still
 * counts against the retry policy), places the call through
 * the lines, maps the outcome to a fax status (the tables below, from STATUS.md), and
 * either schedules the next attempt (resuming a partial send after its confirmed pages)
 * or writes the destination's final record — each in one transaction. Inbound faxes
 * that a line delivers become records in their number owner's inbox. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_priv.h"

/* ---- outcome → status (STATUS.md) ---- */

static const struct {
    enum fx_call_end end;
    const char *status;
    bool retry;
} call_map[] = {
    {FX_CALL_BUSY, "failed_user_busy", true},
    {FX_CALL_NO_ANSWER, "failed_no_answer", true},
    {FX_CALL_UNALLOCATED, "failed_unallocated_number", false},
    {FX_CALL_BAD_NUMBER, "failed_invalid_number_format", false},
    {FX_CALL_REFUSED, "failed_destination_not_supported", false},
    {FX_CALL_CONGESTION, "failed_to_send", true},
    {FX_CALL_TEMPORARY, "failed_normal_temporary_failure", true},
    {FX_CALL_CLEARED, "failed_normal_clearing", true},
    {FX_CALL_NO_ROUTE, "failed_to_send", true},
    {FX_CALL_FAILED, "failed", true},
};

/* T.30 phase E codes with a status of their own; every other failure is "failed". */
static const struct {
    int code;
    const char *status;
} t30_map[] = {
    {2, "failed_fs_2"},   /* no fax signal within T0: a voice line, silence */
    {49, "failed_fs_49"}, /* the call dropped during the fax exchange */
};

struct outcome {
    const char *status;
    bool retry;
    int pages;      /* pages confirmed over all attempts */
    char why[256];  /* the record's description */
    double multiplier; /* cost per page of this destination (billing.rates) */
    int attempts;      /* attempts made, for the final record */
};

static void decide(const struct fx_send_job *j, const struct fx_call_result *r,
                   struct outcome *o)
{
    memset(o, 0, sizeof *o);
    o->pages = j->pages_done;
    if (r->end != FX_CALL_ANSWERED || !r->fax_ran) {
        o->status = "failed_to_send";
        o->retry = true;
        for (size_t i = 0; i < sizeof call_map / sizeof *call_map; i++)
            if (call_map[i].end == r->end) {
                o->status = call_map[i].status;
                o->retry = call_map[i].retry;
            }
        snprintf(o->why, sizeof o->why, "%s%s%s", fx_status_text(o->status),
                 r->detail[0] ? ": " : "", r->detail);
        return;
    }
    const struct fx_fax_result *f = &r->fax;
    o->pages = j->pages_done + f->pages_confirmed;
    /* Every page confirmed by the far end (MCF) is delivered, even if the call then
     * ended badly (a hang-up right after the last MCF). */
    if (o->pages >= j->page_count) {
        o->status = "success";
        o->pages = j->page_count;
        snprintf(o->why, sizeof o->why, "OK");
        return;
    }
    o->retry = true;
    o->status = o->pages > 0 ? "partially_sent" : "failed";
    for (size_t i = 0; o->pages == 0 && i < sizeof t30_map / sizeof *t30_map; i++)
        if (t30_map[i].code == f->t30_code) o->status = t30_map[i].status;
    snprintf(o->why, sizeof o->why, "%s (T.30 %d: %s%s)", fx_status_text(o->status),
             f->t30_code, f->t30_text, f->watchdog ? "; ended by faxd's watchdog" : "");
}

/* ---- one attempt ---- */

static void fill_attempt(const struct fx_send_job *j, const struct fx_call_result *r,
                         const struct outcome *o, int64_t started, struct fx_attempt *a)
{
    memset(a, 0, sizeof *a);
    fx_strlcpy(a->fax_id, j->dest.fax_id, sizeof a->fax_id);
    fx_strlcpy(a->direction, "outgoing", sizeof a->direction);
    fx_strlcpy(a->number, j->dest.number, sizeof a->number);
    fx_strlcpy(a->line, r->line, sizeof a->line);
    a->started = started;
    a->ended = fx_clock_now();
    fx_strlcpy(a->status, o->status, sizeof a->status);
    fx_strlcpy(a->call_end, fx_call_end_name(r->end), sizeof a->call_end);
    a->sip_code = r->sip_code;
    a->t30_code = r->fax_ran ? r->fax.t30_code : -1;
    fx_strlcpy(a->t30_text, r->fax_ran ? r->fax.t30_text : "", sizeof a->t30_text);
    a->pages = r->fax_ran ? r->fax.pages_confirmed : 0;
    a->bit_rate = r->fax_ran ? r->fax.bit_rate : 0;
    a->ecm = r->fax_ran && r->fax.ecm;
    fx_strlcpy(a->transport, r->fax_ran ? r->transport : "", sizeof a->transport);
    fx_strlcpy(a->remote_ident, r->fax_ran ? r->fax.remote_ident : "", sizeof a->remote_ident);
}

/* The destination's final record: the outbox's fields, this outcome, its own link to
 * the document so it can be downloaded (and deleted) on its own. */
static enum fx_err finish(struct fx_queue *q, const struct worker_ctx *w,
                          const struct fx_send_job *j, const struct fx_outbox *ob,
                          const struct fx_attempt *a, const struct outcome *o,
                          const struct fx_call_result *r)
{
    /* Cost in pages: confirmed pages times the destination's multiplier, rounded up. */
    int64_t cost = (int64_t)ceil(o->pages * o->multiplier - 1e-9);
    struct fx_fax f = {.pages = o->pages, .cost = cost, .cost_multiplier = o->multiplier};
    fx_strlcpy(f.id, j->dest.fax_id, sizeof f.id);
    fx_strlcpy(f.owner_id, j->uid, sizeof f.owner_id);
    fx_strlcpy(f.direction, "outgoing", sizeof f.direction);
    fx_strlcpy(f.category, "sent", sizeof f.category);
    fx_strlcpy(f.status, o->status, sizeof f.status);
    fx_strlcpy(f.description, o->why, sizeof f.description);
    fx_strlcpy(f.from, j->src, sizeof f.from);
    fx_strlcpy(f.to, j->dest.raw, sizeof f.to);
    snprintf(f.file_name, sizeof f.file_name, "fax-to-%s", j->dest.number);
    f.comment = ob->comment_text;
    f.cover_page = ob->cover_page;
    f.duration = r->fax_ran ? (int)(r->fax.duration_ms / 1000) : 0;
    f.last_update = fx_clock_now();
    f.start_time = f.sort_time = j->first_start;
    f.submit_time = ob->submit_time;
    f.scheduled_time = ob->send_time;
    f.max_retry = j->retry_count;
    f.retry_delay = j->retry_delay;
    fx_strlcpy(f.outbox_id, j->outbox_id, sizeof f.outbox_id);
    f.attempts = o->attempts;
    fx_strlcpy(f.remote_ident, a->remote_ident, sizeof f.remote_ident);
    f.bit_rate = a->bit_rate;
    f.ecm = a->ecm;
    fx_strlcpy(f.transport, a->transport, sizeof f.transport);
    if (j->doc_blob[0] && !fx_blob_link(q->store, j->doc_blob, ".tiff", f.blob))
        snprintf(f.file, sizeof f.file, "%s.tiff", f.id);
    enum fx_err e = fx_store_dest_finish(q->store, j, w->owner, a, &f);
    if (e && f.blob[0]) fx_blob_remove(q->store, f.blob);
    if (!e)
        fx_info("queue fax final fax=%s status=%s pages=%d attempts=%d", f.id, f.status,
                f.pages, f.attempts);
    return e;
}

/* Page header text: "<company or sender> <from number>", ASCII only (spandsp's font). */
static void header_text(const struct fx_outbox *ob, const char *from, char *out, size_t len)
{
    char raw[160];
    snprintf(raw, sizeof raw, "%s%s%s", ob->company ? ob->company : "",
             ob->company && ob->company[0] ? "  " : "", from);
    size_t n = 0;
    for (const char *p = raw; *p && n + 1 < len && n < 50; p++)
        if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) out[n++] = *p;
    out[n] = 0;
}

static enum fx_err record_attempt(struct fx_queue *q, struct worker_ctx *w,
                                  const struct fx_send_job *j, const struct fx_outbox *ob,
                                  const struct fx_attempt *a, const struct outcome *oc,
                                  const struct fx_call_result *r);

/* billing.enforce: the pages still to send, times the destination's multiplier, must be
 * covered by the account's credit when the call is about to be placed. */
static bool credit_covers(struct fx_queue *q, const struct fx_send_job *j, char *why,
                          size_t why_len)
{
    struct fx_account a;
    if (fx_store_account_get(q->store, j->uid, &a)) return true; /* the store will say */
    bool ok = true;
    /* A corporate member's monthly page quota (member-details), always enforced. */
    if (a.quota > 0 && !strcmp(a.account_type, "corporate_member")) {
        time_t now = (time_t)fx_clock_now();
        struct tm tm;
        gmtime_r(&now, &tm);
        tm.tm_mday = 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        int64_t used = 0;
        fx_store_pages_sent(q->store, a.uid, (int64_t)timegm(&tm), &used);
        if (used + (j->page_count - j->pages_done) > a.quota) {
            ok = false;
            snprintf(why, why_len, "the member's monthly quota is %lld pages; %lld used",
                     (long long)a.quota, (long long)used);
        }
    }
    if (ok && q->enforce_credit) {
        double mult;
        fx_rates_find(&q->rates, j->dest.number, &mult);
        int64_t need = (int64_t)ceil((j->page_count - j->pages_done) * mult - 1e-9);
        ok = a.credit >= need;
        if (!ok)
            snprintf(why, why_len, "the fax needs %lld pages of credit; the balance is %lld",
                     (long long)need, (long long)a.credit);
    }
    fx_store_account_clear(&a);
    return ok;
}

struct progress_ctx {
    struct fx_queue *q;
    struct worker_ctx *w;
    const struct fx_send_job *j;
};

/* A page was confirmed: make it durable now, so a crash later in the call resumes after
 * it instead of sending it again. */
static void page_confirmed(int pages, void *arg)
{
    struct progress_ctx *c = arg;
    enum fx_err e = fx_store_dest_progress(c->q->store, c->j, c->w->owner, c->j->pages_done + pages);
    if (e)
        fx_warn("queue progress not recorded fax=%s pages=%d error=%s", c->j->dest.fax_id,
                c->j->pages_done + pages, fx_err_code(e));
    fx_crash_point("page_confirmed");
}

/* No trunk had a free channel (on any node): nothing was dialled, so the destination
 * goes back uncounted, due again shortly. */
#define NO_CHANNEL_WAIT_S 5

/* Asked by the line while the call is up: a claim this node can no longer vouch for
 * (lost, or not renewed and about to run out) ends the call, since another node may be
 * about to send the same fax. */
static bool claim_kept(void *arg)
{
    struct progress_ctx *c = arg;
    return fx_queue_lease_valid(c->w);
}

/* One attempt at job j; true when it was not dialled for want of a channel. */
static bool attempt_once(struct fx_queue *q, struct worker_ctx *w, const struct fx_send_job *j)
{
    struct fx_outbox ob;
    if (fx_store_outbox_get(q->store, j->outbox_id, &ob)) return false; /* cancelled meanwhile */
    char tiff[4400], tag[64], header[64];
    const char *from = strcmp(j->src, "no_number") && strcmp(j->src, "NO_NUMBER") ? j->src : "";
    char ident[24];
    fx_strlcpy(ident, from, sizeof ident);
    char *comma = strchr(ident, ',');
    if (comma) *comma = 0; /* several numbers: the first identifies us */
    header_text(&ob, ident, header, sizeof header);
    snprintf(tag, sizeof tag, "fax=%s attempt=%d", j->dest.fax_id, j->attempt);
    struct fx_call_result r = {0};
    struct outcome o;
    struct fx_attempt a;
    int64_t started = fx_clock_now();
    enum fx_err e = fx_blob_path(q->store, j->doc_blob, tiff, sizeof tiff);
    bool no_credit = !e && !credit_covers(q, j, r.detail, sizeof r.detail);
    bool undialled = false; /* this claim only writes what an interrupted attempt left */
    bool interrupted = !e && j->attempt > j->retry_count + 1;
    if (!e && !fx_queue_lease_valid(w)) {
        /* The claim ran out before the call (the store was out of reach): another node
         * may hold the destination now, so it is neither dialled nor recorded here. */
        fx_warn("queue lease lost before dialling %s", tag);
        fx_store_outbox_clear(&ob);
        return false;
    }
    if (!e && j->page_count > 0 && j->pages_done >= j->page_count) {
        /* faxd stopped after the far end confirmed the last page but before the record
         * was written: the fax is delivered, dialling again would send it twice. */
        r.end = FX_CALL_ANSWERED;
        r.fax_ran = true;
        undialled = true;
        fx_strlcpy(r.line, "none", sizeof r.line);
        snprintf(r.detail, sizeof r.detail, "every page was confirmed before faxd stopped");
    } else if (no_credit) {
        r.end = FX_CALL_REFUSED; /* not dialled; the status is set below */
    } else if (interrupted) {
        /* An attempt that a crash interrupted used up the last try. */
        r.end = FX_CALL_TEMPORARY;
        undialled = true;
        snprintf(r.detail, sizeof r.detail, "the last attempt was interrupted");
    } else if (!e) {
        struct progress_ctx pc = {q, w, j};
        struct fx_dial d = {.to = j->dest.number, .from = ident, .tiff_path = tiff,
                            .start_page = j->pages_done, .total_pages = j->page_count,
                            .ident = ident, .header = header, .log_tag = tag,
                            .progress = page_confirmed, .progress_arg = &pc,
                            .keep = claim_kept, .keep_arg = &pc};
        fx_info("queue dialling %s to=%s start_page=%d", tag, d.to, d.start_page);
        fx_crash_point("dial_start");
        e = fx_lines_call(q->lines, &d, &r);
        fx_crash_point("call_end");
        if (!e && r.no_channel) {
            e = fx_store_dest_unclaim(q->store, j, w->owner, fx_clock_now() + NO_CHANNEL_WAIT_S);
            fx_info("queue no free channel %s due again in %d s%s", tag, NO_CHANNEL_WAIT_S,
                    e ? " (lease lost)" : "");
            fx_store_outbox_clear(&ob);
            return true;
        }
        if (!fx_queue_lease_valid(w))
            fx_warn("queue lease lost during the call %s: hung up; the attempt is recorded "
                    "only if no other worker took the destination", tag);
    }
    if (e) {
        r.end = FX_CALL_CONGESTION;
        snprintf(r.detail, sizeof r.detail, "faxd could not place the call (%s)",
                 fx_err_code(e));
    }
    decide(j, &r, &o);
    if (no_credit) {
        o.status = "insufficient_credit";
        o.retry = false;
        o.pages = j->pages_done;
        snprintf(o.why, sizeof o.why, "%s: %s", fx_status_text(o.status), r.detail);
    }
    fx_rates_find(&q->rates, j->dest.number, &o.multiplier);
    /* The claim counted an attempt that no call follows: the record counts the calls
     * made (the interrupted one included), whichever node made them. */
    o.attempts = j->attempt - (undialled ? 1 : 0);
    if (interrupted && o.retry) {
        /* Pages confirmed before the crash are delivered: say so. */
        o.status = j->pages_done > 0 ? "partially_sent" : "failed_internal_process_error";
        snprintf(o.why, sizeof o.why, "%s: faxd stopped during the last attempt%s",
                 fx_status_text(o.status), j->pages_done > 0 ? " after confirmed pages" : "");
    }
    fill_attempt(j, &r, &o, started, &a);
    fx_info("queue attempt ended %s status=%s call=%s t30=%d pages=%d", tag, o.status,
            a.call_end, a.t30_code, o.pages);
    /* The call happened: its outcome must be written, or the lease would expire and the
     * destination be dialled again. A busy store is waited out. */
    for (int tries = 0; tries < 120; tries++) {
        e = record_attempt(q, w, j, &ob, &a, &o, &r);
        if (e != FX_ERR_UNAVAILABLE && e != FX_ERR_DB) break;
        fx_warn("queue attempt store busy %s try=%d", tag, tries + 1);
        sleep(1);
    }
    if (e) fx_warn("queue attempt not recorded %s error=%s", tag, fx_err_code(e));
    fx_store_outbox_clear(&ob);
    return false;
}

static enum fx_err record_attempt(struct fx_queue *q, struct worker_ctx *w,
                                  const struct fx_send_job *j, const struct fx_outbox *ob,
                                  const struct fx_attempt *a, const struct outcome *oc,
                                  const struct fx_call_result *r)
{
    enum fx_err e;
    const struct outcome o = *oc;
    if (fx_lines_stopping(q->lines) && strcmp(o.status, "success") != 0) {
        /* faxd hung up to stop: keep the progress, do not charge the attempt, and let
         * the next start dial again at once. */
        e = fx_store_dest_retry(q->store, j, w->owner, a, o.pages, 0, true);
    } else if (o.retry && j->attempt < j->retry_count + 1) {
        int64_t next = fx_clock_now() + (int64_t)j->retry_delay * 60;
        e = fx_store_dest_retry(q->store, j, w->owner, a, o.pages, next, false);
    } else {
        e = finish(q, w, j, ob, a, &o, r);
    }
    return e;
}

/* ---- inbound ---- */

/* Writes the record (its attempt, webhooks, and the removal of the call's in-progress
 * row), waiting out a busy store: the pages are confirmed to the sender already. */
static enum fx_err record_inbound(struct fx_queue *q, const struct fx_attempt *a,
                                  const struct fx_fax *f)
{
    enum fx_err e = FX_ERR_UNAVAILABLE;
    for (int tries = 0; tries < 120; tries++) {
        if (tries) sleep(1);
        e = fx_store_fax_received(q->store, a, f);
        if (e != FX_ERR_UNAVAILABLE && e != FX_ERR_DB) break;
        fx_warn("queue inbound fax store busy to=%s try=%d error=%s", f->to, tries + 1,
                fx_err_code(e));
    }
    return e;
}

/* Stores an inbound fax in its number owner's inbox. FX_OK once it is settled: stored,
 * found stored already (a recovered fax), or nothing to store (no page, no such number);
 * an error when the store failed. */
static enum fx_err inbound_store(struct fx_queue *q, const struct fx_inbound *in)
{
    const struct fx_fax_result *fr = in->fax;
    if (fr->pages_confirmed <= 0) {
        fx_info("queue inbound call without pages to=%s from=%s t30=%d", in->to, in->from,
                fr->t30_code);
        return FX_OK;
    }
    struct fx_number n;
    enum fx_err e = fx_store_number_get(q->store, in->to, &n);
    if (e) {
        fx_warn("queue inbound fax for an unknown number to=%s error=%s", in->to,
                fx_err_code(e));
        return e == FX_ERR_NOT_FOUND ? FX_OK : e;
    }
    /* Spam: a blocked caller, or no caller id when the owner refuses anonymous faxes.
     * Spam is kept (nothing a sender delivered is dropped) but listed apart, not
     * charged, and raises no fax_received webhook. */
    struct fx_account owner;
    bool spam = fx_store_block_has(q->store, n.owner_id, in->from);
    if (!spam && !in->from[0] && !fx_store_account_get(q->store, n.owner_id, &owner)) {
        spam = owner.refuse_anonymous;
        fx_store_account_clear(&owner);
    }
    struct fx_fax f = {.pages = fr->pages_confirmed, .cost_multiplier = 1, .is_spam = spam,
                       .cost = spam ? 0 : fr->pages_confirmed};
    /* billing.enforce: a fax the owner's credit does not cover is kept (the sender was
     * told it arrived) but marked insufficient_credit and not charged. */
    bool unpaid = false;
    if (q->enforce_credit && !spam && !fx_store_account_get(q->store, n.owner_id, &owner)) {
        unpaid = owner.credit < f.cost;
        fx_store_account_clear(&owner);
    }
    if (unpaid) f.cost = 0;
    struct fx_attempt a = {.started = in->started, .ended = fx_clock_now(),
                           .t30_code = fr->t30_code, .pages = fr->pages_confirmed,
                           .bit_rate = fr->bit_rate, .ecm = fr->ecm};
    if (in->id && in->id[0]) fx_strlcpy(f.id, in->id, sizeof f.id);
    else fx_id_new(f.id);
    fx_strlcpy(f.owner_id, n.owner_id, sizeof f.owner_id);
    fx_store_number_clear(&n);
    fx_strlcpy(f.direction, "incoming", sizeof f.direction);
    fx_strlcpy(f.category, spam ? "spam" : "inbox", sizeof f.category);
    fx_strlcpy(f.status, unpaid ? "insufficient_credit"
                         : fr->t30_code == 0 ? "success" : "partially_received",
               sizeof f.status);
    snprintf(f.description, sizeof f.description, "%s", fr->t30_code == 0 ? "OK" : fr->t30_text);
    fx_strlcpy(f.from, in->from, sizeof f.from);
    fx_strlcpy(f.to, in->to, sizeof f.to);
    snprintf(f.file_name, sizeof f.file_name, "fax-from-%s", in->from[0] ? in->from : "unknown");
    f.duration = (int)(fr->duration_ms / 1000);
    f.last_update = fx_clock_now();
    f.start_time = f.sort_time = in->started;
    f.attempts = 1;
    fx_strlcpy(f.remote_ident, fr->remote_ident, sizeof f.remote_ident);
    f.bit_rate = fr->bit_rate;
    f.ecm = fr->ecm;
    fx_strlcpy(f.transport, in->transport, sizeof f.transport);
    char sha[65];
    int64_t size;
    e = fx_blob_put_file(q->store, in->tiff_path, ".tiff", f.blob, sha, &size);
    snprintf(f.file, sizeof f.file, "%s.tiff", f.id);
    fx_strlcpy(a.fax_id, f.id, sizeof a.fax_id);
    fx_strlcpy(a.direction, "incoming", sizeof a.direction);
    fx_strlcpy(a.number, in->from, sizeof a.number);
    fx_strlcpy(a.line, in->line, sizeof a.line);
    fx_strlcpy(a.status, f.status, sizeof a.status);
    fx_strlcpy(a.call_end, "answered", sizeof a.call_end);
    fx_strlcpy(a.t30_text, fr->t30_text, sizeof a.t30_text);
    fx_strlcpy(a.transport, in->transport, sizeof a.transport);
    fx_strlcpy(a.remote_ident, fr->remote_ident, sizeof a.remote_ident);
    /* The pages are confirmed to the sender already: never drop them. If the store
     * still fails the blob is kept (named in the log) so an operator can recover the fax. */
    if (!e) e = record_inbound(q, &a, &f);
    if (e == FX_ERR_CONFLICT && !in->recovered) {
        /* This node's lease on the call lapsed and another node stored the first pages
         * under the call's id: keep the whole fax as well, under an id of its own. */
        fx_warn("queue inbound fax taken over meanwhile fax=%s: stored again", f.id);
        fx_id_new(f.id);
        snprintf(f.file, sizeof f.file, "%s.tiff", f.id);
        fx_strlcpy(a.fax_id, f.id, sizeof a.fax_id);
        e = record_inbound(q, &a, &f);
    }
    if (e == FX_ERR_CONFLICT) {
        /* Recovered after a crash that came after the record was written: stored once. */
        fx_info("queue inbound fax already stored fax=%s", f.id);
        fx_blob_remove(q->store, f.blob);
        return FX_OK;
    }
    if (e) {
        fx_error("queue inbound fax not recorded to=%s blob=%s error=%s", in->to, f.blob,
                 fx_err_code(e));
        return e;
    }
    fx_info("queue fax received fax=%s to=%s pages=%d status=%s", f.id, f.to, f.pages, f.status);
    return FX_OK;
}

void fx_queue_inbound(const struct fx_inbound *in, void *arg)
{
    struct fx_queue *q = arg;
    /* A call's own pages stop going to the store: its whole fax is stored now. */
    if (!in->recovered) fx_queue_rx_settle(q, in->id);
    enum fx_err e = inbound_store(q, in);
    if (e && !in->recovered) fx_queue_rx_keep(q, in->id); /* its stored pages are taken over */
    /* A recovered call's row goes once its fax is settled (when the record's own
     * transaction did not remove it: stored before, nothing to store). */
    if (!e && in->recovered) fx_store_rx_end(q->store, in->id);
}

bool fx_queue_is_local(const char *number, void *arg)
{
    struct fx_queue *q = arg;
    struct fx_number n;
    if (fx_store_number_get(q->store, number, &n)) return false;
    fx_store_number_clear(&n);
    return true;
}

/* ---- trunk channels across nodes (line.h) ---- */

bool fx_queue_channel_take(const char *trunk, int limit, int lease_s,
                           char claim[FX_ID_LEN + 1], void *arg)
{
    struct fx_queue *q = arg;
    int64_t now = fx_clock_now();
    enum fx_err e = fx_store_channel_take(q->store, trunk, limit, now, now + lease_s, claim);
    if (e == FX_ERR_UNAVAILABLE)
        fx_info("queue trunk full on all nodes trunk=%s channels=%d", trunk, limit);
    else if (e)
        fx_warn("queue channel not taken trunk=%s error=%s", trunk, fx_err_code(e));
    return !e;
}

void fx_queue_channel_keep(const char *claim, int lease_s, void *arg)
{
    struct fx_queue *q = arg;
    enum fx_err e = lease_s ? fx_store_channel_renew(q->store, claim, fx_clock_now() + lease_s)
                            : fx_store_channel_give(q->store, claim);
    if (e) fx_warn("queue channel %s failed claim=%s error=%s", lease_s ? "renewal" : "release",
                   claim, fx_err_code(e));
}

/* ---- the dialer loop ---- */

void *fx_queue_dialer_main(void *arg)
{
    struct worker_ctx *w = arg;
    struct fx_queue *q = w->q;
    /* Claim first, sleep only when nothing is due: a busy dialer goes straight from one
     * call to the next. */
    for (;;) {
        pthread_mutex_lock(&q->mu);
        bool stop = q->stop, draining = q->draining;
        pthread_mutex_unlock(&q->mu);
        if (stop) break;
        if (draining) { /* claim nothing: other nodes (or this one, undrained) dial it */
            if (fx_queue_wait(q, w, false)) break;
            continue;
        }
        struct fx_send_job j;
        int64_t now = fx_clock_now(), lease = fx_queue_lease_len(q);
        enum fx_err e = fx_store_dest_claim(q->store, w->owner, now, lease, &j);
        if (e == FX_OK) {
            w->busy = true;
            fx_queue_lease_hold(w, FX_STORE_LEASE_DIAL, j.dest.fax_id, now + lease);
            fx_queue_count(q, &q->dialling, 1);
            bool no_channel = attempt_once(q, w, &j);
            fx_queue_count(q, &q->dialling, -1);
            fx_queue_lease_drop(w);
            /* Every channel is busy: wait for a tick rather than claim the next one. */
            if (no_channel && fx_queue_wait(q, w, false)) break;
            continue;
        }
        w->busy = false;
        if (e != FX_ERR_NOT_FOUND) fx_warn("queue dest claim failed error=%s", fx_err_code(e));
        if (fx_queue_wait(q, w, false)) break;
    }
    return NULL;
}
