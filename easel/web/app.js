// Easel playground: forms built from GET /api/v1/models contracts, driven through the public API only.
// No framework and no build step: this file is what the browser runs.

const $ = (sel) => document.querySelector(sel);
const KEY_STORE = "easel.apiKey";
const RELIGHT_STORE = "easel.relightKeys";
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]);

const state = {
  key: localStorage.getItem(KEY_STORE) || "",
  models: [],
  entry: null,      // the selected model's listing entry
  fn: "",           // selected function (models with input.function)
  drafts: {},       // model -> {values: {"input.x": v}, images: {"input.x": Picked}, masks: {"input.x": MaskEditor}}
  taskId: null,
  running: false,
  result: null,     // {urls: [...], before: url|null, layers: [...]|null, index}
};

// ---------- HTTP ----------

class ApiError extends Error {
  constructor(status, body) {
    const code = body && (body.code ?? body.error?.code);
    const msg = body && (body.message ?? body.error?.message);
    super(`${status}${code !== undefined && code !== null ? " " + code : ""}: ${msg || "request failed"}`);
    this.status = status;
    this.body = body;
  }
}

// Relative paths, so the page also works behind a reverse proxy that mounts Easel under a prefix.
const rel = (path) => path.replace(/^\//, "");

async function call(path, { method = "GET", body, headers = {}, auth = "bearer", okStatuses = [200] } = {}) {
  const h = { ...headers };
  if (auth === "bearer") h.Authorization = `Bearer ${state.key}`;
  else if (auth === "appcode") h.Authorization = `APPCODE ${state.key}`;
  let payload;
  if (body !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(rel(path), { method, headers: h, body: payload });
  let data = null;
  try { data = await response.json(); } catch { /* not JSON */ }
  if (!okStatuses.includes(response.status)) throw new ApiError(response.status, data);
  return data;
}

function nonce() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain http too
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The SDK's upload flow (PROTOCOL.md §7): a policy, the OSS-style form POST, then oss://key.
async function upload(blob, name, model) {
  const policy = (await call(`api/v1/uploads?action=getPolicy&model=${encodeURIComponent(model)}`)).data;
  const key = `${policy.upload_dir}/${name}`;
  const form = new FormData();
  form.append("OSSAccessKeyId", policy.oss_access_key_id);
  form.append("Signature", policy.signature);
  form.append("policy", policy.policy);
  form.append("key", key);
  form.append("x-oss-object-acl", policy.x_oss_object_acl);
  form.append("x-oss-forbid-overwrite", policy.x_oss_forbid_overwrite);
  form.append("success_action_status", "200");
  form.append("x-oss-content-type", blob.type || "application/octet-stream");
  form.append("file", blob, name);  // the file part comes last, as OSS requires
  const response = await fetch(policy.upload_host, { method: "POST", body: form });
  if (response.status !== 200) {
    let data = null;
    try { data = await response.json(); } catch { /* empty */ }
    throw new ApiError(response.status, data);
  }
  return `oss://${key}`;
}

// ---------- messages ----------

function showMessage(text, kind = "error") {
  const box = $("#message");
  box.textContent = text;
  box.className = kind === "info" ? "info" : "";
  box.hidden = !text;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// ---------- models and forms ----------

async function loadModels() {
  const listing = await call("api/v1/models", { auth: "none" });
  state.models = listing.data.filter((m) => m.contract);
  const select = $("#model");
  select.replaceChildren(...state.models.map((m) => el("option", { value: m.model, text: `${m.model} — ${zhName(m)}` })));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("model");
  if (wanted && state.models.some((m) => m.model === wanted)) select.value = wanted;
  selectModel(select.value);
}

function zhName(entry) {
  // summaries start with the seed's Chinese product name, e.g. "通义万相 局部重绘: …"
  return entry.summary.split(/[:(]/)[0].trim();
}

function draft() {
  const name = state.entry.model;
  if (!state.drafts[name]) state.drafts[name] = { values: {}, images: {}, masks: {} };
  return state.drafts[name];
}

function selectModel(name) {
  state.entry = state.models.find((m) => m.model === name);
  const contract = state.entry.contract;
  $("#model-summary").textContent = state.entry.summary;
  const fnSchema = contract.input.properties.function;
  $("#function-row").hidden = !fnSchema;
  if (fnSchema) {
    const titles = fnSchema["x-enum-titles"] || {};
    $("#function").replaceChildren(...fnSchema.enum.map((v) => el("option", { value: v, text: `${titles[v] || v} (${v})` })));
    state.fn = draft().fn || fnSchema.enum[0];
    $("#function").value = state.fn;
  } else {
    state.fn = "";
  }
  renderForm();
}

function selectFunction(fn) {
  state.fn = fn;
  draft().fn = fn;
  renderForm();
}

function engineStatus() {
  // what this deployment's engines can do for the selection, from the same listing entry
  const entry = state.entry;
  const lines = [];
  if (entry.functions && state.fn) lines.push(entry.functions[state.fn]);
  for (const [k, v] of Object.entries(entry)) {
    if (["model", "summary", "routes", "contract", "functions", "synchronous", "api"].includes(k)) continue;
    if (typeof v === "string") lines.push(`${k}: ${v}`);
    else if (v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")) {
      for (const [kk, vv] of Object.entries(v)) lines.push(`${kk}: ${vv}`);
    } else if (Array.isArray(v) && v.every((x) => typeof x === "string")) {
      for (const x of v) lines.push(`${k}: ${x}`);
    }
  }
  for (const note of entry.contract.notes || []) lines.push(note);
  const fnInfo = entry.contract.functions?.[state.fn];
  if (fnInfo?.hint) lines.push(fnInfo.hint);
  const shown = lines.filter(Boolean);
  $("#engine-details").open = shown.length <= 3;
  $("#engine-count").textContent = String(shown.length);
  $("#engine-status").replaceChildren(...shown.map((line) => {
    const no = /not[ _]available/.test(line);
    const ok = /(?<!not[ _])available/.test(line);
    const cls = ok && no ? "mixed" : no ? "no" : ok ? "ok" : "";
    return el("li", { class: cls, text: line });
  }));
}

// The fields shown for the current model and function, in contract order: [part, name, schema, required].
function visibleFields() {
  const contract = state.entry.contract;
  const fnInfo = contract.functions?.[state.fn];
  const out = [];
  for (const part of ["input", "parameters"]) {
    const schema = contract[part];
    if (!schema) continue;
    const required = new Set(schema.required || []);
    for (const [name, prop] of Object.entries(schema.properties)) {
      if (part === "input" && name === "function") continue;
      if (part === "parameters" && fnInfo && !fnInfo.parameters.includes(name)) continue;
      if (prop["x-mask"] && fnInfo && !fnInfo.needs_mask) continue;
      out.push([part, name, prop, required.has(name) || Boolean(prop["x-mask"] && fnInfo?.needs_mask)]);
    }
  }
  return out;
}

function renderForm() {
  engineStatus();
  const form = $("#request-form");
  form.replaceChildren();
  const maskFields = [];
  for (const [part, name, prop, required] of visibleFields()) {
    const where = `${part}.${name}`;
    if (prop["x-mask"]) { maskFields.push([where, prop, required]); continue; }
    form.append(renderField(where, name, prop, required));
  }
  renderEditor(maskFields);
}

function labelFor(where, name, prop, required) {
  return el("label", { for: `f-${where}` }, `${prop.title || name} `, el("span", { class: "name", text: name }),
    required ? el("span", { class: "req", text: " *" }) : null);
}

function hintFor(prop) {
  const bits = [];
  if (prop.minimum !== undefined || prop.maximum !== undefined) bits.push(`${prop.minimum ?? "…"} – ${prop.maximum ?? "…"}`);
  if (prop.maxLength) bits.push(`≤ ${prop.maxLength} 字符`);
  if (prop.default !== undefined && prop.default !== null && prop.default !== "" && !Array.isArray(prop.default)) {
    bits.push(`默认 ${prop.default}`);
  }
  if (prop.nullable && prop.default === null && (prop.type === "integer" || prop.type === "number")) bits.push("empty: random / omitted");
  const img = prop["x-image"];
  if (img) bits.push(`${img.formats.join(", ")}; ${img.min_side}–${img.max_side} px; ≤ ${Math.round(img.max_bytes / 1048576)} MB`);
  return bits.length ? el("p", { class: "hint", text: bits.join(" · ") }) : null;
}

function initialValue(where, prop) {
  const values = draft().values;
  if (where in values) return values[where];
  if (prop.default !== undefined && prop.default !== null) return prop.default;
  if (prop.examples) return prop.examples[0];
  return prop.type === "boolean" ? false : "";
}

function renderField(where, name, prop, required) {
  const wrap = el("div", { class: "field", "data-field": where });
  wrap.append(labelFor(where, name, prop, required));
  const values = draft().values;
  const set = (v) => { values[where] = v; };
  const id = `f-${where}`;
  const value = initialValue(where, prop);
  if (prop["x-image"]) {
    wrap.append(renderImageField(where, name, prop));
  } else if (prop.enum) {
    const titles = prop["x-enum-titles"] || {};
    const select = el("select", { id, name: where, onchange: (e) => set(coerce(prop, e.target.value)) },
      ...(prop.nullable || !required ? [el("option", { value: "", text: "—" })] : []),
      ...prop.enum.map((v) => el("option", { value: String(v), text: titles[String(v)] ? `${titles[String(v)]} (${v})` : String(v) })));
    select.value = value === "" ? (required ? String(prop.enum[0]) : "") : String(value);
    set(coerce(prop, select.value));
    wrap.append(select);
  } else if (prop.type === "boolean") {
    const box = el("input", { id, name: where, type: "checkbox", onchange: (e) => set(e.target.checked) });
    box.checked = Boolean(value);
    set(box.checked);
    wrap.querySelector("label").prepend(box);
  } else if (prop.type === "integer" || prop.type === "number") {
    const step = prop.type === "integer" ? "1" : "0.01";
    const number = el("input", { id, name: where, type: "number", step, min: prop.minimum, max: prop.maximum,
      placeholder: prop.nullable ? "random" : "" });
    number.value = value === null ? "" : value;
    const row = el("div", { class: "range-row" });
    if (prop.minimum !== undefined && prop.maximum !== undefined && prop.maximum - prop.minimum <= 1000) {
      const range = el("input", { type: "range", min: prop.minimum, max: prop.maximum, step, "aria-label": name });
      range.value = value === "" || value === null ? prop.minimum : value;
      range.addEventListener("input", () => { number.value = range.value; set(coerce(prop, number.value)); });
      number.addEventListener("input", () => { if (number.value !== "") range.value = number.value; });
      row.append(range);
    }
    number.addEventListener("input", () => set(coerce(prop, number.value)));
    set(coerce(prop, number.value));
    row.append(number);
    wrap.append(row);
  } else if (prop.type === "string") {
    const long = (prop.maxLength || 0) > 100 || /prompt|text/.test(name);
    const input = long ? el("textarea", { id, name: where, maxlength: prop.maxLength })
      : el("input", { id, name: where, type: "text", maxlength: prop.maxLength });
    input.value = value ?? "";
    input.addEventListener("input", () => set(input.value));
    set(input.value);
    wrap.append(input);
  } else {
    // objects and arrays (reference_edge, mask_color): JSON, as the wire takes it
    const area = el("textarea", { id, name: where, class: "json", placeholder: "JSON" });
    const current = values[where];
    area.value = typeof current === "string" ? current
      : prop.default !== undefined && prop.default !== null && !(Array.isArray(prop.default) && !prop.default.length)
        ? JSON.stringify(prop.default) : "";
    area.addEventListener("input", () => set(area.value));
    set(area.value);
    wrap.append(area);
  }
  const hint = hintFor(prop);
  if (hint) wrap.append(hint);
  return wrap;
}

function coerce(prop, raw) {
  if (raw === "" || raw === undefined) return "";
  if (prop.type === "integer") return Number.parseInt(raw, 10);
  if (prop.type === "number") return Number.parseFloat(raw);
  return raw;
}

// ---------- image inputs ----------

// A chosen image: {file?, objectUrl?, url (http(s)/oss:// sent on the wire), status, width, height}
function renderImageField(where, name, prop) {
  const images = draft().images;
  const model = state.entry.model;
  const box = el("div", { class: "image-field" });
  const file = el("input", { type: "file", accept: "image/*", "data-field": name, id: `f-${where}` });
  const status = el("div", { class: "upload-status", id: `status-${where}` });
  const url = el("input", { type: "text", placeholder: "or an image URL (http, https, oss://)", "data-url-field": name });
  const picked = images[where];
  // the form is rebuilt while an upload runs: always update the status line that is on the page now
  const refresh = () => {
    const p = images[where];
    const line = document.getElementById(`status-${where}`) || status;
    line.className = "upload-status" + (p?.error ? " bad" : p?.url ? " ok" : "");
    line.textContent = !p ? "no image" : p.error ? p.error : p.url ? `uploaded ✓ ${p.url}` : "uploading…";
    line.setAttribute("data-state", !p ? "none" : p.error ? "error" : p.url ? "ready" : "uploading");
  };
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    const p = { file: f, objectUrl: URL.createObjectURL(f), url: "", error: "" };
    images[where] = p;
    url.value = "";
    refresh();
    await measure(p);
    onImageChanged(where);
    p.send = async () => {
      if (!state.key) { p.error = "enter and save an API key first (uploads need it)"; refresh(); return; }
      p.error = "";
      refresh();
      try {
        p.url = await upload(f, safeName(name, f), model);
      } catch (err) {
        p.error = `upload failed: ${err.message}`;
      }
      refresh();
    };
    await p.send();
  });
  url.addEventListener("change", async () => {
    const v = url.value.trim();
    if (!v) { delete images[where]; refresh(); onImageChanged(where); return; }
    const p = { url: v, objectUrl: /^https?:/.test(v) ? v : "", error: "" };
    images[where] = p;
    refresh();
    if (p.objectUrl) await measure(p);
    onImageChanged(where);
  });
  if (picked && !picked.file) url.value = picked.url;
  refresh();
  box.append(file, status, url);
  return box;
}

function safeName(field, file) {
  const ext = (file.name.match(/\.([A-Za-z0-9]{1,5})$/) || [null, "png"])[1].toLowerCase();
  return `${field}.${ext}`;
}

function measure(picked) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => { picked.width = img.naturalWidth; picked.height = img.naturalHeight; resolve(); };
    img.onerror = () => resolve();
    img.src = picked.objectUrl;
  });
}

