"use strict";
// ChurnGuard single-page app: four views over the API's JSON. The Predict form, the presets and
// the field names come from GET /schema, so the page speaks the served table's language.

// A contribution in percentage points, signed; one that rounds to zero is "0.0 pt", never "-0.0".
const points = (value) => {
  const shown = (100 * value).toFixed(1);
  return Number(shown) === 0 ? "0.0 pt" : `${value > 0 ? "+" : ""}${shown} pt`;
};

const ADVICE = {  // the original schema's retention advice, by field
  contract_type: "Offer a discounted one- or two-year contract.",
  num_tickets: "Call proactively to resolve the open support issues.",
  tenure_months: "Run an onboarding check-in: new customers leave most often.",
  internet_service: "Check the fiber service quality and offer an upgrade path.",
  payment_method: "Suggest automatic payment instead of electronic check.",
  tech_support: "Offer the tech support add-on free for three months.",
  online_security: "Offer the online security add-on.",
  monthly_charges: "Review the plan: a cheaper bundle may fit better.",
  paperless_billing: "Send a clear monthly bill summary.",
  partner: "Offer a family or partner plan.",
  dependents: "Offer a family plan.",
  age: "Tailor the offer to the customer's life stage.",
  gender: "No action: this field should not drive retention offers.",
};
const METRICS = [["f1", "F1"], ["accuracy", "Accuracy"], ["precision", "Precision"], ["recall", "Recall"], ["roc_auc", "ROC-AUC"]];

const $ = (selector) => document.querySelector(selector);
const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== "") node.textContent = text;
  return node;
};
const pct = (value) => `${(100 * value).toFixed(1)}%`;
const slug = (text) => String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
const state = { schema: null, fields: new Map(), presets: new Map() };

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || `${url}: ${response.status}`);
  return body;
}

