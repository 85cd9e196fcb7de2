import { Writable } from "node:stream";

/** A stream that keeps every line a pino logger writes to it. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(...String(chunk).split("\n").filter(Boolean));
    callback();
  }

  get entries(): Array<Record<string, any>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, any>);
  }

  get text(): string {
    return this.lines.join("\n");
  }
}
