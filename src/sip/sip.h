/* sip: faxd's SIP user agent — the only code that includes sofia-sip.
 *
 * One UA listens on sip.port and serves every configured trunk: outgoing calls
 * (INVITE with faxd's own SDP offer, ring timeout then CANCEL, digest answers to 401
 * and 407, BYE), incoming calls (source check, else a digest challenge (407) for
 * trunks with inbound credentials, else 403; the owner then answers with faxd's SDP
 * — in the 200 when the INVITE carried no offer, the answer coming in the ACK — or
 * refuses, e.g. 404 for a number that is not ours), T.38 re-INVITEs both ways (a 491
 * glare is retried after RFC 3261's random wait), and registrations with refresh. It
 * reports what happened (SIP code, Q.850 cause, the media the peer wants) and decides
 * nothing about faxes: line/ maps outcomes to fax statuses and media/ carries the audio
 * or T.38.
 *
 * Threads: sofia runs single-threaded on one SIP thread started by fx_sip_start; every
 * nua call happens there. Other threads hand work over through a command queue woken
 * by an eventfd registered in the su_root. Call callbacks run on the SIP thread and
 * must only hand the event over (queue it, signal a condition variable). */
#ifndef FX_SIP_H
#define FX_SIP_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "core/core.h"

enum fx_sip_kind { FX_SIP_PCMU, FX_SIP_PCMA, FX_SIP_T38 };
enum fx_sip_t38_mode { FX_SIP_T38_OFF, FX_SIP_T38_PREFER, FX_SIP_T38_ONLY };

/* Where and how to send a call's media, from the peer's SDP. */
struct fx_sip_media {
    char ip[64];
    int port;
    enum fx_sip_kind kind;
    int payload_type;        /* G.711: the RTP payload type */
    int t38_version, t38_max_bitrate, t38_max_datagram; /* T.38 */
    bool t38_transferred_tcf;
    int t38_ec;              /* 0 none, 1 redundancy, 2 FEC */
};

enum fx_sip_ev_kind {
    FX_SIP_EV_RINGING,      /* 180/183 */
    FX_SIP_EV_ANSWERED,     /* 200 OK (outgoing) or our 200 sent (incoming): `media` */
    FX_SIP_EV_MEDIA,        /* a re-INVITE changed the media (e.g. to T.38): `media` */
    FX_SIP_EV_T38_REFUSED,  /* our T.38 re-INVITE was refused (488, or m=image 0) */
    FX_SIP_EV_ENDED,        /* the call is over: code, q850, … final */
};

struct fx_sip_event {
    enum fx_sip_ev_kind kind;
    struct fx_sip_media media;
    int code;         /* ENDED: the final SIP status of the INVITE (200 once answered) */
    int q850;         /* ENDED: Q.850 cause from a Reason header, 0 = none */
    bool local;       /* ENDED: `code` was made locally (no answer from the peer at all) */
    bool cancelled;   /* ENDED: faxd cancelled (ring timeout, hang-up before answer) */
    bool remote_bye;  /* ENDED: the far end sent BYE after answering */
    bool auth_failed; /* ENDED: our credentials were refused */
    char reason[96];  /* ENDED: phrase/explanation for the record */
};

struct fx_sip_call;
/* Runs on the SIP thread: hand the event over, never block or call back into sip. */
typedef void (*fx_sip_call_cb)(const struct fx_sip_event *ev, void *arg);

/* An incoming INVITE that passed the source check. */
struct fx_sip_incoming {
    int trunk;           /* index into conf->trunks */
    const char *to;      /* the called number normalised to E.164 ("" if not a number) */
    const char *from;    /* the caller's number (E.164 if it is one), "" when withheld */
};
/* Runs on the SIP thread and must not block (no store queries: check the number on the
 * owner's thread and refuse with fx_sip_call_reject). Return 0 to take the call — then
 * fx_sip_call_bind it here and answer it later with fx_sip_call_answer — or a SIP
 * status (486, 503…) to refuse it at once.
 * With c and in NULL it answers an OPTIONS probe (a dispatcher asking whether this node
 * takes calls): 0 = yes (200), or the status to answer instead (503 while draining). */
typedef int (*fx_sip_incoming_cb)(struct fx_sip_call *c, const struct fx_sip_incoming *in,
                                  void *arg);

struct fx_sip;

/* Starts the UA and its thread with conf's [sip] and trunks (borrowed: must outlive the
 * UA). state_path: the trunk state file written for operators (see fx_sip_state_line).
 * FX_ERR_IO when the port cannot be bound. *out is new: stop with fx_sip_stop. */
enum fx_err fx_sip_start(const struct fx_conf *conf, const char *state_path,
                         fx_sip_incoming_cb incoming, void *arg, struct fx_sip **out);
/* Ends every call with BYE/CANCEL (their owners see ENDED), unregisters, waits up to a
 * few seconds for the answers, stops the thread and frees the UA. Accepts NULL. The
 * owners of calls must release them before or after; a call's memory lives until both
 * sides are done. */
void fx_sip_stop(struct fx_sip *s);

struct fx_sip_dial {
    int trunk;               /* index into conf->trunks */
    const char *to;          /* E.164 destination */
    const char *from;        /* our number or "" */
    int local_port;          /* our media port, offered in SDP */
    bool t38_first;          /* offer m=image instead of audio (trunk.t38 = only) */
    fx_sip_call_cb cb;
    void *arg;
};
/* Places a call from any thread; events follow on cb. *out is the caller's reference:
 * release it with fx_sip_call_release after ENDED (or to abandon it: it is hung up). */
enum fx_err fx_sip_dial(struct fx_sip *s, const struct fx_sip_dial *d, struct fx_sip_call **out);

/* Sets the callback of an incoming call (on the SIP thread, inside fx_sip_incoming_cb)
 * and gives the caller one reference, released with fx_sip_call_release. */
void fx_sip_call_bind(struct fx_sip_call *c, fx_sip_call_cb cb, void *arg);
/* Answers an incoming call with our SDP (media at local_port); ANSWERED follows with
 * the media chosen, or ENDED when the offer had nothing we can use (488). An INVITE
 * without an offer (late offer) gets ours in the 200 and ANSWERED follows the ACK's
 * answer. Any thread. */
void fx_sip_call_answer(struct fx_sip_call *c, int local_port);
/* Refuses an incoming call not answered yet with a final status (404, 486…); ENDED
 * follows. Any thread. */
void fx_sip_call_reject(struct fx_sip_call *c, int code);
/* Asks the peer to switch to T.38 (re-INVITE); MEDIA or T38_REFUSED follows. */
void fx_sip_call_t38(struct fx_sip_call *c);
/* Ends the call: CANCEL before an answer, BYE after, or a final error to an incoming
 * INVITE not yet answered. ENDED follows. Any thread; repeated calls are harmless. */
void fx_sip_call_hangup(struct fx_sip_call *c);
/* Drops the caller's reference; hangs up first if the call is still up. Accepts NULL. */
void fx_sip_call_release(struct fx_sip_call *c);

/* Whether outgoing calls may use the trunk now: false while a trunk with register = on
 * is not registered (yet, or any longer); why[len] then says so. Any thread. */
bool fx_sip_trunk_ready(struct fx_sip *s, int trunk, char *why, size_t len);

/* The trunk state file: one line per trunk, "name registered channels last_error"
 * (tab-separated; registered is yes/no/off). Reads it into buf (for faxctl). */
enum fx_err fx_sip_state_read(const char *state_path, char *buf, size_t len);

#endif
