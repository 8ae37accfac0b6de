// JSON for metadata calls on the wire: Buffers (xattr values, lock records) travel as base64.
export function encode(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && x.type === 'Buffer' && Array.isArray(x.data) ? { $b: Buffer.from(x.data).toString('base64') } : x));
}

/**
 * The reviver runs only when a Buffer is in the text: JSON.parse with a reviver calls it for every key, which
 * made decoding a listing page (tens of keys per entry) the largest CPU cost of a walk through a meta-server.
 */
export function decode(s: string): unknown {
  if (!s.includes('"$b"')) return JSON.parse(s);
  return JSON.parse(s, (_k, x) => (x && typeof x === 'object' && typeof x.$b === 'string' ? Buffer.from(x.$b, 'base64') : x));
}
