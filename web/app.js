// faxd's web interface: the shell, signing in and out, and the router. Each page is a
// module (lists.js, fax.js, send.js, settings.js) rendering into <main>; all data
// comes from the same /v3 API the SDKs use, with the session cookie.
import {get, post, del, setCsrf, whenSignedOut, ApiError} from './api.js';
import {h, clear, field, toast} from './dom.js';
import {showList} from './lists.js';
import {showFax} from './fax.js';
import {showSend} from './send.js';
import {showSettings} from './settings.js';

const main = document.getElementById('main');
export const session = {me: null};
let leave = null; // the current page's clean-up (timers)

function setPageTitle(title) {
  document.title = title + ' · faxd';
}

function signInPage(message) {
  document.getElementById('top').hidden = true;
  document.getElementById('unread').hidden = true; // the last account's count
  setPageTitle('Sign in');
  const email = field('E-mail', 'email', {autocomplete: 'username', required: true});
  const password = field('Password', 'password', {autocomplete: 'current-password',
    required: true});
  const error = h('p.error#sign-in-error', {role: 'alert'}, message || '');
  const form = h('form.card.sign-in', {'aria-labelledby': 'sign-in-title'},
    h('h1#sign-in-title', {}, 'Sign in to faxd'),
    email.row, password.row, error,
    h('button.primary', {type: 'submit'}, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const s = await post('/session', {email: email.input.value, password: password.input.value});
      setCsrf(s.csrf_token);
      session.me = s;
      password.input.value = '';
      if (!location.hash || location.hash === '#/sign-in') location.hash = '#/inbox';
      else route();
    } catch (e) {
      error.textContent = e.message;
      password.input.focus();
    }
  });
  clear(main, form);
  email.input.focus();
}

async function signOut() {
  try { await del('/session'); } catch (e) { /* the session may be gone already */ }
  session.me = null;
  setCsrf('');
  signInPage('You are signed out.');
}

const pages = {
  inbox: () => showList(main, 'inbox'),
  sent: () => showList(main, 'sent'),
  outbox: () => showList(main, 'outbox'),
  spam: () => showList(main, 'spam'),
  send: (arg) => showSend(main, arg),
  settings: () => showSettings(main, session.me),
  fax: (arg) => showFax(main, arg),
};

const titles = {inbox: 'Inbox', sent: 'Sent', outbox: 'Outbox', spam: 'Spam',
  send: 'Send a fax', settings: 'Settings', fax: 'Fax'};

async function route() {
  if (leave) { leave(); leave = null; }
  if (!session.me) {
    try {
      const s = await get('/session', {quiet401: true});
      setCsrf(s.csrf_token);
      session.me = s;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return signInPage();
      clear(main, h('p.error', {role: 'alert'}, e.message));
      return;
    }
  }
  document.getElementById('top').hidden = false;
  document.getElementById('who').textContent = session.me.email;
  const [, name = 'inbox', arg] = location.hash.match(/^#\/([a-z-]+)\/?(.*)$/) || [];
  const page = pages[name] ? name : 'inbox';
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  setPageTitle(titles[page]);
  try {
    leave = await pages[page](decodeURIComponent(arg || '')) || null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    clear(main, h('p.error', {role: 'alert'}, e.message));
  }
  main.focus({preventScroll: true});
}

whenSignedOut(() => {
  if (!session.me) return;
  session.me = null;
  setCsrf('');
  if (leave) { leave(); leave = null; }
  signInPage('Your session has ended. Please sign in again.');
});

document.getElementById('sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (ev) => toast(String(ev.reason && ev.reason.message || ev.reason), 'bad'));
route();
