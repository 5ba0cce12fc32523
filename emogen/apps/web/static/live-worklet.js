// Audio worklet of the Live tab: collects the microphone's 128-sample blocks (at the context's 16 kHz) into
// 20 ms pieces of 16-bit samples and hands them to the page, which sends them to the server.
class PcmSender extends AudioWorkletProcessor {
  constructor() {
    super();
    this.piece = new Int16Array(320);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const v = Math.max(-1, Math.min(1, channel[i]));
      this.piece[this.filled++] = v < 0 ? v * 32768 : v * 32767;
      if (this.filled === this.piece.length) {
        this.port.postMessage(this.piece.buffer, [this.piece.buffer]);
        this.piece = new Int16Array(320);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("pcm-sender", PcmSender);
