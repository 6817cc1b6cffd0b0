// One fax: its details, page thumbnails, a full-page viewer of the fax image, the
// downloads (PDF, TIFF, confirmation report) and the actions: read/unread, spam/not
// spam, delete and, for a failed fax, send again.
import {get, put, del, post, upload} from './api.js';
import {h, clear, toast, localTime} from './dom.js';
import {statusCell} from './lists.js';

const BASE = '/v3/accounts/self';

function pageUrl(id, page, width) {
  return BASE + '/pages/' + encodeURIComponent(id) + '?page=' + page + '&width=' + width;
}

function details(f) {
  const rows = [
    ['Status', statusCell(f.status, f.direction)],
    [f.direction === 'incoming' ? 'From' : 'To', f.direction === 'incoming' ? f.from || 'Unknown caller' : f.to],
    [f.direction === 'incoming' ? 'To' : 'From', f.direction === 'incoming' ? f.to : f.from],
    ['Pages', String(f.pages)],
    ['Time', localTime(f.start_time || f.submit_time || f.last_update)],
    ['Duration', f.duration ? f.duration + ' s' : '–'],
  ];
  if (f.description && f.status !== 'success') rows.push(['Reason', f.description]);
  if (f.comment) rows.push(['Comment', f.comment]);
  return h('dl.details', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// A dialog showing one page at a time, large; arrow keys and buttons move between pages.
function viewer(f, start) {
  let page = start;
  const img = h('img.page-full', {alt: ''});
  const label = h('span#viewer-label');
  const prev = h('button', {type: 'button'}, '‹ Previous page');
  const next = h('button', {type: 'button'}, 'Next page ›');
  const close = h('button', {type: 'button'}, 'Close');
  const dlg = h('dialog.viewer', {'aria-labelledby': 'viewer-label'},
    h('div.viewer-bar', {}, label, prev, next, close), h('div.viewer-page', {}, img));
  // The old page stays hidden until the new one has loaded, so the label never names a
  // page other than the one shown.
  img.addEventListener('load', () => { img.style.visibility = 'visible'; });
  function show() {
    img.style.visibility = 'hidden';
    img.src = pageUrl(f.id, page, 1200);
    img.alt = 'Page ' + page + ' of ' + f.pages;
    label.textContent = 'Page ' + page + ' of ' + f.pages;
    prev.disabled = page <= 1;
    next.disabled = page >= f.pages;
  }
  prev.addEventListener('click', () => { if (page > 1) { page--; show(); } });
  next.addEventListener('click', () => { if (page < f.pages) { page++; show(); } });
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowLeft') prev.click();
    if (ev.key === 'ArrowRight') next.click();
  });
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  show();
  dlg.showModal();
  close.focus();
}

function thumbnails(f) {
  const n = Math.min(f.pages, 50);
  if (!f.file || !n) return h('p.empty', {}, 'This fax has no pages to show.');
  const list = [];
  for (let p = 1; p <= n; p++) {
    list.push(h('li', {}, h('button.thumb', {type: 'button', 'aria-label': 'View page ' + p,
      onclick: () => viewer(f, p)},
      h('img', {src: pageUrl(f.id, p, 180), alt: 'Page ' + p, loading: 'lazy', width: 180}),
      h('span', {}, 'Page ' + p))));
  }
  return h('ul.thumbs', {'aria-label': 'Pages'}, list);
}

// Sends the fax image again to the same number: the stored TIFF goes back through the
// ordinary upload and send, so it is one more outbox record like any other.
async function sendAgain(f) {
  const r = await fetch(BASE + '/files/' + encodeURIComponent(f.id) + '?format=tiff',
    {credentials: 'same-origin'});
  if (!r.ok) throw new Error('The fax image could not be read again');
  const blob = await r.blob();
  const path = await upload(new File([blob], f.id + '.tiff', {type: 'image/tiff'}));
  const numbers = (await get('/accounts/self/numbers')).numbers || [];
  const from = numbers.some(n => n.number === f.from) ? f.from : (numbers[0] || {}).number;
  await post('/accounts/self/outbox', {from: from || 'no_number', to: [f.to], files: [path],
    return_ids: true});
}

export async function showFax(main, id) {
  const f = await get('/accounts/self/faxes/' + encodeURIComponent(id));
  if (f.direction === 'incoming' && !f.is_read) {
    await put('/accounts/self/faxes/' + f.id, {is_read: true});
    f.is_read = true;
  }
  const incoming = f.direction === 'incoming';
  const failed = f.status !== 'success' && f.status !== 'partially_received';
  const act = (label, fn, cls = '') => h('button' + cls, {type: 'button', onclick: async () => {
    try { await fn(); } catch (e) { toast(e.message, 'bad'); }
  }}, label);
  const reload = () => showFax(main, id);
  const actions = h('div.actions', {},
    f.file ? h('a.button', {href: BASE + '/files/' + f.id + '?format=pdf', download: f.id + '.pdf'},
      'Download PDF') : null,
    f.file ? h('a.button', {href: BASE + '/files/' + f.id + '?format=tiff',
      download: f.id + '.tiff'}, 'Download TIFF') : null,
    h('a.button', {href: BASE + '/report/' + f.id, download: f.id + '-report.pdf'},
      'Confirmation report'),
    incoming ? act(f.is_read ? 'Mark unread' : 'Mark read', async () => {
      await put('/accounts/self/faxes/' + f.id, {is_read: !f.is_read});
      toast(f.is_read ? 'Marked unread.' : 'Marked read.');
      location.hash = f.is_spam ? '#/spam' : '#/inbox';
    }) : null,
    incoming ? act(f.is_spam ? 'Not spam' : 'Mark as spam', async () => {
      await put('/accounts/self/faxes/' + f.id, {is_spam: !f.is_spam});
      toast(f.is_spam ? 'Moved to the inbox.' : 'Moved to spam.');
      reload();
    }) : null,
    !incoming && failed ? act('Send again', async () => {
      if (f.file) {
        await sendAgain(f);
        toast('Sent again: see the outbox.');
        location.hash = '#/outbox';
      } else {
        location.hash = '#/send/' + encodeURIComponent(f.to);
      }
    }, '.primary') : null,
    act('Delete', async () => {
      if (!confirm('Delete this fax for good?')) return;
      await del('/accounts/self/faxes/' + f.id);
      toast('The fax was deleted.');
      location.hash = incoming ? (f.is_spam ? '#/spam' : '#/inbox') : '#/sent';
    }, '.danger'));
  const title = incoming ? 'Fax from ' + (f.from || 'an unknown caller') : 'Fax to ' + f.to;
  const back = incoming ? (f.is_spam ? 'spam' : 'inbox') : 'sent';
  clear(main,
    h('p.back', {}, h('a', {href: '#/' + back}, '‹ Back to ' + back)),
    h('h1', {}, title),
    !incoming && failed && f.description ? h('p.error', {role: 'alert'}, 'Why it failed: ' + f.description) : null,
    details(f), actions, h('h2', {}, 'Pages'), thumbnails(f));
  return null;
}
