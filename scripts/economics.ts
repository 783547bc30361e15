/**
 * The MODICUM notebook's figures (SPEC §2.2), as SVG and PNG under out/:
 *   node -r ts-node/register/transpile-only scripts/economics.ts     (npm run plots)
 * 1. JC and RP utility versus P(a1) (notebook `plot`), with the verdict table's exact curves;
 * 2. non-determinism against the protocol versus P(a1) (notebook `plot2`), with the grid and the
 *    continuous optimum;
 * 3. JC and RP utility versus P(verify) in the deterministic mixed strategy (notebook `plot3`);
 * 4. RP utility versus Q, its honesty (notebook `plotRP`).
 */
import path from "node:path";
import { JCNDU, JCmixed, NDU, QInflection, RPNDUD, RPmixed, getQ, protocolU } from "../sdk/src/market/notebook";
import { expectedJobUtilities, maxNonDeterminismGain, nonDeterminismGainOnGrid } from "../sdk/src/market/economics";
import { lineChartSvg, writePlot } from "./lib/plot";

const grid = (points: number) => Array.from({ length: points }, (_, k) => k / (points - 1));
const COLORS = ["#c0392b", "#2c3e50", "#27ae60", "#8e44ad", "#d35400"];

export function writeEconomicsPlots(outDir: string, log: (line: string) => void = () => {}): string[] {
  const written: string[] = [];
  const save = (name: string, svg: string) => {
    const { png } = writePlot(path.join(outDir, name), svg);
    written.push(png);
    log(`plot: ${png}`);
  };

  // 1. Utility versus P(a1): n = 4, PR = NDPR = 1, price = benefit = 100, the JC verifies every
  //    result, the RP is honest and its cost is half the price.
  {
    const n = 4;
    const x = grid(51);
    const exact = (p1: number) =>
      expectedJobUtilities({ n, pr: 1, ndpr: 1, price: 100, benefit: 100, verifyProbability: 1, verifyCost: 0, honesty: 1, p1, execCost: 50, junkCost: 0, disputeSecondClass: true });
    save(
      "market-utility-vs-p1",
      lineChartSvg({
        title: "JC and RP utility against a non-deterministic job (n = 4, PR = NDPR = 1, price = benefit = 100)",
        xLabel: "P(a1)",
        yLabel: "utility per job",
        series: [
          { name: "JC, notebook JCNDU", color: COLORS[0], points: x.map((p1) => [p1, JCNDU(n, 1, 1, p1, 100, 100)]) },
          { name: "RP, notebook RPNDUD", color: COLORS[1], points: x.map((p1) => [p1, RPNDUD(n, 1, 1, p1, 100, 1, 0, 1, 0.5, 0)]) },
          { name: "JC, verdict table (exact)", color: COLORS[2], dashed: true, points: x.map((p1) => [p1, exact(p1).jc]) },
          { name: "RP, verdict table (exact)", color: COLORS[3], dashed: true, points: x.map((p1) => [p1, exact(p1).rp]) },
        ],
        width: 900,
      }),
    );
  }

  // 2. Non-determinism against the protocol: n = 4, NDPR = 1, price = benefit = 100.
  {
    const x = grid(201);
    const best = maxNonDeterminismGain(4, 1, 100, 100);
    const onGrid = nonDeterminismGainOnGrid(4, 1, 100, 100);
    save(
      "market-benefit-vs-p1",
      lineChartSvg({
        title: "Non-determinism against the protocol (n = 4, NDPR = 1, b = c = 100)",
        xLabel: "P(a1)",
        yLabel: "utility",
        series: [
          { name: "NDU (non-deterministic JC)", color: COLORS[0], points: x.map((p1) => [p1, NDU(4, 1, p1, 100, 100)]) },
          { name: "PU (protocol)", color: COLORS[1], dashed: true, points: x.map((p1) => [p1, protocolU(100, 100)]) },
          {
            name: `optimum p1 ${best.p1.toFixed(4)}, gain ${best.gain.toFixed(3)} (grid ${onGrid.p1}, ${onGrid.gain.toFixed(3)})`,
            color: COLORS[2],
            markers: true,
            points: [[best.p1, best.gain]],
          },
        ],
        yRange: [-100, 40],
        width: 900,
      }),
    );
  }

  // 3. Deterministic mixed strategy versus P(verify): price 4, benefit 4, cost 4, fine 60, cj 4, cd 0, m 20.
  {
    const x = grid(101);
    const [r, b, c, f, cj, cd, m] = [4, 4, 4, 60, 4, 0, 20];
    save(
      "market-utility-vs-verify",
      lineChartSvg({
        title: "Deterministic mixed strategy: the RP computes once P(verify) > (c - cd)/(f + m + r)",
        xLabel: "P(verify)",
        yLabel: "utility",
        series: [
          { name: "JC, notebook JCmixed", color: COLORS[0], points: x.map((p) => [p, JCmixed(b, r, p, cj, f, c, cd, m)]) },
          { name: "RP, notebook RPmixed", color: COLORS[1], points: x.map((p) => [p, RPmixed(r, p, f, c, m, cd)]) },
          { name: "JC, notebook JCNDU (deterministic job)", color: COLORS[2], dashed: true, points: x.map((p) => [p, JCNDU(m, 2, 2, 1, b, r, p, cj, getQ(c, cd, f, m, r, p))]) },
          { name: "Q (RP honest)", color: COLORS[3], dashed: true, points: x.map((p) => [p, getQ(c, cd, f, m, r, p)]) },
        ],
        width: 900,
      }),
    );
  }

  // 4. RP utility versus Q: n = 4, PR = NDPR = 4, p1 = 0.1, price 4, P(verify) 0.5, roi 0.5, I = 4, rcj = 4.
  {
    const x = grid(51);
    const q = QInflection(4, 4, 0.1, 4, 0.5, 4, 0.5);
    save(
      "market-rp-utility-vs-q",
      lineChartSvg({
        title: `RPNDUD against Q, the RP's honesty (n = 4, PR = 4, p1 = 0.1, P(verify) = 0.5): QInflection ${q.toFixed(3)}`,
        xLabel: "Q",
        yLabel: "RP utility",
        series: [{ name: "notebook RPNDUD", color: COLORS[0], points: x.map((qq) => [qq, RPNDUD(4, 4, 4, 0.1, 4, 0.5, 4, qq, 0.5, 4)]) }],
        width: 900,
      }),
    );
  }
  return written;
}

if (require.main === module) {
  writeEconomicsPlots(path.resolve(__dirname, "..", "out"), console.log);
}
