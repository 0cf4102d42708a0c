// A tiny inline SVG sparkline: no chart library for two lines of numbers. The values are drawn
// scaled to their own maximum; the latest value is given in text beside it (not by the line alone).
import { createMemo } from "solid-js";

export function Sparkline(props: { values: number[]; label: string; width?: number; height?: number }) {
  const w = () => props.width ?? 220;
  const h = () => props.height ?? 40;
  const points = createMemo(() => {
    const v = props.values;
    if (v.length < 2) return "";
    const max = Math.max(1, ...v);
    const step = w() / (v.length - 1);
    return v.map((y, i) => `${(i * step).toFixed(1)},${(h() - 2 - (y / max) * (h() - 4)).toFixed(1)}`).join(" ");
  });
  return (
    <svg class="admin-spark" width={w()} height={h()} viewBox={`0 0 ${w()} ${h()}`} role="img" aria-label={props.label}>
      <polyline points={points()} fill="none" stroke="currentColor" stroke-width="2" />
    </svg>
  );
}