function onImageChanged() {
  renderForm();
}

// ---------- the stage: input image, mask brush ----------

function primaryImageField() {
  const contract = state.entry.contract;
  for (const part of ["input", "parameters"]) {
    for (const [name, prop] of Object.entries(contract[part]?.properties || {})) {
      if (prop["x-image"] && !prop["x-mask"]) return `${part}.${name}`;
    }
  }
  return null;
}

function renderEditor(maskFields) {
  const editor = $("#editor");
  const where = primaryImageField();
  const picked = where ? draft().images[where] : null;
  if (!picked?.objectUrl) {
    editor.className = "empty";
    editor.replaceChildren(el("p", { class: "muted", text: maskFields.length
      ? "Choose the input image, then paint the mask on it here." : "Choose an input image on the left." }));
    return;
  }
  editor.className = "";
  const nodes = [];
  let mask = null;
  if (maskFields.length) {
    const [maskWhere, prop, required] = maskFields[0];
    const masks = draft().masks;
    if (!masks[maskWhere] || masks[maskWhere].source !== picked.objectUrl) {
      masks[maskWhere] = new MaskEditor(prop["x-mask"], picked);
    }
    mask = masks[maskWhere];
    mask.required = required;
    nodes.push(el("p", { class: "mask-meaning", text: `${prop.title} (${maskWhere.split(".")[1]}): ${prop["x-mask"].meaning}${required ? "" : " — optional"}` }));
    nodes.push(mask.tools());
  }
  const wrap = el("div", { class: "canvas-wrap checker" });
  const img = el("img", { src: picked.objectUrl, alt: "input image", id: "input-image" });
  wrap.append(img);
  if (mask) wrap.append(mask.canvas);
  nodes.push(wrap);
  editor.replaceChildren(...nodes);
}

