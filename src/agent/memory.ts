// Keeping the agent's memory flat while hundreds of MiB stream through it. A Buffer's memory is freed only when the
// small JS object holding it is collected, and V8 sizes its collections by the JS heap, not by that external memory:
// streaming a dump in 64 KiB chunks lets tens of MiB of dead chunks pile up between collections (measured with
// pg_dump → gzip of a 175 MB dump: peak RSS +37 MiB over the idle agent). The pacer asks V8 for a scavenge every few
// MiB streamed and a full collection now and then (upload part buffers live long enough to be promoted), which
// brought that to +8 MiB for well under a millisecond per MiB. Without --expose-gc it enables it at run time.
import v8 from 'node:v8';
import vm from 'node:vm';

type GcFn = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gcFn: GcFn | undefined | null;
function getGc(): GcFn | undefined {
  if (gcFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as GcFn;
    } catch {
      gcFn = null;
    }
  }
  return gcFn ?? undefined;
}

export class GcPacer {
  private sinceMinor = 0;
  private sinceMajor = 0;
  minors = 0;
  majors = 0;
  private readonly gc = getGc();
  constructor(
    private readonly minorEvery = 4 * 1024 * 1024,
    private readonly majorEvery = 64 * 1024 * 1024,
  ) {}
  /** Call with the size of each chunk streamed. */
  tick(bytes: number): void {
    if (!this.gc) return;
    this.sinceMinor += bytes;
    this.sinceMajor += bytes;
    if (this.sinceMajor >= this.majorEvery) {
      this.sinceMajor = this.sinceMinor = 0;
      this.majors++;
      this.gc({ type: 'major', execution: 'sync' });
    } else if (this.sinceMinor >= this.minorEvery) {
      this.sinceMinor = 0;
      this.minors++;
      this.gc({ type: 'minor', execution: 'sync' });
    }
  }
}
