// Validates MJML documents with the official compiler in strict mode.
// stdin: a JSON array of {name, mjml}; stdout: a JSON array of {name, errors: [...], html}.
const mjml2html = require("mjml");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map(({ name, mjml }) => {
    try {
      const out = mjml2html(mjml, { validationLevel: "strict" });
      return { name, errors: out.errors.map((e) => e.formattedMessage), html: out.html };
    } catch (err) {
      const details = (err.errors || []).map((e) => e.formattedMessage);
      return { name, errors: details.length ? details : [String(err.message || err)], html: "" };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
