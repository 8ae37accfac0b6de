// JSON for metadata calls on the wire: Buffers (xattr values, lock records) travel as base64.
export function encode(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && x.type === 'Buffer' && Array.isArray(x.data) ? { $b: Buffer.from(x.data).toString('base64') } : x));
}

export function decode(s: string): unknown {
  return JSON.parse(s, (_k, x) => (x && typeof x === 'object' && typeof x.$b === 'string' ? Buffer.from(x.$b, 'base64') : x));
}
