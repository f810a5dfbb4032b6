/**
 * Escaping for text that goes into the HTML/SVG report. Everything that comes from a run (stderr,
 * stacks, check details, even the scenario name) is untrusted: a server that prints `<script>`
 * must not be able to script the report page.
 */

const replacements: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for element content and for quoted attribute values alike. */
export function escapeHtml(text: string): string {
  // Control characters other than tab/newline/CR are not allowed in HTML text; show them, don't drop them.
  return text
    .replace(/[&<>"']/g, (c) => replacements[c] ?? c)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
