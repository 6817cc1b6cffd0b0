/* media (internal): the RTP playout (jitter) buffer of one audio leg.
 *
 * Fixed delay: the first packet of a stream is played `depth` ticks after it arrived, then
 * one frame per tick in sequence order. A frame missing when its turn comes is a loss (the
 * fax session fills it in) if a later frame is already buffered; if nothing later is
 * buffered, the sender is merely late (clock drift, a stall) and playout holds, so a
 * slightly slow peer does not turn into loss. Packets older than the playout point (late)
 * or already buffered (duplicate) are dropped. A packet with another SSRC is ignored while
 * the current stream is alive (a packet in the last JB_SSRC_QUIET ticks), so a stray or
 * forged packet cannot restart playout; after that quiet time the new SSRC takes over. When more than 2×depth+2 frames wait (a
 * faster peer clock, or a burst after a stall), two frames are played in one tick until the
 * backlog is back to depth. A new SSRC or a sequence jump of more than JB_RESYNC restarts
 * the stream. Payloads are assumed to be 20 ms frames (ptime 20); longer payloads are
 * played whole. */
#ifndef FX_MEDIA_JITTER_H
#define FX_MEDIA_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_SLOTS 32      /* frames buffered at most: 640 ms */
#define JB_PAYLOAD 480   /* largest payload kept (60 ms of G.711) */
#define JB_RESYNC 200    /* sequence jump that means a new stream */
#define JB_SSRC_QUIET 10 /* ticks without the current SSRC before another one is taken */

struct jb {
    uint8_t data[JB_SLOTS][JB_PAYLOAD];
    uint16_t len[JB_SLOTS];
    bool have[JB_SLOTS];
    bool started;
    int depth;       /* playout delay in frames */
    int wait;        /* ticks left before the first frame plays */
    uint16_t next;   /* sequence number played next */
    uint16_t top;    /* newest sequence number buffered */
    uint32_t ssrc;
    int quiet;       /* ticks since the current SSRC's last packet */
};

enum jb_put { JB_PUT_OK, JB_PUT_LATE, JB_PUT_DUPLICATE, JB_PUT_FOREIGN };

void jb_init(struct jb *b, int depth);
enum jb_put jb_put(struct jb *b, uint32_t ssrc, uint16_t seq, const uint8_t *p, size_t len);

/* What to play this tick. */
struct jb_out {
    int frames;                 /* 0..2 entries below */
    const uint8_t *data[2];     /* NULL = lost: fill in */
    size_t len[2];
    int lost;                   /* of the frames, how many were lost */
};
void jb_get(struct jb *b, struct jb_out *out);

#endif
