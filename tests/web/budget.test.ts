// The donor pages' JavaScript budget: the entry, the campaign list, the campaign page, the receipt
// and sign-in/up with every chunk they import, gzipped, at most 50 KiB (issue 11).
import { expect, test } from "bun:test";
import { donorBundle, ensureWebBuild } from "../../scripts/web";

test("the donor pages' JavaScript is at most 50 KiB gzipped", async () => {
  await ensureWebBuild();
  const { files, gzipTotal } = donorBundle();
  console.log(`donor pages' JavaScript: ${files.length} files, ${(gzipTotal / 1024).toFixed(1)} KiB gzipped`);
  expect(files.some((f) => f.file.startsWith("assets/index-"))).toBe(true);
  expect(gzipTotal).toBeLessThanOrEqual(50 * 1024);
}, 120_000);
