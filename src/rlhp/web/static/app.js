// The labelling page: no framework, no build step.
// Keeps the pair on screen plus the next one, already loaded in hidden <video>s, so an
// answer swaps to the next pair at once. Answers go into a queue kept in localStorage
// (it survives a reload or a closed tab) and are sent from there, in order, until the
// server has stored each one; the header shows how many are still waiting.
"use strict";

const $ = (id) => document.getElementById(id);
const QUEUE_KEY = `rlhp-unsent:${location.host}`;
const SPEEDS = [1, 0.5, 0.25];
const LABELS = { left: "Left is better", right: "Right is better", equal: "About the same", cant_tell: "Can't tell" };
const state = {
  current: null, next: null, previous: null, fetching: false, retry: 3, undoSeconds: 6,
  recent: [], queue: [], sending: false, offline: false, retryTimer: null, undoTimer: null,
  speed: 0, paused: false, progress: null, name: null,
};

class HttpError extends Error {
  constructor(status, body) { super(body.error || `HTTP ${status}`); this.status = status; this.body = body; }
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options,
    headers: { "Content-Type": "application/json", ...(options.headers || {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new HttpError(response.status, body);
  return body;
}
const isOffline = (err) => !(err instanceof HttpError) || err.status >= 500;

function showError(message) { $("error").textContent = message || ""; }
function notice(message) {
  $("notice").textContent = message;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { $("notice").textContent = ""; }, 6000);
}

// -- progress ---------------------------------------------------------------------------

function showProgress(p) {
  if (!p) return;
  state.progress = p;
  const total = p.budget || Math.max(p.asked, 1);
  $("progress").hidden = false;
  $("bar-everyone").style.width = `${Math.min(100, (100 * p.answered) / total)}%`;
  $("bar-you").style.width = `${Math.min(100, (100 * p.by_you) / total)}%`;
  const of = p.budget == null ? `${p.asked} asked so far` : `budget ${p.budget}`;
  $("progress-text").innerHTML = "";
  $("progress-text").append(
    span(`${p.by_you}`, "you-n"), " by you · ", bold(`${p.answered}`), ` by everyone · ${of}`);
  $("who").textContent = p.name ? `labelling as ${p.name}` : "";
  $("change-name").hidden = !p.name;
  $("empty-detail").textContent = p.rendering
    ? `${p.rendering} pair(s) are being rendered right now.`
    : "Waiting for the trainer to ask for more comparisons.";
  $("finished-detail").textContent =
    `${p.answered} of ${p.budget} comparisons are answered — ${p.by_you} of them by you.`;
  if (!state.current) show(null);
}
const span = (text, cls) => { const s = document.createElement("span"); s.className = cls; s.textContent = text; return s; };
const bold = (text) => { const b = document.createElement("b"); b.textContent = text; return b; };

// -- the queue of answers not yet stored ----------------------------------------------

function loadQueue() {
  try { state.queue = JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch { state.queue = []; }
}
function saveQueue() {
  localStorage.setItem(QUEUE_KEY, JSON.stringify(state.queue));
  showSending();
}
function showSending() {
  const n = state.queue.length;
  const el = $("sending");
  el.classList.toggle("ok", n === 0);
  el.textContent = n === 0
    ? (state.progress && state.progress.by_you ? "✓ all your answers are stored" : "")
    : `${n} answer${n === 1 ? "" : "s"} waiting to be sent`;
  el.dataset.waiting = String(n);
  $("offline").hidden = !state.offline;
  $("offline-detail").textContent = n
    ? ` Your ${n} answer${n === 1 ? " is" : "s are"} kept in this browser and will be sent by itself when it is back (reloading is safe).`
    : " This page tries again by itself.";
}

function enqueue(item) {
  state.queue.push(item);
  saveQueue();
  flush();
}

async function flush() {
  if (state.sending) return;
  state.sending = true;
  clearTimeout(state.retryTimer);
  try {
    while (state.queue.length) {
      const item = state.queue[0];
      item.inFlight = true;
      try {
        const path = item.kind === "correct" ? "/api/correct" : "/api/answer";
        const body = await api(path, { method: "POST", body: JSON.stringify({ pair_id: item.pair_id, choice: item.choice }) });
        showProgress(body.progress);
      } catch (err) {
        item.inFlight = false;
        if (isOffline(err)) { setOffline(true); state.retryTimer = setTimeout(flush, 2000); return; }
        if (err.status === 401) { askName(err.message); return; }  // kept: sent once a name is given
        // 409 and the like: the server will never take this one; say so and drop it
        notice(err.status === 409 ? err.message : `Your answer to pair ${item.pair_id} was not stored: ${err.message}`);
      }
      state.queue.shift();
      saveQueue();
      setOffline(false);
    }
  } finally {
    state.sending = false;
    showSending();
  }
}

function setOffline(offline) {
  const back = state.offline && !offline;
  state.offline = offline;
  showSending();
  if (!state.current && state.name) show(null);
  if (back) { showError(""); if (!state.next) fetchNext(); }
}

// -- clips --------------------------------------------------------------------------------

function makeVideo(src) {
  const v = document.createElement("video");
  v.muted = true; v.loop = true; v.playsInline = true; v.preload = "auto";
  v.src = src;
  // A clip that failed to load (the server went down while it was loading) is asked for
  // again every 2 s, so the pair plays once the server is back instead of staying blank.
  v.addEventListener("error", () => {
    setTimeout(() => { if (v.isConnected) { v.src = src; v.load(); } }, 2000);
  });
  v.load();
  return v;
}

function loadPair(pair) {
  // Both videos start loading now, while they are still off screen.
  const left = makeVideo(pair.left), right = makeVideo(pair.right);
  $("preload").append(left, right);
  return { ...pair, videos: [left, right] };
}

function drop(pair) {
  if (!pair) return;
  for (const v of pair.videos) { v.pause(); v.removeAttribute("src"); v.load(); v.remove(); }
}

function describeEnd(info, side) {
  const end = $(`${side}-timeline`).querySelector(".end");
  const steps = info && info.steps, ended = info && info.ended_at;
  if (steps && ended != null) {
    end.classList.remove("none");
    end.style.left = `${(100 * ended) / steps}%`;
    $(`${side}-ended`).textContent = `· episode ended at step ${ended} of ${steps}`;
  } else {
    end.classList.add("none");
    $(`${side}-ended`).textContent = "";
  }
}

function show(pair) {
  state.current = pair;
  const finished = state.progress && state.progress.finished;
  $("stage").hidden = !pair;
  $("empty").hidden = !!pair || !!finished;
  $("finished").hidden = !!pair || !finished;
  $("stage").dataset.pairId = pair ? pair.id : "";
  $("empty-title").textContent = state.offline
    ? "Waiting for the labelling server to come back."
    : "No clips yet — training is producing more.";
  $("empty-detail").hidden = state.offline;
  if (!pair) return;
  $("left").replaceChildren(pair.videos[0]);
  $("right").replaceChildren(pair.videos[1]);
  describeEnd(pair.left_clip, "left");
  describeEnd(pair.right_clip, "right");
  for (const v of pair.videos) {
    v.currentTime = 0;
    v.playbackRate = SPEEDS[state.speed];
    if (!state.paused) v.play().catch(() => {});
  }
}

function tick() {
  // the timelines follow the clips (both loop; each has its own length)
  if (state.current) {
    state.current.videos.forEach((v, i) => {
      const bar = $(i ? "right-timeline" : "left-timeline").querySelector(".played");
      bar.style.width = v.duration ? `${(100 * v.currentTime) / v.duration}%` : "0";
    });
  }
  requestAnimationFrame(tick);
}

function setPaused(paused) {
  state.paused = paused;
  $("play-label").textContent = paused ? "Play" : "Pause";
  if (!state.current) return;
  for (const v of state.current.videos) paused ? v.pause() : v.play().catch(() => {});
}

function step(direction) {
  // one environment step: the clip's duration over its number of steps
  if (!state.current) return;
  setPaused(true);
  state.current.videos.forEach((v, i) => {
    const info = i ? state.current.right_clip : state.current.left_clip;
    const frame = v.duration && info && info.steps ? v.duration / info.steps : 1 / 30;
    v.currentTime = Math.min(Math.max(0, v.currentTime + direction * frame), Math.max(0, (v.duration || 0) - 1e-3));
  });
}

function cycleSpeed() {
  state.speed = (state.speed + 1) % SPEEDS.length;
  $("speed-label").textContent = `${SPEEDS[state.speed]}×`;
  if (state.current) for (const v of state.current.videos) v.playbackRate = SPEEDS[state.speed];
}

// -- pairs and answers ------------------------------------------------------------------

async function fetchNext() {
  if (state.fetching || state.next || !state.name) return;
  state.fetching = true;
  try {
    // Never the pair on screen, nor one whose answer may still be on its way.
    const skip = new Set([...state.recent.slice(-20), ...state.queue.map((q) => q.pair_id)]);
    if (state.current) skip.add(state.current.id);
    const body = await api(`/api/next?exclude=${[...skip].slice(-40).join(",")}`);
    showProgress(body.progress);
    setOffline(false);
    if (body.pair) state.next = loadPair(body.pair);
  } catch (err) {
    if (isOffline(err)) setOffline(true);
    else if (err.status === 401) askName(err.message);
    else showError(err.message);
  } finally {
    state.fetching = false;
  }
  if (!state.current && state.next) advance();
}

function advance(fetch = true) {
  const old = state.current;
  show(state.next);
  state.next = null;
  if (old && old !== state.previous) drop(old);
  if (fetch) fetchNext();
}

function answer(choice) {
  const pair = state.current;
  if (!pair) return;
  const button = document.querySelector(`button[data-choice="${choice}"]`);
  button.classList.add("flash"); setTimeout(() => button.classList.remove("flash"), 150);
  state.recent = [...state.recent, pair.id].slice(-20);
  $("notice").textContent = "";
  // the pair comes back for an undo; a second answer to it is a correction
  const kind = pair.answered ? "correct" : "answer";
  pair.answered = true;
  if (state.previous && state.previous !== pair) drop(state.previous);
  state.previous = pair;
  advance(false);  // the next pair is already loaded: show it first, store the answer meanwhile
  enqueue({ kind, pair_id: pair.id, choice, at: Date.now() });
  offerUndo(pair, choice);
  fetchNext();  // then preload the pair after next (a person needs 3-5 s per pair)
}

function offerUndo(pair, choice) {
  clearTimeout(state.undoTimer);
  $("undo-text").textContent = `${LABELS[choice]} — pair ${pair.id}`;
  $("undo").hidden = false;
  state.undoTimer = setTimeout(closeUndo, state.undoSeconds * 1000);
}
function closeUndo() {
  $("undo").hidden = true;
  clearTimeout(state.undoTimer);
  if (state.previous && state.previous !== state.current) drop(state.previous);
  state.previous = null;
}

function undo() {
  const pair = state.previous;
  if (!pair || $("undo").hidden) return;
  $("undo").hidden = true;
  clearTimeout(state.undoTimer);
  // an answer still in the queue was never sent: take it back; otherwise the next answer
  // to this pair is sent as a correction (the first answer stays in the store)
  const i = state.queue.findIndex((q) => q.pair_id === pair.id && !q.inFlight);
  if (i >= 0) {
    const taken = state.queue.splice(i, 1)[0];
    if (taken.kind === "answer") pair.answered = false;
    saveQueue();
  }
  if (state.next) drop(state.next);
  state.next = state.current;  // the pair that had come in goes back to being next
  state.current = null;
  state.previous = null;
  show(pair);
  notice(`Pair ${pair.id} is back: answer it again.`);
}

// -- keys and buttons ---------------------------------------------------------------------

const KEYS = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "equal", ArrowDown: "cant_tell" };
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
  const choice = KEYS[e.key];
  if (choice) { e.preventDefault(); answer(choice); return; }
  const actions = {
    " ": () => setPaused(!state.paused), ",": () => step(-1), ".": () => step(1),
    s: cycleSpeed, S: cycleSpeed, Backspace: undo, u: undo,
  };
  if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
});
for (const b of document.querySelectorAll("button[data-choice]")) {
  b.addEventListener("click", () => answer(b.dataset.choice));
}
$("play").addEventListener("click", () => setPaused(!state.paused));
$("step-back").addEventListener("click", () => step(-1));
$("step-on").addEventListener("click", () => step(1));
$("speed").addEventListener("click", cycleSpeed);
$("undo-button").addEventListener("click", undo);
$("change-name").addEventListener("click", () => askName(""));
for (const side of ["left", "right"]) {
  $(`${side}-timeline`).addEventListener("click", (e) => {
    if (!state.current) return;
    const v = state.current.videos[side === "left" ? 0 : 1];
    const box = e.currentTarget.getBoundingClientRect();
    if (v.duration) v.currentTime = ((e.clientX - box.left) / box.width) * v.duration;
  });
}
window.addEventListener("online", flush);

