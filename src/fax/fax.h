/* fax: one T.30 fax session through spandsp — the only code that includes spandsp.
 *
 * A session sends or receives one fax document over G.711 audio (A-law or µ-law, 8 kHz)
 * or T.38 (IFP packets). It knows nothing of its transport: the caller feeds it what
 * arrived and takes what to send, once per 20 ms tick (160 samples), on the caller's
 * own clock — real time on a phone line, as fast as the CPU allows on the loopback line
 * or in tests (two sessions back to back on sample time).
 *
 * Threads: a session is used by one thread at a time (a media worker); sessions share
 * nothing, so many run in parallel. The T.38 transmit callback is called from inside
 * fx_fax_t38_rx and fx_fax_tick: it must only queue the packet, never call back into a
 * session. */
#ifndef FX_FAX_H
#define FX_FAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define FX_FAX_FRAME 160 /* samples per 20 ms tick at 8 kHz */

enum fx_fax_mode {
    FX_FAX_ALAW, /* G.711 A-law payloads */
    FX_FAX_ULAW, /* G.711 µ-law payloads */
    FX_FAX_T38,  /* T.38 IFP packets */
};

/* Sends one IFP packet (count copies, for UDPTL redundancy the transport may ignore).
 * Called from inside the session: only queue it. */
typedef void (*fx_fax_t38_tx_cb)(const uint8_t *ifp, size_t len, int count, void *arg);

struct fx_fax_config {
    bool calling;               /* true: we placed the call (CNG/T.30 caller role) */
    bool sending;               /* true: transmit tiff_path; false: receive into it */
    enum fx_fax_mode mode;
    const char *tiff_path;      /* TIFF/F to send, or the file a received fax goes to;
                                 * receiving with NULL = a machine not ready to receive */
    int start_page, stop_page;  /* pages to send, 0-based inclusive; -1 = first/last */
    const char *ident;          /* our TSI/CSI, at most 20 characters ("" = none) */
    const char *header_info;    /* page header text (sending), at most 50 ASCII; NULL = none */
    int header_total_pages;     /* the whole document's pages, for "Page n of M"; 0 = omit */
    bool ecm;                   /* error correction mode offered/accepted */
    int no_media_timeout_ms;    /* watchdog: end the session when no media flows this long
                                 * (audio: payloads arriving; T.38: packets either way, as a
                                 * T.38 receiver is silent during a page); 0 = off */
    int max_duration_ms;        /* watchdog: end the session after this long; 0 = off */
    const char *log_tag;        /* prefix for this session's log lines, e.g. "attempt=ab12" */
    /* T.38 only. */
    fx_fax_t38_tx_cb t38_tx;
    void *t38_arg;
    int t38_version;            /* from the SDP, 0..3 */
    int t38_max_datagram;       /* from the SDP; 0 = spandsp's default */
    int t38_max_rate;           /* bit/s from the SDP (T38MaxBitRate); 0 = 14400 */
    int t38_rate_management;    /* T38FaxRateManagement: 1 localTCF, 2 transferredTCF,
                                 * 0 = spandsp's default */
    /* Audio only: listen for the far end's fax signal (fx_fax_tone_heard). */
    bool detect_tones;
};

/* What an audio session heard from the far end (detect_tones). */
enum fx_fax_tone {
    FX_FAX_TONE_NONE,
    FX_FAX_TONE_CNG,      /* calling tone, 1100 Hz: heard when we answer */
    FX_FAX_TONE_CED,      /* answer tone, 2100 Hz: heard when we call */
    FX_FAX_TONE_PREAMBLE, /* V.21 HDLC flags (DIS when we call, DCS when we answer) */
};

/* The outcome, complete once fx_fax_done() is true. */
struct fx_fax_result {
    int t30_code;          /* spandsp's phase E code: 0 = success, 2 = no fax (T0), 49 = call dropped, … */
    char t30_text[128];    /* spandsp's text for the code */
    int pages_confirmed;   /* sending: pages acknowledged by MCF; receiving: complete pages */
    int pages_in_file;     /* pages of the document */
    int bit_rate;          /* last negotiated rate, bit/s */
    bool ecm;              /* ECM was used */
    int x_res, y_res;      /* resolution of the last page, pixels per metre as spandsp reports */
    char remote_ident[24]; /* the far end's TSI/CSI */
    int64_t duration_ms;   /* session time on its own (sample) clock */
    bool watchdog;         /* ended by a faxd watchdog (no media / too long) */
};

struct fx_fax_session;

/* *out is new: free with fx_fax_free. FX_ERR_INVALID for a bad config, FX_ERR_IO when the
 * file cannot be opened (a TIFF to send is validated first: fx_fax_tiff_check). */
enum fx_err fx_fax_new(const struct fx_fax_config *cfg, struct fx_fax_session **out);
void fx_fax_free(struct fx_fax_session *s);

/* Audio: feed the 160-byte G.711 payload that arrived for this tick (NULL = nothing
 * arrived: the session fills the gap), then take the 160 bytes to send. */
void fx_fax_audio_rx(struct fx_fax_session *s, const uint8_t *g711, size_t n);
void fx_fax_audio_tx(struct fx_fax_session *s, uint8_t *g711, size_t n);

/* T.38: feed one received IFP packet (seq = its UDPTL sequence number). */
void fx_fax_t38_rx(struct fx_fax_session *s, const uint8_t *ifp, size_t len, uint16_t seq);

/* Advances the session's clock by `samples` (160 per 20 ms tick): paces T.38 output and
 * runs the watchdogs. Call once per tick in both modes, after rx/tx. */
void fx_fax_tick(struct fx_fax_session *s, int samples);

/* The far end hung up (or the call was lost): ends T.30 now, keeping what completed. */
void fx_fax_hangup(struct fx_fax_session *s);

/* The first fax signal heard from the far end since the session started (detect_tones);
 * FX_FAX_TONE_NONE until then and for T.38 sessions. */
enum fx_fax_tone fx_fax_tone_heard(const struct fx_fax_session *s);

/* True once phase E has run; the result is then final. */
bool fx_fax_done(const struct fx_fax_session *s);
const struct fx_fax_result *fx_fax_result(const struct fx_fax_session *s);

/* Checks a TIFF is what spandsp can send: every page 1728 px wide, 204 dpi across,
 * 98/196 lpi, bilevel. FX_ERR_INVALID with why[] when not; *pages on success. */
enum fx_err fx_fax_tiff_check(const char *path, int *pages, char *why, size_t why_len);

#endif
