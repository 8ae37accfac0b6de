// The gateway's S3 request metrics, in this process's Prometheus registry (object/metrics.ts): requests by
// operation and status, their durations, and requests in flight. The gateway always keeps them (GET /-/metrics
// needs no --metrics); --metrics also serves them, with the client's, on a port of their own.
import { enableMetrics, type FerryMetrics } from '../object/metrics.js';

const IN_FLIGHT = { name: 'ferry_gateway_requests_in_flight', help: 'S3 requests being handled now.', type: 'gauge' } as const;

export class GatewayMetrics {
  private constructor(
    private readonly m: FerryMetrics,
    private readonly unpoll: () => void,
  ) {}

  static async open(inflight: () => number): Promise<GatewayMetrics> {
    const m = await enableMetrics();
    return new GatewayMetrics(m, m.poll(IN_FLIGHT, inflight));
  }

  observe(op: string, status: number, ms: number): void {
    this.m.s3Requests.inc({ operation: op, status: String(status) });
    this.m.s3Duration.observe({ operation: op }, ms / 1000);
  }

  render(): Promise<string> {
    return this.m.text();
  }

  get contentType(): string {
    return this.m.contentType;
  }

  close(): void {
    this.unpoll();
  }
}
