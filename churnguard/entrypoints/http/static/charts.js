"use strict";
// Small SVG charts for the UI, drawn from the API's JSON: no library, no CDN. Each chart is drawn
// in its container's own pixels (the viewBox is as wide as the card), so its text keeps its size
// on a phone instead of shrinking with a scaled drawing; a chart is redrawn when its width changes
// (a window resized, a view shown). Axes carry their own ticks and labels.

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const M = { top: 16, right: 18, bottom: 44, left: 56 };
  let W = 480, H = 270;  // the chart being drawn: set by frame() from its container's width

  const redraws = new WeakMap();  // container -> [width drawn at, redraw]
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const known = redraws.get(entry.target);
      if (known && Math.round(entry.contentRect.width) !== known[0]) known[1]();
    }
  });
  /** Draw now, and again whenever the container's width changes. */
  function drawn(container, draw) {
    const width = Math.round(container.getBoundingClientRect().width);
    redraws.set(container, [width, () => drawn(container, draw)]);
    resized.observe(container);
    W = width > 0 ? Math.max(280, width) : 480;  // a hidden view draws at 480, then again when shown
    H = Math.round(Math.min(270, Math.max(220, W * 0.5625)));
    return draw();
  }

  const svgEl = (tag, attrs = {}, text = "") => {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text) node.textContent = text;
    return node;
  };

  function frame(container, label) {
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart-svg" });
    container.replaceChildren(svg);
    return svg;
  }

  function scale(domain, range) {
    const [d0, d1] = domain, [r0, r1] = range;
    const span = d1 - d0 || 1;
    return (v) => r0 + ((v - d0) / span) * (r1 - r0);
  }

  function axes(svg, x, y, opts) {
    const g = svgEl("g", { class: "axes" });
    g.append(svgEl("line", { x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, class: "axis" }));
    g.append(svgEl("line", { x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom, class: "axis" }));
    for (const tick of opts.yTicks) {
      const py = y(tick);
      g.append(svgEl("line", { x1: M.left, y1: py, x2: W - M.right, y2: py, class: "grid-line" }));
      g.append(svgEl("text", { x: M.left - 6, y: py + 4, "text-anchor": "end", class: "tick" }, opts.yFormat(tick)));
    }
    opts.xTicks.forEach((tick, i) => {
      const anchor = i === 0 ? "start" : i === opts.xTicks.length - 1 ? "end" : "middle";
      g.append(svgEl("text", { x: x(tick), y: H - M.bottom + 18, "text-anchor": anchor, class: "tick" }, opts.xFormat(tick)));
    });
    if (opts.xLabel) g.append(svgEl("text", { x: (M.left + W - M.right) / 2, y: H - 4, "text-anchor": "middle", class: "axis-label" }, opts.xLabel));
    if (opts.yLabel) {
      g.append(svgEl("text", { x: -(M.top + H - M.bottom) / 2, y: 12, transform: "rotate(-90)", "text-anchor": "middle", class: "axis-label" }, opts.yLabel));
    }
    svg.append(g);
  }

  const ticks = (min, max, count) => Array.from({ length: count + 1 }, (_, i) => min + ((max - min) * i) / count);
  /** Round ticks from 0 covering `top`: steps of 1, 2 or 5 times a power of ten. */
  function niceTicks(top, count = 4) {
    if (!(top > 1e-6)) top = 1;  // an empty chart: 0 to 1, not ticks of 1.5e-9
    const raw = top / count;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    return Array.from({ length: Math.ceil(top / step - 1e-9) + 1 }, (_, i) => +(i * step).toPrecision(12));
  }
  const percent = (v) => `${Math.round(100 * v)}%`;
  // 0..100 % in fifths where the plot is wide enough for six labels, else in quarters
  const unitTicks = () => ticks(0, 1, W - M.left - M.right >= 320 ? 5 : 4);

  function legend(svg, entries, top = M.top) {
    let x = M.left + 8;
    for (const { label, className } of entries) {
      svg.append(svgEl("rect", { x, y: top + 2, width: 12, height: 12, class: `${className} legend-key` }));
      const text = svgEl("text", { x: x + 16, y: top + 12, class: "legend" }, label);
      svg.append(text);
      x += 24 + 7 * label.length;
    }
  }

  /** Lines over x in [0,1] and y in [0,1] (ROC, calibration): points [[x, y], ...] per series. */
  function unitLines(container, options) {
    return drawn(container, () => drawUnitLines(container, options));
  }
  function drawUnitLines(container, { label, series, diagonal = true, xLabel, yLabel, dots = false }) {
    const svg = frame(container, label);
    const x = scale([0, 1], [M.left, W - M.right]);
    const y = scale([0, 1], [H - M.bottom, M.top]);
    axes(svg, x, y, { xTicks: unitTicks(), yTicks: ticks(0, 1, 5), xFormat: percent, yFormat: percent, xLabel, yLabel });
    if (diagonal) svg.append(svgEl("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "reference" }));
    for (const s of series) {
      const d = s.points.map(([px, py], i) => `${i ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join("");
      svg.append(svgEl("path", { d, class: `series ${s.className}` }));
      if (dots) for (const [px, py] of s.points) svg.append(svgEl("circle", { cx: x(px), cy: y(py), r: 4, class: `dot ${s.className}` }));
    }
    return svg;
  }

  /** Step functions over whole periods 0..xMax, y in [0, 1] (survival curves): points [[t, S], ...]. */
  function steps(container, options) {
    return drawn(container, () => drawSteps(container, options));
  }
  function drawSteps(container, { label, series, xMax, xLabel, yLabel }) {
    const svg = frame(container, label);
    const x = scale([0, xMax], [M.left, W - M.right]);
    // from a round tenth under the lowest point to 100 %: a curve that stays high keeps its shape
    const lowest = Math.min(...series.flatMap((s) => s.points.map(([, v]) => v)));
    const bottom = Math.max(0, Math.floor((lowest - 0.05) * 10) / 10);
    const y = scale([bottom, 1], [H - M.bottom, M.top + 20]);
    const xTicks = niceTicks(xMax, W - M.left - M.right >= 320 ? 6 : 4).filter((t) => t <= xMax);
    axes(svg, x, y, { xTicks, yTicks: ticks(bottom, 1, 4), xFormat: String, yFormat: percent, xLabel, yLabel });
    for (const s of series) {
      // constant on [t, t + 1): across to the next period, then down to its value
      const d = s.points.map(([t, v], i) => (i ? `H${x(t).toFixed(1)}V${y(v).toFixed(1)}` : `M${x(t).toFixed(1)},${y(v).toFixed(1)}`)).join("");
      svg.append(svgEl("path", { d, class: `series ${s.className}`, "data-last": s.points[s.points.length - 1][1] }));
    }
    legend(svg, series.map((s) => ({ label: s.label, className: `${s.className}-key` })), M.top - 12);
    return svg;
  }

  /** Vertical bars over time buckets: items [{start, value}], window [t0, t1] in unix seconds. */
  function timeBars(container, options) {
    return drawn(container, () => drawTimeBars(container, options));
  }
  function drawTimeBars(container, { label, items, window, bucketSeconds, yFormat = String, yLabel, reference, className = "bar-series", max, cap = Infinity }) {
    const svg = frame(container, label);
    const [t0, t1] = window;
    const x = scale([t0, t1], [M.left, W - M.right]);
    // `cap`: the most the axis can mean (a rate: 100 %), so headroom never runs it to 150 %
    const top = Math.max(max ?? 0, ...items.map((i) => i.value), reference ? reference.value : 0) * 1.05;
    const yTicks = niceTicks(Math.min(top, cap));
    const y = scale([0, yTicks[yTicks.length - 1]], [H - M.bottom, M.top]);
    const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    axes(svg, x, y, { xTicks: ticks(t0, t1, W - M.left - M.right >= 320 ? 3 : 2), yTicks, xFormat: clock, yFormat, yLabel });
    const width = Math.max(1, x(t0 + bucketSeconds) - x(t0) - 1);
    for (const item of items) {
      svg.append(svgEl("rect", { x: x(item.start), y: y(item.value), width, height: Math.max(0, y(0) - y(item.value)), class: className, "data-value": item.value }));
    }
    if (reference) {
      svg.append(svgEl("line", { x1: M.left, y1: y(reference.value), x2: W - M.right, y2: y(reference.value), class: "reference" }));
      svg.append(svgEl("text", { x: M.left + 6, y: y(reference.value) - 6, class: "legend reference-label" }, reference.label));
    }
    if (!items.length) svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "no predictions in this window"));
    return svg;
  }

  /** Two distributions over equal bins of [0, 1]: served as bars, training as a step line. */
  function distributions(container, options) {
    return drawn(container, () => drawDistributions(container, options));
  }
  function drawDistributions(container, { label, served, training }) {
    const svg = frame(container, label);
    const bins = served.length;
    const x = scale([0, 1], [M.left, W - M.right]);
    const yTicks = niceTicks(Math.max(...served, ...(training || []), 1e-9) * 1.15);
    const y = scale([0, yTicks[yTicks.length - 1]], [H - M.bottom, M.top]);
    axes(svg, x, y, { xTicks: unitTicks(), yTicks, xFormat: percent, yFormat: percent, xLabel: "churn probability", yLabel: "share of customers" });
    served.forEach((share, i) => {
      svg.append(svgEl("rect", { x: x(i / bins) + 1, y: y(share), width: Math.max(1, x(1 / bins) - x(0) - 2), height: y(0) - y(share), class: "bar-series served", "data-value": share }));
    });
    if (training) {
      const d = training.map((share, i) => `${i ? "L" : "M"}${x(i / bins).toFixed(1)},${y(share).toFixed(1)}H${x((i + 1) / bins).toFixed(1)}`).join("");
      svg.append(svgEl("path", { d, class: "series training" }));
    }
    legend(svg, [{ label: "served", className: "served" }, ...(training ? [{ label: "training", className: "training-key" }] : [])]);
    return svg;
  }

  return { unitLines, steps, timeBars, distributions, svgEl };
})();
