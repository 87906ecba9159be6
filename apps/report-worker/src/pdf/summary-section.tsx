// Processing summary: the totals as four tiles, and a donut of inserted against failed books.
import { Circle, Path, StyleSheet, Svg, Text, View } from '@react-pdf/renderer';
import type { ReactNode } from 'react';
import type { ReportData } from '../report-data.js';
import { formatCount, formatPercent } from './format.js';
import { CheckIcon, CrossIcon } from './icons.js';
import { SectionTitle } from './section-title.js';
import { colors, styles } from './styles.js';

const DONUT = { size: 88, stroke: 14 } as const;

const local = StyleSheet.create({
  row: { flexDirection: 'row' },
  tiles: { flexGrow: 1, flexBasis: 0, flexDirection: 'row', flexWrap: 'wrap', marginRight: 4 },
  tile: {
    width: '50%',
    paddingRight: 8,
    paddingBottom: 8,
  },
  tileBody: {
    backgroundColor: colors.panel,
    borderLeftWidth: 3,
    borderRadius: 3,
    paddingVertical: 7,
    paddingHorizontal: 11,
    height: 56,
  },
  tileValueRow: { flexDirection: 'row', alignItems: 'center', marginTop: 3 },
  tileValue: { fontSize: 18, fontWeight: 700, lineHeight: 1.1 },
  tileIcon: { marginLeft: 6 },
  tileHint: { fontSize: 7.5, color: colors.faint, marginTop: 3 },
  chart: {
    width: 196,
    height: 120,
    borderWidth: 1,
    borderColor: colors.rule,
    borderRadius: 3,
    paddingHorizontal: 12,
    flexDirection: 'row',
    alignItems: 'center',
  },
  donut: { width: DONUT.size, height: DONUT.size },
  donutCenter: {
    position: 'absolute',
    top: 0,
    left: 0,
    width: DONUT.size,
    height: DONUT.size,
    alignItems: 'center',
    justifyContent: 'center',
  },
  donutRate: { fontSize: 13, fontWeight: 700, lineHeight: 1 },
  donutCaption: { fontSize: 6.5, color: colors.muted, marginTop: 3, textTransform: 'uppercase', letterSpacing: 0.5 },
  legend: { marginLeft: 12, flexGrow: 1 },
  legendItem: { flexDirection: 'row', alignItems: 'flex-start', marginBottom: 6 },
  legendSwatch: { width: 8, height: 8, borderRadius: 2, marginTop: 2, marginRight: 5 },
  legendLabel: { fontSize: 7.5, color: colors.muted },
  legendValue: { fontSize: 9, fontWeight: 700 },
});

interface Tile {
  label: string;
  value: string;
  hint: string;
  color: string;
  icon?: ReactNode;
}

function SummaryTile({ tile }: { tile: Tile }) {
  return (
    <View style={local.tile}>
      <View style={[local.tileBody, { borderLeftColor: tile.color }]}>
        <Text style={styles.label}>{tile.label}</Text>
        <View style={local.tileValueRow}>
          <Text style={local.tileValue}>{tile.value}</Text>
          {tile.icon ? <View style={local.tileIcon}>{tile.icon}</View> : null}
        </View>
        <Text style={local.tileHint}>{tile.hint}</Text>
      </View>
    </View>
  );
}

interface Segment {
  label: string;
  value: number;
  color: string;
}

/** An SVG arc from one fraction of the circle to another, clockwise from 12 o'clock. */
function arcPath(from: number, to: number, radius: number, center: number): string {
  const point = (fraction: number) => {
    const angle = 2 * Math.PI * fraction - Math.PI / 2;
    return `${(center + radius * Math.cos(angle)).toFixed(3)} ${(center + radius * Math.sin(angle)).toFixed(3)}`;
  };
  const largeArc = to - from > 0.5 ? 1 : 0;
  return `M ${point(from)} A ${radius} ${radius} 0 ${largeArc} 1 ${point(to)}`;
}

