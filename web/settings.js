// Settings: personal access tokens, webhooks and their deliveries, the account's
// numbers, the spam blocklist, retry defaults and, for a corporate admin, members with
// their quotas and number assignments. Each section loads and saves on its own.
import {get, put, post, del} from './api.js';
import {h, clear, field, toast, localTime} from './dom.js';

function section(title, id) {
  const body = h('div.section-body');
  const el = h('section.card', {'aria-labelledby': id}, h('h2', {id}, title), body);
  return {el, body};
}

async function guard(fn) {
  try { await fn(); } catch (e) { toast(e.message, 'bad'); }
}

async function tokens(body) {
  const list = (await get('/tokens')).tokens;
  const name = field('Name', 'text', {required: true, maxlength: 100});
  const scope = field('Scope', 'select', {}, [
    {value: 'read,edit', label: 'Read and edit'}, {value: 'read', label: 'Read only'},
    {value: 'edit', label: 'Edit only'}]);
  const shown = h('div.secret', {'aria-live': 'polite'});
  const form = h('form.inline', {'aria-label': 'Create a token'}, name.row, scope.row,
    h('button.primary', {type: 'submit'}, 'Create token'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    guard(async () => {
      const t = await post('/tokens', {name: name.input.value,
        scopes: scope.input.value.split(',')});
      await tokens(body);
      body.querySelector('.secret').replaceWith(h('div.secret', {role: 'status'},
        h('p', {}, 'Copy the token now: it is shown only this once.'),
        h('code#new-token', {}, t.token)));
    });
  });
  clear(body, list.length ? h('table.list', {},
    h('caption.sr', {}, 'Access tokens'),
    h('thead', {}, h('tr', {}, ['Name', 'Scopes', 'Created', ''].map(x =>
      h('th', {scope: 'col'}, x || h('span.sr', {}, 'Actions'))))),
    h('tbody', {}, list.map(t => h('tr', {dataset: {id: t.id}},
      h('td', {}, t.name || '(no name)'), h('td', {}, t.scopes.join(', ')),
      h('td', {}, localTime(t.created)),
      h('td', {}, h('button.small.danger', {type: 'button',
        'aria-label': 'Revoke token ' + (t.name || t.id), onclick: () => guard(async () => {
          if (!confirm('Revoke this token? Programs using it stop working.')) return;
          await del('/tokens/' + t.id);
          toast('The token was revoked.');
          await tokens(body);
        })}, 'Revoke'))))))
    : h('p.empty', {}, 'No tokens.'), form, shown);
}

async function hooks(body) {
  const [received, sent] = await Promise.all(['fax_received', 'fax_sent'].map(ev =>
    get('/hooks?event=' + ev)));
  const list = [...received.data, ...sent.data];
  const target = field('Target URL', 'url', {required: true, placeholder: 'https://example.com/fax'});
  const event = field('Event', 'select', {}, [{value: 'fax_received', label: 'Fax received'},
    {value: 'fax_sent', label: 'Fax sent'}]);
  const form = h('form.inline', {'aria-label': 'Add a webhook'}, target.row, event.row,
    h('button.primary', {type: 'submit'}, 'Add webhook'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    guard(async () => {
      await post('/hooks', {target: target.input.value, event: event.input.value});
      toast('The webhook was added.');
      await hooks(body);
    });
  });
  const deliveries = h('div.deliveries', {'aria-live': 'polite'});
  const showDeliveries = (hk) => guard(async () => {
    const d = (await get('/hooks/' + hk.id + '/deliveries')).data;
    clear(deliveries, h('h3', {}, 'Recent deliveries to ' + hk.target),
      d.length ? h('table.list', {}, h('thead', {}, h('tr', {}, ['Created', 'Event', 'State',
        'Attempts', 'Last answer'].map(x => h('th', {scope: 'col'}, x)))),
      h('tbody', {}, d.map(x => h('tr', {}, h('td', {}, localTime(x.created)),
        h('td', {}, x.event), h('td', {}, x.state), h('td.num', {}, x.attempts),
        h('td', {}, x.last_status ? 'HTTP ' + x.last_status : x.last_error || '–')))))
        : h('p.empty', {}, 'Nothing delivered yet.'));
  });
  clear(body, list.length ? h('ul.plain', {}, list.map(hk => h('li', {},
    h('span', {}, hk.event + ' → ' + hk.target), ' ',
    h('button.small', {type: 'button', onclick: () => showDeliveries(hk)}, 'Deliveries'), ' ',
    h('button.small.danger', {type: 'button', 'aria-label': 'Delete webhook ' + hk.target,
      onclick: () => guard(async () => {
        await del('/hooks/' + hk.id);
        toast('The webhook was deleted.');
        await hooks(body);
      })}, 'Delete'))))
    : h('p.empty', {}, 'No webhooks.'), form, deliveries);
}

