/**
 * Appliance leases (`appliance_leases`, sql/…/000014.sql), one named function per operation:
 * one row per copy of an appliance, held by the one node that runs that copy
 * (src/appliances/placement/). Plain writes (`Store.writeUnordered`): no history row.
 *
 * A lease is written and checked with a fencing token, as kv-leases.ts does: a take makes the
 * token one more than the row's last, and every function that acts for a holder names its token
 * and changes the row only while that token is still the row's and the lease has not expired.
 * A holder that lost its lease (paused past the expiry while another node took over) changes
 * nothing. Every time is the database's (`now_ms()`), never a node's.
 *
 * Lock order: one lease row per statement, and a transaction that touches several takes them
 * in (appliance, copy) order (placement sorts them), so two nodes never wait on each other crosswise.
 */
import type { Db } from "../store.ts";

/** What the holder keeps current in its lease, for any node to show. */
export interface LeaseStatus {
  state?: string;
  pid?: number | null;
  restarts?: number;
  startedAt?: string | null;
  crashLooping?: boolean;
  lastExit?: { code: number | null; signal: string | null; at: string; why: string } | null;
}

export interface ApplianceLeaseRecord {
  appliance: string;
  copy: number;
  /** Null once released. */
  holder: string | null;
  token: number;
  expiresAt: number;
  /** expires_at > now_ms() when read. */
  live: boolean;
  status: LeaseStatus;
  /** Nodes this copy crash-looped on. */
  failedOn: string[];
}

interface LeaseRow {
  appliance: string;
  copy: number;
  holder: string | null;
  token: number;
  expires_at: number;
  live: number;
  status: string;
  failed_on: string;
}

const COLUMNS = "appliance, copy, holder, token, expires_at, CASE WHEN expires_at > now_ms() THEN 1 ELSE 0 END AS live, status, failed_on";

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function toRecord(row: LeaseRow): ApplianceLeaseRecord {
  return {
    appliance: row.appliance,
    copy: Number(row.copy),
    holder: row.holder,
    token: Number(row.token),
    expiresAt: Number(row.expires_at),
    live: Number(row.live) === 1,
    status: parseJson<LeaseStatus>(row.status, {}),
    failedOn: parseJson<string[]>(row.failed_on, []),
  };
}

/** Every lease row, in (appliance, copy) order, and the database's clock. */
export async function listApplianceLeases(db: Db): Promise<{ nowMs: number; leases: ApplianceLeaseRecord[] }> {
  const rows = await db.all<LeaseRow>(`SELECT ${COLUMNS} FROM appliance_leases ORDER BY appliance, copy`);
  const now = await db.get<{ now: number }>("SELECT now_ms() AS now");
  return { nowMs: Number(now?.now ?? 0), leases: rows.map(toRecord) };
}

/** The lease rows of one appliance, in copy order. */
export async function leasesOfAppliance(db: Db, appliance: string): Promise<ApplianceLeaseRecord[]> {
  const rows = await db.all<LeaseRow>(`SELECT ${COLUMNS} FROM appliance_leases WHERE appliance = $1 ORDER BY copy`, [appliance]);
  return rows.map(toRecord);
}

export interface LeaseHolder {
  node: string;
  /** Its membership address (`nodes.address`), null when it has no membership row. */
  address: string | null;
}

/** The node holding a copy's live lease, with its address; undefined when nobody does. */
export async function findLeaseHolder(db: Db, appliance: string, copy: number): Promise<LeaseHolder | undefined> {
  const row = await db.get<{ holder: string; address: string | null }>(
    `SELECT l.holder AS holder, n.address AS address FROM appliance_leases l LEFT JOIN nodes n ON n.id = l.holder
     WHERE l.appliance = $1 AND l.copy = $2 AND l.expires_at > now_ms() AND l.holder IS NOT NULL`,
    [appliance, copy],
  );
  return row ? { node: row.holder, address: row.address } : undefined;
}

