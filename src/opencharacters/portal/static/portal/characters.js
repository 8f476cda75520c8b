/** Characters: the gallery (live status while PROCESSING) and the create/edit form. */

import { api, listAll, upload } from "./api.js";
import { h, put, field, pageHead, statusBadge, confirmDialog, showApiError, announce, playButton, formatDate } from "./ui.js";
import { toolsEditor, loadTools, saveTools, validateTools } from "./tools.js";
import { setLeaveGuard } from "./leave.js";

export const OUTPUT = { width: 1088, height: 704 };
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];

export function avatarImage(avatar) {
  // A failed image has no processed frame worth showing: the picture that was uploaded is.
  if (avatar.status === "FAILED") return avatar.referenceImageUri || avatar.processedImageUri || "/portal/icon.svg";
  return avatar.processedImageUri || avatar.referenceImageUri || "/portal/icon.svg";
}

/** The failure in the portal's words: the API's names ("facePoints") mean nothing on a form. */
export function failureText(avatar) {
  const reason = avatar.failureReason || "Processing failed.";
  if (/no face was found/i.test(reason)) {
    return "No face was found in this picture. Open the character and place four points (eyes and mouth corners) in its Face points section: that works for drawings and mascots too.";
  }
  return reason.replace(/ ?\(?give facePoints[^.]*\.?/i, "");
}

function voiceName(voice) {
  if (!voice) return "—";
  if (voice.type === "custom") return voice.deleted ? "Custom voice (deleted)" : `${voice.name} (custom)`;
  return voice.name;
}

function card(avatar) {
  const ready = avatar.status === "READY";
  return h(
    "li",
    { class: "card character", "data-avatar-id": avatar.id, "data-status": avatar.status },
    h("div", { class: "thumb" }, h("img", { src: avatarImage(avatar), alt: `${avatar.name}'s image`, loading: "lazy" }), statusBadge(avatar.status)),
    h(
      "div",
      { class: "body" },
      h("h2", {}, avatar.name),
      h("p", { class: "muted" }, "Voice: ", voiceName(avatar.voice)),
      avatar.status === "PROCESSING" ? h("p", { class: "muted", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), " Analysing the image…") : null,
      avatar.status === "FAILED" ? h("p", { class: "failure", role: "alert" }, failureText(avatar)) : null,
    ),
    h(
      "div",
      { class: "card-actions" },
      ready
        ? h("a", { class: "button primary small", href: `#/test/${avatar.id}` }, "Test")
        : h("span", { class: "button small disabled", "aria-disabled": "true" }, "Test"),
      h("a", { class: "button small", href: `#/characters/${avatar.id}`, "aria-label": `Edit ${avatar.name}` }, "Edit"),
      h("a", { class: "button small ghost", href: `#/conversations?avatar=${avatar.id}`, "aria-label": `${avatar.name}'s conversations` }, "Conversations"),
    ),
  );
}

/** A preset character: usable (test call), not editable. */
function presetCard(preset) {
  return h(
    "li",
    { class: "card character preset", "data-preset-id": preset.presetId },
    h("div", { class: "thumb" }, h("img", { src: preset.processedImageUri || "/portal/icon.svg", alt: `${preset.name}'s image`, loading: "lazy" }), h("span", { class: "badge" }, "Preset")),
    h("div", { class: "body" }, h("h2", {}, preset.name), h("p", { class: "muted" }, preset.role, " · Voice: ", voiceName(preset.voice))),
    h(
      "div",
      { class: "card-actions" },
      h("a", { class: "button primary small", href: `#/test/preset:${preset.presetId}` }, "Test"),
      h("span", { class: "muted small", title: `Use it from the API as {"type": "runway-preset", "presetId": "${preset.presetId}"}` }, preset.presetId),
    ),
  );
}

export async function gallery(main) {
  const grid = h("ul", { class: "cards characters", "aria-label": "Characters" });
  const presets = h("ul", { class: "cards characters presets", "aria-label": "Preset characters" });
  main.append(
    pageHead("Characters", h("a", { class: "button primary", href: "#/characters/new" }, "Create a character")),
    grid,
    h("h2", { class: "section-title" }, "Preset characters"),
    h("p", { class: "muted" }, "Ready to call from the API with avatar {\"type\": \"runway-preset\", \"presetId\": …}. Presets can't be edited; a session's personality and start script override theirs."),
    presets,
  );
  api("GET", "/v1/avatar_presets")
    .then(({ data }) => presets.replaceChildren(...data.map(presetCard)))
    .catch(() => presets.replaceChildren(h("li", { class: "muted" }, "The preset characters could not be loaded.")));
  const shown = new Map();
  let timer = null;
  let stopped = false;

  async function load() {
    const avatars = await listAll("/v1/avatars?limit=100");
    if (stopped) return;
    if (!avatars.length) {
      grid.replaceChildren(
        h("li", { class: "empty" }, h("h2", {}, "No characters yet"), h("p", {}, "A character needs one image, a voice and a personality."), h("a", { class: "button primary", href: "#/characters/new" }, "Create your first character")),
      );
      shown.clear();
    } else {
      if (grid.querySelector(".empty")) grid.replaceChildren();
      const ids = new Set(avatars.map((a) => a.id));
      for (const [id, item] of shown) if (!ids.has(id)) (item.el.remove(), shown.delete(id));
      let previous = null;
      for (const avatar of avatars) {
        const signature = `${avatar.status}|${avatar.updatedAt}`;
        let item = shown.get(avatar.id);
        if (!item || item.signature !== signature) {
          const el = card(avatar);
          if (item) {
            if (item.signature.startsWith("PROCESSING") && avatar.status !== "PROCESSING") announce(`${avatar.name} is ${avatar.status.toLowerCase()}`);
            item.el.replaceWith(el);
          }
          item = { el, signature };
          shown.set(avatar.id, item);
        }
        if (previous ? previous.nextSibling !== item.el : grid.firstChild !== item.el) {
          if (previous) previous.after(item.el);
          else grid.prepend(item.el);
        }
        previous = item.el;
      }
    }
    if (avatars.some((a) => a.status === "PROCESSING")) timer = setTimeout(() => load().catch(() => {}), 1500);
  }
  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// ----- the crop preview ----------------------------------------------------------------------------

// The picture whole (letterboxed): before saving, where the face is is the server's call, and a
// guessed guide put the face oval on a portrait's chest. After processing, the server's own
// face-centred frame (processedImageUri) is what is drawn.
function drawCrop(canvas, image) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.fillStyle = "#1d1b2b";
  context.fillRect(0, 0, width, height);
  if (!image) return;
  const scale = Math.min(width / image.naturalWidth, height / image.naturalHeight);
  const w = image.naturalWidth * scale;
  const hh = image.naturalHeight * scale;
  context.drawImage(image, (width - w) / 2, (height - hh) / 2, w, hh);
}

function imagePicker(existing) {
  const canvas = h("canvas", { width: OUTPUT.width, height: OUTPUT.height, class: "crop", role: "img", "aria-label": "Preview of the 1088 × 704 frame" });
  const info = h("p", { class: "hint", id: "image-info", "aria-live": "polite" });
  const caption = h("figcaption", {}, "The avatar is rendered at 1088 × 704, centred on the face the server finds.");
  const error = h("p", { class: "field-error", "aria-live": "polite" });
  const fileInput = h("input", { type: "file", id: "image-file", name: "imageFile", accept: IMAGE_TYPES.join(","), class: "visually-hidden" });
  const urlField = field({ label: "…or an image URL", name: "imageUrl", type: "url", placeholder: "https://example.com/face.png", hint: "https:// or a data:image/… URI" });
  // src: the picked image at full resolution (an object URL or the URL), for the face-points editor.
  const state = { file: null, url: "", changed: false, src: null };
  const listeners = [];
  const changed = () => listeners.forEach((listener) => listener(state.src));
  const drop = h(
    "label",
    { class: "dropzone", for: "image-file" },
    h("span", { class: "drop-title" }, "Drop an image here"),
    h("span", { class: "muted" }, "or ", h("span", { class: "link" }, "choose a file"), " (PNG, JPEG, WebP)"),
  );
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      fileInput.click();
    }
  });
  drop.tabIndex = 0;
  drop.setAttribute("role", "button");
  drop.setAttribute("aria-describedby", "image-tips");

  // `source`: the picked picture itself (its size is the source's); else the server's preview.
  const show = (src, what, source = true) =>
    new Promise((resolve) => {
      const image = new Image();
      image.onload = () => {
        drawCrop(canvas, image);
        const small = image.naturalWidth < OUTPUT.width || image.naturalHeight < OUTPUT.height;
        info.textContent = source
          ? `${what}: ${image.naturalWidth} × ${image.naturalHeight} pixels${small ? " (smaller than 1088 × 704: the frame will be upscaled)" : ""}. After you save, the server centres the 1088 × 704 frame on the face it finds.`
          : what;
        caption.textContent = source ? "Your picture, whole. The call frame is cut from it around the face." : "The server's face-centred 1088 × 704 frame, as calls show it.";
        resolve(true);
      };
      image.onerror = () => {
        drawCrop(canvas, null);
        info.textContent = `${what}: no preview (the server will still fetch it).`;
        resolve(false);
      };
      image.src = src;
    });

  const useFile = (file) => {
    error.textContent = "";
    drop.removeAttribute("aria-invalid");
    urlField.setError("");
    if (!file) return;
    if (!file.type.startsWith("image/")) {
      error.textContent = `${file.name} is not an image.`;
      return;
    }
    state.file = file;
    state.changed = true;
    urlField.input.value = "";
    drop.querySelector(".drop-title").textContent = file.name;
    state.src = URL.createObjectURL(file);
    show(state.src, file.name);
    changed();
  };
  fileInput.addEventListener("change", () => useFile(fileInput.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    useFile(event.dataTransfer.files[0]);
  });
  urlField.input.addEventListener("change", () => {
    const url = urlField.input.value.trim();
    error.textContent = "";
    drop.removeAttribute("aria-invalid");
    state.url = url;
    if (url) {
      state.file = null;
      state.changed = true;
      state.src = url;
      show(url, "The image at this URL");
      changed();
    }
  });
  drawCrop(canvas, null);
  if (existing) show(existing, "The frame the server cut from the current image (a reduced preview).", false);

  const wrap = h(
    "section",
    { class: "panel image-panel", "aria-labelledby": "image-title", "data-field": "referenceImage" },
    h("h2", { id: "image-title" }, "Reference image"),
    drop,
    error,
    fileInput,
    urlField.wrap,
    h("figure", {}, canvas, caption),
    info,
    h(
      "ul",
      { class: "tips", id: "image-tips" },
      h("li", {}, "Photos work best; illustrations and mascots work when the detector finds the face, and otherwise with four face points placed by hand (Face points, below)."),
      h("li", {}, "The face clearly visible, facing the camera."),
      h("li", {}, "Good, even light and a sharp, high-quality image."),
      h("li", {}, "One person, nothing covering the face."),
      h("li", {}, "Landscape, ideally 1088 × 704."),
    ),
  );
  return {
    wrap,
    state,
    onChange: (listener) => listeners.push(listener),
    setError: (message) => {
      if (state.url && message) {
        urlField.setError(message);
        urlField.input.focus();
      } else {
        error.textContent = message;
        drop.toggleAttribute("aria-invalid", Boolean(message));
        if (message) {
          drop.setAttribute("aria-invalid", "true");
          drop.focus();
        }
      }
    },
    async value() {
      if (state.file) return upload(state.file);
      return state.url || null;
    },
  };
}

