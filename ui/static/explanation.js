// The live explanation (ui/live.py mounts it): steps with Markdown + KaTeX, the whiteboard, Pause/Resume.
//
// It follows GET {api}/live?after=TOKEN (SSE over fetch: the login cookie goes along, same origin), appends each
// text delta to its step (`c` events carry the chunk alone: the position token is counted here, in code points),
// applies whiteboard patches (SVG parsed with DOMParser, never innerHTML), and calls
// POST {api}/pause|resume with the X-Tutor-Request header. Streamlit reruns only on `ended` and `chat` triggers.
// Mounted on the Ask page, it also answers the form's submit itself when a stored answer matches (askStored).

const VERSION = new URL(import.meta.url).search;
const asset = (path) => new URL(path + VERSION, import.meta.url).href;
const SVG_NS = "http://www.w3.org/2000/svg";
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const views = new WeakMap();
let libraries = null;

// --- assets --------------------------------------------------------------------------------------------------

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const found = document.querySelector(`script[data-tutor-src="${src}"]`);
    if (found?.dataset.loaded) return resolve();
    const script = found || document.createElement("script");
    script.addEventListener("load", () => { script.dataset.loaded = "1"; resolve(); });
    script.addEventListener("error", reject);
    if (!found) {
      script.src = src;
      script.dataset.tutorSrc = src;
      document.head.appendChild(script);
    }
  });
}

