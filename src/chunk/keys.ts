// Object keys of a slice's blocks: `<volume>/chunks/<id/1e6>/<id/1000>/<id>_<index>_<length>`.
// A slice of `size` bytes is stored as ceil(size/blockSize) blocks; only the last one may be shorter.

/** The object key of block `index` (of `length` bytes) of slice `id`. */
export function blockKey(volume: string, id: number, index: number, length: number): string {
  return `${volume}/chunks/${Math.floor(id / 1e6)}/${Math.floor(id / 1000)}/${id}_${index}_${length}`;
}

/** How many blocks a slice of `size` bytes has. */
export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** Byte length of block `index` of a slice of `size` bytes. */
export function blockLength(size: number, blockSize: number, index: number): number {
  return Math.max(0, Math.min(blockSize, size - index * blockSize));
}

export interface BlockRef {
  key: string;
  index: number;
  length: number;
}

/** Every block of a slice, in order. */
export function sliceBlocks(volume: string, id: number, size: number, blockSize: number): BlockRef[] {
  const out: BlockRef[] = [];
  const n = blockCount(size, blockSize);
  for (let i = 0; i < n; i++) {
    const length = blockLength(size, blockSize, i);
    out.push({ key: blockKey(volume, id, i, length), index: i, length });
  }
  return out;
}

/** The prefix under which every block of the volume lives (for listing). */
export function chunksPrefix(volume: string): string {
  return `${volume}/chunks/`;
}