// ----- face points: for faces no detector finds -------------------------------------------------

export const FACE_POINTS = [
  ["leftEye", "left eye"],
  ["rightEye", "right eye"],
  ["mouthLeft", "left mouth corner"],
  ["mouthRight", "right mouth corner"],
];
// The full-resolution image each avatar was last saved with in this tab: the API keeps only a
// reduced preview (none at all when processing failed), and face points are original pixels.
const savedImages = new Map();

export function needsFacePoints(avatar) {
  return avatar?.status === "FAILED" && /no face|face ?points/i.test(avatar.failureReason || "");
}

function facePointsEditor(image, source, open) {
  const points = [];
  let natural = null; // {width, height} of the image shown
  let cursor = null; // the keyboard cross-hair, in image pixels
  const picture = h("img", { alt: "", draggable: "false" });
  const markers = h("div", { class: "face-markers", "aria-hidden": "true" });
  const crosshair = h("span", { class: "face-crosshair", "aria-hidden": "true", hidden: true });
  const stage = h(
    "div",
    { class: "face-stage", id: "face-stage", tabindex: "0", role: "application", "aria-describedby": "face-points-next face-points-keys" },
    picture,
    markers,
    crosshair,
  );
  const next = h("p", { class: "face-next", id: "face-points-next", "aria-live": "polite" });
  const list = h("ol", { class: "face-list", id: "face-points-list", "aria-label": "Face points placed" });
  const undo = h("button", { type: "button", class: "button small", id: "face-points-undo" }, "Undo last point");
  const reset = h("button", { type: "button", class: "button small", id: "face-points-reset" }, "Reset points");
  const error = h("p", { class: "field-error", "aria-live": "polite" });
  const empty = h("p", { class: "muted face-empty" }, "Choose the image above first: face points are placed on the original picture, and only a reduced preview of it is stored.");
  const wrap = h(
    "details",
    { class: "panel face-points", id: "face-points", "data-field": "facePoints", open },
    h("summary", {}, "Face points ", h("span", { class: "muted" }, "(optional)")),
    h("p", { class: "hint" }, "For mascots and stylized art the face detector cannot find: click the left eye, the right eye, the left mouth corner and the right mouth corner on the image. “Left” means the left of the picture."),
    empty,
    h("div", { class: "face-editor" }, next, stage, h("p", { class: "hint", id: "face-points-keys" }, "Keyboard: focus the image, move the cross-hair with the arrow keys (Shift for bigger steps) and press Enter to place the point."), list, h("div", { class: "face-actions" }, undo, reset)),
    error,
  );
  const editorPart = wrap.querySelector(".face-editor");

  function render() {
    const done = points.length === FACE_POINTS.length;
    const label = done ? null : FACE_POINTS[points.length][1];
    next.textContent = !natural
      ? ""
      : done
        ? "All four points placed; they are sent when you save."
        : `Click the ${label} (point ${points.length + 1} of 4).`;
    stage.setAttribute("aria-label", natural ? (done ? "The image, all four face points placed" : `The image: place the ${label}`) : "The image");
    stage.classList.toggle("done", done);
    markers.replaceChildren(
      ...points.map(([x, y], i) => {
        // Positioned through the CSSOM: the Content-Security-Policy forbids style attributes.
        const marker = h("span", { class: `face-marker p${i + 1}`, "data-point": FACE_POINTS[i][0] }, String(i + 1));
        marker.style.left = `${(x / natural.width) * 100}%`;
        marker.style.top = `${(y / natural.height) * 100}%`;
        return marker;
      }),
    );
    list.replaceChildren(...points.map(([x, y], i) => h("li", { "data-point": FACE_POINTS[i][0] }, `${FACE_POINTS[i][1][0].toUpperCase()}${FACE_POINTS[i][1].slice(1)}: ${x}, ${y}`)));
    list.hidden = !points.length;
    undo.disabled = !points.length;
    reset.disabled = !points.length;
    if (cursor && natural) {
      crosshair.style.left = `${(cursor[0] / natural.width) * 100}%`;
      crosshair.style.top = `${(cursor[1] / natural.height) * 100}%`;
    }
  }

  function place(x, y) {
    if (!natural || points.length === FACE_POINTS.length) return;
    const clamp = (v, max) => Math.min(max, Math.max(0, Math.round(v * 10) / 10));
    points.push([clamp(x, natural.width), clamp(y, natural.height)]);
    error.textContent = "";
    render();
  }

  function load(src) {
    points.length = 0;
    natural = null;
    cursor = null;
    editorPart.hidden = true;
    empty.hidden = Boolean(src);
    if (!src) return render();
    picture.onload = () => {
      natural = { width: picture.naturalWidth, height: picture.naturalHeight };
      editorPart.hidden = false;
      render();
    };
    picture.onerror = () => {
      empty.hidden = false;
    };
    picture.src = src;
  }

  stage.addEventListener("click", (event) => {
    if (!natural) return;
    const box = picture.getBoundingClientRect();
    place(((event.clientX - box.left) / box.width) * natural.width, ((event.clientY - box.top) / box.height) * natural.height);
  });
  // The cross-hair is for the keyboard: it shows on the first arrow key, not on a click.
  stage.addEventListener("focus", () => {
    if (natural) cursor ||= [natural.width / 2, natural.height / 2];
  });
  stage.addEventListener("pointerdown", () => {
    crosshair.hidden = true;
  });
  stage.addEventListener("blur", () => {
    crosshair.hidden = true;
  });
  stage.addEventListener("keydown", (event) => {
    if (!natural || !cursor) return;
    const step = (event.shiftKey ? 0.05 : 0.01) * Math.max(natural.width, natural.height);
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      event.preventDefault();
      crosshair.hidden = false;
      cursor = [Math.min(natural.width, Math.max(0, cursor[0] + moves[event.key][0])), Math.min(natural.height, Math.max(0, cursor[1] + moves[event.key][1]))];
      render();
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      place(cursor[0], cursor[1]);
    }
  });
  undo.addEventListener("click", () => {
    points.pop();
    render();
  });
  reset.addEventListener("click", () => {
    points.length = 0;
    error.textContent = "";
    render();
    stage.focus();
  });
  image.onChange((src) => load(src));
  load(source);

  return {
    wrap,
    setError: (message) => {
      error.textContent = message;
      if (message) wrap.open = true;
    },
    /** undefined when none are placed; null when incomplete; else the API's facePoints. */
    value() {
      if (!points.length) return undefined;
      if (points.length < FACE_POINTS.length) return null;
      return Object.fromEntries(FACE_POINTS.map(([key], i) => [key, points[i]]));
    },
    remaining: () => FACE_POINTS.length - points.length,
  };
}

