/**
 * The optimal contract menu of "Paid with Models" (SPEC §4): choose contributions m_i and model
 * rewards t_i for types i = 1..I (costs c_1 > ... > c_I) to maximize E[a(sum n_i m_i)] subject to
 * feasibility t_i <= E[v(a(total)) | n_i >= 1], monotonicity m_1 <= ... <= m_I, adjacent incentive
 * compatibility t_i - t_{i+1} = c_{i+1}(m_i - m_{i+1}) and individual rationality
 * t_i - c_i m_i >= f_i (binding for type 1).
 *
 * IC and the binding IR of type 1 make t linear in m: the utilities are
 * U_1 = f_1 and U_{i+1} = U_i + (c_i - c_{i+1}) m_i, and t_i = U_i + c_i m_i. What is left is a
 * smooth nonlinear program in m (I variables), solved by sequential linear programming with a
 * trust region and an exact l1 penalty on the nonlinear feasibility constraints; each LP is solved
 * with javascript-lp-solver. Expectations and their gradients come from exact enumeration of the
 * multinomial (`expectations`).
 */
import solver from "javascript-lp-solver";
import { AgoraError, InvalidInputError } from "../errors";
import { expectations, outsideOption, VALUE_SCALE } from "./model";

export interface ContractConfig {
  /** Per-unit contribution costs, strictly decreasing (type 1 has the highest cost). */
  costs: number[];
  /** Type probabilities (sum 1). */
  probs: number[];
  /** Number of parties. */
  N: number;
  k?: number;
  /** Outside options; by default f_i = max(0, max_m v(a(m)) - c_i m). */
  outside?: number[];
}

export interface Binding {
  feasibility: boolean[];
  individualRationality: boolean[];
  /** monotonicity[i]: m_i = m_{i+1}. */
  monotonicity: boolean[];
}

export interface Contract {
  m: number[];
  t: number[];
  utilities: number[];
  outside: number[];
  expectedAccuracy: number;
  /** E[v(a(total)) | n_i >= 1]: the value t_i may not exceed (tbar_i). */
  expectedModelValue: number[];
  binding: Binding;
  /** Largest violation of any constraint (value units, or contribution units for monotonicity). */
  maxViolation: number;
  iterations: number;
}

const TOL = 1e-6;

interface Structure {
  /** t(m) and U(m) as functions of m (linear), and d t_i / d m_j. */
  t(m: readonly number[]): number[];
  utilities(m: readonly number[]): number[];
  tGrad: number[][];
  /** Linear constraints rows: sum_j coef_j m_j >= rhs. */
  linear: { coef: number[]; rhs: number }[];
}

function screeningStructure(costs: readonly number[], outside: readonly number[]): Structure {
  const I = costs.length;
  const utilities = (m: readonly number[]) => {
    const u = [outside[0]];
    for (let i = 1; i < I; i++) u.push(u[i - 1] + (costs[i - 1] - costs[i]) * m[i - 1]);
    return u;
  };
  const tGrad = Array.from({ length: I }, (_, i) => Array.from({ length: I }, (_, j) => (j < i ? costs[j] - costs[j + 1] : j === i ? costs[i] : 0)));
  const linear: Structure["linear"] = [];
  for (let i = 0; i + 1 < I; i++) {
    const coef = new Array<number>(I).fill(0);
    coef[i + 1] = 1;
    coef[i] = -1;
    linear.push({ coef, rhs: 0 }); // m_{i+1} - m_i >= 0
  }
  for (let i = 1; i < I; i++) {
    // U_i - f_i >= 0, with U_i = f_1 + sum_{j < i} (c_j - c_{j+1}) m_j
    const coef = Array.from({ length: I }, (_, j) => (j < i ? costs[j] - costs[j + 1] : 0));
    linear.push({ coef, rhs: outside[i] - outside[0] });
  }
  return { t: (m) => utilities(m).map((u, i) => u + costs[i] * m[i]), utilities, tGrad, linear };
}

function completeInformationStructure(costs: readonly number[], outside: readonly number[]): Structure {
  const I = costs.length;
  return {
    t: (m) => m.map((mi, i) => costs[i] * mi + outside[i]),
    utilities: () => [...outside],
    tGrad: Array.from({ length: I }, (_, i) => Array.from({ length: I }, (_, j) => (j === i ? costs[i] : 0))),
    linear: [],
  };
}

