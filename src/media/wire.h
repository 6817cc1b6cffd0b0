/* media (internal): building RTP and UDPTL datagrams; the parsers are public in media.h. */
#ifndef FX_MEDIA_WIRE_H
#define FX_MEDIA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "media/media.h"

/* Writes an RTP v2 header (no CSRC/extension/padding) and the payload into buf[cap];
 * returns the datagram length, 0 when it does not fit. */
size_t fx_rtp_build(uint8_t *buf, size_t cap, bool marker, uint8_t pt, uint16_t seq, uint32_t ts,
                    uint32_t ssrc, const uint8_t *payload, size_t len);

/* Writes a UDPTL packet in the redundancy form: the primary IFP and as many of the n_sec
 * secondaries (newest first: sec[0] is seq-1) as fit in cap octets (the peer's
 * T38FaxMaxDatagram). Returns the length, 0 when not even the primary fits. */
size_t fx_udptl_build(uint8_t *buf, size_t cap, uint16_t seq, const uint8_t *ifp, size_t len,
                      const uint8_t *const *sec, const size_t *sec_len, int n_sec);

#endif
