import { h } from '../dom.js';
import type { Alert } from '../types.js';

const SOUND_KEY = 'gridpatrol.sound';
const rank = (a: Alert) => ({ info: 1, warning: 2, critical: 3 })[a.severity];

/**
 * The cue for a new alert: a banner over the map (click: select the alert) and, when switched
 * on, a short WebAudio beep (two, higher, for critical). Browsers allow sound only after a
 * gesture, so the audio context is created when the toggle is clicked.
 */
export class Cue {
  readonly banner = h('div', { class: 'gp-banner', role: 'status', 'aria-live': 'polite', hidden: true });
  soundOn = localStorage.getItem(SOUND_KEY) === 'on';
  private audio: AudioContext | null = null;
  private hideTimer: ReturnType<typeof setTimeout> | undefined;
  private unseen = 0;
  private lastAt = 0;
  private beepedAt = 0;
  private burst = 0;
  private shown: Alert | null = null;

  constructor(private readonly onSelect: (id: string) => void) {
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.seen();
    });
  }

  toggleSound(): boolean {
    this.soundOn = !this.soundOn;
    localStorage.setItem(SOUND_KEY, this.soundOn ? 'on' : 'off');
    if (this.soundOn) {
      this.audio ??= new AudioContext();
      void this.audio.resume();
      this.beep(660, 0);
    }
    return this.soundOn;
  }

  /** One alert opened: banner, title count while the tab is hidden, beep (at most one a second). */
  alert(a: Alert): void {
    const now = Date.now();
    const burst = now - this.lastAt < 3000;
    this.lastAt = now;
    this.burst = burst ? this.burst + 1 : 0;
    // in a burst the banner keeps the most severe one and counts the rest
    if (!burst || !this.shown || rank(a) >= rank(this.shown)) this.shown = a;
    const worst = this.shown;
    const more = this.burst > 0 ? ` (+${this.burst} more)` : '';
    this.banner.replaceChildren(
      h('span', { class: `gp-sev sev-${worst.severity}` }, worst.severity),
      ` New alert: ${worst.ruleId} · ${worst.entityId} in ${worst.gridId}${more}`,
    );
    this.banner.onclick = () => {
      this.onSelect(worst.id);
      this.banner.hidden = true;
    };
    this.banner.hidden = false;
    this.banner.classList.remove('flash');
    void this.banner.offsetWidth; // restart the animation
    this.banner.classList.add('flash');
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(() => (this.banner.hidden = true), 12_000);
    if (document.hidden) {
      this.unseen++;
      document.title = `(${this.unseen}) GridPatrol`;
    }
    if (this.soundOn && this.audio && now - this.beepedAt >= 1000) {
      this.beepedAt = now;
      const critical = a.severity === 'critical';
      this.beep(critical ? 988 : 740, 0);
      if (critical) this.beep(988, 0.25);
    }
  }

  private seen(): void {
    this.unseen = 0;
    document.title = 'GridPatrol';
  }

  private beep(freq: number, delayS: number): void {
    const ctx = this.audio;
    if (!ctx) return;
    const t = ctx.currentTime + delayS;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.18);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t);
    osc.stop(t + 0.2);
  }
}
