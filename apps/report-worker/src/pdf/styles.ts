// The report's palette, page geometry and shared text styles.
import { StyleSheet } from '@react-pdf/renderer';
import { REPORT_FONT_FAMILY } from './fonts.js';

export const colors = {
  ink: '#1C2333',
  muted: '#5F6B7A',
  faint: '#8A94A3',
  rule: '#DDE2EA',
  panel: '#F5F7FA',
  band: '#1F2F4D',
  bandText: '#FFFFFF',
  bandMuted: '#B9C4D8',
  accent: '#3E7CB1',
  inserted: '#2F8A5F',
  insertedSoft: '#E6F3EC',
  failed: '#C0443C',
  failedSoft: '#FBECEB',
  empty: '#C9D0DA',
} as const;

/** A4 in points, and the page padding; the header band bleeds into the padding on page 1. */
export const page = { width: 595.28, height: 841.89, top: 52, bottom: 60, side: 42 } as const;

export const styles = StyleSheet.create({
  page: {
    fontFamily: REPORT_FONT_FAMILY,
    fontSize: 9,
    lineHeight: 1.35,
    color: colors.ink,
    paddingTop: page.top,
    paddingBottom: page.bottom,
    paddingHorizontal: page.side,
  },
  label: { fontSize: 7.5, color: colors.muted, textTransform: 'uppercase', letterSpacing: 0.6 },
  value: { fontSize: 9.5, marginTop: 1 },
  mono: { fontSize: 8.5, color: colors.muted },
  note: { fontSize: 8.5, color: colors.muted },
});
