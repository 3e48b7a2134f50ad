// The two charts of the bench report, as plain SVG strings (no chart library).

const esc = (s: unknown) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const FONT = `font-family="system-ui, -apple-system, Segoe UI, sans-serif"`;
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Horizontal bars on a log scale, one group per row, one bar per series. */
export function horizontalBars({
  title,
  subtitle,
  unit,
  rows,
  series,
}: {
  title: string;
  subtitle?: string;
  unit: string;
  rows: { label: string; values: (number | null)[]; floor?: boolean }[];
  series: { label: string; color: string; floorColor: string }[];
}): string {
  const barH = 13;
  const gap = 3;
  const groupH = series.length * (barH + gap) + 10;
  const left = 300;
  const width = 880;
  const plotW = width - left - 70;
  const top = 62;
  const height = top + rows.length * groupH + 40;
  const all = rows.flatMap((r) => r.values).filter((v): v is number => v !== null && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, 10)));
  const x = (v: number) => left + (plotW * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="12" y="40" fill="#555">${esc(subtitle ?? "")}</text>`,
  ];
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${x(d)}" y1="${top - 6}" x2="${x(d)}" y2="${height - 34}" stroke="#ddd"/>`);
    out.push(`<text x="${x(d)}" y="${height - 20}" text-anchor="middle" fill="#555">${d}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${height - 5}" text-anchor="middle" fill="#555">${esc(unit)} (log scale)</text>`);
  series.forEach((s, i) => {
    out.push(`<rect x="${left + i * 110}" y="${48}" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${left + i * 110 + 14}" y="${57}">${esc(s.label)}</text>`);
  });
  rows.forEach((r, gi) => {
    const y0 = top + gi * groupH;
    out.push(
      `<text x="${left - 8}" y="${y0 + (series.length * (barH + gap)) / 2 + 4}" text-anchor="end"${r.floor ? ` font-style="italic" fill="#555"` : ""}>${esc(r.label)}</text>`,
    );
    r.values.forEach((v, i) => {
      if (v == null || !(v > 0)) return;
      const y = y0 + i * (barH + gap);
      const color = r.floor ? series[i].floorColor : series[i].color;
      out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(v) - left)}" height="${barH}" fill="${color}"/>`);
      out.push(`<text x="${x(v) + 4}" y="${y + barH - 2}" fill="#222">${fmt(v)}</text>`);
    });
  });
  out.push("</svg>");
  return out.join("\n");
}

/** Vertical grouped bars on a linear scale. */
export function verticalBars({
  title,
  subtitle,
  unit,
  groups,
  series,
}: {
  title: string;
  subtitle?: string;
  unit: string;
  groups: { label: string; values: (number | null)[] }[];
  series: { label: string; color: string }[];
}): string {
  const width = 880;
  const height = 360;
  const left = 60;
  const top = 66;
  const bottom = height - 46;
  const plotW = width - left - 20;
  const max = Math.max(...groups.flatMap((g) => g.values).filter((v): v is number => v != null), 1);
  const step = 10 ** Math.floor(Math.log10(max));
  const hi = Math.ceil(max / step) * step;
  const y = (v: number) => bottom - ((bottom - top) * v) / hi;
  const groupW = plotW / groups.length;
  const barW = Math.min(34, (groupW - 16) / series.length);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="12" y="40" fill="#555">${esc(subtitle ?? "")}</text>`,
  ];
  for (let v = 0; v <= hi; v += step) {
    out.push(`<line x1="${left}" y1="${y(v)}" x2="${width - 20}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v}</text>`);
  }
  out.push(
    `<text x="14" y="${(top + bottom) / 2}" transform="rotate(-90 14 ${(top + bottom) / 2})" text-anchor="middle" fill="#555">${esc(unit)}</text>`,
  );
  series.forEach((s, i) => {
    out.push(`<rect x="${left + i * 200}" y="48" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${left + i * 200 + 14}" y="57">${esc(s.label)}</text>`);
  });
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * series.length) / 2;
    g.values.forEach((v, i) => {
      if (v == null) return;
      const x = x0 + i * barW;
      out.push(`<rect x="${x}" y="${y(v)}" width="${barW - 3}" height="${bottom - y(v)}" fill="${series[i].color}"/>`);
      out.push(`<text x="${x + (barW - 3) / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="10">${fmt(v)}</text>`);
    });
    out.push(`<text x="${left + gi * groupW + groupW / 2}" y="${bottom + 16}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}