function showView(name) {
  for (const view of ["predict", "model", "monitoring", "about"]) {
    $(`#view-${view}`).hidden = view !== name;
    const tab = document.querySelector(`.tab[data-view="${view}"]`);
    if (view === name) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  if (name === "model") loadModel();
  if (name === "about") loadAbout();
  if (name === "monitoring") startMonitoring(); else stopMonitoring();
}

// ---- the schema-driven form ----

const title = (name) => (state.fields.get(name) || {}).title || name;
const labelName = (field, value) => {
  const found = (field.labels || []).find((label) => String(label.value) === String(value));
  return found ? found.name : String(value);
};

function sliderRange(field) {
  const deciles = field.training_deciles || [];
  const step = field.integer ? 1 : 0.01;
  let min = field.minimum ?? (deciles.length ? Math.min(0, deciles[0]) : 0);
  if (field.minimum !== null && field.minimum !== undefined && !field.minimum_inclusive) min += step;
  let max = field.maximum ?? (deciles.length ? deciles[deciles.length - 1] * 2 : 100);
  if (deciles.length && max > 4 * deciles[deciles.length - 1]) max = Math.ceil(deciles[deciles.length - 1] * 1.5);
  if (field.maximum !== null && field.maximum !== undefined && !field.maximum_inclusive) max = Math.min(max, field.maximum - step);
  return { min, max, step };
}

function fieldControl(field) {
  const wrap = el("div", { class: `field kind-${field.kind}`, "data-field": field.name });
  const help = field.help ? el("span", { class: "help" }, field.help) : null;
  const error = el("p", { class: "field-error", id: `err-${field.name}`, role: "alert" });
  if (field.kind === "binary") {
    const [off, on] = field.labels;
    const label = el("label", { class: "toggle" });
    const input = el("input", { type: "checkbox", id: field.name, name: field.name, "aria-describedby": `err-${field.name}` });
    const shown = el("span", { class: "toggle-value", id: `${field.name}-shown` }, off.name);
    input.addEventListener("change", () => { shown.textContent = input.checked ? on.name : off.name; });
    label.append(input, el("span", { class: "toggle-title" }, field.title), shown);
    wrap.append(label);
    if (help) wrap.append(help);
    wrap.append(error);
    return wrap;
  }
  const unit = field.unit && !field.labels && !field.title.toLowerCase().includes(field.unit.toLowerCase()) ? ` (${field.unit})` : "";
  const label = el("label", { for: field.name }, field.title + unit);
  wrap.append(label);
  if (help) wrap.append(help);
  if (field.labels) {
    const select = el("select", { id: field.name, name: field.name, "aria-describedby": `err-${field.name}` });
    if (!field.required) select.append(el("option", { value: "" }, "(blank: imputed)"));
    for (const option of field.labels) select.append(el("option", { value: String(option.value) }, option.name));
    wrap.append(select);
  } else {
    const { min, max, step } = sliderRange(field);
    const row = el("div", { class: "range" });
    const slider = el("input", { type: "range", id: `${field.name}-range`, min, max, step, "aria-label": `${field.title} slider`, "data-for": field.name });
    const input = el("input", { type: "number", id: field.name, name: field.name, step, "aria-describedby": `err-${field.name}` });
    if (!field.required) input.placeholder = "blank";
    slider.addEventListener("input", () => { input.value = slider.value; });
    input.addEventListener("input", () => { slider.value = input.value; });
    row.append(slider, input);
    wrap.append(row);
  }
  wrap.append(error);
  return wrap;
}

function buildForm(schema) {
  const container = $("#form-fields");
  container.replaceChildren();
  const groups = [
    ["Customer", (f) => f.kind === "binary"],
    ["Numbers", (f) => f.kind === "integer" || f.kind === "number"],
    ["Categories", (f) => f.kind === "category"],
  ];
  if (schema.id_column) {
    const set = el("fieldset");
    set.append(el("legend", {}, "Identity"));
    const wrap = el("div", { class: "field" });
    wrap.append(el("label", { for: "customer-id" }, `${schema.id_column} (optional, echoed back)`));
    wrap.append(el("input", { type: "text", id: "customer-id", name: schema.id_column, autocomplete: "off" }));
    set.append(wrap);
    container.append(set);
  }
  for (const [legend, belongs] of groups) {
    const fields = schema.fields.filter(belongs);
    if (!fields.length) continue;
    const set = el("fieldset", { class: legend === "Customer" ? "toggles-set" : "" });
    set.append(el("legend", {}, legend === "Customer" ? "Yes / no" : legend));
    const grid = el("div", { class: legend === "Customer" ? "toggles" : "field-grid" });
    for (const field of fields) grid.append(fieldControl(field));
    set.append(grid);
    container.append(set);
  }
}

function fillForm(values) {
  for (const field of state.schema.fields) {
    const value = values[field.name];
    const input = document.getElementById(field.name);
    if (field.kind === "binary") {
      input.checked = String(value) === String(field.labels[1].value);
      input.dispatchEvent(new Event("change"));
    } else {
      input.value = value === null || value === undefined ? "" : String(value);
      const slider = document.getElementById(`${field.name}-range`);
      if (slider && input.value !== "") slider.value = input.value;
    }
  }
  const id = document.getElementById("customer-id");
  if (id) id.value = values[state.schema.id_column] ?? "";
  clearErrors();
}

function readForm() {
  const body = {};
  const id = document.getElementById("customer-id");
  if (id && id.value.trim()) body[state.schema.id_column] = id.value.trim();
  for (const field of state.schema.fields) {
    const input = document.getElementById(field.name);
    if (field.kind === "binary") {
      body[field.name] = field.labels[input.checked ? 1 : 0].value;
    } else if (input.value.trim() === "") {
      if (field.required) body[field.name] = null;  // refused by the API, with the field named
    } else if (field.labels) {
      const label = field.labels.find((l) => String(l.value) === input.value);
      body[field.name] = label ? label.value : input.value;
    } else {
      body[field.name] = Number(input.value);
    }
  }
  return body;
}

function buildPresets(schema) {
  const bar = $("#presets");
  bar.replaceChildren(el("span", {}, "Presets:"));
  state.presets.clear();
  for (const preset of schema.presets) {
    const key = slug(preset.name);
    state.presets.set(key, preset.customer);
    const button = el("button", { type: "button", "data-preset": key }, preset.name[0].toUpperCase() + preset.name.slice(1));
    button.addEventListener("click", () => { fillForm(preset.customer); predict(); });  // a preset answers at once
    bar.append(button);
  }
  if (!schema.presets.length) bar.append(el("span", { class: "hint" }, "none until a champion with a training snapshot is loaded"));
}

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error, #form-error")) node.textContent = "";
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showErrors(payload) {
  let placed = false;
  for (const error of (payload && payload.errors) || []) {
    const field = String(error.field || "");
    const slot = document.getElementById(`err-${field}`);
    if (slot) {
      slot.textContent = `${title(field)}: ${error.rule}`;
      document.getElementById(field).setAttribute("aria-invalid", "true");
      placed = true;
    }
  }
  if (!placed) $("#form-error").textContent = (payload && payload.detail) || "The request failed.";
}

function shownValue(feature, value) {
  const field = state.fields.get(feature);
  if (!field || value === null || value === undefined) return value === null ? "blank" : String(value ?? "");
  if (field.labels) return labelName(field, value);
  const unit = field.unit && field.unit !== "$" ? (Number(value) === 1 ? field.unit.replace(/s$/, "") : field.unit) : "";
  return `${Number.isInteger(value) ? value : Number(value).toFixed(2)}${unit ? ` ${unit}` : ""}`;
}

function renderPrediction(result) {
  $("#result").hidden = false;
  $("#probability").textContent = pct(result.churn_probability);
  const fill = $("#gauge-fill");
  fill.style.strokeDasharray = `${(100 * result.churn_probability).toFixed(2)} 100`;
  fill.style.stroke = result.risk_band === "high" ? "var(--risk)" : result.risk_band === "medium" ? "var(--warn)" : "var(--safe)";
  const band = $("#risk-band");
  band.textContent = result.risk_band;
  band.className = `band ${result.risk_band}`;
  $("#threshold").textContent = pct(result.threshold);
  $("#decision").textContent = result.churn_prediction ? "likely to churn" : "likely to stay";

  const contributions = result.feature_contributions || [];
  // the largest drivers a retention action can change: fixed facts (age, tenure) are explained, never advised
  const raising = contributions.filter((c) => c.contribution > 0.005 && !(state.fields.get(c.feature) || {}).fixed).slice(0, 2);
  let advice = "No retention action needed: keep the usual service.";
  if (result.churn_prediction && raising.length) {
    advice = state.schema.name === "original"
      ? raising.map((c) => ADVICE[c.feature]).filter(Boolean).join(" ")
      : `Talk to this customer about ${raising.map((c) => `${title(c.feature)} (${shownValue(c.feature, c.value)})`).join(" and ")}: the fields that raise the risk most.`;
  }
  $("#recommendation").textContent = advice;

  const list = $("#contributions");
  list.replaceChildren();
  const largest = Math.max(0.01, ...contributions.map((c) => Math.abs(c.contribution)));
  for (const c of contributions) {
    const item = el("li", { "data-feature": c.feature });
    const name = el("span", { class: "bar-label" }, title(c.feature));
    name.append(el("span", { class: "muted" }, ` ${shownValue(c.feature, c.value)}`));
    const track = el("span", { class: "bar-track", "aria-hidden": "true" });
    const share = (0.5 * Math.abs(c.contribution)) / largest;  // half the track each way
    const bar = el("span", { class: `bar ${c.contribution >= 0 ? "up" : "down"}`, "data-share": String(share) });
    bar.style.width = `${100 * share}%`;
    track.append(bar);
    item.append(name, track, el("span", { class: "bar-value" }, points(c.contribution)));
    list.append(item);
  }
  renderSurvival(result.survival);
}

/** Time to churn, where the schema declares it: the curve from the customer's tenure on, with the
 * training population's Kaplan-Meier curve from the same tenure behind it. */
function renderSurvival(survival) {
  const card = $("#survival-card");
  card.hidden = !survival;
  if (!survival) return;
  const unit = survival.unit;
  const plural = (n) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  const within = survival.churn_within.map((h) => `${pct(h.probability)} within ${plural(h.periods)}`).join(", ");
  let text = `Expected ${survival.expected_remaining.toFixed(1)} of the next ${plural(survival.horizon)} as a customer; churn ${within}.`;
  if (survival.revenue_at_risk !== null) {
    text += ` Revenue at risk: ${survival.revenue_at_risk.toFixed(2)} (${survival.value_per_period} per ${unit}).`;
  }
  $("#survival-summary").textContent = text;
  const series = [];
  const known = state.schema.survival && state.schema.survival.training_kaplan_meier;
  if (known && known.length) {
    const start = Math.min(Math.floor(survival.tenure), known.length - 1);
    if (known[start] > 0) {
      const points = survival.curve.map((_, t) => [t, known[Math.min(start + t, known.length - 1)] / known[start]]);
      series.push({ points, className: "population", label: "training customers" });
    }
  }
  series.push({ points: survival.curve.map((value, t) => [t, value]), className: "customer", label: "this customer" });
  Charts.steps($("#chart-survival"), {
    label: `Survival curve over the next ${plural(survival.horizon)}`,
    series,
    xMax: survival.horizon,
    xLabel: `${unit}s from today`,
    yLabel: "still a customer",
  });
}

async function predict(event) {
  if (event) event.preventDefault();
  if (state.noModel) return;
  clearErrors();
  const button = $("#predict-button");
  button.disabled = true;
  try {
    const send = () => {
      const headers = { "Content-Type": "application/json" };
      const key = sessionStorage.getItem("churnguard-api-key");
      if (key) headers["X-API-Key"] = key;
      return fetch("/predict", { method: "POST", headers, body: JSON.stringify(readForm()) });
    };
    let response = await send();
    if (response.status === 401) {
      // the server requires PREDICT_API_KEY: ask once, keep it for this tab only
      const key = window.prompt("This ChurnGuard API needs an API key (X-API-Key):");
      if (key) { sessionStorage.setItem("churnguard-api-key", key); response = await send(); }
    }
    if (response.status === 401) sessionStorage.removeItem("churnguard-api-key");
    const payload = await response.json();
    if (response.ok) {
      renderPrediction(payload);
      // on a phone the result sits far below the button: bring its top (the gauge) into view
      const top = $("#result").getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight - 160) $("#result").scrollIntoView({ block: "start" });
    } else showErrors(payload);
  } catch (error) {
    $("#form-error").textContent = `The API did not answer: ${error.message}`;
  } finally {
    button.disabled = Boolean(state.noModel);
  }
}

