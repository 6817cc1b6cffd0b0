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

function faxRow(f) {
  const unread = f.direction === 'incoming' && !f.is_read;
  const who = f.direction === 'incoming' ? f.from || 'Unknown caller' : f.to;
  const when = sortTime(f);
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
    h('td', {}, statusCell(o.status, 'outgoing'), o.send_time && o.status !== 'sending'
      ? h('span.hint', {}, ' for ' + localTime(o.send_time.slice(0, 19))) : null),
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

const sortTime = (f) => f.start_time || f.submit_time || f.last_update;

// Where the page after `rows` starts: before the second after the last row's, leaving
// out the rows of that second already shown (on this page or the ones before).
function olderPage(rows, current) {
  const t = sortTime(rows[rows.length - 1]);
  const before = apiTime(new Date(Date.parse(t.replace(' ', 'T') + 'Z') + 1000));
  const skip = rows.filter(r => sortTime(r) === t).map(r => r.id);
  // Still in the same second as the page before: leave its rows out too.
  if (current && current.before === before) skip.push(...current.skip);
  return {before, skip};
}

// Local date (YYYY-MM-DD from a date input) at local midnight, as the API's UTC text.
function dayStart(value, addDays = 0) {
  const [y, m, d] = value.split('-').map(Number);
  return apiTime(new Date(y, m - 1, d + addDays));
}

export async function showList(main, kind) {
  // Paging walks back in time: `page` is where the shown page starts (null = newest):
  // {before, skip}, with the ids already shown at that second to leave out, because
  // many faxes can share one second and the API's `before` is exclusive.
  const state = {page: null, newer: [], from: '', to: '', last: '', more: false};
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
    Object.assign(state, {from: fromF.input.value, to: toF.input.value, page: null, newer: []});
    load();
  });
  filter.addEventListener('reset', () => {
    Object.assign(state, {from: '', to: '', page: null, newer: []});
    setTimeout(load);
  });

  clear(main, h('h1', {}, HEADINGS[kind]), kind === 'outbox' ? null : filter, body, controls);

  async function fetchRows() {
    if (kind === 'outbox') return (await get('/accounts/self/outbox')).records;
    const skip = state.page ? state.page.skip : [];
    const q = new URLSearchParams({category: kind, limit: String(PAGE + 1 + skip.length)});
    const before = state.page ? state.page.before : (state.to ? dayStart(state.to, 1) : null);
    if (before) q.set('before', before);
    if (state.from) q.set('after', dayStart(state.from));
    const rows = (await get('/accounts/self/faxes?' + q)).data.records
      .filter(r => !skip.includes(r.id));
    state.more = rows.length > PAGE;
    return rows.slice(0, PAGE);
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
    if (kind === 'inbox' && !state.page) updateUnread(rows);
    schedule(outboxBusy);
  }

  function render(rows) {
    if (!rows.length) {
      clear(body, h('p.empty', {}, kind === 'outbox' ? 'Nothing is waiting to be sent.'
        : 'No faxes here' + (state.from || state.to ? ' in these dates.' : ' yet.')));
    } else {
      clear(body, table(kind, rows.map(r => kind === 'outbox' ? outboxRow(r, load)
        : faxRow(r))));
    }
    clear(controls);
    if (kind === 'outbox') return;
    if (state.newer.length) {
      controls.append(h('button', {type: 'button', onclick: () => {
        state.page = state.newer.pop();
        load();
      }}, '‹ Newer'));
    }
    if (state.more) {
      controls.append(h('button', {type: 'button', onclick: () => {
        state.newer.push(state.page);
        state.page = olderPage(rows, state.page);
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
