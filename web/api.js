// The /v3 JSON API as the web interface uses it: same-origin requests carrying the
// session cookie, and the session's CSRF token on everything that is not a GET.

let csrf = '';
let onUnauthorized = () => {};

export function setCsrf(token) { csrf = token || ''; }
export function whenSignedOut(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body, {quiet401 = false} = {}) {
  const headers = {Accept: 'application/json'};
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch('/v3' + path, {method, headers, body: payload, credentials: 'same-origin'});
  } catch (e) {
    throw new ApiError(0, 'network', 'faxd cannot be reached: ' + e.message);
  }
  const type = r.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await r.json() : await r.blob();
  if (r.status === 401 && !quiet401) onUnauthorized();
  if (!r.ok) throw new ApiError(r.status, data.error || '', data.description || r.statusText);
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const put = (path, body) => api('PUT', path, body);
export const post = (path, body) => api('POST', path, body);
export const del = (path) => api('DELETE', path);

// Uploads one file; resolves to its /transient-… path.
export async function upload(file) {
  const form = new FormData();
  form.append('fax_file', file, file.name);
  const r = await api('POST', '/accounts/self/files', form);
  return r.path;
}
