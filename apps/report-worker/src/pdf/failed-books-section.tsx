// Failed books: every failed item with its reason, in tables that run across pages.
import type { FailedItem } from '@books/core/schemas';
import { StyleSheet, Text, View } from '@react-pdf/renderer';
import { Fragment } from 'react';
import type { ReportData, ReportRequest } from '../report-data.js';
import { printable } from './fonts.js';
import { formatCount } from './format.js';
import { CheckIcon } from './icons.js';
import { SectionTitle } from './section-title.js';
import { colors, styles } from './styles.js';

// Room a heading needs below it on the same page: the table head and a three-line row. Without it
// the repeated (fixed) head could end a page with no row under it, as fixed nodes never break.
const KEEP_WITH_TABLE = 20 + 42;

const local = StyleSheet.create({
  table: { marginBottom: 12 },
  groupTitle: { flexDirection: 'row', alignItems: 'baseline', marginBottom: 5 },
  groupName: { fontSize: 9.5, fontWeight: 700, marginRight: 6 },
  headRow: { flexDirection: 'row', backgroundColor: colors.band, color: colors.bandText, borderTopLeftRadius: 2, borderTopRightRadius: 2 },
  headCell: { fontSize: 7.5, fontWeight: 700, textTransform: 'uppercase', letterSpacing: 0.5, paddingVertical: 5, paddingHorizontal: 6 },
  row: { flexDirection: 'row', borderBottomWidth: 1, borderBottomColor: colors.rule },
  rowStriped: { backgroundColor: colors.panel },
  cell: { paddingVertical: 5, paddingHorizontal: 6 },
  index: { width: 44, textAlign: 'right', color: colors.muted },
  title: { flexGrow: 3, flexBasis: 0 },
  author: { flexGrow: 2, flexBasis: 0 },
  reason: { flexGrow: 3, flexBasis: 0 },
  missing: { color: colors.faint },
  none: {
    flexDirection: 'row',
    alignItems: 'center',
    backgroundColor: colors.insertedSoft,
    borderRadius: 3,
    paddingVertical: 9,
    paddingHorizontal: 11,
  },
  noneText: { marginLeft: 7, fontSize: 9.5 },
});

function TableHead() {
  return (
    // `fixed` inside a wrapping view repeats the header on every page the table runs onto.
    <View style={local.headRow} fixed>
      <Text style={[local.headCell, local.index, { color: colors.bandText }]}>Index</Text>
      <Text style={[local.headCell, local.title]}>Title</Text>
      <Text style={[local.headCell, local.author]}>Author</Text>
      <Text style={[local.headCell, local.reason]}>Reason</Text>
    </View>
  );
}

function FailedRow({ item, striped }: { item: FailedItem; striped: boolean }) {
  return (
    <View style={striped ? [local.row, local.rowStriped] : local.row} wrap={false}>
      <Text style={[local.cell, local.index]}>{item.index}</Text>
      <Text style={item.title === null ? [local.cell, local.title, local.missing] : [local.cell, local.title]}>
        {item.title === null ? '(no title)' : printable(item.title)}
      </Text>
      <Text style={item.author === null ? [local.cell, local.author, local.missing] : [local.cell, local.author]}>
        {item.author === null ? '(no author)' : printable(item.author)}
      </Text>
      <Text style={[local.cell, local.reason]}>{printable(item.reason)}</Text>
    </View>
  );
}

function FailedTable({ items }: { items: FailedItem[] }) {
  return (
    <View style={local.table}>
      <TableHead />
      {items.map((item, i) => (
        <FailedRow key={item.index} item={item} striped={i % 2 === 1} />
      ))}
    </View>
  );
}

export function FailedBooksSection({ data }: { data: ReportData }) {
  const withFailures = data.requests
    .map((request, i) => ({ request, position: i + 1 }))
    .filter(({ request }) => request.failedItems.length + request.failedItemsOmitted > 0);
  const total = withFailures.reduce((sum, { request }) => sum + request.failedItems.length + request.failedItemsOmitted, 0);
  const grouped = data.requests.length > 1;

  return (
    <>
      <SectionTitle
        title={total > 0 ? `Failed books (${formatCount(total)})` : 'Failed books'}
        keepWithNext={grouped ? 20 + KEEP_WITH_TABLE : KEEP_WITH_TABLE}
      />
      {total === 0 ? (
        <View style={local.none} wrap={false}>
          <CheckIcon size={12} color={colors.inserted} />
          <Text style={local.noneText}>
            {data.totals.notProcessed > 0
              ? `No book was refused; ${formatCount(data.totals.notProcessed)} were not processed because an import stopped (see the timeline).`
              : 'No books failed: every submitted book was inserted.'}
          </Text>
        </View>
      ) : null}
      {withFailures.map(({ request, position }) => (
        <Fragment key={request.requestId}>
          {grouped ? <GroupTitle request={request} position={position} of={data.requests.length} /> : null}
          {request.failedItems.length > 0 ? <FailedTable items={request.failedItems} /> : null}
          {request.failedItemsOmitted > 0 ? (
            <Text style={local.noneText}>
              … and {formatCount(request.failedItemsOmitted)} more failed books: every failed book, with its reason, is in the CSV file
              attached to the email.
            </Text>
          ) : null}
        </Fragment>
      ))}
    </>
  );
}

function GroupTitle({ request, position, of }: { request: ReportRequest; position: number; of: number }) {
  return (
    <View style={local.groupTitle} minPresenceAhead={KEEP_WITH_TABLE}>
      <Text style={local.groupName}>
        Request {position} of {of}
      </Text>
      <Text style={styles.mono}>
        {request.requestId} · {formatCount(request.failedItems.length + request.failedItemsOmitted)} failed
      </Text>
    </View>
  );
}
