// Send a fax: documents (picked or dropped, checked before upload), recipients, an
// optional cover page, send time and retries; a preview converts everything without
// dialling and shows the pages. After sending, the outbox shows the fax moving on.
import {get, post, upload} from './api.js';
import {h, clear, field, toast} from './dom.js';

const MAX_FILES = 10;
const MAX_BYTES = 30 * 1024 * 1024;
const TYPES = ['pdf', 'doc', 'docx', 'xls', 'xlsx', 'odt', 'ods', 'rtf', 'txt', 'jpg', 'jpeg',
  'png', 'tif', 'tiff'];
const FLAGS = [['urgent', 'Urgent'], ['for_review', 'For review'],
  ['please_reply', 'Please reply'], ['confidential', 'Confidential']];

const mb = (n) => n < 1048576 ? Math.max(1, Math.round(n / 1024)) + ' KB'
  : (n / 1048576).toFixed(1) + ' MB';

// Problems with the chosen files, in words, before anything is uploaded.
export function checkFiles(files) {
  const problems = [];
  if (files.length > MAX_FILES) problems.push('At most ' + MAX_FILES + ' files per fax (' + files.length + ' chosen).');
  let total = 0;
  for (const f of files) {
    const ext = (f.name.split('.').pop() || '').toLowerCase();
    if (!TYPES.includes(ext)) problems.push(f.name + ': this type of file cannot be faxed (use ' + TYPES.join(', ') + ').');
    if (f.size === 0) problems.push(f.name + ': the file is empty.');
    if (f.size > MAX_BYTES) problems.push(f.name + ' is ' + mb(f.size) + '; the limit is 30 MB.');
    total += f.size;
  }
  if (total > MAX_BYTES && files.length > 1) problems.push('Together the files are ' + mb(total) + '; the limit is 30 MB.');
  return problems;
}

// "+1 202 555 0100, +44…" → ["+12025550100", …]
function parseRecipients(text) {
  return text.split(/[,;\n]+/).map(s => s.replace(/[\s().-]/g, '')).filter(Boolean);
}

// A local datetime-local value as "YYYY-MM-DD HH:MM:SS +HHMM".
function sendTime(value) {
  const d = new Date(value);
  const off = -d.getTimezoneOffset();
  const p = (n) => String(Math.abs(n)).padStart(2, '0');
  const zone = (off >= 0 ? '+' : '-') + p(Math.trunc(off / 60)) + p(off % 60);
  return value.replace('T', ' ').slice(0, 16) + ':00 ' + zone;
}

