/**
 * HTML from template strings, escaped by default: every value interpolated into `html`…`` is
 * escaped unless it is itself markup made by `html` (or a list of such). No framework, no
 * `innerHTML` on the client: the dashboard is server-rendered, and this is the only way it
 * writes a page.
 */

const MARKUP = Symbol('markup');

/** Markup that is already safe to place in a page (made by `html`, or a constant of ours). */
export interface Markup {
  readonly [MARKUP]: true;
  readonly text: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for an element's content or a quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function markup(text: string): Markup {
  return { [MARKUP]: true, text };
}

function isMarkup(value: unknown): value is Markup {
  return typeof value === 'object' && value !== null && (value as { [MARKUP]?: unknown })[MARKUP] === true;
}

/** What may be placed in a template: text and numbers are escaped; null, undefined and false print nothing. */
export type Interpolated = Markup | string | number | boolean | null | undefined | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === null || value === undefined || value === false) return '';
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number' || typeof value === 'boolean') return escapeHtml(String(value));
  if (isMarkup(value)) return value.text;
  return value.map(render).join('');
}

/** A template of markup: the literal parts are ours, every interpolated value is escaped. */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Markup {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return markup(out);
}

/** A constant of ours (the stylesheet) as markup: never for text that came from a request or the store. */
export function constant(text: string): Markup {
  return markup(text);
}

/** A page's markup as the text to send. */
export function toText(page: Markup): string {
  return page.text;
}
