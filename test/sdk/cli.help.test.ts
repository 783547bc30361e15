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
});