function loadCss(href) {
  if (document.querySelector(`link[data-tutor-href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  link.dataset.tutorHref = href;
  document.head.appendChild(link);
}

function loadLibraries() {
  loadCss(asset("explanation.css"));
  loadCss(asset("vendor/katex/katex.min.css"));
  libraries ??= Promise.all([
    loadScript(asset("vendor/katex/katex.min.js")),
    loadScript(asset("vendor/marked/marked.umd.js")),
    loadScript(asset("vendor/dompurify/purify.min.js")),
  ]).then(setUpSanitizer);
  return libraries;
}

// --- Markdown and maths --------------------------------------------------------------------------------------

const KATEX = { throwOnError: false, trust: false, strict: "ignore", maxSize: 10, maxExpand: 200,
                output: "htmlAndMathml" };
const ALLOWED_TAGS = ["p", "br", "strong", "em", "del", "code", "pre", "ul", "ol", "li", "a", "h1", "h2", "h3",
                      "h4", "h5", "h6", "blockquote", "table", "thead", "tbody", "tr", "th", "td", "hr", "span"];
const SAFE_LINK = /^(https?:|mailto:)/i;
const OPEN = "\uE000", CLOSE = "\uE001";

function setUpSanitizer() {
  window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName !== "A") return;
    const href = node.getAttribute("href") || "";
    if (!SAFE_LINK.test(href.trim())) node.removeAttribute("href");
    node.setAttribute("rel", "noopener noreferrer nofollow");
    node.setAttribute("target", "_blank");
  });
}

const escapeHtml = (text) => text.replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// Formulas ($…$, $$…$$, \(…\), \[…\]) outside code spans, cut before a formula that is not closed yet:
// a formula is shown whole or not at all. Returns the text with placeholders and the formulas.
export function splitMaths(text) {
  const maths = [];
  let out = "", i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "`") {
      const run = text.slice(i).match(/^`+/)[0];
      const end = text.indexOf(run, i + run.length);
      if (end < 0) { out += text.slice(i); break; }
      out += text.slice(i, end + run.length);
      i = end + run.length;
      continue;
    }
    if (c === "\\" && text[i + 1] === "$") { out += "\\$"; i += 2; continue; }
    let opener = null, closer = null, display = false;
    if (text.startsWith("$$", i)) [opener, closer, display] = ["$$", "$$", true];
    else if (c === "$") [opener, closer] = ["$", "$"];
    else if (text.startsWith("\\(", i)) [opener, closer] = ["\\(", "\\)"];
    else if (text.startsWith("\\[", i)) [opener, closer, display] = ["\\[", "\\]", true];
    if (!opener) { out += c; i += 1; continue; }
    const end = text.indexOf(closer, i + opener.length);
    if (end < 0) break; // not closed (yet): show nothing of it
    maths.push({ tex: text.slice(i + opener.length, end), display });
    out += OPEN + (maths.length - 1) + CLOSE;
    i = end + closer.length;
  }
  return { text: out, maths };
}

function renderMarkdown(text, target) {
  const { text: prose, maths } = splitMaths(text);
  const renderer = new window.marked.Renderer();
  renderer.html = ({ text }) => escapeHtml(text); // raw HTML in the model's text stays text
  renderer.image = ({ text }) => escapeHtml(text); // and images are never fetched
  const html = window.marked.parse(prose, { gfm: true, breaks: false, async: false, renderer });
  const fragment = window.DOMPurify.sanitize(html, { ALLOWED_TAGS, ALLOWED_ATTR: ["href", "rel", "target"],
                                                     RETURN_DOM_FRAGMENT: true });
  placeMaths(fragment, maths);
  target.replaceChildren(fragment);
}

function placeMaths(root, maths) {
  if (!maths.length) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) if (walker.currentNode.data.includes(OPEN)) nodes.push(walker.currentNode);
  const pattern = new RegExp(`${OPEN}(\\d+)${CLOSE}`, "g");
  for (const node of nodes) {
    const parts = node.data.split(pattern);
    const pieces = parts.map((part, index) => {
      if (index % 2 === 0) return document.createTextNode(part);
      const formula = maths[Number(part)];
      const span = document.createElement("span");
      span.className = formula.display ? "tutor-math tutor-math-display" : "tutor-math";
      window.katex.render(formula.tex, span, { ...KATEX, displayMode: formula.display });
      return span;
    });
    node.replaceWith(...pieces);
  }
}

// --- the whiteboard ------------------------------------------------------------------------------------------

const UNSAFE_SVG = "script, foreignObject, iframe, object, embed, use, image, a, animate, set";

function cleanSvg(root) {
  root.querySelectorAll(UNSAFE_SVG).forEach((node) => node.remove());
  for (const node of [root, ...root.querySelectorAll("*")]) {
    for (const attr of [...node.attributes]) {
      if (/^on/i.test(attr.name) || /href$/i.test(attr.name)) node.removeAttribute(attr.name);
    }
  }
  return root;
}

function parseSvg(markup) {
  const doc = new DOMParser().parseFromString(markup, "image/svg+xml");
  if (doc.querySelector("parsererror") || doc.documentElement.namespaceURI !== SVG_NS) return null;
  return cleanSvg(doc.documentElement);
}

function svgElements(markup) {
  const root = parseSvg(`<svg xmlns="${SVG_NS}">${markup}</svg>`);
  return root ? [...root.childNodes].map((node) => document.importNode(node, true)) : [];
}

function applyPatch(card, patch) {
  const svg = card.querySelector("svg");
  if (patch.op === "reset") {
    const root = parseSvg(patch.svg);
    if (root) card.replaceChildren(document.importNode(root, true));
  } else if (patch.op === "append" && svg) {
    const layer = [...svg.querySelectorAll("g[data-layer]")].find((g) => g.dataset.layer === patch.layer);
    (layer || svg).append(...svgElements(patch.svg));
  } else if (patch.op === "replace" && svg) {
    const old = [...svg.querySelectorAll("[data-id]")].find((node) => node.dataset.id === patch.id);
    if (old) old.replaceWith(...svgElements(patch.svg));
  }
}

// --- SSE over fetch ------------------------------------------------------------------------------------------

async function* sseEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    const batch = [];
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = { name: "message", data: "", id: null };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.name = value;
        else if (field === "data") event.data += (event.data ? "\n" : "") + value;
        else if (field === "id") event.id = value;
      }
      if (event.data) batch.push(event);
    }
    if (batch.length) yield batch;
  }
}

// --- the view ------------------------------------------------------------------------------------------------

function el(tag, className, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

const fill = (template, params) => template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));

class LiveView {
  constructor(parent, data, trigger) {
    this.parent = parent;
    this.trigger = trigger;
    this.load(data);
  }

  load(data) {
    this.data = data;
    this.t = data.texts;
    this.session = data.session;
    this.cursor = data.cursor;
    this.status = data.status;
    this.totalSteps = data.total_steps;
    this.steps = data.steps.map((s) => ({ ...s, checks: [...(s.check_failed || [])] }));
    this.dirty = new Set(this.steps.map((s) => s.step));
    this.abort?.abort();
    this.abort = null;
    this.retries = 0;
    this.spoken = "";
    this.build();
    this.board.replaceChildren();
    if (data.board) applyPatch(this.board, { op: "reset", svg: data.board });
    this.render();
    if (this.status === "streaming") this.follow();
    else this.showState(this.status, data.error);
  }

  build() {
    const t = this.t;
    const root = el("div", "tutor-live", { lang: this.data.lang });
    const question = el("h3", "tutor-question");
    question.textContent = (this.data.question || "").split(/\s+/).join(" ").trim();
    const bar = el("div", "tutor-live-bar");
    this.pauseButton = el("button", "tutor-button", { type: "button" });
    this.pauseButton.textContent = t.pause;
    this.pauseButton.addEventListener("click", () => this.control("pause"));
    this.resumeButton = el("button", "tutor-button tutor-primary", { type: "button" });
    this.resumeButton.textContent = t.resume;
    this.resumeButton.addEventListener("click", () => this.control("resume"));
    this.takeOverButton = el("button", "tutor-button tutor-primary", { type: "button" });
    this.takeOverButton.textContent = t.continue_here;
    this.takeOverButton.addEventListener("click", () => this.takeOver());
    const slot = (key, button) => { const box = el("div", `tutor-control st-key-${key}`); box.append(button); return box; };
    this.pauseSlot = slot("pause", this.pauseButton);
    this.resumeSlot = slot("resume", this.resumeButton);
    this.takeOverSlot = slot("take_over", this.takeOverButton);
    this.duration = el("span", "tutor-duration");
    if (this.data.duration) this.duration.textContent = fill(t.live_total_time || "{time}", { time: this.data.duration });
    this.controls = el("div", "tutor-controls");
    bar.append(this.controls, this.duration);
    this.notice = el("div", "tutor-notice", { role: "status" });
    this.waiting = el("div", "tutor-waiting", { role: "status" });
    this.text = el("div", "tutor-text st-key-explanation");
    this.announcer = el("div", "tutor-sr-only", { "aria-live": "polite" });
    const boardBox = el("aside", "tutor-board", { "aria-label": t.whiteboard });
    const heading = el("div", "tutor-board-title");
    heading.textContent = t.whiteboard;
    this.board = el("div", "tutor-board-card st-key-canvas");
    this.boardHint = el("p", "tutor-board-hint");
    this.boardHint.textContent = t.whiteboard_empty;
    this.badge = el("span", "tutor-board-new", { hidden: "" });
    this.badge.textContent = t.live_new_drawing;
    heading.append(this.badge);
    boardBox.append(heading, this.board, this.boardHint);
    const reading = el("div", "tutor-reading");
    reading.append(this.waiting, this.text, this.announcer);
    const columns = el("div", "tutor-columns");
    columns.append(reading, boardBox);
    root.append(...(question.textContent ? [question] : []), bar, this.notice, columns);
    this.parent.replaceChildren(root);
    this.root = root;
    this.stepNodes = new Map();
  }

  // -- state and controls --

  setButtons(state) { // at most one of Pause / Resume / Continue here is in the page
    const slot = { pause: this.pauseSlot, resume: this.resumeSlot, take_over: this.takeOverSlot }[state];
    if (slot ? this.controls.firstChild === slot && this.controls.childNodes.length === 1
             : !this.controls.firstChild) return; // already so: never detach a button under the pointer
    const focused = this.controls.contains(document.activeElement);
    this.controls.replaceChildren(...(slot ? [slot] : []));
    if (focused && slot) slot.querySelector("button").focus(); // keyboard users keep their place
  }

  say(kind, message) {
    this.notice.className = `tutor-notice${kind ? ` tutor-notice-${kind}` : ""}`;
    this.notice.textContent = message || "";
    this.notice.hidden = !message;
  }

  showState(status, error) {
    this.status = status;
    this.waiting.hidden = true;
    if (status === "streaming") { this.setButtons("pause"); this.say(null, ""); }
    else if (status === "paused") { this.setButtons("resume"); this.say("info", this.t.explanation_paused); }
    else if (status === "complete") { this.setButtons(null); this.say("success", this.t.completed); }
    else if (status === "taken_over") { this.setButtons("take_over"); this.say("info", this.t.taken_over); }
    else { this.setButtons(null); this.say("error", error || this.t.live_failed); }
  }

  async control(action) {
    const button = action === "pause" ? this.pauseButton : this.resumeButton;
    if (button.getAttribute("aria-busy")) return; // a second click while the first is on its way
    button.setAttribute("aria-busy", "true");
    const pausing = action === "pause";
    // A pause freezes the text at the click: the stream stops here, and the session is paused back at the last
    // event shown (`at`), so the characters already on their way are sent again on resume, not lost.
    const wasFollowing = pausing && this.abort !== null;
    if (pausing) this.abort?.abort();
    let status = null;
    try {
      const response = await fetch(`${this.data.api}/${action}`, {
        method: "POST", credentials: "same-origin",
        headers: { "X-Tutor-Request": "1", "Content-Type": "application/json" },
        body: JSON.stringify(pausing ? { at: this.cursor } : {}) });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) this.say("error", body?.error?.message || this.t.live_failed);
      else status = body.status;
    } catch (error) {
      this.say("error", this.t.live_failed);
    } finally {
      button.removeAttribute("aria-busy");
    }
    if (status === "paused" && pausing) this.ended("paused");
    else if (status || wasFollowing) this.follow(); // resumed, ended meanwhile, or a failed pause: go on from here
  }

  takeOver() { this.follow(); }

  ended(status, error) { // only completion reruns the page (it draws the rating form)
    this.showState(status, error);
    if (status === "complete") this.trigger("ended", { status, cursor: this.cursor, session: this.session });
  }

  // -- the stream --

  async follow() {
    this.abort?.abort();
    const abort = this.abort = new AbortController();
    this.status = "streaming";
    this.setButtons("pause");
    if (!this.retries) this.say(null, ""); // a reconnection keeps saying so until events flow again
    if (!this.steps.length) this.waiting.hidden = false, this.waiting.textContent = this.t.live_connecting;
    let finished = false;
    try {
      const url = `${this.data.api}/live?after=${encodeURIComponent(this.cursor)}`;
      const response = await fetch(url, { credentials: "same-origin", signal: abort.signal,
                                          headers: { Accept: "text/event-stream" } });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        finished = true;
        return this.ended("error", body?.error?.message);
      }
      for await (const batch of sseEvents(response)) {
        if (!this.root.isConnected) { abort.abort(); return; }
        for (const event of batch) finished = this.apply(event) || finished;
        this.render();
        if (this.retries) this.retries = 0, this.notice.textContent === this.t.live_reconnecting && this.say(null, "");
        if (finished) break;
      }
      if (!finished && !abort.signal.aborted) finished = true, this.showState("taken_over");
    } catch (error) {
      if (abort.signal.aborted) return;
    } finally {
      if (this.abort === abort) this.abort = null;
    }
    if (!finished && this.root.isConnected) this.reconnect();
  }

  reconnect() {
    const wait = RETRY_MS[Math.min(this.retries++, RETRY_MS.length - 1)];
    this.say("info", this.t.live_reconnecting);
    setTimeout(() => { if (this.root.isConnected && !this.abort) this.follow(); }, wait);
  }

  apply(event) {
    let data;
    try { data = JSON.parse(event.data); } catch { return false; }
    if (event.name === "c") return this.chunk(String(data), event.id);
    if (event.id) this.cursor = event.id;
    const step = data.step ? this.stepAt(data.step) : null;
    switch (event.name) {
      case "waiting_phrase":
        this.waiting.hidden = false;
        this.waiting.textContent = data.message || "";
        return false;
      case "explanation_start":
        this.waiting.hidden = true;
        this.totalSteps = data.total_steps || this.totalSteps;
        this.steps.forEach((s) => this.dirty.add(s.step));
        return false;
      case "step_start":
        this.waiting.hidden = true;
        step.title = data.title || "";
        this.dirty.add(step.step);
        return false;
      case "content_chunk":
        this.waiting.hidden = true;
        step.text += data.chunk || "";
        step.complete = Boolean(data.is_final);
        this.dirty.add(step.step);
        this.speak(data.chunk || "", step.complete);
        return false;
      case "step_complete":
        step.complete = true;
        this.dirty.add(step.step);
        this.speak("", true);
        return false;
      case "step_check":
        for (const claim of data.claims || []) if (!step.checks.includes(claim)) step.checks.push(claim);
        this.dirty.add(step.step);
        return false;
      case "board":
        for (const patch of data.patches || []) applyPatch(this.board, patch);
        if (data.step) this.newDrawing();
        return false;
      case "streaming_resumed":
        this.showState("streaming");
        return false;
      case "streaming_paused":
        this.ended("paused");
        return true;
      case "explanation_complete":
        this.totalSteps = data.steps_completed || this.totalSteps;
        this.steps.forEach((s) => this.dirty.add(s.step));
        this.render();
        this.ended("complete");
        return true;
      case "taken_over":
        this.showState("taken_over");
        return true;
      case "error":
        this.ended("error", data.message);
        return true;
      default:
        return false;
    }
  }

  chunk(text, id) { // a text chunk of the lean wire: its position is counted here, checked at each id
    const [number, position, done] = this.cursor.split(":").map(Number);
    const after = position + Array.from(text).length; // code points, as Python's len
    if (id && Number(id.split(":")[1]) !== after) return this.repair();
    this.cursor = id || `${number}:${after}:${done}`;
    const step = this.stepAt(number);
    this.waiting.hidden = true;
    step.text += text;
    step.complete = Boolean(id); // only a step's last chunk carries an id
    this.dirty.add(step.step);
    this.speak(text, step.complete);
    return false;
  }

  repair() { // the text here and the server's disagree (never expected): start again from the session itself
    this.abort?.abort();
    withSnapshot(this.data).then((full) => { if (this.root.isConnected) this.load(full); });
    return true;
  }

  stepAt(number) {
    while (this.steps.length < number) {
      this.steps.push({ step: this.steps.length + 1, title: "", text: "", complete: false, checks: [] });
    }
    return this.steps[number - 1];
  }

  speak(text, flush) { // the aria-live region gets whole sentences, not every chunk
    this.spoken += text;
    const end = flush ? this.spoken.length : this.spoken.search(/[.!?:]\s[^.!?:]*$/) + 1;
    if (end > 0) {
      this.announcer.textContent = splitMaths(this.spoken.slice(0, end)).text.replace(/\uE000\d+\uE001/g, "…");
      this.spoken = this.spoken.slice(end);
    }
  }

  newDrawing() {
    this.boardHint.hidden = true;
    if (!window.matchMedia("(max-width: 899px)").matches) return;
    this.badge.hidden = false;
    clearTimeout(this.badgeTimer);
    this.badgeTimer = setTimeout(() => { this.badge.hidden = true; }, 2500);
  }

  // -- rendering: only the steps that changed --

  render() {
    if (!window.marked) return; // the libraries are still loading: mount() renders when they are here
    for (const number of [...this.dirty].sort((a, b) => a - b)) this.renderStep(this.steps[number - 1]);
    this.dirty.clear();
    this.boardHint.hidden = Boolean(this.board.querySelector("svg *"));
  }

  renderStep(step) {
    let node = this.stepNodes.get(step.step);
    if (!node) node = this.addStep(step.step);
    node.title.textContent = "";
    renderMarkdown(`${step.title}`, node.title);
    const title = node.title.firstElementChild;
    if (title?.tagName === "P") title.replaceWith(...title.childNodes);
    node.done.hidden = !step.complete;
    node.badge.textContent = this.totalSteps ? fill(this.t.step_of, { step: step.step, total: this.totalSteps })
                                             : fill(this.t.step_n, { step: step.step });
    if (step.text !== node.shown) {
      renderMarkdown(step.text, node.body);
      node.shown = step.text;
    }
    node.check.hidden = !step.checks.length;
    if (step.checks.length) {
      const list = el("ul");
      for (const claim of step.checks) {
        const item = el("li");
        renderMarkdown(`$${claim}$`, item);
        list.append(item);
      }
      const lead = el("p");
      lead.textContent = this.t.step_check_failed;
      node.check.replaceChildren(lead, list);
    }
  }

  reveal(number) { // scroll a step into view and move the focus to its title (keyboard and screen readers follow)
    const node = this.stepNodes.get(number);
    if (!node) return;
    node.title.setAttribute("tabindex", "-1");
    node.title.closest("section").scrollIntoView({ block: "start" });
    node.title.focus({ preventScroll: true });
  }

  addStep(number) {
    const box = el("section", `tutor-step st-key-step_${number}`, { "aria-labelledby": `tutor-step-${number}` });
    const head = el("header", "tutor-step-head");
    const title = el("h4", "tutor-step-title", { id: `tutor-step-${number}` });
    const done = el("span", "tutor-step-done", { "aria-hidden": "true" });
    done.textContent = "✓";
    const badge = el("span", "tutor-badge");
    head.append(badge, title, done);
    const body = el("div", "tutor-step-body");
    const check = el("div", "tutor-step-check", { role: "note" });
    const chatBox = el("div", `tutor-chat st-key-chat_step_${number}`);
    const chat = el("button", "tutor-button tutor-tertiary", { type: "button" });
    chat.textContent = this.t.chat_about_step;
    chat.addEventListener("click", () => { this.abort?.abort(); this.trigger("chat", { step: number, at: Date.now() }); });
    chatBox.append(chat);
    box.append(head, body, check, chatBox);
    this.text.append(box);
    const node = { title, done, badge, body, check, shown: null };
    this.stepNodes.set(number, node);
    return node;
  }

  close() {
    this.abort?.abort();
  }
}

// --- entry point (called by the loader on every mount and whenever the page's data changes) -----------------

async function withSnapshot(data) { // light data (a rerun after the end): the snapshot from the API instead
  const get = (path) => fetch(data.api + path, { credentials: "same-origin" });
  const [snapshot, board] = await Promise.all([get("").then((r) => r.json()), get("/whiteboard.svg").then((r) => r.text())]);
  const steps = (snapshot.steps || []).map((s) => ({ step: s.step, title: s.title, text: s.text,
                                                     complete: Boolean(s.complete), check_failed: s.check_failed || [] }));
  const last = snapshot.steps?.at(-1); // the token of what the snapshot holds, as ui/live.py: cursor_token
  const cursor = last ? `${last.step}:${steps.reduce((n, s) => n + Array.from(s.text).length, 0)}:`
    + `${(last.commands || []).length + Number(Boolean(last.complete))}` : "0:0:0";
  return { ...data, steps, board, cursor, status: snapshot.status || data.status, total_steps: snapshot.total_steps };
}

export function mount(component) {
  let { data } = component;
  const { parentElement, setTriggerValue } = component;
  if (data.texts) textsByLang[data.lang] = data.texts;
  data = { ...data, texts: data.texts || textsByLang[data.lang] || {} }; // light data leaves them out
  component = { ...component, data };
  if (data.sessions) asker = component, listenToTheForm();
  let view = views.get(parentElement);
  if (view?.started && !data.session) { // a run that began before the session did: keep showing it
    view.trigger = setTriggerValue;
    return undefined;
  }
  if (view) delete view.started;
  hidePage(data.session && data.page_session !== data.session ? "around" : null);
  if (!data.session) { // the Ask page with no session: fetch the code, so the first answer shows at once
    if (view) view.close(), views.delete(parentElement), parentElement.replaceChildren();
    loadLibraries();
    return undefined;
  }
  const same = view && view.session === data.session && view.data.lang === data.lang && view.root?.isConnected;
  const fresh = !same;
  if (same && (view.abort || view.cursor === data.cursor)) {
    view.trigger = setTriggerValue; // the same explanation, still live or unchanged: keep it as it is
  } else {
    view?.close();
    if (data.light) {
      withSnapshot(data).then((full) => mount({ ...component, data: full }));
      return () => views.get(parentElement)?.close();
    }
    view = new LiveView(parentElement, data, setTriggerValue);
    views.set(parentElement, view);
  }
  loadLibraries().then(() => {
    view.steps.forEach((s) => view.dirty.add(s.step));
    view.render();
    if (fresh && data.focus_step) view.reveal(data.focus_step);
  });
  return () => view.close();
}

// --- the fast path: the Ask form's stored answers, with no Streamlit rerun -----------------------------------

const textsByLang = {};
let asker = null; // the latest mount of the component that may start sessions (its data has `sessions`)
let asking = false;
let passing = false; // the submit we hand back to Streamlit

function listenToTheForm() {
  const installed = Boolean(window.__tutorAsk);
  window.__tutorAsk = intercept; // the listeners call the newest module's
  if (installed) return;
  document.addEventListener("click", (event) => {
    if (event.target.closest?.(".st-key-ask button")) window.__tutorAsk(event);
  }, true);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)
        && event.target.closest?.(".st-key-question textarea")) window.__tutorAsk(event);
  }, true);
}

function intercept(event) {
  const component = asker;
  const question = document.querySelector(".st-key-question textarea")?.value.trim();
  if (passing || !question || !component?.parentElement.isConnected) return; // Streamlit's path
  event.preventDefault();
  event.stopImmediatePropagation();
  if (asking) return;
  asking = true;
  askStored(component, question).then((started) => { if (!started) submitToStreamlit(); })
    .finally(() => { asking = false; });
}

function submitToStreamlit() { // what the click would have done: the page's path (offers, generation, errors)
  const button = document.querySelector(".st-key-ask button");
  if (!button) return;
  passing = true;
  try { button.click(); } finally { passing = false; }
}

async function askStored(component, question) {
  const { data, parentElement, setTriggerValue } = component;
  let body;
  try {
    const response = await fetch(data.sessions, {
      method: "POST", credentials: "same-origin",
      headers: { "X-Tutor-Request": "1", "Content-Type": "application/json" },
      body: JSON.stringify({ question, language: data.lang, stored_only: true }) });
    if (response.status !== 201) return false;
    body = await response.json();
  } catch {
    return false;
  }
  const old = views.get(parentElement);
  if (old?.status === "streaming") { // as the page does: the explanation left behind stays where it was
    fetch(`${old.data.api}/pause`, { method: "POST", credentials: "same-origin",
                                     headers: { "X-Tutor-Request": "1", "Content-Type": "application/json" },
                                     body: JSON.stringify({ at: old.cursor }) }).catch(() => {});
  }
  old?.close();
  const url = new URL(window.location.href);
  url.searchParams.set("session", body.session_id);
  window.history.replaceState(window.history.state, "", url); // Streamlit sends it with its next run
  const view = new LiveView(parentElement, {
    session: body.session_id, question, lang: data.lang, texts: data.texts, module: data.module,
    sessions: data.sessions, api: `${data.sessions}/${body.session_id}`, cursor: "0:0:0", status: "streaming",
    total_steps: null, duration: "", light: false, steps: [], board: null, error: null }, setTriggerValue);
  view.started = true; // until a run of the page draws this session itself
  views.set(parentElement, view);
  hidePage("all");
  loadLibraries().then(() => { view.steps.forEach((s) => view.dirty.add(s.step)); view.render(); });
  return true;
}

// What the page drew belongs to another session: "all" of it while a session started here streams; after the
// end's run (a fragment: the actions and the rating form are this session's), what is "around" the fragment.
function hidePage(what) {
  if (what) document.documentElement.dataset.tutorHide = what;
  else delete document.documentElement.dataset.tutorHide;
}
