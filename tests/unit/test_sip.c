/* sip: faxd's SDP parser and writer (offers and answers for G.711 and T.38, hostile
 * input never read out of bounds), the SIP outcome table (Q.850 cause first, then the
 * SIP code), and [trunk NAME] configuration sections. */
#include <stdint.h>

#include "check.h"
#include "conf/conf.h"
#include "line/line.h"
#include "sip/sip_priv.h"

static enum fx_err parse(const char *text, struct fx_sdp *s)
{
    return fx_sdp_parse(text, strlen(text), s);
}

static void test_parse_offer(void)
{
    const char *offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
                        "t=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
                        "m=image 4002 udptl t38\r\nc=IN IP4 10.0.0.2\r\na=T38FaxVersion:1\r\n"
                        "a=T38MaxBitRate:9600\r\na=T38FaxRateManagement:transferredTCF\r\n"
                        "a=T38FaxMaxDatagram:320\r\na=T38FaxUdpEC:t38UDPNoEC\r\n"
                        "m=video 5000 RTP/AVP 31\r\n";
    struct fx_sdp s;
    CHECK(parse(offer, &s) == FX_OK);
    CHECK(s.n_m == 3);
    struct fx_sip_media m;
    int idx = -1, pcma_first[] = {FX_SIP_PCMA, FX_SIP_PCMU}, pcmu_only[] = {FX_SIP_PCMU};
    CHECK(fx_sdp_pick_audio(&s, pcma_first, 2, &m, &idx));
    CHECK(m.kind == FX_SIP_PCMA && m.payload_type == 8 && m.port == 4000 && idx == 0);
    CHECK_STR(m.ip, "10.0.0.1");
    CHECK(fx_sdp_pick_audio(&s, pcmu_only, 1, &m, NULL) && m.payload_type == 0);
    CHECK(fx_sdp_pick_t38(&s, &m, &idx) && idx == 1);
    CHECK(m.port == 4002 && m.t38_version == 1 && m.t38_max_bitrate == 9600);
    CHECK(m.t38_max_datagram == 320 && m.t38_transferred_tcf && m.t38_ec == 0);
    CHECK_STR(m.ip, "10.0.0.2");
    /* A refused T.38 answer (m=image 0) is not a T.38 stream. */
    CHECK(parse("v=0\r\nc=IN IP4 1.2.3.4\r\nm=image 0 udptl t38\r\nm=audio 7 RTP/AVP 8\r\n", &s) == 0);
    CHECK(!fx_sdp_pick_t38(&s, &m, NULL));
    /* A dynamic payload type named PCMU by rtpmap. */
    CHECK(parse("v=0\nc=IN IP4 1.2.3.4\nm=audio 9 RTP/AVP 96\na=rtpmap:96 PCMU/8000\n", &s) == 0);
    CHECK(fx_sdp_pick_audio(&s, pcmu_only, 1, &m, NULL) && m.payload_type == 96);
    CHECK(!fx_sdp_pick_audio(&s, pcma_first, 1, &m, NULL));
}

static void test_reject(void)
{
    struct fx_sdp s;
    const char *bad[] = {
        "",
        "hello",
        "v=0\r\n",                                        /* no media */
        "v=1\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n", /* wrong version */
        "v=0\r\nm=audio 1 RTP/AVP 0\r\n",                 /* media with no address */
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nnot a line\r\nm=audio 1 RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=a 1 b\r\nm=a 1 b\r\nm=a 1 b\r\nm=a 1 b\r\nm=a 1 b\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bool rejected = parse(bad[i], &s) == FX_ERR_INVALID;
        CHECK(rejected);
        if (!rejected) fprintf(stderr, "  accepted: %s\n", bad[i]);
    }
}

/* Random mutations of a valid offer: never a crash or an out-of-bounds read (the
 * sanitizer build checks), and whatever parses has sane ports. Each input is copied
 * into an exact-size heap buffer with no terminator, so a read past len is caught. */