class MaskEditor {
  constructor(spec, picked) {
    this.spec = spec;
    this.source = picked.objectUrl;
    this.canvas = el("canvas", { id: "mask-canvas", width: picked.width || 512, height: picked.height || 512 });
    this.ctx = this.canvas.getContext("2d");
    this.mode = "brush";
    this.size = 40;
    this.required = false;
    this.painted = false;
    this.last = null;
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const ev of ["pointerup", "pointercancel", "pointerleave"]) this.canvas.addEventListener(ev, () => { this.last = null; });
  }

  tools() {
    const brush = el("button", { type: "button", id: "tool-brush", class: this.mode === "brush" ? "active" : "", text: "Brush" });
    const eraser = el("button", { type: "button", id: "tool-eraser", class: this.mode === "eraser" ? "active" : "", text: "Eraser" });
    const pick = (mode) => { this.mode = mode; brush.classList.toggle("active", mode === "brush"); eraser.classList.toggle("active", mode === "eraser"); };
    brush.addEventListener("click", () => pick("brush"));
    eraser.addEventListener("click", () => pick("eraser"));
    const size = el("input", { type: "range", id: "brush-size", min: 4, max: 200, value: this.size });
    size.addEventListener("input", () => { this.size = Number(size.value); });
    const clear = el("button", { type: "button", id: "mask-clear", text: "Clear" });
    clear.addEventListener("click", () => { this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height); this.painted = false; });
    return el("div", { class: "mask-tools" }, brush, eraser, el("label", {}, "size", size), clear);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.canvas.width / r.width, (e.clientY - r.top) * this.canvas.height / r.height,
      this.canvas.width / r.width];
  }

  down(e) {
    this.canvas.setPointerCapture(e.pointerId);
    const p = this.point(e);
    this.last = p;
    this.stroke(p, p);
  }

  move(e) {
    if (!this.last) return;
    const p = this.point(e);
    this.stroke(this.last, p);
    this.last = p;
  }

  stroke(a, b) {
    const ctx = this.ctx;
    ctx.globalCompositeOperation = this.mode === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--mask").trim() || "#ff2d6f";
    ctx.lineWidth = this.size * b[2];  // brush size in screen pixels, whatever the image scale
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0] + 0.01, b[1]);
    ctx.stroke();
    if (this.mode === "brush") this.painted = true;
  }

  // The mask image the seed expects: `paint` where strokes are, `background` elsewhere, no grey edges.
  async export() {
    const { width, height } = this.canvas;
    const strokes = this.ctx.getImageData(0, 0, width, height).data;
    const out = new ImageData(width, height);
    const [pr, pg, pb] = this.spec.paint;
    const [br, bg, bb] = this.spec.background;
    let any = false;
    for (let i = 0; i < strokes.length; i += 4) {
      const on = strokes[i + 3] > 127;
      any ||= on;
      out.data[i] = on ? pr : br;
      out.data[i + 1] = on ? pg : bg;
      out.data[i + 2] = on ? pb : bb;
      out.data[i + 3] = 255;
    }
    if (!any) return null;
    const canvas = el("canvas", { width, height });
    canvas.getContext("2d").putImageData(out, 0, 0);
    return await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }
}

