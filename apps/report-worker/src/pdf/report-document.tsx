// The bulk processing report as react-pdf components: header, details, summary, timeline, failures, footer.
import { Document, type DocumentProps, Page, Path, StyleSheet, Svg, Text, View } from '@react-pdf/renderer';
import type { ReactElement } from 'react';
import type { ReportData } from '../report-data.js';
import { FailedBooksSection } from './failed-books-section.js';
import { printable } from './fonts.js';
import { formatDateTime } from './format.js';
import { SectionTitle } from './section-title.js';
import { colors, page, styles } from './styles.js';
import { SummarySection } from './summary-section.js';
import { TimelineSection } from './timeline-section.js';

export const REPORT_TITLE = 'Bulk Book Processing Report';

const local = StyleSheet.create({
  band: {
    marginTop: -page.top,
    marginHorizontal: -page.side,
    paddingTop: 22,
    paddingBottom: 20,
    paddingHorizontal: page.side,
    backgroundColor: colors.band,
    flexDirection: 'row',
    justifyContent: 'space-between',
    alignItems: 'center',
  },
  brand: { flexDirection: 'row', alignItems: 'center', flexGrow: 1, flexBasis: 0 },
  logo: { marginRight: 11 },
  company: { fontSize: 14, fontWeight: 700, color: colors.bandText, lineHeight: 1.2 },
  address: { fontSize: 8.5, color: colors.bandMuted, marginTop: 2 },
  bandMeta: { alignItems: 'flex-end', marginLeft: 20, flexShrink: 0 },
  bandLabel: { fontSize: 7.5, color: colors.bandMuted, textTransform: 'uppercase', letterSpacing: 0.6 },
  bandValue: { fontSize: 9, color: colors.bandText, marginTop: 2 },
  accent: { marginHorizontal: -page.side, height: 3, backgroundColor: colors.accent },
  titleBlock: { marginTop: 16 },
  title: { fontSize: 20, fontWeight: 700, color: colors.band, lineHeight: 1.2 },
  subtitle: { fontSize: 10, color: colors.muted, marginTop: 3 },
  details: { flexDirection: 'row', flexWrap: 'wrap', backgroundColor: colors.panel, borderRadius: 3, paddingTop: 9, paddingHorizontal: 12 },
  detail: { width: '50%', paddingRight: 12, marginBottom: 8 },
  detailWide: { width: '100%', marginBottom: 8 },
  runningHead: {
    position: 'absolute',
    top: 22,
    left: page.side,
    right: page.side,
    flexDirection: 'row',
    justifyContent: 'space-between',
    fontSize: 7.5,
    color: colors.faint,
  },
  runningHeadPart: { maxWidth: '49%' },
  footer: {
    // Placed from the top: a fixed view placed with `bottom` vanishes, page numbers and all, once it
    // holds a `render` Text (react-pdf 4.9, found while building this).
    position: 'absolute',
    top: page.height - 44,
    left: page.side,
    right: page.side,
    flexDirection: 'row',
    justifyContent: 'space-between',
    borderTopWidth: 1,
    borderTopColor: colors.rule,
    paddingTop: 7,
    fontSize: 7.5,
    color: colors.muted,
  },
});

/** A small open-book mark drawn in vectors, so the header needs no image file. */
function Logo() {
  return (
    <Svg width={30} height={30} viewBox="0 0 30 30" style={local.logo}>
      <Path d="M15 9 C11.5 6.8 7.5 6.4 4 7 L4 23 C7.5 22.4 11.5 22.8 15 25 Z" fill="#FFFFFF" fillOpacity={0.92} />
      <Path d="M15 9 C18.5 6.8 22.5 6.4 26 7 L26 23 C22.5 22.4 18.5 22.8 15 25 Z" fill={colors.accent} />
    </Svg>
  );
}

function Header({ data }: { data: ReportData }) {
  return (
    <View>
      <View style={local.band}>
        <View style={local.brand}>
          <Logo />
          <View style={{ flexGrow: 1, flexBasis: 0 }}>
            <Text style={local.company}>{printable(data.company.name)}</Text>
            <Text style={local.address}>{printable(data.company.address)}</Text>
          </View>
        </View>
        <View style={local.bandMeta}>
          <Text style={local.bandLabel}>Report</Text>
          <Text style={local.bandValue}>{data.reportId}</Text>
        </View>
      </View>
      <View style={local.accent} />
      <View style={local.titleBlock}>
        <Text style={local.title}>{REPORT_TITLE}</Text>
        <Text style={local.subtitle}>
          Prepared for {printable(data.user.username)} on {formatDateTime(data.generatedAt, data.timeZone)}
        </Text>
      </View>
    </View>
  );
}

/** One value per line; lines are separate Texts because a "\n" has no Noto glyph and drags in Helvetica. */
function Detail({ label, value, wide = false }: { label: string; value: string | string[]; wide?: boolean }) {
  const lines = typeof value === 'string' ? [value] : value;
  return (
    <View style={wide ? local.detailWide : local.detail}>
      <Text style={styles.label}>{label}</Text>
      {lines.map((line) => (
        <Text key={line} style={styles.value}>
          {line}
        </Text>
      ))}
    </View>
  );
}

function ReportDetails({ data }: { data: ReportData }) {
  const ids = data.requests.map((request) => request.requestId);
  return (
    <View wrap={false}>
      <SectionTitle title="Report details" keepWithNext={0} />
      <View style={local.details}>
        <Detail label="Report ID" value={data.reportId} />
        <Detail label="Generated at" value={formatDateTime(data.generatedAt, data.timeZone)} />
        <Detail label="Username" value={printable(data.user.username)} />
        <Detail label="Email" value={printable(data.user.email)} />
        <Detail label={ids.length === 1 ? 'Request ID' : `Request IDs (${ids.length})`} value={ids.length === 0 ? '—' : ids} wide />
      </View>
    </View>
  );
}

/** Repeats from page 2 on, so a loose page still says what it belongs to. */
function RunningHead({ data }: { data: ReportData }) {
  return (
    <View style={local.runningHead} fixed>
      <Text
        style={local.runningHeadPart}
        render={({ pageNumber }) => (pageNumber > 1 ? `${REPORT_TITLE} · ${printable(data.company.name)}` : '')}
      />
      <Text
        style={[local.runningHeadPart, { textAlign: 'right' }]}
        render={({ pageNumber }) => (pageNumber > 1 ? `${printable(data.user.username)} · ${data.reportId}` : '')}
      />
    </View>
  );
}

function Footer({ data }: { data: ReportData }) {
  return (
    <View style={local.footer} fixed>
      <Text>
        Generated {formatDateTime(data.generatedAt, data.timeZone)} by {printable(data.systemName)}
      </Text>
      <Text render={({ pageNumber, totalPages }) => `Page ${pageNumber} of ${totalPages}`} />
    </View>
  );
}

export function ReportDocument({ data }: { data: ReportData }) {
  return (
    <Document
      title={`${REPORT_TITLE} ${data.reportId}`}
      author={data.company.name}
      creator={data.systemName}
      producer={data.systemName}
      language="en"
    >
      <Page size="A4" style={styles.page}>
        <RunningHead data={data} />
        <Header data={data} />
        <ReportDetails data={data} />
        <SummarySection data={data} />
        <TimelineSection data={data} />
        <FailedBooksSection data={data} />
        <Footer data={data} />
      </Page>
    </Document>
  );
}

/** The document element for `renderToBuffer`. */
export function reportDocument(data: ReportData): ReactElement<DocumentProps> {
  return <ReportDocument data={data} />;
}
