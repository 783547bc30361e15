/**
 * AgoraToken under stateful fuzzing: random transfers, approvals (some unlimited), transferFroms,
 * burns, burnFroms and mints by six holders, the first of which deployed the token, with wrong
 * callers and amounts above the balance or the allowance; and attempts to bind the minter: by the deployer (which
 * works once, with a nonzero minter), by others, a second time, and to the zero address. A model
 * of balances, allowances, the supply and the minter predicts every outcome (success, or the exact
 * custom error with its arguments: the token's own and OpenZeppelin's ERC-6093 errors); after
 * every step the sum of the balances equals the total supply and every balance, allowance and the
 * minter equal the model.
 */
import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import { MaxUint256, ZeroAddress } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { AgoraToken, AgoraToken__factory } from "../../typechain-types";
import { attempt, expectOutcome, fuzz, FUZZ_RUNS, FUZZ_STEPS, GENERATOR_CHECKS, Outcome, rawCall, rawTransaction } from "./harness";

const HOLDERS = 6;
/** Holder 0 deployed the token: it alone may bind the minter. */
const DEPLOYER = 0;
const START = 1_000n;

interface World {
  token: AgoraToken;
  holders: HardhatEthersSigner[];
  address: string;
}

interface Model {
  supply: bigint;
  balances: bigint[];
  allowances: bigint[][]; // [owner][spender]
  /** The holder bound as the minter, once bound. */
  minter?: number;
  /** What the last step touched beyond balances, for the invariants to read back. */
  touched: { owner?: number; minter?: boolean };
}

type Action =
  | { kind: "transfer"; from: number; to: number; amount: bigint }
  | { kind: "approve"; owner: number; spender: number; amount: bigint }
  | { kind: "transferFrom"; pair: Pair; to: number; amount: bigint; over: boolean }
  | { kind: "burn"; holder: number; amount: bigint }
  | { kind: "burnFrom"; pair: Pair; amount: bigint; over: boolean }
  | { kind: "mint"; byMinter: boolean; caller: number; to: number; amount: bigint }
  | { kind: "bind"; byDeployer: boolean; caller: number; minter: number; zero: boolean };

const holder = fc.integer({ min: 0, max: HOLDERS - 1 });
// Mostly amounts that fit what holders hold, sometimes far more, sometimes zero.
const amount = fc.oneof({ weight: 6, arbitrary: fc.bigInt({ min: 0n, max: 600n }) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 30n }) });
// One approval in eight is unlimited (never spent down).
const approval = fc.oneof({ weight: 7, arbitrary: amount }, { weight: 1, arbitrary: fc.constant(MaxUint256) });
/**
 * Who spends whose tokens: the spender and owner as drawn, or, half the time, the `approved`-th
 * pair (owner, spender) with a nonzero allowance, if there is one.
 */
interface Pair {
  spender: number;
  owner: number;
  approved: number | null;
}
const pair: fc.Arbitrary<Pair> = fc.record({ spender: holder, owner: holder, approved: fc.option(fc.nat({ max: 1_000 }), { freq: 2 }) });
// One spend in four is of one more token than the owner holds, whatever the drawn amount.
const over = fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 3, arbitrary: fc.constant(false) });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("transfer" as const), from: holder, to: holder, amount }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("approve" as const), owner: holder, spender: holder, amount: approval }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("transferFrom" as const), pair, to: holder, amount, over }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("burn" as const), holder, amount }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("burnFrom" as const), pair, amount, over }) },
  // Usually sent by the minter once there is one, else by a holder drawn at random.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("mint" as const), byMinter: fc.boolean(), caller: holder, to: holder, amount }) },
  // Half the attempts by the deployer, one in five to the zero address.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("bind" as const),
      byDeployer: fc.boolean(),
      caller: holder,
      minter: holder,
      zero: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 4, arbitrary: fc.constant(false) }),
    }),
  },
);

/** A uint256 view read straight from the node. */
async function read(to: string, iface: AgoraToken["interface"], fn: "balanceOf" | "totalSupply" | "allowance", args: unknown[] = []): Promise<bigint> {
  return (await rawCall(to, iface, fn, args))[0] as bigint;
}

/** Success, or the custom error's name and arguments. */
type Expect = true | [string, ...unknown[]];

/** Throws unless `outcome` is `expected`: success, or the revert with this error and these arguments. */
function check(outcome: Outcome, expected: Expect, what: string): void {
  expectOutcome(outcome, expected === true || expected[0], what);
  if (expected !== true && !outcome.ok) {
    const want = expected.slice(1).map(String);
    const got = outcome.args.map(String);
    if (want.join() !== got.join()) throw new Error(`${what}: expected ${expected[0]}(${want.join(", ")}), got ${outcome.error}(${got.join(", ")})`);
  }
}

