/* sip: faxd's own SDP — writing offers and answers, parsing what peers send, and
 * choosing the media of a call (offer/answer, RFC 3264, for G.711 audio and T.38).
 *
 * Only what a fax call needs is understood: c=, m=audio with static payload types 0/8
 * (or rtpmap PCMU/PCMA), m=image udptl t38 with the T.38 attributes of RFC 4612/ITU-T
 * T.38 Annex D. Everything else is skipped. The parser takes untrusted text: it never
 * reads past `len`, bounds every copy, and reports failure instead of guessing. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_priv.h"

/* One line ("k=value") from text[*pos..len), without its CR/LF, into line[cap]. */
static bool next_line(const char *text, size_t len, size_t *pos, char *line, size_t cap)
{
    if (*pos >= len) return false;
    size_t start = *pos, end = start;
    while (end < len && text[end] != '\n' && text[end] != '\r')
        end++;
    size_t n = end - start;
    if (n >= cap) n = cap - 1; /* an over-long line is cut, never overrun */
    memcpy(line, text + start, n);
    line[n] = 0;
    while (end < len && (text[end] == '\r' || text[end] == '\n'))
        end++;
    *pos = end;
    return true;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    if (!isdigit((unsigned char)*s)) return false;
    long v = strtol(s, &end, 10);
    if (v < lo || v > hi) return false;
    *out = (int)v;
    return *end == 0 || isspace((unsigned char)*end) || *end == '/';
}

/* "c=IN IP4 1.2.3.4" */
static void parse_conn(const char *v, char ip[64])
{
    char a[8], b[8], addr[64];
    if (sscanf(v, "%7s %7s %63s", a, b, addr) != 3) return;
    if (strcmp(a, "IN") || strcmp(b, "IP4")) return;
    char *slash = strchr(addr, '/'); /* multicast TTL */
    if (slash) *slash = 0;
    fx_strlcpy(ip, addr, 64);
}

/* "m=audio 4000 RTP/AVP 8 0 101" / "m=image 4002 udptl t38" */
static bool parse_m(const char *v, struct fx_sdp_m *m)
{
    char media[16], proto[32];
    int n = 0;
    if (sscanf(v, "%15s %d %31s %n", media, &m->port, proto, &n) < 3) return false;
    if (m->port < 0 || m->port > 65535) return false;
    if (!strcmp(media, "audio") && !strcasecmp(proto, "RTP/AVP")) {
        m->type = FX_SDP_AUDIO;
        const char *p = v + n;
        while (*p && m->n_pts < FX_SDP_MAX_PTS) {
            int pt;
            if (!parse_int(p, 0, 127, &pt)) break;
            m->pts[m->n_pts++] = pt;
            while (*p && !isspace((unsigned char)*p))
                p++;
            while (isspace((unsigned char)*p))
                p++;
        }
    } else if (!strcmp(media, "image") && !strcasecmp(proto, "udptl") &&
               !strncasecmp(v + n, "t38", 3)) {
        m->type = FX_SDP_T38;
    } else {
        m->type = FX_SDP_OTHER;
    }
    fx_strlcpy(m->media, media, sizeof m->media);
    snprintf(m->rest, sizeof m->rest, "%s %s", proto, v[n] ? v + n : "0");
    for (char *c = m->rest; *c; c++) /* printed back into an m= line: keep it one token run */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
    return true;
}

