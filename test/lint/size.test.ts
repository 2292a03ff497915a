// Size limits of src/ and tools/: no file over 400 lines, no function over
// 80 lines (generated code aside).
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..', '..');
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
/** The checked directories. */
const DIRS = ['src', 'tools'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'generated') out.push(...sources(p)); // src/client/generated: written by proto-loader-gen-types
    } else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

type Fn = ts.FunctionDeclaration | ts.MethodDeclaration | ts.ArrowFunction | ts.FunctionExpression | ts.ConstructorDeclaration | ts.AccessorDeclaration;
const isFn = (n: ts.Node): n is Fn =>
  ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isConstructorDeclaration(n) || ts.isAccessor(n);

/** Every file and function of the checked directories over its limit, with its size. */
function oversized(): Map<string, number> {
  const over = new Map<string, number>();
  for (const file of DIRS.flatMap((d) => sources(path.join(ROOT, d)))) {
    const rel = path.relative(ROOT, file).split(path.sep).join('/');
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_FILE_LINES) over.set(rel, lines);
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (n: ts.Node): void => {
      if (isFn(n)) {
        const a = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
        const b = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
        const name = 'name' in n && n.name ? n.name.getText(sf) : ts.isVariableDeclaration(n.parent) ? n.parent.name.getText(sf) : `(line ${a + 1})`;
        if (b - a + 1 > MAX_FUNCTION_LINES) over.set(`${rel}:${name}`, b - a + 1);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return over;
}

describe('size limits of src/ and tools/', function () {
  this.timeout(60_000);
  it(`no file over ${MAX_FILE_LINES} lines and no function over ${MAX_FUNCTION_LINES}`, () => {
    assert.deepEqual([...oversized()].map(([k, n]) => `${k} (${n} lines)`), []);
  });
});
