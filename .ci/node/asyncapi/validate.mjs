// Validates AsyncAPI documents with the AsyncAPI project's own parser (@asyncapi/parser).
// Usage: node validate.mjs FILE...   Prints every diagnostic; exits 1 if any is an error.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const text = await readFile(file, "utf8");
  const { document, diagnostics } = await parser.parse(text, { source: file });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of diagnostics) {
    const where = d.path && d.path.length ? d.path.join("/") : "(root)";
    console.log(`${DiagnosticSeverity[d.severity]} ${file} ${where}: ${d.message} [${d.code}]`);
  }
  if (errors.length || !document) {
    failed = true;
    console.log(`INVALID ${file}: ${errors.length} error(s)`);
  } else {
    const channels = document.channels().length;
    const operations = document.operations().length;
    const messages = document.allMessages().length;
    console.log(`VALID ${file}: asyncapi ${document.version()}, ${channels} channels, ${operations} operations, ${messages} messages`);
  }
}
process.exit(failed ? 1 : 0);
