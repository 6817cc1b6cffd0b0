/* media: the media plane of SIP calls — RTP (G.711) and UDPTL (T.38) legs, each running one
 * fax session (fax/), ticked every 20 ms by a small fixed pool of worker threads.
 *
 * A leg owns one local UDP port pair from the configured range (RTP on the even port, the
 * odd one reserved for RTCP, which is read and ignored). The same even port carries UDPTL
 * after a switch to T.38, so a re-INVITE answer keeps the port of the audio stream.
 *
 * Threads: fx_media_new starts cfg->threads workers; each owns a list of legs and ticks all
 * of them from one absolute-deadline clock (clock_nanosleep, TIMER_ABSTIME), so a late tick
 * catches up instead of drifting and a page-boundary spike of one leg (5–20 ms inside
 * spandsp) only delays the legs after it on the same worker, once. New legs go to the
 * worker with the fewest legs. Sockets are non-blocking and drained on each tick.
 * Every fx_media_* function below may be called from any thread (the SIP thread) except
 * from inside an event callback, which runs on a worker: the callback must only hand the
 * event over (eventfd, queue) and return.
 *
 * Ownership: strings in the structs below are borrowed for the duration of the call that
 * takes them (fx_media_new copies bind_ip; fx_media_leg_start copies the fax config, which
 * fx_fax_new copies in turn). A leg belongs to its caller until fx_media_leg_free; every
 * leg must be freed before fx_media_free. */
#ifndef FX_MEDIA_H
#define FX_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "fax/fax.h"

struct fx_media_cfg {
    const char *bind_ip;    /* local address to bind, "127.0.0.1" / "0.0.0.0"; NULL = 0.0.0.0 */
    int port_min, port_max; /* inclusive range for RTP/UDPTL ports (RTP even, RTCP odd) */
    int threads;            /* worker threads (≥ 1) */
    int jitter_ms;          /* RTP playout delay: 20..200, rounded to whole 20 ms frames;
                             * 0 = 60 */
    int t38_redundancy;     /* UDPTL secondary IFPs per packet we send: 0..8 (0 = none) */
    int rt_priority;        /* SCHED_RR priority of the workers, 1..99; 0 = normal
                             * scheduling. Where the system refuses it (no CAP_SYS_NICE),
                             * the workers run at normal priority (fx_media_realtime). */
    /* Testing only (0 in production): tick period in microseconds instead of 20,000, to run
     * calls faster than real time; and datagrams we send dropped / held back one tick
     * (reordered), in parts per thousand, from a seeded generator. */
    int tick_us;
    int test_drop_permille;
    int test_reorder_permille;
    unsigned test_seed;
};

struct fx_media;
struct fx_media_leg;

enum fx_media_kind { FX_MEDIA_PCMU, FX_MEDIA_PCMA, FX_MEDIA_T38 };

/* T38FaxUdpEC as negotiated. FEC is not implemented: with FX_MEDIA_EC_FEC we send the
 * redundancy form and read only the primary IFP of FEC packets. */
enum fx_media_t38_ec { FX_MEDIA_EC_NONE, FX_MEDIA_EC_REDUNDANCY, FX_MEDIA_EC_FEC };

/* Where and how to send, from the peer's SDP (and the answer we gave). */
struct fx_media_peer {
    char ip[64]; /* IPv4 or IPv6 literal (c= line) */
    int port;    /* m= port */
    enum fx_media_kind kind;
    int payload_type; /* RTP payload type we send and accept (0 PCMU, 8 PCMA); others
                       * (telephone-event, CN) are dropped. Ignored for T.38. */
    /* T.38 (a=T38…); zeros mean the SDP did not say. */
    int t38_version;             /* T38FaxVersion 0..3 */
    int t38_max_bitrate;         /* T38MaxBitRate, bit/s; 0 = 14400 */
    int t38_max_datagram;        /* T38FaxMaxDatagram: largest UDPTL payload the peer accepts;
                                  * bounds the IFP size and how many secondaries fit; 0 = 400 */
    bool t38_transferred_tcf;    /* T38FaxRateManagement: transferredTCF (true) or localTCF */
    enum fx_media_t38_ec t38_ec; /* T38FaxUdpEC */
};

enum fx_media_event {
    /* An audio leg heard the far end's fax signal: CED or V.21 preamble flags, or CNG when
     * we answered. Once per audio session: time to re-INVITE to T.38 in `prefer` mode. */
    FX_MEDIA_EV_FAX_TONE,
    /* The session confirmed (sending) or completed (receiving) another page:
     * fx_media_leg_pages has the count, so the owner can keep its progress durable. */
    FX_MEDIA_EV_PAGE,
    /* The fax session ended (phase E: success, failure, watchdog or hang-up):
     * fx_media_leg_result now returns true. Once per leg. */
    FX_MEDIA_EV_DONE,
};

/* Called on a media worker thread: only hand the event over, never call into media. */
typedef void (*fx_media_event_cb)(struct fx_media_leg *leg, enum fx_media_event ev, void *arg);

/* Starts the workers. *out is new: free with fx_media_free. FX_ERR_INVALID for a bad config,
 * FX_ERR_IO when bind_ip is not an address, FX_ERR_INTERNAL when a thread cannot start. */
