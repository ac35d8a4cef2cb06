/**
 * TOML with lines: smol-toml parses (and reports a syntax error's line) but keeps no positions, so
 * this file walks the same text a second time, after a successful parse, and records the line on
 * which each key path first appears: table headers (`[web.env]`), arrays of tables
 * (`[[web.hooks.crash]]`, indexed 0, 1, …), dotted keys (`env.PORT = …`), inline tables
 * (`env = { PORT = "8080" }`) and array elements (`depends = [\n "db",\n "cache" ]`). It trusts
 * the parse for validity, so it is a scanner, not a validator. Owns that scan; must not import
 * api/, cli/, gateway/, store/.
 */
import { parse, TomlError } from "smol-toml";
import { fileError, type LineOf } from "./errors.ts";

type Path = (string | number)[];

export function parseToml(text: string, file: string): { data: unknown; lineOf: LineOf } {
  let data: unknown;
  try {
    data = parse(text);
  } catch (thrown) {
    if (!(thrown instanceof TomlError)) throw thrown;
    const reason = thrown.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    throw fileError(file, thrown.line, undefined, `TOML syntax: ${reason}`, thrown);
  }
  const lines = tomlKeyLines(text);
  return { data, lineOf: (path) => longestPrefixLine(lines, path) };
}

export function longestPrefixLine(lines: ReadonlyMap<string, number>, path: readonly (string | number)[]): number {
  for (let length = path.length; length > 0; length--) {
    const line = lines.get(JSON.stringify(path.slice(0, length)));
    if (line !== undefined) return line;
  }
  return 1;
}

/** Every key path of a (valid) TOML text, as JSON, mapped to the line where it first appears. */
export function tomlKeyLines(text: string): Map<string, number> {
  return new TomlScanner(text).scan();
}

class TomlScanner {
  private at = 0;
  private line = 1;
  private readonly lines = new Map<string, number>();
  private readonly arrayTables = new Map<string, number>();

  constructor(private readonly text: string) {}

  scan(): Map<string, number> {
    let table: Path = [];
    for (;;) {
      this.skipBlank(true);
      if (this.at >= this.text.length) return this.lines;
      if (this.text.startsWith("[[", this.at)) {
        this.advance(2);
        const key = this.readKey();
        this.skipTo("]]");
        const index = this.arrayTables.get(JSON.stringify(key)) ?? 0;
        this.arrayTables.set(JSON.stringify(key), index + 1);
        table = [...key, index];
        this.recordPrefixes([], table, this.line);
      } else if (this.peek() === "[") {
        this.advance(1);
        table = this.readKey();
        this.skipTo("]");
        this.recordPrefixes([], table, this.line);
      } else {
        this.keyValue(table);
      }
    }
  }

  private keyValue(prefix: Path): void {
    const line = this.line;
    const key = this.readKey();
    this.recordPrefixes(prefix, key, line);
    this.skipBlank(false);
    if (this.peek() === "=") this.advance(1);
    this.skipBlank(false);
    this.value([...prefix, ...key]);
  }

  private value(path: Path): void {
    const c = this.peek();
    if (this.text.startsWith('"""', this.at) || this.text.startsWith("'''", this.at)) {
      const quote = this.text.slice(this.at, this.at + 3);
      this.advance(3);
      while (this.at < this.text.length && !this.text.startsWith(quote, this.at))
        this.advance(quote === '"""' && this.peek() === "\\" ? 2 : 1);
      // A closing run may hold up to two extra quotes that belong to the string.
      while (this.text.startsWith(quote[0], this.at)) this.advance(1);
    } else if (c === '"' || c === "'") {
      this.readQuoted();
    } else if (c === "{") {
      this.advance(1);
      this.items("}", () => this.keyValue(path));
    } else if (c === "[") {
      this.advance(1);
      let index = 0;
      this.items("]", () => {
        this.record([...path, index], this.line);
        this.value([...path, index++]);
      });
    } else {
      while (this.at < this.text.length && !",]}\n\r#".includes(this.text[this.at])) this.advance(1);
    }
  }

  /** The comma-separated items of an inline table or an array, up to and past `close`. */
  private items(close: string, item: () => void): void {
    for (;;) {
      this.skipBlank(true);
      const next = this.peek();
      if (next === undefined || next === close) break;
      if (next === ",") this.advance(1);
      else item();
    }
    this.advance(1);
  }

  /** A dotted key: bare parts and quoted parts, with blanks around the dots. */
  private readKey(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipBlank(false);
      const c = this.peek();
      if (c === '"' || c === "'") parts.push(this.readQuoted());
      else {
        const start = this.at;
        while (this.at < this.text.length && /[A-Za-z0-9_-]/.test(this.text[this.at])) this.advance(1);
        parts.push(this.text.slice(start, this.at));
      }
      this.skipBlank(false);
      if (this.peek() !== ".") return parts;
      this.advance(1);
    }
  }

  /** A one-line string, returned unescaped (basic strings through JSON, which shares TOML's common escapes). */
  private readQuoted(): string {
    const quote = this.peek();
    const start = this.at;
    this.advance(1);
    while (this.at < this.text.length && this.peek() !== quote && this.peek() !== "\n")
      this.advance(quote === '"' && this.peek() === "\\" ? 2 : 1);
    this.advance(1);
    const raw = this.text.slice(start + 1, this.at - 1);
    if (quote === "'") return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw;
    }
  }

  private record(path: Path, line: number): void {
    const key = JSON.stringify(path);
    if (!this.lines.has(key)) this.lines.set(key, line);
  }

  private recordPrefixes(prefix: Path, key: Path, line: number): void {
    for (let length = 1; length <= key.length; length++) this.record([...prefix, ...key.slice(0, length)], line);
  }

  /** Spaces and tabs; with `newlines`, also line ends and comments. */
  private skipBlank(newlines: boolean): void {
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t") this.advance(1);
      else if (newlines && (c === "\n" || c === "\r")) this.advance(1);
      else if (newlines && c === "#") while (this.at < this.text.length && this.peek() !== "\n") this.advance(1);
      else return;
    }
  }

  private skipTo(end: string): void {
    const found = this.text.indexOf(end, this.at);
    this.advance((found < 0 ? this.text.length : found + end.length) - this.at);
  }

  private peek(): string | undefined {
    return this.text[this.at];
  }

  private advance(count: number): void {
    for (let n = 0; n < count && this.at < this.text.length; n++) {
      if (this.text[this.at] === "\n") this.line++;
      this.at++;
    }
  }
}
