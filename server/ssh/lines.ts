import { StringDecoder } from 'node:string_decoder'

/** Longest line passed on whole; longer output without "\n" is cut into pieces of this size. */
export const MAX_LINE = 64 * 1024

/**
 * Turns a byte stream into lines: splits on "\n", holds a partial line until
 * the next chunk or the end, and decodes UTF-8 across chunk boundaries (a
 * multi-byte character may arrive in two packets). A line that never ends
 * (binary output, a progress bar redrawn with "\r") is cut at MAX_LINE so
 * memory stays bounded.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  private partial = ''

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLine = MAX_LINE,
  ) {}

  push(chunk: Buffer): void {
    const text = this.partial + this.decoder.write(chunk)
    let start = 0
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      this.onLine(text.slice(start, nl))
      start = nl + 1
    }
    this.partial = text.slice(start)
    while (this.partial.length > this.maxLine) {
      this.onLine(this.partial.slice(0, this.maxLine))
      this.partial = this.partial.slice(this.maxLine)
    }
  }

  /** The last line, when the output did not end with "\n". */
  end(): void {
    const rest = this.partial + this.decoder.end()
    this.partial = ''
    if (rest) this.onLine(rest)
  }
}
