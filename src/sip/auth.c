/* sip: digest authentication of incoming INVITEs from peers outside every trunk's
 * `inbound` networks (a PBX on a dynamic address, a remote site).
 *
 * Design: sofia's own server-side Digest module (iptsec auth_module) does the work —
 * stateless nonces (an HMAC of the issue time under a random key drawn at start, so
 * nonces cannot be forged and die with the process), expiry after NONCE_LIFETIME
 * seconds (then a new challenge with stale=true), qop=auth, and 403 for a wrong
 * password or an unknown user. Its user table is filled from the trunks'
 * inbound_username/inbound_password (borrowed from the configuration). What the module
 * does not do is refuse a replay: the same Proxy-Authorization sent again within the
 * nonce's lifetime (by whoever captured it) would place another call. So every nonce
 * accepted is remembered with its highest nonce count until it expires; using it again
 * with a count not above that one is answered with a fresh challenge (stale=true), which
 * an honest client simply answers. Everything here runs on the SIP thread. */
#define SU_ROOT_MAGIC_T struct fx_sip
#define NUA_MAGIC_T struct fx_sip
#define NUA_HMAGIC_T struct hmagic

#include <stdlib.h>
#include <string.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
/* after sip.h: auth_module.h declares auth_mod_check only when SIP_H is defined */
#include <sofia-sip/auth_digest.h>
#include <sofia-sip/auth_module.h>
#include <sofia-sip/auth_plugin.h>

#include "sip/sip_priv.h"

#define NONCE_LIFETIME 60 /* seconds: a challenge is answered at once, or never */
#define MAX_USED 1024     /* nonces remembered; more than this a minute is not a fax load */

struct used_nonce {
    char nonce[64];
    unsigned long nc; /* highest nonce count seen; 0 = none (no qop) */
    int64_t at;       /* monotonic ms when first accepted */
};

struct fx_sip_auth {
    const struct fx_conf *conf;
    auth_mod_t *am;
    struct used_nonce used[MAX_USED];
    int n_used;
};

/* 407 with Proxy-Authenticate, as PBXs challenge INVITEs. */
static auth_challenger_t const challenger = {407, "Proxy Authentication Required",
                                             sip_proxy_authenticate_class, NULL};

