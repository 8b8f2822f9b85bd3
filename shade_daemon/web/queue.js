// The queue: every job from every source (folder, extension, API), live over one
// server-sent-event stream, with pause, resume and cancel.
import { api, el, peopleWords, showMessage } from "./api.js";
import { lost } from "./signin.js";

const jobs = new Map();
let status = {};
let rejected = [];          // files the to-post folder set aside, with their reasons

// A rejected file as a queue row: never silent, its reason in words.
function rejectedRow(r) {
  return {
    id: `rejected-${r.name}`, status: "rejected", source: "folder", filename: r.name, options: {},
    created_at: r.rejected_at, error: { message: `Not shaded: ${r.reason}. It was moved to the rejected folder.` },
  };
}

async function loadRejected() {
  try {
    rejected = (await api("/v1/rejected")).rejected || [];
    render();
  } catch {
    /* the stream's error handler says what is wrong */
  }
}

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

// The state in words, from the daemon (the one verdict for a done job; "waiting: 2 ahead in
// the queue", "shading 12 of 26" otherwise).
function stateText(job) {
  if (job.status === "running" && status.paused) return "paused";
  if (job.status === "rejected") return "not shaded";
  return job.words || job.status;
}

function verdictClass(job) {
  const level = job.verdict && job.verdict.level;
  return level ? `verdict-${level.replace(/ /g, "-")}` : "";
}

// Why a job failed, in words; the daemon's own message folded under "details".
function reason(error) {
  const said = peopleWords(error.code, error.message);
  return el("div", { class: "muted reason" }, said.message,
    said.details ? el("details", {}, el("summary", {}, "details"), el("div", { class: "detail" }, said.details)) : null);
}

function row(job) {
  const total = job.total || 0;
  const done = job.status === "done";
  const bar = el("progress", { max: 1, value: done ? 1 : job.progress || 0 });
  const eta = status.paused ? "" : job.eta_words;
  const text = job.status === "running" && total ? [`${job.step || 0}/${total}`, eta].filter(Boolean).join(" · ")
    : job.status === "queued" ? [job.words, eta].filter(Boolean).join(" · ") : "";
  const actions = [];
  if (job.status === "queued" || job.status === "running") {
    actions.push(el("button", { type: "button", class: "cancel", onclick: () => cancel(job.id) }, "Cancel"));
  }
  if (done) actions.push(el("a", { href: `#preview/${job.id}`, class: "button preview" }, "Preview"));
  const v = job.verdict;
  if (done && v && v.level !== "protected" && v.next_intensity) {   // at the top, the advice says there is none
    actions.push(el("button", { type: "button", class: "stronger", onclick: () => stronger(job.id) }, "Shade again, stronger"));
  }
  const err = job.error && (job.status === "failed" || job.status === "rejected")
    ? reason(job.error) : null;
  const advice = done && v && v.advice ? el("div", { class: "muted advice" }, v.advice) : null;
  const opts = job.options || {};
  return el("tr", { dataset: { jobId: job.id, status: job.status } },
    el("td", {}, job.filename, err),
    el("td", {}, job.source),
    el("td", {}, [opts.mode, opts.mode === "cloak" ? opts.style : opts.target].filter(Boolean).join(" → "),
      opts.intensity ? el("div", { class: "muted" }, `${opts.intensity} intensity`) : null),
    el("td", { class: `state state-${job.status} ${verdictClass(job)}` }, stateText(job), advice),
    el("td", {}, bar, " ", el("span", { class: "progress-text" }, text)),
    el("td", {}, actions));
}

// "Shade again, stronger": the original queued again one intensity up (or why not, in words).
async function stronger(id) {
  try {
    const job = await api(`/v1/jobs/${id}/stronger`, { method: "POST" });
    jobs.set(job.id, job);
    showMessage(`Shading ${job.filename} again at the ${job.intensity} intensity.`);
    render();
  } catch (e) {
    showMessage(e, true);
  }
}

function render() {
  const body = document.getElementById("jobs");
  const list = [...jobs.values(), ...rejected.map(rejectedRow)].sort((a, b) => b.created_at - a.created_at);
  body.replaceChildren(...list.map(row));
  document.getElementById("no-jobs").hidden = list.length > 0;
}

async function cancel(id) {
  try {
    const job = await api(`/v1/jobs/${id}`, { method: "DELETE" });
    jobs.set(job.id, job);
    showMessage("");
    render();
  } catch (e) {
    showMessage(e, true);
  }
}

async function setPaused(paused) {
  try {
    await api(paused ? "/v1/pause" : "/v1/resume", { method: "POST" });
    setStatus(await api("/v1/status"));
    showMessage("");
  } catch (e) {
    showMessage(e, true);
  }
}

export function start() {
  document.getElementById("pause").addEventListener("click", () => setPaused(true));
  document.getElementById("resume").addEventListener("click", () => setPaused(false));
  connect();
  setInterval(() => { if (!document.hidden) loadRejected(); }, 5000);
}

function connect() {
  loadRejected();
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
    Object.assign(job, { status: "running", step: p.step, total: p.total, stage: p.stage, progress: p.progress,
      words: p.words || job.words, eta_words: p.eta_words || "" });
    render();
  });
  stream.addEventListener("status", (e) => setStatus(JSON.parse(e.data)));
  stream.addEventListener("open", () => showMessage(""));
  stream.addEventListener("error", () => {
    document.getElementById("daemon-state").textContent = "Connection to Shade lost; reconnecting…";
    // The browser retries a dropped stream by itself, but not one refused (a restarted daemon
    // no longer knows this page's session): close it and reconnect once Shade answers again.
    stream.close();
    lost(() => {
      jobs.clear();
      connect();
    });
  });
}

export function show() {
  render();
}
