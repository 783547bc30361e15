import { expect } from "chai";
import hre from "hardhat";
import { runDelegationScenario } from "../../scripts/delegation";
import { simulateDelegation, STRATEGIES } from "../../sdk/src/delegation/simulate";
import { toyGame } from "../../sdk/src/delegation/toy";

describe("e2e: a delegation session on chain against the simulation (SPEC §3)", function () {
  this.timeout(120_000);

  it("runs every phase on chain and agrees with simulateDelegation, query for query", async () => {
    const [treasury] = await hre.ethers.getSigners();
    const T = 50_000;
    const lines: string[] = [];
    const chain = await runDelegationScenario(treasury, T, (l) => lines.push(l), false);
    const sim = simulateDelegation(toyGame(T), [STRATEGIES.both, STRATEGIES.honest, STRATEGIES.honest], 7);
    expect(chain.B).to.equal(sim.plan.B);
    expect(chain.plan.R).to.equal(sim.plan.R);
    expect(chain.plan.best).to.equal(sim.plan.best);
    expect(chain.plan.threshold).to.be.closeTo(sim.plan.threshold, 1e-9);
    expect(chain.stoppedEarly).to.equal(false);
    // Counts differ at most by the random extra phase-4 query of each provider.
    chain.delegations.forEach((d, i) => expect(Math.abs(d - sim.providers[i].delegations)).to.be.at.most(1));
    const perQuery = (x: number, n: number) => x / n;
    expect(perQuery(chain.userUtility, chain.delegations.reduce((a, b) => a + b, 0))).to.be.closeTo(perQuery(sim.userUtility, sim.delegations), 1e-3);
    expect(chain.providerUtility[0]).to.be.closeTo(sim.providers[0].providerUtility, 1);
    // Unused budget came back to the user.
    expect(chain.refund > 0n).to.equal(true);
    expect(lines.join("\n")).to.match(/no early stop/);
  });
});
