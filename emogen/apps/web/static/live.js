// The Live tab: the microphone goes to the server over a WebSocket as 16 kHz 16-bit pieces; the frames come
// back as JPEG and are drawn as they arrive. The delay shown is measured here, in the browser: from the moment
// the piece holding a frame's speech was sent to the moment that frame is drawn.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const RATE = 16000;
  // What the page measured, also read by the browser test.
  const live = window.emogenLive = { frames: 0, delays: [], changes: [], dropped: 0, running: false, error: "" };
  let ws = null, ctx = null, stream = null, sent = [], sentSamples = 0, pendingMeta = null, fps = 25;
  let frameTimes = [], previous = null, emotion = "HAP";

  for (const button of document.querySelectorAll(".tab")) {
    button.addEventListener("click", () => {
      for (const b of document.querySelectorAll(".tab")) {
        b.classList.toggle("active", b === button);
        $(b.dataset.tab).hidden = b !== button;
      }
    });
  }

  function showError(text) {
    live.error = text || "";
    $("live_error").textContent = text || "";
    $("live_error").hidden = !text;
  }

  async function setup() {
    const cfg = await (await fetch("/api/config")).json();
    cfg.examples.face.forEach((name, i) => $("live_face").add(new Option(name, String(i))));
    for (const e of cfg.emotions) {
      const label = document.createElement("label");
      label.innerHTML = `<input type="radio" name="live_emotion" value="${e}"${e === emotion ? " checked" : ""}> ` +
        `${cfg.emotion_words[e]} <span class="code">${e}</span>`;
      $("live_emotions").appendChild(label);
    }
    $("live_emotions").addEventListener("change", (ev) => {
      emotion = ev.target.value;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "emotion", emotion }));
    });
    if (!cfg.ready) $("live_start").disabled = true;
  }

  // When the piece holding `sample` was sent (performance.now() milliseconds).
  function sentAt(sample) {
    for (const [end, when] of sent) if (sample < end) return when;
    return sent.length ? sent[sent.length - 1][1] : performance.now();
  }

  function median(values) {
    if (!values.length) return NaN;
    const s = [...values].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  }

  function updateStats() {
    const now = performance.now();
    frameTimes = frameTimes.filter((t) => now - t < 2000);
    const recent = live.delays.slice(-50);
    const rate = frameTimes.length > 1 ? (frameTimes.length - 1) / ((frameTimes[frameTimes.length - 1] - frameTimes[0]) / 1000) : 0;
    $("live_stats").textContent = `delay ${Math.round(median(recent))} ms (median of the last ${recent.length} frames) · ` +
      `${rate.toFixed(1)} frames/s · ${live.frames} frames · ${live.dropped} dropped`;
  }

  async function draw(blob, meta) {
    const bitmap = await createImageBitmap(blob);
    const canvas = $("live_canvas");
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
    }
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(bitmap, 0, 0);
    const now = performance.now();
    live.delays.push(now - sentAt(Math.floor(meta.index * RATE / fps)));
    // How much the picture changed since the previous frame (mean absolute difference): the mouth follows speech.
    const pixels = g.getImageData(0, 0, canvas.width, canvas.height).data;
    if (previous && previous.length === pixels.length) {
      let sum = 0;
      for (let i = 0; i < pixels.length; i += 4) sum += Math.abs(pixels[i] - previous[i]);
      live.changes.push(sum / (pixels.length / 4));
    }
    previous = pixels;
    live.frames += 1;
    live.dropped = meta.dropped;
    frameTimes.push(now);
    updateStats();
  }

  async function start() {
    showError("");
    live.frames = 0; live.delays = []; live.changes = []; live.dropped = 0; previous = null;
    sent = []; sentSamples = 0; pendingMeta = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      showError("microphone not available: " + err.message);
      return;
    }
    ctx = new AudioContext({ sampleRate: RATE });
    await ctx.audioWorklet.addModule("/static/live-worklet.js");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const face = encodeURIComponent($("live_face").value);
    ws = new WebSocket(`${scheme}://${location.host}/api/live?face=${face}&emotion=${emotion}`);
    ws.binaryType = "blob";
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        if (pendingMeta) draw(ev.data, pendingMeta);
        pendingMeta = null;
        return;
      }
      const msg = JSON.parse(ev.data);
      if (msg.type === "ready") {
        fps = msg.fps;
        const source = ctx.createMediaStreamSource(stream);
        const node = new AudioWorkletNode(ctx, "pcm-sender");
        node.port.onmessage = (e) => {
          if (!ws || ws.readyState !== WebSocket.OPEN) return;
          ws.send(e.data);
          sentSamples += e.data.byteLength / 2;
          sent.push([sentSamples, performance.now()]);
          if (sent.length > 2000) sent.splice(0, sent.length - 2000);
        };
        source.connect(node);
        live.running = true;
      } else if (msg.type === "frame") {
        pendingMeta = msg;
      } else if (msg.type === "error") {
        showError(msg.error);
        ws.close();
      } else if (msg.type === "end") {
        live.dropped = msg.dropped;
        updateStats();
      }
    };
    ws.onclose = (ev) => {
      if (ev.code === 1008 && ev.reason && !live.error) showError(ev.reason);  // a refusal, if its message was lost
      stop(false);
    };
    $("live_start").disabled = true;
    $("live_stop").disabled = false;
  }

  function stop(tellServer = true) {
    if (tellServer && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "stop" }));
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (ctx) ctx.close();
    stream = null; ctx = null;
    if (!tellServer) ws = null;
    live.running = false;
    $("live_start").disabled = false;
    $("live_stop").disabled = true;
  }

  window.addEventListener("emogen-job", (ev) => {
    const select = $("live_face");
    let option = [...select.options].find((o) => o.value.startsWith("job:"));
    if (!option) {
      option = new Option("your face (from your last request)", "");
      select.add(option);
    }
    option.value = `job:${ev.detail}`;
    select.value = option.value;
  });

  $("live_start").addEventListener("click", start);
  $("live_stop").addEventListener("click", () => stop(true));
  setup();
})();