// ---- Model ----

function meter(list, key, label, value, max = 1, shown = value.toFixed(3)) {
  const item = el("li", { "data-metric": key });
  const head = el("div", { class: "meter-head" });
  head.append(el("span", { class: "meter-label" }, label), el("span", { class: "meter-value" }, shown));
  const track = el("div", { class: "meter-track", "aria-hidden": "true" });
  const bar = el("div", { class: "meter-bar", "data-share": String(Math.max(0, Math.min(1, value / max))) });
  bar.style.width = `${100 * Math.max(0, Math.min(1, value / max))}%`;
  track.append(bar);
  item.append(head, track);
  list.append(item);
  return item;
}

function definitions(list, rows) {
  list.replaceChildren();
  for (const [key, value, full] of rows) {
    const pair = el("div", { class: "pair" });  // a dt/dd pair wraps as a whole, never mid-word
    pair.append(el("dt", {}, key), el("dd", full ? { title: full } : {}, String(value)));
    list.append(pair);
  }
}

/** The survival model's censoring-aware holdout metrics, where the champion forecasts time to churn. */
function renderSurvivalMetrics(info) {
  const m = info.metrics;
  const card = $("#model-survival-card");
  card.hidden = m.survival_concordance === undefined;
  if (card.hidden) return;
  const list = $("#model-survival");
  list.replaceChildren();
  const unit = (state.schema.survival || {}).unit || "period";
  const rows = [["survival_concordance", "Harrell's C"], ["survival_concordance_uno", "Uno's C"]];
  for (const t of [3, 6, 12]) if (m[`survival_auc_${t}`] !== undefined) rows.push([`survival_auc_${t}`, `ROC-AUC at ${t} ${unit}s`]);
  for (const [name, label] of rows) meter(list, name, label, m[name]);
  if (m.survival_ibs !== undefined) {
    // lower is better: the bar is the share of Kaplan-Meier's error the model leaves
    meter(list, "survival_ibs", "Integrated Brier (Kaplan-Meier's as full bar)", m.survival_ibs, m.survival_ibs_km,
      `${m.survival_ibs.toFixed(3)} / ${m.survival_ibs_km.toFixed(3)}`);
  }
  $("#model-survival-caption").textContent = `Family ${info.params.survival_family}. Censoring-weighted metrics stop at `
    + `${m.survival_tau} ${unit}s; predicted churn within the horizon is off the Kaplan-Meier observed by at most `
    + `${(100 * m.survival_calibration_gap).toFixed(1)} points in any decile of risk.`;
}

