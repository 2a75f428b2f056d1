import type { Command } from "../command";
import { autogradDemo } from "./autograd-demo";
import { tokenizeCommand, tokenizeTrainCommand } from "./tokenize";
import { generateCommand } from "./generate";
import { chatCommand } from "./chat";
import { evalLogitsCommand } from "./eval-logits";
import { benchCommand } from "./bench";
import { trainCommand } from "./train";
import { evalPplCommand } from "./eval-ppl";
import { evalQuantCommand } from "./eval-quant";
import { exportCommand } from "./export";
import { quantizeCommand } from "./quantize";
import { serveCommand } from "./serve";
import { loraTrainCommand } from "./lora-train";
import { loraExportCommand, loraMergeCommand } from "./lora-merge";

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
  evalQuantCommand,
  exportCommand,
  quantizeCommand,
  serveCommand,
  loraTrainCommand,
  loraMergeCommand,
  loraExportCommand,
];
