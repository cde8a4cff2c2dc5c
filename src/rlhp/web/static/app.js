// The labelling page: no framework, no build step.
// Keeps the pair on screen plus the next one, already loaded in hidden <video>s, so an
// answer swaps to the next pair at once; answers are posted in the background.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { current: null, next: null, fetching: false, retry: 3, recent: [] };

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options,
    headers: { "Content-Type": "application/json", ...(options.headers || {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showError(message) { $("error").textContent = message || ""; }

function showProgress(p) {
  if (!p) return;
  const budget = p.budget == null ? "" : ` · budget ${p.budget}`;
  $("progress").textContent =
    `answered by you ${p.by_you} · by everyone ${p.answered} of ${p.asked} asked${budget}`;
  $("who").textContent = p.name ? `labelling as ${p.name}` : "";
  $("empty-detail").textContent = p.rendering
    ? `${p.rendering} pair(s) are being rendered right now.`
    : "Waiting for the trainer to ask for more comparisons.";
}

function makeVideo(src) {
  const v = document.createElement("video");
  v.muted = true; v.loop = true; v.playsInline = true; v.preload = "auto";
  v.src = src;
  v.load();
  return v;
}

function loadPair(pair) {
  // Both videos start loading now, while they are still off screen.
  const left = makeVideo(pair.left), right = makeVideo(pair.right);
  $("preload").append(left, right);
  return { ...pair, videos: [left, right] };
}

function show(pair) {
  state.current = pair;
  if (!pair) {
    $("stage").hidden = true; $("empty").hidden = false;
    $("stage").dataset.pairId = "";
    return;
  }
  $("empty").hidden = true; $("stage").hidden = false;
  $("stage").dataset.pairId = pair.id;
  $("left").replaceChildren(pair.videos[0]);
  $("right").replaceChildren(pair.videos[1]);
  for (const v of pair.videos) { v.currentTime = 0; v.play().catch(() => {}); }
}

async function fetchNext() {
  if (state.fetching || state.next) return;
  state.fetching = true;
  try {
    // Never the pair on screen, nor one whose answer may still be on its way.
    const skip = [...state.recent.slice(-20), ...(state.current ? [state.current.id] : [])];
    const body = await api(`/api/next?exclude=${skip.join(",")}`);
    showProgress(body.progress);
    if (body.pair) state.next = loadPair(body.pair);
  } catch (err) {
    showError(err.message);
  } finally {
    state.fetching = false;
  }
  if (!state.current && state.next) advance();
}

function advance(fetch = true) {
  const old = state.current;
  show(state.next);
  state.next = null;
  if (old) for (const v of old.videos) { v.pause(); v.removeAttribute("src"); v.load(); v.remove(); }
  if (fetch) fetchNext();
}

async function answer(choice) {
  const pair = state.current;
  if (!pair) return;
  const button = document.querySelector(`button[data-choice="${choice}"]`);
  button.classList.add("flash"); setTimeout(() => button.classList.remove("flash"), 150);
  state.recent = [...state.recent, pair.id].slice(-20);
  advance(false);  // the next pair is already loaded: show it first, store the answer meanwhile
  try {
    const body = await api("/api/answer", { method: "POST", body: JSON.stringify({ pair_id: pair.id, choice }) });
    showProgress(body.progress);
    showError("");
  } catch (err) {
    showError(`Your answer to pair ${pair.id} was not stored: ${err.message}`);
  }
  fetchNext();  // then preload the pair after next (a person needs 3-5 s per pair)
}

const KEYS = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "equal", ArrowDown: "cant_tell" };
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.repeat) return;
  const choice = KEYS[e.key];
  if (choice) { e.preventDefault(); answer(choice); }
});
for (const b of document.querySelectorAll("button[data-choice]")) {
  b.addEventListener("click", () => answer(b.dataset.choice));
}

function poll() {
  // While nothing is on screen (no clips yet), ask again every few seconds.
  if (!state.current) fetchNext();
  setTimeout(poll, state.retry * 1000);
}

async function start() {
  const config = await api("/api/config");
  $("instructions").textContent = config.instructions;
  state.retry = config.retry_seconds;
  const progress = await api("/api/progress");
  showProgress(progress);
  if (!progress.name) { $("name-form").hidden = false; $("name-input").focus(); return; }
  show(null);
  poll();
}

$("name-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("/api/name", { method: "POST", body: JSON.stringify({ name: $("name-input").value }) });
    $("name-form").hidden = true;
    start();
  } catch (err) { $("name-error").textContent = err.message; }
});

start().catch((err) => showError(err.message));
