// Small DOM helpers shared by every module: element builder, escaping, events.

// h('div', {class: 'x', onclick: fn, dataset: {a: 1}}, child, 'text', [more]) builds an element.
// Attributes whose value is null/false are skipped; true sets an empty attribute.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'html') el.innerHTML = v;
      else if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

// True when a key press happened inside something the user types into, so global
// shortcuts ("/", "?") must not steal it.
export function isTyping(ev) {
  const t = ev.target;
  if (!t || !t.tagName) return false;
  return t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName);
}

// Offer a Blob to the user as a file download.
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, style: 'display:none' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Close a floating element when the user clicks elsewhere (except on `anchor`, the button
// that toggles it) or presses Escape. Returns a function that removes the listeners.
export function dismissable(el, close, anchor) {
  const onDown = (ev) => { if (!el.contains(ev.target) && !(anchor && anchor.contains(ev.target))) close(); };
  const onKey = (ev) => { if (ev.key === 'Escape') { ev.stopPropagation(); close(); } };
  setTimeout(() => document.addEventListener('mousedown', onDown), 0);
  document.addEventListener('keydown', onKey, true);
  return () => {
    document.removeEventListener('mousedown', onDown);
    document.removeEventListener('keydown', onKey, true);
  };
}

// Show a popover under its anchor, inside the viewport (the popover is put in <body>).
export function placeBelow(pop, anchor) {
  document.body.append(pop);
  pop.style.position = 'fixed';
  const r = anchor.getBoundingClientRect();
  const w = pop.offsetWidth, hgt = pop.offsetHeight;
  let left = r.left;
  if (left + w > window.innerWidth - 8) left = Math.max(8, r.right - w);
  let top = r.bottom + 4;
  if (top + hgt > window.innerHeight - 8 && r.top - hgt - 4 > 8) top = r.top - hgt - 4;
  pop.style.left = `${left}px`;
  pop.style.top = `${top}px`;
}
