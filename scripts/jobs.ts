/**
 * Mechanism verification of the job market (SPEC §2.3): many jobs run on chain by bots with chosen
 * strategies, and the realized average utilities of JC and RP printed beside the analytic ones,
 * with a confidence interval. The analytic value is `expectedJobUtilities` (the verdict table the
 * contract implements); the notebook's JCNDU / RPNDUD are printed too, for reference.
 *
 *   npx hardhat run scripts/jobs.ts          (AGORA_JOBS=400 for tighter intervals)
 */
import hre from "hardhat";
import { parseEther, Signer, Wallet, Provider } from "ethers";
import { deployAgora } from "../deploy/agora";
import { progressBar } from "./lib/progress";
import { JobCreatorBot, MediatorBot, ResourceProviderBot, SolverBot, SpecRegistry, jobInput } from "../sdk/src/chain/agents";
import { MediatorTerms, registerMediator } from "../sdk/src/chain/jobs";
import { expectedJobUtilities, JobStrategies } from "../sdk/src/market/economics";
import { JCNDU, RPNDUD } from "../sdk/src/market/notebook";
import { JobSpec } from "../sdk/src/market/programs";
import { mulberry32 } from "../sdk/src/ranking/generators";
import { formatTable } from "../sdk/src/format";

export interface JobScenario {
  name: string;
  jobs: number;
  seed: number;
  program: JobSpec["program"];
  strategies: JobStrategies;
}

export interface Estimate {
  mean: number;
  /** Half-width of the 95% confidence interval of the mean. */
  ci95: number;
  standardError: number;
}

/** One job as it went: who did what, the verdict, and the money each side made (tokens). */
export interface JobRecord {
  verdict: number;
  honest: boolean;
  verified: boolean;
  jcMoney: number;
  rpMoney: number;
}

export interface JobSimulationResult {
  scenario: JobScenario;
  records: JobRecord[];
  /** Fixed payments per job (match fee + mediator price) of the JC and of the RP. */
  fixed: { jc: number; rp: number };
  jc: Estimate;
  rp: Estimate;
  analytic: { jc: number; rp: number; mediator: number };
  notebook: { jc: number; rp: number };
  verdicts: Record<string, number>;
}

function estimate(xs: number[]): Estimate {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const standardError = Math.sqrt(variance / n);
  return { mean, ci95: 1.96 * standardError, standardError };
}

async function funded(provider: Provider, treasury: Signer, token: { connect(s: Signer): { transfer(a: string, v: bigint): Promise<{ wait(): Promise<unknown> }> } }): Promise<Signer> {
  const wallet = Wallet.createRandom().connect(provider);
  await (provider as unknown as { send(m: string, p: unknown[]): Promise<unknown> }).send("hardhat_setBalance", [wallet.address, "0x56bc75e2d63100000"]);
  await (await token.connect(treasury).transfer(wallet.address, parseEther("1000000"))).wait();
  return wallet;
}

const tokens = (x: number) => parseEther(x.toFixed(6));

