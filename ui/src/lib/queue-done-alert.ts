// "Tell me when it is done": when the last job of the queue finishes, a short two-note chime through Web Audio (no
// sound file to ship) and, while the page is in the background and the browser allows it, a notification.
import type { JobView } from '../../../server/src/http/schemas.js';

/** What the alert needs from the browser; tests and pages without audio pass less. */
export interface AlertDeps {
  audio?: () => AudioContext;
  notify?: (title: string, body: string) => void;
  hidden?: () => boolean;
}

const browserDeps = (): AlertDeps => ({
  ...(typeof AudioContext === 'function' ? { audio: () => new AudioContext() } : {}),
  ...(typeof Notification === 'function' && Notification.permission === 'granted'
    ? { notify: (title: string, body: string) => void new Notification(title, { body, tag: 'easel-queue-done' }) }
    : {}),
  hidden: () => document.hidden,
});

/** The notification's line: how the finished job ended. */
export function doneMessage(job: JobView): string {
  const images = job.images.length;
  const made = `${images} image${images === 1 ? '' : 's'}`;
  switch (job.state) {
    case 'failed':
      return `The last job failed: ${job.error?.message ?? 'see the page'}`;
    case 'cancelled':
      return `The queue is empty (last job stopped, ${made} kept).`;
    default:
      return `The queue is done: ${made} from “${job.request.prompt.slice(0, 60)}”.`;
  }
}

/** Chimes (and notifies when the page is hidden) for the job that emptied the queue. */
export function alertQueueDone(job: JobView, deps: AlertDeps = browserDeps()): void {
  if (deps.audio) chime(deps.audio());
  if (deps.notify && deps.hidden?.()) deps.notify('Easel', doneMessage(job));
}

/** Two soft sine notes, a fifth apart, 0.18 s each. */
function chime(context: AudioContext): void {
  const start = context.currentTime;
  for (const [i, frequency] of [660, 990].entries()) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = 'sine';
    oscillator.frequency.value = frequency;
    const at = start + i * 0.18;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.2);
  }
  setTimeout(() => void context.close(), 600);
}

/** Asks for permission to notify, from the click that turned the alert on (browsers want a user gesture). */
export function askToNotify(): void {
  if (typeof Notification === 'function' && Notification.permission === 'default') void Notification.requestPermission();
}
