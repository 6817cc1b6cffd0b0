/* line: what the queue dials through and what delivers inbound faxes.
 *
 * Today one line exists, the built-in loopback: a call to one of faxd's own numbers is
 * answered by a receiving fax session of the same faxd and delivered to the number's
 * owner; a call to a sandbox number (line.sandbox_prefix + 4 digits) meets a simulated
 * far end that produces one outcome on demand, through the real fax engine. Both run two
 * spandsp sessions back to back over in-memory G.711 frames or T.38 packets, either in
 * real time (20 ms per tick, as on a phone line) or accelerated (as fast as the CPU
 * allows); both run exactly the same fax code. Other numbers go out over the SIP trunks
 * (line/sip.c) when [sip] port is set: the first trunk whose prefixes match, failing
 * over to the next on 503 or a timeout; calls to faxd's numbers from a trunk are
 * received the same way and delivered through `inbound`.
 *
 * Threads: fx_lines_call runs a whole call on the calling thread (a dialer worker);
 * loopback inbound deliveries are made on that thread too, SIP ones on a thread per
 * incoming call (is_local is then called on that thread, never on the SIP thread).
 * struct fx_lines is read-only after creation, so any number of dialer threads share it. */
#ifndef FX_LINE_H
#define FX_LINE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "core/core.h"
#include "fax/fax.h"

/* How a call ended before (or instead of) a fax result deciding. */
enum fx_call_end {
    FX_CALL_ANSWERED = 0, /* answered and T.30 ran: the fax result decides */
    FX_CALL_BUSY,         /* 486/600, Q.850 17 */
    FX_CALL_NO_ANSWER,    /* 408/480/487 after our CANCEL, Q.850 18/19 */
    FX_CALL_UNALLOCATED,  /* 404/604, Q.850 1 */
    FX_CALL_BAD_NUMBER,   /* 484 */
    FX_CALL_REFUSED,      /* 403/603: destination not allowed */
    FX_CALL_CONGESTION,   /* 503, no channel: the call could not be placed */
    FX_CALL_TEMPORARY,    /* 500/502/504, Q.850 38/41/42 */
    FX_CALL_CLEARED,      /* the far end cleared before T.30 began */
    FX_CALL_NO_ROUTE,     /* no line reaches the number */
    FX_CALL_FAILED,       /* any other SIP final response */
    FX_CALL__COUNT
};
/* "busy", "no_answer", … for logs and the attempts table. */
const char *fx_call_end_name(enum fx_call_end e);

struct fx_call_result {
    enum fx_call_end end;
    int sip_code;             /* the SIP answer that ended setup, or 0 */
    bool fax_ran;             /* T.30 ran: `fax` holds its result */
    struct fx_fax_result fax;
    char transport[8];        /* audio | t38 */
    char line[32];            /* loopback | sandbox | a trunk's name */
    char detail[128];         /* what happened, for the record's description */
    bool no_channel;          /* nothing was dialled: every trunk serving the number had
                               * all its channels in use (on all nodes together) */
};

struct fx_dial {
    const char *to;          /* E.164 destination */
    const char *from;        /* our number, or "" */
    const char *tiff_path;   /* the fax document (TIFF/F) */
    int start_page;          /* first page to send (0-based; > 0 resumes a partial send) */
    int total_pages;         /* pages of the whole document, for the header's "of M" */
    const char *ident;       /* our TSI (at most 20 characters) */
    const char *header;      /* page header text, or NULL */
    const char *log_tag;     /* e.g. "attempt=…" */
    /* Called on the calling thread each time the far end confirms another page, with
     * the pages confirmed in this call so far, so the caller can keep its progress
     * durable while the call goes on; NULL = not wanted. */
    void (*progress)(int pages_confirmed, void *arg);
    void *progress_arg;
    /* Asked on the calling thread while the call is set up and runs (every tick or
     * signalling step): false = the caller no longer owns this attempt (its claim in the
     * store was lost), so the call is hung up at once and no other trunk is tried;
     * NULL = always owned. */
    bool (*keep)(void *arg);
    void *keep_arg;
};

/* An incoming fax the line received for one of faxd's numbers. */
struct fx_inbound {
    const char *id;               /* the id the fax record takes: chosen by the line when
                                   * the call begins, so a fax recovered after a crash can
                                   * never be stored twice */
    const char *to, *from;        /* numbers ("" when the caller sent none) */
    const char *tiff_path;        /* the complete pages received (may be none) */
    const struct fx_fax_result *fax;
    const char *transport, *line;
    int64_t started;              /* unix seconds */
    bool recovered;               /* the pages of a call cut short, delivered after the
                                   * fact: the fax may already be stored under this id */
};
typedef void (*fx_line_inbound_cb)(const struct fx_inbound *in, void *arg);
/* An inbound call's progress, so that its complete pages can be kept elsewhere while it
 * runs: BEGIN when it is answered (in->tiff_path does not exist yet), PAGE each time
 * more pages are complete in in->tiff_path (`pages`: how many so far; the file keeps
 * growing), END once it is over — after its delivery through `inbound`, if any, and
 * before in->tiff_path is removed. Called on the thread that owns the call (an inbound
 * SIP call's thread; the dialer running a loopback call, between two ticks), so it must
 * only hand the work over; END may wait for work on this call to finish. */