async function loadModel() {
  $("#model-error").textContent = "";
  let info;
  try { info = await getJson("/model-info"); } catch (error) { $("#model-error").textContent = error.message; return; }
  definitions($("#model-summary"), [
    ["Version", info.model_version.slice(0, 12), info.model_version], ["Family", info.family],
    ["Trained", new Date(info.trained_at).toLocaleString()], ["Threshold", pct(info.threshold)],
    ["Training churn rate", pct(info.churn_rate)], ["Registry version", info.registry_version || "–"],
    ["Schema", `${info.schema.name} (${info.schema.hash.slice(0, 12)})`, info.schema.hash],
  ]);
  const metrics = $("#model-metrics");
  metrics.replaceChildren();
  for (const [name, label] of METRICS) if (info.metrics[name] !== undefined) meter(metrics, name, label, info.metrics[name]);
  renderSurvivalMetrics(info);
  const gate = info.quality_gate;
  const floor = gate.f1_floor === null
    ? "It was promoted before floors were stored with the champion."
    : `It was promoted against the F1 floor ${gate.f1_floor.toFixed(2)} (${gate.f1_floor_source}).`;
  const plain = gate.baselines.plain_f1 === undefined ? "" : ` A plain logistic regression scored F1 ${gate.baselines.plain_f1.toFixed(4)} on the same holdout.`;
  $("#model-gate").textContent = `Holdout F1 ${gate.holdout_f1.toFixed(4)}. ${floor}${plain} A challenger also may not lose against it beyond ${gate.tolerance.toFixed(2)} (paired bootstrap).`;
  definitions($("#model-params"), Object.entries(info.params).map(([k, v]) => [k, v]));
  const body = $("#model-fields tbody");
  body.replaceChildren();
  for (const field of state.schema.fields) {
    const row = el("tr", { "data-field": field.name });
    const name = el("td");
    name.append(el("span", {}, field.title), el("code", { class: "muted" }, field.name));
    row.append(name, el("td", {}, field.kind), el("td", {}, field.labels ? field.labels.map((l) => l.name).join(", ") : field.rule));
    body.append(row);
  }
  $("#model-schema-name").textContent = `${state.schema.name}, ${state.schema.fields.length} fields`;
  const features = $("#model-features");
  features.replaceChildren(...state.schema.features.map((f) => {
    const item = el("li");
    item.append(el("strong", {}, f.title), el("span", { class: "muted" }, ` ${f.operation}(${f.inputs.map(title).join(", ")})`));
    return item;
  }));
  if (!state.schema.features.length) features.append(el("li", { class: "muted" }, "none"));
  loadDiagnostics();
}

