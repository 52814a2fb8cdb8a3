/**
 * A value from an untrusted file, shown in an error message: its JSON text, cut to `max` characters. A value too
 * deeply nested for JSON.stringify (a crafted header can nest 100,000 arrays) is described by its kind instead,
 * so building the message never throws.
 */
export function preview(value: unknown, max = 80): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = Array.isArray(value) ? '[…] (nested too deeply to show)' : '{…} (nested too deeply to show)';
  }
  if (text === undefined) return String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
