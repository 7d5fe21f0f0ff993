"use strict";
// ChurnGuard single-page app: three views over the API's JSON endpoints. No dependencies.

const FIELDS = ["gender", "age", "partner", "dependents", "tenure_months", "monthly_charges", "contract_type",
  "payment_method", "paperless_billing", "internet_service", "online_security", "tech_support", "num_tickets"];
const CHECKBOXES = new Set(["partner", "dependents", "paperless_billing", "online_security", "tech_support"]);
const LABELS = {
  gender: "Gender", age: "Age", partner: "Partner", dependents: "Dependents", tenure_months: "Tenure",
  monthly_charges: "Monthly charges", contract_type: "Contract", payment_method: "Payment method",
  paperless_billing: "Paperless billing", internet_service: "Internet", online_security: "Online security",
  tech_support: "Tech support", num_tickets: "Support tickets",
};
const PRESETS = {
  "high-risk": { gender: 0, age: 47, partner: 0, dependents: 0, tenure_months: 1, monthly_charges: 98.53, contract_type: 0,
    payment_method: 2, paperless_billing: 1, internet_service: 2, online_security: 0, tech_support: 0, num_tickets: 6 },
  loyal: { gender: 1, age: 52, partner: 1, dependents: 1, tenure_months: 66, monthly_charges: 60.9, contract_type: 2,
    payment_method: 0, paperless_billing: 0, internet_service: 1, online_security: 1, tech_support: 1, num_tickets: 0 },
  new: { gender: 0, age: 29, partner: 0, dependents: 0, tenure_months: 2, monthly_charges: 55.2, contract_type: 0,
    payment_method: 1, paperless_billing: 1, internet_service: 1, online_security: 0, tech_support: 0, num_tickets: 1 },
  senior: { gender: 1, age: 71, partner: 1, dependents: 0, tenure_months: 30, monthly_charges: 84.1, contract_type: 1,
    payment_method: 3, paperless_billing: 0, internet_service: 2, online_security: 0, tech_support: 1, num_tickets: 2 },
  family: { gender: 0, age: 41, partner: 1, dependents: 1, tenure_months: 40, monthly_charges: 72.4, contract_type: 1,
    payment_method: 1, paperless_billing: 1, internet_service: 1, online_security: 1, tech_support: 0, num_tickets: 1 },
};
const ADVICE = {
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

const $ = (selector) => document.querySelector(selector);
const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
};
const pct = (value) => `${(100 * value).toFixed(1)}%`;

