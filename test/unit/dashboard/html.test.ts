import { describe, expect, it } from 'vitest';
import { escapeHtml, html, toText } from '../../../shared/dashboard/html.js';

describe('html templates', () => {
  it('escapes every interpolated value, so stored text cannot become markup', () => {
    const stored = `<script>alert("x")</script> & 'quoted'`;
    expect(toText(html`<td title="${stored}">${stored}</td>`)).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;</td>',
    );
  });

  it('places markup made by html as it is, and lists of it in order', () => {
    const cells = ['a<b', 'c'].map((text) => html`<td>${text}</td>`);
    expect(toText(html`<tr>${cells}</tr>`)).toBe('<tr><td>a&lt;b</td><td>c</td></tr>');
  });

  it('prints nothing for null, undefined and false, and numbers as text', () => {
    expect(toText(html`${null}${undefined}${false}${0}${12.5}`)).toBe('012.5');
  });

  it('escapes the five characters that matter in content and quoted attributes', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });
});