/** Runs `scenario.jobs` jobs one after the other on a fresh deployment and measures every party. */
export async function runJobSimulation(treasury: Signer, scenario: JobScenario, log: (line: string) => void = () => {}): Promise<JobSimulationResult> {
  const s = scenario.strategies;
  const provider = treasury.provider!;
  const { token, jobs: market } = await deployAgora(treasury, { addressBookDir: false });
  const [jcSigner, rpSigner, mediatorSigner, solverSigner] = [
    await funded(provider, treasury, token),
    await funded(provider, treasury, token),
    await funded(provider, treasury, token),
    await funded(provider, treasury, token),
  ];
  const random = mulberry32(scenario.seed);
  const specs: SpecRegistry = new Map();
  // Fixed payments: the JC's match fee and mediator price, the RP's.
  const fees = { jcMatch: 1, jcPrice: 0.5, rpMatch: 1, rpPrice: 0.5 };
  const terms: MediatorTerms = {
    pr: tokens(s.pr),
    ndpr: tokens(s.ndpr),
    jcPrice: tokens(fees.jcPrice),
    rpPrice: tokens(fees.rpPrice),
    bond: tokens(10),
    n: s.n,
    mediationTime: 3600,
    maxJobTime: 3 * 3600,
  };
  await registerMediator(market, mediatorSigner, terms, tokens(1000));
  const jc = new JobCreatorBot(market, jcSigner, { verifyProbability: s.verifyProbability, disputeSecondClass: s.disputeSecondClass }, specs, random);
  const rp = new ResourceProviderBot(market, rpSigner, { honesty: s.honesty }, specs, random);
  const mediator = new MediatorBot(market, mediatorSigner, specs, random);
  const solver = new SolverBot(market, solverSigner);

  const jcUtility: number[] = [];
  const rpUtility: number[] = [];
  const records: JobRecord[] = [];
  const verdicts: Record<string, number> = {};
  const balance = async (signer: Signer) => token.balanceOf(await signer.getAddress());
  const bar = progressBar(scenario.jobs, "jobs");
  for (let k = 0; k < scenario.jobs; k++) {
    bar.tick();
    const [jcBefore, rpBefore] = [await balance(jcSigner), await balance(rpSigner)];
    const now = BigInt((await provider.getBlock("latest"))!.timestamp);
    const spec: JobSpec = { program: scenario.program, input: jobInput(k), p1: s.p1 };
    await jc.post(spec, {
      mediator: await mediatorSigner.getAddress(),
      instructions: 1000n,
      bandwidth: 10n,
      expiry: now + 3600n,
      resultTime: 3600,
      reactionTime: 3600,
      price: tokens(s.price),
      matchFee: tokens(fees.jcMatch),
    });
    await rp.offer({
      instructionCapacity: 10_000n,
      bandwidthCapacity: 100n,
      expiry: now + 3600n,
      requestedPrice: tokens(s.execCost),
      matchFee: tokens(fees.rpMatch),
      deposit: tokens(s.price * s.pr * s.n + fees.rpPrice),
      minResultTime: 3600,
      maxReactionTime: 3600,
      maxMediationTime: 3600,
      maxMediatorPrice: tokens(fees.rpPrice),
      trustedMediators: [await mediatorSigner.getAddress()],
    });
    await solver.step();
    await rp.step();
    await jc.step();
    await mediator.step();
    await jc.step();
    await rp.step();
    const reaction = jc.reactions.at(-1)!;
    const matchId = reaction.matchId;
    const [status] = await market.matchStatus(matchId, reaction.terms);
    const verdict = ["none", "accepted", "JC wrong", "RP cheated", "non-deterministic", "result timeout", "mediation timeout"][Number(status.verdict)];
    verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
    const honest = rp.honest.get(matchId)!;
    const jcMoney = Number((await balance(jcSigner)) - jcBefore) / 1e18;
    const rpMoney = Number((await balance(rpSigner)) - rpBefore) / 1e18;
    records.push({ verdict: Number(status.verdict), honest, verified: reaction.verified, jcMoney, rpMoney });
    jcUtility.push(jcMoney + (honest ? s.benefit : 0) - (reaction.verified ? s.verifyCost : 0));
    rpUtility.push(rpMoney - (honest ? s.execCost : s.junkCost));
  }
  bar.stop();
  const full = { ...s, jcFixed: fees.jcMatch + fees.jcPrice, rpFixed: fees.rpMatch + fees.rpPrice };
  const analytic = expectedJobUtilities(full);
  const roi = 1 - s.execCost / s.price;
  const notebook = {
    jc: JCNDU(s.n, s.pr, s.ndpr, s.p1, s.benefit, s.price, s.verifyProbability, s.verifyCost, s.honesty) - full.jcFixed,
    rp: RPNDUD(s.n, s.pr, s.ndpr, s.p1, s.price, s.verifyProbability, s.junkCost, s.honesty, roi, 0) - full.rpFixed,
  };
  const result = {
    scenario,
    records,
    fixed: { jc: full.jcFixed, rp: full.rpFixed },
    jc: estimate(jcUtility),
    rp: estimate(rpUtility),
    analytic,
    notebook,
    verdicts,
  };
  log(formatJobSimulation(result));
  return result;
}

export function formatJobSimulation(r: JobSimulationResult): string {
  const row = (who: string, e: Estimate, a: number, nb: number) => [
    who,
    `${e.mean.toFixed(3)} ± ${e.ci95.toFixed(3)}`,
    a.toFixed(3),
    Math.abs(e.mean - a) <= e.ci95 ? "yes" : "NO",
    nb.toFixed(3),
  ];
  return [
    `${r.scenario.name}: ${r.scenario.jobs} jobs on chain; verdicts ${Object.entries(r.verdicts).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    formatTable(
      ["party", "realized utility per job (95% CI)", "analytic (verdict table)", "inside CI", "notebook formula"],
      [row("job creator", r.jc, r.analytic.jc, r.notebook.jc), row("resource provider", r.rp, r.analytic.rp, r.notebook.rp)],
    ),
  ].join("\n");
}

/** The scenarios of the tour: a JC verifying an RP that sometimes cheats, and a JC cheating with a non-deterministic job. */
export function defaultScenarios(jobs: number): JobScenario[] {
  const common = { pr: 0.5, ndpr: 1, price: 100, benefit: 150, verifyCost: 2, execCost: 40, junkCost: 1, n: 3 };
  return [
    {
      name: "Deterministic job; the RP returns junk 30% of the time; the JC verifies half of the results",
      jobs,
      seed: 7,
      program: "sha256-chain",
      strategies: { ...common, verifyProbability: 0.5, honesty: 0.7, p1: 1, disputeSecondClass: true },
    },
    {
      name: "Non-deterministic job (a1 with p1 = 0.9); an honest RP; the JC verifies everything and disputes a2",
      jobs,
      seed: 11,
      program: "coin-flip",
      strategies: { ...common, verifyProbability: 1, honesty: 1, p1: 0.9, disputeSecondClass: true },
    },
  ];
}

if (require.main === module) {
  (async () => {
    const [treasury] = await hre.ethers.getSigners();
    const jobs = Number(process.env.AGORA_JOBS ?? 100);
    for (const scenario of defaultScenarios(jobs)) await runJobSimulation(treasury, scenario, (l) => console.log(l + "\n"));
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
