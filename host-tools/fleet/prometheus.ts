/**
 * A minimal client for the fleet Prometheus's HTTP API: instant queries (`GET /api/v1/query`) whose
 * result is a vector of per-device values. Every way it can fail is a coded error naming the server
 * and the query: unreachable or too slow (FLEET_PROMETHEUS_UNREACHABLE), an answer that is not the
 * API's JSON or not a vector (FLEET_PROMETHEUS_BAD_ANSWER), a refused query (FLEET_PROMETHEUS_QUERY).
 */
import { SidewalkError, errorMessage } from '../../lib/errors.js';

export interface VectorSample {
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusApi {
  readonly url: string;
  /** Evaluates `expr` now; NaN values (e.g. a quantile of no samples) are left out. */
  instant(expr: string): Promise<VectorSample[]>;
}

interface ApiAnswer {
  status?: unknown;
  error?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

export class PrometheusClient implements PrometheusApi {
  readonly url: string;
  #timeoutMs: number;

  constructor(url: string, options: { timeoutMs?: number } = {}) {
    if (!/^https?:\/\/[^/?#]+/.test(url)) throw new SidewalkError('FLEET_PROMETHEUS_URL', `${JSON.stringify(url)}: the fleet Prometheus URL must be http(s)://host[:port][/path]`);
    this.url = url.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async instant(expr: string): Promise<VectorSample[]> {
    const where = `${this.url}/api/v1/query`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${where}?${new URLSearchParams({ query: expr })}`, { signal: AbortSignal.timeout(this.#timeoutMs) });
      text = await res.text();
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw new SidewalkError('FLEET_PROMETHEUS_UNREACHABLE', `${where}: no answer (${cause ? errorMessage(cause) : errorMessage(err)})`, { cause: err });
    }
    let body: ApiAnswer;
    try {
      body = JSON.parse(text) as ApiAnswer;
    } catch {
      throw new SidewalkError('FLEET_PROMETHEUS_BAD_ANSWER', `${where}: HTTP ${res.status} with a body that is not JSON (${JSON.stringify(text.slice(0, 80))})`);
    }
    if (body.status !== 'success') {
      // Prometheus answers 400/422 with {status: error, error} for a query it refuses.
      if (typeof body.error === 'string') throw new SidewalkError('FLEET_PROMETHEUS_QUERY', `${where}: query ${expr} refused: ${body.error}`);
      throw new SidewalkError('FLEET_PROMETHEUS_BAD_ANSWER', `${where}: HTTP ${res.status}, status ${JSON.stringify(body.status)}`);
    }
    const result = body.data?.result;
    if (body.data?.resultType !== 'vector' || !Array.isArray(result)) {
      throw new SidewalkError('FLEET_PROMETHEUS_BAD_ANSWER', `${where}: query ${expr} gave ${JSON.stringify(body.data?.resultType)}, expected a vector`);
    }
    const out: VectorSample[] = [];
    for (const [i, s] of result.entries()) {
      const sample = s as { metric?: unknown; value?: unknown };
      const labels = sample.metric;
      const pair = sample.value;
      if (typeof labels !== 'object' || labels === null || !Array.isArray(pair) || typeof pair[1] !== 'string') {
        throw new SidewalkError('FLEET_PROMETHEUS_BAD_ANSWER', `${where}: query ${expr}: result[${i}] is not a {metric, value: [time, "number"]} sample`);
      }
      const value = Number(pair[1]);
      if (!Number.isNaN(value)) out.push({ labels: labels as Record<string, string>, value });
    }
    return out;
  }
}
