// Front end of the EmoGen page: previews the inputs, submits a job, and plays each emotion's video while it is
// still being generated (the server streams a fragmented MP4 that Media Source Extensions play as it grows).
"use strict";
const $ = (id) => document.getElementById(id);
const MIME = 'video/mp4; codecs="avc1.640028, mp4a.40.2"';
let recorded = null;
let words = {};
let examples = { face: [], audio: [] };

function show(id, text) {
  const el = $(id);
  el.textContent = text || "";
  el.hidden = !text;
}

function clearErrors() {
  for (const id of ["message", "face_error", "audio_error", "emotion_error"]) show(id, "");
}

function seconds(t) {
  return Number.isFinite(t) ? `${t.toFixed(1)} s` : "unknown length";
}

// Preview of the face: an image, or a muted looping video, with its size and duration.
function previewFace(url, isImage) {
  const box = $("face_preview");
  box.innerHTML = "";
  show("face_error", "");
  if (!url) { $("face_info").textContent = ""; return; }
  if (isImage) {
    const img = new Image();
    img.onload = () => { $("face_info").textContent = `image, ${img.naturalWidth}x${img.naturalHeight}`; };
    img.onerror = () => show("face_error", "this image cannot be shown; it may not be an image");
    img.src = url;
    box.appendChild(img);
  } else {
    const v = document.createElement("video");
    Object.assign(v, { muted: true, loop: true, autoplay: true, playsInline: true, src: url });
    v.onloadedmetadata = () => {
      $("face_info").textContent = `video, ${v.videoWidth}x${v.videoHeight}, ${seconds(v.duration)}`;
    };
    v.onerror = () => show("face_error", "this video cannot be previewed; it may not be a media file");
    box.appendChild(v);
  }
}

function previewAudio(url) {
  const a = $("audio_preview");
  show("audio_error", "");
  if (!url) { a.hidden = true; a.removeAttribute("src"); $("audio_info").textContent = ""; return; }
  a.hidden = false;
  a.onloadedmetadata = () => { $("audio_info").textContent = `voice, ${seconds(a.duration)}`; };
  a.onerror = () => show("audio_error", "this file cannot be played; it may not be an audio file");
  a.src = url;
}

function refreshFace() {
  const file = $("face").files[0];
  if (file) previewFace(URL.createObjectURL(file), file.type.startsWith("image/"));
  else if ($("face_example").value) {
    const i = examples.face.indexOf($("face_example").value);
    previewFace(`/api/examples/face/${i}`, /\.(jpe?g|png)$/i.test($("face_example").value));
  } else previewFace(null);
}

function refreshAudio() {
  const file = $("audio").files[0];
  if (recorded) previewAudio(URL.createObjectURL(recorded));
  else if (file) previewAudio(URL.createObjectURL(file));
  else if ($("audio_example").value) previewAudio(`/api/examples/audio/${examples.audio.indexOf($("audio_example").value)}`);
  else previewAudio(null);
}

async function init() {
  const cfg = await (await fetch("/api/config")).json();
  words = cfg.emotion_words;
  examples = cfg.examples;
  for (const name of cfg.examples.face) $("face_example").add(new Option(name, name, true, true));
  for (const name of cfg.examples.audio) $("audio_example").add(new Option(name, name, true, true));
  for (const e of cfg.emotions) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" name="emotion" value="${e}"${e === "HAP" ? " checked" : ""}> ` +
      `${words[e]} <span class="code">${e}</span>`;
    $("emotions").appendChild(label);
  }
  if (cfg.lipsync_only) {
    $("all_emotions").hidden = true;
    $("emotions").textContent = "lip sync only: this server's Wav2Lip generator has no emotions";
  }
  $("limits").textContent = `uploads up to ${cfg.max_upload_mb} MB and ${cfg.max_seconds} s`;
  if (!cfg.ready) {
    show("missing", cfg.missing);
    $("generate").disabled = true;
  }
  show("notice", cfg.notice);
  refreshFace();
  refreshAudio();
}

$("all_emotions").addEventListener("click", () => {
  const boxes = [...document.querySelectorAll("#emotions input")];
  const all = boxes.every((b) => b.checked);
  boxes.forEach((b) => { b.checked = !all; });
});

$("record").addEventListener("click", async () => {
  if ($("record").dataset.on) {
    $("record").recorder.stop();
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const recorder = new MediaRecorder(stream);
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    recorder.onstop = () => {
      recorded = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      stream.getTracks().forEach((t) => t.stop());
      delete $("record").dataset.on;
      $("record").textContent = "Record";
      $("recstate").textContent = `recorded ${(recorded.size / 1024).toFixed(0)} KB`;
      $("audio_example").value = "";
      refreshAudio();
    };
    recorder.start();
    $("record").recorder = recorder;
    $("record").dataset.on = "1";
    $("record").textContent = "Stop";
    $("recstate").textContent = "recording...";
  } catch (err) {
    show("audio_error", "microphone not available: " + err.message);
  }
});

