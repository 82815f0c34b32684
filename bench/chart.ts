// The bench table as an SVG chart: one group of horizontal bars per workload
// (one bar per mode), ns/op on a log scale, every bar labelled with its value.
// Written by hand so the bench needs no plotting dependency.

export interface ChartSeries {
  name: string;
  color: string;
}

export interface ChartRow {
  label: string;
  /** One per series: ns/op, or the text to show instead of a bar ("n/a", "failed"). */
  values: readonly (number | string)[];
}

const LABEL_W = 130;
const PLOT_W = 560;
const RIGHT_W = 80;
const BAR_H = 10;
const BAR_GAP = 2;
const GROUP_GAP = 12;
const TOP = 78;
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 3 significant digits in the largest unit that keeps the number >= 1. */
function fmtTime(ns: number): string {
  const [v, unit] = ns >= 1e6 ? [ns / 1e6, 'ms'] : ns >= 1e3 ? [ns / 1e3, 'µs'] : [ns, 'ns'];
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
}

function decadeLabel(exp: number): string {
  const units = ['ns', 'µs', 'ms', 's'];
  const unit = units[Math.min(Math.floor(exp / 3), units.length - 1)];
  return `${10 ** (exp - 3 * units.indexOf(unit))} ${unit}`;
}

export function chartSvg(title: string, subtitle: string, series: readonly ChartSeries[], rows: readonly ChartRow[]): string {
  const all = rows.flatMap((r) => r.values.filter((v): v is number => typeof v === 'number' && v > 0));
  const lo = Math.floor(Math.log10(Math.min(...all, 100)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...all, 1000))));
  const x = (ns: number) => LABEL_W + (PLOT_W * (Math.log10(ns) - lo)) / (hi - lo);
  const groupH = series.length * (BAR_H + BAR_GAP) - BAR_GAP + GROUP_GAP;
  const plotH = rows.length * groupH;
  const width = LABEL_W + PLOT_W + RIGHT_W;
  const height = TOP + plotH + 36;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="38" fill="#555555">${esc(subtitle)}</text>`,
  ];
  // Legend.
  let lx = LABEL_W;
  for (const s of series) {
    out.push(`<rect x="${lx}" y="50" width="12" height="12" fill="${s.color}"/>`, `<text x="${lx + 16}" y="60">${esc(s.name)}</text>`);
    lx += 24 + 7 * s.name.length;
  }
  // Row stripes, so a group's bars read together.
  rows.forEach((_, i) => {
    if (i % 2 === 0) out.push(`<rect x="0" y="${TOP + i * groupH - GROUP_GAP / 2}" width="${width}" height="${groupH}" fill="#f3f3f3"/>`);
  });
  // Decade grid and axis labels.
  for (let e = lo; e <= hi; e++) {
    const gx = x(10 ** e).toFixed(1);
    out.push(
      `<line x1="${gx}" y1="${TOP - 8}" x2="${gx}" y2="${TOP + plotH - GROUP_GAP / 2}" stroke="#cccccc"/>`,
      `<text x="${gx}" y="${TOP + plotH + 8}" text-anchor="middle" fill="#555555">${esc(decadeLabel(e))}</text>`,
    );
  }
  out.push(
    `<text x="${LABEL_W + PLOT_W / 2}" y="${TOP + plotH + 26}" text-anchor="middle" fill="#555555">ns per operation (log scale; shorter is faster)</text>`,
  );
  rows.forEach((r, i) => {
    const y0 = TOP + i * groupH;
    out.push(
      `<text x="${LABEL_W - 8}" y="${(y0 + (groupH - GROUP_GAP) / 2 + 4).toFixed(1)}" text-anchor="end" font-size="12">${esc(r.label)}</text>`,
    );
    series.forEach((s, j) => {
      const y = y0 + j * (BAR_H + BAR_GAP);
      const v = r.values[j];
      if (typeof v === 'number' && v > 0) {
        const w = Math.max(1, x(v) - LABEL_W);
        out.push(
          `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${s.color}"><title>${esc(`${r.label} ${s.name}: ${fmtTime(v)}`)}</title></rect>`,
          `<text x="${(LABEL_W + w + 4).toFixed(1)}" y="${y + BAR_H - 1}" font-size="9">${esc(fmtTime(v))}</text>`,
        );
      } else {
        out.push(
          `<text x="${LABEL_W + 4}" y="${y + BAR_H - 1}" font-size="9" fill="#888888">${esc(`${s.name}: ${typeof v === 'string' ? v : '-'}`)}</text>`,
        );
      }
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
