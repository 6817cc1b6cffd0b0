// Small DOM helpers. Text always goes in as text nodes (never as HTML), so nothing a
// fax record or a file name holds can become markup.

// h('tag.class#id', {attr: value, onclick: fn}, children...) builds an element.
export function h(spec, attrs = {}, ...children) {
  const m = spec.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m ? m[1] : spec);
  if (m) {
    for (const part of m[2].match(/[.#][\w-]+/g) || []) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;
// A labelled form field: returns {row, input}. kind: input type, 'select' or 'textarea'.
export function field(label, kind = 'text', attrs = {}, options = []) {
  const id = 'f' + (++fieldSeq);
  let input;
  if (kind === 'select') {
    input = h('select', {id, ...attrs}, options.map(o =>
      h('option', {value: o.value, selected: o.selected}, o.label)));
  } else if (kind === 'textarea') {
    input = h('textarea', {id, ...attrs});
  } else {
    input = h('input', {id, type: kind, ...attrs});
  }
  const row = kind === 'checkbox'
    ? h('div.field.check', {}, input, h('label', {for: id}, label))
    : h('div.field', {}, h('label', {for: id}, label), input);
  return {row, input};
}

let toastTimer;
export function toast(message, kind = 'info') {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.className = 'show ' + kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = ''; }, 5000);
}

// "2026-05-01 10:00:00" (UTC, as the API writes it) shown in the browser's time zone.
export function localTime(utc) {
  if (!utc) return '';
  const d = new Date(utc.replace(' ', 'T').slice(0, 19) + 'Z');
  if (isNaN(d)) return utc;
  return d.toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});
}

// A Date as the API's "YYYY-MM-DD HH:MM:SS" in UTC.
export function apiTime(date) {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}