async function loadDiagnostics() {
  let found;
  try { found = await getJson("/model/diagnostics"); } catch (error) {
    for (const id of ["chart-roc", "chart-calibration", "chart-confusion", "chart-importance"]) {
      document.getElementById(id).replaceChildren(el("p", { class: "hint" }, error.message));
    }
    return;
  }
  Charts.unitLines($("#chart-roc"), {
    label: `ROC curve, AUC ${found.roc.auc.toFixed(3)}`,
    series: [{ points: found.roc.fpr.map((x, i) => [x, found.roc.tpr[i]]), className: "roc" }],
    xLabel: "false positive rate", yLabel: "true positive rate",
  });
  $("#roc-caption").textContent = `AUC ${found.roc.auc.toFixed(3)} on ${found.holdout_rows} holdout customers; the dashed diagonal is a coin toss.`;
  Charts.unitLines($("#chart-calibration"), {
    label: "Calibration curve",
    series: [{ points: found.calibration.map((b) => [b.predicted, b.observed]), className: "calibration" }],
    xLabel: "mean predicted probability", yLabel: "observed churn rate", dots: true,
  });
  const c = found.confusion;
  const grid = el("div", { class: "confusion", role: "table", "aria-label": "Confusion matrix" });
  const cell = (cls, text, attrs = {}) => el("div", { class: `cell ${cls}`, ...attrs }, text);
  grid.append(cell("corner", ""), cell("head", "predicted stays"), cell("head", "predicted churns"),
    cell("head side", "stays"), cell("tn good", String(c.tn), { "data-cell": "tn" }), cell("fp bad", String(c.fp), { "data-cell": "fp" }),
    cell("head side", "churns"), cell("fn bad", String(c.fn), { "data-cell": "fn" }), cell("tp good", String(c.tp), { "data-cell": "tp" }));
  $("#chart-confusion").replaceChildren(grid);
  $("#confusion-caption").textContent = `Rows: what happened; columns: the decision at threshold ${pct(found.threshold)}.`;
  const list = el("ul", { class: "meters importance" });
  const top = Math.max(1e-9, ...found.importance.map((i) => i.drop_in_roc_auc));
  for (const item of found.importance.slice(0, 12)) meter(list, item.feature, item.title, Math.max(0, item.drop_in_roc_auc), top, item.drop_in_roc_auc.toFixed(4));
  $("#chart-importance").replaceChildren(list);
}

