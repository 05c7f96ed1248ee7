/**
 * The report's two plots as PNG: the confusion matrix as a heat map (cell counts and row share
 * written in each cell) and a per-class bar chart of precision and recall.
 */
import { Canvas, encodePng, textWidth, type Rgb } from './png.js';
import type { ClassScores, Confusion } from './metrics.js';

const INK: Rgb = [20, 20, 30];
const GRID: Rgb = [200, 200, 210];
const PRECISION: Rgb = [52, 101, 164];
const RECALL: Rgb = [237, 125, 49];

/** White -> deep blue by the share of the row (truth) a cell holds. */
function heat(share: number): Rgb {
  const t = Math.max(0, Math.min(1, share));
  return [Math.round(255 - t * 225), Math.round(255 - t * 175), Math.round(255 - t * 75)];
}

export function confusionPng(c: Confusion): Buffer {
  const n = c.labels.length;
  const cell = 110;
  const scale = 2;
  const labelWidth = Math.max(...c.labels.map((l) => textWidth(l, scale))) + 20;
  const top = 60 + labelWidth;
  const left = labelWidth + 40;
  const canvas = new Canvas(left + n * cell + 20, top + n * cell + 20);
  canvas.text(10, 10, 'CONFUSION (ROWS = TRUTH, COLUMNS = PREDICTED)', INK, scale);
  // Column headings are written vertically (one character per line) to fit long label names.
  c.labels.forEach((label, j) => {
    const x = left + j * cell + cell / 2 - 5;
    [...label.toUpperCase()].forEach((ch, k) => {
      canvas.text(x, 40 + k * 16, ch, INK, scale);
    });
  });
  c.matrix.forEach((row, i) => {
    const rowTotal = row.reduce((a, b) => a + b, 0);
    canvas.text(10, top + i * cell + cell / 2 - 7, c.labels[i]!, INK, scale);
    row.forEach((count, j) => {
      const share = rowTotal === 0 ? 0 : count / rowTotal;
      const x = left + j * cell;
      const y = top + i * cell;
      canvas.fillRect(x, y, cell, cell, heat(share));
      const ink: Rgb = share > 0.55 ? [255, 255, 255] : INK;
      const countText = String(count);
      canvas.text(x + (cell - textWidth(countText, 3)) / 2, y + cell / 2 - 20, countText, ink, 3);
      const pctText = `${(share * 100).toFixed(1)}%`;
      canvas.text(x + (cell - textWidth(pctText, 2)) / 2, y + cell / 2 + 10, pctText, ink, 2);
    });
  });
  for (let k = 0; k <= n; k++) {
    canvas.fillRect(left + k * cell, top, 1, n * cell, GRID);
    canvas.fillRect(left, top + k * cell, n * cell, 1, GRID);
  }
  return encodePng(canvas);
}

/** A bar's value label; a recall over no frames is not 0 but "no data" (as the CLI and HTML say). */
export function barText(kind: 'precision' | 'recall', s: ClassScores): string {
  return kind === 'recall' && s.support === 0 ? 'N/A' : (kind === 'recall' ? s.recall : s.precision).toFixed(2);
}

export function perClassPng(scores: Record<string, ClassScores>): Buffer {
  const labels = Object.keys(scores);
  const plotH = 300;
  const group = 150;
  const left = 70;
  const top = 70;
  const canvas = new Canvas(left + labels.length * group + 30, top + plotH + 60);
  canvas.text(10, 10, 'PER-CLASS PRECISION AND RECALL', INK, 2);
  canvas.fillRect(left + 10, 38, 16, 16, PRECISION);
  canvas.text(left + 32, 40, 'PRECISION', INK, 2);
  canvas.fillRect(left + 180, 38, 16, 16, RECALL);
  canvas.text(left + 202, 40, 'RECALL', INK, 2);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const y = top + plotH - tick * plotH;
    canvas.fillRect(left, y, labels.length * group, 1, GRID);
    canvas.text(8, y - 7, tick.toFixed(2), INK, 2);
  }
  labels.forEach((label, i) => {
    const s = scores[label]!;
    const x = left + i * group + 20;
    for (const [k, kind, value, color] of [
      [0, 'precision', s.precision, PRECISION],
      [1, 'recall', s.recall, RECALL],
    ] as const) {
      const h = Math.round(value * plotH);
      const bx = x + k * 55;
      canvas.fillRect(bx, top + plotH - h, 50, h, color);
      const text = barText(kind, s);
      canvas.text(bx + (50 - textWidth(text, 2)) / 2, top + plotH - h - 18, text, INK, 2);
    }
    canvas.text(x + (105 - textWidth(label, 2)) / 2, top + plotH + 12, label, INK, 2);
    canvas.text(x + (105 - textWidth(`N=${s.support}`, 1)) / 2, top + plotH + 34, `N=${s.support}`, INK, 1);
  });
  canvas.fillRect(left, top + plotH, labels.length * group, 2, INK);
  return encodePng(canvas);
}
