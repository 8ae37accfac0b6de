// Seeded namespace workloads and a full description of a tree, for comparing two views of one volume.
import { createHash } from 'node:crypto';
import { FsError } from '../../src/errors.js';
import { Volume } from '../../src/sdk/index.js';
import { prng } from './random.js';

/** Everything a client can observe of a tree, for comparing source and mirror. */
export async function describeTree(v: Volume): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await v.readdir(dir)).sort()) {
      const p = `${dir === '/' ? '' : dir}/${name}`;
      const st = await v.lstat(p);
      const names = st.isSymbolicLink() ? [] : await v.listxattr(p);
      const xattrs = await Promise.all(names.map(async (x) => `${x}=${(await v.getxattr(p, x)).toString('hex')}`));
      let body = '';
      if (st.isSymbolicLink()) body = `-> ${await v.readlink(p)}`;
      else if (st.isFile()) body = createHash('sha1').update(await v.readFile(p)).digest('hex');
      out.push(`${p} ino=${st.ino} mode=${st.mode.toString(8)} uid=${st.uid} nlink=${st.nlink} size=${st.size} mtime=${st.mtimeNs} ctime=${st.ctimeNs} ${xattrs.join(',')} ${body}`);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk('/');
  return out;
}

/** Random namespace and data changes on the source. */
export async function workload(v: Volume, seed: number, ops: number): Promise<void> {
  const r = prng(seed);
  const dirs = ['/'];
  const files: string[] = [];
  for (let i = 0; i < ops; i++) {
    const dir = r.pick(dirs);
    const name = `${dir === '/' ? '' : dir}/n${i}`;
    const k = r.int(10);
    try {
      if (k === 0 || dirs.length < 3) {
        await v.mkdir(name);
        dirs.push(name);
      } else if (k <= 3 || files.length < 3) {
        await v.writeFile(name, Buffer.alloc(r.int(200_000), i % 251));
        files.push(name);
      } else if (k === 4) {
        await v.appendFile(r.pick(files), `more ${i}`);
      } else if (k === 5) {
        const from = r.pick(files);
        await v.rename(from, name);
        files[files.indexOf(from)] = name;
      } else if (k === 6) {
        await v.link(r.pick(files), name);
        files.push(name);
      } else if (k === 7) {
        await v.symlink(r.pick(files), name);
      } else if (k === 8) {
        await v.setxattr(r.pick(files), `user.k${r.int(3)}`, `v${i}`);
        await v.truncate(r.pick(files), r.int(100_000));
      } else {
        const f = r.pick(files);
        await v.unlink(f);
        files.splice(files.indexOf(f), 1);
      }
    } catch (e) {
      // A pick may name something an earlier op moved or removed; the namespace stays valid either way.
      if (!(e instanceof FsError) || !['ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes(e.code)) throw e;
    }
  }
}

/** The tree a fresh read-only client of a mirror sees (no attribute or entry caches). */
export async function mirrorTree(mirrorUrl: string): Promise<string[]> {
  const ro = await Volume.open(mirrorUrl, { readOnly: true, attrTimeout: 0, entryTimeout: 0 });
  try {
    return await describeTree(ro);
  } finally {
    await ro.close();
  }
}