/* "a=rtpmap:8 PCMA/8000" maps a dynamic number to a law; T.38 attributes. */
static void parse_a(const char *v, struct fx_sdp_m *m)
{
    int pt;
    char name[32];
    if (m->type == FX_SDP_AUDIO && sscanf(v, "rtpmap:%d %31[^/]", &pt, name) == 2) {
        for (int i = 0; i < m->n_pts; i++)
            if (m->pts[i] == pt) {
                if (!strcasecmp(name, "PCMU")) m->law[i] = FX_SIP_PCMU;
                else if (!strcasecmp(name, "PCMA")) m->law[i] = FX_SIP_PCMA;
                else m->law[i] = -1;
            }
        return;
    }
    if (m->type != FX_SDP_T38) return;
    const char *colon = strchr(v, ':');
    const char *val = colon ? colon + 1 : "";
    size_t klen = colon ? (size_t)(colon - v) : strlen(v);
#define KEY(k) (klen == strlen(k) && !strncasecmp(v, k, klen))
    if (KEY("T38FaxVersion")) parse_int(val, 0, 3, &m->t38_version);
    else if (KEY("T38MaxBitRate")) parse_int(val, 0, 1000000, &m->t38_max_bitrate);
    else if (KEY("T38FaxMaxDatagram")) parse_int(val, 0, 65535, &m->t38_max_datagram);
    else if (KEY("T38FaxTranscodingJBIG") || KEY("T38FaxTranscodingMMR")) (void)0;
    else if (KEY("T38FaxFillBitRemoval")) (void)0;
    else if (KEY("T38FaxRateManagement")) m->t38_transferred_tcf = !strcasecmp(val, "transferredTCF");
    else if (KEY("T38FaxUdpEC")) m->t38_ec = !strcasecmp(val, "t38UDPFEC") ? 2
                                            : !strcasecmp(val, "t38UDPRedundancy") ? 1 : 0;
#undef KEY
}

/* Static payload types mean their law until an rtpmap says otherwise. */
static void default_laws(struct fx_sdp_m *m)
{
    for (int i = 0; i < m->n_pts; i++)
        m->law[i] = m->pts[i] == 0 ? FX_SIP_PCMU : m->pts[i] == 8 ? FX_SIP_PCMA : -1;
}

enum fx_err fx_sdp_parse(const char *text, size_t len, struct fx_sdp *out)
{
    struct fx_sdp s;
    memset(&s, 0, sizeof s);
    char line[512], session_ip[64] = "";
    size_t pos = 0;
    bool saw_v = false;
    struct fx_sdp_m *m = NULL;
    while (next_line(text, len, &pos, line, sizeof line)) {
        if (!line[0]) continue;
        if (strlen(line) < 2 || line[1] != '=') return FX_ERR_INVALID;
        const char *v = line + 2;
        switch (line[0]) {
        case 'v':
            saw_v = !strcmp(v, "0");
            break;
        case 'c':
            parse_conn(v, m ? m->ip : session_ip);
            break;
        case 'm':
            if (s.n_m == FX_SDP_MAX_M) return FX_ERR_INVALID;
            m = &s.m[s.n_m++];
            m->t38_ec = 1; /* T.38 Annex D: redundancy unless said otherwise */
            if (!parse_m(v, m)) return FX_ERR_INVALID;
            default_laws(m);
            break;
        case 'a':
            if (m) parse_a(v, m);
            break;
        default:
            break;
        }
    }
    if (!saw_v || s.n_m == 0) return FX_ERR_INVALID;
    for (int i = 0; i < s.n_m; i++) {
        if (!s.m[i].ip[0]) fx_strlcpy(s.m[i].ip, session_ip, sizeof s.m[i].ip);
        if (s.m[i].port && !s.m[i].ip[0]) return FX_ERR_INVALID; /* nowhere to send */
    }
    *out = s;
    return FX_OK;
}

/* ---- choosing media ---- */

bool fx_sdp_pick_audio(const struct fx_sdp *s, const int *prefs, int n_prefs,
                       struct fx_sip_media *out, int *m_index)
{
    for (int p = 0; p < n_prefs; p++)
        for (int i = 0; i < s->n_m; i++) {
            const struct fx_sdp_m *m = &s->m[i];
            if (m->type != FX_SDP_AUDIO || m->port == 0) continue;
            for (int k = 0; k < m->n_pts; k++)
                if (m->law[k] == prefs[p]) {
                    memset(out, 0, sizeof *out);
                    fx_strlcpy(out->ip, m->ip, sizeof out->ip);
                    out->port = m->port;
                    out->kind = prefs[p];
                    out->payload_type = m->pts[k];
                    if (m_index) *m_index = i;
                    return true;
                }
        }
    return false;
}