enum fx_err fx_sip_auth_new(const struct fx_conf *conf, struct su_root_s *root,
                            struct fx_sip_auth **out)
{
    *out = NULL;
    bool any = false;
    for (int i = 0; i < conf->n_trunks; i++)
        any = any || conf->trunks[i].inbound_username[0];
    if (!any) return FX_OK;
    struct fx_sip_auth *a = calloc(1, sizeof *a);
    if (!a) return FX_ERR_NOMEM;
    a->conf = conf;
    unsigned char key[16];
    char hex[33];
    fx_random_bytes(key, sizeof key);
    for (size_t i = 0; i < sizeof key; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    a->am = auth_mod_create(root, AUTHTAG_METHOD("Digest"), AUTHTAG_REALM(conf->sip_auth_realm),
                            AUTHTAG_QOP("auth"), AUTHTAG_EXPIRES(NONCE_LIFETIME),
                            AUTHTAG_NEXT_EXPIRES(0), AUTHTAG_FORBIDDEN(1),
                            AUTHTAG_MASTER_KEY(hex), TAG_END());
    memset(key, 0, sizeof key);
    memset(hex, 0, sizeof hex);
    if (!a->am) {
        free(a);
        return FX_ERR_INTERNAL;
    }
    for (int i = 0; i < conf->n_trunks; i++) {
        const struct fx_conf_trunk *t = &conf->trunks[i];
        if (!t->inbound_username[0]) continue;
        /* realm "": the module already keeps only credentials for our realm */
        auth_passwd_t *apw = auth_mod_addpass(a->am, t->inbound_username, "");
        if (!apw) {
            fx_sip_auth_free(a);
            return FX_ERR_NOMEM;
        }
        apw->apw_pass = t->inbound_password;
    }
    *out = a;
    return FX_OK;
}

void fx_sip_auth_free(struct fx_sip_auth *a)
{
    if (!a) return;
    if (a->am) auth_mod_destroy(a->am);
    free(a);
}

/* False when (nonce, nc) was accepted before: a replay. Otherwise remembers it. */
static bool nonce_fresh(struct fx_sip_auth *a, const char *nonce, const char *nc_text)
{
    int64_t now = fx_clock_mono_ms();
    unsigned long nc = nc_text ? strtoul(nc_text, NULL, 16) : 0;
    int keep = 0;
    for (int i = 0; i < a->n_used; i++) /* expired nonces are refused by the module */
        if (now - a->used[i].at <= NONCE_LIFETIME * 1000 + 1000) a->used[keep++] = a->used[i];
    a->n_used = keep;
    for (int i = 0; i < a->n_used; i++) {
        struct used_nonce *u = &a->used[i];
        if (strcmp(u->nonce, nonce)) continue;
        if (!nc || nc <= u->nc) return false;
        u->nc = nc;
        return true;
    }
    if (a->n_used == MAX_USED) { /* full of live nonces: forget the oldest */
        memmove(a->used, a->used + 1, sizeof a->used[0] * (MAX_USED - 1));
        a->n_used--;
    }
    struct used_nonce *u = &a->used[a->n_used++];
    fx_strlcpy(u->nonce, nonce, sizeof u->nonce);
    u->nc = nc;
    u->at = now;
    return true;
}

static int user_trunk(const struct fx_conf *conf, const char *user)
{
    for (int i = 0; user && i < conf->n_trunks; i++)
        if (conf->trunks[i].inbound_username[0] && !strcmp(conf->trunks[i].inbound_username, user))
            return i;
    return -1;
}

/* The response to an INVITE that did not pass: a challenge or a refusal. */
static void refuse(nua_handle_t *nh, auth_status_t *as)
{
    int code = as->as_status >= 300 ? as->as_status : 500;
    nua_respond(nh, code, as->as_phrase && as->as_phrase[0] ? as->as_phrase : "Refused",
                TAG_IF(as->as_response, SIPTAG_HEADER((sip_header_t *)as->as_response)),
                TAG_END());
}

int fx_sip_auth_invite(struct fx_sip_auth *a, struct nua_handle_s *nh, const struct sip_s *sip,
                       const char *source)
{
    auth_status_t as[1];
    auth_status_init(as, sizeof as); /* as AUTH_STATUS_INIT, which -Wextra rejects */
    auth_mod_check(a->am, as, sip, auth_proxy);
    int trunk = -1;
    if (as->as_status == 0) {
        /* Accepted by the module: a replay of an accepted answer is challenged again. */
        auth_response_t ar[1];
        memset(ar, 0, sizeof ar);
        ar->ar_size = sizeof ar;
        const msg_auth_t *au = (const msg_auth_t *)as->as_match;
        if (!au || auth_digest_response_get(as->as_home, ar, au->au_params) < 0 ||
            !ar->ar_nonce || !nonce_fresh(a, ar->ar_nonce, ar->ar_nc)) {
            fx_warn("sip incoming call challenged again: nonce used before source=%s user=%.64s",
                    source, as->as_user ? as->as_user : "?");
            as->as_stale = 1;
            auth_mod_challenge(a->am, as, &challenger);
            refuse(nh, as);
        } else if ((trunk = user_trunk(a->conf, as->as_user)) < 0) {
            as->as_status = 403, as->as_phrase = "Forbidden";
            refuse(nh, as);
        } else {
            fx_info("sip incoming call authenticated source=%s user=%.64s trunk=%s", source,
                    as->as_user, a->conf->trunks[trunk].name);
        }
    } else if (as->as_status == challenger.ach_status) {
        fx_info("sip incoming call challenged source=%s stale=%d", source, (int)as->as_stale);
        refuse(nh, as);
    } else {
        /* 403: a wrong password or an unknown user; 400: malformed credentials. The
         * user named is logged (it is no secret); the password and response never. */
        const msg_auth_t *au = sip->sip_proxy_authorization;
        auth_response_t ar[1];
        memset(ar, 0, sizeof ar);
        ar->ar_size = sizeof ar;
        if (au) auth_digest_response_get(as->as_home, ar, au->au_params); /* unquotes */
        const char *user = ar->ar_username;
        fx_warn("sip incoming call refused: digest authentication failed source=%s user=%.64s "
                "code=%d", source, user ? user : "-", as->as_status);
        refuse(nh, as);
    }
    AUTH_STATUS_DEINIT(as);
    return trunk;
}
