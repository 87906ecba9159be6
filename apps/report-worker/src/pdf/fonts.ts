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
      // fontkit reads WOFF directly (WOFF2 would add a Brotli decode); test/pdf.test.ts checks that only these get embedded.
      fonts: WEIGHTS.map((fontWeight) => ({
        src: path.join(packageDir, 'files', `noto-sans-${subset}-${fontWeight}-normal.woff`),
        fontWeight,
      })),
    });
  }
  Font.registerHyphenationCallback(breakPoints);
  registered = true;
}

// react-pdf hyphenates every word with English patterns by default, which splits titles and names
// mid-word ("Mis-érables") and breaks searching the PDF. We break lines at spaces, and inside a word
// only when it is so long (a URL, an e-mail address, a run with no spaces) that it could overflow its
// column: such a word gets a possible break, shown with a hyphen, every few characters.
const LONG_WORD = 28;
const PIECE = 8;

function breakPoints(word: string): string[] {
  const chars = Array.from(word);
  if (chars.length <= LONG_WORD) return [word];
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += PIECE) pieces.push(chars.slice(i, i + PIECE).join(''));
  return pieces;
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
