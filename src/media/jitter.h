/* media (internal): the RTP playout (jitter) buffer of one audio leg.
 *
 * Fixed delay: the first packet of a stream is played `depth` ticks after it arrived, then
 * one frame per tick in sequence order. A frame missing when its turn comes is a loss (the
 * fax session fills it in) if a later frame is already buffered. If nothing later is
 * buffered, the sender is merely late (clock drift, a stall of its worker or of ours):
 * playout holds (underrun) and the leg feeds the fax session nothing at all for up to
 * JB_MAX_PAUSE ticks, so the modem signal continues seamlessly when the frames arrive
 * instead of getting a gap (a filled-in gap in a V.17 signal breaks the frame being
 * received; a pause costs only latency). When more than depth+1 frames wait (after a
 * pause, a burst, a faster peer clock), two frames are played in one tick, which gives the
 * latency back. Packets older than the playout point (late) or already buffered
 * (duplicate) are dropped. A packet with another SSRC is ignored while the current stream
 * is alive (a packet in the last JB_SSRC_QUIET ticks), so a stray or forged packet cannot
 * restart playout; after that quiet time the new SSRC takes over. A sequence jump of more
 * than JB_RESYNC restarts the stream. The unit is the packet: 20 ms at our ptime. A peer
 * sending 30/40 ms packets makes playout pause every other tick, and 10 ms packets make it
 * play two per tick; both keep the signal continuous. Payloads above JB_PAYLOAD octets are
 * cut. */
#ifndef FX_MEDIA_JITTER_H
#define FX_MEDIA_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_SLOTS 64      /* frames buffered at most: 1.28 s */
#define JB_PAYLOAD 320   /* largest payload kept (40 ms of G.711) */
#define JB_RESYNC 200    /* sequence jump that means a new stream */
#define JB_MAX_PAUSE 50  /* ticks (1 s) the receive side waits for a late frame */
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
    bool underrun;              /* nothing played: the next frame has not arrived */
};
void jb_get(struct jb *b, struct jb_out *out);

#endif
