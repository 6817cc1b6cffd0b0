/* sip: internals shared by sip.c (the UA) and sdp.c (SDP text). Not for other modules. */
#ifndef FX_SIP_PRIV_H
#define FX_SIP_PRIV_H

#include <stddef.h>

#include "sip/sip.h"

#define FX_SDP_MAX_M 4
#define FX_SDP_MAX_PTS 16

enum fx_sdp_type { FX_SDP_OTHER, FX_SDP_AUDIO, FX_SDP_T38 };

/* One m= line of a parsed SDP. */
struct fx_sdp_m {
    enum fx_sdp_type type;
    int port;
    char ip[64];               /* its c= (or the session's) */
    int pts[FX_SDP_MAX_PTS], n_pts;
    int law[FX_SDP_MAX_PTS];   /* FX_SIP_PCMU/PCMA per payload type, -1 = other codec */
    int t38_version, t38_max_bitrate, t38_max_datagram, t38_ec;
    bool t38_transferred_tcf;
    char media[16], rest[64];  /* "video", "RTP/AVP 31": to mirror a line we refuse */
};

struct fx_sdp {
    struct fx_sdp_m m[FX_SDP_MAX_M];
    int n_m;
};

/* Parses untrusted SDP text (not NUL-terminated: len bytes). FX_ERR_INVALID when it is
 * not SDP (no v=0, no m= line, a malformed line, media with no address). */
enum fx_err fx_sdp_parse(const char *text, size_t len, struct fx_sdp *out);

/* The first of our laws (prefs, FX_SIP_PCMA/PCMU in order) that an active audio line
 * offers; *m_index = that line. */
bool fx_sdp_pick_audio(const struct fx_sdp *s, const int *prefs, int n_prefs,
                       struct fx_sip_media *out, int *m_index);
/* The first active T.38 line. */
bool fx_sdp_pick_t38(const struct fx_sdp *s, struct fx_sip_media *out, int *m_index);

struct fx_sdp_t38 {
    int version, max_bitrate, max_datagram, ec;
    bool transferred_tcf;
};

/* One m= line to write: audio (port 0 = refused), T.38, or a refused other line. */
struct fx_sdp_line {
    enum fx_sdp_type type;
    int port;
    int laws[2], n_laws;
    const char *other_media, *other_rest;
};

struct fx_sdp_out {
    uint64_t session_id, version; /* o= ; version grows with every new offer/answer */
    const char *ip;
    struct fx_sdp_line lines[FX_SDP_MAX_M];
    int n_lines;
    struct fx_sdp_t38 t38;
};

/* Writes SDP into buf[len]; FX_ERR_INVALID if it does not fit. */
enum fx_err fx_sdp_write(const struct fx_sdp_out *o, char *buf, size_t len);

/* ---- auth.c: digest authentication of incoming INVITEs (SIP thread only) ---- */

struct fx_sip_auth;
struct su_root_s;
struct nua_handle_s;
struct sip_s;
/* *out is new (free with fx_sip_auth_free), or NULL when no trunk has an
 * inbound_username: then nobody is challenged. conf is borrowed and must outlive it. */
enum fx_err fx_sip_auth_new(const struct fx_conf *conf, struct su_root_s *root,
                            struct fx_sip_auth **out);
/* Accepts NULL. */
void fx_sip_auth_free(struct fx_sip_auth *a);
/* Checks an initial INVITE's Proxy-Authorization: returns the index of the trunk whose
 * inbound_username it proves, or -1 after answering the INVITE (407 challenge, 403 for
 * wrong credentials, 400); the caller then destroys the handle. source: for the log. */
int fx_sip_auth_invite(struct fx_sip_auth *a, struct nua_handle_s *nh, const struct sip_s *sip,
                       const char *source);

#endif
