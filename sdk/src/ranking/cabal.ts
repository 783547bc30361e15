/**
 * The closed-form two-group model of whitepaper §10 (`cabal_decay`): an honest, tightly connected
 * graph holding 1 - prcntC of the stake and a disjoint cabal holding prcntC, each inflating in
 * proportion to its rank sum p + rho p^2 at rate infRate per step.
 * @returns the cabal's stake share after each step (nSteps values).
 */
export function cabalDecay(prcntC: number, infRate: number, rho: number, nSteps: number): number[] {
  const shares: number[] = [];
  let stake = 1;
  for (let step = 0; step < nSteps; step++) {
    const prcntG = 1 - prcntC;
    const rankC = prcntC + rho * prcntC * prcntC;
    const rankG = prcntG + rho * prcntG * prcntG;
    const inflC = rankC / (rankC + rankG);
    const inflG = rankG / (rankC + rankG);
    const stakeC = stake * prcntC + infRate * stake * inflC;
    const stakeG = stake * prcntG + infRate * stake * inflG;
    stake = stakeC + stakeG;
    prcntC = stakeC / stake;
    shares.push(prcntC);
  }
  return shares;
}

/**
 * The same two-group model with SPEC §1.3's stake clipping, which the closed form leaves out: a
 * disjoint cabal reaches only itself, so its outward trust is its own share p and its clipped
 * share is q = p * min(2p, 1); a group's rank sum is then q (1 + rho p) (weight term plus
 * connectivity term). The honest majority is not clipped. This is what the chain computes for two
 * disjoint closed classes, so on-chain runs track it to rounding.
 * `lag` is how many steps old the stake is that an epoch's emission is computed from: on chain the
 * stake that counts in an epoch is the stake held through the whole epoch before it (SPEC §1.2),
 * and emission claimed during epoch e + 1 counts from epoch e + 2, so the chain tracks `lag = 1`.
 */
export function cabalDecayClipped(prcntC: number, infRate: number, rho: number, nSteps: number, lag = 0): number[] {
  if (!Number.isInteger(lag) || lag < 0) throw new RangeError(`lag must be a non-negative integer, got ${lag}`);
  const shares: number[] = [];
  const rank = (p: number) => p * Math.min(2 * p, 1) * (1 + rho * p);
  // history[k]: the two groups' stakes after k steps; the emission of step t reads step t - lag.
  const history: { cabal: number; honest: number }[] = [{ cabal: prcntC, honest: 1 - prcntC }];
  for (let step = 0; step < nSteps; step++) {
    const now = history[step];
    const counted = history[Math.max(0, step - lag)];
    const total = counted.cabal + counted.honest;
    const rankC = rank(counted.cabal / total);
    const rankG = rank(counted.honest / total);
    const cabal = now.cabal + (infRate * total * rankC) / (rankC + rankG);
    const honest = now.honest + (infRate * total * rankG) / (rankC + rankG);
    history.push({ cabal, honest });
    shares.push(cabal / (cabal + honest));
  }
  return shares;
}
