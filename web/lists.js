// Inbox, Sent, Spam (finished fax records) and Outbox (faxes still converting or
// sending): tables with paging and a date filter. While anything is in the outbox the
// page polls every 2 s, so statuses move on screen without a reload; otherwise every 15 s.
import {get, del} from './api.js';
import {h, clear, field, toast, localTime, apiTime} from './dom.js';
import {statusWords, statusKind} from './status.js';

const PAGE = 25;
const HEADINGS = {inbox: 'Inbox', sent: 'Sent', spam: 'Spam', outbox: 'Outbox'};

export function statusCell(status, direction) {
  return h('span.status.' + statusKind(status), {title: status}, statusWords(status, direction));
}

function faxRow(f, kind) {
  const unread = f.direction === 'incoming' && !f.is_read;
  const who = f.direction === 'incoming' ? f.from || 'Unknown caller' : f.to;
  const when = f.start_time || f.submit_time || f.last_update;
  return h('tr' + (unread ? '.unread' : ''), {dataset: {id: f.id}},
    h('td', {}, unread ? h('span.sr', {}, 'Unread: ') : null,
      h('a', {href: '#/fax/' + f.id}, who)),
    h('td.num', {}, f.pages),
    h('td', {}, h('time', {datetime: when}, localTime(when))),
    h('td', {}, statusCell(f.status, f.direction)));
}

function outboxRow(o, refresh) {
  const cancel = h('button.small', {type: 'button', 'aria-label': 'Cancel the fax to ' +
    o.to.join(', ')}, 'Cancel');
  cancel.addEventListener('click', async () => {
    if (!confirm('Cancel this fax?')) return;
    try {
      await del('/accounts/self/outbox/' + o.id);
      toast('The fax was cancelled.');
    } catch (e) { toast(e.message, 'bad'); }
    refresh();
  });
  const when = o.submit_time.slice(0, 19);
  return h('tr', {dataset: {id: o.id}},
    h('td', {}, o.to.join(', ')),
    h('td.num', {}, o.page_count || '–'),
    h('td', {}, h('time', {datetime: when}, localTime(when))),
    h('td', {}, statusCell(o.status, 'outgoing')),
    h('td', {}, o.status === 'sending' ? '' : cancel));
}

function table(kind, rows) {
  const whoHead = kind === 'inbox' || kind === 'spam' ? 'From' : 'To';
  const heads = [whoHead, 'Pages', kind === 'outbox' ? 'Submitted' : 'Time', 'Status'];
  if (kind === 'outbox') heads.push(h('span.sr', {}, 'Actions'));
  return h('table.list', {},
    h('caption.sr', {}, HEADINGS[kind]),
    h('thead', {}, h('tr', {}, heads.map(x => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows));
}

// Local date (YYYY-MM-DD from a date input) at local midnight, as the API's UTC text.
function dayStart(value, addDays = 0) {
  const [y, m, d] = value.split('-').map(Number);
  return apiTime(new Date(y, m - 1, d + addDays));
}

export async function showList(main, kind) {
  const state = {before: null, newer: [], from: '', to: '', last: ''};
  const body = h('div.list-body', {'aria-live': 'polite'});
  const controls = h('div.pager');
  let timer = null;
  let gone = false;

  const fromF = field('From date', 'date');
  const toF = field('To date', 'date');
  const filter = h('form.filter', {'aria-label': 'Filter by date'}, fromF.row, toF.row,
    h('button', {type: 'submit'}, 'Filter'),
    h('button', {type: 'reset'}, 'Clear'));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    Object.assign(state, {from: fromF.input.value, to: toF.input.value, before: null, newer: []});
    load();
  });
  filter.addEventListener('reset', () => {
    Object.assign(state, {from: '', to: '', before: null, newer: []});
    setTimeout(load);
  });

  clear(main, h('h1', {}, HEADINGS[kind]), kind === 'outbox' ? null : filter, body, controls);

  async function fetchRows() {
    if (kind === 'outbox') return (await get('/accounts/self/outbox')).records;
    const q = new URLSearchParams({category: kind, limit: String(PAGE)});
    const before = state.before || (state.to ? dayStart(state.to, 1) : null);
    if (before) q.set('before', before);
    if (state.from) q.set('after', dayStart(state.from));
    return (await get('/accounts/self/faxes?' + q)).data.records;
  }

  async function load() {
    let rows, outboxBusy = kind === 'outbox';
    try {
      rows = await fetchRows();
      if (kind !== 'outbox') outboxBusy = (await get('/accounts/self/outbox')).records.length > 0;
    } catch (e) {
      if (!gone) clear(body, h('p.error', {role: 'alert'}, e.message));
      return schedule(false);
    }
    if (gone) return;
    const text = JSON.stringify(rows);
    if (text !== state.last) { // re-render only on change, so focus and scroll stay put
      state.last = text;
      render(rows);
    }
    if (kind === 'inbox' && !state.before) updateUnread(rows);
    schedule(outboxBusy);
  }

  function render(rows) {
    if (!rows.length) {
      clear(body, h('p.empty', {}, kind === 'outbox' ? 'Nothing is waiting to be sent.'
        : 'No faxes here' + (state.from || state.to ? ' in these dates.' : ' yet.')));
    } else {
      clear(body, table(kind, rows.map(r => kind === 'outbox' ? outboxRow(r, load)
        : faxRow(r, kind))));
    }
    clear(controls);
    if (kind === 'outbox') return;
    if (state.newer.length) {
      controls.append(h('button', {type: 'button', onclick: () => {
        state.before = state.newer.pop();
        load();
      }}, '‹ Newer'));
    }
    if (rows.length === PAGE) {
      const last = rows[rows.length - 1];
      controls.append(h('button', {type: 'button', onclick: () => {
        state.newer.push(state.before);
        state.before = last.start_time || last.submit_time || last.last_update;
        load();
      }}, 'Older ›'));
    }
  }

  function schedule(busy) {
    clearTimeout(timer);
    if (!gone) timer = setTimeout(load, busy ? 2000 : 15000);
  }

  await load();
  return () => { gone = true; clearTimeout(timer); };
}

export function updateUnread(rows) {
  const n = rows.filter(f => f.direction === 'incoming' && !f.is_read).length;
  const badge = document.getElementById('unread');
  badge.hidden = n === 0;
  badge.textContent = n ? String(n) + (n === PAGE ? '+' : '') : '';
  badge.setAttribute('aria-label', n + ' unread');
}
