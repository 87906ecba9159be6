// Embedded Noto Sans for the report. react-pdf's built-in fonts cover Latin-1 only, and relative
// font paths break in Node (react-pdf#409), so we register absolute paths into the installed package.
// TTF, not WOFF: fontkit inflates a WOFF table on every read, which was ~45% of a render's CPU.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Font } from '@react-pdf/renderer';
import * as fontkit from 'fontkit';

const packageDir = path.dirname(createRequire(import.meta.url).resolve('@expo-google-fonts/noto-sans/package.json'));
// The full Noto Sans: Latin, Latin Extended, Cyrillic, Greek and Vietnamese in one file per weight.
const FILES = { 400: '400Regular/NotoSans_400Regular.ttf', 700: '700Bold/NotoSans_700Bold.ttf' } as const;
const fontPath = (weight: keyof typeof FILES) => path.join(packageDir, FILES[weight]);

/** The `fontFamily` to use in every style. */
export const REPORT_FONT_FAMILY = 'Noto Sans';

let registered = false;

/** Registers the fonts with react-pdf's global store; later calls do nothing. */
export function registerReportFonts(): void {
  if (registered) return;
  Font.register({
    family: REPORT_FONT_FAMILY,
    fonts: ([400, 700] as const).map((fontWeight) => ({ src: fontPath(fontWeight), fontWeight })),
  });
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

// The code points the regular face can draw (the bold one covers the same).
const coverage = new Set((fontkit.openSync(fontPath(400)) as fontkit.Font).characterSet);

function isCovered(codePoint: number): boolean {
  return coverage.has(codePoint);
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
