/** Live charts of a load balancer's stats (uPlot: small, canvas, no other dependency). */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { StatsPoint } from "./types";

export interface Series {
  readonly label: string;
  readonly value: (p: StatsPoint) => number;
  readonly stroke: string;
}

export function Chart(props: {
  readonly title: string;
  readonly points: readonly StatsPoint[];
  readonly series: readonly Series[];
  readonly unit: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const { points, series } = props;
  const data: uPlot.AlignedData = [
    points.map((p) => p.t),
    ...series.map((s) => points.map((p) => s.value(p))),
  ];

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const width = () => Math.max(240, Math.min(el.clientWidth || 480, 640));
    plot.current = new uPlot(
      {
        width: width(),
        height: 160,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 }))],
        axes: [{}, { label: props.unit, size: 60 }],
        legend: { live: false },
      },
      data,
      el,
    );
    const resize = () => plot.current?.setSize({ width: width(), height: 160 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  });
  const last = points.at(-1);
  return (
    <figure class="chart">
      <figcaption>
        {props.title}
        {last !== undefined && (
          <span class="muted"> — now {series.map((s) => `${s.label} ${fmt(s.value(last))}`).join(", ")}</span>
        )}
      </figcaption>
      <div ref={box} role="img" aria-label={`${props.title} over time`} />
    </figure>
  );
}

function fmt(n: number): string {
  if (n === 0) return "0";
  if (Math.abs(n) < 0.01) return n.toExponential(1);
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 3 : 1);
}
