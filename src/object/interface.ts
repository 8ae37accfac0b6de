// The object store interface: immutable blobs by key. Backends register by URL scheme;
// transforms (checksums, compression, encryption, sharding) wrap a store in the same interface.

export interface ObjectInfo {
  key: string;
  size: number;
  /** Milliseconds since epoch. */
  mtime: number;
  isDir?: boolean;
}

export interface ListResult {
  objects: ObjectInfo[];
  /** Set when more keys follow: pass as `marker` to continue. */
  nextMarker?: string;
  isTruncated: boolean;
}

export interface MultipartUpload {
  uploadId: string;
  /** Smallest part size the backend accepts (except the last part). */
  minPartSize: number;
  maxCount: number;
}

export interface Part {
  num: number;
  size: number;
  etag: string;
}

export interface PutOptions {
  /**
   * The caller makes the object durable later, with sync() (the blocks of a file at its close: its fsync
   * waits for them). A store with sync() may then return once the object is readable by every client,
   * before it survives a power loss (file:// skips its fsyncs here). Wrappers pass it on.
   */
  deferSync?: boolean;
}

export interface ObjectStore {
  /** The URL it was opened with (credentials removed). */
  readonly url: string;
  /** Creates the bucket/directory if missing. */
  create(): Promise<void>;
  put(key: string, data: Buffer, opts?: PutOptions): Promise<void>;
  /**
   * Makes every object put so far durable, the ones put with deferSync included; undefined where every put
   * is durable when it returns. A wrapper forwards it to the store it wraps.
   */
  sync?(): Promise<void>;
  /** Bytes [off, off+len) of an object; len < 0 reads to the end. ENOENT if missing. */
  get(key: string, off?: number, len?: number): Promise<Buffer>;
  /** ENOENT if missing. */
  head(key: string): Promise<ObjectInfo>;
  /**
   * True when a ranged get costs a get of the whole object (a block transform must check or decode all of
   * it; a block cache keeps whole blocks): readers then share whole gets instead of asking for ranges.
   */
  readonly wholeObjectGets?: boolean;
  /**
   * True when verifiedRange can answer now (a cache group member holds the blocks): a checksummed volume's
   * reader then asks for ranges instead of whole blocks.
   */
  readonly verifiedRanges?: boolean;
  /**
   * Bytes [off, off+len) of a stored block whose block checksum its holder checked when it took the block
   * in, sent with a checksum of the range itself; undefined when no such range can be had (read the block).
   */
  verifiedRange?(key: string, off: number, len: number): Promise<Buffer | undefined>;
  /** Deleting a missing key is not an error (as in S3). */
  delete(key: string): Promise<void>;
  /** Keys starting with prefix and greater than marker, ascending, at most limit. */
  list(prefix: string, marker?: string, limit?: number): Promise<ListResult>;
  /** Every key under prefix, paging internally. */
  listAll(prefix: string): AsyncIterable<ObjectInfo>;

  // Multipart, for backends that have it (undefined otherwise).
  createMultipartUpload?(key: string): Promise<MultipartUpload>;
  uploadPart?(key: string, uploadId: string, num: number, data: Buffer): Promise<Part>;
  completeUpload?(key: string, uploadId: string, parts: Part[]): Promise<void>;
  abortUpload?(key: string, uploadId: string): Promise<void>;

  close(): Promise<void>;
}

export type ObjectFactory = (url: URL, raw: string, options: ObjectOptions) => Promise<ObjectStore>;

/** Options a backend may use; later issues add endpoint/region/credentials. */
export interface ObjectOptions {
  [key: string]: unknown;
}
