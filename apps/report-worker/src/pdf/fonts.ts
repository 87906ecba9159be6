// Embedded Noto Sans for the report. react-pdf's built-in fonts cover Latin-1 only, and relative
// font paths break in Node (react-pdf#409), so we register absolute paths into @fontsource/noto-sans.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Font } from '@react-pdf/renderer';

// Fontsource ships Noto Sans cut per script. react-pdf takes a fontFamily array and picks, per
// character, the first family that has the glyph (textkit's fontSubstitution), so the subsets
// together behave as one font. Order matters only where subsets overlap (combining marks).
const SUBSETS = ['latin', 'latin-ext', 'cyrillic', 'cyrillic-ext', 'greek', 'greek-ext', 'vietnamese'] as const;
const WEIGHTS = [400, 700] as const;

/** The fallback chain to use as `fontFamily` in every style. */
export const REPORT_FONT_FAMILY: string[] = SUBSETS.map((subset) => `Noto Sans ${subset}`);

const packageDir = path.dirname(createRequire(import.meta.url).resolve('@fontsource/noto-sans/package.json'));

let registered = false;

/** Registers the fonts with react-pdf's global store; later calls do nothing. */
export function registerReportFonts(): void {
  if (registered) return;
  for (const subset of SUBSETS) {
    Font.register({
      family: `Noto Sans ${subset}`,
      // fontkit reads WOFF (and WOFF2); WOFF needs no Brotli pass, so it loads a little faster.
      fonts: WEIGHTS.map((fontWeight) => ({ src: path.join(packageDir, 'files', `noto-sans-${subset}-${fontWeight}-normal.woff`), fontWeight })),
    });
  }
  // react-pdf hyphenates every word with English patterns by default, which splits titles and
  // names mid-word ("Mis-érables") and breaks text search in the PDF. Break lines at spaces only.
  Font.registerHyphenationCallback((word) => [word]);
  registered = true;
}

/** The code point ranges the registered subsets cover, from the package's unicode.json. */
function readCoverage(): [number, number][] {
  const ranges = JSON.parse(readFileSync(path.join(packageDir, 'unicode.json'), 'utf8')) as Record<string, string>;
  const result: [number, number][] = [];
  for (const subset of SUBSETS) {
    for (const range of ranges[subset]?.split(',') ?? []) {
      const [from = '', to = from] = range.replace(/U\+/g, '').split('-');
      result.push([Number.parseInt(from, 16), Number.parseInt(to, 16)]);
    }
  }
  return result;
}

const coverage = readCoverage();

function isCovered(codePoint: number): boolean {
  return coverage.some(([from, to]) => codePoint >= from && codePoint <= to);
}

/**
 * The text as the embedded fonts can draw it: NFC-composed (so "e" + U+0301 uses the "é" glyph),
 * control characters as spaces, and characters no subset covers (CJK, emoji) as U+FFFD "�".
 * Without this react-pdf falls back to Helvetica, which prints such characters as garbage.
 */
export function printable(text: string): string {
  let out = '';
  for (const char of text.normalize('NFC')) {
    const codePoint = char.codePointAt(0)!;
    if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0)) out += ' ';
    else if (isCovered(codePoint)) out += char;
    else out += '\uFFFD';
  }
  return out;
}
