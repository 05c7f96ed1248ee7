/** The readable report.html: headline numbers, tables and the two PNG plots beside it. */
import { rateText } from '../registry/eval-report.js';
import type { EvalReport } from './evaluate.js';

function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const ms = (v: number): string => v.toFixed(2);

function table(head: string[], rows: unknown[][]): string {
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

export function reportHtml(r: EvalReport, images: { confusion: string; perClass: string }): string {
  const sections: string[] = [];
  sections.push(`<h1>${esc(r.model.name)} ${esc(r.model.version)} (${esc(r.model.location)}, ${esc(r.model.dtype)})</h1>`);
  sections.push(
    `<p>Dataset ${esc(r.dataset.hash)}, split <b>${esc(r.dataset.split)}</b>, ${r.dataset.count} images; ` +
      `model sha256 ${esc(r.model.sha256)}; backend ${esc(r.model.backend)}; ${esc(r.created_at)}</p>`,
  );
  sections.push(
    table(
      ['accuracy', 'sidewalk recall', 'road wrongly limited', 'latency mean / p50 / p99 (ms)'],
      [
        [
          pct(r.accuracy),
          rateText(r.safety.sidewalk_recall, r.safety.sidewalk_frames),
          rateText(r.safety.road_false_limit_rate, r.safety.road_frames),
          `${ms(r.latency_ms.mean)} / ${ms(r.latency_ms.p50)} / ${ms(r.latency_ms.p99)}`,
        ],
      ],
    ),
  );
  sections.push('<h2>Per class</h2>');
  sections.push(
    table(
      ['class', 'precision', 'recall', 'support'],
      Object.entries(r.per_class).map(([label, s]) => [label, pct(s.precision), rateText(s.recall, s.support), s.support]),
    ),
  );
  sections.push(`<img src="${esc(images.perClass)}" alt="per-class precision and recall">`);
  sections.push('<h2>Confusion matrix (rows = truth)</h2>');
  sections.push(
    table(
      ['truth \\ predicted', ...r.confusion.labels],
      r.confusion.matrix.map((row, i) => [r.confusion.labels[i], ...row]),
    ),
  );
  sections.push(`<img src="${esc(images.confusion)}" alt="confusion matrix heat map">`);
  sections.push('<h2>Per location</h2>');
  sections.push(
    table(
      ['location', 'accuracy', 'images'],
      Object.entries(r.per_location).map(([loc, v]) => [loc, pct(v.accuracy), v.count]),
    ),
  );
  if (r.rides) {
    const t = r.rides;
    sections.push('<h2>Ride replay (decision engine + ramp, legacy defaults)</h2>');
    sections.push(
      table(
        ['rides', 'frames', 'frame accuracy', 'sidewalk segments', 'missed', 'limit not reached in segment', 'time to limit mean / max (ms)', 'time to decision mean / max (ms)'],
        [
          [
            t.rides,
            t.frames,
            pct(t.frame_accuracy),
            t.sidewalk_segments,
            t.missed_segments,
            t.limit_not_reached,
            t.time_to_limit_ms ? `${t.time_to_limit_ms.mean.toFixed(0)} / ${t.time_to_limit_ms.max.toFixed(0)}` : '-',
            t.time_to_decision_ms ? `${t.time_to_decision_ms.mean.toFixed(0)} / ${t.time_to_decision_ms.max.toFixed(0)}` : '-',
          ],
        ],
      ),
    );
    sections.push(
      table(
        ['ride location', 'frame accuracy', 'frames'],
        Object.entries(t.per_location).map(([loc, v]) => [loc, pct(v.accuracy), v.count]),
      ),
    );
  }
  if (r.parity) {
    sections.push('<h2>Keras / TFLite parity (top-1 agreement)</h2>');
    sections.push(
      table(
        ['export', 'agreement', 'target', 'result'],
        Object.entries(r.parity).map(([k, p]) => [k, pct(p.agreement), pct(p.target), p.ok ? 'ok' : 'MISS']),
      ),
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sidewalk eval: ${esc(r.model.name)} ${esc(r.model.version)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f0f0f4}img{max-width:100%;display:block;margin:1em 0}</style>
</head><body>
${sections.join('\n')}
</body></html>
`;
}
