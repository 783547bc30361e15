import { expect } from "chai";
import { Command } from "commander";
import { buildProgram } from "../../sdk/src/cli/main";

/** Every command of the tree, with its full name (`jobs post-job`). */
function commandsOf(command: Command, prefix = ""): Array<[string, Command]> {
  return command.commands.flatMap((c) => {
    const name = `${prefix}${c.name()}`;
    return [[name, c] as [string, Command], ...commandsOf(c, `${name} `)];
  });
}

describe("agora CLI help", () => {
  const program = buildProgram(() => undefined);
  const commands = commandsOf(program);

  it("has a command for every market and the devnet", () => {
    const top = program.commands.map((c) => c.name());
    expect(top).to.include.members(["wallet", "node", "deploy", "faucet", "status", "ranking", "jobs", "delegation", "collab", "analyze"]);
    expect(commands.length).to.be.greaterThan(35);
  });

  it("prints the help of every command, token defaults in tokens", () => {
    for (const [name, command] of commands) {
      const help = command.helpInformation();
      expect(help, name).to.include(`Usage: agora ${name}`);
      expect(help, name).to.not.include("[object");
    }
    const [, faucet] = commands.find(([name]) => name === "faucet")!;
    expect(faucet.helpInformation()).to.match(/--tokens <amount>\s+AGORA tokens to send \(default: 1000\)/);
  });

  /** The default of option `flag` of command `name`, which its help must show. */
  function defaultOf(name: string, flag: string): unknown {
    const [, command] = commands.find(([n]) => n === name)!;
    const option = command.options.find((o) => o.long === flag);
    expect(option, `${name} ${flag}`).to.not.equal(undefined);
    expect(command.helpInformation(), `${name} ${flag}`).to.include(flag);
    return option!.defaultValue;
  }

  it("lets a resource offer state the shortest result window and the longest reaction and mediation windows and mediator price it accepts", () => {
    expect(defaultOf("jobs post-offer", "--min-result-time")).to.equal(600);
    expect(defaultOf("jobs post-offer", "--max-reaction-time")).to.equal(3_600);
    expect(defaultOf("jobs post-offer", "--max-mediation-time")).to.equal(86_400);
    expect(defaultOf("jobs post-offer", "--max-mediator-price")).to.equal(10n ** 19n);
    const [, offer] = commands.find(([n]) => n === "jobs post-offer")!;
    expect(offer.helpInformation()).to.match(/--max-mediator-price <tokens>[\s\S]*\(default: 10\)/);
  });

  it("lets a mediator state the longest job it stands behind, and every default job fits every default offer and mediator", () => {
    const maxJobTime = defaultOf("jobs mediator-register", "--max-job-time") as number;
    const mediationTime = defaultOf("jobs mediator-register", "--mediation-time") as number;
    const resultTime = defaultOf("jobs post-job", "--result-time") as number;
    const reactionTime = defaultOf("jobs post-job", "--reaction-time") as number;
    expect(maxJobTime).to.equal(86_400);
    expect(resultTime + reactionTime + mediationTime).to.be.at.most(maxJobTime);
    expect(resultTime).to.be.at.least(defaultOf("jobs post-offer", "--min-result-time") as number);
    expect(reactionTime).to.be.at.most(defaultOf("jobs post-offer", "--max-reaction-time") as number);
    expect(mediationTime).to.be.at.most(defaultOf("jobs post-offer", "--max-mediation-time") as number);
  });
});