function validate(cfg: ContractConfig): { k: number; outside: number[] } {
  const { costs, probs, N } = cfg;
  const I = costs.length;
  if (I < 1) throw new InvalidInputError("at least one type");
  if (probs.length !== I) throw new InvalidInputError(`${I} costs but ${probs.length} probabilities`);
  if (!Number.isInteger(N) || N < 1) throw new InvalidInputError(`N = ${N} must be a positive integer`);
  for (let i = 0; i + 1 < I; i++) if (!(costs[i] > costs[i + 1])) throw new InvalidInputError("costs must be strictly decreasing: type 1 has the highest cost");
  if (costs.some((c) => !(c > 0))) throw new InvalidInputError("costs must be positive");
  if (probs.some((p) => !(p > 0)) || Math.abs(probs.reduce((a, b) => a + b, 0) - 1) > 1e-9) {
    throw new InvalidInputError("probabilities must be positive and sum to 1");
  }
  const k = cfg.k ?? 1;
  const outside = cfg.outside ?? costs.map((c) => outsideOption(c, k).value);
  if (outside.length !== I) throw new InvalidInputError(`${I} types but ${outside.length} outside options`);
  return { k, outside };
}

function optimize(cfg: ContractConfig, structure: Structure, k: number): { m: number[]; iterations: number } {
  const { probs, N } = cfg;
  const I = probs.length;
  const mu = 10;
  const evaluate = (m: number[]) => {
    const e = expectations(m, probs, N, k);
    const t = structure.t(m);
    const g = e.value.map((F, i) => (F - t[i]) / VALUE_SCALE);
    const violation = g.reduce((a, x) => a + Math.max(0, -x), 0);
    return { e, t, g, merit: e.accuracy - mu * violation, violation };
  };
  // Start from a common contribution that already satisfies the linear constraints, so the
  // d = 0 step is always feasible in the LP (the nonlinear ones are elastic).
  let m = new Array<number>(I).fill(Math.max(pooledStart(cfg, structure, k), linearFloor(structure, I)));
  let current = evaluate(m);
  let radius = 10;
  let iterations = 0;
  for (; iterations < 1000 && radius > 1e-10; iterations++) {
    const { e, g } = current;
    // LP in y = d + radius (y in [0, 2 radius]) and slacks s_i >= 0.
    const variables: Record<string, Record<string, number>> = {};
    const constraints: Record<string, { min?: number; max?: number }> = {};
    for (let j = 0; j < I; j++) {
      const v: Record<string, number> = { obj: e.accuracyGrad[j], [`box${j}`]: 1, [`pos${j}`]: 1 };
      constraints[`box${j}`] = { max: 2 * radius };
      constraints[`pos${j}`] = { min: radius - m[j] };
      variables[`y${j}`] = v;
    }
    structure.linear.forEach((row, r) => {
      const shift = row.coef.reduce((a, c, j) => a + c * (m[j] - radius), 0);
      constraints[`lin${r}`] = { min: row.rhs - shift };
      row.coef.forEach((c, j) => {
        if (c !== 0) variables[`y${j}`][`lin${r}`] = c;
      });
    });
    for (let i = 0; i < I; i++) {
      const grad = e.valueGrad[i].map((dF, j) => (dF - structure.tGrad[i][j]) / VALUE_SCALE);
      constraints[`feas${i}`] = { min: -g[i] + grad.reduce((a, x) => a + x * radius, 0) };
      grad.forEach((x, j) => {
        if (x !== 0) variables[`y${j}`][`feas${i}`] = x;
      });
      variables[`s${i}`] = { obj: -mu, [`feas${i}`]: 1 };
    }
    const lp = solver.Solve({ optimize: "obj", opType: "max", constraints, variables }) as Record<string, number | boolean>;
    if (!lp.feasible) {
      radius /= 4;
      continue;
    }
    const d = m.map((_, j) => (Number(lp[`y${j}`] ?? 0) as number) - radius);
    const slack = probs.reduce((a, _, i) => a + (Number(lp[`s${i}`] ?? 0) as number), 0);
    const predicted = e.accuracyGrad.reduce((a, x, j) => a + x * d[j], 0) - mu * slack + mu * current.violation;
    if (!(predicted > 1e-15)) break;
    const candidate = m.map((x, j) => Math.max(0, x + d[j]));
    const next = evaluate(candidate);
    const ratio = (next.merit - current.merit) / predicted;
    if (ratio > 0.1) {
      m = candidate;
      current = next;
      if (ratio > 0.75) radius *= 2;
    } else {
      radius /= 4;
    }
  }
  return { m, iterations };
}

