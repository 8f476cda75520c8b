/** Voices: the 30 presets with previews; custom voices designed from a description or cloned
 * from an audio sample, with their status while PROCESSING. */

import { api, listAll, upload } from "./api.js";
import { h, field, pageHead, statusBadge, playButton, confirmDialog, showApiError, announce, formatDate } from "./ui.js";

export async function page(main) {
  const presets = (await api("GET", "/v1/voice_presets")).data;
  const customList = h("ul", { class: "cards voice-cards wide", id: "custom-voices", "aria-label": "Custom voices" });
  main.append(
    pageHead("Voices"),
    h(
      "section",
      { "aria-labelledby": "presets-title" },
      h("h2", { id: "presets-title" }, "Preset voices"),
      h(
        "ul",
        { class: "cards voice-cards", id: "preset-voices" },
        presets.map((v) =>
          h("li", { class: "card voice", "data-voice-id": v.id, title: `${v.name}: ${v.description}` }, h("div", { class: "voice-row" }, playButton(`${v.name}'s voice preview`, v.previewUrl), h("div", {}, h("h3", {}, v.name), h("p", { class: "muted" }, v.description, v.gender ? ` · ${v.gender}` : "")))),
        ),
      ),
    ),
  );

  // ----- create ------------------------------------------------------------------------------
  const name = field({ label: "Name", name: "name", max: 100, required: true });
  const description = field({ label: "Description (optional)", name: "description", max: 1024, hint: "A note for you; not used to make the voice." });
  const prompt = field({ label: "Describe the voice", name: "from", max: 1000, min: 20, multiline: true, rows: 3, placeholder: "A warm, calm woman's voice with a slight rasp, speaking slowly and clearly.", hint: "20 to 1,000 characters: gender, age, pitch, pace, tone." });
  // Runway's API names a model (eleven_…); this server has one designer for both, so the portal
  // sends the default and does not offer a choice that changes nothing.
  const model = { value: "eleven_multilingual_ttv_v2" };
  const understood = h("p", { class: "hint", id: "voice-understood", "aria-live": "polite" });
  const sample = h("input", { type: "file", id: "voice-sample", name: "sample", accept: "audio/*", "aria-describedby": "sample-hint voice-sample-error" });
  const fromText = h("input", { type: "radio", name: "source", id: "source-text", value: "text", checked: true });
  const fromAudio = h("input", { type: "radio", name: "source", id: "source-audio", value: "audio" });
  const textPanel = h("div", { class: "source-panel" }, prompt.wrap);
  const previewSlot = h("span");
  const previewButton = h("button", { type: "button", class: "button small" }, "Make a preview");
  textPanel.append(h("div", { class: "inline" }, previewButton, previewSlot), understood);
  const audioPanel = h(
    "div",
    { class: "source-panel", hidden: true, "data-field": "from" },
    h("div", { class: "field" }, h("label", { for: "voice-sample" }, "Audio sample"), sample, h("p", { class: "hint", id: "sample-hint" }, "10 seconds to 5 minutes of one person speaking, at most 10 MB."), h("p", { class: "field-error", id: "voice-sample-error" })),
  );
  const summary = h("p", { class: "error-box", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary" }, "Create voice");
  const form = h(
    "form",
    { class: "panel voice-form", novalidate: true, "aria-labelledby": "create-voice-title" },
    h("h2", { id: "create-voice-title" }, "Create a custom voice"),
    h("div", { class: "grid-2" }, name.wrap, description.wrap),
    h("fieldset", { class: "segmented" }, h("legend", {}, "From"), fromText, h("label", { for: "source-text" }, "a description"), fromAudio, h("label", { for: "source-audio" }, "an audio sample")),
    textPanel,
    audioPanel,
    summary,
    submit,
  );
  sample.addEventListener("change", () => {
    sample.removeAttribute("aria-invalid");
    audioPanel.querySelector(".field-error").textContent = "";
  });
  for (const radio of [fromText, fromAudio]) {
    radio.addEventListener("change", () => {
      textPanel.hidden = !fromText.checked;
      audioPanel.hidden = !fromAudio.checked;
    });
  }
  previewButton.addEventListener("click", async () => {
    summary.hidden = true;
    previewButton.disabled = true;
    previewButton.textContent = "Rendering…";
    try {
      const preview = await api("POST", "/v1/voices/preview", { prompt: prompt.input.value, model: model.value });
      previewSlot.replaceChildren(playButton("the described voice", preview.url), h("span", { class: "muted" }, ` ${preview.durationSecs.toFixed(1)} s`));
      understood.textContent = describeAttributes(preview.attributes, preview.note);
      previewSlot.querySelector("button").click();
    } catch (error) {
      showApiError(form, summary, error);
    } finally {
      previewButton.disabled = false;
      previewButton.textContent = "Make a preview";
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    summary.hidden = true;
    if (!name.input.value.trim()) return (name.setError("Name: required."), name.input.focus());
    submit.disabled = true;
    try {
      let from;
      if (fromText.checked) {
        from = { type: "text", prompt: prompt.input.value, model: model.value };
      } else {
        const line = audioPanel.querySelector(".field-error");
        if (!sample.files[0]) {
          line.textContent = "Audio sample: required. Choose a recording of one person speaking.";
          sample.setAttribute("aria-invalid", "true");
          sample.focus();
          return;
        }
        const seconds = await audioSeconds(sample.files[0]);
        if (seconds !== null && (seconds < 10 || seconds > 300)) {
          line.textContent = `Audio sample: this recording is ${seconds.toFixed(1)} s long; a sample must be 10 seconds to 5 minutes.`;
          sample.setAttribute("aria-invalid", "true");
          sample.focus();
          return;
        }
        submit.textContent = "Uploading…";
        from = { type: "audio", audio: await upload(sample.files[0]) };
      }
      submit.textContent = "Creating…";
      const body = { name: name.input.value, from };
      if (description.input.value) body.description = description.input.value;
      await api("POST", "/v1/voices", body);
      announce(`Voice ${body.name} is being made`);
      // The form keeps what was typed: a sample that fails is retried under the same name.
      sample.value = "";
      previewSlot.replaceChildren();
      await loadCustom();
    } catch (error) {
      showApiError(form, summary, error);
    } finally {
      submit.disabled = false;
      submit.textContent = "Create voice";
    }
  });

  main.append(h("section", { "aria-labelledby": "custom-title" }, h("h2", { id: "custom-title" }, "Custom voices"), customList), form);

  let timer = null;
  let stopped = false;
  async function loadCustom() {
    clearTimeout(timer);
    const voices = await listAll("/v1/voices?limit=100");
    if (stopped) return;
    customList.replaceChildren(
      ...(voices.length
        ? voices.map((v) =>
            h(
              "li",
              { class: "card voice", "data-voice-id": v.id, "data-status": v.status },
              h(
                "div",
                { class: "voice-row" },
                v.status === "READY" ? playButton(`${v.name}'s voice preview`, v.previewUrl) : h("span", { class: "spinner", "aria-hidden": "true", hidden: v.status !== "PROCESSING" }),
                h("div", { class: "grow" }, h("h3", {}, v.name, " ", statusBadge(v.status)), h("p", { class: "muted" }, v.description || `Created ${formatDate(v.createdAt)}`), v.failureReason ? h("p", { class: "failure" }, v.failureReason) : null),
                h("button", { type: "button", class: "button small ghost", "aria-label": `Delete ${v.name}`, onclick: () => remove(v) }, "Delete"),
              ),
            ),
          )
        : [h("li", { class: "empty muted" }, "No custom voices yet: describe one or clone one from a recording below.")]),
    );
    if (voices.some((v) => v.status === "PROCESSING")) timer = setTimeout(() => loadCustom().catch(() => {}), 1500);
  }
  async function remove(voice) {
    if (!(await confirmDialog(`Delete the voice ${voice.name}? Characters using it fall back to the nearest preset.`, { title: "Delete this voice?" }))) return;
    try {
      await api("DELETE", `/v1/voices/${voice.id}`);
      announce(`${voice.name} deleted`);
    } catch (error) {
      summary.textContent = error.message;
      summary.hidden = false;
    }
    await loadCustom();
  }
  await loadCustom();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** The length of an audio file as the browser reads it (null when it cannot tell). */
function audioSeconds(file) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const audio = new Audio();
    const done = (value) => {
      URL.revokeObjectURL(url);
      resolve(value);
    };
    audio.addEventListener("loadedmetadata", () => done(Number.isFinite(audio.duration) ? audio.duration : null));
    audio.addEventListener("error", () => done(null));
    audio.preload = "metadata";
    audio.src = url;
  });
}

/** "Understood: female, young, high pitch, fast pace, bright timbre." */
export function describeAttributes(attributes, note) {
  if (!attributes) return "";
  const a = attributes;
  const parts = [a.gender, a.age, `${a.pitch} pitch`, `${a.pace} pace`, `${a.timbre} timbre`];
  if (a.breathiness && a.breathiness !== "none") parts.push(`${a.breathiness} breathiness`);
  if (a.expressiveness && a.expressiveness !== "normal") parts.push(`${a.expressiveness} expression`);
  if (a.accent) parts.push(`${a.accent} accent`);
  return `Understood: ${parts.join(", ").replace(/-/g, " ")}.${note ? ` ${note}` : ""}`;
}