$("face").addEventListener("change", () => { if ($("face").files.length) $("face_example").value = ""; refreshFace(); });
$("face_example").addEventListener("change", () => { $("face").value = ""; refreshFace(); });
$("audio").addEventListener("change", () => {
  if ($("audio").files.length) { $("audio_example").value = ""; recorded = null; $("recstate").textContent = ""; }
  refreshAudio();
});
$("audio_example").addEventListener("change", () => { $("audio").value = ""; recorded = null; refreshAudio(); });

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors();
  $("results").innerHTML = "";
  $("timings").textContent = "";
  $("status").textContent = "submitting...";
  const data = new FormData($("form"));
  if (!$("face").files.length) data.delete("face");
  if (!$("audio").files.length) data.delete("audio");
  if (recorded) data.set("audio", recorded, "recording.webm");
  $("generate").disabled = true;
  try {
    const resp = await fetch("/api/jobs", { method: "POST", body: data });
    const body = await resp.json().catch(() => ({ error: `request failed (${resp.status})` }));
    if (!resp.ok) {
      const err = new Error(body.error || `request failed (${resp.status})`);
      err.field = body.field;
      throw err;
    }
    // The Live tab offers this request's face too (the server checks it belongs to this client).
    window.dispatchEvent(new CustomEvent("emogen-job", { detail: body.id }));
    await poll(body.id);
  } catch (err) {
    const where = { face: "face_error", audio: "audio_error", emotion: "emotion_error" }[err.field] || "message";
    show(where, err.message);
    $("status").textContent = "";
  } finally {
    $("generate").disabled = false;
  }
});

function append(buffer, chunk) {
  return new Promise((resolve, reject) => {
    buffer.addEventListener("updateend", resolve, { once: true });
    buffer.addEventListener("error", reject, { once: true });
    buffer.appendBuffer(chunk);
  });
}

// Plays the growing fragmented MP4 at `url` in `video`; resolves when the stream is complete.
function playLive(video, url) {
  if (!window.MediaSource || !MediaSource.isTypeSupported(MIME)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const source = new MediaSource();
    video.src = URL.createObjectURL(source);
    source.addEventListener("sourceopen", async () => {
      try {
        const buffer = source.addSourceBuffer(MIME);
        const reader = (await fetch(url)).body.getReader();
        let playing = false;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await append(buffer, value);
          if (!playing && buffer.buffered.length && buffer.buffered.end(0) > 0.4) {
            playing = true;
            video.play().catch(() => {});
          }
        }
        source.endOfStream();
        if (!playing) video.play().catch(() => {});
        resolve(true);
      } catch (err) {
        resolve(false);
      }
    }, { once: true });
  });
}

function player(emotion, live) {
  const fig = document.createElement("figure");
  fig.dataset.emotion = emotion;
  fig.innerHTML = `<video controls playsinline data-emotion="${emotion}"></video>` +
    `<figcaption>${words[emotion] || emotion} <span class="code">${emotion}</span>` +
    `<span class="badge state"></span> <a class="download" hidden>download</a></figcaption>`;
  $("results").appendChild(fig);
  const video = fig.querySelector("video");
  const badge = fig.querySelector(".state");
  video.addEventListener("waiting", () => { if (fig.classList.contains("generating")) setBadge(badge, "buffering"); });
  video.addEventListener("playing", () => {
    setBadge(badge, fig.classList.contains("generating") ? "generating" : "");
  });
  fig.live = playLive(video, live);
  return fig;
}

function setBadge(badge, kind) {
  badge.className = `badge state ${kind}`;
  badge.textContent = { generating: "generating...", buffering: "buffering...", "": "" }[kind];
}

async function poll(id) {
  const bar = $("bar");
  bar.hidden = false;
  const figures = {};
  for (;;) {
    const st = await (await fetch(`/api/jobs/${id}`)).json();
    for (const emotion of st.started || []) {
      if (!figures[emotion]) figures[emotion] = player(emotion, st.live[emotion]);
    }
    for (const [emotion, fig] of Object.entries(figures)) {
      const generating = emotion === st.current;
      fig.classList.toggle("generating", generating);
      const badge = fig.querySelector(".state");
      if (generating && !badge.classList.contains("buffering")) setBadge(badge, "generating");
      if (st.results[emotion]) {
        if (!generating && badge.classList.contains("generating")) setBadge(badge, "");
        const link = fig.querySelector(".download");
        link.href = `${st.results[emotion]}?download=1`;
        link.hidden = false;
        if (!fig.fallback) {
          fig.fallback = true;  // without Media Source Extensions, play the finished file
          fig.live.then((ok) => { if (!ok) fig.querySelector("video").src = st.results[emotion]; });
        }
      }
    }
    if (st.state === "queued") {
      $("status").textContent = `waiting: ${st.position} request(s) ahead of yours`;
    } else if (st.state === "running") {
      $("status").textContent = `${st.stage || "starting"} ${st.total ? `${st.done}/${st.total} frames` : ""}`;
      bar.value = st.total ? st.done / st.total : 0;
    } else if (st.state === "error") {
      bar.hidden = true;
      $("status").textContent = "";
      throw new Error(st.error);
    } else if (st.state === "done") {
      bar.hidden = true;
      $("status").textContent = st.detection_cached ? "done (face detection: from cache)" : "done";
      $("timings").textContent = "timings: " + Object.entries(st.timings).map(([k, v]) => `${k} ${v} s`).join(", ");
      return;
    } else {
      throw new Error(st.error || "unknown job");
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

init();
