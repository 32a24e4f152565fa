/**
 * Every user-visible text of the renderer comes from the catalog (src/shared/i18n): this parses
 * each .tsx and .ts under src/renderer with the TypeScript compiler and fails on a JSX text with
 * a letter in it, on a string with a letter given to a visible attribute (aria-label, title,
 * placeholder, alt, and the label/description/hint props of our own components) or shown as a
 * JSX child (directly or through `a ? 'x' : 'y'`, `a && 'x'`, a template), and on a literal
 * notice (`notify(tone, 'text')`) or thrown message. Texts without letters (—, ×, ›, /) may stay.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', 'src', 'renderer');
const VISIBLE_PROPS = new Set([
  'aria-label',
  'aria-description',
  'aria-placeholder',
  'aria-roledescription',
  'aria-valuetext',
  'title',
  'placeholder',
  'alt',
  'label',
  'description',
  'hint',
]);
const LETTER = /\p{L}/u;

/** The string literals an expression shows as it is (not those passed to a call such as t()). */
function shownStrings(node: ts.Expression): ts.Node[] {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node];
  if (ts.isTemplateExpression(node)) return [node.head, ...node.templateSpans.map((s) => s.literal)];
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node)) return shownStrings(node.expression);
  if (ts.isConditionalExpression(node))
    return [...shownStrings(node.whenTrue), ...shownStrings(node.whenFalse)];
  if (ts.isBinaryExpression(node)) {
    const op = node.operatorToken.kind;
    if (op === ts.SyntaxKind.AmpersandAmpersandToken) return shownStrings(node.right);
    if (op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.QuestionQuestionToken)
      return [...shownStrings(node.left), ...shownStrings(node.right)];
    if (op === ts.SyntaxKind.PlusToken) return [...shownStrings(node.left), ...shownStrings(node.right)];
  }
  return [];
}

function literalText(node: ts.Node): string {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) return node.text;
  return node.getText();
}

/** The visible texts of one source file that are not from the catalog, as "line: text". */
export function textsOutsideCatalog(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(
    fileName,
    source,
    ts.ScriptTarget.Latest,
    true,
    fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const found: string[] = [];
  const report = (node: ts.Node, text: string) => {
    if (!LETTER.test(text)) return;
    const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
    found.push(`${line}: ${text.trim().replace(/\s+/g, ' ')}`);
  };
  const reportShown = (expr: ts.Expression) => {
    for (const s of shownStrings(expr)) report(s, literalText(s));
  };
  const visit = (node: ts.Node) => {
    if (ts.isJsxText(node)) report(node, node.text);
    else if (ts.isJsxAttribute(node) && VISIBLE_PROPS.has(node.name.getText(file)) && node.initializer) {
      const init = node.initializer;
      if (ts.isStringLiteral(init)) report(init, init.text);
      else if (ts.isJsxExpression(init) && init.expression) reportShown(init.expression);
    } else if (
      ts.isJsxExpression(node) &&
      node.expression &&
      (ts.isJsxElement(node.parent) || ts.isJsxFragment(node.parent))
    ) {
      reportShown(node.expression);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : callee.getText(file);
      // notify(tone, title, detail): the title and the detail are shown.
      if (name === 'notify') for (const arg of node.arguments.slice(1)) reportShown(arg);
    } else if (ts.isNewExpression(node) && /Error$/.test(node.expression.getText(file))) {
      for (const arg of node.arguments ?? []) reportShown(arg);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && !/\.(test|d)\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

describe('texts in the catalog', () => {
  it('finds raw texts in every form it forbids (the check itself)', () => {
    const sample = [
      'export const A = () => <p title="Raw title">Raw text {ok ? "Yes" : t("k")}</p>;',
      'export const B = () => <Field label={`Size ${n}`} placeholder={t("x")} aria-label={t("y")} />;',
      'notify("error", "Could not save");',
      'useApp.getState().notify("ok", t("saved"), `Saved ${n}`);',
      'throw new Error("no connection");',
      'throw new HttpError(`cannot reach ${host}`, 0);',
      'export const C = () => <span>{"—"} × › {t("k")}</span>;',
    ].join('\n');
    expect(textsOutsideCatalog('sample.tsx', sample)).toEqual([
      '1: Raw title',
      '1: Raw text',
      '1: Yes',
      '2: Size',
      '3: Could not save',
      '4: Saved',
      '5: no connection',
      '6: cannot reach',
    ]);
  });

  it.each(sources(ROOT).map((path) => relative(ROOT, path)))(
    '%s shows only texts from the catalog',
    (path) => {
      expect(textsOutsideCatalog(path, readFileSync(join(ROOT, path), 'utf8'))).toEqual([]);
    },
  );
});