// ---- Monitoring ----

let monitorTimer = null;
let lastSample = null;
let windowHours = 6;

async function refreshTraffic() {
  const data = await getJson(`/monitoring/traffic?hours=${windowHours}`);
  const window = [data.now - data.hours * 3600, data.now];
  Charts.timeBars($("#chart-requests"), {
    label: "Predictions per interval", items: data.buckets.map((b) => ({ start: b.start, value: b.predictions })),
    window, bucketSeconds: data.bucket_seconds, yLabel: "predictions",
  });
  const total = data.buckets.reduce((sum, b) => sum + b.predictions, 0);
  const minutes = Math.round(data.bucket_seconds / 60);
  $("#requests-caption").textContent = `${total} predictions in the last ${data.hours} h, per ${minutes}-minute interval (from the prediction log).`;
  Charts.timeBars($("#chart-churn-rate"), {
    label: "Predicted churn rate", items: data.buckets.map((b) => ({ start: b.start, value: b.churn_rate })),
    window, bucketSeconds: data.bucket_seconds, yFormat: (v) => `${Math.round(100 * v)}%`, yLabel: "predicted churn",
    reference: data.training_churn_rate === null ? null : { value: data.training_churn_rate, label: `training base rate ${pct(data.training_churn_rate)}` },
    className: "bar-series churn", max: 0.5, cap: 1,
  });
  const churned = data.buckets.reduce((sum, b) => sum + b.churn_rate * b.predictions, 0);
  $("#churn-rate-caption").textContent = total
    ? `${pct(churned / total)} of the window's predictions are churn; the dashed line is the training base rate.`
    : "No predictions in this window yet.";
  Charts.distributions($("#chart-probabilities"), {
    label: "Served vs training probability distribution", served: data.served_probability_shares, training: data.training_probability_shares,
  });
  $("#probabilities-caption").textContent = `${data.served_predictions} served predictions in the window against the champion's training split.`;
  renderDrift(data.drift);
  renderOutcomes(data.outcomes);
}

