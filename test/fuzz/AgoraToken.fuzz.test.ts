/**
 * AgoraToken under stateful fuzzing: random transfers, approvals, transferFroms and mints by five
 * accounts, one of which holds MINTER_ROLE, with wrong callers, amounts above the balance or the
 * allowance, and role changes by the admin and by outsiders. A model of balances, allowances and
 * roles predicts every outcome (success or the exact OpenZeppelin custom error); after every step
 * the sum of the balances equals the total supply and every balance and allowance equals the model.
 */
import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { AgoraToken, AgoraToken__factory } from "../../typechain-types";
import { attempt, expectOutcome, fuzz, FUZZ_RUNS, FUZZ_STEPS, GENERATOR_CHECKS, rawCall, rawTransaction } from "./harness";

const ACCOUNTS = 5;
const START = 1_000n;

interface World {
  token: AgoraToken;
  admin: HardhatEthersSigner;
  accounts: HardhatEthersSigner[];
  minterRole: string;
  address: string;
}

interface Model {
  supply: bigint;
  balances: bigint[];
  allowances: bigint[][]; // [owner][spender]
  minters: boolean[];
  /** What the last step touched beyond balances, for the invariants to read back. */
  touched: { owner?: number; roles?: boolean };
}

type Action =
  | { kind: "transfer"; from: number; to: number; amount: bigint }
  | { kind: "approve"; owner: number; spender: number; amount: bigint }
  | { kind: "transferFrom"; spender: number; owner: number; to: number; amount: bigint }
  | { kind: "mint"; caller: number; to: number; amount: bigint }
  | { kind: "grant"; byAdmin: boolean; who: number }
  | { kind: "revoke"; byAdmin: boolean; who: number };

const account = fc.integer({ min: 0, max: ACCOUNTS - 1 });
// Mostly amounts that fit what accounts hold, sometimes far more, sometimes zero.
const amount = fc.oneof({ weight: 6, arbitrary: fc.bigInt({ min: 0n, max: 600n }) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 30n }) });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("transfer" as const), from: account, to: account, amount }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("approve" as const), owner: account, spender: account, amount }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("transferFrom" as const), spender: account, owner: account, to: account, amount }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("mint" as const), caller: account, to: account, amount }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("grant" as const), byAdmin: fc.boolean(), who: account }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("revoke" as const), byAdmin: fc.boolean(), who: account }) },
);

/** A uint256 view read straight from the node. */
async function read(to: string, iface: AgoraToken["interface"], fn: "balanceOf" | "totalSupply" | "allowance", args: unknown[] = []): Promise<bigint> {
  return (await rawCall(to, iface, fn, args))[0] as bigint;
}

