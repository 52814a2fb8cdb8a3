/**
 * The GPT-2 style reversible byte <-> printable-character mapping used by byte-level BPE.
 *
 * Bytes that are already visible, non-space Latin-1 characters ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
 * themselves; the remaining 68 bytes (controls, space, DEL, NBSP, soft hyphen, ...) are assigned, in byte
 * order, to the code points U+0100, U+0101, ... So every byte becomes exactly one BMP UTF-16 code unit.
 */

function isSelfMapped(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

function buildTables(): { byteToChar: string[]; charToByte: Map<number, number> } {
  const byteToChar = new Array<string>(256);
  const charToByte = new Map<number, number>();
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const cp = isSelfMapped(b) ? b : next++;
    byteToChar[b] = String.fromCharCode(cp);
    charToByte.set(cp, b);
  }
  return { byteToChar, charToByte };
}

const TABLES = buildTables();

/** `BYTE_TO_CHAR[b]` is the one-character string that stands for byte `b`. */
export const BYTE_TO_CHAR: readonly string[] = TABLES.byteToChar;
/** Code point (UTF-16 unit) of a mapped character -> the byte it stands for. */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = TABLES.charToByte;

const utf8Encoder = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** UTF-8 encodes `text` and spells every byte with its mapped character. */
export function bytesToMappedString(text: string): string {
  const bytes = utf8Encoder.encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/**
 * Appends the bytes a token stands for, the way the ByteLevel decoder does: if every character of the
 * token is a mapped byte character, those bytes; otherwise (e.g. an added token containing a real space
 * or a character outside the map) the token's own UTF-8 bytes.
 */
export function appendTokenBytes(token: string, out: number[]): void {
  const start = out.length;
  for (let i = 0; i < token.length; i++) {
    const b = CHAR_TO_BYTE.get(token.charCodeAt(i));
    if (b === undefined) {
      out.length = start;
      const raw = utf8Encoder.encode(token);
      for (let j = 0; j < raw.length; j++) out.push(raw[j]);
      return;
    }
    out.push(b);
  }
}
