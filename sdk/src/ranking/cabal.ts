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
