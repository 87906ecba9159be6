// A section heading. Sections are flat lists of page-level siblings, not one wrapping View: react-pdf
// honours `minPresenceAhead` only for an element that has a non-fixed sibling before it in its parent,
// so a heading that came first inside a section View could still be left alone at the foot of a page.
import { StyleSheet, Text, View } from '@react-pdf/renderer';
import { colors, styles } from './styles.js';

const local = StyleSheet.create({
  row: {
    flexDirection: 'row',
    justifyContent: 'space-between',
    alignItems: 'baseline',
    marginTop: 16,
    paddingBottom: 5,
    marginBottom: 9,
    borderBottomWidth: 1,
    borderBottomColor: colors.rule,
  },
  title: { fontSize: 12, fontWeight: 700, color: colors.band },
});

interface SectionTitleProps {
  title: string;
  /** A short note at the right end of the rule. */
  aside?: string | undefined;
  /** Points of what follows that must fit on the same page, or the heading moves on. */
  keepWithNext: number;
}

export function SectionTitle({ title, aside, keepWithNext }: SectionTitleProps) {
  return (
    <View style={local.row} minPresenceAhead={keepWithNext}>
      <Text style={local.title}>{title}</Text>
      {aside === undefined ? null : <Text style={styles.note}>{aside}</Text>}
    </View>
  );
}
