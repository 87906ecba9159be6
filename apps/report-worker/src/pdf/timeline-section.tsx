// Processing timeline: one card per bulk request with its counts and queued → started → processed
// (or → failed, with why it stopped and what was not processed; or → cancelled, with what went in).
import { StyleSheet, Text, View } from '@react-pdf/renderer';
import type { ReportData, ReportRequest } from '../report-data.js';
import { printable } from './fonts.js';
import { formatCount, formatDateTime, formatDuration, formatPercent, successRate, zoneLabel } from './format.js';
import { SectionTitle } from './section-title.js';
import { colors, styles } from './styles.js';

const DOT = 9;

const local = StyleSheet.create({
  card: { borderWidth: 1, borderColor: colors.rule, borderRadius: 3, marginBottom: 10 },
  cardHead: {
    flexDirection: 'row',
    justifyContent: 'space-between',
    alignItems: 'center',
    backgroundColor: colors.panel,
    paddingVertical: 6,
    paddingHorizontal: 10,
    borderTopLeftRadius: 3,
    borderTopRightRadius: 3,
  },
  requestTitle: { fontSize: 9.5, fontWeight: 700 },
  requestId: { fontSize: 8, color: colors.muted, marginTop: 1 },
  counts: { flexDirection: 'row' },
  count: { marginLeft: 14, alignItems: 'flex-end' },
  countValue: { fontSize: 10, fontWeight: 700 },
  cardBody: { paddingTop: 10, paddingBottom: 8, paddingHorizontal: 10 },
  track: { flexDirection: 'row' },
  step: { width: '33.33%' },
  stepLine: { flexDirection: 'row', alignItems: 'center' },
  dot: { width: DOT, height: DOT, borderRadius: DOT / 2, borderWidth: 2 },
  connector: { flexGrow: 1, height: 1.2, backgroundColor: colors.rule },
  gap: { fontSize: 7, color: colors.muted, paddingHorizontal: 5, flexShrink: 0 },
  stepText: { marginTop: 5, paddingRight: 8 },
  durationRow: { flexDirection: 'row', marginTop: 8, paddingTop: 6, borderTopWidth: 1, borderTopColor: colors.rule },
  durationLabel: { fontSize: 8.5, color: colors.muted, marginRight: 6 },
  durationValue: { fontSize: 8.5, fontWeight: 700 },
  failedBadge: { fontSize: 7.5, fontWeight: 700, color: colors.failed, marginTop: 1 },
  cancelledBadge: { fontSize: 7.5, fontWeight: 700, color: colors.muted, marginTop: 1 },
  stopped: { marginTop: 8, padding: 7, borderLeftWidth: 3, borderLeftColor: colors.failed, backgroundColor: colors.failedSoft },
  stoppedTitle: { fontSize: 8.5, fontWeight: 700, color: colors.failed },
  stoppedText: { fontSize: 8.5, marginTop: 2 },
});

function elapsed(from: string | null, to: string | null): number | null {
  if (from === null || to === null) return null;
  return Date.parse(to) - Date.parse(from);
}

interface Step {
  label: string;
  at: string | null;
  color: string;
  /** Caption on the line to the next step. */
  gap?: string;
}

function TimelineTrack({ steps, timeZone, zone }: { steps: Step[]; timeZone: string; zone: boolean }) {
  return (
    <View style={local.track}>
      {steps.map((step) => (
        <View key={step.label} style={local.step}>
          <View style={local.stepLine}>
            <View style={[local.dot, { borderColor: step.color, backgroundColor: step.at === null ? '#FFFFFF' : step.color }]} />
            {step.gap === undefined ? (
              // Same line height as the captioned steps, so every step's text starts level.
              <Text style={local.gap}> </Text>
            ) : (
              <>
                <View style={local.connector} />
                <Text style={local.gap}>{step.gap || ' '}</Text>
                <View style={local.connector} />
              </>
            )}
          </View>
          <View style={local.stepText}>
            <Text style={styles.label}>{step.label}</Text>
            <Text style={styles.value}>{formatDateTime(step.at, timeZone, { zone })}</Text>
          </View>
        </View>
      ))}
    </View>
  );
}

interface CardProps {
  request: ReportRequest;
  position: number;
  of: number;
  timeZone: string;
  /** Whether each date names its zone; not needed when one caption can say it for all. */
  zone: boolean;
}