function Donut({ segments, centerText }: { segments: Segment[]; centerText: string }) {
  const center = DONUT.size / 2;
  const radius = (DONUT.size - DONUT.stroke) / 2;
  const total = segments.reduce((sum, s) => sum + s.value, 0);
  const visible = segments.filter((s) => s.value > 0);
  let start = 0;
  return (
    <View style={local.donut}>
      <Svg width={DONUT.size} height={DONUT.size} viewBox={`0 0 ${DONUT.size} ${DONUT.size}`}>
        {/* An arc whose ends meet draws nothing, so a single non-empty segment is a whole circle. */}
        {visible.length <= 1 ? (
          <Circle cx={center} cy={center} r={radius} stroke={visible[0]?.color ?? colors.empty} strokeWidth={DONUT.stroke} fill="none" />
        ) : (
          visible.map((segment) => {
            const end = start + segment.value / total;
            const d = arcPath(start, end, radius, center);
            start = end;
            return <Path key={segment.label} d={d} stroke={segment.color} strokeWidth={DONUT.stroke} fill="none" />;
          })
        )}
      </Svg>
      <View style={local.donutCenter}>
        <Text style={local.donutRate}>{centerText}</Text>
        <Text style={local.donutCaption}>success</Text>
      </View>
    </View>
  );
}

export function SummarySection({ data }: { data: ReportData }) {
  const { submitted, inserted, failed, successRate } = data.totals;
  const share = (n: number) => (submitted > 0 ? formatPercent((n / submitted) * 100) : '—');
  const requestCount = data.requests.length;
  const cancelled = data.requests.filter((r) => r.outcome === 'cancelled').length;
  const ended = [data.totals.failedRequests ? `${data.totals.failedRequests} stopped` : '', cancelled ? `${cancelled} cancelled` : '']
    .filter(Boolean)
    .join(', ');
  const tiles: Tile[] = [
    {
      label: 'Books submitted',
      value: formatCount(submitted),
      hint: `in ${requestCount} bulk ${requestCount === 1 ? 'request' : 'requests'}${ended ? ` (${ended})` : ''}`,
      color: colors.accent,
    },
    {
      label: 'Inserted',
      value: formatCount(inserted),
      hint: `${share(inserted)} of submitted`,
      color: colors.inserted,
      icon: <CheckIcon size={13} color={inserted > 0 ? colors.inserted : colors.empty} />,
    },
    {
      label: 'Failed',
      value: formatCount(failed),
      hint: failed === 0 ? 'nothing to fix' : 'listed below with reasons',
      color: colors.failed,
      icon: <CrossIcon size={13} color={failed > 0 ? colors.failed : colors.empty} />,
    },
    { label: 'Success rate', value: formatPercent(successRate), hint: 'inserted ÷ submitted', color: colors.band },
  ];
  const segments: Segment[] = [
    { label: 'Inserted', value: inserted, color: colors.inserted },
    { label: 'Failed', value: failed, color: colors.failed },
  ];
  // Books an import that stopped never tried: neither inserted nor refused.
  if (data.totals.notProcessed > 0) segments.push({ label: 'Not processed', value: data.totals.notProcessed, color: colors.empty });

  return (
    <View wrap={false}>
      <SectionTitle title="Processing summary" keepWithNext={0} />
      <View style={local.row}>
        <View style={local.tiles}>
          {tiles.map((tile) => (
            <SummaryTile key={tile.label} tile={tile} />
          ))}
        </View>
        <View style={local.chart}>
          <Donut segments={segments} centerText={formatPercent(successRate)} />
          <View style={local.legend}>
            {segments.map((segment) => (
              <View key={segment.label} style={local.legendItem}>
                <View style={[local.legendSwatch, { backgroundColor: segment.color }]} />
                <View>
                  <Text style={local.legendLabel}>{segment.label}</Text>
                  <Text style={local.legendValue}>
                    {formatCount(segment.value)} · {share(segment.value)}
                  </Text>
                </View>
              </View>
            ))}
          </View>
        </View>
      </View>
    </View>
  );
}
