/**
 * Weight matrices of typical shapes, for scenarios, tests and benchmarks. Each takes a random
 * source (a function returning uniform numbers in [0, 1)) so callers choose the seed.
 */

export type Random = () => number;

/** A small seeded generator (mulberry32): the same seed gives the same sequence everywhere. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const weight = (random: Random) => 1 + Math.floor(random() * 65535);

/** Every peer weights every other peer (and itself): one closed class, a tightly connected graph. */
export function tightlyConnected(n: number, random: Random): Uint16Array[] {
  return Array.from({ length: n }, () => Uint16Array.from({ length: n }, () => weight(random)));
}

/**
 * Two disjoint groups: uids [0, sizeA) weight only each other, uids [sizeA, n) (the cabal) only
 * each other. Each group is one closed class.
 */
export function disjointGroups(n: number, sizeA: number, random: Random): Uint16Array[] {
  return Array.from({ length: n }, (_, i) => {
    const inA = i < sizeA;
    return Uint16Array.from({ length: n }, (_, j) => (j < sizeA === inA ? weight(random) : 0));
  });
}

/**
 * Mostly transient states: a tightly connected core of `core` peers, and newcomers that each
 * weight `degree` peers with smaller uids (the core or earlier newcomers), as peers that join
 * later and trust those already there. Every newcomer is a transient state.
 */
export function newcomersOnCore(n: number, core: number, degree: number, random: Random): Uint16Array[] {
  return coreAndNewcomers(n, core, (i, row) => {
    for (let d = 0; d < degree; d++) row[Math.floor(random() * i)] = weight(random);
  }, random);
}

/**
 * Like `newcomersOnCore`, but newcomers weight any peers, earlier or later: they form one large
 * transient component that leaks into the core. The hard case for the epoch function (a dense
 * elimination over the whole component).
 */
export function newcomerMeshOnCore(n: number, core: number, degree: number, random: Random): Uint16Array[] {
  return coreAndNewcomers(n, core, (_, row) => {
    for (let d = 0; d < degree; d++) row[Math.floor(random() * n)] = weight(random);
    row[Math.floor(random() * core)] = weight(random); // every newcomer also trusts the core
  }, random);
}

/** A tightly connected core of `core` peers; `newcomer(i, row)` fills the row of every other peer. */
function coreAndNewcomers(n: number, core: number, newcomer: (i: number, row: Uint16Array) => void, random: Random): Uint16Array[] {
  return Array.from({ length: n }, (_, i) => {
    const row = new Uint16Array(n);
    if (i < core) for (let j = 0; j < core; j++) row[j] = weight(random);
    else newcomer(i, row);
    return row;
  });
}

/** Independent sparse random rows: each entry non-zero with probability `density`; zero rows possible. */
export function randomSparse(n: number, density: number, random: Random): Uint16Array[] {
  return Array.from({ length: n }, () => Uint16Array.from({ length: n }, () => (random() < density ? weight(random) : 0)));
}