static void test_fuzz(void)
{
    const char *seed = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                       "m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:8 PCMA/8000\r\nm=image 4002 udptl t38\r\n"
                       "a=T38FaxVersion:0\r\na=T38FaxMaxDatagram:400\r\n";
    size_t n = strlen(seed);
    uint32_t r = 12345;
    int parsed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char buf[512];
        memcpy(buf, seed, n);
        size_t len = n;
        int edits = 1 + iter % 8;
        for (int k = 0; k < edits; k++) {
            r = r * 1103515245u + 12345u;
            size_t pos = (r >> 8) % len;
            r = r * 1103515245u + 12345u;
            switch ((r >> 16) % 4) {
            case 0: buf[pos] = (char)(r >> 24); break;                   /* flip a byte */
            case 1: len = pos + 1; break;                                /* truncate */
            case 2: buf[pos] = "\r\n :=/0123456789"[(r >> 24) % 16]; break;
            default: buf[pos] = 0; break;                                /* embedded NUL */
            }
        }
        char *exact = malloc(len);
        memcpy(exact, buf, len);
        struct fx_sdp s;
        if (fx_sdp_parse(exact, len, &s) == FX_OK) {
            parsed++;
            for (int i = 0; i < s.n_m; i++)
                CHECK(s.m[i].port >= 0 && s.m[i].port <= 65535 && s.m[i].n_pts <= FX_SDP_MAX_PTS);
        }
        free(exact);
    }
    CHECK(parsed > 0);
}

static void test_write(void)
{
    struct fx_sdp_out o = {.session_id = 7, .version = 3, .ip = "192.0.2.1", .n_lines = 2};
    o.lines[0] = (struct fx_sdp_line){.type = FX_SDP_AUDIO, .port = 0, .laws = {FX_SIP_PCMA},
                                      .n_laws = 1};
    o.lines[1] = (struct fx_sdp_line){.type = FX_SDP_T38, .port = 30000};
    o.t38 = (struct fx_sdp_t38){.version = 0, .max_bitrate = 14400, .max_datagram = 400, .ec = 1};
    char buf[1024];
    CHECK(fx_sdp_write(&o, buf, sizeof buf) == FX_OK);
    CHECK(strstr(buf, "o=faxd 7 3 IN IP4 192.0.2.1\r\n") != NULL);
    CHECK(strstr(buf, "m=audio 0 RTP/AVP 8\r\n") != NULL);
    CHECK(strstr(buf, "m=image 30000 udptl t38\r\n") != NULL);
    CHECK(strstr(buf, "a=T38FaxUdpEC:t38UDPRedundancy\r\n") != NULL);
    CHECK(strstr(buf, "a=T38FaxRateManagement:localTCF\r\n") != NULL);
    /* What we write, we parse back. */
    struct fx_sdp s;
    struct fx_sip_media m;
    CHECK(fx_sdp_parse(buf, strlen(buf), &s) == FX_OK);
    CHECK(fx_sdp_pick_t38(&s, &m, NULL) && m.port == 30000 && m.t38_ec == 1);
    CHECK(fx_sdp_write(&o, buf, 40) == FX_ERR_INVALID); /* too small: refused, not cut */
}

