// Runs in the page (Selenium execute_script): every layout problem a person would see, as text.
// arguments[0]: the id of the view to check. Text boxes are compared line by line
// (getClientRects), so a wrapped inline span is not mistaken for a box over its neighbour.
const view = document.getElementById(arguments[0]);
const problems = [];
const visible = (n) => n.getClientRects().length > 0 && n.getBoundingClientRect().width > 0;
const name = (n) => {
  const cls = typeof n.className === "string" && n.className ? `.${n.className.split(" ")[0]}` : "";
  return `${n.tagName.toLowerCase()}${n.id ? `#${n.id}` : ""}${cls} "${(n.textContent || "").trim().slice(0, 30)}"`;
};
const page = document.documentElement.scrollWidth;
if (page > window.innerWidth + 1) problems.push(`page scrolls sideways: ${page} > ${window.innerWidth}`);

for (const card of view.querySelectorAll(".card, fieldset")) {
  if (!visible(card)) continue;
  const c = card.getBoundingClientRect();
  for (const node of card.querySelectorAll("*")) {
    if (!visible(node) || node.tagName === "OPTION") continue;
    const r = node.getBoundingClientRect();
    if (r.left < c.left - 1 || r.right > c.right + 1 || r.bottom > c.bottom + 1) {
      problems.push(`outside its card: ${name(node)}`);
    }
  }
}

const leaves = [...view.querySelectorAll("*")].filter(
  (n) => n.children.length === 0 && (n.textContent || "").trim() && visible(n) && n.tagName !== "OPTION",
);
const boxes = leaves.flatMap((n) => [...n.getClientRects()].map((r) => ({ n, r })));
for (let i = 0; i < boxes.length; i++) {
  for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.n === b.n) continue;
    const x = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
    const y = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
    if (x > 1 && y > 1) problems.push(`overlap: ${name(a.n)} and ${name(b.n)}`);
  }
}

for (const bar of view.querySelectorAll("[data-share]")) {
  if (!visible(bar.parentElement)) continue;
  const expected = Number(bar.dataset.share) * bar.parentElement.getBoundingClientRect().width;
  const width = bar.getBoundingClientRect().width;
  if (Math.abs(width - expected) > 1.5) {
    problems.push(`bar ${name(bar.closest("li"))}: ${width.toFixed(1)} px, its value says ${expected.toFixed(1)}`);
  }
}

for (const svg of view.querySelectorAll("svg")) {
  const bars = [...svg.querySelectorAll("rect[data-value]")].filter((r) => Number(r.dataset.value) > 0);
  const ratios = bars.map((r) => r.getBoundingClientRect().height / Number(r.dataset.value));
  if (ratios.length && Math.max(...ratios) - Math.min(...ratios) > 0.02 * Math.max(...ratios) + 1) {
    problems.push(`chart ${svg.getAttribute("aria-label")}: bar heights are not proportional to their values`);
  }
}
// Text a person can read: no rendered size below the floor. SVG text is scaled with its chart
// (viewBox to on-screen width), so a chart drawn for a desktop shrinks its labels on a phone.
const FLOOR_PX = 10;
for (const node of leaves) {
  let size = parseFloat(getComputedStyle(node).fontSize);
  const svg = node.closest("svg");
  if (svg && svg.viewBox && svg.viewBox.baseVal && svg.viewBox.baseVal.width) {
    size *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  }
  if (size < FLOOR_PX - 0.05) problems.push(`text too small: ${name(node)} at ${size.toFixed(1)} px`);
}
// Numbers as people write them: no 1.5e-9 on an axis, no NaN or undefined in a label.
for (const node of leaves) {
  const text = node.textContent.trim();
  if (/\d(\.\d+)?e[-+]\d/i.test(text) || /\b(NaN|undefined)\b/.test(text)) {
    problems.push(`unreadable number: ${name(node)}`);
  }
}
return problems;
