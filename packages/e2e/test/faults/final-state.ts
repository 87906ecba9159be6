// What every fault scenario ends with: the promises of the README's Guarantees table, checked on the
// final state through the user's view (HTTP), the system of record (Postgres) and the inbox (SMTP).
import { reportsTo } from '@books/testing';
import { expect } from 'vitest';
import { type SignedUp, type System, waitFor } from '../system.js';
import type { Rig } from './rig.js';
import { type PlannedImport, titlePrefix } from './workload.js';

export type Outcome = 'accepted' | 'unknown' | 'refused';

/**
 * What the client was told: 202 (queued), 503 QUEUE_OUTCOME_UNKNOWN with a requestId (check it),
 * or any other 503 / no answer at all (nothing queued).
 */
export function outcomeOf(plan: PlannedImport): Outcome {
  if (plan.status === 202) return 'accepted';
  if (plan.status === 503 && plan.body?.code === 'QUEUE_OUTCOME_UNKNOWN' && plan.requestId) return 'unknown';
  return 'refused';
}

/** A process that died on its own fails the scenario at once, with its last words, instead of at a timeout. */
export function failOnUnexpectedExit(system: System, label: string): void {
  const [exit] = system.unexpectedExits();
  if (exit)
    throw new Error(
      `${label}: ${exit.name} (pid ${exit.pid}) exited on its own (code ${exit.code}, signal ${exit.signal}):\n${exit.lastOutput}`,
    );
}

async function requestOf(rig: Rig, plan: PlannedImport) {
  const res = await rig.system.api('GET', `/books/bulk/${plan.requestId}`, { token: plan.user.token });
  return res.status === 200 ? res.body.data : null;
}