export async function showSend(main, presetTo) {
  const [numbers, account] = await Promise.all([get('/accounts/self/numbers'),
    get('/accounts/self')]);
  const own = (numbers.numbers || []).map(n => n.number);
  let files = [];
  let uploaded = null; // paths of the current files, once uploaded

  const fileInput = h('input#send-files', {type: 'file', multiple: true,
    accept: TYPES.map(t => '.' + t).join(',')});
  const fileList = h('ul.files', {'aria-live': 'polite'});
  const fileErrors = h('div.error#file-errors', {role: 'alert'});
  const drop = h('div.drop', {},
    h('label', {for: 'send-files'}, 'Documents (up to 10 files, 30 MB in all: PDF, Word, Excel, ' +
      'OpenDocument, RTF, text, JPEG, PNG, TIFF)'),
    fileInput, h('p.hint', {}, 'or drop files here'), fileList, fileErrors);

  function setFiles(list) {
    files = list;
    uploaded = null;
    clear(fileList, files.map((f, i) => h('li', {}, f.name + ' (' + mb(f.size) + ') ',
      h('button.small', {type: 'button', 'aria-label': 'Remove ' + f.name,
        onclick: () => setFiles(files.filter((_, j) => j !== i))}, 'Remove'))));
    clear(fileErrors, checkFiles(files).map(p => h('p', {}, p)));
    clear(previewBox);
  }
  fileInput.addEventListener('change', () => setFiles([...files, ...fileInput.files]));
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    setFiles([...files, ...ev.dataTransfer.files]);
  });

  const from = field('From number', 'select', {}, own.length
    ? own.map(n => ({value: n, label: n})) : [{value: '', label: 'This account has no number'}]);
  const to = field('To (fax numbers, separated by commas)', 'text',
    {autocomplete: 'off', placeholder: '+12025550100', value: presetTo || '', required: true});

  const useCover = field('Add a cover page', 'checkbox');
  const cTo = field('Cover: to', 'text');
  const cFrom = field('Cover: from', 'text', {value: [account.name, account.lastname].filter(Boolean).join(' ')});
  const cSubject = field('Cover: subject', 'text');
  const cMessage = field('Cover: message', 'textarea', {rows: 4});
  const cFlags = FLAGS.map(([v, label]) => ({v, ...field(label, 'checkbox', {value: v})}));
  const cover = h('fieldset.cover', {hidden: true}, h('legend', {}, 'Cover page'),
    cTo.row, cFrom.row, cSubject.row, cMessage.row,
    h('div.flags', {}, cFlags.map(f => f.row)));
  useCover.input.addEventListener('change', () => { cover.hidden = !useCover.input.checked; });

  const retryDefault = ((account.settings || {}).send_fax || {}).retry || {};
  const when = field('Send at (empty = now)', 'datetime-local');
  const retries = field('Extra attempts if the line is busy or fails', 'number',
    {min: 0, max: 3, value: retryDefault.count ?? 0});
  const delay = field('Minutes between attempts', 'number', {min: 0, max: 720,
    value: retryDefault.delay ?? 10});

  const previewBox = h('div.preview', {'aria-live': 'polite'});
  const status = h('p.status-line', {role: 'status'});
  const previewBtn = h('button', {type: 'button'}, 'Preview');
  const sendBtn = h('button.primary', {type: 'submit'}, 'Send fax');
  const form = h('form.send', {'aria-labelledby': 'send-title'},
    h('h1#send-title', {}, 'Send a fax'), drop, from.row, to.row, useCover.row, cover,
    h('details', {}, h('summary', {}, 'Schedule and retries'), when.row, retries.row, delay.row),
    h('div.actions', {}, previewBtn, sendBtn), status, previewBox);

  function coverPage() {
    if (!useCover.input.checked) return undefined;
    return {name_to: cTo.input.value, name_from: cFrom.input.value, subject: cSubject.input.value,
      message: cMessage.input.value, flags: cFlags.filter(f => f.input.checked).map(f => f.v)};
  }

  async function ensureUploaded() {
    const problems = checkFiles(files);
    if (!files.length) problems.push('Choose at least one document.');
    if (problems.length) {
      clear(fileErrors, problems.map(p => h('p', {}, p)));
      fileInput.focus();
      return null;
    }
    if (!uploaded) {
      const paths = [];
      for (const [i, f] of files.entries()) {
        status.textContent = 'Uploading ' + (i + 1) + ' of ' + files.length + ': ' + f.name + '…';
        paths.push(await upload(f));
      }
      uploaded = paths;
    }
    return uploaded;
  }

  async function busy(fn) {
    previewBtn.disabled = sendBtn.disabled = true;
    try { await fn(); } catch (e) { status.textContent = ''; toast(e.message, 'bad');
      clear(fileErrors, h('p', {}, e.message)); }
    previewBtn.disabled = sendBtn.disabled = false;
  }

  previewBtn.addEventListener('click', () => busy(async () => {
    const paths = await ensureUploaded();
    if (!paths) return;
    status.textContent = 'Converting for the preview…';
    const p = await post('/accounts/self/preview', {files: paths, cover_page: coverPage(),
      thumbnails: 20, width: 160});
    status.textContent = '';
    if (!p.ok) {
      clear(previewBox, h('p.error', {role: 'alert', title: p.status},
        'This cannot be faxed: ' + p.description));
      return;
    }
    clear(previewBox, h('h2', {}, 'Preview: ' + p.pages + (p.pages === 1 ? ' page' : ' pages')),
      h('ul.thumbs', {'aria-label': 'Preview pages'}, p.thumbnails.map((src, i) =>
        h('li', {}, h('img', {src, alt: 'Preview of page ' + (i + 1), width: 160}),
          h('span', {}, 'Page ' + (i + 1))))),
      p.thumbnails_truncated ? h('p.hint', {}, 'Only the first pages are shown.') : null);
  }));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(async () => {
      const dests = parseRecipients(to.input.value);
      if (!dests.length) {
        toast('Enter at least one fax number.', 'bad');
        to.input.focus();
        return;
      }
      const paths = await ensureUploaded();
      if (!paths) return;
      status.textContent = 'Sending…';
      const body = {from: from.input.value || 'no_number', to: dests, files: paths,
        return_ids: true, options: {retry: {count: Number(retries.input.value) || 0,
          delay: Number(delay.input.value) || 0}}};
      const c = coverPage();
      if (c) body.cover_page = c;
      if (when.input.value) body.send_time = sendTime(when.input.value);
      await post('/accounts/self/outbox', body);
      toast('The fax is on its way: follow it here.');
      location.hash = '#/outbox';
    });
  });

  clear(main, form);
  return null;
}