// ---------- building and sending the request ----------

function jsonValue(where, raw) {
  if (raw === "") return undefined;
  try { return JSON.parse(raw); } catch { throw new Error(`${where} is not valid JSON`); }
}

async function collect() {
  const d = draft();
  const contract = state.entry.contract;
  const parts = { input: {}, parameters: {} };
  if (state.fn) parts.input.function = state.fn;
  let uploaded = false;
  for (const [part, name, prop, required] of visibleFields()) {
    const where = `${part}.${name}`;
    let value;
    if (prop["x-mask"]) {
      const editor = d.masks[where];
      const blob = editor ? await editor.export() : null;
      if (!blob) {
        if (required) throw new Error(`paint the mask (${name}) on the image first`);
        continue;
      }
      value = await upload(blob, `${name}.png`, state.entry.model);
    } else if (prop["x-image"]) {
      const picked = d.images[where];
      if (!picked) {
        if (required) throw new Error(`choose an image for ${name}`);
        continue;
      }
      if (picked.error) throw new Error(`${name}: ${picked.error}`);
      if (!picked.url) throw new Error(`${name} is still uploading`);
      value = picked.url;
    } else {
      value = d.values[where];
      if (prop.type === "object" || prop.type === "array") value = jsonValue(where, value ?? "");
      if (value === "" || value === undefined || (typeof value === "number" && Number.isNaN(value))) {
        // "" is a real value for a required string (an empty removal prompt); elsewhere it means "not sent"
        if (required && prop.type === "string") value = "";
        else continue;
      }
    }
    if (typeof value === "string" && value.startsWith("oss://")) uploaded = true;
    parts[part][name] = value;
  }
  const headers = uploaded ? { "X-DashScope-OssResourceResolve": "enable" } : {};
  const model = state.entry.model;
  if (contract.request === "messages") {
    const content = [{ image: parts.input.image }, { text: parts.input.text ?? "" }];
    return { headers, body: { model, input: { messages: [{ role: "user", content }] }, parameters: parts.parameters } };
  }
  if (contract.request === "task_list") return { headers, body: { data: { task_list: [parts.input] } } };
  return { headers, body: { model, input: parts.input, parameters: parts.parameters } };
}