bool fx_sdp_pick_t38(const struct fx_sdp *s, struct fx_sip_media *out, int *m_index)
{
    for (int i = 0; i < s->n_m; i++) {
        const struct fx_sdp_m *m = &s->m[i];
        if (m->type != FX_SDP_T38 || m->port == 0) continue;
        memset(out, 0, sizeof *out);
        fx_strlcpy(out->ip, m->ip, sizeof out->ip);
        out->port = m->port;
        out->kind = FX_SIP_T38;
        out->t38_version = m->t38_version;
        out->t38_max_bitrate = m->t38_max_bitrate ? m->t38_max_bitrate : 14400;
        out->t38_max_datagram = m->t38_max_datagram;
        out->t38_transferred_tcf = m->t38_transferred_tcf;
        out->t38_ec = m->t38_ec;
        if (m_index) *m_index = i;
        return true;
    }
    return false;
}

/* ---- writing ---- */

static int put(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = *used < len ? vsnprintf(buf + *used, len - *used, fmt, ap) : -1;
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *used) return -1;
    *used += (size_t)n;
    return 0;
}

static int write_audio(char *buf, size_t len, size_t *u, int port, const int *laws, int n)
{
    int rc = put(buf, len, u, "m=audio %d RTP/AVP", port);
    for (int i = 0; i < n; i++)
        rc |= put(buf, len, u, " %d", laws[i] == FX_SIP_PCMU ? 0 : 8);
    rc |= put(buf, len, u, "\r\n");
    for (int i = 0; i < n && port; i++)
        rc |= put(buf, len, u, "a=rtpmap:%d %s/8000\r\n", laws[i] == FX_SIP_PCMU ? 0 : 8,
                  laws[i] == FX_SIP_PCMU ? "PCMU" : "PCMA");
    if (port) rc |= put(buf, len, u, "a=ptime:20\r\na=sendrecv\r\n");
    return rc;
}

static int write_t38(char *buf, size_t len, size_t *u, int port, const struct fx_sdp_t38 *t)
{
    int rc = put(buf, len, u, "m=image %d udptl t38\r\n", port);
    if (!port) return rc;
    rc |= put(buf, len, u,
              "a=T38FaxVersion:%d\r\na=T38MaxBitRate:%d\r\na=T38FaxRateManagement:%s\r\n"
              "a=T38FaxMaxBuffer:2000\r\na=T38FaxMaxDatagram:%d\r\na=T38FaxUdpEC:%s\r\n",
              t->version, t->max_bitrate, t->transferred_tcf ? "transferredTCF" : "localTCF",
              t->max_datagram, t->ec ? "t38UDPRedundancy" : "t38UDPNoEC");
    return rc;
}

enum fx_err fx_sdp_write(const struct fx_sdp_out *o, char *buf, size_t len)
{
    size_t u = 0;
    int rc = put(buf, len, &u,
                 "v=0\r\no=faxd %llu %llu IN IP4 %s\r\ns=faxd\r\nc=IN IP4 %s\r\nt=0 0\r\n",
                 (unsigned long long)o->session_id, (unsigned long long)o->version, o->ip,
                 o->ip);
    for (int i = 0; i < o->n_lines; i++) {
        const struct fx_sdp_line *l = &o->lines[i];
        if (l->type == FX_SDP_AUDIO)
            rc |= write_audio(buf, len, &u, l->port, l->laws, l->n_laws);
        else if (l->type == FX_SDP_T38)
            rc |= write_t38(buf, len, &u, l->port, &o->t38);
        else /* a rejected line of a kind we do not speak: mirror it with port 0 */
            rc |= put(buf, len, &u, "m=%s 0 %s\r\n", l->other_media, l->other_rest);
    }
    return rc ? FX_ERR_INVALID : FX_OK;
}
