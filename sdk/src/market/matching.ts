/**
 * Maximum-weight matching of jobs to resource offers where each job's mediator can take only so
 * many jobs, as a min-cost flow: source -> mediator (capacity) -> job (1) -> offer (1, cost
 * -weight) -> sink. Successive shortest paths (Bellman-Ford once for potentials, then Dijkstra on
 * reduced costs) augment while a path still lowers the cost, so the flow found is a matching of
 * maximum total weight (not necessarily of maximum size). Exact: costs are bigints.
 */

export interface Candidate {
  job: number;
  offer: number;
  /** What matching this pair is worth; only pairs worth more than zero are ever matched. */
  weight: bigint;
}

interface Edge {
  to: number;
  rev: number;
  cap: number;
  cost: bigint;
}

class FlowNetwork {
  readonly graph: Edge[][];

  constructor(readonly size: number) {
    this.graph = Array.from({ length: size }, () => []);
  }

  addEdge(from: number, to: number, cap: number, cost: bigint): void {
    this.graph[from].push({ to, rev: this.graph[to].length, cap, cost });
    this.graph[to].push({ to: from, rev: this.graph[from].length - 1, cap: 0, cost: -cost });
  }

  /** Augments one unit at a time along cheapest paths while they have negative cost. */
  minCostFlow(source: number, sink: number): void {
    const n = this.size;
    const potential = this.bellmanFord(source);
    for (;;) {
      const dist: (bigint | undefined)[] = new Array(n).fill(undefined);
      const prevNode = new Int32Array(n).fill(-1);
      const prevEdge = new Int32Array(n).fill(-1);
      const done = new Uint8Array(n);
      dist[source] = 0n;
      for (;;) {
        let u = -1;
        for (let v = 0; v < n; v++) if (!done[v] && dist[v] !== undefined && (u === -1 || dist[v]! < dist[u]!)) u = v;
        if (u === -1) break;
        done[u] = 1;
        this.graph[u].forEach((e, i) => {
          if (e.cap <= 0 || potential[e.to] === undefined) return;
          const d = dist[u]! + e.cost + potential[u]! - potential[e.to]!;
          if (dist[e.to] === undefined || d < dist[e.to]!) {
            dist[e.to] = d;
            prevNode[e.to] = u;
            prevEdge[e.to] = i;
          }
        });
      }
      if (dist[sink] === undefined) return;
      const pathCost = dist[sink]! - potential[source]! + potential[sink]!;
      if (pathCost >= 0n) return;
      for (let v = 0; v < n; v++) if (dist[v] !== undefined && potential[v] !== undefined) potential[v] = potential[v]! + dist[v]!;
      for (let v = sink; v !== source; v = prevNode[v]) {
        const e = this.graph[prevNode[v]][prevEdge[v]];
        e.cap -= 1;
        this.graph[v][e.rev].cap += 1;
      }
    }
  }

  private bellmanFord(source: number): (bigint | undefined)[] {
    const dist: (bigint | undefined)[] = new Array(this.size).fill(undefined);
    dist[source] = 0n;
    for (let round = 0; round < this.size; round++) {
      let changed = false;
      for (let u = 0; u < this.size; u++) {
        if (dist[u] === undefined) continue;
        for (const e of this.graph[u]) {
          if (e.cap > 0 && (dist[e.to] === undefined || dist[u]! + e.cost < dist[e.to]!)) {
            dist[e.to] = dist[u]! + e.cost;
            changed = true;
          }
        }
      }
      if (!changed) break;
    }
    return dist;
  }
}

/**
 * The pairs (job, offer) of a maximum-weight matching: each job and each offer at most once, and
 * at most `groupCapacity[g]` jobs of group g (`groupOfJob[job]`), in ascending job order.
 */
export function maxWeightMatching(
  jobCount: number,
  offerCount: number,
  candidates: readonly Candidate[],
  groupOfJob: readonly number[],
  groupCapacity: readonly number[],
): { job: number; offer: number }[] {
  const groups = groupCapacity.length;
  const source = 0;
  const groupNode = (g: number) => 1 + g;
  const jobNode = (j: number) => 1 + groups + j;
  const offerNode = (o: number) => 1 + groups + jobCount + o;
  const sink = 1 + groups + jobCount + offerCount;
  const net = new FlowNetwork(sink + 1);
  for (let g = 0; g < groups; g++) if (groupCapacity[g] > 0) net.addEdge(source, groupNode(g), groupCapacity[g], 0n);
  for (let j = 0; j < jobCount; j++) net.addEdge(groupNode(groupOfJob[j]), jobNode(j), 1, 0n);
  const pairEdges: { job: number; offer: number; from: number; index: number }[] = [];
  for (const c of candidates) {
    if (c.weight <= 0n) continue;
    const from = jobNode(c.job);
    pairEdges.push({ job: c.job, offer: c.offer, from, index: net.graph[from].length });
    net.addEdge(from, offerNode(c.offer), 1, -c.weight);
  }
  for (let o = 0; o < offerCount; o++) net.addEdge(offerNode(o), sink, 1, 0n);
  net.minCostFlow(source, sink);
  return pairEdges
    .filter((p) => net.graph[p.from][p.index].cap === 0)
    .map(({ job, offer }) => ({ job, offer }))
    .sort((a, b) => a.job - b.job);
}