async function numbersAndMembers(body, me) {
  const nums = (await get('/accounts/self/numbers')).numbers || [];
  const admin = me.account_type === 'corporate_admin';
  const members = admin ? (await get('/accounts')).members : [];
  const nameOf = (uid) => {
    const m = members.find(x => x.uid === uid);
    return m ? (m.email || m.name || uid) : uid;
  };
  const rows = nums.map(n => {
    const assign = admin && members.length ? field('Assign ' + n.number + ' to', 'select', {},
      [{value: '', label: 'Choose a member'}, ...members.map(m => ({value: m.uid,
        label: m.email || m.name || m.uid}))]) : null;
    if (assign) {
      assign.input.addEventListener('change', () => guard(async () => {
        if (!assign.input.value) return;
        await put('/accounts/self/numbers/' + encodeURIComponent(n.number),
          {assigned_to: assign.input.value});
        toast('Assigned.');
        await numbersAndMembers(body, me);
      }));
    }
    return h('tr', {}, h('td', {}, n.number), h('td', {}, n.status),
      h('td', {}, (n.assigned_to || []).map(uid => h('span.chip', {}, nameOf(uid), admin ?
        h('button.small', {type: 'button', 'aria-label': 'Unassign ' + nameOf(uid),
          onclick: () => guard(async () => {
            await del('/accounts/' + uid + '/numbers/' + encodeURIComponent(n.number));
            await numbersAndMembers(body, me);
          })}, '×') : null))),
      admin ? h('td', {}, assign ? assign.row : '') : null);
  });
  const parts = [nums.length ? h('table.list', {}, h('caption.sr', {}, 'Numbers'),
    h('thead', {}, h('tr', {}, ['Number', 'Status', 'Assigned to', admin ? 'Assign' : null]
      .filter(Boolean).map(x => h('th', {scope: 'col'}, x)))), h('tbody', {}, rows))
    : h('p.empty', {}, 'This account has no fax number yet (an operator adds them).')];
  if (admin) {
    parts.push(h('h3', {}, 'Members'));
    const details = await Promise.all(members.map(m =>
      get('/accounts/self/member-details/' + m.uid).catch(() => ({quota: 0, role: ''}))));
    parts.push(members.length ? h('table.list', {}, h('thead', {}, h('tr', {},
      ['Member', 'Role', 'Pages per month (0 = no limit)', ''].map(x =>
        h('th', {scope: 'col'}, x || h('span.sr', {}, 'Actions'))))),
    h('tbody', {}, members.map((m, i) => {
      const role = h('input', {type: 'text', value: details[i].role || '',
        'aria-label': 'Role of ' + (m.email || m.uid)});
      const quota = h('input', {type: 'number', min: 0, value: details[i].quota || 0,
        'aria-label': 'Monthly page quota of ' + (m.email || m.uid)});
      return h('tr', {}, h('td', {}, m.email || m.name || m.uid), h('td', {}, role),
        h('td', {}, quota), h('td', {}, h('button.small', {type: 'button',
          onclick: () => guard(async () => {
            await put('/accounts/self/member-details/' + m.uid, {role: role.value,
              quota: Number(quota.value) || 0});
            toast('Saved.');
          })}, 'Save')));
    }))) : h('p.empty', {}, 'No members.'));
  }
  clear(body, parts);
}

async function spamAndRetry(body) {
  const acct = await get('/accounts/self');
  const s = acct.settings || {};
  const opt = s.options || {};
  const retry = (s.send_fax || {}).retry || {};
  const list = field('Blocked numbers (one per line, e.g. +12025550100)', 'textarea',
    {rows: 4});
  list.input.value = (opt.blocklist || []).join('\n');
  const anon = field('Treat faxes without a caller number as spam', 'checkbox',
    {checked: !!opt.refuse_anonymous});
  const count = field('Extra attempts per fax (0–3)', 'number', {min: 0, max: 3,
    value: retry.count ?? 0});
  const delay = field('Minutes between attempts (0–720)', 'number', {min: 0, max: 720,
    value: retry.delay ?? 10});
  const form = h('form', {'aria-label': 'Spam and retries'},
    h('h3', {}, 'Spam'), list.row, anon.row, h('h3', {}, 'Retry defaults'), count.row,
    delay.row, h('button.primary', {type: 'submit'}, 'Save'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    guard(async () => {
      const blocklist = list.input.value.split(/[\s,;]+/).filter(Boolean);
      await put('/accounts/self', {settings: {
        options: {blocklist, refuse_anonymous: anon.input.checked},
        send_fax: {retry: {count: Number(count.input.value) || 0,
          delay: Number(delay.input.value) || 0}}}});
      toast('Settings saved.');
    });
  });
  clear(body, form);
}

export async function showSettings(main, me) {
  const t = section('Access tokens', 'sec-tokens');
  const w = section('Webhooks', 'sec-hooks');
  const n = section(me.account_type === 'corporate_admin' ? 'Numbers and members' : 'Numbers',
    'sec-numbers');
  const p = section('Spam and retries', 'sec-spam');
  clear(main, h('h1', {}, 'Settings'), h('p', {}, 'Signed in as ' + me.email + '.'),
    t.el, w.el, n.el, p.el);
  await Promise.all([tokens(t.body), hooks(w.body), numbersAndMembers(n.body, me),
    spamAndRetry(p.body)].map(x => x.catch(e => toast(e.message, 'bad'))));
  return null;
}
