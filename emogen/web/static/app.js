// Front end of the EmoGen page: fills the form from /api/config, submits a job, polls its status.
"use strict";
const $ = (id) => document.getElementById(id);
let recorded = null;

function show(id, text) {
  const el = $(id);
  el.textContent = text || "";
  el.hidden = !text;
}

async function init() {
  const cfg = await (await fetch("/api/config")).json();
  for (const name of cfg.examples.face) $("face_example").add(new Option(name, name, true, true));
  for (const name of cfg.examples.audio) $("audio_example").add(new Option(name, name, true, true));
  for (const e of cfg.emotions) $("emotion").add(new Option(e, e));
  $("emotion").add(new Option("all six", "all"));
  $("emotion").value = "HAP";
  $("limits").textContent = `uploads up to ${cfg.max_upload_mb} MB and ${cfg.max_seconds} s`;
  if (!cfg.ready) {
    show("missing", cfg.missing);
    $("generate").disabled = true;
  }
}

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
    };
    recorder.start();
    $("record").recorder = recorder;
    $("record").dataset.on = "1";
    $("record").textContent = "Stop";
    $("recstate").textContent = "recording...";
  } catch (err) {
    show("message", "microphone not available: " + err.message);
  }
});

$("face").addEventListener("change", () => { if ($("face").files.length) $("face_example").value = ""; });
$("audio").addEventListener("change", () => { if ($("audio").files.length) { $("audio_example").value = ""; recorded = null; } });

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  show("message", "");
  $("results").innerHTML = "";
  $("timings").textContent = "";
  const data = new FormData($("form"));
  if (!$("face").files.length) data.delete("face");
  if (!$("audio").files.length) data.delete("audio");
  if (recorded) data.set("audio", recorded, "recording.webm");
  $("generate").disabled = true;
  try {
    const resp = await fetch("/api/jobs", { method: "POST", body: data });
    const body = await resp.json().catch(() => ({ error: `request failed (${resp.status})` }));
    if (!resp.ok) throw new Error(body.error || `request failed (${resp.status})`);
    await poll(body.id);
  } catch (err) {
    show("message", err.message);
  } finally {
    $("generate").disabled = false;
  }
});

async function poll(id) {
  const bar = $("bar");
  bar.hidden = false;
  for (;;) {
    const st = await (await fetch(`/api/jobs/${id}`)).json();
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
      for (const [emotion, url] of Object.entries(st.results)) {
        const fig = document.createElement("figure");
        fig.innerHTML = `<video controls src="${url}" data-emotion="${emotion}"></video>` +
          `<figcaption>${emotion} <a href="${url}?download=1">download</a></figcaption>`;
        $("results").appendChild(fig);
      }
      return;
    } else {
      throw new Error(st.error || "unknown job");
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

init();
