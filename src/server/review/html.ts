/**
 * The one way the review page makes HTML: the `h` tagged template escapes every value put
 * into it, unless the value is HTML `h` made already. Record values never reach a page
 * any other way.
 */
import { createHash } from 'node:crypto';

const SAFE = Symbol('safe html');

export interface Html {
  readonly [SAFE]: true;
  readonly text: string;
}

const safe = (text: string): Html => ({ [SAFE]: true, text });
const isHtml = (v: unknown): v is Html => typeof v === 'object' && v !== null && (v as Html)[SAFE] === true;

/** Escape text for HTML content and quoted attribute values. */
export function esc(v: unknown): string {
  const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function part(v: unknown): string {
  if (isHtml(v)) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === false) return '';
  return esc(v);
}

/** HTML from a template: every interpolated value escaped (arrays joined, `false` left out). */
export function h(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1];
  return safe(out);
}

export const CSS = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
body { margin: 0; }
header { background: #233044; color: #fff; padding: .6rem 1.2rem; display: flex; gap: 1.2rem; align-items: center; flex-wrap: wrap; }
header a { color: #fff; }
header form { margin-left: auto; }
main { padding: 1rem 1.2rem; max-width: 80rem; }
h1 { font-size: 1.35rem; margin: .3rem 0 .8rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .5rem; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: .92rem; }
th, td { border: 1px solid #d5d9e0; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eceff3; }
td.diff { background: #fff3cd; }
td.diff::before { content: "≠ "; color: #8a5a00; font-weight: bold; }
.from { display: block; color: #5b6470; font-size: .8rem; }
.flash { padding: .6rem .8rem; border-radius: 4px; margin-bottom: 1rem; background: #e3f2e6; border: 1px solid #9ccfa6; }
.flash.error { background: #fde8e8; border-color: #e0a0a0; }
.why { background: #fff; border-left: 4px solid #233044; padding: .5rem .8rem; margin: .5rem 0 1rem; }
.actions { display: flex; gap: .6rem; flex-wrap: wrap; margin: 1rem 0; }
button, select, input { font: inherit; padding: .35rem .7rem; }
button { border: 1px solid #233044; background: #233044; color: #fff; border-radius: 4px; cursor: pointer; }
button.secondary { background: #fff; color: #233044; }
:focus-visible { outline: 3px solid #f0a020; outline-offset: 2px; }
label { margin-right: .4rem; }
.filters { display: flex; gap: .8rem; align-items: end; flex-wrap: wrap; margin-bottom: .8rem; }
.counts { color: #3d4652; margin: .4rem 0 .8rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`;

/** For the Content-Security-Policy: the one inline style sheet, allowed by its hash. */
export const CSS_HASH = `sha256-${createHash('sha256').update(CSS).digest('base64')}`;

export function page(title: string, body: Html, opts: { csrf?: string; flash?: { text: string; error?: boolean } } = {}): string {
  const nav = opts.csrf
    ? h`<header><strong>member-sync review</strong><a href="/review">Conflicts</a><a href="/review/search">Find a member</a>
<form method="post" action="/review/sign-out"><input type="hidden" name="csrf" value="${opts.csrf}"><button class="secondary" type="submit">Sign out</button></form></header>`
    : h`<header><strong>member-sync review</strong></header>`;
  const flash = opts.flash ? h`<p class="flash${opts.flash.error ? ' error' : ''}" role="status">${opts.flash.text}</p>` : '';
  return h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · member-sync review</title><style>${safeCss()}</style></head>
<body>${nav}<main>${flash}${body}</main></body></html>`.text;
}

const safeCss = (): Html => safe(CSS);
