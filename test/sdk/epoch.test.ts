import { expect } from "chai";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { computeEpoch, EpochParams } from "../../sdk/src/ranking/epoch";
import { computeEpochReference } from "../../sdk/src/ranking/reference";
import { cabalDecay, cabalDecayClipped } from "../../sdk/src/ranking/cabal";
import { disjointGroups, mulberry32, newcomersOnCore, randomSparse, tightlyConnected } from "../../sdk/src/ranking/generators";
import { buildEmissionTree } from "../../sdk/src/ranking/merkle";
import { InvalidInputError } from "../../sdk/src/errors";

const WAD = 10n ** 18n;
const E18 = WAD;
const params = (theta: number, rho = WAD, tau = WAD / 10n): EpochParams => ({ rho, theta, tau });
const reachMatrix = (res: { reaches(i: number, j: number): boolean }, n: number) =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => res.reaches(i, j)));

describe("SDK ranking: cabalDecay", () => {
  it("reproduces the whitepaper's printed table", () => {
    const shares = cabalDecay(0.49, 0.1, 100, 50);
    expect(shares).to.have.length(50);
    expect(shares[0]).to.equal(0.4891094401482484);
    expect(shares[10]).to.equal(0.4744714400843485);
    expect(shares[40]).to.equal(0.24535389385917838);
    expect(shares[49]).to.equal(0.13516840696778115);
  });

  it("with stake clipping, decays a minority cabal faster and leaves an even split alone", () => {
    const plain = cabalDecay(0.45, 0.1, 10, 20);
    const clipped = cabalDecayClipped(0.45, 0.1, 10, 20);
    clipped.forEach((s, k) => expect(s).to.be.below(plain[k]));
    // Step 0 by hand: q = 0.45 * 0.9 = 0.405, rank 0.405 * 5.5 = 2.2275; the majority 0.55 * 6.5 = 3.575.
    expect(clipped[0]).to.be.closeTo((0.45 + (0.1 * 2.2275) / (2.2275 + 3.575)) / 1.1, 1e-15);
    expect(cabalDecayClipped(0.5, 0.1, 10, 5)).to.deep.equal([0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  /** The clipped model as it was before `lag` (each step's emission from the stake of that step), written out independently. */
  function clippedWithoutLag(prcntC: number, infRate: number, rho: number, nSteps: number): number[] {
    const rank = (p: number) => p * Math.min(2 * p, 1) * (1 + rho * p);
    const shares: number[] = [];
    let stake = 1;
    for (let step = 0; step < nSteps; step++) {
      const rankC = rank(prcntC);
      const rankG = rank(1 - prcntC);
      const stakeC = stake * prcntC + (infRate * stake * rankC) / (rankC + rankG);
      const stakeG = stake * (1 - prcntC) + (infRate * stake * rankG) / (rankC + rankG);
      stake = stakeC + stakeG;
      prcntC = stakeC / stake;
      shares.push(prcntC);
    }
    return shares;
  }

  it("with lag 0 (the default), computes each step's emission from that step's stake, as the model without lag", () => {
    for (const [prcntC, rho] of [[0.45, 10], [0.3, 1], [0.6, 100]]) {
      const reference = clippedWithoutLag(prcntC, 0.1, rho, 30);
      const lagged = cabalDecayClipped(prcntC, 0.1, rho, 30, 0);
      expect(cabalDecayClipped(prcntC, 0.1, rho, 30)).to.deep.equal(lagged);
      lagged.forEach((s, k) => expect(s, `share ${prcntC}, step ${k}`).to.be.closeTo(reference[k], 1e-12));
    }
  });

  it("with lag 1, as the chain counts stake, computes each step's emission from the stake of the step before", () => {
    const [first, second] = cabalDecayClipped(0.45, 0.1, 10, 2, 1);
    // By hand: steps 0 and 1 both read the initial stake 0.45 / 0.55 of total 1, so each adds
    // 0.1 * 2.2275 / (2.2275 + 3.575) to the cabal and 0.1 in all: shares (0.45 + 0.1a) / 1.1, (0.45 + 0.2a) / 1.2.
    const a = 2.2275 / (2.2275 + 3.575);
    expect(first).to.be.closeTo((0.45 + 0.1 * a) / 1.1, 1e-15);
    expect(second).to.be.closeTo((0.45 + 0.2 * a) / 1.2, 1e-15);
    // Lagging the stake slows a minority cabal's decay, but it still decays at every step.
    const plain = cabalDecayClipped(0.45, 0.1, 10, 20);
    const lagged = cabalDecayClipped(0.45, 0.1, 10, 20, 1);
    expect(lagged[0]).to.equal(plain[0]);
    lagged.slice(1).forEach((s, k) => {
      expect(s).to.be.above(plain[k + 1]);
      expect(s).to.be.below(lagged[k]);
    });
  });

  it("refuses a lag that is not a whole number of steps", () => {
    expect(() => cabalDecayClipped(0.45, 0.1, 10, 5, -1)).to.throw(RangeError, "lag must be a non-negative integer, got -1");
    expect(() => cabalDecayClipped(0.45, 0.1, 10, 5, 0.5)).to.throw(RangeError, "lag must be a non-negative integer, got 0.5");
  });

  it("falls at every step for a minority cabal and rises for a majority one", () => {
    const falling = cabalDecay(0.45, 0.1, 10, 30);
    falling.slice(1).forEach((s, k) => expect(s).to.be.lessThan(falling[k]));
    const rising = cabalDecay(0.55, 0.1, 10, 30);
    rising.slice(1).forEach((s, k) => expect(s).to.be.greaterThan(rising[k]));
  });
});

describe("SDK ranking: computeEpoch", () => {
  describe("visit probabilities, case by case", () => {
    it("lets every member of a closed class reach every other", () => {
      const res = computeEpoch({ weights: [[0, 1, 1], [1, 0, 1], [1, 1, 0]], stake: [E18, E18, E18], params: params(0.9) });
      expect(reachMatrix(res, 3).flat().every(Boolean)).to.equal(true);
      expect(res.relation.closedClasses).to.deep.equal([[0, 1, 2]]);
    });

    it("lets a transient state reach the closed class it is absorbed into, with certainty", () => {
      // 0 -> 1 only; {1, 2} closed. H_01 = H_02 = 1.
      const res = computeEpoch({ weights: [[0, 5, 0], [0, 0, 1], [0, 1, 0]], stake: [E18, E18, E18], params: params(0.99) });
      expect(reachMatrix(res, 3)).to.deep.equal([
        [true, true, true],
        [false, true, true],
        [false, true, true],
      ]);
    });

    it("splits absorption between two closed classes by the transition probabilities", () => {
      // 0 -> 1 (1/4), 0 -> 2 (3/4); 1 and 2 have zero rows: each is its own closed class.
      const w = [[0, 1, 3], [0, 0, 0], [0, 0, 0]];
      const at = (theta: number) => reachMatrix(computeEpoch({ weights: w, stake: [E18, E18, E18], params: params(theta) }), 3);
      expect(at(0.2)[0]).to.deep.equal([true, true, true]);
      expect(at(0.5)[0]).to.deep.equal([true, false, true]);
      expect(at(0.8)[0]).to.deep.equal([true, false, false]);
      expect(at(0.2)[1]).to.deep.equal([false, true, false]); // closed: reaches no other class
      expect(computeEpoch({ weights: w, stake: [E18, E18, E18], params: params(0.5) }).relation.closedClasses).to.deep.equal([[1], [2]]);
    });

    it("uses N_ij / N_jj between transient states", () => {
      // Transient states 0 and 1 (one transient class), absorbed by 2. P01 = 1/4, P02 = 3/4,
      // P10 = 1/2, P12 = 1/2: H_01 = 1/4 and H_10 = 1/2.
      const w = [[0, 1, 3], [1, 0, 1], [0, 0, 0]];
      const at = (theta: number) => reachMatrix(computeEpoch({ weights: w, stake: [E18, E18, E18], params: params(theta) }), 3);
      expect(at(0.2)).to.deep.equal([
        [true, true, true],
        [true, true, true],
        [false, false, true],
      ]);
      expect(at(0.4)).to.deep.equal([
        [true, false, true],
        [true, true, true],
        [false, false, true],
      ]);
      expect(at(0.6)[1]).to.deep.equal([false, true, true]);
    });

    it("follows chains of transient states (transient to transient to closed)", () => {
      // 0 -> 1 (1/2) and 0 -> 3 (1/2); 1 -> 2; 2 closed; 3 closed. H_02 = 1/2 * 1 = 0.5 + 0.
      const w = [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]];
      const res = computeEpoch({ weights: w, stake: [E18, E18, E18, E18], params: params(0.45) });
      expect(reachMatrix(res, 4)[0]).to.deep.equal([true, true, true, true]);
      expect(reachMatrix(res, 4)[1]).to.deep.equal([false, true, true, false]);
      expect(Array.from(res.relation.transient).sort()).to.deep.equal([0, 1]);
    });

    it("treats self weight as staying put: a transient state with a self loop still leaves", () => {
      // 0 weights itself and 1 equally; 1 is closed. N_00 = 2, absorption into {1} = 1.
      const res = computeEpoch({ weights: [[1, 1], [0, 0]], stake: [E18, E18], params: params(0.99) });
      expect(reachMatrix(res, 2)).to.deep.equal([
        [true, true],
        [false, true],
      ]);
      const selfOnly = computeEpoch({ weights: [[7, 0], [0, 3]], stake: [E18, E18], params: params(0.5) });
      expect(selfOnly.relation.closedClasses).to.deep.equal([[0], [1]]);
    });
  });

  it("computes shares, clipping, ranks and emission exactly as worked by hand", () => {
    // 0 -> 1 (1/4), 0 -> 2 (3/4); 1 and 2 zero rows. Stakes 2, 1, 1; theta 0.5, rho 1, tau 0.1.
    const res = computeEpoch({ weights: [[0, 1, 3], [0, 0, 0], [0, 0, 0]], stake: [2n * E18, E18, E18], params: params(0.5) });
    expect(res.p).to.deep.equal([5n * 10n ** 17n, 25n * 10n ** 16n, 25n * 10n ** 16n]);
    expect(res.outwardTrust).to.deep.equal([75n * 10n ** 16n, 25n * 10n ** 16n, 25n * 10n ** 16n]);
    expect(res.clip).to.deep.equal([WAD, WAD / 2n, WAD / 2n]);
    expect(res.q).to.deep.equal([5n * 10n ** 17n, 125n * 10n ** 15n, 125n * 10n ** 15n]);
    // r0 = 0 + 1 * 0.5 * 0.5; r1 = 0.125 + 0.125 + 0.25 * 0.125; r2 = 0.375 + 0.125 + 0.25 * 0.625
    expect(res.r).to.deep.equal([25n * 10n ** 16n, 28125n * 10n ** 13n, 65625n * 10n ** 13n]);
    expect(res.emission).to.deep.equal([84210526315789473n, 94736842105263157n, 221052631578947368n]);
    expect(res.totalEmission).to.equal(399999999999999998n);
    expect(res.root).to.equal(buildEmissionTree(res.emission).root);
  });

  it("emits nothing when no one stakes", () => {
    const res = computeEpoch({ weights: [[0, 1], [1, 0]], stake: [0n, 0n], params: params(0.5) });
    expect(res.emission).to.deep.equal([0n, 0n]);
    expect(res.totalEmission).to.equal(0n);
    expect(res.root).to.equal("0x" + "00".repeat(32));
  });

  it("gives a peer without stake a rank but no clipped share", () => {
    const res = computeEpoch({ weights: [[0, 1], [1, 0]], stake: [E18, 0n], params: params(0.5) });
    expect(res.q).to.deep.equal([WAD, 0n]);
    expect(res.emission[1] > 0n).to.equal(true); // peer 0 trusts it
  });

  it("agrees exactly with the straightforward reference on random graphs of every shape", () => {
    const random = mulberry32(99);
    const shapes = [
      (n: number) => tightlyConnected(n, random),
      (n: number) => disjointGroups(n, Math.ceil(n / 2), random),
      (n: number) => newcomersOnCore(n, 3, 2, random),
      (n: number) => randomSparse(n, 0.08, random),
      (n: number) => randomSparse(n, 0.3, random),
    ];
    for (let trial = 0; trial < 25; trial++) {
      const n = 2 + Math.floor(random() * 30);
      const weights = shapes[trial % shapes.length](n);
      const stake = Array.from({ length: n }, () => (random() < 0.15 ? 0n : BigInt(Math.floor(random() * 1e6)) * 10n ** 15n));
      const p = params(0.05 + random() * 0.9, BigInt(Math.floor(random() * 50)) * WAD + 1n, WAD / 20n);
      const fast = computeEpoch({ weights, stake, params: p });
      const ref = computeEpochReference({ weights, stake, params: p });
      expect(reachMatrix(fast, n)).to.deep.equal(ref.reach, `trial ${trial}`);
      for (const key of ["p", "outwardTrust", "clip", "q", "r", "emission", "totalEmission"] as const) {
        expect(fast[key]).to.deep.equal(ref[key], `${key}, trial ${trial}`);
      }
    }
  });

  describe("properties on random graphs", () => {
    it("never emits more than tau times the total stake", () => {
      const random = mulberry32(5);
      for (let trial = 0; trial < 20; trial++) {
        const n = 5 + Math.floor(random() * 40);
        const stake = Array.from({ length: n }, () => BigInt(1 + Math.floor(random() * 1e9)) * 10n ** 9n);
        const tau = BigInt(Math.floor(random() * 1e17));
        const res = computeEpoch({ weights: randomSparse(n, 0.2, random), stake, params: params(0.3, 10n * WAD, tau) });
        const total = stake.reduce((a, b) => a + b, 0n);
        expect(res.totalEmission <= (tau * total) / WAD).to.equal(true);
        expect(res.totalEmission).to.equal(res.emission.reduce((a, b) => a + b, 0n));
      }
    });

    it("clips nobody in a tightly connected graph, where every peer reaches every peer", () => {
      const random = mulberry32(6);
      const n = 40;
      const res = computeEpoch({
        weights: tightlyConnected(n, random),
        stake: Array.from({ length: n }, () => BigInt(1 + Math.floor(random() * 1000)) * E18),
        params: params(0.999),
      });
      expect(reachMatrix(res, n).flat().every(Boolean)).to.equal(true);
      expect(res.clip.every((c) => c === WAD)).to.equal(true);
    });

    it("clips a disjoint minority cabal and pays it less than its stake share when rho is large", () => {
      const random = mulberry32(7);
      const n = 30;
      const sizeA = 16;
      const stake = Array.from({ length: n }, (_, i) => (i < sizeA ? 51n * E18 / BigInt(sizeA) : 49n * E18 / BigInt(n - sizeA)));
      const res = computeEpoch({ weights: disjointGroups(n, sizeA, random), stake, params: params(0.5, 100n * WAD) });
      const cabal = (xs: bigint[]) => xs.slice(sizeA).reduce((a, b) => a + b, 0n);
      res.clip.slice(sizeA).forEach((c) => expect(c < WAD).to.equal(true));
      res.clip.slice(0, sizeA).forEach((c) => expect(c).to.equal(WAD));
      for (let i = 0; i < sizeA; i++) for (let j = sizeA; j < n; j++) expect(res.reaches(i, j) || res.reaches(j, i)).to.equal(false);
      const emissionShare = Number(cabal(res.emission)) / Number(res.totalEmission);
      const stakeShare = Number(cabal(stake)) / Number(stake.reduce((a, b) => a + b, 0n));
      expect(emissionShare).to.be.lessThan(stakeShare);
    });

    it("permutes its output when the uids are permuted", () => {
      const random = mulberry32(8);
      for (let trial = 0; trial < 8; trial++) {
        const n = 10 + Math.floor(random() * 20);
        const weights = trial % 2 ? newcomersOnCore(n, 4, 3, random) : randomSparse(n, 0.15, random);
        const stake = Array.from({ length: n }, () => BigInt(Math.floor(random() * 1e6)) * 10n ** 12n);
        const perm = Array.from({ length: n }, (_, i) => i).sort(() => random() - 0.5);
        const permutedWeights = perm.map((i) => Uint16Array.from(perm.map((j) => weights[i][j])));
        const p = params(0.35, 3n * WAD);
        const a = computeEpoch({ weights, stake, params: p });
        const b = computeEpoch({ weights: permutedWeights, stake: perm.map((i) => stake[i]), params: p });
        for (const key of ["p", "clip", "q", "r", "emission"] as const) {
          expect(b[key]).to.deep.equal(perm.map((i) => a[key][i]), `${key}, trial ${trial}`);
        }
        expect(b.totalEmission).to.equal(a.totalEmission);
      }
    });

    it("gives the same bits in two runs and in another process", () => {
      const random = mulberry32(9);
      const n = 60;
      const weights = newcomersOnCore(n, 10, 3, random).map((r) => Array.from(r));
      const stake = Array.from({ length: n }, (_, i) => BigInt(i + 1) * 10n ** 17n);
      const p = params(0.2, 7n * WAD);
      const first = computeEpoch({ weights, stake, params: p });
      const second = computeEpoch({ weights, stake, params: p });
      expect(second.root).to.equal(first.root);
      expect(second.r).to.deep.equal(first.r);
      const input = JSON.stringify({ weights, stake: stake.map(String), rho: String(p.rho), theta: p.theta, tau: String(p.tau) });
      const script = `
        const { computeEpoch } = require(${JSON.stringify(path.resolve(__dirname, "../../sdk/src/ranking/epoch"))});
        const i = JSON.parse(process.argv[1]);
        const res = computeEpoch({ weights: i.weights, stake: i.stake.map(BigInt), params: { rho: BigInt(i.rho), theta: i.theta, tau: BigInt(i.tau) } });
        process.stdout.write(res.root);`;
      const other = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script, input], { encoding: "utf8" });
      expect(other).to.equal(first.root);
    });
  });

  it("names the problem in bad input", () => {
    const ok = { weights: [[0, 1], [1, 0]], stake: [1n, 1n], params: params(0.5) };
    expect(() => computeEpoch({ ...ok, stake: [1n] })).to.throw(InvalidInputError, "2 weight rows but 1 stakes");
    expect(() => computeEpoch({ ...ok, weights: [[0, 1], [1]] })).to.throw(InvalidInputError, "weight row 1 has 1 entries, not 2");
    expect(() => computeEpoch({ ...ok, weights: [[0, 70000], [1, 0]] })).to.throw(InvalidInputError, "W[0][1] = 70000 is not a uint16");
    expect(() => computeEpoch({ ...ok, stake: [1n, -1n] })).to.throw(InvalidInputError, "stake of uid 1 is negative");
    expect(() => computeEpoch({ ...ok, params: params(1) })).to.throw(InvalidInputError, "theta = 1 is not in (0, 1)");
  });
});
