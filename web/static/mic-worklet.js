/*
 * Yatri's microphone worklet: the context's audio in, 16 kHz mono PCM16 out, posted to the
 * page in 20 ms frames (320 samples) for WS /v1/voice/stream. Any context rate is taken down
 * to 16 kHz by averaging the input samples that fall in each output sample's span (a box
 * filter: enough against aliasing for speech recognition, and exact when the context already
 * runs at 16 kHz).
 */
class YatriMic extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000;
    this.pos = 0;
    this.sum = 0;
    this.count = 0;
    this.frame = new Int16Array(320);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0];
    const channel = input && input[0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count += 1;
      this.pos += 1;
      if (this.pos >= this.step) {
        this.pos -= this.step;
        const value = Math.max(-1, Math.min(1, this.sum / this.count));
        this.sum = 0;
        this.count = 0;
        this.frame[this.filled++] = value < 0 ? value * 32768 : value * 32767;
        if (this.filled === this.frame.length) {
          this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
          this.frame = new Int16Array(320);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("yatri-mic", YatriMic);
