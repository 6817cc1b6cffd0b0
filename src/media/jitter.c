/* media: the RTP playout buffer (design in jitter.h). One leg's, used by one thread. */
#include "media/jitter.h"

#include <string.h>

void jb_init(struct jb *b, int depth)
{
    memset(b->have, 0, sizeof b->have);
    b->started = false;
    b->depth = depth < 1 ? 1 : depth > JB_SLOTS / 2 ? JB_SLOTS / 2 : depth;
    b->wait = 0;
    b->next = b->top = 0;
    b->ssrc = 0;
    b->quiet = 0;
}

static void restart(struct jb *b, uint32_t ssrc, uint16_t seq)
{
    memset(b->have, 0, sizeof b->have);
    b->started = true;
    b->ssrc = ssrc;
    b->quiet = 0;
    b->next = b->top = seq;
    b->wait = b->depth;
}

enum jb_put jb_put(struct jb *b, uint32_t ssrc, uint16_t seq, const uint8_t *p, size_t len)
{
    if (b->started && ssrc != b->ssrc && b->quiet < JB_SSRC_QUIET) return JB_PUT_FOREIGN;
    if (!b->started || ssrc != b->ssrc) restart(b, ssrc, seq);
    b->quiet = 0;
    int16_t d = (int16_t)(uint16_t)(seq - b->next);
    if (d < -JB_RESYNC || d > JB_RESYNC) {
        restart(b, ssrc, seq);
        d = 0;
    }
    if (d < 0) return JB_PUT_LATE;
    if (d >= JB_SLOTS) {
        /* Far ahead but not a new stream: skip playout forward so it fits. */
        uint16_t first = (uint16_t)(seq - JB_SLOTS + 1);
        while (b->next != first) {
            b->have[b->next % JB_SLOTS] = false;
            b->next++;
        }
    }
    unsigned i = seq % JB_SLOTS;
    if (b->have[i]) return JB_PUT_DUPLICATE;
    if (len > JB_PAYLOAD) len = JB_PAYLOAD;
    memcpy(b->data[i], p, len);
    b->len[i] = (uint16_t)len;
    b->have[i] = true;
    if ((int16_t)(uint16_t)(seq - b->top) > 0) b->top = seq;
    return JB_PUT_OK;
}

/* Frames from next to top inclusive (what is buffered or missing in between). */
static int backlog(const struct jb *b)
{
    int16_t d = (int16_t)(uint16_t)(b->top - b->next);
    return d < 0 ? 0 : d + 1;
}

/* Plays the frame at next into out; false when playout should hold (nothing later). */
static bool pop(struct jb *b, struct jb_out *out)
{
    unsigned i = b->next % JB_SLOTS;
    int k = out->frames;
    if (b->have[i]) {
        out->data[k] = b->data[i];
        out->len[k] = b->len[i];
        b->have[i] = false;
    } else {
        if ((int16_t)(uint16_t)(b->top - b->next) <= 0) return false; /* late, not lost */
        out->data[k] = NULL;
        out->len[k] = 0;
        out->lost++;
    }
    out->frames++;
    b->next++;
    return true;
}

void jb_get(struct jb *b, struct jb_out *out)
{
    memset(out, 0, sizeof *out);
    if (!b->started) return;
    if (b->quiet < JB_SSRC_QUIET) b->quiet++;
    if (b->wait > 0) {
        b->wait--;
        return;
    }
    if (!pop(b, out)) {
        out->underrun = true;
        return;
    }
    if (backlog(b) > b->depth + 1) pop(b, out);
}
