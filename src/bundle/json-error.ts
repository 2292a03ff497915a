// What is wrong with a bundle file that is not valid JSON, without quoting it.
// V8's JSON.parse messages quote the text near the error ("Unexpected token
// 'r', \"root:x:0:0\"... is not valid JSON"): a bundle file may be a link to
// anything, and its bytes must not reach a client or a log. Only the kind of
// problem and its position are reported.

/** What a JSON.parse failure on `text` was: the kind of problem and, when known, where ("syntax error at character 5, line 1 column 6"). */
export function jsonProblem(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : '';
  const at = /at position (\d+)/.exec(message);
  if (at) {
    const pos = Number(at[1]);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - before.lastIndexOf('\n');
    return `syntax error at character ${pos}, line ${line} column ${column}`;
  }
  if (/Unexpected end/.test(message)) return 'it ends before the value is complete';
  return 'unexpected character';
}
