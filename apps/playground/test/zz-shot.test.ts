import { it } from "vitest";
import { startSession } from "./helpers/browser";
it("shot", async () => {
  const session = await startSession();
  const { page, problems } = await session.open("lora");
  await page.getByTestId("accuracy-1").waitFor({ timeout: 600_000 });
  await page.screenshot({ path: "/tmp/pg2/lora.png", fullPage: true });
  console.log(JSON.stringify(problems));
  console.log(await page.getByTestId("lora-sweep-note").textContent());
  await session.close();
}, 900_000);