/** The least common contribution x with every linear constraint (IR of types 2..I) satisfied. */
function linearFloor(structure: Structure, I: number): number {
  let floor = 0;
  for (const row of structure.linear) {
    const slope = row.coef.reduce((a, c) => a + c, 0);
    if (slope > 0) floor = Math.max(floor, row.rhs / slope);
  }
  void I;
  return floor * (1 + 1e-12);
}

/**
 * A start where the model has accuracy: the largest common contribution m that type 1 can be
 * paid for, c_1 m + f_1 <= v(a(N m)) (found on a log grid from above, then by bisection). The
 * accuracy is flat at 0 below e^2 units, where a gradient method would not move.
 */
function pooledStart(cfg: ContractConfig, structure: Structure, k: number): number {
  const I = cfg.costs.length;
  const gap = (x: number) => {
    const m = new Array<number>(I).fill(x);
    return VALUE_SCALE * accuracyOf(cfg.N * x, k) - structure.t(m)[0];
  };
  let hi = 1e7;
  while (hi > 1e-3 && gap(hi) < 0) hi /= 1.5;
  if (hi <= 1e-3) return 10 * k; // no common contribution pays for itself: start anywhere with accuracy
  let lo = hi;
  hi = lo * 1.5;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (gap(mid) >= 0) lo = mid;
    else hi = mid;
  }
  return lo;
}

function finish(cfg: ContractConfig, structure: Structure, k: number, outside: number[], m: number[], iterations: number): Contract {
  const e = expectations(m, cfg.probs, cfg.N, k);
  const t = structure.t(m);
  const utilities = structure.utilities(m);
  const I = m.length;
  const feasibilityGap = e.value.map((F, i) => F - t[i]);
  const irGap = utilities.map((u, i) => u - outside[i]);
  const monotoneGap = m.slice(0, -1).map((x, i) => m[i + 1] - x);
  const maxViolation = Math.max(0, ...feasibilityGap.map((x) => -x), ...irGap.map((x) => -x), ...(structure.linear.length ? monotoneGap.map((x) => -x) : []));
  return {
    m,
    t,
    utilities,
    outside,
    expectedAccuracy: e.accuracy,
    expectedModelValue: e.value,
    binding: {
      feasibility: feasibilityGap.map((x) => Math.abs(x) <= TOL * Math.max(1, Math.abs(t[0]))),
      individualRationality: irGap.map((x) => Math.abs(x) <= TOL),
      monotonicity: I > 1 ? monotoneGap.map((x) => Math.abs(x) <= TOL * Math.max(1, m[I - 1])) : [],
    },
    maxViolation,
    iterations,
  };
}

/** No menu satisfies every constraint (typically: a low-cost type's outside option is worth more than any model the group can train). */
export class InfeasibleContractError extends AgoraError {}

/** The optimal menu under private costs (SPEC §4). Throws InfeasibleContractError when no menu satisfies the constraints. */
export function solveContract(cfg: ContractConfig): Contract {
  const { k, outside } = validate(cfg);
  const structure = screeningStructure(cfg.costs, outside);
  const { m, iterations } = optimize(cfg, structure, k);
  return checked(finish(cfg, structure, k, outside, m, iterations));
}

function checked(contract: Contract): Contract {
  if (contract.maxViolation > TOL) {
    throw new InfeasibleContractError(
      `no menu satisfies every constraint: the best found still misses one by ${contract.maxViolation.toPrecision(3)} ` +
        `(outside options ${contract.outside.map((f) => f.toFixed(2)).join(", ")})`,
    );
  }
  return contract;
}

/** The benchmark with public costs: each type's contract leaves it exactly its outside option. */
export function solveCompleteInformation(cfg: ContractConfig): Contract {
  const { k, outside } = validate(cfg);
  const structure = completeInformationStructure(cfg.costs, outside);
  const { m, iterations } = optimize(cfg, structure, k);
  return checked(finish(cfg, structure, k, outside, m, iterations));
}

/** What private information is worth to each type: its utility beyond its outside option. */
export function informationRent(contract: Contract): number[] {
  return contract.utilities.map((u, i) => u - contract.outside[i]);
}

/**
 * A party of type i's realized reward once the model is trained on `total`: its share
 * t_i / tbar_i of the model's value, never above the model itself.
 */
export function realizedReward(contract: Contract, type: number, total: number, k = 1): number {
  const value = VALUE_SCALE * (total > 0 ? accuracyOf(total, k) : 0);
  const share = contract.t[type] / contract.expectedModelValue[type];
  return Math.min(value, value * share);
}

function accuracyOf(total: number, k: number): number {
  return expectations([total], [1], 1, k).accuracy;
}