enum fx_err fx_media_new(const struct fx_media_cfg *cfg, struct fx_media **out);
/* Stops the workers. All legs must have been freed. */
void fx_media_free(struct fx_media *m);
/* Whether the workers run under the real-time scheduling cfg->rt_priority asked for. */
bool fx_media_realtime(const struct fx_media *m);

/* Binds a free port pair from the range and adds the leg to a worker; it sends nothing and
 * drops what arrives until fx_media_leg_start. FX_ERR_UNAVAILABLE when no pair is free.
 * cb may be NULL. *out is new: free with fx_media_leg_free. */
enum fx_err fx_media_leg_new(struct fx_media *m, fx_media_event_cb cb, void *arg,
                             struct fx_media_leg **out);
/* The local RTP (and UDPTL) port, for our SDP. */
int fx_media_leg_port(const struct fx_media_leg *leg);

/* Starts sending to `peer` and runs a fax session built from `fax` (its mode and T.38 fields
 * are set from peer; everything else is the caller's: role, file, pages, ident, watchdogs).
 * Called again on a re-INVITE, it switches: the running session ends silently (no EV_DONE,
 * its result dropped), RTP/UDPTL state restarts, and a new session starts for `fax` — pass
 * the same document and pages. Before the first page this is the audio→T.38 switch; a
 * receiver's file is written anew by the new session. FX_ERR_INVALID for a bad peer,
 * else what fx_fax_new returns; on error the leg keeps what it was doing. */
enum fx_err fx_media_leg_start(struct fx_media_leg *leg, const struct fx_media_peer *peer,
                               const struct fx_fax_config *fax);
/* The far end hung up: T.30 ends now (49, or 0 after the last MCF); EV_DONE follows from
 * the worker. Sending stops. */
void fx_media_leg_hangup(struct fx_media_leg *leg);
/* Pages the current session confirmed (sending) or completed (receiving) so far. */
int fx_media_leg_pages(struct fx_media_leg *leg);
/* True once the session is done; *out is then its final result. */
bool fx_media_leg_result(struct fx_media_leg *leg, struct fx_fax_result *out);

/* Counters since the leg started its current session (for logs and tests). */
struct fx_media_stats {
    uint64_t tx_packets, rx_packets;
    uint64_t tx_largest;            /* largest datagram sent, octets (≤ T38FaxMaxDatagram) */
    uint64_t rx_malformed;          /* unparseable datagrams or wrong RTP version */
    uint64_t rx_ignored;            /* other payload types, RTCP, before start */
    uint64_t rx_late, rx_duplicate; /* dropped by the jitter buffer / UDPTL sequence */
    uint64_t rx_recovered;          /* IFPs rebuilt from UDPTL redundancy */
    uint64_t rx_lost;               /* audio frames filled in / IFPs never received */
    uint64_t rx_underrun;           /* audio ticks with nothing to play (the peer's packet late) */
    uint64_t rx_catchup;            /* audio ticks that played two frames to shrink a backlog */
};
void fx_media_leg_stats(struct fx_media_leg *leg, struct fx_media_stats *out);

/* The pool's timing since fx_media_new: passes (ticks of a worker over all its legs), how
 * many started more than one tick late, the worst lateness, and the longest pass. */
struct fx_media_pool_stats {
    uint64_t passes, late_passes;
    int64_t max_late_us, max_pass_us;
};
void fx_media_pool_stats(struct fx_media *m, struct fx_media_pool_stats *out);

/* Stops ticking the leg, closes its sockets and frees it (ending a running session as a
 * hang-up, without EV_DONE). Any time, from any thread but a worker. NULL is a no-op. */
void fx_media_leg_free(struct fx_media_leg *leg);

/* ---- wire formats, exposed for tests (fuzzing) and the SIP side's checks ---- */

/* An RTP packet's header fields and payload (pointing into the datagram). */
struct fx_rtp {
    bool marker;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts, ssrc;
    const uint8_t *payload;
    size_t len;
};
/* False when buf is not an RTP v2 packet (too short, bad version, CSRC/extension/padding
 * beyond the datagram). RTCP (pt 72..76 with the marker bit) parses as RTP: callers drop it
 * by payload type. */
bool fx_rtp_parse(const uint8_t *buf, size_t n, struct fx_rtp *out);

#define FX_UDPTL_MAX_SECONDARY 16
/* A UDPTL packet (T.38 Annex, redundancy or FEC form); pointers into the datagram. */
struct fx_udptl {
    uint16_t seq;
    const uint8_t *ifp;
    size_t ifp_len;
    bool fec;        /* FEC form: secondaries not filled */
    int n_secondary; /* redundancy form: secondaries, newest (seq-1) first */
    const uint8_t *sec[FX_UDPTL_MAX_SECONDARY];
    size_t sec_len[FX_UDPTL_MAX_SECONDARY];
};
/* False when buf is not a well-formed UDPTL packet. Secondaries beyond
 * FX_UDPTL_MAX_SECONDARY are checked for form and skipped. */
bool fx_udptl_parse(const uint8_t *buf, size_t n, struct fx_udptl *out);

#endif
