/**
 * Everything the CLI writes goes through here: results to stdout (a table, or JSON with --json),
 * errors and progress to stderr. Values the operator typed that are personal data (the phone number of
 * `requests create`) are registered as secrets and replaced wherever they would appear.
 */
export interface Streams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Progress is drawn only on a terminal, and never with --json. */
  stderrIsTTY: boolean;
}

export class Output {
  private readonly secrets: string[] = [];

  constructor(
    private readonly streams: Streams,
    readonly json: boolean,
  ) {}

  /** Never print this value (and its digits-only or +E.164 form). */
  redact(value: string): void {
    const digits = value.replace(/\D/g, '');
    for (const v of [value.trim(), digits, `+${digits}`]) if (v.length >= 6 && !this.secrets.includes(v)) this.secrets.push(v);
    this.secrets.sort((a, b) => b.length - a.length);
  }

  line(text = ''): void {
    this.streams.stdout(`${this.scrub(text)}\n`);
  }

  data(value: unknown): void {
    this.streams.stdout(`${this.scrub(JSON.stringify(value, null, 2))}\n`);
  }

  error(text: string): void {
    this.streams.stderr(`${this.scrub(text)}\n`);
  }

  table(headers: string[], rows: string[][]): void {
    if (rows.length === 0) return;
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const format = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
    this.line(format(headers));
    for (const row of rows) this.line(format(row));
  }

  /** A spinner with a status text on stderr, redrawn in place; silent when not a TTY or with --json. */
  progress(initial: string): Progress {
    if (this.json || !this.streams.stderrIsTTY) return { update: () => undefined, done: () => undefined };
    const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let frame = 0;
    let text = initial;
    const draw = () => this.streams.stderr(`\r\x1b[K${frames[frame++ % frames.length]} ${this.scrub(text)}`);
    draw();
    const timer = setInterval(draw, 120);
    timer.unref();
    return {
      update: (next) => {
        text = next;
        draw();
      },
      done: () => {
        clearInterval(timer);
        this.streams.stderr('\r\x1b[K');
      },
    };
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

export interface Progress {
  update(text: string): void;
  done(): void;
}
