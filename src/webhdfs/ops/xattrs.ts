// The xattr ops. Hadoop's names carry a namespace (user., trusted., system., security., raw.) as Linux's do;
// values travel encoded: "text" in quotes, 0x hex or 0s base64 (XAttrCodec).
import { XATTR_CREATE, XATTR_REPLACE } from '../../meta/types.js';
import { requiredParam, sendEmpty, sendJson, type Call } from '../call.js';
import { badParam, hdfsErr } from '../errors.js';

const NAMESPACES = /^(user|trusted|system|security|raw)\../;

function checkName(name: string): string {
  if (!NAMESPACES.test(name)) throw hdfsErr('IllegalArgumentException', "An XAttr name must be prefixed with user/trusted/security/system/raw, followed by a '.'");
  return name;
}

export function decodeValue(v: string): Buffer {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return Buffer.from(v.slice(1, -1), 'utf8');
  if (/^0x/i.test(v)) {
    if (!/^[0-9a-f]*$/i.test(v.slice(2)) || v.length % 2) throw badParam('xattr.value', v, 'bad hex');
    return Buffer.from(v.slice(2), 'hex');
  }
  if (/^0s/i.test(v)) return Buffer.from(v.slice(2), 'base64');
  return Buffer.from(v, 'utf8');
}

export function encodeValue(b: Buffer, encoding: string): string {
  if (encoding === 'HEX') return '0x' + b.toString('hex');
  if (encoding === 'BASE64') return '0s' + b.toString('base64');
  return JSON.stringify(b.toString('utf8'));
}

function encodingParam(c: Call): string {
  const e = (c.query.get('encoding') ?? 'TEXT').toUpperCase();
  if (!['TEXT', 'HEX', 'BASE64'].includes(e)) throw badParam('encoding', c.query.get('encoding'), 'expected text, hex or base64');
  return e;
}

export async function getXattrs(c: Call): Promise<void> {
  const encoding = encodingParam(c);
  const ino = (await c.view.resolve(c.path, true)).inode;
  const asked = c.query.getAll('xattr.name').filter(Boolean).map(checkName);
  const names = asked.length ? asked : await c.view.listxattr(ino);
  const out = [];
  for (const name of names) {
    try {
      out.push({ name, value: encodeValue(await c.view.getxattr(ino, name), encoding) });
    } catch (e) {
      if ((e as { code?: string }).code === 'ENODATA') throw hdfsErr('IOException', 'At least one of the attributes provided was not found.');
      throw e;
    }
  }
  sendJson(c.res, { XAttrs: out });
}

export async function listXattrs(c: Call): Promise<void> {
  const ino = (await c.view.resolve(c.path, true)).inode;
  // Hadoop's answer holds the names as a JSON text inside the JSON.
  sendJson(c.res, { XAttrNames: JSON.stringify(await c.view.listxattr(ino)) });
}

export async function setXattr(c: Call): Promise<void> {
  const name = checkName(requiredParam(c.query, 'xattr.name'));
  const value = decodeValue(c.query.get('xattr.value') ?? '');
  const flag = (c.query.get('flag') ?? '').toUpperCase().split(',').filter(Boolean);
  if (flag.some((f) => f !== 'CREATE' && f !== 'REPLACE')) throw badParam('flag', c.query.get('flag'), 'expected CREATE, REPLACE or both');
  const flags = flag.length === 1 ? (flag[0] === 'CREATE' ? XATTR_CREATE : XATTR_REPLACE) : 0;
  const ino = (await c.view.resolve(c.path, true)).inode;
  try {
    await c.view.setxattr(ino, name, value, flags);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EEXIST') throw hdfsErr('IOException', `XAttr: ${name} already exists. The REPLACE flag must be specified.`);
    if (code === 'ENODATA') throw hdfsErr('IOException', `XAttr: ${name} does not exist. The CREATE flag must be specified.`);
    throw e;
  }
  sendEmpty(c.res, 200);
}

export async function removeXattr(c: Call): Promise<void> {
  const name = checkName(requiredParam(c.query, 'xattr.name'));
  const ino = (await c.view.resolve(c.path, true)).inode;
  try {
    await c.view.removexattr(ino, name);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENODATA') throw hdfsErr('IOException', 'No matching attributes found for remove operation');
    throw e;
  }
  sendEmpty(c.res, 200);
}