/**
 * Take the copy's lease for `holder` for `leaseMs`, if nobody holds it: no row, or a row whose
 * lease expired or was released. Returns the new token, or undefined (held: nothing written).
 * Where writers run at once, a second taker waits for the first's row lock, re-evaluates the
 * condition on the row the first committed, and takes nothing.
 */
export async function takeApplianceLease(
  tx: Db,
  lease: { appliance: string; copy: number; holder: string; leaseMs: number },
): Promise<number | undefined> {
  const row = await tx.get<{ token: number }>(
    `INSERT INTO appliance_leases (appliance, copy, holder, token, expires_at, status, failed_on)
     VALUES ($1, $2, $3, 1, now_ms() + $4, '{}', '[]')
     ON CONFLICT (appliance, copy) DO UPDATE SET holder = excluded.holder, token = appliance_leases.token + 1,
       expires_at = excluded.expires_at, status = '{}'
     WHERE appliance_leases.expires_at <= now_ms()
     RETURNING token`,
    [lease.appliance, lease.copy, lease.holder, lease.leaseMs],
  );
  return row && Number(row.token);
}

/**
 * Extend the lease by `leaseMs` from now and store the holder's status, if `holder` with `token`
 * still holds it and it has not expired (an expired lease is lost, even when nobody took it yet:
 * its holder has fenced itself already). Both, so that an old holder resuming never renews
 * another's lease, even with a token that came round again. False: lost.
 */
export async function renewApplianceLease(
  tx: Db,
  lease: { appliance: string; copy: number; holder: string; token: number; leaseMs: number; status: LeaseStatus },
): Promise<boolean> {
  const { changes } = await tx.run(
    `UPDATE appliance_leases SET expires_at = now_ms() + $4, status = $5
     WHERE appliance = $1 AND copy = $2 AND token = $3 AND holder = $6 AND expires_at > now_ms()`,
    [lease.appliance, lease.copy, lease.token, lease.leaseMs, JSON.stringify(lease.status), lease.holder],
  );
  return changes === 1;
}

/**
 * Give the lease up (its copy stopped here), if `holder` with `token` still holds it: any node
 * may take it at once. `failedOn`, when given, replaces the list of nodes the copy crash-looped
 * on. False: it was not ours any more (nothing written).
 */
export async function releaseApplianceLease(
  tx: Db,
  lease: { appliance: string; copy: number; holder: string; token: number; failedOn?: readonly string[] },
): Promise<boolean> {
  const { changes } = await tx.run(
    `UPDATE appliance_leases SET holder = NULL, expires_at = 0, status = '{}', failed_on = COALESCE($4, failed_on)
     WHERE appliance = $1 AND copy = $2 AND token = $3 AND holder = $5`,
    [lease.appliance, lease.copy, lease.token, lease.failedOn === undefined ? null : JSON.stringify(lease.failedOn), lease.holder],
  );
  return changes === 1;
}

/**
 * End every lease `holder` holds, whatever its token: only for a node starting again on the same
 * data folder, once it has ended its previous life's processes (run-record.ts), so that its
 * appliances need not wait for their old leases to expire. The holder stays named, as for a
 * lease that lapsed: placement does not give the copy back to that (dead) node id.
 */
export async function endLeasesOfHolder(tx: Db, holder: string): Promise<number> {
  const { changes } = await tx.run("UPDATE appliance_leases SET expires_at = 0, status = '{}' WHERE holder = $1 AND expires_at > 0", [
    holder,
  ]);
  return changes;
}

/**
 * Forget the row of a copy released by its holder (its appliance was removed, or has fewer copies
 * now). A lease that lapsed with its holder still named is kept: that holder may be paused, not
 * dead, and its token must not come round again for someone else.
 */
export async function deleteFreeApplianceLease(tx: Db, appliance: string, copy: number): Promise<boolean> {
  const { changes } = await tx.run(
    "DELETE FROM appliance_leases WHERE appliance = $1 AND copy = $2 AND holder IS NULL AND expires_at <= now_ms()",
    [appliance, copy],
  );
  return changes === 1;
}