function renderOutcomes(report) {
  $("#outcomes-card").hidden = !report;
  if (!report) return;
  $("#outcomes-detail").textContent = `${report.matched} of ${report.received} outcomes in the latest file joined with their prediction; `
    + `${report.unknown_ids.count} unknown ids, ${report.duplicate_ids.count} duplicates (churnguard outcomes, ${new Date(report.checked_at).toLocaleString()}).`;
  const body = $("#outcomes tbody");
  body.replaceChildren();
  const fixed = (v) => (v === null || v === undefined ? "–" : v.toFixed(3));
  for (const period of report.periods) {
    const row = el("tr", { "data-period": period.start });
    const [low, high] = period.estimated.f1_interval;
    row.append(el("td", {}, new Date(period.start).toLocaleDateString()), el("td", {}, String(period.rows)),
      el("td", { class: period.realized_f1_within_estimate ? "" : "off" }, fixed(period.realized.f1)),
      el("td", {}, `${fixed(period.estimated.f1)} (${fixed(low)}–${fixed(high)})`), el("td", {}, fixed(period.realized.roc_auc)));
    body.append(row);
  }
}

function renderDrift(drift) {
  const list = $("#drift-fields");
  list.replaceChildren();
  if (!drift) {
    $("#drift-verdict").textContent = "Not checked yet";
    $("#drift-detail").textContent = "Run `churnguard drift` to compare traffic with the training data.";
    return;
  }
  $("#drift-verdict").textContent = drift.dataset_drift ? "Drift detected" : "No drift";
  $("#drift-detail").textContent = `${(drift.reasons || []).slice(0, 2).join("; ")}. Checked ${new Date(drift.checked_at).toLocaleString()} on ${drift.current_source}.`;
  const estimate = drift.estimated_performance;
  const box = $("#estimate");
  box.replaceChildren();
  box.hidden = !estimate;
  if (estimate) {
    const [low, high] = estimate.f1_interval;
    box.append(el("strong", {}, `Estimated F1 ${estimate.f1.toFixed(3)}`),
      el("span", {}, ` (95% ${low.toFixed(3)} to ${high.toFixed(3)}); precision ${estimate.precision.toFixed(3)}, recall ${estimate.recall.toFixed(3)}, ROC-AUC ${estimate.roc_auc.toFixed(3)}, on ${estimate.rows} rows without labels.`));
    box.classList.toggle("warning", Boolean(estimate.below_f1_floor));
    if (estimate.below_f1_floor) box.append(el("span", { class: "warning-text" }, ` Under the gate's F1 floor ${estimate.f1_floor.toFixed(2)}.`));
  }
  for (const f of drift.fields) {
    if (f.statistic === null) continue;
    // a p-value drifts below its threshold, a distance above it: show the statistic against twice the threshold
    const weight = f.weight === null || f.weight === undefined ? "" : `, ${(100 * f.weight).toFixed(0)}% of the influence`;
    const item = meter(list, f.feature, `${f.title} (${f.test}${weight})`, f.statistic, 2 * f.threshold, `${f.statistic.toFixed(3)} / ${f.threshold}`);
    item.classList.add(f.drifted ? "drifted" : "steady");
  }
}