// -- start ------------------------------------------------------------------------------

function poll() {
  // While nothing is on screen (no clips yet), ask again every few seconds.
  if (!state.current && state.name) fetchNext();
  if (state.queue.length && !state.sending) flush();
  setTimeout(poll, state.retry * 1000);
}

function askName(message) {
  state.name = null;
  $("stage").hidden = true; $("empty").hidden = true; $("finished").hidden = true;
  $("name-form").hidden = false;
  $("name-error").textContent = message || "";
  $("name-input").value = (state.progress && state.progress.name) || "";
  $("name-input").focus();
}

async function start() {
  loadQueue();
  showSending();
  let progress;
  try {
    const config = await api("/api/config");
    $("instructions").textContent = config.instructions;
    state.retry = config.retry_seconds;
    state.undoSeconds = config.undo_seconds;
    progress = await api("/api/progress");
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) { askName(err.message); return; }
    setOffline(true);
    setTimeout(start, 2000);  // the server is not up yet: the kept answers wait here
    return;
  }
  setOffline(false);
  showProgress(progress);
  if (!progress.name) { askName(""); return; }
  state.name = progress.name;
  flush();
  show(null);
  if (!start.polling) { start.polling = true; poll(); }
}

$("name-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("/api/name", { method: "POST", body: JSON.stringify({ name: $("name-input").value }) });
    $("name-form").hidden = true;
    drop(state.next); state.next = null;
    drop(state.current); state.current = null;
    start();
  } catch (err) { $("name-error").textContent = err.message; }
});

requestAnimationFrame(tick);
start();