// ----- voices -------------------------------------------------------------------------------------

export async function loadVoices() {
  const [presets, custom] = await Promise.all([api("GET", "/v1/voice_presets"), listAll("/v1/voices?limit=100")]);
  return { presets: presets.data, custom };
}

function voicePicker(voices, current) {
  const selected = current ? (current.type === "custom" ? `custom:${current.id}` : `preset:${current.presetId}`) : "preset:clara";
  const option = (value, name, description, previewUrl, disabled, extra) =>
    h(
      "li",
      { class: "voice-option" },
      h("input", { type: "radio", name: "voice", id: `voice-${value}`, value, checked: value === selected, disabled }),
      h("label", { for: `voice-${value}`, title: description ? `${name}: ${description}` : name }, h("span", { class: "name" }, name), h("span", { class: "muted" }, description || ""), extra),
      previewUrl ? playButton(`${name}'s voice preview`, previewUrl) : null,
    );
  const presets = voices.presets.map((v) => option(`preset:${v.id}`, v.name, `${v.description}${v.gender ? ` · ${v.gender}` : ""}`, v.previewUrl));
  // A failed voice cannot speak: it is not offered (the Voices page shows why it failed).
  const custom = voices.custom.filter((v) => v.status !== "FAILED" || (current?.type === "custom" && current.id === v.id)).map((v) =>
    option(`custom:${v.id}`, v.name, v.description, v.status === "READY" ? v.previewUrl : null, v.status !== "READY", v.status !== "READY" ? statusBadge(v.status) : null),
  );
  if (current && current.type === "custom" && current.deleted) {
    custom.push(option(`custom:${current.id}`, "Deleted custom voice", "Calls use the nearest preset; pick another voice.", null, false));
  }
  return h(
    "fieldset",
    { class: "panel voices", "data-field": "voice" },
    h("legend", {}, "Voice"),
    h("h3", {}, "Presets"),
    h("ul", { class: "voice-list" }, presets),
    h("h3", {}, "Custom voices"),
    custom.length ? h("ul", { class: "voice-list" }, custom) : h("p", { class: "muted" }, "None yet. ", h("a", { href: "#/voices" }, "Design or clone a voice"), "."),
    h("p", { class: "field-error", "aria-live": "polite" }),
  );
}