async function refreshMonitoring() {
  const data = await getJson("/monitoring/summary");
  const now = performance.now();
  if (lastSample) {
    const seconds = (now - lastSample.at) / 1000;
    const rate = Math.max(0, data.requests_total - lastSample.requests) / seconds;
    $("#request-rate").textContent = `${rate.toFixed(1)} req/s`;  // between the last two polls
  }
  lastSample = { at: now, requests: data.requests_total };
  $("#request-total").textContent = `${data.requests_total} requests, ${data.predictions_total} predictions since start`;
  const share = data.predictions_total ? data.churn_predictions / data.predictions_total : 0;
  $("#mix-churn").style.width = `${100 * share}%`;
  $("#mix-text").textContent = `${data.churn_predictions} churn, ${data.no_churn_predictions} stay (${pct(share)} churn)`;
  const links = $("#links");
  links.replaceChildren();
  for (const [name, url] of [["API docs", "/docs"], ["Prometheus metrics", "/metrics"], ...Object.entries(data.links || {})]) {
    const item = el("li");
    item.append(el("a", { href: url }, name));
    links.append(item);
  }
  await refreshTraffic();
  $("#monitoring-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function startMonitoring() {
  stopMonitoring();
  lastSample = null;
  refreshMonitoring();
  monitorTimer = setInterval(refreshMonitoring, 5000);
}
function stopMonitoring() { if (monitorTimer) clearInterval(monitorTimer); monitorTimer = null; }

// ---- About ----

function architecture() {
  // nested boxes in HTML, not a scaled SVG: the text keeps its size on a phone
  const layer = (cls, title, note, inner) => {
    const box = el("div", { class: `arch-layer ${cls}` });
    box.append(el("strong", {}, title));
    if (note) box.append(el("span", { class: "arch-note" }, note));
    if (inner) box.append(inner);
    return box;
  };
  const domain = layer("domain", "Domain: schema, features, gate, attribution", "standard library + numpy");
  const application = layer("application", "Application: use-cases through ports", "validate · train · evaluate · promote · predict · score · drift", domain);
  const adapters = layer("adapters", "Adapters: sklearn, MLflow, Pandera, Evidently, Prometheus, SQLite, files", "", application);
  const entrypoints = layer("entrypoints", "Entrypoints: FastAPI app + web UI, CLI, composition root", "", adapters);
  const figure = el("div", { role: "img", "aria-label": "Hexagonal architecture of ChurnGuard", class: "arch" });
  figure.append(entrypoints, el("p", { class: "arch-note" }, "dependencies point inwards: entrypoints → adapters → application → domain"));
  $("#architecture").replaceChildren(figure);
}

async function loadAbout() {
  architecture();
  const schema = state.schema;
  definitions($("#about-schema"), [
    ["Name", schema.name], ["Hash", schema.hash.slice(0, 12), schema.hash], ["Label", schema.label],
    ["Id column", schema.id_column || "–"], ["Fields", String(schema.fields.length)],
    ["Engineered features", String(schema.features.length)], ["Description", schema.description || "–"],
  ]);
  const openapi = await getJson("/openapi.json");
  $("#api-version").textContent = `v${openapi.info.version}`;
  const body = $("#endpoints tbody");
  body.replaceChildren();
  for (const [path, operations] of Object.entries(openapi.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const row = el("tr", { "data-endpoint": `${method.toUpperCase()} ${path}` });
      row.append(el("td", {}, method.toUpperCase()), el("td", { class: "path" }, path), el("td", {}, operation.summary || ""));
      body.append(row);
    }
  }
}

async function sayIfNoModel() {
  // an empty workdir: one banner that says what to do, instead of errors in every view
  const response = await fetch("/ready");
  if (response.ok) return;
  const body = await response.json().catch(() => ({}));
  const banner = $("#no-model");
  banner.textContent = (body.detail || "No model is loaded yet.").replace(/^no verified champion loaded yet \((.*)\)$/, "$1");
  banner.hidden = false;
  state.noModel = true;
  $("#predict-button").disabled = true;
}

async function init() {
  for (const button of document.querySelectorAll("[data-hours]")) {
    button.addEventListener("click", () => {
      windowHours = Number(button.dataset.hours);
      for (const other of document.querySelectorAll("[data-hours]")) other.setAttribute("aria-pressed", String(other === button));
      refreshTraffic();
    });
  }
  $("#customer-form").addEventListener("submit", predict);
  window.addEventListener("hashchange", () => showView(location.hash.slice(1) || "predict"));
  try {
    state.schema = await getJson("/schema");
  } catch (error) {
    $("#form-error").textContent = `The served schema could not be read: ${error.message}`;
    return;
  }
  for (const field of state.schema.fields) state.fields.set(field.name, field);
  for (const feature of state.schema.features) state.fields.set(feature.name, feature);
  $("#served-schema").textContent = `schema: ${state.schema.name}`;
  buildForm(state.schema);
  buildPresets(state.schema);
  if (state.schema.presets.length) fillForm(state.schema.presets[0].customer);
  await sayIfNoModel();
  document.body.dataset.ready = "true";
  showView(location.hash.slice(1) || "predict");
}
init();
