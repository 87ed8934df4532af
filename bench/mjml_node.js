// Times the official MJML compiler in-process: one node process, repeated compiles.
// stdin: {"mjml": "...", "runs": N, "warmup": W}; stdout: {"version", "node", "ms": [...]}.
const mjml2html = require("mjml");
const version = require("mjml/package.json").version;

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { mjml, runs, warmup } = JSON.parse(input);
  for (let i = 0; i < warmup; i++) mjml2html(mjml);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    mjml2html(mjml);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  process.stdout.write(JSON.stringify({ version, node: process.version, ms }));
});