enum fx_line_rx { FX_LINE_RX_BEGIN, FX_LINE_RX_PAGE, FX_LINE_RX_END };
typedef void (*fx_line_rx_cb)(const struct fx_inbound *in, enum fx_line_rx what, int pages,
                              void *arg);
/* Whether `number` is one of faxd's numbers (then the loopback line answers it). */
typedef bool (*fx_line_local_cb)(const char *number, void *arg);
/* Trunk channels counted across every node sharing the store, called on the call's own
 * thread (a dialer, an inbound call's thread), never on the SIP thread. take: one of
 * `limit` channels of trunk for a call for lease_s seconds, named in claim (limit 0:
 * count an inbound call, never refuse it); false when all are in use on the nodes
 * together. keep: the call is still up, renew the lease for lease_s more seconds, or
 * (lease_s 0) over: free the channel. */
typedef bool (*fx_line_channel_take_cb)(const char *trunk, int limit, int lease_s,
                                        char claim[FX_ID_LEN + 1], void *arg);
typedef void (*fx_line_channel_keep_cb)(const char *claim, int lease_s, void *arg);

struct fx_lines_cfg {
    bool realtime;              /* pace the loopback line at 20 ms per tick */
    bool t38;                   /* loopback transport: T.38 instead of G.711 A-law */
    bool ecm;
    const char *sandbox_prefix; /* "" = no sandbox numbers */
    const char *work_dir;       /* where received pages are written */
    int no_media_timeout_ms;
    int max_call_ms;
    const char *call_log;       /* a file every call placed is appended to (one line,
                                 * written before the call rings); NULL/"" = none */
    const struct fx_conf *conf; /* [sip] and the trunks (borrowed); NULL = no SIP line */
    fx_line_local_cb is_local;
    fx_line_inbound_cb inbound;
    fx_line_rx_cb rx;           /* NULL = not wanted */
    fx_line_channel_take_cb channel_take; /* NULL (both): each node counts its own calls */
    fx_line_channel_keep_cb channel_keep;
    void *arg;                  /* for the callbacks */
};

struct fx_lines;
/* cfg's strings are copied. *out is new: free with fx_lines_free. */
enum fx_err fx_lines_new(const struct fx_lines_cfg *cfg, struct fx_lines **out);
void fx_lines_free(struct fx_lines *l);

/* faxd is stopping: calls in progress hang up now (their attempts end as dropped calls
 * and follow the retry policy) and new calls are refused. Thread-safe. */
void fx_lines_stop(struct fx_lines *l);
/* True once fx_lines_stop was called. */
bool fx_lines_stopping(const struct fx_lines *l);
/* Draining (on = true): inbound calls are refused with SIP 503, so a dispatcher in front
 * tries another node, while calls in progress run to their end; on = false takes calls
 * again. Outbound calls are the queue's to stop placing. Thread-safe. */
void fx_lines_drain(struct fx_lines *l, bool on);
bool fx_lines_draining(const struct fx_lines *l);
/* Inbound calls in progress (their threads still running). Thread-safe. */
int fx_lines_inbound_calls(const struct fx_lines *l);

/* Delivers (through cfg.inbound, on this thread) the complete pages of inbound calls
 * that a crash of faxd interrupted, as partially received faxes, and removes what those
 * calls left in work_dir. Call once at start, before any call is placed. */
enum fx_err fx_lines_recover(struct fx_lines *l);
/* Places a call and runs it to its end on this thread. FX_OK with *out filled whatever
 * the outcome; an fx_err only when faxd itself failed (file, memory). */
enum fx_err fx_lines_call(struct fx_lines *l, const struct fx_dial *d, struct fx_call_result *out);

/* The SIP outcome table: a failed call's SIP final response (with its Q.850 cause, 0 =
 * none) as a call end. local: the response was made by faxd's own stack (nothing came
 * back from the trunk); cancelled: faxd cancelled (ring timeout). */
enum fx_call_end fx_line_sip_outcome(int code, int q850, bool local, bool cancelled);

/* The sandbox: the 4-digit suffix after line.sandbox_prefix and what it produces. */
struct fx_sandbox_row {
    const char *suffix;
    const char *outcome; /* for people: the README's table */
    const char *status;  /* the fax status it ends with (first attempt) */
};
extern const struct fx_sandbox_row fx_sandbox_rows[];

#endif
