/**
 * `/asyncapi`: the AsyncAPI document as one HTML page, rendered here — no script, no CDN, one inline style
 * allowed by its hash. A table of channels (subject, direction, description), each message's payload as a
 * list of fields. Every text is escaped: descriptions come from code, but the page must not trust them.
 */
import { createHash } from 'node:crypto';
import type {
  AsyncApiChannel,
  AsyncApiDocument,
  AsyncApiMessage,
  AsyncApiOperation,
} from '../../contracts/index.ts';
import { schemaFields } from './schemaFields.ts';

const STYLE = `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2433; }
  header { background: #1d2433; color: #fff; padding: 12px 16px; }
  header a { color: #9ecbff; }
  main { padding: 12px 16px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border-bottom: 1px solid #dde; padding: 6px 8px; text-align: left; vertical-align: top; }
  th { background: #f3f4f8; }
  code { font: 12px/1.4 ui-monospace, monospace; }
  .dir { white-space: nowrap; }
  .fields td, .fields th { font-size: 12px; padding: 2px 6px; }
  .muted { color: #667; }
  details { margin: 4px 0; }
`;

/** The page's policy: nothing but its own inline style (by hash); no script, frame, form or base. */
export const ASYNCAPI_PAGE_CSP =
  `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; ` +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Text for HTML, element content and attribute values alike. Pure. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function direction(c: AsyncApiChannel): string {
  if (c.publish && c.subscribe) return 'both ways (internal)';
  return c.publish ? 'in: the service receives' : 'out: the service publishes';
}

function messagesOf(doc: AsyncApiDocument, op: AsyncApiOperation | undefined): AsyncApiMessage[] {
  if (!op) return [];
  const refs = 'oneOf' in op.message ? op.message.oneOf : [op.message];
  return refs.flatMap((r) => {
    const m = doc.components.messages[r.$ref.replace('#/components/messages/', '')];
    return m ? [m] : [];
  });
}

function messageHtml(m: AsyncApiMessage): string {
  const rows = schemaFields(m.payload)
    .map(
      (f) =>
        `<tr><td><code>${escapeHtml(f.name)}</code></td><td><code>${escapeHtml(f.type)}</code></td>` +
        `<td>${f.required ? 'required' : '<span class="muted">optional</span>'}</td>` +
        `<td>${escapeHtml(f.description ?? '')}</td></tr>`,
    )
    .join('');
  const headers = schemaFields(m.headers)
    .map((h) => `<code>${escapeHtml(h.name)}</code> (${h.required ? 'required' : 'optional'})`)
    .join(', ');
  return (
    `<details><summary><code>${escapeHtml(m.name)}</code> — ${escapeHtml(m.summary)}</summary>` +
    `<p class="muted">headers: ${headers || 'none'}</p>` +
    '<table class="fields"><thead><tr><th>field</th><th>type</th><th></th><th>description</th></tr></thead>' +
    `<tbody>${rows}</tbody></table></details>`
  );
}

function channelHtml(doc: AsyncApiDocument, subject: string, c: AsyncApiChannel): string {
  const messages = [...messagesOf(doc, c.publish), ...messagesOf(doc, c.subscribe)];
  const unique = messages.filter((m, i) => messages.findIndex((x) => x.name === m.name) === i);
  const stream = c['x-stream'] ? `<br><span class="muted">stream ${escapeHtml(c['x-stream'])}</span>` : '';
  return (
    `<tr><td><code>${escapeHtml(subject)}</code>${stream}</td><td class="dir">${escapeHtml(direction(c))}</td>` +
    `<td>${escapeHtml(c.description)}</td><td>${unique.map(messageHtml).join('')}</td></tr>`
  );
}

/** The whole page for `doc`. Pure. */
export function renderAsyncApiPage(doc: AsyncApiDocument): string {
  const title = `${doc.info.title} ${doc.info.version} — NATS contract`;
  const rows = Object.entries(doc.channels)
    .map(([subject, c]) => channelHtml(doc, subject, c))
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><header><strong>${escapeHtml(title)}</strong> · AsyncAPI ${escapeHtml(doc.asyncapi)} ·
<a href="/asyncapi.json">asyncapi.json</a></header>
<main><p>${escapeHtml(doc.info.description)}</p>
<table><thead><tr><th>channel</th><th>direction</th><th>description</th><th>messages</th></tr></thead>
<tbody>
${rows}
</tbody></table></main></body></html>
`;
}