function RequestCard({ request, position, of, timeZone, zone }: CardProps) {
  const rate = successRate(request.inserted, request.submitted);
  const counts = [
    { label: 'Submitted', value: formatCount(request.submitted), color: colors.ink },
    { label: 'Inserted', value: formatCount(request.inserted), color: colors.inserted },
    { label: 'Failed', value: formatCount(request.failed), color: request.failed > 0 ? colors.failed : colors.ink },
    ...(request.notProcessed > 0 ? [{ label: 'Not processed', value: formatCount(request.notProcessed), color: colors.muted }] : []),
    { label: 'Success', value: rate === null ? '—' : formatPercent(rate), color: colors.ink },
  ];
  const stopped = request.outcome === 'failed';
  const cancelled = request.outcome === 'cancelled';
  const waited = elapsed(request.queuedAt, request.processingStartedAt);
  const steps: Step[] = [
    { label: 'Queued at', at: request.queuedAt, color: colors.faint, gap: waited === null ? '' : `waited ${formatDuration(waited)}` },
    {
      label: 'Processing started',
      at: request.processingStartedAt,
      color: colors.accent,
      gap: request.durationMs === null ? '' : `took ${formatDuration(request.durationMs)}`,
    },
    stopped
      ? { label: 'Failed at', at: request.failedAt, color: colors.failed }
      : cancelled
        ? { label: 'Cancelled at', at: request.cancelledAt ?? null, color: colors.muted }
        : { label: 'Processed at', at: request.processedAt, color: colors.inserted },
  ];

  return (
    <View style={local.card} wrap={false}>
      <View style={local.cardHead}>
        <View>
          <Text style={local.requestTitle}>{of === 1 ? 'Bulk request' : `Request ${position} of ${of}`}</Text>
          <Text style={local.requestId}>{request.requestId}</Text>
          {stopped ? <Text style={local.failedBadge}>FAILED: stopped before every book was tried</Text> : null}
          {cancelled ? (
            <Text style={local.cancelledBadge}>
              CANCELLED: {formatCount(request.inserted)} of {formatCount(request.submitted)} added before it was cancelled
            </Text>
          ) : null}
        </View>
        <View style={local.counts}>
          {counts.map((count) => (
            <View key={count.label} style={local.count}>
              <Text style={styles.label}>{count.label}</Text>
              <Text style={[local.countValue, { color: count.color }]}>{count.value}</Text>
            </View>
          ))}
        </View>
      </View>
      <View style={local.cardBody}>
        <TimelineTrack steps={steps} timeZone={timeZone} zone={zone} />
        <View style={local.durationRow}>
          <Text style={local.durationLabel}>
            {stopped ? 'Ran for, until it stopped' : cancelled ? 'Ran for, until it was cancelled' : 'Processing duration'}
          </Text>
          <Text style={local.durationValue}>
            {formatDuration(stopped ? elapsed(request.processingStartedAt, request.failedAt) : request.durationMs)}
          </Text>
        </View>
        {stopped ? (
          <View style={local.stopped}>
            <Text style={local.stoppedTitle}>Why it stopped: {printable(request.failureReason ?? 'the import could not be finished')}</Text>
            <Text style={local.stoppedText}>
              {formatCount(request.inserted)} of {formatCount(request.submitted)} books were added before it stopped
              {request.notProcessed > 0 ? `; ${formatCount(request.notProcessed)} were not processed: submit them again` : ''}.
            </Text>
          </View>
        ) : null}
      </View>
    </View>
  );
}

export function TimelineSection({ data }: { data: ReportData }) {
  const { requests, timeZone } = data;
  const dates = requests
    .flatMap((r) => [r.queuedAt, r.processingStartedAt, r.processedAt, r.cancelledAt ?? null])
    .filter((at): at is string => at !== null);
  // One caption names the zone, unless the dates straddle a daylight-saving change.
  const labels = new Set(dates.map((at) => zoneLabel(at, timeZone)));
  const [label] = labels;
  const zonePerDate = labels.size > 1;
  const aside = zonePerDate || label === undefined ? undefined : `Times in ${label === timeZone ? timeZone : `${timeZone} (${label})`}`;
  return (
    <>
      {/* A card is about 130 points and never splits. */}
      <SectionTitle title="Processing timeline" aside={aside} keepWithNext={130} />
      {requests.length === 0 ? <Text style={styles.note}>No bulk requests are part of this report.</Text> : null}
      {requests.map((request, i) => (
        <RequestCard
          key={request.requestId}
          request={request}
          position={i + 1}
          of={requests.length}
          timeZone={timeZone}
          zone={zonePerDate}
        />
      ))}
    </>
  );
}