export async function expectFinalState(rig: Rig, label: string, plans: PlannedImport[], timeoutMs = 180_000): Promise<void> {
  const { system } = rig;
  for (const plan of plans) {
    // The API may say 202 or 503, nothing else, whatever the fault.
    expect([202, 503], `${label}: POST /books/bulk of import ${plan.no} answered ${plan.status} ${JSON.stringify(plan.body)}`).toContain(
      plan.status,
    );
  }
  // "Outcome unknown" sends the client to GET /books/bulk/:requestId, whose answer is final: found,
  // it must be processed exactly once like a 202; not found (404), nothing of it may ever be stored,
  // like a plain 503.
  const found = new Set<PlannedImport>();
  for (const plan of plans.filter((p) => outcomeOf(p) === 'unknown')) {
    let status = 0;
    await waitFor(
      async () => {
        status = (await system.api('GET', `/books/bulk/${plan.requestId}`, { token: plan.user.token }).catch(() => ({ status: 0 }))).status;
        return status === 200 || status === 404;
      },
      60_000,
      () => `${label}: lookup of unknown import ${plan.no} answered ${status}`,
    );
    if (status === 200) found.add(plan);
    console.log(`[${label}] import ${plan.no} of ${plan.user.username}: outcome unknown, lookup says ${status}`);
  }
  const tracked = plans.filter((p) => outcomeOf(p) === 'accepted' || found.has(p));
  const refused = plans.filter((p) => !tracked.includes(p));
  const users = [...new Map(plans.map((p) => [p.user.id, p.user])).values()];
  const inbox = (user: SignedUp) => reportsTo(system.smtp, user.email);
  const startedWaiting = Date.now();
  await waitFor(
    async () => {
      failOnUnexpectedExit(system, label);
      // Each email covers at least one request: more emails than requests is a duplicate already.
      for (const user of users) {
        const requests = tracked.filter((p) => p.user.id === user.id).length;
        if (inbox(user).length > requests)
          throw new Error(`${label}: ${inbox(user).length} emails to ${user.email} for ${requests} request(s), before they all finished`);
      }
      const records = await Promise.all(tracked.map((p) => requestOf(rig, p).catch(() => null)));
      return records.every((r) => r && (r.stage === 'completed' || r.stage === 'failed'));
    },
    timeoutMs,
    () => `${label}: requests not finished; unexpected exits ${JSON.stringify(system.unexpectedExits().map((e) => e.name))}`,
  );
  const waitedMs = Date.now() - startedWaiting;

  for (const plan of tracked) {
    expect(await requestOf(rig, plan), `${label}: import ${plan.no} of ${plan.user.username} (${outcomeOf(plan)})`).toMatchObject({
      stage: 'completed',
      submitted: plan.books.length,
      inserted: plan.expectedInserted,
      failed: plan.expectedFailed,
    });
  }

  // Every valid book exactly once: in total, per (request, item), per user and per import.
  const sql = rig.sql();
  const expectedTotal = tracked.reduce((sum, p) => sum + p.expectedInserted, 0);
  const [totals] = await sql<{ n: number; distinct: number }[]>`
    select count(*)::int as n, count(distinct (bulk_request_id, bulk_item_index))::int as distinct from books`;
  expect(totals, `${label}: books in Postgres`).toEqual({ n: expectedTotal, distinct: expectedTotal });
  const perUser = await sql<{ user_id: string; n: number }[]>`select user_id, count(*)::int as n from books group by user_id`;
  const expectedPerUser = (user: SignedUp) => tracked.filter((p) => p.user.id === user.id).reduce((sum, p) => sum + p.expectedInserted, 0);
  for (const user of users) {
    expect(perUser.find((row) => row.user_id === user.id)?.n ?? 0, `${label}: books of ${user.username}`).toBe(expectedPerUser(user));
  }
  for (const plan of plans) {
    const prefix = titlePrefix(plan.user, plan.no);
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from books where user_id = ${plan.user.id} and starts_with(title, ${prefix})`;
    expect(row!.n, `${label}: books of import ${plan.no} of ${plan.user.username} (${outcomeOf(plan)})`).toBe(
      refused.includes(plan) ? 0 : plan.expectedInserted,
    );
    if (outcomeOf(plan) === 'unknown' && refused.includes(plan)) {
      const lookup = await system.api('GET', `/books/bulk/${plan.requestId}`, { token: plan.user.token });
      expect(lookup.status, `${label}: unknown import ${plan.no} once looked up as absent`).toBe(404);
    }
  }

  // The queue view holds exactly the requests the user was told about: no phantom from a "nothing queued".
  for (const user of users) {
    const queue = await system.api('GET', '/books/queue', { token: user.token });
    const ids = (queue.body.data.requests as { requestId: string }[]).map((r) => r.requestId).sort();
    const told = tracked.filter((p) => p.user.id === user.id).map((p) => p.requestId);
    expect(ids, `${label}: requests on record for ${user.username}`).toEqual(told.sort());
  }

  // Exactly one email per report: every email's Message-ID is one a request recorded, no two
  // emails share one, and every recorded report reached the inbox. A few report passes first, so a
  // late duplicate has its chance to show.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  let emails = 0;
  for (const user of users) {
    const mine = inbox(user);
    const sent = mine.map((m) => m.parsed.messageId ?? '(none)').sort();
    const records = await Promise.all(tracked.filter((p) => p.user.id === user.id).map((p) => requestOf(rig, p)));
    const recorded = [...new Set(records.map((r) => r.reportMessageId as string))].sort();
    expect(sent, `${label}: emails to ${user.email} (one per recorded report)`).toEqual(recorded);
    // And each says what it covers, counted once: a replayed transition would count a request twice.
    for (const mail of mine) {
      const covered = records.filter((r) => r.reportMessageId === mail.parsed.messageId);
      const sum = (field: 'submitted' | 'inserted') => covered.reduce((total, r) => total + r[field], 0);
      const imports = covered.length === 1 ? 'Your book import' : `Your ${covered.length} book imports`;
      expect(mail.parsed.subject, `${label}: subject of ${mail.parsed.messageId}`).toMatch(
        new RegExp(`^${imports}: ${sum('inserted')} of ${sum('submitted')} added`),
      );
    }
    emails += mine.length;
  }

  const exits = system.unexpectedExits();
  expect(exits, `${label}: processes that exited on their own`).toEqual([]);

  const answers = { accepted: 0, unknown: 0, refused: 0 };
  for (const plan of plans) answers[outcomeOf(plan)]++;
  console.log(
    `[${label}] checked: ${plans.length} imports of ${users.length} users answered ${JSON.stringify(answers)}; ` +
      `${tracked.length} completed with the right counts (after ${Math.round(waitedMs / 1000)} s); ` +
      `${expectedTotal} books, each exactly once (count = distinct (request, item)), per user and per import; ` +
      `${found.size} unknown ones found and processed once; ${refused.length} refused or absent ones stored nothing; ${emails} emails, one per recorded report; no unexpected exit`,
  );
}
