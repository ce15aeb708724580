/** Longest piece of the parsed text an error message quotes (the longest model-config field name). */
export const MAX_EXCERPT = 32;

/**
 * A piece of the parsed text as an error message may quote it: cut to a short token and with
 * control characters escaped. Load errors reach every client through the repository index, so a
 * parse error must say where and what was expected without echoing a file's content (a config
 * that is really a secrets file, say, reached through a symlink or a typo).
 */
export function excerpt(text: string): string {
  const chars = [...text];
  const shown = chars.length > MAX_EXCERPT ? `${chars.slice(0, MAX_EXCERPT).join('')}...` : text;
  return shown.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
