// S3 orders keys by their UTF-8 bytes; JS compares UTF-16 code units, which differs only for characters
// above U+FFFF (surrogates) against U+E000..U+FFFF. This compares as UTF-8 would, without encoding.

function fix(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

export function cmpKey(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fix(x) - fix(y);
  }
  return a.length - b.length;
}
