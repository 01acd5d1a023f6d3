import cluster from 'node:cluster';
import client, { Counter, Histogram, Registry } from 'prom-client';

/** IPC between an API process and the cluster's primary (src/main/cluster.ts) for GET /metrics. */
export const METRICS_REQUEST = 'pledgeflow:metrics-request';
export const METRICS_RESPONSE = 'pledgeflow:metrics-response';
export interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}
export interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: number;
  text?: string;
  error?: string;
}
/** The primary asks every API process for its registry (as JSON, to be summed), with the same protocol. */
export const METRICS_COLLECT = 'pledgeflow:metrics-collect';
export const METRICS_COLLECTED = 'pledgeflow:metrics-collected';
export type RegistryJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
export interface MetricsCollect {
  type: typeof METRICS_COLLECT;
  id: number;
}
export interface MetricsCollected {
  type: typeof METRICS_COLLECTED;
  id: number;
  metrics: RegistryJson;
}
export const CLUSTER_METRICS_TIMEOUT_MS = 5_000;

/**
 * One Prometheus registry per process (or per test app): HTTP metrics here, domain counters registered by
 * the modules that own them through `counter()`.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly counters = new Map<string, Counter<string>>();

  constructor(defaultLabels: Record<string, string> = {}) {
    this.registry.setDefaultLabels(defaultLabels);
    client.collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  /**
   * The text GET /metrics answers with. In an API process of a cluster it is every API process's figures
   * summed (the primary gathers them), so a scrape that lands on any process sees the whole service.
   */
  async exposition(): Promise<string> {
    if (!cluster.isWorker || !process.send) return this.registry.metrics();
    const id = ++this.requests;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error('the cluster primary did not answer for /metrics')), CLUSTER_METRICS_TIMEOUT_MS);
      const onMessage = (m: MetricsResponse) => {
        if (m?.type === METRICS_RESPONSE && m.id === id) finish(m.error ? new Error(m.error) : undefined, m.text ?? '');
      };
      const finish = (err: Error | undefined, text = '') => {
        clearTimeout(timer);
        process.off('message', onMessage);
        if (err) reject(err);
        else resolve(text);
      };
      process.on('message', onMessage);
      process.send!({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    });
  }

  private requests = 0;
  private joined = false;

  /** In an API process of a cluster: answers the primary's requests for this registry. */
  joinCluster(): void {
    if (this.joined || !cluster.isWorker) return;
    this.joined = true;
    process.on('message', (m: MetricsCollect) => {
      if (m?.type !== METRICS_COLLECT) return;
      void this.registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: METRICS_COLLECTED, id: m.id, metrics } satisfies MetricsCollected));
    });
  }

  /** A named counter, created on first use so modules can count their own events (repairs, replays, ...). */
  counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ name, help, labelNames, registers: [this.registry] });
      this.counters.set(name, c);
    }
    return c;
  }
}