async function submit() {
  if (state.running) return;
  if (!state.key) { showMessage("Enter and save an API key first."); return; }
  showMessage("");
  const contract = state.entry.contract;
  let request;
  try {
    request = await collect();
  } catch (err) {
    showMessage(err.message);
    return;
  }
  const beforeField = primaryImageField();
  const before = beforeField ? draft().images[beforeField]?.objectUrl || null : null;
  $("#result").hidden = true;  // what is shown belongs to the request that is running
  state.result = null;
  setRunning(true);
  try {
    if (contract.request === "task_list") await runRelight(contract, request, before);
    else if (!contract.async) await runSync(contract, request, before);
    else await runAsync(contract, request, before);
  } catch (err) {
    showMessage(err.message);
    showTask(state.taskId || "", "FAILED");
  } finally {
    state.taskId = null;
    setRunning(false);
    loadHistory();
  }
}

function setRunning(running) {
  state.running = running;
  $("#submit").disabled = running;
  $("#cancel").hidden = !(running && state.taskId);
}

function showTask(id, status, progress) {
  $("#task").hidden = false;
  $("#task-id").textContent = id || "";
  const st = $("#task-status");
  st.textContent = status;
  st.className = status;
  const bar = $("#progress");
  if (progress === undefined) { if (TERMINAL.has(status) || status === "SUCCESS") bar.value = 100; else bar.removeAttribute("value"); }
  else bar.value = progress;
}