function showView(name) {
  for (const view of ["predict", "model", "monitoring"]) {
    $(`#view-${view}`).hidden = view !== name;
    const tab = document.querySelector(`.tab[data-view="${view}"]`);
    if (view === name) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  if (name === "model") loadModel();
  if (name === "monitoring") startMonitoring(); else stopMonitoring();
}

function fillForm(values) {
  for (const name of FIELDS) {
    const input = document.getElementById(name);
    if (CHECKBOXES.has(name)) input.checked = Boolean(values[name]);
    else input.value = values[name];
    const slider = document.getElementById(`${name}-range`);
    if (slider) slider.value = values[name];
  }
  clearErrors();
}

function readForm() {
  const body = {};
  for (const name of FIELDS) {
    const input = document.getElementById(name);
    if (CHECKBOXES.has(name)) body[name] = input.checked ? 1 : 0;
    else if (input.value.trim() === "") body[name] = null;
    else body[name] = Number(input.value);
  }
  return body;
}

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error, #form-error")) node.textContent = "";
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showErrors(payload) {
  const errors = (payload && payload.errors) || [];
  let placed = false;
  for (const error of errors) {
    const field = String(error.field || "");
    const slot = document.getElementById(`err-${field}`);
    if (slot) {
      slot.textContent = `${LABELS[field] || field}: ${error.rule}`;
      document.getElementById(field).setAttribute("aria-invalid", "true");
      placed = true;
    }
  }
  if (!placed) $("#form-error").textContent = (payload && payload.detail) || "The request failed.";
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
  const raising = contributions.filter((c) => c.contribution > 0.005).slice(0, 2);
  $("#recommendation").textContent = result.churn_prediction && raising.length
    ? raising.map((c) => ADVICE[c.feature]).join(" ")
    : "No retention action needed: keep the usual service.";

  const list = $("#contributions");
  list.replaceChildren();
  const largest = Math.max(0.01, ...contributions.map((c) => Math.abs(c.contribution)));
  for (const c of contributions) {
    const item = el("li", { "data-feature": c.feature });
    item.append(el("span", {}, LABELS[c.feature] || c.feature));
    const track = el("span", { class: "bar-track", "aria-hidden": "true" });
    const bar = el("span", { class: `bar ${c.contribution >= 0 ? "up" : "down"}` });
    bar.style.width = `${(50 * Math.abs(c.contribution)) / largest}%`;
    track.append(bar);
    item.append(track);
    item.append(el("span", { class: "bar-value" }, `${c.contribution >= 0 ? "+" : ""}${(100 * c.contribution).toFixed(1)} pt`));
    list.append(item);
  }
}

async function predict(event) {
  event.preventDefault();
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
    if (response.ok) renderPrediction(payload); else showErrors(payload);
  } catch (error) {
    $("#form-error").textContent = `The API did not answer: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

async function loadModel() {
  $("#model-error").textContent = "";
  const response = await fetch("/model-info");
  const info = await response.json();
  if (!response.ok) { $("#model-error").textContent = info.detail; return; }
  const summary = $("#model-summary");
  summary.replaceChildren();
  for (const [key, value] of [["Version", info.model_version.slice(0, 12)], ["Family", info.family],
    ["Trained", new Date(info.trained_at).toLocaleString()], ["Threshold", pct(info.threshold)],
    ["Training churn rate", pct(info.churn_rate)], ["Registry version", info.registry_version || "–"]]) {
    summary.append(el("dt", {}, key), el("dd", {}, String(value)));
  }
  const metrics = $("#model-metrics");
  metrics.replaceChildren();
  for (const name of ["f1", "accuracy", "precision", "recall", "roc_auc"]) {
    const value = info.metrics[name];
    const item = el("li", { "data-metric": name });
    item.append(el("span", {}, name === "roc_auc" ? "ROC-AUC" : name === "f1" ? "F1" : name[0].toUpperCase() + name.slice(1)));
    const track = el("span", { class: "bar-track", "aria-hidden": "true" });
    const bar = el("span", { class: "bar" });
    bar.style.width = `${100 * value}%`;
    track.append(bar);
    item.append(track, el("span", { class: "bar-value" }, value.toFixed(3)));
    metrics.append(item);
  }
  const gate = info.quality_gate;
  $("#model-gate").textContent = gate
    ? `Promoted: holdout F1 ${gate.holdout_f1.toFixed(4)} ≥ floor ${gate.min_f1.toFixed(2)}, and not worse than the previous champion by more than ${gate.tolerance.toFixed(2)} (paired bootstrap).`
    : "–";
  const params = $("#model-params");
  params.replaceChildren();
  for (const [key, value] of Object.entries(info.params)) params.append(el("dt", {}, key), el("dd", {}, String(value)));
  const features = $("#model-features");
  features.replaceChildren(...info.features.map((name) => el("li", {}, name)));
}

let monitorTimer = null;
let lastSample = null;
async function refreshMonitoring() {
  const response = await fetch("/monitoring/summary");
  if (!response.ok) return;
  const data = await response.json();
  const now = performance.now();
  if (lastSample) {
    const seconds = (now - lastSample.at) / 1000;
    const rate = Math.max(0, data.requests_total - lastSample.requests) / seconds;
    $("#request-rate").textContent = `${rate.toFixed(1)} req/s`;
  }
  lastSample = { at: now, requests: data.requests_total };
  $("#request-total").textContent = `${data.requests_total} requests, ${data.predictions_total} predictions since start`;
  const share = data.predictions_total ? data.churn_predictions / data.predictions_total : 0;
  $("#mix-churn").style.width = `${100 * share}%`;
  $("#mix-text").textContent = `${data.churn_predictions} churn, ${data.no_churn_predictions} stay (${pct(share)} churn)`;
  const drift = data.drift;
  if (drift) {
    $("#drift-verdict").textContent = drift.dataset_drift ? "Drift detected" : "No drift";
    $("#drift-detail").textContent = `${drift.drifted_features.length} of ${drift.features} features drifted`
      + (drift.drifted_features.length ? ` (${drift.drifted_features.join(", ")})` : "")
      + `; checked ${new Date(drift.checked_at).toLocaleString()}`;
  } else {
    $("#drift-verdict").textContent = "Not checked yet";
    $("#drift-detail").textContent = "Run `churnguard drift` to compare traffic with the training data.";
  }
  const links = $("#links");
  links.replaceChildren(el("li"), el("li"));
  links.children[0].append(el("a", { href: "/docs" }, "API docs"));
  links.children[1].append(el("a", { href: "/metrics" }, "Prometheus metrics"));
  for (const [name, url] of Object.entries(data.links || {})) {
    const item = el("li");
    item.append(el("a", { href: url }, name));
    links.append(item);
  }
}
function startMonitoring() {
  stopMonitoring();
  lastSample = null;
  refreshMonitoring();
  monitorTimer = setInterval(refreshMonitoring, 2000);
}
function stopMonitoring() { if (monitorTimer) clearInterval(monitorTimer); monitorTimer = null; }

function init() {
  for (const slider of document.querySelectorAll("input[type=range]")) {
    const target = document.getElementById(slider.dataset.for);
    slider.addEventListener("input", () => { target.value = slider.value; });
    target.addEventListener("input", () => { slider.value = target.value; });
  }
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => fillForm(PRESETS[button.dataset.preset]));
  }
  $("#customer-form").addEventListener("submit", predict);
  window.addEventListener("hashchange", () => showView(location.hash.slice(1) || "predict"));
  fillForm(PRESETS["high-risk"]);
  showView(location.hash.slice(1) || "predict");
}
init();
