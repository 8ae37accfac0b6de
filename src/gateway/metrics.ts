// Prometheus metrics of the gateway (text exposition format at /-/metrics): requests by operation and
// status, their total duration, and requests in flight.

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly seconds = new Map<string, number>();

  observe(op: string, status: number, ms: number): void {
    const k = `operation="${op}",status="${status}"`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
    this.seconds.set(op, (this.seconds.get(op) ?? 0) + ms / 1000);
  }

  render(inflight: number): string {
    const lines = [
      '# HELP ferry_gateway_requests_total S3 requests handled, by operation and HTTP status.',
      '# TYPE ferry_gateway_requests_total counter',
      ...[...this.requests].map(([k, v]) => `ferry_gateway_requests_total{${k}} ${v}`),
      '# HELP ferry_gateway_request_seconds_total Time spent handling requests, by operation.',
      '# TYPE ferry_gateway_request_seconds_total counter',
      ...[...this.seconds].map(([op, v]) => `ferry_gateway_request_seconds_total{operation="${op}"} ${v.toFixed(6)}`),
      '# HELP ferry_gateway_requests_in_flight Requests being handled now.',
      '# TYPE ferry_gateway_requests_in_flight gauge',
      `ferry_gateway_requests_in_flight ${inflight}`,
    ];
    return lines.join('\n') + '\n';
  }
}
