/* api: the route table — every operation faxd serves under /v3 is one row here, and
 * `faxd --list-routes` prints this table so a test can hold it against openapi.json.
 * Every route needs a token (or a browser session) except the three FX_ROUTE_PUBLIC
 * ones: signing in, and the liveness and readiness checks (also served at /healthz and
 * /readyz), which a load balancer polls without credentials. Keep it that way. */
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"

extern const char fx_openapi_json[];
extern const unsigned long fx_openapi_json_len;

const struct fx_route fx_routes[] = {
    {"GET", "/accounts", fx_h_accounts_list, 0},
    {"GET", "/accounts/self/member-details/{member_user_id}", fx_h_member_get, 0},
    {"PUT", "/accounts/self/member-details/{member_user_id}", fx_h_member_update, 0},
    {"GET", "/accounts/{user_id}", fx_h_account_get, 0},
    {"PUT", "/accounts/{user_id}", fx_h_account_update, 0},
    {"GET", "/accounts/{user_id}/numbers", fx_h_numbers_list, 0},
    {"GET", "/accounts/{user_id}/numbers/{number}", fx_h_number_get, 0},
    {"PUT", "/accounts/{user_id}/numbers/{number}", fx_h_number_update, 0},
    {"DELETE", "/accounts/{user_id}/numbers/{number}", fx_h_number_revoke, 0},
    {"GET", "/accounts/{user_id}/faxes", fx_h_faxes_list, 0},
    {"GET", "/accounts/{user_id}/faxes/{fax_id}", fx_h_fax_get, 0},
    {"PUT", "/accounts/{user_id}/faxes/{fax_id}", fx_h_fax_update, 0},
    {"DELETE", "/accounts/{user_id}/faxes/{fax_id}", fx_h_fax_delete, 0},
    {"POST", "/accounts/{user_id}/files", fx_h_file_upload, FX_ROUTE_UPLOAD},
    {"GET", "/accounts/{user_id}/files/{fax_id}", fx_h_file_get, 0},
    {"GET", "/accounts/{user_id}/report/{fax_id}", fx_h_report_get, 0},
    {"GET", "/accounts/{user_id}/pages/{fax_id}", fx_h_page_get, 0},
    {"POST", "/accounts/{user_id}/preview", fx_h_preview, 0},
    {"GET", "/accounts/{user_id}/outbox", fx_h_outbox_list, 0},
    {"POST", "/accounts/{user_id}/outbox", fx_h_outbox_send, 0},
    {"GET", "/accounts/{user_id}/outbox/{outbox_fax_id}", fx_h_outbox_get, 0},
    {"PUT", "/accounts/{user_id}/outbox/{outbox_fax_id}", fx_h_outbox_update, 0},
    {"DELETE", "/accounts/{user_id}/outbox/{outbox_fax_id}", fx_h_outbox_delete, 0},
    {"POST", "/hooks", fx_h_hook_create, 0},
    {"GET", "/hooks", fx_h_hooks_list, 0},
    {"DELETE", "/hooks/{hook_id}", fx_h_hook_delete, 0},
    {"GET", "/hooks/{hook_id}/deliveries", fx_h_hook_deliveries, 0},
    {"GET", "/healthz", fx_h_healthz, FX_ROUTE_PUBLIC},
    {"GET", "/readyz", fx_h_readyz, FX_ROUTE_PUBLIC},
    {"GET", "/openapi.json", fx_h_openapi, 0},
    {"POST", "/session", fx_h_session_create, FX_ROUTE_PUBLIC},
    {"GET", "/session", fx_h_session_get, 0},
    {"DELETE", "/session", fx_h_session_delete, 0},
    {"GET", "/tokens", fx_h_tokens_list, 0},
    {"POST", "/tokens", fx_h_token_create, 0},
    {"DELETE", "/tokens/{token_id}", fx_h_token_revoke, 0},
    {NULL, NULL, NULL, 0},
};

/* Compares one pattern against a path; literal segments first win because the table
 * lists them before the {param} rows they overlap. */
static bool match_path(const char *pattern, const char *path, char *params[FX_MAX_PARAMS],
                       int *n_params)
{
    int n = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p != '/' || *u != '/') goto fail;
        p++, u++;
        const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
        if (ue == u) goto fail; /* empty segment */
        if (*p == '{') {
            if (n == FX_MAX_PARAMS) goto fail;
            params[n++] = strndup(u, (size_t)(ue - u));
        } else if ((size_t)(pe - p) != (size_t)(ue - u) || strncmp(p, u, (size_t)(pe - p))) {
            goto fail;
        }
        p = pe, u = ue;
    }
    if (*u == '/' && u[1] == 0) u++; /* tolerate one trailing slash */
    if (*p || *u) goto fail;
    *n_params = n;
    return true;
fail:
    for (int i = 0; i < n; i++) free(params[i]);
    return false;
}

enum fx_err fx_route_match(const char *method, const char *path, const struct fx_route **out,
                           char *params[FX_MAX_PARAMS], int *n_params, char *allow,
                           size_t allow_len)
{
    bool path_known = false;
    const char *first_pattern = NULL;
    allow[0] = 0;
    for (const struct fx_route *rt = fx_routes; rt->method; rt++) {
        char *tmp[FX_MAX_PARAMS];
        int nt = 0;
        if (first_pattern && strcmp(rt->path, first_pattern) != 0 && path_known) continue;
        if (!match_path(rt->path, path, tmp, &nt)) continue;
        if (!first_pattern) first_pattern = rt->path;
        if (strcmp(rt->path, first_pattern) != 0) {
            for (int i = 0; i < nt; i++) free(tmp[i]);
            continue;
        }
        path_known = true;
        if (strcmp(rt->method, method) == 0) {
            memcpy(params, tmp, sizeof tmp);
            *n_params = nt;
            *out = rt;
            return FX_OK;
        }
        for (int i = 0; i < nt; i++) free(tmp[i]);
        size_t used = strlen(allow);
        snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", rt->method);
    }
    return path_known ? FX_ERR_METHOD : FX_ERR_NOT_FOUND;
}

void fx_api_print_routes(FILE *f)
{
    for (const struct fx_route *rt = fx_routes; rt->method; rt++)
        fprintf(f, "%s /v3%s\n", rt->method, rt->path);
}

enum fx_err fx_h_openapi(struct fx_req *r)
{
    json_error_t err;
    json_t *doc = json_loadb(fx_openapi_json, fx_openapi_json_len, 0, &err);
    if (!doc) return fx_req_fail(r, FX_ERR_INTERNAL, "The built-in OpenAPI document is broken");
    return fx_reply_json(r, 200, doc);
}