async function runAsync(contract, request, before) {
  const headers = { "X-DashScope-Async": "enable", ...request.headers };
  const created = await call(contract.path, { method: "POST", body: request.body, headers });
  const id = created.output.task_id;
  state.taskId = id;
  $("#cancel").hidden = false;
  showTask(id, created.output.task_status);
  let final;
  try {
    final = await followEvents(id);
  } catch {
    final = await pollTask(id);  // no streaming (an old proxy, a dropped connection): plain polling
  }
  state.taskId = null;
  showOutcome(final, before);
}

async function followEvents(id) {
  const response = await fetch(rel(`api/v1/tasks/${encodeURIComponent(id)}/events`), {
    headers: { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" },
  });
  if (!response.ok || !response.body) throw new Error("no event stream");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (!data.length) continue;  // a keep-alive comment
      const payload = JSON.parse(data.join("\n"));
      if (event === "status") showTask(id, payload.task_status);
      else if (event === "progress") showTask(id, "RUNNING", payload.progress);
      else if (event === "end") { reader.cancel().catch(() => {}); return payload; }
    }
  }
  throw new Error("the event stream ended early");
}

async function pollTask(id) {
  let wait = 500;
  for (;;) {
    const body = await call(`api/v1/tasks/${encodeURIComponent(id)}`);
    showTask(id, body.output.task_status, body.output.progress);
    if (TERMINAL.has(body.output.task_status)) return body;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(2000, wait * 1.5);
  }
}

async function runSync(contract, request, before) {
  showTask("", "RUNNING (synchronous call)");
  const body = await call(contract.path, { method: "POST", body: request.body, headers: request.headers });
  const urls = (body.output.choices || []).flatMap((c) => (c.message?.content || []).map((x) => x.image).filter(Boolean));
  showTask("", "SUCCEEDED");
  showResult({ urls, before, layers: null, notes: [] });
}

async function runRelight(contract, request, before) {
  const submitted = await call(contract.path, { method: "POST", body: request.body, auth: "appcode", headers: { "X-Ca-Nonce": nonce() } });
  const resultKey = submitted.data.result_key;
  rememberRelight(resultKey);
  const final = await pollRelight(resultKey);
  showRelight(final, before);
}

async function pollRelight(resultKey) {
  let wait = 500;
  for (;;) {
    const body = await call("api/v1/relight/query", { method: "POST", body: { data: { result_key: resultKey } },
      auth: "appcode", headers: { "X-Ca-Nonce": nonce() }, okStatuses: [200, 400, 500] });
    const tasks = body.data?.task_list || [];
    const status = tasks.length ? tasks[0].status : "FAILED";
    showTask(resultKey, status);
    if (!body.success || tasks.every((t) => t.status === "SUCCESS" || t.status === "FAILED")) return body;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(2000, wait * 1.5);
  }
}

