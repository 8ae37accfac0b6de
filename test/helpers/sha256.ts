// SHA-256 for @smithy/signature-v4 (the AWS SDK's own signer: presigned URLs, streaming seeds, raw requests).
import { createHash, createHmac } from 'node:crypto';

export class Sha256 {
  private h;
  constructor(secret?: Uint8Array | string) {
    this.h = secret ? createHmac('sha256', Buffer.from(secret as Uint8Array)) : createHash('sha256');
  }
  update(d: Uint8Array | string): void {
    this.h.update(typeof d === 'string' ? Buffer.from(d) : d);
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
  reset(): void {}
}