function selectedVoice(form) {
  const value = form.querySelector("input[name=voice]:checked")?.value || "";
  const [type, id] = value.split(":");
  if (type === "custom") return { type: "custom", id };
  return { type: "runway-live-preset", presetId: id };
}

// ----- the form -----------------------------------------------------------------------------------

export async function editor(main, id) {
  const creating = id === "new";
  const [avatar, voices, documents] = await Promise.all([
    creating ? null : api("GET", `/v1/avatars/${encodeURIComponent(id)}`),
    loadVoices(),
    listAll("/v1/documents?limit=100"),
  ]);
  const title = creating ? "Create a character" : `Edit ${avatar.name}`;
  const image = imagePicker(avatar ? avatarImage(avatar) : null);
  const facePoints = facePointsEditor(image, creating ? null : savedImages.get(avatar.id), needsFacePoints(avatar));
  const name = field({ label: "Name", name: "name", value: avatar?.name, max: 50, required: true, placeholder: "Ada" });
  const personality = field({
    label: "Personality", name: "personality", value: avatar?.personality, max: 10000, required: true, multiline: true, rows: 8,
    hint: "The system prompt: who the character is, how it speaks, what it knows and must not do.",
    placeholder: "You are Ada, a cheerful astronaut who answers questions about space in short, friendly sentences.",
  });
  const startScript = field({
    label: "Start script", name: "startScript", value: avatar?.startScript || "", max: 2000, multiline: true, rows: 3,
    hint: "The opening line, spoken as soon as a call connects. Leave empty for none.",
  });
  const attached = new Set(avatar?.documentIds || []);
  const docItem = (d, checked) =>
    h("li", {}, h("input", { type: "checkbox", id: `doc-${d.id}`, name: "documentIds", value: d.id, checked }), h("label", { for: `doc-${d.id}` }, d.name, h("span", { class: "muted" }, d.usedBy.length ? ` · used by ${d.usedBy.map((a) => a.name).join(", ")}` : " · not used yet")));
  const docList = h("ul", { class: "checklist", id: "document-choices" }, documents.map((d) => docItem(d, attached.has(d.id))));
  const noDocs = h("p", { class: "muted" }, "No documents yet.");
  noDocs.hidden = documents.length > 0;
  const newDoc = newDocumentForm((created) => {
    docList.append(docItem(created, true));
    noDocs.hidden = true;
    markChanged();
  });
  const docs = h(
    "fieldset",
    { class: "panel", "data-field": "documentIds" },
    h("legend", {}, "Knowledge"),
    h("p", { class: "hint" }, "Text and Markdown documents the character can draw on during a call (up to 50). Add one here without leaving the form; the ", h("a", { href: "#/documents" }, "Documents"), " page edits and deletes them."),
    docList,
    noDocs,
    newDoc,
    h("p", { class: "field-error", "aria-live": "polite" }),
  );
  const tools = toolsEditor(creating ? [] : loadTools(id));
  const summary = h("p", { class: "error-box", role: "alert", hidden: true, tabindex: "-1", id: "form-summary" });
  const save = h("button", { type: "submit", class: "button primary" }, creating ? "Create character" : "Save changes");
  const form = h(
    "form",
    { class: "character-form", novalidate: true, "aria-labelledby": "form-title" },
    h("div", { class: "columns" }, h("div", { class: "col" }, image.wrap, facePoints.wrap), h("div", { class: "col" }, h("section", { class: "panel" }, h("h2", {}, "Identity"), name.wrap, personality.wrap, startScript.wrap), voicePicker(voices, avatar?.voice))),
    docs,
    tools.wrap,
    summary,
    h(
      "div",
      { class: "form-actions" },
      save,
      h("a", { class: "button", href: "#/characters" }, "Cancel"),
      creating ? null : h("button", { type: "button", class: "button danger", id: "delete-character", onclick: remove }, "Delete character"),
    ),
  );
  put(
    main,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1", id: "form-title" }, title), h("div", { class: "actions" }, avatar && avatar.status === "READY" ? h("a", { class: "button", href: `#/test/${avatar.id}` }, "Preview & test") : null, avatar ? statusBadge(avatar.status) : null)),
    avatar?.status === "FAILED" ? h("p", { class: "error-box", role: "alert", id: "failure-reason" }, failureText(avatar)) : null,
    form,
  );

  async function remove() {
    const ok = await confirmDialog(`Delete ${avatar.name}? Its past conversations stay, but it can no longer take calls. This cannot be undone.`, { title: "Delete this character?" });
    if (!ok) return;
    try {
      await api("DELETE", `/v1/avatars/${avatar.id}`);
      changed = false;
      saveTools(avatar.id, []);
      announce(`${avatar.name} deleted`);
      location.hash = "#/characters";
    } catch (error) {
      summary.textContent = error.message;
      summary.hidden = false;
    }
  }

  // Unsaved work is not lost by a click elsewhere: leaving asks first (see app.js).
  let changed = false;
  function markChanged() {
    changed = true;
  }
  form.addEventListener("input", markChanged);
  form.addEventListener("change", markChanged);
  image.onChange(markChanged);
  form.addEventListener("input", () => {
    if (!form.querySelector("[aria-invalid=true]") && ![...form.querySelectorAll(".field-error")].some((e) => e.textContent)) summary.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    summary.hidden = true;
    for (const line of form.querySelectorAll(".field-error")) line.textContent = "";
    // The API's rules, checked here first.
    const problems = [];
    if (!name.input.value.trim()) problems.push([name, "Name: required."]);
    else if (name.input.value.length > 50) problems.push([name, `Name: at most 50 characters (got ${name.input.value.length}).`]);
    if (!personality.input.value.trim()) problems.push([personality, "Personality: required."]);
    else if (personality.input.value.length > 10000) problems.push([personality, `Personality: at most 10,000 characters (got ${personality.input.value.length}).`]);
    if (startScript.input.value.length > 2000) problems.push([startScript, `Start script: at most 2,000 characters (got ${startScript.input.value.length}).`]);
    const documentIds = [...form.querySelectorAll("input[name=documentIds]:checked")].map((i) => i.value);
    const toolErrors = validateTools(tools.value());
    tools.showErrors(toolErrors);
    if (creating && !image.state.file && !image.state.url) {
      image.setError("Image: required. Drop a picture here or give its URL.");
      problems.push([null, "referenceImage is required"]);
    }
    const points = facePoints.value();
    if (points === null) {
      facePoints.setError(`Face points: place all four points or reset them (${facePoints.remaining()} to go).`);
      problems.push([null, "facePoints"]);
    }
    if (documentIds.length > 50) {
      docs.querySelector(".field-error").textContent = `documentIds: may have at most 50 items (got ${documentIds.length})`;
      problems.push([null, "documentIds"]);
    }
    for (const [f, message] of problems) if (f) f.setError(message);
    if (problems.length || toolErrors.length) {
      summary.textContent = `Please fix the highlighted field${problems.length + toolErrors.length > 1 ? "s" : ""}.`;
      summary.hidden = false;
      (form.querySelector("[aria-invalid=true]") || summary).focus();
      return;
    }
    save.disabled = true;
    try {
      const body = {
        name: name.input.value,
        personality: personality.input.value,
        voice: selectedVoice(form),
        documentIds,
      };
      const script = startScript.input.value;
      if (points) body.facePoints = points;
      if (image.state.changed) {
        save.textContent = image.state.file ? "Uploading the image…" : "Saving…";
        body.referenceImage = await image.value();
      }
      save.textContent = "Saving…";
      let saved;
      if (creating) {
        if (script) body.startScript = script;
        saved = await api("POST", "/v1/avatars", body);
      } else {
        body.startScript = script || null;
        saved = await api("PATCH", `/v1/avatars/${avatar.id}`, body);
      }
      saveTools(saved.id, tools.value());
      if (image.state.changed && image.state.src) savedImages.set(saved.id, image.state.src);
      changed = false;
      announce(creating ? `${saved.name} created; processing its image` : `${saved.name} saved`);
      location.hash = "#/characters";
    } catch (error) {
      if (/^referenceImage\b/.test(error.message || "")) {
        // Under the control that gave the image (the URL field or the drop zone), in its words.
        image.setError(error.message.replace(/^referenceImage:?\s*/, "Image: "));
        summary.textContent = "Please fix the highlighted field.";
        summary.hidden = false;
      } else showApiError(form, summary, error);
      if (facePoints.wrap.querySelector(".field-error").textContent) facePoints.wrap.open = true;
    } finally {
      save.disabled = false;
      save.textContent = creating ? "Create character" : "Save changes";
    }
  });
  name.input.focus();
  setLeaveGuard(() => changed);
  return () => setLeaveGuard(null);
}

