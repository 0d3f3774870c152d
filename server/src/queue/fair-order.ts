// Whose job runs next when several people share one server: owners take turns. The owner whose last turn is
// oldest (or who never had one) goes first; within one owner's jobs the queue's own order holds. One person's
// batch of twenty then waits behind a phone's single job instead of starving it, and a lone user sees plain
// first-in, first-out.

/** The owner a job counts under; jobs from before owners were recorded count as this machine's. */
export function ownerKey(owner: string | null | undefined): string {
  return owner ?? 'local';
}

/**
 * The order the waiting jobs would run in, given each owner's last turn (a number that grows with every job
 * started). Ties between owners who have never had a turn go to the one whose first job stands earliest.
 */
export function fairOrder<T extends { owner: string | null }>(waiting: readonly T[], lastTurn: ReadonlyMap<string, number>): T[] {
  const lines = new Map<string, T[]>();
  for (const job of waiting) {
    const key = ownerKey(job.owner);
    const line = lines.get(key);
    if (line) line.push(job);
    else lines.set(key, [job]);
  }
  if (lines.size <= 1) return [...waiting];

  // Map order is first-appearance order, which is the tie-break.
  const owners = [...lines.keys()].map((key, firstSeen) => ({ key, turn: lastTurn.get(key) ?? -Infinity, firstSeen }));
  let turn = Math.max(0, ...lastTurn.values());
  const order: T[] = [];
  while (order.length < waiting.length) {
    let next = owners[0]!;
    for (const o of owners) {
      if (o.turn < next.turn || (o.turn === next.turn && o.firstSeen < next.firstSeen)) next = o;
    }
    const line = lines.get(next.key)!;
    order.push(line.shift()!);
    next.turn = ++turn;
    if (line.length === 0) owners.splice(owners.indexOf(next), 1);
  }
  return order;
}