function showRelight(body, before) {
  const tasks = body.data?.task_list || [];
  const failed = tasks.filter((t) => t.status === "FAILED");
  if (!body.success || failed.length) showMessage(failed.length ? failed.map((t) => `${t.code}: ${t.message}`).join("\n") : `${body.code}: ${body.message}`);
  const urls = tasks.flatMap((t) => t.results || []);
  showTask(body.data?.result_key || "", failed.length ? "FAILED" : "SUCCESS");
  if (urls.length) showResult({ urls, before, layers: null, notes: tasks.flatMap((t) => t.notes || []) });
}

function showOutcome(body, before) {
  const out = body.output || {};
  showTask(out.task_id, out.task_status);
  if (out.task_status !== "SUCCEEDED") {
    showMessage(out.code ? `${out.code}: ${out.message}` : `task ${out.task_status}`);
    return;
  }
  const results = out.results || [];
  const failures = results.filter((r) => !r.url);
  if (failures.length) showMessage(failures.map((r) => `${r.code}: ${r.message}`).join("\n"));
  const textResults = out.text_results || out.text_result;
  showResult({ urls: results.filter((r) => r.url).map((r) => r.url), before, layers: textResults?.params || null,
    notes: out.notes || [] });
}

// ---------- result: before/after, download, text layers ----------

function showResult(result) {
  state.result = { ...result, index: 0 };
  $("#result").hidden = !result.urls.length;
  $("#notes").replaceChildren(...(result.notes || []).map((n) => el("li", { text: n })));
  $("#thumbs").replaceChildren(...result.urls.map((url, i) => {
    const t = el("img", { src: url, alt: `result ${i + 1}`, class: i === 0 ? "selected" : "" });
    t.addEventListener("click", () => pickResult(i));
    return t;
  }));
  $("#thumbs").hidden = result.urls.length < 2;
  $("#layers-toggle").hidden = !result.layers;
  if (result.urls.length) pickResult(0);
}

function pickResult(index) {
  const result = state.result;
  result.index = index;
  [...$("#thumbs").children].forEach((t, i) => t.classList.toggle("selected", i === index));
  const url = result.urls[index];
  const after = $("#after");
  const compare = $("#compare");
  compare.classList.toggle("single", !result.before);
  if (result.before) $("#before").src = result.before;
  after.onload = () => { layoutCompare(); drawLayers(); };
  after.src = url;
  const link = $("#download");
  link.href = url;
  link.setAttribute("download", `easel-${state.entry?.model || "result"}-${index + 1}.png`);
}

function layoutCompare() {
  const after = $("#after");
  const compare = $("#compare");
  if (!after.naturalWidth) return;
  const maxW = compare.parentElement.clientWidth;
  const maxH = window.innerHeight * 0.7;
  const scale = Math.min(maxW / after.naturalWidth, maxH / after.naturalHeight, 1);
  compare.style.width = `${Math.round(after.naturalWidth * scale)}px`;
  compare.style.height = `${Math.round(after.naturalHeight * scale)}px`;
  split();
}

function split() {
  const v = Number($("#split").value);
  const single = !state.result?.before;
  $("#after").style.clipPath = single ? "none" : `inset(0 0 0 ${v}%)`;
  $("#divider").style.left = `${v}%`;
}

// Background generation's text_results: each text and text_mask layer as a box over the result.
function drawLayers() {
  const box = $("#layers");
  box.replaceChildren();
  const result = state.result;
  const after = $("#after");
  if (!result?.layers || !$("#show-layers").checked || !after.naturalWidth) return;
  const set = result.layers.find((p) => p.sample_idx === result.index) || result.layers[result.index];
  if (!set) return;
  const W = after.naturalWidth;
  const H = after.naturalHeight;
  for (const layer of set.layers || []) {
    if (![layer.left, layer.top, layer.width, layer.height].every(Number.isFinite)) continue;
    const label = layer.type === "text" ? `${layer.sub_type || "text"}: ${layer.content ?? ""}` : layer.type;
    const side = layer.left + layer.width / 2 > W / 2 ? "right" : "left";  // keep the label inside the picture
    const node = el("div", { class: `box ${layer.type} ${side}`, title: JSON.stringify(layer) }, el("span", { text: label }));
    node.style.left = `${(layer.left / W) * 100}%`;
    node.style.top = `${(layer.top / H) * 100}%`;
    node.style.width = `${(layer.width / W) * 100}%`;
    node.style.height = `${(layer.height / H) * 100}%`;
    box.append(node);
  }
}