describe("AgoraToken invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps the supply equal to the sum of balances and every balance, allowance and role as modelled over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async () => {
    const seen = new Map<string, number>();
    const note = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);

    const stats = await fuzz<World, Model, Action>({
      deploy: async () => {
        const [admin, ...rest] = await hre.ethers.getSigners();
        const accounts = rest.slice(0, ACCOUNTS);
        const token = await new AgoraToken__factory(admin).deploy(admin.address, admin.address, 0);
        const minterRole = await token.MINTER_ROLE();
        await token.grantRole(minterRole, accounts[0].address);
        for (const a of accounts) await token.connect(accounts[0]).mint(a.address, START);
        return { token, admin, accounts, minterRole, address: await token.getAddress() };
      },
      model: () => ({
        supply: START * BigInt(ACCOUNTS),
        balances: Array(ACCOUNTS).fill(START),
        allowances: Array.from({ length: ACCOUNTS }, () => Array(ACCOUNTS).fill(0n)),
        minters: Array.from({ length: ACCOUNTS }, (_, i) => i === 0),
        touched: {},
      }),
      action,
      step: async (world, m, a) => {
        const { token, admin, accounts, minterRole } = world;
        const errors = [token.interface];
        const at = world.address;
        m.touched = a.kind === "approve" || a.kind === "transferFrom" ? { owner: a.owner } : a.kind === "grant" || a.kind === "revoke" ? { roles: true } : {};
        const addr = (i: number) => accounts[i].address;
        switch (a.kind) {
          case "transfer": {
            const ok = m.balances[a.from] >= a.amount;
            const outcome = await attempt(rawTransaction(addr(a.from), at, token.interface.encodeFunctionData("transfer", [addr(a.to), a.amount])), errors);
            expectOutcome(outcome, ok || "ERC20InsufficientBalance", `transfer ${a.amount} from ${a.from} to ${a.to}`);
            if (ok) {
              m.balances[a.from] -= a.amount;
              m.balances[a.to] += a.amount;
            }
            note(ok ? "transfer" : "transfer refused");
            break;
          }
          case "approve": {
            const outcome = await attempt(rawTransaction(addr(a.owner), at, token.interface.encodeFunctionData("approve", [addr(a.spender), a.amount])), errors);
            expectOutcome(outcome, true, `approve ${a.amount} by ${a.owner} for ${a.spender}`);
            m.allowances[a.owner][a.spender] = a.amount;
            note("approve");
            break;
          }
          case "transferFrom": {
            const allowance = m.allowances[a.owner][a.spender];
            const expected = allowance < a.amount ? "ERC20InsufficientAllowance" : m.balances[a.owner] < a.amount ? "ERC20InsufficientBalance" : true;
            const outcome = await attempt(rawTransaction(addr(a.spender), at, token.interface.encodeFunctionData("transferFrom", [addr(a.owner), addr(a.to), a.amount])), errors);
            expectOutcome(outcome, expected, `transferFrom ${a.amount} of ${a.owner} by ${a.spender} to ${a.to}`);
            if (expected === true) {
              m.balances[a.owner] -= a.amount;
              m.balances[a.to] += a.amount;
              m.allowances[a.owner][a.spender] = allowance - a.amount;
            }
            note(expected === true ? "transferFrom" : `transferFrom refused: ${expected}`);
            break;
          }
          case "mint": {
            const ok = m.minters[a.caller];
            const outcome = await attempt(rawTransaction(addr(a.caller), at, token.interface.encodeFunctionData("mint", [addr(a.to), a.amount])), errors);
            expectOutcome(outcome, ok || "AccessControlUnauthorizedAccount", `mint ${a.amount} by ${a.caller}`);
            if (ok) {
              m.balances[a.to] += a.amount;
              m.supply += a.amount;
            }
            note(ok ? "mint" : "mint refused");
            break;
          }
          case "grant":
          case "revoke": {
            const caller = a.byAdmin ? admin : accounts[a.who];
            const data = a.kind === "grant" ? token.interface.encodeFunctionData("grantRole", [minterRole, addr(a.who)]) : token.interface.encodeFunctionData("revokeRole", [minterRole, addr(a.who)]);
            const send = rawTransaction(caller.address, at, data);
            const outcome = await attempt(send, errors);
            expectOutcome(outcome, a.byAdmin || "AccessControlUnauthorizedAccount", `${a.kind} MINTER_ROLE for ${a.who}`);
            if (a.byAdmin) m.minters[a.who] = a.kind === "grant";
            note(a.byAdmin ? a.kind : `${a.kind} refused`);
            break;
          }
        }
      },
      invariants: async ({ token, accounts, minterRole, address }, m) => {
        const i = token.interface;
        const balances = await Promise.all(accounts.map((a) => read(address, i, "balanceOf", [a.address])));
        const supply = await read(address, i, "totalSupply");
        expect(balances, "balances").to.deep.equal(m.balances);
        expect(supply, "total supply").to.equal(m.supply);
        expect(balances.reduce((x, y) => x + y, 0n), "sum of balances").to.equal(supply);
        // The allowances of the owner the step touched, and the roles when they changed.
        const o = m.touched.owner;
        if (o !== undefined) {
          const allowances = await Promise.all(accounts.map((s) => read(address, i, "allowance", [accounts[o].address, s.address])));
          expect(allowances, `allowances of ${o}`).to.deep.equal(m.allowances[o]);
        }
        if (m.touched.roles) expect(await Promise.all(accounts.map((a) => token.hasRole(minterRole, a.address))), "minters").to.deep.equal(m.minters);
      },
    });

    expect(stats.steps).to.equal(FUZZ_RUNS * FUZZ_STEPS);
    for (const key of ["transfer", "transfer refused", "approve", "transferFrom", "transferFrom refused: ERC20InsufficientAllowance", "mint", "mint refused", "grant", "revoke", "grant refused", "revoke refused"]) {
      if (GENERATOR_CHECKS) expect(seen.get(key) ?? 0, key).to.be.greaterThan(0);
    }
  });
});