static void test_outcomes(void)
{
    CHECK(fx_line_sip_outcome(486, 0, false, false) == FX_CALL_BUSY);
    CHECK(fx_line_sip_outcome(600, 0, false, false) == FX_CALL_BUSY);
    CHECK(fx_line_sip_outcome(487, 0, false, true) == FX_CALL_NO_ANSWER);
    CHECK(fx_line_sip_outcome(480, 0, false, false) == FX_CALL_NO_ANSWER);
    CHECK(fx_line_sip_outcome(404, 0, false, false) == FX_CALL_UNALLOCATED);
    CHECK(fx_line_sip_outcome(604, 0, false, false) == FX_CALL_UNALLOCATED);
    CHECK(fx_line_sip_outcome(484, 0, false, false) == FX_CALL_BAD_NUMBER);
    CHECK(fx_line_sip_outcome(403, 0, false, false) == FX_CALL_REFUSED);
    CHECK(fx_line_sip_outcome(503, 0, false, false) == FX_CALL_CONGESTION);
    CHECK(fx_line_sip_outcome(502, 0, false, false) == FX_CALL_TEMPORARY);
    CHECK(fx_line_sip_outcome(418, 0, false, false) == FX_CALL_FAILED);
    /* Q.850 first. */
    CHECK(fx_line_sip_outcome(480, 17, false, false) == FX_CALL_BUSY);
    CHECK(fx_line_sip_outcome(404, 16, false, false) == FX_CALL_CLEARED);
    CHECK(fx_line_sip_outcome(500, 1, false, false) == FX_CALL_UNALLOCATED);
    CHECK(fx_line_sip_outcome(503, 41, false, false) == FX_CALL_TEMPORARY);
    CHECK(fx_line_sip_outcome(480, 19, false, false) == FX_CALL_NO_ANSWER);
    /* Made by our own stack: the trunk never answered. */
    CHECK(fx_line_sip_outcome(408, 0, true, false) == FX_CALL_CONGESTION);
    CHECK(fx_line_sip_outcome(408, 0, false, false) == FX_CALL_NO_ANSWER);
}

static void test_trunk_conf(void)
{
    char path[] = "/tmp/test_sip_conf_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "[sip]\nport = 5062\n[trunk carrier-1]\nhost = \"192.0.2.10\"\n"
                       "prefixes = \"+1,+44\"\nt38 = \"only\"\n[trunk backup]\nport = 5070\n";
    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    struct fx_conf *c = NULL;
    char why[256] = "";
    CHECK(fx_conf_load(path, &c, why, sizeof why) == FX_OK);
    if (c) {
        CHECK(c->sip_port == 5062 && c->n_trunks == 2);
        CHECK_STR(c->trunks[0].name, "carrier-1");
        CHECK_STR(c->trunks[0].host, "192.0.2.10");
        CHECK_STR(c->trunks[0].t38, "only");
        CHECK(c->trunks[0].port == 5060);
        CHECK_STR(c->trunks[1].host, "127.0.0.1");
        CHECK(c->trunks[1].port == 5070);
        CHECK(fx_conf_set(c, "trunk.backup.codecs", "pcmu", why, sizeof why) == FX_OK);
        CHECK(fx_conf_set(c, "trunk.backup.codecs", "g729", why, sizeof why) == FX_ERR_INVALID);
        CHECK(fx_conf_set(c, "trunk.backup.t38", "maybe", why, sizeof why) == FX_ERR_INVALID);
        CHECK(fx_conf_set(c, "trunk.backup.bogus", "1", why, sizeof why) == FX_ERR_INVALID);
        CHECK(fx_conf_set(c, "trunk.bad name.host", "x", why, sizeof why) == FX_ERR_INVALID);
        CHECK(fx_conf_set(c, "trunk.backup.inbound", "10.0.0.0/8,127.0.0.1", why, sizeof why) == 0);
        CHECK(fx_conf_set(c, "trunk.backup.inbound", "10.0.0.0/33", why, sizeof why) != 0);
        /* The dump lists trunks as sections that load back the same. */
        char *d = NULL;
        size_t dl = 0;
        FILE *f = open_memstream(&d, &dl);
        fx_conf_dump(c, f);
        fclose(f);
        CHECK(strstr(d, "\n[trunk backup]\n") != NULL);
        FILE *g = fopen(path, "w");
        fputs(d, g);
        fclose(g);
        struct fx_conf *back = NULL;
        CHECK(fx_conf_load(path, &back, why, sizeof why) == FX_OK);
        CHECK(back && back->n_trunks == 2 && !strcmp(back->trunks[1].codecs, "pcmu"));
        fx_conf_free(back);
        free(d);
    }
    fx_conf_free(c);
    unlink(path);
}

int main(void)
{
    test_parse_offer();
    test_reject();
    test_fuzz();
    test_write();
    test_outcomes();
    test_trunk_conf();
    return fx_check_result("test_sip");
}