// ---------- history ----------

function rememberRelight(resultKey) {
  const keys = JSON.parse(localStorage.getItem(RELIGHT_STORE) || "[]").filter((k) => k.key !== resultKey);
  keys.unshift({ key: resultKey, at: new Date().toISOString() });
  localStorage.setItem(RELIGHT_STORE, JSON.stringify(keys.slice(0, 20)));
}

async function loadHistory() {
  const list = $("#history");
  if (!state.key) { list.replaceChildren(el("li", { class: "muted", text: "enter an API key to see its tasks" })); return; }
  let items = [];
  try {
    items = (await call("api/v1/tasks?page_no=1&page_size=20")).data || [];
  } catch (err) {
    list.replaceChildren(el("li", { class: "muted", text: err.message }));
    return;
  }
  const relights = JSON.parse(localStorage.getItem(RELIGHT_STORE) || "[]");
  const rows = items.map((t) => {
    const li = el("li", { "data-task": t.task_id },
      el("span", { class: `st ${t.task_status}`, text: t.task_status }),
      el("strong", { text: t.model_name }), t.function ? ` · ${t.function}` : "",
      el("span", { class: "when", text: `${t.submit_time} · ${t.task_id.slice(0, 8)}` }));
    li.addEventListener("click", () => openTask(t.task_id));
    return li;
  });
  for (const r of relights.slice(0, 5)) {
    const li = el("li", { "data-relight": r.key }, el("strong", { text: "relight" }),
      el("span", { class: "when", text: `${r.at.replace("T", " ").slice(0, 19)} · ${r.key.slice(0, 8)}` }));
    li.addEventListener("click", () => openRelight(r.key));
    rows.push(li);
  }
  list.replaceChildren(...(rows.length ? rows : [el("li", { class: "muted", text: "no tasks yet" })]));
}

async function openTask(id) {
  showMessage("");
  try {
    const body = await call(`api/v1/tasks/${encodeURIComponent(id)}`);
    if (TERMINAL.has(body.output.task_status)) showOutcome(body, null);
    else showOutcome(await pollTask(id), null);
  } catch (err) {
    showMessage(err.message);
  }
}

async function openRelight(key) {
  showMessage("");
  try {
    showRelight(await pollRelight(key), null);
  } catch (err) {
    showMessage(err.message);
  }
}

// ---------- wiring ----------

function saveKey(e) {
  e.preventDefault();
  state.key = $("#api-key").value.trim();
  if (state.key) localStorage.setItem(KEY_STORE, state.key);
  else localStorage.removeItem(KEY_STORE);
  $("#key-status").textContent = state.key ? "saved in this browser" : "no key";
  // files chosen before there was a key: upload them now
  for (const d of Object.values(state.drafts)) {
    for (const p of Object.values(d.images)) if (p.send && !p.url && state.key) p.send();
  }
  loadHistory();
}

async function cancelTask() {
  if (!state.taskId) return;
  try {
    await call(`api/v1/tasks/${encodeURIComponent(state.taskId)}/cancel`, { method: "POST" });
  } catch (err) {
    showMessage(err.message);
  }
}

function start() {
  $("#api-key").value = state.key;
  $("#key-status").textContent = state.key ? "saved in this browser" : "";
  $("#key-form").addEventListener("submit", saveKey);
  $("#model").addEventListener("change", (e) => { location.hash = `model=${e.target.value}`; selectModel(e.target.value); });
  $("#function").addEventListener("change", (e) => selectFunction(e.target.value));
  $("#submit").addEventListener("click", submit);
  $("#cancel").addEventListener("click", cancelTask);
  $("#split").addEventListener("input", split);
  $("#show-layers").addEventListener("change", drawLayers);
  $("#refresh-history").addEventListener("click", loadHistory);
  window.addEventListener("resize", () => { layoutCompare(); });
  loadModels().catch((err) => showMessage(`could not load /api/v1/models: ${err.message}`));
  loadHistory();
}

start();
