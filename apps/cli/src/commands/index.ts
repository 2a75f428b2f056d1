import type { Command } from "../command";
import { autogradDemo } from "./autograd-demo";
import { tokenizeCommand, tokenizeTrainCommand } from "./tokenize";
import { generateCommand } from "./generate";
import { chatCommand } from "./chat";
import { evalLogitsCommand } from "./eval-logits";
import { benchCommand } from "./bench";
import { trainCommand } from "./train";
import { evalPplCommand } from "./eval-ppl";
import { exportCommand } from "./export";
import { serveCommand } from "./serve";

/** Every `zllm` subcommand, in the order `zllm --help` lists them. Add new commands here. */
export const COMMANDS: readonly Command[] = [
  autogradDemo,
  tokenizeCommand,
  tokenizeTrainCommand,
  generateCommand,
  chatCommand,
  evalLogitsCommand,
  benchCommand,
  trainCommand,
  evalPplCommand,
  exportCommand,
  serveCommand,
];