describe("AgoraToken invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps the supply equal to the sum of balances and every balance, allowance and the minter as modelled over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async () => {
    const seen = new Map<string, number>();
    const note = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);

    const stats = await fuzz<World, Model, Action>({
      deploy: async () => {
        const holders = (await hre.ethers.getSigners()).slice(0, HOLDERS);
        const deployer = holders[DEPLOYER];
        const token = await new AgoraToken__factory(deployer).deploy(deployer.address, START * BigInt(HOLDERS));
        for (const h of holders) if (h !== deployer) await token.transfer(h.address, START);
        expect(await token.deployer(), "deployer").to.equal(deployer.address);
        expect(await token.minter(), "minter before any binding").to.equal(ZeroAddress);
        return { token, holders, address: await token.getAddress() };
      },
      model: () => ({
        supply: START * BigInt(HOLDERS),
        balances: Array(HOLDERS).fill(START),
        allowances: Array.from({ length: HOLDERS }, () => Array(HOLDERS).fill(0n)),
        touched: {},
      }),
      action,
      step: async (world, m, a) => {
        const { token, holders } = world;
        const iface = token.interface;
        const at = world.address;
        const addr = (i: number) => holders[i].address;
        const send = (from: number, data: string) => attempt(rawTransaction(addr(from), at, data), [iface]);
        /** The spender and owner of a transferFrom or burnFrom (see Pair). */
        const resolve = (p: Pair): { spender: number; owner: number } => {
          const approved = m.allowances.flatMap((row, owner) => row.flatMap((allowance, spender) => (allowance > 0n ? [{ spender, owner }] : [])));
          return p.approved !== null && approved.length > 0 ? approved[p.approved % approved.length] : { spender: p.spender, owner: p.owner };
        };
        const spent = a.kind === "transferFrom" || a.kind === "burnFrom" ? resolve(a.pair) : undefined;
        m.touched = a.kind === "approve" ? { owner: a.owner } : spent ? { owner: spent.owner } : a.kind === "bind" ? { minter: true } : {};
        /** What spending `value` of `owner`'s tokens by `spender` does (ERC20._spendAllowance, then the balance). */
        const spend = (spender: number, owner: number, value: bigint): Expect => {
          const allowance = m.allowances[owner][spender];
          if (allowance < value) return ["ERC20InsufficientAllowance", addr(spender), allowance, value];
          if (m.balances[owner] < value) return ["ERC20InsufficientBalance", addr(owner), m.balances[owner], value];
          return true;
        };
        /** The model after a successful spend: an unlimited allowance stays unlimited. */
        const spendAllowance = (spender: number, owner: number, value: bigint) => {
          if (m.allowances[owner][spender] !== MaxUint256) m.allowances[owner][spender] -= value;
          m.balances[owner] -= value;
        };
        switch (a.kind) {
          case "transfer": {
            const expected: Expect = m.balances[a.from] >= a.amount || ["ERC20InsufficientBalance", addr(a.from), m.balances[a.from], a.amount];
            check(await send(a.from, iface.encodeFunctionData("transfer", [addr(a.to), a.amount])), expected, `transfer ${a.amount} from ${a.from} to ${a.to}`);
            if (expected === true) {
              m.balances[a.from] -= a.amount;
              m.balances[a.to] += a.amount;
            }
            note(expected === true ? "transfer" : "transfer refused");
            break;
          }
          case "approve": {
            check(await send(a.owner, iface.encodeFunctionData("approve", [addr(a.spender), a.amount])), true, `approve ${a.amount} by ${a.owner} for ${a.spender}`);
            m.allowances[a.owner][a.spender] = a.amount;
            note("approve");
            break;
          }
          case "transferFrom": {
            const { spender, owner } = spent!;
            const value = a.over ? m.balances[owner] + 1n : a.amount;
            const expected = spend(spender, owner, value);
            const data = iface.encodeFunctionData("transferFrom", [addr(owner), addr(a.to), value]);
            check(await send(spender, data), expected, `transferFrom ${value} of ${owner} by ${spender} to ${a.to}`);
            if (expected === true) {
              spendAllowance(spender, owner, value);
              m.balances[a.to] += value;
            }
            note(expected === true ? "transferFrom" : `transferFrom refused: ${expected[0]}`);
            break;
          }
          case "burn": {
            const expected: Expect = m.balances[a.holder] >= a.amount || ["ERC20InsufficientBalance", addr(a.holder), m.balances[a.holder], a.amount];
            check(await send(a.holder, iface.encodeFunctionData("burn", [a.amount])), expected, `burn ${a.amount} by ${a.holder}`);
            if (expected === true) {
              m.balances[a.holder] -= a.amount;
              m.supply -= a.amount;
            }
            note(expected === true ? "burn" : `burn refused: ${expected[0]}`);
            break;
          }
          case "burnFrom": {
            const { spender, owner } = spent!;
            const value = a.over ? m.balances[owner] + 1n : a.amount;
            const expected = spend(spender, owner, value);
            const unlimited = m.allowances[owner][spender] === MaxUint256;
            check(await send(spender, iface.encodeFunctionData("burnFrom", [addr(owner), value])), expected, `burnFrom ${value} of ${owner} by ${spender}`);
            if (expected === true) {
              spendAllowance(spender, owner, value);
              m.supply -= value;
            }
            note(expected === true ? (unlimited ? "burnFrom under an unlimited allowance" : "burnFrom") : `burnFrom refused: ${expected[0]}`);
            break;
          }
          case "mint": {
            const caller = a.byMinter && m.minter !== undefined ? m.minter : a.caller;
            const expected: Expect = caller === m.minter || ["NotMinter", addr(caller)];
            check(await send(caller, iface.encodeFunctionData("mint", [addr(a.to), a.amount])), expected, `mint ${a.amount} to ${a.to} by ${caller}`);
            if (expected === true) {
              m.balances[a.to] += a.amount;
              m.supply += a.amount;
            }
            note(expected === true ? "mint" : m.minter === undefined ? "mint refused: no minter bound yet" : caller === DEPLOYER ? "mint refused: the deployer is not the minter" : "mint refused: not the minter");
            break;
          }
          case "bind": {
            const caller = a.byDeployer ? DEPLOYER : a.caller;
            const minter = a.zero ? ZeroAddress : addr(a.minter);
            const expected: Expect =
              caller !== DEPLOYER ? ["NotDeployer", addr(caller)] : m.minter !== undefined ? ["MinterAlreadyBound", addr(m.minter)] : a.zero ? ["ZeroMinter"] : true;
            check(await send(caller, iface.encodeFunctionData("bindMinter", [minter])), expected, `bindMinter(${minter}) by ${caller}`);
            if (expected === true) m.minter = a.minter;
            note(expected === true ? "bind" : `bind refused: ${expected[0]}${a.zero && expected[0] !== "ZeroMinter" ? " (zero minter)" : ""}`);
            break;
          }
        }
      },
      invariants: async ({ token, holders, address }, m) => {
        const i = token.interface;
        const balances = await Promise.all(holders.map((h) => read(address, i, "balanceOf", [h.address])));
        const supply = await read(address, i, "totalSupply");
        expect(balances, "balances").to.deep.equal(m.balances);
        expect(supply, "total supply").to.equal(m.supply);
        expect(balances.reduce((x, y) => x + y, 0n), "sum of balances").to.equal(supply);
        // The allowances of the owner the step touched, and the minter after a binding attempt.
        const o = m.touched.owner;
        if (o !== undefined) {
          const allowances = await Promise.all(holders.map((s) => read(address, i, "allowance", [holders[o].address, s.address])));
          expect(allowances, `allowances of ${o}`).to.deep.equal(m.allowances[o]);
        }
        if (m.touched.minter) {
          const [minter] = await rawCall(address, i, "minter");
          expect(minter, "minter").to.equal(m.minter === undefined ? ZeroAddress : holders[m.minter].address);
        }
      },
    });

    expect(stats.steps).to.equal(FUZZ_RUNS * FUZZ_STEPS);
    if (!GENERATOR_CHECKS) return;
    for (const key of [
      "transfer",
      "transfer refused",
      "approve",
      "transferFrom",
      "transferFrom refused: ERC20InsufficientAllowance",
      "transferFrom refused: ERC20InsufficientBalance",
      "burn",
      "burn refused: ERC20InsufficientBalance",
      "burnFrom",
      "burnFrom under an unlimited allowance",
      "burnFrom refused: ERC20InsufficientAllowance",
      "burnFrom refused: ERC20InsufficientBalance",
      "mint",
      "mint refused: no minter bound yet",
      "mint refused: not the minter",
      "mint refused: the deployer is not the minter",
      "bind",
      "bind refused: NotDeployer",
      "bind refused: MinterAlreadyBound",
      "bind refused: MinterAlreadyBound (zero minter)",
      "bind refused: ZeroMinter",
    ]) {
      expect(seen.get(key) ?? 0, key).to.be.greaterThan(0);
    }
  });
});
