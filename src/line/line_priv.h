/* line: the SIP line's entry points for loopback.c (which owns struct fx_lines). */
#ifndef FX_LINE_PRIV_H
#define FX_LINE_PRIV_H

#include "line/line.h"

struct fx_sipline;

/* Starts the SIP UA and the media workers from cfg->conf ([sip], trunks). *out is new:
 * free with fx_sipline_free (after every call ended). `lines` is the owner, for
 * fx_lines_stopping. */
enum fx_err fx_sipline_new(const struct fx_lines_cfg *cfg, const struct fx_lines *lines,
                           struct fx_sipline **out);
/* Waits for inbound calls to end (they hang up once fx_lines_stop was called), then
 * stops the UA (BYE to what is left) and the media workers. Accepts NULL. */
void fx_sipline_free(struct fx_sipline *sl);
/* Inbound calls whose threads are still running. */
int fx_sipline_inbound_calls(struct fx_sipline *sl);
/* Whether a trunk serves `to` (its prefixes). */
bool fx_sipline_routes(const struct fx_sipline *sl, const char *to);
/* Places a call through the first trunk serving d->to, failing over to the next on
 * 503, a timeout or a full trunk, and runs it to its end on this thread. */
enum fx_err fx_sipline_call(struct fx_sipline *sl, const struct fx_dial *d,
                            struct fx_call_result *out);

/* Shared by both lines (loopback.c). The call log: one line appended for a call about
 * to ring (nothing when cfg->call_log is empty). */
void fx_line_log_call(const struct fx_lines_cfg *cfg, const struct fx_dial *d, const char *line);
/* Whether the caller still owns an outgoing call (d->keep; NULL d or keep: yes). */
bool fx_line_kept(const struct fx_dial *d);
/* An inbound call's files in cfg->work_dir: rx-<id>.tiff (the pages, written page by page
 * by the receiving session) and rx-<id>.meta (who called whom, when, how). The meta file
 * is written when the call is answered and removed with the page file once the fax is
 * delivered, so fx_lines_recover can store the complete pages a crash left. */
void fx_line_rx_path(const struct fx_lines_cfg *cfg, const char *id, const char *ext, char *out,
                     size_t len);
void fx_line_meta_write(const struct fx_lines_cfg *cfg, const char *id,
                        const struct fx_inbound *in);

#endif
