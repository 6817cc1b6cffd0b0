/* media: RTP and UDPTL wire formats — parsing what arrives and building what we send.
 *
 * Every parser reads only inside [buf, buf+n) and checks each length before using it: the
 * datagrams come from the network and a unit test feeds them random bytes.
 *
 * UDPTL (T.38 annex, ASN.1 PER aligned): seq-number (2 octets), the primary IFP as an open
 * type (length determinant + octets), then the error-recovery CHOICE in one octet (high bit
 * 0 = secondary IFP packets, 1 = FEC): for redundancy a count determinant and each
 * secondary IFP as an open type, newest (seq-1) first; for FEC an octet 1, the span octet, a
 * count and the FEC octet strings. Length determinants are one octet below 128 and two
 * (10xxxxxx xxxxxxxx) below 16384; fragmented lengths never occur in UDPTL and are refused. */
#include "media/wire.h"

#include <string.h>

bool fx_rtp_parse(const uint8_t *buf, size_t n, struct fx_rtp *out)
{
    if (!buf || n < 12 || (buf[0] >> 6) != 2) return false;
    size_t off = 12 + 4 * (size_t)(buf[0] & 0x0F); /* CSRCs */
    if (off > n) return false;
    if (buf[0] & 0x10) { /* header extension: 4 octets + length words */
        if (off + 4 > n) return false;
        size_t words = (size_t)buf[off + 2] << 8 | buf[off + 3];
        off += 4 + 4 * words;
        if (off > n) return false;
    }
    size_t end = n;
    if (buf[0] & 0x20) { /* padding: the last octet counts it */
        size_t pad = buf[n - 1];
        if (pad == 0 || pad > end - off) return false;
        end -= pad;
    }
    out->marker = (buf[1] & 0x80) != 0;
    out->pt = buf[1] & 0x7F;
    out->seq = (uint16_t)(buf[2] << 8 | buf[3]);
    out->ts = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    out->ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    out->payload = buf + off;
    out->len = end - off;
    return true;
}

size_t fx_rtp_build(uint8_t *buf, size_t cap, bool marker, uint8_t pt, uint16_t seq, uint32_t ts,
                    uint32_t ssrc, const uint8_t *payload, size_t len)
{
    if (cap < 12 + len) return 0;
    buf[0] = 0x80;
    buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7F));
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    memcpy(buf + 12, payload, len);
    return 12 + len;
}

/* ---- UDPTL ---- */

static bool get_length(const uint8_t *buf, size_t n, size_t *off, size_t *value)
{
    if (*off >= n) return false;
    uint8_t b = buf[*off];
    if ((b & 0x80) == 0) {
        *value = b;
        *off += 1;
        return true;
    }
    if ((b & 0x40) != 0 || *off + 2 > n) return false; /* fragmented, or cut short */
    *value = (size_t)(b & 0x3F) << 8 | buf[*off + 1];
    *off += 2;
    return true;
}

static bool get_open_type(const uint8_t *buf, size_t n, size_t *off, const uint8_t **p,
                          size_t *len)
{
    size_t l;
    if (!get_length(buf, n, off, &l) || l > n - *off) return false;
    *p = buf + *off;
    *len = l;
    *off += l;
    return true;
}

static bool get_fec(const uint8_t *buf, size_t n, size_t off)
{
    /* fec-npackets as a one-octet-long unconstrained integer, then the FEC octet strings. */
    if (off + 2 > n || buf[off] != 1) return false;
    off += 2;
    size_t count;
    if (!get_length(buf, n, &off, &count)) return false;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p;
        size_t l;
        if (!get_open_type(buf, n, &off, &p, &l)) return false;
    }
    return off == n;
}

bool fx_udptl_parse(const uint8_t *buf, size_t n, struct fx_udptl *out)
{
    if (!buf || n < 4) return false;
    memset(out, 0, sizeof *out);
    out->seq = (uint16_t)(buf[0] << 8 | buf[1]);
    size_t off = 2;
    if (!get_open_type(buf, n, &off, &out->ifp, &out->ifp_len) || out->ifp_len == 0) return false;
    if (off >= n) return false;
    if (buf[off++] & 0x80) {
        out->fec = true;
        return get_fec(buf, n, off);
    }
    size_t count;
    if (!get_length(buf, n, &off, &count)) return false;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p;
        size_t l;
        if (!get_open_type(buf, n, &off, &p, &l)) return false;
        if (i < FX_UDPTL_MAX_SECONDARY) {
            out->sec[i] = p;
            out->sec_len[i] = l;
            out->n_secondary = (int)i + 1;
        }
    }
    return off == n;
}

static bool put_length(uint8_t *buf, size_t cap, size_t *off, size_t value)
{
    if (value < 128) {
        if (*off + 1 > cap) return false;
        buf[(*off)++] = (uint8_t)value;
        return true;
    }
    if (value >= 16384 || *off + 2 > cap) return false;
    buf[(*off)++] = (uint8_t)(0x80 | value >> 8);
    buf[(*off)++] = (uint8_t)value;
    return true;
}

static bool put_open_type(uint8_t *buf, size_t cap, size_t *off, const uint8_t *p, size_t len)
{
    if (!put_length(buf, cap, off, len) || len > cap - *off) return false;
    memcpy(buf + *off, p, len);
    *off += len;
    return true;
}

static size_t open_type_size(size_t len)
{
    return (len < 128 ? 1 : 2) + len;
}

size_t fx_udptl_build(uint8_t *buf, size_t cap, uint16_t seq, const uint8_t *ifp, size_t len,
                      const uint8_t *const *sec, const size_t *sec_len, int n_sec)
{
    if (cap < 2 || len == 0) return 0;
    /* Fit as many secondaries as the datagram allows, newest first. */
    size_t need = 2 + open_type_size(len) + 1 + 1;
    int fit = 0;
    while (fit < n_sec && need + open_type_size(sec_len[fit]) + (fit + 1 >= 128) <= cap) {
        need += open_type_size(sec_len[fit]);
        fit++;
    }
    size_t off = 0;
    buf[off++] = (uint8_t)(seq >> 8);
    buf[off++] = (uint8_t)seq;
    if (!put_open_type(buf, cap, &off, ifp, len) || off >= cap) return 0;
    buf[off++] = 0x00; /* error recovery: secondary IFP packets */
    if (!put_length(buf, cap, &off, (size_t)fit)) return 0;
    for (int i = 0; i < fit; i++)
        if (!put_open_type(buf, cap, &off, sec[i], sec_len[i])) return 0;
    return off;
}