/** A document added from the character form (no nested <form>: Enter must not save the
 * character). Calls `added(document)` once the API has it. */
function newDocumentForm(added) {
  const name = field({ label: "Document name", name: "newDocumentName", max: 255 });
  const content = field({ label: "Document content (text or Markdown)", name: "newDocumentContent", max: 200000, multiline: true, rows: 6 });
  const error = h("p", { class: "field-error", role: "alert" });
  const button = h("button", { type: "button", class: "button small", id: "add-document" }, "Add this document");
  const wrap = h("details", { class: "new-document", id: "new-document" }, h("summary", {}, "Add a new document"), name.wrap, content.wrap, error, button);
  name.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      content.input.focus();
    }
  });
  button.addEventListener("click", async () => {
    error.textContent = "";
    if (!name.input.value.trim()) return (name.setError("Give the document a name."), name.input.focus());
    if (!content.input.value.trim()) return (content.setError("Paste the document's text."), content.input.focus());
    button.disabled = true;
    try {
      const created = await api("POST", "/v1/documents", { name: name.input.value.trim(), content: content.input.value });
      added({ ...created, usedBy: created.usedBy || [] });
      announce(`Document ${created.name} added and attached`);
      name.input.value = "";
      content.input.value = "";
      name.update();
      content.update();
      wrap.open = false;
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  });
  return wrap;
}

export { formatDate };
