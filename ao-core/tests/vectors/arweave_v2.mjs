// Writes arweave_v2.json: Arweave v2 transaction vectors made by arweave-js itself (the
// version arlocal installs). Run from the repository root after the arlocal install:
//   NODE_PATH=target/arlocal/node_modules node ao-core/tests/vectors/arweave_v2.mjs
// (with CARGO_TARGET_DIR set, use that directory instead of target/).
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(process.env.NODE_PATH, "arlocal", "package.json"));
const Arweave = require("arweave");
const merkle = require("arweave/node/lib/merkle");
const arweave = Arweave.init({ host: "127.0.0.1", port: 1, protocol: "http" });
const b64 = (bytes) => Arweave.utils.bufferTob64Url(bytes);
const here = dirname(fileURLToPath(import.meta.url));

// Byte i of every vector's data; not periodic at chunk boundaries, so no two chunks are equal.
const pattern = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 11)) & 0xff);

const MiB = 1024 * 1024;
const KiB = 1024;
const sizes = [1, 1000, 32 * KiB, 256 * KiB - 1, 256 * KiB, 256 * KiB + 1, 288 * KiB - 1,
  288 * KiB, 512 * KiB, 600000, MiB + 100];
const merkleCases = [];
for (const size of sizes) {
  const data = pattern(size);
  const { data_root, chunks, proofs } = await merkle.generateTransactionChunks(data);
  merkleCases.push({
    data_size: size,
    data_root: b64(data_root),
    chunks: chunks.map((c, i) => ({
      min_byte_range: c.minByteRange,
      max_byte_range: c.maxByteRange,
      offset: proofs[i].offset,
      data_path: b64(proofs[i].proof),
    })),
  });
}

const keys = JSON.parse(readFileSync(join(here, "../../../../shared/vectors/keys.json"), "utf8"));
const jwk = keys.rsa.jwk;
const txCases = [];
for (const [name, attrs, tags, size] of [
  ["bundle", { last_tx: b64(pattern(48)), reward: "123456789" },
    [["Bundle-Format", "binary"], ["Bundle-Version", "2.0.0"], ["App-Name", "ao-rs"]], 1000],
  ["transfer", { last_tx: b64(pattern(32)), reward: "42", target: b64(pattern(32)),
    quantity: "1000000000000" }, [], 0],
]) {
  const data = pattern(size);
  const tx = await arweave.createTransaction({ ...attrs, data }, jwk);
  for (const [n, v] of tags) tx.addTag(n, v);
  await arweave.transactions.sign(tx, jwk);
  const signature_data = Buffer.from(await tx.getSignatureData()).toString("hex");
  txCases.push({ name, signature_data, json: tx.toJSON(), verifies: await arweave.transactions.verify(tx) });
}

writeFileSync(join(here, "arweave_v2.json"),
  JSON.stringify({ generated_with: "arweave-js " + require("arweave/package.json").version,
    data_pattern: "byte i = (i * 7 + (i >> 11)) & 0xff", merkle: merkleCases, transactions: txCases },
    null, 1) + "\n");
