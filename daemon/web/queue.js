// The queue: every job from every source (folder, extension, API), live over one
// server-sent-event stream, with pause, resume and cancel.
import { api, el, showMessage } from "./api.js";

const jobs = new Map();
let status = {};

function setStatus(next) {
  status = next;
  const paused = Boolean(status.paused);
  document.getElementById("pause").hidden = paused;
  document.getElementById("resume").hidden = !paused;
  const waiting = status.queue_length || 0;
  const model = status.models || {};
  document.getElementById("daemon-state").textContent =
    `${paused ? "Paused" : "Running"} · ${waiting} waiting · ${status.device || "device not ready"}` +
    (model.state === "error" ? ` · model error: ${model.error}` : "");
  document.getElementById("queue-summary").textContent = paused ? "Paused: the running job holds at its next step." : "";
  render();
}

function stateText(job) {
  if (job.status === "running" && status.paused) return "paused";
  if (job.status === "queued" && job.queue_position) return `queued (#${job.queue_position})`;
  return job.status;
}

function row(job) {
  const total = job.total || 0;
  const done = job.status === "done";
  const bar = el("progress", { max: 1, value: done ? 1 : job.progress || 0 });
  const text = job.status === "running" || (total && !done)
    ? `${job.step || 0}/${total || "?"} ${job.stage || ""}`.trim() : done ? "done" : "";
  const actions = [];
  if (job.status === "queued" || job.status === "running") {
    actions.push(el("button", { type: "button", class: "cancel", onclick: () => cancel(job.id) }, "Cancel"));
  }
  if (done) actions.push(el("a", { href: `#preview/${job.id}`, class: "button preview" }, "Preview"));
  const err = job.error && job.status === "failed" ? el("div", { class: "muted" }, job.error.message) : null;
  const opts = job.options || {};
  return el("tr", { dataset: { jobId: job.id, status: job.status } },
    el("td", {}, job.filename, err),
    el("td", {}, job.source),
    el("td", {}, [opts.mode, opts.mode === "cloak" ? opts.style : opts.target].filter(Boolean).join(" → ")),
    el("td", { class: `state state-${job.status}` }, stateText(job)),
    el("td", {}, bar, " ", el("span", { class: "progress-text" }, text)),
    el("td", {}, actions));
}

function render() {
  const body = document.getElementById("jobs");
  const list = [...jobs.values()].sort((a, b) => b.created_at - a.created_at);
  body.replaceChildren(...list.map(row));
  document.getElementById("no-jobs").hidden = list.length > 0;
}

async function cancel(id) {
  try {
    const job = await api(`/v1/jobs/${id}`, { method: "DELETE" });
    jobs.set(job.id, job);
    render();
  } catch (e) {
    showMessage(e.message, true);
  }
}

async function setPaused(paused) {
  try {
    await api(paused ? "/v1/pause" : "/v1/resume", { method: "POST" });
    setStatus(await api("/v1/status"));
  } catch (e) {
    showMessage(e.message, true);
  }
}

export function start() {
  document.getElementById("pause").addEventListener("click", () => setPaused(true));
  document.getElementById("resume").addEventListener("click", () => setPaused(false));
  const stream = new EventSource("/v1/events");
  stream.addEventListener("jobs", (e) => {
    for (const job of JSON.parse(e.data).jobs) jobs.set(job.id, job);
    render();
  });
  stream.addEventListener("state", (e) => {
    const job = JSON.parse(e.data);
    jobs.set(job.id, job);
    render();
  });
  stream.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    const job = jobs.get(p.id);
    if (!job) return;
    Object.assign(job, { status: "running", step: p.step, total: p.total, stage: p.stage, progress: p.progress });
    render();
  });
  stream.addEventListener("status", (e) => setStatus(JSON.parse(e.data)));
  stream.addEventListener("open", () => showMessage(""));
  stream.addEventListener("error", () => {
    document.getElementById("daemon-state").textContent = "Connection to Shade lost; retrying…";
  });
}

export function show() {
  render();
}
